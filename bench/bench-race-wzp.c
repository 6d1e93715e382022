/* bench-race-wzp.c: one side of the path-race benchmark (bench/README.md, "Race")
 *
 * A WzpClient that stays registered and takes or places many calls in a row, printing
 * one JSON object per line with CLOCK_MONOTONIC stamps (g_get_monotonic_time), so that
 * bench-race.py can compute the set-up time (docs/decisions.md, "Set-up time") across two
 * processes in two netlab namespaces (they share CLOCK_MONOTONIC):
 *   t0 = the later of the two CallSetup receipts ("setup" events, both sides),
 *   t1 = the caller receives NominateAck (the caller's first "path" event).
 *
 *   bench-race-wzp --relay URI --identity FILE [--reflector URI] listen --calls N
 *   bench-race-wzp --relay URI --identity FILE [--reflector URI] call FP --calls N
 *                  [--hold-ms MS] [--gap-ms MS] [--fresh]
 *
 * Only the public API is used: CallSetup's arrival is notify::peer-local-addresses
 * (WzpCall notifies it when CallSetup arrives), the nomination is ::path-changed (the
 * caller's first one is emitted when NominateAck arrives). Before the first call both
 * sides wait until their NAT type is measured (the relay and --reflector), as a
 * long-running client would have it; "ready" says so. Calls follow each other between the
 * same two clients, so with the same two ports P (a redial); --fresh gives the caller a new
 * client, and so a new P, for every call (a first call between the two).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "wzp-glib.h"

#define READY_WAIT_MS 4000

typedef struct
{
  /* options */
  char         *relay;
  char         *identity_path;
  char        **reflectors;
  gboolean      calling;
  char         *target;
  int           n_calls;
  int           hold_ms;
  int           gap_ms;
  gboolean      fresh;          /* caller: a new WzpClient (a new port P) for every call */

  GMainLoop    *loop;
  WzpIdentity  *identity;
  WzpClient    *client;
  int           status;
  guint         ready_timeout_id;
  gboolean      ready;
  int           n_started;
  int           n_ended;
  GHashTable   *tracked;      /* WzpCall* -> CallInfo* */
} Bench;

typedef struct
{
  Bench   *bench;
  WzpCall *call;
  int      index;
  gboolean setup_seen;
  gboolean path_seen;
  guint    hold_id;
} CallInfo;

static void
emit (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  fputs (text, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
  g_object_unref (builder);
}

static JsonBuilder *
event_new (const char *event,
           WzpCall    *call)
{
  JsonBuilder *b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, event);
  json_builder_set_member_name (b, "mono_us");
  json_builder_add_int_value (b, g_get_monotonic_time ());
  if (call != NULL)
    {
      json_builder_set_member_name (b, "call_id");
      json_builder_add_string_value (b, wzp_call_get_call_id (call));
    }
  return b;
}

static void
add_string (JsonBuilder *b,
            const char  *name,
            const char  *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_int (JsonBuilder *b,
         const char  *name,
         gint64       value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static const char *
nick (GType type,
      int   value)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (type);
  GEnumValue *v = g_enum_get_value (klass, value);

  return v ? v->value_nick : "unknown";
}

static int
count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  int n = 0;

  if (dir == NULL)
    return -1;
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n - 1;   /* the directory's own fd */
}

/* Calls */

static void place_next_call (Bench *bench);
static gboolean restart_client_cb (gpointer user_data);

static gboolean
place_next_cb (gpointer user_data)
{
  place_next_call (user_data);
  return G_SOURCE_REMOVE;
}

static void
call_info_free (CallInfo *info)
{
  g_clear_handle_id (&info->hold_id, g_source_remove);
  g_signal_handlers_disconnect_by_data (info->call, info);
  g_object_unref (info->call);
  g_free (info);
}

