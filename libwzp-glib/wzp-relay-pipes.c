/* wzp-relay-pipes.c: relay pipes (DESIGN.md section 11, items 7-11)
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
 * kernel moves the bytes with splice(2): the relay never reads them. The peers' own
 * end-to-end TLS runs inside.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "wzp-path-private.h"
#include "wzp-relay-private.h"
#include "wzp-tls-private.h"

/* OpenPipe is small; nothing bigger is read from a pipe. */
#define PIPE_MAX_FRAME 1024
#define SPLICE_CHUNK   (64 * 1024)

struct _RelayPipe
{
  grefcount           ref_count;
  WzpRelay           *relay;
  GSocketConnection  *conn;
  WzpFrameIO         *io;
  GCancellable       *cancellable;
  IpCounters         *ip;
  char               *remote_addr;
  RelayCall          *call;          /* set once OpenPipe was accepted */
  int                 role;
  RelayPipe          *partner;       /* set when joined */
  guint               wait_id;
  gboolean            closed;

  /* Forwarding from this pipe's socket to the partner's socket. */
  int                 fd;
  int                 buf[2];        /* kernel pipe between the two sockets */
  gsize               pending;       /* bytes sitting in buf */
  gboolean            forwarding;
  gboolean            eof;
  gboolean            done;
  guint               watch_id;
  guint               resume_id;
  RelayBucket         bucket;
};

static void pump (RelayPipe *pipe);

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
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_REMOTE_ADDRESS", pipe->remote_addr,
                    "WZP_CALL_ID", pipe->call ? pipe->call->call_id : "",
                    "MESSAGE", "Pipe from %s: %s", pipe->remote_addr, message);
}

static const char *
pipe_fingerprint (RelayPipe *pipe)
{
  return pipe->call ? pipe->call->party[pipe->role].fingerprint : NULL;
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
    _wzp_relay_send_error_to (self, pipe_fingerprint (pipe), code, pipe->call->call_id,
                              "%s", reason);

  g_cancellable_cancel (pipe->cancellable);
  g_clear_handle_id (&pipe->wait_id, g_source_remove);
  g_clear_handle_id (&pipe->watch_id, g_source_remove);
  g_clear_handle_id (&pipe->resume_id, g_source_remove);
  if (pipe->buf[0] >= 0)
    {
      close (pipe->buf[0]);
      close (pipe->buf[1]);
      pipe->buf[0] = pipe->buf[1] = -1;
    }

  if (pipe->call != NULL && pipe->call->party[pipe->role].pipe == pipe)
    pipe->call->party[pipe->role].pipe = NULL;
  pipe->call = NULL;

  g_io_stream_close (G_IO_STREAM (pipe->conn), NULL, NULL);

  pipe->ip->pipes--;
  _wzp_relay_ip_counters_gc (self, pipe->ip);

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

void
_wzp_relay_pipes_drop_call (RelayCall *call)
{
  for (int role = 0; role < 2; role++)
    if (call->party[role].pipe != NULL)
      _wzp_relay_pipe_close (call->party[role].pipe, NULL, "the call ended");
}

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
}

/* Forwarding */

static gboolean
watch_cb (int          fd,
          GIOCondition condition,
          gpointer     user_data)
{
  RelayPipe *pipe = user_data;

  pipe->watch_id = 0;
  pump (pipe);
  return G_SOURCE_REMOVE;
}

static gboolean
resume_cb (gpointer user_data)
{
  RelayPipe *pipe = user_data;

  pipe->resume_id = 0;
  pump (pipe);
  return G_SOURCE_REMOVE;
}

static void
direction_done (RelayPipe *pipe)
{
  RelayPipe *partner = pipe->partner;

  pipe->done = TRUE;
  /* Pass the end of stream on; the other direction may still have bytes to carry. */
  shutdown (partner->fd, SHUT_WR);
  if (partner->done)
    _wzp_relay_pipe_close (pipe, NULL, "both ends closed");
}

