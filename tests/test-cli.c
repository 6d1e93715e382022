/* test-cli.c: wzp-cli as scripts use it, as subprocesses against an in-process relay
 *
 * Every wzp-cli runs with its own XDG directories (so its own default identity) and
 * WZP_TEST_LOOPBACK=1, and its --json events are read line by line as they come.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "test-util.h"

#define WAIT_MS 20000

typedef struct
{
  WzpIdentity *relay_identity;
  WzpRelay    *relay;
  char        *uri;
  char        *tmp;
  GPtrArray   *clis;       /* Cli*, killed at teardown if still running */
} Fixture;

typedef struct
{
  char             *name;
  GSubprocess      *process;
  GDataInputStream *out;
  GDataInputStream *err;
  GCancellable     *cancellable;
  GPtrArray        *events;       /* JsonObject* */
  GPtrArray        *junk;         /* char*: stdout lines that are not JSON objects */
  GString          *stdout_text;
  GString          *stderr_text;
  gboolean          out_done;
  gboolean          err_done;
  gboolean          exited;
  int               status;       /* exit status, or -signal */
  gboolean          json;         /* --json: stdout must be JSON lines only */
} Cli;

static void
cli_free (Cli *cli)
{
  if (cli->process != NULL && !cli->exited)
    g_subprocess_force_exit (cli->process);
  g_cancellable_cancel (cli->cancellable);
  wzp_test_spin (10);
  g_clear_object (&cli->process);
  g_clear_object (&cli->out);
  g_clear_object (&cli->err);
  g_clear_object (&cli->cancellable);
  g_ptr_array_unref (cli->events);
  g_ptr_array_unref (cli->junk);
  g_string_free (cli->stdout_text, TRUE);
  g_string_free (cli->stderr_text, TRUE);
  g_free (cli->name);
  g_free (cli);
}

static char *
cli_path (void)
{
  const char *bin = g_getenv ("WZP_CLI_BIN");

  if (bin != NULL)
    return g_strdup (bin);
  return g_test_build_filename (G_TEST_BUILT, "..", "libwzp-glib", "tools", "wzp-cli", NULL);
}

/* Relay */

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) uris = NULL;

  f->relay_identity = wzp_test_identity_new ();
  f->relay = wzp_relay_new (f->relay_identity);
  wzp_relay_listen (f->relay, "127.0.0.1:0", NULL, &error);
  g_assert_no_error (error);
  uris = wzp_relay_dup_uris (f->relay);
  f->uri = g_strdup (uris[0]);
  f->tmp = g_dir_make_tmp ("wzp-test-cli-XXXXXX", &error);
  g_assert_no_error (error);
  f->clis = g_ptr_array_new_with_free_func ((GDestroyNotify) cli_free);
}

static gboolean
remove_tree (GFile   *file,
             GError **error)
{
  g_autoptr(GFileEnumerator) children =
    g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                               G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);

  if (children != NULL)
    {
      GFileInfo *info;
      GFile *child;

      while (g_file_enumerator_iterate (children, &info, &child, NULL, NULL) && info != NULL)
        if (!remove_tree (child, error))
          return FALSE;
    }
  return g_file_delete (file, NULL, error);
}

/* Drops the last reference the test holds: @object must then finalize, at once or as
 * soon as its cancelled operations have called back (bounded; slow under load). */
static void
unref_and_wait_finalized (gpointer object)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;

  g_object_add_weak_pointer (object, &object);
  g_object_unref (object);
  while (object != NULL && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  g_assert_null (object);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GFile) tmp = g_file_new_for_path (f->tmp);
  g_autoptr(GError) error = NULL;

  g_ptr_array_unref (f->clis);
  wzp_relay_stop (f->relay);
  unref_and_wait_finalized (g_steal_pointer (&f->relay));
  g_clear_object (&f->relay_identity);
  remove_tree (tmp, &error);
  g_assert_no_error (error);
  g_free (f->tmp);
  g_free (f->uri);
}

/* Subprocesses */

static void read_out (Cli *cli);
static void read_err (Cli *cli);

static void
out_line_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source),
                                                                     result, NULL, &error);

  if (line == NULL)
    {
      cli->out_done = TRUE;
      return;
    }
  g_test_message ("%s> %s", cli->name, line);
  g_string_append_printf (cli->stdout_text, "%s\n", line);
  node = json_from_string (line, NULL);
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    g_ptr_array_add (cli->events, json_object_ref (json_node_get_object (node)));
  else
    g_ptr_array_add (cli->junk, g_strdup (line));
  read_out (cli);
}

