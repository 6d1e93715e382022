/* bench-scale-gen.c: a load generator of the relay-at-scale benchmark (bench-relay-scale)
 *
 *   bench-scale-gen --ids PATH --slot K --slots M [--per-address A] [--cpu C]
 *   bench-scale-gen --sink [--cpu C]
 *
 * Client mode holds the clients whose global index i has i % M == K (identity i from the
 * identity file, source address from i), each a non-blocking GnuTLS connection in one epoll
 * loop: one thread, and a cost per event, not per connection, so that it measures the
 * relay and not itself. Every client reconnects after an end with the wzp client's policy
 * (250 ms doubling to 10 s, times a random factor in [0.5, 1.5)).
 *
 * Sink mode accepts TCP connections and holds them, reading and discarding: the upstream
 * that nginx's stream proxy needs behind its TLS listener.
 *
 * The benchmark talks to it on descriptor 3, one command a line:
 *   TARGET ADDR MODE    where the clients connect (MODE: relay or tls)
 *   GROW TOTAL WINDOW   start this slot's share of clients 0..TOTAL-1, at most WINDOW attempts
 *                       of new clients in flight
 *   STATS               answered with "STATS up=.. started=.. attempts=.. tcp=.. tls=..
 *                       refused=.. timeouts=.. lost=.."
 *   CLOSE               closes every client; answered with "OK"
 * End of file on descriptor 3 ends it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "bench-scale.h"

#define CONTROL_FD 3

static char  *opt_ids;
static int    opt_slot;
static int    opt_slots = 1;
static int    opt_per_address = 100;
static int    opt_cpu = -1;
static gboolean opt_sink;

static BsIds             *ids;
static BsClient          *clients;      /* this slot's clients, by local index */
static guint              n_clients;    /* allocated */
static guint              started;      /* local clients started since the last CLOSE */
static guint              target_local; /* how many GROW asked for */
static guint              window = 16;
static guint              in_window;
static struct sockaddr_in target;
static gboolean           register_mode = TRUE;

/* Counters, since the start */
static guint up, attempts, ends_tcp, ends_tls, ends_refused, ends_timeout, ends_lost;

static BsWatch control = { .fd = CONTROL_FD };
static GString *control_in;

static void start_more (void);

static void
client_up (BsClient *c)
{
  up++;
  if (c->in_window)
    {
      c->in_window = FALSE;
      in_window--;
      start_more ();
    }
}

static void
client_ended (BsClient *c,
              BsEnd     why,
              gboolean  was_up)
{
  if (was_up)
    up--;
  switch (why)
    {
    case BS_END_TCP: ends_tcp++; break;
    case BS_END_HANDSHAKE: ends_tls++; break;
    case BS_END_REFUSED: ends_refused++; break;
    case BS_END_TIMEOUT: ends_timeout++; break;
    case BS_END_LOST: ends_lost++; break;
    case BS_END_CLOSED:
      if (c->in_window)
        {
          c->in_window = FALSE;
          in_window--;
        }
      break;
    }
}

static void
client_message (BsClient   *c,
                WzpMessage *m)
{
  /* Idle clients get nothing but Pings (answered in bench-scale.c) and, at a relay that
   * stops, an Error; there is nothing to do with either. */
}

/* Every attempt, the first and those after a wait (which the client's timer starts). */
static void
client_attempt (BsClient *c)
{
  attempts++;
}

static const BsClientOps client_ops = { client_attempt, client_up, client_ended, client_message };

static void
start_more (void)
{
  while (in_window < window && started < target_local)
    {
      BsClient *c = &clients[started++];

      c->retry = TRUE;
      c->in_window = TRUE;
      in_window++;
      bs_client_start (c, &target, register_mode);
    }
}

static void
handle_command (char *line)
{
  g_auto(GStrv) words = g_strsplit (line, " ", -1);

  if (g_strcmp0 (words[0], "TARGET") == 0 && words[1] != NULL && words[2] != NULL)
    {
      if (!bs_parse_address (words[1], &target))
        bs_die ("bad target %s", words[1]);
      register_mode = strcmp (words[2], "relay") == 0;
    }
  else if (g_strcmp0 (words[0], "GROW") == 0 && words[1] != NULL && words[2] != NULL)
    {
      guint total = atoi (words[1]);

      /* Global indices slot, slot + slots, ... below total. */
      target_local = total > (guint) opt_slot ? (total - opt_slot + opt_slots - 1) / opt_slots : 0;
      if (target_local > n_clients)
        bs_die ("slot %d has %u clients, not %u", opt_slot, n_clients, target_local);
      window = MAX (atoi (words[2]), 1);
      start_more ();
    }
  else if (g_strcmp0 (words[0], "STATS") == 0)
    {
      guint retries = 0;

      for (guint i = 0; i < started; i++)
        if (clients[i].state == BS_CLIENT_WAITING)
          retries++;
      bs_chan_write_line (CONTROL_FD,
                          "STATS up=%u started=%u attempts=%u tcp=%u tls=%u refused=%u "
                          "timeouts=%u lost=%u waiting=%u",
                          up, started, attempts, ends_tcp, ends_tls, ends_refused,
                          ends_timeout, ends_lost, retries);
    }
  else if (g_strcmp0 (words[0], "CLOSE") == 0)
    {
      for (guint i = 0; i < started; i++)
        {
          clients[i].retry = FALSE;
          bs_client_close (&clients[i]);
        }
      started = target_local = 0;
      in_window = 0;
      bs_chan_write_line (CONTROL_FD, "OK");
    }
  else
    bs_die ("unknown command “%s”", line);
}

