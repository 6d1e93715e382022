/* bench-tls.c: what the TLS constructor helpers buy (docs/identity.md, "Measurements")
 *
 * Measures, on loopback, for GIO's defaults and for _wzp_tls_client_new() /
 * _wzp_tls_server_new():
 *  - the time of a mutually authenticated handshake (median of --handshakes),
 *  - the RSS growth per idle server-side TLS connection (--connections connections,
 *    VmRSS of a server process whose clients live in another process),
 * and prints the ratios.
 *
 * Usage: bench-tls [--handshakes=50] [--connections=200]
 * (--serve and --connect are the internal roles of the memory measurement.)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "wzp-glib.h"
#include "wzp-identity-private.h"
#include "wzp-tls-private.h"

#define WAIT_SECONDS 60

typedef enum {
  VARIANT_DEFAULTS,      /* g_tls_*_connection_new(), accept-certificate returns TRUE */
  VARIANT_NODELAY,       /* the same plus TCP_NODELAY */
  VARIANT_DATABASE_NULL, /* the same as DEFAULTS plus set_database (NULL) after construction */
  VARIANT_WZP,           /* _wzp_tls_client_new() / _wzp_tls_server_new() with pins */
  N_VARIANTS,
} Variant;

static const char *const variant_names[N_VARIANTS] = {
  [VARIANT_DEFAULTS] = "defaults",
  [VARIANT_NODELAY] = "nodelay",
  [VARIANT_DATABASE_NULL] = "database-null",
  [VARIANT_WZP] = "wzp",
};

static const char *const variant_labels[N_VARIANTS] = {
  [VARIANT_DEFAULTS] = "GIO defaults",
  [VARIANT_NODELAY] = "GIO defaults + TCP_NODELAY",
  [VARIANT_DATABASE_NULL] = "GIO defaults + set_database (NULL)",
  [VARIANT_WZP] = "wzp helper (database NULL + TCP_NODELAY)",
};

static int opt_handshakes = 50;
static int opt_connections = 200;
static char *opt_serve = NULL;
static char *opt_connect = NULL;
static char *opt_pin = NULL;
static int opt_port = 0;

static const GOptionEntry entries[] = {
  { "handshakes", 0, 0, G_OPTION_ARG_INT, &opt_handshakes, "Handshakes to time per variant", "N" },
  { "connections", 0, 0, G_OPTION_ARG_INT, &opt_connections,
    "Idle connections for the memory measurement", "N" },
  { "serve", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &opt_serve, NULL, NULL },
  { "connect", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &opt_connect, NULL, NULL },
  { "pin", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &opt_pin, NULL, NULL },
  { "port", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &opt_port, NULL, NULL },
  { NULL }
};

static Variant
variant_from_name (const char *name)
{
  for (Variant v = 0; v < N_VARIANTS; v++)
    if (g_strcmp0 (name, variant_names[v]) == 0)
      return v;
  g_error ("Unknown variant “%s”", name);
}

static WzpIdentity *
new_identity (void)
{
  g_autoptr(GError) error = NULL;
  WzpIdentity *identity = _wzp_identity_new_ephemeral (&error);

  g_assert_no_error (error);
  return identity;
}

/* -- Waiting ------------------------------------------------------------------------- */

static gboolean
deadline_cb (gpointer user_data)
{
  g_error ("Timed out after %d s", WAIT_SECONDS);
  return G_SOURCE_REMOVE;
}

static void
wait_for (gboolean (*done) (gpointer),
          gpointer   data)
{
  guint id = g_timeout_add_seconds (WAIT_SECONDS, deadline_cb, NULL);

  while (!done (data))
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (id);
}

static gboolean
pointer_set (gpointer data)
{
  return *(gpointer *) data != NULL;
}

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* -- Connections --------------------------------------------------------------------- */

static gboolean
accept_anything_cb (GTlsConnection       *connection,
                    GTlsCertificate      *certificate,
                    GTlsCertificateFlags  errors,
                    gpointer              user_data)
{
  return TRUE;
}

