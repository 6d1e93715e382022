/* bench-presence.c: how long a registration takes to cross a federation link
 * (bench/README.md, "Presence crossing")
 *
 * Two relays on loopback in this process, A and B, federated with each other. A client
 * registers at A; the crossing time runs from its RegisterPresenceAck to the moment relay
 * B knows that A holds it, which is when B's clients can call it. Each sample starts on a
 * link that has been quiet for --quiet-ms, as a real link mostly is. Two cases:
 *
 *   - first: a new identity registers;
 *   - return: a registered client's app restarts: its connection closes, relay A drops
 *     the registration (and announces that), and --restart-ms later the same identity
 *     connects and registers again.
 *
 * Both for the relay's own pacing ("bucket": a token a second, two held) and for the
 * fixed one-second batching of before ("fixed": the same bucket holding one token, set
 * with the test-only _wzp_relay_presence_set_pacing()), alternating sample by sample so
 * that both see the same machine. Besides, a client of B calls the client --call-after-ms
 * after the ack (by default 0.2 s, when a call failed in the network lab): the call
 * counts as reached when the offer arrives, failed on Error{unknown_callee}.
 *
 * The relays and the clients share this process's main loop: the figures are the
 * relays' pacing and processing on loopback, not a network's delay.
 *
 *   bench-presence [--samples N] [--quiet-ms MS] [--restart-ms MS] [--call-after-ms MS]
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>

#include <gio/gio.h>

#include "bench-stats.h"
#include "test-util.h"
#include "wzp-relay-federation-private.h"
#include "wzp-relay-private.h"

#define STEP_TIMEOUT_US (10 * G_USEC_PER_SEC)

static int n_samples = 10;
static int quiet_ms = 2500;
static int restart_ms = 0;
static int call_after_ms = 200;

typedef struct
{
  WzpRelay *relay;
  char     *address;
} Relay;

typedef enum
{
  CASE_FIRST,
  CASE_RETURN,
  N_CASES
} Case;

typedef enum
{
  PACING_FIXED,
  PACING_BUCKET,
  N_PACINGS
} Pacing;

static const char * const case_names[N_CASES] = { "first", "return" };
static const char * const pacing_names[N_PACINGS] = { "fixed", "bucket" };

typedef struct
{
  GArray *crossing_us;   /* double */
  guint   reached;
} Series;

static void
relay_start (Relay *r)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) listen = NULL;

  r->relay = wzp_relay_new (identity);
  if (!wzp_relay_listen (r->relay, "127.0.0.1:0", NULL, &error))
    g_error ("a relay cannot listen: %s", error->message);
  listen = wzp_relay_dup_listen_addresses (r->relay);
  r->address = g_strdup (listen[0]);
}

static void
relays_link (Relay *a,
             Relay *b)
{
  g_auto(GStrv) uris_a = wzp_relay_dup_uris (a->relay);
  g_auto(GStrv) uris_b = wzp_relay_dup_uris (b->relay);
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + STEP_TIMEOUT_US;
  RelayPeer *b_at_a, *a_at_b;

  if (!wzp_relay_add_peer (a->relay, uris_b[0], &error) ||
      !wzp_relay_add_peer (b->relay, uris_a[0], &error))
    g_error ("%s", error->message);
  b_at_a = _wzp_relay_federation_peer (a->relay, wzp_relay_get_fingerprint (b->relay));
  a_at_b = _wzp_relay_federation_peer (b->relay, wzp_relay_get_fingerprint (a->relay));
  while (b_at_a->link == NULL || a_at_b->link == NULL)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("the link between the relays did not come up");
      g_main_context_iteration (NULL, TRUE);
    }
}

/* Iterates the main loop until relay @at knows (@known) or forgets that a peer holds
 * @fingerprint. */
static void
wait_known (WzpRelay   *at,
            const char *fingerprint,
            gboolean    known)
{
  gint64 deadline = g_get_monotonic_time () + STEP_TIMEOUT_US;

  while ((_wzp_relay_presence_lookup (at, fingerprint, G_MININT64) != NULL) != known)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("relay B never learnt that %s is %s", fingerprint, known ? "at A" : "gone");
      g_main_context_iteration (NULL, TRUE);
    }
}

