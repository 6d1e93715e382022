/* test-call.c: WzpClient and WzpCall against an in-process relay on loopback
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include <glib/gstdio.h>

#include "test-util.h"
#include "wzp-call-private.h"
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
 * the relay is down. @data is the IP address to listen on (NULL: 127.0.0.1); if it is
 * ::1 and that cannot be listened on, f->relay is left NULL and the test skips. */
static void
fixture_setup_fixed_port (Fixture       *f,
                          gconstpointer  data)
{
  const char *ip = data != NULL ? data : "127.0.0.1";
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) uris = NULL;
  g_auto(GStrv) listen = NULL;

  f->relay_identity = wzp_test_identity_new ();
  f->relay = wzp_relay_new (f->relay_identity);
  for (guint attempt = 0; attempt < 50; attempt++)
    {
      int port = g_random_int_range (20000, 30000);
      g_autofree char *address = strchr (ip, ':') != NULL
                                   ? g_strdup_printf ("[%s]:%d", ip, port)
                                   : g_strdup_printf ("%s:%d", ip, port);

      g_clear_error (&error);
      if (wzp_relay_listen (f->relay, address, NULL, &error))
        break;
    }
  if (error != NULL && strchr (ip, ':') != NULL)
    {
      g_test_message ("Cannot listen on %s: %s", ip, error->message);
      wzp_test_finalize_object (g_steal_pointer (&f->relay));
      return;
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
  WzpTestResult r = { 0 };

  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
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
  guint          n_set_up;    /* ::set-up emissions */
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

static void result_cb (WzpCall            *call,
                       const char         *address,
                       WzpCandidateKind    kind,
                       WzpCandidateResult  result,
                       const char         *reason,
                       int                 ms,
                       GPtrArray          *results);

static void
count_set_up_cb (guint *count)
{
  (*count)++;
}

static void
incoming_cb (WzpClient *client,
             WzpCall   *call,
             Callee    *callee)
{
  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_INCOMING);
  g_assert_cmpint (wzp_call_get_role (call), ==, WZP_CALL_ROLE_CALLEE);
  g_set_object (&callee->call, call);
  g_signal_connect_swapped (call, "set-up", G_CALLBACK (count_set_up_cb), &callee->n_set_up);
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

static WzpCall *
place_call (WzpClient  *caller,
            WzpClient  *callee,
            GError    **error)
{
  WzpTestResult r = { 0 };
  const char *target = wzp_identity_get_fingerprint (wzp_client_get_identity (callee));

  wzp_client_place_call_async (caller, target, NULL, wzp_test_placed_cb, &r);
  wzp_test_wait_flag (&r.done, 15000);
  if (r.error != NULL)
    g_propagate_error (error, r.error);
  return (WzpCall *) r.object;
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
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, expected);
  g_assert_cmpint (wzp_call_get_path_kind (callee.call), ==, expected);
  g_assert_cmpint (wzp_call_get_time_to_path (call), >=, 0);
  /* CallSetup came once, before the path. */
  g_assert_cmpuint (callee.n_set_up, ==, 1);
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
      wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ENDED);
      g_assert_cmpint (wzp_call_get_end_reason (callee.call), ==, WZP_HANGUP_REASON_NORMAL);
    }
  else
    {
      wzp_call_hangup (callee.call);
      wzp_test_wait_call_state (call, WZP_CALL_STATE_ENDED);
      g_assert_cmpint (wzp_call_get_end_reason (call), ==, WZP_HANGUP_REASON_NORMAL);
    }
  wzp_test_spin (50);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);

  callee_clear (&callee);
  g_clear_object (&call);
  disconnect_and_free (a);
  disconnect_and_free (b);
}

static gpointer
call_on_own_context_thread (gpointer data)
{
  GMainContext *context = g_main_context_new ();
  Fixture f = { 0 };

  g_main_context_push_thread_default (context);
  fixture_setup (&f, NULL);
  check_call (&f, FALSE, WZP_ACCEPT_MODE_TRUSTED, TRUE);
  fixture_teardown (&f, NULL);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  return NULL;
}

/* A relay, two clients and a direct call, all made in a worker thread whose own context is
 * thread-default there, while no thread runs the global default context: the race's paced
 * dials, the head start, the deadline and the keepalives all have to run on the objects'
 * own context (the test helpers iterate the thread-default context). */
static void
test_call_on_own_context (void)
{
  g_thread_join (g_thread_new ("calls", call_on_own_context_thread, NULL));
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
  WzpTestResult r = { 0 };

  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  wzp_client_place_call_async (a, target ? target
                                         : wzp_identity_get_fingerprint (wzp_client_get_identity (b)),
                               NULL, wzp_test_placed_cb, &r);
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

/* Relays refuse aliases over 64 characters (docs/protocol.md, "Aliases"): the client
 * says so at once, in a GError, instead of connecting to be refused. */
static void
test_long_alias (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *too_long = g_strnfill (WZP_MAX_ALIAS_CHARS + 1, 'a');
  WzpClient *client = new_client (f->uri, too_long);
  WzpTestResult r = { 0 };

  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (r.error->message, "longer than 64 characters"));
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 0);
  g_clear_error (&r.error);
  wzp_test_finalize_object (client);
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

/* Waits until @client went through RECONNECTING and is CONNECTED again. */
static void
wait_reregistered (WzpClient *client,
                   GPtrArray *states)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while ((states->len == 0 || wzp_client_get_state (client) != WZP_CLIENT_STATE_CONNECTED) &&
         g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpuint (states->len, >=, 2);
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (states, 0)), ==,
                   WZP_CLIENT_STATE_RECONNECTING);
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_CONNECTED);
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

