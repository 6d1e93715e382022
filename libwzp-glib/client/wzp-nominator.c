/* wzp-nominator.c: a call's paths and the nomination (see wzp-nominator-private.h;
 * docs/calls.md, "Nomination")
 *
 * It is apart from wzp-call.c because it is the call's path-switching state machine:
 * wzp-call.c owns the call's life (offer, setup, answer, races, the relay pipe, end) and
 * hears from here, through ::path-agreed, once a path is agreed with the peer.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-enum-types.h"
#include "wzp-message-private.h"
#include "wzp-nominator-private.h"
#include "wzp-timeout-private.h"

/* A nominated path silent this long is dead (docs/decisions.md, "Upgrade and fallback"). */
#define SILENCE_MS 3000
/* With voice flowing on the agreed path (a frame every 20 ms, muted or not), this long
 * without a frame makes the path suspect: a Ping goes out at once, and the path is dead
 * unless something comes back within MEDIA_PROBE_MS (or twice the round trip, if
 * longer). So audio is back on another path within 1.5 s of a cut, and a peer whose
 * voice merely stopped (its file ended, its microphone failed) does not cost a fallback
 * (docs/voice.md, "A path that dies"). Longer than a TCP retransmission timeout (200 ms
 * at least), shorter than what a listener bears. */
#define MEDIA_SILENCE_MS 500
#define MEDIA_PROBE_MS   300
/* After losing the nominated path, this long to find another before the call ends. */
#define RECOVER_MS 10000
/* The peer asked for a pipe while a direct path is agreed: this long for the Pong to our
 * Ping on that path before the call moves to the relay. No hurry: a path that is dead
 * both ways falls silent within SILENCE_MS anyway; the question is whether the peer
 * still hears us. */
#define RELAY_PROBE_MS 1000

struct _WzpNominator
{
  GObject            parent_instance;

  GMainContext      *context;          /* thread-default at construction: its timers' */
  char              *call_id;
  WzpCallRole        role;
  GCancellable      *cancellable;      /* the call's: every read */
  WzpNominatorState  state;

  GPtrArray         *paths;            /* WzpPath*, authenticated */
  WzpPath           *agreed;           /* the path both sides use (AGREED only) */
  WzpPath           *pending;          /* caller: nominated, waiting for the ack */
  gint64             nominate_seq;
  guint              ack_timeout_id;
  guint              keepalive_id;
  gint64             last_rx_us;       /* last frame on the agreed path */
  guint              silence_id;       /* when the agreed path will have been silent */
  guint              recover_id;       /* RECOVERING: deadline for finding a path again */
  gboolean           peer_wants_relay; /* the peer asked for a pipe and did not hear us */
  gint64             relay_probe_ms;   /* our Ping's timestamp_ms after the peer asked, or 0 */
  guint              relay_probe_id;   /* when that Ping has gone unanswered */

  char             **features;         /* what we can receive: in Nominate, NominateAck */
  char             **peer_features;    /* the peer's latest list, or NULL before it came */
  gint64             rtt_ms;           /* the latest Ping's round trip on the agreed path */
  gboolean           media_on_agreed;  /* the peer's media has come on the agreed path */
  gint64             probe_us;         /* when the Ping asking "are you there" went out */
  WzpNominatorMediaFunc media_func;    /* media frames read from any path */
  gpointer           media_data;
};

G_DEFINE_FINAL_TYPE (WzpNominator, _wzp_nominator, G_TYPE_OBJECT)

