/* test-relay-uri.c: relay URIs and pipe tokens, the protocol helpers both the client and
 * the relay use (wzp-relay-uri-private.h, wzp-pipe-token-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "wzp-client.h"
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
  g_test_add_func ("/wzp/pipe-token/derive", test_pipe_token);

  return g_test_run ();
}
