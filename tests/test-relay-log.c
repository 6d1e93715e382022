/* test-relay-log.c: the relay's log limiter on a fake clock, and client text made safe
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-relay-log-private.h"

#define SEC G_USEC_PER_SEC
/* Any start: the limiter only compares times. */
#define T0  ((gint64) 1000 * SEC)

typedef struct
{
  guint   calls;
  guint   total;
  GString *seen;
} Flushed;

static void
flush_cb (const char *source,
          const char *limit_field,
          const char *limit,
          guint       n,
          gpointer    user_data)
{
  Flushed *flushed = user_data;

  flushed->calls++;
  flushed->total += n;
  if (flushed->seen != NULL)
    g_string_append_printf (flushed->seen, "%s %s=%s %u;", source, limit_field, limit, n);
}

static gboolean
check (WzpLogLimiter *limiter,
       const char    *source,
       const char    *limit,
       gint64         now_us,
       guint         *suppressed)
{
  guint dummy;

  return _wzp_log_limiter_check (limiter, source, "WZP_LIMIT", limit, now_us,
                                 suppressed ? suppressed : &dummy);
}

/* A burst, then one a second; the line that goes through after a pause tells how many
 * were left out. */
static void
test_burst_then_rate (void)
{
  WzpLogLimiter *limiter = _wzp_log_limiter_new (16);
  guint suppressed = 99;
  guint written = 0;

  for (guint i = 0; i < WZP_RELAY_LOG_BURST; i++)
    {
      g_assert_true (check (limiter, "192.0.2.1", "max-pipes-per-ip", T0, &suppressed));
      g_assert_cmpuint (suppressed, ==, 0);
    }
  for (guint i = 0; i < 100; i++)
    g_assert_false (check (limiter, "192.0.2.1", "max-pipes-per-ip", T0 + i * 1000, NULL));

  /* Another limit, another source: budgets of their own. */
  g_assert_true (check (limiter, "192.0.2.1", "max-handshakes-per-ip", T0, NULL));
  g_assert_true (check (limiter, "192.0.2.2", "max-pipes-per-ip", T0, NULL));

  /* A second later, one more line, which reports the hundred. */
  g_assert_true (check (limiter, "192.0.2.1", "max-pipes-per-ip", T0 + SEC, &suppressed));
  g_assert_cmpuint (suppressed, ==, 100);
  g_assert_false (check (limiter, "192.0.2.1", "max-pipes-per-ip", T0 + SEC, NULL));

  /* Sustained, ten a millisecond for ten seconds: ten lines. */
  for (gint64 t = T0 + SEC + 1000; t <= T0 + 11 * SEC; t += 100)
    written += check (limiter, "192.0.2.1", "max-pipes-per-ip", t, NULL);
  g_assert_cmpuint (written, ==, 10);

  _wzp_log_limiter_free (limiter);
}

/* A source gone quiet with lines left out is reported by the sweep, once; quiet pairs
 * with nothing to report are forgotten. */
static void
test_sweep (void)
{
  WzpLogLimiter *limiter = _wzp_log_limiter_new (16);
  Flushed flushed = { 0, 0, g_string_new (NULL) };

  for (guint i = 0; i < WZP_RELAY_LOG_BURST + 7; i++)
    check (limiter, "192.0.2.1", "max-pipes-per-ip", T0, NULL);
  check (limiter, "192.0.2.9", "min-free-fds", T0, NULL);
  g_assert_cmpuint (_wzp_log_limiter_get_size (limiter), ==, 2);

  /* Not quiet long enough yet. */
  _wzp_log_limiter_sweep (limiter, T0 + SEC / 2, FALSE, flush_cb, &flushed);
  g_assert_cmpuint (flushed.calls, ==, 0);

  _wzp_log_limiter_sweep (limiter, T0 + SEC, FALSE, flush_cb, &flushed);
  g_assert_cmpuint (flushed.calls, ==, 1);
  g_assert_cmpstr (flushed.seen->str, ==, "192.0.2.1 WZP_LIMIT=max-pipes-per-ip 7;");
  _wzp_log_limiter_sweep (limiter, T0 + 2 * SEC, FALSE, flush_cb, &flushed);
  g_assert_cmpuint (flushed.calls, ==, 1);

  /* Once their bursts have refilled, both pairs are gone. */
  g_assert_cmpuint (_wzp_log_limiter_sweep (limiter, T0 + (WZP_RELAY_LOG_BURST + 1) * SEC,
                                            FALSE, flush_cb, &flushed), ==, 0);

  /* "all": a stopping relay reports what is pending at once. */
  for (guint i = 0; i < WZP_RELAY_LOG_BURST + 3; i++)
    check (limiter, "192.0.2.1", "max-pipes-per-ip", T0 + 100 * SEC, NULL);
  _wzp_log_limiter_sweep (limiter, T0 + 100 * SEC, TRUE, flush_cb, &flushed);
  g_assert_cmpuint (flushed.calls, ==, 2);
  g_assert_cmpuint (flushed.total, ==, 10);

  g_string_free (flushed.seen, TRUE);
  _wzp_log_limiter_free (limiter);
}

