/* test-relay-counters.c: what an operator watches (docs/relay.md, "Counters")
 *
 * wzp_relay_dup_counters() against real events on loopback: a connection awaiting its
 * ClientHello, refusals by the limit that refused, registered clients idle and in calls,
 * a client closed at max-queued-bytes, and the log line that sums it up.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "relay-fixture.h"
#include "wzp-relay-private.h"

#define WAIT_MS 5000

static guint64
counter (WzpRelay   *relay,
         const char *key)
{
  g_autoptr(GVariant) counters = wzp_relay_dup_counters (relay);
  guint64 value;

  g_assert_true (g_variant_is_of_type (counters, G_VARIANT_TYPE ("a{st}")));
  if (!g_variant_lookup (counters, key, "t", &value))
    g_error ("The counters have no “%s”", key);
  return value;
}

typedef struct
{
  WzpRelay   *relay;
  const char *key;
  guint64     value;
} CounterWait;

static gboolean
counter_reached (gpointer data)
{
  CounterWait *wait = data;

  return counter (wait->relay, wait->key) == wait->value;
}

/* Runs the main context until @key is @value; fails the test after WAIT_MS. */
static void
wait_counter (Fixture    *f,
              const char *key,
              guint64     value)
{
  CounterWait wait = { f->relay, key, value };

  wzp_test_wait_until (counter_reached, &wait, WAIT_MS);
}

static guint16
relay_port (Fixture *f)
{
  guint16 port;

  g_assert_true (_wzp_address_parse_parts (f->address, NULL, &port));
  return port;
}

/* A relay that nobody used: every stage empty, every reason the relay knows at 0, the
 * stages adding up to the connections. */
static void
test_fresh (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GVariant) counters = wzp_relay_dup_counters (f->relay);
  const char * const keys[] = {
    "connections", "connections-awaiting-hello", "connections-queued",
    "connections-handshaking", "connections-unregistered", "connections-registered",
    "handshakes-in-flight", "idle-clients", "calls", "pipes", "pipes-forwarding", "peers",
    "peer-links-up", "bridges", "accepted", "refused", "queue-caps-hit",
    "refused.max-handshakes-per-ip", "refused.max-pending-handshakes",
    "refused.client-hello-timeout", "refused.handshake-timeout",
    "refused.max-unregistered-per-ip", "refused.max-registrations",
    "refused.max-queued-bytes", "refused.idle-timeout", "refused.min-free-fds",
    "refused.max-messages-per-second", "refused.federation-queued-bytes",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      guint64 value = G_MAXUINT64;

      if (!g_variant_lookup (counters, keys[i], "t", &value))
        g_error ("The counters have no “%s”", keys[i]);
      g_assert_cmpuint (value, ==, 0);
    }
}

/* A TCP connection that sent nothing is in the first stage, a handshake in flight. */
static void
test_awaiting_hello (Fixture       *f,
                     gconstpointer  data)
{
  int fd;

  g_object_set (f->relay, "client-hello-timeout", 60, "handshake-timeout", 60, NULL);
  fd = wzp_test_connect_from ("127.0.0.1", relay_port (f));
  wait_counter (f, "connections-awaiting-hello", 1);
  g_assert_cmpuint (counter (f->relay, "connections"), ==, 1);
  g_assert_cmpuint (counter (f->relay, "handshakes-in-flight"), ==, 1);
  g_assert_cmpuint (counter (f->relay, "connections-registered"), ==, 0);
  g_assert_cmpuint (counter (f->relay, "accepted"), ==, 1);

  close (fd);
  wait_counter (f, "connections", 0);
  g_assert_cmpuint (counter (f->relay, "handshakes-in-flight"), ==, 0);
  /* The client went away by itself: nothing was refused. */
  g_assert_cmpuint (counter (f->relay, "refused"), ==, 0);
}

/* max-handshakes-per-ip: the third silent connection from one address makes the relay
 * close the oldest; that counts under the limit's name, and under no other. */
