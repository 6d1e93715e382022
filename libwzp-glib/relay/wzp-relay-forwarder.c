/* wzp-relay-forwarder.c: moves bytes between joined sockets on a thread of its own
 *
 * Why a thread: the GLib main context polls every one of its file descriptors and
 * prepares/checks every source on each iteration, so forwarding from it costs O(all
 * connections) per message (and re-arming a watch per message costs a source and a wake-up
 * each time). The forwarder registers each socket once in an edge-triggered epoll set and
 * is woken only for sockets that moved; the main context never sees pipe traffic.
 *
 * How: each wake-up reads what a socket holds into the thread's one buffer with recv(2)
 * and writes it to the other socket at once with send(2) (MSG_NOSIGNAL: a peer that has
 * gone is an EPIPE, never a SIGPIPE). What the other socket does not take waits in a
 * buffer of that direction, and the forwarder reads no more from that side until that
 * has gone out. The bytes are the callers' end-to-end TLS records; nothing here looks at them.
 * Why copying and not splice(2): docs/relay.md, "Why the relay copies".
 *
 * Who owns what: the caller owns its sockets; the forwarder owns its forwards (its own
 * copies of the two sockets, what waits in each direction, the rate buckets).
 * Only the engine thread touches those descriptors, under self->lock; the owner adds and
 * removes forwards by handing the thread a command and waiting for it, so once
 * _wzp_relay_forwarder_remove() returns, the engine has closed its copies and the caller's
 * close ends the connections. Events carry the forward's id, never a pointer: an event
 * that epoll_wait() returned just before a removal finds nothing and is dropped, and a
 * socket number that the kernel reuses for a later forward comes with a new id.
 *
 * Why a descriptor table of its own: in a process with more than one thread, every system
 * call on a descriptor takes and drops a reference on the file (two atomic operations), and
 * the C library wraps each cancellable call in two more; per relayed message that is a few
 * percent of the relay's CPU (perf, bench/README.md). The thread unshares its descriptor
 * table (unshare(CLONE_FILES)) and closes every descriptor it does not need, so the
 * kernel's single-owner fast path applies, and it calls recv(2), send(2) and epoll_wait(2)
 * through syscall(2), which is no cancellation point. The owner hands each pair of sockets
 * over with SCM_RIGHTS on a socket pair; the thread's copies are its own, closed when the
 * forward ends or is removed (the owner's copies stay the owner's). Where unsharing is
 * refused (a seccomp filter, no close_range(2)), the same code runs on the shared table.
 * The thread never logs: GLib's log writers may hold descriptors of the other table.
 *
 * The thread never calls back into its owner: a forward that ends by itself (end of
 * stream both ways, a socket error) is queued, and an eventfd wakes the owner's
 * GMainContext, whose source runs the forward's done callback there. (Calling g_main_context_invoke() from
 * the thread is wrong here: it runs the function at once, on the calling thread, whenever
 * it can acquire the context, i.e. whenever the owner is between iterations.)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib-unix.h>

#include "wzp-relay-forwarder-private.h"
#include "wzp-relay-private.h"

#define READ_CHUNK   (64 * 1024)   /* the thread's buffer: at most this much per read */
#define MAX_EVENTS   256
/* A throttled direction waits until this many bytes of rate are saved up, so that a
 * pipe over its rate is resumed in steps, not after every byte. */
#define RESUME_BYTES 512
/* Below this many saved-up bytes the bucket is refilled before each read; above, the
 * clock is not worth reading (a later refill grants the same, the bucket being capped). */
#define REFILL_BELOW (16 * 1024)

/* Forwards are looked up by id for every event; as a pointer-sized key, the table
 * compares keys inline. (On 32-bit systems two live ids would have to be 2^32 apart to
 * clash.) */
#define ID_KEY(id) GSIZE_TO_POINTER ((gsize) (id))

/* One direction of a forward: from sock[idx] to sock[1 - idx], through the thread's
 * buffer. */
typedef struct
{
  RelayForward *fw;
  int          idx;
  char        *stash;         /* what the other socket did not take yet */
  gsize        stash_offset;
  gsize        pending;       /* bytes in stash from stash_offset on */
  RelayBucket  bucket;
  gint64       resume_us;     /* while throttled: when to read again */
  gboolean     throttled;     /* in self->throttled */
  gboolean     eof;           /* the source ended its stream */
  gboolean     done;          /* ... and everything before it went out */
} ForwardDir;

