/* wzp-enums.h: enumerations shared by the protocol and the public API
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(WZP_GLIB_INSIDE) && !defined(WZP_GLIB_COMPILATION)
# error "Only <wzp-glib.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/**
 * WzpNatType:
 * @WZP_NAT_TYPE_UNKNOWN: fewer than two usable answers; nothing is known
 * @WZP_NAT_TYPE_NONE: the reflexive address is one of the host's own addresses
 * @WZP_NAT_TYPE_CONE: endpoint-independent mapping: every reflector saw the same address
 *   and port
 * @WZP_NAT_TYPE_SYMMETRIC: the mapped port depends on the destination
 * @WZP_NAT_TYPE_MULTIPLE: reflectors saw different public IP addresses
 *
 * How a NAT maps the client's port towards different destinations.
 *
 * Since: 1.0
 */
typedef enum {
  WZP_NAT_TYPE_UNKNOWN,
  WZP_NAT_TYPE_NONE,
  WZP_NAT_TYPE_CONE,
  WZP_NAT_TYPE_SYMMETRIC,
  WZP_NAT_TYPE_MULTIPLE,
} WzpNatType;

/**
 * WzpAcceptMode:
 * @WZP_ACCEPT_MODE_REJECT: decline the call
 * @WZP_ACCEPT_MODE_TRUSTED: answer and share addresses, so a direct path can be found
 * @WZP_ACCEPT_MODE_PRIVACY: answer without revealing any address; the call runs over the
 *   relay only (`AcceptGeneric` on the wire)
 *
 * How the callee answers a call.
 *
 * Since: 1.0
 */
typedef enum {
  WZP_ACCEPT_MODE_REJECT,
  WZP_ACCEPT_MODE_TRUSTED,
  WZP_ACCEPT_MODE_PRIVACY,
} WzpAcceptMode;

/**
 * WzpCallRole:
 * @WZP_CALL_ROLE_CALLER: the party that placed the call (the TLS client on every path)
 * @WZP_CALL_ROLE_CALLEE: the party that was called (the TLS server on every path)
 *
 * A party's role in a call.
 *
 * Since: 1.0
 */
typedef enum {
  WZP_CALL_ROLE_CALLER,
  WZP_CALL_ROLE_CALLEE,
} WzpCallRole;

/**
 * WzpHangupReason:
 * @WZP_HANGUP_REASON_NORMAL: a party hung up
 * @WZP_HANGUP_REASON_BUSY: the callee is busy
 * @WZP_HANGUP_REASON_DECLINED: the callee declined
 * @WZP_HANGUP_REASON_TIMEOUT: nobody answered in time
 * @WZP_HANGUP_REASON_UNREACHABLE: no path between the parties could be found
 * @WZP_HANGUP_REASON_ERROR: the call failed
 *
 * Why a call ended.
 *
 * Since: 1.0
 */
typedef enum {
  WZP_HANGUP_REASON_NORMAL,
  WZP_HANGUP_REASON_BUSY,
  WZP_HANGUP_REASON_DECLINED,
  WZP_HANGUP_REASON_TIMEOUT,
  WZP_HANGUP_REASON_UNREACHABLE,
  WZP_HANGUP_REASON_ERROR,
} WzpHangupReason;

/**
 * WzpPathKind:
 * @WZP_PATH_KIND_NONE: no path yet
 * @WZP_PATH_KIND_DIRECT_LAN: a direct connection to a private (RFC 1918, CGNAT) or ULA
 *   address: both parties are on the same network
 * @WZP_PATH_KIND_DIRECT_INTERNET: a direct connection across the internet (a reflexive or
 *   global IPv6 address)
 * @WZP_PATH_KIND_RELAY: through a relay pipe
 *
 * Which way a call's audio travels.
 *
 * Since: 1.0
 */
typedef enum {
  WZP_PATH_KIND_NONE,
  WZP_PATH_KIND_DIRECT_LAN,
  WZP_PATH_KIND_DIRECT_INTERNET,
  WZP_PATH_KIND_RELAY,
} WzpPathKind;

/**
 * WzpCandidateKind:
 * @WZP_CANDIDATE_KIND_HOST: one of the peer's host candidates (an address of one of its
 *   interfaces)
 * @WZP_CANDIDATE_KIND_REFLEXIVE: the peer's reflexive address (where its relay sees it)
 * @WZP_CANDIDATE_KIND_RELAY: the relay pipe
 *
 * What a path attempt went to (see [signal@Wzp.Call::candidate-result]).
 *
 * Since: 1.0
 */
