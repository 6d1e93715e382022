/* wzp-relay-forwarder.c: moves bytes between joined sockets on a thread of its own
 *
 * Why a thread: the GLib main context polls every one of its file descriptors and
 * prepares/checks every source on each iteration, so forwarding from it costs O(all
 * connections) per message (and re-arming a watch per message costs a source and a wake-up
 * each time). The forwarder registers each socket once in an edge-triggered epoll set and
 * is woken only for sockets that moved; the main context never sees pipe traffic.
 *
 * Who owns what: the caller owns the sockets; the forwarder owns its forwards (the kernel
 * pipes that carry each direction, the rate buckets). The engine thread touches a
 * forward's sockets only while the forward is in self->forwards and only under self->lock;
 * removing a forward takes the lock, takes the sockets out of the epoll set and drops the
 * forward from the table, so once _wzp_relay_forwarder_remove() returns, the caller may
 * close the sockets. Events carry the forward's id, never a pointer: an event that
 * epoll_wait() returned just before a removal finds nothing and is dropped, and a socket
 * number that the kernel reuses for a later forward comes with a new id.
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
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "wzp-relay-forwarder-private.h"
#include "wzp-relay-private.h"

#define SPLICE_CHUNK (64 * 1024)   /* a kernel pipe's default capacity */
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

/* One direction of a forward: from sock[idx] to sock[1 - idx], through a kernel pipe. */
typedef struct
{
  RelayForward *fw;
  int          idx;
  int          buf[2];
  gsize        pending;       /* bytes sitting in buf */
  RelayBucket  bucket;
  gint64       resume_us;     /* while throttled: when to read again */
  gboolean     throttled;     /* in self->throttled */
  gboolean     eof;           /* the source ended its stream */
  gboolean     done;          /* ... and everything before it went out */
} ForwardDir;

struct _RelayForward
{
  guint64               id;
  int                   sock[2];
  gboolean              readable[2];   /* edge-triggered readiness, cleared on EAGAIN */
  gboolean              writable[2];
  gboolean              hung_up[2];    /* EPOLLHUP: nothing can be sent to it any more */
  ForwardDir            dir[2];
  double                rate;
  double                burst;
  gboolean              finished;      /* ended by the thread, out of the epoll set */
  gboolean              queued;        /* in self->done, its report not yet delivered */
  const char           *reason;
  RelayForwardDoneFunc  done_func;     /* owner's context only */
  gpointer              user_data;
};

struct _RelayForwarder
{
  gint           ref_count;       /* the owner's, the notify source's */
  GMutex         lock;
  int            ep;
  int            wake_fd;         /* eventfd: tells the thread to look at `stopping` */
  int            notify_fd;       /* eventfd: tells the owner's context to read `done` */
  GMainContext  *context;
  GSource       *notify_source;
  GThread       *thread;
  guint64        next_id;

  /* Under lock */
  gboolean       stopping;
  GHashTable    *forwards;        /* ID_KEY (id) -> RelayForward* */
  GPtrArray     *throttled;       /* ForwardDir* */
  GQueue         done;            /* RelayForward* finished by the thread, to report */

  /* Owner's context only */
  gboolean       stopped;
};

static void
forward_free (RelayForward *fw)
{
  for (int d = 0; d < 2; d++)
    if (fw->dir[d].buf[0] >= 0)
      {
        close (fw->dir[d].buf[0]);
        close (fw->dir[d].buf[1]);
      }
  g_free (fw);
}

static void
forwarder_unref (RelayForwarder *self)
{
  if (!g_atomic_int_dec_and_test (&self->ref_count))
    return;

  g_assert (self->thread == NULL);
  g_hash_table_unref (self->forwards);
  g_ptr_array_unref (self->throttled);
  if (self->ep >= 0)
    close (self->ep);
  if (self->wake_fd >= 0)
    close (self->wake_fd);
  if (self->notify_fd >= 0)
    close (self->notify_fd);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* Engine thread */

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
  epoll_ctl (self->ep, EPOLL_CTL_DEL, fw->sock[0], NULL);
  epoll_ctl (self->ep, EPOLL_CTL_DEL, fw->sock[1], NULL);
  unthrottle (self, fw);
  fw->queued = TRUE;
  g_queue_push_tail (&self->done, fw);
  /* One wake-up per batch: the owner empties the whole queue when it runs. */
  if (self->done.length == 1)
    eventfd_write (self->notify_fd, 1);
}

