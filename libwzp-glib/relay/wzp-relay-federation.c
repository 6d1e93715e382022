/* wzp-relay-federation.c: configured peer relays and the links between them
 *
 * A link is a signalling connection between two relays: mutually authenticated TLS (each
 * pins the other's fingerprint), then FederationHello both ways, then PresenceUpdate and
 * FederatedSignalForward until it drops. Exactly one link per pair: the relay whose
 * fingerprint sorts first (strcmp) dials and redials with backoff; the other only accepts,
 * on its ordinary listener, and only from fingerprints it has configured as peers. Both
 * keep the link alive with Ping/Pong and close it when it falls silent.
 *
 * A link that goes down takes the calls over it with it: their local parties get
 * Hangup{Error} at once (docs/protocol.md, Federation, explains why not a grace period).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-enum-types.h"
#include "wzp-error.h"
#include "wzp-relay-federation-private.h"
#include "wzp-relay-uri-private.h"
#include "wzp-tls-dial-private.h"

#define BACKOFF_MIN_MS   250
#define BACKOFF_MAX_MS   10000
#define MAX_BAD_MESSAGES 16

struct _RelayLink
{
  grefcount           ref_count;
  WzpRelay           *relay;
  RelayPeer          *peer;               /* unowned; NULL once detached from its peer */
  GSocketConnection  *socket_conn;
  GIOStream          *tls;
  WzpFrameIO         *io;
  GCancellable       *cancellable;
  char               *remote_addr;
  gboolean            outgoing;
  gboolean            up;                 /* FederationHello exchanged */
  gboolean            closed;
  guint               deadline_id;        /* dialling: connect + TLS + hello */
  guint               idle_id;
  gint64              last_activity_us;
  gboolean            ping_outstanding;
  guint               bad_messages;
};

static void link_close (RelayLink  *link,
                        const char *why);
static void link_read_next (RelayLink *link);
static void peer_dial (RelayPeer *peer);

static RelayFederation *
fed_of (WzpRelay *self)
{
  return self->federation;
}

/* Links */

static RelayLink *
link_ref (RelayLink *link)
{
  g_ref_count_inc (&link->ref_count);
  return link;
}

static void
link_unref (RelayLink *link)
{
  if (!g_ref_count_dec (&link->ref_count))
    return;

  g_clear_object (&link->io);
  g_clear_object (&link->tls);
  g_clear_object (&link->socket_conn);
  g_clear_object (&link->cancellable);
  g_free (link->remote_addr);
  g_free (link);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayLink, link_unref)

static void
log_peer (RelayPeer      *peer,
          GLogLevelFlags  level,
          const char     *format,
          ...) G_GNUC_PRINTF (3, 4);

static void
log_peer (RelayPeer      *peer,
          GLogLevelFlags  level,
          const char     *format,
          ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  g_log_structured (G_LOG_DOMAIN, level,
                    "WZP_PEER", peer->fingerprint,
                    "WZP_PEER_URI", peer->uri,
                    "MESSAGE", "Peer relay %s: %s", peer->uri, text);
}

static void
peer_set_state (RelayPeer        *peer,
                WzpPeerLinkState  state)
{
  if (peer->state == state)
    return;
  peer->state = state;
  _wzp_relay_emit_peer_link_changed (peer->relay, peer->fingerprint, state);
}

/* A peer relay that stops reading must not grow this one without bound either. Its queue
 * holds a whole presence snapshot when the link comes up (some 45 bytes per identity:
 * 4.5 MB for 100,000) besides the calls' signalling, so the cap is far above a
 * client's max-queued-bytes (docs/relay.md, "Federation"). */
#define LINK_MAX_QUEUED_BYTES (64 * 1024 * 1024)

static void
link_write_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(RelayLink) link = user_data;
  g_autoptr(GError) error = NULL;

  if (_wzp_frame_io_write_finish (WZP_FRAME_IO (source), result, &error))
    return;
  /* Other write errors are the read side's to notice. */
  if (link->closed || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
    {
      g_debug ("Could not send a frame to a peer relay: %s", error->message);
      return;
    }
  _wzp_relay_counters_refused (link->relay, "federation-queued-bytes");
  if (link->peer != NULL)
    log_peer (link->peer, G_LOG_LEVEL_INFO, "%s; closing the link", error->message);
  link_close (link, "the peer relay is not reading");
}

static void
link_send (RelayLink  *link,
           WzpMessage *message)
{
  if (link->closed || link->io == NULL)
    return;
  _wzp_frame_io_set_max_queued_bytes (link->io, LINK_MAX_QUEUED_BYTES);
  /* The callback closes the link on overflow, from the main loop: never from inside
   * this call, whose caller may be walking calls or peers. */
  _wzp_frame_io_write_async (link->io, message, NULL, link_write_cb, link_ref (link));
}

