/* test-token-bucket.c: the token bucket that paces presence updates, on a fake clock
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib.h>

#include "wzp-token-bucket-private.h"

#define SEC G_USEC_PER_SEC
/* Any start: the bucket only compares times. */
#define T0  ((gint64) 1000 * SEC)

static void
test_burst (void)
{
  WzpTokenBucket b;

  _wzp_token_bucket_init (&b, SEC, 2);

  /* Full: two sends at once, then one an interval later. */
  g_assert_cmpint (_wzp_token_bucket_wait (&b, T0), ==, 0);
  _wzp_token_bucket_take (&b, T0);
  g_assert_cmpint (_wzp_token_bucket_wait (&b, T0), ==, 0);
  _wzp_token_bucket_take (&b, T0);
  g_assert_cmpint (_wzp_token_bucket_wait (&b, T0), ==, SEC);
  g_assert_cmpint (_wzp_token_bucket_wait (&b, T0 + 400000), ==, 600000);
  g_assert_cmpint (_wzp_token_bucket_wait (&b, T0 + SEC - 1), ==, 1);
  g_assert_cmpint (_wzp_token_bucket_wait (&b, T0 + SEC), ==, 0);

  /* The token of T0 + 1 s taken: the next one is a second away again. */
  _wzp_token_bucket_take (&b, T0 + SEC);
  g_assert_cmpint (_wzp_token_bucket_wait (&b, T0 + SEC), ==, SEC);
}

static void
test_refill_capped (void)
{
  WzpTokenBucket b;

  _wzp_token_bucket_init (&b, SEC, 2);
  _wzp_token_bucket_take (&b, T0);
  _wzp_token_bucket_take (&b, T0);

  /* Ten quiet seconds leave two tokens, not ten. */
  for (int i = 0; i < 2; i++)
    {
      g_assert_cmpint (_wzp_token_bucket_wait (&b, T0 + 10 * SEC), ==, 0);
      _wzp_token_bucket_take (&b, T0 + 10 * SEC);
    }
  g_assert_cmpint (_wzp_token_bucket_wait (&b, T0 + 10 * SEC), ==, SEC);

  /* Half-way tokens add up: 1.5 s after emptying, one is there and half of the next. */
  g_assert_cmpint (_wzp_token_bucket_wait (&b, T0 + 11 * SEC + SEC / 2), ==, 0);
  _wzp_token_bucket_take (&b, T0 + 11 * SEC + SEC / 2);
  g_assert_cmpint (_wzp_token_bucket_wait (&b, T0 + 11 * SEC + SEC / 2), ==, SEC / 2);
}

/* A send that could not wait empties the bucket: the next token is an interval away, not
 * more, however many such sends came. */
static void
test_take_without_token (void)
{
  WzpTokenBucket b;

  _wzp_token_bucket_init (&b, SEC, 1);
  _wzp_token_bucket_take (&b, T0);
  _wzp_token_bucket_take (&b, T0 + 300000);
  g_assert_cmpint (_wzp_token_bucket_wait (&b, T0 + 300000), ==, SEC);
  _wzp_token_bucket_take (&b, T0 + 400000);
  _wzp_token_bucket_take (&b, T0 + 400000);
  g_assert_cmpint (_wzp_token_bucket_wait (&b, T0 + 400000), ==, SEC);
  g_assert_cmpint (_wzp_token_bucket_wait (&b, T0 + 1400000), ==, 0);
}

/* What wzp-relay-presence.c does with a bucket, on the fake clock: a change at @changes[i]
 * (ascending) is sent at once when a token is there; otherwise it waits for the next
 * token, and whatever else changes meanwhile goes with it. Returns the send times. */
static GArray *
pace (guint         burst,
      const gint64 *changes,
      guint         n)
{
  GArray *sends = g_array_new (FALSE, FALSE, sizeof (gint64));
  WzpTokenBucket b;
  gboolean pending = FALSE;
  gint64 due = 0;

  _wzp_token_bucket_init (&b, SEC, burst);
  for (guint i = 0; i <= n; i++)
    {
      if (pending && (i == n || due <= changes[i]))
        {
          g_assert_cmpint (_wzp_token_bucket_wait (&b, due), ==, 0);
          _wzp_token_bucket_take (&b, due);
          g_array_append_val (sends, due);
          pending = FALSE;
        }
      if (i == n || pending)
        continue;
      due = changes[i] + _wzp_token_bucket_wait (&b, changes[i]);
      pending = due > changes[i];
      if (!pending)
        {
          _wzp_token_bucket_take (&b, changes[i]);
          g_array_append_val (sends, changes[i]);
        }
    }
  return sends;
}

/* The case of issue 14: an app restarts on a quiet link, so its client is gone at T0 and
 * back 0.2 s later. With two tokens both changes go at once; with one (a fixed batch a
 * second) the return waits 0.8 s, and a call placed meanwhile fails. */
static void
test_return (void)
{
  const gint64 changes[] = { T0, T0 + 200000 };
  g_autoptr(GArray) bucket = pace (2, changes, G_N_ELEMENTS (changes));
  g_autoptr(GArray) fixed = pace (1, changes, G_N_ELEMENTS (changes));

  g_assert_cmpuint (bucket->len, ==, 2);
  g_assert_cmpint (g_array_index (bucket, gint64, 0), ==, T0);
  g_assert_cmpint (g_array_index (bucket, gint64, 1), ==, T0 + 200000);
  g_assert_cmpuint (fixed->len, ==, 2);
  g_assert_cmpint (g_array_index (fixed, gint64, 0), ==, T0);
  g_assert_cmpint (g_array_index (fixed, gint64, 1), ==, T0 + SEC);
}

/* A change every 50 ms for 10 s: two sends at once, then one a second, and no change
 * waits longer than a second. */
static void
test_sustained (void)
{
  g_autoptr(GArray) changes = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) sends = NULL;
  guint next = 0;

  for (gint64 t = T0; t < T0 + 10 * SEC; t += 50000)
    g_array_append_val (changes, t);
  sends = pace (2, (const gint64 *) changes->data, changes->len);

  /* The first two changes go as they come; then the rest, a second's worth at a time, at
   * T0 + 1 s, 2 s, ... 10 s (the last change, at 9.95 s). */
  g_assert_cmpuint (sends->len, ==, 2 + 10);
  g_assert_cmpint (g_array_index (sends, gint64, 0), ==, T0);
  g_assert_cmpint (g_array_index (sends, gint64, 1), ==, T0 + 50000);
  for (guint i = 2; i < sends->len; i++)
    g_assert_cmpint (g_array_index (sends, gint64, i), ==, T0 + (i - 1) * SEC);

  for (guint i = 0; i < changes->len; i++)
    {
      gint64 t = g_array_index (changes, gint64, i);

      while (g_array_index (sends, gint64, next) < t)
        next++;
      g_assert_cmpint (g_array_index (sends, gint64, next) - t, <=, SEC);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/wzp/token-bucket/burst", test_burst);
  g_test_add_func ("/wzp/token-bucket/refill-capped", test_refill_capped);
  g_test_add_func ("/wzp/token-bucket/take-without-token", test_take_without_token);
  g_test_add_func ("/wzp/token-bucket/return", test_return);
  g_test_add_func ("/wzp/token-bucket/sustained", test_sustained);

  return g_test_run ();
}
