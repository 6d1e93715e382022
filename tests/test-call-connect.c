/* test-call-connect.c: a WzpClient connecting to its relay: registering, what it
 * refuses to connect with, and the relay's key pinned in the known-relays file
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "call-fixture.h"
#include "wzp-client-private.h"
#include "wzp-relay-private.h"

static void
test_register (Fixture       *f,
               gconstpointer  data)
{
  WzpClient *client = connected_client (f, "Alice");
  g_autofree char *expected = g_strdup_printf ("127.0.0.1:%u", wzp_client_get_port (client));

  /* The relay connection leaves from the client's port P, so the observed address is
   * where P is reachable. */
  g_assert_cmpuint (wzp_client_get_port (client), >, 0);
  g_assert_cmpstr (wzp_client_get_observed_address (client), ==, expected);
  g_assert_null (wzp_client_get_error_message (client));
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 1);

  disconnect_and_free (client);
  wzp_test_spin (50);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 0);
}

/* A host name with two addresses, the relay listening at one: GIO resolves localhost to
 * ::1 first and 127.0.0.1 second (whatever /etc/hosts says), the relay listens on
 * 127.0.0.1 only. The client tries both, from its port, with the pin, and registers. */
static void
test_localhost_both_families (Fixture       *f,
                              gconstpointer  data)
{
  const char *port = strrchr (f->address, ':') + 1;
  g_autofree char *uri = g_strdup_printf ("wzps://localhost:%s#%s", port,
                                          wzp_identity_get_fingerprint (f->relay_identity));
  g_autoptr(GSocketConnectable) localhost = g_network_address_new ("localhost", 9);
  g_autoptr(GSocketAddressEnumerator) enumerator = g_socket_connectable_enumerate (localhost);
  g_autoptr(GSocketAddress) first = g_socket_address_enumerator_next (enumerator, NULL, NULL);
  WzpClient *client = new_client (uri, "Alice");
  g_autofree char *expected = NULL;
  WzpTestResult r = { 0 };

  /* The case this test is about: the first address is not the relay's. */
  g_assert_true (g_str_has_prefix (f->address, "127.0.0.1:"));
  g_assert_nonnull (first);
  g_assert_cmpint (g_socket_address_get_family (first), ==, G_SOCKET_FAMILY_IPV6);

  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_no_error (r.error);
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_CONNECTED);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 1);
  /* From P, over IPv4. */
  expected = g_strdup_printf ("127.0.0.1:%u", wzp_client_get_port (client));
  g_assert_cmpstr (wzp_client_get_observed_address (client), ==, expected);
  disconnect_and_free (client);
}

/* Relays refuse aliases over 64 characters (docs/protocol.md, "Aliases"): the client
 * says so at once, in a GError, instead of connecting to be refused. */
static void
test_long_alias (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *too_long = g_strnfill (WZP_MAX_ALIAS_CHARS + 1, 'a');
  WzpClient *client = new_client (f->uri, too_long);
  WzpTestResult r = { 0 };

  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (r.error->message, "longer than 64 characters"));
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 0);
  g_clear_error (&r.error);
  wzp_test_finalize_object (client);
}

/* Connects a new client to @uri and returns its error (NULL: it registered). */
static GError *
connect_error (const char *uri)
{
  WzpClient *client = new_client (uri, "Alice");
  WzpTestResult r = { 0 };

  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  if (r.error != NULL)
    {
      const GError *state_error = wzp_client_get_error (client);

      g_test_message ("%s", r.error->message);
      g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_FAILED);
      /* What an app that watches the state (not the connect call) learns: the same. */
      g_assert_nonnull (state_error);
      g_assert_error (r.error, state_error->domain, state_error->code);
      g_assert_cmpstr (wzp_client_get_error_message (client), ==, r.error->message);
    }
  else
    g_assert_null (wzp_client_get_error (client));
  disconnect_and_free (client);
  return r.error;
}

/* Runs on 127.0.0.1, and on [::1] (@data), whose key the key file format cannot take
 * as it is written. */
