/* test-voice-echo.c: echo cancellation as the far side of a call hears it
 *
 * Three voices in one process, no sound card. "far" says a sentence (espeak-ng writes it
 * at test time) and its frames go straight into two near voices, as a network would
 * deliver them. Each near plays them into a room made of GStreamer elements: an inter
 * channel from its loudspeaker to its microphone, a delay, reflections and 6 dB of loss.
 * After the far side has finished, the near talker says a sentence of their own into the
 * same microphone. One near cancels echo, as every call does; the other has echo
 * cancellation turned off and is the reference. What each near sends is decoded as the far
 * side would decode it, and compared (docs/voice.md, "Echo cancellation"):
 *
 * - the echo return loss enhancement (ERLE): the power the reference sends while the far
 *   side talks, over the power the cancelling near sends then, once the canceller had 3 s
 *   to converge;
 * - what the near talker loses: the same ratio while only they talk.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>

#include "test-util.h"
#include "wzp-voice-private.h"

#define RATE            48000
#define MS_SAMPLES(ms)  ((gsize) (ms) * RATE / 1000)
/* The target: "echo return loss enhancement at least 15 dB after 3 s". */
#define CONVERGE_MS     3000
#define MIN_ERLE_DB     15.0
/* The near talker starts this long after the far side's sentence ends, and is measured
 * from a little later: the last echo has died away and the canceller let go. */
#define TURN_GAP_MS     1000
#define TURN_SETTLE_MS  300
/* What the near talker may lose to the canceller when only they talk. */
#define MAX_NEAR_LOSS_DB 3.0

/* About 6.5 s: more than the 3 s of convergence, with 3.5 s to measure. */
static const char far_text[] =
  "The quick brown fox jumps over the lazy dog. "
  "A voice call carries speech both ways, and cancels the echo.";
/* About 2.5 s. */
static const char near_text[] = "Hello from the near side. Can you hear me?";

/* The room between a near voice's loudspeaker and its microphone.
 *
 * - interaudiosink reports 100 ms of latency, the inter channel's default, but the audio
 *   comes out of interaudiosrc about 67 ms after it passed the echo probe. The probe
 *   believes the sink: it expects the loudspeaker to play each buffer 100 ms after it
 *   passed. A pure delay of 50 ms (audioecho delaying its only channel as a "surround"
 *   one) puts the echo where a device that keeps its word would: about 15-25 ms after
 *   that time, sound crossing a few metres of room.
 * - Reflections every 30 ms, each about 10 dB below the one before; the whole echo 6 dB
 *   down.
 * - The near talker, silence and then their sentence, mixed in as a second voice in the
 *   room. */
#define ROOM \
  "interaudiosrc channel=%s ! audio/x-raw,format=S16LE,rate=48000,channels=1 " \
  "! audioconvert ! audio/x-raw,format=F32LE " \
  "! audioecho surround-delay=true surround-mask=1 max-delay=50000000 delay=50000000 " \
  "! audioecho max-delay=30000000 delay=30000000 intensity=0.3 feedback=0.3 " \
  "! volume volume=0.5 ! room. " \
  "audiotestsrc wave=silence samplesperbuffer=480 num-buffers=%u " \
  "! audio/x-raw,format=F32LE,rate=48000,channels=1 ! talker. " \
  "filesrc location=%s ! wavparse ! talker. " \
  "concat name=talker ! audioconvert ! audioresample " \
  "! audio/x-raw,format=F32LE,rate=48000,channels=1 ! clocksync ! room. " \
  "audiomixer name=room"

typedef struct
{
  WzpVoice  *voice;
  GPtrArray *sent;      /* the Opus payloads it sent, in order (GBytes) */
} Near;

typedef struct
{
  Near cancelling;      /* echo cancellation on, as in every call */
  Near reference;       /* echo cancellation off */
} Nears;

/* far's "network": every frame reaches both nears at once. */
static WzpVoiceSendResult
far_send_cb (const WzpMediaFrame *frame,
             gpointer             user_data)
{
  Nears *nears = user_data;

  _wzp_voice_receive (nears->cancelling.voice, frame);
  _wzp_voice_receive (nears->reference.voice, frame);
  return WZP_VOICE_SEND_SENT;
}

static WzpVoiceSendResult
near_send_cb (const WzpMediaFrame *frame,
              gpointer             user_data)
{
  Near *near = user_data;

  g_ptr_array_add (near->sent, g_bytes_new (frame->payload, frame->payload_len));
  return WZP_VOICE_SEND_SENT;
}

/* A near voice in its own room, named @channel; its talker says @talk_wav after
 * @talk_at_ms of silence. */
