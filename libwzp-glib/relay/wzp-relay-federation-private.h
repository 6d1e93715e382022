/* wzp-relay-federation-private.h: federation between relays (docs/protocol.md,
 * "Federation"), shared by the relay's source files
 *
 *   wzp-relay-federation.c  configured peers, links (dial, accept, FederationHello,
 *                           keepalive, reconnect), FederatedSignalForward routing
 *   wzp-relay-presence.c    PresenceUpdate: what each peer holds, batching, chunking
 *   wzp-relay-bridge.c      the bridged relay path: relay-to-relay pipe joins
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "wzp-relay-private.h"
#include "wzp-token-bucket-private.h"

G_BEGIN_DECLS

/* A configured peer relay refused for being no peer (FederationHello from a stranger). */
#define WZP_ERROR_CODE_NOT_A_PEER "not_a_peer"

typedef struct _RelayPeer RelayPeer;
typedef struct _RelayLink RelayLink;

/* A configured federation peer. Exactly one link per pair: the relay whose fingerprint
 * sorts first dials, the other accepts (docs/protocol.md, Federation). */
struct _RelayPeer
{
  WzpRelay          *relay;
  char              *uri;
  char              *host;
  guint16            port;
  char              *fingerprint;
  gboolean           dialer;          /* we dial this peer (our fingerprint sorts first) */
  WzpPeerLinkState   state;
  RelayLink         *link;            /* the link that is up, or NULL */
  RelayLink         *dialling;        /* our outgoing link until its FederationHello */
  guint              retry_id;
  guint              backoff_ms;

  /* Presence (wzp-relay-presence.c) */
  GHashTable        *announced;       /* what the peer holds: fingerprint -> its binding */
  GHashTable        *staging;         /* a chunked snapshot being received, or NULL */
  GHashTable        *pending;         /* our changes not sent yet: fingerprint -> present */
  guint              flush_id;
  WzpTokenBucket     bucket;          /* paces our updates to the peer */
};

struct _RelayFederation
{
  GPtrArray         *peers;           /* RelayPeer*, in the order they were added (owned) */
  GHashTable        *links;           /* RelayLink* set: every link, up or not (owned ref) */
  GHashTable        *local;           /* what we announce: fingerprint -> WzpBinding (owned) */
  GHashTable        *bridges;         /* RelayBridge* set (owned) */
  gboolean           started;
};

/* wzp-relay-federation.c */
void        _wzp_relay_federation_init      (WzpRelay    *self);
void        _wzp_relay_federation_free      (WzpRelay    *self);
/* Starts dialling the configured peers (called when the relay starts listening). */
void        _wzp_relay_federation_start     (WzpRelay    *self);
/* Closes every link and stops dialling; the peers stay configured. @graceful lets each
 * link write what is queued (the Hangups of the calls just ended) first. */
void        _wzp_relay_federation_stop      (WzpRelay    *self,
                                             gboolean     graceful);
RelayPeer  *_wzp_relay_federation_peer      (WzpRelay    *self,
                                             const char  *fingerprint);
gboolean    _wzp_relay_federation_is_peer   (WzpRelay    *self,
                                             const char  *fingerprint);
/* Bytes queued on the link to @fingerprint and not yet written (0 without a link). */
gsize       _wzp_relay_federation_get_link_backlog (WzpRelay   *self,
                                                    const char *fingerprint);
/* A signalling connection from a peer relay that sent FederationHello (a link) or
 * OpenPipe (a bridge) instead of registering: on TRUE the federation owns its stream and
 * the caller detaches the connection; on FALSE it answers Error{code, error->message}
 * and closes. */
gboolean    _wzp_relay_federation_adopt     (WzpRelay    *self,
                                             RelayConn   *conn,
                                             WzpMessage  *message,
                                             const char **code,
                                             GError     **error);
/* Whether @inner fits in the FederatedSignalForward that carries it over a link. */
gboolean    _wzp_relay_federation_check_size (WzpRelay    *self,
                                              WzpMessage  *inner,
                                              GError     **error);
/* Sends @inner to @peer_fingerprint inside FederatedSignalForward; FALSE if no link. */
gboolean    _wzp_relay_federation_forward   (WzpRelay    *self,
                                             const char  *peer_fingerprint,
                                             WzpMessage  *inner);
