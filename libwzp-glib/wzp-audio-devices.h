/* wzp-audio-devices.h: the system's audio devices and a level meter, outside any call
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(WZP_GLIB_INSIDE) && !defined(WZP_GLIB_COMPILATION)
# error "Only <wzp-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "wzp-enums.h"
#include "wzp-version.h"

G_BEGIN_DECLS

#define WZP_TYPE_AUDIO_DEVICE (wzp_audio_device_get_type ())
WZP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (WzpAudioDevice, wzp_audio_device, WZP, AUDIO_DEVICE, GObject)

WZP_AVAILABLE_IN_ALL
const char        *wzp_audio_device_get_id            (WzpAudioDevice   *self);
WZP_AVAILABLE_IN_ALL
const char        *wzp_audio_device_get_display_name  (WzpAudioDevice   *self);
WZP_AVAILABLE_IN_ALL
WzpAudioDirection  wzp_audio_device_get_direction     (WzpAudioDevice   *self);
WZP_AVAILABLE_IN_ALL
gboolean           wzp_audio_device_get_is_default    (WzpAudioDevice   *self);

#define WZP_TYPE_AUDIO_DEVICES (wzp_audio_devices_get_type ())
WZP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (WzpAudioDevices, wzp_audio_devices, WZP, AUDIO_DEVICES, GObject)

WZP_AVAILABLE_IN_ALL
WzpAudioDevices   *wzp_audio_devices_new              (void) G_GNUC_WARN_UNUSED_RESULT;
WZP_AVAILABLE_IN_ALL
gboolean           wzp_audio_devices_start            (WzpAudioDevices  *self,
                                                       GError          **error);
WZP_AVAILABLE_IN_ALL
void               wzp_audio_devices_stop             (WzpAudioDevices  *self);

#define WZP_TYPE_AUDIO_LEVEL (wzp_audio_level_get_type ())
WZP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (WzpAudioLevel, wzp_audio_level, WZP, AUDIO_LEVEL, GObject)

/**
 * WZP_AUDIO_LEVEL_SILENCE:
 *
 * The lowest level a [class@Wzp.AudioLevel] reports, in dB below full scale: silence,
 * and anything quieter. (A whole number, so that GObject introspection keeps its sign.)
 *
 * Since: 1.0
 */
#define WZP_AUDIO_LEVEL_SILENCE (-100)

WZP_AVAILABLE_IN_ALL
WzpAudioLevel     *wzp_audio_level_new                (const char       *source) G_GNUC_WARN_UNUSED_RESULT;
WZP_AVAILABLE_IN_ALL
const char        *wzp_audio_level_get_source         (WzpAudioLevel    *self);
WZP_AVAILABLE_IN_ALL
gboolean           wzp_audio_level_start              (WzpAudioLevel    *self,
                                                       GError          **error);
WZP_AVAILABLE_IN_ALL
void               wzp_audio_level_stop               (WzpAudioLevel    *self);
WZP_AVAILABLE_IN_ALL
double             wzp_audio_level_get_peak_db        (WzpAudioLevel    *self);
WZP_AVAILABLE_IN_ALL
double             wzp_audio_level_get_rms_db         (WzpAudioLevel    *self);

G_END_DECLS
