/* wzp-relay-private.h: the relay's internal state, shared by its source files
 *
 *   wzp-relay.c         the object, listeners, registration, dispatch
 *   wzp-relay-conn.c    a client's connection: socket, TLS session, frames, deadlines
 *   wzp-relay-accept.c  a connection's stages from accept to a completed TLS handshake
 *   wzp-relay-session.c a client's TLS session, driven by the relay without threads
 *   wzp-relay-poller.c  the epoll set every client socket is watched through
 *   wzp-relay-wheel.c   the timing wheel that holds every connection's next deadline
 *   wzp-relay-proxy.c   a peer relay's connection handed to the GIO code of federation
 *                       (each declared in its own -private.h)
 *   wzp-relay-call.c    a call: registry, storage, end of life and who watches for it
 *   wzp-relay-calls.c   the call state machine and CallSetup cross-wiring
 *   wzp-relay-endpoint.c a party as the relay reaches it: here or at a peer relay
 *                       (declared in wzp-relay-endpoint-private.h)
 *   wzp-relay-pipes.c   pipe listener, token check, joining (matching pipes to calls)
 *   wzp-relay-forwarder.c  forwarding of joined pipes (recv/send) on a thread of its own
 *                       (declared in wzp-relay-forwarder-private.h)
 *   wzp-relay-limits.c  per-source-IP counters, message rate, fd reserve
 *   wzp-relay-refusal.c turning a connection away before TLS, saying why
 *   wzp-relay-log.c     log lines about clients: rate limited, client text cut
 *                       (declared in wzp-relay-log-private.h)
 *   wzp-relay-counters.c what an operator watches: connections by stage, refusals by
 *                       reason, idle clients (D-Bus GetCounters, a log line a minute)
 *   wzp-relay-ringing.c who has how many calls (set up, unanswered), as counters
 *   wzp-relay-federation*.c, wzp-relay-presence.c, wzp-relay-bridge.c: federation
 *                       (declared in wzp-relay-federation-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-address-private.h"
#include "wzp-frame-io-private.h"
#include "wzp-message-private.h"
#include "wzp-relay-forwarder-private.h"
#include "wzp-relay-poller-private.h"
#include "wzp-relay-session-private.h"
#include "wzp-relay-wheel-private.h"
#include "wzp-timeout-private.h"
#include "wzp-relay.h"

G_BEGIN_DECLS

typedef struct _RelayConn RelayConn;
typedef struct _RelayCall RelayCall;
typedef struct _RelayPipe RelayPipe;
typedef struct _IpCounters IpCounters;
typedef struct _RelayFederation RelayFederation;
typedef struct _RelayBridge RelayBridge;
typedef struct _RelayEndpointOps RelayEndpointOps;
typedef struct _RelayCounts RelayCounts;
typedef struct _RelayCounters RelayCounters;

/* Per source IPv4 address or IPv6 /64: identities are free, addresses are not. */
struct _IpCounters
{
  char  *key;
  guint  conns;          /* live signalling connections: they hold a pointer to this */
  guint  handshakes;     /* connections before their TLS handshake completed */
  guint  tls_handshakes; /* of those, the ones in the handshake itself */
  guint  unregistered;   /* established, not (yet) registered */
  GQueue awaiting_hello; /* RelayConn*: its connections awaiting their ClientHello, oldest first */
  guint  registrations;
  guint  pipes;
  guint  ringing;        /* unanswered offers made from here: calls point to this */
};

/* A token bucket: @rate per second, at most @burst saved up. */
typedef struct
{
  double tokens;
  gint64 last_us;
} RelayBucket;

/* Where a signalling connection is (wzp-relay-accept.c). */
typedef enum
{
  CONN_AWAITING_HELLO,  /* accepted; its first TLS record has not all arrived */
  CONN_QUEUED,          /* waiting for a TLS handshake slot */
  CONN_HANDSHAKING,     /* in its TLS handshake */
  CONN_ESTABLISHED,
  CONN_GONE,            /* closed, or handed over to federation */
} RelayConnStage;

/* One signalling connection (TLS), from accept to close. Its socket is in the relay's
 * epoll set and its deadlines in the relay's wheel, never a GSource of its own
 * (docs/relay.md, "The relay at scale"). */