static gboolean
quit_cb (gpointer user_data)
{
  Bench *bench = user_data;

  g_main_loop_quit (bench->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
forget_call_cb (gpointer user_data)
{
  CallInfo *info = user_data;

  g_hash_table_remove (info->bench->tracked, info->call);   /* frees info */
  return G_SOURCE_REMOVE;
}

static void
setup_cb (WzpCall    *call,
          GParamSpec *pspec,
          CallInfo   *info)
{
  JsonBuilder *b;

  if (info->setup_seen)
    return;
  info->setup_seen = TRUE;
  b = event_new ("setup", call);
  add_string (b, "role", nick (WZP_TYPE_CALL_ROLE, wzp_call_get_role (call)));
  add_int (b, "index", info->index);
  emit (b);
}

static gboolean
hold_done_cb (gpointer user_data)
{
  CallInfo *info = user_data;

  info->hold_id = 0;
  wzp_call_hangup (info->call);
  return G_SOURCE_REMOVE;
}

static void
path_changed_cb (WzpCall  *call,
                 CallInfo *info)
{
  JsonBuilder *b = event_new ("path", call);

  add_string (b, "role", nick (WZP_TYPE_CALL_ROLE, wzp_call_get_role (call)));
  add_string (b, "kind", nick (WZP_TYPE_PATH_KIND, wzp_call_get_path_kind (call)));
  add_string (b, "remote", wzp_call_get_remote_address (call));
  add_int (b, "time_to_path_ms", wzp_call_get_time_to_path (call));
  add_int (b, "first", !info->path_seen);
  emit (b);

  if (!info->path_seen)
    {
      info->path_seen = TRUE;
      if (info->bench->calling)
        info->hold_id = g_timeout_add (info->bench->hold_ms, hold_done_cb, info);
    }
}

static void
candidate_cb (WzpCall            *call,
              const char         *address,
              WzpCandidateKind    kind,
              WzpCandidateResult  result,
              const char         *reason,
              int                 ms,
              CallInfo           *info)
{
  JsonBuilder *b = event_new ("candidate", call);

  add_string (b, "role", nick (WZP_TYPE_CALL_ROLE, wzp_call_get_role (call)));
  add_string (b, "addr", address);
  add_string (b, "kind", nick (WZP_TYPE_CANDIDATE_KIND, kind));
  add_string (b, "result", nick (WZP_TYPE_CANDIDATE_RESULT, result));
  add_string (b, "reason", reason);
  add_int (b, "ms", ms);
  emit (b);
}

static void
ended_cb (WzpCall         *call,
          WzpHangupReason  reason,
          CallInfo        *info)
{
  Bench *bench = info->bench;
  JsonBuilder *b = event_new ("ended", call);

  add_string (b, "role", nick (WZP_TYPE_CALL_ROLE, wzp_call_get_role (call)));
  add_string (b, "reason", nick (WZP_TYPE_HANGUP_REASON, reason));
  add_string (b, "message", wzp_call_get_error_message (call));
  add_int (b, "index", info->index);
  emit (b);

  bench->n_ended++;
  g_clear_handle_id (&info->hold_id, g_source_remove);
  /* Forget it from an idle callback: we are inside its own signal emission. */
  g_idle_add (forget_call_cb, info);

  if (bench->n_ended >= bench->n_calls)
    {
      g_timeout_add (bench->gap_ms + 200, quit_cb, bench);
      return;
    }
  if (bench->calling && bench->fresh)
    g_timeout_add (bench->gap_ms, restart_client_cb, bench);
  else if (bench->calling)
    g_timeout_add (bench->gap_ms, place_next_cb, bench);
}

static CallInfo *
track (Bench   *bench,
       WzpCall *call,
       int      index)
{
  CallInfo *info = g_new0 (CallInfo, 1);

  info->bench = bench;
  info->call = g_object_ref (call);
  info->index = index;
  g_hash_table_insert (bench->tracked, call, info);
  g_signal_connect (call, "notify::peer-local-addresses", G_CALLBACK (setup_cb), info);
  g_signal_connect (call, "path-changed", G_CALLBACK (path_changed_cb), info);
  g_signal_connect (call, "candidate-result", G_CALLBACK (candidate_cb), info);
  g_signal_connect (call, "ended", G_CALLBACK (ended_cb), info);
  return info;
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
             Bench     *bench)
{
  if (bench->calling || bench->n_started >= bench->n_calls)
    {
      wzp_call_hangup (call);
      return;
    }
  track (bench, call, bench->n_started++);
  wzp_call_answer_async (call, WZP_ACCEPT_MODE_TRUSTED, NULL, answered_cb, NULL);
}

static void
outgoing_cb (WzpClient *client,
             WzpCall   *call,
             Bench     *bench)
{
  track (bench, call, bench->n_started - 1);
}

static void
placed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = wzp_client_place_call_finish (WZP_CLIENT (source), result, &error);

  /* A call that existed reports its end through ::ended. */
  if (call == NULL)
    g_debug ("place_call: %s", error->message);
}

static void
place_next_call (Bench *bench)
{
  JsonBuilder *b = event_new ("placing", NULL);

  add_int (b, "index", bench->n_started);
  add_int (b, "fds", count_fds ());
  emit (b);
  bench->n_started++;
  wzp_client_place_call_async (bench->client, bench->target, NULL, placed_cb, bench);
}

/* Registration */

static void
become_ready (Bench *bench)
{
  JsonBuilder *b;

  if (bench->ready)
    return;
  bench->ready = TRUE;
  g_clear_handle_id (&bench->ready_timeout_id, g_source_remove);

  b = event_new ("ready", NULL);
  add_string (b, "fingerprint",
              wzp_identity_get_fingerprint (wzp_client_get_identity (bench->client)));
  add_string (b, "observed", wzp_client_get_observed_address (bench->client));
  add_string (b, "nat", nick (WZP_TYPE_NAT_TYPE, wzp_client_get_nat_type (bench->client)));
  add_int (b, "port", wzp_client_get_port (bench->client));
  add_int (b, "fds", count_fds ());
  emit (b);

  if (bench->calling)
    place_next_call (bench);
}

static gboolean
ready_timeout_cb (gpointer user_data)
{
  Bench *bench = user_data;

  bench->ready_timeout_id = 0;
  become_ready (bench);
  return G_SOURCE_REMOVE;
}

static void
nat_cb (WzpClient  *client,
        GParamSpec *pspec,
        Bench      *bench)
{
  if (wzp_client_get_state (client) == WZP_CLIENT_STATE_CONNECTED &&
      wzp_client_get_nat_type (client) != WZP_NAT_TYPE_UNKNOWN)
    become_ready (bench);
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Bench *bench = user_data;
  g_autoptr(GError) error = NULL;

  if (!wzp_client_connect_finish (WZP_CLIENT (source), result, &error))
    {
      g_printerr ("bench-race-wzp: %s\n", error->message);
      bench->status = 1;
      g_main_loop_quit (bench->loop);
      return;
    }
  if (wzp_client_get_nat_type (bench->client) != WZP_NAT_TYPE_UNKNOWN)
    become_ready (bench);
  else
    bench->ready_timeout_id = g_timeout_add (READY_WAIT_MS, ready_timeout_cb, bench);
}

static void
start_client (Bench *bench)
{
  bench->ready = FALSE;
  bench->client = wzp_client_new (bench->identity);
  g_object_set (bench->client, "relay-uri", bench->relay, "alias", "bench",
                "reflectors", bench->reflectors, NULL);
  g_signal_connect (bench->client, "notify::nat-type", G_CALLBACK (nat_cb), bench);
  g_signal_connect (bench->client, "incoming-call", G_CALLBACK (incoming_cb), bench);
  g_signal_connect (bench->client, "outgoing-call", G_CALLBACK (outgoing_cb), bench);
  wzp_client_connect_async (bench->client, NULL, connected_cb, bench);
}

/* --fresh: drop the client (its port P, its registration) and register a new one. */
static gboolean
restart_client_cb (gpointer user_data)
{
  Bench *bench = user_data;

  g_signal_handlers_disconnect_by_data (bench->client, bench);
  wzp_client_unregister (bench->client);
  g_clear_object (&bench->client);
  start_client (bench);
  return G_SOURCE_REMOVE;
}

static void
identity_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Bench *bench = user_data;
  g_autoptr(GError) error = NULL;

  bench->identity = wzp_identity_load_or_create_finish (result, &error);
  if (bench->identity == NULL)
    {
      g_printerr ("bench-race-wzp: %s\n", error->message);
      bench->status = 1;
      g_main_loop_quit (bench->loop);
      return;
    }
  start_client (bench);
}