static void
pump (RelayPipe *pipe)
{
  WzpRelay *self = pipe->relay;
  RelayPipe *partner = pipe->partner;

  if (pipe->closed || partner == NULL)
    return;

  for (;;)
    {
      ssize_t n;
      gsize amount;

      if (pipe->pending > 0)
        {
          n = splice (pipe->buf[0], NULL, partner->fd, NULL, pipe->pending,
                      SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
          if (n < 0 && (errno == EAGAIN || errno == EINTR))
            {
              pipe->watch_id = g_unix_fd_add (partner->fd, G_IO_OUT, watch_cb, pipe);
              return;
            }
          if (n <= 0)
            {
              _wzp_relay_pipe_close (pipe, NULL, "the other end of the pipe failed");
              return;
            }
          pipe->pending -= n;
          continue;
        }

      if (pipe->eof)
        {
          direction_done (pipe);
          return;
        }

      /* The rate limit is sized for voice: a pipe is not a bulk proxy. */
      _wzp_relay_bucket_take (&pipe->bucket, self->pipe_bytes_per_second,
                              self->pipe_burst_bytes, 0);
      amount = MIN ((gsize) pipe->bucket.tokens, SPLICE_CHUNK);
      if (amount == 0)
        {
          double wait_us = _wzp_relay_bucket_wait_us (&pipe->bucket,
                                                      self->pipe_bytes_per_second, 512);

          pipe->resume_id = g_timeout_add (MAX (1, (guint) (wait_us / 1000)), resume_cb, pipe);
          return;
        }

      n = splice (pipe->fd, NULL, pipe->buf[1], NULL, amount,
                  SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        {
          pipe->watch_id = g_unix_fd_add (pipe->fd, G_IO_IN, watch_cb, pipe);
          return;
        }
      if (n < 0)
        {
          _wzp_relay_pipe_close (pipe, NULL, "the pipe connection failed");
          return;
        }
      if (n == 0)
        {
          pipe->eof = TRUE;
          continue;
        }
      pipe->bucket.tokens -= n;
      pipe->pending += n;
    }
}

static gboolean
start_forwarding (RelayPipe *pipe)
{
  if (pipe2 (pipe->buf, O_NONBLOCK | O_CLOEXEC) != 0)
    {
      pipe->buf[0] = pipe->buf[1] = -1;
      return FALSE;
    }
  pipe->forwarding = TRUE;
  pump (pipe);
  return TRUE;
}

/* PipeReady has reached @pipe's socket: bytes towards it may flow now, so the partner's
 * direction (partner → pipe) starts. */
static void
pipe_ready_written_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(RelayPipe) pipe = user_data;
  g_autoptr(GError) error = NULL;

  if (!_wzp_frame_io_write_finish (WZP_FRAME_IO (source), result, &error))
    {
      _wzp_relay_pipe_close (pipe, NULL, error->message);
      return;
    }
  if (pipe->closed || pipe->partner == NULL)
    return;
  if (!start_forwarding (pipe->partner))
    _wzp_relay_pipe_close (pipe, WZP_ERROR_CODE_LIMIT_REACHED,
                           "The relay is out of resources for pipes");
}

static void
join (RelayPipe *a,
      RelayPipe *b)
{
  RelayCall *call = a->call;

  g_clear_handle_id (&a->wait_id, g_source_remove);
  g_clear_handle_id (&b->wait_id, g_source_remove);
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

  pipe->wait_id = 0;
  reason = g_strdup_printf ("The other party's pipe did not arrive within %u seconds",
                            pipe->relay->pipe_wait_timeout);
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
  RelayParty *other;
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
  other = &call->party[1 - role];
  pipe->call = call;
  pipe->role = role;

  if (seq <= party->last_pipe_seq)
    {
      pipe->call = NULL;   /* not this party's pipe: do not detach the current one */
      _wzp_relay_send_error_to (self, party->fingerprint, WZP_ERROR_CODE_BAD_TOKEN, call_id,
                                "Pipe token %" G_GINT64_FORMAT " was already used; "
                                "a pipe token is good for one pipe", seq);
      _wzp_relay_pipe_close (pipe, NULL, "reused pipe token");
      return;
    }
  party->last_pipe_seq = seq;

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
    {
      g_autoptr(WzpMessage) requested = _wzp_message_new_for_call (WZP_MESSAGE_PIPE_REQUESTED,
                                                                   call_id);
      _wzp_relay_send_to (self, other->fingerprint, requested);
    }

  g_clear_handle_id (&pipe->wait_id, g_source_remove);
  pipe->wait_id = g_timeout_add_seconds (self->pipe_wait_timeout, partner_wait_cb, pipe);
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

  pipe->wait_id = 0;
  _wzp_relay_pipe_close (pipe, NULL, "no OpenPipe in time");
  return G_SOURCE_REMOVE;
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

      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "WZP_REMOTE_ADDRESS", addr,
                        "WZP_LIMIT", "max-pipes-per-ip",
                        "MESSAGE", "%s: too many pipes from this address; refused", addr);
      _wzp_relay_ip_counters_gc (self, ip);
      return FALSE;
    }

  pipe = g_new0 (RelayPipe, 1);
  g_ref_count_init (&pipe->ref_count);
  pipe->relay = self;
  pipe->conn = g_object_ref (connection);
  pipe->cancellable = g_cancellable_new ();
  pipe->ip = ip;
  pipe->remote_addr = _wzp_address_to_string (remote);
  pipe->fd = g_socket_get_fd (g_socket_connection_get_socket (connection));
  pipe->buf[0] = pipe->buf[1] = -1;
  ip->pipes++;
  g_hash_table_add (self->pipes, pipe);

  _wzp_socket_connection_set_nodelay (G_IO_STREAM (connection));
  pipe->io = _wzp_frame_io_new (G_IO_STREAM (connection));
  _wzp_frame_io_set_max_frame_size (pipe->io, PIPE_MAX_FRAME);
  pipe->wait_id = g_timeout_add_seconds (MIN (self->pipe_wait_timeout, self->handshake_timeout),
                                         open_wait_cb, pipe);
  _wzp_frame_io_read_async (pipe->io, pipe->cancellable, open_pipe_read_cb, pipe_ref (pipe));
  return TRUE;
}
