/* wzp-socket.c: the client's shared port P
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <gio/gio.h>

#include "wzp-address-private.h"
#include "wzp-log-limiter-private.h"
#include "wzp-socket-private.h"
#include "wzp-timeout-private.h"

G_DEFINE_QUARK (wzp-socket-error-quark, _wzp_socket_error)

/* How often a random P is retried when the IPv6 side of the kernel's pick is taken. */
#define RANDOM_PORT_ATTEMPTS 8

static gboolean
set_int_option (GSocket     *socket,
                int          level,
                int          option,
                int          value,
                const char  *name,
                GError     **error)
{
  if (setsockopt (g_socket_get_fd (socket), level, option, &value, sizeof value) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Could not set %s on a socket: %s", name, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

gboolean
_wzp_socket_set_linger_zero (GSocket   *socket,
                             gboolean   linger_zero,
                             GError   **error)
{
  struct linger linger = { .l_onoff = linger_zero ? 1 : 0, .l_linger = 0 };

  g_return_val_if_fail (G_IS_SOCKET (socket), FALSE);

  if (setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_LINGER, &linger, sizeof linger) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Could not set SO_LINGER on a socket: %s", g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static guint16
socket_local_port (GSocket *socket)
{
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (socket, NULL);

  if (!G_IS_INET_SOCKET_ADDRESS (local))
    return 0;
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
}

GSocket *
_wzp_socket_new_bound (GSocketFamily   family,
                       GInetAddress   *address,
                       guint16         port,
                       gboolean        reuse_port,
                       gboolean        linger_zero,
                       GError        **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) any = NULL;
  g_autoptr(GSocketAddress) bind_address = NULL;
  struct sockaddr_storage native;
  gsize native_len;

  g_return_val_if_fail (family == G_SOCKET_FAMILY_IPV4 || family == G_SOCKET_FAMILY_IPV6, NULL);
  g_return_val_if_fail (address == NULL || g_inet_address_get_family (address) == family, NULL);

  socket = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return NULL;

  if (!set_int_option (socket, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR", error) ||
      (reuse_port &&
       !set_int_option (socket, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT", error)) ||
      (family == G_SOCKET_FAMILY_IPV6 &&
       !set_int_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY", error)) ||
      !set_int_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY", error) ||
      (linger_zero && !_wzp_socket_set_linger_zero (socket, TRUE, error)))
    return NULL;

  if (address == NULL)
    address = any = g_inet_address_new_any (family);
  bind_address = g_inet_socket_address_new (address, port);
  native_len = g_socket_address_get_native_size (bind_address);
  if (!g_socket_address_to_native (bind_address, &native, sizeof native, error))
    return NULL;

  /* bind(2), not g_socket_bind(): the latter resets SO_REUSEPORT on TCP sockets. */
  if (bind (g_socket_get_fd (socket), (struct sockaddr *) &native, native_len) < 0)
    {
      int saved = errno;
      g_autofree char *text = _wzp_address_format (address, port);

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Could not bind %s: %s", text, g_strerror (saved));
      return NULL;
    }

  return g_steal_pointer (&socket);
}

/* ------------------------------------------------------------------------------------ */
/* Non-blocking connect                                                                 */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  GSocket        *socket;
  GSocketAddress *address;
} ConnectData;

static void
connect_data_free (ConnectData *data)
{
  g_clear_object (&data->socket);
  g_clear_object (&data->address);
  g_free (data);
}

static void
connect_fail (GTask *task,
              int    err)
{
  ConnectData *data = g_task_get_task_data (task);
  g_autofree char *remote = NULL;
  guint16 port = socket_local_port (data->socket);

  if (G_IS_INET_SOCKET_ADDRESS (data->address))
    remote = _wzp_address_to_string (data->address);

  g_socket_close (data->socket, NULL);
  if (err == EADDRNOTAVAIL)
    g_task_return_new_error (task, WZP_SOCKET_ERROR, WZP_SOCKET_ERROR_MERGED,
                             "The connection from port %u to %s merged with one that already "
                             "exists (the peer's own dial)", port, remote ? remote : "?");
  else
    g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (err),
                             "Could not connect to %s from port %u: %s",
                             remote ? remote : "?", port, g_strerror (err));
}

static void
connect_succeed (GTask *task)
{
  ConnectData *data = g_task_get_task_data (task);
  GError *error = NULL;

  /* SO_ERROR was read (and cleared) already; this marks the GSocket connected. */
  if (!g_socket_check_connect_result (data->socket, &error))
    {
      g_socket_close (data->socket, NULL);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_socket_connection_factory_create_connection (data->socket),
                         g_object_unref);
}

static gboolean
connect_ready_cb (GSocket      *socket,
                  GIOCondition  condition,
                  gpointer      user_data)
{
  GTask *task = user_data;
  ConnectData *data = g_task_get_task_data (task);
  int err = 0;
  socklen_t len = sizeof err;

  if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    {
      g_socket_close (data->socket, NULL);
      g_task_return_error_if_cancelled (task);
      return G_SOURCE_REMOVE;
    }

  if (getsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    err = errno;
  if (err == 0 && !(condition & G_IO_OUT))
    return G_SOURCE_CONTINUE;   /* spurious wake-up */

  if (err != 0)
    connect_fail (task, err);
  else
    connect_succeed (task);
  return G_SOURCE_REMOVE;
}

void
_wzp_socket_connect_async (GSocket             *socket,
                           GSocketAddress      *address,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GSource) source = NULL;
  ConnectData *data;
  struct sockaddr_storage native;
  gsize native_len;
  GError *error = NULL;
  int ret;

  g_return_if_fail (G_IS_SOCKET (socket));
  g_return_if_fail (G_IS_SOCKET_ADDRESS (address));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, _wzp_socket_connect_async);
  data = g_new0 (ConnectData, 1);
  data->socket = g_object_ref (socket);
  data->address = g_object_ref (address);
  g_task_set_task_data (task, data, (GDestroyNotify) connect_data_free);

  if (g_task_return_error_if_cancelled (task))
    {
      g_socket_close (socket, NULL);
      return;
    }

  native_len = g_socket_address_get_native_size (address);
  if (!g_socket_address_to_native (address, &native, sizeof native, &error))
    {
      g_socket_close (socket, NULL);
      g_task_return_error (task, error);
      return;
    }

  /* The fd of a GSocket is always non-blocking. */
  do
    ret = connect (g_socket_get_fd (socket), (struct sockaddr *) &native, native_len);
  while (ret < 0 && errno == EINTR);

  if (ret == 0)
    {
      connect_succeed (task);
      return;
    }
  if (errno != EINPROGRESS)
    {
      connect_fail (task, errno);
      return;
    }

  source = g_socket_create_source (socket, G_IO_OUT, cancellable);
  g_task_attach_source (task, source, G_SOURCE_FUNC (connect_ready_cb));
}

GSocketConnection *
_wzp_socket_connect_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == _wzp_socket_connect_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------------------ */
/* WzpSharedPort                                                                        */
/* ------------------------------------------------------------------------------------ */

struct _WzpSharedPort
{
  GObject             parent_instance;

  guint16             port;
  WzpSharedPortFlags  flags;
  GSocket            *listener4;
  GSocket            *listener6;   /* NULL without IPv6 */
  GMainContext       *context;     /* thread-default at construction */
  GSource            *accept4;     /* NULL while paused or closed */
  GSource            *accept6;
  guint               resume_id;   /* accepting again after a pause */
  guint               min_free_fds;
  WzpLimitedLog      *log;         /* lines about what remote hosts do to P */
};

G_DEFINE_FINAL_TYPE (WzpSharedPort, _wzp_shared_port, G_TYPE_OBJECT)

enum {
  SIGNAL_INCOMING,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

/* Accepting: a loop of our own rather than GSocketService, which on a failed accept(2)
 * (EMFILE) warns and accepts again at once: at the descriptor limit a flood of idle
 * connections made it spin at 99% of a core and write 134,713 log lines. Here a
 * connection is refused while descriptors run low (the same reserve check as the
 * relay's), and accepting pauses for a second, with one rate-limited log line. */

gboolean
_wzp_fds_low (int   fd,
              guint min_free)
{
  struct rlimit rl;

  /* Linux hands out the lowest free descriptor, so a new fd's number is close to the
   * number of open files. */
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
    return FALSE;
  return (rlim_t) fd + min_free >= rl.rlim_cur;
}

static void start_accepting (WzpSharedPort *self);

static void
stop_accepting (WzpSharedPort *self)
{
  if (self->accept4 != NULL)
    {
      g_source_destroy (self->accept4);
      g_clear_pointer (&self->accept4, g_source_unref);
    }
  if (self->accept6 != NULL)
    {
      g_source_destroy (self->accept6);
      g_clear_pointer (&self->accept6, g_source_unref);
    }
}

static gboolean
resume_cb (gpointer user_data)
{
  WzpSharedPort *self = user_data;

  self->resume_id = 0;
  start_accepting (self);
  return G_SOURCE_REMOVE;
}

static void
pause_accepting (WzpSharedPort *self,
                 const char    *why)
{
  g_autofree char *message = g_strdup_printf ("Shared port %u: %s; not accepting "
                                              "connections for a second", self->port, why);

  _wzp_limited_log_write (self->log, G_LOG_LEVEL_INFO, NULL, "WZP_LIMIT", "min-free-fds",
                          NULL, 0, message);
  stop_accepting (self);
  if (self->resume_id == 0)
    self->resume_id = _wzp_timeout_add_seconds (self->context, 1, resume_cb, self);
}

/* At most this many accepts per wake-up, so a flood cannot starve the main loop. */
#define ACCEPTS_PER_WAKEUP 16

static gboolean
accept_cb (GSocket      *listener,
           GIOCondition  condition,
           gpointer      user_data)
{
  WzpSharedPort *self = user_data;
  g_autoptr(WzpSharedPort) keep = g_object_ref (self);   /* a handler may close the port */

  for (guint i = 0; i < ACCEPTS_PER_WAKEUP; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) socket = g_socket_accept (listener, NULL, &error);
      g_autoptr(GSocketConnection) connection = NULL;

      if (socket == NULL)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return G_SOURCE_CONTINUE;
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES))
            {
              pause_accepting (self, "out of file descriptors");
              return G_SOURCE_REMOVE;
            }
          /* ECONNABORTED and the like: that one connection is gone, not the listener. */
          g_debug ("Shared port %u: accept: %s", self->port, error->message);
          continue;
        }
      if (_wzp_fds_low (g_socket_get_fd (socket), self->min_free_fds))
        {
          g_socket_close (socket, NULL);
          pause_accepting (self, "running out of file descriptors");
          return G_SOURCE_REMOVE;
        }
      if (!set_int_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY", &error) ||
          !_wzp_socket_set_linger_zero (socket, TRUE, &error))
        g_debug ("Shared port %u: %s", self->port, error->message);

      connection = g_socket_connection_factory_create_connection (socket);
      g_signal_emit (self, signals[SIGNAL_INCOMING], 0, connection);
      if (self->listener4 == NULL || self->resume_id != 0)
        return G_SOURCE_REMOVE;   /* closed or paused by a handler */
    }
  return G_SOURCE_CONTINUE;
}

