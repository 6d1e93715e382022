/* relay-pipes-epoll.c: PROTOTYPE of a proposed change to the relay's pipe forwarding,
 * built only into bench-relay-host-epoll (bench/meson.build) so that bench-relay-pipes can
 * measure it as mode "relay-epoll". It is not the relay's code and changes nothing in it.
 *
 * The relay (libwzp-glib/wzp-relay-pipes.c) forwards each pipe from the GLib main context:
 * every message costs a g_unix_fd_add() (a new GSource, a poll record inserted into a list
 * sorted by fd, an eventfd wake-up) and at least one main loop iteration, and every
 * iteration is O(all connections): poll(2) over every fd, prepare/check over every source
 * (signalling connections, their keepalive timers, pipes). Measured: the relay is CPU bound
 * at about 100-200 calls.
 *
 * The proposal, prototyped here: the pipe handshake (OpenPipe, token, join, PipeReady)
 * stays on the main context exactly as before; once PipeReady reached both parties, the
 * joined pair moves to one forwarding thread that owns an epoll set (edge-triggered, each
 * socket registered once) and moves bytes with splice(2) through a kernel pipe per
 * direction, with the same token-bucket rate limit. The main loop never sees pipe traffic.
 * When a pair ends (EOF both ways, an error), the thread tells the main context, which
 * closes the pipes as before; when the main context closes a pair (call ended, relay
 * stopped) it removes it from the epoll set under the engine lock first.
 *
 * This file implements the same functions as wzp-relay-pipes.c, so the linker takes
 * them from here and never pulls wzp-relay-pipes.o out of the internal library.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wzp-path-private.h"
#include "wzp-relay-private.h"
#include "wzp-tls-private.h"

#define PIPE_MAX_FRAME 1024
#define SPLICE_CHUNK   (64 * 1024)

typedef struct Join Join;

struct _RelayPipe
{
  grefcount           ref_count;
  WzpRelay           *relay;
  GSocketConnection  *conn;
  WzpFrameIO         *io;
  GCancellable       *cancellable;
  IpCounters         *ip;
  char               *remote_addr;
  RelayCall          *call;
  int                 role;
  RelayPipe          *partner;
  guint               wait_id;
  gboolean            closed;
  gboolean            ready_written;
  Join               *join;
};

/* One direction of a join: from sock[idx] to sock[1 - idx], through a kernel pipe. */
typedef struct
{
  Join        *join;
  int          idx;
  int          buf[2];
  gsize        pending;
  RelayBucket  bucket;
  gint64       resume_us;     /* throttled until then (0: not throttled) */
  gboolean     eof;
  gboolean     done;
} Dir;

/* What an epoll event points at: one socket of a join. */
typedef struct
{
  Join *join;
  int   idx;
} Half;

struct Join
{
  gint         ref_count;     /* atomic: main's, epoll's, a pending report's */
  int          sock[2];
  gboolean     readable[2];   /* edge-triggered state of each socket */
  gboolean     writable[2];
  Half         half[2];
  Dir          dir[2];
  double       rate;
  double       burst;
  RelayPipe   *pipe[2];       /* main thread only */
  gboolean     dead;          /* removed by the main thread */
  gboolean     finished;      /* ended by the thread; reported to the main thread */
  const char  *reason;
};

static struct
{
  GMutex        lock;
  int           ep;
  GThread      *thread;
  GPtrArray    *graveyard;    /* Join*: their epoll reference, dropped by the thread */
  GPtrArray    *throttled;    /* Dir* */
  GMainContext *main_context;
} engine;

static void
join_unref (Join *j)
{
  if (!g_atomic_int_dec_and_test (&j->ref_count))
    return;
  for (int d = 0; d < 2; d++)
    if (j->dir[d].buf[0] >= 0)
      {
        close (j->dir[d].buf[0]);
        close (j->dir[d].buf[1]);
      }
  g_free (j);
}

static void pipe_close_internal (RelayPipe *pipe, const char *code, const char *reason);

/* In the main context: the thread ended a join. */
static gboolean
join_finished_cb (gpointer user_data)
{
  Join *j = user_data;

  if (!j->dead && j->pipe[0] != NULL)
    pipe_close_internal (j->pipe[0], NULL, j->reason);
  join_unref (j);
  return G_SOURCE_REMOVE;
}

/* Thread, engine lock held. */
static void
join_finish (Join       *j,
             const char *reason)
{
  if (j->finished || j->dead)
    return;
  j->finished = TRUE;
  j->reason = reason;
  epoll_ctl (engine.ep, EPOLL_CTL_DEL, j->sock[0], NULL);
  epoll_ctl (engine.ep, EPOLL_CTL_DEL, j->sock[1], NULL);
  g_atomic_int_inc (&j->ref_count);
  g_main_context_invoke (engine.main_context, join_finished_cb, j);
}

