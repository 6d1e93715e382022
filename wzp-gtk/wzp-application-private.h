/* wzp-application-private.h: hooks for the UI tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "wzp-application.h"
#include "wzp-sound-player.h"

G_BEGIN_DECLS

/* Replaces the sound player (GSound) with one that records what would have played. */
void       _wzp_application_set_sound_player     (WzpApplication *self,
                                                  WzpSoundPlayer *player);
/* Replaces org.gnome.desktop.notifications (Do Not Disturb: show-banners false); NULL for
 * none. */
void       _wzp_application_set_desktop_notifications (WzpApplication *self,
                                                       GSettings      *settings);
/* "Hang up and quit?" while it shows, or NULL. */
GtkWidget *_wzp_application_get_quit_dialog      (WzpApplication *self);
/* The call waiting for an answer, or NULL. */
WzpCall   *_wzp_application_get_ringing_call     (WzpApplication *self);
/* The call on the call page once it has an object, or NULL. */
WzpCall   *_wzp_application_get_call             (WzpApplication *self);
/* Whether sleep and idle are inhibited because of a call. */
gboolean   _wzp_application_is_inhibiting        (WzpApplication *self);

G_END_DECLS
