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

/* The relay's lines */

void
_wzp_relay_log_flush (WzpRelay *self)
{
  if (self->log != NULL)
    _wzp_limited_log_flush (self->log);
}

void
_wzp_relay_log_clear (WzpRelay *self)
{
  g_clear_pointer (&self->log, _wzp_limited_log_free);
}

const char *
_wzp_relay_log_conn_source (RelayConn *conn)
{
  return (!conn->closed && conn->ip != NULL) ? conn->ip->key : conn->remote_addr;
}

/* Writes @message (already safe) with @fields at @level, unless (@source, @key) is over
 * its rate (the limiter shared with the client's port P: base/wzp-log-limiter.c). */
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
  if (self->log == NULL)
    self->log = _wzp_limited_log_new (self->context, WZP_RELAY_LOG_MAX_SOURCES);
  _wzp_limited_log_write (self->log, level, source, limit_field, key, extra, n_extra,
                          message);
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
