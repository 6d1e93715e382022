/* bench-relay-scale.c: the relay with tens of thousands of idle registered clients
 * (issue 20, bench/README.md "Relay at scale")
 *
 * Starts bench-relay-host (a WzpRelay at its default limits) pinned to one CPU and load
 * generators (bench-scale-gen, single-threaded epoll programs on non-blocking GnuTLS) on
 * the other; each generator holds at most --per-generator connections, since a process
 * may hold at most 20,000 descriptors here. Clients come from 127.1.x.y, --per-address
 * to an address, so the relay's per-address limits hold at their defaults. Sections:
 *
 *  1. steps: N idle registered clients (mutual TLS, RegisterPresence, answering Pings),
 *     N = --steps; for each the registrations per second while ramping to N (at most
 *     --window attempts in flight), then with N idle: Reflect round trips of a probe
 *     client, call set-ups between two more clients (DirectCallOffer, the callee's
 *     DirectCallAnswer, CallSetup at both), the relay's CPU while idle, its RSS and the
 *     kernel's socket memory per client;
 *  2. nginx's stream module terminating TLS, holding the same N idle connections: the
 *     reference for idle CPU and memory per connection;
 *  3. restart storm: --storm clients registered, the relay killed (SIGKILL) and started
 *     again on the same port with the same identity; every client reconnects with the
 *     wzp client's backoff: the time until all are registered again;
 *  4. the attacks of the hardening issue (idle TCP flood, ClientHellos trickled a byte a
 *     second, stalled handshakes) while a real client registers from a fresh address.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bench-scale.h"
#include "bench-stats.h"
#include "wzp-tls-private.h"

/* The issue's targets, at the largest N against N = 1,000. */
#define TARGET_P50_RATIO      1.5
#define TARGET_P99_ADDED_MS   10.0
#define TARGET_RATE_RATIO     0.8
#define TARGET_IDLE_CPU       5.0
#define TARGET_KIB_PER_CLIENT 32.0
#define TARGET_STORM_N        10000
#define TARGET_STORM_S        30.0

static char    *opt_steps = "1000,5000,10000,max";
static int      opt_storm = 10000;
static int      opt_window = 32;
static int      opt_reflects = 300;
static int      opt_reflect_rate = 20;
static int      opt_calls = 30;
static int      opt_idle_seconds = 15;
static int      opt_probe_seconds = 60;
static int      opt_cpu = 1;
static int      opt_gen_cpu = 0;
static int      opt_per_generator = 7000;
static int      opt_per_address = 100;
static int      opt_flood = 2000;
static int      opt_trickle = 200;
static int      opt_stalled = 200;
static int      opt_nginx_workers;
static int      opt_attempt_timeout = 60000;
static char    *opt_ids = "/tmp/wzp-bench-scale-identities.pem";
static char    *opt_host_bin;
static char    *opt_gen_bin;
static char    *opt_nginx = "/usr/sbin/nginx";
static char    *opt_nginx_module = "/usr/lib/nginx/modules/ngx_stream_module.so";
static char   **opt_sets;
static gboolean opt_quick;
static gboolean opt_no_nginx;
static gboolean opt_no_attacks;
static gboolean opt_no_steps;

static char   *tmpdir;
static BsIds  *ids;
static long    clk_tck;

/* Processes */

typedef struct
{
  pid_t pid;
  int   fd;       /* control socket */
  char *address;  /* sinks: where they listen */
} Gen;

static Gen   *gens;
static guint  n_gens;
static Gen   *sinks;
static guint  n_sinks;

typedef struct
{
  pid_t  pid;
  int    in_fd;
  char  *listen;
  char  *fingerprint;
  char  *log_path;
} Relay;

typedef struct
{
  guint up, started, attempts, tcp, tls, refused, timeouts, lost, waiting;
} Stats;

static pid_t
spawn (char      **argv,
       int         cpu,
       int         stdin_fd,
       int         stdout_fd,
       int         control_fd,
       const char *log_path)
{
  pid_t pid = fork ();

  if (pid < 0)
    bs_die ("fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      int log_fd = open (log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      int null_fd = open ("/dev/null", O_RDWR | O_CLOEXEC);

      prctl (PR_SET_PDEATHSIG, SIGKILL);
      bs_pin_to_cpu (cpu);
      dup2 (stdin_fd >= 0 ? stdin_fd : null_fd, STDIN_FILENO);
      dup2 (stdout_fd >= 0 ? stdout_fd : log_fd, STDOUT_FILENO);
      dup2 (log_fd, STDERR_FILENO);
      if (control_fd >= 0)
        dup2 (control_fd, 3);
      execv (argv[0], argv);
      _exit (127);
    }
  return pid;
}

static Gen
gen_spawn (guint    slot,
           guint    slots,
           guint    clients,
           gboolean sink)
{
  g_autofree char *slot_arg = g_strdup_printf ("--slot=%u", slot);
  g_autofree char *slots_arg = g_strdup_printf ("--slots=%u", slots);
  g_autofree char *clients_arg = g_strdup_printf ("--clients=%u", clients);
  g_autofree char *ids_arg = g_strdup_printf ("--ids=%s", opt_ids);
  g_autofree char *cpu_arg = g_strdup_printf ("--cpu=%d", opt_gen_cpu);
  g_autofree char *pa_arg = g_strdup_printf ("--per-address=%d", opt_per_address);
  g_autofree char *timeout_arg = g_strdup_printf ("--attempt-timeout=%d", opt_attempt_timeout);
  g_autofree char *log_path = g_build_filename (tmpdir, sink ? "sink.log" : "gen.log", NULL);
  char *client_argv[] = { opt_gen_bin, slot_arg, slots_arg, clients_arg, ids_arg, cpu_arg,
                          pa_arg, timeout_arg, NULL };
  char *sink_argv[] = { opt_gen_bin, "--sink", cpu_arg, NULL };
  g_autofree char *line = NULL;
  int sv[2];
  Gen g = { 0 };

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    bs_die ("socketpair: %s", g_strerror (errno));
  g.pid = spawn (sink ? sink_argv : client_argv, opt_gen_cpu, -1, -1, sv[1], log_path);
  close (sv[1]);
  g.fd = sv[0];
  line = bs_chan_read_line (g.fd);
  if (line == NULL)
    bs_die ("a generator did not start; see %s", log_path);
  if (sink && g_str_has_prefix (line, "SINK "))
    g.address = g_strdup (line + 5);
  else if (sink || strcmp (line, "READY") != 0)
    bs_die ("a generator said “%s”", line);
  return g;
}

static void
parse_stats (const char *line,
             Stats      *s)
{
  g_auto(GStrv) words = g_strsplit (line, " ", -1);

  for (char **w = words; *w != NULL; w++)
    {
      guint v;

      if (sscanf (*w, "up=%u", &v) == 1) s->up += v;
      else if (sscanf (*w, "started=%u", &v) == 1) s->started += v;
      else if (sscanf (*w, "attempts=%u", &v) == 1) s->attempts += v;
      else if (sscanf (*w, "tcp=%u", &v) == 1) s->tcp += v;
      else if (sscanf (*w, "tls=%u", &v) == 1) s->tls += v;
      else if (sscanf (*w, "refused=%u", &v) == 1) s->refused += v;
      else if (sscanf (*w, "timeouts=%u", &v) == 1) s->timeouts += v;
      else if (sscanf (*w, "lost=%u", &v) == 1) s->lost += v;
      else if (sscanf (*w, "waiting=%u", &v) == 1) s->waiting += v;
    }
}

static Stats
gens_stats (Gen   *list,
            guint  n)
{
  Stats s = { 0 };

  for (guint i = 0; i < n; i++)
    bs_chan_write_line (list[i].fd, "STATS");
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *line = bs_chan_read_line (list[i].fd);

      if (line == NULL)
        bs_die ("a generator exited; see %s/gen.log", tmpdir);
      parse_stats (line, &s);
    }
  return s;
}

/* Closes every generator's clients, and lets the kernel settle before the next phase
 * takes its memory baseline. */
