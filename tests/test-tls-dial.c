/* test-tls-dial.c: the one pinned-TLS dial (wzp-tls-dial.c): pins, trust on first use,
 * refused connections, a peer that never answers the handshake, cancellation, and dials
 * from the shared port P
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "test-util.h"
#include "wzp-head-stream-private.h"
#include "wzp-socket-private.h"
#include "wzp-tls-dial-private.h"
#include "wzp-tls-private.h"

#define WAIT_MS 10000

/* Short enough to keep the test quick, long enough that a loaded machine (valgrind) does
 * not confuse it with a handshake that merely ran late: the peer never answers. */
#define TIMEOUT_MS 300

typedef enum {
  SERVE_TLS,      /* accept, and answer the handshake (pin NULL) */
  SERVE_SILENT,   /* accept, and never say a word */
  SERVE_BYTES,    /* accept, send serve_bytes and shut the sending side down */
} Serve;

typedef struct {
  WzpIdentity       *client_identity;
  WzpIdentity       *server_identity;
  GSocketListener   *listener;
  guint16            port;
  Serve              serve;
  GBytes            *serve_bytes;

  GSocketConnection *server_conn;
  GIOStream         *server_tls;
  gboolean           server_done;
  GError            *server_error;

  GAsyncResult      *result;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  fixture->client_identity = wzp_test_identity_new ();
  fixture->server_identity = wzp_test_identity_new ();
  fixture->listener = g_socket_listener_new ();
  fixture->port = g_socket_listener_add_any_inet_port (fixture->listener, NULL, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  user_data)
{
  if (fixture->server_conn != NULL)
    g_io_stream_close (G_IO_STREAM (fixture->server_conn), NULL, NULL);
  /* Its callback points at the fixture, which the next test reuses. */
  if (fixture->server_tls != NULL)
    wzp_test_wait_flag (&fixture->server_done, WAIT_MS);
  g_clear_object (&fixture->server_tls);
  g_clear_object (&fixture->server_conn);
  g_clear_pointer (&fixture->serve_bytes, g_bytes_unref);
  g_clear_error (&fixture->server_error);
  g_clear_object (&fixture->result);
  g_socket_listener_close (fixture->listener);
  g_clear_object (&fixture->listener);
  wzp_test_finalize_object (g_steal_pointer (&fixture->client_identity));
  wzp_test_finalize_object (g_steal_pointer (&fixture->server_identity));
}

static void
server_handshake_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Fixture *fixture = user_data;

  g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result,
                                     &fixture->server_error);
  fixture->server_done = TRUE;
}

static void
accepted_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Fixture *fixture = user_data;
  g_autoptr(GError) error = NULL;

  fixture->server_conn = g_socket_listener_accept_finish (G_SOCKET_LISTENER (source), result,
                                                          NULL, &error);
  if (fixture->server_conn == NULL)
    return;  /* the listener closed at tear-down */
  if (fixture->serve == SERVE_SILENT)
    return;
  if (fixture->serve == SERVE_BYTES)
    {
      GSocket *socket = g_socket_connection_get_socket (fixture->server_conn);

      /* A half close, and the connection kept open until tear-down: a close with the
       * ClientHello unread would send a reset. */
      g_assert_cmpint (g_socket_send (socket, g_bytes_get_data (fixture->serve_bytes, NULL),
                                      g_bytes_get_size (fixture->serve_bytes), NULL, &error),
                       ==, g_bytes_get_size (fixture->serve_bytes));
      g_assert_true (g_socket_shutdown (socket, FALSE, TRUE, &error));
      return;
    }

  fixture->server_tls =
    _wzp_tls_server_new (G_IO_STREAM (fixture->server_conn),
                         wzp_identity_get_certificate (fixture->server_identity), NULL, &error);
  g_assert_no_error (error);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (fixture->server_tls), G_PRIORITY_DEFAULT,
                                    NULL, server_handshake_cb, fixture);
}

static void
fixture_serve (Fixture *fixture,
               Serve    serve)
{
  fixture->serve = serve;
  g_socket_listener_accept_async (fixture->listener, NULL, accepted_cb, fixture);
}

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Fixture *fixture = user_data;

  g_assert_null (fixture->result);
  fixture->result = g_object_ref (result);
}

