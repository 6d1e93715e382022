/* test-relay-accept.c: idle and stalled connections cannot lock real clients out
 *
 * The attacks of a security review, on loopback: idle TCP connections from a few
 * addresses, handshakes that stop after their ClientHello, and established connections
 * that never register (docs/relay.md, "Connections and their limits").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "test-util.h"
#include "wzp-relay-private.h"
#include "wzp-tls-private.h"

typedef struct
{
  WzpRelay *relay;
  char     *address;
  guint16   port;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) listen = NULL;

  f->relay = wzp_relay_new (identity);
  wzp_relay_listen (f->relay, "127.0.0.1:0", NULL, &error);
  g_assert_no_error (error);
  listen = wzp_relay_dup_listen_addresses (f->relay);
  f->address = g_strdup (listen[0]);
  g_assert_true (_wzp_address_parse_parts (f->address, NULL, &f->port));
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  wzp_relay_stop (f->relay);
  wzp_test_finalize_object (f->relay);
  g_free (f->address);
}

/* Whether the relay closed @fd (EOF or reset) within @ms; the main context runs. */
static gboolean
closed_within (int   fd,
               guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      char buf[4096];
      ssize_t n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);

      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return TRUE;
      if (n < 0)
        wzp_test_spin (20);
    }
  return FALSE;
}

/* Whether @fd is open at the relay's end (nothing to read, no EOF, no reset). */
static gboolean
still_open (int fd)
{
  char byte;

  return recv (fd, &byte, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/* Connects from @source_ip and registers; fails the test if that does not succeed within
 * the helpers' deadline (tests/test-util.c). */
static void
register_from (Fixture     *f,
               const char  *source_ip,
               WzpIdentity *identity)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpTestClient) client = NULL;
  g_autoptr(WzpMessage) ack = NULL;

  client = wzp_test_client_try_connect_from (f->address, source_ip, identity,
                                             wzp_relay_get_fingerprint (f->relay), &error);
  g_assert_no_error (error);
  ack = wzp_test_client_register (client, "Real");
  g_assert_true (_wzp_message_get_bool (ack, "success"));
}

typedef struct
{
  WzpRelay   *relay;
  const char *source;
  guint       n;
} AwaitingWait;

static gboolean
awaiting_from (gpointer data)
{
  AwaitingWait *wait = data;
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (wait->source);
  IpCounters *ip = _wzp_relay_ip_counters (wait->relay, address);
  gboolean done = ip->awaiting_hello.length >= wait->n;

  _wzp_relay_ip_counters_gc (wait->relay, ip);
  return done;
}

/* Until @n connections from @source await their ClientHello at the relay. */
static void
wait_awaiting (Fixture    *f,
               const char *source,
               guint       n)
{
  AwaitingWait wait = { f->relay, source, n };

  wzp_test_wait_until (awaiting_from, &wait, 10000);
}

/* 400 idle TCP connections from four addresses (the review locked the relay with 32),
 * and 300 more from the client's own address, more than max-handshakes-per-ip (128): a
 * real client from that address still registers, because the oldest silent connection
 * makes room for a new one. The idle connections' deadline is a minute here, so none of
 * them has gone by itself when the client comes: without that room made, the client is
 * refused at accept (and would be for a minute). Nothing is timed (that idle connections
 * are closed at client-hello-timeout is test-relay-counters' hello-timeout). */
static void
test_idle_flood (Fixture       *f,
                 gconstpointer  data)
{
  static const char *attackers[] = { "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5" };
  GArray *fds = g_array_new (FALSE, FALSE, sizeof (int));

  g_object_set (f->relay, "client-hello-timeout", 60, "handshake-timeout", 60, NULL);
  for (guint a = 0; a < G_N_ELEMENTS (attackers); a++)
    for (guint i = 0; i < 100; i++)
      {
        int fd = wzp_test_connect_from (attackers[a], f->port);
        g_array_append_val (fds, fd);
      }
  for (guint i = 0; i < 300; i++)
    {
      int fd = wzp_test_connect_from ("127.0.0.1", f->port);
      g_array_append_val (fds, fd);
    }
  /* The relay accepts them all, and holds what the cap allows. */
  for (guint a = 0; a < G_N_ELEMENTS (attackers); a++)
    wait_awaiting (f, attackers[a], 100);
  wait_awaiting (f, "127.0.0.1", f->relay->max_handshakes_per_ip);
  wzp_test_spin (100);
  g_assert_cmpuint (f->relay->awaiting_hello.length, ==, 400 + f->relay->max_handshakes_per_ip);

  register_from (f, "127.0.0.1", NULL);

  /* The room came from the client's own address: one of its idle connections (the
   * oldest) made way; the other addresses' connections are all still there. */
  g_assert_cmpuint (f->relay->awaiting_hello.length, ==,
                    400 + f->relay->max_handshakes_per_ip - 1);
  for (guint i = 0; i < 400; i++)
    g_assert_true (still_open (g_array_index (fds, int, i)));

  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
  g_array_unref (fds);
}