/* Thread, engine lock held: moves what it can in direction @d. */
static void
pump_dir (Join *j,
          int   d)
{
  Dir *dir = &j->dir[d];
  int src = j->sock[d];
  int dst = j->sock[1 - d];

  while (!j->finished && !j->dead)
    {
      ssize_t n;
      gsize amount;

      if (dir->pending > 0)
        {
          if (!j->writable[1 - d])
            return;
          n = splice (dir->buf[0], NULL, dst, NULL, dir->pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
          if (n < 0 && (errno == EAGAIN || errno == EINTR))
            {
              j->writable[1 - d] = FALSE;
              return;
            }
          if (n <= 0)
            {
              join_finish (j, "the other end of the pipe failed");
              return;
            }
          dir->pending -= n;
          continue;
        }

      if (dir->eof)
        {
          if (!dir->done)
            {
              dir->done = TRUE;
              shutdown (dst, SHUT_WR);
            }
          if (j->dir[1 - d].done)
            join_finish (j, "both ends closed");
          return;
        }

      if (!j->readable[d] || dir->resume_us != 0)
        return;

      _wzp_relay_bucket_take (&dir->bucket, j->rate, j->burst, 0);
      amount = MIN ((gsize) dir->bucket.tokens, SPLICE_CHUNK);
      if (amount == 0)
        {
          dir->resume_us = g_get_monotonic_time () +
                           MAX (1000, (gint64) _wzp_relay_bucket_wait_us (&dir->bucket, j->rate, 512));
          g_ptr_array_add (engine.throttled, dir);
          return;
        }

      n = splice (src, NULL, dir->buf[1], NULL, amount, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        {
          j->readable[d] = FALSE;
          return;
        }
      if (n < 0)
        {
          join_finish (j, "the pipe connection failed");
          return;
        }
      if (n == 0)
        {
          dir->eof = TRUE;
          continue;
        }
      dir->bucket.tokens -= n;
      dir->pending += n;
    }
}

static gpointer
engine_thread (gpointer data)
{
  struct epoll_event events[256];

  for (;;)
    {
      int timeout = -1;
      int n;

      g_mutex_lock (&engine.lock);
      /* Joins removed before this epoll_wait cannot be in its results any more. */
      for (guint i = 0; i < engine.throttled->len; )
        {
          Dir *dir = g_ptr_array_index (engine.throttled, i);

          if (dir->join->dead || dir->join->finished)
            g_ptr_array_remove_index_fast (engine.throttled, i);
          else
            i++;
        }
      g_ptr_array_set_size (engine.graveyard, 0);
      if (engine.throttled->len > 0)
        {
          gint64 now = g_get_monotonic_time ();
          gint64 first = G_MAXINT64;

          for (guint i = 0; i < engine.throttled->len; i++)
            first = MIN (first, ((Dir *) g_ptr_array_index (engine.throttled, i))->resume_us);
          timeout = first <= now ? 0 : (int) ((first - now + 999) / 1000);
        }
      g_mutex_unlock (&engine.lock);

      n = epoll_wait (engine.ep, events, G_N_ELEMENTS (events), timeout);

      g_mutex_lock (&engine.lock);
      for (int i = 0; i < n; i++)
        {
          Half *half = events[i].data.ptr;
          Join *j = half->join;
          int idx = half->idx;

          if (j->dead || j->finished)
            continue;
          if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            j->readable[idx] = TRUE;
          if (events[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            j->writable[idx] = TRUE;
          pump_dir (j, idx);       /* bytes from this socket */
          pump_dir (j, 1 - idx);   /* bytes waiting to go to this socket */
        }
      if (engine.throttled->len > 0)
        {
          gint64 now = g_get_monotonic_time ();

          for (guint i = 0; i < engine.throttled->len; )
            {
              Dir *dir = g_ptr_array_index (engine.throttled, i);

              if (dir->resume_us <= now)
                {
                  g_ptr_array_remove_index_fast (engine.throttled, i);
                  dir->resume_us = 0;
                  pump_dir (dir->join, dir->idx);
                }
              else
                i++;
            }
        }
      g_mutex_unlock (&engine.lock);
    }
  return NULL;
}

static void
engine_init (void)
{
  if (engine.thread != NULL)
    return;
  g_mutex_init (&engine.lock);
  engine.ep = epoll_create1 (EPOLL_CLOEXEC);
  engine.graveyard = g_ptr_array_new_with_free_func ((GDestroyNotify) join_unref);
  engine.throttled = g_ptr_array_new ();
  engine.main_context = g_main_context_ref_thread_default ();
  engine.thread = g_thread_new ("wzp-pipes", engine_thread, NULL);
}

/* Main thread: both parties have PipeReady, so bytes may flow both ways. */
static gboolean
engine_add (RelayPipe *a,
            RelayPipe *b)
{
  WzpRelay *self = a->relay;
  Join *j = g_new0 (Join, 1);

  engine_init ();
  j->ref_count = 2;   /* the main thread's, the epoll set's */
  j->rate = self->pipe_bytes_per_second;
  j->burst = self->pipe_burst_bytes;
  for (int i = 0; i < 2; i++)
    {
      RelayPipe *p = i == 0 ? a : b;

      j->pipe[i] = p;
      j->sock[i] = g_socket_get_fd (g_socket_connection_get_socket (p->conn));
      j->half[i].join = j;
      j->half[i].idx = i;
      j->readable[i] = j->writable[i] = TRUE;
      j->dir[i].join = j;
      j->dir[i].idx = i;
      j->dir[i].buf[0] = j->dir[i].buf[1] = -1;
    }
  for (int i = 0; i < 2; i++)
    if (pipe2 (j->dir[i].buf, O_NONBLOCK | O_CLOEXEC) != 0)
      {
        j->ref_count = 1;
        join_unref (j);
        return FALSE;
      }
  a->join = b->join = j;

  g_mutex_lock (&engine.lock);
  for (int i = 0; i < 2; i++)
    {
      struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                .data.ptr = &j->half[i] };
      epoll_ctl (engine.ep, EPOLL_CTL_ADD, j->sock[i], &ev);
    }
  g_mutex_unlock (&engine.lock);
  return TRUE;
}

/* Main thread: takes the join out of the thread's hands before its sockets close. */
static void
engine_remove (Join *j)
{
  g_mutex_lock (&engine.lock);
  if (!j->dead)
    {
      j->dead = TRUE;
      if (!j->finished)
        {
          epoll_ctl (engine.ep, EPOLL_CTL_DEL, j->sock[0], NULL);
          epoll_ctl (engine.ep, EPOLL_CTL_DEL, j->sock[1], NULL);
        }
      g_ptr_array_add (engine.graveyard, j);   /* the epoll set's reference */
    }
  j->pipe[0] = j->pipe[1] = NULL;
  g_mutex_unlock (&engine.lock);
  join_unref (j);                              /* the main thread's reference */
}

/* The pipe handshake, as in the relay, on the main context */

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
  g_clear_object (&pipe->io);
  g_clear_object (&pipe->conn);
  g_clear_object (&pipe->cancellable);
  g_free (pipe->remote_addr);
  g_free (pipe);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayPipe, pipe_unref)

static gboolean
same_token (const char *a,
            const char *b)
{
  gsize len = strlen (a);
  guint8 diff = 0;

  if (len != strlen (b))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    diff |= (guint8) (a[i] ^ b[i]);
  return diff == 0;
}

static void
pipe_close_internal (RelayPipe  *pipe,
                     const char *code,
                     const char *reason)
{
  WzpRelay *self = pipe->relay;
  RelayPipe *partner;

  if (pipe->closed)
    return;
  pipe->closed = TRUE;

  if (code != NULL && pipe->call != NULL)
    _wzp_relay_send_error_to (self, pipe->call->party[pipe->role].fingerprint, code,
                              pipe->call->call_id, "%s", reason);
  if (pipe->join != NULL)
    {
      Join *j = pipe->join;

      pipe->join = NULL;
      if (pipe->partner != NULL)
        pipe->partner->join = NULL;
      engine_remove (j);
    }

  g_cancellable_cancel (pipe->cancellable);
  g_clear_handle_id (&pipe->wait_id, g_source_remove);
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
      pipe_close_internal (partner, NULL, NULL);
    }
  if (g_hash_table_steal (self->pipes, pipe))
    pipe_unref (pipe);
}

void
_wzp_relay_pipe_close (RelayPipe  *pipe,
                       const char *code,
                       const char *reason)
{
  pipe_close_internal (pipe, code, reason);
}

void
_wzp_relay_pipes_drop_call (RelayCall *call)
{
  for (int role = 0; role < 2; role++)
    if (call->party[role].pipe != NULL)
      pipe_close_internal (call->party[role].pipe, NULL, "the call ended");
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
      pipe_close_internal (pipe, NULL, "the relay stopped");
    }
}

