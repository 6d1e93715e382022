/* test-call.c: WzpClient and WzpCall against an in-process relay on loopback
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "test-util.h"
#include "wzp-client-private.h"
#include "wzp-race-private.h"
#include "wzp-relay-private.h"
#include "wzp-tls-private.h"

typedef struct
{
  WzpIdentity *relay_identity;
  WzpRelay    *relay;
  char        *uri;
  char        *address;
} Fixture;

static void
start_relay (Fixture    *f,
             const char *address)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) uris = NULL;
  g_auto(GStrv) listen = NULL;
  gint64 deadline = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;

  f->relay = wzp_relay_new (f->relay_identity);
  /* Restarting on the same port can briefly find it taken while the old relay's
   * connections wind down in the kernel; a real daemon restart would retry too. */
  while (!wzp_relay_listen (f->relay, address, NULL, &error) &&
         g_error_matches (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_LISTEN_FAILED) &&
         g_get_monotonic_time () < deadline)
    {
      g_clear_error (&error);
      wzp_test_spin (50);
    }
  g_assert_no_error (error);
  uris = wzp_relay_dup_uris (f->relay);
  listen = wzp_relay_dup_listen_addresses (f->relay);
  g_free (f->uri);
  g_free (f->address);
  f->uri = g_strdup (uris[0]);
  f->address = g_strdup (listen[0]);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->relay_identity = wzp_test_identity_new ();
  start_relay (f, "127.0.0.1:0");
}

/* For tests that restart the relay on the same address: a port below Linux's ephemeral
 * range (32768-60999), so no outgoing connection of a parallel test can take it while
 * the relay is down. */
static void
fixture_setup_fixed_port (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) uris = NULL;
  g_auto(GStrv) listen = NULL;

  f->relay_identity = wzp_test_identity_new ();
  f->relay = wzp_relay_new (f->relay_identity);
  for (guint attempt = 0; attempt < 50; attempt++)
    {
      g_autofree char *address = g_strdup_printf ("127.0.0.1:%d",
                                                  g_random_int_range (20000, 30000));

      g_clear_error (&error);
      if (wzp_relay_listen (f->relay, address, NULL, &error))
        break;
    }
  g_assert_no_error (error);
  uris = wzp_relay_dup_uris (f->relay);
  listen = wzp_relay_dup_listen_addresses (f->relay);
  f->uri = g_strdup (uris[0]);
  f->address = g_strdup (listen[0]);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->relay != NULL)
    {
      wzp_relay_stop (f->relay);
      wzp_test_finalize_object (f->relay);
    }
  g_clear_object (&f->relay_identity);
  g_free (f->uri);
  g_free (f->address);
}

typedef struct
{
  GObject  *object;
  GError   *error;
  gboolean  done;
} Result;

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Result *r = user_data;

  wzp_client_connect_finish (WZP_CLIENT (source), result, &r->error);
  r->done = TRUE;
}

static WzpClient *
new_client (const char *uri,
            const char *alias)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  WzpClient *client = wzp_client_new (identity);

  _wzp_client_set_test_loopback (client, TRUE);
  wzp_client_set_relay_uri (client, uri);
  wzp_client_set_alias (client, alias);
  return client;
}

static WzpClient *
connected_client (Fixture    *f,
                  const char *alias)
{
  WzpClient *client = new_client (f->uri, alias);
  Result r = { 0 };

  wzp_client_connect_async (client, NULL, connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_no_error (r.error);
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_CONNECTED);
  return client;
}

static void
disconnect_and_free (WzpClient *client)
{
  wzp_client_unregister (client);
  wzp_test_finalize_object (client);
}

/* The callee side: rings and answers every incoming call with a mode. */
typedef struct
{
  WzpAcceptMode  mode;
  gboolean       answer;
  WzpCall       *call;
  GError        *answer_error;
  gboolean       answered;
  GPtrArray     *results;     /* "kind address result" of the callee's attempts */
} Callee;

static void
answered_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Callee *callee = user_data;

  wzp_call_answer_finish (WZP_CALL (source), result, &callee->answer_error);
  callee->answered = TRUE;
}

static void result_cb (WzpCall    *call,
                       const char *address,
                       const char *kind,
                       const char *result,
                       const char *reason,
                       int         ms,
                       GPtrArray  *results);

