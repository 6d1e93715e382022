/* test-call-race.c: the candidate race when direct candidates are dead, too many,
 * someone else's or already taken: every attempt reported, the relay carries the call
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "call-fixture.h"
#include "wzp-race-private.h"
#include "wzp-relay-private.h"
#include "wzp-tls-private.h"

/* A result that starts with @text and whose reason contains @reason. */
static gboolean
has_result_with (GPtrArray  *results,
                 const char *text,
                 const char *reason)
{
  for (guint i = 0; i < results->len; i++)
    {
      const char *entry = g_ptr_array_index (results, i);

      if (g_str_has_prefix (entry, text) && strstr (entry + strlen (text), reason) != NULL)
        return TRUE;
    }
  return FALSE;
}

/* Calls with the CallSetup candidates replaced; returns the caller's results. */
static GPtrArray *
call_with_candidates (Fixture           *f,
                      const Candidates  *candidates,
                      WzpPathKind        expected)
{
  WzpClient *a = connected_client (f, "Alice");
  WzpClient *b = connected_client (f, "Bob");
  GPtrArray *results = g_ptr_array_new_with_free_func (g_free);
  Callee callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE, .results = results };
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = NULL;
  WzpTestResult r = { 0 };

  _wzp_relay_set_setup_filter (f->relay, replace_candidates, (gpointer) candidates);
  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  wzp_client_place_call_async (a, wzp_identity_get_fingerprint (wzp_client_get_identity (b)),
                               NULL, wzp_test_placed_cb, &r);
  /* Connect to the call's results as soon as it exists: the first outgoing call. */
  wzp_test_wait_flag (&r.done, 15000);
  g_assert_no_error (r.error);
  call = WZP_CALL (r.object);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, expected);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_path_kind (callee.call), ==, expected);
  wzp_test_spin (200);

  wzp_call_hangup (call);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ENDED);
  _wzp_relay_set_setup_filter (f->relay, NULL, NULL);
  callee_clear (&callee);
  disconnect_and_free (a);
  disconnect_and_free (b);
  return results;
}

static void
test_dead_candidates_relay_wins (Fixture       *f,
                                 gconstpointer  data)
{
  /* Port 1 on loopback refuses at once; 192.0.2.1 (TEST-NET-1, public IPv4, on another
   * port) is never dialled as a host candidate. */
  const char * const locals[] = { "127.0.0.1:1", "192.0.2.1:9", NULL };
  Candidates candidates = { locals, "192.0.2.2:9" };
  g_autoptr(GPtrArray) results = call_with_candidates (f, &candidates, WZP_PATH_KIND_RELAY);

  /* Every outcome is reported: the refused dial failed, the relay pipe made it. */
  g_assert_true (has_result (results, "host 127.0.0.1:1 failed"));
  g_assert_true (has_result (results, "relay "));
}

/* A listener that keeps every connection it gets: it counts dials. */
typedef struct
{
  GSocketService *service;
  guint16         port;
  GPtrArray      *conns;
} Sink;

static gboolean
sink_incoming_cb (GSocketService    *service,
                  GSocketConnection *conn,
                  GObject           *source,
                  Sink              *sink)
{
  g_ptr_array_add (sink->conns, g_object_ref (conn));
  return TRUE;
}

static void
sink_start (Sink *sink)
{
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  sink->conns = g_ptr_array_new_with_free_func (g_object_unref);
  sink->service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (sink->service), any, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  sink->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (sink->service, "incoming", G_CALLBACK (sink_incoming_cb), sink);
}

static void
sink_stop (Sink *sink)
{
  g_socket_service_stop (sink->service);
  g_socket_listener_close (G_SOCKET_LISTENER (sink->service));
  for (guint i = 0; i < sink->conns->len; i++)
    g_io_stream_close (g_ptr_array_index (sink->conns, i), NULL, NULL);
  wzp_test_spin (20);
  g_ptr_array_unref (sink->conns);
  g_object_unref (sink->service);
}