enum {
  SIGNAL_PATH_AGREED,
  SIGNAL_RELAY_NEEDED,
  SIGNAL_FAILED,
  SIGNAL_HUNG_UP,
  SIGNAL_PATH_LOST,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

static void path_read_next (WzpNominator *self,
                            WzpPath      *path);
static void set_features   (WzpNominator *self,
                            WzpMessage   *message);

typedef struct
{
  WzpNominator *nominator;
  WzpPath      *path;
} PathRead;

static void
path_read_free (PathRead *data)
{
  g_object_unref (data->nominator);
  _wzp_path_unref (data->path);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PathRead, path_read_free)

static void try_nominate (WzpNominator *self);

/* After a nomination failed: the next path; while recovering a lost path, at least the
 * relay. */
static void
nominate_next (WzpNominator *self)
{
  try_nominate (self);
  if (self->state == WZP_NOMINATOR_STATE_RECOVERING && self->pending == NULL)
    g_signal_emit (self, signals[SIGNAL_RELAY_NEEDED], 0);
}

static gboolean
ack_timeout_cb (gpointer user_data)
{
  WzpNominator *self = user_data;
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
 * a path is agreed, only a better one replaces it: on the relay a direct path (an
 * upgrade: docs/decisions.md, "Upgrade and fallback"), across the internet a LAN path
 * (after a network change). On a direct path the peer cannot hear (it asked for a pipe),
 * only the relay. */
static void
try_nominate (WzpNominator *self)
{
  g_autoptr(WzpMessage) nominate = NULL;
  WzpPath *path = NULL;

  if (self->role != WZP_CALL_ROLE_CALLER || self->state == WZP_NOMINATOR_STATE_STOPPED)
    return;

  for (guint i = 0; i < self->paths->len; i++)
    {
      WzpPath *candidate = g_ptr_array_index (self->paths, i);

      if (candidate->closed || candidate == self->agreed || candidate == self->pending)
        continue;
      /* A nomination still waiting for its ack gives way only to a better path (a direct
       * one while the relay's Nominate is on its way, a LAN one while an internet one's
       * is): the newer seq wins at the callee whichever Nominate arrives first (item 3),
       * and the superseded path stays open as a spare until the ack. */
      if (self->pending != NULL && path_rank (candidate) <= path_rank (self->pending))
        continue;
      if (self->agreed != NULL && self->peer_wants_relay &&
          self->agreed->kind != WZP_PATH_KIND_RELAY)
        {
          if (candidate->kind != WZP_PATH_KIND_RELAY)
            continue;
        }
      else if (self->agreed != NULL && path_rank (candidate) <= path_rank (self->agreed))
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
  set_features (self, nominate);
  _wzp_frame_io_send (path->io, nominate);
  self->ack_timeout_id = _wzp_timeout_add (self->context, WZP_CALL_NOMINATE_ACK_MS,
                                           ack_timeout_cb, self);
}

static gboolean
recover_timeout_cb (gpointer user_data)
{
  WzpNominator *self = user_data;

  self->recover_id = 0;
  g_signal_emit (self, signals[SIGNAL_FAILED], 0);
  return G_SOURCE_REMOVE;
}

/* The agreed path died: the call carries on over the relay (docs/decisions.md,
 * "Upgrade and fallback"), or over another authenticated path the caller still holds
 * (one a round of dials after a network change found). Opening a pipe brings the peer's
 * (PipeRequested); the caller nominates it. */
static void
fall_back (WzpNominator *self,
           const char   *why)
{
  WzpPath *dead = self->agreed;
  gboolean was_agreed = (self->state == WZP_NOMINATOR_STATE_AGREED);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_CALL_ID", self->call_id,
                    "MESSAGE", "Call %s: the path via %s failed (%s); falling back to the relay",
                    self->call_id, dead ? dead->remote : "?", why);
  self->agreed = NULL;
  self->state = WZP_NOMINATOR_STATE_RECOVERING;
  if (dead != NULL)
    {
      _wzp_path_close (dead);
      g_ptr_array_remove (self->paths, dead);
    }
  /* Before any new nomination can be agreed: path-lost always comes first. */
  if (was_agreed)
    g_signal_emit (self, signals[SIGNAL_PATH_LOST], 0);
  if (self->recover_id == 0)
    self->recover_id = _wzp_timeout_add (self->context, RECOVER_MS, recover_timeout_cb, self);
  try_nominate (self);
  if (self->pending == NULL)
    g_signal_emit (self, signals[SIGNAL_RELAY_NEEDED], 0);
}

static void arm_silence_check (WzpNominator *self);

static gint64
silence_limit_ms (WzpNominator *self)
{
  return self->media_on_agreed ? MEDIA_SILENCE_MS : SILENCE_MS;
}

static gint64
probe_wait_ms (WzpNominator *self)
{
  return MAX (MEDIA_PROBE_MS, 2 * self->rtt_ms + 100);
}

static void
send_ping (WzpNominator *self)
{
  g_autoptr(WzpMessage) ping = _wzp_message_new (WZP_MESSAGE_PING);

  _wzp_message_set_int (ping, "timestamp_ms", g_get_monotonic_time () / 1000);
  _wzp_frame_io_send (self->agreed->io, ping);
}

static gboolean
silence_cb (gpointer user_data)
{
  WzpNominator *self = user_data;
  gint64 now = g_get_monotonic_time ();

  self->silence_id = 0;
  if (self->agreed == NULL)
    return G_SOURCE_REMOVE;

  if (self->probe_us != 0)
    {
      if (self->last_rx_us > self->probe_us)
        {
          /* The path answered: the peer's voice stopped, the path did not. Until voice
           * comes again, the keepalive's rule holds. */
          self->probe_us = 0;
          self->media_on_agreed = FALSE;
        }
      else if (now - self->probe_us >= probe_wait_ms (self) * 1000)
        {
          fall_back (self, "voice stopped arriving and a Ping went unanswered");
          return G_SOURCE_REMOVE;
        }
    }
  else if (now - self->last_rx_us >= silence_limit_ms (self) * 1000)
    {
      if (!self->media_on_agreed)
        {
          fall_back (self, "silent for 3 seconds");
          return G_SOURCE_REMOVE;
        }
      self->probe_us = now;
      send_ping (self);
    }
  arm_silence_check (self);
  return G_SOURCE_REMOVE;
}

/* An agreed path is dead once nothing came on it for SILENCE_MS (the peer's keepalive
 * comes every second): checked at that very moment, not at the next keepalive tick, so
 * that the fallback costs 3 s, not up to 4. Frames received meanwhile postpone it. */
static void
arm_silence_check (WzpNominator *self)
{
  gint64 due_ms;

  _wzp_clear_source (self->context, &self->silence_id);
  if (self->agreed == NULL || self->state == WZP_NOMINATOR_STATE_STOPPED)
    return;
  if (self->probe_us != 0)
    due_ms = (self->probe_us + probe_wait_ms (self) * G_TIME_SPAN_MILLISECOND -
              g_get_monotonic_time ()) / G_TIME_SPAN_MILLISECOND;
  else
    due_ms = (self->last_rx_us + silence_limit_ms (self) * G_TIME_SPAN_MILLISECOND -
              g_get_monotonic_time ()) / G_TIME_SPAN_MILLISECOND;
  self->silence_id = _wzp_timeout_add (self->context, (guint) MAX (due_ms, 0) + 1, silence_cb,
                                       self);
}

/* Both sides agreed on @path (NominateAck, or a Nominate followed): the call runs on it.
 * Only the caller closes the paths it replaces, and only now that the ack came
 * (docs/decisions.md, "Only the caller nominates"); the callee closes them when the
 * caller does. A direct path is as good as it gets: the caller closes every other. */
static void
agree (WzpNominator *self,
       WzpPath      *path)
{
  WzpPath *previous = self->agreed;

  self->agreed = path;
  self->state = WZP_NOMINATOR_STATE_AGREED;
  self->rtt_ms = -1;
  self->media_on_agreed = FALSE;
  self->probe_us = 0;
  self->last_rx_us = g_get_monotonic_time ();
  self->peer_wants_relay = FALSE;
  self->relay_probe_ms = 0;
  _wzp_clear_source (self->context, &self->relay_probe_id);
  _wzp_clear_source (self->context, &self->recover_id);
  arm_silence_check (self);
  if (self->role == WZP_CALL_ROLE_CALLER)
    {
      if (path->kind != WZP_PATH_KIND_RELAY)
        for (guint i = 0; i < self->paths->len; i++)
          {
            WzpPath *other = g_ptr_array_index (self->paths, i);

            if (other != path)
              _wzp_path_close (other);
          }
      if (previous != NULL && previous != path)
        _wzp_path_close (previous);
    }
  g_signal_emit (self, signals[SIGNAL_PATH_AGREED], 0, path);
}

void
_wzp_nominator_drop_path (WzpNominator *self,
                          WzpPath      *path,
                          GError       *error)
{
  _wzp_path_close (path);

  if (path == self->agreed && self->state == WZP_NOMINATOR_STATE_AGREED)
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

/* Every Nominate and NominateAck carries our whole list (docs/protocol.md, "Features"). */
static void
set_features (WzpNominator *self,
              WzpMessage   *message)
{
  if (self->features != NULL && self->features[0] != NULL)
    _wzp_message_set_strv (message, "features", (const char * const *) self->features);
}

static void
remember_peer_features (WzpNominator *self,
                        WzpMessage   *message)
{
  g_strfreev (self->peer_features);
  self->peer_features = _wzp_message_dup_strv (message, "features");
}

static void
path_media_cb (WzpFrameIO          *io,
               const WzpMediaFrame *frame,
               gpointer             user_data)
{
  WzpNominator *self = user_data;

  /* Media is traffic: a path that carries voice is not silent; and once it carries
   * voice, its silence is noticed within MEDIA_SILENCE_MS (docs/voice.md). */
  if (self->agreed != NULL && self->agreed->io == io)
    {
      self->last_rx_us = g_get_monotonic_time ();
      if (!self->media_on_agreed)
        {
          self->media_on_agreed = TRUE;
          arm_silence_check (self);
        }
    }
  if (self->media_func != NULL)
    self->media_func (frame, self->media_data);
}

static void
handle_path_message (WzpNominator *self,
                     WzpPath      *path,
                     WzpMessage   *message)
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
        remember_peer_features (self, message);
        ack = _wzp_message_new (WZP_MESSAGE_NOMINATE_ACK);
        _wzp_message_set_int (ack, "seq", seq);
        set_features (self, ack);
        _wzp_frame_io_send (path->io, ack);
        agree (self, path);
      }
      return;

    case WZP_MESSAGE_NOMINATE_ACK:
      if (self->role != WZP_CALL_ROLE_CALLER || path != self->pending ||
          _wzp_message_get_int (message, "seq") != self->nominate_seq)
        return;
      _wzp_clear_source (self->context, &self->ack_timeout_id);
      self->pending = NULL;
      remember_peer_features (self, message);
      agree (self, path);
      return;

    case WZP_MESSAGE_PING:
      {
        g_autoptr(WzpMessage) pong = _wzp_message_new (WZP_MESSAGE_PONG);

        _wzp_message_set_int (pong, "timestamp_ms",
                              _wzp_message_get_int (message, "timestamp_ms"));
        _wzp_frame_io_send (path->io, pong);
      }
      return;

    case WZP_MESSAGE_PONG:
      {
        gint64 sent_ms = _wzp_message_get_int (message, "timestamp_ms");
        gint64 rtt_ms = g_get_monotonic_time () / 1000 - sent_ms;

        /* Our own Ping's time, echoed: anything else is not a round trip. */
        if (path == self->agreed && rtt_ms >= 0 && rtt_ms < 60 * 1000)
          self->rtt_ms = rtt_ms;
        /* The answer to the Ping sent after the peer asked for a pipe: it hears us. */
        if (path == self->agreed && self->relay_probe_id != 0 && rtt_ms >= 0 &&
            sent_ms >= self->relay_probe_ms)
          {
            g_debug ("Call %s: the peer asked for a pipe but answers on %s; staying there",
                     self->call_id, path->remote);
            _wzp_clear_source (self->context, &self->relay_probe_id);
            self->relay_probe_ms = 0;
          }
      }
      return;

    case WZP_MESSAGE_HANGUP:
      {
        WzpHangupReason reason = WZP_HANGUP_REASON_NORMAL;

        _wzp_hangup_reason_from_wire (_wzp_message_get_string (message, "reason"), &reason);
        g_signal_emit (self, signals[SIGNAL_HUNG_UP], 0, reason);
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
  WzpNominator *self = data->nominator;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) message = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result,
                                                             &error);

