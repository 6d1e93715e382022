/* bench-race-nice.c: one side of the libnice ICE baseline for the race benchmark
 * (bench/README.md, "Race")
 *
 * Runs N ICE sessions (K at a time) against a peer process in another netlab namespace.
 * Each session is a fresh NiceAgent (RFC 5245, ICE-UDP only, no ICE-TCP, UPnP off,
 * aggressive nomination: NICE_AGENT_OPTION_REGULAR_NOMINATION not set) with one stream of
 * one component, host candidates and a server-reflexive one from --stun. The two sides
 * exchange their SDP (nice_agent_generate_local_sdp / nice_agent_parse_remote_sdp)
 * through a line-based rendezvous (bench-race.py's, in relay A's namespace):
 *
 *   -> HELLO <session>            once, to be paired with the peer
 *   <-> SDP <trial> <base64 sdp>  after local gathering finished
 *   <-> DONE <trial>              this side has its figures; the agent is dropped when
 *                                 both sides said DONE (so media keeps flowing until then)
 *
 * Per trial it prints one JSON line with CLOCK_MONOTONIC stamps (us): have_us (the
 * remote candidates were set: both own gathering done and the peer's SDP here),
 * connected_us, ready_us, failed_us (component states), first_tx_us (first successful
 * nice_agent_send) and first_rx_us (first datagram of this trial from the peer). Media
 * is a small datagram sent every 2 ms from the moment the remote candidates are set
 * (nice_agent_send fails until a pair is selected) for at most 1 s after the first
 * successful send.
 *
 *   bench-race-nice --role caller|callee --rendezvous HOST:PORT --session NAME
 *                   --stun IP[:PORT] [--trials N] [--parallel K] [--timeout-s S]
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <gio/gio.h>
#include <nice/agent.h>

#define MEDIA_INTERVAL_MS 2
#define MEDIA_MAX_US      (1000 * 1000)

typedef struct _Bench Bench;

typedef struct
{
  Bench      *bench;
  int         index;
  NiceAgent  *agent;
  guint       stream_id;
  gboolean    gathered;
  char       *remote_sdp;        /* arrived before our own gathering finished */
  gboolean    closing;
  gboolean    local_done;
  gboolean    peer_done;
  guint       media_id;
  guint       timeout_id;
  gboolean    timed_out;
  int         n_remote;
  gint64      start_us, gathered_us, have_us, connected_us, ready_us, failed_us;
  gint64      first_tx_us, first_rx_us;
  char       *pair;
} Trial;

struct _Bench
{
  gboolean            controlling;
  const char         *role;
  char               *stun_ip;
  guint               stun_port;
  int                 n_trials;
  int                 parallel;
  int                 timeout_s;

  GMainLoop          *loop;
  GSocketConnection  *conn;
  GDataInputStream   *in;
  GOutputStream      *out;
  GHashTable         *trials;       /* index -> Trial* */
  GHashTable         *early_sdp;    /* index -> char* (peer's SDP before our trial began) */
  GHashTable         *early_done;   /* index set: peer DONE before ours */
  int                 next;
  int                 n_finished;
  int                 status;
};

static void start_trial (Bench *bench);

static void
send_line (Bench      *bench,
           const char *format,
           ...) G_GNUC_PRINTF (2, 3);

static void
send_line (Bench      *bench,
           const char *format,
           ...)
{
  g_autofree char *line = NULL;
  g_autoptr(GError) error = NULL;
  va_list args;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  if (!g_output_stream_write_all (bench->out, line, strlen (line), NULL, NULL, &error) ||
      !g_output_stream_write_all (bench->out, "\n", 1, NULL, NULL, &error))
    {
      g_printerr ("bench-race-nice: rendezvous: %s\n", error->message);
      bench->status = 1;
      g_main_loop_quit (bench->loop);
    }
}

static void
print_stamp (GString    *s,
             const char *name,
             gint64      value)
{
  if (value > 0)
    g_string_append_printf (s, ",\"%s\":%" G_GINT64_FORMAT, name, value);
  else
    g_string_append_printf (s, ",\"%s\":null", name);
}

static void
trial_free (Trial *trial)
{
  g_clear_handle_id (&trial->media_id, g_source_remove);
  g_clear_handle_id (&trial->timeout_id, g_source_remove);
  if (trial->agent != NULL)
    {
      g_signal_handlers_disconnect_by_data (trial->agent, trial);
      nice_agent_remove_stream (trial->agent, trial->stream_id);
      g_object_unref (trial->agent);
    }
  g_free (trial->remote_sdp);
  g_free (trial->pair);
  g_free (trial);
}