/* Connects a new client to @uri and returns its error (NULL: it registered). */
static GError *
connect_error (const char *uri)
{
  WzpClient *client = new_client (uri, "Alice");
  WzpTestResult r = { 0 };

  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  if (r.error != NULL)
    {
      g_test_message ("%s", r.error->message);
      g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_FAILED);
    }
  disconnect_and_free (client);
  return r.error;
}

/* Runs on 127.0.0.1, and on [::1] (@data), whose key the key file format cannot take
 * as it is written. */
static void
test_relay_fingerprint_changed (Fixture       *f,
                                gconstpointer  data)
{
  g_autofree char *tofu_uri = NULL;
  g_autofree char *address = NULL;
  g_autofree char *pin = NULL;
  g_autoptr(GError) error = NULL;

  if (f->relay == NULL)
    {
      g_test_skip ("Cannot listen on [::1] here");
      return;
    }
  tofu_uri = g_strdup_printf ("wzps://%s", f->address);
  address = g_strdup (f->address);

  /* Trust on first use: no fingerprint in the URI, remembered after the first visit. */
  g_assert_null (connect_error (tofu_uri));
  pin = wzp_test_known_relay_pin (address);
  g_assert_cmpstr (pin, ==, wzp_identity_get_fingerprint (f->relay_identity));

  /* Another relay (another identity) at the same address is refused. */
  wzp_relay_stop (f->relay);
  wzp_test_finalize_object (g_steal_pointer (&f->relay));
  g_clear_object (&f->relay_identity);
  f->relay_identity = wzp_test_identity_new ();
  start_relay (f, address);

  error = connect_error (tofu_uri);
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED);
}

/* The client's messages name the relay: one that is not the one its URI pins (the pin
 * mismatch explained after it), and one that refuses the connection. */
static void
test_relay_errors_name_the_relay (Fixture       *f,
                                  gconstpointer  data)
{
  g_autoptr(WzpIdentity) other = wzp_test_identity_new ();
  g_autofree char *wrong_uri = g_strdup_printf ("wzps://%s#%s", f->address,
                                                wzp_identity_get_fingerprint (other));
  g_autofree char *impostor = NULL;
  g_autofree char *unreachable = g_strdup_printf ("Cannot reach the relay at %s: ",
                                                  f->address);
  g_autoptr(GError) error = NULL;
  WzpTestResult r = { 0 };
  WzpClient *client;

  error = connect_error (wrong_uri);
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED);
  impostor = g_strdup_printf ("The relay at %s is not the one in its URI: The peer’s "
                              "certificate has fingerprint %s, but %s was expected",
                              f->address, wzp_identity_get_fingerprint (f->relay_identity),
                              wzp_identity_get_fingerprint (other));
  g_assert_cmpstr (error->message, ==, impostor);
  g_clear_error (&error);

  /* Not for good: the client tries again later. */
  wzp_relay_stop (f->relay);
  client = new_client (f->uri, "Alice");
  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_true (g_str_has_prefix (r.error->message, unreachable));
  g_clear_error (&r.error);
  disconnect_and_free (client);
}

/* A file written by earlier versions (bare HOST:PORT keys) still pins. */
static void
test_known_relays_old_format (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(WzpIdentity) other = wzp_test_identity_new ();
  g_autofree char *tofu_uri = g_strdup_printf ("wzps://%s", f->address);
  g_autofree char *wrong = g_strdup_printf ("[relays]\n%s=%s\n", f->address,
                                            wzp_identity_get_fingerprint (other));
  g_autofree char *right = g_strdup_printf ("[relays]\n%s=%s\n", f->address,
                                            wzp_identity_get_fingerprint (f->relay_identity));
  g_autoptr(GError) error = NULL;

  wzp_test_write_known_relays (wrong);
  error = connect_error (tofu_uri);
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED);

  wzp_test_write_known_relays (right);
  g_assert_null (connect_error (tofu_uri));
}

/* A damaged file fails the connection once, with a message naming the copy kept of it;
 * the next connection starts a new file. */
static void
test_known_relays_damaged (Fixture       *f,
                           gconstpointer  data)
{
  g_autofree char *tofu_uri = g_strdup_printf ("wzps://%s", f->address);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) aside = NULL;
  g_autofree char *pin = NULL;

  wzp_test_write_known_relays ("this is not a key file\n");
  wzp_test_expect_message ("*was damaged*");
  error = connect_error (tofu_uri);
  wzp_test_assert_expected_messages ();
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_KNOWN_RELAYS);
  aside = wzp_test_list_set_aside ();
  g_assert_cmpuint (g_strv_length (aside), ==, 1);
  g_assert_nonnull (strstr (error->message, aside[0]));

  g_assert_null (connect_error (tofu_uri));
  pin = wzp_test_known_relay_pin (f->address);
  g_assert_cmpstr (pin, ==, wzp_identity_get_fingerprint (f->relay_identity));
}

/* A relay whose key cannot be remembered is not used: the next connection would trust
 * any key again. */
static void
test_known_relays_save_fails (Fixture       *f,
                              gconstpointer  data)
{
  g_autofree char *tofu_uri = g_strdup_printf ("wzps://%s", f->address);
  g_autofree char *path = wzp_test_known_relays_path ();
  g_autofree char *expected = g_strdup_printf ("Could not remember the relay's key in %s: *",
                                               path);
  g_autoptr(GError) error = NULL;
  g_autofree char *pin = NULL;

  wzp_test_set_disk_full (TRUE);
  error = connect_error (tofu_uri);
  wzp_test_set_disk_full (FALSE);
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_KNOWN_RELAYS);
  g_assert_true (g_pattern_match_simple (expected, error->message));
  pin = wzp_test_known_relay_pin (f->address);
  g_assert_null (pin);
}

/* Waits (bounded) until @client is in @state. */
static void
wait_client_state (WzpClient      *client,
                   WzpClientState  state)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (wzp_client_get_state (client) != state && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpint (wzp_client_get_state (client), ==, state);
}

