/* bench-federation.c: what federation adds to a call (bench/README.md, "Federation")
 *
 * Two wzp-relay daemons on loopback, A and B, federated with each other (--peer each
 * way). Every figure is measured for a local call (both parties registered at A) and a
 * federated call (the caller at A, the callee at B), alternating call by call in the same
 * run, and printed with the federated / local ratio and the difference of the medians:
 *
 *   1. Raw protocol (two raw signalling clients, no race, no E2E TLS):
 *      - signalling: DirectCallOffer sent -> the later of the two CallSetup receipts (the
 *        callee answers AcceptGeneric the moment the offer arrives);
 *      - pipe setup: the caller's OpenPipe sent -> PipeReady on both pipes (each party opens
 *        its pipe at its own relay; for the federated call relay A opens the bridge to B);
 *      - relay-path round trip: a SIZE-byte message written on the caller's pipe, echoed
 *        by the callee on its pipe, read back by the caller (MESSAGES per call, one at a
 *        time), through one relay or through A, the bridge and B.
 *   2. Real calls (WzpClient and WzpCall, the race and nomination as in the product),
 *      with loopback host candidates (the test-only gatherer option, so that nothing
 *      depends on this machine's interfaces):
 *      - t0 = the caller calls wzp_client_place_call_async (it sends DirectCallOffer at
 *        once), t1 = the caller's first ::path-changed (NominateAck arrived): the setup
 *        time a user waits for;
 *      - t0' = the later of the two CallSetup receipts (docs/decisions.md, "Set-up time")
 *        -> t1, for comparison with the race benchmark;
 *      each with the callee answering trusted (a direct path on loopback: federation
 *      only adds signalling) and privacy (the relay path: federation adds the bridge).
 *
 * The parties of a call run in this process (one main loop); the relays are the real
 * daemon, each its own process. Loopback has no network delay: the differences are the
 * relays' processing and the extra hops, not wire time (add 1 RTT between the relays per
 * forwarded message on a real network).
 *
 *   bench-federation [--calls N] [--messages M] [--size BYTES] [--relay-bin PATH]
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "bench-daemon.h"
#include "bench-stats.h"
#include "test-util.h"
#include "wzp-client-private.h"
#include "wzp-message-private.h"
#include "wzp-path-private.h"
#include "wzp-pipe-token-private.h"

#define STEP_TIMEOUT_MS 10000

static int    n_calls = 60;
static int    n_messages = 20;
static int    msg_size = 160;
static char  *relay_bin = NULL;

static BenchRelay *relays_for_die;   /* so that die() can point at their logs */

static void G_GNUC_NORETURN G_GNUC_PRINTF (1, 2)
die (const char *format, ...)
{
  va_list args;

  va_start (args, format);
  fputs ("bench-federation: ", stderr);
  vfprintf (stderr, format, args);
  fputc ('\n', stderr);
  va_end (args);
  for (int i = 0; relays_for_die != NULL && i < 2; i++)
    if (relays_for_die[i].log != NULL)
      fprintf (stderr, "bench-federation: relay %s's log: %s\n", relays_for_die[i].name,
               relays_for_die[i].log);
  exit (1);
}

static gint64
now_us (void)
{
  return g_get_monotonic_time ();
}

/* Samples, in microseconds */

typedef struct
{
  const char *name;
  GArray     *local;   /* double */
  GArray     *fed;
} Figure;

static Figure *
figure_new (const char *name)
{
  Figure *f = g_new0 (Figure, 1);

  f->name = name;
  f->local = g_array_new (FALSE, FALSE, sizeof (double));
  f->fed = g_array_new (FALSE, FALSE, sizeof (double));
  return f;
}

static void
figure_free (Figure *f)
{
  g_array_unref (f->local);
  g_array_unref (f->fed);
  g_free (f);
}

static void
figure_add (Figure   *f,
            gboolean  federated,
            gint64    us)
{
  double v = us;

  g_array_append_val (federated ? f->fed : f->local, v);
}

