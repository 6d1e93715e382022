/* test-voice.c: voice in a call, end to end, without a sound card: each side sends a test
 * signal of its own and writes what it hears to a WAV file, which the test analyses.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <glib/gstdio.h>

#include "call-fixture.h"
#include "wzp-call-private.h"

#define RATE 48000

/* The samples of a 16-bit mono WAV file as wavenc writes it (the data chunk after the
 * format chunk); an empty array when the file is not one. */
static GArray *
read_wav (const char *path)
{
  g_autofree char *contents = NULL;
  gsize len = 0;
  GArray *samples = g_array_new (FALSE, FALSE, sizeof (gint16));
  gsize at = 12;

  if (!g_file_get_contents (path, &contents, &len, NULL) || len < 12 ||
      memcmp (contents, "RIFF", 4) != 0 || memcmp (contents + 8, "WAVE", 4) != 0)
    return samples;
  while (at + 8 <= len)
    {
      guint32 size = GUINT32_FROM_LE (*(guint32 *) (contents + at + 4));

      if (memcmp (contents + at, "data", 4) == 0)
        {
          gsize n = MIN (size, len - at - 8) / sizeof (gint16);

          g_array_append_vals (samples, contents + at + 8, n);
          break;
        }
      at += 8 + size + (size & 1);
    }
  return samples;
}

/* The power of @freq in @n samples from @start, by Goertzel's algorithm, normalised so
 * that a full-scale sine gives about 0.25. */
static double
tone_power (const gint16 *samples,
            gsize         n,
            double        freq)
{
  double coeff = 2.0 * cos (2.0 * G_PI * freq / RATE);
  double s1 = 0, s2 = 0;

  for (gsize i = 0; i < n; i++)
    {
      double s0 = samples[i] / 32768.0 + coeff * s1 - s2;

      s2 = s1;
      s1 = s0;
    }
  return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / ((double) n * n);
}

static double
rms (const gint16 *samples,
     gsize         n)
{
  double sum = 0;

  for (gsize i = 0; i < n; i++)
    sum += (samples[i] / 32768.0) * (samples[i] / 32768.0);
  return n > 0 ? sqrt (sum / n) : 0;
}

typedef struct
{
  WzpClient *client;
  char      *heard;    /* the WAV file its calls write */
} Side;

/* A registered client whose calls send a sine of @freq Hz (0: silence, "none") and write
 * what they hear to DIR/ALIAS-heard.wav. */
static void
side_init (Side       *side,
           Fixture    *f,
           const char *alias,
           const char *dir,
           int         freq)
{
  g_autofree char *source = NULL;
  g_autofree char *sink = NULL;

  source = freq > 0 ? g_strdup_printf ("audiotestsrc is-live=true wave=sine freq=%d "
                                       "volume=0.5", freq)
                    : g_strdup ("none");
  side->client = connected_client (f, alias);
  side->heard = g_strdup_printf ("%s/%s-heard.wav", dir, alias);
  sink = g_strdup_printf ("wavenc ! filesink location=%s", side->heard);
  g_object_set (side->client, "audio-source", source, "audio-sink", sink, NULL);
}

static void
side_clear (Side *side)
{
  disconnect_and_free (side->client);
  g_unlink (side->heard);
  g_free (side->heard);
}

/* Places a call from @a to @b, which answers. */
static WzpCall *
voice_call (Side   *a,
            Side   *b,
            Callee *callee)
{
  g_autoptr(GError) error = NULL;
  WzpCall *call;

  g_signal_connect (b->client, "incoming-call", G_CALLBACK (incoming_cb), callee);
  call = place_call (a->client, b->client, &error);
  g_assert_no_error (error);
  g_assert_nonnull (call);
  wzp_test_wait_pointer ((gpointer *) &callee->call, 5000);
  return call;
}

static void
hang_up (WzpCall *call,
         Callee  *callee)
{
  wzp_call_hangup (call);
  wzp_test_wait_call_state (callee->call, WZP_CALL_STATE_ENDED);
}

/* The last second of what @side heard; the test fails if it heard less than that. */
static const gint16 *
last_second (GArray *heard)
{
  g_assert_cmpuint (heard->len, >=, RATE);
  return &g_array_index (heard, gint16, heard->len - RATE);
}

/* Whether the second that ends @heard holds @freq, at more than 100 times the power of
 * @other (what the side itself sent), and is not quiet. */
