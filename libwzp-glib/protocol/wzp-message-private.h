/* wzp-message-private.h: signalling messages (docs/protocol.md, "Messages")
 *
 * A WzpMessage is a validated JSON object with a known "type". It keeps the whole object,
 * so members this version does not know survive when a relay forwards a message.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "wzp-binding-private.h"
#include "wzp-enums.h"
#include "wzp-text-private.h"

G_BEGIN_DECLS

/* The frame payload limit: a frame whose length prefix says more is a protocol error. */
#define WZP_FRAME_MAX_SIZE (64 * 1024)

/* The most host candidates a party may announce in one message, and the most a client
 * dials of the peer's (docs/protocol.md, "Calls at the relay"; docs/candidates.md,
 * "Dialling the peer's host candidates"). A client gathers at most 3 per interface and
 * family (WZP_CANDIDATES_MAX_PER_INTERFACE), so 16 leaves room for a few interfaces. */
#define WZP_MAX_HOST_CANDIDATES 16

/* The longest alias (display name) in characters (docs/protocol.md, "Aliases"). A name
 * fits on one line of a call notification; anything longer is a stranger's way to put
 * text on the callee's screen, and would grow every offer and CallSetup. */
#define WZP_MAX_ALIAS_CHARS 64

/* Features a peer lists in Nominate and NominateAck: at most WZP_MAX_FEATURES names, each
 * 1 to WZP_MAX_FEATURE_LEN of a-z, 0-9, '/', '.', '_', '-'. A peer sends media frames
 * only to a peer that listed "voice/opus" (docs/protocol.md, "Media frames"); names it
 * does not know it ignores. */
#define WZP_MAX_FEATURES 16
#define WZP_MAX_FEATURE_LEN 32
#define WZP_FEATURE_VOICE_OPUS "voice/opus"

typedef enum {
  WZP_MESSAGE_REGISTER_PRESENCE,
  WZP_MESSAGE_REGISTER_PRESENCE_ACK,
  WZP_MESSAGE_REFLECT,
  WZP_MESSAGE_REFLECT_RESPONSE,
  WZP_MESSAGE_DIRECT_CALL_OFFER,
  WZP_MESSAGE_CALL_RINGING,
  WZP_MESSAGE_DIRECT_CALL_ANSWER,
  WZP_MESSAGE_CALL_SETUP,
  WZP_MESSAGE_CANDIDATE_UPDATE,
  WZP_MESSAGE_HANGUP,
  WZP_MESSAGE_OPEN_PIPE,
  WZP_MESSAGE_PIPE_READY,
  WZP_MESSAGE_PIPE_REQUESTED,
  WZP_MESSAGE_PEER_SIGNALLING_LOST,
  WZP_MESSAGE_NOMINATE,
  WZP_MESSAGE_NOMINATE_ACK,
  WZP_MESSAGE_PING,
  WZP_MESSAGE_PONG,
  WZP_MESSAGE_ERROR,
  WZP_MESSAGE_FEDERATION_HELLO,
  WZP_MESSAGE_FEDERATED_SIGNAL_FORWARD,
  WZP_MESSAGE_PRESENCE_UPDATE,
  WZP_N_MESSAGE_TYPES
} WzpMessageType;

typedef struct _WzpMessage WzpMessage;

/* Error codes carried in Error{code}; stable strings, documented in docs/protocol.md. */
#define WZP_ERROR_CODE_BAD_MESSAGE      "bad_message"
#define WZP_ERROR_CODE_FRAME_TOO_LARGE  "frame_too_large"
#define WZP_ERROR_CODE_NOT_REGISTERED   "not_registered"
#define WZP_ERROR_CODE_UNKNOWN_CALLEE   "unknown_callee"
#define WZP_ERROR_CODE_UNKNOWN_CALL     "unknown_call"
#define WZP_ERROR_CODE_BAD_STATE        "bad_state"
#define WZP_ERROR_CODE_RATE_LIMITED     "rate_limited"
#define WZP_ERROR_CODE_LIMIT_REACHED    "limit_reached"
#define WZP_ERROR_CODE_BAD_TOKEN        "bad_token"
#define WZP_ERROR_CODE_PIPE_TIMEOUT     "pipe_timeout"
#define WZP_ERROR_CODE_REPLACED         "replaced"
#define WZP_ERROR_CODE_IDLE             "idle_timeout"
#define WZP_ERROR_CODE_SHUTDOWN         "shutdown"
/* A registration whose binding is dated more than WZP_BINDING_MAX_AHEAD_MS off the relay's
 * clock: the user's clock is wrong (docs/protocol.md, "Presence bindings"). */
#define WZP_ERROR_CODE_CLOCK_SKEW       "clock_skew"

WzpMessage      *_wzp_message_new              (WzpMessageType  type);
WzpMessage      *_wzp_message_ref              (WzpMessage     *self);
void             _wzp_message_unref            (WzpMessage     *self);
WzpMessage      *_wzp_message_copy             (WzpMessage     *self);

/* Parses and validates one frame payload (not the length prefix). Every problem is a
 * WZP_PROTOCOL_ERROR whose message names it; nothing here asserts on input. */
