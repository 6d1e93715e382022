/* wzp-relay-pipes.c: relay pipes (docs/protocol.md, "Pipes and their tokens")
 *
 * A pipe is a plain TCP connection to the pipe port. Its first and only frame is
 * OpenPipe{call_id, pipe_token, seq}; the token is derived from the secret that CallSetup
 * gave that party over signalling TLS:
 *
 *   pipe_token = hex (SHA-256 (secret ":" seq)[0..16]),  seq = 1, 2, 3, ...
 *
 * so every pipe has a fresh single-use token, the secret never crosses the network in the
 * clear, and a replayed OpenPipe (same or lower seq) is refused. When both parties' pipes
 * are there, each gets PipeReady (the relay's last frame on a pipe), and from then on the
 * forwarding thread copies the bytes from one socket to the other without looking at
 * them: they are the peers' own end-to-end TLS.
 *
 * This file is the matching: a pipe's life on the main context (accept, OpenPipe, token,
 * the party's slot in the call, waiting for the partner, joining, PipeReady) and its close.
 * Moving the bytes of a joined pair is the forwarder's (wzp-relay-forwarder.c), on its own
 * thread; the two meet in start_forwarding() and forward_done_cb() only. A federation
 * bridge (wzp-relay-bridge.c) enters the matching through _wzp_relay_pipes_add_bridge():
 * one end of its socketpair is the remote party's pipe here.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "wzp-pipe-token-private.h"
#include "wzp-relay-endpoint-private.h"
#include "wzp-relay-forwarder-private.h"
#include "wzp-relay-log-private.h"
#include "wzp-relay-private.h"
#include "wzp-tls-private.h"

/* OpenPipe is small; nothing bigger is read from a pipe. */
#define PIPE_MAX_FRAME 1024
/* The kernel buffers of a joined pipe's sockets, each way (Linux doubles the figure, and
 * no longer tunes them). A call's voice is under 5 kB/s: with Linux's defaults (128 KiB
 * to receive, growing to megabytes) a stalled leg could let many seconds of audio pile up
 * in the relay; with these the backlog in the relay is bounded, the stall reaches the
 * sender sooner, and its queue drops the oldest audio instead (docs/voice.md, "The relay
 * in the middle"). Not smaller: at 8 KiB, loopback's 64 KiB segments stall the stream on
 * delayed acknowledgements (test-relay-forwarder's backpressure case went from 0.4 s to
 * over 20 s). */
#define PIPE_SOCKET_BUFFER 16384

struct _RelayPipe
{
  grefcount           ref_count;
  WzpRelay           *relay;
  GSocketConnection  *conn;
  WzpFrameIO         *io;
  GCancellable       *cancellable;
  char               *remote_addr;   /* "ip:port", or what a bridge is */
  IpCounters         *ip;            /* NULL for a bridge (a local socketpair) */
  RelayCall          *call;          /* set once OpenPipe was accepted */
  int                 role;
  RelayPipe          *partner;       /* set when joined */
  guint               wait_id;       /* OpenPipe, then the partner, in time */
  gboolean            ready_written; /* PipeReady went out: bytes may flow towards it */
  RelayForward       *forward;       /* both pipes of a join point at the same one */
  gboolean            closed;
};

static RelayPipe *
pipe_ref (RelayPipe *pipe)
{
  g_ref_count_inc (&pipe->ref_count);
  return pipe;
}

static void
pipe_unref (RelayPipe *pipe)
{
  if (!g_ref_count_dec (&pipe->ref_count))
    return;

  g_assert (pipe->closed);
  g_clear_object (&pipe->io);
  g_clear_object (&pipe->conn);
  g_clear_object (&pipe->cancellable);
  g_free (pipe->remote_addr);
  g_free (pipe);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayPipe, pipe_unref)

/* The relay's timers for a pipe run on the relay's context (the one the forwarder reports
 * to), whatever the thread-default context is when they are armed. */
