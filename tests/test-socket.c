/* test-socket.c: the shared port P
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <unistd.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <gio/gio.h>

#include "test-util.h"
#include "wzp-socket-private.h"

static gboolean
test_timeout_cb (gpointer user_data)
{
  g_error ("Timed out waiting");
  return G_SOURCE_REMOVE;
}

static void
wait_for (gpointer *ptr)
{
  guint id = g_timeout_add_seconds (5, test_timeout_cb, NULL);

  while (*ptr == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (id);
}

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static void
store_connection_cb (WzpSharedPort     *port,
                     GSocketConnection *connection,
                     gpointer           user_data)
{
  GPtrArray *accepted = user_data;

  g_ptr_array_add (accepted, g_object_ref (connection));
}

static guint16
local_port (GSocketConnection *connection)
{
  g_autoptr(GSocketAddress) address = g_socket_connection_get_local_address (connection, NULL);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}

static guint16
remote_port (GSocketConnection *connection)
{
  g_autoptr(GSocketAddress) address = g_socket_connection_get_remote_address (connection, NULL);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}

static gboolean
has_linger_zero (GSocket *socket)
{
  struct linger linger = { 0 };
  socklen_t len = sizeof linger;

  g_assert_cmpint (getsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_LINGER, &linger, &len),
                   ==, 0);
  return linger.l_onoff == 1 && linger.l_linger == 0;
}

/* A plain listener somewhere else (another peer, the relay). */
typedef struct {
  GSocketService *service;
  guint16         port;
  GPtrArray      *accepted;   /* GSocketConnection */
} Remote;

static gboolean
remote_incoming_cb (GSocketService    *service,
                    GSocketConnection *connection,
                    GObject           *source,
                    gpointer           user_data)
{
  Remote *remote = user_data;

  g_ptr_array_add (remote->accepted, g_object_ref (connection));
  return TRUE;
}

static Remote *
remote_new (GSocketFamily family)
{
  Remote *remote = g_new0 (Remote, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (family);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) error = NULL;

  remote->service = g_socket_service_new ();
  remote->accepted = g_ptr_array_new_with_free_func (g_object_unref);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (remote->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                      &effective, &error))
    {
      g_test_message ("Cannot listen on loopback: %s", error->message);
      g_object_unref (remote->service);
      g_ptr_array_unref (remote->accepted);
      g_free (remote);
      return NULL;
    }
  remote->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (remote->service, "incoming", G_CALLBACK (remote_incoming_cb), remote);
  return remote;
}

static void
remote_free (Remote *remote)
{
  g_socket_service_stop (remote->service);
  g_socket_listener_close (G_SOCKET_LISTENER (remote->service));
  g_object_unref (remote->service);
  g_ptr_array_unref (remote->accepted);
  g_free (remote);
}

static GSocketAddress *
loopback_address (GSocketFamily family,
                  guint16       port)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (family);

  return g_inet_socket_address_new (loopback, port);
}

static GSocketConnection *
dial_from_p (WzpSharedPort  *shared,
             GSocketAddress *address,
             GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  _wzp_shared_port_connect_async (shared, address, NULL, store_result_cb, &result);
  wait_for ((gpointer *) &result);
  return _wzp_shared_port_connect_finish (shared, result, error);
}

static void
wait_accepted (GPtrArray *accepted,
               guint      n)
{
  guint id = g_timeout_add_seconds (5, test_timeout_cb, NULL);

  while (accepted->len < n)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (id);
}

/* The unit test: the listener and a dialler on P both bind; the dial from P
 * reaches another listener with source port P; a second listener on P fails. */
