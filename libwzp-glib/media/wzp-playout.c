/* wzp-playout.c: the receiver's playout buffer (see wzp-playout-private.h)
 *
 * How it works (docs/voice.md, "Playout buffer", has the reasons):
 *
 * Order. Frames are kept sorted by sequence number, extended to 64 bits against the
 * newest frame's (so it may wrap). The buffer remembers the last frame it played or
 * dropped and, in a 64-bit mask, which of the 64 before it were received: a frame at or
 * before that point is a DUPLICATE if it was received, LATE if not. A copy of a frame
 * still queued is a DUPLICATE too. So the two paths of a path switch can deliver the
 * same frames in any order: each is played once, in order.
 *
 * Time. Each frame has a media time: its timestamp, read against the newest frame's (so
 * it may wrap), in microseconds from the stream's first frame. A timestamp further from
 * where the sequence number puts it than a sender ever strays (2 s ahead, or more than
 * the largest delay behind) is a jump of the sender's clock: that frame is placed by its
 * sequence number, the timeline goes on without a break, and the timing below starts
 * again from it (a resync). Frames before the jump keep their places.
 *
 * The deadline of a frame is its media time plus an offset, on the receiver's clock. The
 * offset is set from two figures over the frames' d = arrival - media time:
 *  - base: the least d over the last 10 s, the frames that came fastest. A ring of ten
 *    one-second buckets holds the least d that arrived in each second, so adding a frame
 *    and reading the least are O(1);
 *  - the 95th percentile of d over the last 2 s of frames (a ring in arrival order and
 *    the same values kept sorted: O(n) to add, n = 100 for 20 ms frames, O(1) to read).
 * The offset wants to be that percentile, kept between base + 20 ms and base + 200 ms.
 * It rises to it at once and comes down towards it by 5 ms a second at most; when the
 * base moves the offset stays where it is unless that leaves the 20-200 ms band. The
 * target delay reported is offset - base. Late frames count too: they are how the
 * buffer learns that the delay must rise.
 *
 * Playout. From the first frame's deadline (its arrival + 20 ms) the buffer hands out one
 * unit per frame period, on a fixed grid of slots. At a slot, with p = slot - offset the
 * media time due, the first queued frame is played when p - its media time is between 0
 * and one frame; before that the slot is a GAP (concealment, or the delay growing by a
 * frame); after that the frame is dropped as late and the next one is looked at. So
 * the delay changes by whole frames: one concealed frame when it rises, one dropped
 * frame when it falls.
 *
 * Stalls. TCP does not lose a frame, it holds it back. When the next frame is due and
 * nothing is queued, the buffer waits for it: each such slot is a GAP and moves the
 * schedule a frame later (a stretch), up to the largest delay. When frames come again
 * (TCP delivers the backlog at once), they update the timing first. If the target rose
 * over the stall, the stretch is kept as that rise, and the backlog frames it covers
 * are played instead of being concealed a second time; whatever stretch the target did
 * not take is dropped at the next slot, and with it the frames that are now late. So a
 * stall costs the listener its own length in concealment, and the delay afterwards is
 * what the target says, never the length of the stall.
 *
 * Push. A frame whose time has passed on arrival (it is more than a frame behind the
 * schedule) is dropped at once as LATE, and so are the frames queued before it. One far
 * ahead of the schedule (more than 2.2 s), or with a sequence number and a timestamp that
 * both disagree with the stream, or one more than the buffer holds (1 s of frames), is
 * refused: the buffer never holds more than that, whatever arrives.
 *
 * Safety net. If frames keep being dropped as late for a whole second with none played,
 * the timing cannot be right (a sender clock that slipped back less than a jump, say):
 * it starts again from the next frame.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-playout-private.h"

#define N_BASE_BUCKETS  10
#define BASE_BUCKET_US  (WZP_PLAYOUT_BASE_WINDOW_US / N_BASE_BUCKETS)
/* Beyond this the frame is further ahead than any sender's frame can be. */
#define HORIZON_US      (WZP_PLAYOUT_JUMP_US + WZP_PLAYOUT_MAX_DELAY_US)
/* Late drops with no frame played for this long mean the timing is wrong. */
#define LOST_TIMING_US  ((gint64) G_USEC_PER_SEC)

