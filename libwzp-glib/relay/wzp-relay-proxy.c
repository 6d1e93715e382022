/* wzp-relay-proxy.c: a peer relay's connection handed to the federation code (see the
 * header)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wzp-relay-proxy-private.h"

/* Ciphertext waiting for the peer beyond which the federation code's writes wait too. A
 * link's own queue (64 MiB) stays the limit that matters. */
#define MAX_QUEUED_TO_PEER (256 * 1024)
#define CHUNK 16384

struct _RelayProxy
{
  WzpRelay          *relay;
  RelaySession      *session;
  GSocketConnection *tcp;
  int                tcp_fd;
  int                pair_fd;       /* ours; the other end is the federation code's */
  RelayPollWatch    *tcp_watch;
  RelayPollWatch    *pair_watch;
  GBytes            *to_pair;       /* plaintext from the peer not yet in the pair */
  gsize              to_pair_sent;
  char              *description;
};

RelayProxy *
_wzp_relay_proxy_new (WzpRelay           *relay,
                      GSocketConnection **plain,
                      GError            **error)
{
  g_autoptr(GSocket) socket = NULL;
  RelayProxy *self;
  int fds[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Could not make a socket pair for a peer relay: %s", g_strerror (saved));
      return NULL;
    }
  socket = g_socket_new_from_fd (fds[1], error);
  if (socket == NULL)
    {
      close (fds[0]);
      close (fds[1]);
      return NULL;
    }
  self = g_new0 (RelayProxy, 1);
  self->relay = relay;
  self->pair_fd = fds[0];
  self->tcp_fd = -1;
  *plain = g_socket_connection_factory_create_connection (socket);
  return self;
}

void
_wzp_relay_proxy_free (RelayProxy *self)
{
  RelayPoller *poller = self->relay->poller;

  g_hash_table_remove (self->relay->proxies, self);
  _wzp_relay_poller_remove (poller, self->tcp_watch);
  _wzp_relay_poller_remove (poller, self->pair_watch);
  g_clear_pointer (&self->session, _wzp_relay_session_free);
  if (self->tcp != NULL)
    g_io_stream_close (G_IO_STREAM (self->tcp), NULL, NULL);
  g_clear_object (&self->tcp);
  close (self->pair_fd);
  g_clear_pointer (&self->to_pair, g_bytes_unref);
  g_free (self->description);
  g_free (self);
}

static void
proxy_close (RelayProxy *self,
             const char *why)
{
  g_debug ("Peer relay connection %s closed: %s", self->description, why);
  _wzp_relay_proxy_free (self);
}

/* Reads from the peer only while the pair has taken everything before; reads from the
 * pair only while the peer takes what we send. */
static void
proxy_update_events (RelayProxy *self)
{
  RelayPoller *poller = self->relay->poller;
  gsize queued = _wzp_relay_session_get_queued (self->session);

  _wzp_relay_poller_modify (poller, self->tcp_watch,
                            (self->to_pair == NULL ? G_IO_IN : 0) | (queued > 0 ? G_IO_OUT : 0));
  _wzp_relay_poller_modify (poller, self->pair_watch,
                            (queued < MAX_QUEUED_TO_PEER ? G_IO_IN : 0) |
                            (self->to_pair != NULL ? G_IO_OUT : 0));
}

/* FALSE when the pair is gone. */
static gboolean
proxy_write_pair (RelayProxy *self)
{
  while (self->to_pair != NULL)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (self->to_pair, &len);
      ssize_t n = send (self->pair_fd, data + self->to_pair_sent, len - self->to_pair_sent,
                        MSG_DONTWAIT | MSG_NOSIGNAL);

      if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      self->to_pair_sent += n;
      if (self->to_pair_sent == len)
        {
          g_clear_pointer (&self->to_pair, g_bytes_unref);
          self->to_pair_sent = 0;
        }
    }
  return TRUE;
}

