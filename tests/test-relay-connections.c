/* test-relay-connections.c: the relay's hold on its connections: registering and
 * reflecting, replaced and idle connections, keepalive, clients that do not read,
 * and a relay on a context of its own
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "relay-fixture.h"
#include "wzp-relay-private.h"

static void
count_cb (guint *count)
{
  (*count)++;
}

static void
test_register (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(WzpTestClient) client = wzp_test_client_connect (f->address, NULL,
                                                             wzp_relay_get_fingerprint (f->relay));
  g_autoptr(WzpMessage) ack = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autofree char *local_text = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autofree char *fp = NULL;
  guint registrations_notified = 0, calls_notified = 0;

  g_signal_connect_swapped (f->relay, "notify::n-registrations", G_CALLBACK (count_cb),
                            &registrations_notified);
  g_signal_connect_swapped (f->relay, "notify::n-calls", G_CALLBACK (count_cb),
                            &calls_notified);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 0);
  ack = wzp_test_client_register (client, "Alice");

  /* The observed address is the client's own source address and port. */
  local = g_socket_connection_get_local_address (client->conn, NULL);
  local_text = _wzp_address_to_string (local);
  g_assert_cmpstr (_wzp_message_get_string (ack, "observed_addr"), ==, local_text);
  g_assert_cmpstr (_wzp_message_get_string (ack, "relay_fingerprint"), ==,
                   wzp_relay_get_fingerprint (f->relay));
  g_assert_cmpstr (_wzp_message_get_string (ack, "relay_version"), ==, PACKAGE_VERSION);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 1);
  /* Only the count that changed notifies. */
  g_assert_cmpuint (registrations_notified, ==, 1);
  g_assert_cmpuint (calls_notified, ==, 0);
  g_signal_handlers_disconnect_by_func (f->relay, count_cb, &registrations_notified);
  g_signal_handlers_disconnect_by_func (f->relay, count_cb, &calls_notified);

  list = g_variant_ref_sink (wzp_relay_list_registrations (f->relay));
  g_assert_cmpuint (g_variant_n_children (list), ==, 1);
  {
    g_autoptr(GVariant) entry = g_variant_get_child_value (list, 0);
    g_autofree char *alias = NULL;

    g_assert_true (g_variant_lookup (entry, "fingerprint", "s", &fp));
    g_assert_cmpstr (fp, ==, wzp_test_client_fingerprint (client));
    g_assert_true (g_variant_lookup (entry, "alias", "s", &alias));
    g_assert_cmpstr (alias, ==, "Alice");
  }
}

static void
test_reflect (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(WzpTestClient) client = wzp_test_client_connect (f->address, NULL, NULL);
  g_autoptr(WzpMessage) reflect = _wzp_message_new (WZP_MESSAGE_REFLECT);
  g_autoptr(WzpMessage) response = NULL;
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (client->conn, NULL);
  g_autofree char *local_text = _wzp_address_to_string (local);

  /* Reflection works without registering (a reflection-only connection). */
  wzp_test_client_send (client, reflect);
  response = wzp_test_client_expect (client, WZP_MESSAGE_REFLECT_RESPONSE);
  g_assert_cmpstr (_wzp_message_get_string (response, "observed_addr"), ==, local_text);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 0);
}

static void
test_wrong_relay_pin (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpTestClient) client =
    wzp_test_client_try_connect (f->address, NULL,
                                 "0000:0000:0000:0000:0000:0000:0000:0000", &error);

  g_assert_null (client);
  g_assert_nonnull (error);
}

static void
test_reregistration_replaces (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(WzpTestClient) old = connect_registered (f, "Bob");
  g_autoptr(WzpTestClient) fresh = wzp_test_client_connect (f->address, old->identity, NULL);
  g_autoptr(WzpMessage) ack = wzp_test_client_register (fresh, "Bob again");
  g_autoptr(WzpTestClient) caller = connect_registered (f, "Alice");
  g_autofree char *call_id = new_call_id ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, wzp_test_client_fingerprint (fresh));
  g_autoptr(WzpMessage) got_offer = NULL;

  /* The old connection is told why and closed; its cleanup leaves the new one alone. */
  wzp_test_client_expect_error (old, WZP_ERROR_CODE_REPLACED);
  wzp_test_client_wait_closed (old);
  wzp_test_spin (50);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 2);

  wzp_test_client_send (caller, offer);
  got_offer = wzp_test_client_expect (fresh, WZP_MESSAGE_DIRECT_CALL_OFFER);
  g_assert_cmpstr (_wzp_message_get_string (got_offer, "call_id"), ==, call_id);
}