typedef struct
{
  gint64  seq;
  gint64  media_us;
  GBytes *payload;
} Slot;

typedef struct
{
  gint64 second;  /* arrival time / BASE_BUCKET_US; G_MININT64 when empty */
  gint64 least;   /* the least d that arrived in it */
} BaseBucket;

struct _WzpPlayout
{
  unsigned        clock_rate;
  gint64          frame_us;
  gint64          frame_ticks;
  guint           capacity;        /* frames */
  guint           jitter_len;      /* frames in the jitter window */
  gint64          jump_ahead_ticks;
  gint64          jump_behind_ticks;

  gboolean        started;

  /* The last frame played or dropped; bit i of seen: frame last_seq - i was received. */
  gint64          last_seq;
  gint64          last_media_us;
  guint64         seen;

  /* The newest frame: sequence numbers and timestamps are read against its. */
  gint64          ref_seq;
  guint32         ref_timestamp;
  gint64          ref_ticks;

  Slot           *slots;           /* sorted by seq */
  guint           n_slots;

  BaseBucket      base[N_BASE_BUCKETS];
  gint64          base_us;         /* the least d of the window, at the last arrival */
  gint64         *jitter_ring;     /* d of the last jitter_len frames, in arrival order */
  gint64         *jitter_sorted;   /* the same, ascending */
  guint           jitter_n;
  guint           jitter_pos;

  gint64          offset_us;       /* deadline = media time + offset */
  gint64          lowered_at_us;   /* the offset has come down for the time until this */
  gint64          stall_us;        /* how much later the schedule moved while waiting */
  gint64          last_arrival_us;
  gint64          next_slot_us;
  gint64          late_since_us;   /* first late drop since a frame was played, or -1 */
  gboolean        timing_lost;

  WzpPlayoutStats stats;
};

static gint64
ticks_to_us (WzpPlayout *self,
             gint64      ticks)
{
  return ticks * G_USEC_PER_SEC / self->clock_rate;
}

WzpPlayout *
_wzp_playout_new (unsigned clock_rate,
                  gint64   frame_us)
{
  WzpPlayout *self;

  g_return_val_if_fail (clock_rate >= 1000 && clock_rate <= 384000, NULL);
  g_return_val_if_fail (frame_us >= 1000 && frame_us <= 120 * 1000, NULL);
  g_return_val_if_fail (clock_rate * frame_us % G_USEC_PER_SEC == 0, NULL);

  self = g_new0 (WzpPlayout, 1);
  self->clock_rate = clock_rate;
  self->frame_us = frame_us;
  self->frame_ticks = clock_rate * frame_us / G_USEC_PER_SEC;
  self->capacity = MAX (WZP_PLAYOUT_CAPACITY_US / frame_us, 1);
  self->jitter_len = MAX (WZP_PLAYOUT_JITTER_WINDOW_US / frame_us, 20);
  self->jump_ahead_ticks = WZP_PLAYOUT_JUMP_US * clock_rate / G_USEC_PER_SEC;
  self->jump_behind_ticks = WZP_PLAYOUT_MAX_DELAY_US * clock_rate / G_USEC_PER_SEC;
  self->slots = g_new0 (Slot, self->capacity);
  self->jitter_ring = g_new0 (gint64, self->jitter_len);
  self->jitter_sorted = g_new0 (gint64, self->jitter_len);
  _wzp_playout_reset (self);

  return self;
}

