/* test-playout.c: the receiver's playout buffer, on a fake clock
 *
 * Each test plays a stream of 20 ms Opus frames through a WzpPlayout as a network would
 * deliver them (latency, jitter, TCP's in-order delivery, stalls, two paths) and pops at
 * every deadline, as the voice code's timer would. The assertions are about what a
 * listener notices: which frames are heard, in what order, how much is concealed, how
 * late the audio is. No test reads a clock or sleeps; jitter comes from a seeded GRand.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "test-util.h"
#include "wzp-playout-private.h"

#define MS          1000
#define SEC         G_USEC_PER_SEC
#define RATE        48000
#define FRAME_US    (20 * MS)
#define TICKS       960
/* Any start: the buffer only compares times. */
#define T0          ((gint64) 1000 * SEC)
#define SEQ0        1000u
#define TS0         123456u
/* The playout grid: a frame is heard from its deadline (media time + base + target) to
 * a frame and a quarter after it. */
#define GRID_US     (FRAME_US + FRAME_US / 4)

typedef struct
{
  guint32 seq;
  guint32 timestamp;
  gint64  arrival_us;
  guint   order;      /* keeps frames that arrive at the same time in their order */
} Arrival;

/* What the listener got: each FRAME (its seq and when) and each GAP (when). */
typedef struct
{
  WzpPlayout *po;
  GArray     *arrivals;  /* of Arrival, sorted by arrival time before sim_run() */
  guint       next;
  GArray     *played;    /* of guint32 seq */
  GArray     *played_us; /* of gint64 */
  GArray     *gaps_us;   /* of gint64 */
  gint64      paused_until_us;  /* the caller does not pop before this */
  guint       most_at_once;     /* the most units one wake-up popped */
} Sim;

static Sim *
sim_new (void)
{
  Sim *sim = g_new0 (Sim, 1);

  sim->po = _wzp_playout_new (RATE, FRAME_US);
  sim->arrivals = g_array_new (FALSE, FALSE, sizeof (Arrival));
  sim->played = g_array_new (FALSE, FALSE, sizeof (guint32));
  sim->played_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  sim->gaps_us = g_array_new (FALSE, FALSE, sizeof (gint64));

  return sim;
}

static void
sim_free (Sim *sim)
{
  _wzp_playout_free (sim->po);
  g_array_unref (sim->arrivals);
  g_array_unref (sim->played);
  g_array_unref (sim->played_us);
  g_array_unref (sim->gaps_us);
  g_free (sim);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Sim, sim_free)

static void
sim_add (Sim     *sim,
         guint32  seq,
         guint32  timestamp,
         gint64   arrival_us)
{
  Arrival a = { seq, timestamp, arrival_us, sim->arrivals->len };

  g_array_append_val (sim->arrivals, a);
}

/* Frame @i of the stream: seq SEQ0 + i, timestamp TS0 + i frames. */
static void
sim_add_frame (Sim    *sim,
               guint   i,
               gint64  arrival_us)
{
  sim_add (sim, SEQ0 + i, TS0 + i * TICKS, arrival_us);
}

/* When frame @i was sent (captured, encoded and written at once). */
static gint64
sent_at (guint i)
{
  return T0 + (gint64) i * FRAME_US;
}

