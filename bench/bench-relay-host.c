/* bench-relay-host.c: the process under test for the relay benchmarks
 *
 *   bench-relay-host [--cpu N] [--set NAME=VALUE ...]            hosts a WzpRelay
 *                    [--listen ADDR] [--pipe-listen ADDR] [--identity PATH]
 *   bench-relay-host --forward HOST:PORT [--cpu N]                minimal TCP forwarder
 *
 * Relay mode: an in-memory identity, one WzpRelay listening on 127.0.0.1 (signalling and
 * pipes on free ports), every --set applied as a relay property (the limits, such as
 * max-pipes-per-ip=100000). --listen and --identity (a key file, made if missing) let a
 * relay started again take the place of one that was killed: same port, same fingerprint
 * (--pipe-listen 127.0.0.1:0 keeps the pipe port from following the listen port). Forward
 * mode: the smallest forwarder that can be written, one epoll loop doing read(2)/write(2)
 * per connection pair: the reference that tells whether the load generator, not the proxy,
 * is the bottleneck.
 *
 * Either way it prints, on stdout, lines "KEY VALUE" ending with "READY", and runs until
 * stdin reaches end of file (the benchmark that started it exited) or SIGTERM/SIGINT.
 * SIGUSR1 makes the relay print malloc statistics (glibc malloc_info) on stderr.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "wzp-glib.h"
#include "wzp-relay-private.h"
#include "wzp-identity-private.h"
#include "wzp-tls-private.h"

static void
pin_to_cpu (int cpu)
{
  cpu_set_t set;

  if (cpu < 0)
    return;
  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  if (sched_setaffinity (0, sizeof set, &set) != 0)
    g_printerr ("bench-relay-host: cannot pin to CPU %d: %s\n", cpu, g_strerror (errno));
}

/* Root may raise the hard limit too: thousands of calls need more than 20,000 fds. */
static void
raise_nofile (rlim_t want)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    return;
  if (rl.rlim_max < want)
    {
      struct rlimit more = { want, want };

      if (setrlimit (RLIMIT_NOFILE, &more) == 0)
        return;
    }
  rl.rlim_cur = rl.rlim_max;
  setrlimit (RLIMIT_NOFILE, &rl);
}

/* Relay mode */

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
stdin_cb (int          fd,
          GIOCondition condition,
          gpointer     user_data)
{
  char buf[256];
  ssize_t n = read (fd, buf, sizeof buf);

  if (n > 0)
    return G_SOURCE_CONTINUE;
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
usr1_cb (gpointer user_data)
{
  WzpRelay *relay = user_data;
  struct mallinfo2 mi = mallinfo2 ();

  fprintf (stderr, "registrations %u calls %u\n", wzp_relay_get_n_registrations (relay),
           wzp_relay_get_n_calls (relay));
  fprintf (stderr, "mallinfo2 arena %zu hblkhd %zu uordblks %zu fordblks %zu keepcost %zu\n",
           mi.arena, mi.hblkhd, mi.uordblks, mi.fordblks, mi.keepcost);
  malloc_info (0, stderr);
  fprintf (stderr, "MALLOC_INFO_END\n");
  fflush (stderr);
  return G_SOURCE_CONTINUE;
}

static gboolean
set_property_from_text (GObject     *object,
                        const char  *assignment,
                        GError     **error)
{
  g_auto(GStrv) parts = g_strsplit (assignment, "=", 2);
  GParamSpec *pspec;
  guint64 value;

  if (parts[0] == NULL || parts[1] == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--set wants NAME=VALUE, not “%s”", assignment);
      return FALSE;
    }
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (object), parts[0]);
  if (pspec == NULL || G_PARAM_SPEC_VALUE_TYPE (pspec) != G_TYPE_UINT)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "“%s” is not a numeric relay property", parts[0]);
      return FALSE;
    }
  if (!g_ascii_string_to_unsigned (parts[1], 10, 0, G_MAXUINT, &value, error))
    return FALSE;
  g_object_set (object, parts[0], (guint) value, NULL);
  return TRUE;
}

static void
identity_loaded_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  WzpIdentity *identity = wzp_identity_load_or_create_finish (result, &error);

  if (identity == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, identity, g_object_unref);
  g_object_unref (task);
}

static WzpIdentity *
load_identity (const char  *path,
               GError     **error)
{
  g_autoptr(GTask) task = NULL;

  if (path == NULL)
    return _wzp_identity_new_ephemeral (error);
  task = g_task_new (NULL, NULL, NULL, NULL);
  wzp_identity_load_or_create_async (path, NULL, identity_loaded_cb, g_object_ref (task));
  while (!g_task_get_completed (task))
    g_main_context_iteration (NULL, TRUE);
  return g_task_propagate_pointer (task, error);
}