static gboolean
wake_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* One crossing: @callee has just got its RegisterPresenceAck at relay A at @t_ack. Waits
 * until relay B knows it, and places @caller's call at t_ack + --call-after-ms. */
static void
measure (Relay         *b,
         WzpTestClient *caller,
         WzpTestClient *callee,
         gint64         t_ack,
         Series        *series)
{
  const char *fp = wzp_test_client_fingerprint (callee);
  g_autofree char *call_id = g_uuid_string_random ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, fp);
  g_autoptr(WzpMessage) outcome = NULL;
  gint64 t_known = 0;
  double crossing_us;
  gint64 t_call = t_ack + (gint64) call_after_ms * 1000;
  gboolean placed = FALSE;
  guint wake = g_timeout_add (1, wake_cb, NULL);

  while (t_known == 0 || outcome == NULL)
    {
      gint64 now = g_get_monotonic_time ();

      if (now > t_ack + STEP_TIMEOUT_US)
        g_error ("no crossing or no answer to the call within 10 s");
      if (t_known == 0 && _wzp_relay_presence_lookup (b->relay, fp, G_MININT64) != NULL)
        t_known = now;
      if (!placed && now >= t_call)
        {
          wzp_test_client_send (caller, offer);
          placed = TRUE;
        }
      if (placed && outcome == NULL && !g_queue_is_empty (&caller->inbox))
        outcome = g_queue_pop_head (&caller->inbox);
      if (placed && outcome == NULL && !g_queue_is_empty (&callee->inbox))
        outcome = g_queue_pop_head (&callee->inbox);
      if (t_known == 0 || outcome == NULL)
        g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (wake);

  crossing_us = t_known - t_ack;
  g_array_append_val (series->crossing_us, crossing_us);
  if (_wzp_message_get_message_type (outcome) == WZP_MESSAGE_DIRECT_CALL_OFFER)
    {
      g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);
      g_autoptr(WzpMessage) got = NULL;

      series->reached++;
      _wzp_message_set_string (hangup, "reason", "Normal");
      wzp_test_client_send (caller, hangup);
      got = wzp_test_client_expect (callee, WZP_MESSAGE_HANGUP);
    }
  else if (_wzp_message_get_message_type (outcome) != WZP_MESSAGE_ERROR ||
           g_strcmp0 (_wzp_message_get_string (outcome, "code"),
                      WZP_ERROR_CODE_UNKNOWN_CALLEE) != 0)
    g_error ("the call got %s, neither the offer nor Error{unknown_callee}",
         _wzp_message_type_to_string (_wzp_message_get_message_type (outcome)));
}

/* @client's app quits: its connection closes; returns once relay A has dropped its
 * registration (and announced that). */