static void
near_start (Near       *near,
            const char *channel,
            guint       talk_at_ms,
            const char *talk_wav,
            gboolean    echo_cancel)
{
  g_autoptr(GError) error = NULL;
  /* the silence comes in buffers of 480 samples, 10 ms */
  g_autofree char *source = g_strdup_printf (ROOM, channel, talk_at_ms / 10, talk_wav);
  g_autofree char *sink = g_strdup_printf ("audio/x-raw,format=S16LE,rate=48000,channels=1 "
                                           "! interaudiosink channel=%s", channel);

  near->voice = _wzp_voice_new (source, sink, &error);
  g_assert_no_error (error);
  _wzp_voice_set_echo_cancel (near->voice, echo_cancel);
  near->sent = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_assert_true (_wzp_voice_start (near->voice, near_send_cb, near, &error));
  g_assert_no_error (error);
}

/* What a near's playout made of the far side's frames, for whoever reads a failed run
 * (once the far side's sentence has ended, every frame is concealed). */
static void
near_report (Near       *near,
             const char *which)
{
  WzpVoiceStats stats;

  _wzp_voice_get_stats (near->voice, &stats);
  g_test_message ("near %s: %" G_GUINT64_FORMAT " frames played, %" G_GUINT64_FORMAT
                  " concealed, %" G_GUINT64_FORMAT " late; %u sent", which,
                  stats.frames_played, stats.frames_concealed, stats.frames_late,
                  near->sent->len);
}

static void
near_clear (Near *near)
{
  g_clear_object (&near->voice);
  g_clear_pointer (&near->sent, g_ptr_array_unref);
}

/* The samples the far side decodes from @payloads: 48 kHz mono, 20 ms a payload. */
static GArray *
decode (GPtrArray *payloads)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GstElement) pipeline = NULL;
  g_autoptr(GstElement) in = NULL;
  g_autoptr(GstElement) out = NULL;
  GArray *samples = g_array_new (FALSE, FALSE, sizeof (gint16));
  GstSample *sample;

  pipeline = gst_parse_launch ("appsrc name=in format=time "
                               "caps=audio/x-opus,channel-mapping-family=0,rate=48000,"
                               "channels=1 "
                               "! opusdec ! audio/x-raw,format=S16LE,rate=48000,channels=1 "
                               "! appsink name=out sync=false", &error);
  g_assert_no_error (error);
  in = gst_bin_get_by_name (GST_BIN (pipeline), "in");
  out = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);
  for (guint i = 0; i < payloads->len; i++)
    {
      GstBuffer *buffer = gst_buffer_new_wrapped_bytes (payloads->pdata[i]);

      GST_BUFFER_PTS (buffer) = i * 20 * GST_MSECOND;
      GST_BUFFER_DURATION (buffer) = 20 * GST_MSECOND;
      g_assert_cmpint (gst_app_src_push_buffer (GST_APP_SRC (in), buffer), ==, GST_FLOW_OK);
    }
  gst_app_src_end_of_stream (GST_APP_SRC (in));
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (out))) != NULL)
    {
      GstBuffer *buffer = gst_sample_get_buffer (sample);
      GstMapInfo map;

      g_assert_true (gst_buffer_map (buffer, &map, GST_MAP_READ));
      g_array_append_vals (samples, map.data, map.size / sizeof (gint16));
      gst_buffer_unmap (buffer, &map);
      gst_sample_unref (sample);
    }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return samples;
}

/* Mean power of the samples from @start to @end, relative to full scale. */
static double
power (GArray *samples,
       gsize   start,
       gsize   end)
{
  double sum = 0;

  g_assert_cmpuint (end, <=, samples->len);
  for (gsize i = start; i < end; i++)
    {
      double x = g_array_index (samples, gint16, i) / 32768.0;

      sum += x * x;
    }
  return end > start ? sum / (end - start) : 0;
}

static double
db (double ratio)
{
  return 10.0 * log10 (MAX (ratio, 1e-12));
}

/* Says @text into a new WAV file @path; returns its length in milliseconds (espeak-ng
 * writes 16-bit mono PCM after a 44-byte header). */
static guint
speak (const char *espeak,
       const char *path,
       const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  const char *argv[] = { espeak, "-w", path, text, NULL };
  gint status = 0;
  gsize len = 0;
  guint32 rate;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_cmpuint (len, >, 44);
  g_assert_cmpmem (contents, 4, "RIFF", 4);
  memcpy (&rate, contents + 24, sizeof rate);
  rate = GUINT32_FROM_LE (rate);
  g_assert_cmpuint (rate, >, 0);
  return (guint) ((len - 44) / 2 * 1000 / rate);
}