typedef enum {
  WZP_CANDIDATE_KIND_HOST,
  WZP_CANDIDATE_KIND_REFLEXIVE,
  WZP_CANDIDATE_KIND_RELAY,
} WzpCandidateKind;

/**
 * WzpCandidateResult:
 * @WZP_CANDIDATE_RESULT_OK: the path was authenticated
 * @WZP_CANDIDATE_RESULT_FAILED: the attempt failed (a reason says why)
 * @WZP_CANDIDATE_RESULT_MERGED: our dial met the peer's dial to us (a simultaneous open);
 *   the peer's connection completes it, reported later as `OK` or `FAILED`
 * @WZP_CANDIDATE_RESULT_CANCELLED: the attempt was stopped before it finished
 *
 * How a path attempt ended (see [signal@Wzp.Call::candidate-result]).
 *
 * Since: 1.0
 */
typedef enum {
  WZP_CANDIDATE_RESULT_OK,
  WZP_CANDIDATE_RESULT_FAILED,
  WZP_CANDIDATE_RESULT_MERGED,
  WZP_CANDIDATE_RESULT_CANCELLED,
} WzpCandidateResult;

/**
 * WzpCallState:
 * @WZP_CALL_STATE_CALLING: an outgoing call was offered to the callee
 * @WZP_CALL_STATE_RINGING: the callee's device is alerting its user
 * @WZP_CALL_STATE_INCOMING: an incoming call waits for an answer
 * @WZP_CALL_STATE_CONNECTING: the call was answered; a path is being found
 * @WZP_CALL_STATE_ACTIVE: a path is nominated; the parties can talk
 * @WZP_CALL_STATE_ENDED: the call is over (see [property@Wzp.Call:end-reason])
 *
 * The life of a call.
 *
 * Since: 1.0
 */
typedef enum {
  WZP_CALL_STATE_CALLING,
  WZP_CALL_STATE_RINGING,
  WZP_CALL_STATE_INCOMING,
  WZP_CALL_STATE_CONNECTING,
  WZP_CALL_STATE_ACTIVE,
  WZP_CALL_STATE_ENDED,
} WzpCallState;

/**
 * WzpClientState:
 * @WZP_CLIENT_STATE_DISCONNECTED: not connected, and not trying
 * @WZP_CLIENT_STATE_CONNECTING: connecting and registering for the first time
 * @WZP_CLIENT_STATE_CONNECTED: registered with the relay
 * @WZP_CLIENT_STATE_RECONNECTING: the connection was lost; trying again with backoff
 * @WZP_CLIENT_STATE_FAILED: gave up; see [property@Wzp.Client:error-message]
 *
 * The client's connection to its relay.
 *
 * Since: 1.0
 */
typedef enum {
  WZP_CLIENT_STATE_DISCONNECTED,
  WZP_CLIENT_STATE_CONNECTING,
  WZP_CLIENT_STATE_CONNECTED,
  WZP_CLIENT_STATE_RECONNECTING,
  WZP_CLIENT_STATE_FAILED,
} WzpClientState;

/**
 * WzpPeerLinkState:
 * @WZP_PEER_LINK_DOWN: no link: the peer relay is not connected (it will be dialled again
 *   after a backoff delay)
 * @WZP_PEER_LINK_CONNECTING: dialling the peer relay, or waiting for its `FederationHello`
 * @WZP_PEER_LINK_UP: the link is up: presence is exchanged and calls cross it
 *
 * The state of a federation link between two relays.
 *
 * Since: 1.0
 */
typedef enum {
  WZP_PEER_LINK_DOWN,
  WZP_PEER_LINK_CONNECTING,
  WZP_PEER_LINK_UP,
} WzpPeerLinkState;

/**
 * WzpAudioDirection:
 * @WZP_AUDIO_DIRECTION_SOURCE: a device that captures sound (a microphone, a headset's
 *   microphone, the monitor of an output)
 * @WZP_AUDIO_DIRECTION_SINK: a device that plays sound (speakers, headphones)
 *
 * Which way sound goes through an audio device (see [class@Wzp.AudioDevice]).
 *
 * Since: 1.0
 */
typedef enum {
  WZP_AUDIO_DIRECTION_SOURCE,
  WZP_AUDIO_DIRECTION_SINK,
} WzpAudioDirection;

G_END_DECLS
