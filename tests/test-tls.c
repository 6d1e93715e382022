/* test-tls.c: the TLS constructor helpers: mutual TLS 1.3 on loopback, pinning,
 * TCP_NODELAY, no CA database, and handshake time
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <gio/gio.h>

#include "test-util.h"
#include "wzp-tls-private.h"

#define WAIT_MS 10000

/* The budget for one loopback handshake (docs/identity.md, "Measurements": about 1 ms). */
#define HANDSHAKE_BUDGET_US 20000

typedef struct {
  WzpIdentity       *client_identity;
  WzpIdentity       *server_identity;
  GSocketListener   *listener;
  GSocketAddress    *address;

  GSocketConnection *client_conn;
  GSocketConnection *server_conn;
  GIOStream         *client_tls;
  GIOStream         *server_tls;

  gboolean           client_done;
  gboolean           server_done;
  GError            *client_error;
  GError            *server_error;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);

  fixture->client_identity = wzp_test_identity_new ();
  fixture->server_identity = wzp_test_identity_new ();

  fixture->listener = g_socket_listener_new ();
  g_socket_listener_add_address (fixture->listener, any_port, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &fixture->address, &error);
  g_assert_no_error (error);
}

static void
finalized_cb (gpointer  data,
              GObject  *where_the_object_was)
{
  g_atomic_int_set ((int *) data, TRUE);
}

/* Drops the last reference to @object and checks that it is finalized. GIO's async
 * handshake and connect tasks may still hold a reference for a moment after their
 * callbacks ran (the worker thread drops it), so this waits for it, within a bound. */
static void
assert_finalize_object_soon (gpointer object)
{
  int finalized = FALSE;
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  g_object_weak_ref (object, finalized_cb, &finalized);
  g_object_unref (object);

  while (!g_atomic_int_get (&finalized))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("An object was not finalized within %u ms: leaked reference", WAIT_MS);
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (100);
    }
}

static void
fixture_close_connections (Fixture *fixture)
{
  if (fixture->client_tls != NULL)
    g_io_stream_close (fixture->client_tls, NULL, NULL);
  if (fixture->server_tls != NULL)
    g_io_stream_close (fixture->server_tls, NULL, NULL);

  if (fixture->client_tls != NULL)
    assert_finalize_object_soon (g_steal_pointer (&fixture->client_tls));
  if (fixture->server_tls != NULL)
    assert_finalize_object_soon (g_steal_pointer (&fixture->server_tls));
  if (fixture->client_conn != NULL)
    assert_finalize_object_soon (g_steal_pointer (&fixture->client_conn));
  if (fixture->server_conn != NULL)
    assert_finalize_object_soon (g_steal_pointer (&fixture->server_conn));

  g_clear_error (&fixture->client_error);
  g_clear_error (&fixture->server_error);
  fixture->client_done = FALSE;
  fixture->server_done = FALSE;
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  fixture_close_connections (fixture);

  g_socket_listener_close (fixture->listener);
  g_assert_finalize_object (g_steal_pointer (&fixture->listener));
  g_clear_object (&fixture->address);
  g_assert_finalize_object (g_steal_pointer (&fixture->client_identity));
  g_assert_finalize_object (g_steal_pointer (&fixture->server_identity));
}

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

/* A TCP connection on loopback: the fixture's client and server ends. */
static void
fixture_connect_tcp (Fixture *fixture)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GAsyncResult) accepted = NULL;
  g_autoptr(GAsyncResult) connected = NULL;
  g_autoptr(GError) error = NULL;

  g_socket_listener_accept_async (fixture->listener, NULL, store_result_cb, &accepted);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (fixture->address), NULL,
                                 store_result_cb, &connected);
  wzp_test_wait_pointer ((gpointer *) &accepted, WAIT_MS);
  wzp_test_wait_pointer ((gpointer *) &connected, WAIT_MS);

  fixture->server_conn = g_socket_listener_accept_finish (fixture->listener, accepted, NULL,
                                                          &error);
  g_assert_no_error (error);
  fixture->client_conn = g_socket_client_connect_finish (client, connected, &error);
  g_assert_no_error (error);
}

/* What every caller does after a failed handshake: close. GnuTLS under GIO sends no
 * alert when ::accept-certificate refuses, so the peer only learns from the close. */