void
_wzp_relay_federation_send (RelayPeer  *peer,
                            WzpMessage *message)
{
  if (peer->link != NULL)
    link_send (peer->link, message);
}

void
_wzp_relay_federation_link_error (RelayPeer  *peer,
                                  const char *code,
                                  const char *call_id,
                                  const char *format,
                                  ...)
{
  g_autofree char *text = NULL;
  g_autoptr(WzpMessage) error = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_PEER", peer->fingerprint,
                    "WZP_CALL_ID", call_id ? call_id : "",
                    "WZP_ERROR_CODE", code,
                    "MESSAGE", "Peer relay %s: %s (%s)", peer->uri, text, code);
  if (peer->link == NULL)
    return;
  error = _wzp_message_new_error (code, text, call_id);
  link_send (peer->link, error);
}

static gboolean
retry_cb (gpointer user_data)
{
  RelayPeer *peer = user_data;

  peer->retry_id = 0;
  peer_dial (peer);
  return G_SOURCE_REMOVE;
}

/* Reconnects like the client does: 250 ms, doubling, at most 10 s. */
static void
schedule_retry (RelayPeer *peer)
{
  RelayFederation *fed = fed_of (peer->relay);

  if (!peer->dialer || !fed->started || peer->retry_id != 0 ||
      peer->link != NULL || peer->dialling != NULL)
    return;
  peer->backoff_ms = peer->backoff_ms == 0 ? BACKOFF_MIN_MS
                                           : MIN (peer->backoff_ms * 2, BACKOFF_MAX_MS);
  peer->retry_id = _wzp_timeout_add (peer->relay->context, peer->backoff_ms, retry_cb, peer);
}

/* The up link of @peer is gone: what the peer announced and the calls over it go too. */
static void
peer_link_lost (RelayPeer  *peer,
                const char *why)
{
  guint before = g_hash_table_size (peer->announced);

  log_peer (peer, G_LOG_LEVEL_INFO, "link down: %s", why);
  _wzp_relay_presence_link_down (peer);
  if (before > 0)
    _wzp_relay_emit_peer_presence_changed (peer->relay, peer->fingerprint, 0);
  _wzp_relay_calls_peer_lost (peer->relay, peer->fingerprint);
}

static void
link_close (RelayLink  *link,
            const char *why)
{
  WzpRelay *self = link->relay;
  RelayPeer *peer = link->peer;
  g_autoptr(RelayLink) hold = link_ref (link);

  if (link->closed)
    return;
  link->closed = TRUE;

  g_cancellable_cancel (link->cancellable);
  _wzp_clear_source (link->relay->context, &link->deadline_id);
  _wzp_clear_source (link->relay->context, &link->idle_id);
  if (link->socket_conn != NULL)
    g_io_stream_close (G_IO_STREAM (link->socket_conn), NULL, NULL);

  link->peer = NULL;
  if (peer != NULL)
    {
      if (peer->dialling == link)
        {
          peer->dialling = NULL;
          log_peer (peer, G_LOG_LEVEL_DEBUG, "dialling failed: %s", why);
        }
      if (peer->link == link)
        {
          peer->link = NULL;
          peer_link_lost (peer, why);
        }
      if (peer->link == NULL && peer->dialling == NULL)
        {
          peer_set_state (peer, WZP_PEER_LINK_DOWN);
          schedule_retry (peer);
        }
    }

  g_hash_table_remove (fed_of (self)->links, link);
}

static void
close_after_flush_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(RelayLink) link = user_data;

  _wzp_frame_io_write_finish (WZP_FRAME_IO (source), result, NULL);
  link_close (link, "closed after a final message");
}

static gboolean
flush_deadline_cb (gpointer user_data)
{
  RelayLink *link = user_data;

  link->deadline_id = 0;
  link_close (link, "the final message was not read in time");
  return G_SOURCE_REMOVE;
}

/* Writes what is queued and @message (nullable) last, then closes. Until then the link
 * reads nothing more, and it no longer counts as its peer's link. */