static void
test_refused_per_ip (Fixture       *f,
                     gconstpointer  data)
{
  int fds[3];

  g_object_set (f->relay, "client-hello-timeout", 60, "handshake-timeout", 60,
                "max-handshakes-per-ip", 2, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    {
      fds[i] = wzp_test_connect_from ("127.0.0.2", relay_port (f));
      wait_counter (f, "accepted", i + 1);
    }
  wait_counter (f, "refused.max-handshakes-per-ip", 1);
  g_assert_cmpuint (counter (f->relay, "connections-awaiting-hello"), ==, 2);
  g_assert_cmpuint (counter (f->relay, "refused"), ==, 1);
  g_assert_cmpuint (counter (f->relay, "refused.max-pending-handshakes"), ==, 0);

  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    close (fds[i]);
}

/* client-hello-timeout: a silent connection closed at its deadline is counted there. */
static void
test_hello_timeout (Fixture       *f,
                    gconstpointer  data)
{
  int fd = wzp_test_connect_from ("127.0.0.1", relay_port (f));

  wait_counter (f, "refused.client-hello-timeout", 1);
  g_assert_cmpuint (counter (f->relay, "connections"), ==, 0);
  g_assert_cmpuint (counter (f->relay, "refused.handshake-timeout"), ==, 0);
  close (fd);
}

/* A registered client is idle until it is a party of a call, offered, ringing or set up,
 * and idle again once the call is over. */
static void
test_idle_clients (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(WzpTestClient) alice = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) bob = connect_registered (f, "Bob");
  g_autoptr(WzpTestClient) carol = connect_registered (f, "Carol");
  g_autoptr(WzpMessage) hangup = NULL;
  g_autoptr(WzpMessage) got = NULL;
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *offered = NULL;
  g_autofree char *set_up = NULL;

  g_assert_cmpuint (counter (f->relay, "connections-registered"), ==, 3);
  g_assert_cmpuint (counter (f->relay, "connections"), ==, 3);
  g_assert_cmpuint (counter (f->relay, "idle-clients"), ==, 3);

  /* Ringing: both the caller and the callee are busy with it. */
  offered = wzp_test_offer_call (alice, bob);
  g_assert_cmpuint (counter (f->relay, "idle-clients"), ==, 1);
  g_assert_cmpuint (counter (f->relay, "calls"), ==, 1);

  hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, offered);
  _wzp_message_set_string (hangup, "reason", "Normal");
  wzp_test_client_send (alice, hangup);
  got = wzp_test_client_expect (bob, WZP_MESSAGE_HANGUP);
  g_assert_cmpuint (counter (f->relay, "idle-clients"), ==, 3);

  /* Set up: still not idle. */
  set_up = wzp_test_set_up_call (carol, alice, "AcceptTrusted", &setup_a, &setup_b);
  g_assert_cmpuint (counter (f->relay, "idle-clients"), ==, 1);
  g_assert_cmpuint (counter (f->relay, "connections-registered"), ==, 3);
}

/* A client that asks and never reads is closed at max-queued-bytes: a queue cap hit. */
static void
test_queue_cap (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(WzpTestClient) deaf = NULL;
  g_autoptr(WzpMessage) presence = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);
  g_autoptr(GPtrArray) reflectors = g_ptr_array_new_with_free_func (g_free);
  gint64 deadline;
  guint sent = 0;

  /* Big answers (3 KB of reflectors) to small requests, and no rate limit to speak of. */
  for (guint i = 0; i < 40; i++)
    g_ptr_array_add (reflectors, g_strdup_printf ("wzps://reflector-%02u.example.org:4433#%s",
                                                  i, wzp_relay_get_fingerprint (f->relay)));
  g_ptr_array_add (reflectors, NULL);
  g_object_set (f->relay, "reflectors", reflectors->pdata, "max-messages-per-second", 100000,
                "max-queued-bytes", 16384, NULL);
  deaf = connect_registered (f, "Deaf");
  wzp_test_client_stop_reading (deaf);
  _wzp_message_set_string (presence, "client_version", "test");

  /* About a second natively; some 20,000 requests and more than 20 s under valgrind. */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (counter (f->relay, "connections") > 0)
    {
      if (g_get_monotonic_time () >= deadline)
        g_error ("not closed after %u registrations", sent);
      for (guint i = 0; i < 50; i++, sent++)
        wzp_test_client_send (deaf, presence);
      wzp_test_spin (10);
    }
  g_assert_cmpuint (counter (f->relay, "refused.max-queued-bytes"), ==, 1);
  g_assert_cmpuint (counter (f->relay, "queue-caps-hit"), ==, 1);
  g_assert_cmpuint (counter (f->relay, "refused"), ==, 1);
}

/* The lines with WZP_COUNTERS captured so far. */
static GPtrArray *
counter_lines (void)
{
  g_autoptr(GPtrArray) lines = wzp_test_log_captured ();
  GPtrArray *found = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);

  for (guint i = 0; i < lines->len; i++)
    if (g_hash_table_contains (g_ptr_array_index (lines, i), "WZP_COUNTERS"))
      g_ptr_array_add (found, g_hash_table_ref (g_ptr_array_index (lines, i)));
  return found;
}

static gboolean
has_counter_lines (gpointer data)
{
  g_autoptr(GPtrArray) lines = counter_lines ();

  return lines->len >= GPOINTER_TO_UINT (data);
}

