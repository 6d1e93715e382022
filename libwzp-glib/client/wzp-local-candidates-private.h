/* wzp-local-candidates-private.h: what peers should dial to reach this client, at one
 * moment
 *
 * The client makes a new snapshot whenever its network info or the relay's view of it
 * changes, and pushes it to every call (_wzp_call_set_local_candidates()): a call fills
 * its offer, answer and CandidateUpdates from the latest one, and dials from its host
 * candidates, without asking the client (docs/calls.md, "Code"). A snapshot never
 * changes once made.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "wzp-enums.h"
#include "wzp-message-private.h"

G_BEGIN_DECLS

typedef struct _WzpLocalCandidates WzpLocalCandidates;

/* Before the client has network info: nothing to offer (filling sets no member). */
WzpLocalCandidates *_wzp_local_candidates_new_unknown (guint                serial);
/* @reflexive: the own relay's latest view of us, or NULL; @host in dial order; @nat the
 * IPv4 NAT type. */
WzpLocalCandidates *_wzp_local_candidates_new         (guint                serial,
                                                       const char          *reflexive,
                                                       const char * const  *host,
                                                       WzpNatType           nat);
WzpLocalCandidates *_wzp_local_candidates_ref         (WzpLocalCandidates  *self);
void                _wzp_local_candidates_unref       (WzpLocalCandidates  *self);

/* Grows whenever what a peer should dial changes (host candidates, or the address the
 * relay sees); a call compares it with what it last told the peer. */
guint               _wzp_local_candidates_get_serial  (WzpLocalCandidates  *self);
/* The host candidates, in dial order (a copy; NULL before there is network info). */
GStrv               _wzp_local_candidates_dup_host    (WzpLocalCandidates  *self);
/* Sets @reflexive_member, @local_member and (unless NULL, or the type is unknown)
 * @nat_member of @message; nothing before there is network info. */
void                _wzp_local_candidates_fill        (WzpLocalCandidates  *self,
                                                       WzpMessage          *message,
                                                       const char          *reflexive_member,
                                                       const char          *local_member,
                                                       const char          *nat_member);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WzpLocalCandidates, _wzp_local_candidates_unref)

G_END_DECLS