static GSource *
watch_listener (WzpSharedPort *self,
                GSocket       *listener)
{
  GSource *source = g_socket_create_source (listener, G_IO_IN, NULL);

  g_source_set_callback (source, G_SOURCE_FUNC (accept_cb), self, NULL);
  g_source_attach (source, self->context);
  return source;
}

static void
start_accepting (WzpSharedPort *self)
{
  if (self->listener4 == NULL)
    return;
  if (self->accept4 == NULL)
    self->accept4 = watch_listener (self, self->listener4);
  if (self->listener6 != NULL && self->accept6 == NULL)
    self->accept6 = watch_listener (self, self->listener6);
}

WzpLimitedLog *
_wzp_shared_port_get_log (WzpSharedPort *self)
{
  g_return_val_if_fail (WZP_IS_SHARED_PORT (self), NULL);

  return self->log;
}

void
_wzp_shared_port_set_min_free_fds (WzpSharedPort *self,
                                   guint          min_free_fds)
{
  g_return_if_fail (WZP_IS_SHARED_PORT (self));

  self->min_free_fds = min_free_fds;
}

void
_wzp_shared_port_close (WzpSharedPort *self)
{
  g_return_if_fail (WZP_IS_SHARED_PORT (self));

  stop_accepting (self);
  _wzp_clear_source (self->context, &self->resume_id);
  if (self->listener4 != NULL)
    g_socket_close (self->listener4, NULL);
  if (self->listener6 != NULL)
    g_socket_close (self->listener6, NULL);
  g_clear_object (&self->listener4);
  g_clear_object (&self->listener6);
}