/* Dials 127.0.0.1:@port (from @from when not NULL) and waits for the result. */
static GIOStream *
fixture_dial (Fixture            *fixture,
              guint16             port,
              WzpSharedPort      *from,
              const char         *pin,
              guint               timeout_ms,
              GCancellable       *cancellable,
              GSocketConnection **socket_conn,
              WzpTlsDialStep     *failed_step,
              GError            **error)
{
  g_autoptr(GSocketConnectable) connectable = g_network_address_new ("127.0.0.1", port);

  g_clear_object (&fixture->result);
  _wzp_tls_dial_async (connectable, from, wzp_identity_get_certificate (fixture->client_identity),
                       pin, timeout_ms, cancellable, store_result_cb, fixture);
  wzp_test_wait_pointer ((gpointer *) &fixture->result, WAIT_MS);
  return _wzp_tls_dial_finish (fixture->result, socket_conn, failed_step, error);
}

typedef struct {
  gboolean done;
  gssize   n;      /* bytes read; 0 at the end of the stream, -1 on a reset */
} Read;

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Read *read = user_data;
  g_autoptr(GError) error = NULL;

  read->n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  read->done = TRUE;
}

/* The server's end of the connection sees it closed, within a bound: a failed dial must not
 * leave the peer waiting (no TLS alert is sent; docs/identity.md, "TLS connections"). */
static void
assert_server_sees_close (Fixture *fixture)
{
  GInputStream *input;
  static char buf[4096];
  Read read = { FALSE, 1 };

  wzp_test_wait_pointer ((gpointer *) &fixture->server_conn, WAIT_MS);
  input = g_io_stream_get_input_stream (G_IO_STREAM (fixture->server_conn));
  /* A silent server's socket still holds the client's hello: read past it to the end. */
  while (read.n > 0)
    {
      read.done = FALSE;
      g_input_stream_read_async (input, buf, sizeof buf, G_PRIORITY_DEFAULT, NULL, read_cb,
                                 &read);
      wzp_test_wait_flag (&read.done, WAIT_MS);
    }
}

/* The stream @tls runs over (GIO has no getter for it). */
static GIOStream *
base_stream (GIOStream *tls)
{
  g_autoptr(GIOStream) base = NULL;

  g_object_get (tls, "base-io-stream", &base, NULL);
  return base;  /* still held by @tls */
}

/* A new shared port P on loopback, when @user_data asks to dial from one. */
static WzpSharedPort *
maybe_shared_port (gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  WzpSharedPort *port;

  if (user_data == NULL)
    return NULL;
  port = _wzp_shared_port_new (0, WZP_SHARED_PORT_FLAGS_LOOPBACK, &error);
  g_assert_no_error (error);
  return port;
}

/* @user_data: dial from a shared port P (the client's way) rather than with GSocketClient. */
static void
test_pinned (Fixture       *fixture,
             gconstpointer  user_data)
{
  const char *server_fp = wzp_identity_get_fingerprint (fixture->server_identity);
  g_autoptr(WzpSharedPort) port = maybe_shared_port (user_data);
  g_autoptr(GSocketConnection) socket_conn = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) error = NULL;

  fixture_serve (fixture, SERVE_TLS);
  tls = fixture_dial (fixture, fixture->port, port, server_fp, WAIT_MS, NULL, &socket_conn,
                      NULL, &error);
  g_assert_no_error (error);
  g_assert_true (G_IS_TLS_CLIENT_CONNECTION (tls));
  g_assert_cmpstr (_wzp_tls_connection_get_peer_fingerprint (tls), ==, server_fp);

  /* The TCP connection under the TLS stream (under the stream that keeps the server's
   * first bytes), for callers that close it or ask its address. */
  g_assert_true (G_IS_SOCKET_CONNECTION (socket_conn));
  g_assert_true (WZP_IS_HEAD_IO_STREAM (base_stream (tls)));
  g_assert_true (_wzp_head_io_stream_get_base (WZP_HEAD_IO_STREAM (base_stream (tls))) ==
                 G_IO_STREAM (socket_conn));
  /* From P, it left from P: the reflexive address a relay sees is P's mapping. */
  if (port != NULL)
    {
      local = g_socket_connection_get_local_address (socket_conn, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)), ==,
                        _wzp_shared_port_get_port (port));
    }

  wzp_test_wait_flag (&fixture->server_done, WAIT_MS);
  g_assert_no_error (fixture->server_error);
  g_assert_cmpstr (_wzp_tls_connection_get_peer_fingerprint (fixture->server_tls), ==,
                   wzp_identity_get_fingerprint (fixture->client_identity));
  g_io_stream_close (G_IO_STREAM (socket_conn), NULL, NULL);
  if (port != NULL)
    _wzp_shared_port_close (port);
}

