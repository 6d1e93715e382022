/* bench-soak.c: nothing grows (bench/README.md, "Soak")
 *
 * Three wzp-relay daemons on loopback: A federated with B and with C (B and C do not
 * know each other: presence travels one hop). Real clients (WzpClient, no audio) of this
 * process, --clients at each relay, go through waves until --minutes have passed. A wave:
 *
 *   1. Calls, all placed at once: one local call at each relay (A-A, B-B, C-C) and four
 *      across federation (A-B, B-A, A-C, C-A), the parties drawn at random each wave.
 *      Half are answered trusted (a direct path on loopback), half in privacy (relay
 *      pipes; a bridge between the relays for a federated one), alternating wave by
 *      wave. One call in seven is hung up by the caller while it rings; in another, one
 *      party vanishes mid-call (its client disposed: no hang-up, its connections simply
 *      close). A call counts as connected when the caller's path is nominated
 *      (::path-changed) on the kind of path its answer asked for.
 *   2. Hang-ups: after --hold-ms, one party of each call hangs up (caller and callee by
 *      turns; the survivor where a party vanished); every call must end on both sides.
 *   3. Registrations: at each relay one client unregisters and a new identity registers
 *      in its place, one unregisters and registers again as itself, every other wave one
 *      client is disposed without unregistering and its identity registers again with a
 *      new client, and so does each party that vanished in 1. Old clients must be
 *      finalized (nothing keeps a reference).
 *   4. Quiet: once every client is registered again, each relay's open descriptors
 *      (/proc/PID/fd) and this process's are counted until they are back to their counts
 *      after the first wave (the baseline), for at most --settle seconds.
 *
 * Every --sample seconds the relays' and this process's VmRSS are read; at the end, the
 * least-squares slope of each over the last --window minutes, as the growth it means over
 * the window in percent of the window's mean RSS, must be under 1%. Last, the relays get
 * SIGTERM and must exit with status 0 and without a sanitizer report in their logs (in a
 * -Db_sanitize=address build, LeakSanitizer checks each at its exit).
 *
 *   bench-soak [--minutes 30] [--clients 8] [--hold-ms 1000] [--relay-bin PATH] ...
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "bench-daemon.h"
#include "bench-scale.h"
#include "bench-stats.h"
#include "call-fixture.h"

#define N_RELAYS         3
#define STEP_TIMEOUT_MS  20000
#define TARGET_RSS_PCT   1.0

static double  opt_minutes = 30;
static int     opt_clients = 8;
static int     opt_hold_ms = 1000;
static int     opt_sample_s = 10;
static double  opt_window_min = 20;
static int     opt_settle_s = 20;
static char   *opt_relay_bin;
static gboolean opt_keep;
static gboolean opt_keep_threads = TRUE;

static BenchRelay relays[N_RELAYS];
static char      *tmpdir;

static void G_GNUC_NORETURN G_GNUC_PRINTF (1, 2)
die (const char *format, ...)
{
  va_list args;

  va_start (args, format);
  fputs ("bench-soak: ", stderr);
  vfprintf (stderr, format, args);
  fputc ('\n', stderr);
  va_end (args);
  for (int i = 0; i < N_RELAYS; i++)
    if (relays[i].log != NULL)
      fprintf (stderr, "bench-soak: relay %s's log: %s\n", relays[i].name, relays[i].log);
  exit (2);
}

static double
now_s (void)
{
  return g_get_monotonic_time () / (double) G_USEC_PER_SEC;
}

/* Iterates the main context until @done (@data) or @timeout_ms; whether it was done.
 * (wzp_test_wait_until() fails a test instead: a soak counts what did not happen.) */
static gboolean
spin_until (gboolean (*done) (gpointer),
            gpointer   data,
            guint      timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!done (data))
    {
      if (g_get_monotonic_time () >= deadline)
        return FALSE;
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);
    }
  return TRUE;
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

static void
spin (guint ms)
{
  spin_until (never, NULL, ms);
}

/* What is counted */

typedef struct
{
  guint placed, connected, direct, relayed, federated, retried, failed, wrong_path;
  guint cancelled_ringing, vanished, not_ended, unexpected;
  guint registered_new, reregistered, abrupt, not_finalized, register_failed;
  GPtrArray *failures;   /* the first few failure messages */
} Counts;

static Counts counts;
static guint  calls_alive;   /* WzpCall objects seen and not finalized yet */
static guint  calls_seen;
static guint  waves_with_calls_alive;

static void
call_finalized_cb (gpointer  data,
                   GObject  *where_the_object_was)
{
  calls_alive--;
}

/* Counts @call until it is finalized: after a wave's hang-ups every call must go. */
static void
track_call (WzpCall *call)
{
  calls_alive++;
  calls_seen++;
  g_object_weak_ref (G_OBJECT (call), call_finalized_cb, NULL);
}

static void
note_failure (const char *format, ...) G_GNUC_PRINTF (1, 2);