static void
_wzp_shared_port_finalize (GObject *object)
{
  WzpSharedPort *self = WZP_SHARED_PORT (object);

  /* A client going away still says how many lines it left out. */
  _wzp_limited_log_flush (self->log);
  g_clear_pointer (&self->log, _wzp_limited_log_free);
  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (_wzp_shared_port_parent_class)->finalize (object);
}

static void
_wzp_shared_port_dispose (GObject *object)
{
  _wzp_shared_port_close (WZP_SHARED_PORT (object));

  G_OBJECT_CLASS (_wzp_shared_port_parent_class)->dispose (object);
}

static void
_wzp_shared_port_class_init (WzpSharedPortClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = _wzp_shared_port_dispose;
  object_class->finalize = _wzp_shared_port_finalize;

  signals[SIGNAL_INCOMING] =
    g_signal_new ("incoming",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_SOCKET_CONNECTION);
}

static void
_wzp_shared_port_init (WzpSharedPort *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->min_free_fds = WZP_SHARED_PORT_MIN_FREE_FDS;
  self->log = _wzp_limited_log_new (self->context, WZP_SHARED_PORT_LOG_MAX_SOURCES);
}

/* Binds one listener: without SO_REUSEPORT (so a held port fails), then SO_REUSEPORT
 * (so P-bound diallers can join), then listen(). */
