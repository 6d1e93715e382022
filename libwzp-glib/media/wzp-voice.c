/* wzp-voice.c: one call's voice through GStreamer (docs/voice.md)
 *
 * Two pipelines. Capture: the source, conversion to 48 kHz mono, webrtcdsp (echo
 * cancellation against the playback's webrtcechoprobe, noise suppression, gain
 * control), a volume that mutes (before the encoder, so that muted frames look like any
 * other), opusenc (voice, 20 ms, 32 kb/s CBR, no DTX, no FEC) and an appsink. Playback:
 * an appsrc fed by the playout thread, opusdec with concealment, the echo probe, the
 * playback volume and the sink.
 *
 * A device the user chose (a source or sink description naming one, as
 * WzpAudioDevice:id does) that goes away falls back to the system's default, and the
 * voice says so through ::audio-error (docs/voice.md, "Devices"): either the sound server
 * moved the stream itself (PulseAudio and PipeWire do; the element's current-device
 * changes), or the pipeline failed, and it is made again on the default device.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>

#include "wzp-gst-private.h"
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

/* The two directions, for what each keeps about its device. */
enum {
  CAPTURE,
  PLAYBACK,
};

struct _WzpVoice
{
  GObject           parent_instance;

  GMainContext     *context;          /* the owner's */
  GstElement       *capture;
  GstElement       *playback;
  GstElement       *appsink;
  GstElement       *appsrc;
  GstClock         *clock;            /* both pipelines': the system clock */
  GstClockTime      base_time;        /* both pipelines', from the start */
  gboolean          echo_cancel;      /* TRUE but in the echo test's reference */
  GstElement       *mute;
  GstElement       *volume;
  GSource          *capture_watch;
  GSource          *playback_watch;
  char             *probe;            /* the echo probe's name */
  /* Per direction: the element of a device the user chose (pulsesrc device=…), or NULL
   * for the default device, a test signal or a file; the device it was told (pulsesink
   * changes its property when the stream moves); whether it fell back already. */
  GstElement       *chosen[2];
  char             *chosen_device[2];
  gboolean          fell_back[2];

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
  gboolean          playing;          /* the playback pipeline runs */
  gboolean          stopped;
  WzpVoiceStats     stats;
};

G_DEFINE_FINAL_TYPE (WzpVoice, _wzp_voice, G_TYPE_OBJECT)

enum {
  SIGNAL_AUDIO_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* ::audio-error for @direction (CAPTURE or PLAYBACK), told as the WzpAudioDirection the
 * call keeps its messages by: a later good switch of that direction clears its message
 * only (docs/voice.md, "Another device during a call"). */
static void
emit_audio_error (WzpVoice *self,
                  int       direction,
                  GError   *error)
{
  g_signal_emit (self, signals[SIGNAL_AUDIO_ERROR], 0,
                 direction == CAPTURE ? WZP_AUDIO_DIRECTION_SOURCE : WZP_AUDIO_DIRECTION_SINK,
                 error);
}

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
  emit_audio_error (self, g_str_equal (direction, "capture") ? CAPTURE : PLAYBACK, error);
}

static gboolean fall_back (WzpVoice  *self,
                           int        direction,
                           GError   **error);

/* A pipeline failed while running. A chosen device's is made again on the default
 * device (once); anything else leaves that direction silent, and says why. */
static void
pipeline_failed (WzpVoice   *self,
                 GstMessage *message,
                 int         direction)
{
  g_autoptr(GError) error = NULL;

  if (!self->running || self->chosen[direction] == NULL || self->fell_back[direction])
    {
      report_bus_error (self, message, direction == CAPTURE ? "capture" : "playback");
      return;
    }
  if (!fall_back (self, direction, &error))
    emit_audio_error (self, direction, error);
}

static gboolean
capture_bus_cb (GstBus     *bus,
                GstMessage *message,
                gpointer    user_data)
{
  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR)
    pipeline_failed (WZP_VOICE (user_data), message, CAPTURE);
  return G_SOURCE_CONTINUE;
}