  if (self->state == WZP_NOMINATOR_STATE_STOPPED || data->path->closed)
    return;

  if (message == NULL)
    {
      _wzp_nominator_drop_path (self, data->path, error);
      return;
    }

  if (data->path == self->agreed)
    self->last_rx_us = g_get_monotonic_time ();
  handle_path_message (self, data->path, message);
  if (self->state != WZP_NOMINATOR_STATE_STOPPED && !data->path->closed)
    path_read_next (self, data->path);
}

static void
path_read_next (WzpNominator *self,
                WzpPath      *path)
{
  PathRead *data = g_new0 (PathRead, 1);

  data->nominator = g_object_ref (self);
  data->path = _wzp_path_ref (path);
  _wzp_frame_io_read_async (path->io, self->cancellable, path_read_cb, data);
}

void
_wzp_nominator_add_path (WzpNominator *self,
                         WzpPath      *path,
                         gboolean      keep_spare)
{
  g_ptr_array_add (self->paths, _wzp_path_ref (path));
  /* Media is read from every live path, not only the agreed one: around a switch the
   * peer's last frames come on the old path and its first on the new one. The nominator
   * outlives its paths' reads (they hold a reference to it). */
  _wzp_frame_io_set_media_func (path->io, path_media_cb, self, NULL);
  path_read_next (self, path);
  try_nominate (self);

  /* A path that is no better than the agreed one waits as a spare while a round of dials
   * runs (the agreed path may be the one a network change broke); without a round,
   * nobody will want it: the caller closes it (the callee follows). */
  if (self->role == WZP_CALL_ROLE_CALLER && self->agreed != NULL &&
      path != self->agreed && path != self->pending && !keep_spare)
    {
      _wzp_path_close (path);
      g_ptr_array_remove (self->paths, path);
    }
}

