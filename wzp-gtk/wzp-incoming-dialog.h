/* wzp-incoming-dialog.h: "Incoming call" with Answer, Answer Privately and Decline
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>
#include <wzp-glib.h>

#include "wzp-contacts.h"

G_BEGIN_DECLS

#define WZP_INCOMING_RESPONSE_ANSWER  "answer"
#define WZP_INCOMING_RESPONSE_PRIVATE "private"
#define WZP_INCOMING_RESPONSE_DECLINE "decline"

#define WZP_TYPE_INCOMING_DIALOG (wzp_incoming_dialog_get_type ())
G_DECLARE_FINAL_TYPE (WzpIncomingDialog, wzp_incoming_dialog, WZP, INCOMING_DIALOG,
                      AdwMessageDialog)

GtkWidget *wzp_incoming_dialog_new      (GtkWindow         *parent,
                                         WzpCall           *call,
                                         WzpContacts       *contacts);
WzpCall   *wzp_incoming_dialog_get_call (WzpIncomingDialog *self);

G_END_DECLS
