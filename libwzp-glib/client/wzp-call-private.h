/* wzp-call-private.h: what WzpClient and WzpCall say to each other
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "wzp-call.h"
#include "wzp-identity.h"
#include "wzp-local-candidates-private.h"
#include "wzp-message-private.h"
#include "wzp-nominator-private.h"
#include "wzp-path-private.h"
#include "wzp-peer-candidates-private.h"
#include "wzp-socket-private.h"
#include "wzp-voice-private.h"

G_BEGIN_DECLS

/* Default deadline (docs/decisions.md, "Upgrade and fallback"). */
#define WZP_CALL_CONNECT_DEADLINE_MS 10000

/* The peer's dials that come before our CallSetup (a ringing call) are held for the race,
 * at most this many (the oldest closed at the cap), each at most the relay's default ring
 * timeout (docs/calls.md, "Port P under a flood"). */
#define WZP_CALL_MAX_EARLY_ACCEPTED   8
#define WZP_CALL_EARLY_ACCEPTED_MAX_S 45

/* What a call sends upward, through the client that made it: the call never calls the
 * client (docs/calls.md, "Code"). @owner is the first argument of both; the call holds a
 * weak pointer to it, and sends nothing once it is gone. */
typedef struct
{
  GObject  *owner;
  /* A signalling message for the relay (dropped while not registered). */
  void    (*send)  (GObject    *owner,
                    WzpMessage *message);
  /* The call ended: the owner forgets it. */
  void    (*ended) (GObject    *owner,
                    WzpCall    *call);
} WzpCallSink;

/* @port is P (direct dials go out from it); @loopback is the client's test-only loopback
 * mode, the only one in which the peer's loopback candidates are dialled. The client
 * then pushes its candidates (_wzp_call_set_local_candidates()) before anything else. */
WzpCall   *_wzp_call_new_outgoing       (const WzpCallSink  *sink,
                                         WzpIdentity        *identity,
                                         WzpSharedPort      *port,
                                         gboolean            loopback,
                                         const char         *peer_fingerprint,
                                         gboolean            privacy);
/* @privacy: the client's privacy setting, what answering defaults to. */
WzpCall   *_wzp_call_new_incoming       (const WzpCallSink  *sink,
                                         WzpIdentity        *identity,
                                         WzpSharedPort      *port,
                                         gboolean            loopback,
                                         WzpMessage         *offer,
                                         gboolean            privacy);
/* The client's candidates now (it pushes every change): what the offer, the answer and
 * CandidateUpdates carry, and where dials go out from. */
void       _wzp_call_set_local_candidates (WzpCall            *self,
                                           WzpLocalCandidates *local);
/* The client's privacy setting changed: an incoming call not yet answered answers so. */
void       _wzp_call_set_client_privacy (WzpCall      *self,
                                         gboolean      privacy);
/* A signalling message for this call (routed by call_id). */
void       _wzp_call_handle_message     (WzpCall      *self,
                                         WzpMessage   *message);
/* The client lost its relay connection. Calls not yet set up end; others go on. */
void       _wzp_call_signalling_lost    (WzpCall      *self);
/* The network changed (after the debounce): @own_addresses are every address this host
 * has now. Paths whose local address is gone are dropped at once (a nominated one falls
 * back without waiting for 3 s of silence). */
void       _wzp_call_network_changed    (WzpCall      *self,
                                         const char * const *own_addresses);
/* The client's candidates may differ from what this call last told the peer (the client
 * is registered): if so, CandidateUpdate to the peer, and the peer's candidates are
 * dialled again from the new addresses. */
void       _wzp_call_announce_candidates (WzpCall     *self);
/* Sends the offer (naming us @alias); @task completes with the call once a path is
 * nominated. */
/* wzp-call-voice.c: the call's voice. @source and @sink are GStreamer descriptions, NULL
 * for the system's devices, "none" for no audio (docs/voice.md). */
void       _wzp_call_voice_prepare      (WzpCall      *self,
                                         const char   *source,
                                         const char   *sink);
void       _wzp_call_voice_start        (WzpCall      *self);
void       _wzp_call_voice_stop         (WzpCall      *self);
void       _wzp_call_voice_set_muted    (WzpCall      *self,
                                         gboolean      muted);
void       _wzp_call_voice_set_volume   (WzpCall      *self,
                                         double        volume);
void       _wzp_call_voice_set_device   (WzpCall           *self,
                                         WzpAudioDirection  direction,
                                         const char        *device);
gboolean   _wzp_call_voice_get_stats    (WzpCall       *self,
                                         WzpVoiceStats *out);
/* _wzp_voice_get_origins(); FALSE (and -1 for both) without voice. */
gboolean   _wzp_call_voice_get_origins  (WzpCall       *self,
                                         gint64        *capture_us,
                                         gint64        *playback_us);
/* notify::audio-error, notify::stats */
void       _wzp_call_notify_audio_error (WzpCall      *self);
void       _wzp_call_notify_stats       (WzpCall      *self);
void       _wzp_call_start              (WzpCall      *self,
                                         GTask        *task,
                                         const char   *alias);
/* Direct connections accepted on P: does the preamble name this call, and take it. */
gboolean   _wzp_call_matches_preamble   (WzpCall      *self,
                                         const guint8 *preamble);
