/* wzp-relay-forwarder-private.h: the relay's forwarding engine
 *
 * A RelayForwarder moves bytes between the two sockets of each RelayForward (a "forward":
 * two sockets joined) with recv(2) and send(2), on one thread of its own that waits on an
 * edge-triggered epoll set, never on the GLib main context: a main loop costs O(all its
 * sources) per iteration, which capped relayed calls at about 50 (bench/README.md). It
 * knows nothing about calls, tokens or messages: its whole interface is two connected
 * stream sockets in, one "this forward ended" out.
 *
 * Threads: every function here is called from the thread that iterates the GMainContext
 * given to _wzp_relay_forwarder_new() (the relay's). The engine thread never runs relay
 * code; it only touches a forward's sockets while the forward is registered, under the
 * engine lock, and reports forwards that ended back to that context, where @done runs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _RelayForwarder RelayForwarder;
typedef struct _RelayForward   RelayForward;

/* Runs on the forwarder's context once @fw has ended on its own (both directions saw the
 * end of stream, or a socket failed); @reason says which, for the log. The engine no
 * longer touches the sockets; the callee should _wzp_relay_forwarder_remove() @fw. */
typedef void (*RelayForwardDoneFunc) (RelayForward *fw,
                                      const char   *reason,
                                      gpointer      user_data);

RelayForwarder *_wzp_relay_forwarder_new            (GMainContext          *context,
                                                     GError               **error);
/* Stops and joins the thread, then frees every forward still registered (without
 * calling their @done) and the forwarder. Remove the forwards first if their owners care. */
void            _wzp_relay_forwarder_free           (RelayForwarder        *self);

/* Starts forwarding both ways between @fd_a and @fd_b (connected, non-blocking stream
 * sockets that the caller keeps owning), each direction at most @bytes_per_second with
 * bursts of @burst_bytes, through the thread's buffer. When one side ends its stream, the
 * end is passed on (shutdown SHUT_WR) and the other direction goes on. Fails (no fds left)
 * with a GError. */
RelayForward   *_wzp_relay_forwarder_add            (RelayForwarder        *self,
                                                     int                    fd_a,
                                                     int                    fd_b,
                                                     guint                  bytes_per_second,
                                                     guint                  burst_bytes,
                                                     RelayForwardDoneFunc   done,
                                                     gpointer               user_data,
                                                     GError               **error);
/* Takes @fw out of the engine and frees it; its @done will not run. Once this returns,
 * the thread does not touch the sockets any more: only then may the caller close them. */
void            _wzp_relay_forwarder_remove         (RelayForwarder        *self,
                                                     RelayForward          *fw);
/* Forwards registered (tests, statistics). */
guint           _wzp_relay_forwarder_get_n_forwards (RelayForwarder        *self);

G_END_DECLS