static void
ready_written_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(RelayPipe) pipe = user_data;
  g_autoptr(GError) error = NULL;

  if (!_wzp_frame_io_write_finish (WZP_FRAME_IO (source), result, &error))
    {
      pipe_close_internal (pipe, NULL, error->message);
      return;
    }
  if (pipe->closed || pipe->partner == NULL)
    return;
  pipe->ready_written = TRUE;
  if (pipe->partner->ready_written && !engine_add (pipe->partner, pipe))
    pipe_close_internal (pipe, WZP_ERROR_CODE_LIMIT_REACHED,
                         "The relay is out of resources for pipes");
}

static void
join_pipes (RelayPipe *a,
            RelayPipe *b)
{
  g_clear_handle_id (&a->wait_id, g_source_remove);
  g_clear_handle_id (&b->wait_id, g_source_remove);
  a->partner = b;
  b->partner = a;
  a->call->relayed = TRUE;
  for (int i = 0; i < 2; i++)
    {
      RelayPipe *p = i == 0 ? a : b;
      g_autoptr(WzpMessage) ready = _wzp_message_new_for_call (WZP_MESSAGE_PIPE_READY,
                                                               p->call->call_id);
      _wzp_frame_io_write_async (p->io, ready, NULL, ready_written_cb, pipe_ref (p));
    }
}

