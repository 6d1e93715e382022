/* test-send-queue.c: the sender's queue of media frames, bounded in audio time
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "test-util.h"
#include "wzp-send-queue-private.h"

#define MS       1000
#define FRAME_US (20 * MS)

/* Pushes frames @first to @first + @count - 1, each of @duration_us; returns how many
 * the queue dropped. */
static guint
push_frames (WzpSendQueue *q,
             guint         first,
             guint         count,
             gint64        duration_us)
{
  guint dropped = 0;

  for (guint i = first; i < first + count; i++)
    {
      g_autoptr(GBytes) frame = wzp_test_numbered_bytes (i);

      dropped += _wzp_send_queue_push (q, frame, duration_us);
    }

  return dropped;
}

/* Pops everything, checking the frames are @first, @first + 1, ... in order. */
static void
assert_holds (WzpSendQueue *q,
              guint         first,
              guint         count)
{
  for (guint i = 0; i < count; i++)
    {
      gint64 duration = 0;
      g_autoptr(GBytes) frame = _wzp_send_queue_pop (q, &duration);

      g_assert_nonnull (frame);
      g_assert_cmpuint (wzp_test_bytes_number (frame), ==, first + i);
      g_assert_cmpint (duration, >, 0);
    }
  g_assert_null (_wzp_send_queue_pop (q, NULL));
  g_assert_cmpuint (_wzp_send_queue_get_length (q), ==, 0);
  g_assert_cmpint (_wzp_send_queue_get_queued_us (q), ==, 0);
}

/* A stalled writer: the queue keeps the newest 80 ms and drops the oldest. */
static void
test_drops_oldest (void)
{
  g_autoptr(WzpSendQueue) q = _wzp_send_queue_new (WZP_SEND_QUEUE_DEFAULT_LIMIT_US);

  for (guint i = 0; i < 10; i++)
    {
      g_assert_cmpuint (push_frames (q, i, 1, FRAME_US), ==, i < 4 ? 0 : 1);
      g_assert_cmpint (_wzp_send_queue_get_queued_us (q), <=,
                       WZP_SEND_QUEUE_DEFAULT_LIMIT_US);
    }
  g_assert_cmpuint (_wzp_send_queue_get_length (q), ==, 4);
  g_assert_cmpint (_wzp_send_queue_get_queued_us (q), ==, 80 * MS);
  g_assert_cmpuint (_wzp_send_queue_get_dropped (q), ==, 6);
  assert_holds (q, 6, 4);
  g_assert_cmpuint (_wzp_send_queue_get_dropped (q), ==, 6);
}

/* A writer that keeps up never loses a frame. */
static void
test_keeps_up (void)
{
  g_autoptr(WzpSendQueue) q = _wzp_send_queue_new (WZP_SEND_QUEUE_MIN_LIMIT_US);

  for (guint i = 0; i < 1000; i++)
    {
      g_autoptr(GBytes) out = NULL;

      g_assert_cmpuint (push_frames (q, i, 1, FRAME_US), ==, 0);
      out = _wzp_send_queue_pop (q, NULL);
      g_assert_cmpuint (wzp_test_bytes_number (out), ==, i);
    }
  g_assert_cmpuint (_wzp_send_queue_get_dropped (q), ==, 0);
}

/* The limit can change (20 to 200 ms); a lower one drops the excess at once. */
static void
test_limit (void)
{
  g_autoptr(WzpSendQueue) q = _wzp_send_queue_new (WZP_SEND_QUEUE_DEFAULT_LIMIT_US);

  push_frames (q, 0, 4, FRAME_US);
  _wzp_send_queue_set_limit (q, WZP_SEND_QUEUE_MIN_LIMIT_US);
  g_assert_cmpint (_wzp_send_queue_get_limit (q), ==, 20 * MS);
  g_assert_cmpuint (_wzp_send_queue_get_dropped (q), ==, 3);
  assert_holds (q, 3, 1);

  _wzp_send_queue_set_limit (q, WZP_SEND_QUEUE_MAX_LIMIT_US);
  g_assert_cmpuint (push_frames (q, 0, 12, FRAME_US), ==, 2);
  g_assert_cmpint (_wzp_send_queue_get_queued_us (q), ==, 200 * MS);
  g_assert_cmpuint (_wzp_send_queue_get_dropped (q), ==, 3 + 2);
  assert_holds (q, 2, 10);
}

/* Limits are counted in audio, whatever the frame sizes; the newest frame is never
 * dropped, even one longer than the limit. */
static void
test_durations (void)
{
  g_autoptr(WzpSendQueue) q = _wzp_send_queue_new (WZP_SEND_QUEUE_MIN_LIMIT_US);

  g_assert_cmpuint (push_frames (q, 1, 1, 60 * MS), ==, 0);
  g_assert_cmpint (_wzp_send_queue_get_queued_us (q), ==, 60 * MS);
  g_assert_cmpuint (push_frames (q, 2, 1, 20 * MS), ==, 1);
  assert_holds (q, 2, 1);

  /* 10 ms frames: 60 ms of them in a 50 ms limit keeps five. */
  _wzp_send_queue_set_limit (q, 50 * MS);
  g_assert_cmpuint (push_frames (q, 10, 6, 10 * MS), ==, 1);
  g_assert_cmpint (_wzp_send_queue_get_queued_us (q), ==, 50 * MS);
  assert_holds (q, 11, 5);
}

/* Clearing (a call that ends) is not dropping. */
static void
test_clear (void)
{
  g_autoptr(WzpSendQueue) q = _wzp_send_queue_new (WZP_SEND_QUEUE_DEFAULT_LIMIT_US);

  push_frames (q, 0, 3, FRAME_US);
  _wzp_send_queue_clear (q);
  g_assert_cmpuint (_wzp_send_queue_get_dropped (q), ==, 0);
  assert_holds (q, 0, 0);

  /* Frames still queued when the queue goes are released with it (valgrind). */
  push_frames (q, 0, 3, FRAME_US);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/wzp/send-queue/drops-oldest", test_drops_oldest);
  g_test_add_func ("/wzp/send-queue/keeps-up", test_keeps_up);
  g_test_add_func ("/wzp/send-queue/limit", test_limit);
  g_test_add_func ("/wzp/send-queue/durations", test_durations);
  g_test_add_func ("/wzp/send-queue/clear", test_clear);

  return g_test_run ();
}
