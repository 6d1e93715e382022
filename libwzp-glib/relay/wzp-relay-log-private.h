/* wzp-relay-log-private.h: the relay's log lines about what clients do, kept bounded
 *
 * A hostile client decides how often the relay refuses it and what text it sends, so
 * neither may decide how much the relay writes to its log (docs/relay.md, "Logs"):
 *
 * - text from the network (Error messages a client sent, call ids, aliases, decoder
 *   errors that quote input, Error texts that quote it) goes through
 *   _wzp_relay_log_text(): cut short, control characters escaped;
 * - limit hits, refusals and Errors sent to clients go through _wzp_relay_log_limit()
 *   or _wzp_relay_log_error(): at most WZP_RELAY_LOG_BURST lines at once and then one a
 *   second per source (an IpCounters key) and limit (a [limits] key or an Error code).
 *   The next line that goes through, or a line of its own once the source has been
 *   quiet for a second, says how many were left out (journal field WZP_SUPPRESSED).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "wzp-log-limiter-private.h"
#include "wzp-relay-private.h"

G_BEGIN_DECLS

/* The most bytes of one piece of client text in a log line (an alias, a call id, the
 * text of an Error the client sent); "…" follows when it was longer. */
#define WZP_RELAY_LOG_MAX_CLIENT_TEXT 128
/* The most bytes of a sentence that may quote client text (an Error's text, a decoder's
 * error): the relay's own sentences are shorter. */
#define WZP_RELAY_LOG_MAX_TEXT        256

/* Per (source, limit): a burst of this many lines, then one per interval (the limiter
 * shared with the client's port P, base/wzp-log-limiter-private.h). */
#define WZP_RELAY_LOG_BURST           WZP_LOG_LIMIT_BURST
#define WZP_RELAY_LOG_INTERVAL_US     WZP_LOG_LIMIT_INTERVAL_US
/* The most (source, limit) pairs tracked. Beyond it, new sources share one budget per
 * limit (source "*"), so the state stays bounded however many addresses attack. */
#define WZP_RELAY_LOG_MAX_SOURCES     1024

/* @text (NULL reads as "") made safe for a log line: valid UTF-8 kept as it is,
 * backslash, control and format characters (newlines, escape sequences, bidi overrides)
 * escaped as \n, \t, \\, \xNN, \uNNNN, invalid bytes as \xNN, and cut at @max_bytes
 * bytes (never inside a character or an escape) with "…" after it. */
char       *_wzp_relay_log_text         (const char   *text,
                                         gsize         max_bytes);

/* The source key of @conn for rate limiting: its IpCounters key (IPv4 address or IPv6
 * /64), or its remote address once it is closed (its counters may be gone). */
const char *_wzp_relay_log_conn_source  (RelayConn    *conn);

/* Logs, at INFO, that @limit was hit or a connection refused, rate limited per
 * (@source_key, @limit):
 * @source_key: an IpCounters key (_wzp_relay_ip_key()), or a peer relay's fingerprint;
 *   NULL for the relay as a whole (file descriptors, say);
 * @limit: the [limits] key (docs/relay.md), journal field WZP_LIMIT;
 * @remote_addr: NULL, or the address and port of the connection (WZP_REMOTE_ADDRESS),
 *   which then starts the line;
 * @format: the sentence. It may quote client text: the result is escaped and cut like
 *   client text, at WZP_RELAY_LOG_MAX_TEXT bytes.
 * For any refusal at accept: incoming_cb's handshake limits call this with the
 * address's key (which may be garbage-collected right after: the limiter keeps its own
 * copy). */
void        _wzp_relay_log_limit        (WzpRelay     *self,
                                         const char   *source_key,
                                         const char   *limit,
                                         const char   *remote_addr,
                                         const char   *format,
                                         ...) G_GNUC_PRINTF (5, 6);

/* Logs, at INFO, an Error with @code and @text sent to @conn about @call_id (or NULL),
 * rate limited per (the connection's source, @code). @text and @call_id may be client
 * text. */
void        _wzp_relay_log_error        (RelayConn    *conn,
                                         const char   *code,
                                         const char   *call_id,
                                         const char   *text);

/* The same for an Error sent to @fingerprint at the peer relay @peer_fingerprint
 * (@peer_uri), which passes it on; rate limited per (peer relay, @code). */
void        _wzp_relay_log_peer_error   (WzpRelay     *self,
                                         const char   *peer_fingerprint,
                                         const char   *peer_uri,
                                         const char   *fingerprint,
                                         const char   *code,
                                         const char   *call_id,
                                         const char   *text);

/* Like _wzp_relay_log_limit(), at @level, for a refusal that is no configured limit (a
 * pipe without a valid token, say): @what names it for the rate limiting only, and the
 * line has no WZP_LIMIT. */
void        _wzp_relay_log_refusal      (WzpRelay       *self,
                                         GLogLevelFlags  level,
                                         const char     *source_key,
                                         const char     *what,
                                         const char     *remote_addr,
                                         const char     *format,
                                         ...) G_GNUC_PRINTF (6, 7);

/* Logs, at DEBUG, an Error @conn sent (its @code and @text, both client text), rate
 * limited per source like the others. */
void        _wzp_relay_log_client_error (RelayConn      *conn,
                                         const char     *code,
                                         const char     *text);

/* Writes the suppressed counts still pending (a stopping relay leaves none unsaid). */
void        _wzp_relay_log_flush        (WzpRelay     *self);
/* Frees the relay's limiter state and its timer. */
void        _wzp_relay_log_clear        (WzpRelay     *self);

G_END_DECLS