struct _RelayConn
{
  grefcount           ref_count;
  WzpRelay           *relay;              /* unowned: the relay closes its conns first */
  GSocketConnection  *socket_conn;        /* owns the socket */
  int                 fd;
  RelayPollWatch     *watch;              /* NULL once closed */
  RelaySession       *session;            /* NULL until the handshake started */
  RelayWheelEntry     deadline;           /* its next check: handshake, keepalive, stall */
  gint64              handshake_deadline_us; /* monotonic; for the stages before */
  /* A peer relay's link or bridge is handed over as a plain stream to the federation
   * code (wzp-relay-proxy.c); these are that stream and its frame reader, set only
   * while the federation code adopts them. */
  GSocketConnection  *handover;
  GIOStream          *tls;
  WzpFrameIO         *io;
  IpCounters         *ip;                 /* unowned, refcounted by the counters */
  char               *remote_addr;        /* "ip:port" as the relay sees it */
  char               *local_ip;           /* the relay address the client reached */
  char               *fingerprint;        /* from the client's certificate */
  char               *alias;
  /* The client's signed presence binding (docs/protocol.md, "Presence bindings"), checked
   * at registration; NULL for a client that sent none (it is not announced to peers). */
  WzpBinding         *binding;
  gint64              registered_ms;      /* wall clock, when it last registered */
  gint64              connected_since;    /* unix seconds */
  gint64              last_activity_us;   /* monotonic */
  gint64              read_at_us;         /* when the frames being handled arrived */
  RelayBucket         messages;
  gint64              last_rate_error_us;
  guint               dropped_in_window;
  guint               bad_messages;
  RelayConnStage      stage;
  GList               awaiting_link;      /* in the relay's awaiting_hello queue */
  GList               awaiting_ip_link;   /* in its IpCounters' */
  gint64              accepted_us;        /* monotonic */
  gboolean            known_source;       /* its address completed a handshake before */
  gboolean            counted_unregistered;
  gboolean            registered;
  gboolean            closed;
  gboolean            closing;            /* stops reading; closes once its last frame is out */
  gboolean            write_failed;       /* closes on the next iteration (see conn_send) */
  gboolean            ping_outstanding;
};

/* What holds something of a call (its pipes, its bridge) learns that the call is going
 * away through this: relay-calls never calls those layers itself. */
typedef void (*RelayCallGoneFunc) (RelayCall *call,
                                   gpointer   data);

typedef struct
{
  RelayCallGoneFunc func;
  gpointer          data;
} RelayCallWatch;

typedef enum
{
  CALL_OFFERED,
  CALL_RINGING,
  CALL_SET_UP,
  CALL_ENDED,
} RelayCallState;

/* A party of a call, indexed by WzpCallRole. */
typedef struct
{
  char        *fingerprint;
  char        *alias;
  char        *reflexive_addr;
  char       **local_addrs;
  char        *nat_type;
  char        *pipe_secret;        /* 32 hex digits, sent once in CallSetup */
  gint64       last_pipe_seq;      /* OpenPipe seq must grow: tokens are single use */
  RelayPipe   *pipe;               /* this party's pipe, waiting or joined */
  guint        grace_id;           /* signalling lost, waiting for re-registration */
  char        *relay;              /* federation: the peer relay holding this party, or
                                    * NULL for a party registered here */
  const RelayEndpointOps *endpoint; /* how the relay reaches it (follows from @relay) */
} RelayParty;

struct _RelayCall
{
  WzpRelay       *relay;
  char           *call_id;
  RelayCallState  state;
  RelayParty      party[2];
  gboolean        privacy;
  gboolean        relayed;
  gint64          started;          /* unix seconds */
  guint           ring_timeout_id;
  guint           duration_id;
  IpCounters     *caller_ip;        /* a local caller's address while unanswered, counted
                                     * there (wzp-relay-ringing.c), else NULL */
  /* Federation (one party at a peer relay): the bridge between the two relays' pipes. The
   * callee's relay makes the secret and tells the caller's relay over the link. */
  char           *bridge_secret;
  gint64          last_bridge_seq;
  RelayBridge    *bridge;           /* the caller's relay's outgoing bridge, if any */
  GArray         *gone_watches;     /* RelayCallWatch: who hears the call go, or NULL */
};

struct _WzpRelay
{
  GObject          parent_instance;

