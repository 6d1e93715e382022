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

static void
side_init (Side       *side,
           Fixture    *f,
           const char *alias,
           const char *dir,
           int         freq)
{
  g_autofree char *source = g_strdup_printf ("audiotestsrc is-live=true wave=sine freq=%d "
                                             "volume=0.5", freq);
  g_autofree char *sink = NULL;

  side->client = connected_client (f, alias);
  side->heard = g_strdup_printf ("%s/%s-heard.wav", dir, alias);
  sink = g_strdup_printf ("wavenc ! filesink location=%s", side->heard);
  g_object_set (side->client, "audio-source", source, "audio-sink", sink, NULL);
}

static void
side_clear (Side *side)
{
  disconnect_and_free (side->client);
  g_free (side->heard);
}

/* Places a call from @a to @b, which answers; both sides run voice. */
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
  g_assert_null (wzp_call_get_audio_error (call));
  g_assert_null (wzp_call_get_audio_error (callee->call));
  return call;
}

/* Each side hears the other's tone, and not its own. */
static void
test_two_tones (Fixture       *f,
                gconstpointer  data)
{
  g_autofree char *dir = g_dir_make_tmp ("wzp-voice-XXXXXX", NULL);
  Side alice, bob;
  Callee callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE };
  g_autoptr(WzpCall) call = NULL;
  WzpVoiceStats sent, received;
  g_autoptr(GArray) alice_heard = NULL;
  g_autoptr(GArray) bob_heard = NULL;

  side_init (&alice, f, "Alice", dir, 440);
  side_init (&bob, f, "Bob", dir, 1000);
  call = voice_call (&alice, &bob, &callee);

  wzp_test_spin (2000);
  g_assert_true (_wzp_call_voice_get_stats (call, &sent));
  g_assert_true (_wzp_call_voice_get_stats (callee.call, &received));
  /* 2 s at 50 frames a second, with a margin for the start */
  g_assert_cmpuint (sent.frames_sent, >=, 70);
  g_assert_cmpuint (received.frames_received, >=, 70);
  g_assert_cmpuint (received.frames_played, >=, 60);
  /* While the pipelines start, a loaded machine may deliver a first frame after its
   * time; the tones below are what a listener checks. */
  g_assert_cmpuint (received.frames_late, <=, received.frames_received / 50);
  /* CBR: every frame the same size, 32 kb/s of Opus in 20 ms is 80 bytes + 10 */
  g_assert_cmpuint (sent.bytes_sent, ==, sent.frames_sent * 90);

  wzp_call_hangup (call);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ENDED);

  alice_heard = read_wav (alice.heard);
  bob_heard = read_wav (bob.heard);
  g_test_message ("Alice heard %u samples, Bob %u", alice_heard->len, bob_heard->len);
  g_assert_cmpuint (alice_heard->len, >=, RATE);
  g_assert_cmpuint (bob_heard->len, >=, RATE);
  {
    /* the last second, well after the start */
    const gint16 *a = &g_array_index (alice_heard, gint16, alice_heard->len - RATE);
    const gint16 *b = &g_array_index (bob_heard, gint16, bob_heard->len - RATE);
    double a_1000 = tone_power (a, RATE, 1000), a_440 = tone_power (a, RATE, 440);
    double b_440 = tone_power (b, RATE, 440), b_1000 = tone_power (b, RATE, 1000);

    g_test_message ("Alice hears 1000 Hz %.5f, 440 Hz %.5f; Bob hears 440 Hz %.5f, "
                    "1000 Hz %.5f; rms %.4f / %.4f", a_1000, a_440, b_440, b_1000,
                    rms (a, RATE), rms (b, RATE));
    g_assert_cmpfloat (a_1000, >, 100 * a_440);
    g_assert_cmpfloat (b_440, >, 100 * b_1000);
    g_assert_cmpfloat (rms (a, RATE), >, 0.01);
    g_assert_cmpfloat (rms (b, RATE), >, 0.01);
  }

  callee_clear (&callee);
  side_clear (&alice);
  side_clear (&bob);
  g_unlink (alice.heard);
  g_unlink (bob.heard);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  ADD ("voice/two-tones", test_two_tones);

  return g_test_run ();
}
