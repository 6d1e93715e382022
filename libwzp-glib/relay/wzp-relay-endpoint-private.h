/* wzp-relay-endpoint-private.h: a call's party as the relay reaches it
 *
 * A party is registered here (a RelayConn: the local endpoint) or at a peer relay (the
 * federated endpoint: it is reached over the link, docs/protocol.md, "Calls across a
 * link"). The call code and the pipes talk to a party only through its endpoint's three
 * operations and never ask where it is: that used to be decided inside a send, by looking
 * at what was sent (docs/decisions.md, "The relay's parties are endpoints").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "wzp-relay-private.h"

G_BEGIN_DECLS

struct _RelayEndpointOps
{
  /* Passes @message on to the party; nothing when it cannot be reached. */
  void      (*send)         (RelayCall   *call,
                             int          role,
                             WzpMessage  *message);
  /* Tells the party about a problem with its pipe or its CallSetup here. A federated
   * party's pipe here is the bridge, and its own relay reports on its own pipes: to it,
   * nothing is sent. (An Error about a message goes back the way the message came,
   * wzp-relay-calls.c's Sender, not through this.) */
  void      (*send_error)   (RelayCall   *call,
                             int          role,
                             const char  *code,
                             const char  *text);
  /* The other party's pipe is waiting: the party should open its own. For a party at a
   * peer relay, the pipe that joins it is the bridge between the relays. */
  void      (*request_pipe) (RelayCall   *call,
                             int          role);
};

/* The endpoint of a party registered here (@peer_fingerprint NULL) or at the peer relay
 * @peer_fingerprint. */
const RelayEndpointOps *_wzp_relay_endpoint_for      (const char  *peer_fingerprint);

void        _wzp_relay_party_send          (RelayCall   *call,
                                            int          role,
                                            WzpMessage  *message);
void        _wzp_relay_party_send_error    (RelayCall   *call,
                                            int          role,
                                            const char  *code,
                                            const char  *format,
                                            ...) G_GNUC_PRINTF (4, 5);
void        _wzp_relay_party_request_pipe  (RelayCall   *call,
                                            int          role);

G_END_DECLS