  WzpIdentity     *identity;
  GPtrArray       *services;         /* GSocketService*: signalling */
  GPtrArray       *pipe_services;    /* GSocketService*: pipes */
  GPtrArray       *listen_addresses; /* char* */
  GPtrArray       *pipe_addresses;   /* char* */
  GHashTable      *conns;            /* RelayConn* set: every signalling connection */
  GHashTable      *registrations;    /* fingerprint -> RelayConn* (borrowed) */
  GHashTable      *calls;            /* call_id -> RelayCall* (owned) */
  guint            notified_registrations; /* the sizes of the two tables last notified */
  guint            notified_calls;
  GHashTable      *pipes;            /* RelayPipe* set (owned) */
  GHashTable      *ip_counters;      /* key -> IpCounters* (owned) */
  guint            pending_handshakes; /* connections before their handshake completed */
  guint            tls_handshakes;     /* of those, in the TLS handshake itself */
  GQueue           tls_queue;          /* RelayConn*: ClientHello in, waiting for a slot */
  GQueue           awaiting_hello;     /* RelayConn*: awaiting their ClientHello, oldest first */
  GHashTable      *known_sources;      /* ip keys that completed a handshake: this */
  GHashTable      *known_sources_old;  /* generation and the one before */
  GHashTable      *party_counts;     /* fingerprint -> RelayCounts* (owned) */
  GHashTable      *ringing_pairs;    /* "caller callee" -> unanswered RelayCall* */
  guint            resume_accept_id;
  RelayPoller     *poller;           /* every client socket (wzp-relay-poller.c) */
  RelayWheel      *wheel;            /* every connection's next deadline */
  gnutls_certificate_credentials_t tls_credentials; /* made at the first listen */
  GHashTable      *proxies;          /* RelayProxy* set (owned): peers' handed-over links */
  gboolean         running;
  GMainContext    *context;          /* thread-default at construction: the relay's */
  RelayForwarder  *forwarder;        /* pipe forwarding thread, while pipes were joined */
  struct _WzpLimitedLog *log;        /* wzp-relay-log.c: lines per source and limit */
  RelayCounters   *counters;         /* wzp-relay-counters.c: refusals, totals, its log line */

  /* Limits (properties) */
  guint            max_frame_size;
  guint            max_messages_per_second;
  guint            max_pending_handshakes;
  guint            max_handshakes_per_ip;
  guint            max_tls_handshakes;
  guint            client_hello_timeout;
  guint            handshake_timeout;
  guint            max_unregistered_per_ip;
  guint            max_registrations;
  guint            max_registrations_per_ip;
  guint            max_calls_per_client;
  guint            max_ringing_per_client;
  guint            max_ringing_per_ip;
  guint            max_ringing_per_callee;
  guint            max_pipes_per_ip;
  guint            pipe_bytes_per_second;
  guint            pipe_burst_bytes;
  guint            pipe_wait_timeout;
  guint            idle_timeout;
  guint            keepalive_interval;
  guint            ring_timeout;
  guint            grace_period;
  guint            max_call_duration;
  guint            min_free_fds;
  guint            max_queued_bytes;
  char           **allowed_fingerprints;
  char           **reflectors;

  RelayFederation *federation;       /* peers, links, remote presence, bridges */

  /* Test seam: sees (and may change) every CallSetup before it is sent. */
  void           (*setup_filter) (WzpMessage *setup, gpointer data);
  gpointer         setup_filter_data;
};

/* wzp-relay-conn.c */
RelayConn  *_wzp_relay_conn_new         (WzpRelay          *self,
                                         GSocketConnection *connection,
                                         IpCounters        *ip);
RelayConn  *_wzp_relay_conn_ref         (RelayConn    *conn);
void        _wzp_relay_conn_unref       (RelayConn    *conn);
void        _wzp_relay_conn_close       (RelayConn    *conn,
                                         const char   *why);
/* Sends Error{limit_reached} with the text, logs it with WZP_LIMIT = @limit, closes. */
void        _wzp_relay_conn_refuse      (RelayConn    *conn,
                                         const char   *limit,
                                         const char   *format,
                                         ...) G_GNUC_PRINTF (3, 4);
/* The TLS handshake completed: checks the identity and starts reading. */
void        _wzp_relay_conn_established (RelayConn    *conn);
void        _wzp_relay_conn_send        (RelayConn    *conn,
                                         WzpMessage   *message);
void        _wzp_relay_conn_send_error  (RelayConn    *conn,
                                         const char   *code,
                                         const char   *call_id,
                                         const char   *format,
                                         ...) G_GNUC_PRINTF (4, 5);