static void
close_after_failure (GIOStream *tls)
{
  g_autoptr(GError) error = NULL;

  if (!g_io_stream_close (tls, NULL, &error))
    g_test_message ("Closing after a failed handshake: %s", error->message);
}

static void
client_handshake_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Fixture *fixture = user_data;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result,
                                          &fixture->client_error))
    {
      _wzp_tls_connection_explain_error (G_IO_STREAM (source), &fixture->client_error);
      close_after_failure (G_IO_STREAM (source));
    }
  fixture->client_done = TRUE;
}

static void
server_handshake_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Fixture *fixture = user_data;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result,
                                          &fixture->server_error))
    {
      _wzp_tls_connection_explain_error (G_IO_STREAM (source), &fixture->server_error);
      close_after_failure (G_IO_STREAM (source));
    }
  fixture->server_done = TRUE;
}

static void
fixture_wrap (Fixture    *fixture,
              const char *client_pin,
              const char *server_pin)
{
  GTlsCertificate *client_certificate = wzp_identity_get_certificate (fixture->client_identity);
  GTlsCertificate *server_certificate = wzp_identity_get_certificate (fixture->server_identity);
  g_autoptr(GError) error = NULL;

  fixture->client_tls = _wzp_tls_client_new (G_IO_STREAM (fixture->client_conn),
                                             client_certificate, client_pin, &error);
  g_assert_no_error (error);
  fixture->server_tls = _wzp_tls_server_new (G_IO_STREAM (fixture->server_conn),
                                             server_certificate, server_pin, &error);
  g_assert_no_error (error);
}

static void
fixture_start_handshakes (Fixture *fixture)
{
  g_tls_connection_handshake_async (G_TLS_CONNECTION (fixture->server_tls),
                                    G_PRIORITY_DEFAULT, NULL, server_handshake_cb, fixture);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (fixture->client_tls),
                                    G_PRIORITY_DEFAULT, NULL, client_handshake_cb, fixture);
}

static void
fixture_wait_handshakes (Fixture *fixture)
{
  wzp_test_wait_flag (&fixture->client_done, WAIT_MS);
  wzp_test_wait_flag (&fixture->server_done, WAIT_MS);
}

/* Connects, wraps both ends with the given pins and runs both handshakes to the end. */
static void
fixture_handshake (Fixture    *fixture,
                   const char *client_pin,
                   const char *server_pin)
{
  fixture_connect_tcp (fixture);
  fixture_wrap (fixture, client_pin, server_pin);
  fixture_start_handshakes (fixture);
  fixture_wait_handshakes (fixture);
}

/* Reads up to @size bytes; returns the count (0 at EOF) or -1 with @error set. */
static gssize
read_bounded (GIOStream  *stream,
              char       *buffer,
              gsize       size,
              GError    **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GInputStream *input = g_io_stream_get_input_stream (stream);

  g_input_stream_read_async (input, buffer, size, G_PRIORITY_DEFAULT, NULL, store_result_cb,
                             &result);
  wzp_test_wait_pointer ((gpointer *) &result, WAIT_MS);
  return g_input_stream_read_finish (input, result, error);
}

