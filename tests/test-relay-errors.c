/* test-relay-errors.c: bad input from clients, the Errors the relay answers with, and
 * what it logs of them and of refused connections
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay-fixture.h"
#include "wzp-relay-private.h"

/* Bad input: each case gets its Error, and another client on the relay is unaffected. */

static void
send_frame_text (WzpTestClient *client,
                 const char    *text,
                 gssize         len)
{
  gsize n = len < 0 ? strlen (text) : (gsize) len;
  g_autofree guint8 *frame = g_malloc (n + 4);

  frame[0] = n >> 24;
  frame[1] = n >> 16;
  frame[2] = n >> 8;
  frame[3] = n;
  memcpy (frame + 4, text, n);
  wzp_test_client_send_raw (client, frame, n + 4);
}

static void
test_bad_input (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(WzpTestClient) bystander = connect_registered (f, "Bystander");
  g_autoptr(WzpTestClient) bad = connect_registered (f, "Mallory");
  const struct {
    const char *text;
    gssize      len;
  } cases[] = {
    { "this is not json", -1 },
    { "[1,2,3]", -1 },
    { "{\"type\":\"NoSuchMessage\"}", -1 },
    { "{\"type\":42}", -1 },
    { "{\"type\":\"Hangup\",\"call_id\":7,\"reason\":\"Normal\"}", -1 },
    { "{\"type\":\"Hangup\",\"call_id\":\"x\"}", -1 },
    { "{\"type\":\"DirectCallOffer\",\"call_id\":\"x\",\"target_fingerprint\":\"nope\"}", -1 },
    { "{\"type\":\"DirectCallOffer\",\"call_id\":\"x\",\"target_fingerprint\":"
      "\"0123:4567:89ab:cdef:0123:4567:89ab:cdef\",\"caller_local_addrs\":[\"1.2.3.4\"]}", -1 },
    { "{\"type\":\"Ping\",\"timestamp_ms\":\"soon\"}", -1 },
    { "{\"type\":\"Reflect\"\xff}", -1 },
    { "{\"type\":\"Reflect\"}\0", 19 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("bad input case %u", i);
      send_frame_text (bad, cases[i].text, cases[i].len);
      wzp_test_client_expect_error (bad, WZP_ERROR_CODE_BAD_MESSAGE);
    }
  check_bystander (f, bystander);

  /* Messages for calls you are not in, in every flavour. */
  {
    g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
    g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
    g_autoptr(WzpMessage) setup_a = NULL;
    g_autoptr(WzpMessage) setup_b = NULL;
    g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);
    WzpMessageType types[] = { WZP_MESSAGE_CALL_RINGING, WZP_MESSAGE_HANGUP,
                               WZP_MESSAGE_CANDIDATE_UPDATE, WZP_MESSAGE_DIRECT_CALL_ANSWER };

    for (guint i = 0; i < G_N_ELEMENTS (types); i++)
      {
        g_autoptr(WzpMessage) message = _wzp_message_new_for_call (types[i], call_id);

        _wzp_message_set_string (message, "reason", "Normal");
        _wzp_message_set_string (message, "accept_mode", "AcceptTrusted");
        wzp_test_client_send (bad, message);
        wzp_test_client_expect_error (bad, WZP_ERROR_CODE_UNKNOWN_CALL);
      }
    g_assert_true (wzp_test_client_quiet (a, 50));
    g_assert_true (wzp_test_client_quiet (b, 1));
    g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 1);

    /* A party in the wrong state: the caller cannot answer its own call. */
    {
      g_autoptr(WzpMessage) answer = wzp_test_make_answer (call_id, "AcceptTrusted");
      wzp_test_client_send (a, answer);
      wzp_test_client_expect_error (a, WZP_ERROR_CODE_BAD_STATE);
    }
  }

  /* Calling before registering. */
  {
    g_autoptr(WzpTestClient) anon = wzp_test_client_connect (f->address, NULL, NULL);
    g_autoptr(WzpMessage) offer = wzp_test_make_offer ("abc",
                                                       wzp_test_client_fingerprint (bystander));

    wzp_test_client_send (anon, offer);
    wzp_test_client_expect_error (anon, WZP_ERROR_CODE_NOT_REGISTERED);
    g_assert_true (wzp_test_client_quiet (bystander, 50));
  }

  /* A flood: rate-limited with an Error, then closed; nobody else notices. */
  {
    g_autoptr(WzpMessage) ping = _wzp_message_new (WZP_MESSAGE_PING);
    g_autoptr(WzpMessage) first = NULL;
    gboolean saw_rate_error = FALSE;

    g_autoptr(GBytes) json = NULL;
    g_autoptr(GByteArray) flood = g_byte_array_new ();

    _wzp_message_set_int (ping, "timestamp_ms", 1);
    bad->answer_pings = FALSE;
    /* In one write, so that they arrive as fast as a flood does whatever the machine's
     * load: the relay closes at ten times the rate, counted over a second. */
    json = _wzp_message_encode (ping);
    for (guint i = 0; i < 1000; i++)
      {
        gsize n = g_bytes_get_size (json);
        guint8 header[4] = { n >> 24, n >> 16, n >> 8, n };

        g_byte_array_append (flood, header, sizeof header);
        g_byte_array_append (flood, g_bytes_get_data (json, NULL), n);
      }
    wzp_test_client_send_raw (bad, flood->data, flood->len);
    for (;;)
      {
        g_autoptr(WzpMessage) message = wzp_test_client_next (bad, 5000);

        if (message == NULL)
          break;
        if (_wzp_message_get_message_type (message) == WZP_MESSAGE_ERROR &&
            g_strcmp0 (_wzp_message_get_string (message, "code"),
                       WZP_ERROR_CODE_RATE_LIMITED) == 0)
          saw_rate_error = TRUE;
      }
    g_assert_true (saw_rate_error);
    check_bystander (f, bystander);
  }

  /* An oversize frame: an Error, then the connection closes. */
  {
    g_autoptr(WzpTestClient) big = connect_registered (f, "Big");
    guint8 header[4] = { 0x00, 0x01, 0x00, 0x01 };   /* 65537 bytes */

    wzp_test_client_send_raw (big, header, sizeof header);
    wzp_test_client_expect_error (big, WZP_ERROR_CODE_FRAME_TOO_LARGE);
    wzp_test_client_wait_closed (big);
    check_bystander (f, bystander);
  }

  /* A truncated frame followed by a close. */
  {
    g_autoptr(WzpTestClient) trunc = connect_registered (f, "Trunc");
    guint8 partial[6] = { 0x00, 0x00, 0x00, 0x40, '{', '"' };

    wzp_test_client_send_raw (trunc, partial, sizeof partial);
    g_io_stream_close (G_IO_STREAM (trunc->conn), NULL, NULL);
    wzp_test_spin (50);
    check_bystander (f, bystander);
  }
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), >=, 1);
}

