/* wzp-call-voice.c: a call's voice, connected to its paths (docs/voice.md)
 *
 * The call's WzpVoice is prepared when the call is made (incoming: when the offer
 * arrives; outgoing: when it is placed), so that nothing is parsed or loaded at the
 * moment the user answers; it opens the devices only when both sides agreed on a path,
 * which is after the callee answered. It sends on the agreed path, to a peer that listed
 * voice, and hears every live path (the nominator hands it the media frames of each).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-call-private.h"
#include "wzp-message-private.h"
#include "wzp-timeout-private.h"
#include "wzp-voice-private.h"

/* Bytes queued on the agreed path beyond which a frame waits in the voice's own queue,
 * which drops the oldest audio: about three frames with their headers. Behind TCP, a
 * longer queue would only make the far side hear the past (docs/voice.md). */
#define PATH_QUEUE_LOW_WATER 512

static WzpVoiceSendResult
send_cb (const WzpMediaFrame *frame,
         gpointer             user_data)
{
  WzpCall *self = user_data;
  WzpPath *path = _wzp_nominator_get_agreed (self->nominator);

  if (path == NULL || path->closed ||
      !_wzp_nominator_peer_has_feature (self->nominator, WZP_FEATURE_VOICE_OPUS))
    return WZP_VOICE_SEND_DISCARDED;  /* nobody to send to now: gone, as on the air */
  if (_wzp_frame_io_get_queued_bytes (path->io) > PATH_QUEUE_LOW_WATER)
    return WZP_VOICE_SEND_BUSY;
  _wzp_frame_io_send_media (path->io, frame);
  return WZP_VOICE_SEND_SENT;
}

static void
media_cb (const WzpMediaFrame *frame,
          gpointer             user_data)
{
  WzpCall *self = user_data;

  if (self->voice != NULL)
    _wzp_voice_receive (self->voice, frame);
}

static void
set_audio_error (WzpCall    *self,
                 const char *message)
{
  if (g_strcmp0 (self->audio_error, message) == 0)
    return;
  g_free (self->audio_error);
  self->audio_error = g_strdup (message);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "WZP_CALL_ID", self->call_id,
                    "MESSAGE", "Call %s: audio: %s", self->call_id,
                    message != NULL ? message : "works again");
  _wzp_call_notify_audio_error (self);
}

/* What is wrong with @direction now (NULL: nothing). WzpCall:audio-error shows the latest
 * problem still standing: when one direction's is gone (a good switch), the other's, if
 * any, or NULL (docs/voice.md, "Another device during a call"). */
static void
set_direction_error (WzpCall           *self,
                     WzpAudioDirection  direction,
                     const char        *message)
{
  WzpAudioDirection other = direction == WZP_AUDIO_DIRECTION_SOURCE ? WZP_AUDIO_DIRECTION_SINK
                                                                     : WZP_AUDIO_DIRECTION_SOURCE;

  g_free (self->audio_errors[direction]);
  self->audio_errors[direction] = g_strdup (message);
  if (message != NULL)
    self->audio_error_serial[direction]++;
  set_audio_error (self, message != NULL ? message : self->audio_errors[other]);
}

static void
audio_error_cb (WzpVoice *voice,
                int       direction,
                GError   *error,
                WzpCall  *self)
{
  set_direction_error (self, direction, error->message);
}

void
_wzp_call_voice_prepare (WzpCall    *self,
                         const char *source,
                         const char *sink)
{
  static const char * const voice_features[] = { WZP_FEATURE_VOICE_OPUS, NULL };
  g_autoptr(GError) error = NULL;

  g_return_if_fail (self->voice == NULL);

  /* "none" for both: a call without audio, which tells the peer it takes no voice. */
  if (g_strcmp0 (source, "none") == 0 && g_strcmp0 (sink, "none") == 0)
    return;
  if (g_strcmp0 (source, "none") == 0)
    source = "audiotestsrc wave=silence is-live=true";
  if (g_strcmp0 (sink, "none") == 0)
    sink = "fakesink sync=false";

  self->voice = _wzp_voice_new (source, sink, &error);
  if (self->voice == NULL)
    {
      set_audio_error (self, error->message);
      return;
    }
  g_signal_connect (self->voice, "audio-error", G_CALLBACK (audio_error_cb), self);
  _wzp_voice_set_muted (self->voice, self->muted);
  _wzp_voice_set_volume (self->voice, self->volume);
  _wzp_nominator_set_features (self->nominator, voice_features);
  _wzp_nominator_set_media_func (self->nominator, media_cb, self);
}