/* Lock held: moves what it can in direction @d, until a socket would block, the rate
 * says wait, or the forward ends. */
static void
pump (RelayForwarder *self,
      RelayForward   *fw,
      int             d)
{
  ForwardDir *dir = &fw->dir[d];
  int src = fw->sock[d];
  int dst = fw->sock[1 - d];

  while (!fw->finished)
    {
      ssize_t n;
      gsize amount;

      if (dir->pending > 0)
        {
          if (!fw->writable[1 - d])
            return;
          n = splice (dir->buf[0], NULL, dst, NULL, dir->pending,
                      SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
          if (n < 0 && errno == EINTR)
            continue;
          if (n < 0 && errno == EAGAIN)
            {
              fw->writable[1 - d] = FALSE;
              return;
            }
          if (n <= 0)
            {
              forward_finish (self, fw, "the other end of the pipe failed");
              return;
            }
          dir->pending -= n;
          continue;
        }

      if (dir->eof)
        {
          /* Pass the end of stream on; the other direction may still have bytes to
           * carry. */
          if (!dir->done)
            {
              dir->done = TRUE;
              shutdown (dst, SHUT_WR);
            }
          /* Done when the other way is done too, or cannot be: a socket that hung up
           * (both ways shut, as a closed socketpair end is) takes nothing more. */
          if (fw->dir[1 - d].done || fw->hung_up[d])
            forward_finish (self, fw, "both ends closed");
          return;
        }

      if (!fw->readable[d] || dir->throttled)
        return;

      /* The rate limit is sized for voice: a pipe is not a bulk proxy. Over it, the
       * forwarder stops reading that side, so TCP slows the sender down. */
      if (dir->bucket.tokens < REFILL_BELOW)
        _wzp_relay_bucket_take (&dir->bucket, fw->rate, fw->burst, 0);
      amount = MIN ((gsize) dir->bucket.tokens, SPLICE_CHUNK);
      if (amount == 0)
        {
          double wait_us = _wzp_relay_bucket_wait_us (&dir->bucket, fw->rate, RESUME_BYTES);

          dir->resume_us = g_get_monotonic_time () + MAX (1000, (gint64) wait_us);
          dir->throttled = TRUE;
          g_ptr_array_add (self->throttled, dir);
          return;
        }

      /* buf is empty here (pending == 0), so only the socket can make this block. */
      n = splice (src, NULL, dir->buf[1], NULL, amount, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          fw->readable[d] = FALSE;
          return;
        }
      if (n < 0)
        {
          forward_finish (self, fw, "the pipe connection failed");
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

static gpointer
forwarder_thread (gpointer data)
{
  RelayForwarder *self = data;
  struct epoll_event events[MAX_EVENTS];

  g_mutex_lock (&self->lock);
  while (!self->stopping)
    {
      int timeout = next_timeout (self);
      int n, saved_errno;

      g_mutex_unlock (&self->lock);
      n = epoll_wait (self->ep, events, G_N_ELEMENTS (events), timeout);
      saved_errno = errno;
      g_mutex_lock (&self->lock);

      if (n < 0 && saved_errno != EINTR)
        {
          /* Only a programming error gets here (a bad epoll fd); say so and stop rather
           * than spin. Forwards stay where they are until their owners remove them. */
          g_critical ("Relay forwarder: epoll_wait failed: %s", g_strerror (saved_errno));
          break;
        }

      for (int i = 0; i < n; i++)
        {
          guint64 key = events[i].data.u64;
          guint64 id = key >> 1;
          int idx = key & 1;
          RelayForward *fw;

          if (key == 0)
            {
              eventfd_t value;

              eventfd_read (self->wake_fd, &value);
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
          pump (self, fw, idx);       /* bytes from this socket */
          pump (self, fw, 1 - idx);   /* bytes waiting to go to this socket */
        }
      resume_throttled (self);
    }
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

RelayForwarder *
_wzp_relay_forwarder_new (GMainContext  *context,
                          GError       **error)
{
  RelayForwarder *self = g_new0 (RelayForwarder, 1);
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };
  g_autoptr(GError) thread_error = NULL;

  self->ref_count = 1;
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref (context != NULL ? context : g_main_context_default ());
  self->forwards = g_hash_table_new_full (g_direct_hash, NULL, NULL,
                                          (GDestroyNotify) forward_free);
  self->throttled = g_ptr_array_new ();
  g_queue_init (&self->done);
  self->ep = epoll_create1 (EPOLL_CLOEXEC);
  self->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  self->notify_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (self->ep < 0 || self->wake_fd < 0 || self->notify_fd < 0 ||
      epoll_ctl (self->ep, EPOLL_CTL_ADD, self->wake_fd, &ev) != 0)
    {
      int saved_errno = errno;

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

  /* The thread is gone: nothing touches the forwards any more. */
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
  int added = 0;
  int saved_errno = 0;

  g_return_val_if_fail (self->thread != NULL, NULL);

  fw->id = ++self->next_id;
  fw->rate = bytes_per_second;
  fw->burst = burst_bytes;
  fw->done_func = done;
  fw->user_data = user_data;
  for (int i = 0; i < 2; i++)
    {
      fw->sock[i] = i == 0 ? fd_a : fd_b;
      /* Sockets start out writable, and nothing is read before epoll says so. */
      fw->writable[i] = TRUE;
      fw->dir[i].fw = fw;
      fw->dir[i].idx = i;
      fw->dir[i].buf[0] = fw->dir[i].buf[1] = -1;
    }
  for (int d = 0; d < 2; d++)
    if (pipe2 (fw->dir[d].buf, O_NONBLOCK | O_CLOEXEC) != 0)
      {
        saved_errno = errno;
        fw->dir[d].buf[0] = fw->dir[d].buf[1] = -1;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                     "Could not make a kernel pipe: %s", g_strerror (saved_errno));
        forward_free (fw);
        return NULL;
      }

  /* In the table before epoll can report it; the thread may see events at once. */
  g_mutex_lock (&self->lock);
  g_hash_table_insert (self->forwards, ID_KEY (fw->id), fw);
  for (; added < 2; added++)
    {
      struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                .data.u64 = (fw->id << 1) | (guint64) added };

      if (epoll_ctl (self->ep, EPOLL_CTL_ADD, fw->sock[added], &ev) != 0)
        {
          saved_errno = errno;
          break;
        }
    }
  if (added < 2)
    {
      while (added-- > 0)
        epoll_ctl (self->ep, EPOLL_CTL_DEL, fw->sock[added], NULL);
      g_hash_table_remove (self->forwards, ID_KEY (fw->id));   /* frees it */
      g_mutex_unlock (&self->lock);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Could not watch a pipe socket: %s", g_strerror (saved_errno));
      return NULL;
    }
  g_mutex_unlock (&self->lock);
  return fw;
}

void
_wzp_relay_forwarder_remove (RelayForwarder *self,
                             RelayForward   *fw)
{
  g_mutex_lock (&self->lock);
  if (!fw->finished)
    {
      epoll_ctl (self->ep, EPOLL_CTL_DEL, fw->sock[0], NULL);
      epoll_ctl (self->ep, EPOLL_CTL_DEL, fw->sock[1], NULL);
      unthrottle (self, fw);
    }
  if (fw->queued)
    g_queue_remove (&self->done, fw);
  g_hash_table_steal (self->forwards, ID_KEY (fw->id));
  g_mutex_unlock (&self->lock);
  /* Out of the table: the thread cannot reach it any more. */
  forward_free (fw);
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
