/* wzp-client-private.h: WzpClient internals for the call, tests and tools
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "wzp-client.h"
#include "wzp-network-info-private.h"
#include "wzp-socket-private.h"

G_BEGIN_DECLS

/* Parses wzps://HOST[:PORT][#FINGERPRINT] (the port defaults to 4433). */
gboolean        _wzp_client_parse_relay_uri   (const char   *uri,
                                               char        **out_host,
                                               guint16      *out_port,
                                               char        **out_fingerprint,
                                               GError      **error);
/* Test-only: listen on loopback and offer loopback host candidates, never the machine's
 * own interfaces (docs/decisions.md, "Loopback tests bring their own candidates"). Set
 * before connecting. */
void            _wzp_client_set_test_loopback (WzpClient    *self,
                                               gboolean      loopback);
WzpSharedPort  *_wzp_client_get_shared_port   (WzpClient    *self);
/* The context the client lives on (thread-default when it was made): its timers go there. */
GMainContext   *_wzp_client_get_context      (WzpClient    *self);
WzpNetworkInfo *_wzp_client_get_network_info  (WzpClient    *self);

/* wzp-client-reflectors.c: asks the reflector at @uri (a relay URI) what address it sees
 * P at, and gives the answer to the network info (no answer within 3 s: none). */
void            _wzp_client_probe_reflector   (WzpClient    *self,
                                               const char   *uri);

/* wzp-known-relays.c: the fingerprint remembered for @key ("host:port"), or NULL. */
char           *_wzp_known_relay_lookup       (const char   *key);
/* Remembers @fingerprint for @key (a failure to save is logged, not fatal). */
void            _wzp_known_relay_remember     (const char   *key,
                                               const char   *fingerprint);

G_END_DECLS
