/* wzp-relay-log.c: the relay's log lines about what clients do, kept bounded
 *
 * One connection sending bad messages as fast as it could once wrote 24 MB of log in
 * 20 s: an info line per Error, each quoting up to 64 KB of its input. Here client text
 * is cut and escaped, and lines about limits, refusals and Errors are rate limited per
 * source and limit (see wzp-relay-log-private.h; docs/relay.md, "Logs").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-relay-log-private.h"
#include "wzp-timeout-private.h"
#include "wzp-token-bucket-private.h"

/* Text */

static gboolean
must_escape (gunichar c)
{
  GUnicodeType type;

  if (c == '\\' || c < 0x20 || c == 0x7f)
    return TRUE;
  if (c < 0x80)
    return FALSE;
  /* C1 controls, and what rewrites a terminal's or a viewer's line without showing
   * itself: bidi overrides, zero-width characters, line and paragraph separators. */
  type = g_unichar_type (c);
  return type == G_UNICODE_CONTROL || type == G_UNICODE_FORMAT ||
         type == G_UNICODE_LINE_SEPARATOR || type == G_UNICODE_PARAGRAPH_SEPARATOR ||
         type == G_UNICODE_UNASSIGNED || type == G_UNICODE_PRIVATE_USE ||
         type == G_UNICODE_SURROGATE;
}

char *
_wzp_relay_log_text (const char *text,
                     gsize       max_bytes)
{
  GString *out;
  const char *end;

  if (text == NULL)
    return g_strdup ("");

  /* Only what can still be shown is looked at: a 64 KB string costs no more than a
   * short one. An escape is at most 6 bytes a byte, so 4 input bytes per output byte is
   * plenty to know whether the text goes on. */
  end = text + strnlen (text, max_bytes * 4 + 4);
  out = g_string_sized_new (MIN ((gsize) (end - text), max_bytes) + 4);

  for (const char *p = text; p < end;)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);
      char escaped[16];
      const char *piece = p;
      gsize piece_len;
      gsize step;

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_snprintf (escaped, sizeof escaped, "\\x%02x", (guint8) *p);
          piece = escaped;
          piece_len = strlen (escaped);
          step = 1;
        }
      else
        {
          step = g_utf8_next_char (p) - p;
          piece_len = step;
          if (must_escape (c))
            {
              if (c == '\n')
                strcpy (escaped, "\\n");
              else if (c == '\t')
                strcpy (escaped, "\\t");
              else if (c == '\r')
                strcpy (escaped, "\\r");
              else if (c == '\\')
                strcpy (escaped, "\\\\");
              else if (c < 0x80)
                g_snprintf (escaped, sizeof escaped, "\\x%02x", c);
              else
                g_snprintf (escaped, sizeof escaped, "\\u%04x", c);
              piece = escaped;
              piece_len = strlen (escaped);
            }
        }

      if (out->len + piece_len > max_bytes)
        {
          g_string_append (out, "…");
          return g_string_free (out, FALSE);
        }
      g_string_append_len (out, piece, piece_len);
      p += step;
    }

  /* Stopped at the look-ahead's end, not the text's: it was longer than shown. */
  if (*end != '\0')
    g_string_append (out, "…");
  return g_string_free (out, FALSE);
}

/* The limiter */

typedef struct
{
  char           *source;
  const char     *limit_field;   /* static */
  char           *limit;
  WzpTokenBucket  bucket;
  guint           suppressed;    /* lines left out since the last one written */
  gint64          last_us;       /* the last line, written or not */
} LimiterEntry;

struct _WzpLogLimiter
{
  GHashTable *entries;           /* "source|limit" -> LimiterEntry* (owned) */
  guint       max_sources;
  guint       n_sources;         /* entries of a real source, not the shared "*" */
  gint64      last_forget_us;    /* 0: never */
};

#define ANY_SOURCE "*"

static void
entry_free (LimiterEntry *entry)
{
  g_free (entry->source);
  g_free (entry->limit);
  g_free (entry);
}

WzpLogLimiter *
_wzp_log_limiter_new (guint max_sources)
{
  WzpLogLimiter *self = g_new0 (WzpLogLimiter, 1);

  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) entry_free);
  self->max_sources = max_sources;
  return self;
}

void
_wzp_log_limiter_free (WzpLogLimiter *self)
{
  g_hash_table_unref (self->entries);
  g_free (self);
}

guint
_wzp_log_limiter_get_size (WzpLogLimiter *self)
{
  return g_hash_table_size (self->entries);
}

