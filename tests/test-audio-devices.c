/* test-audio-devices.c: the device list, the level meter and a call's fallback from a
 * chosen device that goes away, against a PulseAudio of the test's own (no sound card).
 *
 * Each test starts a PulseAudio of its own (pulse-daemon.c: no configuration, only its
 * native socket, in a temporary folder, removed on any path) with the null sinks the test
 * loads ("wzp_a", "wzp_b": an output each, and its monitor as a source). Without the
 * pulseaudio and pactl programs, or GStreamer's PulseAudio plugin, the tests skip and say
 * why.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>

#include "pulse-daemon.h"
#include "test-util.h"
#include "wzp-voice-private.h"

#if WZP_HAVE_VOICE

#include <gst/gst.h>

/* How long a test waits for the daemon, a pactl command or a change to show. */
#define WAIT_MS 10000

typedef struct
{
  WzpTestPulse *pulse;     /* the daemon, NULL when it cannot run here */
  char         *skipped;   /* why the test cannot run here, or NULL */
  guint         module_b;  /* the module of the null sink wzp_b */
} Fixture;

/* Starts the daemon with the null sinks wzp_a ("Alpha", the default) and wzp_b ("Beta"),
 * or says in f->skipped why it cannot run here. */
static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GstElementFactory) pulsesrc = NULL;

  gst_init (NULL, NULL);
  pulsesrc = gst_element_factory_find ("pulsesrc");
  if (pulsesrc == NULL)
    {
      f->skipped = g_strdup ("GStreamer's PulseAudio plugin (gstreamer1.0-plugins-good) "
                             "is not installed");
      return;
    }
  f->pulse = wzp_test_pulse_start (&f->skipped);
  if (f->pulse == NULL)
    return;
  wzp_test_pulse_load_null_sink ("wzp_a", "Alpha");
  f->module_b = wzp_test_pulse_load_null_sink ("wzp_b", "Beta");
  g_free (wzp_test_pulse_pactl ("set-default-sink", "wzp_a", NULL));
  g_free (wzp_test_pulse_pactl ("set-default-source", "wzp_a.monitor", NULL));
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  wzp_test_pulse_stop (f->pulse);
  g_free (f->skipped);
}

/* A test starts with this: FALSE (and the test skipped) when the daemon cannot run. */
static gboolean
daemon_runs (Fixture *f)
{
  if (f->skipped == NULL)
    return TRUE;
  g_test_skip (f->skipped);
  return FALSE;
}

/* Plays a tone into the sink @sink of the test's daemon (NULL: the default one, wherever
 * it is), until it is stopped. */
static GstElement *
play_tone (const char *sink)
{
  g_autofree char *description = g_strdup_printf (
    "audiotestsrc is-live=true wave=sine freq=440 volume=0.5 ! pulsesink%s%s",
    sink != NULL ? " device=" : "", sink != NULL ? sink : "");
  g_autoptr(GError) error = NULL;
  GstElement *pipeline = gst_parse_launch (description, &error);

  g_assert_no_error (error);
  gst_object_ref_sink (pipeline);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);
  return pipeline;
}

static void
stop_tone (GstElement *pipeline)
{
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}

/* The device list */

static WzpAudioDevice *
find_device (GListModel *devices,
             const char *id)
{
  for (guint i = 0; i < g_list_model_get_n_items (devices); i++)
    {
      g_autoptr(WzpAudioDevice) device = g_list_model_get_item (devices, i);

      if (g_str_equal (wzp_audio_device_get_id (device), id))
        return device;   /* the list holds a reference */
    }
  return NULL;
}

typedef struct
{
  GListModel *devices;
  const char *id;
  gboolean    present;
  guint       added;
  guint       removed;
} Watch;

static void
items_changed_cb (GListModel *devices,
                  guint       position,
                  guint       removed,
                  guint       added,
                  Watch      *watch)
{
  watch->added += added;
  watch->removed += removed;
}

static gboolean
presence_is (gpointer data)
{
  Watch *watch = data;

  return (find_device (watch->devices, watch->id) != NULL) == watch->present;
}

static void
wait_presence (Watch      *watch,
               const char *id,
               gboolean    present)
{
  watch->id = id;
  watch->present = present;
  wzp_test_wait_until (presence_is, watch, WAIT_MS);
}

