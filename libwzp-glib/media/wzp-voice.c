/* wzp-voice.c: one call's voice through GStreamer (docs/voice.md)
 *
 * Two pipelines. Capture: the source, conversion to 48 kHz mono, webrtcdsp (echo
 * cancellation against the playback's webrtcechoprobe, noise suppression, gain
 * control), a volume that mutes (before the encoder, so that muted frames look like any
 * other), opusenc (voice, 20 ms, 32 kb/s CBR, no DTX, no FEC) and an appsink. Playback:
 * an appsrc fed by the playout thread, opusdec with concealment, the echo probe, the
 * playback volume and the sink.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>

#include "wzp-i18n-private.h"
#include "wzp-playout-private.h"
#include "wzp-send-queue-private.h"
#include "wzp-voice-private.h"

/* Audio waiting to be sent beyond this is dropped, oldest first, so that a stalled
 * connection never makes the far side hear the past (docs/voice.md, "Sender queue"). */
#define SEND_QUEUE_LIMIT_US   (80 * 1000)
/* How long stopping waits for the playback to finish (a file sink writes its end). */
#define STOP_WAIT_MS          500
/* The samples of one frame at 48 kHz. */
#define FRAME_SAMPLES         (WZP_VOICE_CLOCK_RATE / (1000000 / WZP_VOICE_FRAME_US))

struct _WzpVoice
{
  GObject           parent_instance;

  GMainContext     *context;          /* the owner's */
  GstElement       *capture;
  GstElement       *playback;
  GstElement       *appsink;
  GstElement       *appsrc;
  GstElement       *dsp;
  GstElement       *mute;
  GstElement       *volume;
  GSource          *capture_watch;
  GSource          *playback_watch;

  WzpVoiceSendFunc  send_func;
  gpointer          send_data;

  /* The streaming thread's own, stamping what it encodes: one more each frame. */
  guint32           next_seq;
  guint32           next_timestamp;

  GMutex            lock;             /* guards what follows */
  GCond             wake;             /* the playout thread: a frame came, or stop */
  WzpSendQueue     *send_queue;
  GBytes           *unsent;           /* popped, but the path could not take it yet */
  gboolean          drain_scheduled;
  WzpPlayout       *playout;
  GThread          *playout_thread;
  gboolean          running;
  gboolean          stopped;
  WzpVoiceStats     stats;
};

G_DEFINE_FINAL_TYPE (WzpVoice, _wzp_voice, G_TYPE_OBJECT)

enum {
  SIGNAL_AUDIO_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* Elements every voice needs; those of a caller's description are checked by parsing it. */
static const char * const required_elements[] = {
  "appsrc", "appsink", "audioconvert", "audioresample", "volume", "opusenc", "opusdec",
  "webrtcdsp", "webrtcechoprobe",
};

gboolean
_wzp_voice_available (GError **error)
{
  g_autoptr(GError) init_error = NULL;

  if (!gst_init_check (NULL, NULL, &init_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("Voice is unavailable: GStreamer could not start (%s)"),
                   init_error->message);
      return FALSE;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (required_elements); i++)
    {
      g_autoptr(GstElementFactory) factory = gst_element_factory_find (required_elements[i]);

      if (factory == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       _("Voice is unavailable: the GStreamer element “%s” is missing "
                         "(install the GStreamer base, good and bad plugins)"),
                       required_elements[i]);
          return FALSE;
        }
    }
  return TRUE;
}

static void
report_bus_error (WzpVoice   *self,
                  GstMessage *message,
                  const char *direction)
{
  g_autoptr(GError) gst_error = NULL;
  g_autofree char *debug = NULL;
  g_autoptr(GError) error = NULL;

  gst_message_parse_error (message, &gst_error, &debug);
  g_debug ("Voice %s error: %s (%s)", direction, gst_error->message, debug ? debug : "");
  error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s",
                       g_str_equal (direction, "capture") ? _("The microphone failed")
                                                           : _("Playback failed"),
                       gst_error->message);
  g_signal_emit (self, signals[SIGNAL_AUDIO_ERROR], 0, error);
}

static gboolean
capture_bus_cb (GstBus     *bus,
                GstMessage *message,
                gpointer    user_data)
{
  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR)
    report_bus_error (WZP_VOICE (user_data), message, "capture");
  return G_SOURCE_CONTINUE;
}

static gboolean
playback_bus_cb (GstBus     *bus,
                 GstMessage *message,
                 gpointer    user_data)
{
  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR)
    report_bus_error (WZP_VOICE (user_data), message, "playback");
  return G_SOURCE_CONTINUE;
}

