/* wzp-call.c: one call, from offer to hang-up
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-call-private.h"
#include "wzp-enum-types.h"
#include "wzp-error.h"
#include "wzp-race-private.h"
#include "wzp-timeout-private.h"

/* The relay pipe gives direct paths this long (docs/decisions.md, "The relay's head start"). */
#define HEAD_START_MS 250
/* Dialling the peer again after a network change: at most one new round this often (a
 * change comes in bursts, and a peer must not make us dial in a loop). */
#define REROUND_INTERVAL_MS 1000

/**
 * WzpCall:
 *
 * A call between this client and a peer, placed with
 * [method@Wzp.Client.place_call_async] or received through
 * [signal@Wzp.Client::incoming-call].
 *
 * Once the relay has set the call up, both sides look for a path: the relay pipe (and,
 * where addresses were shared, direct connections). Every path runs the call's own
 * end-to-end TLS, with each side pinning the fingerprint it trusts for the other: the
 * one it dialled, or the one the incoming call showed. The caller nominates a path and
 * both use it; [property@Wzp.Call:path-kind] then says which kind it is.
 *
 * Since: 1.0
 */

G_DEFINE_FINAL_TYPE (WzpCall, wzp_call, G_TYPE_OBJECT)

G_DEFINE_QUARK (wzp-call-error-quark, wzp_call_error)

enum {
  PROP_0,
  PROP_CALL_ID,
  PROP_STATE,
  PROP_ROLE,
  PROP_PEER_FINGERPRINT,
  PROP_PEER_ALIAS,
  PROP_CALLER_RELAY_FINGERPRINT,
  PROP_PRIVACY,
  PROP_PATH_KIND,
  PROP_REMOTE_ADDRESS,
  PROP_TIME_TO_PATH,
  PROP_END_REASON,
  PROP_ERROR_MESSAGE,
  PROP_PEER_DIRECT_ADDRESS,
  PROP_PEER_LOCAL_ADDRESSES,
  PROP_MUTED,
  PROP_VOLUME,
  PROP_AUDIO_ERROR,
  PROP_STATS,
  PROP_RECONNECTING,
  N_PROPS,
};
static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_SET_UP,
  SIGNAL_CANDIDATE_RESULT,
  SIGNAL_PATH_CHANGED,
  SIGNAL_ENDED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

static void
set_state (WzpCall      *self,
           WzpCallState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
set_reconnecting (WzpCall  *self,
                  gboolean  reconnecting)
{
  if (self->reconnecting == reconnecting)
    return;
  self->reconnecting = reconnecting;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RECONNECTING]);
}

static void
set_privacy (WzpCall  *self,
             gboolean  privacy)
{
  if (self->privacy == privacy)
    return;
  self->privacy = privacy;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PRIVACY]);
}

const char *
_wzp_call_peer_name (WzpCall *self)
{
  return self->peer_fingerprint;
}

static int
ms_since_setup (WzpCall *self)
{
  if (self->setup_us == 0)
    return 0;
  return (int) ((g_get_monotonic_time () - self->setup_us) / 1000);
}

void
_wzp_call_send_signalling (WzpCall    *self,
                           WzpMessage *message)
{
  if (self->sink.owner != NULL)
    self->sink.send (self->sink.owner, message);
}

/* CallSetup or a CandidateUpdate changed what the peer's candidates are. */
void
_wzp_call_notify_peer_candidates (WzpCall *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_DIRECT_ADDRESS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_LOCAL_ADDRESSES]);
}

void
_wzp_call_notify_audio_error (WzpCall *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUDIO_ERROR]);
}

void
_wzp_call_notify_stats (WzpCall *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATS]);
}

static const char *
enum_nick (GType type,
           int   value)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (type);
  GEnumValue *enum_value = g_enum_get_value (klass, value);

  return enum_value ? enum_value->value_nick : "?";
}

static void
emit_candidate_result (WzpCall            *self,
                       const char         *address,
                       WzpCandidateKind    kind,
                       WzpCandidateResult  result,
                       const char         *reason)
{
  int ms = ms_since_setup (self);

  g_string_append_printf (self->outcomes, "%s%s %s: %s%s%s (%d ms)",
                          self->outcomes->len ? "; " : "",
                          enum_nick (WZP_TYPE_CANDIDATE_KIND, kind), address,
                          enum_nick (WZP_TYPE_CANDIDATE_RESULT, result),
                          reason ? ", " : "", reason ? reason : "", ms);
  g_signal_emit (self, signals[SIGNAL_CANDIDATE_RESULT], 0, address, kind, result,
                 reason ? reason : "", ms);
}

/* The pending place_call/answer task. Cancelling it hangs the call up: there is no
 * half-placed or half-answered call. */
static gboolean
cancelled_idle_cb (gpointer user_data)
{
  WzpCall *self = user_data;

  if (self->state != WZP_CALL_STATE_ENDED)
    _wzp_call_end (self, WZP_HANGUP_REASON_NORMAL,
                   g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The call was cancelled"), TRUE);
  return G_SOURCE_REMOVE;
}

static void
task_cancelled_cb (GCancellable *cancellable,
                   WzpCall      *self)
{
  /* May run in any thread: finish in the call's main context. */
  _wzp_idle_add_full (self->context, G_PRIORITY_DEFAULT, cancelled_idle_cb, g_object_ref (self),
                      g_object_unref);
}

static void
set_task (WzpCall *self,
          GTask   *task)
{
  GCancellable *cancellable = g_task_get_cancellable (task);

  self->task = g_object_ref (task);
  if (cancellable != NULL)
    self->task_cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (task_cancelled_cb),
                                                  self, NULL);
}

static GTask *
take_task (WzpCall *self)
{
  GTask *task = g_steal_pointer (&self->task);

  if (task != NULL && self->task_cancel_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), self->task_cancel_id);
  self->task_cancel_id = 0;
  return task;
}

/* Ending */

static GError *
error_for_reason (WzpCall         *self,
                  WzpHangupReason  reason)
{
  switch (reason)
    {
    case WZP_HANGUP_REASON_DECLINED:
      return g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_DECLINED,
                          "%s declined the call", _wzp_call_peer_name (self));
    case WZP_HANGUP_REASON_BUSY:
      return g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_BUSY,
                          "%s is busy", _wzp_call_peer_name (self));
    case WZP_HANGUP_REASON_TIMEOUT:
      return g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_TIMEOUT,
                          "%s did not answer in time", _wzp_call_peer_name (self));
    case WZP_HANGUP_REASON_UNREACHABLE:
      return g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_UNREACHABLE,
                          "No connection to %s could be established", _wzp_call_peer_name (self));
    case WZP_HANGUP_REASON_NORMAL:
      return g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_HUNG_UP,
                          "The call with %s was hung up", _wzp_call_peer_name (self));
    case WZP_HANGUP_REASON_ERROR:
    default:
      return g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_FAILED,
                          "The call with %s failed", _wzp_call_peer_name (self));
    }
}

/* Cancels every round of direct attempts (and one waiting to start). */
static void
stop_races (WzpCall *self)
{
  _wzp_clear_source (self->context, &self->head_start_id);
  _wzp_clear_source (self->context, &self->reround_id);
  while (self->races->len > 0)
    {
      WzpRace *race = g_ptr_array_steal_index (self->races, self->races->len - 1);

      g_signal_handlers_disconnect_by_data (race, self);
      _wzp_race_stop (race);
      g_object_unref (race);
    }
}

static void
close_after_hangup_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(WzpPath) path = user_data;

  _wzp_frame_io_write_finish (WZP_FRAME_IO (source), result, NULL);
  _wzp_path_close (path);
}

