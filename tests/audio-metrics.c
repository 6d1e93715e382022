/* audio-metrics.c: see audio-metrics.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "audio-metrics.h"

/* The samples of a 16-bit mono WAV file (the data chunk), and its rate in @rate if not
 * NULL; an empty array when the file is not one. */
GArray *
wzp_audio_read_wav (const char   *path,
                    guint        *rate)
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

      if (memcmp (contents + at, "fmt ", 4) == 0 && size >= 8 && at + 16 <= len && rate)
        *rate = GUINT32_FROM_LE (*(guint32 *) (contents + at + 12));
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


double
wzp_audio_rms (const gint16 *samples,
               gsize         n)
{
  double sum = 0;

  for (gsize i = 0; i < n; i++)
    sum += (samples[i] / 32768.0) * (samples[i] / 32768.0);
  return n > 0 ? sqrt (sum / n) : 0;
}

/* The loudness of @samples at @rate in 10 ms steps, in dB, floored at -50 dB: below
 * that is silence, whatever the noise floor of each side. */
GArray *
wzp_audio_envelope (GArray       *samples,
                    guint         rate)
{
  guint step = rate / 100;
  GArray *env = g_array_new (FALSE, FALSE, sizeof (double));

  for (guint i = 0; step > 0 && i + step <= samples->len; i += step)
    {
      double r = wzp_audio_rms (&g_array_index (samples, gint16, i), step);
      double db = 20 * log10 (MAX (r, 0.00316));

      g_array_append_val (env, db);
    }
  return env;
}

/* Pearson's correlation of @a with @b shifted by @lag steps, over what @a has. */
static double
correlation_at (GArray *a,
                GArray *b,
                guint   lag)
{
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  guint n = 0;

  for (guint i = 0; i < a->len && i + lag < b->len; i++, n++)
    {
      double x = g_array_index (a, double, i), y = g_array_index (b, double, i + lag);

      sa += x; sb += y; saa += x * x; sbb += y * y; sab += x * y;
    }
  if (n < 2)
    return 0;
  return (n * sab - sa * sb) / sqrt (MAX ((n * saa - sa * sa) * (n * sbb - sb * sb), 1e-12));
}

/* How alike @heard is to @sent: the best correlation of their loudness envelopes over a
 * delay of up to @max_lag_ms, and that delay. Loudness in time is what makes speech
 * intelligible and survives the codec, the noise suppressor and the gain control, which
 * all change the waveform. */
double
wzp_audio_similarity (GArray       *sent,
                      guint         sent_rate,
                      GArray       *heard,
                      guint         heard_rate,
                      guint         max_lag_ms,
                      guint        *lag_ms)
{
  g_autoptr(GArray) a = wzp_audio_envelope (sent, sent_rate);
  g_autoptr(GArray) b = wzp_audio_envelope (heard, heard_rate);
  double best = -1;

  for (guint lag = 0; lag <= max_lag_ms / 10; lag++)
    {
      double c = correlation_at (a, b, lag);

      if (c > best)
        {
          best = c;
          *lag_ms = lag * 10;
        }
    }
  return best;
}

/* Goertzel's algorithm, normalised by n² */
double
wzp_audio_tone_power (const gint16 *samples,
                      gsize          n,
                      guint          rate,
                      double         freq)
{
  double coeff = 2.0 * cos (2.0 * G_PI * freq / rate);
  double s1 = 0, s2 = 0;

  for (gsize i = 0; i < n; i++)
    {
      double s0 = samples[i] / 32768.0 + coeff * s1 - s2;

      s2 = s1;
      s1 = s0;
    }
  return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / ((double) n * n);
}



GArray *
wzp_audio_onsets (GArray *samples,
                  guint   rate,
                  double  on_db,
                  double  off_db)
{
  g_autoptr(GArray) env = wzp_audio_envelope (samples, rate);
  GArray *onsets = g_array_new (FALSE, FALSE, sizeof (guint));
  gboolean armed = TRUE;

  for (guint i = 0; i < env->len; i++)
    {
      double db = g_array_index (env, double, i);

      if (armed && db > on_db)
        {
          guint ms = i * 10;

          g_array_append_val (onsets, ms);
          armed = FALSE;
        }
      else if (db < off_db)
        armed = TRUE;
    }
  return onsets;
}
