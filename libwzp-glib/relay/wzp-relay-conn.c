/* wzp-relay-conn.c: a client's signalling connection at the relay: its socket in the
 * relay's epoll set, its TLS session, frames in and out, its deadlines in the wheel, and
 * how it closes (docs/relay.md, "The relay at scale"). What its messages mean is
 * wzp-relay.c's (_wzp_relay_dispatch()); its stages before the handshake completed are
 * wzp-relay-accept.c's.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-error.h"
#include "wzp-relay-federation-private.h"
#include "wzp-relay-log-private.h"
#include "wzp-relay-private.h"
#include "wzp-tls-private.h"

#define MAX_BAD_MESSAGES 16
/* A client sending more than this many times its message rate is closed, not answered. */
#define FLOOD_FACTOR 10

static void conn_close (RelayConn  *conn,
                        const char *why);

/* Connections */

RelayConn *
_wzp_relay_conn_ref (RelayConn *conn)
{
  g_ref_count_inc (&conn->ref_count);
  return conn;
}

void
_wzp_relay_conn_unref (RelayConn *conn)
{
  if (!g_ref_count_dec (&conn->ref_count))
    return;

  g_assert (conn->closed);
  g_assert (conn->session == NULL && conn->watch == NULL);
  g_clear_object (&conn->io);
  g_clear_object (&conn->tls);
  g_clear_object (&conn->handover);
  g_clear_object (&conn->socket_conn);
  g_free (conn->remote_addr);
  g_free (conn->local_ip);
  g_free (conn->fingerprint);
  g_free (conn->alias);
  g_clear_pointer (&conn->binding, _wzp_binding_free);
  g_free (conn);
}

static void conn_readable (RelayConn *conn);
static void conn_io_cb (RelayPollWatch *watch,
                        GIOCondition    events,
                        gpointer        user_data);

/* A connection at accept, in the relay's table and its epoll set; its stages are
 * wzp-relay-accept.c's. NULL (the connection is dropped) if it cannot be watched. */
RelayConn *
_wzp_relay_conn_new (WzpRelay          *self,
                     GSocketConnection *connection,
                     IpCounters        *ip)
{
  g_autoptr(GError) error = NULL;
  GSocket *socket = g_socket_connection_get_socket (connection);
  RelayConn *conn = g_new0 (RelayConn, 1);

  conn->fd = g_socket_get_fd (socket);
  conn->watch = _wzp_relay_poller_add (self->poller, conn->fd, G_IO_IN, conn_io_cb, conn,
                                       &error);
  if (conn->watch == NULL)
    {
      g_warning ("Dropping a new connection: %s", error->message);
      g_free (conn);
      return NULL;
    }
  g_ref_count_init (&conn->ref_count);
  conn->relay = self;
  conn->socket_conn = g_object_ref (connection);
  /* Messages are small and each is a whole answer: without it, a second one waits for
   * the client's delayed ACK of the first (40 ms; a CallSetup after a reply did). */
  _wzp_socket_connection_set_nodelay (G_IO_STREAM (connection));
  conn->ip = ip;
  conn->connected_since = g_get_real_time () / G_USEC_PER_SEC;
  ip->conns++;
  g_hash_table_add (self->conns, conn);
  _wzp_relay_counters_accepted (self);
  return conn;
}

void
_wzp_relay_conn_log (RelayConn      *conn,
          GLogLevelFlags  level,
          const char     *message)
{
  /* Decoder and TLS errors may quote what the client sent. */
  g_autofree char *text = _wzp_relay_log_text (message, WZP_RELAY_LOG_MAX_TEXT);

  g_log_structured (G_LOG_DOMAIN, level,
                    "WZP_REMOTE_ADDRESS", conn->remote_addr,
                    "WZP_FINGERPRINT", conn->fingerprint ? conn->fingerprint : "",
                    "MESSAGE", "%s: %s", conn->remote_addr, text);
}

