/* test-call-offer.c: placing, answering, refusing and cancelling calls between
 * WzpClients on an in-process relay, and what the relay sees of a call
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "call-fixture.h"
#include "wzp-relay-private.h"

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
keep_outgoing_cb (WzpClient  *client,
                  WzpCall    *call,
                  WzpCall   **out)
{
  g_set_object (out, call);
}

static void
check_call_error (Fixture         *f,
                  WzpAcceptMode    mode,
                  gboolean         answer,
                  const char      *target,
                  WzpCallError     expected,
                  WzpHangupReason  end_reason)
{
  g_autoptr(WzpCall) attempt = NULL;
  WzpClient *a = connected_client (f, "Alice");
  WzpClient *b = connected_client (f, "Bob");
  Callee callee = { .mode = mode, .answer = answer };
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = NULL;
  WzpTestResult r = { 0 };

  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  g_signal_connect (a, "outgoing-call", G_CALLBACK (keep_outgoing_cb), &attempt);
  wzp_client_place_call_async (a, target ? target
                                         : wzp_identity_get_fingerprint (wzp_client_get_identity (b)),
                               NULL, wzp_test_placed_cb, &r);
  wzp_test_wait_flag (&r.done, 10000);
  g_assert_null (r.object);
  g_assert_error (r.error, WZP_CALL_ERROR, (int) expected);
  g_test_message ("%s", r.error->message);
  /* The code is what tells an app's words apart ("No answer" for TIMEOUT, a stranger for
   * UNKNOWN_PEER); the call's end reason agrees. */
  g_assert_nonnull (attempt);
  g_assert_cmpint (wzp_call_get_state (attempt), ==, WZP_CALL_STATE_ENDED);
  g_assert_cmpint (wzp_call_get_end_reason (attempt), ==, end_reason);
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
  check_call_error (f, WZP_ACCEPT_MODE_REJECT, TRUE, NULL, WZP_CALL_ERROR_DECLINED,
                    WZP_HANGUP_REASON_DECLINED);
}

static void
test_timeout (Fixture       *f,
              gconstpointer  data)
{
  g_object_set (f->relay, "ring-timeout", 1, NULL);
  check_call_error (f, WZP_ACCEPT_MODE_TRUSTED, FALSE, NULL, WZP_CALL_ERROR_TIMEOUT,
                    WZP_HANGUP_REASON_TIMEOUT);
}

static void
test_unknown_peer (Fixture       *f,
                   gconstpointer  data)
{
  check_call_error (f, WZP_ACCEPT_MODE_TRUSTED, TRUE,
                    "0123:4567:89ab:cdef:0123:4567:89ab:cdef", WZP_CALL_ERROR_UNKNOWN_PEER,
                    WZP_HANGUP_REASON_UNREACHABLE);
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

/* A callee in a call: the first call is answered, any other is refused as busy by the
 * callee's app (wzp_call_decline()), as a phone does. */
typedef struct
{
  Callee   callee;
  WzpCall *second;    /* the call refused as busy */
} BusyCallee;

static void
busy_incoming_cb (WzpClient  *client,
                  WzpCall    *call,
                  BusyCallee *busy)
{
  if (busy->callee.call == NULL)
    {
      incoming_cb (client, call, &busy->callee);
      return;
    }
  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_INCOMING);
  g_set_object (&busy->second, call);
  wzp_call_decline (call, WZP_HANGUP_REASON_BUSY);
}

/* The second caller during a call hears "busy", not "declined": from the callee's app,
 * under the relay's limits (max-calls-per-client is 4 here, so the relay itself lets the
 * offer through, unlike test_busy()). Both ends of the refused call say busy; the first
 * call goes on. */
