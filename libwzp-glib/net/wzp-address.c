/* wzp-address.c: IP addresses and their "IP:PORT" text (docs/protocol.md, "Value formats")
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-address-private.h"
#include "wzp-text-private.h"
#include "wzp-error.h"

/* The only test for ::ffff:a.b.c.d in the tree. */
gboolean
_wzp_address_is_mapped (GInetAddress *address)
{
  static const guint8 prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

  g_return_val_if_fail (G_IS_INET_ADDRESS (address), FALSE);

  return g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6 &&
         memcmp (g_inet_address_to_bytes (address), prefix, sizeof prefix) == 0;
}

GInetAddress *
_wzp_address_unmap (GInetAddress *address)
{
  g_return_val_if_fail (G_IS_INET_ADDRESS (address), NULL);

  if (_wzp_address_is_mapped (address))
    return g_inet_address_new_from_bytes (g_inet_address_to_bytes (address) + 12,
                                          G_SOCKET_FAMILY_IPV4);
  return g_object_ref (address);
}

/* ------------------------------------------------------------------------------------ */
/* Parsing                                                                              */
/* ------------------------------------------------------------------------------------ */

GInetAddress *
_wzp_address_parse_ip (const char *text)
{
  g_autoptr(GInetAddress) inet = NULL;

  if (text == NULL)
    return NULL;
  inet = g_inet_address_new_from_string (text);
  if (inet == NULL)
    return NULL;
  return _wzp_address_unmap (inet);
}

/* Splits @text into host and port text; FALSE if its shape is wrong. */
static gboolean
split_host_port (const char  *text,
                 char       **host_out,
                 const char **port_out)
{
  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');

      if (close == NULL || close[1] != ':')
        return FALSE;
      *host_out = g_strndup (text + 1, close - text - 1);
      *port_out = close + 2;
      if (strchr (*host_out, ':') == NULL)
        return FALSE;              /* brackets are for IPv6 only */
    }
  else
    {
      const char *colon = strrchr (text, ':');

      if (colon == NULL || strchr (text, ':') != colon)
        return FALSE;              /* no port, or IPv6 without brackets */
      *host_out = g_strndup (text, colon - text);
      *port_out = colon + 1;
    }
  return TRUE;
}

GInetSocketAddress *
_wzp_address_parse (const char  *text,
                    GError     **error)
{
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  const char *port_text = NULL;
  guint64 port;

  if (text == NULL || *text == '\0')
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE,
                   "An empty string is not an address");
      return NULL;
    }

  /* Zone ids ("fe80::1%eth0") are meaningless to a peer: the IP literal refuses them. */
  if (!split_host_port (text, &host, &port_text) ||
      !g_ascii_string_to_unsigned (port_text, 10, 1, G_MAXUINT16, &port, NULL) ||
      (inet = _wzp_address_parse_ip (host)) == NULL)
    {
      /* Quoted, not echoed: the text may be a peer's, of any length. */
      g_autofree char *shown = _wzp_quote (text, WZP_QUOTE_MAX);

      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE,
                   "“%s” is not an address (expected IP:PORT or [IPv6]:PORT)", shown);
      return NULL;
    }

  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (inet, (guint16) port));
}

gboolean
_wzp_address_parse_parts (const char    *text,
                          GInetAddress **address_out,
                          guint16       *port_out)
{
  g_autoptr(GInetSocketAddress) address = _wzp_address_parse (text, NULL);

  if (address == NULL)
    return FALSE;
  if (address_out != NULL)
    *address_out = g_object_ref (g_inet_socket_address_get_address (address));
  if (port_out != NULL)
    *port_out = g_inet_socket_address_get_port (address);
  return TRUE;
}

/* ------------------------------------------------------------------------------------ */
/* Formatting                                                                           */
/* ------------------------------------------------------------------------------------ */

char *
_wzp_address_ip_to_string (GInetAddress *address)
{
  g_autoptr(GInetAddress) plain = NULL;

  g_return_val_if_fail (G_IS_INET_ADDRESS (address), NULL);

  plain = _wzp_address_unmap (address);
  return g_inet_address_to_string (plain);
}

char *
_wzp_address_format_host (const char *host,
                          guint16     port)
{
  g_return_val_if_fail (host != NULL, NULL);

  if (strchr (host, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", host, port);
  return g_strdup_printf ("%s:%u", host, port);
}

char *
_wzp_address_format (GInetAddress *address,
                     guint16       port)
{
  g_autofree char *ip = NULL;

  g_return_val_if_fail (G_IS_INET_ADDRESS (address), NULL);

  ip = _wzp_address_ip_to_string (address);
  return _wzp_address_format_host (ip, port);
}

char *
_wzp_address_to_string (GSocketAddress *address)
{
  GInetSocketAddress *inet;

  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (address), NULL);

  inet = G_INET_SOCKET_ADDRESS (address);
  return _wzp_address_format (g_inet_socket_address_get_address (inet),
                              g_inet_socket_address_get_port (inet));
}

/* ------------------------------------------------------------------------------------ */
/* Classification                                                                       */
/* ------------------------------------------------------------------------------------ */

static WzpAddressClass
classify_ipv4 (const guint8 *b)
{
  if (b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0)
    return WZP_ADDRESS_CLASS_UNSPECIFIED;
  if (b[0] == 0)
    return WZP_ADDRESS_CLASS_OTHER;
  if (b[0] == 127)
    return WZP_ADDRESS_CLASS_LOOPBACK;
  if (b[0] == 169 && b[1] == 254)
    return WZP_ADDRESS_CLASS_LINK_LOCAL;
  if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168))
    return WZP_ADDRESS_CLASS_PRIVATE;
  if (b[0] == 100 && (b[1] & 0xc0) == 64)
    return WZP_ADDRESS_CLASS_CGNAT;
  if (b[0] >= 224)
    return WZP_ADDRESS_CLASS_OTHER;  /* multicast 224/4, reserved 240/4, broadcast */
  return WZP_ADDRESS_CLASS_GLOBAL;
}