static int
run_relay (char       **sets,
           const char  *listen_address,
           const char  *pipe_address,
           const char  *identity_path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpIdentity) identity = load_identity (identity_path, &error);
  g_autoptr(WzpRelay) relay = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_auto(GStrv) listen = NULL;
  g_auto(GStrv) pipes = NULL;

  if (identity == NULL)
    {
      g_printerr ("bench-relay-host: no identity: %s\n", error->message);
      return 1;
    }
  relay = wzp_relay_new (identity);
  for (char **s = sets; s != NULL && *s != NULL; s++)
    if (!set_property_from_text (G_OBJECT (relay), *s, &error))
      {
        g_printerr ("bench-relay-host: %s\n", error->message);
        return 2;
      }
  if (!wzp_relay_listen (relay, listen_address ? listen_address : "127.0.0.1:0", pipe_address,
                         &error))
    {
      g_printerr ("bench-relay-host: %s\n", error->message);
      return 1;
    }

  listen = wzp_relay_dup_listen_addresses (relay);
  pipes = wzp_relay_dup_pipe_addresses (relay);
  printf ("LISTEN %s\nPIPE %s\nFINGERPRINT %s\nPID %d\nREADY\n", listen[0], pipes[0],
          wzp_relay_get_fingerprint (relay), (int) getpid ());
  fflush (stdout);

  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_unix_signal_add (SIGUSR1, usr1_cb, relay);
  g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, stdin_cb, loop);
  g_main_loop_run (loop);

  wzp_relay_stop (relay);
  return 0;
}

/* Forward mode: one epoll loop, read(2) and write(2), a 16 KiB buffer per direction. */

typedef struct Side Side;
struct Side
{
  int    fd;
  Side  *peer;
  char   buf[16384];   /* bytes read from fd, not yet written to peer->fd */
  size_t len;
  size_t off;
  gboolean in_paused;  /* not reading fd: buf is full */
  gboolean out_wait;   /* waiting for EPOLLOUT on fd */
};

static int epfd;

static void
side_update (Side *s)
{
  struct epoll_event ev = { 0 };

  ev.events = (s->in_paused ? 0 : EPOLLIN) | (s->out_wait ? EPOLLOUT : 0);
  ev.data.ptr = s;
  epoll_ctl (epfd, EPOLL_CTL_MOD, s->fd, &ev);
}

static void
pair_close (Side *s)
{
  Side *p = s->peer;

  epoll_ctl (epfd, EPOLL_CTL_DEL, s->fd, NULL);
  epoll_ctl (epfd, EPOLL_CTL_DEL, p->fd, NULL);
  close (s->fd);
  close (p->fd);
  s->fd = p->fd = -1;
  /* Freed lazily: events for either side may still be in the current batch. */
}

/* Writes what @s holds to its peer; FALSE when the pair was closed. */
static gboolean
side_flush (Side *s)
{
  Side *p = s->peer;

  while (s->off < s->len)
    {
      ssize_t n = write (p->fd, s->buf + s->off, s->len - s->off);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          if (!s->in_paused)
            {
              s->in_paused = TRUE;
              side_update (s);
            }
          if (!p->out_wait)
            {
              p->out_wait = TRUE;
              side_update (p);
            }
          return TRUE;
        }
      if (n <= 0)
        {
          pair_close (s);
          return FALSE;
        }
      s->off += n;
    }
  s->off = s->len = 0;
  if (s->in_paused)
    {
      s->in_paused = FALSE;
      side_update (s);
    }
  return TRUE;
}

static int
listen_loopback (struct sockaddr_in *bound)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof *bound;
  int one = 1;

  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind (fd, (struct sockaddr *) &sin, sizeof sin) != 0 || listen (fd, 4096) != 0)
    return -1;
  getsockname (fd, (struct sockaddr *) bound, &len);
  return fd;
}

