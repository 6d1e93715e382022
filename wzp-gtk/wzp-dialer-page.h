/* wzp-dialer-page.h: the main page: relay status and dialling, contacts, recent calls
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>
#include <wzp-glib.h>

#include "wzp-call-history.h"
#include "wzp-contact-page.h"
#include "wzp-contacts.h"

G_BEGIN_DECLS

#define WZP_TYPE_DIALER_PAGE (wzp_dialer_page_get_type ())
G_DECLARE_FINAL_TYPE (WzpDialerPage, wzp_dialer_page, WZP, DIALER_PAGE, AdwBin)

void        wzp_dialer_page_set_client      (WzpDialerPage  *self,
                                             WzpClient      *client);
void        wzp_dialer_page_set_contacts    (WzpDialerPage  *self,
                                             WzpContacts    *contacts);
void        wzp_dialer_page_set_history     (WzpDialerPage  *self,
                                             WzpCallHistory *history);
void        wzp_dialer_page_set_settings    (WzpDialerPage  *self,
                                             GSettings      *settings);
void        wzp_dialer_page_set_relay_error (WzpDialerPage  *self,
                                             const GError   *error);
void        wzp_dialer_page_focus_dial      (WzpDialerPage  *self);
void        wzp_dialer_page_open_link       (WzpDialerPage  *self,
                                             const char     *fingerprint,
                                             const char     *relay_uri);
void        wzp_dialer_page_show_view       (WzpDialerPage  *self,
                                             const char     *name);
const char *wzp_dialer_page_get_visible_view (WzpDialerPage *self);
void        wzp_dialer_page_show_contact    (WzpDialerPage  *self,
                                             const char     *fingerprint);
void        wzp_dialer_page_add_contact     (WzpDialerPage  *self,
                                             const char     *fingerprint);
void        wzp_dialer_page_remove_contact  (WzpDialerPage  *self,
                                             const char     *fingerprint);
void        wzp_dialer_page_clear_history   (WzpDialerPage  *self);
const char *wzp_dialer_page_get_status_title (WzpDialerPage *self);
void        wzp_dialer_page_show_dial_error (WzpDialerPage  *self,
                                             const char     *message);
const char *wzp_dialer_page_get_dial_hint   (WzpDialerPage  *self);

/* For the tests */
WzpContactPage *wzp_dialer_page_get_contact_page (WzpDialerPage *self);
GtkWidget      *wzp_dialer_page_get_add_dialog   (WzpDialerPage *self);
AdwToast       *wzp_dialer_page_get_undo_toast   (WzpDialerPage *self);

G_END_DECLS