/* Sends @message as the last frame, then closes once it is out. */
void        _wzp_relay_conn_send_and_close (RelayConn *conn,
                                            WzpMessage *message);
/* A log line about the connection (client text in @message is cut). */
void        _wzp_relay_conn_log         (RelayConn      *conn,
                                         GLogLevelFlags  level,
                                         const char     *message);
/* The connection leaves the registrations (its calls wait for it: grace period). */
void        _wzp_relay_conn_unregister  (RelayConn    *conn);
/* Federation took it over (a proxy holds its socket and session): forgotten, not closed. */
void        _wzp_relay_conn_detach      (RelayConn    *conn);
/* The relay's wheel function: the connection's next check is due. */
void        _wzp_relay_conn_deadline    (RelayWheelEntry *entry,
                                         gint64           now_us,
                                         gpointer         user_data);

/* wzp-relay.c */
/* What a client's message means: registration, reflection, calls, federation. */
void        _wzp_relay_dispatch         (RelayConn    *conn,
                                         WzpMessage   *message);
gboolean    _wzp_relay_fingerprint_allowed (WzpRelay  *self,
                                            const char *fingerprint);
void        _wzp_relay_notify_counts    (WzpRelay     *self);
void        _wzp_relay_emit_call_started (WzpRelay    *self,
                                          RelayCall   *call);
void        _wzp_relay_emit_call_ended  (WzpRelay     *self,
                                         RelayCall    *call,
                                         const char   *reason);
void        _wzp_relay_emit_peer_link_changed (WzpRelay        *self,
                                               const char      *fingerprint,
                                               WzpPeerLinkState state);
void        _wzp_relay_emit_peer_presence_changed (WzpRelay   *self,
                                                   const char *fingerprint,
                                                   guint       n_announced);
RelayConn  *_wzp_relay_lookup_conn      (WzpRelay     *self,
                                         const char   *fingerprint);

/* Test-only: plays a lying relay (docs/decisions.md, "Pins never come from the relay"). */
void        _wzp_relay_set_setup_filter (WzpRelay     *self,
                                         void        (*filter) (WzpMessage *setup,
                                                                gpointer    data),
                                         gpointer      data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayConn, _wzp_relay_conn_unref)

/* wzp-relay-accept.c */
void        _wzp_relay_accept_init      (WzpRelay          *self);
void        _wzp_relay_accept_free      (WzpRelay          *self);
/* The "incoming" handler of the signalling listeners. */
gboolean    _wzp_relay_accept_incoming  (WzpRelay          *self,
                                         GSocketConnection *connection);
/* FALSE (and accepting paused for a second) when descriptors run low. */
gboolean    _wzp_relay_accept_check_fds (WzpRelay          *self,
                                         GSocketConnection *connection);
void        _wzp_relay_accept_conn_closed (RelayConn       *conn);
/* The socket of a connection before its handshake completed is ready. */
void        _wzp_relay_accept_io        (RelayConn         *conn,
                                         GIOCondition       events);
/* Its deadline came (the wheel): closes it, or schedules the next. */
void        _wzp_relay_accept_deadline  (RelayConn         *conn,
                                         gint64             now_us);
void        _wzp_relay_accept_conn_registered (RelayConn   *conn);

/* wzp-relay-refusal.c */
typedef enum {
  RELAY_REFUSAL_BUSY,                 /* a cap of the whole relay */
  RELAY_REFUSAL_TOO_MANY_FROM_NETWORK,  /* a cap per source address */
} RelayRefusal;
/* Tells the client on @fd, a signalling connection with no TLS yet, why it is turned
 * away (the alert record of wzp-tls-refusal-private.h), without blocking, and shuts down
 * its sending side; the caller then closes it as it would have. Never for pipes: they
 * do not begin with TLS. */
void        _wzp_relay_refuse_before_tls (int           fd,
                                          RelayRefusal  reason);

/* wzp-relay-call.c */
/* Frees @call (the registry's destroy function): its watchers hear first. */
void        _wzp_relay_call_free        (RelayCall    *call);
RelayCall  *_wzp_relay_call_lookup      (WzpRelay     *self,
                                         const char   *call_id);
/* @func(@call, @data) runs once, as @call is freed, before any of it is; the last to watch
 * hears first. Watching again with the same @func and @data changes nothing. */
void        _wzp_relay_call_watch_gone  (RelayCall    *call,
                                         RelayCallGoneFunc func,
                                         gpointer      data);
const char *_wzp_relay_call_state_name  (RelayCallState state);

