/* wzp-socket-private.h: the client's shared port P (docs/candidates.md,
 * "The shared port P"; docs/decisions.md, "One port per client")
 *
 * One TCP port P per client: listeners on 0.0.0.0:P and [::]:P (IPV6_V6ONLY), and any
 * number of sockets bound to P for outgoing connections (the signalling connection to the
 * relay, reflexive dials, global IPv6 dials), all with SO_REUSEADDR and SO_REUSEPORT.
 *
 * g_socket_bind() resets SO_REUSEPORT on TCP sockets (and GSocketClient/GSocketListener
 * go through it), so every socket here is made with g_socket_new(), configured with
 * setsockopt() and bound with bind(2) on the fd. The first listener binds without
 * SO_REUSEPORT, so a port that someone else holds fails; it sets SO_REUSEPORT after
 * binding, before listen(). Sockets bound to P close with SO_LINGER 0: a FIN-WAIT or
 * TIME-WAIT socket on P would block the next dial from P to the same address.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-log-limiter-private.h"

G_BEGIN_DECLS

#define WZP_SOCKET_ERROR (_wzp_socket_error_quark ())

typedef enum {
  /* connect(2) from P failed with EADDRNOTAVAIL: another socket already has this local
   * and remote address pair: the peer's dial to us merged with ours; expect the connection
   * on accept, report "merged" (docs/decisions.md, "Which port a dial leaves from"). */
  WZP_SOCKET_ERROR_MERGED,
} WzpSocketError;

GQuark           _wzp_socket_error_quark          (void);

/* The listen backlog of P. */
#define WZP_SHARED_PORT_BACKLOG 128
/* Descriptors P keeps free: a connection accepted with fewer left is closed and accepting
 * pauses for a second (the relay's default min-free-fds; docs/calls.md, "Port P under a
 * flood"). */
#define WZP_SHARED_PORT_MIN_FREE_FDS 64
/* The most sources P's log lines are rate limited for one by one (then they share). */
#define WZP_SHARED_PORT_LOG_MAX_SOURCES 256

/* Whether a new descriptor @fd leaves fewer than @min_free below RLIMIT_NOFILE: used by
 * the relay and by P to stop accepting before accept(2) fails (and spins) at the limit. */
gboolean         _wzp_fds_low                     (int                   fd,
                                                   guint                 min_free);

typedef enum {
  WZP_SHARED_PORT_FLAGS_NONE     = 0,
  /* Test-only: listen on 127.0.0.1:P and [::1]:P instead of the wildcard addresses. */
  WZP_SHARED_PORT_FLAGS_LOOPBACK = 1 << 0,
} WzpSharedPortFlags;

#define WZP_TYPE_SHARED_PORT (_wzp_shared_port_get_type ())
G_DECLARE_FINAL_TYPE (WzpSharedPort, _wzp_shared_port, WZP, SHARED_PORT, GObject)

/* Signal ::incoming (GSocketConnection *connection): an accepted connection on P, with
 * TCP_NODELAY and SO_LINGER 0 set. A handler that wants it takes a reference; otherwise
 * it is closed when the emission ends. Accepting pauses for a second while descriptors
 * run low (WZP_SHARED_PORT_MIN_FREE_FDS), with a rate-limited log line.
 *
 * Listens on P. @port 0 picks a random free port (the kernel's choice for IPv4, and the
 * IPv6 listener takes the same; retried a few times if that port is taken for IPv6).
 * Without IPv6 on the host, only the IPv4 listener exists. A port already in use fails
 * with G_IO_ERROR_ADDRESS_IN_USE. Accepting starts at once, in the thread-default main
 * context; connections arrive on ::incoming. */
WzpSharedPort   *_wzp_shared_port_new             (guint16               port,
                                                   WzpSharedPortFlags    flags,
                                                   GError              **error);
guint16          _wzp_shared_port_get_port        (WzpSharedPort        *self);
gboolean         _wzp_shared_port_has_ipv6        (WzpSharedPort        *self);
/* The rate-limited log (base/wzp-log-limiter-private.h) for lines about what remote
 * hosts do to P: the client's preamble caps write theirs through it too. */
WzpLimitedLog   *_wzp_shared_port_get_log         (WzpSharedPort        *self);
/* Test-only: the descriptor reserve (default WZP_SHARED_PORT_MIN_FREE_FDS). */
void             _wzp_shared_port_set_min_free_fds (WzpSharedPort       *self,
                                                    guint                min_free_fds);
/* Stops accepting and closes the listeners (dispose does it too). */
void             _wzp_shared_port_close           (WzpSharedPort        *self);

/* A new socket of @family bound to P (the wildcard address), ready to connect. */
GSocket         *_wzp_shared_port_new_socket      (WzpSharedPort        *self,
                                                   GSocketFamily         family,
                                                   GError              **error);

/* Dials @address from P (TCP_NODELAY, SO_LINGER 0). EADDRNOTAVAIL is
 * WZP_SOCKET_ERROR_MERGED; other errors are G_IO_ERROR. */
void             _wzp_shared_port_connect_async   (WzpSharedPort        *self,
                                                   GSocketAddress       *address,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
GSocketConnection *_wzp_shared_port_connect_finish (WzpSharedPort       *self,
                                                    GAsyncResult        *result,
                                                    GError             **error);

/* Lower-level helpers, also for sockets that are not tied to a WzpSharedPort. */

/* A TCP socket of @family with SO_REUSEADDR, SO_REUSEPORT (if @reuse_port), SO_LINGER 0
 * (if @linger_zero) and TCP_NODELAY, bound with bind(2) to @address (nullable: the
 * wildcard address of @family) and @port. */
GSocket         *_wzp_socket_new_bound            (GSocketFamily         family,
                                                   GInetAddress         *address,
                                                   guint16               port,
                                                   gboolean              reuse_port,
                                                   gboolean              linger_zero,
                                                   GError              **error);
/* Connects an unconnected socket, without blocking; the result is a GSocketConnection
 * wrapping @socket. @socket is closed when the connect fails or is cancelled. */
void             _wzp_socket_connect_async        (GSocket              *socket,
                                                   GSocketAddress       *address,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
GSocketConnection *_wzp_socket_connect_finish     (GAsyncResult         *result,
                                                   GError              **error);
/* SO_LINGER {1, 0} (close sends RST at once, unsent data is lost) or back to the
 * default (a graceful close: do it before closing a path whose last bytes matter). */
gboolean         _wzp_socket_set_linger_zero      (GSocket              *socket,
                                                   gboolean              linger_zero,
                                                   GError              **error);

G_END_DECLS
