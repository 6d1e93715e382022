/* test-call-recovery.c: losing the relay or the network: the client reconnects,
 * and a call goes on (on the relay when an address is lost, on its own path when
 * signalling is lost or the relay restarts)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <sys/socket.h>

#include "call-fixture.h"
#include "wzp-call-private.h"
#include "wzp-client-private.h"
#include "wzp-relay-private.h"
#include "wzp-tls-private.h"

static void
test_reconnect_after_restart (Fixture       *f,
                              gconstpointer  data)
{
  WzpClient *client = connected_client (f, "Alice");
  g_autoptr(GPtrArray) states = g_ptr_array_new ();
  g_autofree char *address = g_strdup (f->address);
  gint64 deadline;

  g_signal_connect (client, "notify::state", G_CALLBACK (notify_state_cb), states);

  /* The relay goes away and comes back on the same address with the same identity. It
   * is restarted at once, while the port is surely still free (parallel tests take
   * ephemeral ports); the client notices the loss and reconnects with backoff. */
  wzp_relay_stop (f->relay);
  wzp_test_finalize_object (g_steal_pointer (&f->relay));
  start_relay (f, address);

  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while ((states->len == 0 || wzp_client_get_state (client) != WZP_CLIENT_STATE_CONNECTED) &&
         g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (states->len, >=, 2);
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (states, 0)), ==,
                   WZP_CLIENT_STATE_RECONNECTING);
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_CONNECTED);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 1);

  disconnect_and_free (client);
}

/* A relay that acknowledges the registration and then never reads again, with a small
 * receive buffer: what the client writes backs up after a few MB in the kernel. */
typedef struct
{
  GSocketService    *service;
  WzpIdentity       *identity;
  GSocketConnection *conn;      /* the first connection; later ones are refused */
  GIOStream         *tls;
  WzpFrameIO        *io;
  gboolean           acked;
} DeafRelay;

static void
deaf_relay_read_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  DeafRelay *deaf = user_data;
  g_autoptr(WzpMessage) presence = _wzp_frame_io_read_finish (deaf->io, result, NULL);
  g_autoptr(WzpMessage) ack = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE_ACK);

  g_assert_nonnull (presence);
  _wzp_message_set_bool (ack, "success", TRUE);
  _wzp_message_set_string (ack, "fingerprint",
                           _wzp_tls_connection_get_peer_fingerprint (deaf->tls));
  _wzp_message_set_string (ack, "observed_addr", "127.0.0.1:1");
  _wzp_message_set_string (ack, "relay_fingerprint",
                           wzp_identity_get_fingerprint (deaf->identity));
  _wzp_message_set_string (ack, "relay_version", "test");
  _wzp_frame_io_send (deaf->io, ack);
  deaf->acked = TRUE;
  /* And no more reads. */
}

static void
deaf_relay_handshake_cb (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  DeafRelay *deaf = user_data;
  g_autoptr(GError) error = NULL;

  g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error);
  g_assert_no_error (error);
  deaf->io = _wzp_frame_io_new (deaf->tls);
  _wzp_frame_io_read_async (deaf->io, NULL, deaf_relay_read_cb, deaf);
}

static gboolean
deaf_relay_incoming_cb (GSocketService    *service,
                        GSocketConnection *conn,
                        GObject           *source,
                        DeafRelay         *deaf)
{
  int small = 4096;

  if (deaf->conn != NULL)
    return FALSE;
  deaf->conn = g_object_ref (conn);
  g_assert_no_errno (setsockopt (g_socket_get_fd (g_socket_connection_get_socket (conn)),
                                 SOL_SOCKET, SO_RCVBUF, &small, sizeof small));
  deaf->tls = _wzp_tls_server_new (G_IO_STREAM (conn),
                                   wzp_identity_get_certificate (deaf->identity), NULL, NULL);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (deaf->tls), G_PRIORITY_DEFAULT, NULL,
                                    deaf_relay_handshake_cb, deaf);
  return TRUE;
}

/* A relay that stops reading cannot grow the client without bound: once its queue is
 * full, the client drops the connection and reconnects. */