/* What the connection waits for: its client's messages unless it is on its way out, and
 * room in the socket while ciphertext waits. */
static void
conn_update_events (RelayConn *conn)
{
  GIOCondition events = conn->closing ? 0 : G_IO_IN;

  if (conn->session != NULL && _wzp_relay_session_get_queued (conn->session) > 0)
    events |= G_IO_OUT;
  _wzp_relay_poller_modify (conn->relay->poller, conn->watch, events);
}

/* Marks the connection to be closed on the next iteration: sends are made from inside
 * the relay's handlers, which may be walking its tables, so they never close there. */
static void
conn_fail_later (RelayConn *conn)
{
  conn->write_failed = TRUE;
  _wzp_relay_poller_kick (conn->relay->poller, conn->watch, G_IO_ERR);
}

/* Sends what waits; FALSE when the connection was closed (a write error). */
static gboolean
conn_flush (RelayConn *conn)
{
  g_autoptr(GError) error = NULL;

  if (_wzp_relay_session_flush (conn->session, &error) < 0)
    {
      g_debug ("Could not send to %s: %s", conn->remote_addr, error->message);
      conn_close (conn, error->message);
      return FALSE;
    }
  conn_update_events (conn);
  return TRUE;
}

void
_wzp_relay_conn_send (RelayConn  *conn,
                      WzpMessage *message)
{
  g_autoptr(GBytes) json = NULL;
  g_autoptr(GError) error = NULL;
  gsize queued, len;
  guint8 *frame;

  if (conn->closed || conn->write_failed || conn->session == NULL ||
      conn->stage != CONN_ESTABLISHED)
    return;

  json = _wzp_message_encode (message);
  len = g_bytes_get_size (json);
  queued = _wzp_relay_session_get_queued (conn->session);

  /* Over max-queued-bytes, the client stopped reading what it asks for (docs/relay.md,
   * [limits]); nothing more can reach it, so it is closed without a word. One message is
   * always taken when nothing waits. */
  if (queued > 0 && queued + 4 + len > conn->relay->max_queued_bytes)
    {
      _wzp_relay_counters_refused (conn->relay, "max-queued-bytes");
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "WZP_REMOTE_ADDRESS", conn->remote_addr,
                        "WZP_FINGERPRINT", conn->fingerprint ? conn->fingerprint : "",
                        "WZP_LIMIT", "max-queued-bytes",
                        "MESSAGE", "%s: %" G_GSIZE_FORMAT " bytes wait to be written to the "
                        "client, over max-queued-bytes (%u); closing the connection",
                        conn->remote_addr, queued, conn->relay->max_queued_bytes);
      conn_fail_later (conn);
      return;
    }

  /* One buffer, so that a small message is one TLS record. */
  frame = g_malloc (4 + len);
  frame[0] = (len >> 24) & 0xff;
  frame[1] = (len >> 16) & 0xff;
  frame[2] = (len >> 8) & 0xff;
  frame[3] = len & 0xff;
  memcpy (frame + 4, g_bytes_get_data (json, NULL), len);
  _wzp_relay_session_write (conn->session, frame, 4 + len);
  g_free (frame);

  if (_wzp_relay_session_flush (conn->session, &error) < 0)
    {
      g_debug ("Could not send to %s: %s", conn->remote_addr, error->message);
      conn_fail_later (conn);
      return;
    }
  if (_wzp_relay_session_get_queued (conn->session) > 0)
    conn_update_events (conn);
}

void
_wzp_relay_conn_send_error (RelayConn  *conn,
                            const char *code,
                            const char *call_id,
                            const char *format,
                            ...)
{
  g_autofree char *text = NULL;
  g_autoptr(WzpMessage) message = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  _wzp_relay_log_error (conn, code, call_id, text);

  message = _wzp_message_new_error (code, text, call_id);
  _wzp_relay_conn_send (conn, message);
}