static void
app_quits (Relay         *a,
           WzpTestClient *client)
{
  g_autofree char *fp = g_strdup (wzp_test_client_fingerprint (client));
  gint64 deadline = g_get_monotonic_time () + STEP_TIMEOUT_US;

  wzp_test_client_free (client);
  while (_wzp_relay_lookup_conn (a->relay, fp) != NULL)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("relay A kept a closed connection's registration");
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
sample (Relay          *a,
        Relay          *b,
        WzpTestClient  *caller,
        WzpTestClient **returning,
        Case            kind,
        Pacing          pacing,
        Series         *series)
{
  g_autoptr(WzpIdentity) identity = NULL;
  g_autoptr(WzpMessage) ack = NULL;
  WzpTestClient *client;

  _wzp_relay_presence_set_pacing (a->relay, G_USEC_PER_SEC, pacing == PACING_FIXED ? 1 : 0);
  wzp_test_spin (quiet_ms);

  if (kind == CASE_RETURN)
    {
      identity = g_object_ref ((*returning)->identity);
      app_quits (a, g_steal_pointer (returning));
      if (restart_ms > 0)
        wzp_test_spin (restart_ms);
    }
  client = wzp_test_client_connect (a->address, identity, wzp_relay_get_fingerprint (a->relay));
  ack = wzp_test_client_register (client, "bench callee");
  measure (b, caller, client, g_get_monotonic_time (), series);

  if (kind == CASE_RETURN)
    *returning = client;
  else
    wzp_test_client_free (client);   /* a change the next quiet spell absorbs */
}

static void
series_print (const char *name,
              Series     *s)
{
  GArray *v = s->crossing_us;

  printf ("%-16s %5u %9.3f %9.3f %9.3f %9.3f %6u/%u\n", name, v->len,
          bench_percentile (v, 0.001) / 1000, bench_percentile (v, 50) / 1000,
          bench_percentile (v, 95) / 1000, bench_percentile (v, 100) / 1000, s->reached, v->len);
}

int
main (int    argc,
      char **argv)
{
  const GOptionEntry entries[] = {
    { "samples", 0, 0, G_OPTION_ARG_INT, &n_samples,
      "samples per case and pacing (default 10)", "N" },
    { "quiet-ms", 0, 0, G_OPTION_ARG_INT, &quiet_ms,
      "how long the link is quiet before each sample (default 2500)", "MS" },
    { "restart-ms", 0, 0, G_OPTION_ARG_INT, &restart_ms,
      "return: from relay A dropping the client to its new connection (default 0)", "MS" },
    { "call-after-ms", 0, 0, G_OPTION_ARG_INT, &call_after_ms,
      "when a client of B calls, after the ack (default 200)", "MS" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  Relay a = { 0 }, b = { 0 };
  Series series[N_CASES][N_PACINGS];
  WzpTestClient *caller, *returning;
  g_autoptr(WzpMessage) ack_caller = NULL;
  g_autoptr(WzpMessage) ack_returning = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "How long a registration at relay A takes to be known at its federation peer B, for a "
    "first registration and a return, with the presence pacing of the relay and with the "
    "fixed one-second batching of before (bench/README.md, \"Presence crossing\").");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-presence: %s\n", error->message);
      return 1;
    }
  if (n_samples < 1 || quiet_ms < 0 || restart_ms < 0 || call_after_ms < 0)
    {
      g_printerr ("bench-presence: --samples must be positive, the delays not negative\n");
      return 1;
    }

  relay_start (&a);
  relay_start (&b);
  relays_link (&a, &b);
  caller = wzp_test_client_connect (b.address, NULL, wzp_relay_get_fingerprint (b.relay));
  ack_caller = wzp_test_client_register (caller, "bench caller");
  returning = wzp_test_client_connect (a.address, NULL, wzp_relay_get_fingerprint (a.relay));
  ack_returning = wzp_test_client_register (returning, "bench returning");
  wait_known (b.relay, wzp_test_client_fingerprint (returning), TRUE);

  printf ("# relays A %s and B %s in one process, federated; %d samples per row, each after "
          "%d ms of quiet; return: %d ms from the drop to the reconnect; a call from B %d ms "
          "after the ack\n", a.address, b.address, n_samples, quiet_ms, restart_ms,
          call_after_ms);
  fflush (stdout);

  for (int c = 0; c < N_CASES; c++)
    for (int p = 0; p < N_PACINGS; p++)
      {
        series[c][p].crossing_us = g_array_new (FALSE, FALSE, sizeof (double));
        series[c][p].reached = 0;
      }
  for (int c = 0; c < N_CASES; c++)
    for (int i = 0; i < 2 * n_samples; i++)
      sample (&a, &b, caller, &returning, c, i % 2, &series[c][i % 2]);

  printf ("%-16s %5s %9s %9s %9s %9s %8s\n", "ack -> B knows", "n", "min ms", "p50 ms",
          "p95 ms", "max ms", "called");
  for (int c = 0; c < N_CASES; c++)
    for (int p = 0; p < N_PACINGS; p++)
      {
        g_autofree char *name = g_strdup_printf ("%s, %s", case_names[c], pacing_names[p]);

        series_print (name, &series[c][p]);
        g_array_unref (series[c][p].crossing_us);
      }

  wzp_test_client_free (caller);
  wzp_test_client_free (returning);
  wzp_relay_stop (a.relay);
  wzp_relay_stop (b.relay);
  wzp_test_finalize_object (a.relay);
  wzp_test_finalize_object (b.relay);
  g_free (a.address);
  g_free (b.address);
  return 0;
}