/* Sends what the sender's queue holds while the path takes it; on the owner's context. */
static gboolean
drain_cb (gpointer user_data)
{
  WzpVoice *self = user_data;

  g_mutex_lock (&self->lock);
  self->drain_scheduled = FALSE;
  while (self->running && self->send_func != NULL)
    {
      g_autoptr(GBytes) body = g_steal_pointer (&self->unsent);
      WzpMediaFrame frame;
      gboolean taken;

      if (body == NULL)
        body = _wzp_send_queue_pop (self->send_queue, NULL);
      if (body == NULL)
        break;
      /* The queue holds encoded bodies (one allocation a frame); decoding a body we made
       * cannot fail. */
      if (!_wzp_media_frame_decode (g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                                    &frame, NULL))
        g_assert_not_reached ();
      g_mutex_unlock (&self->lock);
      taken = self->send_func (&frame, self->send_data);
      g_mutex_lock (&self->lock);
      if (!taken)
        {
          /* The path's queue is full: this frame goes first next time, unless newer
           * audio pushes it out (the queue drops the oldest). */
          self->unsent = g_steal_pointer (&body);
          break;
        }
      self->stats.frames_sent++;
      self->stats.bytes_sent += g_bytes_get_size (body);
    }
  g_mutex_unlock (&self->lock);
  return G_SOURCE_REMOVE;
}

/* The capture's streaming thread: stamp the packet, queue it, wake the owner. */
static GstFlowReturn
new_sample_cb (GstAppSink *sink,
               gpointer    user_data)
{
  WzpVoice *self = user_data;
  g_autoptr(GstSample) sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buffer;
  GstMapInfo map;
  WzpMediaFrame frame = { 0 };
  g_autoptr(GBytes) body = NULL;
  gboolean schedule;

  if (sample == NULL)
    return GST_FLOW_EOS;
  buffer = gst_sample_get_buffer (sample);
  if (buffer == NULL || !gst_buffer_map (buffer, &map, GST_MAP_READ))
    return GST_FLOW_OK;

  frame.stream_id = WZP_VOICE_STREAM_ID;
  frame.seq = self->next_seq++;
  frame.timestamp = self->next_timestamp;
  frame.payload = map.data;
  frame.payload_len = map.size;
  self->next_timestamp += FRAME_SAMPLES;
  body = _wzp_media_frame_encode (&frame, NULL);   /* NULL only for an oversized packet */
  gst_buffer_unmap (buffer, &map);
  if (body == NULL)
    return GST_FLOW_OK;

  g_mutex_lock (&self->lock);
  self->stats.frames_dropped_sender += _wzp_send_queue_push (self->send_queue, body,
                                                             WZP_VOICE_FRAME_US);
  if (self->unsent != NULL && _wzp_send_queue_get_queued_us (self->send_queue) >=
                              SEND_QUEUE_LIMIT_US)
    {
      /* The frame held back is older than everything queued: it goes first. */
      g_clear_pointer (&self->unsent, g_bytes_unref);
      self->stats.frames_dropped_sender++;
    }
  schedule = self->running && !self->drain_scheduled;
  self->drain_scheduled |= schedule;
  g_mutex_unlock (&self->lock);

  if (schedule)
    g_main_context_invoke_full (self->context, G_PRIORITY_HIGH, drain_cb,
                                g_object_ref (self), g_object_unref);
  return GST_FLOW_OK;
}

static GstClockTime
running_time (GstElement *pipeline)
{
  g_autoptr(GstClock) clock = gst_element_get_clock (pipeline);

  if (clock == NULL)
    return 0;
  return gst_clock_get_time (clock) - gst_element_get_base_time (pipeline);
}