static void
gens_close_all (void)
{
  for (guint i = 0; i < n_gens; i++)
    bs_chan_write_line (gens[i].fd, "CLOSE");
  for (guint i = 0; i < n_gens; i++)
    g_free (bs_chan_read_line (gens[i].fd));
  bs_spin_ms (2000);
}

static gint64
gens_ticks (Gen   *list,
            guint  n)
{
  gint64 t = 0;

  for (guint i = 0; i < n; i++)
    t += bs_proc_ticks (list[i].pid);
  return t;
}

static void
relay_start (Relay      *r,
             const char *listen)
{
  g_autofree char *cpu_arg = g_strdup_printf ("--cpu=%d", opt_cpu);
  g_autofree char *listen_arg = g_strdup_printf ("--listen=%s", listen);
  g_autofree char *identity_arg = g_strdup_printf ("--identity=%s/relay-identity.pem", tmpdir);
  GPtrArray *argv = g_ptr_array_new ();
  int in_pipe[2], out_pipe[2];
  char *line;

  g_ptr_array_add (argv, opt_host_bin);
  g_ptr_array_add (argv, cpu_arg);
  g_ptr_array_add (argv, listen_arg);
  /* Any free port: the port after a fixed listen port (the relay's default) may be taken
   * by anyone's connection on a shared machine. */
  g_ptr_array_add (argv, "--pipe-listen=127.0.0.1:0");
  g_ptr_array_add (argv, identity_arg);
  for (char **s = opt_sets; s != NULL && *s != NULL; s++)
    {
      g_ptr_array_add (argv, "--set");
      g_ptr_array_add (argv, *s);
    }
  g_ptr_array_add (argv, NULL);

  if (pipe2 (in_pipe, O_CLOEXEC) != 0 || pipe2 (out_pipe, O_CLOEXEC) != 0)
    bs_die ("pipe: %s", g_strerror (errno));
  g_free (r->log_path);
  r->log_path = g_build_filename (tmpdir, "relay.log", NULL);
  r->pid = spawn ((char **) argv->pdata, opt_cpu, in_pipe[0], out_pipe[1], -1, r->log_path);
  close (in_pipe[0]);
  close (out_pipe[1]);
  r->in_fd = in_pipe[1];   /* the relay lives until we close it (or exit) */
  g_ptr_array_unref (argv);

  while ((line = bs_chan_read_line (out_pipe[0])) != NULL)
    {
      gboolean ready = strcmp (line, "READY") == 0;

      if (g_str_has_prefix (line, "LISTEN "))
        {
          g_free (r->listen);
          r->listen = g_strdup (line + 7);
        }
      else if (g_str_has_prefix (line, "FINGERPRINT "))
        {
          g_free (r->fingerprint);
          r->fingerprint = g_strdup (line + 12);
        }
      g_free (line);
      if (ready)
        break;
    }
  close (out_pipe[0]);
  if (r->listen == NULL)
    bs_die ("the relay did not start; see %s", r->log_path);
}

static void
relay_stop (Relay *r,
            int    sig)
{
  if (r->pid <= 0)
    return;
  kill (r->pid, sig);
  waitpid (r->pid, NULL, 0);
  close (r->in_fd);
  r->pid = 0;
}

static void
relay_check_alive (Relay *r)
{
  if (r->pid > 0 && waitpid (r->pid, NULL, WNOHANG) == r->pid)
    bs_die ("the relay exited; see %s", r->log_path);
}

/* Probe clients, in this process: each its own fresh identity */

typedef struct
{
  BsClient  c;
  char     *pem;
  char     *fingerprint;
  GQueue    inbox;     /* of WzpMessage */
  gboolean  up;
  gboolean  ended;
  BsEnd     why;
} Probe;

static void
probe_up (BsClient *c)
{
  ((Probe *) c->user_data)->up = TRUE;
}

static void
probe_ended (BsClient *c,
             BsEnd     why,
             gboolean  was_up)
{
  Probe *p = c->user_data;

  p->ended = TRUE;
  p->up = FALSE;
  p->why = why;
}

static void
probe_message (BsClient   *c,
               WzpMessage *m)
{
  g_queue_push_tail (&((Probe *) c->user_data)->inbox, _wzp_message_ref (m));
}

static const BsClientOps probe_ops = { NULL, probe_up, probe_ended, probe_message };

static Probe *
probe_new (guint group,
           guint n)
{
  Probe *p = g_new0 (Probe, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsCertificate) certificate = NULL;
  struct sockaddr_in source;

  p->pem = _wzp_tls_generate_pem (&error);
  if (p->pem == NULL)
    bs_die ("identity: %s", error->message);
  certificate = _wzp_tls_certificate_new_from_pem (p->pem, -1, &p->fingerprint, &error);
  if (certificate == NULL)
    bs_die ("identity: %s", error->message);
  bs_extra_source (group, n, &source);
  bs_client_init (&p->c, &probe_ops, p, p->pem, strlen (p->pem), &source);
  return p;
}

static void
probe_free (Probe *p)
{
  bs_client_close (&p->c);
  g_queue_clear_full (&p->inbox, (GDestroyNotify) _wzp_message_unref);
  g_free (p->pem);
  g_free (p->fingerprint);
  g_free (p);
}

/* Registers @p at @target; the time it took in us, or -1 (the attempt ended or took
 * longer than @timeout_ms). */
static gint64
probe_register (Probe      *p,
                const char *target,
                guint       timeout_ms)
{
  struct sockaddr_in addr;
  gint64 start = bs_now_us (), end = start + (gint64) timeout_ms * 1000;

  if (!bs_parse_address (target, &addr))
    bs_die ("bad address %s", target);
  p->up = p->ended = FALSE;
  bs_client_start (&p->c, &addr, TRUE);
  while (!p->up && !p->ended && bs_now_us () < end)
    bs_loop_iterate (end);
  if (!p->up)
    {
      bs_client_close (&p->c);
      return -1;
    }
  return bs_now_us () - start;
}

/* The first message of @type in @p's inbox, waiting up to @timeout_ms; NULL if none came
 * or the connection ended. */
static WzpMessage *
probe_expect (Probe          *p,
              WzpMessageType  type,
              guint           timeout_ms)
{
  gint64 end = bs_now_us () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      for (GList *l = p->inbox.head; l != NULL; l = l->next)
        if (_wzp_message_get_message_type (l->data) == type)
          {
            WzpMessage *m = l->data;

            g_queue_delete_link (&p->inbox, l);
            return m;
          }
      if (p->ended || bs_now_us () >= end)
        return NULL;
      bs_loop_iterate (end);
    }
}

static void
probe_clear_inbox (Probe *p)
{
  g_queue_clear_full (&p->inbox, (GDestroyNotify) _wzp_message_unref);
  g_queue_init (&p->inbox);
}

/* Measurements */

static double
cpu_percent (gint64 ticks,
             gint64 elapsed_us)
{
  return elapsed_us > 0 ? ticks * 100.0 / clk_tck / (elapsed_us / 1e6) : NAN;
}

typedef struct
{
  guint  n;
  double seconds;
  double rate;          /* new connections up per second */
  double target_cpu;    /* % of a core, the relay (or nginx) during the ramp */
  double gen_cpu;       /* % of a core, all generators together */
  gboolean complete;
  Stats  stats;         /* after the ramp */
} Ramp;

static pid_t *watched_pids;   /* what the ramps and idle readings measure */
static guint  n_watched;

static gint64
watched_ticks (void)
{
  gint64 t = 0;

  for (guint i = 0; i < n_watched; i++)
    t += bs_proc_ticks (watched_pids[i]);
  return t;
}

static gint64
watched_rss_kib (void)
{
  gint64 kib = 0;

  for (guint i = 0; i < n_watched; i++)
    kib += MAX (bs_proc_status_kib (watched_pids[i], "VmRSS"), 0);
  return kib;
}