/* Bytes that are not a TLS ClientHello are closed at once, not after a deadline. */
static void
test_not_tls (Fixture       *f,
              gconstpointer  data)
{
  static const char request[] = "GET / HTTP/1.1\r\nHost: relay\r\n\r\n";
  int fd = wzp_test_connect_from ("127.0.0.2", f->port);

  g_assert_cmpint (send (fd, request, strlen (request), MSG_NOSIGNAL), ==, strlen (request));
  g_assert_true (closed_within (fd, 500));
  close (fd);
}

/* Connections that send a real ClientHello and then nothing hold a TLS handshake until
 * handshake-timeout: @n_attackers of them from four addresses. */
static int *
stall_handshakes (Fixture *f,
                  guint    n)
{
  static const char *attackers[] = { "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5" };
  g_autoptr(GBytes) hello = wzp_test_capture_client_hello ();
  gsize hello_len;
  const guint8 *hello_data = g_bytes_get_data (hello, &hello_len);
  int *fds = g_new (int, n);

  for (guint i = 0; i < n; i++)
    {
      fds[i] = wzp_test_connect_from (attackers[i % G_N_ELEMENTS (attackers)], f->port);
      g_assert_cmpint (send (fds[i], hello_data, hello_len, MSG_NOSIGNAL), ==, hello_len);
    }
  return fds;
}

typedef struct
{
  WzpRelay *relay;
  guint     n;
} HandshakesWait;

static gboolean
handshakes_started (gpointer data)
{
  HandshakesWait *wait = data;

  return wait->relay->tls_handshakes >= wait->n;
}

/* Until the relay has started @n handshakes (a slow machine, valgrind, takes its time). */
static void
wait_handshakes (Fixture *f,
                 guint    n)
{
  HandshakesWait wait = { f->relay, n };

  wzp_test_wait_until (handshakes_started, &wait, 10000);
  wzp_test_spin (100);   /* and no more than those start */
}

/* 80 stalled handshakes, more than max-tls-handshakes (64 here, its default until the
 * relay drove TLS itself): a client from an address that completed a handshake before
 * still registers, from the slots reserved for such addresses, while all the stalled
 * handshakes the relay let in still hold theirs. */
static void
test_stalled_handshakes (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  g_autofree int *fds = NULL;

  /* A stalled handshake holds its slot for a minute, so a client queued behind them would
   * not register within the test's deadline. */
  g_object_set (f->relay, "max-tls-handshakes", 64, "handshake-timeout", 60, NULL);
  /* The user's address is known to the relay: the user was here before. */
  register_from (f, "127.0.0.1", identity);
  wzp_test_spin (100);

  fds = stall_handshakes (f, 80);
  wait_handshakes (f, f->relay->max_tls_handshakes * 3 / 4);
  g_assert_cmpuint (f->relay->tls_handshakes, ==, f->relay->max_tls_handshakes * 3 / 4);

  register_from (f, "127.0.0.1", identity);
  /* Registered beside the stalled handshakes, not after them. */
  g_assert_cmpuint (f->relay->tls_handshakes, ==, f->relay->max_tls_handshakes * 3 / 4);

  for (guint i = 0; i < 80; i++)
    close (fds[i]);
}

/* At the default limits, 400 stalled handshakes from four addresses (their per-address
 * cap is 128) all run at once, each costing memory and no thread, and a client from an
 * address the relay never saw registers beside them: nobody waits behind stalled
 * strangers. They would hold their slots for a minute (handshake-timeout here), so a
 * client queued behind them would not register within the test's deadline. */