void
_wzp_call_end (WzpCall         *self,
               WzpHangupReason  reason,
               GError          *error,
               gboolean         tell_peer)
{
  g_autoptr(WzpCall) keep = g_object_ref (self);
  g_autoptr(GError) owned = error;
  WzpPath *in_band = NULL;
  gboolean notify_reason;

  if (self->state == WZP_CALL_STATE_ENDED)
    return;

  if (owned == NULL)
    owned = error_for_reason (self, reason);

  if (tell_peer)
    {
      g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP,
                                                                self->call_id);

      _wzp_message_set_string (hangup, "reason", _wzp_hangup_reason_to_wire (reason));
      _wzp_call_send_signalling (self, hangup);
      /* Also on the end-to-end stream: the peer learns at once even if signalling is
       * slow or gone (docs/decisions.md, "Losing signalling is not the end of a call"). */
      WzpPath *agreed = _wzp_nominator_get_agreed (self->nominator);

      if (agreed != NULL && !agreed->closed)
        {
          in_band = agreed;
          _wzp_frame_io_write_async (in_band->io, hangup, NULL, close_after_hangup_cb,
                                     _wzp_path_ref (in_band));
        }
    }

  notify_reason = (self->end_reason != reason);
  self->end_reason = reason;
  g_free (self->error_message);
  self->error_message = g_strdup (owned->message);

  g_cancellable_cancel (self->cancellable);
  stop_races (self);
  g_ptr_array_set_size (self->early_accepted, 0);
  _wzp_clear_source (self->context, &self->early_timeout_id);
  _wzp_clear_source (self->context, &self->deadline_id);
  _wzp_nominator_stop (self->nominator, in_band);
  _wzp_call_voice_stop (self);

  if (self->task != NULL)
    {
      g_autoptr(GTask) task = take_task (self);
      g_task_return_error (task, g_error_copy (owned));
    }

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_CALL_ID", self->call_id,
                    "MESSAGE", "Call %s ended (%s): %s", self->call_id,
                    _wzp_hangup_reason_to_wire (reason), owned->message);

  set_reconnecting (self, FALSE);
  set_state (self, WZP_CALL_STATE_ENDED);
  if (notify_reason)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_END_REASON]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR_MESSAGE]);
  g_signal_emit (self, signals[SIGNAL_ENDED], 0, reason);

  if (self->sink.owner != NULL)
    self->sink.ended (self->sink.owner, self);
}

void
_wzp_call_abandon (WzpCall    *self,
                   const char *why)
{
  _wzp_call_end (self, WZP_HANGUP_REASON_ERROR,
                 g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_FAILED, "%s", why), FALSE);
}

/* Paths and nomination (docs/calls.md, "Nomination"; wzp-nominator.c) */

/* Both sides agreed on @path (NominateAck, or a Nominate followed): the call runs on it. */
static void
path_agreed_cb (WzpNominator *nominator,
                WzpPath      *path,
                WzpCall      *self)
{
  gboolean first = (self->phase != WZP_CALL_PHASE_CONNECTED);
  gboolean new_kind = (self->path_kind != path->kind);
  gboolean new_remote = (g_strcmp0 (self->remote_address, path->remote) != 0);
  g_autofree char *kind_text = g_enum_to_string (WZP_TYPE_PATH_KIND, path->kind);

  self->path_kind = path->kind;
  if (new_remote)
    {
      g_free (self->remote_address);
      self->remote_address = g_strdup (path->remote);
    }
  if (first)
    {
      self->phase = WZP_CALL_PHASE_CONNECTED;
      self->time_to_path = ms_since_setup (self);
    }

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_CALL_ID", self->call_id,
                    "MESSAGE", "Call %s: path %s via %s after %d ms", self->call_id,
                    path->remote, kind_text, self->time_to_path);

  if (new_kind)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH_KIND]);
  if (new_remote)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REMOTE_ADDRESS]);
  if (first)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIME_TO_PATH]);
  set_reconnecting (self, FALSE);
  set_state (self, WZP_CALL_STATE_ACTIVE);
  /* Both sides agreed, so the callee has answered: the devices open now. */
  _wzp_call_voice_start (self);
  if (path->kind != WZP_PATH_KIND_RELAY)
    {
      /* A direct path is as good as it gets: no more attempts (the nominator closed the
       * other paths, on the caller's side). */
      _wzp_clear_source (self->context, &self->deadline_id);
      stop_races (self);
    }
  g_signal_emit (self, signals[SIGNAL_PATH_CHANGED], 0);

  if (self->task != NULL)
    {
      g_autoptr(GTask) task = take_task (self);

      if (g_task_get_source_tag (task) == wzp_call_answer_async)
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_pointer (task, g_object_ref (self), g_object_unref);
    }
}

/* The agreed path died; the nominator looks for another until its recovery deadline. */
static void
path_lost_cb (WzpNominator *nominator,
              WzpCall      *self)
{
  set_reconnecting (self, TRUE);
}

static void
relay_needed_cb (WzpNominator *nominator,
                 WzpCall      *self)
{
  _wzp_call_ensure_pipe (self);
}

static void
recovery_failed_cb (WzpNominator *nominator,
                    WzpCall      *self)
{
  _wzp_call_end (self, WZP_HANGUP_REASON_UNREACHABLE,
                 g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_UNREACHABLE,
                              "The connection to %s was lost and no other could be made",
                              _wzp_call_peer_name (self)), TRUE);
}

static void
hung_up_cb (WzpNominator    *nominator,
            WzpHangupReason  reason,
            WzpCall         *self)
{
  _wzp_call_end (self, reason, NULL, FALSE);
}

/* A new authenticated path: while a round of dials runs, a spare is worth keeping. */
static void
add_path (WzpCall *self,
          WzpPath *path)
{
  _wzp_nominator_add_path (self->nominator, path, self->deadline_id != 0);
}

/* The relay pipe */

static void
pipe_opened_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(WzpCall) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpPath) path = _wzp_path_open_pipe_finish (result, &error);
  const char *pipe_addr = self->phase != WZP_CALL_PHASE_SIGNALLING ? self->pipe_addr : "";

  self->pipe_pending = FALSE;
  if (self->state == WZP_CALL_STATE_ENDED)
    return;

  if (path == NULL)
    {
      gboolean cancelled = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

      emit_candidate_result (self, pipe_addr, WZP_CANDIDATE_KIND_RELAY,
                             cancelled ? WZP_CANDIDATE_RESULT_CANCELLED
                                       : WZP_CANDIDATE_RESULT_FAILED,
                             error->message);
      if (g_error_matches (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_PIN_MISMATCH))
        _wzp_call_end (self, WZP_HANGUP_REASON_ERROR,
                       g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_IMPERSONATION,
                                    "The peer on the relay path is not %s: %s",
                                    _wzp_call_peer_name (self), error->message), TRUE);
      return;
    }

  emit_candidate_result (self, pipe_addr, WZP_CANDIDATE_KIND_RELAY, WZP_CANDIDATE_RESULT_OK,
                         NULL);
  add_path (self, path);
}

static void
open_pipe (WzpCall *self)
{
  if (self->pipe_pending || self->phase == WZP_CALL_PHASE_SIGNALLING)
    return;

  self->pipe_pending = TRUE;
  _wzp_path_open_pipe_async (self->pipe_addr, self->call_id, self->pipe_secret,
                             ++self->pipe_seq, self->identity, self->peer_fingerprint,
                             self->role, self->cancellable, pipe_opened_cb,
                             g_object_ref (self));
}

/* A pipe unless one is on its way or open: a party's new pipe replaces its old one at
 * the relay, which would cut a live relay path. (PipeRequested opens one regardless: it
 * means the relay holds no pipe of ours.) */
void
_wzp_call_ensure_pipe (WzpCall *self)
{
  if (!_wzp_nominator_has_relay_path (self->nominator))
    open_pipe (self);
}

/* The race: rounds of direct attempts. The first starts with CallSetup; a network change
 * on either side starts another with the peer's latest candidates (the older rounds run
 * on until the deadline or a direct nomination). */

static void
race_path_cb (WzpRace *race,
              WzpPath *path,
              WzpCall *self)
{
  add_path (self, path);
}

static void
race_result_cb (WzpRace            *race,
                const char         *address,
                WzpCandidateKind    kind,
                WzpCandidateResult  result,
                const char         *reason,
                WzpCall            *self)
{
  emit_candidate_result (self, address, kind, result, *reason ? reason : NULL);
}

static void
race_exhausted_cb (WzpRace *race,
                   WzpCall *self)
{
  /* Every direct attempt of a round failed: the relay need not wait for the head start;
   * with a path in use, nothing is missing. */
  if (_wzp_nominator_get_agreed (self->nominator) != NULL)
    return;
  _wzp_clear_source (self->context, &self->head_start_id);
  _wzp_call_ensure_pipe (self);
}