/* WzpCall:stats, about once a second while the call runs (docs/voice.md, "Statistics"). */
static gboolean
stats_cb (gpointer user_data)
{
  WzpCall *self = user_data;
  WzpVoiceStats voice = { 0 };
  GVariantDict dict;
  gint64 now = g_get_monotonic_time ();
  gint64 bitrate = 0;

  if (self->voice != NULL)
    _wzp_voice_get_stats (self->voice, &voice);
  if (self->stats_at_us > 0 && now > self->stats_at_us)
    bitrate = (gint64) (voice.bytes_sent - self->stats_bytes_sent) * 8 * G_USEC_PER_SEC /
              (now - self->stats_at_us);
  self->stats_at_us = now;
  self->stats_bytes_sent = voice.bytes_sent;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "rtt-ms", "x", _wzp_nominator_get_rtt_ms (self->nominator));
  g_variant_dict_insert (&dict, "frames-sent", "t", voice.frames_sent);
  g_variant_dict_insert (&dict, "frames-received", "t", voice.frames_received);
  g_variant_dict_insert (&dict, "frames-played", "t", voice.frames_played);
  g_variant_dict_insert (&dict, "frames-concealed", "t", voice.frames_concealed);
  g_variant_dict_insert (&dict, "frames-late", "t", voice.frames_late);
  g_variant_dict_insert (&dict, "frames-dropped", "t", voice.frames_dropped_sender);
  g_variant_dict_insert (&dict, "playout-delay-ms", "x", voice.playout_delay_us / 1000);
  g_variant_dict_insert (&dict, "bitrate", "x", bitrate);
  g_clear_pointer (&self->stats, g_variant_unref);
  self->stats = g_variant_ref_sink (g_variant_dict_end (&dict));
  _wzp_call_notify_stats (self);
  return G_SOURCE_CONTINUE;
}

void
_wzp_call_voice_start (WzpCall *self)
{
  g_autoptr(GError) error = NULL;

  if (self->stats_id == 0)
    self->stats_id = _wzp_timeout_add (self->context, 1000, stats_cb, self);
  if (self->voice == NULL || self->voice_started)
    return;
  self->voice_started = TRUE;
  /* A direction that fails says so through ::audio-error, with its direction. */
  if (!_wzp_voice_start (self->voice, send_cb, self, &error))
    g_debug ("Call %s: voice: %s", self->call_id, error->message);
}

void
_wzp_call_voice_stop (WzpCall *self)
{
  _wzp_clear_source (self->context, &self->stats_id);
  _wzp_nominator_set_media_func (self->nominator, NULL, NULL);
  if (self->voice == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->voice, self);
  _wzp_voice_stop (self->voice);
}

void
_wzp_call_voice_set_muted (WzpCall  *self,
                           gboolean  muted)
{
  if (self->voice != NULL)
    _wzp_voice_set_muted (self->voice, muted);
}

void
_wzp_call_voice_set_device (WzpCall           *self,
                            WzpAudioDirection  direction,
                            const char        *device)
{
  g_autoptr(GError) error = NULL;
  guint serial;

  if (self->voice == NULL)
    return;
  /* As when the call was made: "none" is silence, or nothing played. */
  if (g_strcmp0 (device, "none") == 0)
    device = direction == WZP_AUDIO_DIRECTION_SOURCE ? "audiotestsrc wave=silence is-live=true"
                                                     : "fakesink sync=false";
  serial = self->audio_error_serial[direction];
  if (!_wzp_voice_set_device (self->voice, direction, device, &error))
    set_direction_error (self, direction, error->message);
  else if (self->audio_error_serial[direction] == serial)
    set_direction_error (self, direction, NULL);   /* it works: that problem is gone */
  /* The call's own state wins over whatever the pipelines had. */
  _wzp_voice_set_muted (self->voice, self->muted);
  _wzp_voice_set_volume (self->voice, self->volume);
}

void
_wzp_call_voice_set_volume (WzpCall *self,
                            double   volume)
{
  if (self->voice != NULL)
    _wzp_voice_set_volume (self->voice, volume);
}

gboolean
_wzp_call_voice_get_stats (WzpCall       *self,
                           WzpVoiceStats *out)
{
  if (self->voice == NULL)
    return FALSE;
  _wzp_voice_get_stats (self->voice, out);
  return TRUE;
}

gboolean
_wzp_call_voice_get_origins (WzpCall *self,
                             gint64  *capture_us,
                             gint64  *playback_us)
{
  *capture_us = *playback_us = -1;
  if (self->voice == NULL)
    return FALSE;
  _wzp_voice_get_origins (self->voice, capture_us, playback_us);
  return TRUE;
}