/* Plays each frame at its deadline, or a gap that opusdec conceals. */
static gpointer
playout_thread (gpointer user_data)
{
  WzpVoice *self = user_data;

  g_mutex_lock (&self->lock);
  while (self->running)
    {
      gint64 now = g_get_monotonic_time ();
      g_autoptr(GBytes) payload = NULL;
      WzpPlayoutPop result = _wzp_playout_pop (self->playout, now, &payload);
      gint64 deadline;

      if (result == WZP_PLAYOUT_FRAME || result == WZP_PLAYOUT_GAP)
        {
          g_mutex_unlock (&self->lock);
          if (result == WZP_PLAYOUT_FRAME)
            {
              GstBuffer *buffer = gst_buffer_new_wrapped_bytes (payload);

              GST_BUFFER_DURATION (buffer) = WZP_VOICE_FRAME_US * GST_USECOND;
              gst_app_src_push_buffer (GST_APP_SRC (self->appsrc), buffer);
            }
          else
            {
              gst_element_send_event (self->appsrc,
                                      gst_event_new_gap (running_time (self->playback),
                                                         WZP_VOICE_FRAME_US * GST_USECOND));
            }
          g_mutex_lock (&self->lock);
          continue;
        }

      deadline = _wzp_playout_next_deadline (self->playout);
      if (deadline < 0 || deadline > now + WZP_VOICE_FRAME_US)
        deadline = now + WZP_VOICE_FRAME_US;
      g_cond_wait_until (&self->wake, &self->lock, deadline);
    }
  g_mutex_unlock (&self->lock);
  return NULL;
}

static GstElement *
parse_pipeline (const char  *description,
                GError     **error)
{
  g_autoptr(GError) parse_error = NULL;
  GstElement *pipeline;

  pipeline = gst_parse_launch_full (description, NULL, GST_PARSE_FLAG_FATAL_ERRORS,
                                    &parse_error);
  if (pipeline == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The audio setup does not work: %s"), parse_error->message);
      return NULL;
    }
  return pipeline;
}

static GSource *
watch_bus (GstElement   *pipeline,
           GstBusFunc    func,
           WzpVoice     *self)
{
  g_autoptr(GstBus) bus = gst_element_get_bus (pipeline);
  GSource *source = gst_bus_create_watch (bus);

  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) func, self, NULL);
  g_source_attach (source, self->context);
  return source;
}

WzpVoice *
_wzp_voice_new (const char  *source,
                const char  *sink,
                GError     **error)
{
  static gint probe_serial;
  g_autoptr(WzpVoice) self = NULL;
  g_autofree char *probe = NULL;
  g_autofree char *capture = NULL;
  g_autofree char *playback = NULL;
  GstAppSinkCallbacks callbacks = { .new_sample = new_sample_cb };

  if (!_wzp_voice_available (error))
    return NULL;

  self = g_object_new (WZP_TYPE_VOICE, NULL);
  /* webrtcdsp finds its probe by name, process-wide: one name a voice. */
  probe = g_strdup_printf ("wzp-echo-probe-%d", g_atomic_int_add (&probe_serial, 1));
  /* The echo canceller gets each 10 ms of playback when the probe's timestamps say it is
   * heard (delay-agnostic=false), and those timestamps run without a break: opusdec keeps
   * them continuous through the playout thread's wake-up jitter (tolerance, one frame).
   * Measured by tests/test-voice-echo.c (docs/voice.md, "Echo cancellation"). */
  capture = g_strdup_printf (
    "%s ! audioconvert ! audioresample "
    "! audio/x-raw,format=S16LE,rate=%d,channels=1,layout=interleaved "
    "! webrtcdsp name=wzp-dsp probe=%s echo-cancel=true noise-suppression=true "
    "gain-control=true delay-agnostic=false "
    "! volume name=wzp-mute "
    "! opusenc audio-type=voice bitrate=%d bitrate-type=cbr frame-size=20 dtx=false "
    "inband-fec=false "
    "! appsink name=wzp-out sync=false max-buffers=50 drop=true",
    source != NULL ? source : "autoaudiosrc", WZP_VOICE_CLOCK_RATE, probe,
    WZP_VOICE_BITRATE);
  playback = g_strdup_printf (
    "appsrc name=wzp-in is-live=true format=time do-timestamp=true "
    "caps=audio/x-opus,channel-mapping-family=0,rate=%d,channels=1 "
    "! opusdec plc=true tolerance=%" G_GINT64_FORMAT " ! audioconvert ! audioresample "
    "! audio/x-raw,format=S16LE,rate=%d,channels=1,layout=interleaved "
    "! webrtcechoprobe name=%s ! volume name=wzp-volume ! audioconvert ! audioresample "
    "! %s",
    WZP_VOICE_CLOCK_RATE, (gint64) WZP_VOICE_FRAME_US * GST_USECOND, WZP_VOICE_CLOCK_RATE,
    probe,
    sink != NULL ? sink : "autoaudiosink");

  self->capture = parse_pipeline (capture, error);
  if (self->capture == NULL)
    return NULL;
  self->playback = parse_pipeline (playback, error);
  if (self->playback == NULL)
    return NULL;
  gst_object_ref_sink (self->capture);
  gst_object_ref_sink (self->playback);

  self->appsink = gst_bin_get_by_name (GST_BIN (self->capture), "wzp-out");
  self->dsp = gst_bin_get_by_name (GST_BIN (self->capture), "wzp-dsp");
  self->mute = gst_bin_get_by_name (GST_BIN (self->capture), "wzp-mute");
  self->appsrc = gst_bin_get_by_name (GST_BIN (self->playback), "wzp-in");
  self->volume = gst_bin_get_by_name (GST_BIN (self->playback), "wzp-volume");
  gst_app_sink_set_callbacks (GST_APP_SINK (self->appsink), &callbacks, self, NULL);

  self->capture_watch = watch_bus (self->capture, capture_bus_cb, self);
  self->playback_watch = watch_bus (self->playback, playback_bus_cb, self);
  return g_steal_pointer (&self);
}