/* Logs: a client decides how often it is refused and what text it sends, not how much
 * the relay logs (docs/relay.md, "Logs"). */

static guint
count_lines_with (GPtrArray  *lines,
                  const char *field,
                  const char *value)
{
  guint n = 0;

  for (guint i = 0; i < lines->len; i++)
    if (g_strcmp0 (g_hash_table_lookup (g_ptr_array_index (lines, i), field), value) == 0)
      n++;
  return n;
}

/* Hundreds of Errors in a burst: a handful of lines, and one that says how many were
 * left out; none is lost from the count. */
static void
test_log_rate_limit (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(WzpTestClient) bad = connect_registered (f, "Mallory");
  g_autoptr(WzpMessage) open = _wzp_message_new_for_call (WZP_MESSAGE_OPEN_PIPE, "x");
  const guint n_errors = 300;
  guint written = 0;
  guint suppressed = 0;
  gint64 start, deadline;
  guint elapsed_s;

  g_object_set (f->relay, "max-messages-per-second", 100000, NULL);
  _wzp_message_set_string (open, "pipe_token", "0123456789abcdef0123456789abcdef");
  wzp_test_log_capture_start ();

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n_errors; i++)
    wzp_test_client_send (bad, open);
  /* The Errors themselves are not held back: only the log lines are. */
  for (guint i = 0; i < n_errors; i++)
    wzp_test_client_expect_error (bad, WZP_ERROR_CODE_BAD_MESSAGE);
  elapsed_s = (g_get_monotonic_time () - start) / G_USEC_PER_SEC;

  {
    g_autoptr(GPtrArray) lines = wzp_test_log_captured ();
    guint n = count_lines_with (lines, "WZP_ERROR_CODE", WZP_ERROR_CODE_BAD_MESSAGE);

    g_test_message ("%u Errors in %u s: %u lines", n_errors, elapsed_s, n);
    /* The burst, then one a second (and one more for a second boundary). */
    g_assert_cmpuint (n, <=, 5 + elapsed_s + 1);
  }

  /* Once the client is quiet, a line says how many were left out. */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autoptr(GPtrArray) lines = wzp_test_log_captured ();

      written = suppressed = 0;
      for (guint i = 0; i < lines->len; i++)
        {
          GHashTable *line = g_ptr_array_index (lines, i);
          const char *count = g_hash_table_lookup (line, "WZP_SUPPRESSED");

          if (g_strcmp0 (g_hash_table_lookup (line, "WZP_ERROR_CODE"),
                         WZP_ERROR_CODE_BAD_MESSAGE) != 0)
            continue;
          if (count != NULL)
            {
              g_assert_nonnull (strstr (g_hash_table_lookup (line, "MESSAGE"), "suppressed"));
              suppressed += atoi (count);
            }
          /* A line of its own for the count has no address; an Error's line has. */
          if (g_hash_table_contains (line, "WZP_REMOTE_ADDRESS"))
            written++;
        }
      if (written + suppressed >= n_errors || g_get_monotonic_time () > deadline)
        break;
      wzp_test_spin (100);
    }
  wzp_test_log_capture_stop ();
  g_test_message ("%u lines written, %u counted as suppressed", written, suppressed);
  g_assert_cmpuint (suppressed, >, 0);
  g_assert_cmpuint (written + suppressed, ==, n_errors);
}