static void
read_out (Cli *cli)
{
  g_data_input_stream_read_line_async (cli->out, G_PRIORITY_DEFAULT, cli->cancellable,
                                       out_line_cb, cli);
}

static void
err_line_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Cli *cli = user_data;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source),
                                                                result, NULL, NULL);

  if (line == NULL)
    {
      cli->err_done = TRUE;
      return;
    }
  g_test_message ("%s! %s", cli->name, line);
  g_string_append_printf (cli->stderr_text, "%s\n", line);
  read_err (cli);
}

static void
read_err (Cli *cli)
{
  g_data_input_stream_read_line_async (cli->err, G_PRIORITY_DEFAULT, cli->cancellable,
                                       err_line_cb, cli);
}

static void
exited_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Cli *cli = user_data;

  if (!g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL))
    return;
  if (g_subprocess_get_if_exited (G_SUBPROCESS (source)))
    cli->status = g_subprocess_get_exit_status (G_SUBPROCESS (source));
  else
    cli->status = -g_subprocess_get_term_sig (G_SUBPROCESS (source));
  cli->exited = TRUE;
}

/* Starts wzp-cli ARGS... (NULL-terminated) as @name, with @name's own XDG directories. */
static Cli *
cli_spawn (Fixture    *f,
           const char *name,
           ...)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *home = g_build_filename (f->tmp, name, NULL);
  g_autoptr(GError) error = NULL;
  Cli *cli = g_new0 (Cli, 1);
  const char *arg;
  va_list args;

  g_ptr_array_add (argv, cli_path ());
  va_start (args, name);
  while ((arg = va_arg (args, const char *)) != NULL)
    {
      g_ptr_array_add (argv, g_strdup (arg));
      cli->json |= g_str_equal (arg, "--json");
    }
  va_end (args);
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_setenv (launcher, "HOME", home, TRUE);
  for (guint i = 0; i < 4; i++)
    {
      static const char * const vars[] = { "XDG_DATA_HOME", "XDG_CONFIG_HOME",
                                           "XDG_STATE_HOME", "XDG_CACHE_HOME" };
      static const char * const dirs[] = { "data", "config", "state", "cache" };
      g_autofree char *dir = g_build_filename (home, dirs[i], NULL);

      g_subprocess_launcher_setenv (launcher, vars[i], dir, TRUE);
    }
  g_subprocess_launcher_setenv (launcher, "WZP_TEST_LOOPBACK", "1", TRUE);
  /* As tests/meson.build sets it, also when a test is run by hand. */
  g_subprocess_launcher_setenv (launcher, "G_DEBUG", "gc-friendly,fatal-warnings", TRUE);

  cli->name = g_strdup (name);
  cli->cancellable = g_cancellable_new ();
  cli->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  cli->junk = g_ptr_array_new_with_free_func (g_free);
  cli->stdout_text = g_string_new (NULL);
  cli->stderr_text = g_string_new (NULL);
  cli->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata,
                                               &error);
  g_assert_no_error (error);
  cli->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (cli->process));
  cli->err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (cli->process));
  read_out (cli);
  read_err (cli);
  g_subprocess_wait_async (cli->process, cli->cancellable, exited_cb, cli);
  g_ptr_array_add (f->clis, cli);
  return cli;
}

static gboolean
timeout_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static JsonObject *
find_event (Cli        *cli,
            const char *event)
{
  for (guint i = 0; i < cli->events->len; i++)
    {
      JsonObject *object = g_ptr_array_index (cli->events, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (object, "event", NULL),
                     event) == 0)
        return object;
    }
  return NULL;
}

/* The first @event of @cli, waiting for it (bounded). */
static JsonObject *
wait_event (Cli        *cli,
            const char *event)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (WAIT_MS, timeout_cb, &timed_out);
  JsonObject *found;

  while ((found = find_event (cli, event)) == NULL && !timed_out && !cli->out_done)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  if (found == NULL)
    g_error ("%s: no “%s” event (%s); stdout:\n%sstderr:\n%s", cli->name, event,
             timed_out ? "timed out" : "exited", cli->stdout_text->str, cli->stderr_text->str);
  return found;
}