static gboolean
head_start_cb (gpointer user_data)
{
  WzpCall *self = user_data;

  self->head_start_id = 0;
  _wzp_call_ensure_pipe (self);
  return G_SOURCE_REMOVE;
}

/* Starts a round of dials to the peer's current candidates from our current addresses;
 * returns how many are promising (see _wzp_race_start()). */
static guint
start_round (WzpCall *self)
{
  WzpSharedPort *port = self->sink.owner ? self->port : NULL;
  g_auto(GStrv) own = NULL;
  WzpRace *race;

  /* Privacy: the relay pipe only, no addresses were shared. */
  if (self->privacy || port == NULL || self->peer_candidates == NULL)
    return 0;

  own = _wzp_local_candidates_dup_host (self->local);
  race = _wzp_race_new (self->call_id, self->role, self->identity, self->peer_fingerprint,
                        port, self->peer_candidates, (const char * const *) own);
  g_signal_connect (race, "path", G_CALLBACK (race_path_cb), self);
  g_signal_connect (race, "candidate-result", G_CALLBACK (race_result_cb), self);
  g_signal_connect (race, "exhausted", G_CALLBACK (race_exhausted_cb), self);
  g_ptr_array_add (self->races, race);
  self->last_round_us = g_get_monotonic_time ();
  return _wzp_race_start (race);
}

static void
start_race (WzpCall *self)
{
  guint n_direct = start_round (self);

  if (self->races->len > 0)
    {
      WzpRace *race = g_ptr_array_index (self->races, 0);

      for (guint i = 0; i < self->early_accepted->len; i++)
        _wzp_race_take_accepted (race, g_ptr_array_index (self->early_accepted, i));
    }
  g_ptr_array_set_size (self->early_accepted, 0);
  _wzp_clear_source (self->context, &self->early_timeout_id);

  /* The relay pipe gets going after the head start, or at once when there is nothing
   * direct to try. */
  if (n_direct == 0)
    open_pipe (self);
  else
    self->head_start_id = _wzp_timeout_add (self->context, HEAD_START_MS, head_start_cb, self);
}

static gboolean deadline_cb (gpointer user_data);

static void
run_round (WzpCall *self)
{
  guint n_rounds = self->races->len;

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_CALL_ID", self->call_id,
                    "MESSAGE", "Call %s: dialling the peer's candidates again", self->call_id);
  start_round (self);
  if (self->races->len == n_rounds)
    return;
  /* Once connected, each round gets the connect deadline; before, the call's own
   * deadline stands. At the deadline the attempts stop and spare paths close. */
  if (self->phase == WZP_CALL_PHASE_CONNECTED)
    {
      _wzp_clear_source (self->context, &self->deadline_id);
      self->deadline_id = _wzp_timeout_add (self->context, WZP_CALL_CONNECT_DEADLINE_MS,
                                            deadline_cb, self);
    }
}

static gboolean
reround_cb (gpointer user_data)
{
  WzpCall *self = user_data;

  self->reround_id = 0;
  run_round (self);
  return G_SOURCE_REMOVE;
}

/* A new round after a network change (ours or the peer's), at most one a second: a round
 * waiting to start dials whatever candidates are the latest by then. */
void
_wzp_call_request_round (WzpCall *self)
{
  gint64 since_ms = (g_get_monotonic_time () - self->last_round_us) / 1000;

  if (self->state == WZP_CALL_STATE_ENDED || self->phase == WZP_CALL_PHASE_SIGNALLING ||
      self->privacy || self->reround_id != 0)
    return;
  if (self->last_round_us != 0 && since_ms < REROUND_INTERVAL_MS)
    {
      self->reround_id = _wzp_timeout_add (self->context, REROUND_INTERVAL_MS - since_ms,
                                           reround_cb, self);
      return;
    }
  run_round (self);
}

gboolean
_wzp_call_matches_preamble (WzpCall      *self,
                            const guint8 *preamble)
{
  guint8 mine[WZP_PREAMBLE_LEN];

  _wzp_preamble_build (self->call_id, mine);
  return memcmp (mine, preamble, WZP_PREAMBLE_LEN) == 0;
}

/* Early dials: whoever knows the call id (the peer, but also the relay) can dial P while
 * the call rings, and each one held costs a descriptor: at most WZP_CALL_MAX_EARLY_ACCEPTED,
 * each for at most WZP_CALL_EARLY_ACCEPTED_MAX_S. */

#define EARLY_SINCE_KEY "wzp-early-since-s"

static gint64
early_since_s (GSocketConnection *connection)
{
  return GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (connection), EARLY_SINCE_KEY));
}

static gboolean early_timeout_cb (gpointer user_data);

static void
schedule_early_timeout (WzpCall *self)
{
  gint64 now_s = g_get_monotonic_time () / G_USEC_PER_SEC;
  gint64 left_s;

  _wzp_clear_source (self->context, &self->early_timeout_id);
  if (self->early_accepted->len == 0)
    return;
  left_s = early_since_s (g_ptr_array_index (self->early_accepted, 0)) +
           WZP_CALL_EARLY_ACCEPTED_MAX_S - now_s;
  self->early_timeout_id = _wzp_timeout_add_seconds (self->context, (guint) MAX (left_s, 1),
                                                     early_timeout_cb, self);
}

static gboolean
early_timeout_cb (gpointer user_data)
{
  WzpCall *self = user_data;
  gint64 now_s = g_get_monotonic_time () / G_USEC_PER_SEC;

  self->early_timeout_id = 0;
  while (self->early_accepted->len > 0 &&
         early_since_s (g_ptr_array_index (self->early_accepted, 0)) +
         WZP_CALL_EARLY_ACCEPTED_MAX_S <= now_s)
    {
      GSocketConnection *oldest = g_ptr_array_index (self->early_accepted, 0);

      g_io_stream_close (G_IO_STREAM (oldest), NULL, NULL);
      g_ptr_array_remove_index (self->early_accepted, 0);
    }
  schedule_early_timeout (self);
  return G_SOURCE_REMOVE;
}

static void
hold_early (WzpCall           *self,
            GSocketConnection *connection)
{
  gint64 now_s = g_get_monotonic_time () / G_USEC_PER_SEC;

  while (self->early_accepted->len >= WZP_CALL_MAX_EARLY_ACCEPTED)
    {
      g_io_stream_close (G_IO_STREAM (g_ptr_array_index (self->early_accepted, 0)), NULL, NULL);
      g_ptr_array_remove_index (self->early_accepted, 0);
    }
  g_object_set_data (G_OBJECT (connection), EARLY_SINCE_KEY, GSIZE_TO_POINTER ((gsize) now_s));
  g_ptr_array_add (self->early_accepted, g_object_ref (connection));
  if (self->early_timeout_id == 0)
    schedule_early_timeout (self);
}

guint
_wzp_call_get_n_early_accepted (WzpCall *self)
{
  return self->early_accepted->len;
}

void
_wzp_call_take_accepted (WzpCall           *self,
                         GSocketConnection *connection)
{
  /* The peer's dials belong to the newest round; with no round running (a direct path
   * was nominated, or the deadline passed) nothing is waiting for them. */
  if (self->state == WZP_CALL_STATE_ENDED || self->privacy)
    g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  else if (self->races->len > 0)
    _wzp_race_take_accepted (g_ptr_array_index (self->races, self->races->len - 1),
                             connection);
  else if (self->phase == WZP_CALL_PHASE_SIGNALLING)
    hold_early (self, connection);   /* keep for the race */
  else
    g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
}

/* Setup */

static gboolean
deadline_cb (gpointer user_data)
{
  WzpCall *self = user_data;

  self->deadline_id = 0;
  if (self->phase == WZP_CALL_PHASE_CONNECTED)
    {
      /* Connected (on the relay, or after a round of dials mid-call): the direct attempts
       * had their chance (docs/decisions.md, "Upgrade and fallback"); the caller closes
       * the spare paths, the callee follows. A call looking for a path again has its own
       * deadline (recover_timeout_cb). */
      stop_races (self);
      _wzp_nominator_close_spares (self->nominator);
      return G_SOURCE_REMOVE;
    }
  _wzp_call_end (self, WZP_HANGUP_REASON_UNREACHABLE,
                 g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_UNREACHABLE,
                              "No connection to %s within %d seconds (%s)",
                              _wzp_call_peer_name (self),
                              WZP_CALL_CONNECT_DEADLINE_MS / 1000,
                              self->outcomes->len ? self->outcomes->str : "no path was tried"),
                 TRUE);
  return G_SOURCE_REMOVE;
}