static void
note_failure (const char *format, ...)
{
  va_list args;
  char *text;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "bench-soak: %s\n", text);
  if (counts.failures->len < 20)
    g_ptr_array_add (counts.failures, text);
  else
    g_free (text);
}

/* Processes watched: the three relays and this one */

#define N_PROCS (N_RELAYS + 1)

typedef struct
{
  const char *name;
  pid_t       pid;
  gint64      baseline_fds;   /* -1 until the first wave ended */
  gint64      last_fds;
  gint64      max_drift;      /* largest |count - baseline| once settled */
  guint       waves_off;      /* waves after which it did not come back */
  GArray     *t;              /* double, seconds */
  GArray     *rss;            /* double, KiB */
} Proc;

static Proc procs[N_PROCS];
static GArray *loadavg;        /* double, the 1-minute load average at each sample */
static double  t_start;

static gboolean
sample_cb (gpointer user_data)
{
  g_autofree char *text = NULL;
  double t = now_s () - t_start;

  for (int i = 0; i < N_PROCS; i++)
    {
      double kib = bs_proc_status_kib (procs[i].pid, "VmRSS");

      if (kib <= 0)
        continue;
      g_array_append_val (procs[i].t, t);
      g_array_append_val (procs[i].rss, kib);
    }
  if (g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    {
      double load = g_ascii_strtod (text, NULL);

      g_array_append_val (loadavg, load);
    }
  return G_SOURCE_CONTINUE;
}

/* The clients */

typedef struct Call Call;

typedef struct
{
  guint        relay;
  guint        slot;
  WzpClient   *client;
  gboolean     vanished;    /* disposed mid-call: registers again in the churn */
  Call        *call;        /* the call it is in this wave, or NULL */
} Party;

static Party *parties[N_RELAYS];   /* opt_clients each */

struct Call
{
  guint          index;
  Party         *caller;
  Party         *callee;
  gboolean       federated;
  gboolean       privacy;
  gboolean       ring_only;    /* the caller hangs up while it rings */
  Party         *vanish;       /* the party that vanishes mid-call, or NULL */
  WzpCall       *caller_call;
  WzpCall       *callee_call;
  gboolean       placed;       /* the place operation returned */
  char          *error;        /* why it failed */
  gboolean       path;
  WzpPathKind    kind;
};

static const char *
relay_name (guint relay)
{
  return relays[relay].name;
}

static void
call_reset (Call *c)
{
  g_clear_object (&c->caller_call);
  g_clear_object (&c->callee_call);
  g_clear_pointer (&c->error, g_free);
  c->placed = c->path = FALSE;
  c->kind = WZP_PATH_KIND_NONE;
}

static void
path_changed_cb (WzpCall *call,
                 Call    *c)
{
  if (c->path || wzp_call_get_path_kind (call) == WZP_PATH_KIND_NONE)
    return;
  c->path = TRUE;
  c->kind = wzp_call_get_path_kind (call);
}

static void
answered_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* A failed answer shows as a call that does not connect; say why. */
  if (!wzp_call_answer_finish (WZP_CALL (source), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("answer: %s", error->message);
}

static void
party_incoming_cb (WzpClient *client,
             WzpCall   *call,
             Party     *party)
{
  Call *c = party->call;

  if (c == NULL || c->callee != party || c->callee_call != NULL)
    {
      counts.unexpected++;
      note_failure ("an unexpected call rang a client at relay %s", relay_name (party->relay));
      wzp_call_hangup (call);
      return;
    }
  c->callee_call = g_object_ref (call);
  track_call (call);
  wzp_call_ring (call);
  if (!c->ring_only)
    wzp_call_answer_async (call, c->privacy ? WZP_ACCEPT_MODE_PRIVACY : WZP_ACCEPT_MODE_TRUSTED,
                           NULL, answered_cb, NULL);
}

static void
party_outgoing_cb (WzpClient *client,
             WzpCall   *call,
             Party     *party)
{
  Call *c = party->call;

  if (c == NULL || c->caller != party)
    return;
  g_set_object (&c->caller_call, call);
  track_call (call);
  g_signal_connect (call, "path-changed", G_CALLBACK (path_changed_cb), c);
}

static void
placed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Call *c = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = wzp_client_place_call_finish (WZP_CLIENT (source), result, &error);

  c->placed = TRUE;
  if (call == NULL)
    c->error = g_strdup (error->message);
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GError **slot = user_data;

  wzp_client_connect_finish (WZP_CLIENT (source), result, slot);
}

static WzpClient *
party_client (Party       *party,
              WzpIdentity *identity)
{
  g_autofree char *alias = g_strdup_printf ("soak %s%u", relay_name (party->relay), party->slot);
  WzpClient *client = identity != NULL
                        ? new_client_for (identity, relays[party->relay].uri, alias)
                        : new_client (relays[party->relay].uri, alias);

  g_signal_connect (client, "incoming-call", G_CALLBACK (party_incoming_cb), party);
  g_signal_connect (client, "outgoing-call", G_CALLBACK (party_outgoing_cb), party);
  return client;
}

/* Registering: connects each of @clients and waits until all are registered. */
typedef struct
{
  GPtrArray *clients;
  GError   **errors;
  guint      n;
} Registering;

static gboolean
all_registered (gpointer data)
{
  Registering *r = data;

  for (guint i = 0; i < r->n; i++)
    {
      WzpClient *client = g_ptr_array_index (r->clients, i);

      if (wzp_client_get_state (client) != WZP_CLIENT_STATE_CONNECTED && r->errors[i] == NULL)
        return FALSE;
    }
  return TRUE;
}

static void
register_all (GPtrArray *clients)
{
  Registering r = { clients, g_new0 (GError *, clients->len), clients->len };

  for (guint i = 0; i < r.n; i++)
    wzp_client_connect_async (g_ptr_array_index (clients, i), NULL, connected_cb, &r.errors[i]);
  if (!spin_until (all_registered, &r, STEP_TIMEOUT_MS))
    die ("clients did not register within %d ms", STEP_TIMEOUT_MS);
  /* The callbacks write into r.errors: wait for the last one before it goes. */
  spin (10);
  for (guint i = 0; i < r.n; i++)
    if (r.errors[i] != NULL)
      {
        counts.register_failed++;
        note_failure ("a client could not register: %s", r.errors[i]->message);
        g_clear_error (&r.errors[i]);
      }
  g_free (r.errors);
}

static gboolean
is_null (gpointer data)
{
  return *(gpointer *) data == NULL;
}

/* Drops @client and waits (bounded) until it is finalized, as a user of the library
 * would expect: a client still alive after that is a leak. */
static void
finalize_client (WzpClient *client)
{
  gpointer weak = client;

  g_object_add_weak_pointer (G_OBJECT (client), &weak);
  g_object_unref (client);
  spin_until (is_null, &weak, 5000);
  if (weak != NULL)
    {
      counts.not_finalized++;
      note_failure ("a client was not finalized 5 s after its last reference went");
      g_object_remove_weak_pointer (G_OBJECT (client), &weak);
    }
}

/* 1. and 2.: the calls of a wave */

/* One local call at each relay, and four across federation (A is relay 0). */
static const guint templates[][2] = { { 0, 0 }, { 1, 1 }, { 2, 2 },
                                      { 0, 1 }, { 1, 0 }, { 0, 2 }, { 2, 0 } };
#define N_CALLS G_N_ELEMENTS (templates)

static Call calls[N_CALLS];

static void
shuffle (guint *order,
         guint  n)
{
  for (guint i = 0; i < n; i++)
    order[i] = i;
  for (guint i = n - 1; i > 0; i--)
    {
      guint j = g_random_int_range (0, i + 1), t = order[i];

      order[i] = order[j];
      order[j] = t;
    }
}

static gboolean
calls_up (gpointer data)
{
  for (guint i = 0; i < N_CALLS; i++)
    {
      Call *c = &calls[i];

      if (c->ring_only ? c->callee_call == NULL && !c->placed : !c->path && !c->placed)
        return FALSE;
      /* Placed: connected (a path comes with it or just after) or failed. */
      if (!c->ring_only && c->placed && c->error == NULL && !c->path)
        return FALSE;
    }
  return TRUE;
}

static gboolean
call_ended (WzpCall *call)
{
  return call == NULL || wzp_call_get_state (call) == WZP_CALL_STATE_ENDED;
}

static gboolean
calls_ended (gpointer data)
{
  for (guint i = 0; i < N_CALLS; i++)
    if (!call_ended (calls[i].caller_call) || !call_ended (calls[i].callee_call))
      return FALSE;
  return TRUE;
}

static void
place (Call *c)
{
  const char *target = wzp_identity_get_fingerprint (wzp_client_get_identity (c->callee->client));

  call_reset (c);
  counts.placed++;
  wzp_client_place_call_async (c->caller->client, target, NULL, placed_cb, c);
}

static void
run_calls (guint wave)
{
  guint order[N_RELAYS][64];
  guint next[N_RELAYS] = { 0 };
  gboolean retry = FALSE;

  for (guint r = 0; r < N_RELAYS; r++)
    shuffle (order[r], opt_clients);
  for (guint i = 0; i < N_CALLS; i++)
    {
      Call *c = &calls[i];
      guint from = templates[i][0], to = templates[i][1];

      c->index = i;
      c->caller = &parties[from][order[from][next[from]++]];
      c->callee = &parties[to][order[to][next[to]++]];
      c->caller->call = c->callee->call = c;
      c->federated = from != to;
      c->privacy = (i + wave) % 2 == 1;
      c->ring_only = (i + wave) % 7 == 3;
      c->vanish = (i + wave) % 7 == 5 ? (wave % 2 ? c->caller : c->callee) : NULL;
      place (c);
    }
  spin_until (calls_up, NULL, STEP_TIMEOUT_MS);

  /* A callee that registered in the last wave's churn may not be known at the caller's
   * relay yet if it is a peer's (presence is paced to an update a second per link):
   * failed calls get one more try. */
  for (guint i = 0; i < N_CALLS; i++)
    if (calls[i].error != NULL && (!calls[i].ring_only || calls[i].callee_call == NULL))
      {
        g_autofree char *error = g_steal_pointer (&calls[i].error);

        g_debug ("call %u failed (%s); trying again", i, error);
        retry = TRUE;
      }
  if (retry)
    {
      spin (1500);
      for (guint i = 0; i < N_CALLS; i++)
        if (calls[i].placed && (calls[i].ring_only ? calls[i].callee_call == NULL
                                                   : !calls[i].path))
          {
            counts.retried++;
            place (&calls[i]);
          }
      spin_until (calls_up, NULL, STEP_TIMEOUT_MS);
    }

  for (guint i = 0; i < N_CALLS; i++)
    {
      Call *c = &calls[i];
      const char *kind = c->federated ? "federated" : "local";

      if (c->ring_only)
        {
          if (c->callee_call == NULL)
            {
              counts.failed++;
              note_failure ("wave %u: a %s call never rang: %s", wave, kind,
                            c->error != NULL ? c->error : "no offer arrived");
            }
          else
            counts.cancelled_ringing++;
          if (c->caller_call != NULL)
            wzp_call_hangup (c->caller_call);
          continue;
        }
      if (!c->path)
        {
          counts.failed++;
          note_failure ("wave %u: a %s %s call %s->%s did not connect: %s", wave, kind,
                        c->privacy ? "privacy" : "trusted", relay_name (c->caller->relay),
                        relay_name (c->callee->relay),
                        c->error != NULL ? c->error : "no path within the deadline");
          continue;
        }
      counts.connected++;
      if (c->federated)
        counts.federated++;
      if (c->kind == WZP_PATH_KIND_RELAY)
        counts.relayed++;
      else
        counts.direct++;
      if ((c->kind == WZP_PATH_KIND_RELAY) != c->privacy)
        {
          counts.wrong_path++;
          note_failure ("wave %u: a %s call answered %s took the %s path", wave, kind,
                        c->privacy ? "in privacy" : "trusted",
                        c->kind == WZP_PATH_KIND_RELAY ? "relay" : "direct");
        }
    }

  spin (opt_hold_ms);

  /* A party vanishes: its client goes without a word, its calls with it. */
  for (guint i = 0; i < N_CALLS; i++)
    if (calls[i].vanish != NULL && calls[i].path)
      {
        Party *p = calls[i].vanish;

        g_object_run_dispose (G_OBJECT (p->client));
        p->vanished = TRUE;
        counts.vanished++;
      }
  spin (200);

  for (guint i = 0; i < N_CALLS; i++)
    {
      Call *c = &calls[i];
      gboolean caller_side = i % 2 == 0;
      WzpCall *call;

      if (c->vanish != NULL)
        caller_side = c->vanish != c->caller;
      call = caller_side ? c->caller_call : c->callee_call;
      if (call != NULL)
        wzp_call_hangup (call);
    }
  if (!spin_until (calls_ended, NULL, 10000))
    for (guint i = 0; i < N_CALLS; i++)
      {
        Call *c = &calls[i];

        for (int side = 0; side < 2; side++)
          {
            WzpCall *call = side ? c->callee_call : c->caller_call;

            if (call_ended (call))
              continue;
            counts.not_ended++;
            note_failure ("wave %u: the %s of a %s call %s->%s had not ended 10 s after the "
                          "hang-up (state %d)", wave, side ? "callee" : "caller",
                          c->federated ? "federated" : "local", relay_name (c->caller->relay),
                          relay_name (c->callee->relay), wzp_call_get_state (call));
            wzp_call_hangup (call);
          }
      }

  for (guint i = 0; i < N_CALLS; i++)
    {
      calls[i].caller->call = calls[i].callee->call = NULL;
      call_reset (&calls[i]);
    }
}

/* 3.: registrations */

static void
churn (guint wave)
{
  g_autoptr(GPtrArray) connect = g_ptr_array_new ();
  g_autoptr(GPtrArray) old = g_ptr_array_new ();

  for (guint r = 0; r < N_RELAYS; r++)
    {
      guint order[64];
      guint picked = 0;

      shuffle (order, opt_clients);
      for (guint k = 0; k < (guint) opt_clients; k++)
        {
          Party *p = &parties[r][order[k]];

          if (p->vanished)
            {
              /* Registers again as itself, after an abrupt end. */
              g_autoptr(WzpIdentity) id = g_object_ref (wzp_client_get_identity (p->client));

              g_ptr_array_add (old, p->client);
              p->client = party_client (p, id);
              p->vanished = FALSE;
              g_ptr_array_add (connect, p->client);
              counts.reregistered++;
              continue;
            }
          switch (picked++)
            {
            case 0:
              /* Leaves; a new identity registers in its place. */
              wzp_client_unregister (p->client);
              g_ptr_array_add (old, p->client);
              p->client = party_client (p, NULL);
              g_ptr_array_add (connect, p->client);
              counts.registered_new++;
              break;
            case 1:
              /* Unregisters, then registers again with the same client. */
              wzp_client_unregister (p->client);
              g_ptr_array_add (connect, p->client);
              counts.reregistered++;
              break;
            case 2:
              if (wave % 2 == 1)
                {
                  /* Goes without unregistering; its identity comes back in a new client. */
                  g_autoptr(WzpIdentity) id = g_object_ref (wzp_client_get_identity (p->client));

                  g_object_run_dispose (G_OBJECT (p->client));
                  g_ptr_array_add (old, p->client);
                  p->client = party_client (p, id);
                  g_ptr_array_add (connect, p->client);
                  counts.abrupt++;
                  counts.reregistered++;
                }
              break;
            default:
              break;
            }
        }
    }
  for (guint i = 0; i < old->len; i++)
    finalize_client (g_ptr_array_index (old, i));
  register_all (connect);
}

/* 4.: descriptors */

/* The benchmark process's malloc heap in use, KiB: tells memory kept from memory that
 * RSS holds but malloc has free (fragmentation). */
static gint64
heap_in_use_kib (void)
{
  struct mallinfo2 info = mallinfo2 ();

  return (gint64) ((info.uordblks + info.hblkhd) / 1024);
}

static gboolean
fds_back (gpointer data)
{
  if (calls_alive != 0)
    return FALSE;
  for (int i = 0; i < N_PROCS; i++)
    if (bs_proc_count_fds (procs[i].pid) != procs[i].baseline_fds)
      return FALSE;
  return TRUE;
}

/* Waits until the counts stay the same for 2 s (at most --settle s): the baseline. */
static void
take_baseline (void)
{
  gint64 last[N_PROCS];
  double stable_since = now_s (), deadline = now_s () + opt_settle_s;

  for (int i = 0; i < N_PROCS; i++)
    last[i] = bs_proc_count_fds (procs[i].pid);
  while (now_s () < deadline && now_s () - stable_since < 2.0)
    {
      spin (250);
      for (int i = 0; i < N_PROCS; i++)
        {
          gint64 n = bs_proc_count_fds (procs[i].pid);

          if (n != last[i])
            stable_since = now_s ();
          last[i] = n;
        }
    }
  for (int i = 0; i < N_PROCS; i++)
    procs[i].baseline_fds = procs[i].last_fds = last[i];
}

/* Returns how long the counts took to come back (or --settle). */
static double
settle (void)
{
  double t0 = now_s ();

  spin (250);
  spin_until (fds_back, NULL, opt_settle_s * 1000);
  for (int i = 0; i < N_PROCS; i++)
    {
      gint64 n = bs_proc_count_fds (procs[i].pid);
      gint64 drift = ABS (n - procs[i].baseline_fds);

      procs[i].last_fds = n;
      procs[i].max_drift = MAX (procs[i].max_drift, drift);
      if (drift != 0)
        procs[i].waves_off++;
    }
  if (calls_alive != 0)
    {
      waves_with_calls_alive++;
      note_failure ("%u calls still alive after a wave", calls_alive);
    }
  return now_s () - t0;
}

/* The report */

typedef struct
{
  double   slope_kib_min;
  double   mean_kib;
  double   pct;          /* growth over the window in % of the mean */
  guint    n;
  double   first_kib, last_kib;
} Slope;

static Slope
rss_slope (Proc   *p,
           double  from_s,
           double  window_min)
{
  Slope s = { NAN, NAN, NAN, 0, NAN, NAN };
  g_autoptr(GArray) x = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) y = g_array_new (FALSE, FALSE, sizeof (double));

  for (guint i = 0; i < p->t->len; i++)
    if (g_array_index (p->t, double, i) >= from_s)
      {
        double minutes = g_array_index (p->t, double, i) / 60.0;

        g_array_append_val (x, minutes);
        g_array_append_val (y, g_array_index (p->rss, double, i));
      }
  s.n = x->len;
  if (s.n < 2)
    return s;
  s.slope_kib_min = bench_slope ((double *) x->data, (double *) y->data, s.n, NULL);
  s.mean_kib = 0;
  for (guint i = 0; i < s.n; i++)
    s.mean_kib += g_array_index (y, double, i);
  s.mean_kib /= s.n;
  s.pct = 100.0 * s.slope_kib_min * window_min / s.mean_kib;
  s.first_kib = g_array_index (y, double, 0);
  s.last_kib = g_array_index (y, double, s.n - 1);
  return s;
}