static gboolean
finish_trial_cb (gpointer user_data)
{
  Trial *trial = user_data;
  Bench *bench = trial->bench;

  g_hash_table_remove (bench->trials, GINT_TO_POINTER (trial->index));   /* frees it */
  bench->n_finished++;
  if (bench->n_finished >= bench->n_trials)
    g_main_loop_quit (bench->loop);
  else
    start_trial (bench);
  return G_SOURCE_REMOVE;
}

static void
maybe_finish (Trial *trial)
{
  if (trial->local_done && trial->peer_done && !trial->closing)
    {
      trial->closing = TRUE;
      /* Not from inside one of the agent's own callbacks. */
      g_idle_add (finish_trial_cb, trial);
    }
}

static void
check_local_done (Trial *trial)
{
  Bench *bench = trial->bench;
  gboolean ice_done = trial->ready_us > 0 || trial->failed_us > 0 || trial->timed_out;
  gboolean media_done = trial->first_rx_us > 0 || trial->failed_us > 0 || trial->timed_out;
  g_autoptr(GString) s = NULL;

  if (trial->local_done || !ice_done || !media_done)
    return;
  trial->local_done = TRUE;

  s = g_string_new (NULL);
  g_string_append_printf (s, "{\"event\":\"trial\",\"role\":\"%s\",\"trial\":%d",
                          bench->role, trial->index);
  print_stamp (s, "start_us", trial->start_us);
  print_stamp (s, "gathered_us", trial->gathered_us);
  print_stamp (s, "have_us", trial->have_us);
  print_stamp (s, "connected_us", trial->connected_us);
  print_stamp (s, "ready_us", trial->ready_us);
  print_stamp (s, "failed_us", trial->failed_us);
  print_stamp (s, "first_tx_us", trial->first_tx_us);
  print_stamp (s, "first_rx_us", trial->first_rx_us);
  g_string_append_printf (s, ",\"timeout\":%s,\"n_remote\":%d,\"pair\":\"%s\"}",
                          trial->timed_out ? "true" : "false", trial->n_remote,
                          trial->pair ? trial->pair : "");
  puts (s->str);
  fflush (stdout);

  send_line (bench, "DONE %d", trial->index);
  maybe_finish (trial);
}

static gboolean
media_cb (gpointer user_data)
{
  Trial *trial = user_data;
  char packet[32];
  int len = g_snprintf (packet, sizeof packet, "M %d", trial->index);
  gint64 now = g_get_monotonic_time ();

  if (trial->first_tx_us > 0 && now - trial->first_tx_us > MEDIA_MAX_US)
    {
      trial->media_id = 0;
      return G_SOURCE_REMOVE;
    }
  if (nice_agent_send (trial->agent, trial->stream_id, 1, len, packet) == len &&
      trial->first_tx_us == 0)
    trial->first_tx_us = now;
  return G_SOURCE_CONTINUE;
}

static void
recv_cb (NiceAgent *agent,
         guint      stream_id,
         guint      component_id,
         guint      len,
         gchar     *buf,
         gpointer   user_data)
{
  Trial *trial = user_data;
  g_autofree char *expected = g_strdup_printf ("M %d", trial->index);

  if (trial->first_rx_us == 0 && len == strlen (expected) &&
      memcmp (buf, expected, len) == 0)
    {
      trial->first_rx_us = g_get_monotonic_time ();
      check_local_done (trial);
    }
}

static void
apply_remote (Trial *trial)
{
  g_autofree char *sdp = g_steal_pointer (&trial->remote_sdp);

  trial->n_remote = nice_agent_parse_remote_sdp (trial->agent, sdp);
  trial->have_us = g_get_monotonic_time ();
  if (trial->n_remote < 0)
    g_printerr ("bench-race-nice: trial %d: the peer's SDP did not parse\n", trial->index);
  /* Media from now on: nice_agent_send fails until a pair is selected. */
  trial->media_id = g_timeout_add (MEDIA_INTERVAL_MS, media_cb, trial);
  media_cb (trial);
}

static void
gathering_done_cb (NiceAgent *agent,
                   guint      stream_id,
                   gpointer   user_data)
{
  Trial *trial = user_data;
  g_autofree char *sdp = nice_agent_generate_local_sdp (agent);
  g_autofree char *encoded = g_base64_encode ((const guchar *) sdp, strlen (sdp));

  if (trial->gathered)
    return;
  trial->gathered = TRUE;
  trial->gathered_us = g_get_monotonic_time ();
  send_line (trial->bench, "SDP %d %s", trial->index, encoded);
  if (trial->remote_sdp != NULL)
    apply_remote (trial);
}