static GSocket *
bind_listener (GSocketFamily   family,
               gboolean        loopback,
               guint16         port,
               GError        **error)
{
  g_autoptr(GInetAddress) address = loopback ? g_inet_address_new_loopback (family) : NULL;
  g_autoptr(GSocket) socket = NULL;

  socket = _wzp_socket_new_bound (family, address, port, FALSE, FALSE, error);
  if (socket == NULL)
    return NULL;
  if (!set_int_option (socket, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT", error))
    return NULL;
  g_socket_set_listen_backlog (socket, WZP_SHARED_PORT_BACKLOG);
  if (!g_socket_listen (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

WzpSharedPort *
_wzp_shared_port_new (guint16              port,
                      WzpSharedPortFlags   flags,
                      GError             **error)
{
  g_autoptr(WzpSharedPort) self = g_object_new (WZP_TYPE_SHARED_PORT, NULL);
  gboolean loopback = (flags & WZP_SHARED_PORT_FLAGS_LOOPBACK) != 0;

  self->flags = flags;

  for (int attempt = 0; ; attempt++)
    {
      g_autoptr(GSocket) v4 = NULL;
      g_autoptr(GSocket) v6 = NULL;
      g_autoptr(GError) v6_error = NULL;
      guint16 actual;

      v4 = bind_listener (G_SOCKET_FAMILY_IPV4, loopback, port, error);
      if (v4 == NULL)
        return NULL;
      actual = socket_local_port (v4);

      v6 = bind_listener (G_SOCKET_FAMILY_IPV6, loopback, actual, &v6_error);
      if (v6 == NULL && g_error_matches (v6_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        {
          if (port == 0 && attempt + 1 < RANDOM_PORT_ATTEMPTS)
            {
              g_debug ("Shared port: %u is taken for IPv6, trying another", actual);
              g_socket_close (v4, NULL);
              continue;
            }
          g_propagate_error (error, g_steal_pointer (&v6_error));
          g_socket_close (v4, NULL);
          return NULL;
        }
      if (v6 == NULL)
        g_debug ("Shared port %u: IPv4 only (%s)", actual, v6_error->message);

      self->port = actual;
      self->listener4 = g_steal_pointer (&v4);
      self->listener6 = g_steal_pointer (&v6);
      break;
    }

  g_socket_set_blocking (self->listener4, FALSE);
  if (self->listener6 != NULL)
    g_socket_set_blocking (self->listener6, FALSE);
  start_accepting (self);

  g_debug ("Shared port %u: listening on %s%s", self->port,
           loopback ? "127.0.0.1" : "0.0.0.0",
           self->listener6 == NULL ? "" : (loopback ? " and [::1]" : " and [::]"));
  return g_steal_pointer (&self);
}

guint16
_wzp_shared_port_get_port (WzpSharedPort *self)
{
  g_return_val_if_fail (WZP_IS_SHARED_PORT (self), 0);

  return self->port;
}

gboolean
_wzp_shared_port_has_ipv6 (WzpSharedPort *self)
{
  g_return_val_if_fail (WZP_IS_SHARED_PORT (self), FALSE);

  return self->listener6 != NULL;
}

GSocket *
_wzp_shared_port_new_socket (WzpSharedPort  *self,
                             GSocketFamily   family,
                             GError        **error)
{
  g_return_val_if_fail (WZP_IS_SHARED_PORT (self), NULL);

  if (self->listener4 == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "The shared port is closed");
      return NULL;
    }
  /* A test-only loopback port dials from loopback too: a wildcard bind would conflict
   * with unrelated connected sockets that happen to use the same port number on another
   * address (the kernel chose P free on loopback only). */
  if (self->flags & WZP_SHARED_PORT_FLAGS_LOOPBACK)
    {
      g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (family);
      return _wzp_socket_new_bound (family, loopback, self->port, TRUE, TRUE, error);
    }
  return _wzp_socket_new_bound (family, NULL, self->port, TRUE, TRUE, error);
}

static void
shared_port_connect_cb (GObject      *source_object,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  GSocketConnection *connection = _wzp_socket_connect_finish (result, &error);

  if (connection == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, connection, g_object_unref);
}

void
_wzp_shared_port_connect_async (WzpSharedPort       *self,
                                GSocketAddress      *address,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GSocket) socket = NULL;
  GError *error = NULL;

  g_return_if_fail (WZP_IS_SHARED_PORT (self));
  g_return_if_fail (G_IS_SOCKET_ADDRESS (address));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, _wzp_shared_port_connect_async);

  socket = _wzp_shared_port_new_socket (self, g_socket_address_get_family (address), &error);
  if (socket == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  _wzp_socket_connect_async (socket, address, cancellable, shared_port_connect_cb,
                             g_steal_pointer (&task));
}

GSocketConnection *
_wzp_shared_port_connect_finish (WzpSharedPort  *self,
                                 GAsyncResult   *result,
                                 GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        _wzp_shared_port_connect_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