static void
test_listen_and_dial (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpSharedPort) shared = _wzp_shared_port_new (0, WZP_SHARED_PORT_FLAGS_LOOPBACK,
                                                          &error);
  g_autoptr(GPtrArray) accepted = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GSocketConnection) out = NULL;
  g_autoptr(GSocketAddress) remote_address = NULL;
  Remote *remote;
  guint16 p;

  g_assert_no_error (error);
  p = _wzp_shared_port_get_port (shared);
  g_assert_cmpuint (p, !=, 0);
  g_signal_connect (shared, "incoming", G_CALLBACK (store_connection_cb), accepted);

  remote = remote_new (G_SOCKET_FAMILY_IPV4);
  g_assert_nonnull (remote);
  remote_address = loopback_address (G_SOCKET_FAMILY_IPV4, remote->port);

  out = dial_from_p (shared, remote_address, &error);
  g_assert_no_error (error);
  g_assert_nonnull (out);
  g_assert_cmpuint (local_port (out), ==, p);
  g_assert_true (has_linger_zero (g_socket_connection_get_socket (out)));

  wait_accepted (remote->accepted, 1);
  g_assert_cmpuint (remote_port (remote->accepted->pdata[0]), ==, p);

  /* Bytes flow. */
  {
    char buffer[8] = { 0 };
    GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (remote->accepted->pdata[0]));

    g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (out)),
                                              "hello", 5, NULL, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpint (g_input_stream_read (in, buffer, 5, NULL, &error), ==, 5);
    g_assert_cmpstr (buffer, ==, "hello");
  }

  /* Someone dials P: accepted, with SO_LINGER 0. */
  {
    g_autoptr(GSocketClient) client = g_socket_client_new ();
    g_autoptr(GSocketAddress) p_address = loopback_address (G_SOCKET_FAMILY_IPV4, p);
    g_autoptr(GSocketConnection) in = NULL;

    g_socket_client_set_enable_proxy (client, FALSE);
    in = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (p_address), NULL, &error);
    g_assert_no_error (error);
    wait_accepted (accepted, 1);
    g_assert_cmpuint (local_port (accepted->pdata[0]), ==, p);
    g_assert_cmpuint (remote_port (accepted->pdata[0]), ==, local_port (in));
    g_assert_true (has_linger_zero (g_socket_connection_get_socket (accepted->pdata[0])));
  }

  /* A second listener on P fails. */
  {
    g_autoptr(GError) second_error = NULL;
    g_autoptr(WzpSharedPort) second = _wzp_shared_port_new (p, WZP_SHARED_PORT_FLAGS_LOOPBACK,
                                                            &second_error);

    g_assert_null (second);
    g_assert_error (second_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  }
  {
    g_autoptr(GError) second_error = NULL;
    g_autoptr(WzpSharedPort) second = _wzp_shared_port_new (p, WZP_SHARED_PORT_FLAGS_NONE,
                                                            &second_error);

    g_assert_null (second);
    g_assert_error (second_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  }

  remote_free (remote);
}

/* The default form: 0.0.0.0:P and [::]:P; diallers of both families from P. */
static void
test_wildcard (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpSharedPort) shared = _wzp_shared_port_new (0, WZP_SHARED_PORT_FLAGS_NONE, &error);
  g_autoptr(GSocketConnection) out4 = NULL;
  g_autoptr(GSocketConnection) out4b = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  Remote *remote4;
  Remote *remote4b;
  guint16 p;

  g_assert_no_error (error);
  p = _wzp_shared_port_get_port (shared);

  /* Two connections from P at once, to two destinations. */
  remote4 = remote_new (G_SOCKET_FAMILY_IPV4);
  remote4b = remote_new (G_SOCKET_FAMILY_IPV4);
  address = loopback_address (G_SOCKET_FAMILY_IPV4, remote4->port);
  out4 = dial_from_p (shared, address, &error);
  g_assert_no_error (error);
  g_clear_object (&address);
  address = loopback_address (G_SOCKET_FAMILY_IPV4, remote4b->port);
  out4b = dial_from_p (shared, address, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (local_port (out4), ==, p);
  g_assert_cmpuint (local_port (out4b), ==, p);
  wait_accepted (remote4->accepted, 1);
  wait_accepted (remote4b->accepted, 1);
  g_assert_cmpuint (remote_port (remote4->accepted->pdata[0]), ==, p);
  g_assert_cmpuint (remote_port (remote4b->accepted->pdata[0]), ==, p);
  remote_free (remote4);
  remote_free (remote4b);

  if (!_wzp_shared_port_has_ipv6 (shared))
    {
      g_test_skip ("No IPv6 here");
      return;
    }

  {
    Remote *remote6 = remote_new (G_SOCKET_FAMILY_IPV6);
    g_autoptr(GSocketAddress) address6 = NULL;
    g_autoptr(GSocketConnection) out6 = NULL;

    if (remote6 == NULL)
      {
        g_test_skip ("Cannot listen on [::1]");
        return;
      }
    address6 = loopback_address (G_SOCKET_FAMILY_IPV6, remote6->port);
    out6 = dial_from_p (shared, address6, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (local_port (out6), ==, p);
    wait_accepted (remote6->accepted, 1);
    g_assert_cmpuint (remote_port (remote6->accepted->pdata[0]), ==, p);
    remote_free (remote6);
  }
}

/* A port someone else holds, even with SO_REUSEPORT, is not ours. */
static void
test_held_port (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocket) other = _wzp_socket_new_bound (G_SOCKET_FAMILY_IPV4, loopback, 0, TRUE,
                                                    FALSE, &error);
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(WzpSharedPort) shared = NULL;
  guint16 port;

  g_assert_no_error (error);
  g_assert_true (g_socket_listen (other, &error));
  local = g_socket_get_local_address (other, &error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));

  shared = _wzp_shared_port_new (port, WZP_SHARED_PORT_FLAGS_LOOPBACK, &error);
  g_assert_null (shared);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
}