static void
test_relay_fingerprint_changed (Fixture       *f,
                                gconstpointer  data)
{
  g_autofree char *tofu_uri = NULL;
  g_autofree char *address = NULL;
  g_autofree char *pin = NULL;
  g_autoptr(GError) error = NULL;

  if (f->relay == NULL)
    {
      g_test_skip ("Cannot listen on [::1] here");
      return;
    }
  tofu_uri = g_strdup_printf ("wzps://%s", f->address);
  address = g_strdup (f->address);

  /* Trust on first use: no fingerprint in the URI, remembered after the first visit. */
  g_assert_null (connect_error (tofu_uri));
  pin = wzp_test_known_relay_pin (address);
  g_assert_cmpstr (pin, ==, wzp_identity_get_fingerprint (f->relay_identity));

  /* Another relay (another identity) at the same address is refused. */
  wzp_relay_stop (f->relay);
  wzp_test_finalize_object (g_steal_pointer (&f->relay));
  g_clear_object (&f->relay_identity);
  f->relay_identity = wzp_test_identity_new ();
  start_relay (f, address);

  error = connect_error (tofu_uri);
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED);
}

/* The client's messages name the relay: one that is not the one its URI pins (the pin
 * mismatch explained after it), and one that refuses the connection. A pin in the URI that
 * does not match is its own error, RELAY_PIN_MISMATCH (a wrong address or a wrong pin),
 * never RELAY_FINGERPRINT_CHANGED (a relay trusted on first use that changed its key:
 * test_relay_fingerprint_changed()). */
static void
test_relay_errors_name_the_relay (Fixture       *f,
                                  gconstpointer  data)
{
  g_autoptr(WzpIdentity) other = wzp_test_identity_new ();
  g_autofree char *wrong_uri = g_strdup_printf ("wzps://%s#%s", f->address,
                                                wzp_identity_get_fingerprint (other));
  g_autofree char *impostor = NULL;
  g_autofree char *unreachable = g_strdup_printf ("Cannot reach the relay at %s: ",
                                                  f->address);
  g_autoptr(GError) error = NULL;
  WzpTestResult r = { 0 };
  WzpClient *client;

  error = connect_error (wrong_uri);
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_PIN_MISMATCH);
  impostor = g_strdup_printf ("The relay at %s is not the one in its URI: The peer’s "
                              "certificate has fingerprint %s, but %s was expected",
                              f->address, wzp_identity_get_fingerprint (f->relay_identity),
                              wzp_identity_get_fingerprint (other));
  g_assert_cmpstr (error->message, ==, impostor);
  g_clear_error (&error);

  /* Not for good: the client tries again later. */
  wzp_relay_stop (f->relay);
  client = new_client (f->uri, "Alice");
  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_true (g_str_has_prefix (r.error->message, unreachable));
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_RECONNECTING);
  g_assert_error ((GError *) wzp_client_get_error (client), G_IO_ERROR,
                  G_IO_ERROR_CONNECTION_REFUSED);
  g_clear_error (&r.error);
  disconnect_and_free (client);
}

static void wait_client_state (WzpClient      *client,
                               WzpClientState  state);

/* notify::error of a client: appends "STATE code" (the state when the error changed, and
 * the error's code, or -1 for none) to @log. */
static void
notify_error_cb (WzpClient  *client,
                 GParamSpec *pspec,
                 GPtrArray  *log)
{
  const GError *error = wzp_client_get_error (client);

  g_ptr_array_add (log, g_strdup_printf ("%d %d", wzp_client_get_state (client),
                                         error != NULL ? error->code : -1));
}

/* Another program registering with the same identity: the relay drops this client, which
 * says so (FAILED, with WZP_CLIENT_ERROR_REPLACED in its error, set before the state
 * changes) and does not take the registration back by reconnecting. The new one stays. */