static gboolean
set_playing (GstElement  *pipeline,
             const char  *what,
             GError     **error)
{
  g_autoptr(GstBus) bus = NULL;
  g_autoptr(GstMessage) message = NULL;
  g_autoptr(GError) gst_error = NULL;

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE)
    return TRUE;

  bus = gst_element_get_bus (pipeline);
  message = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  if (message != NULL)
    gst_message_parse_error (message, &gst_error, NULL);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", what,
               gst_error != NULL ? gst_error->message : _("the device could not be opened"));
  return FALSE;
}

/* webrtcdsp pairs each 10 ms it captures with what the probe saw played at that running
 * time, and running times only compare within one pipeline (GStreamer's webrtcdsp
 * documentation): both pipelines run on one clock from one base time, as one would. */
static void
share_clock (WzpVoice *self)
{
  g_autoptr(GstClock) clock = gst_system_clock_obtain ();
  GstClockTime base_time = gst_clock_get_time (clock);
  GstElement *pipelines[] = { self->playback, self->capture };

  for (gsize i = 0; i < G_N_ELEMENTS (pipelines); i++)
    {
      gst_pipeline_use_clock (GST_PIPELINE (pipelines[i]), clock);
      gst_element_set_start_time (pipelines[i], GST_CLOCK_TIME_NONE);
      gst_element_set_base_time (pipelines[i], base_time);
    }
}

gboolean
_wzp_voice_start (WzpVoice          *self,
                  WzpVoiceSendFunc   send_func,
                  gpointer           user_data,
                  GError           **error)
{
  g_return_val_if_fail (WZP_IS_VOICE (self), FALSE);
  g_return_val_if_fail (!self->running && !self->stopped, FALSE);

  self->send_func = send_func;
  self->send_data = user_data;

  share_clock (self);
  /* Playback first: the echo probe must exist when the echo canceller looks for it. */
  if (!set_playing (self->playback, _("The sound output could not be opened"), error) ||
      !set_playing (self->capture, _("The microphone could not be opened"), error))
    {
      gst_element_set_state (self->capture, GST_STATE_NULL);
      gst_element_set_state (self->playback, GST_STATE_NULL);
      return FALSE;
    }

  g_mutex_lock (&self->lock);
  self->running = TRUE;
  g_mutex_unlock (&self->lock);
  self->playout_thread = g_thread_new ("wzp-playout", playout_thread, self);
  return TRUE;
}

void
_wzp_voice_receive (WzpVoice            *self,
                    const WzpMediaFrame *frame)
{
  g_autoptr(GBytes) payload = NULL;
  WzpPlayoutPush pushed;

  g_return_if_fail (WZP_IS_VOICE (self));

  if (frame->stream_id != WZP_VOICE_STREAM_ID || frame->payload_len == 0)
    return;
  payload = g_bytes_new (frame->payload, frame->payload_len);

  g_mutex_lock (&self->lock);
  if (self->running)
    {
      pushed = _wzp_playout_push (self->playout, frame->seq, frame->timestamp, payload,
                                  g_get_monotonic_time ());
      if (pushed == WZP_PLAYOUT_ACCEPTED)
        g_cond_signal (&self->wake);
    }
  g_mutex_unlock (&self->lock);
}