static void
pipe_wait (RelayPipe   *pipe,
           guint        seconds,
           GSourceFunc  func)
{
  _wzp_clear_source (pipe->relay->context, &pipe->wait_id);
  if (func != NULL)
    pipe->wait_id = _wzp_timeout_add_seconds (pipe->relay->context, seconds, func, pipe);
}

static gboolean
tokens_equal (const char *a,
              const char *b)
{
  guint8 diff = 0;
  gsize len = strlen (a);

  if (len != strlen (b))
    return FALSE;
  /* Constant time: the comparison must not tell an attacker how much was right. */
  for (gsize i = 0; i < len; i++)
    diff |= (guint8) (a[i] ^ b[i]);
  return diff == 0;
}

static void
log_pipe (RelayPipe  *pipe,
          const char *message)
{
  g_autofree char *text = NULL;

  /* A pipe that never showed a valid token is a refused connection, which anyone can
   * make as fast as TCP allows: rate limited per source. */
  if (pipe->call == NULL && pipe->ip != NULL)
    {
      _wzp_relay_log_refusal (pipe->relay, G_LOG_LEVEL_INFO, pipe->ip->key, "pipe-refused",
                              pipe->remote_addr, "pipe refused: %s", message);
      return;
    }
  /* Decoder errors may quote what the client sent. */
  text = _wzp_relay_log_text (message, WZP_RELAY_LOG_MAX_TEXT);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_REMOTE_ADDRESS", pipe->remote_addr,
                    "WZP_CALL_ID", pipe->call ? pipe->call->call_id : "",
                    "MESSAGE", "Pipe from %s: %s", pipe->remote_addr, text);
}

static int
pipe_fd (RelayPipe *pipe)
{
  return g_socket_get_fd (g_socket_connection_get_socket (pipe->conn));
}

/* Closes @pipe and, if it is joined, its partner: a join lives and dies as a whole. When
 * @code is set, the party hears why on its signalling connection. */
void
_wzp_relay_pipe_close (RelayPipe  *pipe,
                       const char *code,
                       const char *reason)
{
  WzpRelay *self = pipe->relay;
  RelayPipe *partner;

  if (pipe->closed)
    return;
  pipe->closed = TRUE;

  if (reason != NULL)
    log_pipe (pipe, reason);
  if (code != NULL && pipe->call != NULL)
    _wzp_relay_party_send_error (pipe->call, pipe->role, code, "%s", reason);

  /* The forwarder lets go of both sockets before either closes. */
  if (pipe->forward != NULL)
    {
      _wzp_relay_forwarder_remove (self->forwarder, pipe->forward);
      pipe->forward = NULL;
      if (pipe->partner != NULL)
        pipe->partner->forward = NULL;
    }

  g_cancellable_cancel (pipe->cancellable);
  pipe_wait (pipe, 0, NULL);

  if (pipe->call != NULL && pipe->call->party[pipe->role].pipe == pipe)
    pipe->call->party[pipe->role].pipe = NULL;
  pipe->call = NULL;

  g_io_stream_close (G_IO_STREAM (pipe->conn), NULL, NULL);

  if (pipe->ip != NULL)
    {
      pipe->ip->pipes--;
      _wzp_relay_ip_counters_gc (self, pipe->ip);
    }

  partner = pipe->partner;
  pipe->partner = NULL;
  if (partner != NULL)
    {
      partner->partner = NULL;
      _wzp_relay_pipe_close (partner, NULL, NULL);
    }

  if (g_hash_table_steal (self->pipes, pipe))
    pipe_unref (pipe);
}

/* The call is going away: its pipes close with it. */
static void
call_gone_cb (RelayCall *call,
              gpointer   data)
{
  for (int role = 0; role < 2; role++)
    if (call->party[role].pipe != NULL)
      _wzp_relay_pipe_close (call->party[role].pipe, NULL, "the call ended");
}

/* Every pipe closes, then the forwarding thread is stopped and joined: after this nothing
 * of the relay's pipes runs anywhere (the relay may be finalized next). */
