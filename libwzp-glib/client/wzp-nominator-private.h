/* wzp-nominator-private.h: a call's paths and the nomination (docs/calls.md, "Nomination")
 *
 * A private object each WzpCall owns. It reads every authenticated path it is given (the
 * relay pipe, direct connections a race found); the caller's nominator nominates the
 * best one and, when a better one comes, a newer nomination supersedes it; the callee's
 * follows Nominate. Once both sides agree on a path it keeps it alive (a Ping every
 * WZP_CALL_KEEPALIVE_MS), watches it for silence, and when it dies falls back to a spare
 * path or the relay within a recovery deadline.
 *
 * It reports to the call through signals, and never calls it:
 *  ::path-agreed (WzpPath *path)   both sides agreed on @path: the call runs on it
 *  ::relay-needed                  nothing else will do: open a relay pipe (unless one is
 *                                  on its way or open)
 *  ::failed                        no path was found again within the recovery deadline
 *  ::hung-up (WzpHangupReason)     the peer hung up in-band, on a path
 *  ::path-lost                     the agreed path died: recovering until ::path-agreed
 *                                  (a new path) or ::failed
 * The agreed path and the set of live paths are what media attaches to.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-enums.h"
#include "wzp-path-private.h"

G_BEGIN_DECLS

/* How long the caller waits for NominateAck, and the keepalive interval
 * (docs/decisions.md, "Upgrade and fallback", "Only the caller nominates"). */
#define WZP_CALL_NOMINATE_ACK_MS     1000
#define WZP_CALL_KEEPALIVE_MS        1000

typedef enum {
  WZP_NOMINATOR_STATE_SEARCHING,   /* no path agreed yet */
  WZP_NOMINATOR_STATE_AGREED,      /* the call runs on the agreed path */
  WZP_NOMINATOR_STATE_RECOVERING,  /* the agreed path died: another must come in time */
  WZP_NOMINATOR_STATE_STOPPED,     /* the call ended */
} WzpNominatorState;

#define WZP_TYPE_NOMINATOR (_wzp_nominator_get_type ())
G_DECLARE_FINAL_TYPE (WzpNominator, _wzp_nominator, WZP, NOMINATOR, GObject)

/* @call_id names the call in the log; cancelling @cancellable stops every read. Timers
 * go to the thread-default main context. */
WzpNominator      *_wzp_nominator_new              (const char        *call_id,
                                                    WzpCallRole        role,
                                                    GCancellable      *cancellable);
/* The keepalive (a Ping on the agreed path every WZP_CALL_KEEPALIVE_MS) from now on. */
void               _wzp_nominator_start_keepalive  (WzpNominator      *self);
/* A new authenticated path: read from now on, and maybe nominated. Unless
 * @keep_spare (a round of dials is running), the caller closes a path no better than the
 * agreed one at once, since nobody will want it (the callee follows). */
void               _wzp_nominator_add_path         (WzpNominator      *self,
                                                    WzpPath           *path,
                                                    gboolean           keep_spare);
/* @path failed (a read error, or its local address went away): closed and dropped; an
 * agreed one falls back at once. */
void               _wzp_nominator_drop_path        (WzpNominator      *self,
                                                    WzpPath           *path,
                                                    GError            *error);
/* The direct attempts had their chance: the caller closes every path but the agreed and
 * the nominated one (the callee follows). */
void               _wzp_nominator_close_spares     (WzpNominator      *self);
/* The peer asked for a pipe while we agreed on a direct path: it may have lost that path
 * (maybe in one direction only), or have opened its pipe during the race. A Ping on the
 * path asks; unanswered, the caller moves the call to the relay (::relay-needed when it
 * needs a pipe for that). */
void               _wzp_nominator_peer_wants_relay (WzpNominator      *self);
/* Closes every path but @keep_open (nullable: the one a Hangup is being written on) and
 * stops every timer. */
void               _wzp_nominator_stop             (WzpNominator      *self,
                                                    WzpPath           *keep_open);

WzpNominatorState  _wzp_nominator_get_state        (WzpNominator      *self);
/* The path both sides agreed on (borrowed), or NULL. */
WzpPath           *_wzp_nominator_get_agreed       (WzpNominator      *self);
/* The live paths (WzpPath*, borrowed): the agreed one, the nominated one, spares. */
GPtrArray         *_wzp_nominator_get_paths        (WzpNominator      *self);
/* Whether an open relay path is among them. */
gboolean           _wzp_nominator_has_relay_path   (WzpNominator      *self);

/* The round trip of the latest Ping on the agreed path, in ms; -1 before one came back or
 * while no path is agreed. */
gint64             _wzp_nominator_get_rtt_ms       (WzpNominator      *self);
/* What we can receive (WZP_FEATURE_*), listed in every Nominate and NominateAck from now. */
void               _wzp_nominator_set_features     (WzpNominator       *self,
                                                    const char * const *features);
/* Whether the peer's latest Nominate (we are the callee) or NominateAck (the caller)
 * listed @feature: media is sent only to a peer that can take it. */
gboolean           _wzp_nominator_peer_has_feature (WzpNominator      *self,
                                                    const char        *feature);
/* Media frames read from any of the call's paths, on the nominator's context; @frame is
 * valid during the call only. */
typedef void (*WzpNominatorMediaFunc) (const WzpMediaFrame *frame,
                                       gpointer             user_data);
void               _wzp_nominator_set_media_func   (WzpNominator          *self,
                                                    WzpNominatorMediaFunc  func,
                                                    gpointer               user_data);

G_END_DECLS