static void
test_stalled_handshakes_new_address (Fixture       *f,
                                     gconstpointer  data)
{
  g_autofree int *fds = NULL;

  g_object_set (f->relay, "handshake-timeout", 60, NULL);
  fds = stall_handshakes (f, 400);
  wait_handshakes (f, 400);
  g_assert_cmpuint (f->relay->tls_handshakes, ==, 400);
  register_from (f, "127.0.0.9", NULL);
  g_assert_cmpuint (f->relay->tls_handshakes, ==, 400);

  for (guint i = 0; i < 400; i++)
    close (fds[i]);
}

/* A ClientHello trickled a byte at a time does not hold its place: it is closed once
 * client-hello-timeout passes without the whole record. */
static void
test_trickled_hello (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GBytes) hello = wzp_test_capture_client_hello ();
  const guint8 *bytes = g_bytes_get_data (hello, NULL);
  int fd = wzp_test_connect_from ("127.0.0.2", f->port);
  gint64 start = g_get_monotonic_time ();
  gboolean closed = FALSE;

  for (guint i = 0; i < g_bytes_get_size (hello) - 1 && !closed; i++)
    {
      send (fd, bytes + i, 1, MSG_NOSIGNAL);
      closed = closed_within (fd, 100);
    }
  g_assert_true (closed || closed_within (fd, 2000));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  close (fd);
}

/* Established connections that never register are capped per address: one address
 * cannot hold the relay's descriptors, and another still registers. Registered
 * connections do not count. */
static void
test_unregistered_cap (Fixture       *f,
                       gconstpointer  data)
{
  GPtrArray *clients = g_ptr_array_new_with_free_func ((GDestroyNotify) wzp_test_client_free);
  g_autoptr(GPtrArray) kept = g_ptr_array_new ();
  guint refused = 0;

  g_object_set (f->relay, "max-unregistered-per-ip", 4, NULL);
  for (guint i = 0; i < 12; i++)
    {
      g_autoptr(GError) error = NULL;
      WzpTestClient *client = wzp_test_client_try_connect_from (f->address, "127.0.0.2", NULL,
                                                                NULL, &error);

      g_assert_no_error (error);
      g_ptr_array_add (clients, client);
    }
  wzp_test_spin (500);   /* the refusals arrive */
  for (guint i = 0; i < clients->len; i++)
    {
      WzpTestClient *client = g_ptr_array_index (clients, i);

      if (wzp_test_client_quiet (client, 20))
        g_ptr_array_add (kept, client);
      else
        {
          wzp_test_client_expect_error (client, WZP_ERROR_CODE_LIMIT_REACHED);
          wzp_test_client_wait_closed (client);
          refused++;
        }
    }
  g_assert_cmpuint (refused, ==, 8);

  /* Registering frees the place: two more may connect. */
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(WzpMessage) ack = wzp_test_client_register (g_ptr_array_index (kept, i),
                                                            "Registered");
      g_assert_true (_wzp_message_get_bool (ack, "success"));
    }
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(WzpTestClient) client =
        wzp_test_client_try_connect_from (f->address, "127.0.0.2", NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_true (wzp_test_client_quiet (client, 200));
      g_ptr_array_add (clients, g_steal_pointer (&client));
    }

  register_from (f, "127.0.0.1", NULL);
  g_ptr_array_unref (clients);
}

/* What the relay sent on @fd until it closed it, within @ms (the main context runs):
 * NULL if it did not close it by then. *@reset tells a reset from an orderly close: a
 * reset that follows the FIN is not seen by recv() (the end of the stream comes first),
 * so the connection's state tells it, a moment later: CLOSE_WAIT after a FIN alone,
 * CLOSE after a reset. */
static GBytes *
read_until_closed (int       fd,
                   guint     ms,
                   gboolean *reset)
{
  g_autoptr(GByteArray) got = g_byte_array_new ();
  gint64 end = g_get_monotonic_time () + ms * 1000;

  *reset = FALSE;
  while (g_get_monotonic_time () < end)
    {
      guint8 buf[256];
      ssize_t n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);

      if (n > 0)
        g_byte_array_append (got, buf, n);
      else if (n == 0 || (errno != EAGAIN && errno != EINTR))
        {
          struct tcp_info info = { 0 };
          socklen_t len = sizeof info;

          wzp_test_spin (100);
          g_assert_no_errno (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &len));
          *reset = n < 0 || info.tcpi_state != TCP_CLOSE_WAIT;
          return g_byte_array_free_to_bytes (g_steal_pointer (&got));
        }
      else
        wzp_test_spin (10);
    }
  return NULL;
}