/* 30 KB of text with escape sequences and newlines, where the relay would quote it: the
 * log shows its beginning, escaped, and no line is long. */
static void
test_log_client_text (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpTestClient) bad = connect_registered (f, "Mallory");
  /* JSON escapes: the relay decodes them into ESC, LF and U+202E (right-to-left). */
  g_autoptr(GString) long_text = g_string_new ("\\u001b[31m\\nred\\u202e");
  g_autoptr(GPtrArray) lines = NULL;
  g_autofree char *json = NULL;
  guint quoted = 0;

  g_string_append (long_text, "\\u001b]0;owned\\u0007");
  while (long_text->len < 30 * 1024)
    g_string_append (long_text, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\\n");
  wzp_test_log_capture_start ();

  /* The Error text a client sends, a call id in an Error's journal field, and a call id
   * quoted in an Error's text. */
  json = g_strdup_printf ("{\"type\":\"Error\",\"code\":\"oops\",\"message\":\"%s\"}",
                          long_text->str);
  send_frame_text (bad, json, -1);
  g_free (json);
  json = g_strdup_printf ("{\"type\":\"OpenPipe\",\"call_id\":\"%s\","
                          "\"pipe_token\":\"0123456789abcdef0123456789abcdef\"}",
                          long_text->str);
  send_frame_text (bad, json, -1);
  wzp_test_client_expect_error (bad, WZP_ERROR_CODE_BAD_MESSAGE);
  g_free (json);
  json = g_strdup_printf ("{\"type\":\"Hangup\",\"call_id\":\"%s\",\"reason\":\"Normal\"}",
                          long_text->str);
  send_frame_text (bad, json, -1);
  wzp_test_client_expect_error (bad, WZP_ERROR_CODE_UNKNOWN_CALL);

  lines = wzp_test_log_captured ();
  wzp_test_log_capture_stop ();
  for (guint i = 0; i < lines->len; i++)
    {
      GHashTable *line = g_ptr_array_index (lines, i);
      GHashTableIter iter;
      const char *key, *value;

      gboolean quotes = FALSE;

      g_hash_table_iter_init (&iter, line);
      while (g_hash_table_iter_next (&iter, (gpointer *) &key, (gpointer *) &value))
        {
          g_assert_cmpuint (strlen (value), <=, 1024);
          for (const char *p = value; *p; p++)
            g_assert_cmpint ((guchar) *p, >=, 0x20);
          g_assert_null (strstr (value, "\u202e"));   /* the bidi override, as is */
          /* Its beginning, escaped, then "…" where it was cut. */
          if (strstr (value, "\\x1b[31m\\nred\\u202e\\x1b]0;owned\\x07AAA") != NULL)
            {
              g_assert_true (strstr (value, "A…") != NULL || strstr (value, "\\n…") != NULL);
              quotes = TRUE;
            }
        }
      quoted += quotes;
    }
  /* The client's Error (at debug), OpenPipe's Error and Hangup's. */
  g_assert_cmpuint (quoted, ==, 3);
  g_assert_cmpuint (count_lines_with (lines, "WZP_ERROR_CODE", WZP_ERROR_CODE_BAD_MESSAGE), ==, 1);
}