/* A pair with nothing to report and a full burst again is no different from a pair
 * never seen: it can go. */
static gboolean
entry_forgettable (LimiterEntry *entry,
                   gint64        now_us)
{
  return entry->suppressed == 0 &&
         _wzp_token_bucket_wait (&entry->bucket, now_us) == 0 &&
         entry->bucket.empty_at_us <= now_us - (gint64) entry->bucket.burst *
                                               entry->bucket.interval_us;
}

static void
remove_entry (WzpLogLimiter  *self,
              GHashTableIter *iter,
              LimiterEntry   *entry)
{
  if (strcmp (entry->source, ANY_SOURCE) != 0)
    self->n_sources--;
  g_hash_table_iter_remove (iter);
}

static void
forget_idle (WzpLogLimiter *self,
             gint64         now_us)
{
  GHashTableIter iter;
  LimiterEntry *entry;

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (entry_forgettable (entry, now_us))
      remove_entry (self, &iter, entry);
}

gboolean
_wzp_log_limiter_check (WzpLogLimiter *self,
                        const char    *source,
                        const char    *limit_field,
                        const char    *limit,
                        gint64         now_us,
                        guint         *suppressed)
{
  g_autofree char *key = g_strdup_printf ("%s|%s", source, limit);
  LimiterEntry *entry = g_hash_table_lookup (self->entries, key);

  *suppressed = 0;
  if (entry == NULL && strcmp (source, ANY_SOURCE) != 0 &&
      self->n_sources >= self->max_sources)
    {
      /* Full: make room from pairs gone quiet, at most once an interval (a scan per
       * line would cost an attack's every line the whole table). */
      if (self->last_forget_us == 0 ||
          now_us - self->last_forget_us >= WZP_RELAY_LOG_INTERVAL_US)
        {
          self->last_forget_us = now_us;
          forget_idle (self, now_us);
        }
      /* Still full: newcomers share a budget per limit, so the table stays bounded (by
       * the sources and the relay's own, fixed, limit names). */
      if (self->n_sources >= self->max_sources)
        {
          source = ANY_SOURCE;
          g_free (key);
          key = g_strdup_printf ("%s|%s", source, limit);
          entry = g_hash_table_lookup (self->entries, key);
        }
    }
  if (entry == NULL)
    {
      entry = g_new0 (LimiterEntry, 1);
      entry->source = g_strdup (source);
      entry->limit_field = limit_field;
      entry->limit = g_strdup (limit);
      _wzp_token_bucket_init (&entry->bucket, WZP_RELAY_LOG_INTERVAL_US, WZP_RELAY_LOG_BURST);
      g_hash_table_insert (self->entries, g_steal_pointer (&key), entry);
      if (strcmp (source, ANY_SOURCE) != 0)
        self->n_sources++;
    }

  entry->last_us = now_us;
  if (_wzp_token_bucket_wait (&entry->bucket, now_us) > 0)
    {
      entry->suppressed++;
      return FALSE;
    }
  _wzp_token_bucket_take (&entry->bucket, now_us);
  *suppressed = entry->suppressed;
  entry->suppressed = 0;
  return TRUE;
}

guint
_wzp_log_limiter_sweep (WzpLogLimiter          *self,
                        gint64                  now_us,
                        gboolean                all,
                        WzpLogLimiterFlushFunc  func,
                        gpointer                user_data)
{
  GHashTableIter iter;
  LimiterEntry *entry;

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    {
      if (entry->suppressed > 0 &&
          (all || now_us - entry->last_us >= WZP_RELAY_LOG_INTERVAL_US))
        {
          func (entry->source, entry->limit_field, entry->limit, entry->suppressed, user_data);
          entry->suppressed = 0;
        }
      else if (entry_forgettable (entry, now_us))
        remove_entry (self, &iter, entry);
    }
  return g_hash_table_size (self->entries);
}

/* The relay's lines */

static void
flush_cb (const char *source,
          const char *limit_field,
          const char *limit,
          guint       n,
          gpointer    user_data)
{
  g_autofree char *count = g_strdup_printf ("%u", n);
  GLogField fields[] = {
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
    { "PRIORITY", "6", -1 },
    { "WZP_SUPPRESSED", count, -1 },
    { "MESSAGE", NULL, -1 },
    { limit_field, limit, -1 },
  };
  g_autofree char *message = NULL;

  message = g_strdup_printf ("%s: %u more “%s” lines suppressed",
                             strcmp (source, ANY_SOURCE) == 0 ? "Other sources" : source,
                             n, limit);
  fields[3].value = message;
  /* A pair without a journal field of its own (a refused pipe) has none here either. */
  g_log_structured_array (G_LOG_LEVEL_INFO, fields,
                          limit_field != NULL ? G_N_ELEMENTS (fields)
                                              : G_N_ELEMENTS (fields) - 1);
}

