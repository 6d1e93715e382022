/* bench-relay-rss.c: relay memory per idle registered client
 *
 * Starts bench-relay-host (a WzpRelay with its default limits) in its own process, reads
 * its VmRSS, registers N clients (default 10,000; mutual TLS, RegisterPresence, each with
 * its own identity; source addresses spread over 127.0.0.2-127.0.0.201 so that the
 * default per-address limits hold), keeps them idle (answering the relay's Pings), and
 * reads VmRSS again: (after - before) / N is the figure, against a target of 64 KiB.
 * Checkpoints along the way show whether the growth is linear, and the relay's malloc
 * statistics (glibc malloc_info, via SIGUSR1) show where the memory sits.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wzp-glib.h"
#include "wzp-address-private.h"
#include "wzp-frame-io-private.h"
#include "wzp-message-private.h"
#include "wzp-identity-private.h"
#include "wzp-tls-private.h"

#define TARGET_KIB      64.0
#define N_SOURCE_IPS    200

typedef struct
{
  guint              idx;
  WzpIdentity       *identity;
  GSocketConnection *conn;
  GIOStream         *tls;
  WzpFrameIO        *io;
  gboolean           registered;
} Client;

static guint       opt_clients = 10000;
static int         opt_window = 16;
static int         opt_cpu = 1;
static char       *opt_host_bin;
static char      **opt_relay_env;
static char      **opt_sets;

static GPtrArray      *clients;
static GSocketClient  *socket_clients[N_SOURCE_IPS];
static GInetSocketAddress *relay_addr;
static char           *relay_fp;
static pid_t           relay_pid = -1;
static guint           started, in_flight, registered, failed;
static char           *log_path;

static void G_GNUC_NORETURN G_GNUC_PRINTF (1, 2)
die (const char *format, ...)
{
  va_list args;

  va_start (args, format);
  fprintf (stderr, "bench-relay-rss: ");
  vfprintf (stderr, format, args);
  fprintf (stderr, "\n");
  va_end (args);
  if (relay_pid > 0)
    kill (relay_pid, SIGKILL);
  exit (1);
}

/* "VmRSS:     1234 kB" -> 1234 */
static gint64
status_kib (pid_t       pid,
            const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *text = NULL;
  g_autofree char *key = g_strdup_printf ("\n%s:", field);
  const char *p;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  p = strstr (text, key);
  if (p == NULL)
    return -1;
  return g_ascii_strtoll (p + strlen (key), NULL, 10);
}

/* utime + stime, in clock ticks */
static gint64
proc_ticks (const char *stat_path)
{
  g_autofree char *text = NULL;
  const char *p;
  unsigned long utime = 0, stime = 0;

  if (!g_file_get_contents (stat_path, &text, NULL, NULL) || (p = strrchr (text, ')')) == NULL)
    return 0;
  if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
    return 0;
  return (gint64) (utime + stime);
}

static pid_t
spawn_relay (int *out_fd)
{
  GPtrArray *argv = g_ptr_array_new ();
  g_autofree char *cpu = g_strdup_printf ("--cpu=%d", opt_cpu);
  int in_pipe[2], out_pipe[2];
  pid_t pid;

  g_ptr_array_add (argv, opt_host_bin);
  g_ptr_array_add (argv, cpu);
  for (char **s = opt_sets; s != NULL && *s != NULL; s++)
    {
      g_ptr_array_add (argv, "--set");
      g_ptr_array_add (argv, *s);
    }
  g_ptr_array_add (argv, NULL);

  if (pipe2 (in_pipe, O_CLOEXEC) != 0 || pipe2 (out_pipe, O_CLOEXEC) != 0)
    die ("pipe: %s", g_strerror (errno));
  pid = fork ();
  if (pid < 0)
    die ("fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      int log_fd = open (log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

      for (char **e = opt_relay_env; e != NULL && *e != NULL; e++)
        putenv (*e);
      dup2 (in_pipe[0], STDIN_FILENO);
      dup2 (out_pipe[1], STDOUT_FILENO);
      dup2 (log_fd, STDERR_FILENO);
      execv (opt_host_bin, (char **) argv->pdata);
      _exit (127);
    }
  close (in_pipe[0]);   /* in_pipe[1] stays open: the relay lives as long as we do */
  close (out_pipe[1]);
  *out_fd = out_pipe[0];
  return pid;
}

