/* wzp-log-limiter.c: log lines about what others do, at most a few a second per source
 *
 * What a remote host decides (how often it is refused, how many connections it opens)
 * must not decide how much we write to the log: one connection sending bad messages once
 * wrote 24 MB of relay log in 20 s, and an idle flood on a client's port P wrote 134,713
 * "Too many open files" lines. The relay and the client's port P share this limiter
 * (docs/decisions.md, "One limiter for the relay and port P").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-log-limiter-private.h"
#include "wzp-timeout-private.h"
#include "wzp-token-bucket-private.h"

/* The limiter, on the caller's clock */

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
          now_us - self->last_forget_us >= WZP_LOG_LIMIT_INTERVAL_US)
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
      _wzp_token_bucket_init (&entry->bucket, WZP_LOG_LIMIT_INTERVAL_US, WZP_LOG_LIMIT_BURST);
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
          (all || now_us - entry->last_us >= WZP_LOG_LIMIT_INTERVAL_US))
        {
          func (entry->source, entry->limit_field, entry->limit, entry->suppressed, user_data);
          entry->suppressed = 0;
        }
      else if (entry_forgettable (entry, now_us))
        remove_entry (self, &iter, entry);
    }
  return g_hash_table_size (self->entries);
}

/* Lines */

struct _WzpLimitedLog
{
  WzpLogLimiter *limiter;
  GMainContext  *context;
  guint          sweep_id;       /* reports suppressed lines, forgets quiet sources */
};

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
  WzpLimitedLog *self = user_data;

  if (_wzp_log_limiter_sweep (self->limiter, g_get_monotonic_time (), FALSE,
                              flush_cb, self) > 0)
    return G_SOURCE_CONTINUE;
  self->sweep_id = 0;
  return G_SOURCE_REMOVE;
}

WzpLimitedLog *
_wzp_limited_log_new (GMainContext *context,
                      guint         max_sources)
{
  WzpLimitedLog *self = g_new0 (WzpLimitedLog, 1);

  self->limiter = _wzp_log_limiter_new (max_sources);
  self->context = context != NULL ? g_main_context_ref (context) : NULL;
  return self;
}

void
_wzp_limited_log_flush (WzpLimitedLog *self)
{
  _wzp_log_limiter_sweep (self->limiter, g_get_monotonic_time (), TRUE, flush_cb, self);
}

void
_wzp_limited_log_free (WzpLimitedLog *self)
{
  _wzp_clear_source (self->context, &self->sweep_id);
  _wzp_log_limiter_free (self->limiter);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self);
}

#define MAX_FIELDS 12

void
_wzp_limited_log_write (WzpLimitedLog   *self,
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

  if (self->sweep_id == 0)
    self->sweep_id = _wzp_timeout_add_seconds (self->context, 1, sweep_cb, self);

  if (!_wzp_log_limiter_check (self->limiter, source ? source : ANY_SOURCE,
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

