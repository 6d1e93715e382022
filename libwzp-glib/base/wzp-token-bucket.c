/* wzp-token-bucket.c: a token bucket on the caller's clock (see wzp-token-bucket-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-token-bucket-private.h"

void
_wzp_token_bucket_init (WzpTokenBucket *self,
                        gint64          interval_us,
                        guint           burst)
{
  g_return_if_fail (interval_us > 0);
  g_return_if_fail (burst > 0);

  self->interval_us = interval_us;
  self->burst = burst;
  /* Empty since the beginning of time: full. */
  self->empty_at_us = G_MININT64;
}

/* When the bucket was empty, as far as @now_us is concerned: tokens beyond the burst are
 * not kept, so a bucket full since long ago counts as having filled just now. */
static gint64
empty_since (const WzpTokenBucket *self,
             gint64                now_us)
{
  return MAX (self->empty_at_us, now_us - (gint64) self->burst * self->interval_us);
}

gint64
_wzp_token_bucket_wait (const WzpTokenBucket *self,
                        gint64                now_us)
{
  gint64 next_token_us = empty_since (self, now_us) + self->interval_us;

  return MAX (next_token_us - now_us, 0);
}

void
_wzp_token_bucket_take (WzpTokenBucket *self,
                        gint64          now_us)
{
  /* One token later; with none there, empty now rather than in debt. */
  self->empty_at_us = MIN (empty_since (self, now_us) + self->interval_us, now_us);
}
