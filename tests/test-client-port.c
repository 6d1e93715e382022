/* test-client-port.c: a client's port P against what anyone can send it (issue 21: a flood
 * of idle connections took 99% of a core, early dials for a ringing call were held without
 * limit, the relay's list of reflectors was probed whole and without pins); docs/calls.md,
 * "Port P under a flood".
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "call-fixture.h"
#include "wzp-address-private.h"
#include "wzp-call-private.h"
#include "wzp-client-private.h"
#include "wzp-log-limiter-private.h"
#include "wzp-race-private.h"

/* Whether the other end closed @fd (EOF or reset), without waiting. */
static gboolean
closed_by_peer (int fd)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  char byte;

  return poll (&pfd, 1, 0) == 1 && recv (fd, &byte, 1, MSG_DONTWAIT) <= 0;
}

static guint
count_open (GArray *fds)
{
  guint n = 0;

  for (guint i = 0; i < fds->len; i++)
    n += !closed_by_peer (g_array_index (fds, int, i));
  return n;
}

static gboolean
all_closed (gpointer data)
{
  return count_open (data) == 0;
}

static guint16
port_of (WzpClient *client)
{
  return _wzp_shared_port_get_port (_wzp_client_get_shared_port (client));
}

static const char *attackers[] = { "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5" };
#define FLOOD_PER_SOURCE 50

/* FLOOD_PER_SOURCE idle connections from each attacker to @client's P, the main context
 * running between batches (P's backlog is 128). */
static void
flood (WzpClient *client,
       GArray    *fds)
{
  for (guint i = 0; i < FLOOD_PER_SOURCE; i++)
    {
      for (guint a = 0; a < G_N_ELEMENTS (attackers); a++)
        {
          int fd = wzp_test_connect_from (attackers[a], port_of (client));
          g_array_append_val (fds, fd);
        }
      if (i % 5 == 4)
        wzp_test_spin (10);
    }
  wzp_test_spin (100);
}

static void
check_caps (WzpClient *client)
{
  g_assert_cmpuint (_wzp_client_get_n_awaiting_preamble (client, NULL), <=,
                    WZP_CLIENT_MAX_AWAITING_PREAMBLE);
  for (guint a = 0; a < G_N_ELEMENTS (attackers); a++)
    {
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (attackers[a]);
      g_autofree char *key = _wzp_address_source_key (address);

      g_assert_cmpuint (_wzp_client_get_n_awaiting_preamble (client, key), <=,
                        WZP_CLIENT_MAX_AWAITING_PER_SOURCE);
    }
}

static guint
count_cap_lines (void)
{
  GPtrArray *lines = wzp_test_log_captured ();
  guint n = 0;

  for (guint i = 0; i < lines->len; i++)
    {
      const char *limit = g_hash_table_lookup (g_ptr_array_index (lines, i), "WZP_LIMIT");

      n += g_strcmp0 (limit, "max-awaiting-preamble") == 0 ||
           g_strcmp0 (limit, "max-awaiting-preamble-per-source") == 0;
    }
  return n;
}

/* Hundreds of idle connections from a few addresses on both clients' P: at most the caps
 * wait, the call still connects directly, the idle ones are closed after the preamble
 * deadline, and the log says so in a few lines. */
static void
test_idle_flood (Fixture       *f,
                 gconstpointer  data)
{
  WzpClient *a = connected_client (f, "Alice");
  WzpClient *b = connected_client (f, "Bob");
  Callee callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = TRUE };
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = NULL;
  guint n_lines, n_flood;

  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  wzp_test_log_capture_start ();
  flood (a, fds);
  flood (b, fds);
  n_flood = fds->len;

  /* The caps hold: of 200 connections on each P, at most 64 are still open. */
  check_caps (a);
  check_caps (b);
  g_assert_cmpuint (count_open (fds), <=, 2 * WZP_CLIENT_MAX_AWAITING_PREAMBLE);

  /* A real peer still gets through, directly, while the flood keeps coming. */
  flood (a, fds);
  flood (b, fds);
  call = place_call (a, b, &error);
  g_assert_no_error (error);
  g_assert_nonnull (call);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, WZP_PATH_KIND_DIRECT_LAN);
  g_assert_cmpint (wzp_call_get_path_kind (callee.call), ==, WZP_PATH_KIND_DIRECT_LAN);
  check_caps (a);
  check_caps (b);

  /* The deadline: every idle connection is closed by P, having sent nothing. The wait is
   * the deadline plus a generous margin (timers in whole seconds fire up to a second late,
   * and a loaded or sanitized build is slower; WZP_TEST_TIMEOUT_SCALE stretches it): what
   * is checked is that they are closed at all, not how fast. */
  wzp_test_wait_until (all_closed, fds, WZP_CLIENT_PREAMBLE_DEADLINE_S * 1000 + 5000);
  g_assert_cmpuint (_wzp_client_get_n_awaiting_preamble (a, NULL), ==, 0);
  g_assert_cmpuint (_wzp_client_get_n_awaiting_preamble (b, NULL), ==, 0);

  /* Bounded logs: several hundred connections closed at a cap, a handful of lines per
   * (source, cap) and a line a second after that. */
  n_lines = count_cap_lines ();
  g_test_message ("%u flood connections, %u lines about the caps", fds->len, n_lines);
  g_assert_cmpuint (n_lines, >=, 1);
  g_assert_cmpuint (n_lines, <=, 2 * G_N_ELEMENTS (attackers) * 2 * (WZP_LOG_LIMIT_BURST + 5));
  g_assert_cmpuint (n_lines, <, n_flood / 4);
  wzp_test_log_capture_stop ();

  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
  wzp_call_hangup (call);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ENDED);
  callee_clear (&callee);
  disconnect_and_free (a);
  disconnect_and_free (b);
}