static gboolean
keepalive_cb (gpointer user_data)
{
  WzpNominator *self = user_data;

  /* (Silence is watched by arm_silence_check().) */
  if (self->agreed != NULL && !self->agreed->closed)
    send_ping (self);
  return G_SOURCE_CONTINUE;
}

void
_wzp_nominator_start_keepalive (WzpNominator *self)
{
  if (self->keepalive_id == 0 && self->state != WZP_NOMINATOR_STATE_STOPPED)
    self->keepalive_id = _wzp_timeout_add (self->context, WZP_CALL_KEEPALIVE_MS, keepalive_cb,
                                           self);
}

void
_wzp_nominator_close_spares (WzpNominator *self)
{
  if (self->role != WZP_CALL_ROLE_CALLER || self->agreed == NULL)
    return;
  for (guint i = self->paths->len; i > 0; i--)
    {
      WzpPath *path = g_ptr_array_index (self->paths, i - 1);

      if (path != self->agreed && path != self->pending)
        {
          _wzp_path_close (path);
          g_ptr_array_remove_index (self->paths, i - 1);
        }
    }
}

static gboolean
relay_probe_cb (gpointer user_data)
{
  WzpNominator *self = user_data;

  self->relay_probe_id = 0;
  self->relay_probe_ms = 0;
  if (self->state != WZP_NOMINATOR_STATE_AGREED || self->agreed == NULL ||
      self->agreed->kind == WZP_PATH_KIND_RELAY)
    return G_SOURCE_REMOVE;

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_CALL_ID", self->call_id,
                    "MESSAGE", "Call %s: the peer asked for a pipe and did not answer on %s; "
                    "moving to the relay", self->call_id, self->agreed->remote);
  self->peer_wants_relay = TRUE;
  try_nominate (self);
  if (self->pending == NULL)
    g_signal_emit (self, signals[SIGNAL_RELAY_NEEDED], 0);
  return G_SOURCE_REMOVE;
}