/* Sends @message on @peer's link as it is; nothing when the link is down. */
void        _wzp_relay_federation_send      (RelayPeer   *peer,
                                             WzpMessage  *message);
/* Our reflectors plus every peer's URI, for RegisterPresenceAck. */
GStrv       _wzp_relay_federation_dup_reflectors (WzpRelay *self);
/* Sends a plain Error on @peer's link (about the link, not a party). */
void        _wzp_relay_federation_link_error (RelayPeer  *peer,
                                              const char *code,
                                              const char *call_id,
                                              const char *format,
                                              ...) G_GNUC_PRINTF (4, 5);
/* Test-only: drops every link at once, as a network failure would. */
void        _wzp_relay_federation_drop_links (WzpRelay   *self);

/* wzp-relay-presence.c */
/* A client registered with @binding (@present; a NULL binding is not announced) or is
 * gone (!@present). */
void        _wzp_relay_presence_local_changed (WzpRelay         *self,
                                               const char       *fingerprint,
                                               const WzpBinding *binding,
                                               gboolean          present);
/* The peer relay whose binding for @fingerprint is the newest, verified, and newer than
 * @newer_than_ms (the time of a registration here, or G_MININT64), or NULL. */
RelayPeer  *_wzp_relay_presence_lookup      (WzpRelay    *self,
                                             const char  *fingerprint,
                                             gint64       newer_than_ms);
/* Whether @peer holds the binding of @fingerprint that wins (docs/protocol.md, "Presence
 * bindings"): what a forwarded offer's caller needs. */
gboolean    _wzp_relay_presence_speaks_for  (WzpRelay    *self,
                                             RelayPeer   *peer,
                                             const char  *fingerprint,
                                             gint64       newer_than_ms);
void        _wzp_relay_presence_link_up     (RelayPeer   *peer);
void        _wzp_relay_presence_link_down   (RelayPeer   *peer);
gboolean    _wzp_relay_presence_handle      (RelayPeer   *peer,
                                             WzpMessage  *update,
                                             GError     **error);
/* Sends a pending change about @fingerprint to @peer now (before an offer from it). */
void        _wzp_relay_presence_flush_for   (RelayPeer   *peer,
                                             const char  *fingerprint);
void        _wzp_relay_presence_peer_init   (RelayPeer   *peer);
void        _wzp_relay_presence_peer_clear  (RelayPeer   *peer);
/* Test-only: paces the updates to every peer of @self with a full bucket of @burst tokens
 * (0: the relay's own burst), one per @interval_us. A burst of 1 is the fixed batching of
 * before, the benchmark's baseline. */
void        _wzp_relay_presence_set_pacing  (WzpRelay    *self,
                                             gint64       interval_us,
                                             guint        burst);

/* wzp-relay-calls.c: calls with a party at a peer relay */
void        _wzp_relay_calls_handle_remote  (WzpRelay    *self,
                                             RelayPeer   *peer,
                                             WzpMessage  *inner);
/* The link to @peer_fingerprint went down: its calls end, the local parties are told. */
void        _wzp_relay_calls_peer_lost      (WzpRelay    *self,
                                             const char  *peer_fingerprint);

/* wzp-relay-pipes.c: @conn (one end of a socketpair; the bridge holds the other) stands in
 * for the pipe of @call's party @role, which is at a peer relay; the bridge checked its
 * token. It is matched, joined, requested and timed out like a pipe from OpenPipe, and
 * gets PipeReady when joined. FALSE if it cannot be (the call is not set up). */
gboolean    _wzp_relay_pipes_add_bridge     (RelayCall         *call,
                                             int                role,
                                             GSocketConnection *conn,
                                             const char        *description);

/* wzp-relay-bridge.c */
/* The caller's pipe is here and the callee is at a peer relay: dial the bridge. */
void        _wzp_relay_bridge_open          (RelayCall   *call);
/* A bridge dialled by a peer relay arrived on the signalling listener with OpenPipe. */
gboolean    _wzp_relay_bridge_adopt         (WzpRelay    *self,
                                             RelayPeer   *peer,
                                             RelayConn   *conn,
                                             WzpMessage  *open_pipe,
                                             const char **code,
                                             GError     **error);
void        _wzp_relay_bridge_close_all     (WzpRelay    *self);

G_END_DECLS
