/* wzp-preferences-window.h: the app's settings, bound to GSettings
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>
#include <wzp-glib.h>

G_BEGIN_DECLS

#define WZP_TYPE_PREFERENCES_WINDOW (wzp_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (WzpPreferencesWindow, wzp_preferences_window, WZP, PREFERENCES_WINDOW,
                      AdwPreferencesWindow)

GtkWidget *wzp_preferences_window_new (GtkWindow *parent,
                                       GSettings *settings);
GtkWidget *wzp_preferences_window_get_audio_row     (WzpPreferencesWindow *self,
                                                     WzpAudioDirection     direction);
GtkWidget *wzp_preferences_window_get_mic_test_row  (WzpPreferencesWindow *self);

G_END_DECLS