static void
test_echo_cancellation (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *espeak = g_find_program_in_path ("espeak-ng");
  g_autofree char *dir = NULL;
  g_autofree char *far_wav = NULL;
  g_autofree char *near_wav = NULL;
  g_autofree char *far_source = NULL;
  g_autofree char *cancelling_room = NULL;
  g_autofree char *reference_room = NULL;
  g_autoptr(GstElementFactory) inter = gst_element_factory_find ("interaudiosrc");
  g_autoptr(GstElementFactory) echo_element = gst_element_factory_find ("audioecho");
  g_autoptr(WzpVoice) far = NULL;
  g_autoptr(GArray) cancelled = NULL;
  g_autoptr(GArray) reference = NULL;
  Nears nears = { { 0 } };
  guint far_ms, near_ms, talk_at_ms;
  gsize echo_end, talk_start, talk_end;
  double echo, residual, erle, near_reference, near_cancelled;

  if (espeak == NULL)
    {
      g_test_skip ("espeak-ng is not installed (package espeak-ng): nobody to talk");
      return;
    }
  if (inter == NULL || echo_element == NULL)
    {
      g_test_skip ("The GStreamer inter or audiofx elements are missing: no room for echo");
      return;
    }

  dir = g_dir_make_tmp ("wzp-echo-XXXXXX", &error);
  g_assert_no_error (error);
  far_wav = g_build_filename (dir, "far.wav", NULL);
  near_wav = g_build_filename (dir, "near.wav", NULL);
  far_ms = speak (espeak, far_wav, far_text);
  near_ms = speak (espeak, near_wav, near_text);
  g_test_message ("the far side talks for %u ms, the near talker for %u ms", far_ms, near_ms);
  /* Enough to converge and measure, and the whole test within about 12 s. */
  g_assert_cmpuint (far_ms, >=, CONVERGE_MS + 2000);
  g_assert_cmpuint (far_ms + TURN_GAP_MS + near_ms, <=, 11000);
  talk_at_ms = far_ms + TURN_GAP_MS;

  /* inter channels are process-wide: names of this process only */
  cancelling_room = g_strdup_printf ("wzp-echo-%d-cancelling", (int) getpid ());
  reference_room = g_strdup_printf ("wzp-echo-%d-reference", (int) getpid ());
  near_start (&nears.cancelling, cancelling_room, talk_at_ms, near_wav, TRUE);
  near_start (&nears.reference, reference_room, talk_at_ms, near_wav, FALSE);

  far_source = g_strdup_printf ("filesrc location=%s ! wavparse ! clocksync", far_wav);
  far = _wzp_voice_new (far_source, "fakesink", &error);
  g_assert_no_error (error);
  g_assert_true (_wzp_voice_start (far, far_send_cb, &nears, &error));
  g_assert_no_error (error);

  wzp_test_spin (talk_at_ms + near_ms + TURN_SETTLE_MS);

  _wzp_voice_stop (far);
  _wzp_voice_stop (nears.cancelling.voice);
  _wzp_voice_stop (nears.reference.voice);
  near_report (&nears.cancelling, "with cancellation");
  near_report (&nears.reference, "without");
  cancelled = decode (nears.cancelling.sent);
  reference = decode (nears.reference.sent);
  near_clear (&nears.cancelling);
  near_clear (&nears.reference);
  g_unlink (far_wav);
  g_unlink (near_wav);
  g_rmdir (dir);

  /* Both nears started with the far side (their first frame at its first), and the
   * talker's file is paced by the near's clock from there. */
  echo_end = MS_SAMPLES (far_ms);
  talk_start = MS_SAMPLES (talk_at_ms + TURN_SETTLE_MS);
  talk_end = MS_SAMPLES (talk_at_ms + near_ms);
  g_test_message ("decoded %u samples with cancellation, %u without", cancelled->len,
                  reference->len);
  g_assert_cmpuint (cancelled->len, >=, talk_end);
  g_assert_cmpuint (reference->len, >=, talk_end);

  for (gsize s = 0; s + RATE <= talk_end; s += RATE)
    g_test_message ("second %" G_GSIZE_FORMAT ": %.1f dBFS without cancellation, %.1f dBFS "
                    "with it", s / RATE, db (power (reference, s, s + RATE)),
                    db (power (cancelled, s, s + RATE)));

  echo = power (reference, MS_SAMPLES (CONVERGE_MS), echo_end);
  residual = power (cancelled, MS_SAMPLES (CONVERGE_MS), echo_end);
  erle = db (echo / residual);
  near_reference = power (reference, talk_start, talk_end);
  near_cancelled = power (cancelled, talk_start, talk_end);
  g_test_message ("from %d ms to %u ms: echo %.1f dBFS, residual echo %.1f dBFS: "
                  "ERLE %.1f dB", CONVERGE_MS, far_ms, db (echo), db (residual), erle);
  g_test_message ("the near talker: %.1f dBFS without cancellation, %.1f dBFS with it",
                  db (near_reference), db (near_cancelled));

  /* There was echo to cancel (speech 6 dB down is well above -40 dBFS)... */
  g_assert_cmpfloat (db (echo), >, -40.0);
  /* ...the canceller took it away... */
  g_assert_cmpfloat (erle, >=, MIN_ERLE_DB);
  /* ...and not by muting the microphone: the near talker still comes through. */
  g_assert_cmpfloat (db (near_reference), >, -40.0);
  g_assert_cmpfloat (db (near_reference / near_cancelled), <=, MAX_NEAR_LOSS_DB);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  gst_init (NULL, NULL);

  g_test_add_func ("/wzp/voice/echo-cancellation", test_echo_cancellation);

  return g_test_run ();
}
