/* wzp-error.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-error.h"

G_DEFINE_QUARK (wzp-protocol-error-quark, wzp_protocol_error)
/* Here, not in wzp-client.c: relay URIs (wzp-relay-uri.c) fail with it, and the relay
 * parses them too without using client code. */
G_DEFINE_QUARK (wzp-client-error-quark, wzp_client_error)