/* A PipeRequested while a direct path is agreed is a question, not a verdict: the peer may
 * have lost the path, in one direction only perhaps, or it may have opened its pipe while
 * the paths still raced (its head start ran out before the nomination reached it) and the
 * relay's word came after the agreement. A Ping on the path tells them apart: answered,
 * the call stays; unanswered within RELAY_PROBE_MS, the caller moves it to the relay
 * (through ::relay-needed when no pipe is open yet). */
void
_wzp_nominator_peer_wants_relay (WzpNominator *self)
{
  if (self->state != WZP_NOMINATOR_STATE_AGREED || self->agreed == NULL ||
      self->agreed->kind == WZP_PATH_KIND_RELAY || self->relay_probe_id != 0 ||
      self->peer_wants_relay)
    return;
  self->relay_probe_ms = g_get_monotonic_time () / 1000;
  send_ping (self);
  self->relay_probe_id = _wzp_timeout_add (self->context, RELAY_PROBE_MS, relay_probe_cb, self);
}

static void
clear_timers (WzpNominator *self)
{
  _wzp_clear_source (self->context, &self->ack_timeout_id);
  _wzp_clear_source (self->context, &self->keepalive_id);
  _wzp_clear_source (self->context, &self->silence_id);
  _wzp_clear_source (self->context, &self->recover_id);
  _wzp_clear_source (self->context, &self->relay_probe_id);
}