RelayConn *
_wzp_relay_lookup_conn (WzpRelay   *self,
                        const char *fingerprint)
{
  return g_hash_table_lookup (self->registrations, fingerprint);
}

/* Sends @message as the last frame, then closes once it is out: the peer reads why
 * before the close. Nothing more is read from the client meanwhile. */
void
_wzp_relay_conn_send_and_close (RelayConn  *conn,
                     WzpMessage *message)
{
  if (conn->closed || conn->closing)
    return;
  if (conn->session == NULL || conn->stage != CONN_ESTABLISHED)
    {
      conn_close (conn, "closed");
      return;
    }
  _wzp_relay_conn_send (conn, message);
  conn->closing = TRUE;
  conn_update_events (conn);
  /* Closes on the next iteration if the frame is out already. */
  _wzp_relay_poller_kick (conn->relay->poller, conn->watch, G_IO_OUT);
}

void
_wzp_relay_conn_unregister (RelayConn *conn)
{
  WzpRelay *self = conn->relay;

  if (!conn->registered)
    return;
  conn->registered = FALSE;
  conn->ip->registrations--;

  /* A newer registration of the same identity may have replaced this one already; its
   * entry must survive this connection's cleanup. */
  if (g_hash_table_lookup (self->registrations, conn->fingerprint) == conn)
    {
      g_hash_table_remove (self->registrations, conn->fingerprint);
      _wzp_relay_presence_local_changed (self, conn->fingerprint, NULL, FALSE);
      _wzp_relay_calls_party_lost (self, conn->fingerprint);
    }
  _wzp_relay_notify_counts (self);
}

/* Takes the connection out of the epoll set, the wheel and the relay's counts. */
static void
conn_forget (RelayConn *conn)
{
  WzpRelay *self = conn->relay;

  conn->closed = TRUE;
  _wzp_relay_wheel_cancel (self->wheel, &conn->deadline);
  _wzp_relay_poller_remove (self->poller, conn->watch);
  conn->watch = NULL;
  _wzp_relay_accept_conn_closed (conn);
}

static void
conn_close (RelayConn  *conn,
            const char *why)
{
  WzpRelay *self = conn->relay;

  if (conn->closed)
    return;

  _wzp_relay_conn_log (conn, G_LOG_LEVEL_DEBUG, why);
  conn_forget (conn);
  _wzp_relay_conn_unregister (conn);

  /* No close_notify: the peer gets a FIN either way, and the fd is released at once. */
  g_clear_pointer (&conn->session, _wzp_relay_session_free);
  g_io_stream_close (G_IO_STREAM (conn->socket_conn), NULL, NULL);

  conn->ip->conns--;
  _wzp_relay_ip_counters_gc (self, conn->ip);
  g_hash_table_remove (self->conns, conn);   /* drops the table's reference */
}

void
_wzp_relay_conn_close (RelayConn  *conn,
                       const char *why)
{
  conn_close (conn, why);
}

/* A limit turned the connection away right after its handshake: the client reads why,
 * then the connection closes. */
void
_wzp_relay_conn_refuse (RelayConn  *conn,
                        const char *limit,
                        const char *format,
                        ...)
{
  g_autoptr(WzpMessage) reply = NULL;
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  _wzp_relay_log_limit (conn->relay, _wzp_relay_log_conn_source (conn), limit,
                        conn->remote_addr, "%s", text);
  reply = _wzp_message_new_error (WZP_ERROR_CODE_LIMIT_REACHED, text, NULL);
  _wzp_relay_conn_send_and_close (conn, reply);
}

/* The federation took the connection over (a link or a bridge from a peer relay, through
 * a proxy that now holds its socket and session): the relay forgets it. */
void
_wzp_relay_conn_detach (RelayConn *conn)
{
  WzpRelay *self = conn->relay;

  _wzp_relay_conn_log (conn, G_LOG_LEVEL_DEBUG, "handed over to federation");
  conn_forget (conn);
  conn->ip->conns--;
  _wzp_relay_ip_counters_gc (self, conn->ip);
  g_hash_table_remove (self->conns, conn);
}