static int
run_forwarder (const char *upstream_text)
{
  g_autoptr(GInetSocketAddress) upstream_addr = _wzp_address_parse (upstream_text, NULL);
  struct sockaddr_storage upstream;
  struct sockaddr_in bound;
  struct epoll_event events[256];
  struct epoll_event ev = { 0 };
  int lfd;
  int sig_fd;
  sigset_t mask;
  GPtrArray *graveyard = g_ptr_array_new_with_free_func (g_free);

  if (upstream_addr == NULL ||
      !g_socket_address_to_native (G_SOCKET_ADDRESS (upstream_addr), &upstream,
                                   sizeof upstream, NULL))
    {
      g_printerr ("bench-relay-host: bad upstream “%s”\n", upstream_text);
      return 2;
    }
  lfd = listen_loopback (&bound);
  if (lfd < 0)
    {
      g_printerr ("bench-relay-host: cannot listen: %s\n", g_strerror (errno));
      return 1;
    }

  epfd = epoll_create1 (EPOLL_CLOEXEC);
  ev.events = EPOLLIN;
  ev.data.ptr = NULL;
  epoll_ctl (epfd, EPOLL_CTL_ADD, lfd, &ev);
  ev.data.ptr = &epfd;   /* marks stdin */
  ev.events = EPOLLIN | EPOLLHUP;
  epoll_ctl (epfd, EPOLL_CTL_ADD, STDIN_FILENO, &ev);
  sigemptyset (&mask);
  sigaddset (&mask, SIGTERM);
  sigaddset (&mask, SIGINT);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  sig_fd = signalfd (-1, &mask, SFD_CLOEXEC);
  ev.data.ptr = &sig_fd;
  ev.events = EPOLLIN;
  epoll_ctl (epfd, EPOLL_CTL_ADD, sig_fd, &ev);

  printf ("LISTEN 127.0.0.1:%u\nPID %d\nREADY\n", ntohs (bound.sin_port), (int) getpid ());
  fflush (stdout);

  for (;;)
    {
      int n = epoll_wait (epfd, events, G_N_ELEMENTS (events), -1);

      for (int i = 0; i < n; i++)
        {
          Side *s = events[i].data.ptr;

          if ((void *) s == &epfd || (void *) s == &sig_fd)
            {
              char buf[256];

              if ((void *) s == &epfd && read (STDIN_FILENO, buf, sizeof buf) > 0)
                continue;
              return 0;
            }
          if (s == NULL)
            {
              for (;;)
                {
                  int cfd = accept4 (lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                  int ufd;
                  int one = 1;
                  Side *a;
                  Side *b;

                  if (cfd < 0)
                    break;
                  ufd = socket (upstream.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                  if (connect (ufd, (struct sockaddr *) &upstream,
                               upstream.ss_family == AF_INET6 ? sizeof (struct sockaddr_in6)
                                                              : sizeof (struct sockaddr_in)) != 0 &&
                      errno != EINPROGRESS)
                    {
                      close (cfd);
                      close (ufd);
                      continue;
                    }
                  setsockopt (cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                  setsockopt (ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                  a = g_new0 (Side, 1);
                  b = g_new0 (Side, 1);
                  a->fd = cfd;
                  b->fd = ufd;
                  a->peer = b;
                  b->peer = a;
                  ev.events = EPOLLIN;
                  ev.data.ptr = a;
                  epoll_ctl (epfd, EPOLL_CTL_ADD, cfd, &ev);
                  /* Until the upstream connect completes, writes to it would fail with
                   * EAGAIN, which the generic path handles: read, EAGAIN, EPOLLOUT. */
                  ev.data.ptr = b;
                  epoll_ctl (epfd, EPOLL_CTL_ADD, ufd, &ev);
                }
              continue;
            }
          if (s->fd < 0)
            continue;

          if (events[i].events & EPOLLOUT)
            {
              Side *p = s->peer;

              s->out_wait = FALSE;
              side_update (s);
              if (!side_flush (p))
                {
                  g_ptr_array_add (graveyard, s);
                  g_ptr_array_add (graveyard, p);
                  continue;
                }
            }
          if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !s->in_paused)
            {
              ssize_t r = read (s->fd, s->buf, sizeof s->buf);

              if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
              if (r <= 0)
                {
                  Side *p = s->peer;

                  pair_close (s);
                  g_ptr_array_add (graveyard, s);
                  g_ptr_array_add (graveyard, p);
                  continue;
                }
              s->len = r;
              s->off = 0;
              if (!side_flush (s))
                {
                  g_ptr_array_add (graveyard, s);
                  g_ptr_array_add (graveyard, s->peer);
                }
            }
        }
      g_ptr_array_set_size (graveyard, 0);
    }
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) sets = NULL;
  g_autofree char *forward = NULL;
  g_autofree char *listen_address = NULL;
  g_autofree char *pipe_address = NULL;
  g_autofree char *identity_path = NULL;
  int cpu = -1;
  const GOptionEntry entries[] = {
    { "cpu", 0, 0, G_OPTION_ARG_INT, &cpu, "Pin to this CPU", "N" },
    { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Set a relay property", "NAME=VALUE" },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen_address,
      "Listen for signalling here (default 127.0.0.1:0)", "ADDR" },
    { "pipe-listen", 0, 0, G_OPTION_ARG_STRING, &pipe_address,
      "Listen for pipes here (default: the listen port plus one, or 0)", "ADDR" },
    { "identity", 0, 0, G_OPTION_ARG_FILENAME, &identity_path,
      "The relay's key file, made if missing (default: a new one in memory)", "PATH" },
    { "forward", 0, 0, G_OPTION_ARG_STRING, &forward,
      "Be a minimal TCP forwarder to this address instead of a relay", "HOST:PORT" },
    { NULL }
  };

  context = g_option_context_new ("- host a relay (or a minimal forwarder) for benchmarks");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-relay-host: %s\n", error->message);
      return 2;
    }

  signal (SIGPIPE, SIG_IGN);
  pin_to_cpu (cpu);
  raise_nofile (1 << 18);

  if (forward != NULL)
    return run_forwarder (forward);
  return run_relay (sets, listen_address, pipe_address, identity_path);
}
