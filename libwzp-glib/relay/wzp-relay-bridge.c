/* wzp-relay-bridge.c: the bridged relay path between two federated relays
 * (docs/protocol.md, "The bridged relay path")
 *
 * A call between clients of two relays can be carried by both: each party opens its pipe
 * at its own relay, and the relays join the two pipes through a *bridge*. When the
 * caller's pipe arrives (pipes.c asks the callee's endpoint for its pipe, and the
 * federated endpoint calls _wzp_relay_bridge_open()), the caller's relay
 * dials a new TLS connection to the callee's relay, pinned, with its relay identity, and
 * sends OpenPipe{call_id, pipe_token, seq}; the token comes from the secret the callee's
 * relay made when the call was answered (it travelled over the link, as "bridge_secret"
 * in the forwarded DirectCallAnswer), so a bridge is single-use like a pipe. The callee's
 * relay recognises it on its ordinary listener (a peer's fingerprint sending OpenPipe)
 * and answers PipeReady only once the callee's pipe is there; the caller's relay joins
 * the caller's pipe to the bridge only then, so PipeReady reaches each party only when
 * the whole chain is joined.
 *
 * At each relay the bridge stands in for the remote party's pipe: one end of a socketpair
 * is registered with pipes.c as that party's pipe (so matching, PipeRequested, waiting
 * and the kernel forwarding with its rate limit are the local code's), and this file
 * copies between the other end and the TLS connection. The bytes are still only the
 * parties' own end-to-end TLS; the relay-to-relay TLS around them authenticates the
 * relays and hides the calls' metadata on the way.
 *
 * A bridge lives as one piece: the end of the stream, an error, or either relay closing
 * its pipes closes it on both relays, and with it both parties' pipes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wzp-error.h"
#include "wzp-pipe-token-private.h"
#include "wzp-relay-federation-private.h"
#include "wzp-tls-dial-private.h"

#define COPY_CHUNK (16 * 1024)

/* One direction of the copy. The streams are the bridge's (not owned). */
typedef struct
{
  RelayBridge  *bridge;
  GIOStream    *from;
  GIOStream    *to;
  const char   *eof_reason;    /* why the bridge closes when @from ends */
  guint8        buf[COPY_CHUNK];
} BridgeCopy;

struct _RelayBridge
{
  grefcount           ref_count;
  WzpRelay           *relay;
  RelayCall          *call;           /* the caller's relay's bridge, until the call goes */
  char               *call_id;
  char               *peer_uri;
  gboolean            outgoing;
  gboolean            joined;         /* PipeReady passed: bytes flow */
  gboolean            closed;
  GCancellable       *cancellable;
  guint               deadline_id;

  /* Towards the other relay */
  GSocketConnection  *socket_conn;
  GIOStream          *tls;
  WzpFrameIO         *io;

  /* Towards pipes.c: our end of the socketpair */
  GSocketConnection  *local;
  WzpFrameIO         *local_io;

  BridgeCopy          to_local;
  BridgeCopy          to_remote;
};

static RelayBridge *
bridge_ref (RelayBridge *bridge)
{
  g_ref_count_inc (&bridge->ref_count);
  return bridge;
}

static void
bridge_unref (RelayBridge *bridge)
{
  if (!g_ref_count_dec (&bridge->ref_count))
    return;

  g_clear_object (&bridge->io);
  g_clear_object (&bridge->tls);
  g_clear_object (&bridge->socket_conn);
  g_clear_object (&bridge->local_io);
  g_clear_object (&bridge->local);
  g_clear_object (&bridge->cancellable);
  g_free (bridge->call_id);
  g_free (bridge->peer_uri);
  g_free (bridge);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayBridge, bridge_unref)

static void
log_bridge (RelayBridge    *bridge,
            GLogLevelFlags  level,
            const char     *message)
{
  g_log_structured (G_LOG_DOMAIN, level,
                    "WZP_CALL_ID", bridge->call_id,
                    "WZP_PEER_URI", bridge->peer_uri,
                    "MESSAGE", "Call %s: bridge %s %s: %s", bridge->call_id,
                    bridge->outgoing ? "to" : "from", bridge->peer_uri, message);
}

