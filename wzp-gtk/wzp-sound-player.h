/* wzp-sound-player.h: the seam through which the app plays its phone sounds
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The freedesktop sound theme's phone events (sound-theme-freedesktop). */
#define WZP_SOUND_RINGTONE "phone-incoming-call"
#define WZP_SOUND_RINGBACK "phone-outgoing-calling"
#define WZP_SOUND_BUSY     "phone-outgoing-busy"

#define WZP_TYPE_SOUND_PLAYER (wzp_sound_player_get_type ())
G_DECLARE_INTERFACE (WzpSoundPlayer, wzp_sound_player, WZP, SOUND_PLAYER, GObject)

struct _WzpSoundPlayerInterface
{
  GTypeInterface parent_iface;

  /* Plays the sound theme's event @event_id, over and over while @repeat, in place of
   * whatever it played before. */
  void (*play) (WzpSoundPlayer *self,
                const char     *event_id,
                gboolean        repeat);
  /* Silences it. */
  void (*stop) (WzpSoundPlayer *self);
};

void wzp_sound_player_play (WzpSoundPlayer *self,
                            const char     *event_id,
                            gboolean        repeat);
void wzp_sound_player_stop (WzpSoundPlayer *self);

G_END_DECLS