static Ramp
ramp_to (guint  n,
         guint  from,
         Relay *relay)
{
  Ramp r = { .n = n };
  gint64 t0 = bs_now_us ();
  gint64 deadline = t0 + (gint64) (60 + (n - MIN (n, from)) / 20) * G_USEC_PER_SEC;
  gint64 ticks0 = watched_ticks (), gen0 = gens_ticks (gens, n_gens);
  guint per_gen_window = MAX (1, (guint) opt_window / n_gens);
  gint64 last_report = t0;

  for (guint i = 0; i < n_gens; i++)
    bs_chan_write_line (gens[i].fd, "GROW %u %u", n, per_gen_window);
  for (;;)
    {
      bs_spin_ms (20);
      r.stats = gens_stats (gens, n_gens);
      if (relay != NULL)
        relay_check_alive (relay);
      if (r.stats.up >= n || bs_now_us () > deadline)
        break;
      if (bs_now_us () - last_report > 10 * G_USEC_PER_SEC)
        {
          fprintf (stderr, "#   %u of %u up (%u refused, %u timed out so far)\n", r.stats.up, n,
                   r.stats.tcp + r.stats.tls + r.stats.refused, r.stats.timeouts);
          last_report = bs_now_us ();
        }
    }
  r.complete = r.stats.up >= n;
  r.seconds = (bs_now_us () - t0) / 1e6;
  r.rate = (r.stats.up - MIN (r.stats.up, from)) / r.seconds;
  r.target_cpu = cpu_percent (watched_ticks () - ticks0, bs_now_us () - t0);
  r.gen_cpu = cpu_percent (gens_ticks (gens, n_gens) - gen0, bs_now_us () - t0);
  return r;
}

/* CPU of the watched processes over @seconds in which nothing happens but keepalives;
 * the generators' in @gen_cpu (a check: they must be idle too). */
static double
idle_cpu (guint   seconds,
          double *gen_cpu)
{
  gint64 t0 = bs_now_us ();
  gint64 ticks0 = watched_ticks ();
  gint64 gen0 = gens_ticks (gens, n_gens);

  bs_spin_ms (seconds * 1000);
  *gen_cpu = cpu_percent (gens_ticks (gens, n_gens) - gen0, bs_now_us () - t0);
  return cpu_percent (watched_ticks () - ticks0, bs_now_us () - t0);
}

typedef struct
{
  double p50_ms, p99_ms, max_ms;
  guint  ok, failed;
} Latency;

static Latency
latency_of (GArray *samples_ms,
            guint   failed)
{
  Latency l = { .ok = samples_ms->len, .failed = failed };

  l.p50_ms = bench_percentile (samples_ms, 50);
  l.p99_ms = bench_percentile (samples_ms, 99);
  l.max_ms = bench_percentile (samples_ms, 100);
  return l;
}

static Latency
measure_reflect (Probe *probe)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 period = G_USEC_PER_SEC / MAX (opt_reflect_rate, 1);
  gint64 start = bs_now_us ();
  guint failed = 0;

  /* A relay that takes seconds to answer would make 300 samples last for ever: the
   * probe stops after --probe-seconds, with the samples it has. */
  gint64 end = start + (gint64) opt_probe_seconds * G_USEC_PER_SEC;

  for (int i = 0; i < opt_reflects && !probe->ended && bs_now_us () < end; i++)
    {
      g_autoptr(WzpMessage) reflect = _wzp_message_new (WZP_MESSAGE_REFLECT);
      g_autoptr(WzpMessage) response = NULL;
      gint64 t0, next = start + i * period;

      while (bs_now_us () < next)
        bs_loop_iterate (next);
      t0 = bs_now_us ();
      bs_client_send (&probe->c, reflect);
      response = probe_expect (probe, WZP_MESSAGE_REFLECT_RESPONSE, 5000);
      if (response == NULL)
        failed++;
      else
        {
          double ms = (bs_now_us () - t0) / 1000.0;

          g_array_append_val (samples, ms);
        }
    }
  return latency_of (samples, failed);
}

/* DirectCallOffer from @caller to @callee, the callee answers, CallSetup at both: the time
 * from the offer to the later CallSetup. Then the caller hangs up. */
static Latency
measure_calls (Probe *caller,
               Probe *callee)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 period = 200 * 1000;
  gint64 start = bs_now_us ();
  guint failed = 0;

  gint64 end = start + (gint64) opt_probe_seconds * G_USEC_PER_SEC;

  for (int i = 0; i < opt_calls && !caller->ended && !callee->ended && bs_now_us () < end; i++)
    {
      g_autofree char *call_id = g_uuid_string_random ();
      g_autoptr(WzpMessage) offer = _wzp_message_new_for_call (WZP_MESSAGE_DIRECT_CALL_OFFER,
                                                               call_id);
      g_autoptr(WzpMessage) answer = _wzp_message_new_for_call (WZP_MESSAGE_DIRECT_CALL_ANSWER,
                                                                call_id);
      g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);
      g_autoptr(WzpMessage) got_offer = NULL;
      g_autoptr(WzpMessage) setup_a = NULL;
      g_autoptr(WzpMessage) setup_b = NULL;
      g_autoptr(WzpMessage) got_hangup = NULL;
      gint64 t0, next = start + i * period;

      while (bs_now_us () < next)
        bs_loop_iterate (next);
      probe_clear_inbox (caller);
      probe_clear_inbox (callee);
      _wzp_message_set_string (offer, "target_fingerprint", callee->fingerprint);
      _wzp_message_set_string (offer, "caller_alias", "scale bench caller");
      _wzp_message_set_string (answer, "accept_mode", "AcceptGeneric");
      _wzp_message_set_string (hangup, "reason", "Normal");

      t0 = bs_now_us ();
      bs_client_send (&caller->c, offer);
      got_offer = probe_expect (callee, WZP_MESSAGE_DIRECT_CALL_OFFER, 5000);
      if (got_offer != NULL)
        {
          bs_client_send (&callee->c, answer);
          setup_a = probe_expect (caller, WZP_MESSAGE_CALL_SETUP, 5000);
          setup_b = probe_expect (callee, WZP_MESSAGE_CALL_SETUP, 5000);
        }
      if (setup_a != NULL && setup_b != NULL)
        {
          double ms = (bs_now_us () - t0) / 1000.0;

          g_array_append_val (samples, ms);
        }
      else
        failed++;
      bs_client_send (&caller->c, hangup);
      got_hangup = probe_expect (callee, WZP_MESSAGE_HANGUP, 2000);
    }
  return latency_of (samples, failed);
}

/* Kernel and process memory */

typedef struct
{
  gint64 rss_kib;
  gint64 tcp_pages;
  gint64 slab_kib;
} Memory;

static Memory
memory_now (void)
{
  Memory m = { watched_rss_kib (), bs_sockstat_tcp_mem_pages (), bs_meminfo_kib ("Slab") };

  return m;
}

typedef struct
{
  double kib_process;   /* RSS growth per client, KiB */
  double tcp_bytes;     /* sockstat TCP mem growth per client, bytes */
  double slab_kib;      /* kernel slab growth per client, KiB (both ends of loopback) */
} PerClient;

static PerClient
per_client (Memory before,
            Memory after,
            guint  n)
{
  PerClient p;

  p.kib_process = (double) (after.rss_kib - before.rss_kib) / MAX (n, 1);
  p.tcp_bytes = (double) (after.tcp_pages - before.tcp_pages) * 4096 / MAX (n, 1);
  p.slab_kib = (double) (after.slab_kib - before.slab_kib) / MAX (n, 1);
  return p;
}

/* Section 1: the relay with N idle clients */

typedef struct
{
  Ramp      ramp;
  Latency   reflect;
  Latency   call;
  double    idle_cpu;
  double    gen_idle_cpu;
  double    others;      /* % of the relay's CPU others took while Reflect and calls ran */
  PerClient mem;
  guint     lost;        /* clients that lost their connection during the step */
} RelayStep;

typedef struct
{
  Ramp      ramp;
  double    idle_cpu;
  double    gen_idle_cpu;
  PerClient mem;
  guint     workers;
} NginxStep;

