/* wzp-race-private.h: the direct half of a call's connection race (docs/calls.md,
 * "The race"; docs/decisions.md, "The race belongs to the call")
 *
 * A WzpRace lives as long as the call's connect phase. It dials every peer candidate
 * (host candidates on private networks from an ephemeral port; global IPv6 and reflexive
 * ones from the shared port P so simultaneous open can punch through NATs and stateful
 * firewalls), takes the peer's dials accepted on P, runs the preamble and the call's
 * end-to-end TLS on each, and reports every authenticated path with ::path. It never
 * picks a winner: the call nominates (the caller) or follows nominations (the callee).
 *
 * A dialler starts its TLS right after sending its preamble and reads the peer's
 * preamble, exactly, in front of the peer's TLS bytes (wzp-expect-stream-private.h). It
 * runs until stopped: after a relay nomination the call lets it go on until the connect
 * deadline, failed P-bound dials are retried a few times, and every path it authenticates
 * later is reported too (the caller nominates it in place of the relay: an upgrade).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-enums.h"
#include "wzp-identity.h"
#include "wzp-path-private.h"
#include "wzp-peer-candidates-private.h"
#include "wzp-socket-private.h"

G_BEGIN_DECLS

/* The preamble: magic, version, SHA-256 of the call id (not the id itself). */
#define WZP_PREAMBLE_MAGIC   "WZP"
#define WZP_PREAMBLE_VERSION 1
#define WZP_PREAMBLE_LEN     (3 + 1 + 32)

/* Pacing between direct dials, in dial order. */
#define WZP_RACE_PACING_MS   2

#define WZP_TYPE_RACE (_wzp_race_get_type ())
G_DECLARE_FINAL_TYPE (WzpRace, _wzp_race, WZP, RACE, GObject)

/* Signals:
 *  ::path (WzpPath *path): an authenticated direct path (pointer, borrowed)
 *  ::candidate-result (address, kind, result, reason): an attempt's outcome; kind is
 *     WZP_CANDIDATE_KIND_HOST or _REFLEXIVE, result a WzpCandidateResult. A candidate
 *     may report more than once: a retried dial, or a merged dial later "ok" (the peer's
 *     connection came) or "failed" (it did not, within 100 ms)
 *  ::exhausted: every candidate failed at least once (a merged dial counts only when its
 *     deadline passed); emitted once. Retries go on after it. */

WzpRace    *_wzp_race_new                (const char      *call_id,
                                          WzpCallRole      role,
                                          WzpIdentity     *identity,
                                          const char      *peer_fingerprint,
                                          WzpSharedPort   *shared_port,
                                          WzpPeerCandidates *peer_candidates,
                                          const char * const *own_candidates);
/* Starts dialling every candidate. Returns how many of the dials are promising (a
 * reflexive one the peer's NAT type allows, a global IPv6 one, or a host candidate on one
 * of our own networks); 0 means the relay should not wait for a head start, though the other
 * dials still run and may replace it later (docs/decisions.md, "The relay's head start"). */
guint       _wzp_race_start              (WzpRace         *self);
/* A connection accepted on P whose preamble named this call (already read). */
void        _wzp_race_take_accepted      (WzpRace         *self,
                                          GSocketConnection *connection);
/* Cancels every attempt still running (each reports "cancelled"). */
void        _wzp_race_stop               (WzpRace         *self);
/* The preamble hash of a call id. */
void        _wzp_preamble_build          (const char      *call_id,
                                          guint8           out[WZP_PREAMBLE_LEN]);
/* The path kind (docs/decisions.md, "The path kind follows the remote address"). */
WzpPathKind _wzp_path_kind_for_address   (const char      *address);

G_END_DECLS