void
_wzp_voice_stop (WzpVoice *self)
{
  g_autoptr(GstBus) bus = NULL;
  g_autoptr(GstMessage) message = NULL;

  g_return_if_fail (WZP_IS_VOICE (self));

  g_mutex_lock (&self->lock);
  if (self->stopped)
    {
      g_mutex_unlock (&self->lock);
      return;
    }
  self->stopped = TRUE;
  self->running = FALSE;
  self->send_func = NULL;
  g_cond_signal (&self->wake);
  g_mutex_unlock (&self->lock);

  g_clear_pointer (&self->playout_thread, g_thread_join);

  if (self->capture != NULL)
    gst_element_set_state (self->capture, GST_STATE_NULL);
  if (self->playback != NULL)
    {
      GstState state = GST_STATE_NULL;

      gst_element_get_state (self->playback, &state, NULL, 0);
      if (state == GST_STATE_PLAYING)
        {
          /* A file sink writes its header at the end of the stream: wait for it, briefly. */
          gst_app_src_end_of_stream (GST_APP_SRC (self->appsrc));
          bus = gst_element_get_bus (self->playback);
          message = gst_bus_timed_pop_filtered (bus, STOP_WAIT_MS * GST_MSECOND,
                                                GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
        }
      gst_element_set_state (self->playback, GST_STATE_NULL);
    }
}

void
_wzp_voice_set_echo_cancel (WzpVoice *self,
                            gboolean  enabled)
{
  g_return_if_fail (WZP_IS_VOICE (self));
  g_return_if_fail (!self->running && !self->stopped);
  g_object_set (self->dsp, "echo-cancel", enabled, NULL);
}

void
_wzp_voice_set_muted (WzpVoice *self,
                      gboolean  muted)
{
  g_return_if_fail (WZP_IS_VOICE (self));
  g_object_set (self->mute, "mute", muted, NULL);
}

void
_wzp_voice_set_volume (WzpVoice *self,
                       double    volume)
{
  g_return_if_fail (WZP_IS_VOICE (self));
  g_object_set (self->volume, "volume", CLAMP (volume, 0.0, 4.0), NULL);
}

void
_wzp_voice_get_stats (WzpVoice      *self,
                      WzpVoiceStats *out)
{
  WzpPlayoutStats counters;

  g_return_if_fail (WZP_IS_VOICE (self));

  g_mutex_lock (&self->lock);
  *out = self->stats;
  _wzp_playout_get_stats (self->playout, &counters);
  g_mutex_unlock (&self->lock);

  out->frames_received = counters.received;
  out->frames_played = counters.played;
  out->frames_concealed = counters.concealed;
  out->frames_late = counters.late;
  out->frames_duplicate = counters.duplicates;
  out->playout_delay_us = counters.target_delay_us;
}

static void
_wzp_voice_dispose (GObject *object)
{
  WzpVoice *self = WZP_VOICE (object);

  _wzp_voice_stop (self);
  if (self->capture_watch != NULL)
    g_source_destroy (self->capture_watch);
  if (self->playback_watch != NULL)
    g_source_destroy (self->playback_watch);
  g_clear_pointer (&self->capture_watch, g_source_unref);
  g_clear_pointer (&self->playback_watch, g_source_unref);
  g_clear_object (&self->appsink);
  g_clear_object (&self->appsrc);
  g_clear_object (&self->dsp);
  g_clear_object (&self->mute);
  g_clear_object (&self->volume);
  g_clear_object (&self->capture);
  g_clear_object (&self->playback);

  G_OBJECT_CLASS (_wzp_voice_parent_class)->dispose (object);
}

static void
_wzp_voice_finalize (GObject *object)
{
  WzpVoice *self = WZP_VOICE (object);

  g_clear_pointer (&self->unsent, g_bytes_unref);
  g_clear_pointer (&self->send_queue, _wzp_send_queue_free);
  g_clear_pointer (&self->playout, _wzp_playout_free);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->wake);

  G_OBJECT_CLASS (_wzp_voice_parent_class)->finalize (object);
}

static void
_wzp_voice_class_init (WzpVoiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = _wzp_voice_dispose;
  object_class->finalize = _wzp_voice_finalize;

  /* A device failed while running (unplugged, taken away): the call goes on without it.
   * Emitted on the owner's context. */
  signals[SIGNAL_AUDIO_ERROR] =
    g_signal_new ("audio-error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
_wzp_voice_init (WzpVoice *self)
{
  self->context = g_main_context_ref_thread_default ();
  g_mutex_init (&self->lock);
  g_cond_init (&self->wake);
  self->send_queue = _wzp_send_queue_new (SEND_QUEUE_LIMIT_US);
  self->playout = _wzp_playout_new (WZP_VOICE_CLOCK_RATE, WZP_VOICE_FRAME_US);
  /* Sequence numbers and timestamps start at random points (as RTP's do): nothing in
   * them tells how long the peer's process has run. */
  self->next_seq = g_random_int ();
  self->next_timestamp = g_random_int ();
}