/* A file that cannot be read fails the attempt, not the client: it tries again with
 * backoff, saying why, and connects (trusting on first use) once the file can be read.
 * Never without the pin meanwhile. */
static void
test_known_relays_unreadable_retries (Fixture       *f,
                                      gconstpointer  data)
{
  g_autofree char *tofu_uri = g_strdup_printf ("wzps://%s", f->address);
  g_autofree char *path = wzp_test_known_relays_path ();
  WzpClient *client = new_client (tofu_uri, "Alice");
  WzpTestResult r = { 0 };
  g_autofree char *pin = NULL;

  g_assert_cmpint (g_mkdir_with_parents (path, 0700), ==, 0);   /* a folder in its place */
  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_nonnull (r.error);
  g_test_message ("%s", r.error->message);
  g_assert_true (r.error->domain == G_FILE_ERROR);
  g_clear_error (&r.error);

  wzp_test_spin (800);   /* a retry or two, which fail the same way */
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_RECONNECTING);
  g_assert_true (g_str_has_prefix (wzp_client_get_error_message (client),
                                   "Could not read the known relays in "));
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 0);

  g_assert_cmpint (g_rmdir (path), ==, 0);
  wait_client_state (client, WZP_CLIENT_STATE_CONNECTED);
  pin = wzp_test_known_relay_pin (f->address);
  g_assert_cmpstr (pin, ==, wzp_identity_get_fingerprint (f->relay_identity));
  disconnect_and_free (client);
}

/* The pin read (or remembered) when connecting serves the reconnections: one while the
 * file cannot be read goes on. */
static void
test_known_relays_reconnect_reads_no_file (Fixture       *f,
                                           gconstpointer  data)
{
  g_autofree char *tofu_uri = g_strdup_printf ("wzps://%s", f->address);
  g_autofree char *path = wzp_test_known_relays_path ();
  WzpClient *client = new_client (tofu_uri, "Alice");
  g_autoptr(GPtrArray) states = g_ptr_array_new ();
  WzpTestResult r = { 0 };
  RelayConn *conn;

  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_no_error (r.error);
  g_signal_connect (client, "notify::state", G_CALLBACK (notify_state_cb), states);

  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  conn = _wzp_relay_lookup_conn (f->relay,
                                 wzp_identity_get_fingerprint (wzp_client_get_identity (client)));
  g_assert_nonnull (conn);
  g_socket_shutdown (g_socket_connection_get_socket (conn->socket_conn), TRUE, TRUE, NULL);

  wait_reregistered (client, states);
  g_assert_cmpint (g_rmdir (path), ==, 0);
  disconnect_and_free (client);
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
      WzpTestResult r = { 0 };

      wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
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
      WzpTestResult r = { 0 };

      g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
      wzp_client_place_call_async (a, wzp_identity_get_fingerprint (wzp_client_get_identity (b)),
                                   NULL, wzp_test_placed_cb, &r);
      wzp_test_spin (stage == 0 ? 1 : stage == 3 ? 300 : 20);

      disconnect_and_free (a);
      wzp_test_wait_flag (&r.done, 5000);
      g_clear_object (&r.object);
      g_clear_error (&r.error);
      if (callee.call != NULL)
        wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ENDED);
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
  WzpTestResult r = { 0 };

  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  wzp_client_place_call_async (a, wzp_identity_get_fingerprint (wzp_client_get_identity (b)),
                               cancellable, wzp_test_placed_cb, &r);
  wzp_test_wait_pointer ((gpointer *) &callee.call, 5000);
  g_cancellable_cancel (cancellable);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);
  /* The callee stops ringing: the call was hung up, not left behind. */
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ENDED);
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
  WzpTestResult r = { 0 };

  wzp_client_connect_async (client, cancellable, wzp_test_client_connected_cb, &r);
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

static const char *
nick (GType type,
      int   value)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (type);
  GEnumValue *enum_value = g_enum_get_value (klass, value);

  g_assert_nonnull (enum_value);
  return enum_value->value_nick;
}

