/* bench-forward-cost.c: what moving one voice message costs a forwarder, splice(2) against
 * a copy
 *
 * Issue 3 asks the relay to forward pipe bytes in the kernel with splice(2) and to hold at
 * least as many relayed calls as nginx's plain stream proxy, which copies (recv, then
 * send). This measures, on one CPU and without epoll or threads, the system calls each
 * forwarder makes per 160-byte message between two loopback TCP connections:
 *
 *   splice    socket -> kernel pipe -> socket (two splice(2) calls), as wzp's relay did
 *             until 2026-12-07 (bench/README.md)
 *   copy      recv(2) into a buffer, send(2) from it, as nginx and wzp's relay do
 *   probe     one splice(2) on an empty socket (EAGAIN): what an edge-triggered forwarder
 *             pays per wake-up to learn that a socket is drained (nginx skips it: a short
 *             recv() tells it so, which a short splice() does not)
 *
 * Each message is written by the sender, forwarded, and read by the receiver before the
 * next one; only the forwarder's calls are timed (CLOCK_MONOTONIC around them), so the
 * receiving socket's softirq work, which runs inside the forwarder's send, is included for
 * both, as it is in a real relay. It prints the median of --rounds rounds and the ratios.
 *
 * Usage: bench-forward-cost [--messages 200000] [--rounds 5] [--cpu 1] [--size 160]
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdarg.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

static int opt_messages = 200000;
static int opt_rounds = 5;
static int opt_cpu = 1;
static int opt_size = 160;

G_GNUC_NORETURN G_GNUC_PRINTF (1, 2) static void
die (const char *format, ...)
{
  va_list args;

  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
  exit (1);
}

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* A connected loopback TCP pair: *out is the sender's or receiver's end (blocking),
 * *in the forwarder's (non-blocking), both TCP_NODELAY like the relay's pipes. */
static void
tcp_pair (int *out,
          int *in)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;
  int one = 1;
  int listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (listener < 0 || bind (listener, (struct sockaddr *) &addr, len) != 0 ||
      listen (listener, 1) != 0 || getsockname (listener, (struct sockaddr *) &addr, &len) != 0)
    die ("loopback listener: %s", g_strerror (errno));
  *out = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (*out < 0 || connect (*out, (struct sockaddr *) &addr, len) != 0)
    die ("connect: %s", g_strerror (errno));
  *in = accept4 (listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (*in < 0)
    die ("accept: %s", g_strerror (errno));
  close (listener);
  setsockopt (*out, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt (*in, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

typedef enum { WAY_SPLICE, WAY_COPY, WAY_PROBE, N_WAYS } Way;
static const char *const way_names[] = { "splice", "copy", "probe" };

/* Nanoseconds per message of the forwarder's calls, one round. */
static double
measure (Way way)
{
  int sender, from, to, receiver, buf[2];
  g_autofree char *message = g_malloc0 (opt_size);
  g_autofree char *copy = g_malloc (65536);
  gint64 spent = 0;

  tcp_pair (&sender, &from);
  tcp_pair (&receiver, &to);
  if (pipe2 (buf, O_NONBLOCK | O_CLOEXEC) != 0)
    die ("pipe2: %s", g_strerror (errno));

  for (int i = 0; i < opt_messages; i++)
    {
      gint64 t0;
      ssize_t n = 0, sent = 0;

      if (way != WAY_PROBE && write (sender, message, opt_size) != opt_size)
        die ("write: %s", g_strerror (errno));
      /* Wait (untimed) until the message is there to forward. */
      if (way != WAY_PROBE)
        {
          char peek;

          while (recv (from, &peek, 1, MSG_PEEK) < 0 && errno == EAGAIN)
            ;
        }

      t0 = now_ns ();
      switch (way)
        {
        case WAY_SPLICE:
          n = syscall (SYS_splice, from, NULL, buf[1], NULL, 65536,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
          if (n > 0)
            sent = syscall (SYS_splice, buf[0], NULL, to, NULL, n,
                            SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
          break;
        case WAY_COPY:
          n = recv (from, copy, 65536, MSG_DONTWAIT);
          if (n > 0)
            sent = send (to, copy, n, MSG_DONTWAIT | MSG_NOSIGNAL);
          break;
        case WAY_PROBE:
          n = syscall (SYS_splice, from, NULL, buf[1], NULL, 65536,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
          break;
        case N_WAYS:
        default:
          g_assert_not_reached ();
        }
      spent += now_ns () - t0;

      if (way == WAY_PROBE)
        {
          if (n >= 0 || errno != EAGAIN)
            die ("probe: expected EAGAIN");
          continue;
        }
      if (n != opt_size || sent != n)
        die ("%s: forwarded %zd of %d bytes (%s)", way_names[way], sent, opt_size,
             n < 0 || sent < 0 ? g_strerror (errno) : "short");
      for (ssize_t got = 0; got < opt_size; )
        {
          ssize_t r = read (receiver, copy, opt_size - got);

          if (r <= 0)
            die ("read: %s", r < 0 ? g_strerror (errno) : "end of stream");
          got += r;
        }
    }

  close (sender);
  close (from);
  close (to);
  close (receiver);
  close (buf[0]);
  close (buf[1]);
  return (double) spent / opt_messages;
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

int
main (int    argc,
      char **argv)
{
  const GOptionEntry entries[] = {
    { "messages", 0, 0, G_OPTION_ARG_INT, &opt_messages, "Messages per round", "N" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &opt_rounds, "Rounds (the median is printed)", "N" },
    { "cpu", 0, 0, G_OPTION_ARG_INT, &opt_cpu, "CPU to run on (-1: any)", "N" },
    { "size", 0, 0, G_OPTION_ARG_INT, &opt_size, "Message size in bytes", "BYTES" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- per-message cost of splice against a copy");
  g_autoptr(GError) error = NULL;
  double results[N_WAYS][64];
  double median[N_WAYS];

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die ("%s", error->message);
  if (opt_rounds < 1 || opt_rounds > 64 || opt_messages < 1 || opt_size < 1 || opt_size > 65536)
    die ("--rounds 1-64, --messages > 0, --size 1-65536");
  if (opt_cpu >= 0)
    {
      cpu_set_t set;

      CPU_ZERO (&set);
      CPU_SET (opt_cpu, &set);
      if (sched_setaffinity (0, sizeof set, &set) != 0)
        die ("cannot run on CPU %d: %s", opt_cpu, g_strerror (errno));
    }

  printf ("# bench-forward-cost: %d-byte messages over loopback TCP, %d per round, %d rounds "
          "(interleaved), CPU %d\n", opt_size, opt_messages, opt_rounds, opt_cpu);
  for (int round = 0; round < opt_rounds; round++)
    for (Way way = 0; way < N_WAYS; way++)
      results[way][round] = measure (way);
  for (Way way = 0; way < N_WAYS; way++)
    {
      qsort (results[way], opt_rounds, sizeof (double), compare_doubles);
      median[way] = results[way][opt_rounds / 2];
      printf ("%-7s %7.0f ns per message (median; rounds %.0f-%.0f)\n", way_names[way],
              median[way], results[way][0], results[way][opt_rounds - 1]);
    }
  printf ("splice / copy           = %.2f\n", median[WAY_SPLICE] / median[WAY_COPY]);
  printf ("(splice + probe) / copy = %.2f   (an edge-triggered splice forwarder's calls per "
          "message, against nginx's)\n",
          (median[WAY_SPLICE] + median[WAY_PROBE]) / median[WAY_COPY]);
  return 0;
}