/* A relay made in a worker thread, on that thread's own context (what a server that runs
 * its relay off the main thread does). */
typedef struct
{
  GMutex        lock;
  GCond         cond;
  GMainContext *context;
  char         *address;
  gint          quit;
} RelayThread;

static gpointer
relay_thread_main (gpointer data)
{
  RelayThread *rt = data;
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) listen = NULL;
  WzpRelay *relay;

  g_main_context_push_thread_default (rt->context);
  relay = wzp_relay_new (identity);
  g_object_set (relay, "handshake-timeout", 1, NULL);
  wzp_relay_listen (relay, "127.0.0.1:0", NULL, &error);
  g_assert_no_error (error);
  listen = wzp_relay_dup_listen_addresses (relay);

  g_mutex_lock (&rt->lock);
  rt->address = g_strdup (listen[0]);
  g_cond_signal (&rt->cond);
  g_mutex_unlock (&rt->lock);

  while (!g_atomic_int_get (&rt->quit))
    g_main_context_iteration (rt->context, TRUE);
  wzp_relay_stop (relay);
  g_object_unref (relay);
  g_main_context_pop_thread_default (rt->context);
  return NULL;
}

/* The relay's timers run where the relay lives. Here its thread iterates only its own
 * context, and this thread iterates none while it waits: a TCP connection that never
 * starts its handshake must still be closed after handshake-timeout (1 s). Timers on the
 * global default context would never fire. */
static void
test_relay_on_own_context (void)
{
  RelayThread rt = { .context = g_main_context_new () };
  g_autoptr(GInetSocketAddress) address = NULL;
  struct timeval timeout = { .tv_sec = 10 };
  GThread *thread;
  char byte;
  ssize_t n;
  int fd;

  g_mutex_init (&rt.lock);
  g_cond_init (&rt.cond);
  thread = g_thread_new ("relay", relay_thread_main, &rt);
  g_mutex_lock (&rt.lock);
  while (rt.address == NULL)
    g_cond_wait (&rt.cond, &rt.lock);
  g_mutex_unlock (&rt.lock);

  address = _wzp_address_parse (rt.address, NULL);
  {
    struct sockaddr_storage native;

    g_assert_true (g_socket_address_to_native (G_SOCKET_ADDRESS (address), &native,
                                               sizeof native, NULL));
    fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_no_errno (connect (fd, (struct sockaddr *) &native, sizeof (struct sockaddr_in)));
  }
  g_assert_no_errno (setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout));

  /* Blocks this thread (no context iterated here) until the relay closes it. */
  n = recv (fd, &byte, 1, 0);
  g_assert_cmpint (n, ==, 0);
  close (fd);

  g_atomic_int_set (&rt.quit, 1);
  g_main_context_wakeup (rt.context);
  g_thread_join (thread);
  g_free (rt.address);
  g_main_context_unref (rt.context);
  g_cond_clear (&rt.cond);
  g_mutex_clear (&rt.lock);
}

/* Handshake limits: idle TCP connections from one address cannot starve real clients. */

static gboolean
all_awaiting_hello (gpointer data)
{
  Fixture *f = data;

  return f->relay->awaiting_hello.length >= 100;
}

/* 100 idle connections (no ClientHello) hold no TLS handshake slot: with only 4 slots and
 * deadlines of a minute, a real client registers while the relay still holds all 100. Were
 * idle connections to take slots, the client would wait a minute for one, far past the
 * test's deadline (tests/test-util.c). Nothing here is timed: the deadlines are set far
 * beyond what any machine needs, so only the behaviour decides. */