struct _RelayForward
{
  guint64               id;
  int                   sock[2];       /* the engine's copies (its descriptor table) */
  gboolean              readable[2];   /* edge-triggered readiness, cleared on EAGAIN or
                                        * on a short read */
  gboolean              writable[2];
  gboolean              hung_up[2];    /* EPOLLHUP: nothing can be sent to it any more */
  gboolean              closing[2];    /* RDHUP, HUP or ERR: read it until it says so */
  ForwardDir            dir[2];
  double                rate;
  double                burst;
  gboolean              finished;      /* ended by the thread, its descriptors closed */
  gboolean              queued;        /* in self->done, its report not yet delivered */
  const char           *reason;
  RelayForwardDoneFunc  done_func;     /* owner's context only */
  gpointer              user_data;
};

/* What the owner asks of the engine thread; one at a time, the owner waits for each. */
typedef enum
{
  COMMAND_NONE,
  COMMAND_ADD,      /* the two sockets are in flight on ctl, SCM_RIGHTS */
  COMMAND_REMOVE,
} Command;

struct _RelayForwarder
{
  gint           ref_count;       /* the owner's, the notify source's */
  GMutex         lock;
  GCond          cond;
  int            wake_fd;         /* eventfd: the thread has a command or must stop */
  int            notify_fd;       /* eventfd: tells the owner's context to read `done` */
  int            ctl[2];          /* socket pair: [0] the owner's end, [1] the engine's */
  GMainContext  *context;
  GSource       *notify_source;
  GThread       *thread;
  guint64        next_id;

  /* Engine thread only (numbers in its table) */
  int            ep;
  int            engine_ctl;      /* its end of ctl */
  GHashTable    *forwards;        /* ID_KEY (id) -> RelayForward* (also read under lock) */
  GPtrArray     *throttled;       /* ForwardDir* */
  char          *scratch;         /* READ_CHUNK bytes on their way through */

  /* Under lock */
  gboolean       started;         /* the thread has set itself up ... */
  gboolean       running;         /* ... and serves commands (FALSE once it has ended) */
  gboolean       own_table;       /* it works on a descriptor table of its own */
  int            start_errno;     /* why it could not set up */
  gboolean       stopping;
  Command        command;
  RelayForward  *command_fw;
  gboolean       command_done;
  int            command_errno;
  GQueue         done;            /* RelayForward* finished by the thread, to report */

  /* Owner's context only */
  gboolean       stopped;
};