static void
bridge_close (RelayBridge *bridge,
              const char  *why)
{
  if (bridge->closed)
    return;
  bridge->closed = TRUE;
  log_bridge (bridge, bridge->joined ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_DEBUG, why);

  g_cancellable_cancel (bridge->cancellable);
  _wzp_clear_source (bridge->relay->context, &bridge->deadline_id);
  if (bridge->call != NULL && bridge->call->bridge == bridge)
    bridge->call->bridge = NULL;
  bridge->call = NULL;
  /* Sockets, not the TLS stream: close_notify would wait for the peer. */
  if (bridge->socket_conn != NULL)
    g_io_stream_close (G_IO_STREAM (bridge->socket_conn), NULL, NULL);
  if (bridge->local != NULL)
    g_io_stream_close (G_IO_STREAM (bridge->local), NULL, NULL);
  if (g_hash_table_remove (bridge->relay->federation->bridges, bridge))
    bridge_unref (bridge);
}

static RelayBridge *
bridge_new (WzpRelay   *self,
            const char *call_id,
            const char *peer_uri,
            gboolean    outgoing)
{
  RelayBridge *bridge = g_new0 (RelayBridge, 1);

  g_ref_count_init (&bridge->ref_count);
  bridge->relay = self;
  bridge->call_id = g_strdup (call_id);
  bridge->peer_uri = g_strdup (peer_uri);
  bridge->outgoing = outgoing;
  bridge->cancellable = g_cancellable_new ();
  g_hash_table_add (self->federation->bridges, bridge);   /* the table's reference */
  return bridge;
}

/* Copying between the socketpair and the other relay: one BridgeCopy a direction, each
 * with its own buffer, so both directions are in flight at once. */

static void copy_next (BridgeCopy *copy);

static void
copy_written_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  BridgeCopy *copy = user_data;
  g_autoptr(RelayBridge) bridge = copy->bridge;   /* the reference copy_read_cb() took */
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      bridge_close (bridge, error->message);
      return;
    }
  copy_next (copy);
}

static void
copy_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  BridgeCopy *copy = user_data;
  g_autoptr(RelayBridge) bridge = copy->bridge;   /* the reference copy_next() took */
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (bridge->closed)
    return;
  if (n <= 0)
    {
      bridge_close (bridge, n == 0 ? copy->eof_reason : error->message);
      return;
    }
  bridge_ref (bridge);   /* released by copy_written_cb() */
  g_output_stream_write_all_async (g_io_stream_get_output_stream (copy->to), copy->buf, n,
                                   G_PRIORITY_DEFAULT, bridge->cancellable, copy_written_cb,
                                   copy);
}

static void
copy_next (BridgeCopy *copy)
{
  RelayBridge *bridge = copy->bridge;

  if (bridge->closed)
    return;
  bridge_ref (bridge);   /* released by copy_read_cb() */
  g_input_stream_read_async (g_io_stream_get_input_stream (copy->from), copy->buf,
                             sizeof copy->buf, G_PRIORITY_DEFAULT, bridge->cancellable,
                             copy_read_cb, copy);
}

static void
copy_start (RelayBridge *bridge,
            BridgeCopy  *copy,
            GIOStream   *from,
            GIOStream   *to,
            const char  *eof_reason)
{
  copy->bridge = bridge;
  copy->from = from;
  copy->to = to;
  copy->eof_reason = eof_reason;
  copy_next (copy);
}

static void
start_copying (RelayBridge *bridge)
{
  bridge->joined = TRUE;
  _wzp_clear_source (bridge->relay->context, &bridge->deadline_id);
  log_bridge (bridge, G_LOG_LEVEL_INFO, "joined");
  copy_start (bridge, &bridge->to_local, bridge->tls, G_IO_STREAM (bridge->local),
              "the other relay closed the bridge");
  /* The local join ended (a party closed its pipe, or the call ended): the whole chain
   * goes, as a local join does. */
  copy_start (bridge, &bridge->to_remote, G_IO_STREAM (bridge->local), bridge->tls,
              "the pipe here closed");
}

/* The socketpair: one end becomes the remote party's pipe in pipes.c */