static void
link_send_and_close (RelayLink  *link,
                     WzpMessage *message,
                     const char *why)
{
  RelayPeer *peer = link->peer;
  g_autoptr(WzpMessage) bye = NULL;

  if (link->closed)
    return;
  if (link->io == NULL)
    {
      link_close (link, why);
      return;
    }
  if (peer != NULL && peer->link == link)
    {
      /* Detach now, so nothing else is queued on it and the peer can relink. */
      peer->link = NULL;
      link->peer = NULL;
      peer_link_lost (peer, why);
      if (peer->dialling == NULL)
        {
          peer_set_state (peer, WZP_PEER_LINK_DOWN);
          schedule_retry (peer);
        }
    }
  g_cancellable_cancel (link->cancellable);
  _wzp_clear_source (link->relay->context, &link->idle_id);
  if (message == NULL)
    message = bye = _wzp_message_new_error (WZP_ERROR_CODE_SHUTDOWN, why, NULL);
  _wzp_frame_io_set_max_queued_bytes (link->io, LINK_MAX_QUEUED_BYTES);
  _wzp_frame_io_write_async (link->io, message, NULL, close_after_flush_cb, link_ref (link));
  /* A peer that does not read would never let the flush finish. */
  _wzp_clear_source (link->relay->context, &link->deadline_id);
  link->deadline_id = _wzp_timeout_add_seconds (link->relay->context,
                                                link->relay->idle_timeout,
                                                flush_deadline_cb, link);
}

static RelayLink *
link_new (WzpRelay  *self,
          RelayPeer *peer,
          gboolean   outgoing)
{
  RelayLink *link = g_new0 (RelayLink, 1);

  g_ref_count_init (&link->ref_count);
  link->relay = self;
  link->peer = peer;
  link->outgoing = outgoing;
  link->cancellable = g_cancellable_new ();
  g_hash_table_add (fed_of (self)->links, link);
  return link;
}

/* Keepalive: the same intervals as for clients (keepalive-interval, idle-timeout). */
static gboolean
link_idle_cb (gpointer user_data)
{
  RelayLink *link = user_data;
  WzpRelay *self = link->relay;
  gint64 idle_s = (g_get_monotonic_time () - link->last_activity_us) / G_USEC_PER_SEC;
  gint64 pending_since = link->io != NULL ? _wzp_frame_io_get_pending_since (link->io) : 0;
  guint next;

  link->idle_id = 0;
  if (idle_s >= self->idle_timeout)
    {
      g_autofree char *why = g_strdup_printf ("no message for %u seconds", self->idle_timeout);
      link_close (link, why);
      return G_SOURCE_REMOVE;
    }
  /* As for clients: a frame that waited idle-timeout to be written means the peer stopped
   * reading, however much it sends. */
  if (pending_since != 0 &&
      (g_get_monotonic_time () - pending_since) / G_USEC_PER_SEC >= self->idle_timeout)
    {
      g_autofree char *why = g_strdup_printf ("a message waited %u seconds to be written",
                                              self->idle_timeout);
      if (link->peer != NULL)
        log_peer (link->peer, G_LOG_LEVEL_INFO, "%s; closing the link", why);
      link_close (link, why);
      return G_SOURCE_REMOVE;
    }
  if (idle_s >= self->keepalive_interval && !link->ping_outstanding)
    {
      g_autoptr(WzpMessage) ping = _wzp_message_new (WZP_MESSAGE_PING);

      _wzp_message_set_int (ping, "timestamp_ms", g_get_real_time () / 1000);
      link_send (link, ping);
      link->ping_outstanding = TRUE;
    }
  if (idle_s < self->keepalive_interval)
    next = self->keepalive_interval - idle_s;
  else
    next = MIN (self->keepalive_interval, self->idle_timeout - idle_s);
  link->idle_id = _wzp_timeout_add_seconds (link->relay->context, MAX (next, 1),
                                            link_idle_cb, link);
  return G_SOURCE_REMOVE;
}

static WzpMessage *
new_hello (WzpRelay *self)
{
  WzpMessage *hello = _wzp_message_new (WZP_MESSAGE_FEDERATION_HELLO);

  _wzp_message_set_string (hello, "relay_fingerprint", wzp_relay_get_fingerprint (self));
  _wzp_message_set_string (hello, "relay_version", PACKAGE_VERSION);
  return hello;
}

/* FederationHello went both ways on @link: it becomes its peer's link. The newest link
 * wins: an older one (the peer redialled after a failure we have not noticed yet) goes. */
static void
link_up (RelayLink *link)
{
  RelayPeer *peer = link->peer;
  RelayLink *old = peer->link;
  RelayLink *dialling = peer->dialling;

  link->up = TRUE;
  _wzp_clear_source (link->relay->context, &link->deadline_id);
  if (dialling == link)
    peer->dialling = NULL;
  peer->link = link;
  _wzp_clear_source (peer->relay->context, &peer->retry_id);
  peer->backoff_ms = 0;

  if (old != NULL && old != link)
    {
      old->peer = NULL;
      peer_link_lost (peer, "replaced by a newer link");
      link_close (old, "replaced by a newer link");
    }
  if (dialling != NULL && dialling != link)
    link_close (dialling, "the peer dialled us meanwhile");

  link->last_activity_us = g_get_monotonic_time ();
  _wzp_clear_source (link->relay->context, &link->idle_id);
  link->idle_id = _wzp_timeout_add_seconds (link->relay->context,
                                            link->relay->keepalive_interval, link_idle_cb, link);

  log_peer (peer, G_LOG_LEVEL_INFO, "link up (%s, %s)", link->remote_addr,
            link->outgoing ? "dialled" : "accepted");
  peer_set_state (peer, WZP_PEER_LINK_UP);
  _wzp_relay_presence_link_up (peer);
}