/* Ten thousand sources: the table stays at its cap (plus one shared pair per limit), the
 * newcomers share one budget, and every line is written or counted. */
static void
test_bounded (void)
{
  WzpLogLimiter *limiter = _wzp_log_limiter_new (64);
  Flushed flushed = { 0, 0, NULL };
  guint written = 0;
  guint reported = 0;

  for (guint i = 0; i < 10000; i++)
    {
      g_autofree char *source = g_strdup_printf ("2001:db8:%x::/64", i);
      guint suppressed;

      if (check (limiter, source, "max-handshakes-per-ip", T0 + i, &suppressed))
        written++;
      reported += suppressed;
      g_assert_cmpuint (_wzp_log_limiter_get_size (limiter), <=, 64 + 1);
    }
  g_assert_cmpuint (written, ==, 64 + WZP_RELAY_LOG_BURST);
  _wzp_log_limiter_sweep (limiter, T0 + SEC, TRUE, flush_cb, &flushed);
  g_assert_cmpuint (written + reported + flushed.total, ==, 10000);

  /* Once the tracked sources are quiet, a new one gets its own budget again. */
  g_assert_true (check (limiter, "198.51.100.1", "max-handshakes-per-ip", T0 + 60 * SEC,
                        NULL));
  g_assert_true (check (limiter, "198.51.100.1", "max-handshakes-per-ip", T0 + 60 * SEC,
                        NULL));
  g_assert_cmpuint (_wzp_log_limiter_get_size (limiter), <=, 64 + 1);
  /* And the quiet ones are gone at the next sweep. */
  g_assert_cmpuint (_wzp_log_limiter_sweep (limiter, T0 + 60 * SEC, FALSE, flush_cb, &flushed),
                    ==, 1);

  _wzp_log_limiter_free (limiter);
}

static void
check_text (const char *text,
            gsize       max_bytes,
            const char *expected)
{
  g_autofree char *safe = _wzp_relay_log_text (text, max_bytes);

  g_assert_cmpstr (safe, ==, expected);
  g_assert_true (g_utf8_validate (safe, -1, NULL));
}

static void
test_text (void)
{
  g_autofree char *huge = g_strnfill (64 * 1024, 'a');
  g_autofree char *cut = NULL;

  check_text (NULL, 128, "");
  check_text ("", 128, "");
  check_text ("plain text, “quoted”, ünïcödé, 日本語", 128,
              "plain text, “quoted”, ünïcödé, 日本語");
  check_text ("line\nbreak\ttab\rreturn\\back", 128, "line\\nbreak\\ttab\\rreturn\\\\back");
  check_text ("\x1b[31mred\x07\x7f", 128, "\\x1b[31mred\\x07\\x7f");
  /* C1 controls, bidi override, zero-width space, line separator. */
  check_text ("a\xc2\x85" "b\xe2\x80\xae" "c\xe2\x80\x8b" "d\xe2\x80\xa8", 128,
              "a\\u0085b\\u202ec\\u200bd\\u2028");
  /* Invalid UTF-8, byte by byte. */
  check_text ("ok\xff\xc3(", 128, "ok\\xff\\xc3(");

  /* Cut at the limit, never inside a character or an escape. */
  check_text ("abcdef", 6, "abcdef");
  check_text ("abcdefg", 6, "abcdef…");
  check_text ("abcdé", 5, "abcd…");
  check_text ("abc\n", 4, "abc…");
  check_text ("ab\n", 4, "ab\\n");

  cut = _wzp_relay_log_text (huge, WZP_RELAY_LOG_MAX_CLIENT_TEXT);
  g_assert_cmpuint (strlen (cut), ==, WZP_RELAY_LOG_MAX_CLIENT_TEXT + strlen ("…"));
  g_assert_true (g_str_has_suffix (cut, "a…"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/wzp/relay-log/burst-then-rate", test_burst_then_rate);
  g_test_add_func ("/wzp/relay-log/sweep", test_sweep);
  g_test_add_func ("/wzp/relay-log/bounded", test_bounded);
  g_test_add_func ("/wzp/relay-log/text", test_text);

  return g_test_run ();
}