void
_wzp_playout_free (WzpPlayout *self)
{
  if (self == NULL)
    return;

  _wzp_playout_reset (self);
  g_free (self->slots);
  g_free (self->jitter_ring);
  g_free (self->jitter_sorted);
  g_free (self);
}

void
_wzp_playout_reset (WzpPlayout *self)
{
  g_return_if_fail (self != NULL);

  for (guint i = 0; i < self->n_slots; i++)
    g_bytes_unref (self->slots[i].payload);
  self->n_slots = 0;
  self->started = FALSE;
  self->seen = 0;
  self->jitter_n = 0;
  self->jitter_pos = 0;
  self->stall_us = 0;
  self->last_arrival_us = 0;
  self->late_since_us = -1;
  self->timing_lost = FALSE;
  /* The first frame starts at the smallest delay. */
  self->base_us = 0;
  self->offset_us = WZP_PLAYOUT_MIN_DELAY_US;
  memset (&self->stats, 0, sizeof self->stats);
}

/* The base: least d per second of arrival, over the last N_BASE_BUCKETS seconds. */

static void
base_add (WzpPlayout *self,
          gint64      d,
          gint64      arrival_us)
{
  gint64 second = arrival_us / BASE_BUCKET_US;
  BaseBucket *bucket = &self->base[second % N_BASE_BUCKETS];

  if (bucket->second != second)
    {
      bucket->second = second;
      bucket->least = d;
    }
  else
    {
      bucket->least = MIN (bucket->least, d);
    }

  self->base_us = G_MAXINT64;
  for (guint i = 0; i < N_BASE_BUCKETS; i++)
    {
      if (self->base[i].second > second - N_BASE_BUCKETS)
        self->base_us = MIN (self->base_us, self->base[i].least);
    }
}

/* The jitter window: d of the last jitter_len frames, also kept sorted. */

static guint
sorted_position (const gint64 *values,
                 guint         n,
                 gint64        value)
{
  guint lo = 0, hi = n;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (values[mid] < value)
        lo = mid + 1;
      else
        hi = mid;
    }

  return lo;
}

static void
jitter_add (WzpPlayout *self,
            gint64      d)
{
  gint64 *sorted = self->jitter_sorted;
  guint at;

  if (self->jitter_n == self->jitter_len)
    {
      /* The oldest value leaves the sorted copy (it is there: it was put there). */
      at = sorted_position (sorted, self->jitter_n, self->jitter_ring[self->jitter_pos]);
      memmove (&sorted[at], &sorted[at + 1], (self->jitter_n - at - 1) * sizeof *sorted);
      self->jitter_n--;
    }

  self->jitter_ring[self->jitter_pos] = d;
  self->jitter_pos = (self->jitter_pos + 1) % self->jitter_len;
  at = sorted_position (sorted, self->jitter_n, d);
  memmove (&sorted[at + 1], &sorted[at], (self->jitter_n - at) * sizeof *sorted);
  sorted[at] = d;
  self->jitter_n++;
}

static gint64
jitter_p95 (WzpPlayout *self)
{
  /* The smallest value that at least 95 % of the window are at or below. */
  return self->jitter_sorted[(self->jitter_n * 95 + 99) / 100 - 1];
}

/* A frame of @d arrived at @arrival_us: the offset follows. */
static void
timing_update (WzpPlayout *self,
               gint64      d,
               gint64      arrival_us)
{
  gint64 before = self->offset_us;
  gint64 lo, hi, want;

  base_add (self, d, arrival_us);
  jitter_add (self, d);
  lo = self->base_us + WZP_PLAYOUT_MIN_DELAY_US;
  hi = self->base_us + WZP_PLAYOUT_MAX_DELAY_US;
  want = CLAMP (jitter_p95 (self), lo, hi);

  if (want >= self->offset_us)
    {
      /* Up at once. */
      self->offset_us = want;
      self->lowered_at_us = arrival_us;
    }
  else
    {
      /* Down slowly: WZP_PLAYOUT_LOWER_US_PER_SEC for the time since the last step. */
      gint64 step = (arrival_us - self->lowered_at_us) * WZP_PLAYOUT_LOWER_US_PER_SEC /
                    G_USEC_PER_SEC;

      self->lowered_at_us += step * G_USEC_PER_SEC / WZP_PLAYOUT_LOWER_US_PER_SEC;
      self->offset_us = MAX (want, self->offset_us - step);
    }
  self->offset_us = CLAMP (self->offset_us, lo, hi);

  /* A rise takes up the stretch of a stall first. */
  if (self->offset_us > before)
    self->stall_us = MAX (0, self->stall_us - (self->offset_us - before));
  self->last_arrival_us = arrival_us;
}