/* Refused at accept, before TLS, the relay says why in the one way a client's TLS can
 * read (docs/protocol.md, "Turned away before TLS"): exactly one plaintext fatal alert
 * record, internal_error (80) at a cap of the whole relay, access_denied (49) at a cap of
 * the address, and then an orderly close (the ClientHello that came first was read, so
 * no reset can make the client's TCP drop the alert). The connection that holds the cap
 * has sent a ClientHello: a silent one would have given way. @data: the cap per address
 * rather than the relay's. */
static void
test_refusal_alert (Fixture       *f,
                    gconstpointer  data)
{
  gboolean per_ip = GPOINTER_TO_INT (data);
  const guint8 expected[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, per_ip ? 49 : 80 };
  g_autoptr(GBytes) hello = wzp_test_capture_client_hello ();
  g_autoptr(GSocketConnection) holder = NULL;
  g_autoptr(GBytes) got = NULL;
  gboolean reset;
  int fd;

  g_object_set (f->relay, per_ip ? "max-handshakes-per-ip" : "max-pending-handshakes", 1, NULL);
  holder = wzp_test_stalled_handshake_from (f->address, "127.0.0.2");
  wzp_test_spin (200);
  g_assert_cmpuint (f->relay->tls_handshakes, ==, 1);

  /* From the holder's address for its cap, from another for the relay's. */
  fd = wzp_test_connect_from (per_ip ? "127.0.0.2" : "127.0.0.3", f->port);
  g_assert_cmpint (send (fd, g_bytes_get_data (hello, NULL), g_bytes_get_size (hello),
                         MSG_NOSIGNAL), ==, g_bytes_get_size (hello));
  got = read_until_closed (fd, 2000, &reset);
  g_assert_nonnull (got);
  g_assert_false (reset);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got),
                   expected, sizeof expected);
  close (fd);

  /* The holder was not disturbed, and the refused connection left no count behind. */
  g_assert_cmpuint (f->relay->pending_handshakes, ==, 1);
  g_assert_cmpuint (f->relay->tls_handshakes, ==, 1);

  /* A connection the caps let in gets no such bytes: the relay's ServerHello. */
  g_io_stream_close (G_IO_STREAM (holder), NULL, NULL);
  wzp_test_spin (200);
  fd = wzp_test_connect_from ("127.0.0.3", f->port);
  g_assert_cmpint (send (fd, g_bytes_get_data (hello, NULL), g_bytes_get_size (hello),
                         MSG_NOSIGNAL), ==, g_bytes_get_size (hello));
  {
    guint8 first[5];
    gsize have = 0;
    gint64 end = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

    while (have < sizeof first && g_get_monotonic_time () < end)
      {
        ssize_t n = recv (fd, first + have, sizeof first - have, MSG_DONTWAIT);

        if (n > 0)
          have += n;
        else
          wzp_test_spin (10);
      }
    g_assert_cmpuint (have, ==, sizeof first);
    g_assert_cmphex (first[0], ==, 0x16);   /* a handshake record */
  }
  close (fd);
}

/* Short of descriptors, the relay pauses accepting and says "busy" to the connection it
 * could not take (min-free-fds at its largest: every descriptor is too high a number). */
static void
test_refusal_alert_fds (Fixture       *f,
                        gconstpointer  data)
{
  const guint8 expected[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 80 };
  g_autoptr(GBytes) got = NULL;
  struct rlimit saved, low;
  gboolean reset;
  int fd;

  /* The soft limit under min-free-fds' largest value, for this test only. */
  g_assert_no_errno (getrlimit (RLIMIT_NOFILE, &saved));
  low = saved;
  low.rlim_cur = MIN (saved.rlim_cur, 4096);
  g_assert_no_errno (setrlimit (RLIMIT_NOFILE, &low));
  g_object_set (f->relay, "min-free-fds", 100000, NULL);

  fd = wzp_test_connect_from ("127.0.0.2", f->port);
  got = read_until_closed (fd, 2000, &reset);
  g_assert_no_errno (setrlimit (RLIMIT_NOFILE, &saved));
  g_assert_nonnull (got);
  g_assert_false (reset);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got),
                   expected, sizeof expected);
  close (fd);
}

