/* wzp-log-limiter-private.h: log lines about what others do, rate limited per source
 *
 * A remote host decides how often it is refused, how many connections it opens and what
 * text it sends; none of it may decide how much we log. Lines about limits, refusals and
 * errors go through a WzpLimitedLog: at most WZP_LOG_LIMIT_BURST lines at once and then
 * one an interval per (source, limit), where a source is an _wzp_address_source_key()
 * (IPv4 address or IPv6 /64) or NULL for the process as a whole (file descriptors, say).
 * The next line that goes through, or a line of its own once the pair has been quiet for
 * an interval, says how many were left out (journal field WZP_SUPPRESSED).
 *
 * Used by the relay (wzp-relay-log.c, docs/relay.md "Logs") and by the client's port P
 * (wzp-socket.c, wzp-client.c; docs/calls.md "Port P under a flood").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Per (source, limit): a burst of this many lines, then one per interval. */
#define WZP_LOG_LIMIT_BURST           5
#define WZP_LOG_LIMIT_INTERVAL_US     G_USEC_PER_SEC

typedef struct _WzpLogLimiter WzpLogLimiter;
typedef struct _WzpLimitedLog WzpLimitedLog;

/* The limiter itself, on the caller's clock (tests/test-relay-log.c). */
/* Called by _wzp_log_limiter_sweep() for a (source, limit) whose @n suppressed lines are
 * still unreported; @limit_field is the one given to _check. */
typedef void (*WzpLogLimiterFlushFunc) (const char *source,
                                        const char *limit_field,
                                        const char *limit,
                                        guint       n,
                                        gpointer    user_data);

WzpLogLimiter *_wzp_log_limiter_new     (guint            max_sources);
void           _wzp_log_limiter_free    (WzpLogLimiter   *self);
/* Whether a line about (@source, @limit) at @now_us may be written. If so, *@suppressed
 * is how many were left out since the last one (to say so in it); if not, it is counted.
 * @limit_field ("WZP_LIMIT" or "WZP_ERROR_CODE", a static string) is kept for the flush
 * line. */
gboolean       _wzp_log_limiter_check   (WzpLogLimiter   *self,
                                         const char      *source,
                                         const char      *limit_field,
                                         const char      *limit,
                                         gint64           now_us,
                                         guint           *suppressed);
/* Reports through @func the suppressed counts of pairs quiet for an interval (all of
 * them if @all), and forgets pairs with nothing to report whose burst has refilled
 * (they are then no different from new ones). Returns how many pairs are left. */
guint          _wzp_log_limiter_sweep   (WzpLogLimiter   *self,
                                         gint64           now_us,
                                         gboolean         all,
                                         WzpLogLimiterFlushFunc func,
                                         gpointer         user_data);
guint          _wzp_log_limiter_get_size (WzpLogLimiter  *self);

/* The lines: a limiter, and a timer on @context (NULL: the global default) that writes the
 * suppressed counts of pairs gone quiet; @max_sources as for _wzp_log_limiter_new(). */
WzpLimitedLog *_wzp_limited_log_new     (GMainContext    *context,
                                         guint            max_sources);
/* Frees the limiter and its timer; counts still pending are not written (call
 * _wzp_limited_log_flush() first where they matter, as a stopping relay does). */
void           _wzp_limited_log_free    (WzpLimitedLog   *self);
/* Writes the suppressed counts still pending (a stopping service leaves none unsaid). */
void           _wzp_limited_log_flush   (WzpLimitedLog   *self);
/* Writes @message (already safe to log) at @level with @extra fields, unless (@source,
 * @key) is over its rate. @source: a source key, or NULL for the process as a whole;
 * @limit_field, if not NULL (a static string: "WZP_LIMIT", "WZP_ERROR_CODE"), is added
 * with @key as its value. At most 7 @extra fields. */
void           _wzp_limited_log_write   (WzpLimitedLog   *self,
                                         GLogLevelFlags   level,
                                         const char      *source,
                                         const char      *limit_field,
                                         const char      *key,
                                         const GLogField *extra,
                                         gsize            n_extra,
                                         const char      *message);

G_END_DECLS
