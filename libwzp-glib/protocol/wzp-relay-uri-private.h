/* wzp-relay-uri-private.h: relay URIs, wzps://HOST[:PORT][#FINGERPRINT] (docs/protocol.md,
 * "Federation")
 *
 * Protocol level: clients read the relay they register with and the reflectors they probe
 * from such URIs, relays their federation peers; neither side's code is needed to parse
 * one. (The names keep their old _wzp_client_ prefix until the client side's refactor
 * lands: renaming them touches its files.)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define WZP_RELAY_URI_DEFAULT_PORT 4433

/* Splits HOST[:PORT] or [IPV6]:PORT; @default_port 0 makes the port required. FALSE if
 * @text is not of that form. */
gboolean        _wzp_relay_uri_parse_host_port (const char   *text,
                                                guint16       default_port,
                                                char        **out_host,
                                                guint16      *out_port);
/* Parses wzps://HOST[:PORT][#FINGERPRINT] (the port defaults to 4433). */
gboolean        _wzp_relay_uri_parse           (const char   *uri,
                                                char        **out_host,
                                                guint16      *out_port,
                                                char        **out_fingerprint,
                                                GError      **error);

G_END_DECLS