static void
result_cb (WzpCall            *call,
           const char         *address,
           WzpCandidateKind    kind,
           WzpCandidateResult  result,
           const char         *reason,
           int                 ms,
           GPtrArray          *results)
{
  g_ptr_array_add (results, g_strdup_printf ("%s %s %s: %s", nick (WZP_TYPE_CANDIDATE_KIND, kind),
                                             address, nick (WZP_TYPE_CANDIDATE_RESULT, result),
                                             reason));
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

/* An older Nominate arrives after a newer one (issue 6): the caller nominates the relay
 * pipe, whose bytes towards the callee are held back; a direct path then authenticates
 * and is nominated with a higher seq, and only after both sides moved to it does the
 * relay deliver the old Nominate. The callee must ignore it: both end on the same
 * direct connection, every time.
 *
 * Two test proxies do it without seams in the library: the caller's pipe goes through a
 * gate that lets OpenPipe and the TLS ClientHello through and holds everything after
 * (with TLS 1.3 the caller, the TLS client, completes its handshake one flight before
 * the callee and nominates right away: the held bytes are its Finished and its
 * Nominate); the callee's only direct candidate is a gate in front of the caller's port
 * P that connects only once the caller's relay path authenticated. */

#define REORDER_ROUNDS 200

typedef struct _Gate Gate;

typedef struct
{
  Gate         *gate;
  GIOStream    *from;
  GIOStream    *to;
  guint8        buf[4096];
  gboolean      busy;      /* a read or a write is in flight */
  gboolean      eof;
  /* The pipe gate's caller-to-relay direction: freeze after the OpenPipe frame and the
   * first TLS record, keep what follows until thawed. */
  gboolean      watch;
  gboolean      frozen;
  GByteArray   *seen;
  GByteArray   *held;
} Pump;

struct _Gate
{
  GSocketService *service;
  char           *listen;
  char           *target;
  gboolean        hold;        /* connect upstream only once opened */
  gboolean        watch;       /* freeze the first link's upward direction (see Pump) */
  guint           n_refuse;    /* close this many connections at once, then forward */
  gboolean        open;
  GCancellable   *cancellable;
  GPtrArray      *conns;       /* GIOStream*: every connection, closed at reset */
  GPtrArray      *waiting;     /* accepted while closed */
  GPtrArray      *pumps;       /* Pump*, live */
  GPtrArray      *links;       /* char*: upstream local address of each link */
  guint           n_connecting;
  Pump           *watched;
};

static void pump_next (Pump *pump);

static void
pump_free (Pump *pump)
{
  g_ptr_array_remove (pump->gate->pumps, pump);
  if (pump->gate->watched == pump)
    pump->gate->watched = NULL;
  g_object_unref (pump->from);
  g_object_unref (pump->to);
  if (pump->seen != NULL)
    g_byte_array_unref (pump->seen);
  if (pump->held != NULL)
    g_byte_array_unref (pump->held);
  g_free (pump);
}

/* Where the bytes to freeze start in @seen: after one frame (4-byte length and body) and
 * one TLS record (5-byte header and body); G_MAXSIZE until both are complete. */
static gsize
freeze_offset (GByteArray *seen)
{
  gsize frame, record;

  if (seen->len < 4)
    return G_MAXSIZE;
  frame = 4 + (((gsize) seen->data[0] << 24) | (seen->data[1] << 16) |
               (seen->data[2] << 8) | seen->data[3]);
  if (seen->len < frame + 5)
    return G_MAXSIZE;
  record = frame + 5 + ((seen->data[frame + 3] << 8) | seen->data[frame + 4]);
  return seen->len >= record ? record : G_MAXSIZE;
}

static void
pump_written_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Pump *pump = user_data;

  pump->busy = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    {
      pump_free (pump);
      return;
    }
  pump_next (pump);
}

static void
pump_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Pump *pump = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);
  gsize pass = (n > 0 && !pump->frozen) ? (gsize) n : 0;

  pump->busy = FALSE;
  if (n <= 0)
    {
      /* Whoever closed, the other side stays open until the round ends: the held bytes
       * must still reach the callee. */
      pump->eof = TRUE;
      if (!pump->frozen || g_cancellable_is_cancelled (pump->gate->cancellable))
        pump_free (pump);
      return;
    }

  if (pump->watch && !pump->frozen)
    {
      gsize before = pump->seen->len;
      gsize cut;

      g_byte_array_append (pump->seen, pump->buf, n);
      cut = freeze_offset (pump->seen);
      if (cut != G_MAXSIZE)
        {
          pump->frozen = TRUE;
          pass = cut - before;
        }
    }
  if (pump->frozen)
    g_byte_array_append (pump->held, pump->buf + pass, n - pass);
  if (pass == 0)
    {
      pump_next (pump);
      return;
    }
  pump->busy = TRUE;
  g_output_stream_write_all_async (g_io_stream_get_output_stream (pump->to), pump->buf, pass,
                                   G_PRIORITY_DEFAULT, pump->gate->cancellable,
                                   pump_written_cb, pump);
}

static void
pump_next (Pump *pump)
{
  pump->busy = TRUE;
  g_input_stream_read_async (g_io_stream_get_input_stream (pump->from), pump->buf,
                             sizeof pump->buf, G_PRIORITY_DEFAULT, pump->gate->cancellable,
                             pump_read_cb, pump);
}

static Pump *
pump_start (Gate      *gate,
            GIOStream *from,
            GIOStream *to)
{
  Pump *pump = g_new0 (Pump, 1);

  pump->gate = gate;
  pump->from = g_object_ref (from);
  pump->to = g_object_ref (to);
  g_ptr_array_add (gate->pumps, pump);
  pump_next (pump);
  return pump;
}

typedef struct
{
  Gate              *gate;
  GSocketConnection *down;
} GateConnect;

static void
gate_connected_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GateConnect *gc = user_data;
  Gate *gate = gc->gate;
  g_autoptr(GSocketConnection) up = NULL;

  up = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, NULL);
  gate->n_connecting--;
  if (up != NULL && !g_cancellable_is_cancelled (gate->cancellable))
    {
      g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (up, NULL);
      Pump *upward;

      _wzp_socket_connection_set_nodelay (G_IO_STREAM (up));
      g_ptr_array_add (gate->conns, g_object_ref (up));
      g_ptr_array_add (gate->links, _wzp_address_to_string (local));
      upward = pump_start (gate, G_IO_STREAM (gc->down), G_IO_STREAM (up));
      pump_start (gate, G_IO_STREAM (up), G_IO_STREAM (gc->down));
      /* The pipe gate watches its first connection: the caller's pipe. */
      if (gate->watch && gate->links->len == 1)
        {
          upward->watch = TRUE;
          upward->seen = g_byte_array_new ();
          upward->held = g_byte_array_new ();
          gate->watched = upward;
        }
    }
  g_object_unref (gc->down);
  g_free (gc);
}

static void
gate_connect (Gate              *gate,
              GSocketConnection *down)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GInetSocketAddress) target = _wzp_address_parse (gate->target, NULL);
  GateConnect *gc = g_new0 (GateConnect, 1);

  gc->gate = gate;
  gc->down = g_object_ref (down);
  gate->n_connecting++;
  g_socket_client_set_enable_proxy (client, FALSE);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (target), gate->cancellable,
                                 gate_connected_cb, gc);
}

