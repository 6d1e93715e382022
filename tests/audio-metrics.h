/* audio-metrics.h: what the voice tests and the demo measure in what a call carried:
 * WAV files, loudness, tones and how alike two recordings are. No sound card needed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The samples of a 16-bit mono WAV file (its data chunk), and its rate in @rate if not
 * NULL; an empty array when the file is not one. */
GArray *wzp_audio_read_wav     (const char   *path,
                                guint        *rate);
/* The root mean square of @n samples, full scale 1.0. */
double  wzp_audio_rms          (const gint16 *samples,
                                gsize         n);
/* The power of @freq Hz in @n samples at @rate (Goertzel); a full-scale sine gives
 * about 0.25. */
double  wzp_audio_tone_power   (const gint16 *samples,
                                gsize         n,
                                guint         rate,
                                double        freq);
/* The loudness of @samples at @rate in 10 ms steps, in dB, floored at -50 dB. */
GArray *wzp_audio_envelope     (GArray       *samples,
                                guint         rate);
/* How alike @heard is to @sent: the best correlation of their loudness envelopes over a
 * delay of up to @max_lag_ms (which goes to @lag_ms). */
double  wzp_audio_similarity   (GArray       *sent,
                                guint         sent_rate,
                                GArray       *heard,
                                guint         heard_rate,
                                guint         max_lag_ms,
                                guint        *lag_ms);

/* The times (ms from the start) where @samples at @rate become loud: where the 10 ms
 * loudness rises above @on_db after having been below @off_db. For marker clicks. */
GArray *wzp_audio_onsets       (GArray       *samples,
                                guint         rate,
                                double        on_db,
                                double        off_db);

G_END_DECLS
