/* wzp-relay-accept.c: a signalling connection from accept until its TLS handshake is done
 *
 * A connection goes through three stages, each capped so that idle or stalled sockets
 * cannot lock other clients out (docs/relay.md, "Connections and their limits"):
 *
 *  1. awaiting its ClientHello: no TLS state, only its place in the epoll set. The
 *     first TLS record must be complete within client-hello-timeout (1 s); an idle TCP
 *     connection is closed then and never reaches a handshake slot. At a cap, the
 *     oldest such connection is closed to make room for a new one.
 *  2. queued: the ClientHello is in the kernel's buffer, waiting for a TLS slot.
 *  3. handshaking: the relay's own GnuTLS session (wzp-relay-session.c), one step each
 *     time the socket is readable, no thread: max-tls-handshakes in all, a quarter of
 *     them per source, and a quarter reserved for sources that completed a handshake
 *     before.
 *
 * handshake-timeout covers all three from accept; the deadlines are in the relay's wheel. Stages 1 to 3 count against
 * max-pending-handshakes and, per source address, max-handshakes-per-ip.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "wzp-relay-log-private.h"
#include "wzp-relay-private.h"
#include "wzp-socket-private.h"
#include "wzp-tls-private.h"

/* A TLS record header: type, version (2), length (2). */
#define TLS_RECORD_HEADER 5
#define TLS_HANDSHAKE_RECORD 0x16
#define TLS_CLIENT_HELLO 0x01
/* The largest plaintext record (RFC 8446, 5.1); a ClientHello from GnuTLS is ~300 B. */
#define TLS_MAX_RECORD 16384
/* Known sources: a generation is replaced by a new one once it holds this many. */
#define KNOWN_SOURCES_PER_GENERATION 32768

static void accept_start_handshake (RelayConn *conn);

/* Sources that completed a handshake before */

static gboolean
known_source (WzpRelay   *self,
              const char *key)
{
  return g_hash_table_contains (self->known_sources, key) ||
         g_hash_table_contains (self->known_sources_old, key);
}

/* Two generations bound the memory an address scan could take (at most twice
 * KNOWN_SOURCES_PER_GENERATION keys) while a source seen recently stays known. */
static void
known_source_add (WzpRelay   *self,
                  const char *key)
{
  if (g_hash_table_contains (self->known_sources, key))
    return;
  if (g_hash_table_size (self->known_sources) >= KNOWN_SOURCES_PER_GENERATION)
    {
      g_hash_table_unref (self->known_sources_old);
      self->known_sources_old = self->known_sources;
      self->known_sources = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    }
  g_hash_table_add (self->known_sources, g_strdup (key));
}

void
_wzp_relay_accept_init (WzpRelay *self)
{
  self->known_sources = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->known_sources_old = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&self->tls_queue);
}

void
_wzp_relay_accept_free (WzpRelay *self)
{
  g_hash_table_unref (self->known_sources);
  g_hash_table_unref (self->known_sources_old);
}

/* TLS slots */

static guint
tls_per_source (WzpRelay *self)
{
  return MAX (1, self->max_tls_handshakes / 4);
}

static guint
tls_reserved_for_known (WzpRelay *self)
{
  return self->max_tls_handshakes / 4;
}

static gboolean
tls_slot_free (WzpRelay  *self,
               RelayConn *conn)
{
  if (self->tls_handshakes >= self->max_tls_handshakes)
    return FALSE;
  if (conn->ip->tls_handshakes >= tls_per_source (self))
    return FALSE;
  if (!conn->known_source &&
      self->tls_handshakes >= self->max_tls_handshakes - tls_reserved_for_known (self))
    return FALSE;
  return TRUE;
}

/* Starts every queued handshake that fits now, known sources first. The queue is at most
 * max-pending-handshakes long. */