static GSocketConnection *
connection_from_fd (int      fd,
                    GError **error)
{
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, error);

  if (socket == NULL)
    {
      close (fd);
      return NULL;
    }
  return g_socket_connection_factory_create_connection (socket);
}

/* Registers the bridge as @role's pipe in @call. pipes.c joins it like any pipe and then
 * writes PipeReady to it, which @ready_cb reads from our end. */
static gboolean
attach_local (RelayBridge          *bridge,
              RelayCall            *call,
              int                   role,
              GAsyncReadyCallback   ready_cb,
              GError              **error)
{
  g_autoptr(GSocketConnection) theirs = NULL;
  g_autofree char *description = NULL;
  int fds[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Cannot make a socket pair for the bridge: %s", g_strerror (errsv));
      return FALSE;
    }
  bridge->local = connection_from_fd (fds[0], error);
  theirs = connection_from_fd (fds[1], error);
  if (bridge->local == NULL || theirs == NULL)
    return FALSE;

  bridge->local_io = _wzp_frame_io_new (G_IO_STREAM (bridge->local));
  _wzp_frame_io_set_max_frame_size (bridge->local_io, 1024);
  _wzp_frame_io_read_async (bridge->local_io, bridge->cancellable, ready_cb,
                            bridge_ref (bridge));

  description = g_strdup_printf ("bridge %s %s", bridge->outgoing ? "to" : "from",
                                 bridge->peer_uri);
  if (!_wzp_relay_pipes_add_bridge (call, role, theirs, description))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "The call has no pipe slot");
      return FALSE;
    }
  return TRUE;
}

/* The caller's relay: dialling */

static void
outgoing_local_ready_cb (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(RelayBridge) bridge = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) ready = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result,
                                                           &error);

  if (bridge->closed)
    return;
  if (ready == NULL || _wzp_message_get_message_type (ready) != WZP_MESSAGE_PIPE_READY)
    {
      /* pipes.c closed our slot first (the call ended, the caller's pipe went). */
      bridge_close (bridge, "the pipe here closed before it was joined");
      return;
    }
  start_copying (bridge);
}

static void
outgoing_ready_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(RelayBridge) bridge = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) ready = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result,
                                                           &error);
  RelayCall *call = bridge->call;

  if (bridge->closed)
    return;
  if (ready == NULL)
    {
      bridge_close (bridge, error->message);
      return;
    }
  if (_wzp_message_get_message_type (ready) != WZP_MESSAGE_PIPE_READY)
    {
      g_autofree char *why = NULL;

      if (_wzp_message_get_message_type (ready) == WZP_MESSAGE_ERROR)
        why = g_strdup_printf ("refused: %s (%s)", _wzp_message_get_string (ready, "message"),
                               _wzp_message_get_string (ready, "code"));
      else
        why = g_strdup_printf ("%s instead of PipeReady",
                               _wzp_message_type_to_string (_wzp_message_get_message_type (ready)));
      bridge_close (bridge, why);
      return;
    }
  if (call == NULL)
    {
      bridge_close (bridge, "the call ended");
      return;
    }

  /* The callee's pipe is joined at its relay: now the caller's may be joined here. */
  if (!attach_local (bridge, call, WZP_CALL_ROLE_CALLEE, outgoing_local_ready_cb, &error))
    bridge_close (bridge, error->message);
}

