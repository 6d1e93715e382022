/* wzp-voice-none.c: WzpVoice in a build without GStreamer (meson -Dvoice=disabled)
 *
 * The same functions as wzp-voice.c, so that the library's API does not depend on the
 * build: making a voice fails with an error a person can act on, and calls go on without
 * voice (docs/voice.md).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-i18n-private.h"
#include "wzp-voice-private.h"

struct _WzpVoice
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (WzpVoice, _wzp_voice, G_TYPE_OBJECT)

gboolean
_wzp_voice_available (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       _("Voice is unavailable: this build of wzp has no GStreamer support"));
  return FALSE;
}

WzpVoice *
_wzp_voice_new (const char  *source,
                const char  *sink,
                GError     **error)
{
  _wzp_voice_available (error);
  return NULL;
}

gboolean
_wzp_voice_start (WzpVoice          *self,
                  WzpVoiceSendFunc   send_func,
                  gpointer           user_data,
                  GError           **error)
{
  return _wzp_voice_available (error);
}

void
_wzp_voice_receive (WzpVoice            *self,
                    const WzpMediaFrame *frame)
{
}

void
_wzp_voice_stop (WzpVoice *self)
{
}

void
_wzp_voice_set_echo_cancel (WzpVoice *self,
                            gboolean  enabled)
{
}

void
_wzp_voice_set_muted (WzpVoice *self,
                      gboolean  muted)
{
}

void
_wzp_voice_set_volume (WzpVoice *self,
                       double    volume)
{
}

gboolean
_wzp_voice_set_device (WzpVoice           *self,
                       WzpAudioDirection   which,
                       const char         *description,
                       GError            **error)
{
  return TRUE;
}

void
_wzp_voice_get_stats (WzpVoice      *self,
                      WzpVoiceStats *out)
{
  *out = (WzpVoiceStats) { 0 };
}

void
_wzp_voice_get_origins (WzpVoice *self,
                        gint64   *capture_us,
                        gint64   *playback_us)
{
  *capture_us = *playback_us = -1;
}

static void
_wzp_voice_class_init (WzpVoiceClass *klass)
{
  g_signal_new ("audio-error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_ERROR);
}

static void
_wzp_voice_init (WzpVoice *self)
{
}