static gboolean
partner_timeout_cb (gpointer user_data)
{
  RelayPipe *pipe = user_data;

  pipe->wait_id = 0;
  pipe_close_internal (pipe, WZP_ERROR_CODE_PIPE_TIMEOUT,
                       "The other party's pipe did not arrive in time");
  return G_SOURCE_REMOVE;
}

static void
open_pipe_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(RelayPipe) pipe = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) message = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result, &error);
  WzpRelay *self = pipe->relay;
  const char *call_id;
  const char *token;
  gint64 seq;
  RelayCall *call;
  RelayParty *party, *other;
  int role = -1;

  if (pipe->closed)
    return;
  if (message == NULL || _wzp_message_get_message_type (message) != WZP_MESSAGE_OPEN_PIPE)
    {
      pipe_close_internal (pipe, NULL, "no valid OpenPipe");
      return;
    }
  call_id = _wzp_message_get_string (message, "call_id");
  token = _wzp_message_get_string (message, "pipe_token");
  seq = _wzp_message_has_member (message, "seq") ? _wzp_message_get_int (message, "seq") : 1;
  call = _wzp_relay_call_lookup (self, call_id);
  for (int r = 0; call != NULL && seq > 0 && r < 2 && role < 0; r++)
    if (call->party[r].pipe_secret != NULL)
      {
        g_autofree char *expected = _wzp_pipe_token_derive (call->party[r].pipe_secret, seq);

        if (same_token (expected, token))
          role = r;
      }
  if (role < 0)
    {
      pipe_close_internal (pipe, NULL, "OpenPipe with an unknown call or a wrong token");
      return;
    }
  party = &call->party[role];
  other = &call->party[1 - role];
  if (seq <= party->last_pipe_seq)
    {
      _wzp_relay_send_error_to (self, party->fingerprint, WZP_ERROR_CODE_BAD_TOKEN, call_id,
                                "Pipe token %" G_GINT64_FORMAT " was already used", seq);
      pipe_close_internal (pipe, NULL, "reused pipe token");
      return;
    }
  party->last_pipe_seq = seq;
  pipe->call = call;
  pipe->role = role;
  if (party->pipe != NULL)
    pipe_close_internal (party->pipe, NULL, "replaced by the party's newer pipe");
  party->pipe = pipe;

  if (other->pipe != NULL && other->pipe->partner == NULL)
    {
      join_pipes (other->pipe, pipe);
      return;
    }
  if (other->pipe == NULL)
    {
      g_autoptr(WzpMessage) requested = _wzp_message_new_for_call (WZP_MESSAGE_PIPE_REQUESTED,
                                                                   call_id);
      _wzp_relay_send_to (self, other->fingerprint, requested);
    }
  g_clear_handle_id (&pipe->wait_id, g_source_remove);
  pipe->wait_id = g_timeout_add_seconds (self->pipe_wait_timeout, partner_timeout_cb, pipe);
}

static gboolean
open_timeout_cb (gpointer user_data)
{
  RelayPipe *pipe = user_data;

  pipe->wait_id = 0;
  pipe_close_internal (pipe, NULL, "no OpenPipe in time");
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
  ip->pipes++;
  g_hash_table_add (self->pipes, pipe);

  _wzp_socket_connection_set_nodelay (G_IO_STREAM (connection));
  pipe->io = _wzp_frame_io_new (G_IO_STREAM (connection));
  _wzp_frame_io_set_max_frame_size (pipe->io, PIPE_MAX_FRAME);
  pipe->wait_id = g_timeout_add_seconds (MIN (self->pipe_wait_timeout, self->handshake_timeout),
                                         open_timeout_cb, pipe);
  _wzp_frame_io_read_async (pipe->io, pipe->cancellable, open_pipe_cb, pipe_ref (pipe));
  return TRUE;
}