/* The timing starts again from a frame of @d, which will play @target_us after it came. */
static void
timing_restart (WzpPlayout *self,
                gint64      d,
                gint64      arrival_us,
                gint64      target_us)
{
  for (guint i = 0; i < N_BASE_BUCKETS; i++)
    self->base[i].second = G_MININT64;
  self->jitter_n = 0;
  self->jitter_pos = 0;
  self->offset_us = d + target_us;
  self->stall_us = 0;
  self->late_since_us = -1;
  self->timing_lost = FALSE;
  base_add (self, d, arrival_us);
  jitter_add (self, d);
  self->lowered_at_us = arrival_us;
  self->last_arrival_us = arrival_us;
}

/* Where frame @seq with @timestamp sits on the stream's timeline, in ticks: where its
 * timestamp says, read against the newest frame's, unless that is further from where its
 * sequence number puts it than a sender's timestamps stray. That is a jump of the
 * sender's clock, and the sequence number says: returns FALSE. */
static gboolean
place (WzpPlayout *self,
       gint64      seq,
       guint32     timestamp,
       gint64     *ticks)
{
  gint64 predicted = (seq - self->ref_seq) * self->frame_ticks;
  gint32 off = (gint32) (timestamp - (guint32) (self->ref_timestamp + (guint64) predicted));
  gboolean jump = off > self->jump_ahead_ticks || off < -self->jump_behind_ticks;

  *ticks = self->ref_ticks + predicted + (jump ? 0 : off);

  return !jump;
}

/* Frame @seq (received) was played or dropped: the stream goes on after it. */
static void
advance (WzpPlayout *self,
         gint64      seq,
         gint64      media_us)
{
  gint64 step = seq - self->last_seq;

  self->seen = step >= 64 ? 0 : self->seen << step;
  self->seen |= 1;
  self->last_seq = seq;
  self->last_media_us = media_us;
}

static Slot
take_first (WzpPlayout *self)
{
  Slot first = self->slots[0];

  self->n_slots--;
  memmove (&self->slots[0], &self->slots[1], self->n_slots * sizeof *self->slots);
  advance (self, first.seq, first.media_us);

  return first;
}

static void
count_late (WzpPlayout *self,
            gint64      now_us)
{
  self->stats.late++;
  if (self->late_since_us < 0)
    self->late_since_us = now_us;
  else if (now_us - self->late_since_us >= LOST_TIMING_US)
    self->timing_lost = TRUE;
}

static void
drop_first (WzpPlayout *self,
            gint64      now_us)
{
  Slot first = take_first (self);

  g_bytes_unref (first.payload);
  count_late (self, now_us);
}

/* Index of @seq in the slots, or where it would go. */
static guint
slot_position (WzpPlayout *self,
               gint64      seq,
               gboolean   *found)
{
  guint lo = 0, hi = self->n_slots;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (self->slots[mid].seq < seq)
        lo = mid + 1;
      else
        hi = mid;
    }
  *found = lo < self->n_slots && self->slots[lo].seq == seq;

  return lo;
}

/* The first frame: it is at media time 0, and its deadline is the first slot. The
 * timing starts from it in _wzp_playout_push(). */