static void
read_ready (int fd)
{
  GString *line = g_string_new (NULL);

  for (;;)
    {
      char c;
      ssize_t n = read (fd, &c, 1);

      if (n != 1)
        die ("the relay host exited at start-up; see %s", log_path);
      if (c != '\n')
        {
          g_string_append_c (line, c);
          continue;
        }
      if (strcmp (line->str, "READY") == 0)
        break;
      if (g_str_has_prefix (line->str, "LISTEN "))
        relay_addr = _wzp_address_parse (line->str + 7, NULL);
      else if (g_str_has_prefix (line->str, "FINGERPRINT "))
        relay_fp = g_strdup (line->str + 12);
      g_string_truncate (line, 0);
    }
  g_string_free (line, TRUE);
  if (relay_addr == NULL || relay_fp == NULL)
    die ("the relay host did not say where it listens");
}

/* Clients */

static void start_more (void);
static void client_read (Client *c);

static void
client_failed (Client       *c,
               const char   *what,
               const GError *error)
{
  failed++;
  if (failed <= 5)
    fprintf (stderr, "# client %u: %s: %s\n", c->idx, what, error ? error->message : "?");
  if (!c->registered)
    {
      in_flight--;
      start_more ();
    }
}

static void
client_read_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Client *c = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) m = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result, &error);

  if (m == NULL)
    {
      client_failed (c, c->registered ? "connection lost" : "read", error);
      return;
    }
  switch (_wzp_message_get_message_type (m))
    {
    case WZP_MESSAGE_PING:
      {
        g_autoptr(WzpMessage) pong = _wzp_message_new (WZP_MESSAGE_PONG);

        _wzp_message_set_int (pong, "timestamp_ms", _wzp_message_get_int (m, "timestamp_ms"));
        _wzp_frame_io_send (c->io, pong);
      }
      break;
    case WZP_MESSAGE_REGISTER_PRESENCE_ACK:
      if (!c->registered && _wzp_message_get_bool (m, "success"))
        {
          c->registered = TRUE;
          registered++;
          in_flight--;
          start_more ();
        }
      break;
    case WZP_MESSAGE_ERROR:
      {
        g_autoptr(GError) e = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "relay error %s: %s",
                                           _wzp_message_get_string (m, "code"),
                                           _wzp_message_get_string (m, "message"));
        if (!c->registered)
          {
            client_failed (c, "registration", e);
            return;
          }
      }
      break;
    default:
      break;
    }
  client_read (c);
}

static void
client_read (Client *c)
{
  _wzp_frame_io_read_async (c->io, NULL, client_read_cb, c);
}

static void
handshake_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Client *c = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) presence = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      client_failed (c, "TLS handshake", error);
      return;
    }
  c->io = _wzp_frame_io_new (c->tls);
  _wzp_message_set_string (presence, "alias", "idle bench client");
  _wzp_message_set_string (presence, "client_version", "bench");
  _wzp_frame_io_send (c->io, presence);
  client_read (c);
}

static void
connect_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Client *c = user_data;
  g_autoptr(GError) error = NULL;

  c->conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (c->conn == NULL)
    {
      client_failed (c, "connect", error);
      return;
    }
  c->tls = _wzp_tls_client_new (G_IO_STREAM (c->conn), wzp_identity_get_certificate (c->identity),
                                relay_fp, &error);
  if (c->tls == NULL)
    {
      client_failed (c, "TLS", error);
      return;
    }
  g_tls_connection_handshake_async (G_TLS_CONNECTION (c->tls), G_PRIORITY_DEFAULT, NULL,
                                    handshake_cb, c);
}

static void
start_more (void)
{
  while (in_flight < (guint) opt_window && started < opt_clients)
    {
      Client *c = g_new0 (Client, 1);
      g_autoptr(GError) error = NULL;

      c->idx = started++;
      c->identity = _wzp_identity_new_ephemeral (&error);
      if (c->identity == NULL)
        die ("identity: %s", error->message);
      g_ptr_array_add (clients, c);
      in_flight++;
      g_socket_client_connect_async (socket_clients[c->idx % N_SOURCE_IPS],
                                     G_SOCKET_CONNECTABLE (relay_addr), NULL, connect_cb, c);
    }
}

