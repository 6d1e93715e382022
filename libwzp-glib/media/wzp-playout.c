/* wzp-playout.c: the receiver's playout buffer (see wzp-playout-private.h)
 *
 * How it works (the reasons are in docs/voice.md, "Playout buffer"):
 *
 * Order. Frames are kept sorted by sequence number, extended to 64 bits against the
 * newest frame's (so it may wrap). The buffer remembers the last frame it played or
 * dropped and, in a 64-bit mask, which of the 64 before it were received: a frame at or
 * before that point is a DUPLICATE if it was received, LATE if not. A second copy of a
 * queued frame is a DUPLICATE too. So the two paths of a path switch may deliver the same
 * frames in any order: each is played once, in order.
 *
 * Time. A frame's media time is its timestamp, read against the newest frame's (so it
 * may wrap), from the stream's first frame. A timestamp more than 200 ms from where the
 * sequence number puts the frame is believed only if the receiver's clock agrees (the
 * frame then arrives within the largest delay of the base, below): that is a sender that
 * dropped frames through a stall, and the time it skipped has passed here too. Otherwise
 * the sender's clock jumped: the frame is placed by its sequence number, so the timeline
 * goes on without a break (a resync), and the timing goes on as it was; only if the
 * frame is late on that timeline (the jump hid an outage) does the timing start again
 * from it.
 *
 * Timing. A frame's deadline is its media time plus an offset, on the receiver's clock.
 * The offset comes from d = arrival - media time of the frames received, late ones
 * included (they are how the buffer learns that the delay must rise):
 *  - base: the least d over the last 10 s. A ring of ten one-second buckets holds the
 *    least d that arrived in each second: adding a frame and reading the least are O(1);
 *  - the 95th percentile of d over the last 2 s of frames (100 of 20 ms): a ring in
 *    arrival order and the same values kept sorted, O(n) to add and O(1) to read.
 * The offset wants to be that percentile, within base + 20 ms and base + 200 ms. It rises
 * to it at once and comes down towards it by at most 5 ms a second; when the base moves,
 * the offset stays unless that leaves the band. The target delay is offset - base. For
 * the first 20 frames after a (re)start, too few for a percentile (and perhaps the
 * backlog of a stall), the offset is the base plus the delay the timing started with,
 * raised at once to the excess over the base of any frame that came later than that.
 *
 * Playout. From the first frame's deadline the buffer hands out one unit per frame
 * period, on a fixed grid of slots, starting a quarter frame (the slack) after that
 * deadline. At a slot, with due = slot - offset, the first queued frame is played if
 * due - its media time (its lag) is from 0 to a frame and a quarter; below 0 the slot is
 * a GAP (nothing is due: the delay grows by a frame); above, the frame is dropped as late
 * and the next one is looked at. So the delay moves by whole frames, one concealed frame
 * when it rises and one dropped frame when it falls, a frame is never played before its
 * deadline, and the slack keeps timing noise from flipping a decision back and forth.
 *
 * Stalls. TCP loses no frame, it holds frames back. When the next frame is due and
 * nothing is queued, each slot is a GAP and moves the schedule a frame later (the
 * stretch), up to the largest delay: the buffer waits. When frames come again they
 * update the timing first, and a rise of the target takes up the stretch. The stall is
 * over once a queued frame is on time without the stretch (TCP delivers a backlog at
 * once, its newest frames on time): what the target did not take of the stretch goes,
 * and the frames before that one are dropped as late. Until then (frames trickling in as
 * late as the stall was: the path got slower) they play at the delay the wait grew to.
 * So a stall costs the listener its own length in concealment, and afterwards the delay
 * is what the target says.
 *
 * Push. A frame whose time has passed on arrival is dropped at once as LATE, and the
 * frames queued before it with it. A frame due more than 1 s after it arrives, one with a
 * sequence number and a timestamp that both disagree with the stream, or one more than
 * the buffer holds (1 s of frames) is refused: the buffer never holds more than that,
 * whatever arrives.
 *
 * Safety net. If frames keep being dropped as late for a whole second with none played,
 * the timing cannot be right (the path's delay rose by more than the largest delay, say):
 * it starts again from the next frame, at the smallest delay.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-playout-private.h"

#define N_BASE_BUCKETS  10
#define BASE_BUCKET_US  (WZP_PLAYOUT_BASE_WINDOW_US / N_BASE_BUCKETS)
/* A frame due this long after it arrived is no frame of this stream. */
#define HORIZON_US      WZP_PLAYOUT_CAPACITY_US
/* Below this many frames in the jitter window, its 95th percentile is its largest. */
#define WARM_UP_FRAMES  20
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
  gint64          slack_us;        /* a quarter frame: see "Playout" above */
  gint64          frame_ticks;
  guint           capacity;        /* frames */
  guint           jitter_len;      /* frames in the jitter window */
  gint64          jump_ticks;

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
  gint64          start_target_us; /* the target the timing (re)started with */
  gint64          lowered_at_us;   /* the offset has come down for the time until this */
  gint64          stall_us;        /* how much later the schedule moved while waiting */
  gint64          last_arrival_us;
  gint64          next_slot_us;
  gint64          late_since_us;   /* first late drop since a frame was played, or -1 */
  gboolean        timing_lost;

  WzpPlayoutStats stats;
};