static void
tls_queue_run (WzpRelay *self)
{
  if (!self->running)
    return;   /* stopping: the queued connections are being closed */
  for (int pass = 0; pass < 2; pass++)
    {
      GList *l = self->tls_queue.head;

      while (l != NULL && self->tls_handshakes < self->max_tls_handshakes)
        {
          RelayConn *conn = l->data;
          GList *next = l->next;

          if (conn->known_source == (pass == 0) && tls_slot_free (self, conn))
            {
              g_queue_delete_link (&self->tls_queue, l);
              accept_start_handshake (conn);
            }
          l = next;
        }
    }
}

/* Stage changes */

static void
stage_leave (RelayConn *conn)
{
  WzpRelay *self = conn->relay;

  switch (conn->stage)
    {
    case CONN_AWAITING_HELLO:
      g_queue_unlink (&self->awaiting_hello, &conn->awaiting_link);
      g_queue_unlink (&conn->ip->awaiting_hello, &conn->awaiting_ip_link);
      break;
    case CONN_QUEUED:
      g_queue_remove (&self->tls_queue, conn);
      break;
    case CONN_HANDSHAKING:
      self->tls_handshakes--;
      conn->ip->tls_handshakes--;
      break;
    case CONN_ESTABLISHED:
    case CONN_GONE:
      return;
    }
  self->pending_handshakes--;
  conn->ip->handshakes--;
}

/* Called from the connection's close: releases what its stage held. */
void
_wzp_relay_accept_conn_closed (RelayConn *conn)
{
  gboolean freed_tls = conn->stage == CONN_HANDSHAKING;

  stage_leave (conn);
  if (conn->stage == CONN_ESTABLISHED && conn->counted_unregistered)
    {
      conn->counted_unregistered = FALSE;
      conn->ip->unregistered--;
    }
  conn->stage = CONN_GONE;
  if (freed_tls)
    tls_queue_run (conn->relay);
}

/* The connection registered: it no longer counts against max-unregistered-per-ip. */
void
_wzp_relay_accept_conn_registered (RelayConn *conn)
{
  if (!conn->counted_unregistered)
    return;
  conn->counted_unregistered = FALSE;
  conn->ip->unregistered--;
}

/* Deadlines: client-hello-timeout while awaiting the ClientHello, then handshake-timeout
 * from accept, both checked by the relay's wheel (wzp-relay.c). */
void
_wzp_relay_accept_deadline (RelayConn *conn,
                            gint64     now_us)
{
  WzpRelay *self = conn->relay;
  gint64 hello_deadline = conn->accepted_us +
                          (gint64) MIN (self->client_hello_timeout, self->handshake_timeout) *
                          G_USEC_PER_SEC;

  /* What already arrived counts: a relay busy for a moment (or starved of CPU) may reach
   * the deadline before the bytes that meet it. */
  if ((conn->stage == CONN_AWAITING_HELLO || conn->stage == CONN_HANDSHAKING) &&
      now_us >= MIN (hello_deadline, conn->handshake_deadline_us))
    {
      RelayConnStage before = conn->stage;

      _wzp_relay_accept_io (conn, G_IO_IN);
      if (conn->closed || conn->stage != before)
        {
          if (!conn->closed && conn->stage != CONN_ESTABLISHED)
            _wzp_relay_wheel_schedule (self->wheel, &conn->deadline, conn->handshake_deadline_us);
          return;
        }
    }

  if (conn->stage == CONN_AWAITING_HELLO && now_us >= hello_deadline)
    {
      _wzp_relay_counters_refused (self, "client-hello-timeout");
      _wzp_relay_conn_close (conn, "no TLS ClientHello in time");
    }
  else if (now_us >= conn->handshake_deadline_us)
    {
      _wzp_relay_counters_refused (self, "handshake-timeout");
      /* Its ClientHello came but no handshake slot did: the relay was too busy, and says
       * so, since TLS has not started. */
      if (conn->stage == CONN_QUEUED)
        _wzp_relay_refuse_before_tls (conn->fd, conn->ip->tls_handshakes >= tls_per_source (self)
                                                ? RELAY_REFUSAL_TOO_MANY_FROM_NETWORK
                                                : RELAY_REFUSAL_BUSY);
      _wzp_relay_conn_close (conn, conn->stage == CONN_QUEUED
                                   ? "no TLS handshake slot in time"
                                   : "TLS handshake timed out");
    }
  else
    _wzp_relay_wheel_schedule (self->wheel, &conn->deadline,
                               conn->stage == CONN_AWAITING_HELLO
                               ? hello_deadline : conn->handshake_deadline_us);
}