static void
write_all (GIOStream  *stream,
           const char *text)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all (g_io_stream_get_output_stream (stream), text, strlen (text),
                             NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
assert_receives (GIOStream  *stream,
                 const char *text)
{
  g_autoptr(GError) error = NULL;
  char buffer[64];
  gsize got = 0;

  g_assert_cmpuint (strlen (text), <, sizeof buffer);
  while (got < strlen (text))
    {
      gssize n = read_bounded (stream, buffer + got, strlen (text) - got, &error);

      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      got += n;
    }
  g_assert_cmpmem (buffer, got, text, strlen (text));
}

static void
assert_mutually_authenticated (Fixture *fixture)
{
  g_assert_no_error (fixture->client_error);
  g_assert_no_error (fixture->server_error);

  g_assert_cmpint (g_tls_connection_get_protocol_version (G_TLS_CONNECTION (fixture->client_tls)),
                   ==, G_TLS_PROTOCOL_VERSION_TLS_1_3);
  g_assert_cmpint (g_tls_connection_get_protocol_version (G_TLS_CONNECTION (fixture->server_tls)),
                   ==, G_TLS_PROTOCOL_VERSION_TLS_1_3);

  /* Each side saw the other's identity. */
  g_assert_cmpstr (_wzp_tls_connection_get_peer_fingerprint (fixture->client_tls), ==,
                   wzp_identity_get_fingerprint (fixture->server_identity));
  g_assert_cmpstr (_wzp_tls_connection_get_peer_fingerprint (fixture->server_tls), ==,
                   wzp_identity_get_fingerprint (fixture->client_identity));
  g_assert_true (g_tls_certificate_is_same (
    g_tls_connection_get_peer_certificate (G_TLS_CONNECTION (fixture->client_tls)),
    wzp_identity_get_certificate (fixture->server_identity)));
  g_assert_true (g_tls_certificate_is_same (
    g_tls_connection_get_peer_certificate (G_TLS_CONNECTION (fixture->server_tls)),
    wzp_identity_get_certificate (fixture->client_identity)));

  /* And the session carries data both ways. */
  write_all (fixture->client_tls, "ping");
  assert_receives (fixture->server_tls, "ping");
  write_all (fixture->server_tls, "pong");
  assert_receives (fixture->client_tls, "pong");
}

static void
test_mutual (Fixture       *fixture,
             gconstpointer  user_data)
{
  fixture_handshake (fixture,
                     wzp_identity_get_fingerprint (fixture->server_identity),
                     wzp_identity_get_fingerprint (fixture->client_identity));
  assert_mutually_authenticated (fixture);
}

/* No pin: any certificate is accepted and its fingerprint learnt (trust on first use, or a
 * relay learning who a client is). */
static void
test_unpinned (Fixture       *fixture,
               gconstpointer  user_data)
{
  fixture_handshake (fixture, NULL, NULL);
  assert_mutually_authenticated (fixture);
}

static void
test_connection_settings (Fixture       *fixture,
                          gconstpointer  user_data)
{
  GTlsAuthenticationMode mode;

  fixture_connect_tcp (fixture);
  fixture_wrap (fixture, NULL, NULL);

  g_assert_true (G_IS_TLS_CLIENT_CONNECTION (fixture->client_tls));
  g_assert_true (G_IS_TLS_SERVER_CONNECTION (fixture->server_tls));

  /* Pins replace CA validation: no database on either side. */
  g_assert_null (g_tls_connection_get_database (G_TLS_CONNECTION (fixture->client_tls)));
  g_assert_null (g_tls_connection_get_database (G_TLS_CONNECTION (fixture->server_tls)));

  g_assert_true (g_tls_connection_get_certificate (G_TLS_CONNECTION (fixture->client_tls)) ==
                 wzp_identity_get_certificate (fixture->client_identity));
  g_assert_true (g_tls_connection_get_certificate (G_TLS_CONNECTION (fixture->server_tls)) ==
                 wzp_identity_get_certificate (fixture->server_identity));

  g_object_get (fixture->server_tls, "authentication-mode", &mode, NULL);
  g_assert_cmpint (mode, ==, G_TLS_AUTHENTICATION_REQUIRED);

  /* Nothing is known before the handshake. */
  g_assert_null (_wzp_tls_connection_get_peer_fingerprint (fixture->client_tls));
  g_assert_null (_wzp_tls_connection_get_peer_fingerprint (fixture->server_tls));
}

static gboolean
get_nodelay (GSocketConnection *connection)
{
  g_autoptr(GError) error = NULL;
  int value = -1;

  g_socket_get_option (g_socket_connection_get_socket (connection), IPPROTO_TCP, TCP_NODELAY,
                       &value, &error);
  g_assert_no_error (error);
  return value != 0;
}

static void
test_nodelay (Fixture       *fixture,
              gconstpointer  user_data)
{
  fixture_connect_tcp (fixture);

  /* GIO leaves Nagle on; the helpers turn it off on both ends. */
  g_assert_false (get_nodelay (fixture->client_conn));
  g_assert_false (get_nodelay (fixture->server_conn));

  fixture_wrap (fixture, NULL, NULL);
  g_assert_true (get_nodelay (fixture->client_conn));
  g_assert_true (get_nodelay (fixture->server_conn));

  /* Not a socket: nothing to do, and no warning. */
  {
    g_autoptr(GInputStream) input = g_memory_input_stream_new ();
    g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
    g_autoptr(GIOStream) stream = g_simple_io_stream_new (input, output);

    _wzp_socket_connection_set_nodelay (stream);
  }
}

static void
assert_pin_mismatch (const GError *error,
                     const char   *seen,
                     const char   *expected)
{
  g_autofree char *message = NULL;

  g_assert_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_PIN_MISMATCH);
  g_test_message ("%s", error->message);
  message = g_strdup_printf ("The peer’s certificate has fingerprint %s, but %s was expected",
                             seen, expected);
  g_assert_cmpstr (error->message, ==, message);
}