static void
forwarder_unref (RelayForwarder *self)
{
  if (!g_atomic_int_dec_and_test (&self->ref_count))
    return;

  g_assert (self->thread == NULL);
  g_hash_table_unref (self->forwards);
  g_ptr_array_unref (self->throttled);
  g_free (self->scratch);
  for (int i = 0; i < 2; i++)
    if (self->ctl[i] >= 0)
      close (self->ctl[i]);
  if (self->wake_fd >= 0)
    close (self->wake_fd);
  if (self->notify_fd >= 0)
    close (self->notify_fd);
  g_main_context_unref (self->context);
  g_cond_clear (&self->cond);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* Engine thread */

/* The C library's recv(), send() and epoll_wait() are cancellation points, which in a
 * threaded process cost two atomic operations around every call; this thread is never
 * cancelled. */
static inline ssize_t
recv_nocancel (int fd, void *buf, gsize len)
{
  return syscall (SYS_recvfrom, fd, buf, len, MSG_DONTWAIT, NULL, NULL);
}

static inline ssize_t
send_nocancel (int fd, const void *buf, gsize len)
{
  return syscall (SYS_sendto, fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, NULL, 0);
}

static inline int
epoll_wait_nocancel (int ep, struct epoll_event *events, int max_events, int timeout)
{
  return syscall (SYS_epoll_wait, ep, events, max_events, timeout);
}

static int
compare_fds (gconstpointer a,
             gconstpointer b)
{
  return *(const int *) a - *(const int *) b;
}

/* Gives the thread a descriptor table of its own that holds only the standard streams and
 * what it needs. FALSE when it must go on sharing the process's table. */
static gboolean
detach_descriptor_table (RelayForwarder *self)
{
  int keep[] = { self->wake_fd, self->notify_fd, self->engine_ctl };
  unsigned int next = 3;

  /* Closing the rest must not fail half-way after the unshare, or the thread would hold
   * the owner's sockets open: check that close_range() is there first. (Closing from the
   * largest possible descriptor number closes nothing.) */
  if (close_range (G_MAXUINT, G_MAXUINT, 0) != 0)
    return FALSE;
  if (unshare (CLONE_FILES) != 0)
    return FALSE;

  qsort (keep, G_N_ELEMENTS (keep), sizeof keep[0], compare_fds);
  for (guint i = 0; i < G_N_ELEMENTS (keep); i++)
    {
      if ((unsigned int) keep[i] > next)
        close_range (next, keep[i] - 1, 0);
      next = MAX (next, (unsigned int) keep[i] + 1);
    }
  close_range (next, G_MAXUINT, 0);
  return TRUE;
}

static void
unthrottle (RelayForwarder *self,
            RelayForward   *fw)
{
  for (int d = 0; d < 2; d++)
    if (fw->dir[d].throttled)
      {
        g_ptr_array_remove_fast (self->throttled, &fw->dir[d]);
        fw->dir[d].throttled = FALSE;
      }
}

/* Lets go of the forward's descriptors (idempotent). The owner's copies of the sockets are
 * not touched: the connections end when the owner closes those. */
static void
forward_release (RelayForwarder *self,
                 RelayForward   *fw)
{
  for (int i = 0; i < 2; i++)
    if (fw->sock[i] >= 0)
      {
        epoll_ctl (self->ep, EPOLL_CTL_DEL, fw->sock[i], NULL);
        close (fw->sock[i]);
        fw->sock[i] = -1;
      }
  for (int d = 0; d < 2; d++)
    g_clear_pointer (&fw->dir[d].stash, g_free);
  unthrottle (self, fw);
}

/* Lock held. The forward stops moving; its owner hears of it on its context. */
static void
forward_finish (RelayForwarder *self,
                RelayForward   *fw,
                const char     *reason)
{
  if (fw->finished)
    return;
  fw->finished = TRUE;
  fw->reason = reason;
  forward_release (self, fw);
  fw->queued = TRUE;
  g_queue_push_tail (&self->done, fw);
  /* One wake-up per batch: the owner empties the whole queue when it runs. */
  if (self->done.length == 1)
    eventfd_write (self->notify_fd, 1);
}

/* Lock held: sends @len bytes of @buf on, to where direction @d goes (sock[1 - @d]).
 * Returns how many went out; 0 when the socket takes nothing now (it is not writable
 * again until epoll says so), -1 when the forward ended. */
static ssize_t
send_to (RelayForwarder *self,
         RelayForward   *fw,
         int             d,
         const char     *buf,
         gsize           len)
{
  ssize_t n;

  do
    n = send_nocancel (fw->sock[1 - d], buf, len);
  while (n < 0 && errno == EINTR);
  if (n >= 0)
    return n;
  if (errno == EAGAIN)
    {
      fw->writable[1 - d] = FALSE;
      return 0;
    }
  forward_finish (self, fw, "the other end of the pipe failed");
  return -1;
}

/* Lock held: one read of at most @amount bytes from sock[@d] into the thread's buffer
 * and one write of them to the other socket; what that does not take waits in the
 * direction's stash. A short read proves the socket empty (the kernel copies until the
 * queue is) unless the stream is ending or failed, so no read has to fail with EAGAIN to
 * prove it. */
static void
copy_once (RelayForwarder *self,
           RelayForward   *fw,
           int             d,
           gsize           amount)
{
  ForwardDir *dir = &fw->dir[d];
  ssize_t n, sent;

  n = recv_nocancel (fw->sock[d], self->scratch, amount);
  if (n == 0)
    {
      dir->eof = TRUE;
      return;
    }
  if (n < 0)
    {
      if (errno == EAGAIN)
        fw->readable[d] = FALSE;
      else if (errno != EINTR)
        forward_finish (self, fw, "the pipe connection failed");
      return;
    }
  dir->bucket.tokens -= n;
  if ((gsize) n < amount && !fw->closing[d])
    fw->readable[d] = FALSE;

  sent = send_to (self, fw, d, self->scratch, n);
  if (sent >= 0 && sent < n)
    {
      dir->stash = g_memdup2 (self->scratch + sent, n - sent);
      dir->stash_offset = 0;
      dir->pending = n - sent;
    }
}

/* Lock held: moves what it can in direction @d, until a socket would block, the rate
 * says wait, or the forward ends. */
static void
pump (RelayForwarder *self,
      RelayForward   *fw,
      int             d)
{
  ForwardDir *dir = &fw->dir[d];

  while (!fw->finished)
    {
      gsize amount;

      if (dir->pending > 0)
        {
          ssize_t n;

          if (!fw->writable[1 - d])
            return;
          n = send_to (self, fw, d, dir->stash + dir->stash_offset, dir->pending);
          if (n <= 0)
            return;
          dir->pending -= n;
          dir->stash_offset += n;
          if (dir->pending == 0)
            {
              g_clear_pointer (&dir->stash, g_free);
              dir->stash_offset = 0;
            }
          continue;
        }

      if (dir->eof)
        {
          /* Pass the end of stream on; the other direction may still have bytes to
           * carry. */
          if (!dir->done)
            {
              dir->done = TRUE;
              shutdown (fw->sock[1 - d], SHUT_WR);
            }
          /* Done when the other way is done too, or cannot be: a socket that hung up
           * (both ways shut, as a closed socketpair end is) takes nothing more. */
          if (fw->dir[1 - d].done || fw->hung_up[d])
            forward_finish (self, fw, "both ends closed");
          return;
        }

      if (!fw->readable[d] || dir->throttled)
        return;
      /* What is read must go out at once: leave it in the socket (and TCP slow the
       * sender down) while the other side takes nothing. */
      if (!fw->writable[1 - d])
        return;

      /* The rate limit is sized for voice: a pipe is not a bulk proxy. Over it, the
       * forwarder stops reading that side, so TCP slows the sender down. */
      if (dir->bucket.tokens < REFILL_BELOW)
        _wzp_relay_bucket_take (&dir->bucket, fw->rate, fw->burst, 0);
      amount = MIN ((gsize) dir->bucket.tokens, READ_CHUNK);
      if (amount == 0)
        {
          double wait_us = _wzp_relay_bucket_wait_us (&dir->bucket, fw->rate, RESUME_BYTES);

          dir->resume_us = g_get_monotonic_time () + MAX (1000, (gint64) wait_us);
          dir->throttled = TRUE;
          g_ptr_array_add (self->throttled, dir);
          return;
        }

      copy_once (self, fw, d, amount);
    }
}

/* Lock held: milliseconds until the first throttled direction may read again. */
static int
next_timeout (RelayForwarder *self)
{
  gint64 now, first = G_MAXINT64;

  if (self->throttled->len == 0)
    return -1;
  now = g_get_monotonic_time ();
  for (guint i = 0; i < self->throttled->len; i++)
    first = MIN (first, ((ForwardDir *) g_ptr_array_index (self->throttled, i))->resume_us);
  return first <= now ? 0 : (int) MIN ((first - now + 999) / 1000, G_MAXINT);
}

/* Lock held */
static void
resume_throttled (RelayForwarder *self)
{
  gint64 now;

  if (self->throttled->len == 0)
    return;
  now = g_get_monotonic_time ();
  for (guint i = 0; i < self->throttled->len; )
    {
      ForwardDir *dir = g_ptr_array_index (self->throttled, i);

      if (dir->resume_us > now)
        {
          i++;
          continue;
        }
      g_ptr_array_remove_index_fast (self->throttled, i);
      dir->throttled = FALSE;
      pump (self, dir->fw, dir->idx);
    }
}

/* A one-byte message that carries the two sockets of a forward (SCM_RIGHTS) from the
 * owner's table to the engine's. */
typedef struct
{
  char           byte;
  struct iovec   iov;
  union {
    struct cmsghdr header;
    char           space[CMSG_SPACE (2 * sizeof (int))];
  } control;
  struct msghdr  msg;
} SocketsMessage;

static void
sockets_message_init (SocketsMessage *m)
{
  memset (m, 0, sizeof *m);
  m->iov.iov_base = &m->byte;
  m->iov.iov_len = 1;
  m->msg.msg_iov = &m->iov;
  m->msg.msg_iovlen = 1;
  m->msg.msg_control = m->control.space;
  m->msg.msg_controllen = sizeof m->control.space;
}

/* Lock held: takes the two sockets the owner sent for @fw into this thread's table and
 * starts watching them. Returns 0 or an errno. */
static int
engine_add (RelayForwarder *self,
            RelayForward   *fw)
{
  SocketsMessage m;
  struct cmsghdr *cmsg;
  ssize_t n;
  int saved_errno;

  sockets_message_init (&m);
  do
    n = recvmsg (self->engine_ctl, &m.msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return errno;
  cmsg = CMSG_FIRSTHDR (&m.msg);
  if (cmsg != NULL && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
      cmsg->cmsg_len == CMSG_LEN (2 * sizeof (int)))
    memcpy (fw->sock, CMSG_DATA (cmsg), 2 * sizeof (int));
  else
    {
      /* A short list means this table ran out of descriptors (the kernel drops the
       * rest and sets MSG_CTRUNC); close what did arrive. */
      if (cmsg != NULL && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
        for (gsize i = 0; i < (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int); i++)
          close (((int *) CMSG_DATA (cmsg))[i]);
      return EMFILE;
    }

  /* In the table before the first event can be looked up. */
  g_hash_table_insert (self->forwards, ID_KEY (fw->id), fw);
  for (int i = 0; i < 2; i++)
    {
      struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                .data.u64 = (fw->id << 1) | (guint64) i };

      if (epoll_ctl (self->ep, EPOLL_CTL_ADD, fw->sock[i], &ev) != 0)
        {
          saved_errno = errno;
          g_hash_table_steal (self->forwards, ID_KEY (fw->id));
          forward_release (self, fw);
          return saved_errno;
        }
    }
  return 0;
}

/* Lock held; on the engine thread, or on the owner's once the thread has ended. */
static void
engine_remove (RelayForwarder *self,
               RelayForward   *fw)
{
  forward_release (self, fw);
  if (fw->queued)
    g_queue_remove (&self->done, fw);
  g_hash_table_steal (self->forwards, ID_KEY (fw->id));
}

/* Lock held: the owner's command, if one waits. */
static void
engine_serve (RelayForwarder *self)
{
  if (self->command == COMMAND_NONE || self->command_done)
    return;
  if (self->command == COMMAND_ADD)
    self->command_errno = engine_add (self, self->command_fw);
  else
    engine_remove (self, self->command_fw);
  self->command_done = TRUE;
  g_cond_broadcast (&self->cond);
}

/* Lock held: sets the thread up; 0 or an errno. */
static int
engine_start (RelayForwarder *self)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };

  self->engine_ctl = self->ctl[1];
  self->own_table = detach_descriptor_table (self);
  self->ep = epoll_create1 (EPOLL_CLOEXEC);
  if (self->ep < 0)
    return errno;
  if (epoll_ctl (self->ep, EPOLL_CTL_ADD, self->wake_fd, &ev) != 0)
    return errno;
  return 0;
}