static void
lying_setup (WzpMessage *setup,
             gpointer    data)
{
  const char * const none[] = { NULL };

  /* Nothing else to dial: the relay pipe carries the call, and the dials all run. */
  _wzp_message_set_string (setup, "peer_direct_addr", NULL);
  if (g_strcmp0 (_wzp_message_get_string (setup, "role"), "callee") == 0)
    _wzp_message_set_strv (setup, "peer_local_addrs", data);
  else
    _wzp_message_set_strv (setup, "peer_local_addrs", none);
}

/* A lying relay gives the callee 3,000 "host candidates" of the caller: loopback ones on
 * a port that counts dials, one on another port, and addresses no host candidate can
 * have. The callee looks at the first 16 only and dials those a host candidate can be,
 * on the first one's port (docs/candidates.md, "Dialling the peer's host candidates"). */
static void
test_setup_candidates_capped (Fixture       *f,
                              gconstpointer  data)
{
  Sink sink = { 0 };
  Sink other_port = { 0 };
  WzpClient *a = NULL;
  WzpClient *b = NULL;
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func (g_free);
  Callee callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE, .results = results };
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) lies = NULL;
  g_auto(GStrv) kept = NULL;
  g_autofree char *target = NULL;
  g_autofree char *wrong_port = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = NULL;
  guint n_host = 0;

  sink_start (&sink);
  sink_start (&other_port);
  target = g_strdup_printf ("127.0.0.1:%u", sink.port);
  wrong_port = g_strdup_printf ("127.0.0.1:%u", other_port.port);
  g_strv_builder_add (builder, target);
  g_strv_builder_add (builder, wrong_port);
  for (guint i = 0; i < 7; i++)
    {
      const char *bad[] = { "0.0.0.0", "224.0.0.1", "169.254.1.1", "[fe80::1]", "[ff02::1]",
                            "255.255.255.255", "192.0.2.1" };
      g_autofree char *address = g_strdup_printf ("%s:%u", bad[i], sink.port);

      g_strv_builder_add (builder, address);
    }
  for (guint i = 2 + 7; i < 3000; i++)
    g_strv_builder_add (builder, target);
  lies = g_strv_builder_end (builder);

  a = connected_client (f, "Alice");
  b = connected_client (f, "Bob");
  _wzp_relay_set_setup_filter (f->relay, lying_setup, lies);
  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  call = place_call (a, b, &error);
  g_assert_no_error (error);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ACTIVE);

  /* Of the first 16: the sink's address and the 7 copies after the bad ones. */
  kept = wzp_call_dup_peer_local_addresses (callee.call);
  g_assert_cmpuint (g_strv_length (kept), ==, 8);
  for (guint i = 0; kept[i] != NULL; i++)
    g_assert_cmpstr (kept[i], ==, target);

  g_assert_cmpint (wzp_call_get_path_kind (callee.call), ==, WZP_PATH_KIND_RELAY);

  /* The dials are paced (WZP_RACE_PACING_MS): 3,000 would take 6 s; leave time for many
   * more than 16 before counting. */
  wzp_test_spin (500);
  g_assert_cmpuint (sink.conns->len, >=, 1);
  g_assert_cmpuint (sink.conns->len, <=, WZP_MAX_HOST_CANDIDATES);
  g_assert_cmpuint (other_port.conns->len, ==, 0);

  wzp_call_hangup (call);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ENDED);
  wzp_test_spin (200);
  _wzp_relay_set_setup_filter (f->relay, NULL, NULL);

  /* Every host attempt reported went to the sink's address (whatever its outcome). */
  for (guint i = 0; i < results->len; i++)
    {
      const char *entry = g_ptr_array_index (results, i);
      g_autofree char *prefix = g_strdup_printf ("host %s ", target);

      if (!g_str_has_prefix (entry, "host "))
        continue;
      g_assert_true (g_str_has_prefix (entry, prefix));
      n_host++;
    }
  g_assert_cmpuint (n_host, <=, WZP_MAX_HOST_CANDIDATES);
  g_assert_cmpuint (sink.conns->len, <=, WZP_MAX_HOST_CANDIDATES);
  g_assert_cmpuint (other_port.conns->len, ==, 0);

  callee_clear (&callee);
  disconnect_and_free (a);
  disconnect_and_free (b);
  sink_stop (&sink);
  sink_stop (&other_port);
}

/* A "wrong host": something at a peer candidate that answers the preamble but is not the
 * peer (the same private address on another LAN). Its TLS identity fails the pin. */