static void
test_trust_on_first_use (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) error = NULL;

  fixture_serve (fixture, SERVE_TLS);
  /* No @socket_conn wanted: the connection must stay open all the same. */
  tls = fixture_dial (fixture, fixture->port, NULL, NULL, 0, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (_wzp_tls_connection_get_peer_fingerprint (tls), ==,
                   wzp_identity_get_fingerprint (fixture->server_identity));
  g_assert_false (g_io_stream_is_closed (base_stream (tls)));
  g_io_stream_close (base_stream (tls), NULL, NULL);
}

static void
test_pin_mismatch (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autoptr(WzpIdentity) other = wzp_test_identity_new ();
  const char *other_fp = wzp_identity_get_fingerprint (other);
  g_autoptr(GSocketConnection) socket_conn = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;
  WzpTlsDialStep step = WZP_TLS_DIAL_STEP_RESOLVE;

  fixture_serve (fixture, SERVE_TLS);
  tls = fixture_dial (fixture, fixture->port, NULL, other_fp, WAIT_MS, NULL, &socket_conn,
                      &step, &error);
  g_assert_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_PIN_MISMATCH);
  g_assert_null (tls);
  g_assert_null (socket_conn);
  g_assert_cmpint (step, ==, WZP_TLS_DIAL_STEP_HANDSHAKE);
  expected = g_strdup_printf ("The peer’s certificate has fingerprint %s, but %s was expected",
                              wzp_identity_get_fingerprint (fixture->server_identity), other_fp);
  g_assert_cmpstr (error->message, ==, expected);

  /* The server is not left waiting for a certificate or data. */
  wzp_test_wait_flag (&fixture->server_done, WAIT_MS);
  assert_server_sees_close (fixture);
}

static void
test_invalid_pin (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) error = NULL;

  fixture_serve (fixture, SERVE_SILENT);
  tls = fixture_dial (fixture, fixture->port, NULL, "not a fingerprint", WAIT_MS, NULL, NULL,
                      NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (tls);
  assert_server_sees_close (fixture);
}

static void
test_refused (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autoptr(GSocketListener) closed = g_socket_listener_new ();
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) error = NULL;
  WzpTlsDialStep step = WZP_TLS_DIAL_STEP_HANDSHAKE;
  guint16 port;

  /* A port that was free a moment ago, with nobody listening on it now. */
  port = g_socket_listener_add_any_inet_port (closed, NULL, &error);
  g_assert_no_error (error);
  g_socket_listener_close (closed);

  tls = fixture_dial (fixture, port, NULL, NULL, WAIT_MS, NULL, NULL, &step, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_null (tls);
  g_assert_cmpint (step, ==, WZP_TLS_DIAL_STEP_CONNECT);
}

