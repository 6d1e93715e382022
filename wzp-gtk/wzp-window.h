/* wzp-window.h: the main window: the dialer page, the call page and the ringing page
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>
#include <wzp-glib.h>

#include "wzp-call-history.h"
#include "wzp-call-page.h"
#include "wzp-contacts.h"
#include "wzp-dialer-page.h"
#include "wzp-ringing-page.h"

G_BEGIN_DECLS

#define WZP_TYPE_WINDOW (wzp_window_get_type ())
G_DECLARE_FINAL_TYPE (WzpWindow, wzp_window, WZP, WINDOW, AdwApplicationWindow)

WzpWindow     *wzp_window_new                (GtkApplication *application);
void           wzp_window_set_client         (WzpWindow      *self,
                                              WzpClient      *client);
void           wzp_window_set_contacts       (WzpWindow      *self,
                                              WzpContacts    *contacts);
void           wzp_window_set_history        (WzpWindow      *self,
                                              WzpCallHistory *history);
void           wzp_window_set_settings       (WzpWindow      *self,
                                              GSettings      *settings);
void           wzp_window_show_main          (WzpWindow      *self);
void           wzp_window_show_outgoing      (WzpWindow      *self,
                                              const char     *fingerprint);
void           wzp_window_show_call          (WzpWindow      *self,
                                              WzpCall        *call);
gboolean       wzp_window_is_in_call         (WzpWindow      *self);
void           wzp_window_show_ringing       (WzpWindow      *self,
                                              WzpCall        *call);
void           wzp_window_stop_ringing       (WzpWindow      *self);
gboolean       wzp_window_is_ringing         (WzpWindow      *self);
void           wzp_window_show_busy_call     (WzpWindow      *self,
                                              const char     *name,
                                              const char     *fingerprint);
void           wzp_window_hide_busy_call     (WzpWindow      *self);
const char    *wzp_window_get_busy_call_text (WzpWindow      *self);
void           wzp_window_add_toast          (WzpWindow      *self,
                                              AdwToast       *toast);
void           wzp_window_show_problem       (WzpWindow      *self,
                                              const char     *title,
                                              const char     *details);
void           wzp_window_dismiss_toasts     (WzpWindow      *self);
const char    *wzp_window_get_last_toast     (WzpWindow      *self);
WzpDialerPage *wzp_window_get_dialer_page    (WzpWindow      *self);
WzpCallPage   *wzp_window_get_call_page      (WzpWindow      *self);
WzpRingingPage *wzp_window_get_ringing_page  (WzpWindow      *self);

G_END_DECLS