void
_wzp_relay_pipes_close_all (WzpRelay *self)
{
  while (g_hash_table_size (self->pipes) > 0)
    {
      GHashTableIter iter;
      RelayPipe *pipe;

      g_hash_table_iter_init (&iter, self->pipes);
      g_hash_table_iter_next (&iter, (gpointer *) &pipe, NULL);
      _wzp_relay_pipe_close (pipe, NULL, "the relay stopped");
    }
  g_clear_pointer (&self->forwarder, _wzp_relay_forwarder_free);
}

guint
_wzp_relay_pipes_get_n_forwarding (WzpRelay *self)
{
  return self->forwarder != NULL ? _wzp_relay_forwarder_get_n_forwards (self->forwarder) : 0;
}

/* Forwarding */

/* On the relay's context: the forwarder saw both ends close, or a socket fail. */
static void
forward_done_cb (RelayForward *fw,
                 const char   *reason,
                 gpointer      user_data)
{
  RelayPipe *pipe = user_data;

  /* The forward is removed with the pipes, so @pipe is alive while @fw is. */
  _wzp_relay_pipe_close (pipe, NULL, reason);
}

/* PipeReady has reached both sockets: bytes may flow both ways now. */
static void
keep_buffers_small (RelayPipe *pipe)
{
  GSocket *socket = g_socket_connection_get_socket (pipe->conn);
  g_autoptr(GError) error = NULL;

  if (!g_socket_set_option (socket, SOL_SOCKET, SO_SNDBUF, PIPE_SOCKET_BUFFER, &error) ||
      !g_socket_set_option (socket, SOL_SOCKET, SO_RCVBUF, PIPE_SOCKET_BUFFER, &error))
    g_debug ("Pipe buffers: %s", error->message);
}

static gboolean
start_forwarding (RelayPipe  *a,
                  RelayPipe  *b,
                  GError    **error)
{
  WzpRelay *self = a->relay;

  keep_buffers_small (a);
  keep_buffers_small (b);

  /* One thread per relay, started with its first join and joined when it stops. */
  if (self->forwarder == NULL)
    self->forwarder = _wzp_relay_forwarder_new (self->context, error);
  if (self->forwarder == NULL)
    return FALSE;

  a->forward = _wzp_relay_forwarder_add (self->forwarder, pipe_fd (a), pipe_fd (b),
                                         self->pipe_bytes_per_second, self->pipe_burst_bytes,
                                         forward_done_cb, a, error);
  b->forward = a->forward;
  return a->forward != NULL;
}

/* PipeReady went out on @pipe. The partner's bytes must not reach @pipe before it, so
 * forwarding starts when PipeReady is out on both. */
static void
pipe_ready_written_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(RelayPipe) pipe = user_data;
  g_autoptr(GError) error = NULL;
  RelayPipe *partner;

  if (!_wzp_frame_io_write_finish (WZP_FRAME_IO (source), result, &error))
    {
      _wzp_relay_pipe_close (pipe, NULL, error->message);
      return;
    }
  if (pipe->closed || pipe->partner == NULL)
    return;
  pipe->ready_written = TRUE;
  partner = pipe->partner;
  if (!partner->ready_written)
    return;

  if (!start_forwarding (partner, pipe, &error))
    {
      /* Out of descriptors, most likely: the operator's concern, not a bug. */
      _wzp_relay_counters_refused (pipe->relay, "pipe-forwarding");
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "WZP_CALL_ID", pipe->call->call_id,
                        "WZP_LIMIT", "pipe-forwarding",
                        "MESSAGE", "Call %s: cannot forward the pipe: %s",
                        pipe->call->call_id, error->message);
      _wzp_relay_party_send_error (partner->call, partner->role, WZP_ERROR_CODE_LIMIT_REACHED,
                                   "The relay is out of resources for pipes");
      _wzp_relay_pipe_close (pipe, WZP_ERROR_CODE_LIMIT_REACHED,
                             "The relay is out of resources for pipes");
    }
}

/* Matching */