/* Random P differs between starts. */
static void
test_random_port (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpSharedPort) a = _wzp_shared_port_new (0, WZP_SHARED_PORT_FLAGS_LOOPBACK, &error);
  g_autoptr(WzpSharedPort) b = NULL;

  g_assert_no_error (error);
  b = _wzp_shared_port_new (0, WZP_SHARED_PORT_FLAGS_LOOPBACK, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (_wzp_shared_port_get_port (a), !=, _wzp_shared_port_get_port (b));

  /* After closing, the port is free again (no lingering listener). */
  {
    guint16 p = _wzp_shared_port_get_port (a);

    g_clear_object (&a);
    a = _wzp_shared_port_new (p, WZP_SHARED_PORT_FLAGS_LOOPBACK, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (_wzp_shared_port_get_port (a), ==, p);
  }
}

/* Two dials from P to the same address: the second one "merges" (EADDRNOTAVAIL). */
static void
test_merged (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpSharedPort) shared = _wzp_shared_port_new (0, WZP_SHARED_PORT_FLAGS_LOOPBACK,
                                                          &error);
  g_autoptr(GSocketConnection) first = NULL;
  g_autoptr(GSocketConnection) second = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  Remote *remote = remote_new (G_SOCKET_FAMILY_IPV4);

  g_assert_no_error (error);
  address = loopback_address (G_SOCKET_FAMILY_IPV4, remote->port);
  first = dial_from_p (shared, address, &error);
  g_assert_no_error (error);

  second = dial_from_p (shared, address, &error);
  g_assert_null (second);
  g_assert_error (error, WZP_SOCKET_ERROR, WZP_SOCKET_ERROR_MERGED);
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* With SO_LINGER 0 the 4-tuple is free again as soon as the first closes. */
  g_assert_true (g_io_stream_close (G_IO_STREAM (first), NULL, &error));
  g_assert_no_error (error);
  second = dial_from_p (shared, address, &error);
  g_assert_no_error (error);
  g_assert_nonnull (second);

  remote_free (remote);
}

static void
test_connect_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpSharedPort) shared = _wzp_shared_port_new (0, WZP_SHARED_PORT_FLAGS_LOOPBACK,
                                                          &error);
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocket) probe = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  guint16 closed_port;

  g_assert_no_error (error);

  /* A port nobody listens on: bind one and close it. */
  probe = _wzp_socket_new_bound (G_SOCKET_FAMILY_IPV4, loopback, 0, FALSE, FALSE, &error);
  local = g_socket_get_local_address (probe, &error);
  closed_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  g_socket_close (probe, NULL);

  address = loopback_address (G_SOCKET_FAMILY_IPV4, closed_port);
  connection = dial_from_p (shared, address, &error);
  g_assert_null (connection);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_test_message ("%s", error->message);
}

static void
test_connect_cancelled (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpSharedPort) shared = _wzp_shared_port_new (0, WZP_SHARED_PORT_FLAGS_LOOPBACK,
                                                          &error);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  GSocketConnection *connection;
  Remote *remote = remote_new (G_SOCKET_FAMILY_IPV4);

  g_assert_no_error (error);
  address = loopback_address (G_SOCKET_FAMILY_IPV4, remote->port);

  /* Already cancelled. */
  g_cancellable_cancel (cancellable);
  _wzp_shared_port_connect_async (shared, address, cancellable, store_result_cb, &result);
  wait_for ((gpointer *) &result);
  connection = _wzp_shared_port_connect_finish (shared, result, &error);
  g_assert_null (connection);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);

  /* Cancelled while pending: either the connect had completed already, or it is
   * cancelled; never both, never a hang. */
  g_cancellable_reset (cancellable);
  _wzp_shared_port_connect_async (shared, address, cancellable, store_result_cb, &result);
  g_cancellable_cancel (cancellable);
  wait_for ((gpointer *) &result);
  connection = _wzp_shared_port_connect_finish (shared, result, &error);
  if (connection == NULL)
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_object (&connection);

  remote_free (remote);
}