static gpointer
forwarder_thread (gpointer data)
{
  RelayForwarder *self = data;
  struct epoll_event events[MAX_EVENTS];
  const char *failure = NULL;
  GHashTableIter iter;
  RelayForward *fw;

  g_mutex_lock (&self->lock);
  self->start_errno = engine_start (self);
  self->started = TRUE;
  self->running = self->start_errno == 0;
  g_cond_broadcast (&self->cond);

  while (self->running && !self->stopping)
    {
      int timeout = next_timeout (self);
      int n, saved_errno;

      g_mutex_unlock (&self->lock);
      n = epoll_wait_nocancel (self->ep, events, G_N_ELEMENTS (events), timeout);
      saved_errno = errno;
      g_mutex_lock (&self->lock);

      if (n < 0 && saved_errno != EINTR)
        {
          /* Only a programming error gets here (a bad epoll fd). Stop rather than spin,
           * and end every forward, so that their owners close the pipes. */
          failure = "the pipe forwarding thread failed (epoll_wait)";
          break;
        }

      for (int i = 0; i < n; i++)
        {
          guint64 key = events[i].data.u64;
          guint64 id = key >> 1;
          int idx = key & 1;

          if (key == 0)
            {
              eventfd_t value;

              eventfd_read (self->wake_fd, &value);
              engine_serve (self);
              continue;
            }
          /* Removed (or finished) after epoll_wait() returned: nothing to do. */
          fw = g_hash_table_lookup (self->forwards, ID_KEY (id));
          if (fw == NULL || fw->finished)
            continue;
          if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            fw->readable[idx] = TRUE;
          if (events[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            fw->writable[idx] = TRUE;
          if (events[i].events & EPOLLHUP)
            fw->hung_up[idx] = TRUE;
          if (events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            fw->closing[idx] = TRUE;
          pump (self, fw, idx);       /* bytes from this socket */
          pump (self, fw, 1 - idx);   /* bytes waiting to go to this socket */
        }
      resume_throttled (self);
    }

  /* Every descriptor of this thread is closed here, on either table: nothing of a
   * forward outlives the thread. */
  g_hash_table_iter_init (&iter, self->forwards);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &fw))
    if (failure != NULL)
      forward_finish (self, fw, failure);
    else
      forward_release (self, fw);
  if (self->ep >= 0)
    close (self->ep);
  self->ep = -1;
  close (self->engine_ctl);
  self->running = FALSE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return NULL;
}

/* Owner's context */

static gboolean
notify_cb (int          fd,
           GIOCondition condition,
           gpointer     user_data)
{
  RelayForwarder *self = user_data;
  eventfd_t value;

  eventfd_read (self->notify_fd, &value);
  /* One at a time: a done callback may remove other forwards (and so unqueue them), or even
   * free the forwarder (the source's reference keeps the struct until we return). */
  while (!self->stopped)
    {
      RelayForward *fw;

      g_mutex_lock (&self->lock);
      fw = g_queue_pop_head (&self->done);
      if (fw != NULL)
        fw->queued = FALSE;
      g_mutex_unlock (&self->lock);
      if (fw == NULL)
        break;
      fw->done_func (fw, fw->reason, fw->user_data);
    }
  return G_SOURCE_CONTINUE;
}

/* Has the engine thread run @command on @fw and waits for it (a thread wake-up: a few
 * microseconds). Returns 0, the command's errno, or ESHUTDOWN when the thread has ended. */
static int
run_command (RelayForwarder *self,
             Command         command,
             RelayForward   *fw)
{
  int result;

  g_mutex_lock (&self->lock);
  if (!self->running)
    {
      g_mutex_unlock (&self->lock);
      return ESHUTDOWN;
    }
  self->command = command;
  self->command_fw = fw;
  self->command_done = FALSE;
  self->command_errno = 0;
  eventfd_write (self->wake_fd, 1);
  while (!self->command_done && self->running)
    g_cond_wait (&self->cond, &self->lock);
  result = self->command_done ? self->command_errno : ESHUTDOWN;
  self->command = COMMAND_NONE;
  self->command_fw = NULL;
  g_mutex_unlock (&self->lock);
  return result;
}

RelayForwarder *
_wzp_relay_forwarder_new (GMainContext  *context,
                          GError       **error)
{
  RelayForwarder *self = g_new0 (RelayForwarder, 1);
  g_autoptr(GError) thread_error = NULL;
  int saved_errno;

  self->ref_count = 1;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->context = g_main_context_ref (context != NULL ? context : g_main_context_default ());
  self->forwards = g_hash_table_new_full (g_direct_hash, NULL, NULL, g_free);
  self->throttled = g_ptr_array_new ();
  self->scratch = g_malloc (READ_CHUNK);
  g_queue_init (&self->done);
  self->ep = -1;
  self->ctl[0] = self->ctl[1] = -1;
  self->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  self->notify_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (self->wake_fd < 0 || self->notify_fd < 0 ||
      socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, self->ctl) != 0)
    {
      saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Could not set up pipe forwarding: %s", g_strerror (saved_errno));
      forwarder_unref (self);
      return NULL;
    }

  self->thread = g_thread_try_new ("wzp-forwarder", forwarder_thread, self, &thread_error);
  if (self->thread == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "Could not start the pipe forwarding thread: %s", thread_error->message);
      forwarder_unref (self);
      return NULL;
    }

  g_mutex_lock (&self->lock);
  while (!self->started)
    g_cond_wait (&self->cond, &self->lock);
  saved_errno = self->start_errno;
  /* The thread's end of the socket pair is the thread's now: on a table of its own it
   * has a copy, and on a shared one it closes it when it ends. */
  if (self->own_table)
    close (self->ctl[1]);
  self->ctl[1] = -1;
  g_mutex_unlock (&self->lock);
  if (saved_errno != 0)
    {
      g_thread_join (self->thread);
      self->thread = NULL;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Could not set up pipe forwarding: %s", g_strerror (saved_errno));
      forwarder_unref (self);
      return NULL;
    }

  self->notify_source = g_unix_fd_source_new (self->notify_fd, G_IO_IN);
  g_source_set_name (self->notify_source, "wzp relay forwarder");
  g_atomic_int_inc (&self->ref_count);
  g_source_set_callback (self->notify_source, G_SOURCE_FUNC (notify_cb), self,
                         (GDestroyNotify) forwarder_unref);
  g_source_attach (self->notify_source, self->context);
  return self;
}