static const char *
verdict (gboolean ok)
{
  return ok ? "PASS" : "FAIL";
}

/* A sanitizer's report in a relay's log. */
static gboolean
log_has_sanitizer_report (const char *path)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE;
  return strstr (text, "Sanitizer") != NULL;
}

int
main (int    argc,
      char **argv)
{
  const GOptionEntry entries[] = {
    { "minutes", 0, 0, G_OPTION_ARG_DOUBLE, &opt_minutes,
      "how long to run waves (default 30)", "MIN" },
    { "clients", 0, 0, G_OPTION_ARG_INT, &opt_clients,
      "clients registered at each relay (default 8, at least 8, at most 64)", "N" },
    { "hold-ms", 0, 0, G_OPTION_ARG_INT, &opt_hold_ms,
      "how long each call stays up (default 1000)", "MS" },
    { "sample", 0, 0, G_OPTION_ARG_INT, &opt_sample_s,
      "seconds between RSS samples (default 10)", "S" },
    { "window", 0, 0, G_OPTION_ARG_DOUBLE, &opt_window_min,
      "minutes at the end over which RSS must not grow (default 20; at most two thirds "
      "of --minutes)", "MIN" },
    { "settle", 0, 0, G_OPTION_ARG_INT, &opt_settle_s,
      "seconds a wave's descriptors may take to come back (default 20)", "S" },
    { "relay-bin", 0, 0, G_OPTION_ARG_FILENAME, &opt_relay_bin,
      "the wzp-relay daemon (default: the one of this build)", "PATH" },
    { "no-keep-threads", 0, G_OPTION_FLAG_REVERSE, G_OPTION_ARG_NONE, &opt_keep_threads,
      "let GIO's spare pool threads exit as usual (GnuTLS then leaks per new thread)", NULL },
    { "keep", 0, 0, G_OPTION_ARG_NONE, &opt_keep,
      "keep the relays' logs (their folder is printed)", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *data_home = NULL;
  g_autofree char *load_at_start = NULL;
  g_autofree char *rss_target = NULL;
  gboolean calls_ok, reg_ok, fds_ok = TRUE, rss_ok = TRUE, exits_ok = TRUE;
  double load_min = INFINITY, load_sum = 0, load_max = 0;
  BenchRelay *all[N_RELAYS] = { &relays[0], &relays[1], &relays[2] };
  const char *names[N_RELAYS] = { "A", "B", "C" };
  double window_min, t_end, window_from;
  guint wave = 0;
  gint64 heap_after_first = 0, heap_at_end;
  gint64 driver_fds_start;
  gboolean ok;
  int exit_status[N_RELAYS];

  /* Own the main context for the whole run, as g_main_loop_run() and g_application_run()
   * do. Iterating it by hand releases it between iterations, and in such a moment a TLS
   * handshake thread's g_main_context_invoke() (glib-networking emits accept-certificate
   * that way) takes it and runs the client's handler on that thread, while this one goes
   * on with the same objects: the first short run aborted in
   * g_main_context_push_thread_default(). Owned here, the invoke queues the handler on
   * this thread instead. */
  if (!g_main_context_acquire (NULL))
    die ("cannot own the main context");
  g_log_writer_default_set_use_stderr (TRUE);
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Calls, hang-ups, registrations and re-registrations against three relays (A "
    "federated with B and C) until --minutes have passed; checks that descriptors come "
    "back after each wave and that RSS does not grow (bench/README.md, \"Soak\").");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die ("%s", error->message);
  /* GnuTLS 3.7.9 (Debian 12) keeps about 220 bytes of random-generator state for every
   * thread that calls gnutls_rnd() and never frees it when the thread exits. The clients'
   * TLS handshakes run on GIO's thread pool (glib-networking), whose spare threads exit
   * after 15 s and are made anew by the next burst: four new threads a second here, a
   * steady 1 MiB in 20 minutes that is GnuTLS's, not ours. Keeping the pool's threads
   * (the default) measures what remains; --no-keep-threads shows the leak. */
  if (opt_keep_threads)
    {
      g_thread_pool_set_max_unused_threads (-1);
      g_thread_pool_set_max_idle_time (0);
    }
  if (opt_minutes <= 0 || opt_clients < 8 || opt_clients > 64 || opt_hold_ms < 0 ||
      opt_sample_s < 1 || opt_window_min <= 0 || opt_settle_s < 1)
    die ("--minutes, --window positive; --clients 8-64; --sample, --settle at least 1");
  if (opt_relay_bin == NULL)
    opt_relay_bin = g_build_filename (BENCH_BUILDDIR, "..", "wzp-relay", "wzp-relay", NULL);
  signal (SIGPIPE, SIG_IGN);
  counts.failures = g_ptr_array_new_with_free_func (g_free);

  tmpdir = g_dir_make_tmp ("wzp-bench-soak-XXXXXX", &error);
  if (tmpdir == NULL)
    die ("%s", error->message);
  /* The clients pin relays in $XDG_DATA_HOME/wzp/known-relays: not the user's. */
  data_home = g_build_filename (tmpdir, "data", NULL);
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  /* The relays' defaults, except what a soak on loopback would otherwise wait for: a
   * call whose party vanished ends when the other hangs up, so the grace period only
   * matters for calls nobody hangs up, and there are none. */
  config = g_build_filename (tmpdir, "relay.conf", NULL);
  if (!g_file_set_contents (config, "[limits]\n", -1, &error))
    die ("%s", error->message);

  for (int i = 0; i < N_RELAYS; i++)
    if (!bench_relay_init (&relays[i], opt_relay_bin, tmpdir, names[i], &error))
      die ("%s", error->message);
  /* A federated with B and C; B and C only with A. */
  relays[0].peers[0] = &relays[1];
  relays[0].peers[1] = &relays[2];
  relays[1].peers[0] = &relays[0];
  relays[2].peers[0] = &relays[0];
  if (!bench_relays_start (all, N_RELAYS, opt_relay_bin, config, &error))
    die ("%s", error->message);

  driver_fds_start = bs_proc_count_fds (getpid ());
  for (int i = 0; i < N_PROCS; i++)
    {
      procs[i].name = i < N_RELAYS ? relays[i].name : "driver";
      procs[i].pid = i < N_RELAYS ? bench_relay_pid (&relays[i]) : getpid ();
      procs[i].baseline_fds = -1;
      procs[i].t = g_array_new (FALSE, FALSE, sizeof (double));
      procs[i].rss = g_array_new (FALSE, FALSE, sizeof (double));
    }
  loadavg = g_array_new (FALSE, FALSE, sizeof (double));

  window_min = MIN (opt_window_min, opt_minutes * 2 / 3);
  g_file_get_contents ("/proc/loadavg", &load_at_start, NULL, NULL);
  printf ("# bench-soak: relays A %s, B %s, C %s (A federated with B and C); %d clients "
          "per relay, %u calls per wave (3 local, 4 federated), held %d ms; %.1f minutes, "
          "RSS every %d s, slope over the last %.1f minutes; load average %s",
          relays[0].address, relays[1].address, relays[2].address, opt_clients,
          (guint) N_CALLS, opt_hold_ms, opt_minutes, opt_sample_s, window_min,
          load_at_start != NULL ? load_at_start : "?\n");
  printf ("%5s %7s %6s %6s %6s | %14s %14s %14s %14s | %8s %8s %8s %8s %8s\n", "wave",
          "t s", "calls", "fail", "settle", "fds A", "fds B", "fds C", "fds driver", "RSS A",
          "RSS B", "RSS C", "RSS drv", "heap drv");
  fflush (stdout);

  t_start = now_s ();
  sample_cb (NULL);
  g_timeout_add_seconds (opt_sample_s, sample_cb, NULL);

  for (guint r = 0; r < N_RELAYS; r++)
    {
      g_autoptr(GPtrArray) connect = g_ptr_array_new ();

      parties[r] = g_new0 (Party, opt_clients);
      for (int k = 0; k < opt_clients; k++)
        {
          parties[r][k].relay = r;
          parties[r][k].slot = k;
          parties[r][k].client = party_client (&parties[r][k], NULL);
          g_ptr_array_add (connect, parties[r][k].client);
        }
      register_all (connect);
    }
  /* Until A knows the clients of B and C (a presence update a second per link). */
  spin (2500);

  while (now_s () - t_start < opt_minutes * 60)
    {
      guint failed_before = counts.failed + counts.wrong_path + counts.not_ended;
      double settle_s;

      run_calls (wave);
      churn (wave);
      for (int i = 0; i < N_RELAYS; i++)
        if (!bench_relay_alive (&relays[i]))
          die ("relay %s exited during wave %u", relays[i].name, wave);
      if (wave == 0)
        {
          take_baseline ();
          heap_after_first = heap_in_use_kib ();
          settle_s = 0;
        }
      else
        settle_s = settle ();
      printf ("%5u %7.0f %6u %6u %6.1f |", wave, now_s () - t_start, counts.placed,
              counts.failed + counts.wrong_path + counts.not_ended - failed_before, settle_s);
      for (int i = 0; i < N_PROCS; i++)
        printf (" %6" G_GINT64_FORMAT " (%+4" G_GINT64_FORMAT ")", procs[i].last_fds,
                procs[i].last_fds - procs[i].baseline_fds);
      printf (" |");
      for (int i = 0; i < N_PROCS; i++)
        printf (" %8" G_GINT64_FORMAT, bs_proc_status_kib (procs[i].pid, "VmRSS"));
      printf (" %8" G_GINT64_FORMAT "\n", heap_in_use_kib ());
      fflush (stdout);
      wave++;
    }
  sample_cb (NULL);
  heap_at_end = heap_in_use_kib ();
  t_end = now_s () - t_start;
  window_from = t_end - window_min * 60;

  /* The clients go, then the relays. */
  for (guint r = 0; r < N_RELAYS; r++)
    {
      for (int k = 0; k < opt_clients; k++)
        {
          wzp_client_unregister (parties[r][k].client);
          finalize_client (parties[r][k].client);
        }
      g_free (parties[r]);
    }
  spin (500);
  for (int i = 0; i < N_RELAYS; i++)
    exit_status[i] = bench_relay_stop (&relays[i]);

  for (guint i = 0; i < loadavg->len; i++)
    {
      double l = g_array_index (loadavg, double, i);

      load_min = MIN (load_min, l);
      load_max = MAX (load_max, l);
      load_sum += l;
    }
  printf ("\n# %.1f minutes, %u waves; load average (1 min) over the run: min %.2f, mean "
          "%.2f, max %.2f\n", t_end / 60, wave, load_min,
          loadavg->len > 0 ? load_sum / loadavg->len : NAN, load_max);
  printf ("# calls: %u placed (%u retried once), %u connected (%u direct, %u relay pipe; "
          "%u across federation), %u hung up while ringing, %u with a party that vanished, "
          "%u failed, %u on the wrong path, %u not ended, %u unexpected\n",
          counts.placed, counts.retried, counts.connected, counts.direct, counts.relayed,
          counts.federated, counts.cancelled_ringing, counts.vanished, counts.failed,
          counts.wrong_path, counts.not_ended, counts.unexpected);
  printf ("# the benchmark process's malloc heap in use: %" G_GINT64_FORMAT " KiB after the "
          "first wave, %" G_GINT64_FORMAT " KiB after the last\n", heap_after_first,
          heap_at_end);
  printf ("# call objects: %u seen, %u alive at the end; %u waves ended with some alive\n",
          calls_seen, calls_alive, waves_with_calls_alive);
  printf ("# registrations: %u new identities, %u re-registrations (%u after an abrupt "
          "close, %u after vanishing mid-call), %u failed; %u clients not finalized\n",
          counts.registered_new, counts.reregistered, counts.abrupt, counts.vanished,
          counts.register_failed, counts.not_finalized);
  for (guint i = 0; i < counts.failures->len; i++)
    printf ("#   %s\n", (char *) g_ptr_array_index (counts.failures, i));

  printf ("\n%-8s %8s %8s %9s %10s | %6s %8s %8s %10s %10s %8s | %s\n", "process",
          "fds base", "fds end", "max drift", "waves off", "n", "RSS0 KiB", "RSS KiB",
          "mean KiB", "KiB/min", "%/window", "exit");
  for (int i = 0; i < N_PROCS; i++)
    {
      Proc *p = &procs[i];
      Slope s = rss_slope (p, window_from, window_min);
      gboolean p_fds_ok = p->waves_off == 0;
      gboolean p_rss_ok = s.n >= 2 && s.pct < TARGET_RSS_PCT;
      g_autofree char *exit_text = NULL;

      if (i < N_RELAYS)
        {
          gboolean clean = exit_status[i] == 0 && !log_has_sanitizer_report (relays[i].log);

          exit_text = g_strdup_printf ("status %d%s %s", exit_status[i],
                                       log_has_sanitizer_report (relays[i].log)
                                         ? ", sanitizer report in its log" : "",
                                       verdict (clean));
          exits_ok = exits_ok && clean;
        }
      else
        exit_text = g_strdup_printf ("fds %" G_GINT64_FORMAT " before the clients, %"
                                     G_GINT64_FORMAT " after", driver_fds_start,
                                     bs_proc_count_fds (getpid ()));
      printf ("%-8s %8" G_GINT64_FORMAT " %8" G_GINT64_FORMAT " %9" G_GINT64_FORMAT
              " %6u %s | %6u %8.0f %8.0f %10.0f %10.2f %7.3f%% %s | %s\n",
              p->name, p->baseline_fds, p->last_fds, p->max_drift, p->waves_off,
              verdict (p_fds_ok), s.n, g_array_index (p->rss, double, 0), s.last_kib,
              s.mean_kib, s.slope_kib_min, s.pct, verdict (p_rss_ok), exit_text);
      fds_ok = fds_ok && p_fds_ok;
      rss_ok = rss_ok && p_rss_ok;
    }
  calls_ok = counts.failed == 0 && counts.wrong_path == 0 && counts.not_ended == 0 &&
             counts.unexpected == 0 && counts.connected > 0 && waves_with_calls_alive == 0;
  reg_ok = counts.register_failed == 0 && counts.not_finalized == 0;
  rss_target = g_strdup_printf ("RSS growth over the last %.1f min < %.0f%% of its mean",
                                window_min, TARGET_RSS_PCT);
  ok = calls_ok && reg_ok && fds_ok && rss_ok && exits_ok;
  printf ("\n%-60s %s\n", "every call connected, ended on both sides, was finalized",
          verdict (calls_ok));
  printf ("%-60s %s\n", "every registration succeeded, every old client finalized",
          verdict (reg_ok));
  printf ("%-60s %s\n", "descriptors back to the baseline after every wave", verdict (fds_ok));
  printf ("%-60s %s\n", rss_target, verdict (rss_ok));
  printf ("%-60s %s\n", "relays exit with status 0, no sanitizer report", verdict (exits_ok));
  printf ("%-60s %s\n", "overall", verdict (ok));

  if (opt_keep || !ok)
    printf ("# logs kept in %s\n", tmpdir);
  else
    {
      for (int i = 0; i < N_RELAYS; i++)
        bench_relay_clear (&relays[i]);
      g_remove (config);
    }
  for (int i = 0; i < N_PROCS; i++)
    {
      g_array_unref (procs[i].t);
      g_array_unref (procs[i].rss);
    }
  g_array_unref (loadavg);
  g_ptr_array_unref (counts.failures);
  g_free (tmpdir);
  g_main_context_release (NULL);
  return ok ? 0 : 1;
}