static void
assert_hears_tone (GArray     *heard,
                   const char *who,
                   double      freq,
                   double      other)
{
  const gint16 *s = last_second (heard);
  double wanted = tone_power (s, RATE, freq);
  double unwanted = tone_power (s, RATE, other);

  g_test_message ("%s hears %.0f Hz at %.5f, %.0f Hz at %.5f, rms %.4f", who, freq, wanted,
                  other, unwanted, rms (s, RATE));
  g_assert_cmpfloat (wanted, >, 100 * unwanted);
  g_assert_cmpfloat (rms (s, RATE), >, 0.01);
}

static void
stats_of (WzpCall       *call,
          WzpVoiceStats *stats)
{
  g_assert_true (_wzp_call_voice_get_stats (call, stats));
}

/* What a call should carry after @seconds with voice on both sides. */
static void
assert_flowing (WzpVoiceStats *sent,
                WzpVoiceStats *received,
                double         seconds)
{
  guint64 frames = (guint64) (seconds * 50);

  /* 50 frames a second, with a margin for the start */
  g_assert_cmpuint (sent->frames_sent, >=, frames * 7 / 10);
  g_assert_cmpuint (received->frames_received, >=, frames * 7 / 10);
  g_assert_cmpuint (received->frames_played, >=, frames * 6 / 10);
  /* While the pipelines start, a loaded machine may deliver a first frame after its
   * time; the sound is what a listener checks. */
  g_assert_cmpuint (received->frames_late, <=, received->frames_received / 50);
  /* CBR: every frame the same size, 32 kb/s of Opus in 20 ms is 80 bytes + 10 */
  g_assert_cmpuint (sent->bytes_sent, ==, sent->frames_sent * 90);
}

typedef struct
{
  Fixture *f;
  char    *dir;
  Side     alice;   /* the caller: 440 Hz */
  Side     bob;     /* the callee: 1000 Hz */
  Callee   callee;
  WzpCall *call;
} VoiceCall;

static void
voice_call_start (VoiceCall *v,
                  Fixture   *f,
                  int        alice_freq,
                  int        bob_freq,
                  gboolean   privacy)
{
  v->f = f;
  v->dir = g_dir_make_tmp ("wzp-voice-XXXXXX", NULL);
  side_init (&v->alice, f, "Alice", v->dir, alice_freq);
  side_init (&v->bob, f, "Bob", v->dir, bob_freq);
  wzp_client_set_privacy (v->alice.client, privacy);
  v->callee = (Callee) { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE };
  v->call = voice_call (&v->alice, &v->bob, &v->callee);
}

static void
voice_call_finish (VoiceCall *v)
{
  if (wzp_call_get_state (v->call) != WZP_CALL_STATE_ENDED)
    hang_up (v->call, &v->callee);
  g_clear_object (&v->call);
  callee_clear (&v->callee);
  side_clear (&v->alice);
  side_clear (&v->bob);
  g_rmdir (v->dir);
  g_free (v->dir);
}

/* Each side hears the other's tone, and not its own. */
static void
check_two_tones (Fixture  *f,
                 gboolean  privacy)
{
  VoiceCall v;
  WzpVoiceStats sent, received;
  g_autoptr(GArray) alice_heard = NULL;
  g_autoptr(GArray) bob_heard = NULL;

  voice_call_start (&v, f, 440, 1000, privacy);
  g_assert_cmpint (wzp_call_get_path_kind (v.call), ==,
                   privacy ? WZP_PATH_KIND_RELAY : WZP_PATH_KIND_DIRECT_LAN);
  g_assert_null (wzp_call_get_audio_error (v.call));
  g_assert_null (wzp_call_get_audio_error (v.callee.call));

  wzp_test_spin (2000);
  stats_of (v.call, &sent);
  stats_of (v.callee.call, &received);
  assert_flowing (&sent, &received, 2);
  hang_up (v.call, &v.callee);

  alice_heard = read_wav (v.alice.heard);
  bob_heard = read_wav (v.bob.heard);
  assert_hears_tone (alice_heard, "Alice", 1000, 440);
  assert_hears_tone (bob_heard, "Bob", 440, 1000);
  voice_call_finish (&v);
}

static void
test_two_tones (Fixture       *f,
                gconstpointer  data)
{
  check_two_tones (f, FALSE);
}

/* The same through the relay's pipe. */
static void
test_relay_path (Fixture       *f,
                 gconstpointer  data)
{
  check_two_tones (f, TRUE);
}

static void
count_cb (guint *count)
{
  (*count)++;
}