/* Waits (bounded) for the exit and the end of both pipes; returns the status. */
static int
wait_exit (Cli *cli)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (WAIT_MS, timeout_cb, &timed_out);

  while (!(cli->exited && cli->out_done && cli->err_done) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (timed_out)
    g_error ("%s did not exit; stdout:\n%sstderr:\n%s", cli->name, cli->stdout_text->str,
             cli->stderr_text->str);
  g_source_remove (id);
  if (cli->json)
    g_assert_cmpuint (cli->junk->len, ==, 0);
  return cli->status;
}

/* Runs a short command to its end. */
static Cli *
cli_run (Fixture    *f,
         const char *name,
         ...)
{
  const char *argv[16] = { NULL, };
  const char *arg;
  guint n = 0;
  va_list args;
  Cli *cli;

  va_start (args, name);
  while ((arg = va_arg (args, const char *)) != NULL)
    {
      g_assert_cmpuint (n, <, G_N_ELEMENTS (argv) - 1);
      argv[n++] = arg;
    }
  va_end (args);
  cli = cli_spawn (f, name, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6],
                   argv[7], argv[8], argv[9], argv[10], argv[11], argv[12], argv[13],
                   argv[14], NULL);
  wait_exit (cli);
  return cli;
}

static const char *
member (JsonObject *object,
        const char *name)
{
  return json_object_get_string_member_with_default (object, name, NULL);
}

static void
assert_one_line (const char *text)
{
  g_assert_cmpuint (strlen (text), >, 1);
  g_assert_nonnull (strchr (text, '\n'));
  g_assert_cmpint (strchr (text, '\n') - text, ==, strlen (text) - 1);
}

static char *
fingerprint_of (Fixture    *f,
                const char *name)
{
  Cli *cli = cli_run (f, name, "fingerprint", NULL);

  g_assert_cmpint (cli->status, ==, 0);
  g_assert_true (g_str_has_suffix (cli->stdout_text->str, "\n"));
  return g_strndup (cli->stdout_text->str, cli->stdout_text->len - 1);
}

/* The call's events on one side: setup, path and ended, all for the same call. */
static void
assert_call_events (Cli        *cli,
                    const char *role,
                    const char *path_kind,
                    const char *end_reason)
{
  JsonObject *setup = wait_event (cli, "setup");
  JsonObject *path = wait_event (cli, "path");
  JsonObject *ended = wait_event (cli, "ended");

  g_assert_cmpstr (member (setup, "role"), ==, role);
  g_assert_cmpstr (member (path, "call_id"), ==, member (setup, "call_id"));
  g_assert_cmpstr (member (ended, "call_id"), ==, member (setup, "call_id"));
  if (path_kind != NULL)
    g_assert_cmpstr (member (path, "kind"), ==, path_kind);
  g_assert_nonnull (member (path, "remote"));
  g_assert_cmpint (json_object_get_int_member (path, "ms"), >=, 0);
  g_assert_cmpint (json_object_get_int_member (path, "ms"), <, WAIT_MS);
  g_assert_cmpstr (member (ended, "reason"), ==, end_reason);
}

static void
assert_no_addresses (JsonObject *setup)
{
  g_assert_true (json_object_has_member (setup, "peer_direct_addr"));
  g_assert_true (json_object_get_null_member (setup, "peer_direct_addr"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (setup,
                                                                         "peer_local_addrs")),
                    ==, 0);
}

/* No direct attempt at all: every candidate event is the relay's. */
static void
assert_relay_only (Cli *cli)
{
  for (guint i = 0; i < cli->events->len; i++)
    {
      JsonObject *event = g_ptr_array_index (cli->events, i);

      if (g_strcmp0 (member (event, "event"), "candidate") == 0)
        g_assert_cmpstr (member (event, "kind"), ==, "relay");
    }
}

/* fingerprint */