static void
incoming_cb (WzpClient *client,
             WzpCall   *call,
             Callee    *callee)
{
  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_INCOMING);
  g_assert_cmpint (wzp_call_get_role (call), ==, WZP_CALL_ROLE_CALLEE);
  g_set_object (&callee->call, call);
  if (callee->results != NULL)
    g_signal_connect (call, "candidate-result", G_CALLBACK (result_cb), callee->results);
  wzp_call_ring (call);
  if (callee->answer)
    wzp_call_answer_async (call, callee->mode, NULL, answered_cb, callee);
}

static void
callee_clear (Callee *callee)
{
  g_clear_object (&callee->call);
  g_clear_error (&callee->answer_error);
}

static void
placed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Result *r = user_data;

  r->object = G_OBJECT (wzp_client_place_call_finish (WZP_CLIENT (source), result, &r->error));
  r->done = TRUE;
}

static WzpCall *
place_call (WzpClient  *caller,
            WzpClient  *callee,
            GError    **error)
{
  Result r = { 0 };
  const char *target = wzp_identity_get_fingerprint (wzp_client_get_identity (callee));

  wzp_client_place_call_async (caller, target, NULL, placed_cb, &r);
  wzp_test_wait_flag (&r.done, 15000);
  if (r.error != NULL)
    g_propagate_error (error, r.error);
  return (WzpCall *) r.object;
}

static void
wait_state (WzpCall      *call,
            WzpCallState  state)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (wzp_call_get_state (call) != state && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpint (wzp_call_get_state (call), ==, state);
}

static void
test_register (Fixture       *f,
               gconstpointer  data)
{
  WzpClient *client = connected_client (f, "Alice");
  g_autofree char *expected = g_strdup_printf ("127.0.0.1:%u", wzp_client_get_port (client));

  /* The relay connection leaves from the client's port P, so the observed address is
   * where P is reachable. */
  g_assert_cmpuint (wzp_client_get_port (client), >, 0);
  g_assert_cmpstr (wzp_client_get_observed_address (client), ==, expected);
  g_assert_null (wzp_client_get_error_message (client));
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 1);

  disconnect_and_free (client);
  wzp_test_spin (50);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 0);
}

static void
check_call (Fixture       *f,
            gboolean       caller_privacy,
            WzpAcceptMode  mode,
            gboolean       caller_hangs_up)
{
  WzpPathKind expected = (caller_privacy || mode == WZP_ACCEPT_MODE_PRIVACY)
                         ? WZP_PATH_KIND_RELAY : WZP_PATH_KIND_DIRECT_LAN;
  WzpClient *a = connected_client (f, "Alice");
  WzpClient *b = connected_client (f, "Bob");
  Callee callee = { .mode = mode, .answer = TRUE };
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = NULL;

  wzp_client_set_privacy (a, caller_privacy);
  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);

  call = place_call (a, b, &error);
  g_assert_no_error (error);
  g_assert_nonnull (call);
  wzp_test_wait_flag (&callee.answered, 5000);
  g_assert_no_error (callee.answer_error);

  /* Both sides agree on one path: with shared (loopback) host candidates a direct one
   * wins; in privacy mode the relay pipe is all there is. */
  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_ACTIVE);
  wait_state (callee.call, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, expected);
  g_assert_cmpint (wzp_call_get_path_kind (callee.call), ==, expected);
  g_assert_cmpint (wzp_call_get_time_to_path (call), >=, 0);
  g_assert_cmpstr (wzp_call_get_peer_fingerprint (callee.call), ==,
                   wzp_identity_get_fingerprint (wzp_client_get_identity (a)));
  g_assert_cmpstr (wzp_call_get_peer_alias (callee.call), ==, "Alice");
  g_assert_cmpstr (wzp_call_get_call_id (call), ==, wzp_call_get_call_id (callee.call));
  /* A privacy answer makes the call private on both sides; a private caller simply
   * shares nothing (the callee cannot tell, and needs not). */
  if (mode == WZP_ACCEPT_MODE_PRIVACY)
    g_assert_true (wzp_call_get_privacy (callee.call));
  if (caller_privacy || mode == WZP_ACCEPT_MODE_PRIVACY)
    g_assert_true (wzp_call_get_privacy (call));

  /* Hang-up from either side: the other learns within a second. */
  if (caller_hangs_up)
    {
      wzp_call_hangup (call);
      wait_state (callee.call, WZP_CALL_STATE_ENDED);
      g_assert_cmpint (wzp_call_get_end_reason (callee.call), ==, WZP_HANGUP_REASON_NORMAL);
    }
  else
    {
      wzp_call_hangup (callee.call);
      wait_state (call, WZP_CALL_STATE_ENDED);
      g_assert_cmpint (wzp_call_get_end_reason (call), ==, WZP_HANGUP_REASON_NORMAL);
    }
  wzp_test_spin (50);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);

  callee_clear (&callee);
  g_clear_object (&call);
  disconnect_and_free (a);
  disconnect_and_free (b);
}