static void
join (RelayPipe *a,
      RelayPipe *b)
{
  RelayCall *call = a->call;

  pipe_wait (a, 0, NULL);
  pipe_wait (b, 0, NULL);
  a->partner = b;
  b->partner = a;
  call->relayed = TRUE;

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_CALL_ID", call->call_id,
                    "MESSAGE", "Call %s: pipe joined (%s and %s)", call->call_id,
                    a->remote_addr, b->remote_addr);

  for (RelayPipe *p = a; p != NULL; p = (p == a) ? b : NULL)
    {
      g_autoptr(WzpMessage) ready = _wzp_message_new_for_call (WZP_MESSAGE_PIPE_READY,
                                                               call->call_id);
      _wzp_frame_io_write_async (p->io, ready, NULL, pipe_ready_written_cb, pipe_ref (p));
    }
}

static gboolean
partner_wait_cb (gpointer user_data)
{
  RelayPipe *pipe = user_data;
  g_autofree char *reason = NULL;

  reason = g_strdup_printf ("The other party's pipe did not arrive within %u seconds",
                            pipe->relay->pipe_wait_timeout);
  _wzp_relay_counters_refused (pipe->relay, "pipe-wait-timeout");
  _wzp_relay_pipe_close (pipe, WZP_ERROR_CODE_PIPE_TIMEOUT, reason);
  return G_SOURCE_REMOVE;
}

static int
find_role (RelayCall  *call,
           const char *token,
           gint64      seq)
{
  for (int role = 0; role < 2; role++)
    {
      g_autofree char *expected = NULL;

      if (call->party[role].pipe_secret == NULL)
        continue;
      expected = _wzp_pipe_token_derive (call->party[role].pipe_secret, seq);
      if (tokens_equal (expected, token))
        return role;
    }
  return -1;
}

/* @pipe is @call's party @role's pipe from now on (its token was good): it replaces the
 * party's previous pipe, joins the other party's waiting pipe, or waits for it. */
static void
pipe_attach (RelayPipe *pipe,
             RelayCall *call,
             int        role)
{
  WzpRelay *self = pipe->relay;
  RelayParty *party = &call->party[role];
  RelayParty *other = &call->party[1 - role];

  pipe->call = call;
  pipe->role = role;
  _wzp_relay_call_watch_gone (call, call_gone_cb, NULL);

  /* At most one pipe per party: a new one replaces the old (the party has given up on
   * it), and the old join goes with it. */
  if (party->pipe != NULL)
    _wzp_relay_pipe_close (party->pipe, NULL, "replaced by the party's newer pipe");
  party->pipe = pipe;

  if (other->pipe != NULL && other->pipe->partner == NULL)
    {
      join (other->pipe, pipe);
      return;
    }

  if (other->pipe == NULL)
    _wzp_relay_party_request_pipe (call, 1 - role);

  pipe_wait (pipe, self->pipe_wait_timeout, partner_wait_cb);
}

static void
handle_open_pipe (RelayPipe  *pipe,
                  WzpMessage *message)
{
  WzpRelay *self = pipe->relay;
  const char *call_id = _wzp_message_get_string (message, "call_id");
  const char *token = _wzp_message_get_string (message, "pipe_token");
  gint64 seq = _wzp_message_has_member (message, "seq")
               ? _wzp_message_get_int (message, "seq") : 1;
  RelayCall *call = _wzp_relay_call_lookup (self, call_id);
  RelayParty *party;
  int role;

  /* Without a valid token the relay cannot tell whose pipe this is, so there is nobody
   * to tell why; the close and the log line are all. */
  role = (call != NULL && seq > 0) ? find_role (call, token, seq) : -1;
  if (role < 0)
    {
      _wzp_relay_pipe_close (pipe, NULL, "OpenPipe with an unknown call or a wrong token");
      return;
    }

  party = &call->party[role];
  if (seq <= party->last_pipe_seq)
    {
      /* Not this party's pipe (pipe->call stays unset): the party's current pipe stays. */
      _wzp_relay_party_send_error (call, role, WZP_ERROR_CODE_BAD_TOKEN,
                                   "Pipe token %" G_GINT64_FORMAT " was already used; "
                                   "a pipe token is good for one pipe", seq);
      _wzp_relay_pipe_close (pipe, NULL, "reused pipe token");
      return;
    }
  party->last_pipe_seq = seq;

  pipe_attach (pipe, call, role);
}