static void
test_replaced (Fixture       *f,
               gconstpointer  data)
{
  WzpClient *first = connected_client (f, "Alice");
  WzpClient *second = wzp_client_new (wzp_client_get_identity (first));
  g_autoptr(GPtrArray) states = g_ptr_array_new ();
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *failed = g_strdup_printf ("%d %d", WZP_CLIENT_STATE_CONNECTED,
                                             WZP_CLIENT_ERROR_REPLACED);
  const GError *error;
  WzpTestResult r = { 0 };

  g_signal_connect (first, "notify::state", G_CALLBACK (notify_state_cb), states);
  g_signal_connect (first, "notify::error", G_CALLBACK (notify_error_cb), errors);
  g_object_set (second, "audio-source", "none", "audio-sink", "none", NULL);
  _wzp_client_set_test_loopback (second, TRUE);
  wzp_client_set_relay_uri (second, f->uri);
  wzp_client_connect_async (second, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_no_error (r.error);

  wait_client_state (first, WZP_CLIENT_STATE_FAILED);
  error = wzp_client_get_error (first);
  g_assert_error ((GError *) error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_REPLACED);
  g_assert_cmpstr (wzp_client_get_error_message (first), ==, error->message);
  /* The error came first, while the state was still CONNECTED, and once. */
  g_assert_cmpuint (errors->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (errors, 0), ==, failed);

  /* No reconnection: the other program keeps the identity. */
  wzp_test_spin (1500);
  g_assert_cmpint (wzp_client_get_state (first), ==, WZP_CLIENT_STATE_FAILED);
  g_assert_cmpuint (states->len, ==, 1);
  g_assert_cmpint (wzp_client_get_state (second), ==, WZP_CLIENT_STATE_CONNECTED);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 1);

  /* Connecting again, when the user asks, clears the error. */
  disconnect_and_free (second);
  wzp_client_connect_async (first, NULL, wzp_test_client_connected_cb, &r);
  r.done = FALSE;
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_no_error (r.error);
  g_assert_null (wzp_client_get_error (first));
  g_assert_null (wzp_client_get_error_message (first));
  disconnect_and_free (first);
}

/* A file written by earlier versions (bare HOST:PORT keys) still pins. */
static void
test_known_relays_old_format (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(WzpIdentity) other = wzp_test_identity_new ();
  g_autofree char *tofu_uri = g_strdup_printf ("wzps://%s", f->address);
  g_autofree char *wrong = g_strdup_printf ("[relays]\n%s=%s\n", f->address,
                                            wzp_identity_get_fingerprint (other));
  g_autofree char *right = g_strdup_printf ("[relays]\n%s=%s\n", f->address,
                                            wzp_identity_get_fingerprint (f->relay_identity));
  g_autoptr(GError) error = NULL;

  wzp_test_write_known_relays (wrong);
  error = connect_error (tofu_uri);
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED);

  wzp_test_write_known_relays (right);
  g_assert_null (connect_error (tofu_uri));
}

/* A damaged file fails the connection once, with a message naming the copy kept of it;
 * the next connection starts a new file. */
static void
test_known_relays_damaged (Fixture       *f,
                           gconstpointer  data)
{
  g_autofree char *tofu_uri = g_strdup_printf ("wzps://%s", f->address);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) aside = NULL;
  g_autofree char *pin = NULL;

  wzp_test_write_known_relays ("this is not a key file\n");
  wzp_test_expect_message ("*was damaged*");
  error = connect_error (tofu_uri);
  wzp_test_assert_expected_messages ();
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_KNOWN_RELAYS);
  aside = wzp_test_list_set_aside ();
  g_assert_cmpuint (g_strv_length (aside), ==, 1);
  g_assert_nonnull (strstr (error->message, aside[0]));

  g_assert_null (connect_error (tofu_uri));
  pin = wzp_test_known_relay_pin (f->address);
  g_assert_cmpstr (pin, ==, wzp_identity_get_fingerprint (f->relay_identity));
}

/* A relay whose key cannot be remembered is not used: the next connection would trust
 * any key again. */
static void
test_known_relays_save_fails (Fixture       *f,
                              gconstpointer  data)
{
  g_autofree char *tofu_uri = g_strdup_printf ("wzps://%s", f->address);
  g_autofree char *path = wzp_test_known_relays_path ();
  g_autofree char *expected = g_strdup_printf ("Could not remember the relay's key in %s: *",
                                               path);
  g_autoptr(GError) error = NULL;
  g_autofree char *pin = NULL;

  wzp_test_set_disk_full (TRUE);
  error = connect_error (tofu_uri);
  wzp_test_set_disk_full (FALSE);
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_KNOWN_RELAYS);
  g_assert_true (g_pattern_match_simple (expected, error->message));
  pin = wzp_test_known_relay_pin (f->address);
  g_assert_null (pin);
}

/* Waits (bounded) until @client is in @state. */
static void
wait_client_state (WzpClient      *client,
                   WzpClientState  state)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (wzp_client_get_state (client) != state && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpint (wzp_client_get_state (client), ==, state);
}

/* A file that cannot be read fails the attempt, not the client: it tries again with
 * backoff, saying why, and connects (trusting on first use) once the file can be read.
 * Never without the pin meanwhile. */