static void
handle_setup (WzpCall    *self,
              WzpMessage *setup)
{
  const char *peer = _wzp_message_get_string (setup, "peer_fingerprint");
  const char *role = _wzp_message_get_string (setup, "role");

  if (self->state != WZP_CALL_STATE_CALLING && self->state != WZP_CALL_STATE_RINGING &&
      self->state != WZP_CALL_STATE_CONNECTING)
    return;
  if (self->phase != WZP_CALL_PHASE_SIGNALLING)
    return;

  /* Pins never come from the relay (docs/decisions.md, "Pins never come from the relay"). */
  if (g_strcmp0 (peer, self->peer_fingerprint) != 0 ||
      g_strcmp0 (role, _wzp_call_role_to_wire (self->role)) != 0)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "WZP_CALL_ID", self->call_id,
                        "MESSAGE", "Call %s: the relay named peer %s (role %s), expected %s; "
                        "ending the call", self->call_id, peer, role, self->peer_fingerprint);
      _wzp_call_end (self, WZP_HANGUP_REASON_ERROR,
                     g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_IMPERSONATION,
                                  "The relay substituted the peer's identity (it named %s "
                                  "instead of %s); the call was ended", peer,
                                  self->peer_fingerprint), TRUE);
      return;
    }

  self->phase = WZP_CALL_PHASE_SET_UP;
  self->pipe_addr = g_strdup (_wzp_message_get_string (setup, "pipe_addr"));
  self->pipe_secret = g_strdup (_wzp_message_get_string (setup, "pipe_token"));
  /* The peer's host candidates are remote input that a relay, honest or not, passes on:
   * only those a host candidate can be are dialled (docs/candidates.md, "Dialling the
   * peer's host candidates"). */
  {
    g_auto(GStrv) offered = _wzp_message_dup_strv (setup, "peer_local_addrs");
    g_auto(GStrv) locals = _wzp_call_filter_peer_host_candidates (self, "CallSetup",
                                                                  (const char * const *) offered);

    const char *peer_nat = _wzp_message_get_string (setup, "peer_nat_type");
    WzpNatType nat = WZP_NAT_TYPE_UNKNOWN;

    if (peer_nat != NULL)
      _wzp_nat_type_from_wire (peer_nat, &nat);
    self->peer_candidates =
      _wzp_peer_candidates_new (_wzp_message_get_string (setup, "peer_direct_addr"),
                                (const char * const *) locals, nat);
  }
  self->setup_us = g_get_monotonic_time ();
  _wzp_call_notify_peer_candidates (self);
  g_signal_emit (self, signals[SIGNAL_SET_UP], 0);
  if (self->peer_alias == NULL && _wzp_message_get_string (setup, "peer_alias") != NULL)
    {
      self->peer_alias = g_strdup (_wzp_message_get_string (setup, "peer_alias"));
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_ALIAS]);
    }
  set_state (self, WZP_CALL_STATE_CONNECTING);
  self->deadline_id = _wzp_timeout_add (self->context, WZP_CALL_CONNECT_DEADLINE_MS, deadline_cb,
                                        self);
  _wzp_nominator_start_keepalive (self->nominator);

  start_race (self);
  /* Our network changed between the offer (or answer) and now: the peer dials what we
   * sent then, so tell it what holds now. This race already dials from the new one. */
  if (!self->privacy && self->sink.owner != NULL &&
      self->announced_serial != _wzp_local_candidates_get_serial (self->local))
    _wzp_call_send_candidate_update (self);
}

void
_wzp_call_handle_message (WzpCall    *self,
                          WzpMessage *message)
{
  g_autoptr(WzpCall) keep = g_object_ref (self);

  if (self->state == WZP_CALL_STATE_ENDED)
    return;

  switch (_wzp_message_get_message_type (message))
    {
    case WZP_MESSAGE_CALL_RINGING:
      if (self->state == WZP_CALL_STATE_CALLING)
        set_state (self, WZP_CALL_STATE_RINGING);
      break;

    case WZP_MESSAGE_DIRECT_CALL_ANSWER:
      {
        WzpAcceptMode mode = WZP_ACCEPT_MODE_REJECT;

        if (self->role != WZP_CALL_ROLE_CALLER)
          break;
        _wzp_accept_mode_from_wire (_wzp_message_get_string (message, "accept_mode"), &mode);
        if (mode == WZP_ACCEPT_MODE_REJECT)
          _wzp_call_end (self, WZP_HANGUP_REASON_DECLINED, NULL, FALSE);
        else if (mode == WZP_ACCEPT_MODE_PRIVACY)
          set_privacy (self, TRUE);
      }
      break;

    case WZP_MESSAGE_CALL_SETUP:
      handle_setup (self, message);
      break;

    case WZP_MESSAGE_HANGUP:
      {
        WzpHangupReason reason = WZP_HANGUP_REASON_NORMAL;

        _wzp_hangup_reason_from_wire (_wzp_message_get_string (message, "reason"), &reason);
        _wzp_call_end (self, reason, NULL, FALSE);
      }
      break;

    case WZP_MESSAGE_PIPE_REQUESTED:
      /* The peer opened a pipe: meet it there unless one is on the way or in use. While
       * we are on a direct path, the peer may have lost it (in one direction only,
       * perhaps), or opened its pipe while the paths still raced: the nominator asks on
       * the path, and opens the way to the relay (::relay-needed) only if the peer does
       * not answer there. */
      if (self->phase != WZP_CALL_PHASE_SIGNALLING)
        {
          WzpPath *agreed = _wzp_nominator_get_agreed (self->nominator);

          if (agreed == NULL)
            open_pipe (self);
          else if (agreed->kind != WZP_PATH_KIND_RELAY)
            _wzp_nominator_peer_wants_relay (self->nominator);
        }
      break;

    case WZP_MESSAGE_PEER_SIGNALLING_LOST:
      /* Not an end: the relay keeps the call while the peer comes back, and the call's path
       * does not need it (docs/decisions.md, "Losing signalling is not the end of a call"). */
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "WZP_CALL_ID", self->call_id,
                        "MESSAGE", "Call %s: the peer lost its relay connection; the call "
                        "goes on", self->call_id);
      break;

    case WZP_MESSAGE_CANDIDATE_UPDATE:
      _wzp_call_handle_candidate_update (self, message);
      break;

    case WZP_MESSAGE_ERROR:
      {
        const char *code = _wzp_message_get_string (message, "code");
        const char *text = _wzp_message_get_string (message, "message");

        if (g_strcmp0 (code, WZP_ERROR_CODE_UNKNOWN_CALLEE) == 0)
          _wzp_call_end (self, WZP_HANGUP_REASON_UNREACHABLE,
                         g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_UNKNOWN_PEER,
                                      "Nobody with fingerprint %s is connected to the relay",
                                      _wzp_call_peer_name (self)), FALSE);
        else if (self->phase == WZP_CALL_PHASE_SIGNALLING)
          _wzp_call_end (self, WZP_HANGUP_REASON_ERROR,
                         g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_FAILED,
                                      "The relay refused the call: %s", text), TRUE);
        else
          g_debug ("Call %s: relay error %s: %s", self->call_id, code, text);
      }
      break;

    default:
      break;
    }
}

void
_wzp_call_signalling_lost (WzpCall *self)
{
  /* Before set-up the relay ends the call too; after it, the call lives on its path. */
  if (self->phase == WZP_CALL_PHASE_SIGNALLING)
    _wzp_call_end (self, WZP_HANGUP_REASON_ERROR,
                   g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_FAILED,
                                "The connection to the relay was lost before the call was set up"),
                   FALSE);
}

/* Construction */