typedef struct
{
  GSocketService *service;
  WzpIdentity    *identity;
  char           *address;
  guint           handshakes_failed;
} Impostor;

typedef struct
{
  Impostor          *impostor;
  GSocketConnection *conn;
  GIOStream         *tls;
  guint8             preamble[WZP_PREAMBLE_LEN];
} ImpostorConn;

static void
impostor_handshake_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  ImpostorConn *ic = user_data;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, NULL))
    ic->impostor->handshakes_failed++;
  g_io_stream_close (G_IO_STREAM (ic->conn), NULL, NULL);
  g_clear_object (&ic->tls);
  g_object_unref (ic->conn);
  g_free (ic);
}

static void
impostor_preamble_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  ImpostorConn *ic = user_data;
  gsize n = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n, NULL) ||
      n != WZP_PREAMBLE_LEN)
    {
      g_object_unref (ic->conn);
      g_free (ic);
      return;
    }
  /* Echo the preamble: it knows the call id hash, as a replaying attacker would. */
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (ic->conn)),
                             ic->preamble, n, NULL, NULL, NULL);
  ic->tls = _wzp_tls_server_new (G_IO_STREAM (ic->conn),
                                 wzp_identity_get_certificate (ic->impostor->identity),
                                 NULL, NULL);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (ic->tls), G_PRIORITY_DEFAULT, NULL,
                                    impostor_handshake_cb, ic);
}

static gboolean
impostor_incoming_cb (GSocketService    *service,
                      GSocketConnection *conn,
                      GObject           *source,
                      Impostor          *impostor)
{
  ImpostorConn *ic = g_new0 (ImpostorConn, 1);

  ic->impostor = impostor;
  ic->conn = g_object_ref (conn);
  g_input_stream_read_all_async (g_io_stream_get_input_stream (G_IO_STREAM (conn)),
                                 ic->preamble, WZP_PREAMBLE_LEN, G_PRIORITY_DEFAULT, NULL,
                                 impostor_preamble_cb, ic);
  return TRUE;
}

static void
test_wrong_host_loses (Fixture       *f,
                       gconstpointer  data)
{
  Impostor impostor = { 0 };
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) results = NULL;
  const char *locals[2] = { NULL, NULL };
  Candidates candidates = { locals, NULL };

  impostor.identity = wzp_test_identity_new ();
  impostor.service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (impostor.service), any,
                                 G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL, &bound,
                                 &error);
  g_assert_no_error (error);
  impostor.address = _wzp_address_to_string (bound);
  g_signal_connect (impostor.service, "incoming", G_CALLBACK (impostor_incoming_cb), &impostor);
  locals[0] = impostor.address;

  /* The impostor's path fails the pin; the race goes on and the relay carries the call. */
  results = call_with_candidates (f, &candidates, WZP_PATH_KIND_RELAY);
  g_assert_cmpuint (impostor.handshakes_failed, >=, 1);
  {
    /* (The callee is a TLS server like the impostor, so its own attempt there just
     * waits until the race is cancelled: it must never succeed.) */
    g_autofree char *ok = g_strdup_printf ("host %s ok", impostor.address);
    g_assert_false (has_result (results, ok));
    g_assert_true (has_result (results, "relay "));
  }

  g_socket_service_stop (impostor.service);
  g_socket_listener_close (G_SOCKET_LISTENER (impostor.service));
  wzp_test_spin (20);
  g_object_unref (impostor.service);
  g_object_unref (impostor.identity);
  g_free (impostor.address);
}

/* A peer candidate that answers with another call's preamble (the same private address
 * on another LAN, in a call of its own): the attempt fails there, saying why, and the
 * race goes on. The connections stay open, so only the check can fail them. */
typedef struct
{
  GSocketService *service;
  char           *address;
  GPtrArray      *conns;
} WrongPreamble;

static gboolean
wrong_preamble_incoming_cb (GSocketService    *service,
                            GSocketConnection *conn,
                            GObject           *source,
                            WrongPreamble     *wp)
{
  guint8 preamble[WZP_PREAMBLE_LEN];

  _wzp_preamble_build ("another call", preamble);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), preamble,
                             sizeof preamble, NULL, NULL, NULL);
  g_ptr_array_add (wp->conns, g_object_ref (conn));
  return TRUE;
}