static void
outgoing_dialled_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(RelayBridge) bridge = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) socket_conn = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(WzpMessage) open_pipe = NULL;
  g_autofree char *token = NULL;
  RelayCall *call = bridge->call;
  WzpTlsDialStep step = WZP_TLS_DIAL_STEP_CONNECT;

  tls = _wzp_tls_dial_finish (result, &socket_conn, &step, &error);
  /* Closing cancelled the dial: nothing was connected. */
  if (bridge->closed)
    return;
  if (tls == NULL && step == WZP_TLS_DIAL_STEP_HANDSHAKE)
    {
      g_autofree char *why = g_strdup_printf ("TLS handshake failed: %s", error->message);

      bridge_close (bridge, why);
      return;
    }
  if (tls == NULL)
    {
      bridge_close (bridge, error->message);
      return;
    }
  bridge->socket_conn = g_steal_pointer (&socket_conn);
  bridge->tls = g_steal_pointer (&tls);
  if (call == NULL || call->bridge_secret == NULL)
    {
      bridge_close (bridge, "the call ended");
      return;
    }

  /* A fresh token per bridge: the callee's relay refuses a seq it has seen. */
  call->last_bridge_seq++;
  token = _wzp_pipe_token_derive (call->bridge_secret, call->last_bridge_seq);
  open_pipe = _wzp_message_new_for_call (WZP_MESSAGE_OPEN_PIPE, bridge->call_id);
  _wzp_message_set_string (open_pipe, "pipe_token", token);
  _wzp_message_set_int (open_pipe, "seq", call->last_bridge_seq);

  bridge->io = _wzp_frame_io_new (bridge->tls);
  _wzp_frame_io_send (bridge->io, open_pipe);
  /* Exactly one frame (PipeReady) is read; the bytes after it are the callee's. */
  _wzp_frame_io_read_async (bridge->io, bridge->cancellable, outgoing_ready_cb,
                            bridge_ref (bridge));
}

static gboolean
deadline_cb (gpointer user_data)
{
  RelayBridge *bridge = user_data;

  bridge->deadline_id = 0;
  bridge_close (bridge, "not joined in time");
  return G_SOURCE_REMOVE;
}

/* The call is going away: cancel its outgoing bridge (joined bridges end with the pipes). */
static void
call_gone_cb (RelayCall *call,
              gpointer   data)
{
  RelayBridge *bridge = call->bridge;

  if (bridge == NULL)
    return;
  call->bridge = NULL;
  bridge->call = NULL;
  /* Not joined: nothing of it is in pipes.c yet. Joined: it goes with the pipes. */
  if (!bridge->joined)
    bridge_close (bridge, "the call ended");
}

void
_wzp_relay_bridge_open (RelayCall *call)
{
  WzpRelay *self = call->relay;
  RelayPeer *peer = _wzp_relay_federation_peer (self, call->party[WZP_CALL_ROLE_CALLEE].relay);
  g_autoptr(GSocketConnectable) connectable = NULL;
  RelayBridge *bridge;

  if (call->bridge != NULL)
    {
      /* One being set up serves the caller's newest pipe too. A joined one still here is
       * on its way out (pipes.c closed its slot; we have not read that yet). */
      if (!call->bridge->joined)
        return;
      bridge_close (call->bridge, "replaced by a new bridge for the caller's new pipe");
    }
  if (peer == NULL || call->bridge_secret == NULL)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "WZP_CALL_ID", call->call_id,
                        "MESSAGE", "Call %s: cannot bridge to the callee's relay (%s)",
                        call->call_id, peer == NULL ? "no longer a peer" : "no bridge secret");
      return;
    }

  bridge = bridge_new (self, call->call_id, peer->uri, TRUE);
  bridge->call = call;
  call->bridge = bridge;
  _wzp_relay_call_watch_gone (call, call_gone_cb, NULL);
  log_bridge (bridge, G_LOG_LEVEL_DEBUG, "dialling");
  /* The callee's relay may wait pipe-wait-timeout for the callee's pipe before it answers. */
  bridge->deadline_id =
    _wzp_timeout_add_seconds (self->context, self->handshake_timeout + self->pipe_wait_timeout,
                              deadline_cb, bridge);

  /* The callee's relay is pinned by the fingerprint the call names it by. */
  connectable = g_network_address_new (peer->host, peer->port);
  _wzp_tls_dial_async (connectable, NULL, wzp_identity_get_certificate (self->identity),
                       call->party[WZP_CALL_ROLE_CALLEE].relay, 0, bridge->cancellable,
                       outgoing_dialled_cb, bridge_ref (bridge));
}

/* The callee's relay: accepting */

static void
incoming_ready_written_cb (GObject      *source,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  g_autoptr(RelayBridge) bridge = user_data;
  g_autoptr(GError) error = NULL;

  if (!_wzp_frame_io_write_finish (WZP_FRAME_IO (source), result, &error))
    {
      bridge_close (bridge, error->message);
      return;
    }
  if (!bridge->closed)
    start_copying (bridge);
}