static void
test_idle_connections (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GInetSocketAddress) address = _wzp_address_parse (f->address, NULL);
  guint16 port = g_inet_socket_address_get_port (address);
  int fds[100];
  g_autoptr(WzpTestClient) client = NULL;
  g_autoptr(WzpMessage) ack = NULL;

  g_object_set (f->relay, "max-tls-handshakes", 4, "client-hello-timeout", 60,
                "handshake-timeout", 60, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    fds[i] = wzp_test_connect_from ("127.0.0.2", port);
  wzp_test_wait_until (all_awaiting_hello, f, 10000);

  client = wzp_test_client_connect (f->address, NULL, NULL);
  ack = wzp_test_client_register (client, "Real");
  g_assert_true (_wzp_message_get_bool (ack, "success"));
  g_assert_cmpuint (f->relay->awaiting_hello.length, ==, G_N_ELEMENTS (fds));

  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    close (fds[i]);
}

/* Keepalive: a client that answers the relay's Pings stays registered; one that does not
 * is told Error{idle} and closed after idle-timeout. */
static void
test_keepalive (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(WzpTestClient) awake = NULL;
  g_autoptr(WzpTestClient) silent = NULL;
  g_autoptr(WzpMessage) ping = NULL;

  g_object_set (f->relay, "keepalive-interval", 1, "idle-timeout", 3, NULL);
  awake = connect_registered (f, "Alice");
  silent = connect_registered (f, "Bob");
  silent->answer_pings = FALSE;

  ping = wzp_test_client_expect (silent, WZP_MESSAGE_PING);
  g_assert_cmpint (_wzp_message_get_int (ping, "timestamp_ms"), >, 0);
  wzp_test_client_expect_error (silent, WZP_ERROR_CODE_IDLE);
  wzp_test_client_wait_closed (silent);

  /* The awake client answered its Pings all along (the helper does) and is served. */
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 1);
  check_bystander (f, awake);
}

/* Replies that are large for their request: each RegisterPresenceAck lists the relay's
 * reflectors, here about 3 KB of them, for an 80-byte RegisterPresence. With no rate
 * limit to speak of, the fastest a client can make the relay write to it. */
static void
set_big_acks (Fixture *f)
{
  g_autoptr(GPtrArray) reflectors = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < 40; i++)
    g_ptr_array_add (reflectors, g_strdup_printf ("wzps://reflector-%02u.example.org:4433#%s",
                                                  i, wzp_relay_get_fingerprint (f->relay)));
  g_ptr_array_add (reflectors, NULL);
  g_object_set (f->relay, "reflectors", reflectors->pdata, "max-messages-per-second", 100000,
                NULL);
}

/* The relay's write queue of each connection, at most @max bytes, or one frame (an ack
 * here is about 3 KB) that was taken when nothing waited. */
static void
assert_queues_bounded (Fixture *f,
                       gsize    max)
{
  GHashTableIter iter;
  RelayConn *conn;

  g_hash_table_iter_init (&iter, f->relay->conns);
  while (g_hash_table_iter_next (&iter, (gpointer *) &conn, NULL))
    if (conn->session != NULL)
      g_assert_cmpuint (_wzp_relay_session_get_queued (conn->session), <=, MAX (max, 8192));
}

/* A client that asks and never reads the answers is closed once its answers pass
 * max-queued-bytes: it cannot grow the relay. */
static void
test_not_reading (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(WzpTestClient) bystander = NULL;
  g_autoptr(WzpTestClient) deaf = NULL;
  g_autoptr(WzpMessage) presence = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);
  gint64 start, deadline;
  guint sent = 0;

  set_big_acks (f);
  g_object_set (f->relay, "max-queued-bytes", 16384, NULL);
  bystander = connect_registered (f, "Bystander");
  deaf = connect_registered (f, "Deaf");
  wzp_test_client_stop_reading (deaf);
  _wzp_message_set_string (presence, "client_version", "test");

  start = g_get_monotonic_time ();
  deadline = start + 20 * G_USEC_PER_SEC;
  while (wzp_relay_get_n_registrations (f->relay) == 2)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      for (guint i = 0; i < 50; i++, sent++)
        wzp_test_client_send (deaf, presence);
      wzp_test_spin (10);
      assert_queues_bounded (f, 16384);
    }
  g_test_message ("closed after %u registrations (%.1f s)", sent,
                  (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);

  /* Closed and forgotten: only the bystander is left, and it is served. */
  g_assert_cmpuint (g_hash_table_size (f->relay->conns), ==, 1);
  check_bystander (f, bystander);
}

/* A client that keeps sending but never reads, with the relay's writes to it stuck (its
 * TCP window shut) but below max-queued-bytes: closed once a frame has waited
 * idle-timeout to be written, though it is never idle. */