static void
control_io (BsWatch  *watch,
            uint32_t  events)
{
  char buf[4096];
  ssize_t n = read (CONTROL_FD, buf, sizeof buf);
  char *nl;

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0)
    exit (0);
  g_string_append_len (control_in, buf, n);
  while ((nl = memchr (control_in->str, '\n', control_in->len)) != NULL)
    {
      g_autofree char *line = g_strndup (control_in->str, nl - control_in->str);

      g_string_erase (control_in, 0, nl - control_in->str + 1);
      handle_command (line);
    }
}

/* Sink mode */

typedef struct
{
  BsWatch watch;
} Held;

static guint held;

static void
held_io (BsWatch  *watch,
         uint32_t  events)
{
  char buf[4096];
  ssize_t n = read (watch->fd, buf, sizeof buf);

  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
    {
      bs_watch_close (watch);
      held--;
      /* The Held stays allocated: events for it may still be in this batch. It is small,
       * and a sink lives for one benchmark phase. */
    }
}

static void
listener_io (BsWatch  *watch,
             uint32_t  events)
{
  for (;;)
    {
      int fd = accept4 (watch->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      Held *h;

      if (fd < 0)
        return;
      h = g_new0 (Held, 1);
      h->watch.fd = fd;
      h->watch.func = held_io;
      bs_watch_set (&h->watch, EPOLLIN);
      held++;
    }
}

static void
sink_command (char *line)
{
  if (g_str_has_prefix (line, "STATS"))
    bs_chan_write_line (CONTROL_FD, "STATS up=%u", held);
  else
    bs_die ("unknown command “%s”", line);
}

static void
sink_control_io (BsWatch  *watch,
                 uint32_t  events)
{
  char buf[256];
  ssize_t n = read (CONTROL_FD, buf, sizeof buf);
  char *nl;

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0)
    exit (0);
  g_string_append_len (control_in, buf, n);
  while ((nl = memchr (control_in->str, '\n', control_in->len)) != NULL)
    {
      g_autofree char *line = g_strndup (control_in->str, nl - control_in->str);

      g_string_erase (control_in, 0, nl - control_in->str + 1);
      sink_command (line);
    }
}

static int
run_sink (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;
  BsWatch listener = { .func = listener_io };
  int one = 1;

  listener.fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  setsockopt (listener.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind (listener.fd, (struct sockaddr *) &addr, sizeof addr) != 0 ||
      listen (listener.fd, 4096) != 0 ||
      getsockname (listener.fd, (struct sockaddr *) &addr, &len) != 0)
    bs_die ("sink: cannot listen: %s", g_strerror (errno));
  bs_watch_set (&listener, EPOLLIN);
  control.func = sink_control_io;
  bs_watch_set (&control, EPOLLIN);
  bs_chan_write_line (CONTROL_FD, "SINK 127.0.0.1:%u", ntohs (addr.sin_port));
  for (;;)
    bs_loop_iterate (G_MAXINT64);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  const GOptionEntry entries[] = {
    { "ids", 0, 0, G_OPTION_ARG_FILENAME, &opt_ids, "Identity file", "PATH" },
    { "slot", 0, 0, G_OPTION_ARG_INT, &opt_slot, "This generator's slot", "K" },
    { "slots", 0, 0, G_OPTION_ARG_INT, &opt_slots, "Number of generators", "M" },
    { "clients", 0, 0, G_OPTION_ARG_INT, &n_clients, "Clients of this slot at most", "N" },
    { "per-address", 0, 0, G_OPTION_ARG_INT, &opt_per_address, "Clients per source address",
      "N" },
    { "attempt-timeout", 0, 0, G_OPTION_ARG_INT, &bs_attempt_timeout_ms,
      "Deadline of one connection attempt", "MS" },
    { "cpu", 0, 0, G_OPTION_ARG_INT, &opt_cpu, "Pin to this CPU", "N" },
    { "sink", 0, 0, G_OPTION_ARG_NONE, &opt_sink, "Accept and hold connections", NULL },
    { NULL }
  };

  g_set_prgname ("bench-scale-gen");
  context = g_option_context_new ("- load generator of bench-relay-scale");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    bs_die ("%s", error->message);

  signal (SIGPIPE, SIG_IGN);
  bs_pin_to_cpu (opt_cpu);
  {
    struct rlimit rl;

    getrlimit (RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit (RLIMIT_NOFILE, &rl);
  }
  bs_loop_init ();
  control_in = g_string_new (NULL);
  control.func = control_io;

  if (opt_sink)
    return run_sink ();

  if (opt_ids == NULL || opt_slots < 1 || opt_slot < 0 || opt_slot >= opt_slots)
    bs_die ("--ids, --slot and --slots are needed");
  ids = bs_ids_load (opt_ids, 0, FALSE);
  clients = g_new0 (BsClient, MAX (n_clients, 1));
  for (guint i = 0; i < n_clients; i++)
    {
      guint index = opt_slot + i * opt_slots;
      struct sockaddr_in source;
      gsize length;
      const char *pem = bs_ids_pem (ids, index, &length);

      bs_client_source (index, opt_per_address, &source);
      bs_client_init (&clients[i], &client_ops, NULL, pem, length, &source);
      clients[i].index = index;
    }
  bs_watch_set (&control, EPOLLIN);
  bs_chan_write_line (CONTROL_FD, "READY");
  for (;;)
    bs_loop_iterate (G_MAXINT64);
}