static gboolean
playback_bus_cb (GstBus     *bus,
                 GstMessage *message,
                 gpointer    user_data)
{
  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR)
    pipeline_failed (WZP_VOICE (user_data), message, PLAYBACK);
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
      WzpVoiceSendResult result;

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
      result = self->send_func (&frame, self->send_data);
      g_mutex_lock (&self->lock);
      if (result == WZP_VOICE_SEND_DISCARDED)
        continue;
      if (result == WZP_VOICE_SEND_BUSY)
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

      if ((result == WZP_PLAYOUT_FRAME || result == WZP_PLAYOUT_GAP) &&
          self->appsrc == NULL)
        continue;   /* no playback left (its fallback failed): the frame is dropped */
      if (result == WZP_PLAYOUT_FRAME || result == WZP_PLAYOUT_GAP)
        {
          /* A fallback may replace the playback meanwhile: push into the one of now. */
          g_autoptr(GstElement) appsrc = g_object_ref (self->appsrc);
          g_autoptr(GstElement) playback = g_object_ref (self->playback);

          g_mutex_unlock (&self->lock);
          if (result == WZP_PLAYOUT_FRAME)
            {
              GstBuffer *buffer = gst_buffer_new_wrapped_bytes (payload);

              GST_BUFFER_DURATION (buffer) = WZP_VOICE_FRAME_US * GST_USECOND;
              gst_app_src_push_buffer (GST_APP_SRC (appsrc), buffer);
            }
          else
            {
              gst_element_send_event (appsrc,
                                      gst_event_new_gap (running_time (playback),
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

/* The element of @pipeline that is a device the user chose: an audio source (or sink,
 * as @klass says) told which device to open. NULL for the default device, a test signal
 * or a file, which have nothing to fall back to. */
static GstElement *
find_chosen_device (GstElement  *pipeline,
                    const char  *klass,
                    char       **device_out)
{
  static const char * const device_properties[] = { "device", "target-object" };
  g_autoptr(GstIterator) it = gst_bin_iterate_recurse (GST_BIN (pipeline));
  GValue item = G_VALUE_INIT;
  GstElement *found = NULL;

  while (found == NULL && gst_iterator_next (it, &item) == GST_ITERATOR_OK)
    {
      GstElement *element = g_value_get_object (&item);
      GstElementFactory *factory = gst_element_get_factory (element);
      const char *classes = factory != NULL ? gst_element_factory_get_metadata (
                              factory, GST_ELEMENT_METADATA_KLASS) : NULL;

      for (gsize i = 0; classes != NULL && strstr (classes, "Audio") != NULL &&
                        strstr (classes, klass) != NULL &&
                        i < G_N_ELEMENTS (device_properties); i++)
        {
          GParamSpec *spec = g_object_class_find_property (G_OBJECT_GET_CLASS (element),
                                                           device_properties[i]);
          g_autofree char *device = NULL;

          if (spec == NULL || spec->value_type != G_TYPE_STRING)
            continue;
          g_object_get (element, device_properties[i], &device, NULL);
          if (device != NULL && device[0] != '\0')
            {
              found = g_object_ref (element);
              *device_out = g_steal_pointer (&device);
              break;
            }
        }
      g_value_reset (&item);
    }
  g_value_unset (&item);
  return found;
}

/* Says that @direction plays on (or listens to) the system's default device now. */
static void
say_fell_back (WzpVoice *self,
               int       direction)
{
  g_autoptr(GError) notice = NULL;

  notice = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                                direction == CAPTURE
                                ? _("The chosen microphone is not available: the call "
                                    "uses the default microphone instead")
                                : _("The chosen sound output is not available: the call "
                                    "plays through the default output instead"));
  emit_audio_error (self, direction, notice);
}

typedef struct
{
  WzpVoice *self;
  int       direction;
} Moved;

static gboolean
moved_cb (gpointer user_data)
{
  Moved *moved = user_data;
  WzpVoice *self = moved->self;
  GstElement *device = self->chosen[moved->direction];
  const char *chosen = self->chosen_device[moved->direction];
  g_autofree char *current = NULL;
  g_autoptr(GError) error = NULL;

  if (!self->running || device == NULL || self->fell_back[moved->direction])
    return G_SOURCE_REMOVE;
  g_object_get (device, "current-device", &current, NULL);
  if (current == NULL || g_strcmp0 (current, chosen) == 0)
    return G_SOURCE_REMOVE;
  g_debug ("Voice: the sound server moved the %s from %s to %s",
           moved->direction == CAPTURE ? "capture" : "playback", chosen, current);
  /* The moved stream goes where the default is, but pulsesink can be left silent after
   * a move (GStreamer 1.22, a stream the server resamples): a fresh one on the default
   * device is what the user hears. */
  if (!fall_back (self, moved->direction, &error))
    emit_audio_error (self, moved->direction, error);
  return G_SOURCE_REMOVE;
}

static void
moved_free (gpointer data)
{
  Moved *moved = data;

  g_object_unref (moved->self);
  g_free (moved);
}

/* notify::current-device of a chosen device (pulsesrc, pulsesink) comes on the sound
 * server's thread: the owner's context looks whether the stream left the chosen device. */
static void
schedule_moved (WzpVoice *self,
                int       direction)
{
  Moved *moved = g_new (Moved, 1);
  GSource *idle = g_idle_source_new ();

  moved->self = g_object_ref (self);
  moved->direction = direction;
  g_source_set_callback (idle, moved_cb, moved, moved_free);
  g_source_attach (idle, self->context);
  g_source_unref (idle);
}

static void
capture_device_cb (GObject    *element,
                   GParamSpec *pspec,
                   WzpVoice   *self)
{
  schedule_moved (self, CAPTURE);
}

static void
playback_device_cb (GObject    *element,
                    GParamSpec *pspec,
                    WzpVoice   *self)
{
  schedule_moved (self, PLAYBACK);
}

/* Finds the chosen device of @pipeline, and watches it for a move when it can tell. */
static void
watch_chosen_device (WzpVoice   *self,
                     GstElement *pipeline,
                     int         direction)
{
  GstElement *device = find_chosen_device (pipeline, direction == CAPTURE ? "Source" : "Sink",
                                           &self->chosen_device[direction]);

  self->chosen[direction] = device;
  if (device != NULL &&
      g_object_class_find_property (G_OBJECT_GET_CLASS (device), "current-device") != NULL)
    g_signal_connect_object (device, "notify::current-device",
                             direction == CAPTURE ? G_CALLBACK (capture_device_cb)
                                                  : G_CALLBACK (playback_device_cb),
                             self, 0);
}

/* Builds the capture pipeline from @source (NULL: the system's default). */
static gboolean
build_capture (WzpVoice    *self,
               const char  *source,
               GError     **error)
{
  GstAppSinkCallbacks callbacks = { .new_sample = new_sample_cb };
  /* The echo suppressor at its low level: at the default (moderate), Alice's speech heard
   * by Bob while Bob's clicks played at Alice's side fell from 0.89-0.94 to 0.71-0.74 in
   * loudness similarity (test-voice's speech case): double talk, both people speaking at
   * once, matters more in a conversation than the last decibels of echo. */
  g_autofree char *capture = g_strdup_printf (
    "%s ! audioconvert ! audioresample "
    "! audio/x-raw,format=S16LE,rate=%d,channels=1,layout=interleaved "
    "! webrtcdsp name=wzp-dsp probe=%s echo-cancel=%s noise-suppression=true "
    "gain-control=true delay-agnostic=false echo-suppression-level=low "
    "! volume name=wzp-mute "
    "! opusenc audio-type=voice bitrate=%d bitrate-type=cbr frame-size=20 dtx=false "
    "inband-fec=false "
    "! appsink name=wzp-out sync=false max-buffers=50 drop=true",
    source != NULL ? source : "autoaudiosrc", WZP_VOICE_CLOCK_RATE, self->probe,
    self->echo_cancel ? "true" : "false", WZP_VOICE_BITRATE);
  g_autoptr(GstBus) bus = NULL;

  self->capture = _wzp_gst_parse (capture, error);
  if (self->capture == NULL)
    return FALSE;
  self->appsink = gst_bin_get_by_name (GST_BIN (self->capture), "wzp-out");
  self->mute = gst_bin_get_by_name (GST_BIN (self->capture), "wzp-mute");
  gst_app_sink_set_callbacks (GST_APP_SINK (self->appsink), &callbacks, self, NULL);
  if (source != NULL)
    watch_chosen_device (self, self->capture, CAPTURE);
  bus = gst_element_get_bus (self->capture);
  self->capture_watch = _wzp_gst_watch_bus (bus, self->context, capture_bus_cb, self);
  return TRUE;
}

/* Builds the playback pipeline to @sink (NULL: the system's default). The playout thread
 * reads the pipeline and its appsrc under the lock. */
static gboolean
build_playback (WzpVoice    *self,
                const char  *sink,
                GError     **error)
{
  g_autofree char *description = g_strdup_printf (
    "appsrc name=wzp-in is-live=true format=time do-timestamp=true "
    "caps=audio/x-opus,channel-mapping-family=0,rate=%d,channels=1 "
    "! opusdec plc=true tolerance=%" G_GINT64_FORMAT " ! audioconvert ! audioresample "
    "! audio/x-raw,format=S16LE,rate=%d,channels=1,layout=interleaved "
    "! webrtcechoprobe name=%s ! volume name=wzp-volume ! audioconvert ! audioresample "
    "! %s",
    WZP_VOICE_CLOCK_RATE, (gint64) WZP_VOICE_FRAME_US * GST_USECOND, WZP_VOICE_CLOCK_RATE,
    self->probe, sink != NULL ? sink : "autoaudiosink");
  g_autoptr(GstElement) playback = _wzp_gst_parse (description, error);
  g_autoptr(GstBus) bus = NULL;

  if (playback == NULL)
    return FALSE;
  self->volume = gst_bin_get_by_name (GST_BIN (playback), "wzp-volume");
  if (sink != NULL)
    watch_chosen_device (self, playback, PLAYBACK);
  bus = gst_element_get_bus (playback);
  self->playback_watch = _wzp_gst_watch_bus (bus, self->context, playback_bus_cb, self);
  g_mutex_lock (&self->lock);
  self->appsrc = gst_bin_get_by_name (GST_BIN (playback), "wzp-in");
  self->playback = g_steal_pointer (&playback);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* Stops and drops the pipeline of @direction (in the playback's case, under the lock
 * the playout thread reads it with). */
static void
clear_pipeline (WzpVoice *self,
                int       direction)
{
  g_autoptr(GstElement) pipeline = NULL;
  g_autoptr(GstElement) appsrc = NULL;

  g_mutex_lock (&self->lock);
  if (direction == CAPTURE)
    {
      pipeline = g_steal_pointer (&self->capture);
    }
  else
    {
      pipeline = g_steal_pointer (&self->playback);
      appsrc = g_steal_pointer (&self->appsrc);
    }
  g_mutex_unlock (&self->lock);

  if (pipeline != NULL)
    gst_element_set_state (pipeline, GST_STATE_NULL);
  if (self->chosen[direction] != NULL)
    g_signal_handlers_disconnect_by_data (self->chosen[direction], self);
  g_clear_object (&self->chosen[direction]);
  g_clear_pointer (&self->chosen_device[direction], g_free);
  if (direction == CAPTURE)
    {
      _wzp_gst_clear_watch (&self->capture_watch);
      g_clear_object (&self->appsink);
      g_clear_object (&self->mute);
    }
  else
    {
      _wzp_gst_clear_watch (&self->playback_watch);
      g_clear_object (&self->volume);
    }
}

/* Puts @pipeline on the voice's clock at the voice's base time (set at start), so that
 * running times in the capture and the playback mean the same moment; a pipeline made
 * again for a fallback joins the same timeline. */
static void
use_shared_clock (WzpVoice   *self,
                  GstElement *pipeline)
{
  if (pipeline == NULL)
    return;
  gst_pipeline_use_clock (GST_PIPELINE (pipeline), self->clock);
  gst_element_set_start_time (pipeline, GST_CLOCK_TIME_NONE);
  gst_element_set_base_time (pipeline, self->base_time);
}

/* Makes the pipeline of @direction again on @description (NULL: the system's default), as
 * it was (muted, volume), and, if @start, starts it. Sequence numbers and timestamps go
 * on: they are the voice's, not the pipeline's. */
static gboolean
rebuild_pipeline (WzpVoice    *self,
                  int          direction,
                  const char  *description,
                  gboolean     start,
                  GError     **error)
{
  const char *what = direction == CAPTURE ? _("The microphone could not be opened")
                                          : _("The sound output could not be opened");

  if (direction == CAPTURE)
    {
      gboolean muted = FALSE;

      if (self->mute != NULL)   /* NULL when an earlier fallback failed */
        g_object_get (self->mute, "mute", &muted, NULL);
      clear_pipeline (self, CAPTURE);
      if (!build_capture (self, description, error))
        return FALSE;
      g_object_set (self->mute, "mute", muted, NULL);
      if (!start)
        return TRUE;
      use_shared_clock (self, self->capture);
      if (!_wzp_gst_set_playing (self->capture, what, error))
        return FALSE;
    }
  else
    {
      double volume = 1.0;

      if (self->volume != NULL)
        g_object_get (self->volume, "volume", &volume, NULL);
      clear_pipeline (self, PLAYBACK);
      if (!build_playback (self, description, error))
        return FALSE;
      g_object_set (self->volume, "volume", volume, NULL);
      if (!start)
        return TRUE;
      use_shared_clock (self, self->playback);
      if (!_wzp_gst_set_playing (self->playback, what, error))
        return FALSE;
      /* The echo canceller finds its probe when it starts: a running capture starts
       * again, so that it hears what the new output plays. A microphone that fails then
       * is the capture's problem, told as such: the new output works. */
      if (self->running && self->capture != NULL)
        {
          g_autoptr(GError) capture_error = NULL;

          gst_element_set_state (self->capture, GST_STATE_READY);
          if (!_wzp_gst_set_playing (self->capture, _("The microphone could not be opened"),
                                     &capture_error))
            {
              gst_element_set_state (self->capture, GST_STATE_NULL);
              emit_audio_error (self, CAPTURE, capture_error);
            }
        }
    }
  return TRUE;
}

/* The chosen device of @direction failed (at start, or while running): its pipeline is
 * made again on the system's default device and started, and the voice says so. FALSE
 * with @error when the default device does not work either: that direction is then
 * silent. */
static gboolean
fall_back (WzpVoice  *self,
           int        direction,
           GError   **error)
{
  self->fell_back[direction] = TRUE;
  g_debug ("Voice: the %s goes to the default device",
           direction == CAPTURE ? "capture" : "playback");
  if (!rebuild_pipeline (self, direction, NULL, TRUE, error))
    return FALSE;
  say_fell_back (self, direction);
  return TRUE;
}

/* The user chose another device during the call: @direction's pipeline is made again on
 * @description (NULL: the system's default), as it was (muted, volume), and started if the
 * voice runs. A chosen device that cannot be opened falls back to the default, once more,
 * and says so; FALSE with @error only when nothing can be opened (that direction is then
 * silent). */
gboolean
_wzp_voice_set_device (WzpVoice           *self,
                       WzpAudioDirection   which,
                       const char         *description,
                       GError            **error)
{
  int direction = which == WZP_AUDIO_DIRECTION_SOURCE ? CAPTURE : PLAYBACK;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (WZP_IS_VOICE (self), FALSE);

  if (self->stopped)
    return TRUE;
  g_debug ("Voice: the %s moves to %s", direction == CAPTURE ? "capture" : "playback",
           description != NULL ? description : "the default device");
  /* A new choice: it may fall back again. */
  self->fell_back[direction] = FALSE;
  if (rebuild_pipeline (self, direction, description, self->running, &local_error))
    return TRUE;
  if (description == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_debug ("Voice: %s", local_error->message);
  if (self->running)
    return fall_back (self, direction, error);
  /* Not started yet (the call rings): the default device, which starts with the call. */
  self->fell_back[direction] = TRUE;
  if (!rebuild_pipeline (self, direction, NULL, FALSE, error))
    return FALSE;
  say_fell_back (self, direction);
  return TRUE;
}

WzpVoice *
_wzp_voice_new (const char  *source,
                const char  *sink,
                GError     **error)
{
  static gint probe_serial;
  g_autoptr(WzpVoice) self = NULL;

  if (!_wzp_voice_available (error))
    return NULL;

  self = g_object_new (WZP_TYPE_VOICE, NULL);
  /* webrtcdsp finds its probe by name, process-wide: one name a voice. */
  self->probe = g_strdup_printf ("wzp-echo-probe-%d", g_atomic_int_add (&probe_serial, 1));
  if (!build_capture (self, source, error) || !build_playback (self, sink, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* Starts the pipeline of @direction; a chosen device that cannot be opened falls back to
 * the default at once. */
static gboolean
start_pipeline (WzpVoice  *self,
                int        direction,
                GError   **error)
{
  g_autoptr(GError) local_error = NULL;

  if (_wzp_gst_set_playing (direction == CAPTURE ? self->capture : self->playback,
                            direction == CAPTURE ? _("The microphone could not be opened")
                                                 : _("The sound output could not be opened"),
                            &local_error))
    return TRUE;
  if (self->chosen[direction] == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_debug ("Voice: %s", local_error->message);
  return fall_back (self, direction, error);
}


gboolean
_wzp_voice_start (WzpVoice          *self,
                  WzpVoiceSendFunc   send_func,
                  gpointer           user_data,
                  GError           **error)
{
  g_return_val_if_fail (WZP_IS_VOICE (self), FALSE);
  g_autoptr(GError) playback_error = NULL;
  g_autoptr(GError) capture_error = NULL;
  gboolean playing;
  gboolean failed;

  g_return_val_if_fail (!self->running && !self->stopped, FALSE);

  self->send_func = send_func;
  self->send_data = user_data;

  /* Both pipelines on one clock and one base time: the echo probe matches what was played
   * with what the microphone hears by running time, which only means the same moment
   * within one pipeline's clock and base time (docs/voice.md, "Echo cancellation"). */
  self->base_time = gst_clock_get_time (self->clock);
  use_shared_clock (self, self->playback);
  use_shared_clock (self, self->capture);
  /* Playback first: the echo probe must exist when the echo canceller looks for it.
   * Each direction goes on without the other: a side whose microphone fails still hears,
   * one whose output fails still speaks. */
  playing = start_pipeline (self, PLAYBACK, &playback_error);
  if (!playing && self->playback != NULL)
    gst_element_set_state (self->playback, GST_STATE_NULL);
  if (!start_pipeline (self, CAPTURE, &capture_error) && self->capture != NULL)
    gst_element_set_state (self->capture, GST_STATE_NULL);

  failed = (playback_error != NULL || capture_error != NULL);
  /* Each direction's failure is told with its direction too, so that the call can clear
   * it when the user switches that direction to a device that works; the capture's last,
   * as the one returned. */
  if (playback_error != NULL)
    emit_audio_error (self, PLAYBACK, playback_error);
  if (capture_error != NULL)
    emit_audio_error (self, CAPTURE, capture_error);
  if (capture_error != NULL)
    g_propagate_error (error, g_steal_pointer (&capture_error));
  else if (playback_error != NULL)
    g_propagate_error (error, g_steal_pointer (&playback_error));

  g_mutex_lock (&self->lock);
  self->running = TRUE;
  self->playing = playing;
  g_mutex_unlock (&self->lock);
  if (!playing)
    return FALSE;
  self->playout_thread = g_thread_new ("wzp-playout", playout_thread, self);
  return !failed;
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
  if (self->playing)
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
  self->playing = FALSE;
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
  self->echo_cancel = enabled;
  if (self->capture != NULL)
    {
      g_autoptr(GstElement) dsp = gst_bin_get_by_name (GST_BIN (self->capture), "wzp-dsp");

      g_object_set (dsp, "echo-cancel", enabled, NULL);
    }
}

void
_wzp_voice_set_muted (WzpVoice *self,
                      gboolean  muted)
{
  g_return_if_fail (WZP_IS_VOICE (self));
  if (self->mute != NULL)   /* NULL when a fallback failed: nothing is sent then */
    g_object_set (self->mute, "mute", muted, NULL);
}

void
_wzp_voice_set_volume (WzpVoice *self,
                       double    volume)
{
  g_return_if_fail (WZP_IS_VOICE (self));
  if (self->volume != NULL)   /* NULL when a fallback failed: nothing is played then */
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

/* The monotonic time of @pipeline's running time 0, through its own clock: the system
 * clock (monotonic) for our pipelines, unless a device provides one. */
static gint64
pipeline_origin_us (GstElement *pipeline)
{
  g_autoptr(GstClock) clock = NULL;
  GstState state = GST_STATE_NULL;
  GstState pending = GST_STATE_VOID_PENDING;
  GstClockTime now;
  gint64 now_us;

  /* Base times are chosen on the way to PLAYING: a pending PLAYING (a sink that waits
   * for its first buffer) has one already. */
  gst_element_get_state (pipeline, &state, &pending, 0);
  if (state != GST_STATE_PLAYING && pending != GST_STATE_PLAYING)
    return -1;
  clock = gst_element_get_clock (pipeline);
  if (clock == NULL)
    return -1;
  now = gst_clock_get_time (clock);
  now_us = g_get_monotonic_time ();
  return now_us - (gint64) GST_TIME_AS_USECONDS (now - gst_element_get_base_time (pipeline));
}

void
_wzp_voice_get_origins (WzpVoice *self,
                        gint64   *capture_us,
                        gint64   *playback_us)
{
  g_autoptr(GstElement) capture = NULL;
  g_autoptr(GstElement) playback = NULL;

  g_return_if_fail (WZP_IS_VOICE (self));

  /* A pipeline may be made again (a device that fell back): take them under the lock. */
  g_mutex_lock (&self->lock);
  if (self->running && self->capture != NULL)
    capture = gst_object_ref (self->capture);
  if (self->running && self->playback != NULL)
    playback = gst_object_ref (self->playback);
  g_mutex_unlock (&self->lock);
  *capture_us = capture != NULL ? pipeline_origin_us (capture) : -1;
  *playback_us = playback != NULL ? pipeline_origin_us (playback) : -1;
}

static void
_wzp_voice_dispose (GObject *object)
{
  WzpVoice *self = WZP_VOICE (object);

  _wzp_voice_stop (self);
  clear_pipeline (self, CAPTURE);
  clear_pipeline (self, PLAYBACK);

  G_OBJECT_CLASS (_wzp_voice_parent_class)->dispose (object);
}

static void
_wzp_voice_finalize (GObject *object)
{
  WzpVoice *self = WZP_VOICE (object);

  g_clear_object (&self->clock);
  g_clear_pointer (&self->unsent, g_bytes_unref);
  g_free (self->probe);
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

  /* A device failed (at start, or while running: unplugged, taken away): the call goes
   * on without it; or a chosen device was replaced by the system's default
   * (G_IO_ERROR_NOT_FOUND). Its first argument is the WzpAudioDirection (as an int) it is
   * about. Emitted on the owner's context. */
  signals[SIGNAL_AUDIO_ERROR] =
    g_signal_new ("audio-error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_ERROR);
}

static void
_wzp_voice_init (WzpVoice *self)
{
  self->echo_cancel = TRUE;
  self->clock = gst_system_clock_obtain ();
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
