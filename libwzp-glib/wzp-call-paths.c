/* wzp-call-paths.c: a call's paths and the nomination (docs/calls.md, "Nomination")
 *
 * Every authenticated path (the relay pipe, direct connections a race found) is read
 * here; the caller nominates the best one and, when a better one comes, the newer
 * nomination supersedes it; the callee follows Nominate. A nominated path that goes
 * silent or fails falls back to the relay (or a spare path) within a recovery deadline.
 * It is apart from wzp-call.c because it is the call's path-switching state machine:
 * wzp-call.c owns the call's life (offer, setup, answer, end) and switches to a path
 * with _wzp_call_use_path() once this file has agreed on one with the peer.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-call-private.h"
#include "wzp-enum-types.h"
#include "wzp-error.h"
#include "wzp-timeout-private.h"

/* A nominated path silent this long is dead (docs/decisions.md, "Upgrade and fallback"). */
#define SILENCE_MS 3000
/* After losing the nominated path, this long to find another before the call ends. */
#define RECOVER_MS 10000

static void path_read_next (WzpCall *self,
                            WzpPath *path);

typedef struct
{
  WzpCall *call;
  WzpPath *path;
} PathRead;

static void
path_read_free (PathRead *data)
{
  g_object_unref (data->call);
  _wzp_path_unref (data->path);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PathRead, path_read_free)

static void try_nominate (WzpCall *self);

/* After a nomination failed: the next path; while recovering a lost path, at least the
 * relay. */
static void
nominate_next (WzpCall *self)
{
  try_nominate (self);
  if (self->nominated == NULL && self->pending == NULL && self->recover_id != 0 &&
      self->state != WZP_CALL_STATE_ENDED)
    _wzp_call_ensure_pipe (self);
}

static gboolean
ack_timeout_cb (gpointer user_data)
{
  WzpCall *self = user_data;
  WzpPath *path = self->pending;

  self->ack_timeout_id = 0;
  self->pending = NULL;
  if (path != NULL)
    {
      g_debug ("Call %s: no NominateAck on %s within %d ms", self->call_id, path->remote,
               WZP_CALL_NOMINATE_ACK_MS);
      _wzp_path_close (path);
      g_ptr_array_remove (self->paths, path);
    }
  nominate_next (self);
  return G_SOURCE_REMOVE;
}

/* Direct on the LAN beats direct across the internet beats the relay. */
static int
path_rank (WzpPath *path)
{
  switch (path->kind)
    {
    case WZP_PATH_KIND_DIRECT_LAN:
      return 3;
    case WZP_PATH_KIND_DIRECT_INTERNET:
      return 2;
    case WZP_PATH_KIND_RELAY:
    case WZP_PATH_KIND_NONE:
    default:
      return 1;
    }
}

/* The caller nominates the best authenticated path (and, on ack timeout, the next). Once
 * a path is nominated, only a better one replaces it: on the relay a direct path (an
 * upgrade: docs/decisions.md, "Upgrade and fallback"), across the internet a LAN path
 * (after a network change). On a direct path the peer cannot hear (it asked for a pipe),
 * only the relay. */
static void
try_nominate (WzpCall *self)
{
  g_autoptr(WzpMessage) nominate = NULL;
  WzpPath *path = NULL;

  if (self->role != WZP_CALL_ROLE_CALLER || self->state == WZP_CALL_STATE_ENDED)
    return;

  for (guint i = 0; i < self->paths->len; i++)
    {
      WzpPath *candidate = g_ptr_array_index (self->paths, i);

      if (candidate->closed || candidate == self->nominated || candidate == self->pending)
        continue;
      /* A nomination still waiting for its ack gives way only to a better path (a direct
       * one while the relay's Nominate is on its way, a LAN one while an internet one's
       * is): the newer seq wins at the callee whichever Nominate arrives first (item 3),
       * and the superseded path stays open as a spare until the ack. */
      if (self->pending != NULL && path_rank (candidate) <= path_rank (self->pending))
        continue;
      if (self->nominated != NULL && self->peer_wants_relay &&
          self->nominated->kind != WZP_PATH_KIND_RELAY)
        {
          if (candidate->kind != WZP_PATH_KIND_RELAY)
            continue;
        }
      else if (self->nominated != NULL && path_rank (candidate) <= path_rank (self->nominated))
        continue;
      if (path == NULL || path_rank (candidate) > path_rank (path))
        path = candidate;
    }
  if (path == NULL)
    return;

  _wzp_clear_source (self->context, &self->ack_timeout_id);
  self->pending = path;
  nominate = _wzp_message_new (WZP_MESSAGE_NOMINATE);
  _wzp_message_set_int (nominate, "seq", ++self->nominate_seq);
  _wzp_frame_io_send (path->io, nominate);
  self->ack_timeout_id = _wzp_timeout_add (self->context, WZP_CALL_NOMINATE_ACK_MS,
                                           ack_timeout_cb, self);
}