static void
handle_forward (RelayLink  *link,
                WzpMessage *message)
{
  RelayPeer *peer = link->peer;
  WzpMessage *inner = _wzp_message_get_inner (message);
  const char *origin = _wzp_message_get_string (message, "origin_relay_fingerprint");
  WzpMessageType type = _wzp_message_get_message_type (inner);

  /* One hop: a peer speaks only for itself, and never passes on someone else's forward. */
  if (g_strcmp0 (origin, peer->fingerprint) != 0)
    {
      _wzp_relay_federation_link_error (peer, WZP_ERROR_CODE_BAD_MESSAGE,
                                        _wzp_message_get_string (inner, "call_id"),
                                        "FederatedSignalForward from %s names %s as its "
                                        "origin; forwards travel one hop, from their origin",
                                        peer->fingerprint, origin);
      return;
    }

  switch (type)
    {
    case WZP_MESSAGE_DIRECT_CALL_OFFER:
    case WZP_MESSAGE_CALL_RINGING:
    case WZP_MESSAGE_DIRECT_CALL_ANSWER:
    case WZP_MESSAGE_CANDIDATE_UPDATE:
    case WZP_MESSAGE_HANGUP:
    case WZP_MESSAGE_PIPE_REQUESTED:
    case WZP_MESSAGE_PEER_SIGNALLING_LOST:
    case WZP_MESSAGE_ERROR:
      _wzp_relay_calls_handle_remote (link->relay, peer, inner);
      return;

    default:
      _wzp_relay_federation_link_error (peer, WZP_ERROR_CODE_BAD_MESSAGE,
                                        _wzp_message_get_string (inner, "call_id"),
                                        "%s does not cross between relays",
                                        _wzp_message_type_to_string (type));
      return;
    }
}

static void
link_handle (RelayLink  *link,
             WzpMessage *message)
{
  RelayPeer *peer = link->peer;
  WzpMessageType type = _wzp_message_get_message_type (message);
  g_autoptr(GError) error = NULL;

  switch (type)
    {
    case WZP_MESSAGE_PING:
      {
        g_autoptr(WzpMessage) pong = _wzp_message_new (WZP_MESSAGE_PONG);

        _wzp_message_set_int (pong, "timestamp_ms",
                              _wzp_message_get_int (message, "timestamp_ms"));
        link_send (link, pong);
      }
      return;

    case WZP_MESSAGE_PONG:
      return;

    case WZP_MESSAGE_ERROR:
      /* Never answered: two relays must not bounce errors at each other. */
      log_peer (peer, G_LOG_LEVEL_INFO, "said: %s (%s)",
                _wzp_message_get_string (message, "message"),
                _wzp_message_get_string (message, "code"));
      return;

    case WZP_MESSAGE_PRESENCE_UPDATE:
      {
        guint before = g_hash_table_size (peer->announced);

        if (!_wzp_relay_presence_handle (peer, message, &error))
          _wzp_relay_federation_link_error (peer, WZP_ERROR_CODE_BAD_MESSAGE, NULL, "%s",
                                            error->message);
        /* Even a refused update may have applied its first part. */
        if (g_hash_table_size (peer->announced) != before)
          _wzp_relay_emit_peer_presence_changed (peer->relay, peer->fingerprint,
                                                 g_hash_table_size (peer->announced));
      }
      return;

    case WZP_MESSAGE_FEDERATED_SIGNAL_FORWARD:
      handle_forward (link, message);
      return;

    default:
      _wzp_relay_federation_link_error (peer, WZP_ERROR_CODE_BAD_MESSAGE, NULL,
                                        "%s does not travel on a federation link",
                                        _wzp_message_type_to_string (type));
      return;
    }
}

