/* fuzz-relay-uri.c: relay URIs, wzps://HOST[:PORT][#FINGERPRINT]
 *
 * Relay URIs come from people (the app's entry, the relay's key file) and from relays (the
 * reflectors of RegisterPresenceAck). The input, up to its first NUL, is one URI. Besides
 * "no crash, no leak, no warning", it checks what a parse promises: on success a host that
 * is a host name or an IP address, a port from 1 to 65535, a fingerprint that is valid or
 * none, and the URI rebuilt from those parts parses to the same parts; on failure one of
 * the two documented codes and a message (valid UTF-8 when the URI is, since the app shows
 * it under the entry). wzp_relay_uri_validate() agrees, and so does the HOST[:PORT] parser
 * on the authority alone.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "wzp-glib.h"
#include "wzp-relay-uri-private.h"

static gboolean
parse (const char  *uri,
       char       **host,
       guint16     *port,
       char       **fingerprint,
       GError     **error)
{
  gboolean ok = _wzp_relay_uri_parse (uri, host, port, fingerprint, error);

  if (ok)
    {
      fuzz_check (*error == NULL);
      fuzz_check (*host != NULL && **host != '\0');
      fuzz_check (*port >= 1);
      fuzz_check (*fingerprint == NULL || wzp_fingerprint_is_valid (*fingerprint));
    }
  else
    {
      fuzz_check (*error != NULL && (*error)->message != NULL && *(*error)->message != '\0');
      fuzz_check (g_error_matches (*error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_INVALID_URI) ||
                  g_error_matches (*error, WZP_CLIENT_ERROR,
                                   WZP_CLIENT_ERROR_INVALID_FINGERPRINT));
      fuzz_check (*host == NULL && *fingerprint == NULL);
    }
  return ok;
}

int
LLVMFuzzerTestOneInput (const unsigned char *data,
                        size_t               size)
{
  g_autofree char *uri = g_strndup ((const char *) data, size);
  g_autofree char *host = NULL;
  g_autofree char *fingerprint = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) validate_error = NULL;
  guint16 port = 0;
  gboolean ok;

  fuzz_set_logging_func ();

  ok = parse (uri, &host, &port, &fingerprint, &error);

  /* The public check is the same parse. */
  fuzz_check (wzp_relay_uri_validate (uri, &validate_error) == ok);
  if (!ok)
    {
      fuzz_check (g_error_matches (validate_error, error->domain, error->code));
      fuzz_check (g_str_equal (validate_error->message, error->message));
      if (g_utf8_validate (uri, -1, NULL))
        fuzz_check (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }

  /* The host is an IPv6 address (its zone, after "%", is the resolver's business), or a
   * host name: letters, digits, "-", ".", "_" or beyond ASCII, and UTF-8. */
  fuzz_check (g_utf8_validate (host, -1, NULL));
  if (strchr (host, ':') != NULL)
    {
      g_autofree char *bare = g_strndup (host, strcspn (host, "%"));
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (bare);

      fuzz_check (address != NULL &&
                  g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6);
      fuzz_check (strpbrk (host, "]/#?@ \t\r\n") == NULL);
    }
  else
    for (const char *p = host; *p != '\0'; p++)
      fuzz_check (g_ascii_isalnum (*p) || *p == '-' || *p == '.' || *p == '_' ||
                  (guchar) *p >= 0x80);

  /* Rebuilt from its parts, the URI names the same relay. */
  {
    g_autofree char *again_uri = NULL;
    g_autofree char *again_host = NULL;
    g_autofree char *again_fingerprint = NULL;
    g_autoptr(GError) again_error = NULL;
    guint16 again_port = 0;
    gboolean ipv6 = strchr (host, ':') != NULL;

    again_uri = g_strdup_printf ("wzps://%s%s%s:%u%s%s", ipv6 ? "[" : "", host,
                                 ipv6 ? "]" : "", port, fingerprint != NULL ? "#" : "",
                                 fingerprint != NULL ? fingerprint : "");
    if (!parse (again_uri, &again_host, &again_port, &again_fingerprint, &again_error))
      {
        fprintf (stderr, "“%s” parsed, “%s” rebuilt from it did not: %s\n", uri, again_uri,
                 again_error->message);
        abort ();
      }
    fuzz_check (g_str_equal (again_host, host));
    fuzz_check (again_port == port);
    fuzz_check (g_strcmp0 (again_fingerprint, fingerprint) == 0);

    /* The authority alone, through the HOST[:PORT] parser (known-relays keys use it),
     * with the port required. */
    {
      g_autofree char *authority = g_strndup (again_uri + strlen ("wzps://"),
                                              strcspn (again_uri + strlen ("wzps://"), "#"));
      g_autofree char *split_host = NULL;
      guint16 split_port = 0;

      fuzz_check (_wzp_relay_uri_parse_host_port (authority, 0, &split_host, &split_port));
      fuzz_check (g_str_equal (split_host, host) && split_port == port);
    }
  }

  return 0;
}