static gboolean
recover_timeout_cb (gpointer user_data)
{
  WzpCall *self = user_data;

  self->recover_id = 0;
  _wzp_call_end (self, WZP_HANGUP_REASON_UNREACHABLE,
                 g_error_new (WZP_CALL_ERROR, WZP_CALL_ERROR_UNREACHABLE,
                              "The connection to %s was lost and no other could be made",
                              _wzp_call_peer_name (self)), TRUE);
  return G_SOURCE_REMOVE;
}

/* The nominated path died: the call carries on over the relay (docs/decisions.md,
 * "Upgrade and fallback"), or over another authenticated path the caller still holds
 * (one a round of dials after a network change found). Opening a pipe brings the peer's
 * (PipeRequested); the caller nominates it. */
static void
fall_back (WzpCall    *self,
           const char *why)
{
  WzpPath *dead = self->nominated;

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_CALL_ID", self->call_id,
                    "MESSAGE", "Call %s: the path via %s failed (%s); falling back to the relay",
                    self->call_id, dead ? dead->remote : "?", why);
  self->nominated = NULL;
  if (dead != NULL)
    {
      _wzp_path_close (dead);
      g_ptr_array_remove (self->paths, dead);
    }
  if (self->recover_id == 0)
    self->recover_id = _wzp_timeout_add (self->context, RECOVER_MS, recover_timeout_cb, self);
  try_nominate (self);
  if (self->pending == NULL)
    _wzp_call_ensure_pipe (self);
}

static gboolean
silence_cb (gpointer user_data)
{
  WzpCall *self = user_data;

  self->silence_id = 0;
  if (self->nominated != NULL &&
      g_get_monotonic_time () - self->last_rx_us >= SILENCE_MS * 1000)
    fall_back (self, "silent for 3 seconds");
  else
    _wzp_call_arm_silence_check (self);
  return G_SOURCE_REMOVE;
}

/* A nominated path is dead once nothing came on it for SILENCE_MS (the peer's keepalive
 * comes every second): checked at that very moment, not at the next keepalive tick, so
 * that the fallback costs 3 s, not up to 4. Frames received meanwhile postpone it. */
void
_wzp_call_arm_silence_check (WzpCall *self)
{
  gint64 due_ms;

  _wzp_clear_source (self->context, &self->silence_id);
  if (self->nominated == NULL || self->state == WZP_CALL_STATE_ENDED)
    return;
  due_ms = (self->last_rx_us + SILENCE_MS * G_TIME_SPAN_MILLISECOND - g_get_monotonic_time ())
           / G_TIME_SPAN_MILLISECOND;
  self->silence_id = _wzp_timeout_add (self->context, (guint) MAX (due_ms, 0) + 1, silence_cb,
                                       self);
}

void
_wzp_call_path_failed (WzpCall *self,
                       WzpPath *path,
                       GError  *error)
{
  _wzp_path_close (path);

  if (path == self->nominated && self->state == WZP_CALL_STATE_ACTIVE)
    {
      fall_back (self, error->message);
      return;
    }

  if (path == self->pending)
    {
      _wzp_clear_source (self->context, &self->ack_timeout_id);
      self->pending = NULL;
    }
  g_ptr_array_remove (self->paths, path);
  nominate_next (self);
}