void
_wzp_relay_forwarder_free (RelayForwarder *self)
{
  if (self == NULL)
    return;

  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  g_mutex_unlock (&self->lock);
  eventfd_write (self->wake_fd, 1);
  g_thread_join (self->thread);
  self->thread = NULL;

  /* The thread is gone and has closed its descriptors: only memory is left. */
  self->stopped = TRUE;
  g_queue_clear (&self->done);
  g_ptr_array_set_size (self->throttled, 0);
  g_hash_table_remove_all (self->forwards);
  g_source_destroy (self->notify_source);
  g_clear_pointer (&self->notify_source, g_source_unref);
  forwarder_unref (self);
}

RelayForward *
_wzp_relay_forwarder_add (RelayForwarder        *self,
                          int                    fd_a,
                          int                    fd_b,
                          guint                  bytes_per_second,
                          guint                  burst_bytes,
                          RelayForwardDoneFunc   done,
                          gpointer               user_data,
                          GError               **error)
{
  RelayForward *fw = g_new0 (RelayForward, 1);
  int fds[2] = { fd_a, fd_b };
  SocketsMessage m;
  struct cmsghdr *cmsg;
  ssize_t sent;
  int result;

  g_return_val_if_fail (self->thread != NULL, NULL);

  fw->id = ++self->next_id;
  fw->rate = bytes_per_second;
  fw->burst = burst_bytes;
  fw->done_func = done;
  fw->user_data = user_data;
  for (int i = 0; i < 2; i++)
    {
      fw->sock[i] = -1;
      /* Sockets start out writable, and nothing is read before epoll says so. */
      fw->writable[i] = TRUE;
      fw->dir[i].fw = fw;
      fw->dir[i].idx = i;
    }

  /* The sockets travel to the engine's descriptor table; the kernel holds them in flight
   * until the thread takes them (or closes its end). */
  sockets_message_init (&m);
  cmsg = CMSG_FIRSTHDR (&m.msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof fds);
  memcpy (CMSG_DATA (cmsg), fds, sizeof fds);
  do
    sent = sendmsg (self->ctl[0], &m.msg, MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  result = sent < 0 ? errno : run_command (self, COMMAND_ADD, fw);
  if (result != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (result),
                   "Could not start forwarding a pipe: %s", g_strerror (result));
      g_free (fw);
      return NULL;
    }
  return fw;
}

void
_wzp_relay_forwarder_remove (RelayForwarder *self,
                             RelayForward   *fw)
{
  if (run_command (self, COMMAND_REMOVE, fw) != 0)
    {
      /* The thread has ended (and closed its descriptors): the engine's state is ours. */
      g_mutex_lock (&self->lock);
      engine_remove (self, fw);
      g_mutex_unlock (&self->lock);
    }
  /* Out of the table: the thread cannot reach it any more. */
  g_free (fw);
}

guint
_wzp_relay_forwarder_get_n_forwards (RelayForwarder *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = g_hash_table_size (self->forwards);
  g_mutex_unlock (&self->lock);
  return n;
}