static GArray *steps;   /* of guint */

static void
print_header (const char *title)
{
  printf ("\n## %s\n\n", title);
}

static RelayStep *
run_relay_steps (void)
{
  RelayStep *results = g_new0 (RelayStep, steps->len);
  Relay relay = { 0 };
  Probe *probe, *caller, *callee;
  Memory before;
  guint prev = 0, lost_before = 0;
  GString *notes = g_string_new (NULL);

  relay_start (&relay, "127.0.0.1:0");
  watched_pids = &relay.pid;
  n_watched = 1;
  for (guint i = 0; i < n_gens; i++)
    bs_chan_write_line (gens[i].fd, "TARGET %s relay", relay.listen);

  probe = probe_new (2, 0);
  caller = probe_new (2, 1);
  callee = probe_new (2, 2);
  if (probe_register (probe, relay.listen, 10000) < 0 ||
      probe_register (caller, relay.listen, 10000) < 0 ||
      probe_register (callee, relay.listen, 10000) < 0)
    bs_die ("the probe clients could not register; see %s", relay.log_path);
  bs_spin_ms (1000);
  before = memory_now ();

  print_header ("1. Relay with N idle registered clients");
  printf ("| N | ramp | reg/s | relay CPU in ramp | gen CPU in ramp | Reflect p50 / p99 (max) "
          "| call set-up p50 / p99 (max) | others | idle CPU | gen idle | RSS/client "
          "| TCP mem/client | slab/client | lost |\n");
  printf ("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
          "| --- |\n");
  fflush (stdout);

  for (guint s = 0; s < steps->len; s++)
    {
      RelayStep *r = &results[s];
      guint n = g_array_index (steps, guint, s);
      Stats after;

      fprintf (stderr, "# relay: ramping to %u clients\n", n);
      r->ramp = ramp_to (n, prev, &relay);
      prev = n;
      if (!r->ramp.complete)
        fprintf (stderr, "# only %u of %u registered; measuring anyway\n", r->ramp.stats.up, n);
      bs_spin_ms (2000);
      fprintf (stderr, "# relay: %u idle: Reflect, calls, idle CPU\n", r->ramp.stats.up);
      {
        gint64 t0 = bs_now_us (), core0 = bs_core_busy_ticks (opt_cpu);
        gint64 own0 = watched_ticks ();

        r->reflect = measure_reflect (probe);
        r->call = measure_calls (caller, callee);
        r->others = cpu_percent ((bs_core_busy_ticks (opt_cpu) - core0) -
                                 (watched_ticks () - own0), bs_now_us () - t0);
      }
      r->idle_cpu = idle_cpu (opt_idle_seconds, &r->gen_idle_cpu);
      r->mem = per_client (before, memory_now (), r->ramp.stats.up);
      after = gens_stats (gens, n_gens);
      r->lost = after.lost - lost_before;
      lost_before = after.lost;

      g_autofree char *of = r->ramp.complete ? g_strdup ("") : g_strdup_printf (" (of %u)", n);

      printf ("| %u%s | %.1f s | %.0f | %.0f%% | %.0f%% | %.2f / %.2f (%.1f) ms%s "
              "| %.2f / %.2f (%.1f) ms%s | %.0f%% | %.1f%% | %.1f%% | %.1f KiB | %.0f B "
              "| %.2f KiB | %u |\n",
              r->ramp.stats.up, of,
              r->ramp.seconds, r->ramp.rate, r->ramp.target_cpu, r->ramp.gen_cpu,
              r->reflect.p50_ms, r->reflect.p99_ms, r->reflect.max_ms,
              r->reflect.failed ? " **lost answers**" : "",
              r->call.p50_ms, r->call.p99_ms, r->call.max_ms,
              r->call.failed ? " **failed calls**" : "", MAX (r->others, 0),
              r->idle_cpu, r->gen_idle_cpu, r->mem.kib_process, r->mem.tcp_bytes,
              r->mem.slab_kib, r->lost);
      if (r->reflect.failed || r->call.failed ||
          r->reflect.ok + r->reflect.failed < (guint) opt_reflects ||
          r->call.ok + r->call.failed < (guint) opt_calls)
        g_string_append_printf (notes, "- N = %u: %u Reflects answered, %u not within 5 s; "
                                "%u calls set up, %u not (5 s per message); the probes stop "
                                "after %d s each.\n", r->ramp.stats.up, r->reflect.ok,
                                r->reflect.failed, r->call.ok, r->call.failed,
                                opt_probe_seconds);
      fflush (stdout);
      if (probe->ended || caller->ended || callee->ended)
        bs_die ("a probe client lost its connection; see %s", relay.log_path);
    }

  if (notes->len > 0)
    printf ("\n%s", notes->str);
  g_string_free (notes, TRUE);
  probe_free (probe);
  probe_free (caller);
  probe_free (callee);
  gens_close_all ();
  relay_stop (&relay, SIGTERM);
  n_watched = 0;
  return results;
}

/* Section 2: nginx */

static GArray *
nginx_pids (pid_t master)
{
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;

  g_array_append_val (pids, master);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *text = NULL;
      const char *p;
      int ppid;
      pid_t pid = atoi (name);

      if (pid <= 0)
        continue;
      path = g_strdup_printf ("/proc/%s/stat", name);
      if (!g_file_get_contents (path, &text, NULL, NULL) || (p = strrchr (text, ')')) == NULL)
        continue;
      if (sscanf (p + 2, "%*c %d", &ppid) == 1 && ppid == master)
        g_array_append_val (pids, pid);
    }
  return pids;
}

static int
free_port (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int port;

  bind (fd, (struct sockaddr *) &addr, sizeof addr);
  getsockname (fd, (struct sockaddr *) &addr, &len);
  port = ntohs (addr.sin_port);
  close (fd);
  return port;
}

/* nginx's workers are the master's children, not ours: a benchmark that exits half-way
 * must stop the master, which stops them. */
static pid_t nginx_master;

static void
nginx_stop (void)
{
  if (nginx_master <= 0)
    return;
  kill (nginx_master, SIGTERM);
  waitpid (nginx_master, NULL, 0);
  nginx_master = 0;
}

static pid_t
nginx_start (guint   workers,
             char  **listen_out)
{
  g_autofree char *template_path = g_build_filename (BENCH_SRCDIR,
                                                     "nginx-stream-tls-idle.conf.in", NULL);
  g_autofree char *template_text = NULL;
  g_autofree char *conf_path = g_build_filename (tmpdir, "nginx.conf", NULL);
  g_autofree char *pid_path = g_build_filename (tmpdir, "nginx.pid", NULL);
  g_autofree char *log_path = g_build_filename (tmpdir, "nginx.log", NULL);
  g_autofree char *cert_path = g_build_filename (tmpdir, "nginx.pem", NULL);
  g_autofree char *pem = NULL;
  g_autofree char *workers_text = g_strdup_printf ("%u", workers);
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%d", free_port ());
  g_autoptr(GError) error = NULL;
  GString *conf;
  GString *upstreams = g_string_new (NULL);
  char *argv[] = { opt_nginx, "-p", tmpdir, "-c", conf_path, "-e", log_path, NULL };
  pid_t pid;

  if (!g_file_get_contents (template_path, &template_text, NULL, &error))
    bs_die ("%s", error->message);
  pem = _wzp_tls_generate_pem (&error);
  if (pem == NULL || !g_file_set_contents (cert_path, pem, -1, &error))
    bs_die ("nginx certificate: %s", error->message);
  for (guint i = 0; i < n_sinks; i++)
    g_string_append_printf (upstreams, "        server %s;\n", sinks[i].address);

  conf = g_string_new (template_text);
  g_string_replace (conf, "@MODULE@", opt_nginx_module, 0);
  g_string_replace (conf, "@WORKERS@", workers_text, 0);
  g_string_replace (conf, "@NOFILE@", "20000", 0);
  g_string_replace (conf, "@CONNECTIONS@", "19000", 0);
  g_string_replace (conf, "@PID@", pid_path, 0);
  g_string_replace (conf, "@LOG@", log_path, 0);
  g_string_replace (conf, "@UPSTREAMS@", upstreams->str, 0);
  g_string_replace (conf, "@LISTEN@", listen, 0);
  g_string_replace (conf, "@CERT@", cert_path, 0);
  if (!g_file_set_contents (conf_path, conf->str, conf->len, &error))
    bs_die ("%s", error->message);
  g_string_free (conf, TRUE);
  g_string_free (upstreams, TRUE);
  unlink (pid_path);

  pid = spawn (argv, opt_cpu, -1, -1, -1, log_path);
  nginx_master = pid;
  /* nginx writes its pid file once it listens. */
  for (int i = 0; i < 200 && !g_file_test (pid_path, G_FILE_TEST_EXISTS); i++)
    {
      if (waitpid (pid, NULL, WNOHANG) == pid)
        bs_die ("nginx exited at start-up; see %s", log_path);
      g_usleep (20000);
    }
  if (!g_file_test (pid_path, G_FILE_TEST_EXISTS))
    bs_die ("nginx did not start; see %s", log_path);
  g_usleep (300000);   /* its workers */
  *listen_out = g_steal_pointer (&listen);
  return pid;
}