static void
test_fingerprint (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *first = fingerprint_of (f, "alice");
  g_autofree char *again = fingerprint_of (f, "alice");
  g_autofree char *other = fingerprint_of (f, "bob");
  g_autofree char *key = g_build_filename (f->tmp, "carol.pem", NULL);
  Cli *json;
  Cli *explicit;
  Cli *explicit_again;

  g_assert_true (wzp_fingerprint_is_valid (first));
  g_assert_cmpstr (first, ==, again);
  g_assert_cmpstr (first, !=, other);

  json = cli_run (f, "alice", "--json", "fingerprint", NULL);
  g_assert_cmpint (json->status, ==, 0);
  g_assert_cmpuint (json->events->len, ==, 1);
  g_assert_cmpstr (member (wait_event (json, "fingerprint"), "fingerprint"), ==, first);

  explicit = cli_run (f, "alice", "--identity", key, "fingerprint", NULL);
  explicit_again = cli_run (f, "bob", "--identity", key, "fingerprint", NULL);
  g_assert_cmpint (explicit->status, ==, 0);
  g_assert_cmpstr (explicit->stdout_text->str, ==, explicit_again->stdout_text->str);
  g_assert_false (g_str_has_prefix (explicit->stdout_text->str, first));
  g_assert_true (g_file_test (key, G_FILE_TEST_IS_REGULAR));
}

/* candidates */

static void
test_candidates (Fixture       *f,
                 gconstpointer  data)
{
  Cli *plain = cli_run (f, "alice", "candidates", NULL);
  Cli *json = cli_run (f, "alice", "--json", "--port", "0", "candidates", NULL);
  g_auto(GStrv) lines = NULL;
  gboolean found = FALSE;

  g_assert_cmpint (plain->status, ==, 0);
  lines = g_strsplit (plain->stdout_text->str, "\n", -1);
  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      guint64 port = 0;

      if (g_str_has_prefix (lines[i], "127.0.0.1:"))
        {
          g_assert_true (g_ascii_string_to_unsigned (lines[i] + strlen ("127.0.0.1:"), 10, 1,
                                                     65535, &port, NULL));
          found = TRUE;
        }
    }
  g_assert_true (found);

  g_assert_cmpint (json->status, ==, 0);
  found = FALSE;
  for (guint i = 0; i < json->events->len; i++)
    {
      JsonObject *event = g_ptr_array_index (json->events, i);

      g_assert_cmpstr (member (event, "event"), ==, "host-candidate");
      if (g_str_has_prefix (member (event, "addr"), "127.0.0.1:"))
        found = TRUE;
    }
  g_assert_true (found);
}

/* Errors */

static void
test_bad_relay (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *closed_uri = NULL;
  Cli *bad;
  Cli *closed;
  Cli *usage;

  bad = cli_run (f, "alice", "--relay", "https://relay.example.org", "--json", "listen", NULL);
  g_assert_cmpint (bad->status, !=, 0);
  g_assert_cmpuint (bad->events->len, ==, 0);
  assert_one_line (bad->stderr_text->str);
  g_assert_nonnull (strstr (bad->stderr_text->str, "https://relay.example.org"));

  /* A port where nobody listens (bound, never listening). */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  g_socket_bind (socket, address, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  closed_uri = g_strdup_printf ("wzps://127.0.0.1:%u#%s",
                                g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)),
                                wzp_relay_get_fingerprint (f->relay));
  closed = cli_run (f, "alice", "--relay", closed_uri, "--json", "call",
                    wzp_relay_get_fingerprint (f->relay), NULL);
  g_assert_cmpint (closed->status, !=, 0);
  g_assert_cmpuint (closed->events->len, ==, 0);
  assert_one_line (closed->stderr_text->str);

  usage = cli_run (f, "alice", "--relay", f->uri, "call", "not-a-fingerprint", NULL);
  g_assert_cmpint (usage->status, ==, 2);
  assert_one_line (usage->stderr_text->str);
}

/* A relay at its handshake cap turns wzp-cli away before TLS (docs/relay.md, "When the
 * relay turns clients away"): it says so, as a "refused" event, and does not exit, for the
 * client tries again; once the cap is free it registers and its command runs. The cap is
 * held by a connection that sent its ClientHello and stalls. */
static void
test_relay_refusal (Fixture       *f,
                    gconstpointer  data)
{
  g_auto(GStrv) addresses = wzp_relay_dup_listen_addresses (f->relay);
  g_autoptr(GSocketConnection) holder = NULL;
  g_autofree char *message = g_strdup_printf ("The relay at %s is busy and turned the "
                                              "connection away", addresses[0]);
  JsonObject *refused;
  Cli *cli;

  g_object_set (f->relay, "handshake-timeout", 60, "max-pending-handshakes", 1, NULL);
  holder = wzp_test_stalled_handshake_from (addresses[0], "127.0.0.2");
  wzp_test_spin (200);

  cli = cli_spawn (f, "alice", "--relay", f->uri, "--json", "listen", NULL);
  refused = wait_event (cli, "refused");
  g_assert_cmpstr (json_object_get_string_member (refused, "reason"), ==, "busy");
  g_assert_cmpstr (json_object_get_string_member (refused, "message"), ==, message);
  g_assert_false (cli->exited);
  g_assert_null (find_event (cli, "registered"));

  g_io_stream_close (G_IO_STREAM (holder), NULL, NULL);
  wait_event (cli, "registered");
  g_assert_false (cli->exited);
}