static GIOStream *
wrap (Variant            variant,
      gboolean           server,
      GSocketConnection *base,
      WzpIdentity       *identity,
      const char        *pin)
{
  g_autoptr(GError) error = NULL;
  GIOStream *tls;

  if (variant == VARIANT_WZP)
    {
      tls = server ? _wzp_tls_server_new (G_IO_STREAM (base),
                                          wzp_identity_get_certificate (identity), pin, &error)
                   : _wzp_tls_client_new (G_IO_STREAM (base),
                                          wzp_identity_get_certificate (identity), pin, &error);
      g_assert_no_error (error);
      return tls;
    }

  if (server)
    {
      tls = g_tls_server_connection_new (G_IO_STREAM (base),
                                         wzp_identity_get_certificate (identity), &error);
      g_assert_no_error (error);
      g_object_set (tls, "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED, NULL);
    }
  else
    {
      tls = g_tls_client_connection_new (G_IO_STREAM (base), NULL, &error);
      g_assert_no_error (error);
      g_tls_connection_set_certificate (G_TLS_CONNECTION (tls),
                                        wzp_identity_get_certificate (identity));
    }

  /* Self-signed certificates: the defaults would refuse them all. */
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_anything_cb), NULL);

  if (variant == VARIANT_NODELAY)
    _wzp_socket_connection_set_nodelay (G_IO_STREAM (base));
  if (variant == VARIANT_DATABASE_NULL)
    g_tls_connection_set_database (G_TLS_CONNECTION (tls), NULL);

  return tls;
}

typedef struct {
  GIOStream *tls;
  gboolean   done;
  GError    *error;
} Handshake;

static void
handshake_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Handshake *handshake = user_data;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result,
                                          &handshake->error))
    _wzp_tls_connection_explain_error (G_IO_STREAM (source), &handshake->error);
  handshake->done = TRUE;
}

static gboolean
handshakes_done (gpointer data)
{
  Handshake *pair = data;

  return pair[0].done && pair[1].done;
}

static GSocketListener *
listen_on_loopback (guint16 *port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) effective = NULL;
  GSocketListener *listener = g_socket_listener_new ();

  g_socket_listener_set_backlog (listener, 1024);
  g_socket_listener_add_address (listener, any, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &effective, &error);
  g_assert_no_error (error);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  return listener;
}

static GSocketConnection *
connect_to (GSocketClient *client,
            guint16        port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  GSocketConnection *connection;

  g_socket_client_connect_to_host_async (client, "127.0.0.1", port, NULL, store_result_cb,
                                         &result);
  wait_for (pointer_set, &result);
  connection = g_socket_client_connect_to_host_finish (client, result, &error);
  g_assert_no_error (error);
  return connection;
}

static GSocketConnection *
accept_one (GSocketListener *listener)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  GSocketConnection *connection;

  g_socket_listener_accept_async (listener, NULL, store_result_cb, &result);
  wait_for (pointer_set, &result);
  connection = g_socket_listener_accept_finish (listener, result, NULL, &error);
  g_assert_no_error (error);
  return connection;
}

/* -- Handshake time ------------------------------------------------------------------ */

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* Median handshake time in ms; the TCP connection is made before the clock starts. */
static double
time_handshakes (Variant      variant,
                 WzpIdentity *client_identity,
                 WzpIdentity *server_identity,
                 int          n,
                 double      *first_ms)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketListener) listener = NULL;
  g_autofree double *samples = g_new (double, n);
  guint16 port;

  listener = listen_on_loopback (&port);

  for (int i = 0; i < n; i++)
    {
      g_autoptr(GAsyncResult) accepted = NULL;
      g_autoptr(GSocketConnection) client_conn = NULL;
      g_autoptr(GSocketConnection) server_conn = NULL;
      Handshake pair[2] = { { NULL, }, { NULL, } };
      gint64 start;

      g_socket_listener_accept_async (listener, NULL, store_result_cb, &accepted);
      client_conn = connect_to (client, port);
      wait_for (pointer_set, &accepted);
      server_conn = g_socket_listener_accept_finish (listener, accepted, NULL, NULL);
      g_assert_nonnull (server_conn);

      start = g_get_monotonic_time ();
      pair[0].tls = wrap (variant, FALSE, client_conn, client_identity,
                          wzp_identity_get_fingerprint (server_identity));
      pair[1].tls = wrap (variant, TRUE, server_conn, server_identity,
                          wzp_identity_get_fingerprint (client_identity));
      g_tls_connection_handshake_async (G_TLS_CONNECTION (pair[1].tls), G_PRIORITY_DEFAULT,
                                        NULL, handshake_cb, &pair[1]);
      g_tls_connection_handshake_async (G_TLS_CONNECTION (pair[0].tls), G_PRIORITY_DEFAULT,
                                        NULL, handshake_cb, &pair[0]);
      wait_for (handshakes_done, pair);
      samples[i] = (g_get_monotonic_time () - start) / 1000.0;

      if (pair[0].error != NULL || pair[1].error != NULL)
        g_error ("Handshake failed: %s / %s",
                 pair[0].error ? pair[0].error->message : "ok",
                 pair[1].error ? pair[1].error->message : "ok");
      if (g_tls_connection_get_protocol_version (G_TLS_CONNECTION (pair[0].tls)) !=
          G_TLS_PROTOCOL_VERSION_TLS_1_3)
        g_error ("TLS 1.3 was not negotiated");

      g_io_stream_close (pair[0].tls, NULL, NULL);
      g_io_stream_close (pair[1].tls, NULL, NULL);
      g_object_unref (pair[0].tls);
      g_object_unref (pair[1].tls);
    }

  *first_ms = samples[0];
  qsort (samples, n, sizeof *samples, compare_doubles);
  return n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