static gboolean
gate_incoming_cb (GSocketService    *service,
                  GSocketConnection *down,
                  GObject           *source,
                  Gate              *gate)
{
  /* A proxy forwards small writes as they come (Nagle would hold them for an ACK). */
  _wzp_socket_connection_set_nodelay (G_IO_STREAM (down));
  if (gate->n_refuse > 0)
    {
      gate->n_refuse--;
      g_io_stream_close (G_IO_STREAM (down), NULL, NULL);
      return TRUE;
    }
  g_ptr_array_add (gate->conns, g_object_ref (down));
  if (gate->hold && !gate->open)
    g_ptr_array_add (gate->waiting, g_object_ref (down));
  else
    gate_connect (gate, down);
  return TRUE;
}

static void
gate_open (Gate *gate)
{
  gate->open = TRUE;
  for (guint i = 0; i < gate->waiting->len; i++)
    gate_connect (gate, g_ptr_array_index (gate->waiting, i));
  g_ptr_array_set_size (gate->waiting, 0);
}

/* Sends what the watched pump held back (all at once, in order) and lets the rest flow. */
static void
gate_thaw (Gate *gate)
{
  Pump *pump = gate->watched;

  g_assert_nonnull (pump);
  g_assert_true (pump->frozen);
  pump->frozen = FALSE;
  pump->watch = FALSE;
  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (pump->to),
                                            pump->held->data, pump->held->len, NULL, NULL,
                                            NULL));
  if (pump->eof)
    pump_free (pump);
}

static void
gate_init (Gate     *gate,
           gboolean  hold,
           gboolean  watch)
{
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  gate->hold = hold;
  gate->watch = watch;
  gate->cancellable = g_cancellable_new ();
  gate->conns = g_ptr_array_new_with_free_func (g_object_unref);
  gate->waiting = g_ptr_array_new_with_free_func (g_object_unref);
  gate->pumps = g_ptr_array_new ();
  gate->links = g_ptr_array_new_with_free_func (g_free);
  gate->service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (gate->service), any, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  gate->listen = _wzp_address_to_string (bound);
  g_signal_connect (gate->service, "incoming", G_CALLBACK (gate_incoming_cb), gate);
}

/* Closes every connection and waits until nothing is in flight. */
static void
gate_reset (Gate *gate)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  g_cancellable_cancel (gate->cancellable);
  for (guint i = 0; i < gate->conns->len; i++)
    g_io_stream_close (g_ptr_array_index (gate->conns, i), NULL, NULL);
  for (guint i = gate->pumps->len; i > 0; i--)
    {
      Pump *pump = g_ptr_array_index (gate->pumps, i - 1);

      if (!pump->busy)
        pump_free (pump);
    }
  while ((gate->pumps->len > 0 || gate->n_connecting > 0) &&
         g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpuint (gate->pumps->len, ==, 0);
  g_assert_cmpuint (gate->n_connecting, ==, 0);
  g_ptr_array_set_size (gate->conns, 0);
  g_ptr_array_set_size (gate->waiting, 0);
  g_ptr_array_set_size (gate->links, 0);
  g_clear_object (&gate->cancellable);
  gate->cancellable = g_cancellable_new ();
  gate->open = FALSE;
}

static void
gate_clear (Gate *gate)
{
  gate_reset (gate);
  g_socket_service_stop (gate->service);
  g_socket_listener_close (G_SOCKET_LISTENER (gate->service));
  g_clear_object (&gate->service);
  g_clear_object (&gate->cancellable);
  g_ptr_array_unref (gate->conns);
  g_ptr_array_unref (gate->waiting);
  g_ptr_array_unref (gate->pumps);
  g_ptr_array_unref (gate->links);
  g_free (gate->listen);
  g_free (gate->target);
}

typedef struct
{
  Gate      pipe;          /* the caller's relay pipe */
  Gate      direct;        /* the callee's only direct candidate, in front of the caller */
  WzpCall  *caller;
  WzpCall  *callee;
  guint     caller_changes;
  guint     callee_changes;
  gboolean  callee_relay_done;
  gboolean  answered;
} Reorder;

static void
reorder_setup (WzpMessage *setup,
               gpointer    data)
{
  Reorder *r = data;
  const char * const none[] = { NULL };

  _wzp_message_set_string (setup, "peer_direct_addr", NULL);
  if (g_strcmp0 (_wzp_message_get_string (setup, "role"), "caller") == 0)
    {
      /* Nothing to dial: the caller opens its pipe at once, through the gate. */
      _wzp_message_set_strv (setup, "peer_local_addrs", none);
      g_free (r->pipe.target);
      r->pipe.target = g_strdup (_wzp_message_get_string (setup, "pipe_addr"));
      _wzp_message_set_string (setup, "pipe_addr", r->pipe.listen);
    }
  else
    {
      const char * const gate[] = { r->direct.listen, NULL };

      _wzp_message_set_strv (setup, "peer_local_addrs", gate);
    }
}

static void
reorder_caller_result_cb (WzpCall            *call,
                          const char         *address,
                          WzpCandidateKind    kind,
                          WzpCandidateResult  result,
                          const char         *reason,
                          int                 ms,
                          Reorder            *r)
{
  /* The caller's relay path authenticated, and its Nominate is about to be held back:
   * now the direct path may form. */
  if (kind == WZP_CANDIDATE_KIND_RELAY && result == WZP_CANDIDATE_RESULT_OK)
    gate_open (&r->direct);
}

static void
reorder_callee_result_cb (WzpCall            *call,
                          const char         *address,
                          WzpCandidateKind    kind,
                          WzpCandidateResult  result,
                          const char         *reason,
                          int                 ms,
                          Reorder            *r)
{
  if (kind == WZP_CANDIDATE_KIND_RELAY)
    r->callee_relay_done = TRUE;
}