static void
test_wrong_pin_client (Fixture       *fixture,
                       gconstpointer  user_data)
{
  WzpIdentity *stranger = wzp_test_identity_new ();

  fixture_handshake (fixture,
                     wzp_identity_get_fingerprint (stranger),
                     wzp_identity_get_fingerprint (fixture->client_identity));

  assert_pin_mismatch (fixture->client_error,
                       wzp_identity_get_fingerprint (fixture->server_identity),
                       wzp_identity_get_fingerprint (stranger));
  g_assert_null (_wzp_tls_connection_get_peer_fingerprint (fixture->client_tls));

  /* The server learns only that the handshake failed. */
  g_assert_nonnull (fixture->server_error);
  g_assert_false (g_error_matches (fixture->server_error, WZP_IDENTITY_ERROR,
                                   WZP_IDENTITY_ERROR_PIN_MISMATCH));

  g_assert_finalize_object (stranger);
}

static void
test_wrong_pin_server (Fixture       *fixture,
                       gconstpointer  user_data)
{
  WzpIdentity *stranger = wzp_test_identity_new ();

  fixture_handshake (fixture,
                     wzp_identity_get_fingerprint (fixture->server_identity),
                     wzp_identity_get_fingerprint (stranger));

  assert_pin_mismatch (fixture->server_error,
                       wzp_identity_get_fingerprint (fixture->client_identity),
                       wzp_identity_get_fingerprint (stranger));
  g_assert_null (_wzp_tls_connection_get_peer_fingerprint (fixture->server_tls));

  /* In TLS 1.3 the client finishes before the server checks its certificate, so its
   * handshake may succeed; the session is dead either way. */
  if (fixture->client_error == NULL)
    {
      g_autoptr(GError) error = NULL;
      char buffer[8];
      gssize n = read_bounded (fixture->client_tls, buffer, sizeof buffer, &error);

      g_assert_cmpint (n, <=, 0);
    }
  else
    {
      g_assert_false (g_error_matches (fixture->client_error, WZP_IDENTITY_ERROR,
                                       WZP_IDENTITY_ERROR_PIN_MISMATCH));
    }

  g_assert_finalize_object (stranger);
}