static void
test_busy_from_callee (Fixture       *f,
                       gconstpointer  data)
{
  WzpClient *c = connected_client (f, "Carol");
  WzpClient *b = connected_client (f, "Bob");
  WzpClient *a = connected_client (f, "Alice");
  BusyCallee busy = { .callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE } };
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) first = NULL;
  g_autoptr(WzpCall) second = NULL;
  g_autoptr(WzpCall) attempt = NULL;
  guint max_calls = 0;

  g_object_get (f->relay, "max-calls-per-client", &max_calls, NULL);
  g_assert_cmpuint (max_calls, >, 1);
  g_signal_connect (b, "incoming-call", G_CALLBACK (busy_incoming_cb), &busy);
  g_signal_connect (a, "outgoing-call", G_CALLBACK (keep_outgoing_cb), &attempt);
  first = place_call (c, b, &error);
  g_assert_no_error (error);
  wzp_test_wait_flag (&busy.callee.answered, 5000);

  second = place_call (a, b, &error);
  g_assert_null (second);
  g_assert_error (error, WZP_CALL_ERROR, WZP_CALL_ERROR_BUSY);
  g_test_message ("%s", error->message);
  /* Bob's app saw the call and said busy. */
  g_assert_nonnull (busy.second);
  g_assert_cmpint (wzp_call_get_state (busy.second), ==, WZP_CALL_STATE_ENDED);
  g_assert_cmpint (wzp_call_get_end_reason (busy.second), ==, WZP_HANGUP_REASON_BUSY);
  g_assert_nonnull (attempt);
  g_assert_cmpint (wzp_call_get_end_reason (attempt), ==, WZP_HANGUP_REASON_BUSY);

  wzp_test_spin (50);
  g_assert_cmpint (wzp_call_get_state (first), ==, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 1);

  g_clear_object (&busy.second);
  g_signal_handlers_disconnect_by_func (b, busy_incoming_cb, &busy);
  wzp_call_hangup (first);
  wzp_test_wait_call_state (busy.callee.call, WZP_CALL_STATE_ENDED);

  wzp_test_spin (50);
  callee_clear (&busy.callee);
  g_clear_object (&attempt);
  disconnect_and_free (a);
  disconnect_and_free (b);
  disconnect_and_free (c);
}

/* wzp_call_decline (DECLINED) is a decline, as wzp_call_hangup() on an incoming call. */
static void
decline_incoming_cb (WzpClient *client,
                     WzpCall   *call,
                     gpointer   user_data)
{
  wzp_call_decline (call, WZP_HANGUP_REASON_DECLINED);
}

static void
test_decline_declined (Fixture       *f,
                       gconstpointer  data)
{
  WzpClient *b = connected_client (f, "Bob");
  WzpClient *a = connected_client (f, "Alice");
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = NULL;

  g_signal_connect (b, "incoming-call", G_CALLBACK (decline_incoming_cb), NULL);
  call = place_call (a, b, &error);
  g_assert_null (call);
  g_assert_error (error, WZP_CALL_ERROR, WZP_CALL_ERROR_DECLINED);
  disconnect_and_free (a);
  disconnect_and_free (b);
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

/* Setting a string-array property to the value it has notifies nothing. */
static void
test_client_notify_on_change (void)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  WzpClient *client = wzp_client_new (identity);
  const char * const reflectors[] = { "wzps://192.0.2.1:4433", NULL };
  const char * const patterns[] = { "docker*", NULL };

  /* No audio unless a test asks for it (tests/test-voice.c does). */
  g_object_set (client, "audio-source", "none", "audio-sink", "none", NULL);
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
  ADD ("busy-from-callee", test_busy_from_callee);
  ADD ("decline-declined", test_decline_declined);
  ADD ("lying-relay", test_lying_relay);
  ADD ("relay-sees-only-tls", test_relay_sees_only_tls);
  ADD ("no-fds-left", test_no_fds_left);
  ADD ("teardown-at-every-stage", test_teardown_at_every_stage);
  ADD ("cancel-place-call", test_cancel_place_call);

  return g_test_run ();
}