static guint
count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  if (dir == NULL)
    return 0;
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
test_no_fd_leak (void)
{
  guint before = count_fds ();

  for (int i = 0; i < 5; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(WzpSharedPort) shared = _wzp_shared_port_new (0, WZP_SHARED_PORT_FLAGS_LOOPBACK,
                                                              &error);
      g_autoptr(GSocketAddress) address = NULL;
      g_autoptr(GSocketConnection) out = NULL;
      Remote *remote = remote_new (G_SOCKET_FAMILY_IPV4);

      g_assert_no_error (error);
      address = loopback_address (G_SOCKET_FAMILY_IPV4, remote->port);
      out = dial_from_p (shared, address, &error);
      g_assert_no_error (error);
      wait_accepted (remote->accepted, 1);
      g_io_stream_close (G_IO_STREAM (out), NULL, NULL);
      remote_free (remote);
      g_assert_finalize_object (g_steal_pointer (&shared));
    }

  /* Let GIO's accept sources wind down. */
  for (int i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (count_fds (), ==, before);
}

/* At the descriptor limit (issue 21: an idle flood made P spin at 99% of a core and write
 * 134,713 "Too many open files" lines): accepting pauses a second at a time, with a
 * bounded number of log lines, and P does not take the reserve. */

static int
raw_connect (guint16 port)
{
  struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  dst.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &dst, sizeof dst), ==, 0);
  return fd;
}

static double
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static guint
count_limit_lines (const char *limit)
{
  GPtrArray *lines = wzp_test_log_captured ();
  guint n = 0;

  for (guint i = 0; i < lines->len; i++)
    if (g_strcmp0 (g_hash_table_lookup (g_ptr_array_index (lines, i), "WZP_LIMIT"), limit) == 0)
      n++;
  return n;
}

/* Whether the other end closed @fd (P accepted it and, with no one to take it, closed). */
static gboolean
closed_by_peer (int fd)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  char byte;

  return poll (&pfd, 1, 0) == 1 && recv (fd, &byte, 1, MSG_DONTWAIT) <= 0;
}

#define N_WAITING 40

static void
run_at_fd_limit (guint headroom)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpSharedPort) shared = _wzp_shared_port_new (0, WZP_SHARED_PORT_FLAGS_LOOPBACK,
                                                          &error);
  int fds[N_WAITING];
  struct rlimit saved, low;
  double cpu;
  guint n_closed = 0;
  int lowest;

  g_assert_no_error (error);
  /* A warning per failed accept is the very thing looked for: counted, not fatal. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  /* Connected before the limit goes down; they wait in P's backlog. */
  for (guint i = 0; i < N_WAITING; i++)
    fds[i] = raw_connect (_wzp_shared_port_get_port (shared));

  wzp_test_log_capture_start ();
  lowest = dup (0);
  close (lowest);
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  low = saved;
  low.rlim_cur = lowest + headroom;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &low), ==, 0);

  cpu = cpu_seconds ();
  wzp_test_spin (1500);
  cpu = cpu_seconds () - cpu;

  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  for (guint i = 0; i < N_WAITING; i++)
    {
      n_closed += closed_by_peer (fds[i]);
      close (fds[i]);
    }
  g_test_message ("headroom %u: %.3f s of CPU in 1.5 s, %u \"min-free-fds\" lines, %u of %u "
                  "accepted", headroom, cpu, count_limit_lines ("min-free-fds"), n_closed,
                  N_WAITING);
  /* No busy loop: a spinning accept took a whole core. */
  g_assert_cmpfloat (cpu, <, 0.3);
  /* Said, and not once per failed accept: a pause a second, one line each. */
  g_assert_cmpuint (count_limit_lines ("min-free-fds"), >=, 1);
  g_assert_cmpuint (count_limit_lines ("min-free-fds"), <=, 3);
  /* Within the reserve, at most one connection a pause is accepted (and closed). */
  g_assert_cmpuint (n_closed, <=, 2);
  wzp_test_log_capture_stop ();
}

static void
test_fd_limit_accept_fails (void)
{
  if (g_test_subprocess ())
    {
      run_at_fd_limit (0);   /* accept(2) fails with EMFILE */
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr_unmatched ("*Too many open files*");
}

static void
test_fd_limit_reserve (void)
{
  if (g_test_subprocess ())
    {
      run_at_fd_limit (10);   /* accept(2) works, but leaves fewer than the reserve */
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr_unmatched ("*Too many open files*");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/wzp/socket/shared-port/listen-and-dial", test_listen_and_dial);
  g_test_add_func ("/wzp/socket/shared-port/wildcard", test_wildcard);
  g_test_add_func ("/wzp/socket/shared-port/held-port", test_held_port);
  g_test_add_func ("/wzp/socket/shared-port/random-port", test_random_port);
  g_test_add_func ("/wzp/socket/shared-port/merged", test_merged);
  g_test_add_func ("/wzp/socket/shared-port/connect-errors", test_connect_errors);
  g_test_add_func ("/wzp/socket/shared-port/connect-cancelled", test_connect_cancelled);
  g_test_add_func ("/wzp/socket/shared-port/no-fd-leak", test_no_fd_leak);
  g_test_add_func ("/wzp/socket/shared-port/fd-limit/accept-fails", test_fd_limit_accept_fails);
  g_test_add_func ("/wzp/socket/shared-port/fd-limit/reserve", test_fd_limit_reserve);

  return g_test_run ();
}