/* A line of the known-relays file that is not a pin is the user's input: wzp-cli says once
 * that it passes over it, trusts the relay on first use, and goes on, under
 * G_DEBUG=fatal-warnings too (cli_spawn()). */
static void
test_known_relays_junk (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (f->tmp, "bob", "data", "wzp", NULL);
  g_autofree char *path = g_build_filename (dir, "known-relays", NULL);
  g_autofree char *tofu_uri = g_strndup (f->uri, strcspn (f->uri, "#"));
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  const char *told;
  Cli *listener;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents (path, "[relays]\njunk=abc\n", -1, &error);
  g_assert_no_error (error);

  listener = cli_spawn (f, "bob", "--relay", tofu_uri, "--json", "listen", NULL);
  wait_event (listener, "registered");
  g_subprocess_send_signal (listener->process, SIGINT);
  g_assert_cmpint (wait_exit (listener), ==, 0);

  told = strstr (listener->stderr_text->str, "Ignoring the entry “junk”");
  g_assert_nonnull (told);
  g_assert_null (strstr (told + 1, "Ignoring the entry “junk”"));
  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (contents, "\njunk=abc\n"));
  g_assert_nonnull (strstr (contents, wzp_relay_get_fingerprint (f->relay)));
}

/* Calls */

static Cli *
start_listener (Fixture    *f,
                const char *name,
                ...)
{
  const char *argv[8] = { NULL, };
  const char *arg;
  guint n = 0;
  va_list args;
  Cli *cli;

  va_start (args, name);
  while ((arg = va_arg (args, const char *)) != NULL)
    {
      g_assert_cmpuint (n, <, G_N_ELEMENTS (argv) - 1);
      argv[n++] = arg;
    }
  va_end (args);
  cli = cli_spawn (f, name, "--relay", f->uri, "--json", "--alias", name, "listen",
                   argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6], NULL);
  wait_event (cli, "registered");
  return cli;
}

/* Privacy both ways: --answer privacy one way, --privacy on the caller the other way.
 * Neither side learns an address, and the call runs over the relay. */
static void
test_privacy_both_ways (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *alice_fp = fingerprint_of (f, "alice");
  g_autofree char *bob_fp = fingerprint_of (f, "bob");

  for (guint round = 0; round < 2; round++)
    {
      const char *caller_name = round == 0 ? "alice" : "bob";
      const char *callee_name = round == 0 ? "bob" : "alice";
      const char *callee_fp = round == 0 ? bob_fp : alice_fp;
      Cli *listener;
      Cli *caller;
      JsonObject *incoming;

      listener = start_listener (f, callee_name, "--answer",
                                 round == 0 ? "privacy" : "trusted", "--hold", "0.3", NULL);
      if (round == 0)
        caller = cli_spawn (f, caller_name, "--relay", f->uri, "--json", "call", callee_fp,
                            NULL);
      else
        caller = cli_spawn (f, caller_name, "--relay", f->uri, "--json", "--privacy", "call",
                            callee_fp, NULL);

      incoming = wait_event (listener, "incoming");
      g_assert_cmpstr (member (incoming, "peer"), ==, round == 0 ? alice_fp : bob_fp);
      wait_event (listener, "ringing");
      wait_event (caller, "ringing");
      assert_call_events (caller, "caller", "relay", "normal");
      assert_call_events (listener, "callee", "relay", "normal");
      /* The privacy side's addresses never reach the peer; a privacy callee's never
       * reach the caller either. (A trusted callee of a privacy caller does share its
       * own, but the privacy caller dials none of them.) */
      assert_no_addresses (wait_event (listener, "setup"));
      if (round == 0)
        assert_no_addresses (wait_event (caller, "setup"));
      g_assert_true (json_object_get_boolean_member (wait_event (caller, "setup"), "privacy"));
      assert_relay_only (caller);
      assert_relay_only (listener);

      g_assert_cmpint (wait_exit (caller), ==, 0);
      g_assert_cmpint (wait_exit (listener), ==, 0);
      g_assert_cmpstr (caller->stderr_text->str, ==, "");
    }
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
}