/* Keepalive, idle timeout and stalled writes: each connection's next check is in the
 * relay's wheel (wzp-relay-wheel.c), not in a timer of its own nor in a sweep over all
 * connections; a message that arrives moves nothing there, the check finds it. */
static void
conn_check (RelayConn *conn,
            gint64     now)
{
  WzpRelay *self = conn->relay;
  gint64 idle_us = (gint64) self->idle_timeout * G_USEC_PER_SEC;
  gint64 keepalive_us = (gint64) self->keepalive_interval * G_USEC_PER_SEC;
  gint64 pending_since = _wzp_relay_session_get_pending_since (conn->session);
  gint64 next;

  /* A frame that has waited idle-timeout to be written: the client stopped reading
   * (TCP's window is shut), however busy it keeps us with requests. Nothing more can
   * reach it, not even a final Error, so it is closed as it is. This holds for a
   * connection on its way out too: its last message may be what is stuck. */
  if (pending_since != 0 && now - pending_since >= idle_us)
    {
      g_autofree char *text = g_strdup_printf ("A message has waited %u seconds to be "
                                               "written; the client is not reading. "
                                               "Closing the connection", self->idle_timeout);
      _wzp_relay_conn_log (conn, G_LOG_LEVEL_INFO, text);
      _wzp_relay_counters_refused (self, "idle-timeout");
      conn_close (conn, "write stalled");
      return;
    }

  /* What already arrived counts (a relay busy for a moment reaches the deadline before
   * the Pong that meets it). */
  if (!conn->closing && now - conn->last_activity_us >= idle_us)
    {
      conn_readable (conn);
      if (conn->closed)
        return;
    }

  if (!conn->closing)
    {
      gint64 idle = now - conn->last_activity_us;

      if (idle >= idle_us)
        {
          g_autoptr(WzpMessage) message = NULL;
          g_autofree char *text = g_strdup_printf ("No message for %u seconds; closing the "
                                                   "connection", self->idle_timeout);

          _wzp_relay_conn_log (conn, G_LOG_LEVEL_INFO, text);
          _wzp_relay_counters_refused (self, "idle-timeout");
          message = _wzp_message_new_error (WZP_ERROR_CODE_IDLE, text, NULL);
          _wzp_relay_conn_send_and_close (conn, message);
        }
      else if (idle >= keepalive_us && !conn->ping_outstanding)
        {
          g_autoptr(WzpMessage) ping = _wzp_message_new (WZP_MESSAGE_PING);

          _wzp_message_set_int (ping, "timestamp_ms", g_get_real_time () / 1000);
          _wzp_relay_conn_send (conn, ping);
          conn->ping_outstanding = TRUE;
        }
    }
  if (conn->closed)
    return;

  next = now + idle_us;
  if (!conn->closing)
    {
      next = conn->last_activity_us + idle_us;
      if (!conn->ping_outstanding)
        next = MIN (next, conn->last_activity_us + keepalive_us);
    }
  pending_since = _wzp_relay_session_get_pending_since (conn->session);
  if (pending_since != 0)
    next = MIN (next, pending_since + idle_us);
  _wzp_relay_wheel_schedule (self->wheel, &conn->deadline, MAX (next, now + 1));
}

void
_wzp_relay_conn_deadline (RelayWheelEntry *entry,
                  gint64           now,
                  gpointer         user_data)
{
  RelayConn *conn = (RelayConn *) ((char *) entry - G_STRUCT_OFFSET (RelayConn, deadline));

  if (conn->closed)
    return;
  if (conn->stage != CONN_ESTABLISHED)
    _wzp_relay_accept_deadline (conn, now);
  else
    conn_check (conn, now);
}

