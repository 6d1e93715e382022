/* wzp-call-private.h: what WzpClient and WzpCall say to each other
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "wzp-call.h"
#include "wzp-client.h"
#include "wzp-message-private.h"
#include "wzp-path-private.h"

G_BEGIN_DECLS

/* Default deadlines (DESIGN.md sections 5 and 11). */
#define WZP_CALL_CONNECT_DEADLINE_MS 10000
#define WZP_CALL_NOMINATE_ACK_MS     1000
#define WZP_CALL_KEEPALIVE_MS        1000

WzpCall   *_wzp_call_new_outgoing       (WzpClient    *client,
                                         const char   *peer_fingerprint,
                                         gboolean      privacy);
WzpCall   *_wzp_call_new_incoming       (WzpClient    *client,
                                         WzpMessage   *offer);
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
/* The client's candidates differ from what this call last told the peer (the client is
 * registered): CandidateUpdate to the peer, and the peer's candidates are dialled again
 * from the new addresses. */
void       _wzp_call_announce_candidates (WzpCall     *self);
/* Sends the offer; @task completes with the call once a path is nominated. */
void       _wzp_call_start              (WzpCall      *self,
                                         GTask        *task);
/* Direct connections accepted on P: does the preamble name this call, and take it. */
gboolean   _wzp_call_matches_preamble   (WzpCall      *self,
                                         const guint8 *preamble);
void       _wzp_call_take_accepted      (WzpCall      *self,
                                         GSocketConnection *connection);
/* Ends the call locally without telling anyone (the client is going away). */
void       _wzp_call_abandon            (WzpCall      *self,
                                         const char   *why);

/* WzpClient's side */
void        _wzp_client_send            (WzpClient    *self,
                                         WzpMessage   *message);
/* @nat_member may be NULL (CandidateUpdate carries no NAT type). */
void        _wzp_client_fill_candidates (WzpClient    *self,
                                         WzpMessage   *message,
                                         const char   *reflexive_member,
                                         const char   *local_member,
                                         const char   *nat_member);
/* Grows whenever the candidates a peer should know change (host candidates, or the
 * address the relay sees); a call compares it with what it last sent. */
guint       _wzp_client_get_candidates_serial (WzpClient *self);
/* Whether @connection's local address is still one of @own_addresses (TRUE when there
 * is nothing to go by). */
gboolean    _wzp_connection_is_on_own_address (GSocketConnection  *connection,
                                               const char * const *own_addresses);
const char *_wzp_client_get_fingerprint (WzpClient    *self);
void        _wzp_client_call_ended      (WzpClient    *self,
                                         WzpCall      *call);

G_END_DECLS