static void
reorder_changed_cb (WzpCall *call,
                    guint   *count)
{
  (*count)++;
}

static void
reorder_outgoing_cb (WzpClient *client,
                     WzpCall   *call,
                     Reorder   *r)
{
  g_set_object (&r->caller, call);
  g_signal_connect (call, "candidate-result", G_CALLBACK (reorder_caller_result_cb), r);
  g_signal_connect (call, "path-changed", G_CALLBACK (reorder_changed_cb), &r->caller_changes);
}

static void
reorder_answered_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Reorder *r = user_data;
  g_autoptr(GError) error = NULL;

  wzp_call_answer_finish (WZP_CALL (source), result, &error);
  g_assert_no_error (error);
  r->answered = TRUE;
}

static void
reorder_incoming_cb (WzpClient *client,
                     WzpCall   *call,
                     Reorder   *r)
{
  g_set_object (&r->callee, call);
  g_signal_connect (call, "candidate-result", G_CALLBACK (reorder_callee_result_cb), r);
  g_signal_connect (call, "path-changed", G_CALLBACK (reorder_changed_cb), &r->callee_changes);
  wzp_call_answer_async (call, WZP_ACCEPT_MODE_TRUSTED, NULL, reorder_answered_cb, r);
}

/* TLS application-data records (content type 23) in @bytes, which must be whole records. */
static guint
count_app_records (GByteArray *bytes)
{
  guint n = 0;
  gsize offset = 0;

  while (offset + 5 <= bytes->len)
    {
      if (bytes->data[offset] == 23)
        n++;
      offset += 5 + ((bytes->data[offset + 3] << 8) | bytes->data[offset + 4]);
    }
  g_assert_cmpuint (offset, ==, bytes->len);
  return n;
}

static void
test_late_nominate_ignored (Fixture       *f,
                            gconstpointer  data)
{
  Reorder r = { 0 };
  WzpClient *a;
  WzpClient *b;

  /* Two hundred calls a few milliseconds each between the same two clients. */
  g_object_set (f->relay, "max-messages-per-second", 100000, NULL);
  gate_init (&r.pipe, FALSE, TRUE);
  gate_init (&r.direct, TRUE, FALSE);
  a = connected_client (f, "Alice");
  b = connected_client (f, "Bob");
  r.direct.target = g_strdup_printf ("127.0.0.1:%u", wzp_client_get_port (a));
  _wzp_relay_set_setup_filter (f->relay, reorder_setup, &r);
  g_signal_connect (a, "outgoing-call", G_CALLBACK (reorder_outgoing_cb), &r);
  g_signal_connect (b, "incoming-call", G_CALLBACK (reorder_incoming_cb), &r);

  for (guint round = 0; round < REORDER_ROUNDS; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(WzpCall) call = NULL;
      Pump *held;
      gint64 deadline;

      r.caller_changes = r.callee_changes = 0;
      r.callee_relay_done = r.answered = FALSE;
      call = place_call (a, b, &error);
      g_assert_no_error (error);
      g_assert_true (call == r.caller);

      /* Both on the direct path, the relay's Nominate still held back. */
      wzp_test_wait_call_state (r.callee, WZP_CALL_STATE_ACTIVE);
      g_assert_true (r.answered);
      g_assert_cmpint (wzp_call_get_path_kind (call), ==, WZP_PATH_KIND_DIRECT_LAN);
      g_assert_cmpint (wzp_call_get_path_kind (r.callee), ==, WZP_PATH_KIND_DIRECT_LAN);
      held = r.pipe.watched;
      g_assert_nonnull (held);
      g_assert_true (held->frozen);

      /* The old Nominate arrives: the callee's relay path authenticates only now (its
       * handshake waited for the held Finished), then reads Nominate with the lower
       * seq, which it must ignore. */
      g_assert_false (r.callee_relay_done);
      g_assert_cmpuint (count_app_records (held->held), >=, 2);   /* Finished, Nominate */
      gate_thaw (&r.pipe);
      wzp_test_wait_flag (&r.callee_relay_done, 5000);
      deadline = g_get_monotonic_time () + 10 * 1000;
      while (g_get_monotonic_time () < deadline)
        g_main_context_iteration (NULL, FALSE) || (g_usleep (500), TRUE);

      /* Both sides on the same connection: one switch each, the callee's end of it is
       * the gate, the caller's the gate's one upstream connection. */
      g_assert_cmpint (wzp_call_get_path_kind (call), ==, WZP_PATH_KIND_DIRECT_LAN);
      g_assert_cmpint (wzp_call_get_path_kind (r.callee), ==, WZP_PATH_KIND_DIRECT_LAN);
      g_assert_cmpuint (r.caller_changes, ==, 1);
      g_assert_cmpuint (r.callee_changes, ==, 1);
      g_assert_cmpuint (r.direct.links->len, ==, 1);
      g_assert_cmpstr (wzp_call_get_remote_address (call), ==,
                       g_ptr_array_index (r.direct.links, 0));
      g_assert_cmpstr (wzp_call_get_remote_address (r.callee), ==, r.direct.listen);
      g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_ACTIVE);
      g_assert_cmpint (wzp_call_get_state (r.callee), ==, WZP_CALL_STATE_ACTIVE);

      wzp_call_hangup (call);
      wzp_test_wait_call_state (r.callee, WZP_CALL_STATE_ENDED);
      g_assert_cmpint (wzp_call_get_end_reason (r.callee), ==, WZP_HANGUP_REASON_NORMAL);
      gate_reset (&r.pipe);
      gate_reset (&r.direct);
      deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
      while (wzp_relay_get_n_calls (f->relay) > 0 && g_get_monotonic_time () < deadline)
        g_main_context_iteration (NULL, FALSE) || (g_usleep (500), TRUE);
      g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
      g_clear_object (&r.caller);
      g_clear_object (&r.callee);
    }

  _wzp_relay_set_setup_filter (f->relay, NULL, NULL);
  disconnect_and_free (a);
  disconnect_and_free (b);
  gate_clear (&r.pipe);
  gate_clear (&r.direct);
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