static void
test_known_relays_unreadable_retries (Fixture       *f,
                                      gconstpointer  data)
{
  g_autofree char *tofu_uri = g_strdup_printf ("wzps://%s", f->address);
  g_autofree char *path = wzp_test_known_relays_path ();
  WzpClient *client = new_client (tofu_uri, "Alice");
  WzpTestResult r = { 0 };
  g_autofree char *pin = NULL;

  g_assert_cmpint (g_mkdir_with_parents (path, 0700), ==, 0);   /* a folder in its place */
  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_nonnull (r.error);
  g_test_message ("%s", r.error->message);
  g_assert_true (r.error->domain == G_FILE_ERROR);
  g_clear_error (&r.error);

  wzp_test_spin (800);   /* a retry or two, which fail the same way */
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_RECONNECTING);
  g_assert_true (g_str_has_prefix (wzp_client_get_error_message (client),
                                   "Could not read the known relays in "));
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 0);

  g_assert_cmpint (g_rmdir (path), ==, 0);
  wait_client_state (client, WZP_CLIENT_STATE_CONNECTED);
  pin = wzp_test_known_relay_pin (f->address);
  g_assert_cmpstr (pin, ==, wzp_identity_get_fingerprint (f->relay_identity));
  disconnect_and_free (client);
}

/* The pin read (or remembered) when connecting serves the reconnections: one while the
 * file cannot be read goes on. */
static void
test_known_relays_reconnect_reads_no_file (Fixture       *f,
                                           gconstpointer  data)
{
  g_autofree char *tofu_uri = g_strdup_printf ("wzps://%s", f->address);
  g_autofree char *path = wzp_test_known_relays_path ();
  WzpClient *client = new_client (tofu_uri, "Alice");
  g_autoptr(GPtrArray) states = g_ptr_array_new ();
  WzpTestResult r = { 0 };
  RelayConn *conn;

  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_no_error (r.error);
  g_signal_connect (client, "notify::state", G_CALLBACK (notify_state_cb), states);

  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  conn = _wzp_relay_lookup_conn (f->relay,
                                 wzp_identity_get_fingerprint (wzp_client_get_identity (client)));
  g_assert_nonnull (conn);
  g_socket_shutdown (g_socket_connection_get_socket (conn->socket_conn), TRUE, TRUE, NULL);

  wait_reregistered (client, states);
  g_assert_cmpint (g_rmdir (path), ==, 0);
  disconnect_and_free (client);
}

static void
test_bad_uri (Fixture       *f,
              gconstpointer  data)
{
  const char *bad[] = { "http://example.org", "wzps://", "wzps://host:99999",
                        "wzps://host:1#nope", "wzps://[::1", NULL };

  for (guint i = 0; bad[i] != NULL; i++)
    {
      WzpClient *client = new_client (bad[i], NULL);
      WzpTestResult r = { 0 };

      wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
      wzp_test_wait_flag (&r.done, 5000);
      g_assert_nonnull (r.error);
      g_assert_true (r.error->domain == WZP_CLIENT_ERROR);
      g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_FAILED);
      g_clear_error (&r.error);
      disconnect_and_free (client);
    }
}

static void
test_cancel_connect (Fixture       *f,
                     gconstpointer  data)
{
  WzpClient *client = new_client (f->uri, "Alice");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  WzpTestResult r = { 0 };

  wzp_client_connect_async (client, cancellable, wzp_test_client_connected_cb, &r);
  g_cancellable_cancel (cancellable);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_DISCONNECTED);
  disconnect_and_free (client);
}

static gboolean
retry_pending (gpointer client)
{
  return _wzp_client_get_retry_delay_ms (client) != 0;
}

/* A relay at a handshake cap turns a client away before TLS and says why
 * (docs/relay.md, "When the relay turns clients away"): the client shows it
 * (WZP_CLIENT_ERROR_RELAY_BUSY at a cap of the whole relay, _RELAY_TOO_MANY_CONNECTIONS
 * at one of its address, in connect_finish() and in its error), does not give up
 * (RECONNECTING), waits at least 2 s before trying again (1 s at the least with jitter;
 * 250 or 500 ms otherwise), is turned away again while the cap is held, and registers on
 * its own once the cap is free. The cap is held by a connection that sent its ClientHello
 * and stalls (a silent one would give way). @data: the cap per address rather than the
 * relay's. */
