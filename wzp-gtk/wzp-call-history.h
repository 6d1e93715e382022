/* wzp-call-history.h: recent calls, newest first
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <wzp-glib.h>

G_BEGIN_DECLS

typedef enum {
  WZP_CALL_OUTCOME_ANSWERED,
  WZP_CALL_OUTCOME_MISSED,
  WZP_CALL_OUTCOME_DECLINED,
  WZP_CALL_OUTCOME_FAILED,
  WZP_CALL_OUTCOME_CANCELLED,
  WZP_CALL_OUTCOME_NO_ANSWER,   /* outgoing: rang until the ring timeout */
  WZP_CALL_OUTCOME_BUSY,        /* outgoing: the callee was in another call */
  WZP_CALL_OUTCOME_UNREACHABLE, /* outgoing: nobody with that fingerprint, or no way there */
} WzpCallOutcome;

#define WZP_TYPE_CALL_RECORD (wzp_call_record_get_type ())
G_DECLARE_FINAL_TYPE (WzpCallRecord, wzp_call_record, WZP, CALL_RECORD, GObject)

WzpCallRecord  *wzp_call_record_new             (const char     *fingerprint,
                                                 const char     *alias,
                                                 gboolean        incoming,
                                                 WzpCallOutcome  outcome,
                                                 gint64          start_unix,
                                                 gint64          duration_s,
                                                 WzpPathKind     path_kind);
const char     *wzp_call_record_get_fingerprint (WzpCallRecord  *self);
const char     *wzp_call_record_get_alias       (WzpCallRecord  *self);
gboolean        wzp_call_record_get_incoming    (WzpCallRecord  *self);
WzpCallOutcome  wzp_call_record_get_outcome     (WzpCallRecord  *self);
gint64          wzp_call_record_get_start       (WzpCallRecord  *self);
gint64          wzp_call_record_get_duration    (WzpCallRecord  *self);
WzpPathKind     wzp_call_record_get_path_kind   (WzpCallRecord  *self);
char           *wzp_call_record_describe        (WzpCallRecord  *self);

#define WZP_TYPE_CALL_HISTORY (wzp_call_history_get_type ())
G_DECLARE_FINAL_TYPE (WzpCallHistory, wzp_call_history, WZP, CALL_HISTORY, GObject)

WzpCallHistory *wzp_call_history_new              (const char     *path);
char           *wzp_call_history_get_default_path (void);
gboolean        wzp_call_history_load             (WzpCallHistory *self,
                                                   GError        **error);
GListModel     *wzp_call_history_get_model        (WzpCallHistory *self);
void            wzp_call_history_add              (WzpCallHistory *self,
                                                   WzpCallRecord  *record);
GPtrArray      *wzp_call_history_clear            (WzpCallHistory *self);
void            wzp_call_history_flush            (WzpCallHistory *self);
void            wzp_call_history_restore          (WzpCallHistory *self,
                                                   GPtrArray      *records);
const char     *wzp_call_history_get_damaged_path (WzpCallHistory *self);

G_END_DECLS
