/* wzp-relay-uri.c: relay URIs (see wzp-relay-uri-private.h)
 *
 * Every way a relay address can be wrong gets its own message, naming the part at fault
 * and what it must be: people type these addresses, and the app shows the message under
 * the entry as they type (wzp_relay_uri_validate()).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>

/* WZP_CLIENT_ERROR: the public error domain of a bad relay URI (defined in wzp-error.c) */
#include "wzp-error.h"
#include "wzp-i18n-private.h"
#include "wzp-identity.h"
#include "wzp-relay-uri-private.h"

#define SCHEME "wzps://"

static gboolean
invalid (GError    **error,
         const char *format,
         ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError    **error,
         const char *format,
         ...)
{
  va_list args;

  if (error == NULL)
    return FALSE;
  va_start (args, format);
  *error = g_error_new_valist (WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_INVALID_URI, format, args);
  va_end (args);
  return FALSE;
}

/* Letters, digits, "-", "." and "_" (some private networks use it), and anything beyond
 * ASCII (an internationalized name, which the resolver converts). */
static gboolean
is_host_name (const char *host)
{
  for (const char *p = host; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.' && *p != '_' && (guchar) *p < 0x80)
      return FALSE;
  return g_utf8_validate (host, -1, NULL);
}

static gboolean
parse_port (const char  *text,
            guint16     *out_port,
            GError     **error)
{
  guint64 port = 0;

  if (*text == '\0')
    return invalid (error, _("The port is missing after the “:”: it must be a number from 1 "
                             "to 65535"));
  for (const char *p = text; *p != '\0'; p++)
    {
      if (!g_ascii_isdigit (*p) || port > 65535)
        {
          port = 0;
          break;
        }
      port = port * 10 + (guint64) (*p - '0');
    }
  if (port == 0 || port > 65535)
    return invalid (error, _("“%s” is not a port: the port must be a number from 1 to 65535"),
                    text);
  *out_port = (guint16) port;
  return TRUE;
}

/* HOST[:PORT] or [IPV6][:PORT]; @default_port 0 makes the port required. */
static gboolean
parse_host_port (const char  *text,
                 guint16      default_port,
                 char       **out_host,
                 guint16     *out_port,
                 GError     **error)
{
  g_autofree char *host = NULL;
  const char *port_text = NULL;
  guint16 port = default_port;

  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');
      g_autoptr(GInetAddress) address = NULL;

      if (close == NULL)
        return invalid (error, _("The IPv6 address after “[” has no closing “]”"));
      if (close[1] != '\0' && close[1] != ':')
        return invalid (error, _("Only “:” and a port may follow the IPv6 address in "
                                 "brackets, not “%s”"), close + 1);
      host = g_strndup (text + 1, close - text - 1);
      /* A link-local address keeps its zone (fe80::1%eth0), which GInetAddress does not
       * read but the resolver does. */
      {
        g_autofree char *bare = g_strndup (host, strcspn (host, "%"));

        address = g_inet_address_new_from_string (bare);
      }
      /* The zone too must be text, as a host name must (found by fuzz-relay-uri). */
      if (address == NULL || g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV6 ||
          !g_utf8_validate (host, -1, NULL))
        return invalid (error, _("“%s” in brackets is not an IPv6 address"), host);
      if (close[1] == ':')
        port_text = close + 2;
    }
  else
    {
      const char *colon = strchr (text, ':');

      if (colon != NULL && strchr (colon + 1, ':') != NULL)
        return invalid (error, _("An IPv6 address must be in brackets, like "
                                 "wzps://[2001:db8::1]:4433"));
      host = colon ? g_strndup (text, colon - text) : g_strdup (text);
      if (*host == '\0')
        return invalid (error, _("The relay address has no host name: put one after "
                                 "wzps://, like wzps://relay.example.org:4433"));
      if (!is_host_name (host))
        return invalid (error, _("“%s” is not a host name: a host name has only letters, "
                                 "digits, “-” and “.”"), host);
      if (colon != NULL)
        port_text = colon + 1;
    }

  if (port_text != NULL && !parse_port (port_text, &port, error))
    return FALSE;
  if (port == 0)
    return invalid (error, _("The relay address has no port: add “:” and the port, like "
                             "relay.example.org:4433"));

  *out_host = g_steal_pointer (&host);
  *out_port = port;
  return TRUE;
}

gboolean
_wzp_relay_uri_parse_host_port (const char  *text,
                                guint16      default_port,
                                char       **out_host,
                                guint16     *out_port)
{
  return parse_host_port (text, default_port, out_host, out_port, NULL);
}