/* Test-only: how many of the peer's early dials the call holds. */
guint      _wzp_call_get_n_early_accepted (WzpCall    *self);
void       _wzp_call_take_accepted      (WzpCall      *self,
                                         GSocketConnection *connection);
/* Ends the call locally without telling anyone (the client is going away). */
void       _wzp_call_abandon            (WzpCall      *self,
                                         const char   *why);

/* Between wzp-call.c and wzp-call-network.c (network changes): the instance struct and
 * what the files call of each other. Nothing else touches these. */

/* How far a call got; it never goes back ([property@Wzp.Call:state] says whether the
 * call ended). */
typedef enum {
  WZP_CALL_PHASE_SIGNALLING,   /* before CallSetup: offer, ringing, answer */
  WZP_CALL_PHASE_SET_UP,       /* CallSetup came: looking for a first path */
  WZP_CALL_PHASE_CONNECTED,    /* a path was agreed at least once (time-to-path is known) */
} WzpCallPhase;

struct _WzpCall
{
  GObject          parent_instance;

  GMainContext    *context;            /* thread-default at construction: its timers' */
  WzpCallSink      sink;               /* .owner weak */
  WzpIdentity     *identity;
  WzpSharedPort   *port;
  gboolean         loopback;
  WzpLocalCandidates *local;           /* the client's latest */
  gboolean         client_privacy;     /* what answering defaults to */
  char            *call_id;
  WzpCallRole      role;
  WzpCallState     state;
  char            *peer_fingerprint;   /* the pin, never taken from the relay */
  char            *peer_alias;
  char            *caller_relay_fingerprint;   /* offers from a federated relay */
  gboolean         privacy;
  WzpPathKind      path_kind;
  char            *remote_address;
  int              time_to_path;
  WzpHangupReason  end_reason;
  char            *error_message;

  GCancellable    *cancellable;        /* everything the call started */
  GTask           *task;               /* place_call or answer: completes at nomination */
  gulong           task_cancel_id;     /* on the task's cancellable */
  WzpCallPhase     phase;
  char            *pipe_addr;          /* from CallSetup */
  char            *pipe_secret;
  gint64           setup_us;
  guint            deadline_id;
  gint64           pipe_seq;
  gboolean         pipe_pending;
  WzpNominator    *nominator;          /* the paths, the nomination, fallback */
  gboolean         rang;
  gboolean         reconnecting;       /* the agreed path died; looking for another */
  GString         *outcomes;           /* every candidate's outcome, for the error */
  GPtrArray       *races;              /* WzpRace*: rounds of direct attempts, newest last */
  GPtrArray       *early_accepted;     /* peer dials that came before our CallSetup,
                                        * oldest first */
  guint            early_timeout_id;   /* closes the oldest early dial when it is too old */
  guint            head_start_id;
  WzpPeerCandidates *peer_candidates;  /* what to dial: CallSetup, then CandidateUpdates */
  guint            announced_serial;   /* the client's candidates serial the peer knows */
  gint64           last_round_us;      /* when the newest round of dials started */
  guint            reround_id;         /* a rate-limited round waiting to start */

  WzpVoice        *voice;              /* NULL: no voice (none wanted, or it failed) */
  gboolean         voice_started;
  char            *audio_error;        /* why this side has no voice, or NULL */
  char            *audio_errors[2];    /* what is wrong with each WzpAudioDirection */
  guint            audio_error_serial[2]; /* counts the problems told for each */
  gboolean         muted;
  double           volume;
  GVariant        *stats;              /* a{sv}, refreshed every second; NULL before */
  guint            stats_id;
  gint64           stats_at_us;
  guint64          stats_bytes_sent;
};

void       _wzp_call_send_signalling    (WzpCall      *self,
                                         WzpMessage   *message);
const char *_wzp_call_peer_name         (WzpCall      *self);
/* Ends the call (takes @error, which may be NULL), telling the peer if @tell_peer. */
void       _wzp_call_end                (WzpCall         *self,
                                         WzpHangupReason  reason,
                                         GError          *error,
                                         gboolean         tell_peer);
/* A relay pipe, unless one is on its way or open. */
void       _wzp_call_ensure_pipe        (WzpCall      *self);
/* notify::peer-direct-address and notify::peer-local-addresses */
void       _wzp_call_notify_peer_candidates (WzpCall  *self);
/* A new round of dials to the peer's current candidates, at most one a second. */
void       _wzp_call_request_round      (WzpCall      *self);
/* wzp-call-network.c: CandidateUpdate out (our candidates changed) and in (the peer's). */
void       _wzp_call_send_candidate_update   (WzpCall    *self);
void       _wzp_call_handle_candidate_update (WzpCall    *self,
                                              WzpMessage *update);
/* The peer's host candidates from @offered (remote input, from CallSetup or
 * CandidateUpdate, named by @source in the log) that this call may dial: at most
 * WZP_MAX_HOST_CANDIDATES, of a host candidate's classes, on one port
 * (_wzp_candidates_filter_peer()). */
GStrv      _wzp_call_filter_peer_host_candidates (WzpCall            *self,
                                                  const char         *source,
                                                  const char * const *offered);

G_END_DECLS