static void
start (WzpPlayout *self,
       guint32     seq,
       guint32     timestamp,
       gint64      arrival_us)
{
  self->ref_seq = seq;
  self->ref_timestamp = timestamp;
  self->ref_ticks = 0;
  self->last_seq = (gint64) seq - 1;
  self->last_media_us = -self->frame_us;
  self->seen = 0;
  self->next_slot_us = arrival_us + WZP_PLAYOUT_MIN_DELAY_US;
  self->started = TRUE;
}

/* A frame at or before the last one played or dropped. */
static WzpPlayoutPush
push_behind (WzpPlayout *self,
             gint64      seq,
             guint32     timestamp,
             gint64      arrival_us)
{
  gint64 back = self->last_seq - seq;
  gint64 ticks;

  if (back < 64 && (self->seen & (G_GUINT64_CONSTANT (1) << back)) != 0)
    {
      self->stats.duplicates++;
      return WZP_PLAYOUT_DUPLICATE;
    }

  if (back < 64)
    {
      /* Remembered, so that another copy is a duplicate; and its delay counts. */
      self->seen |= G_GUINT64_CONSTANT (1) << back;
      if (place (self, seq, timestamp, &ticks))
        timing_update (self, arrival_us - ticks_to_us (self, ticks), arrival_us);
    }
  self->stats.late++;

  return WZP_PLAYOUT_LATE;
}

WzpPlayoutPush
_wzp_playout_push (WzpPlayout *self,
                   guint32     seq,
                   guint32     timestamp,
                   GBytes     *payload,
                   gint64      arrival_us)
{
  gint64 ext_seq, ticks, media_us, d;
  gint64 restart_us = -1;  /* the target the timing starts again with, or -1 */
  gboolean found, first = FALSE;
  guint at;

  g_return_val_if_fail (self != NULL, WZP_PLAYOUT_OUT_OF_WINDOW);
  g_return_val_if_fail (payload != NULL, WZP_PLAYOUT_OUT_OF_WINDOW);
  g_return_val_if_fail (arrival_us >= 0, WZP_PLAYOUT_OUT_OF_WINDOW);

  self->stats.received++;
  if (!self->started)
    {
      start (self, seq, timestamp, arrival_us);
      first = TRUE;
      restart_us = WZP_PLAYOUT_MIN_DELAY_US;
    }
  /* The receiver's clock never goes back: a caller's that seems to is held still. */
  arrival_us = MAX (arrival_us, self->last_arrival_us);

  ext_seq = self->ref_seq + (gint32) (seq - (guint32) self->ref_seq);
  if (ext_seq <= self->last_seq)
    return push_behind (self, ext_seq, timestamp, arrival_us);

  at = slot_position (self, ext_seq, &found);
  if (found)
    {
      self->stats.duplicates++;
      return WZP_PLAYOUT_DUPLICATE;
    }

  if (!place (self, ext_seq, timestamp, &ticks) && ext_seq > self->ref_seq)
    {
      /* A jump of the sender's clock, on a frame that follows the newest: resync. The
       * network is the same, and so is the delay it needs. A sequence number far ahead
       * as well is no frame of this stream. */
      if (ext_seq - self->ref_seq > self->capacity)
        {
          self->stats.refused++;
          return WZP_PLAYOUT_OUT_OF_WINDOW;
        }
      restart_us = CLAMP (self->offset_us - self->base_us,
                          WZP_PLAYOUT_MIN_DELAY_US, WZP_PLAYOUT_MAX_DELAY_US);
    }
  else if (self->timing_lost)
    {
      /* Late drops for a second: the timing, and the delay it set, were wrong. It starts
       * again from this frame. */
      restart_us = WZP_PLAYOUT_MIN_DELAY_US;
    }
  media_us = ticks_to_us (self, ticks);

  if (self->n_slots == self->capacity ||
      (restart_us < 0 && media_us + self->offset_us + self->stall_us - arrival_us > HORIZON_US))
    {
      self->stats.refused++;
      return WZP_PLAYOUT_OUT_OF_WINDOW;
    }

  if (ext_seq > self->ref_seq)
    {
      self->ref_seq = ext_seq;
      self->ref_timestamp = timestamp;
      self->ref_ticks = ticks;
    }
  d = arrival_us - media_us;
  if (restart_us < 0)
    {
      timing_update (self, d, arrival_us);
    }
  else
    {
      timing_restart (self, d, arrival_us, restart_us);
      self->stats.resyncs += !first;
    }

  if (arrival_us - (self->offset_us + self->stall_us) - media_us > self->frame_us)
    {
      /* Its time has passed, and that of every frame queued before it. */
      while (self->n_slots > 0 && self->slots[0].seq < ext_seq)
        drop_first (self, arrival_us);
      advance (self, ext_seq, media_us);
      count_late (self, arrival_us);
      return WZP_PLAYOUT_LATE;
    }

  memmove (&self->slots[at + 1], &self->slots[at], (self->n_slots - at) * sizeof *self->slots);
  self->slots[at] = (Slot) { ext_seq, media_us, g_bytes_ref (payload) };
  self->n_slots++;

  return WZP_PLAYOUT_ACCEPTED;
}