/* A trusted call: each side learns the other's loopback candidates from CallSetup, and
 * both agree on the path. */
static void
test_trusted_call (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *bob_fp = fingerprint_of (f, "bob");
  Cli *listener = start_listener (f, "bob", "--hold", "0.3", NULL);
  Cli *caller = cli_spawn (f, "alice", "--relay", f->uri, "--json", "call", bob_fp, NULL);
  JsonObject *bob_registered = wait_event (listener, "registered");
  JsonObject *setup;
  JsonArray *locals;
  g_autofree char *bob_loopback = NULL;
  gboolean found = FALSE;

  assert_call_events (caller, "caller", NULL, "normal");
  assert_call_events (listener, "callee", NULL, "normal");
  g_assert_cmpstr (member (wait_event (caller, "path"), "kind"), ==,
                   member (wait_event (listener, "path"), "kind"));

  bob_loopback = g_strdup_printf ("127.0.0.1:%" G_GINT64_FORMAT,
                                  json_object_get_int_member (bob_registered, "port"));
  setup = wait_event (caller, "setup");
  g_assert_false (json_object_get_boolean_member (setup, "privacy"));
  locals = json_object_get_array_member (setup, "peer_local_addrs");
  for (guint i = 0; i < json_array_get_length (locals); i++)
    if (g_strcmp0 (json_array_get_string_element (locals, i), bob_loopback) == 0)
      found = TRUE;
  g_assert_true (found);

  g_assert_cmpint (wait_exit (caller), ==, 0);
  g_assert_cmpint (wait_exit (listener), ==, 0);
}

static void
test_reject (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *bob_fp = fingerprint_of (f, "bob");
  Cli *listener = start_listener (f, "bob", "--answer", "reject", NULL);
  Cli *caller = cli_spawn (f, "alice", "--relay", f->uri, "--json", "call", bob_fp, NULL);

  g_assert_cmpstr (member (wait_event (caller, "ended"), "reason"), ==, "declined");
  g_assert_cmpstr (member (wait_event (listener, "ended"), "reason"), ==, "declined");
  g_assert_null (find_event (caller, "path"));
  g_assert_cmpint (wait_exit (caller), !=, 0);
  assert_one_line (caller->stderr_text->str);
  g_assert_cmpint (wait_exit (listener), ==, 0);
}

/* A listener that took all the calls it was asked for tells the next caller, while a call
 * is still on, that it is busy. */
static void
test_busy (Fixture       *f,
           gconstpointer  data)
{
  g_autofree char *bob_fp = fingerprint_of (f, "bob");
  Cli *listener = start_listener (f, "bob", "--calls", "1", NULL);
  Cli *alice = cli_spawn (f, "alice", "--relay", f->uri, "--json", "call", bob_fp, "--hold",
                          "3", NULL);
  Cli *carol;

  wait_event (alice, "path");
  carol = cli_spawn (f, "carol", "--relay", f->uri, "--json", "call", bob_fp, NULL);
  g_assert_cmpstr (member (wait_event (carol, "ended"), "reason"), ==, "busy");
  g_assert_cmpint (wait_exit (carol), !=, 0);
  assert_one_line (carol->stderr_text->str);

  /* The call that was on goes on to its normal end. */
  assert_call_events (alice, "caller", NULL, "normal");
  g_assert_cmpint (wait_exit (alice), ==, 0);
  g_assert_cmpint (wait_exit (listener), ==, 0);
}

/* The callee hangs up (--hold on the listener): a normal end for both. */
static void
test_callee_hangs_up (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *bob_fp = fingerprint_of (f, "bob");
  Cli *listener = start_listener (f, "bob", "--answer", "privacy", "--hold", "0.2", NULL);
  Cli *caller = cli_spawn (f, "alice", "--relay", f->uri, "--json", "call", bob_fp, NULL);

  assert_call_events (caller, "caller", "relay", "normal");
  assert_call_events (listener, "callee", "relay", "normal");
  g_assert_cmpint (wait_exit (caller), ==, 0);
  g_assert_cmpint (wait_exit (listener), ==, 0);
}

