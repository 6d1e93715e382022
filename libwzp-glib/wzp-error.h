/* wzp-error.h: the error domain of the signalling protocol
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(WZP_GLIB_INSIDE) && !defined(WZP_GLIB_COMPILATION)
# error "Only <wzp-glib.h> can be included directly."
#endif

#include <glib.h>

#include "wzp-version.h"

G_BEGIN_DECLS

/**
 * WZP_PROTOCOL_ERROR:
 *
 * The error domain of malformed or unexpected signalling input.
 *
 * Since: 1.0
 */
#define WZP_PROTOCOL_ERROR (wzp_protocol_error_quark ())

/**
 * WzpProtocolError:
 * @WZP_PROTOCOL_ERROR_TRUNCATED: the stream ended in the middle of a frame
 * @WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE: a frame's length is over the limit
 * @WZP_PROTOCOL_ERROR_INVALID_UTF8: a frame is not valid UTF-8
 * @WZP_PROTOCOL_ERROR_INVALID_JSON: a frame is not a JSON object
 * @WZP_PROTOCOL_ERROR_UNKNOWN_TYPE: a message has a type this version does not know
 * @WZP_PROTOCOL_ERROR_MISSING_MEMBER: a required member is absent
 * @WZP_PROTOCOL_ERROR_WRONG_TYPE: a member has the wrong JSON type
 * @WZP_PROTOCOL_ERROR_INVALID_VALUE: a member has a value that does not parse (an address,
 *   a fingerprint, an enumeration value)
 * @WZP_PROTOCOL_ERROR_UNEXPECTED: a valid message arrived where it makes no sense
 * @WZP_PROTOCOL_ERROR_REMOTE: the peer reported an error
 *
 * Errors from reading or interpreting signalling messages.
 *
 * Since: 1.0
 */
typedef enum {
  WZP_PROTOCOL_ERROR_TRUNCATED,
  WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE,
  WZP_PROTOCOL_ERROR_INVALID_UTF8,
  WZP_PROTOCOL_ERROR_INVALID_JSON,
  WZP_PROTOCOL_ERROR_UNKNOWN_TYPE,
  WZP_PROTOCOL_ERROR_MISSING_MEMBER,
  WZP_PROTOCOL_ERROR_WRONG_TYPE,
  WZP_PROTOCOL_ERROR_INVALID_VALUE,
  WZP_PROTOCOL_ERROR_UNEXPECTED,
  WZP_PROTOCOL_ERROR_REMOTE,
} WzpProtocolError;

WZP_AVAILABLE_IN_ALL
GQuark wzp_protocol_error_quark (void);

/**
 * WZP_CLIENT_ERROR:
 *
 * The error domain of [class@Wzp.Client] (defined here, with the protocol's, because
 * relay URIs, parsed below the client, fail with it).
 *
 * Since: 1.0
 */
#define WZP_CLIENT_ERROR (wzp_client_error_quark ())

/**
 * WzpClientError:
 * @WZP_CLIENT_ERROR_INVALID_URI: the relay URI does not parse
 * @WZP_CLIENT_ERROR_INVALID_FINGERPRINT: a fingerprint does not parse
 * @WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED: a relay trusted on first use (its address
 *   has no `#FINGERPRINT`) presents another identity than the one remembered for it in the
 *   known relays file: its operator replaced its key, or someone intercepts the connection
 * @WZP_CLIENT_ERROR_REGISTRATION_FAILED: the relay refused the registration
 * @WZP_CLIENT_ERROR_REPLACED: another program registered with the same identity
 * @WZP_CLIENT_ERROR_NOT_CONNECTED: the client is not registered with a relay
 * @WZP_CLIENT_ERROR_NO_RELAY: no relay URI is configured
 * @WZP_CLIENT_ERROR_KNOWN_RELAYS: the file of relays trusted on first use could not be
 *   written, was damaged (it is then kept under another name, which the message gives),
 *   or holds no usable key for the relay; the message says what to do. (A file that
 *   cannot be read is a %G_FILE_ERROR, and the client tries again.)
 * @WZP_CLIENT_ERROR_RELAY_PIN_MISMATCH: the relay at the address does not have the
 *   fingerprint that the address pins (`wzps://HOST:PORT#FINGERPRINT`): this is not the
 *   relay the address names, so the address or the fingerprint in it is wrong (the same
 *   error on an address that worked before means the relay's key changed, or an
 *   interception). Not retried.
 * @WZP_CLIENT_ERROR_RELAY_BUSY: the relay turned the connection away before TLS because
 *   it is busy: it holds as many connections in their handshake as it allows, or runs
 *   short of resources. Not the client's fault, and retried with a longer backoff (at
 *   least 2 s); see docs/relay.md, "When the relay turns clients away".
 * @WZP_CLIENT_ERROR_RELAY_TOO_MANY_CONNECTIONS: the relay turned the connection away
 *   before TLS because too many connections from the client's network (its IPv4 address
 *   or IPv6 /64, shared behind a NAT) are in their handshake. Retried like
 *   %WZP_CLIENT_ERROR_RELAY_BUSY.
 *
 * Errors of the client's connection to its relay.
 *
 * Since: 1.0
 */
typedef enum {
  WZP_CLIENT_ERROR_INVALID_URI,
  WZP_CLIENT_ERROR_INVALID_FINGERPRINT,
  WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED,
  WZP_CLIENT_ERROR_REGISTRATION_FAILED,
  WZP_CLIENT_ERROR_REPLACED,
  WZP_CLIENT_ERROR_NOT_CONNECTED,
  WZP_CLIENT_ERROR_NO_RELAY,
  WZP_CLIENT_ERROR_KNOWN_RELAYS,
  WZP_CLIENT_ERROR_RELAY_PIN_MISMATCH,
  /* New codes go last: the values are ABI. */
  WZP_CLIENT_ERROR_RELAY_BUSY,
  WZP_CLIENT_ERROR_RELAY_TOO_MANY_CONNECTIONS,
} WzpClientError;

WZP_AVAILABLE_IN_ALL
GQuark wzp_client_error_quark (void);

G_END_DECLS