/* Stage 3 */

static void
handshake_done (RelayConn *conn)
{
  WzpRelay *self = conn->relay;

  stage_leave (conn);
  conn->stage = CONN_ESTABLISHED;
  known_source_add (self, conn->ip->key);
  tls_queue_run (self);

  /* Established but not registered yet: capped per source, so that one address cannot
   * hold the relay's descriptors with connections that never register. */
  if (conn->ip->unregistered >= self->max_unregistered_per_ip)
    {
      _wzp_relay_conn_refuse (conn, "max-unregistered-per-ip",
                              "Too many connections from your network that have not "
                              "registered (%u); try again later",
                              self->max_unregistered_per_ip);
      return;
    }
  conn->counted_unregistered = TRUE;
  conn->ip->unregistered++;
  _wzp_relay_conn_established (conn);
}

/* One step of the handshake, as far as it goes without waiting for the client. */
static void
handshake_step (RelayConn *conn)
{
  g_autoptr(GError) error = NULL;

  switch (_wzp_relay_session_handshake (conn->session, &error))
    {
    case RELAY_SESSION_AGAIN:
      _wzp_relay_poller_modify (conn->relay->poller, conn->watch,
                                G_IO_IN | (_wzp_relay_session_get_queued (conn->session) > 0
                                           ? G_IO_OUT : 0));
      break;
    case RELAY_SESSION_DONE:
      handshake_done (conn);
      break;
    case RELAY_SESSION_FAILED:
    default:
      _wzp_relay_conn_close (conn, error->message);
      break;
    }
}

/* Called from the queue: the handshake itself starts on the next iteration (a kick), so
 * that a connection that fails at once is not closed while the queue is being walked. */
static void
accept_start_handshake (RelayConn *conn)
{
  WzpRelay *self = conn->relay;
  g_autoptr(GError) error = NULL;

  conn->stage = CONN_HANDSHAKING;
  self->tls_handshakes++;
  conn->ip->tls_handshakes++;
  conn->session = _wzp_relay_session_new (conn->fd, self->tls_credentials, &error);
  if (conn->session == NULL)
    {
      g_warning ("%s", error->message);
      conn->write_failed = TRUE;   /* closes on the next iteration */
    }
  _wzp_relay_poller_kick (self->poller, conn->watch, G_IO_IN);
}

/* Stage 2 */

static void
hello_complete (RelayConn *conn)
{
  WzpRelay *self = conn->relay;

  g_queue_unlink (&self->awaiting_hello, &conn->awaiting_link);
  g_queue_unlink (&conn->ip->awaiting_hello, &conn->awaiting_ip_link);
  _wzp_relay_wheel_schedule (self->wheel, &conn->deadline, conn->handshake_deadline_us);
  /* Nothing to read until a slot is free (the ClientHello stays in the kernel's buffer);
   * a client that goes away still shows as a hang-up. */
  _wzp_relay_poller_modify (self->poller, conn->watch, 0);
  conn->stage = CONN_QUEUED;
  g_queue_push_tail (&self->tls_queue, conn);
  tls_queue_run (self);
}

/* Stage 1 */

/* Peeks at what arrived. Returns TRUE while the first record may still be a ClientHello
 * (setting *@complete once it has all arrived); FALSE to close. */
