/* wzp-audio-device-row.h: a combo row choosing a microphone or a sound output
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>
#include <wzp-glib.h>

G_BEGIN_DECLS

#define WZP_TYPE_AUDIO_DEVICE_ROW (wzp_audio_device_row_get_type ())
G_DECLARE_FINAL_TYPE (WzpAudioDeviceRow, wzp_audio_device_row, WZP, AUDIO_DEVICE_ROW,
                      AdwComboRow)

GtkWidget   *wzp_audio_device_row_new          (WzpAudioDirection  direction);
void         wzp_audio_device_row_bind         (WzpAudioDeviceRow *self,
                                                GSettings         *settings,
                                                const char        *key);
WzpAudioDevices *wzp_audio_device_row_get_devices (WzpAudioDeviceRow *self);
const char  *wzp_audio_device_row_get_choice   (WzpAudioDeviceRow *self);
const char  *wzp_audio_device_row_get_id       (WzpAudioDeviceRow *self,
                                                guint              position);

G_END_DECLS
