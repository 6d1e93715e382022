/* test-relay-uri.c: relay URIs and pipe tokens, the protocol helpers both the client and
 * the relay use (wzp-relay-uri-private.h, wzp-pipe-token-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "wzp-client.h"
#include "wzp-relay-uri.h"
#include "wzp-pipe-token-private.h"
#include "wzp-relay-uri-private.h"

#define FP "1a2b:3c4d:5e6f:7081:92a3:b4c5:d6e7:f809"

static void
test_uri_valid (void)
{
  static const struct {
    const char *uri;
    const char *host;
    guint16     port;
    const char *fingerprint;
  } cases[] = {
    { "wzps://relay.example.org:4500#" FP, "relay.example.org", 4500, FP },
    { "wzps://relay.example.org", "relay.example.org", 4433, NULL },
    { "wzps://192.0.2.7:1", "192.0.2.7", 1, NULL },
    { "wzps://[2001:db8::1]:4433#" FP, "2001:db8::1", 4433, FP },
    { "wzps://[2001:db8::1]", "2001:db8::1", 4433, NULL },
    /* The scheme in any case, and the "/" a pasted link often ends in. */
    { "WZPS://relay.example.org:4500/#" FP, "relay.example.org", 4500, FP },
    { "wzps://relay.example.org/", "relay.example.org", 4433, NULL },
    { "wzps://relay-1.example.org:00080", "relay-1.example.org", 80, NULL },
    { "wzps://[fe80::1%eth0]:4500", "fe80::1%eth0", 4500, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *host = NULL;
      g_autofree char *fingerprint = NULL;
      g_autoptr(GError) error = NULL;
      guint16 port = 0;

      g_test_message ("%s", cases[i].uri);
      g_assert_true (_wzp_relay_uri_parse (cases[i].uri, &host, &port, &fingerprint,
                                                  &error));
      g_assert_no_error (error);
      g_assert_cmpstr (host, ==, cases[i].host);
      g_assert_cmpuint (port, ==, cases[i].port);
      g_assert_cmpstr (fingerprint, ==, cases[i].fingerprint);
    }
}

static void
test_uri_invalid (void)
{
  static const struct {
    const char *uri;
    int         code;
  } cases[] = {
    { "relay.example.org:4433", WZP_CLIENT_ERROR_INVALID_URI },
    { "wzp://relay.example.org", WZP_CLIENT_ERROR_INVALID_URI },
    { "wzps://", WZP_CLIENT_ERROR_INVALID_URI },
    { "wzps://relay.example.org:0", WZP_CLIENT_ERROR_INVALID_URI },
    { "wzps://relay.example.org:65536", WZP_CLIENT_ERROR_INVALID_URI },
    { "wzps://relay.example.org:", WZP_CLIENT_ERROR_INVALID_URI },
    { "wzps://[2001:db8::1", WZP_CLIENT_ERROR_INVALID_URI },
    { "wzps://relay.example.org#1a2b", WZP_CLIENT_ERROR_INVALID_FINGERPRINT },
    { "wzps://relay.example.org#", WZP_CLIENT_ERROR_INVALID_FINGERPRINT },
    { "wzps://2001:db8::1", WZP_CLIENT_ERROR_INVALID_URI },
    { "wzps://relay.example.org:4433/calls", WZP_CLIENT_ERROR_INVALID_URI },
    { "", WZP_CLIENT_ERROR_INVALID_URI },
    { NULL, WZP_CLIENT_ERROR_INVALID_URI },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *host = NULL;
      g_autofree char *fingerprint = NULL;
      g_autoptr(GError) error = NULL;
      guint16 port = 0;

      g_test_message ("%s", cases[i].uri ? cases[i].uri : "(null)");
      g_assert_false (_wzp_relay_uri_parse (cases[i].uri, &host, &port, &fingerprint,
                                                   &error));
      g_assert_error (error, WZP_CLIENT_ERROR, cases[i].code);
      g_assert_null (host);
      g_assert_null (fingerprint);
    }
}

/* What a person who typed the address reads: each mistake named, with what it must be
 * (the app shows these under the entry as the address is typed). */
