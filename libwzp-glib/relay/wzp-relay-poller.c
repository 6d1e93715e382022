/* wzp-relay-poller.c: many sockets watched through one GSource (see the header)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <gio/gio.h>

#include "wzp-relay-poller-private.h"

/* Events taken from the kernel per epoll_wait(): a bound on one iteration's work, so that
 * timers and the other sources of the context get their turn during a storm. */
#define MAX_EVENTS_PER_DISPATCH 256

struct _RelayPollWatch
{
  int            fd;
  GIOCondition   events;
  RelayPollFunc  func;
  gpointer       user_data;
  GIOCondition   kicked;      /* events to deliver without the kernel, 0 when not kicked */
  gboolean       removed;     /* freed at the end of the current dispatch */
  GList          kick_link;
};

typedef struct
{
  GSource       source;
  RelayPoller  *poller;
} PollerSource;

struct _RelayPoller
{
  int           epfd;
  GSource      *source;
  gpointer      epoll_tag;
  GQueue        kicked;       /* RelayPollWatch*: to call on the next dispatch */
  GPtrArray    *graveyard;    /* removed during a dispatch, freed after it */
  gboolean      dispatching;
  guint         n_watches;
};

static guint32
to_epoll (GIOCondition events)
{
  guint32 e = 0;

  if (events & G_IO_IN)
    e |= EPOLLIN | EPOLLRDHUP;
  if (events & G_IO_OUT)
    e |= EPOLLOUT;
  return e;
}

static GIOCondition
from_epoll (guint32 e)
{
  GIOCondition events = 0;

  if (e & (EPOLLIN | EPOLLRDHUP))
    events |= G_IO_IN;
  /* The peer shut its side: level-triggered, this stays ready for as long as the socket
   * is open, so it must read as an end, or a watch that waits for more (a ClientHello
   * cut short) would be called on every iteration. */
  if (e & EPOLLRDHUP)
    events |= G_IO_HUP;
  if (e & EPOLLOUT)
    events |= G_IO_OUT;
  if (e & EPOLLHUP)
    events |= G_IO_HUP;
  if (e & EPOLLERR)
    events |= G_IO_ERR;
  return events;
}

static gboolean
poller_source_prepare (GSource *source,
                       gint    *timeout)
{
  RelayPoller *self = ((PollerSource *) source)->poller;

  *timeout = -1;
  return self->kicked.length > 0;
}