static WzpCall *
call_new (const WzpCallSink *sink,
          WzpIdentity       *identity,
          WzpSharedPort     *port,
          gboolean           loopback,
          const char        *call_id,
          WzpCallRole        role,
          const char        *peer_fingerprint)
{
  WzpCall *self = g_object_new (WZP_TYPE_CALL, NULL);

  self->sink = *sink;
  g_object_add_weak_pointer (self->sink.owner, (gpointer *) &self->sink.owner);
  self->identity = g_object_ref (identity);
  self->port = port ? g_object_ref (port) : NULL;
  self->loopback = loopback;
  self->local = _wzp_local_candidates_new_unknown (0);
  self->call_id = g_strdup (call_id);
  self->role = role;
  self->nominator = _wzp_nominator_new (call_id, role, self->cancellable);
  g_signal_connect (self->nominator, "path-agreed", G_CALLBACK (path_agreed_cb), self);
  g_signal_connect (self->nominator, "relay-needed", G_CALLBACK (relay_needed_cb), self);
  g_signal_connect (self->nominator, "failed", G_CALLBACK (recovery_failed_cb), self);
  g_signal_connect (self->nominator, "hung-up", G_CALLBACK (hung_up_cb), self);
  g_signal_connect (self->nominator, "path-lost", G_CALLBACK (path_lost_cb), self);
  self->peer_fingerprint = g_strdup (peer_fingerprint);
  return self;
}

WzpCall *
_wzp_call_new_outgoing (const WzpCallSink *sink,
                        WzpIdentity       *identity,
                        WzpSharedPort     *port,
                        gboolean           loopback,
                        const char        *peer_fingerprint,
                        gboolean           privacy)
{
  g_autofree char *call_id = g_uuid_string_random ();
  WzpCall *self = call_new (sink, identity, port, loopback, call_id, WZP_CALL_ROLE_CALLER,
                            peer_fingerprint);

  self->state = WZP_CALL_STATE_CALLING;
  self->privacy = privacy;
  self->client_privacy = privacy;
  return self;
}

WzpCall *
_wzp_call_new_incoming (const WzpCallSink *sink,
                        WzpIdentity       *identity,
                        WzpSharedPort     *port,
                        gboolean           loopback,
                        WzpMessage        *offer,
                        gboolean           privacy)
{
  WzpCall *self = call_new (sink, identity, port, loopback,
                            _wzp_message_get_string (offer, "call_id"), WZP_CALL_ROLE_CALLEE,
                            _wzp_message_get_string (offer, "caller_fingerprint"));

  self->state = WZP_CALL_STATE_INCOMING;
  self->peer_alias = g_strdup (_wzp_message_get_string (offer, "caller_alias"));
  self->caller_relay_fingerprint =
    g_strdup (_wzp_message_get_string (offer, "caller_relay_fingerprint"));
  self->client_privacy = privacy;
  return self;
}

void
_wzp_call_set_local_candidates (WzpCall            *self,
                                WzpLocalCandidates *local)
{
  _wzp_local_candidates_ref (local);
  g_clear_pointer (&self->local, _wzp_local_candidates_unref);
  self->local = local;
}

void
_wzp_call_set_client_privacy (WzpCall  *self,
                              gboolean  privacy)
{
  self->client_privacy = privacy;
}

void
_wzp_call_start (WzpCall    *self,
                 GTask      *task,
                 const char *alias)
{
  g_autoptr(WzpMessage) offer = _wzp_message_new_for_call (WZP_MESSAGE_DIRECT_CALL_OFFER,
                                                           self->call_id);

  set_task (self, task);
  _wzp_message_set_string (offer, "target_fingerprint", self->peer_fingerprint);
  _wzp_message_set_string (offer, "caller_alias", alias);
  if (!self->privacy)
    _wzp_local_candidates_fill (self->local, offer, "caller_reflexive_addr",
                                "caller_local_addrs", "caller_nat_type");
  self->announced_serial = _wzp_local_candidates_get_serial (self->local);
  _wzp_call_send_signalling (self, offer);
}

/* Public API */

/**
 * wzp_call_ring:
 * @self: an incoming call
 *
 * Tells the caller that this side is alerting its user (`CallRinging`). Call it when
 * the ring or notification actually starts; it does nothing after the first time.
 *
 * Since: 1.0
 */
void
wzp_call_ring (WzpCall *self)
{
  g_autoptr(WzpMessage) ringing = NULL;

  g_return_if_fail (WZP_IS_CALL (self));

  if (self->role != WZP_CALL_ROLE_CALLEE || self->state != WZP_CALL_STATE_INCOMING ||
      self->rang)
    return;
  self->rang = TRUE;
  ringing = _wzp_message_new_for_call (WZP_MESSAGE_CALL_RINGING, self->call_id);
  _wzp_call_send_signalling (self, ringing);
}

/**
 * wzp_call_answer_async:
 * @self: an incoming call
 * @mode: how to answer
 * @cancellable: (nullable): a #GCancellable; cancelling it hangs the call up
 * @callback: (scope async) (closure user_data): called when the call is connected or failed
 * @user_data: data for @callback
 *
 * Answers an incoming call. With %WZP_ACCEPT_MODE_TRUSTED this side's addresses are
 * shared so that a direct path can be found; with %WZP_ACCEPT_MODE_PRIVACY none are, and
 * the call runs over the relay. %WZP_ACCEPT_MODE_REJECT declines (and completes at once).
 *
 * Since: 1.0
 */
void
wzp_call_answer_async (WzpCall             *self,
                       WzpAcceptMode        mode,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(WzpMessage) answer = NULL;

  g_return_if_fail (WZP_IS_CALL (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, wzp_call_answer_async);

  if (self->role != WZP_CALL_ROLE_CALLEE || self->state != WZP_CALL_STATE_INCOMING)
    {
      g_task_return_new_error (task, WZP_CALL_ERROR, WZP_CALL_ERROR_NOT_INCOMING,
                               "This call is not waiting for an answer");
      return;
    }

  answer = _wzp_message_new_for_call (WZP_MESSAGE_DIRECT_CALL_ANSWER, self->call_id);
  _wzp_message_set_string (answer, "accept_mode", _wzp_accept_mode_to_wire (mode));

  if (mode == WZP_ACCEPT_MODE_REJECT)
    {
      _wzp_call_send_signalling (self, answer);
      _wzp_call_end (self, WZP_HANGUP_REASON_DECLINED,
                     g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_DECLINED, "You declined the call"),
                     FALSE);
      g_task_return_boolean (task, TRUE);
      return;
    }

  set_privacy (self, mode == WZP_ACCEPT_MODE_PRIVACY ||
                     (self->sink.owner != NULL && self->client_privacy));
  if (self->privacy)
    _wzp_message_set_string (answer, "accept_mode",
                             _wzp_accept_mode_to_wire (WZP_ACCEPT_MODE_PRIVACY));
  else if (self->sink.owner != NULL)
    {
      _wzp_local_candidates_fill (self->local, answer, "callee_reflexive_addr",
                                  "callee_local_addrs", "callee_nat_type");
      self->announced_serial = _wzp_local_candidates_get_serial (self->local);
    }

  set_task (self, task);
  set_state (self, WZP_CALL_STATE_CONNECTING);
  _wzp_call_send_signalling (self, answer);
}

/**
 * wzp_call_answer_finish:
 * @self: a call
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE once the call is connected (or was declined as asked)
 *
 * Since: 1.0
 */
gboolean
wzp_call_answer_finish (WzpCall       *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == wzp_call_answer_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * wzp_call_hangup:
 * @self: a call
 *
 * Ends the call. The peer learns at once, over the relay and over the call's own path.
 * Hanging up an incoming call that was not answered declines it.
 *
 * Since: 1.0
 */
void
wzp_call_hangup (WzpCall *self)
{
  g_return_if_fail (WZP_IS_CALL (self));

  if (self->state == WZP_CALL_STATE_ENDED)
    return;

  if (self->state == WZP_CALL_STATE_INCOMING)
    {
      g_autoptr(WzpMessage) answer = _wzp_message_new_for_call (WZP_MESSAGE_DIRECT_CALL_ANSWER,
                                                                self->call_id);

      _wzp_message_set_string (answer, "accept_mode",
                               _wzp_accept_mode_to_wire (WZP_ACCEPT_MODE_REJECT));
      _wzp_call_send_signalling (self, answer);
      _wzp_call_end (self, WZP_HANGUP_REASON_DECLINED,
                     g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_DECLINED, "You declined the call"),
                     FALSE);
      return;
    }

  _wzp_call_end (self, WZP_HANGUP_REASON_NORMAL,
                 g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_HUNG_UP, "You hung up"), TRUE);
}