/* Muted, Alice's side sends frames at the same size and rate, and Bob hears silence. */
static void
test_mute (Fixture       *f,
           gconstpointer  data)
{
  VoiceCall v;
  WzpVoiceStats before, after, received;
  g_autoptr(GArray) bob_heard = NULL;
  guint notified = 0;

  voice_call_start (&v, f, 440, 1000, FALSE);
  g_signal_connect_swapped (v.call, "notify::muted", G_CALLBACK (count_cb), &notified);
  wzp_test_spin (1000);
  wzp_call_set_muted (v.call, TRUE);
  g_assert_true (wzp_call_get_muted (v.call));
  g_assert_cmpuint (notified, ==, 1);
  stats_of (v.call, &before);
  wzp_test_spin (2000);
  stats_of (v.call, &after);
  stats_of (v.callee.call, &received);

  /* 2 s muted: still 50 frames a second, all of one size */
  g_assert_cmpuint (after.frames_sent - before.frames_sent, >=, 90);
  g_assert_cmpuint (after.bytes_sent, ==, after.frames_sent * 90);
  g_assert_cmpuint (received.frames_received, >=, after.frames_sent - 5);
  hang_up (v.call, &v.callee);

  bob_heard = read_wav (v.bob.heard);
  g_test_message ("Bob hears rms %.5f in the last muted second",
                  rms (last_second (bob_heard), RATE));
  g_assert_cmpfloat (rms (last_second (bob_heard), RATE), <, 0.002);
  voice_call_finish (&v);
}

/* A callee without audio ("none" both ways) tells the caller so: the call runs, the
 * caller sends it nothing. */
static void
test_peer_without_voice (Fixture       *f,
                         gconstpointer  data)
{
  VoiceCall v;
  WzpVoiceStats sent;

  v.f = f;
  v.dir = g_dir_make_tmp ("wzp-voice-XXXXXX", NULL);
  side_init (&v.alice, f, "Alice", v.dir, 440);
  side_init (&v.bob, f, "Bob", v.dir, 1000);
  g_object_set (v.bob.client, "audio-source", "none", "audio-sink", "none", NULL);
  v.callee = (Callee) { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE };
  v.call = voice_call (&v.alice, &v.bob, &v.callee);

  wzp_test_spin (1000);
  g_assert_cmpint (wzp_call_get_state (v.call), ==, WZP_CALL_STATE_ACTIVE);
  stats_of (v.call, &sent);
  g_assert_cmpuint (sent.frames_sent, ==, 0);
  g_assert_false (_wzp_call_voice_get_stats (v.callee.call, &sent));
  g_assert_null (wzp_call_get_audio_error (v.callee.call));
  voice_call_finish (&v);
}

/* A side whose microphone cannot be opened says why, and the call goes on: that side
 * still hears the other, which hears nothing from it. */
static void
test_device_fails (Fixture       *f,
                   gconstpointer  data)
{
  VoiceCall v;
  g_autoptr(GArray) alice_heard = NULL;
  g_autoptr(GArray) bob_heard = NULL;
  const char *why;

  v.f = f;
  v.dir = g_dir_make_tmp ("wzp-voice-XXXXXX", NULL);
  side_init (&v.alice, f, "Alice", v.dir, 440);
  side_init (&v.bob, f, "Bob", v.dir, 1000);
  /* a PulseAudio source on a server that does not exist */
  g_object_set (v.bob.client, "audio-source",
                "pulsesrc server=unix:/nonexistent/wzp-test-no-server", NULL);
  v.callee = (Callee) { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE };
  v.call = voice_call (&v.alice, &v.bob, &v.callee);

  wzp_test_spin (1000);
  g_assert_cmpint (wzp_call_get_state (v.callee.call), ==, WZP_CALL_STATE_ACTIVE);
  why = wzp_call_get_audio_error (v.callee.call);
  g_test_message ("Bob's side: %s", why);
  g_assert_nonnull (why);
  g_assert_null (wzp_call_get_audio_error (v.call));
  wzp_test_spin (1000);
  hang_up (v.call, &v.callee);
  bob_heard = read_wav (v.bob.heard);
  assert_hears_tone (bob_heard, "Bob", 440, 1000);
  alice_heard = read_wav (v.alice.heard);
  g_assert_cmpfloat (rms ((const gint16 *) alice_heard->data, alice_heard->len), <, 0.002);
  voice_call_finish (&v);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  ADD ("voice/two-tones", test_two_tones);
  ADD ("voice/relay-path", test_relay_path);
  ADD ("voice/mute", test_mute);
  ADD ("voice/peer-without-voice", test_peer_without_voice);
  ADD ("voice/device-fails", test_device_fails);

  return g_test_run ();
}