static gboolean
sweep_cb (gpointer user_data)
{
  WzpRelay *self = user_data;

  if (_wzp_log_limiter_sweep (self->log_limiter, g_get_monotonic_time (), FALSE,
                              flush_cb, self) > 0)
    return G_SOURCE_CONTINUE;
  self->log_sweep_id = 0;
  return G_SOURCE_REMOVE;
}

void
_wzp_relay_log_flush (WzpRelay *self)
{
  if (self->log_limiter != NULL)
    _wzp_log_limiter_sweep (self->log_limiter, g_get_monotonic_time (), TRUE, flush_cb, self);
}

void
_wzp_relay_log_clear (WzpRelay *self)
{
  _wzp_clear_source (self->context, &self->log_sweep_id);
  g_clear_pointer (&self->log_limiter, _wzp_log_limiter_free);
}

const char *
_wzp_relay_log_conn_source (RelayConn *conn)
{
  return (!conn->closed && conn->ip != NULL) ? conn->ip->key : conn->remote_addr;
}

#define MAX_FIELDS 12

/* Writes @message (already safe) with @fields at @level, unless (@source, @key) is over
 * its rate; @limit_field, if not NULL, is added with @key as its value. */
static void
log_limited (WzpRelay        *self,
             GLogLevelFlags   level,
             const char      *source,
             const char      *limit_field,
             const char      *key,
             const GLogField *extra,
             gsize            n_extra,
             const char      *message)
{
  GLogField fields[MAX_FIELDS];
  g_autofree char *count = NULL;
  g_autofree char *line = NULL;
  guint suppressed;
  gsize n = 0;

  if (self->log_limiter == NULL)
    self->log_limiter = _wzp_log_limiter_new (WZP_RELAY_LOG_MAX_SOURCES);
  if (self->log_sweep_id == 0)
    self->log_sweep_id = _wzp_timeout_add_seconds (self->context, 1, sweep_cb, self);

  if (!_wzp_log_limiter_check (self->log_limiter, source ? source : ANY_SOURCE,
                               limit_field, key, g_get_monotonic_time (), &suppressed))
    return;

  g_assert (n_extra + 5 <= MAX_FIELDS);
  fields[n++] = (GLogField) { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 };
  fields[n++] = (GLogField) { "PRIORITY", level == G_LOG_LEVEL_DEBUG ? "7" : "6", -1 };
  if (limit_field != NULL)
    fields[n++] = (GLogField) { limit_field, key, -1 };
  if (suppressed > 0)
    {
      count = g_strdup_printf ("%u", suppressed);
      fields[n++] = (GLogField) { "WZP_SUPPRESSED", count, -1 };
      line = g_strdup_printf ("%s (%u more like this suppressed)", message, suppressed);
      message = line;
    }
  fields[n++] = (GLogField) { "MESSAGE", message, -1 };
  for (gsize i = 0; i < n_extra; i++)
    fields[n++] = extra[i];
  g_log_structured_array (level, fields, n);
}

/* A line of the relay's own words about a source, escaped and cut like client text,
 * since @format's arguments may quote some. (The attribute: clang's -Wformat-nonliteral
 * accepts a va_list format only from a function declared to take one.) */
G_GNUC_PRINTF (7, 0)
static void
log_formatted (WzpRelay       *self,
               GLogLevelFlags  level,
               const char     *source_key,
               const char     *key_field,
               const char     *key,
               const char     *remote_addr,
               const char     *format,
               va_list         args)
{
  g_autofree char *raw = g_strdup_vprintf (format, args);
  g_autofree char *text = _wzp_relay_log_text (raw, WZP_RELAY_LOG_MAX_TEXT);
  g_autofree char *message = NULL;
  GLogField extra[] = { { "WZP_REMOTE_ADDRESS", remote_addr, -1 } };

  message = remote_addr != NULL ? g_strdup_printf ("%s: %s", remote_addr, text)
                                : g_steal_pointer (&text);
  log_limited (self, level, source_key, key_field, key, extra, remote_addr != NULL ? 1 : 0,
               message);
}