static gboolean
is_default (gpointer data)
{
  Watch *watch = data;
  WzpAudioDevice *device = find_device (watch->devices, watch->id);

  return device != NULL && wzp_audio_device_get_is_default (device);
}

static void
count_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 guint      *count)
{
  (*count)++;
}

/* The null sinks and their monitors are listed, come and go with their module, and
 * is-default follows the server's default. */
static void
test_list (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(WzpAudioDevices) list = NULL;
  GListModel *devices;
  g_autoptr(GError) error = NULL;
  Watch watch = { 0 };
  WzpAudioDevice *device;
  guint module_c;
  guint a_notified = 0;
  GstElement *tone;

  if (!daemon_runs (f))
    return;

  list = wzp_audio_devices_new ();
  devices = G_LIST_MODEL (list);
  g_assert_true (g_list_model_get_item_type (devices) == WZP_TYPE_AUDIO_DEVICE);
  g_assert_cmpuint (g_list_model_get_n_items (devices), ==, 0);
  watch.devices = devices;
  g_signal_connect (list, "items-changed", G_CALLBACK (items_changed_cb), &watch);

  g_assert_true (wzp_audio_devices_start (list, &error));
  g_assert_no_error (error);
  g_assert_true (wzp_audio_devices_start (list, &error));   /* started already */
  wait_presence (&watch, "pulsesink device=wzp_b", TRUE);
  g_assert_cmpuint (watch.added, ==, g_list_model_get_n_items (devices));
  g_assert_cmpuint (g_list_model_get_n_items (devices), ==, 4);

  device = find_device (devices, "pulsesink device=wzp_a");
  g_assert_nonnull (device);
  g_assert_cmpstr (wzp_audio_device_get_display_name (device), ==, "Alpha");
  g_assert_cmpint (wzp_audio_device_get_direction (device), ==, WZP_AUDIO_DIRECTION_SINK);
  g_assert_true (wzp_audio_device_get_is_default (device));
  g_signal_connect (device, "notify::is-default", G_CALLBACK (count_notify_cb), &a_notified);
  device = find_device (devices, "pulsesink device=wzp_b");
  g_assert_cmpstr (wzp_audio_device_get_display_name (device), ==, "Beta");
  g_assert_false (wzp_audio_device_get_is_default (device));
  device = find_device (devices, "pulsesrc device=wzp_a.monitor");
  g_assert_nonnull (device);
  g_assert_cmpint (wzp_audio_device_get_direction (device), ==, WZP_AUDIO_DIRECTION_SOURCE);
  g_assert_true (wzp_audio_device_get_is_default (device));
  g_assert_nonnull (strstr (wzp_audio_device_get_display_name (device), "Alpha"));
  device = find_device (devices, "pulsesrc device=wzp_b.monitor");
  g_assert_nonnull (device);
  g_assert_false (wzp_audio_device_get_is_default (device));
  {
    g_autofree char *id = NULL;
    WzpAudioDirection direction;
    gboolean dflt;

    g_object_get (device, "id", &id, "direction", &direction, "is-default", &dflt, NULL);
    g_assert_cmpstr (id, ==, "pulsesrc device=wzp_b.monitor");
    g_assert_cmpint (direction, ==, WZP_AUDIO_DIRECTION_SOURCE);
    g_assert_false (dflt);
  }

  /* A device that comes: its sink and its monitor */
  watch.added = watch.removed = 0;
  module_c = wzp_test_pulse_load_null_sink ("wzp_c", "Gamma");
  wait_presence (&watch, "pulsesink device=wzp_c", TRUE);
  wait_presence (&watch, "pulsesrc device=wzp_c.monitor", TRUE);
  g_assert_cmpuint (watch.added, ==, 2);
  g_assert_cmpuint (g_list_model_get_n_items (devices), ==, 6);

  /* A device that goes */
  wzp_test_pulse_unload_module (module_c);
  wait_presence (&watch, "pulsesink device=wzp_c", FALSE);
  wait_presence (&watch, "pulsesrc device=wzp_c.monitor", FALSE);
  g_assert_cmpuint (watch.removed, ==, 2);
  g_assert_cmpuint (g_list_model_get_n_items (devices), ==, 4);

  /* Another default. GStreamer 1.22's PulseAudio provider reads the default again when
   * it hears of a device or a playback stream, not of the server itself: here, the
   * stream that the server moves to the new default, as on a desktop. */
  tone = play_tone (NULL);
  g_free (wzp_test_pulse_pactl ("set-default-sink", "wzp_b", NULL));
  watch.id = "pulsesink device=wzp_b";
  wzp_test_wait_until (is_default, &watch, WAIT_MS);
  stop_tone (tone);
  g_assert_false (wzp_audio_device_get_is_default (find_device (devices,
                                                                "pulsesink device=wzp_a")));
  g_assert_cmpuint (a_notified, ==, 1);

  /* Stopped: empty, and it says so */
  watch.removed = 0;
  wzp_audio_devices_stop (list);
  g_assert_cmpuint (g_list_model_get_n_items (devices), ==, 0);
  g_assert_cmpuint (watch.removed, ==, 4);
  g_signal_handlers_disconnect_by_data (list, &watch);
}