static void
link_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(RelayLink) link = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) message = NULL;
  RelayPeer *peer;

  message = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result, &error);
  if (link->closed || link->peer == NULL)
    return;
  peer = link->peer;

  if (message == NULL)
    {
      if (error->domain == WZP_PROTOCOL_ERROR &&
          error->code != WZP_PROTOCOL_ERROR_TRUNCATED &&
          error->code != WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE &&
          ++link->bad_messages <= MAX_BAD_MESSAGES)
        {
          link->last_activity_us = g_get_monotonic_time ();
          if (link->up)
            _wzp_relay_federation_link_error (peer, WZP_ERROR_CODE_BAD_MESSAGE, NULL, "%s",
                                              error->message);
          link_read_next (link);
          return;
        }
      link_close (link, error->message);
      return;
    }

  link->last_activity_us = g_get_monotonic_time ();
  link->ping_outstanding = FALSE;

  if (!link->up)
    {
      /* Our own dial: the first frame must be the peer's FederationHello. */
      WzpMessageType type = _wzp_message_get_message_type (message);

      if (type == WZP_MESSAGE_ERROR)
        {
          g_autofree char *why = g_strdup_printf ("refused: %s (%s)",
                                                  _wzp_message_get_string (message, "message"),
                                                  _wzp_message_get_string (message, "code"));
          log_peer (peer, G_LOG_LEVEL_INFO, "%s", why);
          link_close (link, why);
          return;
        }
      if (type != WZP_MESSAGE_FEDERATION_HELLO ||
          g_strcmp0 (_wzp_message_get_string (message, "relay_fingerprint"),
                     peer->fingerprint) != 0)
        {
          link_close (link, "the peer did not answer with its FederationHello");
          return;
        }
      link_up (link);
    }
  else
    link_handle (link, message);

  if (!link->closed)
    link_read_next (link);
}

static void
link_read_next (RelayLink *link)
{
  _wzp_frame_io_read_async (link->io, link->cancellable, link_read_cb, link_ref (link));
}

/* Dialling */

static gboolean
dial_deadline_cb (gpointer user_data)
{
  RelayLink *link = user_data;

  link->deadline_id = 0;
  link_close (link, "no FederationHello in time");
  return G_SOURCE_REMOVE;
}

static void
dial_dialled_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(RelayLink) link = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) socket_conn = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
  g_autoptr(WzpMessage) hello = NULL;
  WzpTlsDialStep step = WZP_TLS_DIAL_STEP_CONNECT;

  tls = _wzp_tls_dial_finish (result, &socket_conn, &step, &error);
  /* Closing cancelled the dial: nothing was connected. */
  if (link->closed)
    return;
  if (tls == NULL && step == WZP_TLS_DIAL_STEP_HANDSHAKE)
    {
      g_autofree char *why = g_strdup_printf ("TLS handshake failed: %s", error->message);

      if (link->peer != NULL)
        log_peer (link->peer, G_LOG_LEVEL_INFO, "%s", why);
      link_close (link, why);
      return;
    }
  if (tls == NULL)
    {
      link_close (link, error->message);
      return;
    }

  link->socket_conn = g_steal_pointer (&socket_conn);
  link->tls = g_steal_pointer (&tls);
  remote = g_socket_connection_get_remote_address (link->socket_conn, NULL);
  link->remote_addr = remote ? _wzp_address_to_string (remote) : g_strdup ("?");
  link->io = _wzp_frame_io_new (link->tls);
  hello = new_hello (link->relay);
  link_send (link, hello);
  link_read_next (link);
}

static void
peer_dial (RelayPeer *peer)
{
  WzpRelay *self = peer->relay;
  g_autoptr(GSocketConnectable) connectable = NULL;
  RelayLink *link;

  if (!peer->dialer || peer->link != NULL || peer->dialling != NULL ||
      !fed_of (self)->started)
    return;

  link = link_new (self, peer, TRUE);
  peer->dialling = link;
  peer_set_state (peer, WZP_PEER_LINK_CONNECTING);
  log_peer (peer, G_LOG_LEVEL_DEBUG, "dialling");

  /* One deadline for the whole setup: TCP, TLS and the peer's FederationHello. */
  link->deadline_id = _wzp_timeout_add_seconds (self->context, self->handshake_timeout,
                                                dial_deadline_cb, link);

  connectable = g_network_address_new (peer->host, peer->port);
  _wzp_tls_dial_async (connectable, NULL, wzp_identity_get_certificate (self->identity),
                       peer->fingerprint, 0, link->cancellable, dial_dialled_cb,
                       link_ref (link));
}

/* Accepting, on the relay's ordinary listener */

static gboolean
adopt_link (WzpRelay    *self,
            RelayPeer   *peer,
            RelayConn   *conn,
            WzpMessage  *hello,
            const char **code,
            GError     **error)
{
  g_autoptr(WzpMessage) our_hello = NULL;
  RelayLink *link;

  if (g_strcmp0 (_wzp_message_get_string (hello, "relay_fingerprint"), conn->fingerprint) != 0)
    {
      *code = WZP_ERROR_CODE_BAD_MESSAGE;
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_UNEXPECTED,
                   "FederationHello names %s, but your certificate is %s",
                   _wzp_message_get_string (hello, "relay_fingerprint"), conn->fingerprint);
      return FALSE;
    }

  link = link_new (self, peer, FALSE);
  link->socket_conn = g_object_ref (conn->handover);
  link->tls = g_object_ref (conn->tls);
  link->io = g_object_ref (conn->io);
  link->remote_addr = g_strdup (conn->remote_addr);
  _wzp_frame_io_set_max_frame_size (link->io, WZP_FRAME_MAX_SIZE);

  our_hello = new_hello (self);
  link_send (link, our_hello);
  link_up (link);
  link_read_next (link);
  return TRUE;
}