static void
state_cb (NiceAgent *agent,
          guint      stream_id,
          guint      component_id,
          guint      state,
          gpointer   user_data)
{
  Trial *trial = user_data;
  gint64 now = g_get_monotonic_time ();

  if (state == NICE_COMPONENT_STATE_CONNECTED && trial->connected_us == 0)
    trial->connected_us = now;
  else if (state == NICE_COMPONENT_STATE_READY && trial->ready_us == 0)
    {
      trial->ready_us = now;
      if (trial->connected_us == 0)
        trial->connected_us = now;
    }
  else if (state == NICE_COMPONENT_STATE_FAILED && trial->failed_us == 0)
    trial->failed_us = now;
  check_local_done (trial);
}

static const char *
type_name (NiceCandidateType type)
{
  switch (type)
    {
    case NICE_CANDIDATE_TYPE_HOST: return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED: return "relay";
    default: return "?";
    }
}

static void
selected_pair_cb (NiceAgent     *agent,
                  guint          stream_id,
                  guint          component_id,
                  NiceCandidate *local,
                  NiceCandidate *remote,
                  gpointer       user_data)
{
  Trial *trial = user_data;
  char laddr[NICE_ADDRESS_STRING_LEN], raddr[NICE_ADDRESS_STRING_LEN];

  nice_address_to_string (&local->addr, laddr);
  nice_address_to_string (&remote->addr, raddr);
  g_free (trial->pair);
  trial->pair = g_strdup_printf ("%s %s:%u -> %s %s:%u", type_name (local->type), laddr,
                                 nice_address_get_port (&local->addr), type_name (remote->type),
                                 raddr, nice_address_get_port (&remote->addr));
}

static gboolean
trial_timeout_cb (gpointer user_data)
{
  Trial *trial = user_data;

  trial->timeout_id = 0;
  trial->timed_out = TRUE;
  check_local_done (trial);
  return G_SOURCE_REMOVE;
}

static void
start_trial (Bench *bench)
{
  Trial *trial;
  char *early;

  if (bench->next >= bench->n_trials)
    return;

  trial = g_new0 (Trial, 1);
  trial->bench = bench;
  trial->index = bench->next++;
  trial->start_us = g_get_monotonic_time ();
  g_hash_table_insert (bench->trials, GINT_TO_POINTER (trial->index), trial);

  /* Aggressive nomination is what NICE_AGENT_OPTION_REGULAR_NOMINATION left out gives. */
  trial->agent = nice_agent_new_full (g_main_loop_get_context (bench->loop),
                                      NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_NONE);
  g_object_set (trial->agent,
                "controlling-mode", bench->controlling,
                "stun-server", bench->stun_ip,
                "stun-server-port", bench->stun_port,
                "upnp", FALSE,
                "ice-udp", TRUE,
                "ice-tcp", FALSE,
                NULL);
  g_signal_connect (trial->agent, "candidate-gathering-done", G_CALLBACK (gathering_done_cb),
                    trial);
  g_signal_connect (trial->agent, "component-state-changed", G_CALLBACK (state_cb), trial);
  g_signal_connect (trial->agent, "new-selected-pair-full", G_CALLBACK (selected_pair_cb),
                    trial);

  trial->stream_id = nice_agent_add_stream (trial->agent, 1);
  nice_agent_attach_recv (trial->agent, trial->stream_id, 1,
                          g_main_loop_get_context (bench->loop), recv_cb, trial);
  trial->timeout_id = g_timeout_add_seconds (bench->timeout_s, trial_timeout_cb, trial);

  if (g_hash_table_steal_extended (bench->early_sdp, GINT_TO_POINTER (trial->index), NULL,
                                   (gpointer *) &early))
    trial->remote_sdp = early;
  if (g_hash_table_remove (bench->early_done, GINT_TO_POINTER (trial->index)))
    trial->peer_done = TRUE;

  if (!nice_agent_gather_candidates (trial->agent, trial->stream_id))
    {
      g_printerr ("bench-race-nice: trial %d: gathering failed to start\n", trial->index);
      trial->failed_us = g_get_monotonic_time ();
    }
}

/* The rendezvous */

static void read_next (Bench *bench);