static void
handle_path_message (WzpCall    *self,
                     WzpPath    *path,
                     WzpMessage *message)
{
  switch (_wzp_message_get_message_type (message))
    {
    case WZP_MESSAGE_NOMINATE:
      {
        gint64 seq = _wzp_message_get_int (message, "seq");
        g_autoptr(WzpMessage) ack = NULL;

        /* Only the callee follows nominations, and only forwards (item 3). */
        if (self->role != WZP_CALL_ROLE_CALLEE || seq <= self->nominate_seq)
          return;
        self->nominate_seq = seq;
        ack = _wzp_message_new (WZP_MESSAGE_NOMINATE_ACK);
        _wzp_message_set_int (ack, "seq", seq);
        _wzp_frame_io_send (path->io, ack);
        _wzp_call_use_path (self, path);
      }
      return;

    case WZP_MESSAGE_NOMINATE_ACK:
      if (self->role != WZP_CALL_ROLE_CALLER || path != self->pending ||
          _wzp_message_get_int (message, "seq") != self->nominate_seq)
        return;
      _wzp_clear_source (self->context, &self->ack_timeout_id);
      self->pending = NULL;
      _wzp_call_use_path (self, path);
      return;

    case WZP_MESSAGE_PING:
      {
        g_autoptr(WzpMessage) pong = _wzp_message_new (WZP_MESSAGE_PONG);

        _wzp_message_set_int (pong, "timestamp_ms",
                              _wzp_message_get_int (message, "timestamp_ms"));
        _wzp_frame_io_send (path->io, pong);
      }
      return;

    case WZP_MESSAGE_HANGUP:
      {
        WzpHangupReason reason = WZP_HANGUP_REASON_NORMAL;

        _wzp_hangup_reason_from_wire (_wzp_message_get_string (message, "reason"), &reason);
        _wzp_call_end (self, reason, NULL, FALSE);
      }
      return;

    default:
      return;
    }
}

static void
path_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(PathRead) data = user_data;
  WzpCall *self = data->call;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) message = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result,
                                                             &error);

  if (self->state == WZP_CALL_STATE_ENDED || data->path->closed)
    return;

  if (message == NULL)
    {
      _wzp_call_path_failed (self, data->path, error);
      return;
    }

  if (data->path == self->nominated)
    self->last_rx_us = g_get_monotonic_time ();
  handle_path_message (self, data->path, message);
  if (self->state != WZP_CALL_STATE_ENDED && !data->path->closed)
    path_read_next (self, data->path);
}

static void
path_read_next (WzpCall *self,
                WzpPath *path)
{
  PathRead *data = g_new0 (PathRead, 1);

  data->call = g_object_ref (self);
  data->path = _wzp_path_ref (path);
  _wzp_frame_io_read_async (path->io, self->cancellable, path_read_cb, data);
}

void
_wzp_call_path_authenticated (WzpCall *self,
                              WzpPath *path)
{
  g_ptr_array_add (self->paths, _wzp_path_ref (path));
  path_read_next (self, path);
  try_nominate (self);

  /* A path that is no better than the nominated one waits as a spare while a round of
   * dials runs (the nominated path may be the one a network change broke); without a
   * round, nobody will want it: the caller closes it (the callee follows). */
  if (self->role == WZP_CALL_ROLE_CALLER && self->nominated != NULL &&
      path != self->nominated && path != self->pending && self->deadline_id == 0)
    {
      _wzp_path_close (path);
      g_ptr_array_remove (self->paths, path);
    }
}

gboolean
_wzp_call_keepalive_cb (gpointer user_data)
{
  WzpCall *self = user_data;

  /* (Silence is watched by arm_silence_check().) */
  if (self->nominated != NULL && !self->nominated->closed)
    {
      g_autoptr(WzpMessage) ping = _wzp_message_new (WZP_MESSAGE_PING);

      _wzp_message_set_int (ping, "timestamp_ms", g_get_monotonic_time () / 1000);
      _wzp_frame_io_send (self->nominated->io, ping);
    }
  return G_SOURCE_CONTINUE;
}
