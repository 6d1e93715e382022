/* wzp-call.h: one call, incoming or outgoing
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(WZP_GLIB_INSIDE) && !defined(WZP_GLIB_COMPILATION)
# error "Only <wzp-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "wzp-enums.h"
#include "wzp-types.h"
#include "wzp-version.h"

G_BEGIN_DECLS

/**
 * WZP_CALL_ERROR:
 *
 * The error domain of [class@Wzp.Call].
 *
 * Since: 1.0
 */
#define WZP_CALL_ERROR (wzp_call_error_quark ())

/**
 * WzpCallError:
 * @WZP_CALL_ERROR_UNREACHABLE: no path to the peer could be established in time
 * @WZP_CALL_ERROR_DECLINED: the callee declined
 * @WZP_CALL_ERROR_BUSY: the callee is busy
 * @WZP_CALL_ERROR_TIMEOUT: nobody answered in time
 * @WZP_CALL_ERROR_HUNG_UP: the other party hung up
 * @WZP_CALL_ERROR_UNKNOWN_PEER: the relay knows nobody with that fingerprint
 * @WZP_CALL_ERROR_IMPERSONATION: the relay named a peer other than the one this side
 *   trusts: the call was ended so nobody can impersonate the peer
 * @WZP_CALL_ERROR_FAILED: the call failed for another reason (the message says which)
 * @WZP_CALL_ERROR_NOT_INCOMING: the call cannot be answered (it is not an incoming call
 *   waiting for an answer)
 *
 * Why a call did not happen or ended early.
 *
 * Since: 1.0
 */
typedef enum {
  WZP_CALL_ERROR_UNREACHABLE,
  WZP_CALL_ERROR_DECLINED,
  WZP_CALL_ERROR_BUSY,
  WZP_CALL_ERROR_TIMEOUT,
  WZP_CALL_ERROR_HUNG_UP,
  WZP_CALL_ERROR_UNKNOWN_PEER,
  WZP_CALL_ERROR_IMPERSONATION,
  WZP_CALL_ERROR_FAILED,
  WZP_CALL_ERROR_NOT_INCOMING,
} WzpCallError;

WZP_AVAILABLE_IN_ALL
GQuark wzp_call_error_quark (void);

#define WZP_TYPE_CALL (wzp_call_get_type ())
WZP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (WzpCall, wzp_call, WZP, CALL, GObject)

WZP_AVAILABLE_IN_ALL
const char      *wzp_call_get_call_id          (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
WzpCallState     wzp_call_get_state            (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
WzpCallRole      wzp_call_get_role             (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
const char      *wzp_call_get_peer_fingerprint (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
const char      *wzp_call_get_peer_alias       (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
const char      *wzp_call_get_caller_relay_fingerprint (WzpCall      *self);
WZP_AVAILABLE_IN_ALL
WzpPathKind      wzp_call_get_path_kind        (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
const char      *wzp_call_get_remote_address   (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
int              wzp_call_get_time_to_path     (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
WzpHangupReason  wzp_call_get_end_reason       (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
const char      *wzp_call_get_error_message    (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
gboolean         wzp_call_get_privacy          (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
const char      *wzp_call_get_peer_direct_address  (WzpCall          *self);
WZP_AVAILABLE_IN_ALL
GStrv            wzp_call_dup_peer_local_addresses (WzpCall          *self) G_GNUC_WARN_UNUSED_RESULT;

WZP_AVAILABLE_IN_ALL
gboolean         wzp_call_get_muted            (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
void             wzp_call_set_muted            (WzpCall              *self,
                                                gboolean              muted);
WZP_AVAILABLE_IN_ALL
double           wzp_call_get_volume           (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
void             wzp_call_set_volume           (WzpCall              *self,
                                                double                volume);
WZP_AVAILABLE_IN_ALL
void             wzp_call_switch_audio_device  (WzpCall              *self,
                                                WzpAudioDirection     direction,
                                                const char           *device);
WZP_AVAILABLE_IN_ALL
const char      *wzp_call_get_audio_error      (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
GVariant        *wzp_call_get_stats            (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
gboolean         wzp_call_get_reconnecting     (WzpCall              *self);

WZP_AVAILABLE_IN_ALL
void             wzp_call_ring                 (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
void             wzp_call_answer_async         (WzpCall              *self,
                                                WzpAcceptMode         mode,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
WZP_AVAILABLE_IN_ALL
gboolean         wzp_call_answer_finish        (WzpCall              *self,
                                                GAsyncResult         *result,
                                                GError              **error);
WZP_AVAILABLE_IN_ALL
void             wzp_call_hangup               (WzpCall              *self);
WZP_AVAILABLE_IN_ALL
void             wzp_call_decline              (WzpCall              *self,
                                                WzpHangupReason       reason);

G_END_DECLS