/* @user_data: as for test_pinned(). */
static void
test_timeout (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autoptr(WzpSharedPort) port = maybe_shared_port (user_data);
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("127.0.0.1:%u", fixture->port);
  WzpTlsDialStep step = WZP_TLS_DIAL_STEP_RESOLVE;
  gint64 start, elapsed_ms;

  fixture_serve (fixture, SERVE_SILENT);
  start = g_get_monotonic_time ();
  tls = fixture_dial (fixture, fixture->port, port, NULL, TIMEOUT_MS, NULL, NULL, &step,
                      &error);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_null (tls);
  g_assert_cmpint (step, ==, WZP_TLS_DIAL_STEP_HANDSHAKE);
  g_assert_cmpint (elapsed_ms, >=, TIMEOUT_MS - 10);
  g_assert_cmpint (elapsed_ms, <, WAIT_MS);
  /* Says where, how long, and what to check. */
  g_assert_nonnull (strstr (error->message, name));
  g_assert_nonnull (strstr (error->message, "0.3 s"));
  g_assert_nonnull (strstr (error->message, "did not finish a TLS handshake"));
  g_assert_nonnull (strstr (error->message, "check that it is a wzp relay"));

  assert_server_sees_close (fixture);
  if (port != NULL)
    _wzp_shared_port_close (port);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) error = NULL;
  WzpTlsDialStep step = WZP_TLS_DIAL_STEP_RESOLVE;

  /* During the handshake, with a timeout still far away: cancelled, not timed out. */
  fixture_serve (fixture, SERVE_SILENT);
  g_timeout_add (50, cancel_cb, cancellable);
  tls = fixture_dial (fixture, fixture->port, NULL, NULL, WAIT_MS, cancellable, NULL, &step,
                      &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (tls);
  g_assert_cmpint (step, ==, WZP_TLS_DIAL_STEP_HANDSHAKE);
  assert_server_sees_close (fixture);
  g_clear_error (&error);

  /* Already cancelled: nothing is dialled. */
  tls = fixture_dial (fixture, fixture->port, NULL, NULL, WAIT_MS, cancellable, NULL, &step,
                      &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (tls);
}

/* Replaces the fixture's listener (every address) with one on @ip alone, at @port (0: the
 * kernel's choice). FALSE if that cannot be listened on (no IPv6, the port taken). */
static gboolean
fixture_listen_on (Fixture    *fixture,
                   const char *ip,
                   guint16     port)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (ip);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (inet, port);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) error = NULL;

  g_socket_listener_close (fixture->listener);
  g_clear_object (&fixture->listener);
  fixture->listener = g_socket_listener_new ();
  if (!g_socket_listener_add_address (fixture->listener, address, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error))
    {
      g_test_message ("Cannot listen on %s port %u: %s", ip, port, error->message);
      return FALSE;
    }
  fixture->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  return TRUE;
}

/* Dials localhost:@port (from @from when not NULL) and waits for the result. */
static GIOStream *
fixture_dial_localhost (Fixture        *fixture,
                        guint16         port,
                        WzpSharedPort  *from,
                        const char     *pin,
                        WzpTlsDialStep *failed_step,
                        GError        **error)
{
  g_autoptr(GSocketConnectable) connectable = g_network_address_new ("localhost", port);
  g_autoptr(GSocketConnection) socket_conn = NULL;
  GIOStream *tls;

  g_clear_object (&fixture->result);
  _wzp_tls_dial_async (connectable, from, wzp_identity_get_certificate (fixture->client_identity),
                       pin, WAIT_MS, NULL, store_result_cb, fixture);
  wzp_test_wait_pointer ((gpointer *) &fixture->result, WAIT_MS);
  tls = _wzp_tls_dial_finish (fixture->result, &socket_conn, failed_step, error);
  if (tls != NULL)
    {
      g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (socket_conn,
                                                                                 NULL);
      g_autofree char *ip =
        g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));

      /* The dial went to the one address that is listening. */
      g_assert_cmpstr (ip, ==, "127.0.0.1");
      g_io_stream_close (G_IO_STREAM (socket_conn), NULL, NULL);
    }
  return tls;
}

/* GIO resolves localhost to ::1 first, then 127.0.0.1, whatever /etc/hosts says: the
 * tests below rest on that order (the first address is one nobody listens on). */
static void
assert_localhost_is_ipv6_first (void)
{
  g_autoptr(GSocketConnectable) connectable = g_network_address_new ("localhost", 9);
  g_autoptr(GSocketAddressEnumerator) enumerator = g_socket_connectable_enumerate (connectable);
  g_autoptr(GSocketAddress) first = g_socket_address_enumerator_next (enumerator, NULL, NULL);
  g_autoptr(GSocketAddress) second = g_socket_address_enumerator_next (enumerator, NULL, NULL);

  g_assert_nonnull (first);
  g_assert_nonnull (second);
  g_assert_cmpint (g_socket_address_get_family (first), ==, G_SOCKET_FAMILY_IPV6);
  g_assert_cmpint (g_socket_address_get_family (second), ==, G_SOCKET_FAMILY_IPV4);
}

/* A server on 127.0.0.1 only, dialled at localhost (::1 first): the dial goes on to the
 * second address instead of failing on the first. @user_data: as for test_pinned(). */