static void
test_write_stall (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(WzpTestClient) bystander = NULL;
  g_autoptr(WzpTestClient) deaf = NULL;
  g_autoptr(WzpMessage) presence = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);
  g_autoptr(WzpMessage) reflect = _wzp_message_new (WZP_MESSAGE_REFLECT);
  RelayConn *conn;
  gint64 stalled, deadline;
  guint asked = 0;

  set_big_acks (f);
  g_object_set (f->relay, "keepalive-interval", 1, "idle-timeout", 2,
                "max-queued-bytes", 16 * 1024 * 1024, NULL);
  bystander = connect_registered (f, "Bystander");
  deaf = connect_registered (f, "Deaf");
  wzp_test_client_stop_reading (deaf);
  _wzp_message_set_string (presence, "client_version", "test");
  conn = _wzp_relay_lookup_conn (f->relay, wzp_test_client_fingerprint (deaf));

  /* Until the kernel's buffers are full and a frame waits in the relay. */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (_wzp_relay_session_get_queued (conn->session) == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      for (guint i = 0; i < 50; i++)
        wzp_test_client_send (deaf, presence);
      wzp_test_spin (10);
    }
  stalled = g_get_monotonic_time ();

  /* Busy, never idle: a Reflect every 200 ms. So is the bystander, which is served
   * all along. */
  deadline = stalled + 10 * G_USEC_PER_SEC;
  while (_wzp_relay_lookup_conn (f->relay, wzp_test_client_fingerprint (deaf)) != NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      wzp_test_client_send (deaf, reflect);
      wzp_test_client_send (bystander, reflect);
      asked++;
      wzp_test_spin (200);
    }
  g_test_message ("closed %.1f s after its writes stalled",
                  (g_get_monotonic_time () - stalled) / (double) G_USEC_PER_SEC);
  /* Not before idle-timeout (the check may come up to a keepalive interval late, never
   * early). */
  g_assert_cmpint (g_get_monotonic_time () - stalled, >=, G_USEC_PER_SEC);
  g_assert_cmpuint (g_hash_table_size (f->relay->conns), ==, 1);
  for (guint i = 0; i < asked; i++)
    {
      g_autoptr(WzpMessage) response = wzp_test_client_expect (bystander,
                                                               WZP_MESSAGE_REFLECT_RESPONSE);
    }
}

/* Two answers in a row reach the client at once: the relay's signalling sockets send
 * small messages without waiting for the previous one's ACK (TCP_NODELAY). Without it a
 * CallSetup that followed another message waited for the client's delayed ACK, 40 ms on
 * Linux, in the scale benchmark's call set-up. */
static void
test_no_delay (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(WzpTestClient) client = connect_registered (f, "Quick");
  RelayConn *conn = _wzp_relay_lookup_conn (f->relay, wzp_test_client_fingerprint (client));
  int nodelay = 0;
  socklen_t len = sizeof nodelay;

  g_assert_nonnull (conn);
  g_assert_no_errno (getsockopt (conn->fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len));
  g_assert_cmpint (nodelay, !=, 0);
}

/* Setting a string-array property to the value it has notifies nothing. */
static void
test_notify_on_change (void)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  WzpRelay *relay = wzp_relay_new (identity);
  const char * const fingerprints[] = { wzp_identity_get_fingerprint (identity), NULL };
  const char * const reflectors[] = { "wzps://192.0.2.1:4433", NULL };

  wzp_test_check_strv_notify (relay, "allowed-fingerprints", fingerprints);
  wzp_test_check_strv_notify (relay, "reflectors", reflectors);
  wzp_test_finalize_object (relay);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  ADD ("register", test_register);
  ADD ("reflect", test_reflect);
  ADD ("wrong-relay-pin", test_wrong_relay_pin);
  ADD ("reregistration-replaces", test_reregistration_replaces);
  ADD ("idle-connections", test_idle_connections);
  g_test_add_func ("/wzp/relay/own-context", test_relay_on_own_context);
  g_test_add_func ("/wzp/relay/notify-on-change", test_notify_on_change);
  ADD ("keepalive", test_keepalive);
  ADD ("not-reading", test_not_reading);
  ADD ("write-stall", test_write_stall);
  ADD ("no-delay", test_no_delay);

  return g_test_run ();
}
