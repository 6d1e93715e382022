/* wzp-relay-poller-private.h: many sockets watched through one GSource
 *
 * A GLib main context polls every file descriptor of every source on each iteration
 * (poll(2) is O(all of them)), so 20,000 idle client sockets, each with its own GSource,
 * made every wake-up of the relay cost O(20,000) (docs/relay.md, "The relay at scale").
 * A RelayPoller puts its sockets in one epoll set instead: the main context polls the
 * epoll descriptor alone, and a wake-up costs O(sockets that are ready).
 *
 * Everything here runs on the context the poller is attached to. Level-triggered: a
 * watch whose socket stays readable is called again on the next iteration, so a callback
 * may stop early (a fairness bound) without losing the event.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _RelayPoller RelayPoller;
typedef struct _RelayPollWatch RelayPollWatch;

/* @events: what is ready, as G_IO_IN / G_IO_OUT / G_IO_HUP / G_IO_ERR. */
typedef void (*RelayPollFunc) (RelayPollWatch *watch,
                               GIOCondition    events,
                               gpointer        user_data);

RelayPoller    *_wzp_relay_poller_new      (GMainContext   *context,
                                            GError        **error);
/* Every watch must have been removed. */
void            _wzp_relay_poller_free     (RelayPoller    *self);

/* Watches @fd (not owned: remove the watch before closing it) for @events. */
RelayPollWatch *_wzp_relay_poller_add      (RelayPoller    *self,
                                            int             fd,
                                            GIOCondition    events,
                                            RelayPollFunc   func,
                                            gpointer        user_data,
                                            GError        **error);
void            _wzp_relay_poller_modify   (RelayPoller    *self,
                                            RelayPollWatch *watch,
                                            GIOCondition    events);
GIOCondition    _wzp_relay_poller_get_events (RelayPollWatch *watch);
/* Calls the watch's function again on the next iteration with @events, whatever the
 * socket says: for data a TLS library holds decrypted, which epoll cannot see. */
void            _wzp_relay_poller_kick     (RelayPoller    *self,
                                            RelayPollWatch *watch,
                                            GIOCondition    events);
/* Stops watching; safe from inside any watch's function (the watch is freed later). */
void            _wzp_relay_poller_remove   (RelayPoller    *self,
                                            RelayPollWatch *watch);
guint           _wzp_relay_poller_get_n_watches (RelayPoller *self);

G_END_DECLS