static void
assert_contains (GHashTable *line,
                 const char *field,
                 const char *text)
{
  const char *value = g_hash_table_lookup (line, field);

  if (value == NULL || strstr (value, text) == NULL)
    g_error ("%s “%s” does not contain “%s”", field, value ? value : "(none)", text);
}

/* The periodic line (every 100 ms here, a minute by default): none while nothing
 * changes, one when something did, saying what the relay holds and what it refused since
 * the line before; and one more as the relay stops. */
static void
test_log_line (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(WzpTestClient) alice = NULL;
  g_autoptr(WzpTestClient) bob = NULL;
  g_autoptr(WzpMessage) presence = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);
  g_autoptr(GPtrArray) lines = NULL;
  GHashTable *line;

  g_object_set (f->relay, "max-registrations", 1, NULL);
  wzp_test_log_capture_start ();
  _wzp_relay_counters_set_log_interval (f->relay, 100);

  /* A quiet relay writes nothing. */
  wzp_test_spin (350);
  lines = counter_lines ();
  g_assert_cmpuint (lines->len, ==, 0);
  g_clear_pointer (&lines, g_ptr_array_unref);

  /* No line while Alice connects (a slow machine would catch her mid-handshake), then
   * the next one says what changed. */
  _wzp_relay_counters_set_log_interval (f->relay, 60 * 1000);
  alice = connect_registered (f, "Alice");
  _wzp_relay_counters_set_log_interval (f->relay, 100);
  wzp_test_wait_until (has_counter_lines, GUINT_TO_POINTER (1), WAIT_MS);
  lines = counter_lines ();
  line = g_ptr_array_index (lines, 0);
  assert_contains (line, "MESSAGE", "Counters: 1 connections (0 awaiting their ClientHello, "
                                    "0 queued, 0 in their TLS handshake, 0 unregistered, 1 "
                                    "registered of which 1 idle)");
  assert_contains (line, "MESSAGE", "since the last line: 1 connections accepted, 0 refusals");
  assert_contains (line, "WZP_COUNTERS", "connections-registered=1 ");
  assert_contains (line, "WZP_COUNTERS", "idle-clients=1 ");
  assert_contains (line, "WZP_COUNTERS", "refused.max-registrations=0");
  g_assert_cmpstr (g_hash_table_lookup (line, "PRIORITY"), ==, "6");
  g_clear_pointer (&lines, g_ptr_array_unref);

  /* The relay is full (max-registrations 1): Bob is refused. */
  _wzp_relay_counters_set_log_interval (f->relay, 60 * 1000);
  bob = wzp_test_client_connect (f->address, NULL, wzp_relay_get_fingerprint (f->relay));
  _wzp_message_set_string (presence, "alias", "Bob");
  _wzp_message_set_string (presence, "client_version", "test");
  wzp_test_client_send (bob, presence);
  wzp_test_client_expect_error (bob, "limit_reached");
  _wzp_relay_counters_set_log_interval (f->relay, 100);
  wzp_test_wait_until (has_counter_lines, GUINT_TO_POINTER (2), WAIT_MS);
  lines = counter_lines ();
  line = g_ptr_array_index (lines, 1);
  assert_contains (line, "MESSAGE", "1 unregistered, 1 registered of which 1 idle");
  assert_contains (line, "MESSAGE", "since the last line: 1 connections accepted, 1 refusals "
                                    "(max-registrations 1)");
  assert_contains (line, "WZP_COUNTERS", "refused.max-registrations=1");
  g_clear_pointer (&lines, g_ptr_array_unref);

  /* Nothing new: no line. */
  wzp_test_spin (350);
  lines = counter_lines ();
  g_assert_cmpuint (lines->len, ==, 2);
  g_clear_pointer (&lines, g_ptr_array_unref);

  /* Stopping: the totals since the start. */
  wzp_relay_stop (f->relay);
  lines = counter_lines ();
  g_assert_cmpuint (lines->len, ==, 3);
  line = g_ptr_array_index (lines, 2);
  assert_contains (line, "MESSAGE", "Stopping; the relay holds: 2 connections");
  assert_contains (line, "MESSAGE", "since it was made: 2 connections accepted, 1 refusals "
                                    "(max-registrations 1)");
  g_clear_pointer (&lines, g_ptr_array_unref);
  wzp_test_log_capture_stop ();
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  ADD ("counters/fresh", test_fresh);
  ADD ("counters/awaiting-hello", test_awaiting_hello);
  ADD ("counters/refused-per-ip", test_refused_per_ip);
  ADD ("counters/hello-timeout", test_hello_timeout);
  ADD ("counters/idle-clients", test_idle_clients);
  ADD ("counters/queue-cap", test_queue_cap);
  ADD ("counters/log-line", test_log_line);

  return g_test_run ();
}