/**
 * wzp_call_decline:
 * @self: an incoming call
 * @reason: %WZP_HANGUP_REASON_DECLINED or %WZP_HANGUP_REASON_BUSY
 *
 * Refuses an incoming call that has not been answered, saying why: the caller's call
 * ends with @reason, so its [method@Wzp.Client.place_call_async] fails with
 * %WZP_CALL_ERROR_DECLINED or %WZP_CALL_ERROR_BUSY and its
 * [property@Wzp.Call:end-reason] is @reason. %WZP_HANGUP_REASON_BUSY is for a call
 * that arrives while the user is in another call (or being rung by one): the caller is
 * told that the line is busy, not that the user turned them down.
 * %WZP_HANGUP_REASON_DECLINED is what [method@Wzp.Call.hangup] and
 * %WZP_ACCEPT_MODE_REJECT do.
 *
 * This call then ends too, with @reason as its [property@Wzp.Call:end-reason] and a
 * sentence in [property@Wzp.Call:error-message]. On a call that is no longer waiting for
 * an answer (answered, or an outgoing call), this hangs up as [method@Wzp.Call.hangup]
 * does; on an ended call it does nothing.
 *
 * Since: 1.0
 */
void
wzp_call_decline (WzpCall         *self,
                  WzpHangupReason  reason)
{
  g_autoptr(WzpMessage) message = NULL;

  g_return_if_fail (WZP_IS_CALL (self));
  g_return_if_fail (reason == WZP_HANGUP_REASON_DECLINED || reason == WZP_HANGUP_REASON_BUSY);

  if (self->state != WZP_CALL_STATE_INCOMING)
    {
      wzp_call_hangup (self);
      return;
    }
  if (reason == WZP_HANGUP_REASON_DECLINED)
    {
      wzp_call_hangup (self);   /* declines, as DirectCallAnswer{Reject} */
      return;
    }

  /* Busy is a Hangup with its reason (docs/protocol.md, "Calls at the relay"): the relay
   * ends the call and passes the reason to the caller, as it does when it finds the callee
   * busy itself. Nothing was answered, so there is no path to tell. */
  message = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, self->call_id);
  _wzp_message_set_string (message, "reason", _wzp_hangup_reason_to_wire (reason));
  _wzp_call_send_signalling (self, message);
  _wzp_call_end (self, reason,
                 g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_BUSY,
                              "You were busy; %s was told so", _wzp_call_peer_name (self)),
                 FALSE);
}

/**
 * wzp_call_get_call_id:
 * @self: a call
 *
 * Returns: the call's id (a UUID chosen by the caller)
 *
 * Since: 1.0
 */
const char *
wzp_call_get_call_id (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), NULL);
  return self->call_id;
}

/**
 * wzp_call_get_state:
 * @self: a call
 *
 * Returns: the call's state
 *
 * Since: 1.0
 */
WzpCallState
wzp_call_get_state (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), WZP_CALL_STATE_ENDED);
  return self->state;
}

/**
 * wzp_call_get_role:
 * @self: a call
 *
 * Returns: whether this side placed or received the call
 *
 * Since: 1.0
 */
WzpCallRole
wzp_call_get_role (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), WZP_CALL_ROLE_CALLER);
  return self->role;
}

/**
 * wzp_call_get_peer_fingerprint:
 * @self: a call
 *
 * The peer's fingerprint: the one dialled, or the one the incoming call came from. Every
 * path of the call is authenticated against it.
 *
 * Returns: the peer's fingerprint
 *
 * Since: 1.0
 */
const char *
wzp_call_get_peer_fingerprint (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), NULL);
  return self->peer_fingerprint;
}

/**
 * wzp_call_get_peer_alias:
 * @self: a call
 *
 * The name the peer gave itself. Anyone can call themselves anything: show it only
 * next to the fingerprint or a contact's name, never instead.
 *
 * Returns: (nullable): the peer's alias
 *
 * Since: 1.0
 */
const char *
wzp_call_get_peer_alias (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), NULL);
  return self->peer_alias;
}

/**
 * wzp_call_get_caller_relay_fingerprint:
 * @self: a call
 *
 * For an incoming call from a user of another relay, federated with yours: the
 * fingerprint of that relay, the caller's home relay. Your relay checked that the
 * caller signed their registration there; it says nothing more about who the caller is
 * than [property@Wzp.Call:peer-fingerprint] does. %NULL for a call from a user of your
 * own relay, and for outgoing calls.
 *
 * This is how the call was *signalled*, not how its voice travels: the media path is
 * [property@Wzp.Call:path-kind].
 *
 * Returns: (nullable): the caller's relay's fingerprint, or %NULL
 *
 * Since: 1.0
 */
const char *
wzp_call_get_caller_relay_fingerprint (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), NULL);
  return self->caller_relay_fingerprint;
}

/**
 * wzp_call_get_privacy:
 * @self: a call
 *
 * Returns: %TRUE if no addresses were shared and the call runs over the relay only
 *
 * Since: 1.0
 */
gboolean
wzp_call_get_privacy (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), FALSE);
  return self->privacy;
}

/**
 * wzp_call_get_path_kind:
 * @self: a call
 *
 * Returns: the kind of the nominated path
 *
 * Since: 1.0
 */
WzpPathKind
wzp_call_get_path_kind (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), WZP_PATH_KIND_NONE);
  return self->path_kind;
}

/**
 * wzp_call_get_remote_address:
 * @self: a call
 *
 * Returns: (nullable): the address at the other end of the nominated path (the relay's
 *   pipe address for a relayed call)
 *
 * Since: 1.0
 */
const char *
wzp_call_get_remote_address (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), NULL);
  return self->remote_address;
}

/**
 * wzp_call_get_time_to_path:
 * @self: a call
 *
 * Returns: milliseconds from `CallSetup` to the first nominated path, or -1
 *
 * Since: 1.0
 */
int
wzp_call_get_time_to_path (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), -1);
  return self->time_to_path;
}

/**
 * wzp_call_get_end_reason:
 * @self: a call
 *
 * Returns: why the call ended (meaningful once [property@Wzp.Call:state] is
 *   %WZP_CALL_STATE_ENDED)
 *
 * Since: 1.0
 */
WzpHangupReason
wzp_call_get_end_reason (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), WZP_HANGUP_REASON_ERROR);
  return self->end_reason;
}

/**
 * wzp_call_get_error_message:
 * @self: a call
 *
 * Returns: (nullable): once ended, a sentence saying why, for the user
 *
 * Since: 1.0
 */
const char *
wzp_call_get_error_message (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), NULL);
  return self->error_message;
}

/**
 * wzp_call_get_peer_direct_address:
 * @self: a call
 *
 * Returns: (nullable): the peer's reflexive address from `CallSetup`, or from the peer's
 *   latest `CandidateUpdate` after its network changed
 *
 * Since: 1.0
 */
const char *
wzp_call_get_peer_direct_address (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), NULL);
  return self->peer_candidates ? _wzp_peer_candidates_get_reflexive (self->peer_candidates)
                               : NULL;
}

/**
 * wzp_call_dup_peer_local_addresses:
 * @self: a call
 *
 * Returns: (transfer full): the peer's host candidates from `CallSetup`, or from the
 *   peer's latest `CandidateUpdate`, as far as they are dialled: at most 16, of the
 *   classes a host candidate can have, on one port (empty before set-up and in privacy
 *   mode)
 *
 * Since: 1.0
 */
GStrv
wzp_call_dup_peer_local_addresses (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), NULL);
  if (self->peer_candidates == NULL)
    return g_new0 (char *, 1);
  return _wzp_peer_candidates_dup_host (self->peer_candidates);
}

/* GObject */

/**
 * wzp_call_get_muted:
 * @self: a call
 *
 * Returns: whether the microphone is muted
 *
 * Since: 1.0
 */
gboolean
wzp_call_get_muted (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), FALSE);
  return self->muted;
}

/**
 * wzp_call_set_muted:
 * @self: a call
 * @muted: whether to mute the microphone
 *
 * Mutes or unmutes this side. Muted, the call keeps sending frames of the same size at
 * the same rate, carrying silence, so that nobody on the way can tell.
 *
 * Since: 1.0
 */
void
wzp_call_set_muted (WzpCall  *self,
                    gboolean  muted)
{
  g_return_if_fail (WZP_IS_CALL (self));

  muted = !!muted;
  if (self->muted == muted)
    return;
  self->muted = muted;
  _wzp_call_voice_set_muted (self, muted);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MUTED]);
}