static void
test_relay_refusal (Fixture       *f,
                    gconstpointer  data)
{
  gboolean per_ip = GPOINTER_TO_INT (data);
  int code = per_ip ? WZP_CLIENT_ERROR_RELAY_TOO_MANY_CONNECTIONS : WZP_CLIENT_ERROR_RELAY_BUSY;
  g_autofree char *message = per_ip
    ? g_strdup_printf ("Too many connections from your network to the relay at %s", f->address)
    : g_strdup_printf ("The relay at %s is busy and turned the connection away", f->address);
  g_autoptr(GSocketConnection) holder = NULL;
  WzpClient *client = new_client (f->uri, "Alice");
  WzpTestResult r = { 0 };
  gint64 deadline;
  guint delay;

  /* The holder's handshake outlasts the test: only closing it frees the cap. */
  g_object_set (f->relay, "handshake-timeout", 60,
                per_ip ? "max-handshakes-per-ip" : "max-pending-handshakes", 1, NULL);
  holder = wzp_test_stalled_handshake_from (f->address, per_ip ? "127.0.0.1" : "127.0.0.2");
  wzp_test_spin (200);

  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_error (r.error, WZP_CLIENT_ERROR, code);
  g_assert_cmpstr (r.error->message, ==, message);
  g_clear_error (&r.error);
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_RECONNECTING);
  g_assert_error ((GError *) wzp_client_get_error (client), WZP_CLIENT_ERROR, code);
  g_assert_cmpstr (wzp_client_get_error_message (client), ==, message);

  /* (The client's first look at the network may end while it waits, and makes it try
   * again at once: so any retry, the first or the second, 2 or 4 s nominal.) */
  wzp_test_wait_until (retry_pending, client, 7000);
  delay = _wzp_client_get_retry_delay_ms (client);
  g_test_message ("retry in %u ms", delay);
  g_assert_cmpuint (delay, >=, 1000);
  g_assert_cmpuint (delay, <, 6000);

  /* That retry is turned away too, and another one waited for. */
  wzp_test_spin (delay + 300);
  wzp_test_wait_until (retry_pending, client, 7000);
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_RECONNECTING);
  g_assert_error ((GError *) wzp_client_get_error (client), WZP_CLIENT_ERROR, code);
  delay = _wzp_client_get_retry_delay_ms (client);
  g_test_message ("next retry in %u ms", delay);
  g_assert_cmpuint (delay, >=, 1000);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 0);

  /* Freed: the pending retry registers. */
  g_io_stream_close (G_IO_STREAM (holder), NULL, NULL);
  deadline = g_get_monotonic_time () + (delay + 3000) * (gint64) 1000;
  while (wzp_client_get_state (client) != WZP_CLIENT_STATE_CONNECTED &&
         g_get_monotonic_time () < deadline)
    wzp_test_spin (20);
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_CONNECTED);
  g_assert_null (wzp_client_get_error (client));
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 1);
  disconnect_and_free (client);
}

/* notify::state of a client: the wait of its retry, when it starts waiting for one. */
static void
notify_retry_cb (WzpClient  *client,
                 GParamSpec *pspec,
                 GArray     *delays)
{
  guint delay;

  if (wzp_client_get_state (client) != WZP_CLIENT_STATE_RECONNECTING)
    return;
  delay = _wzp_client_get_retry_delay_ms (client);
  g_array_append_val (delays, delay);
}

/* Clients that a relay restart drops at the same moment do not come back at the same
 * moment: their first retries are spread over 125 to 375 ms (250 ms times [0.5, 1.5)),
 * not all at 250 ms. */
static void
test_retry_jitter (Fixture       *f,
                   gconstpointer  data)
{
  WzpClient *clients[8];
  g_autoptr(GArray) delays = g_array_new (FALSE, FALSE, sizeof (guint));
  guint lowest = G_MAXUINT, highest = 0;

  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      clients[i] = connected_client (f, "Alice");
      g_signal_connect (clients[i], "notify::state", G_CALLBACK (notify_retry_cb), delays);
    }
  wzp_relay_stop (f->relay);
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    wait_client_state (clients[i], WZP_CLIENT_STATE_RECONNECTING);

  g_assert_cmpuint (delays->len, ==, G_N_ELEMENTS (clients));
  for (guint i = 0; i < delays->len; i++)
    {
      guint delay = g_array_index (delays, guint, i);

      g_test_message ("client %u retries in %u ms", i, delay);
      g_assert_cmpuint (delay, >=, 125);
      g_assert_cmpuint (delay, <, 375);
      lowest = MIN (lowest, delay);
      highest = MAX (highest, delay);
    }
  /* Eight uniform draws within 2 ms of each other: about one chance in 10^11. */
  g_assert_cmpuint (highest - lowest, >, 2);

  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    disconnect_and_free (clients[i]);
}