/* Iterates until @call is on a path of @kind (bounded). */
static void
wait_for_path_kind (WzpCall     *call,
                    WzpPathKind  kind)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (wzp_call_get_path_kind (call) != kind && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, kind);
}

typedef struct
{
  GPtrArray *results;
  guint      changes;
} Follow;

static void
follow_changed_cb (WzpCall *call,
                   Follow  *follow)
{
  follow->changes++;
}

static void
follow_outgoing_cb (WzpClient *client,
                    WzpCall   *call,
                    Follow    *follow)
{
  g_signal_connect (call, "candidate-result", G_CALLBACK (result_cb), follow->results);
  g_signal_connect (call, "path-changed", G_CALLBACK (follow_changed_cb), follow);
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

/* Issue 7, item 1: the caller's only direct candidate (the callee's reflexive address,
 * behind a proxy that drops the first connection, as a NAT whose mapping was not there
 * yet would) fails, so the call starts on the relay; the dial is retried while the call
 * runs, and the direct path it finds replaces the relay, one switch on each side. */
static void
retry_setup (WzpMessage *setup,
             gpointer    data)
{
  Gate *gate = data;

  _wzp_message_set_strv (setup, "peer_local_addrs", NULL);
  _wzp_message_set_string (setup, "peer_nat_type", NULL);
  _wzp_message_set_string (setup, "peer_direct_addr",
                           g_strcmp0 (_wzp_message_get_string (setup, "role"), "caller") == 0
                             ? gate->listen : NULL);
}

static void
test_retried_dial_upgrades (Fixture       *f,
                            gconstpointer  data)
{
  Gate gate = { 0 };
  WzpClient *a = connected_client (f, "Alice");
  WzpClient *b = connected_client (f, "Bob");
  Follow follow = { g_ptr_array_new_with_free_func (g_free), 0 };
  Follow callee_follow = { NULL, 0 };
  Callee callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE };
  g_autofree char *failed = NULL;
  g_autofree char *ok = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = NULL;

  gate_init (&gate, FALSE, FALSE);
  gate.n_refuse = 1;
  gate.target = g_strdup_printf ("127.0.0.1:%u", wzp_client_get_port (b));
  failed = g_strdup_printf ("reflexive %s failed", gate.listen);
  ok = g_strdup_printf ("reflexive %s ok", gate.listen);
  _wzp_relay_set_setup_filter (f->relay, retry_setup, &gate);
  g_signal_connect (a, "outgoing-call", G_CALLBACK (follow_outgoing_cb), &follow);
  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);

  call = place_call (a, b, &error);
  g_assert_no_error (error);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, WZP_PATH_KIND_RELAY);
  g_assert_true (has_result (follow.results, failed));
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ACTIVE);
  g_signal_connect (callee.call, "path-changed", G_CALLBACK (follow_changed_cb),
                    &callee_follow);

  wait_for_path_kind (call, WZP_PATH_KIND_DIRECT_LAN);
  wait_for_path_kind (callee.call, WZP_PATH_KIND_DIRECT_LAN);
  g_assert_true (has_result (follow.results, ok));
  g_assert_cmpuint (follow.changes, ==, 2);            /* relay, then direct */
  g_assert_cmpuint (callee_follow.changes, ==, 1);     /* (watched from the relay on) */
  g_assert_cmpstr (wzp_call_get_remote_address (call), ==, gate.listen);
  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_state (callee.call), ==, WZP_CALL_STATE_ACTIVE);

  wzp_call_hangup (call);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ENDED);
  _wzp_relay_set_setup_filter (f->relay, NULL, NULL);
  callee_clear (&callee);
  g_ptr_array_unref (follow.results);
  disconnect_and_free (a);
  disconnect_and_free (b);
  gate_clear (&gate);
}

/* Network changes and signalling loss mid-call (issue 7) */

typedef struct
{
  guint    path_changes;
  gboolean ended;
} CallWatch;

static void
watch_path_changed_cb (WzpCall   *call,
                       CallWatch *watch)
{
  watch->path_changes++;
}

static void
watch_ended_cb (WzpCall         *call,
                WzpHangupReason  reason,
                CallWatch       *watch)
{
  watch->ended = TRUE;
}

static void
watch_call (WzpCall   *call,
            CallWatch *watch)
{
  g_signal_connect (call, "path-changed", G_CALLBACK (watch_path_changed_cb), watch);
  g_signal_connect (call, "ended", G_CALLBACK (watch_ended_cb), watch);
}

static void
wait_path_kind (WzpCall     *call,
                WzpPathKind  kind)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (wzp_call_get_path_kind (call) != kind && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, kind);
}

/* A call on the relay (CallSetup named only dead candidates). The callee's candidates
 * change mid-call: it sends CandidateUpdate, the caller dials the new candidate and
 * nominates the direct path in place of the relay, without the call ending. */