void
_wzp_nominator_stop (WzpNominator *self,
                     WzpPath      *keep_open)
{
  self->state = WZP_NOMINATOR_STATE_STOPPED;
  clear_timers (self);
  for (guint i = 0; i < self->paths->len; i++)
    {
      WzpPath *path = g_ptr_array_index (self->paths, i);

      _wzp_frame_io_set_media_func (path->io, NULL, NULL, NULL);
      if (path != keep_open)
        _wzp_path_close (path);
    }
  g_ptr_array_set_size (self->paths, 0);
  self->agreed = NULL;
  self->pending = NULL;
}

WzpNominatorState
_wzp_nominator_get_state (WzpNominator *self)
{
  return self->state;
}

WzpPath *
_wzp_nominator_get_agreed (WzpNominator *self)
{
  return self->agreed;
}

GPtrArray *
_wzp_nominator_get_paths (WzpNominator *self)
{
  return self->paths;
}

gboolean
_wzp_nominator_has_relay_path (WzpNominator *self)
{
  for (guint i = 0; i < self->paths->len; i++)
    {
      WzpPath *path = g_ptr_array_index (self->paths, i);

      if (path->kind == WZP_PATH_KIND_RELAY && !path->closed)
        return TRUE;
    }
  return FALSE;
}

void
_wzp_nominator_set_features (WzpNominator       *self,
                             const char * const *features)
{
  g_strfreev (self->features);
  self->features = g_strdupv ((char **) features);
}

gint64
_wzp_nominator_get_rtt_ms (WzpNominator *self)
{
  return self->state == WZP_NOMINATOR_STATE_AGREED ? self->rtt_ms : -1;
}

gboolean
_wzp_nominator_peer_has_feature (WzpNominator *self,
                                 const char   *feature)
{
  return self->peer_features != NULL &&
         g_strv_contains ((const char * const *) self->peer_features, feature);
}

void
_wzp_nominator_set_media_func (WzpNominator          *self,
                               WzpNominatorMediaFunc  func,
                               gpointer               user_data)
{
  self->media_func = func;
  self->media_data = user_data;
}

WzpNominator *
_wzp_nominator_new (const char   *call_id,
                    WzpCallRole   role,
                    GCancellable *cancellable)
{
  WzpNominator *self = g_object_new (WZP_TYPE_NOMINATOR, NULL);

  self->call_id = g_strdup (call_id);
  self->role = role;
  self->cancellable = cancellable ? g_object_ref (cancellable) : g_cancellable_new ();
  return self;
}

static void
wzp_nominator_dispose (GObject *object)
{
  WzpNominator *self = WZP_NOMINATOR (object);

  /* Reads still under way find nothing to do. */
  self->state = WZP_NOMINATOR_STATE_STOPPED;
  clear_timers (self);
  if (self->paths != NULL)
    g_ptr_array_set_size (self->paths, 0);
  self->agreed = NULL;
  self->pending = NULL;

  G_OBJECT_CLASS (_wzp_nominator_parent_class)->dispose (object);
}

static void
wzp_nominator_finalize (GObject *object)
{
  WzpNominator *self = WZP_NOMINATOR (object);

  g_clear_pointer (&self->paths, g_ptr_array_unref);
  g_clear_object (&self->cancellable);
  g_strfreev (self->features);
  g_strfreev (self->peer_features);
  g_free (self->call_id);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (_wzp_nominator_parent_class)->finalize (object);
}

static void
_wzp_nominator_class_init (WzpNominatorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = wzp_nominator_dispose;
  object_class->finalize = wzp_nominator_finalize;

  signals[SIGNAL_PATH_AGREED] =
    g_signal_new ("path-agreed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_RELAY_NEEDED] =
    g_signal_new ("relay-needed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_FAILED] =
    g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_HUNG_UP] =
    g_signal_new ("hung-up", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, WZP_TYPE_HANGUP_REASON);
  signals[SIGNAL_PATH_LOST] =
    g_signal_new ("path-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
}

static void
_wzp_nominator_init (WzpNominator *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->paths = g_ptr_array_new_with_free_func ((GDestroyNotify) _wzp_path_unref);
}
