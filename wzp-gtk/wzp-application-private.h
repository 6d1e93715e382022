/* wzp-application-private.h: hooks for the UI tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "wzp-application.h"

G_BEGIN_DECLS

/* Whether the app believes its window has the focus, which decides between the incoming
 * call dialog and a notification: -1 asks the window (the default), 0 or 1 forces it. */
void       _wzp_application_set_focus_override   (WzpApplication *self,
                                                  int             focused);
/* The incoming call dialog on screen, or NULL. */
GtkWidget *_wzp_application_get_incoming_dialog  (WzpApplication *self);
/* The call waiting for an answer, or NULL. */
WzpCall   *_wzp_application_get_ringing_call     (WzpApplication *self);
/* The call on the call page once it has an object, or NULL. */
WzpCall   *_wzp_application_get_call             (WzpApplication *self);
/* Whether sleep and idle are inhibited because of a call. */
gboolean   _wzp_application_is_inhibiting        (WzpApplication *self);

G_END_DECLS