static void
tcp_io_cb (RelayPollWatch *watch,
           GIOCondition    events,
           gpointer        user_data)
{
  RelayProxy *self = user_data;
  g_autoptr(GError) error = NULL;

  if ((events & G_IO_OUT) && _wzp_relay_session_flush (self->session, &error) < 0)
    {
      proxy_close (self, error->message);
      return;
    }
  if (self->to_pair == NULL && (events & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
    {
      gssize n = _wzp_relay_session_read (self->session, 4 * CHUNK, &error);
      g_autoptr(GBytes) input = NULL;

      if (n < 0)
        {
          proxy_close (self, error->message);
          return;
        }
      input = _wzp_relay_session_steal_input (self->session);
      if (g_bytes_get_size (input) > 0)
        {
          self->to_pair = g_steal_pointer (&input);
          if (!proxy_write_pair (self))
            {
              proxy_close (self, "the federation side closed");
              return;
            }
        }
      /* GnuTLS may hold more than the read took: come back for it. */
      if (_wzp_relay_session_has_pending (self->session))
        _wzp_relay_poller_kick (self->relay->poller, watch, G_IO_IN);
    }
  else if (events & (G_IO_HUP | G_IO_ERR))
    {
      proxy_close (self, "the peer relay went away");
      return;
    }
  if (_wzp_relay_session_flush (self->session, &error) < 0)
    {
      proxy_close (self, error->message);
      return;
    }
  proxy_update_events (self);
}

static void
pair_io_cb (RelayPollWatch *watch,
            GIOCondition    events,
            gpointer        user_data)
{
  RelayProxy *self = user_data;
  g_autoptr(GError) error = NULL;

  if ((events & G_IO_OUT) && !proxy_write_pair (self))
    {
      proxy_close (self, "the federation side closed");
      return;
    }
  if (events & (G_IO_IN | G_IO_HUP | G_IO_ERR))
    {
      guint8 buf[CHUNK];
      ssize_t n = recv (self->pair_fd, buf, sizeof buf, MSG_DONTWAIT);

      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        {
          proxy_close (self, "the federation side closed");
          return;
        }
      if (n > 0)
        _wzp_relay_session_write (self->session, buf, n);
    }
  if (_wzp_relay_session_flush (self->session, &error) < 0)
    {
      proxy_close (self, error->message);
      return;
    }
  proxy_update_events (self);
}

void
_wzp_relay_proxy_start (RelayProxy        *self,
                        RelaySession      *session,
                        GSocketConnection *tcp,
                        const char        *description)
{
  RelayPoller *poller = self->relay->poller;
  g_autoptr(GError) error = NULL;

  self->session = session;
  self->tcp = tcp;
  self->tcp_fd = g_socket_get_fd (g_socket_connection_get_socket (tcp));
  self->description = g_strdup (description);
  g_hash_table_add (self->relay->proxies, self);

  self->tcp_watch = _wzp_relay_poller_add (poller, self->tcp_fd, G_IO_IN, tcp_io_cb, self,
                                           &error);
  if (self->tcp_watch != NULL)
    self->pair_watch = _wzp_relay_poller_add (poller, self->pair_fd, G_IO_IN, pair_io_cb,
                                              self, &error);
  if (self->pair_watch == NULL)
    {
      proxy_close (self, error->message);
      return;
    }
  /* What the relay read past the message that handed the connection over. */
  self->to_pair = _wzp_relay_session_steal_input (session);
  if (g_bytes_get_size (self->to_pair) == 0)
    g_clear_pointer (&self->to_pair, g_bytes_unref);
  if (!proxy_write_pair (self))
    {
      proxy_close (self, "the federation side closed");
      return;
    }
  proxy_update_events (self);
  /* GnuTLS may hold records already: read them without waiting for the socket. */
  _wzp_relay_poller_kick (poller, self->tcp_watch, G_IO_IN);
}

void
_wzp_relay_proxies_close_all (WzpRelay *relay)
{
  while (g_hash_table_size (relay->proxies) > 0)
    {
      GHashTableIter iter;
      RelayProxy *proxy;

      g_hash_table_iter_init (&iter, relay->proxies);
      g_hash_table_iter_next (&iter, (gpointer *) &proxy, NULL);
      proxy_close (proxy, "the relay stopped");
    }
}