static void
test_direct_call (Fixture       *f,
                 gconstpointer  data)
{
  check_call (f, FALSE, WZP_ACCEPT_MODE_TRUSTED, TRUE);
}

static void
test_callee_hangs_up (Fixture       *f,
                      gconstpointer  data)
{
  check_call (f, FALSE, WZP_ACCEPT_MODE_TRUSTED, FALSE);
}

static void
test_privacy_answer (Fixture       *f,
                     gconstpointer  data)
{
  check_call (f, FALSE, WZP_ACCEPT_MODE_PRIVACY, TRUE);
}

static void
test_privacy_caller (Fixture       *f,
                     gconstpointer  data)
{
  check_call (f, TRUE, WZP_ACCEPT_MODE_TRUSTED, FALSE);
}

static void
check_call_error (Fixture        *f,
                  WzpAcceptMode   mode,
                  gboolean        answer,
                  const char     *target,
                  WzpCallError    expected)
{
  WzpClient *a = connected_client (f, "Alice");
  WzpClient *b = connected_client (f, "Bob");
  Callee callee = { .mode = mode, .answer = answer };
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = NULL;
  Result r = { 0 };

  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  wzp_client_place_call_async (a, target ? target
                                         : wzp_identity_get_fingerprint (wzp_client_get_identity (b)),
                               NULL, placed_cb, &r);
  wzp_test_wait_flag (&r.done, 10000);
  g_assert_null (r.object);
  g_assert_error (r.error, WZP_CALL_ERROR, (int) expected);
  g_test_message ("%s", r.error->message);
  g_clear_error (&r.error);
  wzp_test_spin (50);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);

  callee_clear (&callee);
  disconnect_and_free (a);
  disconnect_and_free (b);
}

static void
test_reject (Fixture       *f,
             gconstpointer  data)
{
  check_call_error (f, WZP_ACCEPT_MODE_REJECT, TRUE, NULL, WZP_CALL_ERROR_DECLINED);
}

static void
test_timeout (Fixture       *f,
              gconstpointer  data)
{
  g_object_set (f->relay, "ring-timeout", 1, NULL);
  check_call_error (f, WZP_ACCEPT_MODE_TRUSTED, FALSE, NULL, WZP_CALL_ERROR_TIMEOUT);
}

static void
test_unknown_peer (Fixture       *f,
                   gconstpointer  data)
{
  check_call_error (f, WZP_ACCEPT_MODE_TRUSTED, TRUE,
                    "0123:4567:89ab:cdef:0123:4567:89ab:cdef", WZP_CALL_ERROR_UNKNOWN_PEER);
}

static void
test_busy (Fixture       *f,
           gconstpointer  data)
{
  WzpClient *c = connected_client (f, "Carol");
  WzpClient *b = connected_client (f, "Bob");
  WzpClient *a = connected_client (f, "Alice");
  Callee callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE };
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) first = NULL;
  g_autoptr(WzpCall) second = NULL;

  g_object_set (f->relay, "max-calls-per-client", 1, NULL);
  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  first = place_call (c, b, &error);
  g_assert_no_error (error);

  second = place_call (a, b, &error);
  g_assert_null (second);
  g_assert_error (error, WZP_CALL_ERROR, WZP_CALL_ERROR_BUSY);

  wzp_call_hangup (first);
  callee_clear (&callee);
  g_clear_object (&first);
  disconnect_and_free (a);
  disconnect_and_free (b);
  disconnect_and_free (c);
}