gint64
_wzp_playout_next_deadline (WzpPlayout *self)
{
  g_return_val_if_fail (self != NULL, -1);

  return self->started ? self->next_slot_us : -1;
}

WzpPlayoutPop
_wzp_playout_pop (WzpPlayout  *self,
                  gint64       now_us,
                  GBytes     **payload)
{
  gint64 slot_us, due_us;

  g_return_val_if_fail (self != NULL, WZP_PLAYOUT_WAIT);
  g_return_val_if_fail (payload != NULL && *payload == NULL, WZP_PLAYOUT_WAIT);

  if (!self->started || now_us < self->next_slot_us)
    return WZP_PLAYOUT_WAIT;

  /* Slots missed by more than the backlog are gone: their frames will be late. */
  if (now_us - self->next_slot_us > WZP_PLAYOUT_MAX_BACKLOG_US)
    {
      gint64 missed = now_us - self->next_slot_us - WZP_PLAYOUT_MAX_BACKLOG_US;

      self->next_slot_us += (missed + self->frame_us - 1) / self->frame_us * self->frame_us;
    }
  slot_us = self->next_slot_us;
  self->next_slot_us += self->frame_us;

  /* Frames are here: a stall is over, and what the target did not take of its stretch
   * goes. */
  if (self->n_slots > 0)
    self->stall_us = 0;
  due_us = slot_us - self->offset_us - self->stall_us;

  while (self->n_slots > 0)
    {
      gint64 lag = due_us - self->slots[0].media_us;

      if (lag < 0)
        break;

      if (lag <= self->frame_us)
        {
          Slot first = take_first (self);

          *payload = first.payload;
          self->late_since_us = -1;
          self->stats.played++;
          return WZP_PLAYOUT_FRAME;
        }

      drop_first (self, now_us);
    }

  if (self->n_slots == 0 && due_us >= self->last_media_us + self->frame_us)
    {
      /* The next frame is due and not here: wait for it, a frame longer, up to the
       * largest delay. */
      gint64 room = WZP_PLAYOUT_MAX_DELAY_US - (self->offset_us - self->base_us);

      self->stall_us = MAX (MIN (self->stall_us + self->frame_us, room), self->stall_us);
    }
  self->stats.concealed++;

  return WZP_PLAYOUT_GAP;
}

void
_wzp_playout_get_stats (WzpPlayout      *self,
                        WzpPlayoutStats *stats)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (stats != NULL);

  *stats = self->stats;
  stats->target_delay_us = self->offset_us - self->base_us;
  stats->buffered = self->n_slots;
}