static gboolean
poller_source_dispatch (GSource     *source,
                        GSourceFunc  callback,
                        gpointer     user_data)
{
  RelayPoller *self = ((PollerSource *) source)->poller;
  struct epoll_event events[MAX_EVENTS_PER_DISPATCH];
  GQueue kicked = G_QUEUE_INIT;
  int n;

  self->dispatching = TRUE;

  /* The kicked watches of before this dispatch; those kicked while it runs wait for the
   * next one, so a watch that kicks itself cannot keep the loop here. */
  kicked = self->kicked;
  g_queue_init (&self->kicked);
  while (kicked.head != NULL)
    {
      GList *link = kicked.head;
      RelayPollWatch *watch = link->data;
      GIOCondition what = watch->kicked;

      g_queue_unlink (&kicked, link);
      watch->kicked = 0;
      if (!watch->removed)
        watch->func (watch, what, watch->user_data);
    }

  n = epoll_wait (self->epfd, events, G_N_ELEMENTS (events), 0);
  for (int i = 0; i < n; i++)
    {
      RelayPollWatch *watch = events[i].data.ptr;

      /* A callback earlier in this batch may have removed it; it is not freed yet. */
      if (!watch->removed)
        watch->func (watch, from_epoll (events[i].events), watch->user_data);
    }

  self->dispatching = FALSE;
  g_ptr_array_set_size (self->graveyard, 0);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs poller_source_funcs = {
  .prepare = poller_source_prepare,
  .dispatch = poller_source_dispatch,
};

RelayPoller *
_wzp_relay_poller_new (GMainContext  *context,
                       GError       **error)
{
  RelayPoller *self;
  int epfd = epoll_create1 (EPOLL_CLOEXEC);

  if (epfd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Could not create an epoll set: %s", g_strerror (saved));
      return NULL;
    }

  self = g_new0 (RelayPoller, 1);
  self->epfd = epfd;
  self->graveyard = g_ptr_array_new_with_free_func (g_free);
  g_queue_init (&self->kicked);
  self->source = g_source_new (&poller_source_funcs, sizeof (PollerSource));
  ((PollerSource *) self->source)->poller = self;
  g_source_set_static_name (self->source, "wzp relay sockets");
  self->epoll_tag = g_source_add_unix_fd (self->source, epfd, G_IO_IN);
  g_source_attach (self->source, context);
  return self;
}

void
_wzp_relay_poller_free (RelayPoller *self)
{
  if (self == NULL)
    return;
  g_warn_if_fail (self->n_watches == 0);
  g_source_destroy (self->source);
  g_source_unref (self->source);
  close (self->epfd);
  g_ptr_array_unref (self->graveyard);
  g_free (self);
}

RelayPollWatch *
_wzp_relay_poller_add (RelayPoller    *self,
                       int             fd,
                       GIOCondition    events,
                       RelayPollFunc   func,
                       gpointer        user_data,
                       GError        **error)
{
  RelayPollWatch *watch = g_new0 (RelayPollWatch, 1);
  struct epoll_event ev = { .events = to_epoll (events), .data.ptr = watch };

  if (epoll_ctl (self->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
    {
      int saved = errno;

      g_free (watch);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Could not watch a socket: %s", g_strerror (saved));
      return NULL;
    }
  watch->fd = fd;
  watch->events = events;
  watch->func = func;
  watch->user_data = user_data;
  watch->kick_link.data = watch;
  self->n_watches++;
  return watch;
}

void
_wzp_relay_poller_modify (RelayPoller    *self,
                          RelayPollWatch *watch,
                          GIOCondition    events)
{
  struct epoll_event ev = { .events = to_epoll (events), .data.ptr = watch };

  if (watch->removed || watch->events == events)
    return;
  watch->events = events;
  /* Only fails for a descriptor that is not in the set: a bug here, not input. */
  if (epoll_ctl (self->epfd, EPOLL_CTL_MOD, watch->fd, &ev) != 0)
    g_warning ("epoll_ctl (MOD, %d): %s", watch->fd, g_strerror (errno));
}

GIOCondition
_wzp_relay_poller_get_events (RelayPollWatch *watch)
{
  return watch->events;
}

void
_wzp_relay_poller_kick (RelayPoller    *self,
                        RelayPollWatch *watch,
                        GIOCondition    events)
{
  if (watch->removed)
    return;
  if (watch->kicked == 0)
    g_queue_push_tail_link (&self->kicked, &watch->kick_link);
  watch->kicked |= events;
}

void
_wzp_relay_poller_remove (RelayPoller    *self,
                          RelayPollWatch *watch)
{
  if (watch == NULL || watch->removed)
    return;
  watch->removed = TRUE;
  epoll_ctl (self->epfd, EPOLL_CTL_DEL, watch->fd, NULL);
  if (watch->kicked != 0)
    {
      /* In the poller's queue, or in the one a dispatch is walking: either way it is
       * skipped as removed, and unlinked here only from the poller's own. */
      if (g_queue_link_index (&self->kicked, &watch->kick_link) >= 0)
        g_queue_unlink (&self->kicked, &watch->kick_link);
    }
  self->n_watches--;
  if (self->dispatching)
    g_ptr_array_add (self->graveyard, watch);
  else
    g_free (watch);
}

guint
_wzp_relay_poller_get_n_watches (RelayPoller *self)
{
  return self->n_watches;
}