/* In two steps, so that no product overflows however long the call. */
static gint64
ticks_to_us (WzpPlayout *self,
             gint64      ticks)
{
  return ticks / self->clock_rate * G_USEC_PER_SEC +
         ticks % self->clock_rate * G_USEC_PER_SEC / self->clock_rate;
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
  self->slack_us = frame_us / 4;
  self->frame_ticks = clock_rate * frame_us / G_USEC_PER_SEC;
  self->capacity = MAX (WZP_PLAYOUT_CAPACITY_US / frame_us, 1);
  self->jitter_len = MAX (WZP_PLAYOUT_JITTER_WINDOW_US / frame_us, 20);
  self->jump_ticks = WZP_PLAYOUT_JUMP_US * clock_rate / G_USEC_PER_SEC;
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

  if (self->jitter_n < WARM_UP_FRAMES)
    {
      /* Too few frames for a percentile (the first ones may be the backlog of a stall):
       * the target the timing started with, over the base as it comes down, raised at
       * once to the excess of any frame over the base. A backlog's frames are each the
       * least so far and raise nothing; a frame that comes late (a loaded machine at the
       * start of a call) raises the target instead of being dropped. */
      self->start_target_us = MAX (self->start_target_us, d - self->base_us);
      self->offset_us = self->base_us + self->start_target_us;
      self->lowered_at_us = arrival_us;
    }
  else if (want >= self->offset_us)
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

/* The timing starts again from a frame of @d, which plays @target_us after it came, or a
 * little later: its deadline is put the slack before a slot, so that the schedule has
 * room both ways. */
static void
timing_restart (WzpPlayout *self,
                gint64      d,
                gint64      arrival_us,
                gint64      target_us)
{
  gint64 deadline_us = arrival_us + target_us;
  gint64 slot_us = self->next_slot_us;

  if (deadline_us + self->slack_us > slot_us)
    slot_us += (deadline_us + self->slack_us - slot_us + self->frame_us - 1) / self->frame_us *
               self->frame_us;

  for (guint i = 0; i < N_BASE_BUCKETS; i++)
    self->base[i].second = G_MININT64;
  self->jitter_n = 0;
  self->jitter_pos = 0;
  self->start_target_us = target_us + (slot_us - self->slack_us - deadline_us);
  self->offset_us = d + self->start_target_us;
  self->stall_us = 0;
  self->late_since_us = -1;
  self->timing_lost = FALSE;
  base_add (self, d, arrival_us);
  jitter_add (self, d);
  self->lowered_at_us = arrival_us;
  self->last_arrival_us = arrival_us;
}

/* Where frame @seq with @timestamp, arrived at @arrival_us, sits on the stream's
 * timeline, in ticks: where its timestamp says, read against the newest frame's, if that
 * is near where its sequence number puts it (a sender's timestamps stray a little, and
 * jump by what it dropped) or if the receiver's clock agrees (the frame then arrived
 * within the largest delay of the base: the jump is time that passed at both ends, the
 * sender dropping what it could not send through a stall). Otherwise the sender's clock
 * jumped, and the sequence number says: returns FALSE. */
static gboolean
place (WzpPlayout *self,
       gint64      seq,
       guint32     timestamp,
       gint64      arrival_us,
       gint64     *ticks)
{
  gint64 step = (seq - self->ref_seq) * self->frame_ticks;
  gint64 by_seq = self->ref_ticks + step;
  gint32 off = (gint32) (timestamp - (guint32) (self->ref_timestamp + (guint64) step));
  gint64 d = arrival_us - ticks_to_us (self, by_seq + off);

  if (ABS ((gint64) off) <= self->jump_ticks ||
      ABS (d - self->base_us) <= WZP_PLAYOUT_MAX_DELAY_US)
    {
      *ticks = by_seq + off;
      return TRUE;
    }

  *ticks = by_seq;
  return FALSE;
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
  self->next_slot_us = arrival_us + WZP_PLAYOUT_MIN_DELAY_US + self->slack_us;
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
      if (place (self, seq, timestamp, arrival_us, &ticks))
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
  gboolean found, first = FALSE, jump = FALSE;
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

  if (!place (self, ext_seq, timestamp, arrival_us, &ticks) && ext_seq > self->ref_seq)
    {
      /* A jump of the sender's clock, on a frame that follows the newest: the frame is
       * placed by its sequence number, and the timeline goes on. A sequence number far
       * ahead as well is no frame of this stream. */
      if (ext_seq - self->ref_seq > self->capacity)
        {
          self->stats.refused++;
          return WZP_PLAYOUT_OUT_OF_WINDOW;
        }
      jump = TRUE;
    }
  else if (self->timing_lost)
    {
      /* Late drops for a second: the timing, and the delay it set, were wrong. It starts
       * again from this frame. */
      restart_us = WZP_PLAYOUT_MIN_DELAY_US;
    }
  media_us = ticks_to_us (self, ticks);
  d = arrival_us - media_us;

  if (self->n_slots == self->capacity ||
      (restart_us < 0 && !jump &&
       media_us + self->offset_us + self->stall_us - arrival_us > HORIZON_US))
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
  /* A jump that leaves the frame late on the timeline came with an outage as well (a
   * sender that started its clock again after one): the timing starts again from it, at
   * the same delay. */
  if (jump && arrival_us - (self->offset_us + self->stall_us) - media_us >
              self->frame_us + self->slack_us)
    restart_us = CLAMP (self->offset_us - self->base_us,
                        WZP_PLAYOUT_MIN_DELAY_US, WZP_PLAYOUT_MAX_DELAY_US);
  if (restart_us < 0)
    timing_update (self, d, arrival_us);
  else
    timing_restart (self, d, arrival_us, restart_us);
  if (!first && (jump || restart_us >= 0))
    self->stats.resyncs++;

  if (arrival_us - (self->offset_us + self->stall_us) - media_us >
      self->frame_us + self->slack_us)
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

/* A stall is over once a queued frame is on time without its stretch (the newest frames
 * of a backlog that TCP delivered at once are): what the target did not take of the
 * stretch then goes, and the frames before that one are late. Until then (frames trickle
 * in as late as the stall was: the path got slower) they play at the delay it grew to. */
static gboolean
stall_over (WzpPlayout *self,
            gint64      due_us)
{
  for (guint i = 0; i < self->n_slots; i++)
    {
      gint64 lag = due_us - self->slots[i].media_us;

      if (lag < 0)
        return FALSE;
      if (lag <= self->frame_us + self->slack_us)
        return TRUE;
    }

  return FALSE;
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

  if (self->stall_us > 0 && stall_over (self, slot_us - self->offset_us))
    self->stall_us = 0;
  due_us = slot_us - self->offset_us - self->stall_us;

  while (self->n_slots > 0)
    {
      gint64 lag = due_us - self->slots[0].media_us;

      if (lag < 0)
        break;

      if (lag <= self->frame_us + self->slack_us)
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