/* Two lists started one after the other in one process (a preferences dialog opened
 * while another list runs) both hear a device that comes after both started. */
static void
test_two_lists (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(WzpAudioDevices) first = wzp_audio_devices_new ();
  g_autoptr(WzpAudioDevices) second = wzp_audio_devices_new ();
  Watch watch_first = { G_LIST_MODEL (first) };
  Watch watch_second = { G_LIST_MODEL (second) };
  g_autoptr(GError) error = NULL;

  if (!daemon_runs (f))
    return;

  g_assert_true (wzp_audio_devices_start (first, &error));
  g_assert_no_error (error);
  wait_presence (&watch_first, "pulsesink device=wzp_b", TRUE);
  g_assert_true (wzp_audio_devices_start (second, &error));
  g_assert_no_error (error);
  wait_presence (&watch_second, "pulsesink device=wzp_b", TRUE);
  g_test_message ("both lists show %u devices",
                  g_list_model_get_n_items (G_LIST_MODEL (second)));

  wzp_test_pulse_load_null_sink ("wzp_c", "Gamma");
  wait_presence (&watch_first, "pulsesink device=wzp_c", TRUE);
  wait_presence (&watch_first, "pulsesrc device=wzp_c.monitor", TRUE);
  wait_presence (&watch_second, "pulsesink device=wzp_c", TRUE);
  wait_presence (&watch_second, "pulsesrc device=wzp_c.monitor", TRUE);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (first)), ==, 6);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (second)), ==, 6);

  wzp_audio_devices_stop (second);
  wzp_audio_devices_stop (first);
}

/* The level meter */

static gboolean
is_loud (gpointer data)
{
  return wzp_audio_level_get_peak_db (data) > -20.0 &&
         wzp_audio_level_get_rms_db (data) > -30.0;
}

static gboolean
is_silent (gpointer data)
{
  return wzp_audio_level_get_peak_db (data) == WZP_AUDIO_LEVEL_SILENCE;
}