/* A lying relay: CallSetup names someone else as the peer. Both sides refuse, and no
 * path is ever established. */
static void
substitute_peer (WzpMessage *setup,
                 gpointer    data)
{
  _wzp_message_set_string (setup, "peer_fingerprint", data);
}

static void
test_lying_relay (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(WzpIdentity) mallory = wzp_test_identity_new ();
  WzpClient *a = connected_client (f, "Alice");
  WzpClient *b = connected_client (f, "Bob");
  Callee callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE };
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = NULL;

  _wzp_relay_set_setup_filter (f->relay, substitute_peer,
                               (gpointer) wzp_identity_get_fingerprint (mallory));
  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);

  call = place_call (a, b, &error);
  g_assert_null (call);
  g_assert_error (error, WZP_CALL_ERROR, WZP_CALL_ERROR_IMPERSONATION);
  wzp_test_wait_flag (&callee.answered, 5000);
  g_assert_error (callee.answer_error, WZP_CALL_ERROR, WZP_CALL_ERROR_IMPERSONATION);
  g_assert_cmpint (wzp_call_get_path_kind (callee.call), ==, WZP_PATH_KIND_NONE);
  wzp_test_spin (50);
  g_assert_cmpuint (g_hash_table_size (f->relay->pipes), ==, 0);

  callee_clear (&callee);
  disconnect_and_free (a);
  disconnect_and_free (b);
}

/* The relay cannot read a call: a recording proxy in front of the pipe port sees the
 * OpenPipe/PipeReady frames and then only TLS records. */
typedef struct
{
  GSocketService *service;
  char           *target;
  char           *listen;
  GByteArray     *to_relay;     /* after OpenPipe */
  GByteArray     *from_relay;   /* after PipeReady */
  GByteArray     *ignored;
  guint           n_conns;
} Tap;

typedef struct
{
  Tap          *tap;
  GIOStream    *from;
  GIOStream    *to;
  GByteArray   *record;
  guint8        buf[4096];
} TapPump;

static void tap_pump_next (TapPump *pump);

static void
tap_written_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  TapPump *pump = user_data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    {
      g_free (pump);
      return;
    }
  tap_pump_next (pump);
}

static void
tap_read_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  TapPump *pump = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    {
      g_io_stream_close (pump->to, NULL, NULL);
      g_object_unref (pump->from);
      g_object_unref (pump->to);
      g_free (pump);
      return;
    }
  g_byte_array_append (pump->record, pump->buf, n);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (pump->to), pump->buf, n,
                                   G_PRIORITY_DEFAULT, NULL, tap_written_cb, pump);
}

static void
tap_pump_next (TapPump *pump)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (pump->from), pump->buf,
                             sizeof pump->buf, G_PRIORITY_DEFAULT, NULL, tap_read_cb, pump);
}

static void
tap_start (Tap        *tap,
           GIOStream  *from,
           GIOStream  *to,
           GByteArray *record)
{
  TapPump *pump = g_new0 (TapPump, 1);

  pump->tap = tap;
  pump->from = g_object_ref (from);
  pump->to = g_object_ref (to);
  pump->record = record;
  tap_pump_next (pump);
}

static gboolean
tap_incoming_cb (GSocketService    *service,
                 GSocketConnection *conn,
                 GObject           *source,
                 Tap               *tap)
{
  g_autoptr(GSocketConnection) upstream = wzp_test_tcp_connect (tap->target);

  /* Only the first pipe is recorded (the caller's). */
  if (tap->n_conns++ == 0)
    {
      tap_start (tap, G_IO_STREAM (conn), G_IO_STREAM (upstream), tap->to_relay);
      tap_start (tap, G_IO_STREAM (upstream), G_IO_STREAM (conn), tap->from_relay);
    }
  else
    {
      /* The other party's pipe is forwarded without recording. */
      tap_start (tap, G_IO_STREAM (conn), G_IO_STREAM (upstream), tap->ignored);
      tap_start (tap, G_IO_STREAM (upstream), G_IO_STREAM (conn), tap->ignored);
    }
  return TRUE;
}