/* wzp-relay-calls.c */
void        _wzp_relay_calls_handle     (WzpRelay     *self,
                                         RelayConn    *conn,
                                         WzpMessage   *message);
void        _wzp_relay_calls_party_lost (WzpRelay     *self,
                                         const char   *fingerprint);
void        _wzp_relay_calls_party_back (WzpRelay     *self,
                                         const char   *fingerprint);
void        _wzp_relay_call_end         (RelayCall    *call,
                                         WzpHangupReason reason,
                                         int           notify_role);
void        _wzp_relay_calls_shutdown   (WzpRelay     *self);

/* wzp-relay-ringing.c */
void        _wzp_relay_ringing_init     (WzpRelay       *self);
void        _wzp_relay_ringing_free     (WzpRelay       *self);
void        _wzp_relay_call_set_state   (RelayCall      *call,
                                         RelayCallState  state);
guint       _wzp_relay_counts_active    (WzpRelay       *self,
                                         const char     *fingerprint);
guint       _wzp_relay_counts_ringing_out (WzpRelay     *self,
                                           const char   *fingerprint);
guint       _wzp_relay_counts_ringing_in  (WzpRelay     *self,
                                           const char   *fingerprint);
RelayCall  *_wzp_relay_ringing_between  (WzpRelay       *self,
                                         const char     *caller,
                                         const char     *callee);
/* Whether @fingerprint is a party of any call the relay holds: offered, ringing or set up. */
gboolean    _wzp_relay_counts_in_call   (WzpRelay       *self,
                                         const char     *fingerprint);

/* wzp-relay-pipes.c */
gboolean    _wzp_relay_pipes_incoming   (WzpRelay          *self,
                                         GSocketConnection *connection);
void        _wzp_relay_pipe_close       (RelayPipe         *pipe,
                                         const char        *code,
                                         const char        *reason);
void        _wzp_relay_pipes_close_all  (WzpRelay          *self);
/* Joined pipe pairs the forwarding thread is carrying. */
guint       _wzp_relay_pipes_get_n_forwarding (WzpRelay    *self);
/* A federation bridge's end stands in for party @role's pipe (wzp-relay-bridge.c). */
gboolean    _wzp_relay_pipes_add_bridge (RelayCall         *call,
                                         int                role,
                                         GSocketConnection *connection,
                                         const char        *description);

/* wzp-relay-limits.c */
IpCounters *_wzp_relay_ip_counters      (WzpRelay      *self,
                                         GInetAddress  *address);
void        _wzp_relay_ip_counters_gc   (WzpRelay      *self,
                                         IpCounters    *counters);
/* The same at @now_us: for what arrived then, however late it is looked at. */
gboolean    _wzp_relay_bucket_take_at   (RelayBucket   *bucket,
                                         double         rate,
                                         double         burst,
                                         double         amount,
                                         gint64         now_us);
gboolean    _wzp_relay_bucket_take      (RelayBucket   *bucket,
                                         double         rate,
                                         double         burst,
                                         double         amount);
double      _wzp_relay_bucket_wait_us   (RelayBucket   *bucket,
                                         double         rate,
                                         double         amount);
gboolean    _wzp_relay_fds_low          (WzpRelay      *self,
                                         int            fd);
void        _wzp_relay_raise_nofile     (void);

/* wzp-relay-counters.c */
void        _wzp_relay_counters_init    (WzpRelay      *self);
void        _wzp_relay_counters_free    (WzpRelay      *self);
/* @reason (a [limits] key, or a fixed limit's name: docs/relay.md, "Counters") turned
 * something away, or closed a connection, once more. Lines through _wzp_relay_log_limit()
 * and _wzp_relay_log_refusal() are counted there; call this for the others. */
void        _wzp_relay_counters_refused (WzpRelay      *self,
                                         const char    *reason);
/* A signalling connection was taken in (past the checks at accept). */
void        _wzp_relay_counters_accepted (WzpRelay     *self);
/* The relay started listening: the periodic log line starts (once). */
void        _wzp_relay_counters_start   (WzpRelay      *self);
/* The relay stops: the last line (if it was listening), and no more. */
void        _wzp_relay_counters_stop    (WzpRelay      *self);
/* Test seam: the periodic line every @interval_ms instead of every minute. */
void        _wzp_relay_counters_set_log_interval (WzpRelay *self,
                                                  guint     interval_ms);

G_END_DECLS