/**
 * wzp_call_get_volume:
 * @self: a call
 *
 * Returns: the playback volume of the other side's voice
 *
 * Since: 1.0
 */
double
wzp_call_get_volume (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), 1.0);
  return self->volume;
}

/**
 * wzp_call_switch_audio_device:
 * @self: a call
 * @direction: %WZP_AUDIO_DIRECTION_SOURCE for the microphone, %WZP_AUDIO_DIRECTION_SINK
 *   for the output
 * @device: (nullable): what [property@Wzp.Client:audio-source] or
 *   [property@Wzp.Client:audio-sink] would take: a device's id
 *   ([property@Wzp.AudioDevice:id]), a GStreamer launch description, `none`, or %NULL for
 *   the system's default
 *
 * Moves this call's microphone or output to @device now, during the call (the client's
 * properties apply to the calls made after they are set). The call stays muted if it was
 * and keeps its volume. The other side hears a short gap, which its playout buffer
 * conceals; a new output restarts the capture too (the echo canceller finds its probe
 * when it starts). A device that cannot be opened is replaced by the system's default, and
 * [property@Wzp.Call:audio-error] says so; one that works clears what audio-error said
 * about that direction (the other direction's problem, if any, stays). Does nothing in a
 * call without voice.
 *
 * Since: 1.0
 */
void
wzp_call_switch_audio_device (WzpCall           *self,
                              WzpAudioDirection  direction,
                              const char        *device)
{
  g_return_if_fail (WZP_IS_CALL (self));

  if (self->state == WZP_CALL_STATE_ENDED)
    return;
  _wzp_call_voice_set_device (self, direction, device);
}

/**
 * wzp_call_set_volume:
 * @self: a call
 * @volume: from 0.0 (silent) through 1.0 (as received) to 4.0
 *
 * Sets how loud the other side's voice is played.
 *
 * Since: 1.0
 */
void
wzp_call_set_volume (WzpCall *self,
                     double   volume)
{
  g_return_if_fail (WZP_IS_CALL (self));

  volume = CLAMP (volume, 0.0, 4.0);
  if (self->volume == volume)
    return;
  self->volume = volume;
  _wzp_call_voice_set_volume (self, volume);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VOLUME]);
}

/**
 * wzp_call_get_audio_error:
 * @self: a call
 *
 * Returns: (nullable): what went wrong with this side's audio (no GStreamer, a device
 *   that cannot be opened or failed, a chosen device replaced by the system's default),
 *   or %NULL while voice works as chosen or none was wanted
 *
 * Since: 1.0
 */
const char *
wzp_call_get_audio_error (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), NULL);
  return self->audio_error;
}

/**
 * wzp_call_get_reconnecting:
 * @self: a call
 *
 * Whether the call lost the path it ran on and is looking for another: see
 * [property@Wzp.Call:reconnecting].
 *
 * Returns: %TRUE from the loss until a new path is agreed or the call ends
 *
 * Since: 1.0
 */
gboolean
wzp_call_get_reconnecting (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), FALSE);
  return self->reconnecting;
}

/**
 * wzp_call_get_stats:
 * @self: a call
 *
 * The call's statistics, refreshed about once a second from the moment both sides agree
 * on a path (#GObject::notify tells when): a dictionary (`a{sv}`) with
 * `rtt-ms` (x: the round trip on the path, -1 before one is measured),
 * `frames-sent`, `frames-received`, `frames-played`, `frames-concealed` (frames missing
 * at their time, which the decoder made up), `frames-late` (arrived after their time,
 * dropped), `frames-dropped` (this side's audio that waited too long to be sent)
 * (all t), `playout-delay-ms` (x: how long received audio waits before it is played)
 * and `bitrate` (x: bits per second of voice sent, frame headers included).
 *
 * Returns: (transfer none) (nullable): the statistics, or %NULL before the first
 *
 * Since: 1.0
 */
GVariant *
wzp_call_get_stats (WzpCall *self)
{
  g_return_val_if_fail (WZP_IS_CALL (self), NULL);
  return self->stats;
}