/* Sums, over the lines of @field = @value, the lines written about a connection (those
 * with WZP_REMOTE_ADDRESS, not those that only report a count) and WZP_SUPPRESSED. */
static void
count_written_and_suppressed (GPtrArray  *lines,
                              const char *field,
                              const char *value,
                              guint      *written,
                              guint      *suppressed)
{
  *written = *suppressed = 0;
  for (guint i = 0; i < lines->len; i++)
    {
      GHashTable *line = g_ptr_array_index (lines, i);
      const char *count = g_hash_table_lookup (line, "WZP_SUPPRESSED");

      if (g_strcmp0 (g_hash_table_lookup (line, field), value) != 0)
        continue;
      if (count != NULL)
        *suppressed += atoi (count);
      if (g_hash_table_contains (line, "WZP_REMOTE_ADDRESS"))
        (*written)++;
    }
}

/* Connections refused at accept, as fast as TCP allows: a handful of lines, then the
 * count of the others (docs/relay.md, "Logs"). */
static void
test_log_refusals (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GInetSocketAddress) address = _wzp_address_parse (f->address, NULL);
  guint16 port = g_inet_socket_address_get_port (address);
  int fds[60];
  guint written = 0, suppressed = 0;
  gint64 start, deadline;
  guint elapsed_s;

  g_object_set (f->relay, "max-handshakes-per-ip", 1, NULL);
  wzp_test_log_capture_start ();

  /* The address has one place before the handshake: each new connection takes it, and
   * the one before, still silent, is closed to make room (a limit hit each time). */
  start = g_get_monotonic_time ();
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    fds[i] = wzp_test_connect_from ("127.0.0.3", port);
  /* Pipes without a valid token: refused too. */
  for (guint i = 0; i < 60; i++)
    {
      g_autoptr(GSocketConnection) pipe =
        wzp_test_pipe_open (f->pipe_address, "no-such-call",
                            "0123456789abcdef0123456789abcdef", 1);
      wzp_test_spin (1);
    }
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autoptr(GPtrArray) lines = wzp_test_log_captured ();

      count_written_and_suppressed (lines, "WZP_LIMIT", "max-handshakes-per-ip",
                                    &written, &suppressed);
      if (written + suppressed >= G_N_ELEMENTS (fds) - 1 || g_get_monotonic_time () > deadline)
        break;
      wzp_test_spin (50);
    }
  elapsed_s = (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_test_message ("handshakes: %u lines written, %u counted as suppressed in %u s",
                  written, suppressed, elapsed_s);
  g_assert_cmpuint (written, >=, 1);
  g_assert_cmpuint (written, <=, 5 + elapsed_s + 1);
  g_assert_cmpuint (written + suppressed, ==, G_N_ELEMENTS (fds) - 1);

  {
    g_autoptr(GPtrArray) lines = wzp_test_log_captured ();
    guint refused = 0;

    for (guint i = 0; i < lines->len; i++)
      {
        const char *message = g_hash_table_lookup (g_ptr_array_index (lines, i), "MESSAGE");

        if (strstr (message, "pipe refused") != NULL)
          refused++;
      }
    g_test_message ("pipes: %u lines", refused);
    g_assert_cmpuint (refused, >=, 1);
    g_assert_cmpuint (refused, <=, 5 + elapsed_s + 1);
  }
  wzp_test_log_capture_stop ();

  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    close (fds[i]);
}

/* The next message, which must be an Error with @code, small whatever the request held,
 * and without a call_id unless @call_id (a valid one, echoed). */