gboolean
_wzp_relay_federation_adopt (WzpRelay    *self,
                             RelayConn   *conn,
                             WzpMessage  *message,
                             const char **code,
                             GError     **error)
{
  RelayPeer *peer = _wzp_relay_federation_peer (self, conn->fingerprint);

  if (peer == NULL || conn->registered)
    {
      *code = WZP_ERROR_CODE_NOT_A_PEER;
      g_set_error (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_UNKNOWN_PEER,
                   "This relay has no federation peer with fingerprint %s; its operator "
                   "must add yours (wzp-relay --peer) before it accepts your link",
                   conn->fingerprint);
      return FALSE;
    }

  if (_wzp_message_get_message_type (message) == WZP_MESSAGE_OPEN_PIPE)
    return _wzp_relay_bridge_adopt (self, peer, conn, message, code, error);
  return adopt_link (self, peer, conn, message, code, error);
}

/* Routing */

static WzpMessage *
new_forward (WzpRelay   *self,
             WzpMessage *inner)
{
  WzpMessage *forward = _wzp_message_new (WZP_MESSAGE_FEDERATED_SIGNAL_FORWARD);

  _wzp_message_set_inner (forward, inner);
  _wzp_message_set_string (forward, "origin_relay_fingerprint", wzp_relay_get_fingerprint (self));
  return forward;
}

/* Links read frames of up to WZP_FRAME_MAX_SIZE, whatever the relays' max-frame-size. */
gboolean
_wzp_relay_federation_check_size (WzpRelay    *self,
                                  WzpMessage  *inner,
                                  GError     **error)
{
  g_autoptr(WzpMessage) forward = new_forward (self, inner);

  return _wzp_message_check_size (forward, WZP_FRAME_MAX_SIZE, error);
}

gboolean
_wzp_relay_federation_forward (WzpRelay    *self,
                               const char  *peer_fingerprint,
                               WzpMessage  *inner)
{
  RelayPeer *peer = _wzp_relay_federation_peer (self, peer_fingerprint);
  g_autoptr(WzpMessage) forward = NULL;

  if (peer == NULL || peer->link == NULL)
    return FALSE;
  forward = new_forward (self, inner);
  link_send (peer->link, forward);
  return TRUE;
}

GStrv
_wzp_relay_federation_dup_reflectors (WzpRelay *self)
{
  RelayFederation *fed = fed_of (self);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; self->reflectors != NULL && self->reflectors[i] != NULL; i++)
    g_strv_builder_add (builder, self->reflectors[i]);
  for (guint i = 0; i < fed->peers->len; i++)
    {
      RelayPeer *peer = g_ptr_array_index (fed->peers, i);

      if (self->reflectors == NULL ||
          !g_strv_contains ((const char * const *) self->reflectors, peer->uri))
        g_strv_builder_add (builder, peer->uri);
    }
  return g_strv_builder_end (builder);
}

/* Peers */

RelayPeer *
_wzp_relay_federation_peer (WzpRelay   *self,
                            const char *fingerprint)
{
  RelayFederation *fed = fed_of (self);

  if (fingerprint == NULL)
    return NULL;
  for (guint i = 0; i < fed->peers->len; i++)
    {
      RelayPeer *peer = g_ptr_array_index (fed->peers, i);

      if (strcmp (peer->fingerprint, fingerprint) == 0)
        return peer;
    }
  return NULL;
}

gsize
_wzp_relay_federation_get_link_backlog (WzpRelay   *self,
                                        const char *fingerprint)
{
  RelayPeer *peer = _wzp_relay_federation_peer (self, fingerprint);

  if (peer == NULL || peer->link == NULL || peer->link->io == NULL)
    return 0;
  return _wzp_frame_io_get_queued_bytes (peer->link->io);
}

gboolean
_wzp_relay_federation_is_peer (WzpRelay   *self,
                               const char *fingerprint)
{
  return _wzp_relay_federation_peer (self, fingerprint) != NULL;
}

static void
peer_free (RelayPeer *peer)
{
  _wzp_clear_source (peer->relay->context, &peer->retry_id);
  _wzp_relay_presence_peer_clear (peer);
  g_free (peer->uri);
  g_free (peer->host);
  g_free (peer->fingerprint);
  g_free (peer);
}