static void
test_every_address (Fixture       *fixture,
                    gconstpointer  user_data)
{
  const char *server_fp = wzp_identity_get_fingerprint (fixture->server_identity);
  g_autoptr(WzpSharedPort) port = maybe_shared_port (user_data);
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) error = NULL;

  assert_localhost_is_ipv6_first ();
  g_assert_true (fixture_listen_on (fixture, "127.0.0.1", 0));
  fixture_serve (fixture, SERVE_TLS);
  tls = fixture_dial_localhost (fixture, fixture->port, port, server_fp, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (_wzp_tls_connection_get_peer_fingerprint (tls), ==, server_fp);
  if (port != NULL)
    _wzp_shared_port_close (port);
}

/* From P every attempt is the whole dial with the pin: a server with another key at the
 * first address (::1) is passed over for the right one at the second. */
static void
test_wrong_key_then_right (Fixture       *fixture,
                           gconstpointer  user_data)
{
  const char *server_fp = wzp_identity_get_fingerprint (fixture->server_identity);
  g_autoptr(WzpSharedPort) port = maybe_shared_port ("from P");
  Fixture decoy = { 0 };
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) error = NULL;

  assert_localhost_is_ipv6_first ();
  g_assert_true (fixture_listen_on (fixture, "127.0.0.1", 0));
  fixture_set_up (&decoy, NULL);
  if (!fixture_listen_on (&decoy, "::1", fixture->port))
    {
      fixture_tear_down (&decoy, NULL);
      g_test_skip ("Cannot listen on [::1] at the same port here");
      return;
    }
  fixture_serve (&decoy, SERVE_TLS);
  fixture_serve (fixture, SERVE_TLS);

  tls = fixture_dial_localhost (fixture, fixture->port, port, server_fp, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (_wzp_tls_connection_get_peer_fingerprint (tls), ==, server_fp);
  /* The decoy was really dialled, and left at once. */
  wzp_test_wait_flag (&decoy.server_done, WAIT_MS);
  assert_server_sees_close (&decoy);

  fixture_tear_down (&decoy, NULL);
  _wzp_shared_port_close (port);
}

/* When no address works, the error is the attempt's that got furthest: another key at ::1
 * (a pin mismatch, in the handshake), not the refused connection at 127.0.0.1 that came
 * after it. */
static void
test_best_error (Fixture       *fixture,
                 gconstpointer  user_data)
{
  g_autoptr(WzpIdentity) other = wzp_test_identity_new ();
  g_autoptr(WzpSharedPort) port = maybe_shared_port ("from P");
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) error = NULL;
  WzpTlsDialStep step = WZP_TLS_DIAL_STEP_RESOLVE;

  assert_localhost_is_ipv6_first ();
  if (!fixture_listen_on (fixture, "::1", 0))
    {
      g_test_skip ("Cannot listen on [::1] here");
      return;
    }
  fixture_serve (fixture, SERVE_TLS);
  tls = fixture_dial_localhost (fixture, fixture->port, port,
                                wzp_identity_get_fingerprint (other), &step, &error);
  g_assert_null (tls);
  g_assert_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_PIN_MISMATCH);
  g_assert_cmpint (step, ==, WZP_TLS_DIAL_STEP_HANDSHAKE);
  g_clear_error (&error);

  /* Nobody anywhere: the refused connection, at the connect step. */
  g_assert_true (fixture_listen_on (fixture, "::1", 0));
  g_socket_listener_close (fixture->listener);
  tls = fixture_dial_localhost (fixture, fixture->port, port, NULL, &step, &error);
  g_assert_null (tls);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_cmpint (step, ==, WZP_TLS_DIAL_STEP_CONNECT);
  _wzp_shared_port_close (port);
}

typedef struct {
  guint8 bytes[8];
  gsize  len;
  int    code;    /* a WzpClientError, or -1: not a refusal */
} RefusalCase;

static const RefusalCase refusal_busy = { { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 80 }, 7,
                                          WZP_CLIENT_ERROR_RELAY_BUSY };
static const RefusalCase refusal_too_many = { { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 49 }, 7,
                                              WZP_CLIENT_ERROR_RELAY_TOO_MANY_CONNECTIONS };