/* A ClientHello that waits for a handshake slot until handshake-timeout is turned away
 * with the alert too: it never got a slot, so the relay was too busy for it. */
static void
test_refusal_alert_queued (Fixture       *f,
                           gconstpointer  data)
{
  const guint8 expected[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 80 };
  g_autoptr(GBytes) hello = wzp_test_capture_client_hello ();
  GSocketConnection *holders[3] = { NULL };
  static const char *holder_ips[] = { "127.0.0.2", "127.0.0.3", "127.0.0.4" };
  g_autoptr(GBytes) got = NULL;
  gboolean reset;
  int fd;

  /* Four slots: one per address, one kept for returning addresses; three strangers
   * hold the other three. */
  g_object_set (f->relay, "max-tls-handshakes", 4, "handshake-timeout", 10, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (holders); i++)
    holders[i] = wzp_test_stalled_handshake_from (f->address, holder_ips[i]);
  wzp_test_spin (200);
  g_assert_cmpuint (f->relay->tls_handshakes, ==, 3);
  /* The deadline is set at accept: the holders keep theirs, the next connection has 1 s. */
  g_object_set (f->relay, "handshake-timeout", 1, NULL);

  fd = wzp_test_connect_from ("127.0.0.5", f->port);
  g_assert_cmpint (send (fd, g_bytes_get_data (hello, NULL), g_bytes_get_size (hello),
                         MSG_NOSIGNAL), ==, g_bytes_get_size (hello));
  wzp_test_spin (200);
  g_assert_cmpuint (f->relay->tls_queue.length, ==, 1);
  got = read_until_closed (fd, 3000, &reset);
  g_assert_nonnull (got);
  g_assert_false (reset);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got),
                   expected, sizeof expected);
  close (fd);
  for (guint i = 0; i < G_N_ELEMENTS (holders); i++)
    {
      g_io_stream_close (G_IO_STREAM (holders[i]), NULL, NULL);
      g_object_unref (holders[i]);
    }
}

static gboolean
no_connections (gpointer data)
{
  Fixture *f = data;

  return g_hash_table_size (f->relay->conns) == 0;
}

/* A connection that sends the start of a ClientHello and shuts its side is closed at
 * once, not at client-hello-timeout: its socket stays readable (the end of stream) for as
 * long as it is open, and waiting for the rest of the record would wake the relay on
 * every iteration until then. */
static void
test_half_closed_hello (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GBytes) hello = wzp_test_capture_client_hello ();
  int fd = wzp_test_connect_from ("127.0.0.2", f->port);

  g_object_set (f->relay, "client-hello-timeout", 30, "handshake-timeout", 30, NULL);
  g_assert_cmpint (send (fd, g_bytes_get_data (hello, NULL), 3, MSG_NOSIGNAL), ==, 3);
  wzp_test_spin (100);
  g_assert_cmpuint (g_hash_table_size (f->relay->conns), ==, 1);
  g_assert_no_errno (shutdown (fd, SHUT_WR));
  wzp_test_wait_until (no_connections, f, 5000);
  close (fd);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, fn) \
  g_test_add ("/wzp/relay-accept/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

  ADD ("idle-flood", test_idle_flood);
  ADD ("not-tls", test_not_tls);
  ADD ("stalled-handshakes", test_stalled_handshakes);
  ADD ("stalled-handshakes-new-address", test_stalled_handshakes_new_address);
  ADD ("trickled-hello", test_trickled_hello);
  ADD ("half-closed-hello", test_half_closed_hello);
  ADD ("unregistered-cap", test_unregistered_cap);
  ADD ("refusal-alert-fds", test_refusal_alert_fds);
  ADD ("refusal-alert-queued", test_refusal_alert_queued);
  g_test_add ("/wzp/relay-accept/refusal-alert-busy", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup, test_refusal_alert, fixture_teardown);
  g_test_add ("/wzp/relay-accept/refusal-alert-too-many", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_refusal_alert, fixture_teardown);

  return g_test_run ();
}