/* A source with a tone shows a level, a silent one silence. */
static void
test_level (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(WzpAudioLevel) loud = NULL;
  g_autoptr(WzpAudioLevel) quiet = NULL;
  g_autoptr(WzpAudioLevel) broken = NULL;
  g_autoptr(GError) error = NULL;
  GstElement *tone;
  guint notified = 0, quiet_notified = 0;

  if (!daemon_runs (f))
    return;

  tone = play_tone ("wzp_a");
  loud = wzp_audio_level_new ("pulsesrc device=wzp_a.monitor");
  quiet = wzp_audio_level_new ("pulsesrc device=wzp_b.monitor");
  g_assert_cmpstr (wzp_audio_level_get_source (loud), ==, "pulsesrc device=wzp_a.monitor");
  g_assert_cmpfloat (wzp_audio_level_get_peak_db (loud), ==, WZP_AUDIO_LEVEL_SILENCE);
  g_signal_connect (loud, "notify::peak-db", G_CALLBACK (count_notify_cb), &notified);
  g_signal_connect (quiet, "notify::peak-db", G_CALLBACK (count_notify_cb), &quiet_notified);

  g_assert_true (wzp_audio_level_start (loud, &error));
  g_assert_no_error (error);
  g_assert_true (wzp_audio_level_start (quiet, &error));
  g_assert_no_error (error);
  wzp_test_wait_until (is_loud, loud, WAIT_MS);
  /* a 440 Hz sine at half scale: -6 dB peak, -9 dB RMS, through the sink's mixing */
  g_test_message ("tone: peak %.1f dB, rms %.1f dB", wzp_audio_level_get_peak_db (loud),
                  wzp_audio_level_get_rms_db (loud));
  g_assert_cmpfloat (wzp_audio_level_get_peak_db (loud), <, -3.0);
  /* ten measurements a second: a second of tone moves it several times */
  notified = quiet_notified = 0;
  wzp_test_spin (1000);
  g_assert_cmpuint (notified, >=, 5);
  g_assert_cmpuint (notified, <=, 15);
  g_assert_cmpuint (quiet_notified, >=, 5);   /* measured, and silent */
  g_assert_true (is_silent (quiet));
  g_assert_cmpfloat (wzp_audio_level_get_rms_db (quiet), ==, WZP_AUDIO_LEVEL_SILENCE);

  wzp_audio_level_stop (loud);
  g_assert_true (is_silent (loud));
  g_assert_cmpfloat (wzp_audio_level_get_rms_db (loud), ==, WZP_AUDIO_LEVEL_SILENCE);
  wzp_audio_level_stop (quiet);
  stop_tone (tone);

  /* started again, on a source that is silent now */
  g_assert_true (wzp_audio_level_start (loud, &error));
  wzp_test_spin (500);
  g_assert_true (is_silent (loud));
  wzp_audio_level_stop (loud);

  broken = wzp_audio_level_new ("no-such-element");
  g_assert_false (wzp_audio_level_start (broken, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* A call's voice whose chosen devices go away */

typedef struct
{
  WzpVoice  *voice;
  WzpVoice  *listener;   /* where what it sends goes, or NULL */
  GArray    *seqs;       /* guint32: the frames it sent */
  GPtrArray *errors;     /* char*: its audio-error messages */
  int        direction;  /* the WzpAudioDirection of the last one */
} Side;

static WzpVoiceSendResult
send_cb (const WzpMediaFrame *frame,
         gpointer             user_data)
{
  Side *side = user_data;

  g_array_append_val (side->seqs, frame->seq);
  if (side->listener != NULL)
    _wzp_voice_receive (side->listener, frame);
  return WZP_VOICE_SEND_SENT;
}

static void
audio_error_cb (WzpVoice *voice,
                int       direction,
                GError   *error,
                Side     *side)
{
  g_test_message ("audio-error: %s", error->message);
  side->direction = direction;
  g_ptr_array_add (side->errors, g_strdup (error->message));
}

static void
side_start (Side       *side,
            const char *source,
            const char *sink,
            WzpVoice   *listener)
{
  g_autoptr(GError) error = NULL;

  side->seqs = g_array_new (FALSE, FALSE, sizeof (guint32));
  side->errors = g_ptr_array_new_with_free_func (g_free);
  side->listener = listener;
  side->voice = _wzp_voice_new (source, sink, &error);
  g_assert_no_error (error);
  g_signal_connect (side->voice, "audio-error", G_CALLBACK (audio_error_cb), side);
  g_assert_true (_wzp_voice_start (side->voice, send_cb, side, &error));
  g_assert_no_error (error);
}

static void
side_clear (Side *side)
{
  _wzp_voice_stop (side->voice);
  g_clear_object (&side->voice);
  g_array_unref (side->seqs);
  g_ptr_array_unref (side->errors);
}

static gboolean
fell_back_both (gpointer data)
{
  Side *side = data;
  gboolean capture = FALSE, playback = FALSE;

  for (guint i = 0; i < side->errors->len; i++)
    {
      const char *message = g_ptr_array_index (side->errors, i);

      capture |= g_str_has_prefix (message, "The chosen microphone is not available");
      playback |= g_str_has_prefix (message, "The chosen sound output is not available");
    }
  return capture && playback;
}

typedef struct
{
  Side  *side;
  guint  wanted;
} Frames;

static gboolean
frames_sent (gpointer data)
{
  Frames *frames = data;

  return frames->side->seqs->len >= frames->wanted;
}

/* @side goes on sending (40 more frames, 0.8 s of voice, within 2 s), and all it sent
 * are numbered one after the other, whatever its pipelines went through: the only gaps
 * are frames its sender's queue dropped (a slow main loop: valgrind). */
static void
assert_frames_go_on (Side *side)
{
  Frames frames = { side, side->seqs->len + 40 };
  WzpVoiceStats stats;
  guint64 skipped = 0;

  wzp_test_wait_until (frames_sent, &frames, 2000);
  _wzp_voice_get_stats (side->voice, &stats);
  for (guint i = 1; i < side->seqs->len; i++)
    {
      guint32 step = g_array_index (side->seqs, guint32, i) -
                     g_array_index (side->seqs, guint32, i - 1);

      g_assert_cmpuint (step, >=, 1);
      g_assert_cmpuint (step, <=, 50);
      skipped += step - 1;
    }
  g_test_message ("%u frames sent, %" G_GUINT64_FORMAT " dropped by the sender's queue",
                  side->seqs->len, stats.frames_dropped_sender);
  /* (a frame dropped before the first one sent, or after the last, leaves no gap) */
  g_assert_cmpuint (skipped, <=, stats.frames_dropped_sender);
}

/* Both directions of a voice listen to and play on wzp_b; a sender's tone plays there.
 * Then wzp_b goes: the sound server moves both streams to the default (wzp_a), and the
 * voice says so for each; the tone is heard on wzp_a, and the frames go on. */
static void
test_voice_device_gone (Fixture       *f,
                        gconstpointer  data)
{
  Side sender = { 0 }, side = { 0 };
  g_autoptr(WzpAudioLevel) on_a = NULL;
  g_autoptr(WzpAudioLevel) on_b = NULL;

  if (!daemon_runs (f))
    return;

  side_start (&side, "pulsesrc device=wzp_b.monitor", "pulsesink device=wzp_b", NULL);
  side_start (&sender, "audiotestsrc is-live=true wave=sine freq=440 volume=0.5",
              "fakesink sync=false", side.voice);
  on_a = wzp_audio_level_new ("pulsesrc device=wzp_a.monitor");
  on_b = wzp_audio_level_new ("pulsesrc device=wzp_b.monitor");
  g_assert_true (wzp_audio_level_start (on_a, NULL));
  g_assert_true (wzp_audio_level_start (on_b, NULL));

  /* the chosen output plays the tone; the default stays silent */
  wzp_test_wait_until (is_loud, on_b, WAIT_MS);
  g_assert_true (is_silent (on_a));
  g_assert_cmpuint (side.errors->len, ==, 0);
  wzp_audio_level_stop (on_b);

  wzp_test_pulse_unload_module (f->module_b);
  wzp_test_wait_until (fell_back_both, &side, WAIT_MS);
  g_assert_cmpuint (side.errors->len, ==, 2);   /* once each, nothing else */
  wzp_test_wait_until (is_loud, on_a, WAIT_MS);
  assert_frames_go_on (&side);

  wzp_audio_level_stop (on_a);
  side_clear (&sender);
  side_clear (&side);
}

/* Chosen devices that are not there when the call starts fail in their pipelines: the
 * voice makes them again on the default devices, says so, and its frames go on. */
static void
test_voice_device_missing (Fixture       *f,
                           gconstpointer  data)
{
  Side sender = { 0 }, side = { 0 };
  g_autoptr(WzpAudioLevel) on_a = NULL;

  if (!daemon_runs (f))
    return;

  side_start (&side, "pulsesrc device=wzp_gone.monitor", "pulsesink device=wzp_gone", NULL);
  side_start (&sender, "audiotestsrc is-live=true wave=sine freq=440 volume=0.5",
              "fakesink sync=false", side.voice);
  on_a = wzp_audio_level_new ("pulsesrc device=wzp_a.monitor");
  g_assert_true (wzp_audio_level_start (on_a, NULL));

  wzp_test_wait_until (fell_back_both, &side, WAIT_MS);
  g_assert_cmpuint (side.errors->len, ==, 2);
  wzp_test_wait_until (is_loud, on_a, WAIT_MS);
  assert_frames_go_on (&side);

  wzp_audio_level_stop (on_a);
  side_clear (&sender);
  side_clear (&side);
}

static gboolean
has_error (gpointer data)
{
  return ((Side *) data)->errors->len > 0;
}

static gboolean
is_quiet (gpointer data)
{
  return wzp_audio_level_get_peak_db (data) < -60.0;
}

/* The user picks other devices during a call: the output moves at once (the tone is heard
 * on the new one, no longer on the old), and a microphone chosen while muted stays muted
 * until unmuted; the frames go on, numbered one after the other. */
static void
test_voice_switch_device (Fixture       *f,
                          gconstpointer  data)
{
  Side sender = { 0 }, side = { 0 };
  g_autoptr(WzpAudioLevel) on_a = NULL;
  g_autoptr(WzpAudioLevel) on_b = NULL;
  g_autoptr(GError) error = NULL;

  if (!daemon_runs (f))
    return;

  side_start (&side, "audiotestsrc is-live=true wave=silence", "pulsesink device=wzp_b", NULL);
  side_start (&sender, "audiotestsrc is-live=true wave=sine freq=440 volume=0.5",
              "fakesink sync=false", side.voice);
  on_a = wzp_audio_level_new ("pulsesrc device=wzp_a.monitor");
  on_b = wzp_audio_level_new ("pulsesrc device=wzp_b.monitor");
  g_assert_true (wzp_audio_level_start (on_a, NULL));
  g_assert_true (wzp_audio_level_start (on_b, NULL));
  wzp_test_wait_until (is_loud, on_b, WAIT_MS);
  g_assert_true (is_silent (on_a));

  /* The output moves to the default (wzp_a). */
  g_assert_true (_wzp_voice_set_device (side.voice, WZP_AUDIO_DIRECTION_SINK, NULL, &error));
  g_assert_no_error (error);
  wzp_test_wait_until (is_loud, on_a, WAIT_MS);
  wzp_test_wait_until (is_silent, on_b, WAIT_MS);
  g_assert_cmpuint (side.errors->len, ==, 0);

  /* Muted, the sender picks another microphone: still muted. */
  _wzp_voice_set_muted (sender.voice, TRUE);
  wzp_test_wait_until (is_quiet, on_a, WAIT_MS);
  g_assert_true (_wzp_voice_set_device (sender.voice, WZP_AUDIO_DIRECTION_SOURCE,
                                        "audiotestsrc is-live=true wave=sine freq=660 "
                                        "volume=0.5", &error));
  g_assert_no_error (error);
  wzp_test_spin (1000);
  g_assert_true (is_quiet (on_a));
  _wzp_voice_set_muted (sender.voice, FALSE);
  wzp_test_wait_until (is_loud, on_a, WAIT_MS);
  assert_frames_go_on (&sender);
  g_assert_cmpuint (sender.errors->len, ==, 0);

  /* A device that is not there: the default instead, and it says so. */
  g_assert_true (_wzp_voice_set_device (side.voice, WZP_AUDIO_DIRECTION_SINK,
                                        "pulsesink device=wzp_gone", &error));
  g_assert_no_error (error);
  wzp_test_wait_until (has_error, &side, WAIT_MS);
  wzp_test_spin (500);
  g_assert_cmpuint (side.errors->len, ==, 1);
  wzp_test_wait_until (is_loud, on_a, WAIT_MS);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (side.errors, 0),
                                   "The chosen sound output is not available"));
  /* told as the output's, which the call clears when the user picks one that works */
  g_assert_cmpint (side.direction, ==, WZP_AUDIO_DIRECTION_SINK);

  wzp_audio_level_stop (on_a);
  wzp_audio_level_stop (on_b);
  side_clear (&sender);
  side_clear (&side);
}

#else /* !WZP_HAVE_VOICE */

/* Without GStreamer: an empty list, and starting says why. */
static void
test_no_gstreamer (void)
{
  g_autoptr(WzpAudioDevices) list = wzp_audio_devices_new ();
  g_autoptr(WzpAudioLevel) level = wzp_audio_level_new (NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (wzp_audio_devices_start (list, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 0);
  g_clear_error (&error);
  g_assert_false (wzp_audio_level_start (level, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

#endif /* WZP_HAVE_VOICE */

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) \
  g_test_add ("/wzp/audio-devices/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
#if WZP_HAVE_VOICE
  ADD ("list", test_list);
  ADD ("two-lists", test_two_lists);
  ADD ("level", test_level);
  ADD ("voice-device-gone", test_voice_device_gone);
  ADD ("voice-device-missing", test_voice_device_missing);
  ADD ("voice-switch-device", test_voice_switch_device);
#else
  g_test_add_func ("/wzp/audio-devices/no-gstreamer", test_no_gstreamer);
#endif
#undef ADD

  return g_test_run ();
}