/* handshake_failure (40): a TLS failure, not a relay's refusal. */
static const RefusalCase refusal_other_alert = { { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 40 }, 7,
                                                 -1 };
/* A warning-level access_denied is not the refusal either. */
static const RefusalCase refusal_warning = { { 0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 49 }, 7,
                                             -1 };
/* The refusal cut short, then the end of the stream. */
static const RefusalCase refusal_cut = { { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02 }, 6, -1 };

/* A relay that turns a connection away before TLS sends one plaintext fatal alert
 * (wzp-tls-refusal-private.h): the dial fails at its handshake with what the relay meant,
 * a WZP_CLIENT_ERROR that names the relay, not GnuTLS's words for the alert. Other first
 * bytes keep TLS's own error. */
static void
test_refusal (Fixture       *fixture,
              gconstpointer  user_data)
{
  const RefusalCase *c = user_data;
  g_autoptr(GSocketConnection) socket_conn = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;
  WzpTlsDialStep step = WZP_TLS_DIAL_STEP_RESOLVE;

  fixture->serve_bytes = g_bytes_new (c->bytes, c->len);
  fixture_serve (fixture, SERVE_BYTES);
  tls = fixture_dial (fixture, fixture->port, NULL,
                      wzp_identity_get_fingerprint (fixture->server_identity), WAIT_MS, NULL,
                      &socket_conn, &step, &error);
  g_assert_null (tls);
  g_assert_null (socket_conn);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_cmpint (step, ==, WZP_TLS_DIAL_STEP_HANDSHAKE);
  if (c->code < 0)
    {
      g_assert_true (error->domain != WZP_CLIENT_ERROR);
      return;
    }
  g_assert_error (error, WZP_CLIENT_ERROR, c->code);
  expected = c->code == WZP_CLIENT_ERROR_RELAY_BUSY
    ? g_strdup_printf ("The relay at 127.0.0.1:%u is busy and turned the connection away",
                       fixture->port)
    : g_strdup_printf ("Too many connections from your network to the relay at 127.0.0.1:%u",
                       fixture->port);
  g_assert_cmpstr (error->message, ==, expected);
}

/* The same from P, where the dial goes through the name's addresses itself. */
static void
test_refusal_from_port (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autoptr(WzpSharedPort) port = maybe_shared_port ("from P");
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) error = NULL;

  fixture->serve_bytes = g_bytes_new (refusal_busy.bytes, refusal_busy.len);
  fixture_serve (fixture, SERVE_BYTES);
  tls = fixture_dial (fixture, fixture->port, port, NULL, WAIT_MS, NULL, NULL, NULL, &error);
  g_assert_null (tls);
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_BUSY);
  _wzp_shared_port_close (port);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD_DATA(path, data, func) \
  g_test_add ("/wzp/tls-dial/" path, Fixture, data, fixture_set_up, func, fixture_tear_down)
#define ADD(path, func) ADD_DATA (path, NULL, func)

  ADD ("pinned", test_pinned);
  ADD ("trust-on-first-use", test_trust_on_first_use);
  ADD ("pin-mismatch", test_pin_mismatch);
  ADD ("invalid-pin", test_invalid_pin);
  ADD ("refused", test_refused);
  ADD ("timeout", test_timeout);
  ADD ("cancel", test_cancel);
  ADD_DATA ("from-port", "from P", test_pinned);
  ADD_DATA ("from-port-timeout", "from P", test_timeout);
  ADD ("every-address", test_every_address);
  ADD_DATA ("every-address-from-port", "from P", test_every_address);
  ADD ("wrong-key-then-right-from-port", test_wrong_key_then_right);
  ADD ("best-error-from-port", test_best_error);
  ADD_DATA ("refusal-busy", &refusal_busy, test_refusal);
  ADD_DATA ("refusal-too-many", &refusal_too_many, test_refusal);
  ADD_DATA ("refusal-other-alert", &refusal_other_alert, test_refusal);
  ADD_DATA ("refusal-warning", &refusal_warning, test_refusal);
  ADD_DATA ("refusal-cut", &refusal_cut, test_refusal);
  ADD ("refusal-from-port", test_refusal_from_port);

#undef ADD
#undef ADD_DATA

  return g_test_run ();
}