static void
redirect_pipe (WzpMessage *setup,
               gpointer    data)
{
  Tap *tap = data;

  if (tap->target == NULL)
    tap->target = g_strdup (_wzp_message_get_string (setup, "pipe_addr"));
  _wzp_message_set_string (setup, "pipe_addr", tap->listen);
}

/* Skips one frame (4-byte length + body); returns the offset after it. */
static gsize
skip_frame (GByteArray *bytes)
{
  guint32 len;

  g_assert_cmpuint (bytes->len, >=, 4);
  len = ((guint32) bytes->data[0] << 24) | (bytes->data[1] << 16) | (bytes->data[2] << 8) |
        bytes->data[3];
  g_assert_cmpuint (bytes->len, >=, 4 + len);
  return 4 + len;
}

static void
assert_tls_records (GByteArray *bytes,
                    gsize       offset)
{
  guint records = 0;

  while (offset < bytes->len)
    {
      guint8 type;
      guint16 version, len;

      g_assert_cmpuint (bytes->len - offset, >=, 5);
      type = bytes->data[offset];
      version = (bytes->data[offset + 1] << 8) | bytes->data[offset + 2];
      len = (bytes->data[offset + 3] << 8) | bytes->data[offset + 4];
      g_assert_true (type >= 20 && type <= 23);          /* a TLS content type */
      g_assert_true (version == 0x0301 || version == 0x0303);
      offset += 5 + len;
      records++;
    }
  g_assert_cmpuint (offset, ==, bytes->len);
  g_assert_cmpuint (records, >=, 3);
}

static void
test_relay_sees_only_tls (Fixture       *f,
                          gconstpointer  data)
{
  Tap tap = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;
  WzpClient *a = NULL;
  WzpClient *b = NULL;
  Callee callee = { .mode = WZP_ACCEPT_MODE_PRIVACY, .answer = TRUE };
  g_autoptr(WzpCall) call = NULL;

  tap.service = g_socket_service_new ();
  tap.to_relay = g_byte_array_new ();
  tap.from_relay = g_byte_array_new ();
  tap.ignored = g_byte_array_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (tap.service), any, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  tap.listen = _wzp_address_to_string (bound);
  g_signal_connect (tap.service, "incoming", G_CALLBACK (tap_incoming_cb), &tap);
  _wzp_relay_set_setup_filter (f->relay, redirect_pipe, &tap);

  a = connected_client (f, "Alice");
  b = connected_client (f, "Bob");
  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  call = place_call (a, b, &error);
  g_assert_no_error (error);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, WZP_PATH_KIND_RELAY);
  wzp_test_spin (1500);   /* a keepalive or two cross the path */

  /* The Nominate that travelled inside must not be visible. */
  g_assert_null (memmem (tap.to_relay->data, tap.to_relay->len, "Nominate", 8));
  g_assert_null (memmem (tap.from_relay->data, tap.from_relay->len, "Nominate", 8));
  g_assert_null (memmem (tap.to_relay->data, tap.to_relay->len, "Ping", 4));
  assert_tls_records (tap.to_relay, skip_frame (tap.to_relay));
  assert_tls_records (tap.from_relay, skip_frame (tap.from_relay));

  wzp_call_hangup (call);
  wzp_test_spin (50);
  callee_clear (&callee);
  g_clear_object (&call);
  disconnect_and_free (a);
  disconnect_and_free (b);
  g_socket_service_stop (tap.service);
  g_socket_listener_close (G_SOCKET_LISTENER (tap.service));
  wzp_test_spin (20);
  g_object_unref (tap.service);
  g_byte_array_unref (tap.to_relay);
  g_byte_array_unref (tap.from_relay);
  g_byte_array_unref (tap.ignored);
  g_free (tap.target);
  g_free (tap.listen);
}

static void
notify_state_cb (WzpClient  *client,
                 GParamSpec *pspec,
                 GPtrArray  *states)
{
  g_ptr_array_add (states, GINT_TO_POINTER (wzp_client_get_state (client)));
}

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