static void
figure_print (Figure *f)
{
  double l50 = bench_percentile (f->local, 50), l95 = bench_percentile (f->local, 95);
  double f50 = bench_percentile (f->fed, 50), f95 = bench_percentile (f->fed, 95);

  printf ("%-40s %5u %8.3f %8.3f | %5u %8.3f %8.3f | %+8.3f %6.2fx %6.2fx\n",
          f->name, f->local->len, l50 / 1000, l95 / 1000, f->fed->len, f50 / 1000, f95 / 1000,
          (f50 - l50) / 1000, f50 / l50, f95 / l95);
}

/* Part 1: raw protocol */

/* The next message of @type, skipping what the relay may interleave (PipeRequested,
 * CallRinging from the other side). */
static WzpMessage *
expect_skipping (WzpTestClient  *c,
                 WzpMessageType  type)
{
  for (;;)
    {
      WzpMessage *m = wzp_test_client_next (c, STEP_TIMEOUT_MS);
      WzpMessageType got;

      if (m == NULL)
        die ("the relay closed a signalling connection while waiting for %s",
             _wzp_message_type_to_string (type));
      got = _wzp_message_get_message_type (m);
      if (got == type)
        return m;
      if (got == WZP_MESSAGE_ERROR)
        return m;
      _wzp_message_unref (m);
    }
}

static void
set_nodelay (GSocketConnection *conn)
{
  g_autoptr(GError) error = NULL;

  g_socket_set_option (g_socket_connection_get_socket (conn), IPPROTO_TCP, TCP_NODELAY, 1,
                       &error);
}

static void
read_exact (GSocketConnection *conn,
            void              *buf,
            gsize              len)
{
  g_autoptr(GError) error = NULL;
  gsize got = 0;

  if (!g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf, len,
                                &got, NULL, &error) || got != len)
    die ("a pipe closed: %s", error ? error->message : "end of stream");
}

static void
write_all (GSocketConnection *conn,
           const void        *buf,
           gsize              len)
{
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), buf,
                                  len, NULL, NULL, &error))
    die ("cannot write on a pipe: %s", error->message);
}

/* Reads one frame, which must be PipeReady (the relay's last word on a pipe). */
static void
expect_pipe_ready (GSocketConnection *conn)
{
  guint8 header[4];
  guint32 len;
  g_autofree char *body = NULL;
  g_autoptr(WzpMessage) m = NULL;
  g_autoptr(GError) error = NULL;

  read_exact (conn, header, 4);
  len = ((guint32) header[0] << 24) | (header[1] << 16) | (header[2] << 8) | header[3];
  if (len > 4096)
    die ("an oversized frame on a pipe");
  body = g_malloc (len);
  read_exact (conn, body, len);
  m = _wzp_message_decode (body, len, &error);
  if (m == NULL || _wzp_message_get_message_type (m) != WZP_MESSAGE_PIPE_READY)
    die ("expected PipeReady on a pipe");
}

typedef struct
{
  Figure *signalling;
  Figure *pipe_setup;
  Figure *rtt;
} RawFigures;