static gboolean
peek_hello (int       fd,
            gboolean *complete)
{
  guint8 header[TLS_RECORD_HEADER + 1];
  gssize n = recv (fd, header, sizeof header, MSG_PEEK | MSG_DONTWAIT);
  int available = 0;
  guint length;
  int lowat;

  *complete = FALSE;
  if (n <= 0)
    return n < 0 && (errno == EAGAIN || errno == EINTR);
  if (header[0] != TLS_HANDSHAKE_RECORD || (n >= 2 && header[1] != 3) ||
      (n >= 6 && header[5] != TLS_CLIENT_HELLO))
    return FALSE;
  if (n < (gssize) sizeof header)
    {
      lowat = sizeof header;
      setsockopt (fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
      return TRUE;
    }
  length = (header[3] << 8) | header[4];
  if (length == 0 || length > TLS_MAX_RECORD)
    return FALSE;
  if (ioctl (fd, FIONREAD, &available) != 0)
    return FALSE;
  /* Wake up only once the whole record is in: a peer trickling it byte by byte costs
   * one wake-up, not one per byte (TCP's poll honours SO_RCVLOWAT, epoll too). */
  lowat = available >= (int) (TLS_RECORD_HEADER + length) ? 1 : (int) (TLS_RECORD_HEADER + length);
  setsockopt (fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
  *complete = lowat == 1;
  return TRUE;
}

/* The socket is ready, in a stage before the handshake completed. */
void
_wzp_relay_accept_io (RelayConn    *conn,
                      GIOCondition  events)
{
  gboolean complete;

  switch (conn->stage)
    {
    case CONN_AWAITING_HELLO:
      if (!peek_hello (conn->fd, &complete))
        _wzp_relay_conn_close (conn, "the first bytes are not a TLS ClientHello");
      else if (complete)
        hello_complete (conn);
      else if (events & (G_IO_HUP | G_IO_ERR))
        _wzp_relay_conn_close (conn, "the client went away before its ClientHello");
      break;
    case CONN_QUEUED:
      if (events & (G_IO_HUP | G_IO_ERR))
        _wzp_relay_conn_close (conn, "the client went away while queued for a handshake");
      break;
    case CONN_HANDSHAKING:
      handshake_step (conn);
      break;
    case CONN_ESTABLISHED:
    case CONN_GONE:
    default:
      break;
    }
}

static void
await_hello (RelayConn *conn)
{
  WzpRelay *self = conn->relay;

  conn->stage = CONN_AWAITING_HELLO;
  conn->handshake_deadline_us = conn->accepted_us +
                                (gint64) self->handshake_timeout * G_USEC_PER_SEC;
  _wzp_relay_wheel_schedule (self->wheel, &conn->deadline,
                             conn->accepted_us +
                             (gint64) MIN (self->client_hello_timeout, self->handshake_timeout) *
                             G_USEC_PER_SEC);
  conn->awaiting_link.data = conn;
  conn->awaiting_ip_link.data = conn;
  g_queue_push_tail_link (&self->awaiting_hello, &conn->awaiting_link);
  g_queue_push_tail_link (&conn->ip->awaiting_hello, &conn->awaiting_ip_link);
}

/* Accepting */

static gboolean
resume_accept_cb (gpointer user_data)
{
  WzpRelay *self = user_data;

  self->resume_accept_id = 0;
  if (self->running)
    for (guint i = 0; i < self->services->len; i++)
      g_socket_service_start (g_ptr_array_index (self->services, i));
  return G_SOURCE_REMOVE;
}

gboolean
_wzp_relay_accept_check_fds (WzpRelay          *self,
                             GSocketConnection *connection)
{
  int fd = g_socket_get_fd (g_socket_connection_get_socket (connection));

  if (!_wzp_relay_fds_low (self, fd))
    return TRUE;

  if (self->resume_accept_id == 0)
    {
      _wzp_relay_log_limit (self, NULL, "min-free-fds", NULL,
                            "Running out of file descriptors; not accepting "
                            "connections for a second");
      for (guint i = 0; i < self->services->len; i++)
        g_socket_service_stop (g_ptr_array_index (self->services, i));
      self->resume_accept_id = _wzp_timeout_add_seconds (self->context, 1, resume_accept_cb, self);
    }
  else
    _wzp_relay_counters_refused (self, "min-free-fds");   /* logged once per pause */
  return FALSE;
}

static const char *
handshake_limit_hit (WzpRelay   *self,
                     IpCounters *ip)
{
  if (ip->handshakes >= self->max_handshakes_per_ip)
    return "max-handshakes-per-ip";
  if (self->pending_handshakes >= self->max_pending_handshakes)
    return "max-pending-handshakes";
  return NULL;
}

/* At a cap, the connection that has waited longest for its ClientHello makes room for
 * the new one: a real client sends its ClientHello one round trip after connecting, so
 * the oldest silent connection is almost surely an idle one, and idle connections cannot
 * keep the users of their own address (a carrier NAT) out. FALSE when none is waiting. */
static gboolean
evict_oldest_silent (WzpRelay   *self,
                     IpCounters *ip)
{
  gboolean per_source = ip->handshakes >= self->max_handshakes_per_ip;
  GQueue *queue = per_source ? &ip->awaiting_hello : &self->awaiting_hello;
  RelayConn *oldest = g_queue_peek_head (queue);

  if (oldest == NULL)
    return FALSE;
  _wzp_relay_log_limit (self, oldest->ip->key,
                        per_source ? "max-handshakes-per-ip" : "max-pending-handshakes",
                        oldest->remote_addr, "no TLS ClientHello yet; closed to make room "
                        "for a new connection");
  _wzp_relay_conn_close (oldest, "no TLS ClientHello yet; closed to make room");
  return TRUE;
}

gboolean
_wzp_relay_accept_incoming (WzpRelay          *self,
                            GSocketConnection *connection)
{
  g_autoptr(GSocketAddress) remote = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  GInetAddress *address;
  const char *limit;
  IpCounters *ip;
  RelayConn *conn;

  if (!_wzp_relay_accept_check_fds (self, connection))
    {
      _wzp_relay_refuse_before_tls (g_socket_get_fd (g_socket_connection_get_socket (connection)),
                                    RELAY_REFUSAL_BUSY);
      return TRUE;
    }

  remote = g_socket_connection_get_remote_address (connection, NULL);
  local = g_socket_connection_get_local_address (connection, NULL);
  if (remote == NULL || local == NULL || !G_IS_INET_SOCKET_ADDRESS (remote))
    return TRUE;

  address = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));
  ip = _wzp_relay_ip_counters (self, address);
  while ((limit = handshake_limit_hit (self, ip)) != NULL && evict_oldest_silent (self, ip))
    ip = _wzp_relay_ip_counters (self, address);   /* the eviction may have freed it */
  if (limit != NULL)
    {
      g_autofree char *addr = _wzp_address_to_string (remote);

      _wzp_relay_log_limit (self, ip->key, limit, addr,
                            "too many connections in their TLS handshake; connection "
                            "refused");
      _wzp_relay_refuse_before_tls (g_socket_get_fd (g_socket_connection_get_socket (connection)),
                                    ip->handshakes >= self->max_handshakes_per_ip
                                    ? RELAY_REFUSAL_TOO_MANY_FROM_NETWORK : RELAY_REFUSAL_BUSY);
      _wzp_relay_ip_counters_gc (self, ip);
      return TRUE;
    }

  conn = _wzp_relay_conn_new (self, connection, ip);
  if (conn == NULL)
    {
      _wzp_relay_ip_counters_gc (self, ip);
      return TRUE;
    }
  conn->remote_addr = _wzp_address_to_string (remote);
  conn->local_ip = _wzp_address_ip_to_string (
    g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
  conn->known_source = known_source (self, ip->key);
  conn->accepted_us = g_get_monotonic_time ();
  self->pending_handshakes++;
  ip->handshakes++;
  await_hello (conn);
  return TRUE;
}