/* The caller hangs up (--hold on the caller), and the listener takes two calls. */
static void
test_caller_hangs_up (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *bob_fp = fingerprint_of (f, "bob");
  Cli *listener = start_listener (f, "bob", "--answer", "privacy", "--calls", "2", NULL);

  for (guint i = 0; i < 2; i++)
    {
      Cli *caller = cli_spawn (f, i == 0 ? "alice" : "carol", "--relay", f->uri, "--json",
                               "call", bob_fp, "--hold", "0.2", NULL);

      assert_call_events (caller, "caller", "relay", "normal");
      g_assert_cmpint (wait_exit (caller), ==, 0);
    }
  g_assert_cmpint (wait_exit (listener), ==, 0);
  g_assert_cmpuint (listener->events->len, >=, 1 + 2 * 5);
}

/* SIGTERM hangs up cleanly: the peer sees a normal end, and the caller whose call had a
 * path exits 0. */
static void
test_sigterm (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *bob_fp = fingerprint_of (f, "bob");
  Cli *listener = start_listener (f, "bob", "--answer", "privacy", NULL);
  Cli *caller = cli_spawn (f, "alice", "--relay", f->uri, "--json", "call", bob_fp, NULL);

  wait_event (caller, "path");
  wait_event (listener, "path");
  g_subprocess_send_signal (caller->process, SIGTERM);
  g_assert_cmpint (wait_exit (caller), ==, 0);
  g_assert_cmpstr (member (wait_event (listener, "ended"), "reason"), ==, "normal");
  g_assert_cmpint (wait_exit (listener), ==, 0);

  /* A listener without calls leaves quietly too. */
  listener = start_listener (f, "bob", NULL);
  g_subprocess_send_signal (listener->process, SIGINT);
  g_assert_cmpint (wait_exit (listener), ==, 0);
  g_assert_cmpstr (listener->stderr_text->str, ==, "");
}

static void
test_unknown_peer (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *nobody = fingerprint_of (f, "nobody");
  Cli *caller = cli_run (f, "alice", "--relay", f->uri, "--json", "call", nobody, NULL);

  g_assert_cmpint (caller->status, !=, 0);
  g_assert_cmpstr (member (wait_event (caller, "ended"), "reason"), ==, "unreachable");
  assert_one_line (caller->stderr_text->str);
}

/* nat: the relay's and a reflector's answers (loopback: no evidence, so unknown). */
static void
test_nat (Fixture       *f,
          gconstpointer  data)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  g_autoptr(WzpRelay) reflector = wzp_relay_new (identity);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) uris = NULL;
  JsonObject *registered;
  JsonObject *nat;
  JsonArray *observed;
  Cli *cli;

  wzp_relay_listen (reflector, "127.0.0.1:0", NULL, &error);
  g_assert_no_error (error);
  uris = wzp_relay_dup_uris (reflector);

  cli = cli_run (f, "alice", "--relay", f->uri, "--reflector", uris[0], "--json", "nat", NULL);
  g_assert_cmpint (cli->status, ==, 0);
  registered = wait_event (cli, "registered");
  nat = wait_event (cli, "nat");
  g_assert_cmpstr (member (nat, "type"), ==, "unknown");
  observed = json_object_get_array_member (nat, "observed");
  g_assert_cmpuint (json_array_get_length (observed), ==, 2);
  /* Both saw P, as the registration did. */
  g_assert_cmpstr (json_array_get_string_element (observed, 0), ==,
                   member (registered, "observed_addr"));
  g_assert_cmpstr (json_array_get_string_element (observed, 1), ==,
                   member (registered, "observed_addr"));

  wzp_relay_stop (reflector);
  wzp_test_spin (20);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, fn) \
  g_test_add ("/wzp/cli/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

  ADD ("fingerprint", test_fingerprint);
  ADD ("candidates", test_candidates);
  ADD ("bad-relay", test_bad_relay);
  ADD ("relay-refusal", test_relay_refusal);
  ADD ("known-relays-junk", test_known_relays_junk);
  ADD ("privacy-both-ways", test_privacy_both_ways);
  ADD ("trusted-call", test_trusted_call);
  ADD ("reject", test_reject);
  ADD ("busy", test_busy);
  ADD ("callee-hangs-up", test_callee_hangs_up);
  ADD ("caller-hangs-up", test_caller_hangs_up);
  ADD ("sigterm", test_sigterm);
  ADD ("unknown-peer", test_unknown_peer);
  ADD ("nat", test_nat);

  return g_test_run ();
}
