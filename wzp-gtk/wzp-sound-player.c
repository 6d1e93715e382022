/* wzp-sound-player.c: the seam through which the app plays its phone sounds
 *
 * The app decides when a phone rings (wzp-application.c); a WzpSoundPlayer only makes the
 * noise. The real one is WzpGSoundPlayer (GSound, the desktop's event sounds, never the
 * call's own audio pipeline); the UI tests put one in that records what would have played,
 * so no sound card or sound server is needed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-sound-player.h"

G_DEFINE_INTERFACE (WzpSoundPlayer, wzp_sound_player, G_TYPE_OBJECT)

static void
wzp_sound_player_default_init (WzpSoundPlayerInterface *iface)
{
}

void
wzp_sound_player_play (WzpSoundPlayer *self,
                       const char     *event_id,
                       gboolean        repeat)
{
  g_return_if_fail (WZP_IS_SOUND_PLAYER (self));
  g_return_if_fail (event_id != NULL);

  WZP_SOUND_PLAYER_GET_IFACE (self)->play (self, event_id, repeat);
}

void
wzp_sound_player_stop (WzpSoundPlayer *self)
{
  g_return_if_fail (WZP_IS_SOUND_PLAYER (self));

  WZP_SOUND_PLAYER_GET_IFACE (self)->stop (self);
}