gboolean
_wzp_relay_uri_parse (const char  *uri,
                      char       **out_host,
                      guint16     *out_port,
                      char       **out_fingerprint,
                      GError     **error)
{
  g_autofree char *authority = NULL;
  g_autofree char *host = NULL;
  const char *hash;
  const char *scheme_end;
  gsize len;
  guint16 port = 0;

  *out_host = NULL;
  *out_fingerprint = NULL;

  if (uri == NULL || *uri == '\0')
    return invalid (error, _("The relay address is empty: enter one like "
                             "wzps://relay.example.org:4433"));
  for (const char *p = uri; *p != '\0'; p++)
    if (g_ascii_isspace (*p))
      return invalid (error, _("The relay address must not contain spaces"));

  /* The scheme, as RFC 3986 says, in any case. */
  if (g_ascii_strncasecmp (uri, SCHEME, strlen (SCHEME)) != 0)
    {
      scheme_end = strstr (uri, "://");
      if (scheme_end != NULL && scheme_end > uri)
        {
          g_autofree char *scheme = g_strndup (uri, scheme_end - uri);

          return invalid (error, _("The relay address must start with wzps://, not %s://"),
                          scheme);
        }
      return invalid (error, _("The relay address must start with wzps://, like "
                               "wzps://relay.example.org:4433"));
    }
  uri += strlen (SCHEME);

  hash = strchr (uri, '#');
  len = hash != NULL ? (gsize) (hash - uri) : strlen (uri);
  /* A trailing "/" is what a pasted link often has; nothing else may follow the port. */
  if (len > 0 && uri[len - 1] == '/')
    len--;
  authority = g_strndup (uri, len);
  {
    const char *extra = strpbrk (authority, "/?@");

    if (extra != NULL)
      return invalid (error, _("Remove “%s”: a relay address is wzps://HOST:PORT, and "
                               "optionally “#” and the relay’s fingerprint"), extra);
  }

  if (!parse_host_port (authority, WZP_RELAY_URI_DEFAULT_PORT, &host, &port, error))
    return FALSE;

  if (hash != NULL)
    {
      if (hash[1] == '\0')
        {
          g_set_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_INVALID_FINGERPRINT,
                       _("Nothing follows the “#”: put the relay’s fingerprint after it, or "
                         "remove the “#”"));
          return FALSE;
        }
      if (!wzp_fingerprint_is_valid (hash + 1))
        {
          g_set_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_INVALID_FINGERPRINT,
                       _("“%s” after the “#” is not a relay fingerprint: it must be 8 groups "
                         "of 4 characters from 0–9 and a–f, separated by “:”"), hash + 1);
          return FALSE;
        }
      *out_fingerprint = g_strdup (hash + 1);
    }

  *out_host = g_steal_pointer (&host);
  *out_port = port;
  return TRUE;
}

/**
 * wzp_relay_uri_validate:
 * @uri: (nullable): a relay address, as a person typed it
 * @error: return location for a #GError
 *
 * Checks @uri the way [property@Wzp.Client:relay-uri] is read when the client connects,
 * without connecting: `wzps://HOST[:PORT][#FINGERPRINT]`. HOST is a host name, an IPv4
 * address, or an IPv6 address in brackets (`wzps://[2001:db8::1]:4433`); without a port
 * the address means port 4433 (%WZP_RELAY_URI_DEFAULT_PORT, where `wzp-relay` listens by
 * default). FINGERPRINT, when given, pins the relay's key (8 groups of 4 lower-case hex
 * digits, as `wzp-relay` prints its address). A single trailing `/` is allowed.
 *
 * Meant for an entry that checks the address as it is typed: on failure @error says which
 * part is wrong and what it must be, in a sentence for the user, translated (for example
 * "“99999” is not a port: the port must be a number from 1 to 65535", "The relay address
 * must start with wzps://, not https://", "An IPv6 address must be in brackets, like
 * wzps://[2001:db8::1]:4433"). The code is %WZP_CLIENT_ERROR_INVALID_FINGERPRINT when only
 * what follows `#` is wrong, and %WZP_CLIENT_ERROR_INVALID_URI otherwise (an empty or
 * %NULL @uri too, and spaces anywhere: strip what was pasted around it first).
 *
 * Returns: %TRUE if @uri is a relay address the client can connect to
 *
 * Since: 1.0
 */
gboolean
wzp_relay_uri_validate (const char  *uri,
                        GError     **error)
{
  g_autofree char *host = NULL;
  g_autofree char *fingerprint = NULL;
  guint16 port;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return _wzp_relay_uri_parse (uri, &host, &port, &fingerprint, error);
}
