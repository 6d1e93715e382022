/* wzp-ringing-page.h: an incoming call, full page, with Accept and Decline
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>
#include <wzp-glib.h>

#include "wzp-contacts.h"

G_BEGIN_DECLS

#define WZP_TYPE_RINGING_PAGE (wzp_ringing_page_get_type ())
G_DECLARE_FINAL_TYPE (WzpRingingPage, wzp_ringing_page, WZP, RINGING_PAGE, AdwBin)

void     wzp_ringing_page_set_contacts (WzpRingingPage *self,
                                        WzpContacts    *contacts);
void     wzp_ringing_page_set_call     (WzpRingingPage *self,
                                        WzpCall        *call);
WzpCall *wzp_ringing_page_get_call     (WzpRingingPage *self);
void     wzp_ringing_page_focus_accept (WzpRingingPage *self);

G_END_DECLS
