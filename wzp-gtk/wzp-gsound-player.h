/* wzp-gsound-player.h: phone sounds through GSound (the desktop's event sounds)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "wzp-sound-player.h"

G_BEGIN_DECLS

#define WZP_TYPE_GSOUND_PLAYER (wzp_gsound_player_get_type ())
G_DECLARE_FINAL_TYPE (WzpGSoundPlayer, wzp_gsound_player, WZP, GSOUND_PLAYER, GObject)

WzpSoundPlayer *wzp_gsound_player_new (void);

G_END_DECLS
