/* test-call-paths.c: switching paths during a call: a late Nominate ignored, and a
 * relayed call moved to a direct path by a retried dial or a CandidateUpdate
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "call-fixture.h"
#include "wzp-relay-private.h"
#include "wzp-tls-private.h"

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

  wait_path_kind (call, WZP_PATH_KIND_DIRECT_LAN);
  wait_path_kind (callee.call, WZP_PATH_KIND_DIRECT_LAN);
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

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  ADD ("late-nominate-ignored", test_late_nominate_ignored);
  ADD ("retried-dial-upgrades", test_retried_dial_upgrades);
  ADD ("candidate-update-upgrades", test_candidate_update_upgrades);

  return g_test_run ();
}
