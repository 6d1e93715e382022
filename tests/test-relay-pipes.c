/* test-relay-pipes.c: relay pipes: opening and matching them with their tokens, waiting
 * for the other party, and leaving nothing behind call after call
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <sys/socket.h>

#include "relay-fixture.h"
#include "wzp-relay-private.h"

/* The relay runs in this process: its end of @conn is the socket here whose peer is
 * @conn's local address. Returns its SO_@which buffer size, or -1 when none is found. */
static int
relay_side_buffer (GSocketConnection *conn,
                   int                which)
{
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (conn, NULL);
  struct sockaddr_storage want, peer;
  socklen_t want_len = sizeof want;

  g_assert_true (g_socket_address_to_native (local, &want, sizeof want, NULL));
  want_len = g_socket_address_get_native_size (local);
  for (int fd = 3; fd < 4096; fd++)
    {
      socklen_t len = sizeof peer;
      int size = 0;
      socklen_t size_len = sizeof size;

      if (getpeername (fd, (struct sockaddr *) &peer, &len) == 0 && len == want_len &&
          memcmp (&peer, &want, len) == 0 &&
          getsockopt (fd, SOL_SOCKET, which, &size, &size_len) == 0)
        return size;
    }
  return -1;
}

static void
test_pipe_forwarding (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  g_autofree char *token_a = token_for (setup_a, 1);
  g_autofree char *token_b = token_for (setup_b, 1);
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) pipe_b = NULL;
  g_autoptr(WzpMessage) requested = NULL;
  g_autoptr(WzpMessage) ready_a = NULL;
  g_autoptr(WzpMessage) ready_b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) calls = NULL;
  gboolean relayed = FALSE;

  /* The first pipe brings PipeRequested to the other party. */
  pipe_a = wzp_test_pipe_open (_wzp_message_get_string (setup_a, "pipe_addr"), call_id, token_a, 1);
  requested = wzp_test_client_expect (b, WZP_MESSAGE_PIPE_REQUESTED);
  g_assert_cmpstr (_wzp_message_get_string (requested, "call_id"), ==, call_id);

  pipe_b = wzp_test_pipe_open (_wzp_message_get_string (setup_b, "pipe_addr"), call_id, token_b, 1);
  ready_a = pipe_read_frame (pipe_a, &error);
  g_assert_no_error (error);
  ready_b = pipe_read_frame (pipe_b, &error);
  g_assert_no_error (error);
  g_assert_cmpint (_wzp_message_get_message_type (ready_a), ==, WZP_MESSAGE_PIPE_READY);
  g_assert_cmpint (_wzp_message_get_message_type (ready_b), ==, WZP_MESSAGE_PIPE_READY);

  /* Bytes go both ways, untouched. */
  wzp_test_pipe_send_and_expect (pipe_a, pipe_b, "\x16\x03\x01 hello from the caller");
  wzp_test_pipe_send_and_expect (pipe_b, pipe_a, "\x17\x03\x03 and back from the callee");
  wzp_test_pipe_send_and_expect (pipe_a, pipe_b, "again");

  /* The relay's ends keep small buffers, so that audio cannot pile up in it: 16 KiB
   * asked, which Linux doubles, instead of 128 KiB and more (docs/voice.md). */
  g_assert_cmpint (relay_side_buffer (pipe_a, SO_RCVBUF), ==, 32768);
  g_assert_cmpint (relay_side_buffer (pipe_b, SO_SNDBUF), ==, 32768);

  calls = g_variant_ref_sink (wzp_relay_list_calls (f->relay));
  {
    g_autoptr(GVariant) entry = g_variant_get_child_value (calls, 0);
    g_assert_true (g_variant_lookup (entry, "relayed", "b", &relayed));
    g_assert_true (relayed);
  }
}

static void
test_pipe_bad_tokens (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);
  const char *pipe_addr = _wzp_message_get_string (setup_a, "pipe_addr");
  g_autofree char *token_a = token_for (setup_a, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) requested = NULL;

  /* A wrong token: closed, nobody hears of it, nothing joins. */
  {
    g_autoptr(GSocketConnection) bogus =
      wzp_test_pipe_open (pipe_addr, call_id, "00000000000000000000000000000000", 1);
    g_autoptr(WzpMessage) none = pipe_read_frame (bogus, &error);

    g_assert_null (none);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
    g_clear_error (&error);
  }
  /* The raw secret from CallSetup is not a token either: it never crosses in clear. */
  {
    g_autoptr(GSocketConnection) bogus =
      wzp_test_pipe_open (pipe_addr, call_id, _wzp_message_get_string (setup_a, "pipe_token"), 1);
    g_autoptr(WzpMessage) none = pipe_read_frame (bogus, &error);

    g_assert_null (none);
    g_clear_error (&error);
  }
  g_assert_true (wzp_test_client_quiet (b, 50));

  /* A token is good for one pipe: using it again is refused and the party is told. */
  {
    g_autoptr(GSocketConnection) first = wzp_test_pipe_open (pipe_addr, call_id, token_a, 1);
    g_autoptr(GSocketConnection) again = NULL;
    g_autoptr(WzpMessage) none = NULL;

    requested = wzp_test_client_expect (b, WZP_MESSAGE_PIPE_REQUESTED);
    again = wzp_test_pipe_open (pipe_addr, call_id, token_a, 1);
    wzp_test_client_expect_error (a, WZP_ERROR_CODE_BAD_TOKEN);
    none = pipe_read_frame (again, &error);
    g_assert_null (none);
    g_clear_error (&error);
  }

  /* B's token cannot join a different call. */
  {
    g_autoptr(WzpTestClient) c = connect_registered (f, "Carol");
    g_autoptr(WzpTestClient) d = connect_registered (f, "Dave");
    g_autoptr(WzpMessage) setup_c = NULL;
    g_autoptr(WzpMessage) setup_d = NULL;
    g_autofree char *other_call = wzp_test_set_up_call (c, d, "AcceptTrusted", &setup_c, &setup_d);
    g_autofree char *token_b = token_for (setup_b, 1);
    g_autoptr(GSocketConnection) cross = wzp_test_pipe_open (pipe_addr, other_call, token_b, 1);
    g_autoptr(WzpMessage) none = pipe_read_frame (cross, &error);

    g_assert_null (none);
    g_clear_error (&error);
    g_assert_true (wzp_test_client_quiet (d, 50));
  }
}