static void
test_relay_not_reading (void)
{
  DeafRelay deaf = { 0 };
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) states = g_ptr_array_new ();
  g_autofree char *address = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *padding = g_strnfill (60000, 'p');
  WzpClient *client;
  WzpTestResult r = { 0 };
  gint64 deadline;
  guint sent = 0;

  deaf.identity = wzp_test_identity_new ();
  deaf.service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (deaf.service), any, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  g_signal_connect (deaf.service, "incoming", G_CALLBACK (deaf_relay_incoming_cb), &deaf);
  address = _wzp_address_to_string (bound);
  uri = g_strdup_printf ("wzps://%s#%s", address, wzp_identity_get_fingerprint (deaf.identity));

  client = new_client (uri, "Alice");
  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_no_error (r.error);
  g_assert_true (deaf.acked);
  g_signal_connect (client, "notify::state", G_CALLBACK (notify_state_cb), states);

  /* 60 KB messages (a CandidateUpdate with padding) until the client gives up. */
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (states->len == 0)
    {
      g_autoptr(WzpMessage) update = _wzp_message_new_for_call (WZP_MESSAGE_CANDIDATE_UPDATE,
                                                                "call-1");

      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      _wzp_message_set_string (update, "x_pad", padding);
      _wzp_client_send (client, update);
      sent++;
      wzp_test_spin (1);
    }
  g_test_message ("gave up after %u messages (%u KB)", sent, sent * 60);
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (states, 0)), ==,
                   WZP_CLIENT_STATE_RECONNECTING);

  g_signal_handlers_disconnect_by_func (client, notify_state_cb, states);
  disconnect_and_free (client);
  g_socket_service_stop (deaf.service);
  g_socket_listener_close (G_SOCKET_LISTENER (deaf.service));
  g_clear_object (&deaf.io);
  g_clear_object (&deaf.tls);
  if (deaf.conn != NULL)
    g_io_stream_close (G_IO_STREAM (deaf.conn), NULL, NULL);
  g_clear_object (&deaf.conn);
  wzp_test_spin (20);
  g_object_unref (deaf.service);
  g_object_unref (deaf.identity);
}

/* Records each value WzpCall:reconnecting takes, as 'y' and 'n'. */
static void
reconnecting_cb (WzpCall    *call,
                 GParamSpec *pspec,
                 GString    *seen)
{
  g_string_append_c (seen, wzp_call_get_reconnecting (call) ? 'y' : 'n');
}

/* One side's network changed and the address its direct path used is gone: the call
 * moves to the relay at once, without waiting for the path to fall silent (here it
 * would not: loopback stays). On the caller's side it nominates the pipe itself; on the
 * callee's, the pipe it opens asks the caller to (PipeRequested). */
static void
check_lost_address (Fixture  *f,
                    gboolean  on_callee)
{
  const char * const other_network[] = { "192.0.2.99", "2001:db8::99", NULL };
  WzpClient *a = connected_client (f, "Alice");
  WzpClient *b = connected_client (f, "Bob");
  Callee callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE };
  CallWatch watch_a = { 0 };
  CallWatch watch_b = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = NULL;
  g_autoptr(GString) reconnecting = g_string_new (NULL);

  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  call = place_call (a, b, &error);
  g_assert_no_error (error);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, WZP_PATH_KIND_DIRECT_LAN);
  g_assert_false (wzp_call_get_reconnecting (call));
  watch_call (call, &watch_a);
  watch_call (callee.call, &watch_b);
  g_signal_connect (on_callee ? callee.call : call, "notify::reconnecting",
                    G_CALLBACK (reconnecting_cb), reconnecting);

  /* Still ours: nothing happens. */
  {
    const char * const same[] = { "127.0.0.1", "::1", NULL };

    _wzp_call_network_changed (on_callee ? callee.call : call, same);
    wzp_test_spin (100);
    g_assert_cmpuint (watch_a.path_changes + watch_b.path_changes, ==, 0);
  }

  _wzp_call_network_changed (on_callee ? callee.call : call, other_network);
  wait_path_kind (call, WZP_PATH_KIND_RELAY);
  wait_path_kind (callee.call, WZP_PATH_KIND_RELAY);
  /* The side that lost its path said so while it looked for another, and no longer
   * once the relay path was agreed. */
  g_assert_cmpstr (reconnecting->str, ==, "yn");
  g_assert_false (watch_a.ended || watch_b.ended);
  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_state (callee.call), ==, WZP_CALL_STATE_ACTIVE);

  g_signal_handlers_disconnect_by_data (on_callee ? callee.call : call, reconnecting);
  wzp_call_hangup (callee.call);
  wzp_test_wait_call_state (call, WZP_CALL_STATE_ENDED);
  g_assert_cmpint (wzp_call_get_end_reason (call), ==, WZP_HANGUP_REASON_NORMAL);
  callee_clear (&callee);
  disconnect_and_free (a);
  disconnect_and_free (b);
}

static void
test_lost_address_falls_back (Fixture       *f,
                              gconstpointer  data)
{
  check_lost_address (f, FALSE);
}

static void
test_lost_address_falls_back_callee (Fixture       *f,
                                     gconstpointer  data)
{
  check_lost_address (f, TRUE);
}

/* One party's relay connection drops mid-call (the relay stays): the call goes on over
 * its own path, the party registers again and the relay re-attaches the call (its grace
 * period); the peer was told PeerSignallingLost, never Hangup. */