static void
line_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Bench *bench = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source),
                                                                result, NULL, &error);
  g_auto(GStrv) parts = NULL;
  Trial *trial;
  int index;

  if (line == NULL)
    {
      if (bench->n_finished < bench->n_trials)
        {
          g_printerr ("bench-race-nice: the rendezvous closed: %s\n",
                      error ? error->message : "end of stream");
          bench->status = 1;
          g_main_loop_quit (bench->loop);
        }
      return;
    }

  parts = g_strsplit (g_strchomp (line), " ", 3);
  if (parts[0] == NULL || parts[1] == NULL)
    goto next;
  index = atoi (parts[1]);
  trial = g_hash_table_lookup (bench->trials, GINT_TO_POINTER (index));

  if (g_str_equal (parts[0], "SDP") && parts[2] != NULL)
    {
      gsize len = 0;
      guchar *decoded = g_base64_decode (parts[2], &len);
      char *sdp = g_strndup ((const char *) decoded, len);

      g_free (decoded);
      if (trial == NULL)
        g_hash_table_insert (bench->early_sdp, GINT_TO_POINTER (index), sdp);
      else
        {
          g_free (trial->remote_sdp);
          trial->remote_sdp = sdp;
          if (trial->gathered)
            apply_remote (trial);
        }
    }
  else if (g_str_equal (parts[0], "DONE"))
    {
      if (trial == NULL)
        g_hash_table_add (bench->early_done, GINT_TO_POINTER (index));
      else
        {
          trial->peer_done = TRUE;
          maybe_finish (trial);
        }
    }

next:
  read_next (bench);
}

static void
read_next (Bench *bench)
{
  g_data_input_stream_read_line_async (bench->in, G_PRIORITY_DEFAULT, NULL, line_cb, bench);
}

int
main (int    argc,
      char **argv)
{
  Bench bench = { .n_trials = 100, .parallel = 1, .timeout_s = 15 };
  g_autofree char *role = NULL;
  g_autofree char *rendezvous = NULL;
  g_autofree char *session = NULL;
  g_autofree char *stun = NULL;
  const GOptionEntry entries[] = {
    { "role", 0, 0, G_OPTION_ARG_STRING, &role, "caller (controlling) or callee", "ROLE" },
    { "rendezvous", 0, 0, G_OPTION_ARG_STRING, &rendezvous, "line exchange", "HOST:PORT" },
    { "session", 0, 0, G_OPTION_ARG_STRING, &session, "pairing name", "NAME" },
    { "stun", 0, 0, G_OPTION_ARG_STRING, &stun, "STUN server", "IP[:PORT]" },
    { "trials", 0, 0, G_OPTION_ARG_INT, &bench.n_trials, "sessions (default 100)", "N" },
    { "parallel", 0, 0, G_OPTION_ARG_INT, &bench.parallel, "at a time (default 1)", "K" },
    { "timeout-s", 0, 0, G_OPTION_ARG_INT, &bench.timeout_s, "per session (default 15)", "S" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketClient) client = NULL;
  char *colon;

  g_log_writer_default_set_use_stderr (TRUE);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-race-nice: %s\n", error->message);
      return 2;
    }
  if (role == NULL || rendezvous == NULL || session == NULL || stun == NULL ||
      (!g_str_equal (role, "caller") && !g_str_equal (role, "callee")) ||
      bench.n_trials < 1 || bench.parallel < 1 || bench.timeout_s < 1)
    {
      g_printerr ("bench-race-nice: give --role caller|callee, --rendezvous, --session "
                  "and --stun\n");
      return 2;
    }
  bench.role = role;
  bench.controlling = g_str_equal (role, "caller");
  colon = strrchr (stun, ':');
  bench.stun_port = 3478;
  if (colon != NULL)
    {
      *colon = '\0';
      bench.stun_port = atoi (colon + 1);
    }
  bench.stun_ip = stun;

  bench.loop = g_main_loop_new (NULL, FALSE);
  bench.trials = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) trial_free);
  bench.early_sdp = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  bench.early_done = g_hash_table_new (NULL, NULL);

  client = g_socket_client_new ();
  g_socket_client_set_enable_proxy (client, FALSE);
  bench.conn = g_socket_client_connect_to_host (client, rendezvous, 0, NULL, &error);
  if (bench.conn == NULL)
    {
      g_printerr ("bench-race-nice: rendezvous %s: %s\n", rendezvous, error->message);
      return 1;
    }
  g_socket_set_option (g_socket_connection_get_socket (bench.conn), IPPROTO_TCP, TCP_NODELAY,
                       1, NULL);
  bench.in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (bench.conn)));
  bench.out = g_io_stream_get_output_stream (G_IO_STREAM (bench.conn));
  send_line (&bench, "HELLO %s", session);

  read_next (&bench);
  for (int i = 0; i < bench.parallel; i++)
    start_trial (&bench);
  g_main_loop_run (bench.loop);

  g_hash_table_destroy (bench.trials);
  g_hash_table_destroy (bench.early_sdp);
  g_hash_table_destroy (bench.early_done);
  g_io_stream_close (G_IO_STREAM (bench.conn), NULL, NULL);
  g_object_unref (bench.in);
  g_object_unref (bench.conn);
  g_main_loop_unref (bench.loop);
  return bench.status;
}