static void
wzp_call_set_property (GObject      *object,
                       guint         prop_id,
                       const GValue *value,
                       GParamSpec   *pspec)
{
  WzpCall *self = WZP_CALL (object);

  switch (prop_id)
    {
    case PROP_MUTED:
      wzp_call_set_muted (self, g_value_get_boolean (value));
      break;
    case PROP_VOLUME:
      wzp_call_set_volume (self, g_value_get_double (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
wzp_call_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  WzpCall *self = WZP_CALL (object);

  switch (prop_id)
    {
    case PROP_CALL_ID:
      g_value_set_string (value, self->call_id);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_ROLE:
      g_value_set_enum (value, self->role);
      break;
    case PROP_PEER_FINGERPRINT:
      g_value_set_string (value, self->peer_fingerprint);
      break;
    case PROP_PEER_ALIAS:
      g_value_set_string (value, self->peer_alias);
      break;
    case PROP_CALLER_RELAY_FINGERPRINT:
      g_value_set_string (value, self->caller_relay_fingerprint);
      break;
    case PROP_PRIVACY:
      g_value_set_boolean (value, self->privacy);
      break;
    case PROP_PATH_KIND:
      g_value_set_enum (value, self->path_kind);
      break;
    case PROP_REMOTE_ADDRESS:
      g_value_set_string (value, self->remote_address);
      break;
    case PROP_TIME_TO_PATH:
      g_value_set_int (value, self->time_to_path);
      break;
    case PROP_END_REASON:
      g_value_set_enum (value, self->end_reason);
      break;
    case PROP_ERROR_MESSAGE:
      g_value_set_string (value, self->error_message);
      break;
    case PROP_PEER_DIRECT_ADDRESS:
      g_value_set_string (value, wzp_call_get_peer_direct_address (self));
      break;
    case PROP_PEER_LOCAL_ADDRESSES:
      g_value_take_boxed (value, wzp_call_dup_peer_local_addresses (self));
      break;
    case PROP_MUTED:
      g_value_set_boolean (value, self->muted);
      break;
    case PROP_VOLUME:
      g_value_set_double (value, self->volume);
      break;
    case PROP_AUDIO_ERROR:
      g_value_set_string (value, self->audio_error);
      break;
    case PROP_RECONNECTING:
      g_value_set_boolean (value, self->reconnecting);
      break;
    case PROP_STATS:
      g_value_set_variant (value, self->stats);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
wzp_call_dispose (GObject *object)
{
  WzpCall *self = WZP_CALL (object);

  if (self->sink.owner != NULL)
    {
      g_object_remove_weak_pointer (self->sink.owner, (gpointer *) &self->sink.owner);
      self->sink.owner = NULL;
    }
  g_cancellable_cancel (self->cancellable);
  stop_races (self);
  _wzp_clear_source (self->context, &self->deadline_id);
  _wzp_clear_source (self->context, &self->stats_id);
  if (self->nominator != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->nominator, self);
      g_object_run_dispose (G_OBJECT (self->nominator));
      g_clear_object (&self->nominator);
    }
  if (self->voice != NULL)
    {
      _wzp_voice_stop (self->voice);
      g_signal_handlers_disconnect_by_data (self->voice, self);
      g_clear_object (&self->voice);
    }
  if (self->task != NULL)
    {
      g_autoptr(GTask) task = take_task (self);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The call went away");
    }

  G_OBJECT_CLASS (wzp_call_parent_class)->dispose (object);
}

static void
wzp_call_finalize (GObject *object)
{
  WzpCall *self = WZP_CALL (object);

  g_clear_object (&self->identity);
  g_clear_object (&self->port);
  g_clear_pointer (&self->local, _wzp_local_candidates_unref);
  g_clear_object (&self->cancellable);
  g_free (self->pipe_addr);
  g_free (self->pipe_secret);
  g_clear_pointer (&self->peer_candidates, _wzp_peer_candidates_unref);
  g_clear_pointer (&self->races, g_ptr_array_unref);
  _wzp_clear_source (self->context, &self->early_timeout_id);
  g_clear_pointer (&self->early_accepted, g_ptr_array_unref);
  g_string_free (self->outcomes, TRUE);
  g_free (self->call_id);
  g_free (self->peer_fingerprint);
  g_free (self->peer_alias);
  g_free (self->caller_relay_fingerprint);
  g_free (self->remote_address);
  g_free (self->error_message);
  g_free (self->audio_error);
  g_free (self->audio_errors[WZP_AUDIO_DIRECTION_SOURCE]);
  g_free (self->audio_errors[WZP_AUDIO_DIRECTION_SINK]);
  g_clear_pointer (&self->stats, g_variant_unref);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (wzp_call_parent_class)->finalize (object);
}

static void
wzp_call_class_init (WzpCallClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = wzp_call_get_property;
  object_class->set_property = wzp_call_set_property;
  object_class->dispose = wzp_call_dispose;
  object_class->finalize = wzp_call_finalize;

  /**
   * WzpCall:call-id:
   *
   * The call's id.
   *
   * Since: 1.0
   */
  properties[PROP_CALL_ID] =
    g_param_spec_string ("call-id", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:state:
   *
   * Where the call is in its life.
   *
   * Since: 1.0
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, WZP_TYPE_CALL_STATE, WZP_CALL_STATE_CALLING,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:role:
   *
   * Whether this side placed or received the call.
   *
   * Since: 1.0
   */
  properties[PROP_ROLE] =
    g_param_spec_enum ("role", NULL, NULL, WZP_TYPE_CALL_ROLE, WZP_CALL_ROLE_CALLER,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:peer-fingerprint:
   *
   * The peer's fingerprint, against which every path is authenticated.
   *
   * Since: 1.0
   */
  properties[PROP_PEER_FINGERPRINT] =
    g_param_spec_string ("peer-fingerprint", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:peer-alias:
   *
   * The name the peer gave itself (not verified by anyone).
   *
   * Since: 1.0
   */
  properties[PROP_PEER_ALIAS] =
    g_param_spec_string ("peer-alias", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:caller-relay-fingerprint:
   *
   * For an incoming call from a user of a federated relay: that relay's fingerprint
   * (see wzp_call_get_caller_relay_fingerprint()). It does not change during a call.
   *
   * Since: 1.0
   */
  properties[PROP_CALLER_RELAY_FINGERPRINT] =
    g_param_spec_string ("caller-relay-fingerprint", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:privacy:
   *
   * Whether the call shares no addresses and runs over the relay only.
   *
   * Since: 1.0
   */
  properties[PROP_PRIVACY] =
    g_param_spec_boolean ("privacy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:path-kind:
   *
   * The kind of the nominated path: direct on the LAN, direct across the internet, or
   * through the relay.
   *
   * Since: 1.0
   */
  properties[PROP_PATH_KIND] =
    g_param_spec_enum ("path-kind", NULL, NULL, WZP_TYPE_PATH_KIND, WZP_PATH_KIND_NONE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:remote-address:
   *
   * The address at the other end of the nominated path.
   *
   * Since: 1.0
   */
  properties[PROP_REMOTE_ADDRESS] =
    g_param_spec_string ("remote-address", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:time-to-path:
   *
   * Milliseconds from `CallSetup` to the first nominated path, or -1.
   *
   * Since: 1.0
   */
  properties[PROP_TIME_TO_PATH] =
    g_param_spec_int ("time-to-path", NULL, NULL, -1, G_MAXINT, -1,
                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:end-reason:
   *
   * Why the call ended.
   *
   * Since: 1.0
   */
  properties[PROP_END_REASON] =
    g_param_spec_enum ("end-reason", NULL, NULL, WZP_TYPE_HANGUP_REASON,
                       WZP_HANGUP_REASON_NORMAL,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:error-message:
   *
   * Once ended, a sentence saying why.
   *
   * Since: 1.0
   */
  properties[PROP_ERROR_MESSAGE] =
    g_param_spec_string ("error-message", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:peer-direct-address:
   *
   * The peer's reflexive address, as the relay gave it in `CallSetup` (%NULL in privacy
   * mode or before set-up); after the peer's network changed, the one from its
   * `CandidateUpdate`.
   *
   * Since: 1.0
   */
  properties[PROP_PEER_DIRECT_ADDRESS] =
    g_param_spec_string ("peer-direct-address", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:peer-local-addresses:
   *
   * The peer's host candidates from `CallSetup`, in dial order; after the peer's network
   * changed, the ones from its `CandidateUpdate`. Only those that are dialled: at most
   * 16, of the classes a host candidate can have, on one port.
   *
   * Since: 1.0
   */
  properties[PROP_PEER_LOCAL_ADDRESSES] =
    g_param_spec_boxed ("peer-local-addresses", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:muted:
   *
   * Whether this side's microphone is muted. Frames keep flowing at the same size and
   * rate, carrying silence.
   *
   * Since: 1.0
   */
  properties[PROP_MUTED] =
    g_param_spec_boolean ("muted", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:volume:
   *
   * How loud the other side's voice is played: 0.0 is silent, 1.0 as received, up to
   * 4.0.
   *
   * Since: 1.0
   */
  properties[PROP_VOLUME] =
    g_param_spec_double ("volume", NULL, NULL, 0.0, 4.0, 1.0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:audio-error:
   *
   * What went wrong with this side's audio, in words for the user: voice is not
   * available in this build, a device could not be opened or failed during the call, or
   * the device chosen in [property@Wzp.Client:audio-source] or
   * [property@Wzp.Client:audio-sink] is not there (any more) and the call uses the
   * system's default instead. %NULL while voice works as chosen, and in a call made
   * without audio. The call goes on either way.
   *
   * Since: 1.0
   */
  properties[PROP_AUDIO_ERROR] =
    g_param_spec_string ("audio-error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:stats:
   *
   * The call's statistics, refreshed about once a second: see wzp_call_get_stats().
   *
   * Since: 1.0
   */
  properties[PROP_STATS] =
    g_param_spec_variant ("stats", NULL, NULL, G_VARIANT_TYPE_VARDICT, NULL,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpCall:reconnecting:
   *
   * Whether the path the call ran on was lost and the call is looking for another (a
   * spare path or the relay) within its recovery deadline. It goes back to %FALSE when a
   * new path is agreed ([signal@Wzp.Call::path-changed]) or the call ends (as
   * unreachable, if none was found in time). Voice is silent meanwhile.
   *
   * Since: 1.0
   */
  properties[PROP_RECONNECTING] =
    g_param_spec_boolean ("reconnecting", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * WzpCall::set-up:
   * @self: the call
   *
   * Emitted once, when the relay's `CallSetup` arrived: both sides now look for a path,
   * [property@Wzp.Call:peer-direct-address] and [property@Wzp.Call:peer-local-addresses]
   * say what the peer shared, and the `ms` of
   * [signal@Wzp.Call::candidate-result] count from here.
   *
   * Since: 1.0
   */
  signals[SIGNAL_SET_UP] =
    g_signal_new ("set-up", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * WzpCall::candidate-result:
   * @self: the call
   * @address: the candidate (or the relay's pipe address)
   * @kind: what the attempt went to
   * @result: how it ended
   * @reason: why it failed, or an empty string
   * @ms: milliseconds since `CallSetup`
   *
   * Emitted for every path attempt's outcome.
   *
   * Since: 1.0
   */
  signals[SIGNAL_CANDIDATE_RESULT] =
    g_signal_new ("candidate-result", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 5, G_TYPE_STRING, WZP_TYPE_CANDIDATE_KIND,
                  WZP_TYPE_CANDIDATE_RESULT, G_TYPE_STRING, G_TYPE_INT);

  /**
   * WzpCall::path-changed:
   * @self: the call
   *
   * Emitted when a path is nominated (the first time, and on every switch).
   *
   * Since: 1.0
   */
  signals[SIGNAL_PATH_CHANGED] =
    g_signal_new ("path-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * WzpCall::ended:
   * @self: the call
   * @reason: why
   *
   * Emitted once, when the call ends.
   *
   * Since: 1.0
   */
  signals[SIGNAL_ENDED] =
    g_signal_new ("ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, WZP_TYPE_HANGUP_REASON);
}

static void
wzp_call_init (WzpCall *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->cancellable = g_cancellable_new ();
  self->outcomes = g_string_new (NULL);
  self->early_accepted = g_ptr_array_new_with_free_func (g_object_unref);
  self->races = g_ptr_array_new ();
  self->time_to_path = -1;
  self->volume = 1.0;
}