static void
test_signalling_lost_call_goes_on (Fixture       *f,
                                   gconstpointer  data)
{
  WzpClient *a = connected_client (f, "Alice");
  WzpClient *b = connected_client (f, "Bob");
  Callee callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE };
  g_autoptr(GPtrArray) states = g_ptr_array_new ();
  CallWatch watch_a = { 0 };
  CallWatch watch_b = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = NULL;
  RelayConn *conn;

  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  call = place_call (a, b, &error);
  g_assert_no_error (error);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ACTIVE);
  watch_call (call, &watch_a);
  watch_call (callee.call, &watch_b);
  g_signal_connect (a, "notify::state", G_CALLBACK (notify_state_cb), states);

  conn = _wzp_relay_lookup_conn (f->relay,
                                 wzp_identity_get_fingerprint (wzp_client_get_identity (a)));
  g_assert_nonnull (conn);
  g_socket_shutdown (g_socket_connection_get_socket (conn->socket_conn), TRUE, TRUE, NULL);

  wait_reregistered (a, states);
  wzp_test_spin (200);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 1);
  g_assert_false (watch_a.ended || watch_b.ended);
  g_assert_cmpuint (watch_a.path_changes + watch_b.path_changes, ==, 0);
  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_state (callee.call), ==, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, WZP_PATH_KIND_DIRECT_LAN);

  /* The relay knows the call again: the hang-up ends it there too. */
  wzp_call_hangup (callee.call);
  wzp_test_wait_call_state (call, WZP_CALL_STATE_ENDED);
  g_assert_cmpint (wzp_call_get_end_reason (call), ==, WZP_HANGUP_REASON_NORMAL);
  wzp_test_spin (50);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
  callee_clear (&callee);
  disconnect_and_free (a);
  disconnect_and_free (b);
}

/* The relay dies mid-call (it forgets its calls and says nothing) and comes back: both
 * parties register again; the call, on its own direct path, goes on past the 3 s that
 * would end a dead path, and a hang-up still reaches the peer (over the call's path). */
static void
test_relay_restart_call_goes_on (Fixture       *f,
                                 gconstpointer  data)
{
  WzpClient *a = connected_client (f, "Alice");
  WzpClient *b = connected_client (f, "Bob");
  Callee callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE };
  g_autoptr(GPtrArray) states_a = g_ptr_array_new ();
  g_autoptr(GPtrArray) states_b = g_ptr_array_new ();
  g_autofree char *address = g_strdup (f->address);
  CallWatch watch_a = { 0 };
  CallWatch watch_b = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = NULL;

  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  call = place_call (a, b, &error);
  g_assert_no_error (error);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ACTIVE);
  watch_call (call, &watch_a);
  watch_call (callee.call, &watch_b);
  g_signal_connect (a, "notify::state", G_CALLBACK (notify_state_cb), states_a);
  g_signal_connect (b, "notify::state", G_CALLBACK (notify_state_cb), states_b);

  /* A crash: the relay's call state is gone, so nobody is sent a Hangup. (A graceful
   * stop hangs calls up on purpose.) */
  g_hash_table_remove_all (f->relay->calls);
  wzp_relay_stop (f->relay);
  wzp_test_finalize_object (g_steal_pointer (&f->relay));
  start_relay (f, address);

  wait_reregistered (a, states_a);
  wait_reregistered (b, states_b);
  wzp_test_spin (3500);
  g_assert_false (watch_a.ended || watch_b.ended);
  g_assert_cmpuint (watch_a.path_changes + watch_b.path_changes, ==, 0);
  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_state (callee.call), ==, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_path_kind (callee.call), ==, WZP_PATH_KIND_DIRECT_LAN);

  wzp_call_hangup (call);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ENDED);
  g_assert_cmpint (wzp_call_get_end_reason (callee.call), ==, WZP_HANGUP_REASON_NORMAL);
  callee_clear (&callee);
  disconnect_and_free (a);
  disconnect_and_free (b);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/wzp/call/relay-not-reading", test_relay_not_reading);
  g_test_add ("/wzp/call/reconnect-after-restart", Fixture, NULL, fixture_setup_fixed_port,
              test_reconnect_after_restart, fixture_teardown);
  ADD ("lost-address-falls-back", test_lost_address_falls_back);
  ADD ("lost-address-falls-back-callee", test_lost_address_falls_back_callee);
  ADD ("signalling-lost-call-goes-on", test_signalling_lost_call_goes_on);
  g_test_add ("/wzp/call/relay-restart-call-goes-on", Fixture, NULL, fixture_setup_fixed_port,
              test_relay_restart_call_goes_on, fixture_teardown);

  return g_test_run ();
}