/* Takes @peer's links down (ending the calls over them) and stops dialling it. */
static void
peer_disconnect (RelayPeer  *peer,
                 gboolean    graceful,
                 const char *why)
{
  _wzp_clear_source (peer->relay->context, &peer->retry_id);
  if (peer->dialling != NULL)
    link_close (peer->dialling, why);
  if (peer->link != NULL)
    {
      if (graceful)
        link_send_and_close (peer->link, NULL, why);
      else
        link_close (peer->link, why);
    }
  _wzp_clear_source (peer->relay->context, &peer->retry_id);
  peer->backoff_ms = 0;
}

void
_wzp_relay_federation_init (WzpRelay *self)
{
  RelayFederation *fed = g_new0 (RelayFederation, 1);

  fed->peers = g_ptr_array_new_with_free_func ((GDestroyNotify) peer_free);
  fed->links = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) link_unref, NULL);
  fed->local = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) _wzp_binding_free);
  fed->bridges = g_hash_table_new (NULL, NULL);
  self->federation = fed;
}

void
_wzp_relay_federation_free (WzpRelay *self)
{
  RelayFederation *fed = fed_of (self);

  if (fed == NULL)
    return;
  _wzp_relay_federation_stop (self, FALSE);
  g_ptr_array_unref (fed->peers);
  g_hash_table_unref (fed->links);
  g_hash_table_unref (fed->local);
  g_hash_table_unref (fed->bridges);
  g_free (fed);
  self->federation = NULL;
}

void
_wzp_relay_federation_start (WzpRelay *self)
{
  RelayFederation *fed = fed_of (self);

  if (fed->started)
    return;
  fed->started = TRUE;
  for (guint i = 0; i < fed->peers->len; i++)
    peer_dial (g_ptr_array_index (fed->peers, i));
}

void
_wzp_relay_federation_stop (WzpRelay *self,
                            gboolean  graceful)
{
  RelayFederation *fed = fed_of (self);

  fed->started = FALSE;
  _wzp_relay_bridge_close_all (self);
  for (guint i = 0; i < fed->peers->len; i++)
    peer_disconnect (g_ptr_array_index (fed->peers, i), graceful, "The relay is shutting down");

  /* Accepted links not up yet, links still flushing (on dispose): closed now. */
  while (!graceful && g_hash_table_size (fed->links) > 0)
    {
      GHashTableIter iter;
      RelayLink *link;

      g_hash_table_iter_init (&iter, fed->links);
      g_hash_table_iter_next (&iter, (gpointer *) &link, NULL);
      link_close (link, "relay stopped");
    }
}

void
_wzp_relay_federation_drop_links (WzpRelay *self)
{
  RelayFederation *fed = fed_of (self);

  for (guint i = 0; i < fed->peers->len; i++)
    {
      RelayPeer *peer = g_ptr_array_index (fed->peers, i);

      if (peer->link != NULL)
        link_close (peer->link, "dropped (test)");
    }
}

static const char *
state_nick (WzpPeerLinkState state)
{
  GEnumClass *klass = g_type_class_ref (WZP_TYPE_PEER_LINK_STATE);
  GEnumValue *value = g_enum_get_value (klass, state);
  const char *nick = value ? value->value_nick : "down";

  g_type_class_unref (klass);
  return nick;
}

/**
 * wzp_relay_add_peer:
 * @self: a relay
 * @uri: the peer relay's URI, `wzps://HOST:PORT#FINGERPRINT`; the fingerprint is
 *   required, and pinned
 * @error: return location for a #GError
 *
 * Federates with another relay: the two exchange which identities are registered with
 * each, so that a client of one can call a client of the other, and calls between them
 * can be relayed by both (a *bridged* relay path).
 *
 * Both relays must add each other. The one whose fingerprint sorts first dials the other
 * (now, if the relay is listening, or when it starts listening) and redials with backoff
 * whenever the link drops; the other accepts the link on its ordinary listener, from
 * configured peers only. [signal@Wzp.Relay::peer-link-changed] follows the link, and the
 * peer's URI is offered to this relay's clients as a reflector (see
 * [property@Wzp.Relay:reflectors]).
 *
 * Returns: %TRUE if the peer was added; %FALSE with %WZP_RELAY_ERROR_INVALID_PEER if @uri
 *   does not parse, has no fingerprint or names this relay, or with
 *   %WZP_RELAY_ERROR_DUPLICATE_PEER if a peer with that fingerprint exists
 *
 * Since: 1.0
 */