static void
test_candidate_update_upgrades (Fixture       *f,
                                gconstpointer  data)
{
  const char * const dead[] = { "127.0.0.1:1", NULL };
  const char * const deny_all[] = { "*", NULL };
  Candidates candidates = { dead, NULL };
  WzpClient *a = connected_client (f, "Alice");
  WzpClient *b = connected_client (f, "Bob");
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *b_address = g_strdup_printf ("127.0.0.1:%u", wzp_client_get_port (b));
  g_autofree char *expected = g_strdup_printf ("reflexive %s ok", b_address);
  Callee callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE };
  CallWatch watch_a = { 0 };
  CallWatch watch_b = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = NULL;

  _wzp_relay_set_setup_filter (f->relay, replace_candidates, &candidates);
  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  call = place_call (a, b, &error);
  g_assert_no_error (error);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, WZP_PATH_KIND_RELAY);
  g_assert_cmpint (wzp_call_get_path_kind (callee.call), ==, WZP_PATH_KIND_RELAY);
  g_assert_null (wzp_call_get_peer_direct_address (call));
  _wzp_relay_set_setup_filter (f->relay, NULL, NULL);
  g_signal_connect (call, "candidate-result", G_CALLBACK (result_cb), results);
  watch_call (call, &watch_a);
  watch_call (callee.call, &watch_b);

  /* Bob's host candidates go (his deny list now hides loopback); what he tells Alice is
   * his reflexive address, where the relay sees his port P: that is where he is. */
  g_object_set (b, "deny-list", deny_all, NULL);
  wait_path_kind (call, WZP_PATH_KIND_DIRECT_LAN);
  wait_path_kind (callee.call, WZP_PATH_KIND_DIRECT_LAN);
  g_assert_cmpstr (wzp_call_get_peer_direct_address (call), ==, b_address);
  g_assert_true (has_result (results, expected));
  /* One switch on each side, and the call never stopped. */
  g_assert_cmpuint (watch_a.path_changes, ==, 1);
  g_assert_cmpuint (watch_b.path_changes, ==, 1);
  g_assert_false (watch_a.ended || watch_b.ended);
  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_ACTIVE);

  wzp_call_hangup (call);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ENDED);
  callee_clear (&callee);
  disconnect_and_free (a);
  disconnect_and_free (b);
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

  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  call = place_call (a, b, &error);
  g_assert_no_error (error);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, WZP_PATH_KIND_DIRECT_LAN);
  watch_call (call, &watch_a);
  watch_call (callee.call, &watch_b);

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
  g_assert_false (watch_a.ended || watch_b.ended);
  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_state (callee.call), ==, WZP_CALL_STATE_ACTIVE);

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

/* Setting a string-array property to the value it has notifies nothing. */
static void
test_client_notify_on_change (void)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  WzpClient *client = wzp_client_new (identity);
  const char * const reflectors[] = { "wzps://192.0.2.1:4433", NULL };
  const char * const patterns[] = { "docker*", NULL };

  wzp_test_check_strv_notify (client, "reflectors", reflectors);
  wzp_test_check_strv_notify (client, "deny-list", patterns);
  wzp_test_check_strv_notify (client, "allow-list", patterns);
  wzp_test_finalize_object (client);
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
  g_test_add_func ("/wzp/call/own-context", test_call_on_own_context);
  g_test_add_func ("/wzp/call/client-notify-on-change", test_client_notify_on_change);
  ADD ("callee-hangs-up", test_callee_hangs_up);
  ADD ("privacy-answer", test_privacy_answer);
  ADD ("privacy-caller", test_privacy_caller);
  ADD ("reject", test_reject);
  ADD ("timeout", test_timeout);
  ADD ("unknown-peer", test_unknown_peer);
  ADD ("busy", test_busy);
  ADD ("long-alias", test_long_alias);
  ADD ("lying-relay", test_lying_relay);
  ADD ("relay-sees-only-tls", test_relay_sees_only_tls);
  g_test_add_func ("/wzp/call/relay-not-reading", test_relay_not_reading);
  g_test_add ("/wzp/call/reconnect-after-restart", Fixture, NULL, fixture_setup_fixed_port,
              test_reconnect_after_restart, fixture_teardown);
  g_test_add ("/wzp/call/relay-fingerprint-changed", Fixture, NULL, fixture_setup_fixed_port,
              test_relay_fingerprint_changed, fixture_teardown);
  g_test_add ("/wzp/call/relay-fingerprint-changed-ipv6", Fixture, "::1",
              fixture_setup_fixed_port, test_relay_fingerprint_changed, fixture_teardown);
  ADD ("relay-errors-name-the-relay", test_relay_errors_name_the_relay);
  ADD ("known-relays-old-format", test_known_relays_old_format);
  ADD ("known-relays-damaged", test_known_relays_damaged);
  ADD ("known-relays-save-fails", test_known_relays_save_fails);
  ADD ("known-relays-unreadable-retries", test_known_relays_unreadable_retries);
  ADD ("known-relays-reconnect-reads-no-file", test_known_relays_reconnect_reads_no_file);
  ADD ("bad-uri", test_bad_uri);
  ADD ("no-fds-left", test_no_fds_left);
  ADD ("dead-candidates-relay-wins", test_dead_candidates_relay_wins);
  ADD ("wrong-host-loses", test_wrong_host_loses);
  ADD ("setup-candidates-capped", test_setup_candidates_capped);
  ADD ("wrong-preamble-loses", test_wrong_preamble_loses);
  ADD ("late-nominate-ignored", test_late_nominate_ignored);
  ADD ("merged-dial-deadline", test_merged_dial_deadline);
  ADD ("retried-dial-upgrades", test_retried_dial_upgrades);
  ADD ("teardown-at-every-stage", test_teardown_at_every_stage);
  ADD ("cancel-place-call", test_cancel_place_call);
  ADD ("cancel-connect", test_cancel_connect);
  ADD ("candidate-update-upgrades", test_candidate_update_upgrades);
  ADD ("lost-address-falls-back", test_lost_address_falls_back);
  ADD ("lost-address-falls-back-callee", test_lost_address_falls_back_callee);
  ADD ("signalling-lost-call-goes-on", test_signalling_lost_call_goes_on);
  g_test_add ("/wzp/call/relay-restart-call-goes-on", Fixture, NULL, fixture_setup_fixed_port,
              test_relay_restart_call_goes_on, fixture_teardown);

  return g_test_run ();
}