WzpMessage      *_wzp_message_decode           (const char     *data,
                                                gsize           len,
                                                GError        **error);
/* Validates an already parsed object (FederatedSignalForward's inner message). */
WzpMessage      *_wzp_message_new_from_object  (JsonObject     *object,
                                                GError        **error);
/* The JSON text of the message (no length prefix). */
GBytes          *_wzp_message_encode           (WzpMessage     *self);
/* Whether the message, encoded, fits in a frame of at most @max bytes; if not, a
 * WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE that gives both sizes. For a sender that must know
 * before it queues the message (a relay passing on what it enlarged). */
gboolean         _wzp_message_check_size       (WzpMessage     *self,
                                                gsize           max,
                                                GError        **error);

WzpMessageType   _wzp_message_get_message_type (WzpMessage     *self);
const char      *_wzp_message_type_to_string   (WzpMessageType  type);
JsonObject      *_wzp_message_get_object       (WzpMessage     *self);

/* Typed member access; getters return NULL / FALSE / 0 / empty when absent.
 * Setters with NULL (strings) or empty lists remove the member, so unset optional fields
 * and empty lists are never sent. */
const char      *_wzp_message_get_string       (WzpMessage     *self,
                                                const char     *member);
void             _wzp_message_set_string       (WzpMessage     *self,
                                                const char     *member,
                                                const char     *value);
gboolean         _wzp_message_has_member       (WzpMessage     *self,
                                                const char     *member);
gboolean         _wzp_message_get_bool         (WzpMessage     *self,
                                                const char     *member);
void             _wzp_message_set_bool         (WzpMessage     *self,
                                                const char     *member,
                                                gboolean        value);
gint64           _wzp_message_get_int          (WzpMessage     *self,
                                                const char     *member);
void             _wzp_message_set_int          (WzpMessage     *self,
                                                const char     *member,
                                                gint64          value);
/* A newly allocated NULL-terminated array, empty (not NULL) when the member is absent. */
char           **_wzp_message_dup_strv         (WzpMessage     *self,
                                                const char     *member);
/* Whether the message's "features" list names @feature (FALSE without the member). */
gboolean         _wzp_message_has_feature      (WzpMessage     *self,
                                                const char     *feature);
void             _wzp_message_set_strv         (WzpMessage     *self,
                                                const char     *member,
                                                const char * const *values);
/* FederatedSignalForward's "inner": a borrowed, validated message, or NULL. */
/* A signed presence binding (RegisterPresence.binding), or NULL; the shape was checked at
 * decode time, the signature was not (_wzp_binding_verify). */
WzpBinding      *_wzp_message_dup_binding      (WzpMessage       *self,
                                                const char       *member);
void             _wzp_message_set_binding      (WzpMessage       *self,
                                                const char       *member,
                                                const WzpBinding *binding);
/* A list of bindings (PresenceUpdate.added): WzpBinding*, owned. */
GPtrArray       *_wzp_message_dup_bindings     (WzpMessage       *self,
                                                const char       *member);
void             _wzp_message_set_bindings     (WzpMessage       *self,
                                                const char       *member,
                                                GPtrArray        *bindings);
WzpMessage      *_wzp_message_get_inner        (WzpMessage     *self);
void             _wzp_message_set_inner        (WzpMessage     *self,
                                                WzpMessage     *inner);
void             _wzp_message_remove_member    (WzpMessage     *self,
                                                const char     *member);

/* Enumerations as they appear on the wire. Parsing returns FALSE for unknown text. */
const char      *_wzp_nat_type_to_wire         (WzpNatType      type);
gboolean         _wzp_nat_type_from_wire       (const char     *text,
                                                WzpNatType     *out);
const char      *_wzp_accept_mode_to_wire      (WzpAcceptMode   mode);
gboolean         _wzp_accept_mode_from_wire    (const char     *text,
                                                WzpAcceptMode  *out);
const char      *_wzp_hangup_reason_to_wire    (WzpHangupReason reason);
gboolean         _wzp_hangup_reason_from_wire  (const char     *text,
                                                WzpHangupReason *out);
const char      *_wzp_call_role_to_wire        (WzpCallRole     role);

/* Whether @alias (nullable: no alias) is short enough; if not, a G_IO_ERROR_INVALID_ARGUMENT
 * addressed to its owner, as the relay and the client both say it. */
gboolean         _wzp_alias_check              (const char     *alias,
                                                GError        **error);

/* A call id as the protocol has it: 1 to 64 letters, digits, '-' or '_'
 * (docs/protocol.md, "Call ids"). */
gboolean         _wzp_call_id_is_valid         (const char     *call_id);

/* Convenience constructors for the messages every component sends. An Error names the
 * call only by a valid call id (@call_id is left out otherwise): an Error must not echo
 * whatever a client put there. */
WzpMessage      *_wzp_message_new_error        (const char     *code,
                                                const char     *message,
                                                const char     *call_id);
WzpMessage      *_wzp_message_new_for_call     (WzpMessageType  type,
                                                const char     *call_id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WzpMessage, _wzp_message_unref)

G_END_DECLS