/* The retry policy itself: 250 ms doubling to 10 s, at least 2 s after a refusal (then
 * doubling from there), and each wait times a uniform factor in [0.5, 1.5). */
static void
test_backoff_policy (void)
{
  g_autoptr(GError) busy = g_error_new_literal (WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_BUSY,
                                                "busy");
  g_autoptr(GError) too_many = g_error_new_literal (WZP_CLIENT_ERROR,
                                                    WZP_CLIENT_ERROR_RELAY_TOO_MANY_CONNECTIONS,
                                                    "too many");
  g_autoptr(GError) refused = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED,
                                                   "refused");
  const guint plain[] = { 250, 500, 1000, 2000, 4000, 8000, 10000, 10000 };
  guint nominal = 0;
  guint below = 0, above = 0;
  double sum = 0;
  const guint draws = 20000;

  for (guint i = 0; i < G_N_ELEMENTS (plain); i++)
    {
      nominal = _wzp_client_backoff_next (nominal, refused);
      g_assert_cmpuint (nominal, ==, plain[i]);
    }
  g_assert_cmpuint (_wzp_client_backoff_next (0, busy), ==, 2000);
  g_assert_cmpuint (_wzp_client_backoff_next (500, too_many), ==, 2000);
  g_assert_cmpuint (_wzp_client_backoff_next (2000, busy), ==, 4000);
  g_assert_cmpuint (_wzp_client_backoff_next (8000, busy), ==, 10000);

  for (guint i = 0; i < draws; i++)
    {
      guint delay = _wzp_client_backoff_jitter (1000);

      g_assert_cmpuint (delay, >=, 500);
      g_assert_cmpuint (delay, <, 1500);
      below += delay < 550;
      above += delay >= 1450;
      sum += delay;
    }
  /* Uniform: each 50 ms at either end holds about 5 % of the draws, and the mean is the
   * nominal wait (bounds some ten standard deviations wide). */
  g_test_message ("%u below 550 ms, %u from 1450 ms, mean %.1f ms", below, above, sum / draws);
  g_assert_cmpuint (below, >, draws / 40);
  g_assert_cmpuint (above, >, draws / 40);
  g_assert_cmpfloat (sum / draws, >, 980);
  g_assert_cmpfloat (sum / draws, <, 1020);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  ADD ("register", test_register);
  ADD ("long-alias", test_long_alias);
  ADD ("localhost-both-families", test_localhost_both_families);
  g_test_add ("/wzp/call/relay-fingerprint-changed", Fixture, NULL, fixture_setup_fixed_port,
              test_relay_fingerprint_changed, fixture_teardown);
  g_test_add ("/wzp/call/relay-fingerprint-changed-ipv6", Fixture, "::1",
              fixture_setup_fixed_port, test_relay_fingerprint_changed, fixture_teardown);
  ADD ("relay-errors-name-the-relay", test_relay_errors_name_the_relay);
  ADD ("replaced", test_replaced);
  ADD ("known-relays-old-format", test_known_relays_old_format);
  ADD ("known-relays-damaged", test_known_relays_damaged);
  ADD ("known-relays-save-fails", test_known_relays_save_fails);
  ADD ("known-relays-unreadable-retries", test_known_relays_unreadable_retries);
  ADD ("known-relays-reconnect-reads-no-file", test_known_relays_reconnect_reads_no_file);
  ADD ("bad-uri", test_bad_uri);
  ADD ("cancel-connect", test_cancel_connect);
  g_test_add ("/wzp/call/relay-busy", Fixture, GINT_TO_POINTER (FALSE), fixture_setup,
              test_relay_refusal, fixture_teardown);
  g_test_add ("/wzp/call/relay-too-many-connections", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_relay_refusal, fixture_teardown);
  ADD ("retry-jitter", test_retry_jitter);
  g_test_add_func ("/wzp/call/backoff-policy", test_backoff_policy);

  return g_test_run ();
}