/* Dials with the right preamble while the call rings (anyone who knows the call id can,
 * the relay too): the call holds at most WZP_CALL_MAX_EARLY_ACCEPTED of them. */
static void
test_early_dials_capped (Fixture       *f,
                         gconstpointer  data)
{
  WzpClient *a = connected_client (f, "Alice");
  WzpClient *b = connected_client (f, "Bob");
  Callee callee = { .mode = WZP_ACCEPT_MODE_TRUSTED, .answer = FALSE };
  guint8 preamble[WZP_PREAMBLE_LEN];
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  WzpTestResult r = { 0 };
  const guint n_dials = 3 * WZP_CALL_MAX_EARLY_ACCEPTED;

  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_cb), &callee);
  wzp_client_place_call_async (a, wzp_identity_get_fingerprint (wzp_client_get_identity (b)),
                               NULL, wzp_test_placed_cb, &r);
  while (callee.call == NULL)
    g_main_context_iteration (NULL, TRUE);
  _wzp_preamble_build (wzp_call_get_call_id (callee.call), preamble);

  /* From distinct sources, so that no cap of P's is what limits them. */
  for (guint i = 0; i < n_dials; i++)
    {
      g_autofree char *source = g_strdup_printf ("127.0.1.%u", i + 1);
      int fd = wzp_test_connect_from (source, port_of (b));

      g_assert_cmpint (write (fd, preamble, sizeof preamble), ==, sizeof preamble);
      g_array_append_val (fds, fd);
      wzp_test_spin (5);
    }
  wzp_test_spin (200);
  g_assert_cmpint (wzp_call_get_state (callee.call), ==, WZP_CALL_STATE_INCOMING);
  g_assert_cmpuint (_wzp_call_get_n_early_accepted (callee.call), ==,
                    WZP_CALL_MAX_EARLY_ACCEPTED);
  /* The others were closed, the oldest first; the newest are the ones held. */
  g_assert_cmpuint (count_open (fds), ==, WZP_CALL_MAX_EARLY_ACCEPTED);
  g_assert_false (closed_by_peer (g_array_index (fds, int, n_dials - 1)));

  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
  wzp_client_unregister (a);
  wzp_test_wait_flag (&r.done, 15000);
  g_clear_error (&r.error);
  g_clear_object (&r.object);
  callee_clear (&callee);
  wzp_test_finalize_object (a);
  disconnect_and_free (b);
}

/* Listening sockets that count the connections made to them. */
static int
listen_loopback (guint16 *port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_no_errno (bind (fd, (struct sockaddr *) &addr, sizeof addr));
  g_assert_no_errno (listen (fd, 16));
  g_assert_no_errno (getsockname (fd, (struct sockaddr *) &addr, &len));
  *port = ntohs (addr.sin_port);
  return fd;
}

static guint
count_accepted (int fd)
{
  guint n = 0;
  int conn;

  while ((conn = accept (fd, NULL, NULL)) >= 0)
    {
      close (conn);
      n++;
    }
  return n;
}

/* The relay names six reflectors, three without a pin: the client probes two, pinned. */
static void
test_reflectors_pinned_and_capped (Fixture       *f,
                                   gconstpointer  data)
{
  /* Unpinned and pinned in turn, so that neither the order nor the pin alone decides. */
  const gboolean pinned[] = { FALSE, TRUE, FALSE, TRUE, FALSE, TRUE };
  int listeners[G_N_ELEMENTS (pinned)];
  g_autoptr(GPtrArray) uris = g_ptr_array_new_with_free_func (g_free);
  guint n_probed = 0;
  WzpClient *client;

  for (guint i = 0; i < G_N_ELEMENTS (pinned); i++)
    {
      guint16 port;

      listeners[i] = listen_loopback (&port);
      g_ptr_array_add (uris, pinned[i]
                               ? g_strdup_printf ("wzps://127.0.0.1:%u#%s", port,
                                                  wzp_relay_get_fingerprint (f->relay))
                               : g_strdup_printf ("wzps://127.0.0.1:%u", port));
    }
  g_ptr_array_add (uris, NULL);
  g_object_set (f->relay, "reflectors", uris->pdata, NULL);

  client = connected_client (f, "Alice");
  wzp_test_spin (1000);

  for (guint i = 0; i < G_N_ELEMENTS (pinned); i++)
    {
      guint n = count_accepted (listeners[i]);

      g_test_message ("reflector %u (%s): %u probes", i, pinned[i] ? "pinned" : "no pin", n);
      if (!pinned[i])
        g_assert_cmpuint (n, ==, 0);
      n_probed += n > 0;
      close (listeners[i]);
    }
  g_assert_cmpuint (n_probed, ==, WZP_CLIENT_MAX_RELAY_REFLECTORS);
  disconnect_and_free (client);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  ADD ("port-p/idle-flood", test_idle_flood);
  ADD ("port-p/early-dials-capped", test_early_dials_capped);
  ADD ("port-p/reflectors-pinned-and-capped", test_reflectors_pinned_and_capped);
  return g_test_run ();
}
