/* wzp-audio-compare.c: how much of a recording arrived, and how alike it is
 *
 * Usage: wzp-audio-compare SAID.wav HEARD.wav
 *
 * Prints the seconds said and heard and the similarity of their loudness envelopes
 * (tests/audio-metrics.h), the figure the voice tests assert; ./run.sh's demo call shows
 * it. Exits 1 when a file is not a 16-bit mono WAV file.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>

#include "audio-metrics.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GArray) said = NULL;
  g_autoptr(GArray) heard = NULL;
  guint said_rate = 0, heard_rate = 0, lag_ms = 0;
  double alike;

  if (argc != 3)
    {
      fprintf (stderr, "usage: %s SAID.wav HEARD.wav\n", argv[0]);
      return 2;
    }
  said = wzp_audio_read_wav (argv[1], &said_rate);
  heard = wzp_audio_read_wav (argv[2], &heard_rate);
  if (said->len == 0 || said_rate == 0)
    {
      fprintf (stderr, "%s: not a 16-bit mono WAV file with sound in it\n", argv[1]);
      return 1;
    }
  if (heard_rate == 0)
    {
      fprintf (stderr, "%s: not a 16-bit mono WAV file\n", argv[2]);
      return 1;
    }
  alike = wzp_audio_similarity (said, said_rate, heard, heard_rate, 1500, &lag_ms);
  printf ("said %.2f s, heard %.2f s; loudness alike at %.2f (1 is identical), %u ms apart\n",
          said->len / (double) said_rate, heard->len / (double) heard_rate, alike, lag_ms);
  return 0;
}