static void
test_validate_messages (void)
{
  static const struct {
    const char *uri;
    int         code;
    const char *message;
  } cases[] = {
    { "wzps://relay.example.org:99999", WZP_CLIENT_ERROR_INVALID_URI,
      "“99999” is not a port: the port must be a number from 1 to 65535" },
    { "wzps://relay.example.org:0", WZP_CLIENT_ERROR_INVALID_URI,
      "“0” is not a port: the port must be a number from 1 to 65535" },
    { "wzps://relay.example.org:44x3#" FP, WZP_CLIENT_ERROR_INVALID_URI,
      "“44x3” is not a port: the port must be a number from 1 to 65535" },
    { "wzps://relay.example.org:", WZP_CLIENT_ERROR_INVALID_URI,
      "The port is missing after the “:”: it must be a number from 1 to 65535" },
    { "https://relay.example.org:4433", WZP_CLIENT_ERROR_INVALID_URI,
      "The relay address must start with wzps://, not https://" },
    { "relay.example.org:4433", WZP_CLIENT_ERROR_INVALID_URI,
      "The relay address must start with wzps://, like wzps://relay.example.org:4433" },
    { "wzps://", WZP_CLIENT_ERROR_INVALID_URI,
      "The relay address has no host name: put one after wzps://, like "
      "wzps://relay.example.org:4433" },
    { "wzps://:4433", WZP_CLIENT_ERROR_INVALID_URI,
      "The relay address has no host name: put one after wzps://, like "
      "wzps://relay.example.org:4433" },
    { "wzps://relay.example.org:4433/calls", WZP_CLIENT_ERROR_INVALID_URI,
      "Remove “/calls”: a relay address is wzps://HOST:PORT, and optionally “#” and the "
      "relay’s fingerprint" },
    { "wzps://relay,example.org", WZP_CLIENT_ERROR_INVALID_URI,
      "“relay,example.org” is not a host name: a host name has only letters, digits, “-” "
      "and “.”" },
    { "wzps://2001:db8::1", WZP_CLIENT_ERROR_INVALID_URI,
      "An IPv6 address must be in brackets, like wzps://[2001:db8::1]:4433" },
    { "wzps://[2001:db8::1", WZP_CLIENT_ERROR_INVALID_URI,
      "The IPv6 address after “[” has no closing “]”" },
    { "wzps://[2001:db8::1]4433", WZP_CLIENT_ERROR_INVALID_URI,
      "Only “:” and a port may follow the IPv6 address in brackets, not “4433”" },
    { "wzps://[192.0.2.7]:4433", WZP_CLIENT_ERROR_INVALID_URI,
      "“192.0.2.7” in brackets is not an IPv6 address" },
    { "wzps://relay.example.org:4433 ", WZP_CLIENT_ERROR_INVALID_URI,
      "The relay address must not contain spaces" },
    { "", WZP_CLIENT_ERROR_INVALID_URI,
      "The relay address is empty: enter one like wzps://relay.example.org:4433" },
    { NULL, WZP_CLIENT_ERROR_INVALID_URI,
      "The relay address is empty: enter one like wzps://relay.example.org:4433" },
    { "wzps://relay.example.org:4433#1A2B:3C4D:5E6F:7081:92A3:B4C5:D6E7:F809",
      WZP_CLIENT_ERROR_INVALID_FINGERPRINT,
      "“1A2B:3C4D:5E6F:7081:92A3:B4C5:D6E7:F809” after the “#” is not a relay fingerprint: it "
      "must be 8 groups of 4 characters from 0–9 and a–f, separated by “:”" },
    { "wzps://relay.example.org:4433#", WZP_CLIENT_ERROR_INVALID_FINGERPRINT,
      "Nothing follows the “#”: put the relay’s fingerprint after it, or remove the “#”" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("%s", cases[i].uri ? cases[i].uri : "(null)");
      g_assert_false (wzp_relay_uri_validate (cases[i].uri, &error));
      g_assert_error (error, WZP_CLIENT_ERROR, cases[i].code);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }

  /* A missing port is no mistake: it is 4433, where wzp-relay listens by default. */
  g_assert_true (wzp_relay_uri_validate ("wzps://relay.example.org", NULL));
  g_assert_true (wzp_relay_uri_validate ("wzps://relay.example.org#" FP, NULL));
  g_assert_true (wzp_relay_uri_validate ("wzps://[::1]:9#" FP, NULL));
  g_assert_false (wzp_relay_uri_validate ("wzps://relay.example.org:65536", NULL));
}

/* Port 0 as the default makes the port required (a known relay's key, a peer's address). */
static void
test_host_port_required (void)
{
  g_autofree char *host = NULL;
  guint16 port = 0;

  g_assert_false (_wzp_relay_uri_parse_host_port ("relay.example.org", 0, &host, &port));
  g_assert_null (host);
  g_assert_true (_wzp_relay_uri_parse_host_port ("[::1]:9", 0, &host, &port));
  g_assert_cmpstr (host, ==, "::1");
  g_assert_cmpuint (port, ==, 9);
}

/* The values docs/protocol.md ("Pipes and their tokens") defines: other implementations
 * must derive the same. */
static void
test_pipe_token (void)
{
  const char *secret = "00112233445566778899aabbccddeeff";
  g_autofree char *first = _wzp_pipe_token_derive (secret, 1);
  g_autofree char *second = _wzp_pipe_token_derive (secret, 2);

  g_assert_cmpstr (first, ==, "9222407c5ca61f3d3d835f95385556ee");
  g_assert_cmpstr (second, ==, "8cc56b92ee8c10a0f4ab2f60e1c66e4a");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/wzp/relay-uri/valid", test_uri_valid);
  g_test_add_func ("/wzp/relay-uri/invalid", test_uri_invalid);
  g_test_add_func ("/wzp/relay-uri/host-port-required", test_host_port_required);
  g_test_add_func ("/wzp/relay-uri/validate-messages", test_validate_messages);
  g_test_add_func ("/wzp/pipe-token/derive", test_pipe_token);

  return g_test_run ();
}