static void
test_relay_fingerprint_changed (Fixture       *f,
                                gconstpointer  data)
{
  g_autofree char *tofu_uri = g_strdup_printf ("wzps://%s", f->address);
  g_autofree char *address = g_strdup (f->address);
  WzpClient *client = new_client (tofu_uri, "Alice");
  WzpClient *again = NULL;
  Result r = { 0 };
  Result r2 = { 0 };

  /* Trust on first use: no fingerprint in the URI, remembered after the first visit. */
  wzp_client_connect_async (client, NULL, connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_no_error (r.error);
  disconnect_and_free (client);

  /* Another relay (another identity) at the same address is refused. */
  wzp_relay_stop (f->relay);
  wzp_test_finalize_object (g_steal_pointer (&f->relay));
  g_clear_object (&f->relay_identity);
  f->relay_identity = wzp_test_identity_new ();
  start_relay (f, address);

  again = new_client (tofu_uri, "Alice");
  wzp_client_connect_async (again, NULL, connected_cb, &r2);
  wzp_test_wait_flag (&r2.done, 5000);
  g_assert_error (r2.error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED);
  g_test_message ("%s", r2.error->message);
  g_assert_cmpint (wzp_client_get_state (again), ==, WZP_CLIENT_STATE_FAILED);
  g_clear_error (&r2.error);
  disconnect_and_free (again);
}

static void
test_bad_uri (Fixture       *f,
              gconstpointer  data)
{
  const char *bad[] = { "http://example.org", "wzps://", "wzps://host:99999",
                        "wzps://host:1#nope", "wzps://[::1", NULL };

  for (guint i = 0; bad[i] != NULL; i++)
    {
      WzpClient *client = new_client (bad[i], NULL);
      Result r = { 0 };

      wzp_client_connect_async (client, NULL, connected_cb, &r);
      wzp_test_wait_flag (&r.done, 5000);
      g_assert_nonnull (r.error);
      g_assert_true (r.error->domain == WZP_CLIENT_ERROR);
      g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_FAILED);
      g_clear_error (&r.error);
      disconnect_and_free (client);
    }
}

static void
test_no_fds_left (Fixture       *f,
                  gconstpointer  data)
{
  guint before;

  /* One warm-up call (GnuTLS and GIO open their files once), then count. */
  check_call (f, FALSE, WZP_ACCEPT_MODE_TRUSTED, TRUE);
  before = wzp_test_count_fds ();
  for (guint i = 0; i < 3; i++)
    check_call (f, FALSE, WZP_ACCEPT_MODE_TRUSTED, i % 2 == 0);
  wzp_test_spin (100);
  g_assert_cmpuint (wzp_test_count_fds (), <=, before);
}

/* Cancellation at every stage: the client goes away while a call is offered, ringing,
 * connecting or active; nothing may leak or crash (run under ASan/valgrind). */
static void
test_teardown_at_every_stage (Fixture       *f,
                              gconstpointer  data)
{
  for (guint stage = 0; stage < 4; stage++)
    {
      WzpClient *a = connected_client (f, "Alice");
      WzpClient *b = connected_client (f, "Bob");
      Callee callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = stage >= 2 };
      Result r = { 0 };

      g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
      wzp_client_place_call_async (a, wzp_identity_get_fingerprint (wzp_client_get_identity (b)),
                                   NULL, placed_cb, &r);
      wzp_test_spin (stage == 0 ? 1 : stage == 3 ? 300 : 20);

      disconnect_and_free (a);
      wzp_test_wait_flag (&r.done, 5000);
      g_clear_object (&r.object);
      g_clear_error (&r.error);
      if (callee.call != NULL)
        wait_state (callee.call, WZP_CALL_STATE_ENDED);
      callee_clear (&callee);
      disconnect_and_free (b);
    }
  wzp_test_spin (50);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
}


static void
test_cancel_place_call (Fixture       *f,
                        gconstpointer  data)
{
  WzpClient *a = connected_client (f, "Alice");
  WzpClient *b = connected_client (f, "Bob");
  Callee callee = { .answer = FALSE };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Result r = { 0 };

  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  wzp_client_place_call_async (a, wzp_identity_get_fingerprint (wzp_client_get_identity (b)),
                               cancellable, placed_cb, &r);
  wzp_test_wait_pointer ((gpointer *) &callee.call, 5000);
  g_cancellable_cancel (cancellable);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);
  /* The callee stops ringing: the call was hung up, not left behind. */
  wait_state (callee.call, WZP_CALL_STATE_ENDED);
  wzp_test_spin (50);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);

  callee_clear (&callee);
  disconnect_and_free (a);
  disconnect_and_free (b);
}