static void
open_pipe_read_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(RelayPipe) pipe = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) message = NULL;

  message = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result, &error);
  if (pipe->closed)
    return;
  if (message == NULL)
    {
      g_autofree char *reason = g_strdup_printf ("no valid OpenPipe: %s", error->message);
      _wzp_relay_pipe_close (pipe, NULL, reason);
      return;
    }
  if (_wzp_message_get_message_type (message) != WZP_MESSAGE_OPEN_PIPE)
    {
      _wzp_relay_pipe_close (pipe, NULL, "the first frame on a pipe must be OpenPipe");
      return;
    }

  handle_open_pipe (pipe, message);
}

static gboolean
open_wait_cb (gpointer user_data)
{
  RelayPipe *pipe = user_data;

  _wzp_relay_pipe_close (pipe, NULL, "no OpenPipe in time");
  return G_SOURCE_REMOVE;
}

/* Owns @remote_addr. */
static RelayPipe *
pipe_new (WzpRelay          *self,
          GSocketConnection *connection,
          IpCounters        *ip,
          char              *remote_addr)
{
  RelayPipe *pipe = g_new0 (RelayPipe, 1);

  g_ref_count_init (&pipe->ref_count);
  pipe->relay = self;
  pipe->conn = g_object_ref (connection);
  pipe->cancellable = g_cancellable_new ();
  pipe->ip = ip;
  pipe->remote_addr = remote_addr;
  if (ip != NULL)
    ip->pipes++;
  g_hash_table_add (self->pipes, pipe);

  pipe->io = _wzp_frame_io_new (G_IO_STREAM (connection));
  _wzp_frame_io_set_max_frame_size (pipe->io, PIPE_MAX_FRAME);
  return pipe;
}

gboolean
_wzp_relay_pipes_incoming (WzpRelay          *self,
                           GSocketConnection *connection)
{
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  IpCounters *ip;
  RelayPipe *pipe;

  if (remote == NULL || !G_IS_INET_SOCKET_ADDRESS (remote))
    return FALSE;

  ip = _wzp_relay_ip_counters (self, g_inet_socket_address_get_address (
                                 G_INET_SOCKET_ADDRESS (remote)));
  if (ip->pipes >= self->max_pipes_per_ip)
    {
      g_autofree char *addr = _wzp_address_to_string (remote);

      _wzp_relay_log_limit (self, ip->key, "max-pipes-per-ip", addr,
                            "too many pipes from this address; refused");
      _wzp_relay_ip_counters_gc (self, ip);
      return FALSE;
    }

  pipe = pipe_new (self, connection, ip, _wzp_address_to_string (remote));
  _wzp_socket_connection_set_nodelay (G_IO_STREAM (connection));
  pipe_wait (pipe, MIN (self->pipe_wait_timeout, self->handshake_timeout), open_wait_cb);
  _wzp_frame_io_read_async (pipe->io, pipe->cancellable, open_pipe_read_cb, pipe_ref (pipe));
  return TRUE;
}

/* The federation's entry (declared in wzp-relay-federation-private.h): the bridge has
 * checked its own token, so @connection goes straight to the matching, as party @role's
 * pipe; PipeReady is written to it when joined, and then the forwarder copies between
 * it and the local party's pipe like between two pipes. It counts against no address. */
gboolean
_wzp_relay_pipes_add_bridge (RelayCall         *call,
                             int                role,
                             GSocketConnection *connection,
                             const char        *description)
{
  RelayPipe *pipe;

  if (call->state != CALL_SET_UP || role < 0 || role > 1)
    return FALSE;
  pipe = pipe_new (call->relay, connection, NULL, g_strdup (description));
  pipe_attach (pipe, call, role);
  return TRUE;
}
