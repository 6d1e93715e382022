/* wzp-relay-uri.h: relay addresses, wzps://HOST[:PORT][#FINGERPRINT]
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(WZP_GLIB_INSIDE) && !defined(WZP_GLIB_COMPILATION)
# error "Only <wzp-glib.h> can be included directly."
#endif

#include <glib.h>

#include "wzp-error.h"
#include "wzp-version.h"

G_BEGIN_DECLS

/**
 * WZP_RELAY_URI_DEFAULT_PORT:
 *
 * The port of a relay address that names none (`wzps://relay.example.org` is
 * `wzps://relay.example.org:4433`), and the port `wzp-relay` listens on by default.
 *
 * Since: 1.0
 */
#define WZP_RELAY_URI_DEFAULT_PORT 4433

WZP_AVAILABLE_IN_ALL
gboolean wzp_relay_uri_validate (const char  *uri,
                                 GError     **error);

G_END_DECLS