int
main (int    argc,
      char **argv)
{
  Bench bench = { .n_calls = 100, .hold_ms = 30, .gap_ms = 60 };
  const GOptionEntry entries[] = {
    { "relay", 0, 0, G_OPTION_ARG_STRING, &bench.relay, "relay URI", "URI" },
    { "identity", 0, 0, G_OPTION_ARG_FILENAME, &bench.identity_path, "key file", "FILE" },
    { "reflector", 0, 0, G_OPTION_ARG_STRING_ARRAY, &bench.reflectors, "reflector URI", "URI" },
    { "calls", 0, 0, G_OPTION_ARG_INT, &bench.n_calls, "number of calls (default 100)", "N" },
    { "hold-ms", 0, 0, G_OPTION_ARG_INT, &bench.hold_ms,
      "caller: hang up this long after the nomination (default 30)", "MS" },
    { "gap-ms", 0, 0, G_OPTION_ARG_INT, &bench.gap_ms,
      "caller: wait this long after a call ended (default 60)", "MS" },
    { "fresh", 0, 0, G_OPTION_ARG_NONE, &bench.fresh,
      "caller: a new client, with a new port P, for every call", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("listen | call FINGERPRINT");
  g_autoptr(GError) error = NULL;

  g_log_writer_default_set_use_stderr (TRUE);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-race-wzp: %s\n", error->message);
      return 2;
    }
  if (argc >= 2 && g_str_equal (argv[1], "listen") && argc == 2)
    bench.calling = FALSE;
  else if (argc == 3 && g_str_equal (argv[1], "call"))
    {
      bench.calling = TRUE;
      bench.target = g_strdup (argv[2]);
    }
  else
    {
      g_printerr ("bench-race-wzp: give `listen` or `call FINGERPRINT`\n");
      return 2;
    }
  if (bench.relay == NULL || bench.identity_path == NULL || bench.n_calls < 1)
    {
      g_printerr ("bench-race-wzp: --relay and --identity are required\n");
      return 2;
    }

  bench.loop = g_main_loop_new (NULL, FALSE);
  bench.tracked = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) call_info_free);
  wzp_identity_load_or_create_async (bench.identity_path, NULL, identity_cb, &bench);
  g_main_loop_run (bench.loop);

  {
    JsonBuilder *b = event_new ("done", NULL);

    add_int (b, "calls", bench.n_ended);
    add_int (b, "fds", count_fds ());
    emit (b);
  }
  g_hash_table_remove_all (bench.tracked);
  if (bench.client != NULL)
    {
      wzp_client_unregister (bench.client);
      g_clear_object (&bench.client);
    }
  g_clear_object (&bench.identity);
  g_hash_table_unref (bench.tracked);
  g_main_loop_unref (bench.loop);
  return bench.status;
}