static WzpAddressClass
classify_ipv6 (const guint8 *b)
{
  static const guint8 zero[16] = { 0 };
  static const guint8 loopback[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

  if (memcmp (b, zero, 16) == 0)
    return WZP_ADDRESS_CLASS_UNSPECIFIED;
  if (memcmp (b, loopback, 16) == 0)
    return WZP_ADDRESS_CLASS_LOOPBACK;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
    return WZP_ADDRESS_CLASS_LINK_LOCAL;
  if ((b[0] & 0xfe) == 0xfc)
    return WZP_ADDRESS_CLASS_ULA;
  if ((b[0] & 0xe0) == 0x20)
    return WZP_ADDRESS_CLASS_GLOBAL;
  return WZP_ADDRESS_CLASS_OTHER;
}

WzpAddressClass
_wzp_address_classify (GInetAddress *address)
{
  g_autoptr(GInetAddress) plain = NULL;

  g_return_val_if_fail (G_IS_INET_ADDRESS (address), WZP_ADDRESS_CLASS_INVALID);

  plain = _wzp_address_unmap (address);
  if (g_inet_address_get_family (plain) == G_SOCKET_FAMILY_IPV4)
    return classify_ipv4 (g_inet_address_to_bytes (plain));
  return classify_ipv6 (g_inet_address_to_bytes (plain));
}

WzpAddressClass
_wzp_address_classify_string (const char *address)
{
  g_autoptr(GInetAddress) inet = _wzp_address_parse_ip (address);

  if (inet == NULL)
    return WZP_ADDRESS_CLASS_INVALID;
  return _wzp_address_classify (inet);
}

const char *
_wzp_address_class_to_string (WzpAddressClass klass)
{
  switch (klass)
    {
    case WZP_ADDRESS_CLASS_INVALID: return "invalid";
    case WZP_ADDRESS_CLASS_UNSPECIFIED: return "unspecified";
    case WZP_ADDRESS_CLASS_LOOPBACK: return "loopback";
    case WZP_ADDRESS_CLASS_LINK_LOCAL: return "link-local";
    case WZP_ADDRESS_CLASS_PRIVATE: return "private";
    case WZP_ADDRESS_CLASS_CGNAT: return "cgnat";
    case WZP_ADDRESS_CLASS_ULA: return "ula";
    case WZP_ADDRESS_CLASS_GLOBAL: return "global";
    case WZP_ADDRESS_CLASS_OTHER: return "other";
    default: return "?";
    }
}

gboolean
_wzp_address_class_is_lan (WzpAddressClass klass)
{
  return klass == WZP_ADDRESS_CLASS_PRIVATE ||
         klass == WZP_ADDRESS_CLASS_CGNAT ||
         klass == WZP_ADDRESS_CLASS_ULA;
}

/* ------------------------------------------------------------------------------------ */
/* The relay's per-source key                                                           */
/* ------------------------------------------------------------------------------------ */

char *
_wzp_address_source_key (GInetAddress *address)
{
  g_autoptr(GInetAddress) plain = NULL;
  const guint8 *b;

  g_return_val_if_fail (G_IS_INET_ADDRESS (address), NULL);

  plain = _wzp_address_unmap (address);
  if (g_inet_address_get_family (plain) == G_SOCKET_FAMILY_IPV4)
    return g_inet_address_to_string (plain);
  b = g_inet_address_to_bytes (plain);
  return g_strdup_printf ("%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64",
                          b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
}

gboolean
_wzp_connection_is_on_own_address (GSocketConnection  *connection,
                                   const char * const *own_addresses)
{
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GInetAddress) mine = NULL;

  if (connection == NULL || own_addresses == NULL || own_addresses[0] == NULL)
    return TRUE;
  local = g_socket_connection_get_local_address (connection, NULL);
  if (local == NULL || !G_IS_INET_SOCKET_ADDRESS (local))
    return TRUE;
  mine = _wzp_address_unmap (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));

  for (guint i = 0; own_addresses[i] != NULL; i++)
    {
      g_autofree char *text = g_strdup (own_addresses[i]);
      g_autoptr(GInetAddress) own = NULL;
      char *scope = strchr (text, '%');

      /* A connection's local address carries no scope to compare. */
      if (scope != NULL)
        *scope = '\0';
      own = _wzp_address_parse_ip (text);
      if (own != NULL && g_inet_address_equal (own, mine))
        return TRUE;
    }
  return FALSE;
}
