/* wzp-relay-accept.c: a signalling connection from accept until its TLS handshake is done
 *
 * A connection goes through three stages, each capped so that idle or stalled sockets
 * cannot lock other clients out (docs/relay.md, "Connections and their limits"):
 *
 *  1. awaiting its ClientHello: no TLS state and no thread, only a socket watch. The
 *     first TLS record must be complete within client-hello-timeout (1 s); an idle TCP
 *     connection is closed then and never reaches a handshake slot. At a cap, the
 *     oldest such connection is closed to make room for a new one.
 *  2. queued: the ClientHello is in the kernel's buffer, waiting for a TLS slot.
 *  3. handshaking: glib-networking 2.74 runs each handshake in a worker thread of GIO's
 *     shared task pool (10 threads, growing slowly), so these are few: max-tls-handshakes
 *     in all, a quarter of them per source, and a quarter reserved for sources that
 *     completed a handshake before, whose handshakes also go first in the task pool.
 *
 * handshake-timeout covers all three from accept. Stages 1 to 3 count against
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
      if (conn->hello_source != NULL)
        {
          g_source_destroy (conn->hello_source);
          g_clear_pointer (&conn->hello_source, g_source_unref);
        }
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

  _wzp_clear_source (conn->relay->context, &conn->handshake_timeout_id);
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

static gboolean
handshake_timeout_cb (gpointer user_data)
{
  RelayConn *conn = user_data;

  conn->handshake_timeout_id = 0;
  _wzp_relay_conn_close (conn, conn->stage == CONN_AWAITING_HELLO
                               ? "no TLS ClientHello in time"
                               : "TLS handshake timed out");
  return G_SOURCE_REMOVE;
}

static void
arm_deadline (RelayConn *conn,
              guint      ms)
{
  _wzp_clear_source (conn->relay->context, &conn->handshake_timeout_id);
  conn->handshake_timeout_id = _wzp_timeout_add (conn->relay->context, ms,
                                                 handshake_timeout_cb, conn);
}

/* Stage 3 */

static void
handshake_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(RelayConn) conn = user_data;
  WzpRelay *self = conn->relay;
  g_autoptr(GError) error = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      if (!conn->closed)
        {
          g_autofree char *why = g_strdup_printf ("TLS handshake failed: %s", error->message);
          _wzp_relay_conn_close (conn, why);
        }
      return;
    }
  if (conn->closed)
    return;

  _wzp_clear_source (self->context, &conn->handshake_timeout_id);
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

static void
accept_start_handshake (RelayConn *conn)
{
  WzpRelay *self = conn->relay;

  conn->stage = CONN_HANDSHAKING;
  self->tls_handshakes++;
  conn->ip->tls_handshakes++;
  /* Returning sources go first in GIO's task pool, ahead of stalled strangers. */
  g_tls_connection_handshake_async (G_TLS_CONNECTION (conn->tls),
                                    conn->known_source ? G_PRIORITY_HIGH : G_PRIORITY_DEFAULT,
                                    conn->cancellable, handshake_cb, _wzp_relay_conn_ref (conn));
}

/* Stage 2 */

static void
hello_complete (RelayConn *conn)
{
  WzpRelay *self = conn->relay;
  g_autoptr(GError) error = NULL;
  gint64 elapsed_ms = (g_get_monotonic_time () - conn->accepted_us) / 1000;
  gint64 left_ms = (gint64) self->handshake_timeout * 1000 - elapsed_ms;

  g_clear_pointer (&conn->hello_source, g_source_unref);
  g_queue_unlink (&self->awaiting_hello, &conn->awaiting_link);
  g_queue_unlink (&conn->ip->awaiting_hello, &conn->awaiting_ip_link);
  arm_deadline (conn, MAX (left_ms, 1));

  conn->tls = _wzp_tls_server_new (G_IO_STREAM (conn->socket_conn),
                                   wzp_identity_get_certificate (self->identity), NULL,
                                   &error);
  if (conn->tls == NULL)
    {
      _wzp_relay_conn_close (conn, error->message);
      return;
    }
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
   * one wake-up, not one per byte (TCP's poll honours SO_RCVLOWAT). */
  lowat = available >= (int) (TLS_RECORD_HEADER + length) ? 1 : (int) (TLS_RECORD_HEADER + length);
  setsockopt (fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
  *complete = lowat == 1;
  return TRUE;
}

static gboolean
hello_readable_cb (GSocket      *socket,
                   GIOCondition  condition,
                   gpointer      user_data)
{
  RelayConn *conn = user_data;
  gboolean complete;

  if (!peek_hello (g_socket_get_fd (socket), &complete))
    {
      g_clear_pointer (&conn->hello_source, g_source_unref);
      _wzp_relay_conn_close (conn, "the first bytes are not a TLS ClientHello");
      return G_SOURCE_REMOVE;
    }
  if (!complete)
    return G_SOURCE_CONTINUE;
  hello_complete (conn);
  return G_SOURCE_REMOVE;
}

static void
await_hello (RelayConn *conn)
{
  GSocket *socket = g_socket_connection_get_socket (conn->socket_conn);

  conn->stage = CONN_AWAITING_HELLO;
  arm_deadline (conn, MIN (conn->relay->client_hello_timeout, conn->relay->handshake_timeout)
                      * 1000);
  conn->awaiting_link.data = conn;
  conn->awaiting_ip_link.data = conn;
  g_queue_push_tail_link (&conn->relay->awaiting_hello, &conn->awaiting_link);
  g_queue_push_tail_link (&conn->ip->awaiting_hello, &conn->awaiting_ip_link);
  conn->hello_source = g_socket_create_source (socket, G_IO_IN, NULL);
  g_source_set_callback (conn->hello_source, G_SOURCE_FUNC (hello_readable_cb), conn, NULL);
  g_source_attach (conn->hello_source, conn->relay->context);
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
