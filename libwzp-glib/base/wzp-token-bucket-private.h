/* wzp-token-bucket-private.h: a token bucket on the caller's clock
 *
 * Tokens come one per @interval_us, and the bucket holds at most @burst of them. Whatever
 * it paces sends when a token is there and takes it; otherwise it waits for the next one.
 * After a quiet spell of @burst intervals, @burst sends go at once; sustained, one per
 * interval.
 *
 * A send that cannot wait (_wzp_token_bucket_take() with no token there) empties the
 * bucket instead of borrowing from the future: the next token is then one interval away,
 * never more. So nothing paced by a bucket ever waits longer than one interval.
 *
 * The bucket keeps no clock: every call takes the time (monotonic, in microseconds), so
 * tests drive it with a clock of their own (tests/test-token-bucket.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint64 interval_us;   /* one token per interval */
  guint  burst;         /* the most tokens held */
  /* When the bucket was empty: it holds (now - empty_at_us) / interval_us tokens, at most
   * burst. */
  gint64 empty_at_us;
} WzpTokenBucket;

/* A full bucket. */
void    _wzp_token_bucket_init (WzpTokenBucket       *self,
                                gint64                interval_us,
                                guint                 burst);
/* 0 when a token is there at @now_us, else how long until one is (at most an interval). */
gint64  _wzp_token_bucket_wait (const WzpTokenBucket *self,
                                gint64                now_us);
/* Takes a token at @now_us; with none there, empties the bucket. */
void    _wzp_token_bucket_take (WzpTokenBucket       *self,
                                gint64                now_us);

G_END_DECLS