static void
test_pipe_wait_timeout (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);
  g_autofree char *token_a = token_for (setup_a, 1);
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(WzpMessage) requested = NULL;
  g_autoptr(WzpMessage) none = NULL;
  g_autoptr(GError) error = NULL;

  g_object_set (f->relay, "pipe-wait-timeout", 1, NULL);
  pipe_a = wzp_test_pipe_open (_wzp_message_get_string (setup_a, "pipe_addr"), call_id, token_a, 1);
  requested = wzp_test_client_expect (b, WZP_MESSAGE_PIPE_REQUESTED);
  wzp_test_client_expect_error (a, WZP_ERROR_CODE_PIPE_TIMEOUT);
  none = pipe_read_frame (pipe_a, &error);
  g_assert_null (none);

  /* The next pipe, with the next token, still works once both come. */
  {
    g_autofree char *token_a2 = token_for (setup_a, 2);
    g_autofree char *token_b = token_for (setup_b, 1);
    g_autoptr(GSocketConnection) p1 = NULL;
    g_autoptr(GSocketConnection) p2 = NULL;
    g_autoptr(WzpMessage) r1 = NULL;
    g_autoptr(WzpMessage) r2 = NULL;
    g_autoptr(WzpMessage) requested2 = NULL;

    g_clear_error (&error);
    p1 = wzp_test_pipe_open (_wzp_message_get_string (setup_a, "pipe_addr"), call_id, token_a2, 2);
    requested2 = wzp_test_client_expect (b, WZP_MESSAGE_PIPE_REQUESTED);
    p2 = wzp_test_pipe_open (_wzp_message_get_string (setup_b, "pipe_addr"), call_id, token_b, 1);
    r1 = pipe_read_frame (p1, &error);
    g_assert_no_error (error);
    r2 = pipe_read_frame (p2, &error);
    g_assert_no_error (error);
    wzp_test_pipe_send_and_expect (p1, p2, "second pipe");
  }
}

static void
test_no_growth (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  guint fds_before = 0;

  for (guint i = 0; i < 30; i++)
    {
      g_autoptr(WzpMessage) setup_a = NULL;
      g_autoptr(WzpMessage) setup_b = NULL;
      g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
      g_autofree char *ta = token_for (setup_a, 1);
      g_autofree char *tb = token_for (setup_b, 1);
      g_autoptr(GSocketConnection) pa = wzp_test_pipe_open (
        _wzp_message_get_string (setup_a, "pipe_addr"), call_id, ta, 1);
      g_autoptr(GSocketConnection) pb = wzp_test_pipe_open (
        _wzp_message_get_string (setup_b, "pipe_addr"), call_id, tb, 1);
      g_autoptr(WzpMessage) requested = wzp_test_client_expect (b, WZP_MESSAGE_PIPE_REQUESTED);
      g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);
      g_autoptr(WzpMessage) got = NULL;

      g_autoptr(WzpMessage) ready_a = pipe_read_frame (pa, NULL);
      g_autoptr(WzpMessage) ready_b = pipe_read_frame (pb, NULL);

      g_assert_nonnull (ready_a);
      g_assert_nonnull (ready_b);
      wzp_test_pipe_send_and_expect (pa, pb, "x");
      _wzp_message_set_string (hangup, "reason", "Normal");
      wzp_test_client_send (b, hangup);
      got = wzp_test_client_expect (a, WZP_MESSAGE_HANGUP);
      g_io_stream_close (G_IO_STREAM (pa), NULL, NULL);
      g_io_stream_close (G_IO_STREAM (pb), NULL, NULL);
      if (i == 4)
        fds_before = wzp_test_count_fds ();
    }
  wzp_test_spin (50);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
  g_assert_cmpuint (g_hash_table_size (f->relay->pipes), ==, 0);
  g_assert_cmpuint (wzp_test_count_fds (), <=, fds_before);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  ADD ("pipe-forwarding", test_pipe_forwarding);
  ADD ("pipe-bad-tokens", test_pipe_bad_tokens);
  ADD ("pipe-wait-timeout", test_pipe_wait_timeout);
  ADD ("no-growth", test_no_growth);

  return g_test_run ();
}