static void
test_cancel_connect (Fixture       *f,
                     gconstpointer  data)
{
  WzpClient *client = new_client (f->uri, "Alice");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Result r = { 0 };

  wzp_client_connect_async (client, cancellable, connected_cb, &r);
  g_cancellable_cancel (cancellable);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_DISCONNECTED);
  disconnect_and_free (client);
}

/* The race */

typedef struct
{
  const char * const *locals;
  const char         *reflexive;
} Candidates;

static void
replace_candidates (WzpMessage *setup,
                    gpointer    data)
{
  const Candidates *c = data;

  _wzp_message_set_strv (setup, "peer_local_addrs", c->locals);
  _wzp_message_set_string (setup, "peer_direct_addr", c->reflexive);
}

static void
result_cb (WzpCall    *call,
           const char *address,
           const char *kind,
           const char *result,
           const char *reason,
           int         ms,
           GPtrArray  *results)
{
  g_ptr_array_add (results, g_strdup_printf ("%s %s %s", kind, address, result));
}

static gboolean
has_result (GPtrArray  *results,
            const char *text)
{
  for (guint i = 0; i < results->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (results, i), text))
      return TRUE;
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
  Result r = { 0 };

  _wzp_relay_set_setup_filter (f->relay, replace_candidates, (gpointer) candidates);
  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  wzp_client_place_call_async (a, wzp_identity_get_fingerprint (wzp_client_get_identity (b)),
                               NULL, placed_cb, &r);
  /* Connect to the call's results as soon as it exists: the first outgoing call. */
  wzp_test_wait_flag (&r.done, 15000);
  g_assert_no_error (r.error);
  call = WZP_CALL (r.object);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, expected);
  wait_state (callee.call, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_path_kind (callee.call), ==, expected);
  wzp_test_spin (200);

  wzp_call_hangup (call);
  wait_state (callee.call, WZP_CALL_STATE_ENDED);
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
  /* Port 1 on loopback refuses at once; 192.0.2.1 (TEST-NET-1) goes nowhere. */
  const char * const locals[] = { "127.0.0.1:1", "192.0.2.1:9", NULL };
  Candidates candidates = { locals, "192.0.2.2:9" };
  g_autoptr(GPtrArray) results = call_with_candidates (f, &candidates, WZP_PATH_KIND_RELAY);

  /* Every outcome is reported: the refused dial failed, the relay pipe made it. */
  g_assert_true (has_result (results, "host 127.0.0.1:1 failed"));
  g_assert_true (has_result (results, "relay "));
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
  ic->tls = _wzp_tls_server_new (G_IO_STREAM (ic->conn), ic->impostor->identity, NULL, NULL);
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

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, fn) \
  g_test_add ("/wzp/call/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

  ADD ("register", test_register);
  ADD ("direct-call", test_direct_call);
  ADD ("callee-hangs-up", test_callee_hangs_up);
  ADD ("privacy-answer", test_privacy_answer);
  ADD ("privacy-caller", test_privacy_caller);
  ADD ("reject", test_reject);
  ADD ("timeout", test_timeout);
  ADD ("unknown-peer", test_unknown_peer);
  ADD ("busy", test_busy);
  ADD ("lying-relay", test_lying_relay);
  ADD ("relay-sees-only-tls", test_relay_sees_only_tls);
  g_test_add ("/wzp/call/reconnect-after-restart", Fixture, NULL, fixture_setup_fixed_port,
              test_reconnect_after_restart, fixture_teardown);
  g_test_add ("/wzp/call/relay-fingerprint-changed", Fixture, NULL, fixture_setup_fixed_port,
              test_relay_fingerprint_changed, fixture_teardown);
  ADD ("bad-uri", test_bad_uri);
  ADD ("no-fds-left", test_no_fds_left);
  ADD ("dead-candidates-relay-wins", test_dead_candidates_relay_wins);
  ADD ("wrong-host-loses", test_wrong_host_loses);
  ADD ("teardown-at-every-stage", test_teardown_at_every_stage);
  ADD ("cancel-place-call", test_cancel_place_call);
  ADD ("cancel-connect", test_cancel_connect);

  return g_test_run ();
}
