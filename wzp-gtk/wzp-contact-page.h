/* wzp-contact-page.h: one contact: rename, full fingerprint, calls with them, Call
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "wzp-call-history.h"
#include "wzp-contacts.h"

G_BEGIN_DECLS

#define WZP_TYPE_CONTACT_PAGE (wzp_contact_page_get_type ())
G_DECLARE_FINAL_TYPE (WzpContactPage, wzp_contact_page, WZP, CONTACT_PAGE, AdwBin)

void        wzp_contact_page_set_models      (WzpContactPage *self,
                                              WzpContacts    *contacts,
                                              WzpCallHistory *history);
void        wzp_contact_page_set_fingerprint (WzpContactPage *self,
                                              const char     *fingerprint);
const char *wzp_contact_page_get_fingerprint (WzpContactPage *self);
GtkWidget  *wzp_contact_page_get_name_row    (WzpContactPage *self);
GtkWidget  *wzp_contact_page_get_call_button (WzpContactPage *self);
GListModel *wzp_contact_page_get_calls       (WzpContactPage *self);

G_END_DECLS
