/* wzp-link.c: wzp: links, which carry a fingerprint and the relay to call it through
 *
 *   wzp:1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d?relay=wzps%3A%2F%2Frelay.example.org%3A4433
 *
 * The fingerprint is the path (no "//": it is not a host); the relay, when there is one, is
 * the percent-encoded `relay` query parameter, the same address the preferences take. The
 * format is in docs/app.md. The desktop file registers the scheme, so that opening such a
 * link (or scanning its QR code) opens the dialer ready to call.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "wzp-gtk-util.h"
#include "wzp-link.h"

#define SCHEME "wzp:"

char *
wzp_link_build (const char *fingerprint,
                const char *relay_uri)
{
  g_autofree char *relay = NULL;

  g_return_val_if_fail (fingerprint != NULL, NULL);

  if (relay_uri == NULL || *relay_uri == '\0')
    return g_strconcat (SCHEME, fingerprint, NULL);
  relay = g_uri_escape_string (relay_uri, NULL, FALSE);
  return g_strconcat (SCHEME, fingerprint, "?relay=", relay, NULL);
}

/**
 * wzp_link_parse:
 * @link: a wzp: link, as opened or pasted
 * @fingerprint: (out): the canonical fingerprint
 * @relay_uri: (out) (optional): the relay, or %NULL when the link names none
 *
 * Accepts what people paste as well: upper case, a "//" after the scheme, a fingerprint
 * written with spaces ("%20") or without colons.
 */
gboolean
wzp_link_parse (const char  *link,
                char       **fingerprint,
                char       **relay_uri,
                GError     **error)
{
  g_autofree char *path = NULL;
  g_autofree char *unescaped = NULL;
  g_autoptr(GHashTable) params = NULL;
  const char *rest;
  const char *query;
  const char *relay;
  g_autofree char *hint = NULL;
  g_autoptr(GError) relay_error = NULL;

  *fingerprint = NULL;
  if (relay_uri != NULL)
    *relay_uri = NULL;

  if (link == NULL || g_ascii_strncasecmp (link, SCHEME, strlen (SCHEME)) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("A Wzp Phone link starts with “wzp:”"));
      return FALSE;
    }
  rest = link + strlen (SCHEME);
  while (*rest == '/')
    rest++;
  query = strchr (rest, '?');
  path = query != NULL ? g_strndup (rest, query - rest) : g_strdup (rest);
  if (strchr (path, '#') != NULL)
    *strchr (path, '#') = '\0';
  unescaped = g_uri_unescape_string (path, NULL);
  if (unescaped == NULL ||
      wzp_fingerprint_input_check (unescaped, fingerprint, &hint) != WZP_FINGERPRINT_INPUT_VALID)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   /* Translators: %s says what is wrong with the fingerprint. */
                   _("The link does not hold a complete fingerprint: %s"),
                   hint != NULL ? hint : _("it is empty"));
      return FALSE;
    }

  if (query == NULL)
    return TRUE;
  params = g_uri_parse_params (query + 1, -1, "&", G_URI_PARAMS_NONE, NULL);
  relay = params != NULL ? g_hash_table_lookup (params, "relay") : NULL;
  if (relay == NULL || *relay == '\0')
    return TRUE;
  if (!wzp_relay_uri_validate (relay, &relay_error))
    {
      g_clear_pointer (fingerprint, g_free);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   /* Translators: %s says what is wrong with the relay address. */
                   _("The relay address in the link is not valid: %s"), relay_error->message);
      return FALSE;
    }
  if (relay_uri != NULL)
    *relay_uri = g_strdup (relay);
  return TRUE;
}
