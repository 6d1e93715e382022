/* wzp-peer-candidates-private.h: what a call may dial to reach its peer
 *
 * The peer's candidates as the call took them from CallSetup, then from each
 * CandidateUpdate (docs/calls.md, "The race"): its host candidates as far as they may be
 * dialled (_wzp_call_filter_peer_host_candidates()), in the peer's order, then its
 * reflexive address, and the NAT type it said it is behind. The race dials these; it
 * never reads a signalling message. A set never changes once made: an update makes a new
 * one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "wzp-enums.h"

G_BEGIN_DECLS

typedef enum {
  WZP_PEER_CANDIDATE_HOST,       /* an address of one of the peer's interfaces */
  WZP_PEER_CANDIDATE_REFLEXIVE,  /* where the peer's relay sees it */
} WzpPeerCandidateKind;

typedef struct
{
  WzpPeerCandidateKind  kind;
  char                 *address;   /* IP:PORT, as the peer sent it */
} WzpPeerCandidate;

typedef struct _WzpPeerCandidates WzpPeerCandidates;

/* @reflexive and @host may be NULL; @nat is WZP_NAT_TYPE_UNKNOWN when the peer did not
 * say. */
WzpPeerCandidates      *_wzp_peer_candidates_new           (const char         *reflexive,
                                                            const char * const *host,
                                                            WzpNatType          nat);
WzpPeerCandidates      *_wzp_peer_candidates_ref           (WzpPeerCandidates  *self);
void                    _wzp_peer_candidates_unref         (WzpPeerCandidates  *self);

/* The candidates in order: the host ones, then the reflexive one. */
guint                   _wzp_peer_candidates_get_length    (WzpPeerCandidates  *self);
const WzpPeerCandidate *_wzp_peer_candidates_get           (WzpPeerCandidates  *self,
                                                            guint               index);
/* The reflexive address, or NULL. */
const char             *_wzp_peer_candidates_get_reflexive (WzpPeerCandidates  *self);
/* The host candidates' addresses, in order (never NULL). */
GStrv                   _wzp_peer_candidates_dup_host      (WzpPeerCandidates  *self);
WzpNatType              _wzp_peer_candidates_get_nat_type  (WzpPeerCandidates  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WzpPeerCandidates, _wzp_peer_candidates_unref)

G_END_DECLS