static gboolean
conn_rate_ok (RelayConn *conn)
{
  WzpRelay *self = conn->relay;
  double rate = self->max_messages_per_second;
  /* The rate is the client's, as the messages arrived: a relay slow to get to them (a
   * busy machine, a debugger) must not see a flood as a trickle. */
  gint64 now = conn->read_at_us;

  if (_wzp_relay_bucket_take_at (&conn->messages, rate, rate * 2, 1, now))
    return TRUE;

  conn->dropped_in_window++;
  /* Answer a flood with at most one Error a second: errors must not amplify it. */
  if (now - conn->last_rate_error_us >= G_USEC_PER_SEC)
    {
      conn->last_rate_error_us = now;
      conn->dropped_in_window = 1;
      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_RATE_LIMITED, NULL,
                                  "Too many messages (limit %u per second); message dropped",
                                  self->max_messages_per_second);
    }
  return FALSE;
}

/* Reading: whole frames out of the session, as the socket becomes readable */

/* Bytes of plaintext read from one client per iteration before the others get their
 * turn (the rest is read on the next iteration). */
#define READ_BUDGET (64 * 1024)

/* One frame's payload; FALSE when the connection stops reading (closed or closing). */
static gboolean
conn_handle_frame (RelayConn *conn,
                   GBytes    *payload)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) message = NULL;
  gsize len;
  const char *data = g_bytes_get_data (payload, &len);

  conn->last_activity_us = g_get_monotonic_time ();
  if (conn->ping_outstanding)
    {
      /* The keepalive is counted again from now. */
      conn->ping_outstanding = FALSE;
      _wzp_relay_wheel_schedule (conn->relay->wheel, &conn->deadline,
                                 conn->last_activity_us +
                                 (gint64) conn->relay->keepalive_interval * G_USEC_PER_SEC);
    }

  message = _wzp_message_decode (data, len, &error);
  if (message == NULL)
    {
      /* The framing is intact, so the connection can go on; a client that keeps sending
       * garbage is closed. */
      if (++conn->bad_messages > MAX_BAD_MESSAGES)
        {
          g_autoptr(WzpMessage) reply =
            _wzp_message_new_error (WZP_ERROR_CODE_BAD_MESSAGE,
                                    "Too many malformed messages; closing", NULL);
          _wzp_relay_log_refusal (conn->relay, G_LOG_LEVEL_INFO,
                                  _wzp_relay_log_conn_source (conn), "bad-messages",
                                  conn->remote_addr, "more than %d malformed messages; "
                                  "connection closed", MAX_BAD_MESSAGES);
          _wzp_relay_conn_send_and_close (conn, reply);
          return FALSE;
        }
      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_BAD_MESSAGE, NULL, "%s",
                                  error->message);
      return !conn->closed && !conn->closing;
    }

  if (conn_rate_ok (conn))
    _wzp_relay_dispatch (conn, message);
  else if (conn->dropped_in_window > conn->relay->max_messages_per_second * FLOOD_FACTOR)
    {
      g_autoptr(WzpMessage) reply =
        _wzp_message_new_error (WZP_ERROR_CODE_RATE_LIMITED,
                                "Flooding: far too many messages; closing", NULL);
      _wzp_relay_log_limit (conn->relay, _wzp_relay_log_conn_source (conn),
                            "max-messages-per-second", conn->remote_addr,
                            "%u times over max-messages-per-second; connection closed",
                            FLOOD_FACTOR);
      _wzp_relay_conn_send_and_close (conn, reply);
      return FALSE;
    }
  return !conn->closed && !conn->closing;
}