static NginxStep *
run_nginx_steps (guint max_n)
{
  NginxStep *results = g_new0 (NginxStep, steps->len);
  g_autoptr(GArray) pids = NULL;
  g_autofree char *listen = NULL;
  /* Two descriptors per proxied connection, 20,000 per process. */
  guint workers = opt_nginx_workers > 0 ? (guint) opt_nginx_workers
                                        : MAX (1, (2 * max_n + 14999) / 15000);
  pid_t master;
  Memory before;
  guint prev = 0;

  n_sinks = MAX (1, (max_n + 14999) / 15000);
  sinks = g_new0 (Gen, n_sinks);
  for (guint i = 0; i < n_sinks; i++)
    sinks[i] = gen_spawn (0, 1, 0, TRUE);

  master = nginx_start (workers, &listen);
  pids = nginx_pids (master);
  watched_pids = (pid_t *) pids->data;
  n_watched = pids->len;
  for (guint i = 0; i < n_gens; i++)
    bs_chan_write_line (gens[i].fd, "TARGET %s tls", listen);
  bs_spin_ms (1000);
  before = memory_now ();

  print_header ("2. nginx stream, TLS terminated, holding N idle connections (reference)");
  printf ("nginx: %u worker(s) and the master, all on CPU %d; each connection proxied in "
          "plain TCP to a sink (%u sink process(es)).\n\n", workers, opt_cpu, n_sinks);
  printf ("| N | ramp | handshakes/s | nginx CPU in ramp | gen CPU in ramp | idle CPU "
          "| gen idle | RSS/connection | TCP mem/connection | slab/connection |\n");
  printf ("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  fflush (stdout);

  for (guint s = 0; s < steps->len; s++)
    {
      NginxStep *r = &results[s];
      guint n = g_array_index (steps, guint, s);

      fprintf (stderr, "# nginx: ramping to %u connections\n", n);
      r->workers = workers;
      r->ramp = ramp_to (n, prev, NULL);
      prev = n;
      bs_spin_ms (2000);
      r->idle_cpu = idle_cpu (opt_idle_seconds, &r->gen_idle_cpu);
      r->mem = per_client (before, memory_now (), r->ramp.stats.up);
      printf ("| %u | %.1f s | %.0f | %.0f%% | %.0f%% | %.1f%% | %.1f%% | %.1f KiB | %.0f B "
              "| %.2f KiB |\n",
              r->ramp.stats.up, r->ramp.seconds, r->ramp.rate, r->ramp.target_cpu,
              r->ramp.gen_cpu, r->idle_cpu, r->gen_idle_cpu, r->mem.kib_process,
              r->mem.tcp_bytes, r->mem.slab_kib);
      fflush (stdout);
    }

  gens_close_all ();
  nginx_stop ();
  n_watched = 0;
  for (guint i = 0; i < n_sinks; i++)
    {
      close (sinks[i].fd);   /* end of file ends a sink */
      waitpid (sinks[i].pid, NULL, 0);
    }
  return results;
}

/* Section 3: restart storm */

typedef struct
{
  guint  n;
  gboolean complete;
  double seconds_all;
  double seconds_half, seconds_90;
  guint  registered;
  guint  attempts;
  guint  refused_tcp, refused_tls, refused_error, timeouts;
} Storm;

static Storm
run_storm (guint n)
{
  Storm st = { .n = n };
  Relay relay = { 0 };
  g_autofree char *listen = NULL;
  g_autofree char *fingerprint = NULL;
  Stats before, now;
  gint64 t_kill, deadline;
  Ramp ramp;

  relay_start (&relay, "127.0.0.1:0");
  listen = g_strdup (relay.listen);
  fingerprint = g_strdup (relay.fingerprint);
  watched_pids = &relay.pid;
  n_watched = 1;
  for (guint i = 0; i < n_gens; i++)
    bs_chan_write_line (gens[i].fd, "TARGET %s relay", listen);
  fprintf (stderr, "# storm: registering %u clients\n", n);
  ramp = ramp_to (n, 0, &relay);
  if (!ramp.complete)
    bs_die ("only %u of %u clients registered before the storm", ramp.stats.up, n);
  bs_spin_ms (2000);
  before = gens_stats (gens, n_gens);

  fprintf (stderr, "# storm: SIGKILL to the relay, and a new one on %s\n", listen);
  t_kill = bs_now_us ();
  relay_stop (&relay, SIGKILL);
  relay_start (&relay, listen);
  if (g_strcmp0 (relay.listen, listen) != 0 || g_strcmp0 (relay.fingerprint, fingerprint) != 0)
    bs_die ("the new relay is not at %s as %s but at %s as %s", listen, fingerprint,
            relay.listen, relay.fingerprint);
  deadline = bs_now_us () + 180 * G_USEC_PER_SEC;
  for (;;)
    {
      bs_spin_ms (20);
      now = gens_stats (gens, n_gens);
      relay_check_alive (&relay);
      if (st.seconds_half == 0 && now.up >= n / 2)
        st.seconds_half = (bs_now_us () - t_kill) / 1e6;
      if (st.seconds_90 == 0 && now.up >= n * 9 / 10)
        st.seconds_90 = (bs_now_us () - t_kill) / 1e6;
      if (now.up >= n || bs_now_us () > deadline)
        break;
    }
  st.complete = now.up >= n;
  st.seconds_all = (bs_now_us () - t_kill) / 1e6;
  st.registered = now.up;
  st.attempts = now.attempts - before.attempts;
  st.refused_tcp = now.tcp - before.tcp;
  st.refused_tls = now.tls - before.tls;
  st.refused_error = now.refused - before.refused;
  st.timeouts = now.timeouts - before.timeouts;

  gens_close_all ();
  relay_stop (&relay, SIGTERM);
  n_watched = 0;
  return st;
}

/* Section 4: attacks */

typedef enum { ATTACK_IDLE, ATTACK_TRICKLE, ATTACK_STALLED } AttackKind;

typedef struct
{
  BsWatch    watch;
  BsTimer    timer;    /* trickle: the next byte; all: reopening after a close */
  AttackKind kind;
  guint      n;
  gsize      sent;
  gboolean   connected;
} Attacker;

static GBytes            *client_hello;
static struct sockaddr_in attack_target;
static guint              attack_open, attack_closed_by_relay;

/* A real ClientHello: a GnuTLS client's first record, as a relay client sends it. */
static GBytes *
capture_client_hello (void)
{
  gnutls_certificate_credentials_t cred;
  gnutls_session_t session;
  g_autofree char *pem = _wzp_tls_generate_pem (NULL);
  gnutls_datum_t datum = { (unsigned char *) pem, strlen (pem) };
  guint8 record[5 + 16384];
  gsize have = 0;
  int sv[2];

  socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
  fcntl (sv[0], F_SETFL, O_NONBLOCK);
  gnutls_certificate_allocate_credentials (&cred);
  gnutls_certificate_set_x509_key_mem2 (cred, &datum, &datum, GNUTLS_X509_FMT_PEM, NULL, 0);
  gnutls_init (&session, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
  gnutls_set_default_priority (session);
  gnutls_credentials_set (session, GNUTLS_CRD_CERTIFICATE, cred);
  gnutls_transport_set_int (session, sv[0]);
  gnutls_handshake (session);   /* sends the ClientHello, then would wait */
  while (have < 5 || have < 5 + (gsize) ((record[3] << 8) | record[4]))
    {
      ssize_t n = read (sv[1], record + have, sizeof record - have);

      if (n <= 0)
        bs_die ("could not capture a ClientHello");
      have += n;
    }
  gnutls_deinit (session);
  gnutls_certificate_free_credentials (cred);
  close (sv[0]);
  close (sv[1]);
  return g_bytes_new (record, have);
}

static void attacker_open (Attacker *a);

static void
attacker_closed (Attacker *a)
{
  if (a->watch.fd >= 0)
    {
      bs_watch_close (&a->watch);
      attack_open--;
      attack_closed_by_relay++;
    }
  bs_timer_start (&a->timer, bs_now_us () + 100 * 1000);   /* and back again */
}

static void
attacker_send (Attacker *a,
               gsize     count)
{
  gsize length;
  const guint8 *hello = g_bytes_get_data (client_hello, &length);
  ssize_t n;

  count = MIN (count, length - a->sent);
  if (count == 0)
    return;
  n = send (a->watch.fd, hello + a->sent, count, MSG_NOSIGNAL);
  if (n < 0 && errno != EAGAIN)
    {
      attacker_closed (a);
      return;
    }
  if (n > 0)
    a->sent += n;
}

static void
attacker_io (BsWatch  *watch,
             uint32_t  events)
{
  Attacker *a = (Attacker *) ((char *) watch - G_STRUCT_OFFSET (Attacker, watch));

  if (!a->connected)
    {
      int err = 0;
      socklen_t len = sizeof err;

      getsockopt (watch->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0)
        {
          attacker_closed (a);
          return;
        }
      a->connected = TRUE;
      bs_watch_set (watch, EPOLLIN | EPOLLRDHUP);
      if (a->kind == ATTACK_STALLED)
        attacker_send (a, G_MAXSIZE);
      else if (a->kind == ATTACK_TRICKLE)
        bs_timer_start (&a->timer, bs_now_us () + G_USEC_PER_SEC);
      return;
    }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    {
      char buf[4096];
      ssize_t n = recv (watch->fd, buf, sizeof buf, MSG_DONTWAIT);

      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || (events & EPOLLRDHUP))
        attacker_closed (a);
    }
}

static void
attacker_timer (BsTimer *timer)
{
  Attacker *a = (Attacker *) ((char *) timer - G_STRUCT_OFFSET (Attacker, timer));

  if (a->watch.fd < 0)
    {
      attacker_open (a);
      return;
    }
  /* trickle: one more byte a second */
  attacker_send (a, 1);
  if (a->watch.fd >= 0)
    bs_timer_start (&a->timer, bs_now_us () + G_USEC_PER_SEC);
}

static void
attacker_open (Attacker *a)
{
  struct sockaddr_in source;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;

  /* From four addresses, as in tests/test-relay-accept.c. */
  bs_extra_source (3, a->n % 4, &source);
  setsockopt (fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  if (fd < 0 || bind (fd, (struct sockaddr *) &source, sizeof source) != 0)
    bs_die ("attacker socket: %s", g_strerror (errno));
  a->watch.fd = fd;
  a->connected = FALSE;
  a->sent = 0;
  attack_open++;
  if (connect (fd, (struct sockaddr *) &attack_target, sizeof attack_target) != 0 &&
      errno != EINPROGRESS)
    {
      attacker_closed (a);
      return;
    }
  bs_watch_set (&a->watch, EPOLLOUT);
}

typedef struct
{
  const char *name;
  guint       connections;
  guint       open_at_register;
  guint       closed_by_relay;
  double      register_ms;   /* < 0: did not register */
} AttackResult;

static AttackResult
run_attack (AttackKind  kind,
            const char *name,
            guint       connections,
            const char *relay_listen,
            guint       fresh)
{
  AttackResult r = { .name = name, .connections = connections };
  Attacker *attackers = g_new0 (Attacker, connections);
  Probe *real = probe_new (4, fresh);
  gint64 elapsed;

  attack_open = attack_closed_by_relay = 0;
  for (guint i = 0; i < connections; i++)
    {
      attackers[i].kind = kind;
      attackers[i].n = i;
      attackers[i].watch.fd = -1;
      attackers[i].watch.func = attacker_io;
      bs_timer_init (&attackers[i].timer, attacker_timer);
      attacker_open (&attackers[i]);
    }
  bs_spin_ms (kind == ATTACK_TRICKLE ? 3000 : 2000);   /* the attack is in place */
  r.open_at_register = attack_open;
  elapsed = probe_register (real, relay_listen, 30000);
  r.register_ms = elapsed < 0 ? -1 : elapsed / 1000.0;
  r.closed_by_relay = attack_closed_by_relay;

  for (guint i = 0; i < connections; i++)
    {
      bs_timer_stop (&attackers[i].timer);
      bs_watch_close (&attackers[i].watch);
    }
  probe_free (real);
  bs_spin_ms (20);   /* events still queued for the attackers are dropped (fd -1) */
  g_free (attackers);
  return r;
}

static void
run_attacks (void)
{
  Relay relay = { 0 };
  AttackResult results[4];
  Probe *baseline;
  gint64 elapsed;
  guint n = 0;

  relay_start (&relay, "127.0.0.1:0");
  if (!bs_parse_address (relay.listen, &attack_target))
    bs_die ("bad relay address %s", relay.listen);
  client_hello = capture_client_hello ();

  baseline = probe_new (4, 0);
  elapsed = probe_register (baseline, relay.listen, 30000);
  results[n++] = (AttackResult) { "none (baseline)", 0, 0, 0, elapsed < 0 ? -1 : elapsed / 1000.0 };
  probe_free (baseline);
  bs_spin_ms (500);

  fprintf (stderr, "# attacks: idle TCP flood\n");
  results[n++] = run_attack (ATTACK_IDLE, "idle TCP connections", opt_flood, relay.listen, 1);
  bs_spin_ms (2000);
  fprintf (stderr, "# attacks: trickled ClientHellos\n");
  results[n++] = run_attack (ATTACK_TRICKLE, "ClientHello a byte a second", opt_trickle,
                             relay.listen, 2);
  bs_spin_ms (2000);
  fprintf (stderr, "# attacks: stalled handshakes\n");
  results[n++] = run_attack (ATTACK_STALLED, "ClientHello, then nothing", opt_stalled,
                             relay.listen, 3);
  relay_check_alive (&relay);
  relay_stop (&relay, SIGTERM);

  print_header ("4. Attacks while a real client registers (fresh address, default limits)");
  printf ("| attack | attacker connections (from 4 addresses) | open when the client connected "
          "| closed by the relay meanwhile | the real client registered in |\n");
  printf ("| --- | --- | --- | --- | --- |\n");
  for (guint i = 0; i < n; i++)
    {
      if (results[i].register_ms < 0)
        printf ("| %s | %u | %u | %u | **did not register within 30 s** |\n", results[i].name,
                results[i].connections, results[i].open_at_register,
                results[i].closed_by_relay);
      else
        printf ("| %s | %u | %u | %u | %.1f ms |\n", results[i].name, results[i].connections,
                results[i].open_at_register, results[i].closed_by_relay,
                results[i].register_ms);
    }
  fflush (stdout);
}

/* Summary */

static const char *
verdict (gboolean ok)
{
  return ok ? "PASS" : "MISS";
}

static void
print_comparisons (RelayStep *relay_steps,
                   NginxStep *nginx_steps)
{
  guint base = 0;
  guint last = steps->len - 1;
  RelayStep *b, *l;

  for (guint s = 0; s < steps->len; s++)
    if (g_array_index (steps, guint, s) == 1000)
      base = s;
  b = &relay_steps[base];
  l = &relay_steps[last];

  print_header ("Each step against the first (N = 1,000 when measured)");
  printf ("| N | reg/s ratio | Reflect p50 ratio | Reflect p99 added | call p50 ratio "
          "| call p99 added | idle CPU |\n");
  printf ("| --- | --- | --- | --- | --- | --- | --- |\n");
  for (guint s = 0; s < steps->len; s++)
    {
      RelayStep *r = &relay_steps[s];

      printf ("| %u | %.2f | %.2f | %+.1f ms | %.2f | %+.1f ms | %.1f%% |\n",
              r->ramp.stats.up, r->ramp.rate / b->ramp.rate,
              r->reflect.p50_ms / b->reflect.p50_ms, r->reflect.p99_ms - b->reflect.p99_ms,
              r->call.p50_ms / b->call.p50_ms, r->call.p99_ms - b->call.p99_ms, r->idle_cpu);
    }

  if (nginx_steps != NULL)
    {
      print_header ("Relay against nginx, same N");
      printf ("| N (relay / nginx when they differ) | idle CPU relay / nginx "
              "| RSS per client relay / nginx | ratio "
              "| TCP mem per client relay / nginx | slab per client relay / nginx |\n");
      printf ("| --- | --- | --- | --- | --- | --- |\n");
      for (guint s = 0; s < steps->len; s++)
        {
          RelayStep *r = &relay_steps[s];
          NginxStep *x = &nginx_steps[s];

          g_autofree char *n_text = r->ramp.stats.up == x->ramp.stats.up
                                    ? g_strdup_printf ("%u", r->ramp.stats.up)
                                    : g_strdup_printf ("%u / %u", r->ramp.stats.up,
                                                       x->ramp.stats.up);

          printf ("| %s | %.1f%% / %.1f%% | %.1f / %.1f KiB | %.2f | %.0f / %.0f B "
                  "| %.2f / %.2f KiB |\n",
                  n_text, r->idle_cpu, x->idle_cpu, r->mem.kib_process,
                  x->mem.kib_process,
                  x->mem.kib_process > 0 ? r->mem.kib_process / x->mem.kib_process : NAN,
                  r->mem.tcp_bytes, x->mem.tcp_bytes, r->mem.slab_kib, x->mem.slab_kib);
        }
    }

  print_header ("Summary: the issue's targets at the largest N");
  printf ("Largest N: %u, against N = %u.\n\n", l->ramp.stats.up, b->ramp.stats.up);
  printf ("- %s Reflect p50 %.2f ms, %.2fx (target <= %.1fx)\n",
          verdict (l->reflect.p50_ms <= TARGET_P50_RATIO * b->reflect.p50_ms),
          l->reflect.p50_ms, l->reflect.p50_ms / b->reflect.p50_ms, TARGET_P50_RATIO);
  printf ("- %s Reflect p99 %.2f ms, %+.1f ms (target <= +%.0f ms)\n",
          verdict (l->reflect.p99_ms <= b->reflect.p99_ms + TARGET_P99_ADDED_MS),
          l->reflect.p99_ms, l->reflect.p99_ms - b->reflect.p99_ms, TARGET_P99_ADDED_MS);
  printf ("- %s call set-up p50 %.2f ms, %.2fx (target <= %.1fx)\n",
          verdict (l->call.p50_ms <= TARGET_P50_RATIO * b->call.p50_ms),
          l->call.p50_ms, l->call.p50_ms / b->call.p50_ms, TARGET_P50_RATIO);
  printf ("- %s call set-up p99 %.2f ms, %+.1f ms (target <= +%.0f ms)\n",
          verdict (l->call.p99_ms <= b->call.p99_ms + TARGET_P99_ADDED_MS),
          l->call.p99_ms, l->call.p99_ms - b->call.p99_ms, TARGET_P99_ADDED_MS);
  printf ("- %s registrations %.0f/s, %.2fx (target >= %.1fx)\n",
          verdict (l->ramp.rate >= TARGET_RATE_RATIO * b->ramp.rate),
          l->ramp.rate, l->ramp.rate / b->ramp.rate, TARGET_RATE_RATIO);
  printf ("- %s idle CPU %.1f%% of a core (target <= %.0f%%)\n",
          verdict (l->idle_cpu <= TARGET_IDLE_CPU), l->idle_cpu, TARGET_IDLE_CPU);
  printf ("- %s RSS %.1f KiB per idle client (target <= %.0f KiB); kernel: %.0f B TCP "
          "buffers and %.2f KiB slab per client, both ends of the loopback connection\n",
          verdict (l->mem.kib_process <= TARGET_KIB_PER_CLIENT), l->mem.kib_process,
          TARGET_KIB_PER_CLIENT, l->mem.tcp_bytes, l->mem.slab_kib);
  if (l->reflect.failed || l->call.failed || l->lost)
    printf ("- MISS at N = %u: %u Reflects unanswered, %u calls not set up, %u clients lost\n",
            l->ramp.stats.up, l->reflect.failed, l->call.failed, l->lost);
}

static void
print_storm (const Storm *st)
{
  print_header ("3. Restart storm: the relay killed and started again");
  printf ("%u registered clients; SIGKILL, a new relay on the same port with the same "
          "identity; each client reconnects after 250 ms doubling to 10 s, times a random "
          "factor in [0.5, 1.5).\n\n", st->n);
  printf ("| clients | all registered again after | half | 90%% | attempts | refused at TCP "
          "| closed in TLS | refused with an Error | attempts timed out |\n");
  printf ("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  g_autofree char *half = st->seconds_half > 0 ? g_strdup_printf ("%.1f s", st->seconds_half)
                                               : g_strdup ("not reached");
  g_autofree char *ninety = st->seconds_90 > 0 ? g_strdup_printf ("%.1f s", st->seconds_90)
                                               : g_strdup ("not reached");

  printf ("| %u | %s%.1f s | %s | %s | %u | %u | %u | %u | %u |\n", st->n,
          st->complete ? "" : "not within 180 s: ", st->seconds_all, half, ninety, st->attempts, st->refused_tcp, st->refused_tls, st->refused_error,
          st->timeouts);
  if (!st->complete)
    printf ("\n%u of %u registered again.\n", st->registered, st->n);
  if (st->n >= TARGET_STORM_N)
    printf ("\n- %s %u clients registered again in %.1f s (target: %u within %.0f s)\n",
            verdict (st->complete && st->seconds_all <= TARGET_STORM_S), st->n,
            st->seconds_all, TARGET_STORM_N, TARGET_STORM_S);
  else
    printf ("\n(The target, %u within %.0f s, is for %u clients.)\n", TARGET_STORM_N,
            TARGET_STORM_S, TARGET_STORM_N);
  fflush (stdout);
}

static guint
largest_n (void)
{
  struct rlimit rl;

  getrlimit (RLIMIT_NOFILE, &rl);
  /* The relay keeps min-free-fds (64) in reserve and has its own descriptors (listeners,
   * the loop, D-Bus-less logging, the probe clients): stay 400 under its limit. */
  return ((guint) MIN (rl.rlim_max, 1000000) - 400) / 500 * 500;
}

static void
parse_steps (void)
{
  g_auto(GStrv) parts = g_strsplit (opt_steps, ",", -1);

  steps = g_array_new (FALSE, FALSE, sizeof (guint));
  for (char **p = parts; *p != NULL; p++)
    {
      guint64 v;
      guint n;

      if (strcmp (*p, "max") == 0)
        n = largest_n ();
      else if (g_ascii_string_to_unsigned (*p, 10, 1, 10000000, &v, NULL))
        n = v;
      else
        bs_die ("--steps wants numbers (or max) separated by commas, not “%s”", opt_steps);
      if (steps->len > 0 && n <= g_array_index (steps, guint, steps->len - 1))
        bs_die ("--steps must grow");
      g_array_append_val (steps, n);
    }
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  RelayStep *relay_steps = NULL;
  NginxStep *nginx_steps = NULL;
  guint max_n, need;
  double load;
  const GOptionEntry entries[] = {
    { "steps", 0, 0, G_OPTION_ARG_STRING, &opt_steps,
      "Numbers of idle clients, growing (max: as many as the descriptor limit allows)",
      "N,N,..." },
    { "storm", 0, 0, G_OPTION_ARG_INT, &opt_storm, "Clients in the restart storm (0: none)",
      "N" },
    { "window", 0, 0, G_OPTION_ARG_INT, &opt_window, "Connection attempts in flight in a ramp",
      "N" },
    { "reflects", 0, 0, G_OPTION_ARG_INT, &opt_reflects, "Reflect round trips per step", "N" },
    { "reflect-rate", 0, 0, G_OPTION_ARG_INT, &opt_reflect_rate, "Reflects per second", "N" },
    { "calls", 0, 0, G_OPTION_ARG_INT, &opt_calls, "Calls set up per step", "N" },
    { "probe-seconds", 0, 0, G_OPTION_ARG_INT, &opt_probe_seconds,
      "At most this long for the Reflects, and again for the calls, of a step", "S" },
    { "idle-seconds", 0, 0, G_OPTION_ARG_INT, &opt_idle_seconds,
      "How long idle CPU is measured", "S" },
    { "cpu", 0, 0, G_OPTION_ARG_INT, &opt_cpu, "CPU of the relay and nginx", "N" },
    { "gen-cpu", 0, 0, G_OPTION_ARG_INT, &opt_gen_cpu, "CPU of the generators", "N" },
    { "per-generator", 0, 0, G_OPTION_ARG_INT, &opt_per_generator,
      "Connections per generator process at most", "N" },
    { "per-address", 0, 0, G_OPTION_ARG_INT, &opt_per_address,
      "Clients per source address (127.1.x.y)", "N" },
    { "flood", 0, 0, G_OPTION_ARG_INT, &opt_flood, "Idle TCP connections of the flood", "N" },
    { "trickle", 0, 0, G_OPTION_ARG_INT, &opt_trickle, "Trickling connections", "N" },
    { "stalled", 0, 0, G_OPTION_ARG_INT, &opt_stalled, "Stalled handshakes", "N" },
    { "ids", 0, 0, G_OPTION_ARG_FILENAME, &opt_ids, "Client identity cache", "PATH" },
    { "host", 0, 0, G_OPTION_ARG_FILENAME, &opt_host_bin, "bench-relay-host program", "PATH" },
    { "gen", 0, 0, G_OPTION_ARG_FILENAME, &opt_gen_bin, "bench-scale-gen program", "PATH" },
    { "nginx", 0, 0, G_OPTION_ARG_FILENAME, &opt_nginx, "nginx program", "PATH" },
    { "nginx-module", 0, 0, G_OPTION_ARG_FILENAME, &opt_nginx_module, "nginx stream module",
      "PATH" },
    { "attempt-timeout", 0, 0, G_OPTION_ARG_INT, &opt_attempt_timeout,
      "Deadline of a client's connection attempt, up to the registration's answer", "MS" },
    { "nginx-workers", 0, 0, G_OPTION_ARG_INT, &opt_nginx_workers,
      "nginx worker processes (0: enough for the descriptors)", "N" },
    { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_sets,
      "Relay property (only the per-address caps should be raised)", "NAME=VALUE" },
    { "no-nginx", 0, 0, G_OPTION_ARG_NONE, &opt_no_nginx, "Skip the nginx reference", NULL },
    { "no-attacks", 0, 0, G_OPTION_ARG_NONE, &opt_no_attacks, "Skip the attacks", NULL },
    { "no-steps", 0, 0, G_OPTION_ARG_NONE, &opt_no_steps, "Skip sections 1 and 2", NULL },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &opt_quick,
      "A short smoke run: --steps 200,1000 --storm 1000, fewer samples", NULL },
    { NULL }
  };

  g_set_prgname ("bench-relay-scale");
  context = g_option_context_new ("- the relay with tens of thousands of idle clients");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    bs_die ("%s", error->message);
  if (opt_quick)
    {
      opt_steps = "200,1000";
      opt_storm = MIN (opt_storm, 1000);
      opt_reflects = 100;
      opt_calls = 10;
      opt_idle_seconds = 10;
      opt_flood = MIN (opt_flood, 500);
    }
  {
    g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
    g_autofree char *dir = g_path_get_dirname (self);

    if (opt_host_bin == NULL)
      opt_host_bin = g_build_filename (dir, "bench-relay-host", NULL);
    if (opt_gen_bin == NULL)
      opt_gen_bin = g_build_filename (dir, "bench-scale-gen", NULL);
  }
  parse_steps ();
  clk_tck = sysconf (_SC_CLK_TCK);
  signal (SIGPIPE, SIG_IGN);
  {
    struct rlimit rl;

    getrlimit (RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit (RLIMIT_NOFILE, &rl);
  }
  bs_pin_to_cpu (opt_gen_cpu);
  bs_loop_init ();
  atexit (nginx_stop);

  max_n = g_array_index (steps, guint, steps->len - 1);
  if (max_n > largest_n ())
    bs_die ("%u clients: the relay may hold %u descriptors, so at most %u", max_n,
            largest_n () + 400, largest_n ());
  if (opt_no_steps)
    max_n = 0;
  need = MAX (max_n, (guint) MAX (opt_storm, 0));
  tmpdir = g_dir_make_tmp ("bench-relay-scale-XXXXXX", &error);
  if (tmpdir == NULL)
    bs_die ("%s", error->message);
  ids = bs_ids_load (opt_ids, need, TRUE);

  n_gens = MAX (1, (need + opt_per_generator - 1) / opt_per_generator);
  gens = g_new0 (Gen, n_gens);
  for (guint i = 0; i < n_gens; i++)
    gens[i] = gen_spawn (i, n_gens, (need - MIN (i, need) + n_gens - 1) / n_gens, FALSE);

  {
    g_autofree char *text = NULL;

    g_file_get_contents ("/proc/loadavg", &text, NULL, NULL);
    load = text ? g_ascii_strtod (text, NULL) : NAN;
  }
  printf ("# bench-relay-scale: %s, %ld CPUs, load average %.2f; relay (and nginx) on CPU %d, "
          "%u generator(s) on CPU %d; clients from 127.1.x.y, %d per address; logs in %s\n",
          opt_quick ? "quick run" : "full run", sysconf (_SC_NPROCESSORS_ONLN), load, opt_cpu,
          n_gens, opt_gen_cpu, opt_per_address, tmpdir);
  fflush (stdout);

  if (!opt_no_steps)
    {
      relay_steps = run_relay_steps ();
      if (!opt_no_nginx)
        {
          if (g_file_test (opt_nginx, G_FILE_TEST_IS_EXECUTABLE) &&
              g_file_test (opt_nginx_module, G_FILE_TEST_EXISTS))
            nginx_steps = run_nginx_steps (max_n);
          else
            printf ("\n(nginx or its stream module is missing: no reference.)\n");
        }
    }
  if (opt_storm > 0)
    {
      Storm st = run_storm (opt_storm);

      print_storm (&st);
    }
  if (!opt_no_attacks)
    run_attacks ();
  if (relay_steps != NULL)
    print_comparisons (relay_steps, nginx_steps);

  for (guint i = 0; i < n_gens; i++)
    {
      close (gens[i].fd);
      waitpid (gens[i].pid, NULL, 0);
    }
  /* The logs are kept only when something went wrong (bs_die leaves them). */
  {
    g_autoptr(GDir) dir = g_dir_open (tmpdir, 0, NULL);
    const char *name;

    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *path = g_build_filename (tmpdir, name, NULL);

        unlink (path);
      }
    rmdir (tmpdir);
  }
  return 0;
}