/* -- Memory per idle server connection ----------------------------------------------- */

static gsize
read_vm_rss (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    g_error ("Cannot read /proc/self/status");
  line = strstr (status, "\nVmRSS:");
  if (line == NULL)
    g_error ("No VmRSS in /proc/self/status");
  return g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10) * 1024;
}

/* --connect role: opens --connections TLS connections, one handshake at a time, says
 * "ready", and keeps them until stdin closes. */
static int
run_clients (Variant variant)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GPtrArray) connections = g_ptr_array_new_with_free_func (g_object_unref);
  WzpIdentity *identity = new_identity ();
  char line[16];

  for (int i = 0; i < opt_connections; i++)
    {
      g_autoptr(GSocketConnection) base = connect_to (client, opt_port);
      Handshake handshake = { NULL, };

      handshake.tls = wrap (variant, FALSE, base, identity, opt_pin);
      g_tls_connection_handshake_async (G_TLS_CONNECTION (handshake.tls), G_PRIORITY_DEFAULT,
                                        NULL, handshake_cb, &handshake);
      while (!handshake.done)
        g_main_context_iteration (NULL, TRUE);
      if (handshake.error != NULL)
        g_error ("Client handshake %d failed: %s", i, handshake.error->message);
      g_ptr_array_add (connections, handshake.tls);
    }

  g_print ("ready\n");
  fflush (stdout);
  while (fgets (line, sizeof line, stdin) != NULL)
    ;

  g_object_unref (identity);
  return EXIT_SUCCESS;
}

/* --serve role: accepts --connections connections from a --connect child and prints the
 * RSS growth per connection in bytes. */
static int
run_server (Variant variant)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketListener) listener = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GPtrArray) connections = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *port_arg = NULL;
  g_autofree char *connections_arg = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autoptr(GDataInputStream) child_out = NULL;
  g_autofree char *line = NULL;
  WzpIdentity *identity = new_identity ();
  WzpIdentity *warmup_client = new_identity ();
  double ignored;
  gsize before, after;
  guint16 port;
  int done = 0;

  /* One-time costs (TLS backend, the system trust store for the defaults) are paid here,
   * before the baseline. */
  time_handshakes (variant, warmup_client, identity, 3, &ignored);
  g_object_unref (warmup_client);

  listener = listen_on_loopback (&port);
  port_arg = g_strdup_printf ("--port=%u", port);
  connections_arg = g_strdup_printf ("--connections=%d", opt_connections);
  child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                            &error,
                            self, "--connect", variant_names[variant], port_arg,
                            connections_arg, "--pin", wzp_identity_get_fingerprint (identity),
                            NULL);
  g_assert_no_error (error);

  before = read_vm_rss ();

  for (int i = 0; i < opt_connections; i++)
    {
      g_autoptr(GSocketConnection) base = accept_one (listener);
      Handshake *handshake = g_new0 (Handshake, 1);

      /* The server learns the client's identity: no pin. */
      handshake->tls = wrap (variant, TRUE, base, identity, NULL);
      g_tls_connection_handshake_async (G_TLS_CONNECTION (handshake->tls), G_PRIORITY_DEFAULT,
                                        NULL, handshake_cb, handshake);
      while (!handshake->done)
        g_main_context_iteration (NULL, TRUE);
      if (handshake->error != NULL)
        g_error ("Server handshake %d failed: %s", i, handshake->error->message);
      g_ptr_array_add (connections, g_steal_pointer (&handshake->tls));
      g_free (handshake);
      done++;
    }

  child_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child));
  line = g_data_input_stream_read_line (child_out, NULL, NULL, &error);
  g_assert_no_error (error);
  if (g_strcmp0 (line, "ready") != 0)
    g_error ("The client process failed");

  /* Let the handshake threads wind down before measuring idle connections. */
  for (int i = 0; i < 20; i++)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (10000);
    }
  after = read_vm_rss ();

  g_print ("%" G_GSIZE_FORMAT "\n", (after - before) / (gsize) done);

  g_output_stream_close (g_subprocess_get_stdin_pipe (child), NULL, NULL);
  g_subprocess_wait_check (child, NULL, &error);
  g_assert_no_error (error);
  g_ptr_array_set_size (connections, 0);
  g_object_unref (identity);
  return EXIT_SUCCESS;
}