static void
incoming_local_ready_cb (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(RelayBridge) bridge = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) ready = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result,
                                                           &error);

  if (bridge->closed)
    return;
  if (ready == NULL || _wzp_message_get_message_type (ready) != WZP_MESSAGE_PIPE_READY)
    {
      /* The callee's pipe did not come in time, or the call ended. */
      bridge_close (bridge, "the callee's pipe was not joined");
      return;
    }
  /* The callee's pipe is joined to the bridge here: the caller's relay may join now.
   * PipeReady is the last frame on the bridge; the bytes follow it. */
  _wzp_frame_io_write_async (bridge->io, ready, NULL, incoming_ready_written_cb,
                             bridge_ref (bridge));
}

static gboolean
tokens_equal (const char *a,
              const char *b)
{
  guint8 diff = 0;
  gsize len = strlen (a);

  if (len != strlen (b))
    return FALSE;
  /* Constant time, as for pipes. */
  for (gsize i = 0; i < len; i++)
    diff |= (guint8) (a[i] ^ b[i]);
  return diff == 0;
}

gboolean
_wzp_relay_bridge_adopt (WzpRelay    *self,
                         RelayPeer   *peer,
                         RelayConn   *conn,
                         WzpMessage  *open_pipe,
                         const char **code,
                         GError     **error)
{
  const char *call_id = _wzp_message_get_string (open_pipe, "call_id");
  const char *token = _wzp_message_get_string (open_pipe, "pipe_token");
  gint64 seq = _wzp_message_has_member (open_pipe, "seq")
               ? _wzp_message_get_int (open_pipe, "seq") : 1;
  RelayCall *call = _wzp_relay_call_lookup (self, call_id);
  g_autofree char *expected = NULL;
  RelayBridge *bridge;

  /* Only the caller's relay bridges, only for a call it is in, once it is set up. */
  if (call == NULL || g_strcmp0 (call->party[WZP_CALL_ROLE_CALLER].relay, peer->fingerprint) != 0 ||
      call->party[WZP_CALL_ROLE_CALLEE].relay != NULL)
    {
      *code = WZP_ERROR_CODE_UNKNOWN_CALL;
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_UNEXPECTED,
                   "A bridge for a call whose caller your relay does not hold");
      return FALSE;
    }
  if (call->state != CALL_SET_UP || call->bridge_secret == NULL)
    {
      *code = WZP_ERROR_CODE_BAD_STATE;
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_UNEXPECTED,
                   "A bridge for call %s, which is not set up", call_id);
      return FALSE;
    }
  expected = _wzp_pipe_token_derive (call->bridge_secret, seq);
  if (seq <= call->last_bridge_seq || !tokens_equal (expected, token))
    {
      *code = WZP_ERROR_CODE_BAD_TOKEN;
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_UNEXPECTED,
                   "Wrong or reused bridge token (seq %" G_GINT64_FORMAT ") for call %s",
                   seq, call_id);
      return FALSE;
    }
  call->last_bridge_seq = seq;

  bridge = bridge_new (self, call_id, peer->uri, FALSE);
  bridge->socket_conn = g_object_ref (conn->handover);
  bridge->tls = g_object_ref (conn->tls);
  bridge->io = g_object_ref (conn->io);

  /* As the caller's pipe here: joined when the callee's is here, PipeRequested otherwise. */
  if (!attach_local (bridge, call, WZP_CALL_ROLE_CALLER, incoming_local_ready_cb, error))
    {
      *code = WZP_ERROR_CODE_LIMIT_REACHED;
      bridge_close (bridge, (*error)->message);
      return FALSE;
    }
  log_bridge (bridge, G_LOG_LEVEL_DEBUG, "accepted");
  return TRUE;
}

void
_wzp_relay_bridge_close_all (WzpRelay *self)
{
  GHashTable *bridges = self->federation->bridges;

  while (g_hash_table_size (bridges) > 0)
    {
      GHashTableIter iter;
      RelayBridge *bridge;

      g_hash_table_iter_init (&iter, bridges);
      g_hash_table_iter_next (&iter, (gpointer *) &bridge, NULL);
      bridge_close (bridge, "the relay stopped");
    }
}