gboolean
wzp_relay_add_peer (WzpRelay    *self,
                    const char  *uri,
                    GError     **error)
{
  g_autofree char *host = NULL;
  g_autofree char *fingerprint = NULL;
  g_autoptr(GError) local_error = NULL;
  RelayFederation *fed;
  RelayPeer *peer;
  guint16 port;

  g_return_val_if_fail (WZP_IS_RELAY (self), FALSE);
  g_return_val_if_fail (uri != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  fed = fed_of (self);
  if (!_wzp_relay_uri_parse (uri, &host, &port, &fingerprint, &local_error))
    {
      g_set_error (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_INVALID_PEER,
                   "“%s” is not a peer relay URI: %s", uri, local_error->message);
      return FALSE;
    }
  if (fingerprint == NULL)
    {
      g_set_error (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_INVALID_PEER,
                   "The peer relay URI “%s” has no fingerprint; federation pins it: use "
                   "wzps://HOST:PORT#FINGERPRINT (the peer prints it at start)", uri);
      return FALSE;
    }
  if (strcmp (fingerprint, wzp_relay_get_fingerprint (self)) == 0)
    {
      g_set_error (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_INVALID_PEER,
                   "“%s” is this relay itself; a relay cannot federate with itself", uri);
      return FALSE;
    }
  if (_wzp_relay_federation_peer (self, fingerprint) != NULL)
    {
      g_set_error (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_DUPLICATE_PEER,
                   "The relay %s is a peer already (%s)", fingerprint,
                   _wzp_relay_federation_peer (self, fingerprint)->uri);
      return FALSE;
    }

  peer = g_new0 (RelayPeer, 1);
  peer->relay = self;
  peer->uri = g_strdup (uri);
  peer->host = g_steal_pointer (&host);
  peer->port = port;
  peer->fingerprint = g_steal_pointer (&fingerprint);
  peer->dialer = strcmp (wzp_relay_get_fingerprint (self), peer->fingerprint) < 0;
  peer->state = WZP_PEER_LINK_DOWN;
  _wzp_relay_presence_peer_init (peer);
  g_ptr_array_add (fed->peers, peer);

  log_peer (peer, G_LOG_LEVEL_INFO, "added (%s)",
            peer->dialer ? "this relay dials it" : "it dials this relay");
  peer_dial (peer);
  return TRUE;
}

/**
 * wzp_relay_remove_peer:
 * @self: a relay
 * @fingerprint: the peer relay's fingerprint
 * @error: return location for a #GError
 *
 * Stops federating with a peer added with [method@Wzp.Relay.add_peer]: its link closes,
 * calls over it end (the parties here get `Hangup`), and its links are refused from now
 * on.
 *
 * Returns: %TRUE if the peer was removed; %FALSE with %WZP_RELAY_ERROR_UNKNOWN_PEER if
 *   there is no peer with that fingerprint
 *
 * Since: 1.0
 */
gboolean
wzp_relay_remove_peer (WzpRelay    *self,
                       const char  *fingerprint,
                       GError     **error)
{
  RelayPeer *peer;

  g_return_val_if_fail (WZP_IS_RELAY (self), FALSE);
  g_return_val_if_fail (fingerprint != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  peer = _wzp_relay_federation_peer (self, fingerprint);
  if (peer == NULL)
    {
      g_set_error (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_UNKNOWN_PEER,
                   "No federation peer has the fingerprint %s", fingerprint);
      return FALSE;
    }

  log_peer (peer, G_LOG_LEVEL_INFO, "removed");
  peer->dialer = FALSE;   /* no redial from here on */
  peer_disconnect (peer, TRUE, "This relay no longer federates with yours");
  peer_set_state (peer, WZP_PEER_LINK_DOWN);
  g_ptr_array_remove (fed_of (self)->peers, peer);
  return TRUE;
}

/**
 * wzp_relay_list_peers:
 * @self: a relay
 *
 * Lists the federation peers in the order they were added, each as `(uri, fingerprint,
 * state, announced)`: the URI given to [method@Wzp.Relay.add_peer], the peer's
 * fingerprint, the link state's nick (`down`, `connecting` or `up`, see
 * #WzpPeerLinkState), and how many identities the peer currently says are registered with
 * it.
 *
 * Returns: (transfer floating): a #GVariant of type `a(sssu)`
 *
 * Since: 1.0
 */
GVariant *
wzp_relay_list_peers (WzpRelay *self)
{
  RelayFederation *fed;
  GVariantBuilder builder;

  g_return_val_if_fail (WZP_IS_RELAY (self), NULL);

  fed = fed_of (self);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sssu)"));
  for (guint i = 0; i < fed->peers->len; i++)
    {
      RelayPeer *peer = g_ptr_array_index (fed->peers, i);

      g_variant_builder_add (&builder, "(sssu)", peer->uri, peer->fingerprint,
                             state_nick (peer->state),
                             (guint32) g_hash_table_size (peer->announced));
    }
  return g_variant_builder_end (&builder);
}