static void
raw_call (WzpTestClient *caller,
          WzpTestClient *callee,
          gboolean       federated,
          RawFigures    *figures)
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
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) pipe_b = NULL;
  g_autofree char *token_a = NULL;
  g_autofree char *token_b = NULL;
  g_autofree guint8 *buf = g_malloc0 (msg_size);
  g_autofree guint8 *echo = g_malloc0 (msg_size);
  gint64 t_offer, t_setup, t_pipe;

  _wzp_message_set_string (offer, "target_fingerprint", wzp_test_client_fingerprint (callee));
  _wzp_message_set_string (offer, "caller_alias", "bench caller");
  _wzp_message_set_string (answer, "accept_mode", "AcceptGeneric");

  t_offer = now_us ();
  wzp_test_client_send (caller, offer);
  got_offer = expect_skipping (callee, WZP_MESSAGE_DIRECT_CALL_OFFER);
  if (_wzp_message_get_message_type (got_offer) != WZP_MESSAGE_DIRECT_CALL_OFFER)
    die ("the %s callee got an Error instead of the offer", federated ? "federated" : "local");
  wzp_test_client_send (callee, answer);
  setup_a = expect_skipping (caller, WZP_MESSAGE_CALL_SETUP);
  setup_b = expect_skipping (callee, WZP_MESSAGE_CALL_SETUP);
  t_setup = now_us ();
  if (_wzp_message_get_message_type (setup_a) != WZP_MESSAGE_CALL_SETUP ||
      _wzp_message_get_message_type (setup_b) != WZP_MESSAGE_CALL_SETUP)
    die ("a %s call was refused", federated ? "federated" : "local");
  figure_add (figures->signalling, federated, t_setup - t_offer);

  token_a = _wzp_pipe_token_derive (_wzp_message_get_string (setup_a, "pipe_token"), 1);
  token_b = _wzp_pipe_token_derive (_wzp_message_get_string (setup_b, "pipe_token"), 1);
  /* Both parties open their pipes at once, as two clients do on CallSetup of a call
   * answered in privacy mode. */
  t_pipe = now_us ();
  pipe_a = wzp_test_pipe_open (_wzp_message_get_string (setup_a, "pipe_addr"), call_id,
                               token_a, 1);
  pipe_b = wzp_test_pipe_open (_wzp_message_get_string (setup_b, "pipe_addr"), call_id,
                               token_b, 1);
  expect_pipe_ready (pipe_a);
  expect_pipe_ready (pipe_b);
  figure_add (figures->pipe_setup, federated, now_us () - t_pipe);
  set_nodelay (pipe_a);
  set_nodelay (pipe_b);

  for (int i = 0; i < n_messages; i++)
    {
      gint64 t0 = now_us ();

      memcpy (buf, &t0, sizeof t0);
      buf[sizeof t0] = (guint8) i;
      write_all (pipe_a, buf, msg_size);
      read_exact (pipe_b, echo, msg_size);
      write_all (pipe_b, echo, msg_size);
      read_exact (pipe_a, echo, msg_size);
      if (memcmp (echo, buf, msg_size) != 0)
        die ("a pipe changed the bytes it carried");
      figure_add (figures->rtt, federated, now_us () - t0);
    }

  _wzp_message_set_string (hangup, "reason", "Normal");
  wzp_test_client_send (caller, hangup);
  got_hangup = expect_skipping (callee, WZP_MESSAGE_HANGUP);
  g_io_stream_close (G_IO_STREAM (pipe_a), NULL, NULL);
  g_io_stream_close (G_IO_STREAM (pipe_b), NULL, NULL);
}

/* Presence travels in batches (at most one PresenceUpdate a second per link): offers to
 * the federated callee until relay A knows where it is. */
static void
wait_for_presence (WzpTestClient *caller,
                   WzpTestClient *callee)
{
  gint64 deadline = now_us () + 15 * G_USEC_PER_SEC;

  while (now_us () < deadline)
    {
      g_autofree char *call_id = g_uuid_string_random ();
      g_autoptr(WzpMessage) offer = _wzp_message_new_for_call (WZP_MESSAGE_DIRECT_CALL_OFFER,
                                                               call_id);
      g_autoptr(WzpMessage) reply = NULL;

      _wzp_message_set_string (offer, "target_fingerprint", wzp_test_client_fingerprint (callee));
      wzp_test_client_send (caller, offer);
      if (!wzp_test_client_quiet (caller, 300))
        {
          reply = wzp_test_client_next (caller, STEP_TIMEOUT_MS);
          if (reply != NULL && _wzp_message_get_message_type (reply) == WZP_MESSAGE_ERROR)
            continue;   /* not known yet: the Error came at once */
        }
      /* No Error: the offer reached the callee. End that call. */
      {
        g_autoptr(WzpMessage) got = expect_skipping (callee, WZP_MESSAGE_DIRECT_CALL_OFFER);
        g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);
        g_autoptr(WzpMessage) got_hangup = NULL;

        _wzp_message_set_string (hangup, "reason", "Normal");
        wzp_test_client_send (caller, hangup);
        got_hangup = expect_skipping (callee, WZP_MESSAGE_HANGUP);
        return;
      }
    }
  die ("relay A never learnt that the callee is at relay B (federation link down?)");
}

/* Part 2: real calls */

typedef struct
{
  GMainLoop     *loop;
  WzpAcceptMode  answer_mode;
  WzpCall       *call;          /* the caller's current call */
  gboolean       federated;
  gint64         t_place;
  gint64         t_setup_caller;
  gint64         t_setup_callee;
  gint64         t_path;
  char          *path_kind;
  gboolean       ended;
  char          *end_message;
} Real;