static int
arrival_cmp (gconstpointer a,
             gconstpointer b)
{
  const Arrival *x = a, *y = b;

  if (x->arrival_us != y->arrival_us)
    return x->arrival_us < y->arrival_us ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

/* Sorts the arrivals not pushed yet; all must be after the ones already pushed. */
static void
sim_sort (Sim *sim)
{
  guint n = sim->arrivals->len - sim->next;

  if (n > 0)
    qsort (&g_array_index (sim->arrivals, Arrival, sim->next), n, sizeof (Arrival),
           arrival_cmp);
}

/* Frame @seq (its payload says @seq) arrives at @arrival_us. */
static WzpPlayoutPush
sim_push (Sim     *sim,
          guint32  seq,
          guint32  timestamp,
          gint64   arrival_us)
{
  g_autoptr(GBytes) payload = wzp_test_numbered_bytes (seq);
  return _wzp_playout_push (sim->po, seq, timestamp, payload, arrival_us);
}

static void
sim_pop_all (Sim    *sim,
             gint64  now_us)
{
  WzpPlayoutPop result;
  GBytes *payload = NULL;
  guint units = 0;

  while ((result = _wzp_playout_pop (sim->po, now_us, &payload)) != WZP_PLAYOUT_WAIT)
    {
      units++;
      if (result == WZP_PLAYOUT_FRAME)
        {
          guint32 seq = wzp_test_bytes_number (payload);

          g_array_append_val (sim->played, seq);
          g_array_append_val (sim->played_us, now_us);
          g_clear_pointer (&payload, g_bytes_unref);
        }
      else
        {
          g_assert_cmpint (result, ==, WZP_PLAYOUT_GAP);
          g_assert_null (payload);
          g_array_append_val (sim->gaps_us, now_us);
        }
    }
  sim->most_at_once = MAX (sim->most_at_once, units);
}

/* Runs the network and the caller's timer up to @until_us: each frame is pushed when it
 * arrives, and the buffer is popped at every deadline (after the frames that arrive at
 * that very time). */
static void
sim_run (Sim    *sim,
         gint64  until_us)
{
  sim_sort (sim);

  for (;;)
    {
      const Arrival *a = NULL;
      gint64 push_us = G_MAXINT64, pop_us = _wzp_playout_next_deadline (sim->po);

      if (sim->next < sim->arrivals->len)
        {
          a = &g_array_index (sim->arrivals, Arrival, sim->next);
          push_us = a->arrival_us;
        }
      if (pop_us < 0)
        pop_us = G_MAXINT64;
      pop_us = MAX (pop_us, sim->paused_until_us);

      if (MIN (push_us, pop_us) > until_us)
        break;

      if (push_us <= pop_us)
        {
          sim_push (sim, a->seq, a->timestamp, a->arrival_us);
          sim->next++;
        }
      else
        {
          sim_pop_all (sim, pop_us);
        }
    }
}

static WzpPlayoutStats
sim_stats (Sim *sim)
{
  WzpPlayoutStats stats;

  _wzp_playout_get_stats (sim->po, &stats);
  /* Every frame received is in exactly one place. */
  g_assert_cmpuint (stats.received, ==, stats.played + stats.late + stats.duplicates +
                    stats.refused + stats.buffered);
  g_assert_cmpuint (stats.played, ==, sim->played->len);
  g_assert_cmpuint (stats.concealed, ==, sim->gaps_us->len);
  g_assert_cmpuint (stats.buffered, <=, WZP_PLAYOUT_CAPACITY_US / FRAME_US);
  g_assert_cmpint (stats.target_delay_us, >=, WZP_PLAYOUT_MIN_DELAY_US);
  g_assert_cmpint (stats.target_delay_us, <=, WZP_PLAYOUT_MAX_DELAY_US);

  return stats;
}

static gint64
sim_target (Sim *sim)
{
  return sim_stats (sim).target_delay_us;
}

/* Gaps heard from @from_us up to (not including) @to_us. */
static guint
gaps_between (Sim    *sim,
              gint64  from_us,
              gint64  to_us)
{
  guint n = 0;

  for (guint i = 0; i < sim->gaps_us->len; i++)
    {
      gint64 t = g_array_index (sim->gaps_us, gint64, i);

      n += t >= from_us && t < to_us;
    }

  return n;
}

/* Gaps heard before the last frame heard (after it, the stream has ended). */
static guint
gaps_while_playing (Sim *sim)
{
  g_assert_cmpuint (sim->played->len, >, 0);

  return gaps_between (sim, 0, g_array_index (sim->played_us, gint64, sim->played->len - 1));
}

/* The frames were heard in stream order, none twice. */
static void
assert_in_order (Sim *sim)
{
  for (guint i = 1; i < sim->played->len; i++)
    {
      guint32 prev = g_array_index (sim->played, guint32, i - 1);
      guint32 seq = g_array_index (sim->played, guint32, i);

      g_assert_cmpint ((gint32) (seq - prev), >, 0);
    }
}

/* Frames 0 to @n - 1 were all heard, in order. */
static void
assert_all_played (Sim   *sim,
                   guint  n)
{
  g_assert_cmpuint (sim->played->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (g_array_index (sim->played, guint32, i), ==, SEQ0 + i);
}

/* How late frame @seq was heard after it was sent, or -1 if it was not heard. */
static gint64
heard_after (Sim     *sim,
             guint32  seq)
{
  for (guint i = 0; i < sim->played->len; i++)
    {
      if (g_array_index (sim->played, guint32, i) == seq)
        return g_array_index (sim->played_us, gint64, i) - sent_at (seq - SEQ0);
    }

  return -1;
}

/* Frames @first to @last - 1 were all heard at most @most_us after they were sent. */
static void
assert_heard_within (Sim    *sim,
                     guint   first,
                     guint   last,
                     gint64  most_us)
{
  for (guint i = first; i < last; i++)
    {
      gint64 delay = heard_after (sim, SEQ0 + i);

      g_assert_cmpint (delay, >=, 0);
      g_assert_cmpint (delay, <=, most_us);
    }
}

/* One path: each frame takes @latency_us plus up to @jitter_us, and TCP never delivers a
 * frame before the one sent before it. Returns when the last frame arrives. */
static gint64
add_path (Sim    *sim,
          GRand  *rand,
          guint   first,
          guint   n,
          gint64  latency_us,
          gint64  jitter_us,
          gint64  after_us)
{
  gint64 last = after_us;

  for (guint i = first; i < first + n; i++)
    {
      gint64 t = sent_at (i) + latency_us;

      if (jitter_us > 0)
        t += g_rand_int_range (rand, 0, jitter_us);
      last = MAX (t, last);
      sim_add_frame (sim, i, last);
    }

  return last;
}

/* A clean stream with jitter: every frame is heard, in order, nothing concealed, at the
 * smallest delay. */
static void
test_clean (void)
{
  g_autoptr(Sim) sim = sim_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (1);
  guint n = 1000;
  gint64 end_us;
  WzpPlayoutStats stats;

  end_us = add_path (sim, rand, 0, n, 40 * MS, 15 * MS, 0);
  sim_run (sim, end_us + SEC);

  assert_all_played (sim, n);
  g_assert_cmpuint (gaps_while_playing (sim), ==, 0);
  stats = sim_stats (sim);
  g_assert_cmpuint (stats.late, ==, 0);
  g_assert_cmpuint (stats.duplicates, ==, 0);
  g_assert_cmpuint (stats.resyncs, ==, 0);
  g_assert_cmpint (stats.target_delay_us, ==, WZP_PLAYOUT_MIN_DELAY_US);

  /* Heard 40 ms (the path) + 20 ms (the target) after it was sent, plus at most the
   * first frame's jitter and the playout grid; never sooner. */
  assert_heard_within (sim, 0, n, 60 * MS + 15 * MS + GRID_US);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (heard_after (sim, SEQ0 + i), >=, 60 * MS);
}

/* A loaded machine at the start of a call: frame 5 comes 70 ms late, the three behind it
 * with it (TCP keeps them in order). Before the buffer has frames enough for a percentile,
 * the target rises at once to take them: they are heard, in order, and the target then
 * comes down again. */
static void
test_late_at_start (void)
{
  g_autoptr(Sim) sim = sim_new ();
  guint n = 1000;
  WzpPlayoutStats stats;

  for (guint i = 0; i < n; i++)
    {
      gint64 arrival = sent_at (i) + 40 * MS;

      if (i >= 5 && i <= 8)
        arrival = sent_at (5) + 40 * MS + 70 * MS;
      sim_add_frame (sim, i, arrival);
    }
  sim_run (sim, sent_at (n) + SEC);

  /* The late frames and those around them are heard... */
  for (guint i = 0; i < 40; i++)
    g_assert_cmpint (heard_after (sim, SEQ0 + i), >, 0);
  assert_in_order (sim);
  stats = sim_stats (sim);
  g_assert_cmpuint (stats.resyncs, ==, 0);
  /* ...the target rose for them (a frame concealed per frame period it rose)... */
  g_assert_cmpuint (gaps_while_playing (sim), >=, 1);
  g_assert_cmpuint (gaps_while_playing (sim), <=, 4);
  /* ...and came down to the smallest delay in the 20 s that followed, dropping a frame
   * per frame period it came down (the 70 ms less the 20 ms it started with). */
  g_assert_cmpint (stats.target_delay_us, ==, WZP_PLAYOUT_MIN_DELAY_US);
  g_assert_cmpuint (stats.late, <=, 3);
  g_assert_cmpuint (sim->played->len, ==, n - stats.late);
}

/* The first frame starts the stream; reset starts another. */
static void
test_start_and_reset (void)
{
  g_autoptr(WzpPlayout) po = _wzp_playout_new (RATE, FRAME_US);
  g_autoptr(GBytes) a = wzp_test_numbered_bytes (7);
  g_autoptr(GBytes) b = wzp_test_numbered_bytes (8);
  GBytes *payload = NULL;
  WzpPlayoutStats stats;

  g_assert_cmpint (_wzp_playout_next_deadline (po), ==, -1);
  g_assert_cmpint (_wzp_playout_pop (po, T0, &payload), ==, WZP_PLAYOUT_WAIT);

  g_assert_cmpint (_wzp_playout_push (po, 7, 0, a, T0), ==, WZP_PLAYOUT_ACCEPTED);
  /* Its deadline, and the grid's first slot a quarter frame later. */
  g_assert_cmpint (_wzp_playout_next_deadline (po), ==, T0 + 25 * MS);
  g_assert_cmpint (_wzp_playout_pop (po, T0 + 24 * MS, &payload), ==, WZP_PLAYOUT_WAIT);
  g_assert_cmpint (_wzp_playout_pop (po, T0 + 25 * MS, &payload), ==, WZP_PLAYOUT_FRAME);
  g_assert_cmpuint (wzp_test_bytes_number (payload), ==, 7);
  g_clear_pointer (&payload, g_bytes_unref);
  g_assert_cmpint (_wzp_playout_pop (po, T0 + 25 * MS, &payload), ==, WZP_PLAYOUT_WAIT);
  g_assert_cmpint (_wzp_playout_next_deadline (po), ==, T0 + 45 * MS);

  /* A copy of what was played, then nothing arrives: the next period is concealed. */
  g_assert_cmpint (_wzp_playout_push (po, 7, 0, a, T0 + 30 * MS), ==,
                   WZP_PLAYOUT_DUPLICATE);
  g_assert_cmpint (_wzp_playout_pop (po, T0 + 45 * MS, &payload), ==, WZP_PLAYOUT_GAP);

  _wzp_playout_reset (po);
  _wzp_playout_get_stats (po, &stats);
  g_assert_cmpuint (stats.received, ==, 0);
  g_assert_cmpuint (stats.played, ==, 0);
  g_assert_cmpint (_wzp_playout_next_deadline (po), ==, -1);

  /* Another stream, with other numbers, starts afresh. */
  g_assert_cmpint (_wzp_playout_push (po, 900000, 5000000, b, T0 + 5 * SEC), ==,
                   WZP_PLAYOUT_ACCEPTED);
  g_assert_cmpint (_wzp_playout_pop (po, T0 + 5 * SEC + 25 * MS, &payload), ==,
                   WZP_PLAYOUT_FRAME);
  g_assert_cmpuint (wzp_test_bytes_number (payload), ==, 8);
  g_clear_pointer (&payload, g_bytes_unref);
}

/* With 2 ms of jitter the base (the fastest frame of the last 10 s) moves by up to 2 ms,
 * and the target (offset - base) with it: how much the target may come down in a second
 * (its rate, and that), and how much it may seem to go up while coming down. */
#define SLOW_US  (WZP_PLAYOUT_LOWER_US_PER_SEC + 3 * MS)
#define NOISE_US (3 * MS)

/* The path stalls for 300 ms (a TCP retransmission), then delivers what it held at once:
 * the stall is concealed, frames that come after their time are dropped, and then the
 * delay that rose to absorb the next stall comes back down, slowly. */
static void
test_stall (void)
{
  g_autoptr(Sim) sim = sim_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (2);
  gint64 stall_from = sent_at (500) + 40 * MS, stall_to = stall_from + 300 * MS;
  gint64 after = stall_to + 200 * MS;
  guint n = 4000;  /* 80 s */
  gint64 last_us = 0, prev;
  WzpPlayoutStats stats;
  guint64 before, late;

  for (guint i = 0; i < n; i++)
    {
      gint64 t = sent_at (i) + 40 * MS + g_rand_int_range (rand, 0, 2 * MS);

      if (t >= stall_from && t < stall_to)
        t = stall_to;
      last_us = MAX (t, last_us);
      sim_add_frame (sim, i, last_us);
    }

  sim_run (sim, stall_from);
  g_assert_cmpint (sim_target (sim), ==, WZP_PLAYOUT_MIN_DELAY_US);
  before = sim_stats (sim).played;

  /* The stall: 300 ms concealed, while the buffer waits and the delay grows; then the
   * backlog comes. */
  sim_run (sim, after);
  g_assert_cmpuint (gaps_between (sim, stall_from, after), >=, 14);
  g_assert_cmpuint (gaps_between (sim, stall_from, after), <=, 16);
  stats = sim_stats (sim);
  /* The oldest frames of the backlog came after their time: dropped, never heard. */
  g_assert_cmpuint (stats.late, >=, 3);
  g_assert_cmpuint (stats.late, <=, 15);
  g_assert_cmpuint (stats.played + stats.late + stats.buffered, >=, before + 15);
  /* The target rose at once, to absorb the next stall like it. */
  prev = stats.target_delay_us;
  g_assert_cmpint (prev, >=, 150 * MS);
  late = stats.late;

  /* It comes down slowly: no faster than 5 ms a second, still high after a second (the
   * stall is in the jitter window for 2 s), at the bottom within a minute. */
  for (int s = 1; s <= 60; s++)
    {
      gint64 now;

      sim_run (sim, stall_to + s * SEC);
      now = sim_target (sim);
      g_assert_cmpint (now, <=, prev + NOISE_US);
      g_assert_cmpint (prev - now, <=, SLOW_US);
      if (s == 1)
        g_assert_cmpint (now, >=, 150 * MS);
      prev = now;
    }
  g_assert_cmpint (prev, <=, 25 * MS);

  /* Nothing concealed after the stall: the rise took the concealment already heard, and
   * coming down skipped a frame now and then. The listener is back at a low delay. */
  sim_run (sim, sent_at (n) - SEC);
  g_assert_cmpuint (gaps_between (sim, after, sent_at (n) - SEC), ==, 0);
  g_assert_cmpuint (sim_stats (sim).late - late, <=, 10);
  g_assert_cmpint (heard_after (sim, SEQ0 + 600), >=, 40 * MS + 150 * MS);
  g_assert_cmpint (heard_after (sim, SEQ0 + n - 100), <=, 40 * MS + 25 * MS + GRID_US + 2 * MS);
  assert_in_order (sim);
}

/* A stall of @stall_us during which the sender's queue dropped what it could not send.
 * The timestamps jump by as much as the stall; the sequence numbers too if the sender
 * numbered the frames as it made them (@numbered_when_made), not when it wrote them. The
 * newest frames are on time, and are heard at once at the usual delay: the jump is time
 * the listener already spent in concealment (not a jump of the sender's clock). */
static void
check_sender_dropped (gint64   stall_us,
                      gboolean numbered_when_made)
{
  g_autoptr(Sim) sim = sim_new ();
  gint64 stall_from = sent_at (500) + 40 * MS, stall_to = stall_from + stall_us;
  guint n = 500 + stall_us / FRAME_US + 500;
  guint32 seq = SEQ0;
  g_autofree gint64 *sent_us = g_new0 (gint64, n);
  guint64 delivered = 0;
  guint stall_gaps = stall_us / FRAME_US;
  WzpPlayoutStats stats;

  for (guint i = 0; i < n; i++)
    {
      gint64 t = sent_at (i) + 40 * MS;

      if (t >= stall_from && t < stall_to)
        {
          /* The sender kept the newest 80 ms (4 frames) of the stall. */
          if (t < stall_to - 80 * MS)
            {
              seq += numbered_when_made;
              continue;
            }
          t = stall_to;
        }
      sent_us[seq - SEQ0] = sent_at (i);
      sim_add (sim, seq++, TS0 + i * TICKS, t);
      delivered++;
    }

  sim_run (sim, sent_at (n) + SEC);
  stats = sim_stats (sim);
  /* Of the 80 ms kept, what is older than the receiver's 20 ms came too late. */
  g_assert_cmpuint (stats.late, <=, 3);
  g_assert_cmpuint (stats.played + stats.late, ==, delivered);
  g_assert_cmpuint (stats.resyncs, ==, 0);
  g_assert_cmpuint (gaps_between (sim, stall_from, stall_to + 200 * MS), >=, stall_gaps - 1);
  g_assert_cmpuint (gaps_between (sim, stall_from, stall_to + 200 * MS), <=, stall_gaps + 1);
  g_assert_cmpuint (gaps_between (sim, stall_to + 200 * MS, sent_at (n)), ==, 0);
  assert_in_order (sim);
  for (guint k = 0; k < sim->played->len; k++)
    {
      guint32 played_seq = g_array_index (sim->played, guint32, k);
      gint64 heard = g_array_index (sim->played_us, gint64, k);

      g_assert_cmpint (heard - sent_us[played_seq - SEQ0], <=, 40 * MS + 20 * MS + GRID_US);
    }
}

static void
test_stall_sender_dropped (void)
{
  check_sender_dropped (300 * MS, FALSE);
  check_sender_dropped (3 * SEC, FALSE);
  check_sender_dropped (300 * MS, TRUE);
  check_sender_dropped (3 * SEC, TRUE);
}

/* A path switch: for 2 s the peer's frames come on both paths, then only on the new one.
 * Each frame is heard once at most, in order, nothing concealed. */
static void
check_switch (gint64 old_latency_us,
              gint64 new_latency_us)
{
  g_autoptr(Sim) sim = sim_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);
  guint n = 600;
  WzpPlayoutStats stats;

  add_path (sim, rand, 0, 200, old_latency_us, 5 * MS, 0);
  add_path (sim, rand, 100, 500, new_latency_us, 5 * MS, 0);
  sim_run (sim, sent_at (n) + SEC);

  assert_in_order (sim);
  g_assert_cmpuint (gaps_while_playing (sim), ==, 0);
  stats = sim_stats (sim);
  g_assert_cmpuint (stats.duplicates, ==, 100);
  if (new_latency_us > old_latency_us)
    {
      /* A slower path: its frames are within the delay. */
      assert_all_played (sim, n);
      g_assert_cmpuint (stats.late, ==, 0);
    }
  else
    {
      /* A faster one: the delay comes down to it, a frame skipped now and then. */
      g_assert_cmpuint (stats.late, <=, 2);
      g_assert_cmpuint (stats.played + stats.late, ==, n);
      g_assert_cmpint (heard_after (sim, SEQ0 + n - 1), <=,
                       new_latency_us + 25 * MS + GRID_US + 5 * MS);
    }
}

static void
test_duplicates (void)
{
  check_switch (25 * MS, 40 * MS);
  /* The new path's frames overtake the old one's. */
  check_switch (60 * MS, 25 * MS);
}

/* The new path is 100 ms slower and the old one stops at once: the listener hears 100 ms
 * concealed while the buffer waits, then every frame, at the delay grown by that much. */
static void
test_slower_path (void)
{
  g_autoptr(Sim) sim = sim_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (10);
  guint n = 1000;
  gint64 t;

  t = add_path (sim, rand, 0, 300, 20 * MS, 3 * MS, 0);
  add_path (sim, rand, 300, n - 300, 120 * MS, 3 * MS, t);
  sim_run (sim, sent_at (n) + SEC);

  assert_all_played (sim, n);
  g_assert_cmpuint (gaps_while_playing (sim), ==, 100 * MS / FRAME_US);
  g_assert_cmpuint (sim_stats (sim).late, ==, 0);
  g_assert_cmpint (heard_after (sim, SEQ0 + n - 1), <=, 120 * MS + 20 * MS + 3 * MS + GRID_US);
}

/* Frames that overtake each other within the delay (two paths interleaved) are heard in
 * order, with nothing concealed. */
static void
test_reorder (void)
{
  g_autoptr(Sim) sim = sim_new ();
  guint n = 1000;
  WzpPlayoutStats stats;
  guint heard = 0;

  /* 3 s of a path where one frame in ten is 30 ms late, so the target goes up to that... */
  for (guint i = 0; i < 150; i++)
    sim_add_frame (sim, i, sent_at (i) + 40 * MS + (i % 10 == 5 ? 30 * MS : 0));
  sim_run (sim, sent_at (150));
  stats = sim_stats (sim);
  g_assert_cmpint (stats.target_delay_us, >=, 30 * MS);

  /* ...then every second frame is that late, and the next one overtakes it. */
  for (guint i = 150; i < n; i++)
    sim_add_frame (sim, i, sent_at (i) + 40 * MS + (i % 2 == 0 ? 30 * MS : 0));
  sim_run (sim, sent_at (n) + SEC);

  assert_in_order (sim);
  for (guint i = 0; i < sim->played->len; i++)
    heard += g_array_index (sim->played, guint32, i) >= SEQ0 + 150;
  g_assert_cmpuint (heard, ==, n - 150);
  g_assert_cmpuint (gaps_between (sim, sent_at (150), g_array_index (sim->played_us, gint64,
                                                                     sim->played->len - 1)),
                    ==, 0);
  g_assert_cmpuint (sim_stats (sim).late, ==, stats.late);
}

/* Sequence numbers and timestamps wrap around 2^32 mid-stream without a glitch. */
static void
test_wrap (void)
{
  g_autoptr(Sim) sim = sim_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (4);
  guint32 seq0 = G_MAXUINT32 - 99;                /* wraps at frame 100 */
  guint32 ts0 = G_MAXUINT32 - 30 * TICKS + 1;     /* wraps at frame 30 */
  guint n = 300;
  gint64 last = 0;
  WzpPlayoutStats stats;

  for (guint i = 0; i < n; i++)
    {
      last = MAX (last, sent_at (i) + 30 * MS + g_rand_int_range (rand, 0, 5 * MS));
      sim_add (sim, seq0 + i, ts0 + i * TICKS, last);
    }
  sim_run (sim, sent_at (n) + SEC);

  g_assert_cmpuint (sim->played->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (g_array_index (sim->played, guint32, i), ==, (guint32) (seq0 + i));
  g_assert_cmpuint (gaps_while_playing (sim), ==, 0);
  stats = sim_stats (sim);
  g_assert_cmpuint (stats.late, ==, 0);
  g_assert_cmpuint (stats.resyncs, ==, 0);
  g_assert_cmpint (stats.target_delay_us, ==, WZP_PLAYOUT_MIN_DELAY_US);
}

/* The target follows the jitter: up at once, down slowly, never outside 20-200 ms. */
static void
test_adapt (void)
{
  g_autoptr(Sim) sim = sim_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);
  gint64 t, high, prev;
  gint64 risen_at = -1, biggest_step = 0;

  /* 10 s of small jitter: the smallest target. */
  t = add_path (sim, rand, 0, 500, 40 * MS, 2 * MS, 0);
  sim_run (sim, sent_at (500));
  g_assert_cmpint (sim_target (sim), ==, WZP_PLAYOUT_MIN_DELAY_US);

  /* 10 s of up to 100 ms: the target is up within a second (once 5 % of the jitter
   * window has seen it), in steps 50 times what coming down allows in a frame period. */
  t = add_path (sim, rand, 500, 500, 40 * MS, 100 * MS, t);
  prev = sim_target (sim);
  for (gint64 now = sent_at (500); now < sent_at (1000); now += FRAME_US)
    {
      gint64 target;

      sim_run (sim, now);
      target = sim_target (sim);
      biggest_step = MAX (biggest_step, target - prev);
      if (risen_at < 0 && target >= 60 * MS)
        risen_at = now;
      prev = target;
    }
  g_assert_cmpint (risen_at, >=, 0);
  g_assert_cmpint (risen_at - sent_at (500), <=, SEC);
  g_assert_cmpint (biggest_step, >=, 50 * WZP_PLAYOUT_LOWER_US_PER_SEC * FRAME_US / SEC);
  high = sim_target (sim);
  g_assert_cmpint (high, >=, 80 * MS);
  g_assert_cmpint (high, <=, 100 * MS);

  /* 5 s of up to 600 ms: the target goes to the largest delay, and no further. (Frames
   * later than that are dropped; after a second of nothing else the timing restarts.) */
  t = add_path (sim, rand, 1000, 250, 40 * MS, 600 * MS, t);
  high = 0;
  for (gint64 now = sent_at (1000); now <= sent_at (1250); now += FRAME_US)
    {
      sim_run (sim, now);
      high = MAX (high, sim_target (sim));
    }
  g_assert_cmpint (high, ==, WZP_PLAYOUT_MAX_DELAY_US);

  /* 60 s of small jitter again: the target comes down, no faster than 5 ms a second,
   * and reaches the bottom. */
  add_path (sim, rand, 1250, 3000, 40 * MS, 2 * MS, t);
  high = sim_target (sim);
  sim_run (sim, sent_at (1250) + SEC);
  prev = sim_target (sim);
  g_assert_cmpint (prev, >=, high - SLOW_US);
  for (int s = 2; s <= 55; s++)
    {
      gint64 now;

      sim_run (sim, sent_at (1250) + s * SEC);
      now = sim_target (sim);
      g_assert_cmpint (now, <=, prev + NOISE_US);
      g_assert_cmpint (prev - now, <=, SLOW_US);
      prev = now;
    }
  g_assert_cmpint (prev, ==, WZP_PLAYOUT_MIN_DELAY_US);
  assert_in_order (sim);
}

/* The sender's clock jumps (a restarted encoder, say) by @jump_ticks at frame 200: the
 * buffer resyncs and the listener notices nothing. */
static void
check_jump (gint64 jump_ticks)
{
  g_autoptr(Sim) sim = sim_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (6);
  guint n = 400;
  gint64 last = 0;
  WzpPlayoutStats stats;

  for (guint i = 0; i < n; i++)
    {
      guint32 ts = TS0 + i * TICKS + (i >= 200 ? jump_ticks : 0);

      last = MAX (last, sent_at (i) + 40 * MS + g_rand_int_range (rand, 0, 5 * MS));
      sim_add (sim, SEQ0 + i, ts, last);
    }
  sim_run (sim, sent_at (n) + SEC);

  assert_all_played (sim, n);
  g_assert_cmpuint (gaps_while_playing (sim), ==, 0);
  stats = sim_stats (sim);
  g_assert_cmpuint (stats.resyncs, ==, 1);
  g_assert_cmpuint (stats.late, ==, 0);
  assert_heard_within (sim, 0, n, 40 * MS + 20 * MS + 5 * MS + GRID_US);
}

static void
test_timestamp_jump (void)
{
  check_jump (10 * RATE);      /* 10 s ahead */
  check_jump (RATE);           /* 1 s ahead */
  check_jump (-10 * RATE);     /* 10 s back */
  check_jump (-RATE / 2);      /* 500 ms back: more than the largest delay */
  check_jump (G_MAXINT32);     /* half the timestamp space */
}

/* The flood tests' stream: @n frames on a 40 ms path with up to 5 ms of jitter, run up to
 * the moment frame 100 is in and 101 is not, which is returned: the flood comes then. */
static gint64
run_until_flood (Sim   *sim,
                 GRand *rand,
                 guint  n)
{
  gint64 flood_at = sent_at (100) + 45 * MS + 1;

  add_path (sim, rand, 0, n, 40 * MS, 5 * MS, 0);
  sim_run (sim, flood_at);

  return flood_at;
}

/* Whatever arrives, the buffer holds at most 1 s of frames, and the stream goes on. */
static void
test_flood (void)
{
  g_autoptr(Sim) sim = sim_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  guint capacity = WZP_PLAYOUT_CAPACITY_US / FRAME_US;
  guint n = 500;
  gint64 flood_at = run_until_flood (sim, rand, n);
  WzpPlayoutStats stats;

  /* Random sequence numbers and timestamps: far ahead of the stream or far behind. */
  for (guint i = 0; i < 100000; i++)
    {
      guint32 seq = SEQ0 + 100 + 1000 + g_rand_int_range (rand, 0, G_MAXINT32 - 2000);

      if (i % 2)
        seq = SEQ0 + 100 - 1000 - g_rand_int_range (rand, 0, G_MAXINT32 - 2000);
      g_assert_cmpint (sim_push (sim, seq, g_rand_int (rand), flood_at), !=,
                       WZP_PLAYOUT_ACCEPTED);
      g_assert_cmpuint (sim_stats (sim).buffered, <=, capacity);
    }
  /* Old frames again. */
  for (guint i = 0; i < 100; i++)
    g_assert_cmpint (sim_push (sim, SEQ0 + i, TS0 + i * TICKS, flood_at), !=,
                     WZP_PLAYOUT_ACCEPTED);
  stats = sim_stats (sim);
  g_assert_cmpuint (stats.buffered, <=, 3);
  g_assert_cmpuint (stats.refused, >=, 50000 - 10);
  g_assert_cmpuint (stats.resyncs, ==, 0);

  /* None of it was heard; the stream goes on as if nothing had come. */
  sim_run (sim, sent_at (n) + SEC);
  assert_all_played (sim, n);
  assert_heard_within (sim, 0, n, 40 * MS + 20 * MS + 5 * MS + GRID_US);
  g_assert_cmpuint (gaps_while_playing (sim), ==, 0);
}

/* A sender that races 20 s ahead of its clock, all at once: the buffer takes 1 s of it
 * and refuses the rest; once the sender is sane again, so is the stream. */
static void
test_flood_ahead (void)
{
  g_autoptr(Sim) sim = sim_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (9);
  guint capacity = WZP_PLAYOUT_CAPACITY_US / FRAME_US;
  guint n = 800, skipped = 0;
  gint64 flood_at = run_until_flood (sim, rand, n);
  WzpPlayoutStats stats;

  for (guint i = 101; i < 1100; i++)
    {
      sim_push (sim, SEQ0 + i, TS0 + i * TICKS, flood_at);
      g_assert_cmpuint (sim_stats (sim).buffered, <=, capacity);
    }
  stats = sim_stats (sim);
  g_assert_cmpuint (stats.buffered, ==, capacity);
  g_assert_cmpuint (stats.refused, >=, 1100 - 101 - capacity);

  sim_run (sim, sent_at (n) + SEC);
  assert_in_order (sim);
  g_assert_cmpuint (sim_stats (sim).resyncs, <=, 1);
  /* Within 3 s the stream is heard at its delay again: every frame, but for one that
   * coming down to the smallest delay after the timing restarted may skip. */
  for (guint i = 100 + 150; i < n; i++)
    {
      gint64 delay = heard_after (sim, SEQ0 + i);

      skipped += delay < 0;
      g_assert_cmpint (delay, <=, 40 * MS + 20 * MS + 5 * MS + GRID_US);
    }
  g_assert_cmpuint (skipped, <=, 1);
}

/* A caller whose timer fires half a second late gets the last 100 ms of periods, not
 * half a second of stale audio, and the delay is back to normal at once. */
static void
test_late_caller (void)
{
  g_autoptr(Sim) sim = sim_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (8);
  guint n = 500;
  gint64 resume = sent_at (200);

  add_path (sim, rand, 0, n, 40 * MS, 5 * MS, 0);
  sim_run (sim, sent_at (100));
  g_assert_cmpuint (sim->most_at_once, ==, 1);

  sim->paused_until_us = resume;
  sim_run (sim, resume);
  g_assert_cmpuint (sim->most_at_once, <=, WZP_PLAYOUT_MAX_BACKLOG_US / FRAME_US + 1);

  sim_run (sim, sent_at (n) + SEC);
  assert_in_order (sim);
  for (guint i = 0; i < sim->played->len; i++)
    {
      guint32 seq = g_array_index (sim->played, guint32, i);
      gint64 heard = g_array_index (sim->played_us, gint64, i);

      if (heard > resume)
        g_assert_cmpint (heard_after (sim, seq), <=, 40 * MS + 20 * MS + 5 * MS + GRID_US);
    }
  /* What came while the caller slept did not fit in the buffer or was too old. */
  g_assert_cmpuint (sim_stats (sim).played, >=, n - 100 - 2);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/wzp/playout/clean", test_clean);
  g_test_add_func ("/wzp/playout/start-and-reset", test_start_and_reset);
  g_test_add_func ("/wzp/playout/late-at-start", test_late_at_start);
  g_test_add_func ("/wzp/playout/stall", test_stall);
  g_test_add_func ("/wzp/playout/stall-sender-dropped", test_stall_sender_dropped);
  g_test_add_func ("/wzp/playout/duplicates", test_duplicates);
  g_test_add_func ("/wzp/playout/slower-path", test_slower_path);
  g_test_add_func ("/wzp/playout/reorder", test_reorder);
  g_test_add_func ("/wzp/playout/wrap", test_wrap);
  g_test_add_func ("/wzp/playout/adapt", test_adapt);
  g_test_add_func ("/wzp/playout/timestamp-jump", test_timestamp_jump);
  g_test_add_func ("/wzp/playout/flood", test_flood);
  g_test_add_func ("/wzp/playout/flood-ahead", test_flood_ahead);
  g_test_add_func ("/wzp/playout/late-caller", test_late_caller);

  return g_test_run ();
}