static void
test_wrong_preamble_loses (Fixture       *f,
                           gconstpointer  data)
{
  WrongPreamble wp = { 0 };
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) results = NULL;
  g_autofree char *failed = NULL;
  const char *locals[2] = { NULL, NULL };
  Candidates candidates = { locals, NULL };

  wp.conns = g_ptr_array_new_with_free_func (g_object_unref);
  wp.service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (wp.service), any, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  wp.address = _wzp_address_to_string (bound);
  g_signal_connect (wp.service, "incoming", G_CALLBACK (wrong_preamble_incoming_cb), &wp);
  locals[0] = wp.address;

  /* Both parties dial it (the caller as the TLS client, which sends its ClientHello
   * without waiting; the callee as the server); both attempts fail on the preamble, and
   * the relay carries the call. */
  results = call_with_candidates (f, &candidates, WZP_PATH_KIND_RELAY);
  failed = g_strdup_printf ("host %s failed", wp.address);
  g_assert_true (has_result_with (results, failed, "wrong or missing preamble"));
  g_assert_true (has_result (results, "relay "));
  g_assert_cmpuint (wp.conns->len, >=, 1);

  g_socket_service_stop (wp.service);
  g_socket_listener_close (G_SOCKET_LISTENER (wp.service));
  for (guint i = 0; i < wp.conns->len; i++)
    g_io_stream_close (g_ptr_array_index (wp.conns, i), NULL, NULL);
  wzp_test_spin (20);
  g_ptr_array_unref (wp.conns);
  g_object_unref (wp.service);
  g_free (wp.address);
}

static guint
count_results (GPtrArray  *results,
               const char *text)
{
  guint n = 0;

  for (guint i = 0; i < results->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (results, i), text))
      n++;
  return n;
}

/* A dial from P whose 4-tuple is already taken by a connection that is not the peer's
 * (here the client's own signalling connection: the relay's address is given as the
 * peer's reflexive one) reports "merged", waits a moment for the peer's connection, and
 * then counts as failed, so the relay carries the call without waiting for the head
 * start; the dial is tried again later, while the call runs on the relay. */
static void
test_merged_dial_deadline (Fixture       *f,
                           gconstpointer  data)
{
  const char * const none[] = { NULL };
  Candidates candidates = { none, f->address };
  g_autofree char *merged = g_strdup_printf ("reflexive %s merged", f->address);
  g_autofree char *failed = g_strdup_printf ("reflexive %s failed", f->address);
  WzpClient *a = connected_client (f, "Alice");
  WzpClient *b = connected_client (f, "Bob");
  Follow follow = { g_ptr_array_new_with_free_func (g_free), 0 };
  Callee callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE };
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = NULL;
  gint64 deadline;

  _wzp_relay_set_setup_filter (f->relay, replace_candidates, &candidates);
  g_signal_connect (a, "outgoing-call", G_CALLBACK (follow_outgoing_cb), &follow);
  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  call = place_call (a, b, &error);
  g_assert_no_error (error);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, WZP_PATH_KIND_RELAY);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ACTIVE);

  /* merged, failed after the deadline, and merged again on the first retry */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (count_results (follow.results, merged) < 2 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpuint (count_results (follow.results, merged), >=, 2);
  g_assert_true (has_result_with (follow.results, failed, "did not come"));
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, WZP_PATH_KIND_RELAY);
  g_assert_cmpuint (follow.changes, ==, 1);

  wzp_call_hangup (call);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ENDED);
  _wzp_relay_set_setup_filter (f->relay, NULL, NULL);
  callee_clear (&callee);
  g_ptr_array_unref (follow.results);
  disconnect_and_free (a);
  disconnect_and_free (b);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  ADD ("dead-candidates-relay-wins", test_dead_candidates_relay_wins);
  ADD ("wrong-host-loses", test_wrong_host_loses);
  ADD ("setup-candidates-capped", test_setup_candidates_capped);
  ADD ("wrong-preamble-loses", test_wrong_preamble_loses);
  ADD ("merged-dial-deadline", test_merged_dial_deadline);

  return g_test_run ();
}