static void
real_setup_cb (WzpCall    *call,
               GParamSpec *pspec,
               Real       *real)
{
  gint64 *slot = wzp_call_get_role (call) == WZP_CALL_ROLE_CALLER ? &real->t_setup_caller
                                                                  : &real->t_setup_callee;

  if (*slot == 0)
    *slot = now_us ();
}

static gboolean
hangup_cb (gpointer user_data)
{
  WzpCall *call = user_data;

  wzp_call_hangup (call);
  return G_SOURCE_REMOVE;
}

static void
real_path_cb (WzpCall *call,
              Real    *real)
{
  if (wzp_call_get_role (call) != WZP_CALL_ROLE_CALLER || real->t_path != 0)
    return;
  real->t_path = now_us ();
  real->path_kind = g_strdup (wzp_call_get_path_kind (call) == WZP_PATH_KIND_RELAY ? "relay"
                                                                                   : "direct");
  /* Hang up a moment later, as someone who only wanted the path. */
  g_timeout_add_full (G_PRIORITY_DEFAULT, 30, hangup_cb, g_object_ref (call), g_object_unref);
}

static void
real_ended_cb (WzpCall         *call,
               WzpHangupReason  reason,
               Real            *real)
{
  if (wzp_call_get_role (call) != WZP_CALL_ROLE_CALLER)
    return;
  real->ended = TRUE;
  if (real->t_path == 0)
    real->end_message = g_strdup (wzp_call_get_error_message (call));
}

static void
real_track (Real    *real,
            WzpCall *call)
{
  g_signal_connect (call, "notify::peer-local-addresses", G_CALLBACK (real_setup_cb), real);
  g_signal_connect (call, "path-changed", G_CALLBACK (real_path_cb), real);
  g_signal_connect (call, "ended", G_CALLBACK (real_ended_cb), real);
}

static void
answered_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!wzp_call_answer_finish (WZP_CALL (source), result, &error))
    g_debug ("answer: %s", error->message);
}

static void
incoming_cb (WzpClient *client,
             WzpCall   *call,
             Real      *real)
{
  real_track (real, call);
  wzp_call_ring (call);
  wzp_call_answer_async (call, real->answer_mode, NULL, answered_cb, NULL);
}

static void
outgoing_cb (WzpClient *client,
             WzpCall   *call,
             Real      *real)
{
  g_set_object (&real->call, call);
  real_track (real, call);
}

static void
placed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Real *real = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = wzp_client_place_call_finish (WZP_CLIENT (source), result, &error);

  if (call == NULL && real->call == NULL)
    {
      real->ended = TRUE;
      real->end_message = g_strdup (error->message);
    }
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;

  if (!wzp_client_connect_finish (WZP_CLIENT (source), result, &error))
    die ("a client could not register: %s", error->message);
  *done = TRUE;
}

static WzpClient *
real_client (const char *relay_uri,
             Real       *real)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  WzpClient *client = wzp_client_new (identity);
  gboolean done = FALSE;

  g_object_set (client, "relay-uri", relay_uri, "alias", "bench", NULL);
  _wzp_client_set_test_loopback (client, TRUE);
  g_signal_connect (client, "incoming-call", G_CALLBACK (incoming_cb), real);
  g_signal_connect (client, "outgoing-call", G_CALLBACK (outgoing_cb), real);
  wzp_client_connect_async (client, NULL, connected_cb, &done);
  wzp_test_wait_flag (&done, STEP_TIMEOUT_MS);
  return client;
}

