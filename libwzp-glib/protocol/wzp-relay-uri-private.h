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

#include "wzp-relay-uri.h"

G_BEGIN_DECLS

/* Splits HOST[:PORT] or [IPV6]:PORT; @default_port 0 makes the port required. FALSE if
 * @text is not of that form. */
gboolean        _wzp_relay_uri_parse_host_port (const char   *text,
                                                guint16       default_port,
                                                char        **out_host,
                                                guint16      *out_port);
/* Parses wzps://HOST[:PORT][/][#FINGERPRINT] (the port defaults to 4433; an IPv6 address
 * in brackets). Fails with WZP_CLIENT_ERROR_INVALID_URI, or _INVALID_FINGERPRINT for what
 * follows "#", and a translated message that names the part at fault and what it must be
 * (wzp_relay_uri_validate() is this for the API). */
gboolean        _wzp_relay_uri_parse           (const char   *uri,
                                                char        **out_host,
                                                guint16      *out_port,
                                                char        **out_fingerprint,
                                                GError      **error);

G_END_DECLS