static void
conn_readable (RelayConn *conn)
{
  WzpRelay *self = conn->relay;
  gsize budget = READ_BUDGET;

  while (!conn->closed && !conn->closing)
    {
      g_autoptr(GBytes) payload = NULL;
      g_autoptr(GError) error = NULL;
      gssize n;

      if (_wzp_relay_session_take_frame (conn->session, self->max_frame_size, &payload,
                                         &error))
        {
          conn_handle_frame (conn, payload);
          continue;
        }
      if (error != NULL)
        {
          g_autoptr(WzpMessage) reply =
            _wzp_message_new_error (WZP_ERROR_CODE_FRAME_TOO_LARGE, error->message, NULL);

          _wzp_relay_log_limit (self, _wzp_relay_log_conn_source (conn), "max-frame-size",
                                conn->remote_addr, "%s", error->message);
          _wzp_relay_conn_send_and_close (conn, reply);
          return;
        }
      if (budget == 0)
        {
          /* Fair to the others: the rest on the next iteration. */
          _wzp_relay_poller_kick (self->poller, conn->watch, G_IO_IN);
          break;
        }
      n = _wzp_relay_session_read (conn->session, budget, &error);
      if (n < 0)
        {
          conn_close (conn, error->message);
          return;
        }
      if (n == 0)
        break;
      conn->read_at_us = g_get_monotonic_time ();
      budget -= MIN ((gsize) n, budget);
    }
  /* Replies, and what TLS itself answers (a KeyUpdate), go out now. */
  if (!conn->closed)
    conn_flush (conn);
}

static void
conn_io_cb (RelayPollWatch *watch,
            GIOCondition    events,
            gpointer        user_data)
{
  g_autoptr(RelayConn) conn = _wzp_relay_conn_ref (user_data);

  if (conn->closed)
    return;
  if (conn->write_failed)
    {
      conn_close (conn, "could not write to the client");
      return;
    }
  if (conn->stage != CONN_ESTABLISHED)
    {
      _wzp_relay_accept_io (conn, events);
      return;
    }
  if ((events & G_IO_OUT) && !conn_flush (conn))
    return;
  if (conn->closing)
    {
      if (_wzp_relay_session_get_queued (conn->session) == 0)
        conn_close (conn, "closed after a final message");
      else if (events & (G_IO_HUP | G_IO_ERR))
        conn_close (conn, "the client went away before reading the final message");
      return;
    }
  if (events & (G_IO_IN | G_IO_HUP | G_IO_ERR))
    conn_readable (conn);
}

/* After the TLS handshake (wzp-relay-accept.c has the stages before it) */

void
_wzp_relay_conn_established (RelayConn *conn)
{
  WzpRelay *self = conn->relay;
  g_autoptr(GError) error = NULL;
  char *fingerprint = _wzp_relay_session_dup_peer_fingerprint (conn->session, &error);

  if (fingerprint == NULL)
    {
      g_autofree char *why = g_strdup_printf ("unusable client certificate: %s",
                                              error->message);
      conn_close (conn, why);
      return;
    }
  conn->fingerprint = fingerprint;
  conn->last_activity_us = g_get_monotonic_time ();
  _wzp_relay_wheel_schedule (self->wheel, &conn->deadline,
                             conn->last_activity_us +
                             (gint64) self->keepalive_interval * G_USEC_PER_SEC);

  if (!_wzp_relay_fingerprint_allowed (self, fingerprint))
    {
      g_autoptr(WzpMessage) reply =
        _wzp_message_new_error (WZP_ERROR_CODE_LIMIT_REACHED,
                                "This relay only serves the identities it was configured "
                                "for, and yours is not one of them", NULL);
      _wzp_relay_log_limit (self, _wzp_relay_log_conn_source (conn), "allowed-fingerprints",
                            conn->remote_addr, "identity %s not in allowed-fingerprints",
                            fingerprint);
      _wzp_relay_conn_send_and_close (conn, reply);
      return;
    }

  _wzp_relay_conn_log (conn, G_LOG_LEVEL_DEBUG, "TLS handshake completed");
  conn_update_events (conn);
  /* The client's first message may have come with its last handshake record. */
  _wzp_relay_poller_kick (self->poller, conn->watch, G_IO_IN);
}