void
_wzp_relay_log_limit (WzpRelay   *self,
                      const char *source_key,
                      const char *limit,
                      const char *remote_addr,
                      const char *format,
                      ...)
{
  va_list args;

  /* Counted whether or not the rate limit lets the line through. */
  _wzp_relay_counters_refused (self, limit);
  va_start (args, format);
  log_formatted (self, G_LOG_LEVEL_INFO, source_key, "WZP_LIMIT", limit, remote_addr,
                 format, args);
  va_end (args);
}

void
_wzp_relay_log_error (RelayConn  *conn,
                      const char *code,
                      const char *call_id,
                      const char *text)
{
  g_autofree char *safe_text = _wzp_relay_log_text (text, WZP_RELAY_LOG_MAX_TEXT);
  g_autofree char *safe_call_id = _wzp_relay_log_text (call_id,
                                                       WZP_RELAY_LOG_MAX_CLIENT_TEXT);
  g_autofree char *message = g_strdup_printf ("%s: %s (%s)", conn->remote_addr, safe_text,
                                              code);
  GLogField extra[] = {
    { "WZP_REMOTE_ADDRESS", conn->remote_addr, -1 },
    { "WZP_FINGERPRINT", conn->fingerprint ? conn->fingerprint : "", -1 },
    { "WZP_CALL_ID", safe_call_id, -1 },
  };

  log_limited (conn->relay, G_LOG_LEVEL_INFO, _wzp_relay_log_conn_source (conn),
               "WZP_ERROR_CODE", code, extra, G_N_ELEMENTS (extra), message);
}

void
_wzp_relay_log_peer_error (WzpRelay   *self,
                           const char *peer_fingerprint,
                           const char *peer_uri,
                           const char *fingerprint,
                           const char *code,
                           const char *call_id,
                           const char *text)
{
  g_autofree char *safe_text = _wzp_relay_log_text (text, WZP_RELAY_LOG_MAX_TEXT);
  g_autofree char *safe_call_id = _wzp_relay_log_text (call_id,
                                                       WZP_RELAY_LOG_MAX_CLIENT_TEXT);
  g_autofree char *safe_fingerprint = _wzp_relay_log_text (fingerprint,
                                                           WZP_RELAY_LOG_MAX_CLIENT_TEXT);
  g_autofree char *message = g_strdup_printf ("To %s at peer relay %s: %s (%s)",
                                              safe_fingerprint, peer_uri, safe_text, code);
  GLogField extra[] = {
    { "WZP_PEER", peer_fingerprint, -1 },
    { "WZP_FINGERPRINT", safe_fingerprint, -1 },
    { "WZP_CALL_ID", safe_call_id, -1 },
  };

  log_limited (self, G_LOG_LEVEL_INFO, peer_fingerprint, "WZP_ERROR_CODE", code,
               extra, G_N_ELEMENTS (extra), message);
}

void
_wzp_relay_log_refusal (WzpRelay       *self,
                        GLogLevelFlags  level,
                        const char     *source_key,
                        const char     *what,
                        const char     *remote_addr,
                        const char     *format,
                        ...)
{
  va_list args;

  _wzp_relay_counters_refused (self, what);
  va_start (args, format);
  log_formatted (self, level, source_key, NULL, what, remote_addr, format, args);
  va_end (args);
}

void
_wzp_relay_log_client_error (RelayConn  *conn,
                             const char *code,
                             const char *text)
{
  g_autofree char *safe_code = _wzp_relay_log_text (code, WZP_RELAY_LOG_MAX_CLIENT_TEXT);
  g_autofree char *safe_text = _wzp_relay_log_text (text, WZP_RELAY_LOG_MAX_CLIENT_TEXT);
  g_autofree char *message = g_strdup_printf ("%s: the client sent Error %s: %s",
                                              conn->remote_addr, safe_code, safe_text);
  GLogField extra[] = {
    { "WZP_REMOTE_ADDRESS", conn->remote_addr, -1 },
    { "WZP_FINGERPRINT", conn->fingerprint ? conn->fingerprint : "", -1 },
  };

  /* Keyed by a fixed name, not by the client's code: a client choosing a new code for
   * each Error must not get a budget for each. */
  log_limited (conn->relay, G_LOG_LEVEL_DEBUG, _wzp_relay_log_conn_source (conn), NULL,
               "error-from-client", extra, G_N_ELEMENTS (extra), message);
}
