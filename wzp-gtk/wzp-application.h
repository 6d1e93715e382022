/* wzp-application.h: the app: identity, client, calls, notifications, actions
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>
#include <wzp-glib.h>

#include "wzp-call-history.h"
#include "wzp-contacts.h"
#include "wzp-window.h"

G_BEGIN_DECLS

#define WZP_TYPE_APPLICATION (wzp_application_get_type ())
G_DECLARE_FINAL_TYPE (WzpApplication, wzp_application, WZP, APPLICATION, AdwApplication)

WzpApplication *wzp_application_new             (void);
WzpClient      *wzp_application_get_client      (WzpApplication *self);
WzpContacts    *wzp_application_get_contacts    (WzpApplication *self);
WzpCallHistory *wzp_application_get_history     (WzpApplication *self);
GSettings      *wzp_application_get_settings    (WzpApplication *self);
WzpWindow      *wzp_application_get_main_window (WzpApplication *self);

G_END_DECLS
