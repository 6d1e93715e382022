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

G_END_DECLS