static void
expect_small_error (WzpTestClient *client,
                    const char    *code,
                    const char    *call_id)
{
  g_autoptr(WzpMessage) error = wzp_test_client_expect (client, WZP_MESSAGE_ERROR);
  g_autoptr(GBytes) encoded = _wzp_message_encode (error);

  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, code);
  g_assert_cmpuint (g_bytes_get_size (encoded), <, 1024);
  g_assert_cmpstr (_wzp_message_get_string (error, "call_id"), ==, call_id);
}

/* Replies never echo what a client sent without bound: a 30 KB call id or value comes
 * back as nothing or a bounded quote, never twice in an Error. */
static void
test_no_echo (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(WzpTestClient) anon = wzp_test_client_connect (f->address, NULL, NULL);
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autofree char *long_id = g_strnfill (30000, 'x');
  g_autofree char *long_text = g_strnfill (30000, '9');

  /* Unregistered. */
  {
    g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, long_id);

    _wzp_message_set_string (hangup, "reason", "Normal");
    wzp_test_client_send (anon, hangup);
    expect_small_error (anon, WZP_ERROR_CODE_NOT_REGISTERED, NULL);
  }
  {
    g_autoptr(WzpMessage) open = _wzp_message_new_for_call (WZP_MESSAGE_OPEN_PIPE, long_id);

    _wzp_message_set_string (open, "pipe_token", "0123456789abcdef0123456789abcdef");
    wzp_test_client_send (anon, open);
    expect_small_error (anon, WZP_ERROR_CODE_BAD_MESSAGE, NULL);
  }

  /* Registered: a call you are not in, by a long id and by a valid one (echoed). */
  {
    g_autoptr(WzpMessage) ringing = _wzp_message_new_for_call (WZP_MESSAGE_CALL_RINGING,
                                                               long_id);
    g_autoptr(WzpMessage) ringing_valid = _wzp_message_new_for_call (WZP_MESSAGE_CALL_RINGING,
                                                                     "no-such-call");

    wzp_test_client_send (a, ringing);
    expect_small_error (a, WZP_ERROR_CODE_UNKNOWN_CALL, NULL);
    wzp_test_client_send (a, ringing_valid);
    expect_small_error (a, WZP_ERROR_CODE_UNKNOWN_CALL, "no-such-call");
  }

  /* An offer with a call id the relay refuses. */
  {
    g_autoptr(WzpMessage) offer = wzp_test_make_offer (long_id,
                                                       wzp_test_client_fingerprint (b));

    wzp_test_client_send (a, offer);
    expect_small_error (a, WZP_ERROR_CODE_BAD_MESSAGE, NULL);
  }

  /* Values the decoder refuses are quoted, bounded; the call id is valid, so it stays. */
  {
    g_autoptr(WzpMessage) offer = wzp_test_make_offer ("call-1",
                                                       wzp_test_client_fingerprint (b));

    _wzp_message_set_string (offer, "caller_reflexive_addr", long_text);
    wzp_test_client_send (a, offer);
    expect_small_error (a, WZP_ERROR_CODE_BAD_MESSAGE, NULL);
  }
  {
    g_autofree char *text = g_strdup_printf ("{\"type\":\"%s\"}", long_id);

    send_frame_text (a, text, -1);
    expect_small_error (a, WZP_ERROR_CODE_BAD_MESSAGE, NULL);
  }

  /* FederationHello from a client: refused and closed, without its call_id. */
  {
    g_autoptr(WzpMessage) hello = _wzp_message_new (WZP_MESSAGE_FEDERATION_HELLO);

    _wzp_message_set_string (hello, "relay_fingerprint", wzp_test_client_fingerprint (anon));
    _wzp_message_set_string (hello, "relay_version", "test");
    _wzp_message_set_string (hello, "call_id", long_id);
    wzp_test_client_send (anon, hello);
    expect_small_error (anon, "not_a_peer", NULL);
    wzp_test_client_wait_closed (anon);
  }

  g_assert_true (wzp_test_client_quiet (b, 50));
  check_bystander (f, a);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  ADD ("bad-input", test_bad_input);
  ADD ("log-rate-limit", test_log_rate_limit);
  ADD ("log-client-text", test_log_client_text);
  ADD ("log-refusals", test_log_refusals);
  ADD ("no-echo", test_no_echo);

  return g_test_run ();
}