static gboolean
tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* One call from @caller to @callee; FALSE if it ended before a path (and says why). */
static gboolean
real_call (Real       *real,
           WzpClient  *caller,
           WzpClient  *callee,
           gboolean    federated)
{
  const char *target = wzp_identity_get_fingerprint (wzp_client_get_identity (callee));
  gint64 deadline;
  guint tick;

  g_clear_object (&real->call);
  g_clear_pointer (&real->path_kind, g_free);
  g_clear_pointer (&real->end_message, g_free);
  real->federated = federated;
  real->t_setup_caller = real->t_setup_callee = real->t_path = 0;
  real->ended = FALSE;

  real->t_place = now_us ();
  wzp_client_place_call_async (caller, target, NULL, placed_cb, real);
  /* A timer, so that the loop wakes up to check the deadline. */
  tick = g_timeout_add (100, tick_cb, NULL);
  deadline = now_us () + STEP_TIMEOUT_MS * 1000;
  while (!real->ended && now_us () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  if (!real->ended)
    die ("a call did not end within %d ms", STEP_TIMEOUT_MS);
  /* Let the callee's side finish too before the next call. */
  wzp_test_spin (100);
  return real->t_path != 0;
}

static void
real_series (Real         *real,
             WzpClient    *caller,
             WzpClient    *callee_local,
             WzpClient    *callee_fed,
             WzpAcceptMode mode,
             Figure       *offer_to_path,
             Figure       *setup_to_path,
             const char   *expect_kind)
{
  real->answer_mode = mode;
  for (int i = 0; i < 2 * n_calls; i++)
    {
      gboolean federated = i % 2 == 1;

      if (!real_call (real, caller, federated ? callee_fed : callee_local, federated))
        die ("a %s call ended before a path: %s", federated ? "federated" : "local",
             real->end_message ? real->end_message : "?");
      if (!g_str_equal (real->path_kind, expect_kind))
        die ("a %s call took the %s path, not %s", federated ? "federated" : "local",
             real->path_kind, expect_kind);
      figure_add (offer_to_path, federated, real->t_path - real->t_place);
      figure_add (setup_to_path, federated,
                  real->t_path - MAX (real->t_setup_caller, real->t_setup_callee));
    }
}

int
main (int    argc,
      char **argv)
{
  const GOptionEntry entries[] = {
    { "calls", 0, 0, G_OPTION_ARG_INT, &n_calls,
      "calls of each kind (local, federated) per figure (default 60)", "N" },
    { "messages", 0, 0, G_OPTION_ARG_INT, &n_messages,
      "round trips per relayed raw call (default 20)", "M" },
    { "size", 0, 0, G_OPTION_ARG_INT, &msg_size, "bytes per message (default 160)", "BYTES" },
    { "relay-bin", 0, 0, G_OPTION_ARG_FILENAME, &relay_bin,
      "the wzp-relay daemon (default: the one of this build)", "PATH" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *config = NULL;
  BenchRelay relays[2] = { { 0 } };
  BenchRelay *a = &relays[0], *b = &relays[1];
  BenchRelay *both[] = { a, b };
  RawFigures raw = { figure_new ("raw: offer -> both CallSetup"),
                     figure_new ("raw: OpenPipe -> both PipeReady"),
                     figure_new ("raw: relay-path round trip") };
  Figure *direct_offer = figure_new ("call, direct: place -> NominateAck");
  Figure *direct_setup = figure_new ("call, direct: CallSetup -> NominateAck");
  Figure *relay_offer = figure_new ("call, relay: place -> NominateAck");
  Figure *relay_setup = figure_new ("call, relay: CallSetup -> NominateAck");
  Real real = { 0 };

  g_log_writer_default_set_use_stderr (TRUE);
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "What federation adds to a call's setup time and to the relay path's round trip, "
    "against a local call in the same run (bench/README.md, \"Federation\").");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die ("%s", error->message);
  if (n_calls < 1 || n_messages < 1 || msg_size < 16 || msg_size > 16384)
    die ("--calls and --messages must be positive, --size from 16 to 16384");
  if (relay_bin == NULL)
    relay_bin = g_build_filename (BENCH_BUILDDIR, "..", "wzp-relay", "wzp-relay", NULL);
  signal (SIGPIPE, SIG_IGN);

  tmp = g_dir_make_tmp ("wzp-bench-federation-XXXXXX", &error);
  if (tmp == NULL)
    die ("%s", error->message);
  /* Lift what one source address and a fast sequence of calls would hit; keep the pipe
   * rate limit (a round trip at a time stays far under it). */
  config = g_build_filename (tmp, "relay.conf", NULL);
  if (!g_file_set_contents (config,
                            "[limits]\n"
                            "max-messages-per-second=100000\n"
                            "keepalive-interval=3600\n"
                            "idle-timeout=86400\n", -1, &error))
    die ("%s", error->message);

  for (int i = 0; i < 2; i++)
    if (!bench_relay_init (&relays[i], relay_bin, tmp, i == 0 ? "A" : "B", &error))
      die ("%s", error->message);
  relays_for_die = relays;
  a->peers[0] = b;
  b->peers[0] = a;
  if (!bench_relays_start (both, 2, relay_bin, config, &error))
    die ("%s", error->message);

  printf ("# relay A %s, relay B %s, federated; %d calls of each kind per figure, %d round "
          "trips of %d bytes per raw call\n", a->address, b->address, n_calls, n_messages,
          msg_size);
  fflush (stdout);

  /* Part 1: raw protocol */
  {
    g_autoptr(WzpTestClient) caller = wzp_test_client_connect (a->address, NULL, a->fingerprint);
    g_autoptr(WzpTestClient) callee_local = wzp_test_client_connect (a->address, NULL,
                                                                     a->fingerprint);
    g_autoptr(WzpTestClient) callee_fed = wzp_test_client_connect (b->address, NULL,
                                                                   b->fingerprint);
    g_autoptr(WzpMessage) ack1 = wzp_test_client_register (caller, "bench caller");
    g_autoptr(WzpMessage) ack2 = wzp_test_client_register (callee_local, "bench local");
    g_autoptr(WzpMessage) ack3 = wzp_test_client_register (callee_fed, "bench federated");

    wait_for_presence (caller, callee_fed);
    /* A warm-up call of each kind, not counted. */
    {
      RawFigures warm = { figure_new ("warm"), figure_new ("warm"), figure_new ("warm") };

      raw_call (caller, callee_local, FALSE, &warm);
      raw_call (caller, callee_fed, TRUE, &warm);
      figure_free (warm.signalling);
      figure_free (warm.pipe_setup);
      figure_free (warm.rtt);
    }
    for (int i = 0; i < 2 * n_calls; i++)
      raw_call (caller, i % 2 ? callee_fed : callee_local, i % 2 == 1, &raw);
  }

  /* Part 2: real calls */
  {
    g_autoptr(WzpClient) caller = real_client (a->uri, &real);
    g_autoptr(WzpClient) callee_local = real_client (a->uri, &real);
    g_autoptr(WzpClient) callee_fed = real_client (b->uri, &real);
    gint64 deadline = now_us () + 15 * G_USEC_PER_SEC;

    /* Until relay A knows the federated callee, then one warm-up call of each kind. */
    real.answer_mode = WZP_ACCEPT_MODE_TRUSTED;
    while (!real_call (&real, caller, callee_fed, TRUE))
      if (now_us () > deadline)
        die ("the federated callee stays unreachable: %s", real.end_message);
    real_call (&real, caller, callee_local, FALSE);

    real_series (&real, caller, callee_local, callee_fed, WZP_ACCEPT_MODE_TRUSTED,
                 direct_offer, direct_setup, "direct");
    real_series (&real, caller, callee_local, callee_fed, WZP_ACCEPT_MODE_PRIVACY,
                 relay_offer, relay_setup, "relay");

    g_clear_object (&real.call);
    wzp_client_unregister (caller);
    wzp_client_unregister (callee_local);
    wzp_client_unregister (callee_fed);
  }

  printf ("%-40s %5s %8s %8s | %5s %8s %8s | %8s %7s %7s\n", "ms", "local", "p50", "p95",
          "fed", "p50", "p95", "+p50", "p50 x", "p95 x");
  figure_print (raw.signalling);
  figure_print (raw.pipe_setup);
  figure_print (raw.rtt);
  figure_print (direct_offer);
  figure_print (direct_setup);
  figure_print (relay_offer);
  figure_print (relay_setup);

  figure_free (raw.signalling);
  figure_free (raw.pipe_setup);
  figure_free (raw.rtt);
  figure_free (direct_offer);
  figure_free (direct_setup);
  figure_free (relay_offer);
  figure_free (relay_setup);

  for (int i = 0; i < 2; i++)
    bench_relay_clear (&relays[i]);
  g_remove (config);
  g_rmdir (tmp);
  g_clear_pointer (&real.path_kind, g_free);
  g_clear_pointer (&real.end_message, g_free);
  return 0;
}