static gboolean
flag_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
spin (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, flag_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* The summary lines of malloc_info's XML, printed by the relay host on SIGUSR1. */
static void
print_malloc_info (void)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint heaps = 0;
  const char *last_start;

  kill (relay_pid, SIGUSR1);
  for (int i = 0; i < 100; i++)
    {
      g_clear_pointer (&text, g_free);
      g_file_get_contents (log_path, &text, NULL, NULL);
      if (text != NULL && strstr (text, "MALLOC_INFO_END") != NULL)
        break;
      g_usleep (20000);
    }
  if (text == NULL || (last_start = g_strrstr (text, "registrations ")) == NULL)
    {
      printf ("# (no malloc statistics from the relay)\n");
      return;
    }
  lines = g_strsplit (last_start, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      const char *s = g_strstrip (*l);

      if (g_str_has_prefix (s, "<heap nr="))
        heaps++;
      else if (g_str_has_prefix (s, "registrations ") || g_str_has_prefix (s, "mallinfo2 "))
        printf ("#   relay: %s\n", s);
    }
  /* The process totals follow the last </heap>. */
  {
    const char *tail = g_strrstr (last_start, "</heap>");
    g_auto(GStrv) tail_lines = g_strsplit (tail ? tail : "", "\n", -1);

    for (char **l = tail_lines; *l != NULL; l++)
      {
        const char *s = g_strstrip (*l);

        if (g_str_has_prefix (s, "<total ") || g_str_has_prefix (s, "<system "))
          printf ("#   malloc, all arenas: %s\n", s);
      }
  }
  printf ("#   malloc arenas (heaps): %u\n", heaps);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *tmpdir = NULL;
  int out_fd;
  gint64 rss0, rss_after, anon0, anon_after;
  guint checkpoints[] = { 1000, 2500, 5000, 7500, 0 };
  guint next_cp = 0;
  gint64 cp_rss_prev, cp_n_prev = 0;
  gint64 t0;
  const GOptionEntry entries[] = {
    { "clients", 0, 0, G_OPTION_ARG_INT, &opt_clients, "Number of clients", "N" },
    { "window", 0, 0, G_OPTION_ARG_INT, &opt_window, "Registrations in flight", "N" },
    { "cpu", 0, 0, G_OPTION_ARG_INT, &opt_cpu, "CPU for the relay (-1: any)", "N" },
    { "host", 0, 0, G_OPTION_ARG_FILENAME, &opt_host_bin, "bench-relay-host program", "PATH" },
    { "relay-env", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_relay_env,
      "Environment for the relay (diagnostics, such as MALLOC_ARENA_MAX=1)", "VAR=VALUE" },
    { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_sets, "Relay property", "NAME=VALUE" },
    { NULL }
  };

  context = g_option_context_new ("- relay RSS per idle registered client");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die ("%s", error->message);
  if (opt_host_bin == NULL)
    {
      g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
      g_autofree char *dir = g_path_get_dirname (self);

      opt_host_bin = g_build_filename (dir, "bench-relay-host", NULL);
    }

  signal (SIGPIPE, SIG_IGN);
  {
    struct rlimit rl = { 1 << 18, 1 << 18 };

    if (setrlimit (RLIMIT_NOFILE, &rl) != 0)
      {
        getrlimit (RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        setrlimit (RLIMIT_NOFILE, &rl);
      }
    getrlimit (RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < opt_clients + 256)
      die ("the open file limit (%lu) is too low for %u clients", (unsigned long) rl.rlim_cur,
           opt_clients);
  }

  tmpdir = g_dir_make_tmp ("bench-relay-rss-XXXXXX", &error);
  if (tmpdir == NULL)
    die ("%s", error->message);
  log_path = g_build_filename (tmpdir, "relay.log", NULL);

  relay_pid = spawn_relay (&out_fd);
  read_ready (out_fd);
  spin (300);
  rss0 = status_kib (relay_pid, "VmRSS");
  anon0 = status_kib (relay_pid, "RssAnon");
  cp_rss_prev = rss0;

  for (guint i = 0; i < N_SOURCE_IPS; i++)
    {
      g_autofree char *ip = g_strdup_printf ("127.0.0.%u", 2 + i);
      g_autoptr(GInetAddress) addr = g_inet_address_new_from_string (ip);
      g_autoptr(GSocketAddress) local = g_inet_socket_address_new (addr, 0);

      socket_clients[i] = g_socket_client_new ();
      g_socket_client_set_enable_proxy (socket_clients[i], FALSE);
      g_socket_client_set_local_address (socket_clients[i], local);
    }

  printf ("# bench-relay-rss: %u idle registered clients (mutual TLS, RegisterPresence), "
          "from %u source addresses; relay host pid %d, log %s\n",
          opt_clients, N_SOURCE_IPS, (int) relay_pid, log_path);
  printf ("relay VmRSS before: %" G_GINT64_FORMAT " KiB (RssAnon %" G_GINT64_FORMAT " KiB)\n",
          rss0, anon0);
  fflush (stdout);

  clients = g_ptr_array_new ();
  t0 = g_get_monotonic_time ();
  start_more ();
  while (registered + failed < opt_clients)
    {
      g_main_context_iteration (NULL, TRUE);
      if (checkpoints[next_cp] != 0 && registered >= checkpoints[next_cp])
        {
          gint64 rss = status_kib (relay_pid, "VmRSS");

          printf ("  at %5u clients: VmRSS %7" G_GINT64_FORMAT " KiB, %.1f KiB per client "
                  "since the last checkpoint (%.0f s)\n", registered, rss,
                  (double) (rss - cp_rss_prev) / (registered - cp_n_prev),
                  (g_get_monotonic_time () - t0) / 1e6);
          fflush (stdout);
          cp_rss_prev = rss;
          cp_n_prev = registered;
          next_cp++;
        }
      if (failed > 0 && failed >= opt_clients / 100 + 5)
        die ("too many failed registrations (%u); see %s", failed, log_path);
    }
  printf ("registered %u clients in %.1f s (%u failed)\n", registered,
          (g_get_monotonic_time () - t0) / 1e6, failed);

  /* Let handshake threads and their buffers settle before reading. */
  spin (3000);
  rss_after = status_kib (relay_pid, "VmRSS");
  anon_after = status_kib (relay_pid, "RssAnon");
  printf ("relay VmRSS after:  %" G_GINT64_FORMAT " KiB (RssAnon %" G_GINT64_FORMAT " KiB, "
          "threads %" G_GINT64_FORMAT ", VmHWM %" G_GINT64_FORMAT " KiB)\n",
          rss_after, anon_after, status_kib (relay_pid, "Threads"),
          status_kib (relay_pid, "VmHWM"));
  {
    double per = (double) (rss_after - rss0) / MAX (registered, 1);

    printf ("RSS per idle registered client: %.1f KiB (target < %.0f KiB): ratio %.2f of the "
            "target, %s\n", per, TARGET_KIB, per / TARGET_KIB,
            per < TARGET_KIB ? "met" : "NOT met");
  }
  /* What idle clients cost in CPU: keepalive Pings (one per client per keepalive interval)
   * and the main loop around them. */
  {
    g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", (int) relay_pid);
    gint64 t_a = g_get_monotonic_time ();
    gint64 c_a = proc_ticks (stat_path);
    gint64 c_b;

    spin (10000);
    c_b = proc_ticks (stat_path);
    printf ("relay CPU while %u clients idle (keepalives only): %.0f%% of a core over %.0f s\n",
            registered, (c_b - c_a) * 100.0 / sysconf (_SC_CLK_TCK) /
            ((g_get_monotonic_time () - t_a) / 1e6), (g_get_monotonic_time () - t_a) / 1e6);
  }
  print_malloc_info ();
  fflush (stdout);

  kill (relay_pid, SIGTERM);
  waitpid (relay_pid, NULL, 0);
  unlink (log_path);
  rmdir (tmpdir);
  return registered == opt_clients ? 0 : 1;
}
