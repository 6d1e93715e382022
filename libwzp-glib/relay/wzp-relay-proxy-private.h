/* wzp-relay-proxy-private.h: a peer relay's connection handed to the federation code
 *
 * Clients' TLS sessions are the relay's own (wzp-relay-session.c), but a federation link
 * or a bridge from a peer relay, which arrives on the same listener, is read and written
 * by the federation code through GIO streams (docs/relay.md, "The relay at scale": links
 * and bridges are few). A RelayProxy carries the plaintext of such a session to one end of
 * a socket pair, and the other end is the stream the federation code gets: the peer's
 * bytes come out exactly as they went in, and closing either side closes both.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "wzp-relay-private.h"

G_BEGIN_DECLS

typedef struct _RelayProxy RelayProxy;

/* Makes the socket pair; *@plain is the federation code's end. Nothing moves until
 * _wzp_relay_proxy_start(). */
RelayProxy *_wzp_relay_proxy_new        (WzpRelay           *relay,
                                         GSocketConnection **plain,
                                         GError            **error);
/* Takes @session and @tcp (the connection's socket) and starts carrying, with what the
 * session had read and not yet delivered first. @tcp must not be watched any more. */
void        _wzp_relay_proxy_start      (RelayProxy         *self,
                                         RelaySession       *session,
                                         GSocketConnection  *tcp,
                                         const char         *description);
/* Closes both sides and frees. */
void        _wzp_relay_proxy_free       (RelayProxy         *self);
void        _wzp_relay_proxies_close_all (WzpRelay          *relay);

G_END_DECLS