static void
test_invalid_pin (Fixture       *fixture,
                  gconstpointer  user_data)
{
  const char *pins[] = {
    "", "not a fingerprint", "1A2B:3C4D:5E6F:7A8B:9C0D:1E2F:3A4B:5C6D",
    "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b",
  };

  fixture_connect_tcp (fixture);

  for (unsigned i = 0; i < G_N_ELEMENTS (pins); i++)
    {
      g_autoptr(GError) error = NULL;
      GIOStream *tls;

      tls = _wzp_tls_client_new (G_IO_STREAM (fixture->client_conn),
                                 wzp_identity_get_certificate (fixture->client_identity),
                                 pins[i], &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (tls);
      g_clear_error (&error);

      tls = _wzp_tls_server_new (G_IO_STREAM (fixture->server_conn),
                                 wzp_identity_get_certificate (fixture->server_identity),
                                 pins[i], &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (tls);
    }
}

static gboolean
accept_anything_cb (GTlsConnection       *connection,
                    GTlsCertificate      *certificate,
                    GTlsCertificateFlags  errors,
                    gpointer              user_data)
{
  return TRUE;
}

/* Mutual TLS: a client that presents no certificate is refused, and an error that is not
 * about the pin is left as it is. */
static void
test_client_certificate_required (Fixture       *fixture,
                                  gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  fixture_connect_tcp (fixture);
  fixture->client_tls = g_tls_client_connection_new (G_IO_STREAM (fixture->client_conn), NULL,
                                                     &error);
  g_assert_no_error (error);
  g_tls_connection_set_database (G_TLS_CONNECTION (fixture->client_tls), NULL);
  g_signal_connect (fixture->client_tls, "accept-certificate",
                    G_CALLBACK (accept_anything_cb), NULL);
  fixture->server_tls =
    _wzp_tls_server_new (G_IO_STREAM (fixture->server_conn),
                         wzp_identity_get_certificate (fixture->server_identity), NULL, &error);
  g_assert_no_error (error);

  fixture_start_handshakes (fixture);
  fixture_wait_handshakes (fixture);

  g_assert_error (fixture->server_error, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED);
  g_assert_null (_wzp_tls_connection_get_peer_fingerprint (fixture->server_tls));

  /* explain_error() with nothing to explain. */
  _wzp_tls_connection_explain_error (fixture->server_tls, NULL);
  g_clear_error (&error);
  _wzp_tls_connection_explain_error (fixture->server_tls, &error);
  g_assert_no_error (error);
}

/* Timing means nothing under valgrind, or under ASan with fast_unwind_on_malloc=0 (the
 * project's setting), where every malloc in GnuTLS unwinds the stack: about 80 ms. */
static gboolean
running_instrumented (void)
{
  const char *preload = g_getenv ("LD_PRELOAD");

#if defined(__SANITIZE_ADDRESS__)
  return TRUE;
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
  return TRUE;
# endif
#endif

  return preload != NULL && strstr (preload, "valgrind") != NULL;
}

/* With database NULL and TCP_NODELAY a loopback handshake takes about 1 ms (54 ms with
 * GIO's defaults, where Nagle meets delayed ACKs; docs/identity.md, "Measurements"). The best
 * of 5 must be under 20 ms. On a machine busy with other work (parallel test runs, a
 * build) single handshakes can take tens of ms, so when the first 5 miss the budget up to
 * 25 more are tried (GIO's defaults take 50 ms or more here, so they still fail). */
static void
test_handshake_time (Fixture       *fixture,
                     gconstpointer  user_data)
{
  const unsigned min_rounds = 5, max_rounds = 30;
  gint64 best = G_MAXINT64;
  unsigned rounds;

  for (rounds = 0; rounds < max_rounds; rounds++)
    {
      gint64 start, elapsed;

      if (rounds >= min_rounds && best < HANDSHAKE_BUDGET_US)
        break;

      fixture_connect_tcp (fixture);
      fixture_wrap (fixture,
                    wzp_identity_get_fingerprint (fixture->server_identity),
                    wzp_identity_get_fingerprint (fixture->client_identity));

      start = g_get_monotonic_time ();
      fixture_start_handshakes (fixture);
      fixture_wait_handshakes (fixture);
      elapsed = g_get_monotonic_time () - start;

      g_assert_no_error (fixture->client_error);
      g_assert_no_error (fixture->server_error);
      g_test_message ("handshake %u: %.3f ms", rounds, elapsed / 1000.0);
      best = MIN (best, elapsed);

      fixture_close_connections (fixture);
    }

  g_test_message ("best of %u: %.3f ms (budget %.0f ms)", rounds, best / 1000.0,
                  HANDSHAKE_BUDGET_US / 1000.0);
  if (running_instrumented ())
    {
      g_test_skip ("Handshake time is not measured under valgrind or ASan");
      return;
    }
  g_assert_cmpint (best, <, HANDSHAKE_BUDGET_US);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func) \
  g_test_add ("/wzp/tls/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("mutual", test_mutual);
  ADD ("unpinned", test_unpinned);
  ADD ("connection-settings", test_connection_settings);
  ADD ("nodelay", test_nodelay);
  ADD ("wrong-pin/client", test_wrong_pin_client);
  ADD ("wrong-pin/server", test_wrong_pin_server);
  ADD ("invalid-pin", test_invalid_pin);
  ADD ("client-certificate-required", test_client_certificate_required);
  ADD ("handshake-time", test_handshake_time);

#undef ADD

  return g_test_run ();
}
