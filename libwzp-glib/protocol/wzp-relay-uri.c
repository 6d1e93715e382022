/* wzp-relay-uri.c: relay URIs (see wzp-relay-uri-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

/* WZP_CLIENT_ERROR: the public error domain of a bad relay URI (defined in wzp-error.c) */
#include "wzp-error.h"
#include "wzp-identity.h"
#include "wzp-relay-uri-private.h"

gboolean
_wzp_relay_uri_parse_host_port (const char  *text,
                                guint16      default_port,
                                char       **out_host,
                                guint16     *out_port)
{
  g_autofree char *host = NULL;
  const char *colon;
  guint64 port = default_port;

  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');

      if (close == NULL || (close[1] != '\0' && close[1] != ':'))
        return FALSE;
      host = g_strndup (text + 1, close - text - 1);
      colon = close[1] == ':' ? close + 1 : NULL;
    }
  else
    {
      colon = strrchr (text, ':');
      host = colon ? g_strndup (text, colon - text) : g_strdup (text);
    }

  if (colon != NULL)
    {
      char *end = NULL;

      port = g_ascii_strtoull (colon + 1, &end, 10);
      if (end == colon + 1 || *end != '\0' || port > 65535)
        return FALSE;
    }
  if (*host == '\0' || port == 0)
    return FALSE;

  *out_host = g_steal_pointer (&host);
  *out_port = (guint16) port;
  return TRUE;
}

gboolean
_wzp_relay_uri_parse (const char  *uri,
                      char       **out_host,
                      guint16     *out_port,
                      char       **out_fingerprint,
                      GError     **error)
{
  g_autofree char *rest = NULL;
  char *hash;

  if (uri == NULL || !g_str_has_prefix (uri, "wzps://"))
    goto bad;
  rest = g_strdup (uri + strlen ("wzps://"));

  *out_fingerprint = NULL;
  hash = strchr (rest, '#');
  if (hash != NULL)
    {
      *hash = '\0';
      if (!wzp_fingerprint_is_valid (hash + 1))
        {
          g_set_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_INVALID_FINGERPRINT,
                       "“%s” in the relay URI is not a fingerprint (8 groups of 4 "
                       "lower-case hex digits)", hash + 1);
          return FALSE;
        }
      *out_fingerprint = g_strdup (hash + 1);
    }

  if (_wzp_relay_uri_parse_host_port (rest, WZP_RELAY_URI_DEFAULT_PORT, out_host, out_port))
    return TRUE;

bad:
  g_clear_pointer (out_fingerprint, g_free);
  g_set_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_INVALID_URI,
               "“%s” is not a relay URI; expected wzps://HOST:PORT#FINGERPRINT",
               uri ? uri : "");
  return FALSE;
}