static double
measure_rss_per_connection (Variant variant)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *connections_arg = g_strdup_printf ("--connections=%d", opt_connections);
  g_autofree char *output = NULL;
  g_autoptr(GSubprocess) server = NULL;

  server = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                             self, "--serve", variant_names[variant], connections_arg, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (server, NULL, NULL, &output, NULL, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (server) || g_subprocess_get_exit_status (server) != 0)
    g_error ("The server process failed");

  return g_ascii_strtod (output, NULL);
}

static char *
format_size (double bytes)
{
  if (bytes >= 1024 * 1024)
    return g_strdup_printf ("%.2f MiB", bytes / (1024 * 1024));
  return g_strdup_printf ("%.1f KiB", bytes / 1024);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = g_option_context_new ("- TLS helper benchmark");
  g_autoptr(GError) error = NULL;
  double median[N_VARIANTS], first[N_VARIANTS], rss[N_VARIANTS];
  WzpIdentity *client_identity, *server_identity;
  const Variant memory_variants[] = { VARIANT_DEFAULTS, VARIANT_DATABASE_NULL, VARIANT_WZP };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }
  if (opt_handshakes < 1 || opt_connections < 1)
    {
      g_printerr ("--handshakes and --connections must be positive\n");
      return EXIT_FAILURE;
    }

  if (opt_connect != NULL)
    return run_clients (variant_from_name (opt_connect));
  if (opt_serve != NULL)
    return run_server (variant_from_name (opt_serve));

  client_identity = new_identity ();
  server_identity = new_identity ();

  g_print ("Mutually authenticated TLS 1.3 handshake on loopback, ECDSA P-256 "
           "(median of %d; the first one in brackets):\n", opt_handshakes);
  for (Variant v = 0; v < N_VARIANTS; v++)
    {
      median[v] = time_handshakes (v, client_identity, server_identity, opt_handshakes,
                                   &first[v]);
      g_print ("  %-44s %8.2f ms  [%7.2f ms]\n", variant_labels[v], median[v], first[v]);
    }
  g_print ("  ratio GIO defaults / wzp helper:              %8.1fx\n",
           median[VARIANT_DEFAULTS] / median[VARIANT_WZP]);

  g_print ("\nRSS growth per idle server-side TLS connection (%d connections, clients in "
           "another process):\n", opt_connections);
  for (unsigned i = 0; i < G_N_ELEMENTS (memory_variants); i++)
    {
      Variant v = memory_variants[i];
      g_autofree char *size = NULL;

      rss[v] = measure_rss_per_connection (v);
      size = format_size (rss[v]);
      g_print ("  %-44s %12s\n", variant_labels[v], size);
    }
  g_print ("  ratio GIO defaults / wzp helper:              %8.1fx\n",
           rss[VARIANT_DEFAULTS] / MAX (rss[VARIANT_WZP], 1.0));

  g_object_unref (client_identity);
  g_object_unref (server_identity);
  return EXIT_SUCCESS;
}
