/* test-relay-dbus.c: the wzp-relay daemon as a subprocess: its options, its
 * configuration file, and its org.wzp.Relay1 service on a private bus
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "test-util.h"
#include "wzp-message-private.h"
#include "wzp-relay-dbus.h"

#define TIMEOUT_MS 10000

/* Helpers: the daemon as a subprocess */

static const char *
relay_bin (void)
{
  static char *path = NULL;

  if (path == NULL)
    {
      const char *env = g_getenv ("WZP_RELAY_BIN");

      path = env != NULL ? g_strdup (env)
                         : g_test_build_filename (G_TEST_BUILT, "..", "wzp-relay", "wzp-relay",
                                                  NULL);
    }
  return path;
}

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* In the child: a daemon whose test crashed must not outlive it (and keep the test's
 * output pipes open until meson's timeout). */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts the daemon with @argv (after the program name), with its session bus (or, with
 * @as_system, its system bus) at @bus_address (NULL: what the environment says). */
static GSubprocess *
launch_relay_on_bus (GSubprocessFlags     flags,
                     const char          *bus_address,
                     gboolean             as_system,
                     const char * const  *argv,
                     GError             **error)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr(GPtrArray) full = g_ptr_array_new ();

  /* G_TEST_OPTION_ISOLATE_DIRS points GLib's user directories into a per-test directory
   * but does not export them: hand them to the daemon, which keeps its identity and
   * reads its configuration there. */
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", g_get_user_data_dir (), TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", g_get_user_config_dir (), TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_STATE_HOME", g_get_user_state_dir (), TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CACHE_HOME", g_get_user_cache_dir (), TRUE);
  if (bus_address != NULL)
    g_subprocess_launcher_setenv (launcher,
                                  as_system ? "DBUS_SYSTEM_BUS_ADDRESS"
                                            : "DBUS_SESSION_BUS_ADDRESS",
                                  bus_address, TRUE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_ptr_array_add (full, (gpointer) relay_bin ());
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (full, (gpointer) argv[i]);
  g_ptr_array_add (full, NULL);
  return g_subprocess_launcher_spawnv (launcher, (const char * const *) full->pdata, error);
}

static GSubprocess *
launch_relay (GSubprocessFlags     flags,
              const char * const  *argv,
              GError             **error)
{
  return launch_relay_on_bus (flags, NULL, FALSE, argv, error);
}

static gboolean
timeout_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main context until @check returns TRUE; fails the test after @timeout_ms. */
static void
wait_for (gboolean  (*check) (gpointer),
          gpointer    data,
          const char *what)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (TIMEOUT_MS, timeout_cb, &timed_out);

  while (!check (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (timed_out)
    g_error ("Timed out waiting for %s", what);
  g_source_remove (id);
}

static GSubprocess *
spawn_relay (GSubprocessFlags   flags,
             GError           **error,
             const char        *first_arg,
             ...) G_GNUC_NULL_TERMINATED;

static GSubprocess *
spawn_relay (GSubprocessFlags   flags,
             GError           **error,
             const char        *first_arg,
             ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  va_list args;

  va_start (args, first_arg);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  return launch_relay (flags, (const char * const *) argv->pdata, error);
}

/* The next line of the daemon's stdout, NULL at end of file. */
static char *
read_line (GDataInputStream *stream)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  char *line;

  g_data_input_stream_read_line_async (stream, G_PRIORITY_DEFAULT, NULL, store_result_cb,
                                       &result);
  wzp_test_wait_pointer ((gpointer *) &result, TIMEOUT_MS);
  line = g_data_input_stream_read_line_finish_utf8 (stream, result, NULL, &error);
  g_assert_no_error (error);
  return line;
}

/* Waits for the daemon to exit; returns its exit status (it must not be killed). */
static int
wait_exit (GSubprocess *process)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_subprocess_wait_async (process, NULL, store_result_cb, &result);
  wzp_test_wait_pointer ((gpointer *) &result, TIMEOUT_MS);
  g_subprocess_wait_finish (process, result, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

/* SIGTERM, then the daemon must exit with status 0. */
static void
terminate (GSubprocess *process)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (process, SIGTERM);
  g_subprocess_wait_check_async (process, NULL, store_result_cb, &result);
  wzp_test_wait_pointer ((gpointer *) &result, TIMEOUT_MS);
  g_subprocess_wait_check_finish (process, result, &error);
  g_assert_no_error (error);
}

typedef struct
{
  int   status;
  char *out;
  char *err;
} RunResult;

static void
run_result_clear (RunResult *run)
{
  g_free (run->out);
  g_free (run->err);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RunResult, run_result_clear)

/* Runs the daemon to completion with @argv (after the program), capturing both
 * streams. For options that make it exit by itself. */
static void
run_relay (RunResult         *run,
           const char * const *argv)
{
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  process = launch_relay (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                          argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, store_result_cb, &result);
  wzp_test_wait_pointer ((gpointer *) &result, TIMEOUT_MS);
  g_subprocess_communicate_utf8_finish (process, result, &run->out, &run->err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  run->status = g_subprocess_get_exit_status (process);
  if (run->err[0] != '\0')
    g_test_message ("wzp-relay said: %s", run->err);
}

static char *
write_file (const char *name,
            const char *contents)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (g_get_user_data_dir (), name, NULL);

  g_assert_no_errno (g_mkdir_with_parents (g_get_user_data_dir (), 0700));
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

/* Splits wzps://HOST:PORT#FINGERPRINT. */
static void
parse_uri (const char  *uri,
           char       **address,
           char       **fingerprint)
{
  const char *hash;

  g_assert_true (g_str_has_prefix (uri, "wzps://"));
  hash = strchr (uri, '#');
  g_assert_nonnull (hash);
  *address = g_strndup (uri + strlen ("wzps://"), hash - uri - strlen ("wzps://"));
  *fingerprint = g_strdup (hash + 1);
  g_assert_true (wzp_fingerprint_is_valid (*fingerprint));
}

/* The daemon on a private session bus */

typedef struct
{
  GTestDBus        *bus;
  GDBusConnection  *connection;
  char             *identity_path;
  GSubprocess      *relay;
  GDataInputStream *relay_stdout;
  char             *address;       /* HOST:PORT, from the URI */
  char             *fingerprint;   /* from the URI */
  WzpDBusRelay1    *proxy;
} BusFixture;

static void
name_appeared_cb (GDBusConnection *connection,
                  const char      *name,
                  const char      *owner,
                  gpointer         user_data)
{
  char **owner_out = user_data;

  g_free (*owner_out);
  *owner_out = g_strdup (owner);
}

static void
name_vanished_cb (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  char **owner_out = user_data;

  g_clear_pointer (owner_out, g_free);
}

static gboolean
string_is_set (gpointer data)
{
  return *(char **) data != NULL;
}

static gboolean
string_is_unset (gpointer data)
{
  return *(char **) data == NULL;
}

/* The unique name of the owner of org.wzp.Relay1, once there is one. */
static char *
wait_for_name_owner (GDBusConnection *connection)
{
  char *owner = NULL;
  guint watch = g_bus_watch_name_on_connection (connection, RELAY_BUS_NAME,
                                                G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                name_appeared_cb, NULL, &owner, NULL);

  wait_for (string_is_set, &owner, "the relay's bus name");
  g_bus_unwatch_name (watch);
  return owner;
}

static GSubprocess *
spawn_bus_relay (const char        *identity_path,
                 GDataInputStream **stdout_out,
                 char             **address,
                 char             **fingerprint,
                 const char        *extra_arg)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *second = NULL;
  GSubprocess *process;

  process = spawn_relay (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                         "--dbus=session", "--listen", "127.0.0.1:0",
                         "--identity", identity_path, extra_arg, NULL);
  g_assert_no_error (error);
  *stdout_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  uri = read_line (*stdout_out);
  g_assert_nonnull (uri);
  parse_uri (uri, address, fingerprint);
  return process;
}

static void
bus_fixture_setup (BusFixture    *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *owner = NULL;
  g_autofree char *config_arg = NULL;

  /* @data: a [limits] line for the relay's configuration file, or NULL. */
  if (data != NULL)
    {
      g_autofree char *contents = g_strdup_printf ("[limits]\n%s\n", (const char *) data);
      g_autofree char *path = write_file ("relay.conf", contents);

      config_arg = g_strconcat ("--config=", path, NULL);
    }

  f->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (f->bus);
  f->connection = g_dbus_connection_new_for_address_sync (
    g_test_dbus_get_bus_address (f->bus),
    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
    G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &error);
  g_assert_no_error (error);

  f->identity_path = g_build_filename (g_get_user_data_dir (), "relay.pem", NULL);
  f->relay = spawn_bus_relay (f->identity_path, &f->relay_stdout, &f->address,
                              &f->fingerprint, config_arg);

  owner = wait_for_name_owner (f->connection);
  f->proxy = wzp_dbus_relay1_proxy_new_sync (f->connection, G_DBUS_PROXY_FLAGS_NONE,
                                             RELAY_BUS_NAME, RELAY_OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
}

static void
bus_fixture_teardown (BusFixture    *f,
                      gconstpointer  data)
{
  if (f->relay != NULL)
    terminate (f->relay);
  g_clear_object (&f->proxy);
  g_clear_object (&f->relay_stdout);
  g_clear_object (&f->relay);
  g_dbus_connection_close_sync (f->connection, NULL, NULL);
  g_clear_object (&f->connection);
  g_test_dbus_down (f->bus);
  g_clear_object (&f->bus);
  g_free (f->identity_path);
  g_free (f->address);
  g_free (f->fingerprint);
}

static GVariant *
call_list (BusFixture *f,
           const char *method)
{
  g_autoptr(GError) error = NULL;
  GVariant *list = NULL;
  gboolean ok;

  if (g_str_equal (method, "ListRegistrations"))
    ok = wzp_dbus_relay1_call_list_registrations_sync (f->proxy, G_DBUS_CALL_FLAGS_NONE, -1,
                                                       &list, NULL, &error);
  else
    ok = wzp_dbus_relay1_call_list_calls_sync (f->proxy, G_DBUS_CALL_FLAGS_NONE, -1,
                                               &list, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_true (g_variant_is_of_type (list, G_VARIANT_TYPE ("aa{sv}")));
  return list;
}

static void
test_bus_properties (BusFixture    *f,
                     gconstpointer  data)
{
  const char * const *listen;
  g_autoptr(GVariant) registrations = NULL;
  g_autoptr(GVariant) calls = NULL;

  g_assert_cmpstr (wzp_dbus_relay1_get_fingerprint (f->proxy), ==, f->fingerprint);

  listen = wzp_dbus_relay1_get_listen_addresses (f->proxy);
  g_assert_nonnull (listen);
  g_assert_cmpuint (g_strv_length ((char **) listen), ==, 1);
  g_assert_cmpstr (listen[0], ==, f->address);
  g_assert_true (g_str_has_prefix (listen[0], "127.0.0.1:"));
  g_assert_cmpstr (listen[0], !=, "127.0.0.1:0");

  g_assert_cmpuint (wzp_dbus_relay1_get_registrations (f->proxy), ==, 0);
  g_assert_cmpuint (wzp_dbus_relay1_get_active_calls (f->proxy), ==, 0);

  registrations = call_list (f, "ListRegistrations");
  g_assert_cmpuint (g_variant_n_children (registrations), ==, 0);
  calls = call_list (f, "ListCalls");
  g_assert_cmpuint (g_variant_n_children (calls), ==, 0);
}

/* The name goes away on SIGTERM, and the daemon exits 0. */
static void
test_bus_sigterm (BusFixture    *f,
                  gconstpointer  data)
{
  char *owner = NULL;
  guint watch = g_bus_watch_name_on_connection (f->connection, RELAY_BUS_NAME,
                                                G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                name_appeared_cb, name_vanished_cb,
                                                &owner, NULL);

  wait_for (string_is_set, &owner, "the name owner");
  terminate (f->relay);
  wait_for (string_is_unset, &owner, "the name to vanish");
  g_bus_unwatch_name (watch);
  g_clear_object (&f->relay);
}

typedef struct
{
  WzpDBusRelay1 *proxy;
  guint          expected;
} CountWait;

static gboolean
registrations_reached (gpointer data)
{
  CountWait *wait = data;

  return wzp_dbus_relay1_get_registrations (wait->proxy) == wait->expected;
}

static gboolean
calls_reached (gpointer data)
{
  CountWait *wait = data;

  return wzp_dbus_relay1_get_active_calls (wait->proxy) == wait->expected;
}

static void
wait_registrations (BusFixture *f,
                    guint       expected)
{
  CountWait wait = { f->proxy, expected };

  wait_for (registrations_reached, &wait, "the Registrations property");
}

static void
wait_calls (BusFixture *f,
            guint       expected)
{
  CountWait wait = { f->proxy, expected };

  wait_for (calls_reached, &wait, "the ActiveCalls property");
}

typedef struct
{
  char *call_id;
  char *caller;
  char *callee;
  char *reason;
} CallSignal;

static void
call_signal_clear (CallSignal *signal)
{
  g_clear_pointer (&signal->call_id, g_free);
  g_clear_pointer (&signal->caller, g_free);
  g_clear_pointer (&signal->callee, g_free);
  g_clear_pointer (&signal->reason, g_free);
}

static void
call_started_cb (WzpDBusRelay1 *proxy,
                 const char    *call_id,
                 const char    *caller,
                 const char    *callee,
                 gpointer       user_data)
{
  CallSignal *signal = user_data;

  call_signal_clear (signal);
  signal->call_id = g_strdup (call_id);
  signal->caller = g_strdup (caller);
  signal->callee = g_strdup (callee);
}

static void
call_ended_cb (WzpDBusRelay1 *proxy,
               const char    *call_id,
               const char    *reason,
               gpointer       user_data)
{
  CallSignal *signal = user_data;

  call_signal_clear (signal);
  signal->call_id = g_strdup (call_id);
  signal->reason = g_strdup (reason);
}

static GVariantDict *
find_entry (GVariant   *list,
            const char *key,
            const char *value)
{
  for (gsize i = 0; i < g_variant_n_children (list); i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (list, i);
      g_autoptr(GVariantDict) dict = g_variant_dict_new (entry);
      const char *s = NULL;

      if (g_variant_dict_lookup (dict, key, "&s", &s) && g_str_equal (s, value))
        return g_steal_pointer (&dict);
    }
  return NULL;
}

static WzpTestClient *
connect_registered (BusFixture *f,
                    const char *alias)
{
  WzpTestClient *client = wzp_test_client_connect (f->address, NULL, f->fingerprint);
  g_autoptr(WzpMessage) ack = wzp_test_client_register (client, alias);

  return client;
}

/* Offers a call from @a to @b and waits for the callee to see it. */
static char *
offer_call (WzpTestClient *a,
            WzpTestClient *b)
{
  char *call_id = g_uuid_string_random ();
  g_autoptr(WzpMessage) offer = _wzp_message_new_for_call (WZP_MESSAGE_DIRECT_CALL_OFFER,
                                                           call_id);
  g_autoptr(WzpMessage) got = NULL;

  _wzp_message_set_string (offer, "target_fingerprint", wzp_test_client_fingerprint (b));
  wzp_test_client_send (a, offer);
  got = wzp_test_client_expect (b, WZP_MESSAGE_DIRECT_CALL_OFFER);
  return call_id;
}

/* Registrations and calls as the bus shows them, with the CallStarted and CallEnded
 * signals, driven by two raw protocol clients. */
static void
test_bus_registrations_and_calls (BusFixture    *f,
                                  gconstpointer  data)
{
  g_autoptr(WzpTestClient) alice = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) bob = connect_registered (f, "Bob");
  g_autoptr(GVariant) registrations = NULL;
  g_autoptr(GVariant) calls = NULL;
  g_autoptr(GVariantDict) entry = NULL;
  g_autoptr(WzpMessage) hangup = NULL;
  g_autoptr(WzpMessage) got_hangup = NULL;
  g_autofree char *call_id = NULL;
  CallSignal started = { NULL, }, ended = { NULL, };
  const char *s;
  gint64 x;
  gboolean b;

  g_signal_connect (f->proxy, "call-started", G_CALLBACK (call_started_cb), &started);
  g_signal_connect (f->proxy, "call-ended", G_CALLBACK (call_ended_cb), &ended);

  wait_registrations (f, 2);
  registrations = call_list (f, "ListRegistrations");
  g_assert_cmpuint (g_variant_n_children (registrations), ==, 2);
  entry = find_entry (registrations, "fingerprint", wzp_test_client_fingerprint (alice));
  g_assert_nonnull (entry);
  g_assert_true (g_variant_dict_lookup (entry, "alias", "&s", &s));
  g_assert_cmpstr (s, ==, "Alice");
  g_assert_true (g_variant_dict_lookup (entry, "observed_addr", "&s", &s));
  g_assert_true (g_str_has_prefix (s, "127.0.0.1:"));
  g_assert_true (g_variant_dict_lookup (entry, "connected_since", "x", &x));
  g_assert_cmpint (x, <=, g_get_real_time () / G_USEC_PER_SEC);
  g_assert_cmpint (x, >, g_get_real_time () / G_USEC_PER_SEC - 60);
  g_clear_pointer (&entry, g_variant_dict_unref);
  entry = find_entry (registrations, "fingerprint", wzp_test_client_fingerprint (bob));
  g_assert_nonnull (entry);
  g_clear_pointer (&entry, g_variant_dict_unref);

  call_id = offer_call (alice, bob);
  wait_for (string_is_set, &started.call_id, "CallStarted");
  g_assert_cmpstr (started.call_id, ==, call_id);
  g_assert_cmpstr (started.caller, ==, wzp_test_client_fingerprint (alice));
  g_assert_cmpstr (started.callee, ==, wzp_test_client_fingerprint (bob));
  wait_calls (f, 1);

  calls = call_list (f, "ListCalls");
  g_assert_cmpuint (g_variant_n_children (calls), ==, 1);
  entry = find_entry (calls, "call_id", call_id);
  g_assert_nonnull (entry);
  g_assert_true (g_variant_dict_lookup (entry, "caller", "&s", &s));
  g_assert_cmpstr (s, ==, wzp_test_client_fingerprint (alice));
  g_assert_true (g_variant_dict_lookup (entry, "callee", "&s", &s));
  g_assert_cmpstr (s, ==, wzp_test_client_fingerprint (bob));
  g_assert_true (g_variant_dict_lookup (entry, "state", "&s", &s));
  g_assert_cmpstr (s, ==, "offered");
  g_assert_true (g_variant_dict_lookup (entry, "relayed", "b", &b));
  g_assert_false (b);
  g_assert_true (g_variant_dict_lookup (entry, "started", "x", &x));
  g_assert_cmpint (x, >, 0);

  hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);
  _wzp_message_set_string (hangup, "reason", "Normal");
  wzp_test_client_send (alice, hangup);
  got_hangup = wzp_test_client_expect (bob, WZP_MESSAGE_HANGUP);
  wait_for (string_is_set, &ended.call_id, "CallEnded");
  g_assert_cmpstr (ended.call_id, ==, call_id);
  g_assert_cmpstr (ended.reason, ==, "Normal");
  wait_calls (f, 0);

  g_clear_pointer (&bob, wzp_test_client_free);
  wait_registrations (f, 1);

  call_signal_clear (&started);
  call_signal_clear (&ended);
}

/* SIGTERM with a call up: the parties get Hangup and then the relay's goodbye before
 * their connections close, CallEnded reaches the bus before the name goes, and the
 * daemon exits 0. */
static void
test_bus_shutdown_ends_calls (BusFixture    *f,
                              gconstpointer  data)
{
  g_autoptr(WzpTestClient) alice = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) bob = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) got_hangup = NULL;
  g_autofree char *call_id = NULL;
  CallSignal ended = { NULL, };

  g_signal_connect (f->proxy, "call-ended", G_CALLBACK (call_ended_cb), &ended);
  call_id = offer_call (alice, bob);
  wait_calls (f, 1);

  g_subprocess_send_signal (f->relay, SIGTERM);
  got_hangup = wzp_test_client_expect (alice, WZP_MESSAGE_HANGUP);
  g_assert_cmpstr (_wzp_message_get_string (got_hangup, "call_id"), ==, call_id);
  wzp_test_client_expect_error (alice, "shutdown");
  wzp_test_client_wait_closed (alice);
  wait_for (string_is_set, &ended.call_id, "CallEnded");
  g_assert_cmpstr (ended.call_id, ==, call_id);
  g_assert_cmpint (wait_exit (f->relay), ==, 0);
  g_clear_object (&f->relay);

  call_signal_clear (&ended);
}

static GVariant *
get_counters (BusFixture *f)
{
  g_autoptr(GError) error = NULL;
  GVariant *counters = NULL;

  wzp_dbus_relay1_call_get_counters_sync (f->proxy, G_DBUS_CALL_FLAGS_NONE, -1, &counters,
                                          NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (counters, G_VARIANT_TYPE ("a{st}")));
  return counters;
}

static guint64
counter (GVariant   *counters,
         const char *key)
{
  guint64 value;

  if (!g_variant_lookup (counters, key, "t", &value))
    g_error ("GetCounters has no “%s”", key);
  return value;
}

/* GetCounters: a registered client idle, then in a call, and a registration refused at
 * max-registrations-per-ip (set in the configuration file), as an operator sees them. */
static void
test_bus_counters (BusFixture    *f,
                   gconstpointer  data)
{
  g_autoptr(WzpTestClient) alice = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) bob = connect_registered (f, "Bob");
  g_autoptr(WzpTestClient) carol = wzp_test_client_connect (f->address, NULL, f->fingerprint);
  g_autoptr(WzpMessage) reg = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);
  g_autoptr(GVariant) counters = NULL;
  g_autofree char *call_id = NULL;

  g_autoptr(WzpMessage) reflect = _wzp_message_new (WZP_MESSAGE_REFLECT);
  g_autoptr(WzpMessage) reflected = NULL;

  /* Carol's handshake is done at the relay once it answered her. */
  wzp_test_client_send (carol, reflect);
  reflected = wzp_test_client_expect (carol, WZP_MESSAGE_REFLECT_RESPONSE);
  wait_registrations (f, 2);
  counters = get_counters (f);
  g_assert_cmpuint (counter (counters, "connections"), ==, 3);
  g_assert_cmpuint (counter (counters, "connections-registered"), ==, 2);
  g_assert_cmpuint (counter (counters, "connections-unregistered"), ==, 1);
  g_assert_cmpuint (counter (counters, "handshakes-in-flight"), ==, 0);
  g_assert_cmpuint (counter (counters, "idle-clients"), ==, 2);
  g_assert_cmpuint (counter (counters, "accepted"), ==, 3);
  g_assert_cmpuint (counter (counters, "refused.max-registrations-per-ip"), ==, 0);
  g_clear_pointer (&counters, g_variant_unref);

  /* The file made this relay allow two registrations per address: Carol is the third. */
  _wzp_message_set_string (reg, "alias", "Carol");
  _wzp_message_set_string (reg, "client_version", "test");
  wzp_test_client_send (carol, reg);
  wzp_test_client_expect_error (carol, "limit_reached");
  call_id = offer_call (alice, bob);
  wait_calls (f, 1);

  counters = get_counters (f);
  g_assert_cmpuint (counter (counters, "idle-clients"), ==, 0);
  g_assert_cmpuint (counter (counters, "calls"), ==, 1);
  g_assert_cmpuint (counter (counters, "refused.max-registrations-per-ip"), ==, 1);
  g_assert_cmpuint (counter (counters, "refused"), ==, 1);
}

/* The line the relay logs as it stops: what it held, and what it refused since it
 * started, readable and with every counter in WZP_COUNTERS (on stderr as text). */
static void
test_daemon_counters_at_shutdown (void)
{
  g_autofree char *identity = g_build_filename (g_get_user_data_dir (), "relay.pem", NULL);
  g_autofree char *config = write_file ("counters.conf",
                                        "[limits]\nmax-registrations-per-ip=1\n");
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpTestClient) alice = NULL;
  g_autoptr(WzpTestClient) bob = NULL;
  g_autoptr(WzpMessage) ack = NULL;
  g_autoptr(WzpMessage) reg = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);
  g_autofree char *uri = NULL;
  g_autofree char *address = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *err = NULL;
  const char *line;

  process = spawn_relay (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                         &error, "--listen", "127.0.0.1:0", "--identity", identity,
                         "--config", config, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  uri = read_line (out);
  g_assert_nonnull (uri);
  parse_uri (uri, &address, &fingerprint);

  alice = wzp_test_client_connect (address, NULL, fingerprint);
  ack = wzp_test_client_register (alice, "Alice");
  bob = wzp_test_client_connect (address, NULL, fingerprint);
  _wzp_message_set_string (reg, "alias", "Bob");
  _wzp_message_set_string (reg, "client_version", "test");
  wzp_test_client_send (bob, reg);
  wzp_test_client_expect_error (bob, "limit_reached");

  g_subprocess_send_signal (process, SIGTERM);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, store_result_cb, &result);
  wzp_test_wait_pointer ((gpointer *) &result, TIMEOUT_MS);
  g_subprocess_communicate_utf8_finish (process, result, NULL, &err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);

  line = strstr (err, "Stopping; the relay holds: 2 connections");
  if (line == NULL)
    g_error ("No counters line at shutdown in: %s", err);
  g_assert_nonnull (strstr (line, "1 registered of which 1 idle"));
  g_assert_nonnull (strstr (line, "since it was made: 2 connections accepted, 1 refusals "
                                  "(max-registrations-per-ip 1)"));
}

typedef struct
{
  char       **owner;
  const char  *first;
} OwnerChange;

static gboolean
owner_changed (gpointer data)
{
  OwnerChange *change = data;

  return *change->owner != NULL && !g_str_equal (*change->owner, change->first);
}

/* A second relay does not take the name, --replace does, and the replaced relay exits
 * with an error. */
static void
test_bus_replace (BusFixture    *f,
                  gconstpointer  data)
{
  g_autofree char *other_identity = g_build_filename (g_get_user_data_dir (), "other.pem",
                                                      NULL);
  g_autoptr(GDataInputStream) second_stdout = NULL;
  g_autoptr(GDataInputStream) third_stdout = NULL;
  g_autoptr(GSubprocess) second = NULL;
  g_autoptr(GSubprocess) third = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *first_owner = wait_for_name_owner (f->connection);
  g_autofree char *third_address = NULL;
  g_autofree char *third_fingerprint = NULL;
  g_autoptr(WzpDBusRelay1) proxy = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  char *owner = NULL;
  OwnerChange change = { &owner, first_owner };
  guint watch;

  /* No --replace: it listens (and says so), then fails on the bus. */
  second = spawn_relay (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                        "--dbus=session", "--listen", "127.0.0.1:0",
                        "--identity", other_identity, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (second, NULL, NULL, store_result_cb, &result);
  wzp_test_wait_pointer ((gpointer *) &result, TIMEOUT_MS);
  g_subprocess_communicate_utf8_finish (second, result, NULL, &err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (second));
  g_assert_cmpint (g_subprocess_get_exit_status (second), ==, 1);
  g_assert_nonnull (strstr (err, "wzp-relay: Another relay already owns org.wzp.Relay1 on the "
                                 "session bus; stop it, or start this one with --replace"));

  /* --replace: the first relay loses the name and exits with an error. */
  watch = g_bus_watch_name_on_connection (f->connection, RELAY_BUS_NAME,
                                          G_BUS_NAME_WATCHER_FLAGS_NONE,
                                          name_appeared_cb, name_vanished_cb, &owner, NULL);
  wait_for (string_is_set, &owner, "the first owner");
  g_assert_cmpstr (owner, ==, first_owner);
  third = spawn_bus_relay (other_identity, &third_stdout, &third_address, &third_fingerprint,
                           "--replace");
  g_assert_cmpint (wait_exit (f->relay), ==, 1);
  g_clear_object (&f->relay);
  wait_for (owner_changed, &change, "the new owner");
  g_bus_unwatch_name (watch);

  proxy = wzp_dbus_relay1_proxy_new_sync (f->connection, G_DBUS_PROXY_FLAGS_NONE,
                                          RELAY_BUS_NAME, RELAY_OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (wzp_dbus_relay1_get_fingerprint (proxy), ==, third_fingerprint);
  g_assert_cmpstr (third_fingerprint, !=, f->fingerprint);

  terminate (third);
  g_free (owner);
}

/* GDebugControllerDBus is exported and, on the session bus, lets the user switch debug
 * output on. */
static void
test_bus_debug_controller (BusFixture    *f,
                           gconstpointer  data)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;

  reply = g_dbus_connection_call_sync (f->connection, RELAY_BUS_NAME, "/org/gtk/Debugging",
                                       "org.gtk.Debugging", "SetDebugEnabled",
                                       g_variant_new ("(b)", TRUE), NULL,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);

  reply = g_dbus_connection_call_sync (f->connection, RELAY_BUS_NAME, "/org/gtk/Debugging",
                                       "org.freedesktop.DBus.Properties", "Get",
                                       g_variant_new ("(ss)", "org.gtk.Debugging",
                                                      "DebugEnabled"),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                       NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  g_assert_true (g_variant_get_boolean (value));
}

/* The daemon exports the whole interface of data/org.wzp.Relay1.xml. */
static void
test_bus_introspection (BusFixture    *f,
                        gconstpointer  data)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusNodeInfo) node = NULL;
  const char *xml;
  GDBusInterfaceInfo *info;

  reply = g_dbus_connection_call_sync (f->connection, RELAY_BUS_NAME, RELAY_OBJECT_PATH,
                                       "org.freedesktop.DBus.Introspectable", "Introspect",
                                       NULL, G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE,
                                       -1, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(&s)", &xml);
  node = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  info = g_dbus_node_info_lookup_interface (node, RELAY_BUS_NAME);
  g_assert_nonnull (info);
  g_assert_nonnull (g_dbus_interface_info_lookup_method (info, "ListRegistrations"));
  g_assert_nonnull (g_dbus_interface_info_lookup_method (info, "ListCalls"));
  g_assert_nonnull (g_dbus_interface_info_lookup_method (info, "GetCounters"));
  g_assert_nonnull (g_dbus_interface_info_lookup_signal (info, "CallStarted"));
  g_assert_nonnull (g_dbus_interface_info_lookup_signal (info, "CallEnded"));
  g_assert_nonnull (g_dbus_interface_info_lookup_property (info, "Fingerprint"));
  g_assert_nonnull (g_dbus_interface_info_lookup_property (info, "ListenAddresses"));
  g_assert_nonnull (g_dbus_interface_info_lookup_property (info, "Registrations"));
  g_assert_nonnull (g_dbus_interface_info_lookup_property (info, "ActiveCalls"));
  g_assert_nonnull (g_dbus_interface_info_lookup_method (info, "AddPeer"));
  g_assert_nonnull (g_dbus_interface_info_lookup_method (info, "RemovePeer"));
  g_assert_nonnull (g_dbus_interface_info_lookup_signal (info, "PeerLinkChanged"));
  g_assert_nonnull (g_dbus_interface_info_lookup_property (info, "Peers"));
}

/* Federation: two daemons, each on its own private bus */

typedef struct
{
  GTestDBus        *bus;
  GDBusConnection  *connection;
  char             *identity_path;
  char             *fingerprint;   /* known before start (print-fingerprint) */
  GSubprocess      *process;
  GDataInputStream *stdout_stream;
  char             *address;       /* HOST:PORT, from the URI line */
  char             *uri;           /* wzps://127.0.0.1:PORT#FINGERPRINT */
  WzpDBusRelay1    *proxy;
} FedRelay;

typedef struct
{
  FedRelay a;
  FedRelay b;
} FedFixture;

static char *
print_fingerprint (const char *identity_path)
{
  const char * const argv[] = { "--print-fingerprint", "--identity", identity_path, NULL };
  g_auto(RunResult) run = { 0, };

  run_relay (&run, argv);
  g_assert_cmpint (run.status, ==, 0);
  g_strchomp (run.out);
  g_assert_true (wzp_fingerprint_is_valid (run.out));
  return g_steal_pointer (&run.out);
}

static void
fed_relay_init (FedRelay   *r,
                const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *file = g_strdup_printf ("%s.pem", name);

  r->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (r->bus);
  r->connection = g_dbus_connection_new_for_address_sync (
    g_test_dbus_get_bus_address (r->bus),
    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
    G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &error);
  g_assert_no_error (error);
  r->identity_path = g_build_filename (g_get_user_data_dir (), file, NULL);
  r->fingerprint = print_fingerprint (r->identity_path);
}

/* Starts @r's daemon on its bus, listening on 127.0.0.1:@port, with @extra (NULL
 * terminated) after the other options. Returns FALSE when it exits instead (the port was
 * taken); TRUE once it listens and owns its name, with a proxy. */
static gboolean
fed_relay_start (FedRelay           *r,
                 guint               port,
                 const char * const *extra)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *owner = NULL;

  g_ptr_array_add (argv, g_strdup ("--dbus=session"));
  g_ptr_array_add (argv, g_strdup ("--listen"));
  g_ptr_array_add (argv, g_strdup_printf ("127.0.0.1:%u", port));
  g_ptr_array_add (argv, g_strdup ("--pipe-listen"));
  g_ptr_array_add (argv, g_strdup ("127.0.0.1:0"));
  g_ptr_array_add (argv, g_strdup ("--identity"));
  g_ptr_array_add (argv, g_strdup (r->identity_path));
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (extra[i]));
  g_ptr_array_add (argv, NULL);

  r->process = launch_relay_on_bus (G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                    g_test_dbus_get_bus_address (r->bus), FALSE,
                                    (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  r->stdout_stream = g_data_input_stream_new (g_subprocess_get_stdout_pipe (r->process));
  line = read_line (r->stdout_stream);
  if (line == NULL)
    {
      g_assert_cmpint (wait_exit (r->process), ==, 1);
      g_clear_object (&r->stdout_stream);
      g_clear_object (&r->process);
      return FALSE;
    }
  parse_uri (line, &r->address, &fingerprint);
  g_assert_cmpstr (fingerprint, ==, r->fingerprint);
  r->uri = g_steal_pointer (&line);

  owner = wait_for_name_owner (r->connection);
  r->proxy = wzp_dbus_relay1_proxy_new_sync (r->connection, G_DBUS_PROXY_FLAGS_NONE,
                                             RELAY_BUS_NAME, RELAY_OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
  return TRUE;
}

static void
fed_relay_stop (FedRelay *r)
{
  if (r->process != NULL)
    terminate (r->process);
  g_clear_object (&r->proxy);
  g_clear_object (&r->stdout_stream);
  g_clear_object (&r->process);
  g_clear_pointer (&r->address, g_free);
  g_clear_pointer (&r->uri, g_free);
}

static void
fed_relay_clear (FedRelay *r)
{
  fed_relay_stop (r);
  g_dbus_connection_close_sync (r->connection, NULL, NULL);
  g_clear_object (&r->connection);
  g_test_dbus_down (r->bus);
  g_clear_object (&r->bus);
  g_free (r->identity_path);
  g_free (r->fingerprint);
}

static void
fed_fixture_setup (FedFixture    *f,
                   gconstpointer  data)
{
  fed_relay_init (&f->a, "relay-a");
  fed_relay_init (&f->b, "relay-b");
}

static void
fed_fixture_teardown (FedFixture    *f,
                      gconstpointer  data)
{
  fed_relay_clear (&f->a);
  fed_relay_clear (&f->b);
}

/* A port below Linux's ephemeral range (32768-60999): a peer's URI names it before its
 * relay starts, and no outgoing connection of a parallel test can take it meanwhile. */
static guint
pick_port (void)
{
  return g_random_int_range (20000, 30000);
}

static char *
peer_uri (guint       port,
          const char *fingerprint)
{
  return g_strdup_printf ("wzps://127.0.0.1:%u#%s", port, fingerprint);
}

/* Starts both relays, each with @a_extra / @b_extra and, where @a_peers / @b_peers say
 * so, --peer naming the other one (whose port is chosen before either starts). */
static void
fed_start_both (FedFixture         *f,
                gboolean            a_peers,
                const char * const *a_extra,
                gboolean            b_peers,
                const char * const *b_extra)
{
  for (guint attempt = 0; attempt < 20; attempt++)
    {
      guint port_a = pick_port ();
      guint port_b = pick_port ();
      g_autofree char *uri_a = peer_uri (port_a, f->a.fingerprint);
      g_autofree char *uri_b = peer_uri (port_b, f->b.fingerprint);
      g_autoptr(GStrvBuilder) args_a = g_strv_builder_new ();
      g_autoptr(GStrvBuilder) args_b = g_strv_builder_new ();
      g_auto(GStrv) argv_a = NULL;
      g_auto(GStrv) argv_b = NULL;

      if (port_a == port_b)
        continue;
      if (a_peers)
        {
          g_strv_builder_add (args_a, "--peer");
          g_strv_builder_add (args_a, uri_b);
        }
      if (a_extra != NULL)
        g_strv_builder_addv (args_a, (const char **) a_extra);
      if (b_peers)
        {
          g_strv_builder_add (args_b, "--peer");
          g_strv_builder_add (args_b, uri_a);
        }
      if (b_extra != NULL)
        g_strv_builder_addv (args_b, (const char **) b_extra);
      argv_a = g_strv_builder_end (args_a);
      argv_b = g_strv_builder_end (args_b);

      if (!fed_relay_start (&f->a, port_a, (const char * const *) argv_a))
        continue;
      if (fed_relay_start (&f->b, port_b, (const char * const *) argv_b))
        return;
      fed_relay_stop (&f->a);
    }
  g_error ("Could not start two relays on free ports");
}

typedef struct
{
  WzpDBusRelay1 *proxy;
  const char    *fingerprint;
  const char    *state;        /* NULL: the peer must be absent */
  gboolean       negate;       /* wait until the peer is NOT in @state */
  guint          n_peers;      /* G_MAXUINT: any */
} PeerWait;

/* Looks @fingerprint up in @peers (a(sssu)); fills what is not NULL. */
static gboolean
find_peer (GVariant    *peers,
           const char  *fingerprint,
           const char **uri,
           const char **state,
           guint32     *announced)
{
  GVariantIter iter;
  const char *u, *fp, *st;
  guint32 n;

  if (peers == NULL)
    return FALSE;
  g_assert_true (g_variant_is_of_type (peers, G_VARIANT_TYPE ("a(sssu)")));
  g_variant_iter_init (&iter, peers);
  while (g_variant_iter_next (&iter, "(&s&s&su)", &u, &fp, &st, &n))
    if (g_str_equal (fp, fingerprint))
      {
        if (uri != NULL)
          *uri = u;
        if (state != NULL)
          *state = st;
        if (announced != NULL)
          *announced = n;
        return TRUE;
      }
  return FALSE;
}

/* Reads the proxy's cached value: it only changes through PropertiesChanged. */
static gboolean
peer_reached (gpointer data)
{
  PeerWait *wait = data;
  GVariant *peers = wzp_dbus_relay1_get_peers (wait->proxy);
  const char *state = NULL;
  gboolean found = find_peer (peers, wait->fingerprint, NULL, &state, NULL);

  if (wait->n_peers != G_MAXUINT &&
      (peers == NULL || g_variant_n_children (peers) != wait->n_peers))
    return FALSE;
  if (wait->state == NULL)
    return !found;
  if (!found)
    return FALSE;
  return wait->negate ? !g_str_equal (state, wait->state)
                      : g_str_equal (state, wait->state);
}

static void
wait_peer_state (FedRelay   *r,
                 const char *fingerprint,
                 const char *state,
                 guint       n_peers)
{
  PeerWait wait = { r->proxy, fingerprint, state, FALSE, n_peers };
  g_autofree char *what = g_strdup_printf ("peer %s to be %s in Peers", fingerprint,
                                           state != NULL ? state : "gone");

  wait_for (peer_reached, &wait, what);
}

static void
wait_peer_not_state (FedRelay   *r,
                     const char *fingerprint,
                     const char *state)
{
  PeerWait wait = { r->proxy, fingerprint, state, TRUE, G_MAXUINT };
  g_autofree char *what = g_strdup_printf ("peer %s to leave %s in Peers", fingerprint, state);

  wait_for (peer_reached, &wait, what);
}

static void
peer_link_changed_cb (WzpDBusRelay1 *proxy,
                      const char    *fingerprint,
                      const char    *state,
                      gpointer       user_data)
{
  GPtrArray *events = user_data;

  g_ptr_array_add (events, g_strdup_printf ("%s %s", fingerprint, state));
}

typedef struct
{
  WzpDBusRelay1 *proxy;
  const char    *fingerprint;
  guint32        announced;
} AnnouncedWait;

static gboolean
announced_reached (gpointer data)
{
  AnnouncedWait *wait = data;
  guint32 announced = G_MAXUINT32;

  return find_peer (wzp_dbus_relay1_get_peers (wait->proxy), wait->fingerprint, NULL, NULL,
                    &announced) &&
         announced == wait->announced;
}

/* Waits until @r's Peers says the peer @fingerprint announced @n registered clients. */
static void
wait_announced (FedRelay   *r,
                const char *fingerprint,
                guint32     n)
{
  AnnouncedWait wait = { r->proxy, fingerprint, n };
  g_autofree char *what = g_strdup_printf ("peer %s to announce %u clients in Peers",
                                           fingerprint, n);

  wait_for (announced_reached, &wait, what);
}

typedef struct
{
  GPtrArray  *events;
  const char *event;
} EventWait;

static gboolean
event_seen (gpointer data)
{
  EventWait *wait = data;

  for (guint i = 0; i < wait->events->len; i++)
    if (g_str_equal (g_ptr_array_index (wait->events, i), wait->event))
      return TRUE;
  return FALSE;
}

static void
wait_link_event (GPtrArray  *events,
                 const char *fingerprint,
                 const char *state)
{
  g_autofree char *event = g_strdup_printf ("%s %s", fingerprint, state);
  EventWait wait = { events, event };
  g_autofree char *what = g_strdup_printf ("PeerLinkChanged(%s)", event);

  wait_for (event_seen, &wait, what);
}

static void
expect_dbus_error (GError     *error,
                   const char *name,
                   const char *in_message)
{
  g_autofree char *remote = NULL;

  g_assert_nonnull (error);
  g_assert_true (g_dbus_error_is_remote_error (error));
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, name);
  g_dbus_error_strip_remote_error (error);
  g_test_message ("%s: %s", name, error->message);
  g_assert_nonnull (strstr (error->message, in_message));
}

/* wzp-relay --peer each way: both links come up, and Peers says so on both buses, with
 * the URI as given; a client registering at B shows in A's count of what B announced.
 * RemovePeer on one side: PeerLinkChanged "down" there, the peer is
 * gone from its Peers, and the other side's link goes down too (it keeps dialling, but
 * is refused: it is no longer a peer). */
static void
test_federation_peer_option (FedFixture    *f,
                             gconstpointer  data)
{
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  GVariant *peers;
  const char *uri = NULL;

  fed_start_both (f, TRUE, NULL, TRUE, NULL);
  g_signal_connect (f->a.proxy, "peer-link-changed", G_CALLBACK (peer_link_changed_cb),
                    events);

  wait_peer_state (&f->a, f->b.fingerprint, "up", 1);
  wait_peer_state (&f->b, f->a.fingerprint, "up", 1);

  peers = wzp_dbus_relay1_get_peers (f->a.proxy);
  g_assert_true (find_peer (peers, f->b.fingerprint, &uri, NULL, NULL));
  g_assert_true (g_str_has_prefix (uri, "wzps://127.0.0.1:"));
  g_assert_true (g_str_has_suffix (uri, f->b.fingerprint));
  g_assert_true (g_str_has_suffix (f->b.uri, f->b.fingerprint));

  wait_announced (&f->a, f->b.fingerprint, 0);
  {
    g_autoptr(WzpTestClient) client = wzp_test_client_connect (f->b.address, NULL,
                                                               f->b.fingerprint);
    g_autoptr(WzpMessage) ack = wzp_test_client_register (client, "Bob");

    wait_announced (&f->a, f->b.fingerprint, 1);
    wait_announced (&f->b, f->a.fingerprint, 0);
  }
  wait_announced (&f->a, f->b.fingerprint, 0);

  wzp_dbus_relay1_call_remove_peer_sync (f->a.proxy, f->b.fingerprint,
                                         G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  wait_link_event (events, f->b.fingerprint, "down");
  wait_peer_state (&f->a, f->b.fingerprint, NULL, 0);
  wait_peer_not_state (&f->b, f->a.fingerprint, "up");

  /* Removing it again: nothing to remove, and a message that says so. */
  wzp_dbus_relay1_call_remove_peer_sync (f->a.proxy, f->b.fingerprint,
                                         G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  expect_dbus_error (error, "org.wzp.Relay1.Error.UnknownPeer", f->b.fingerprint);

  /* The relays stop after the test: their last signals must not reach @events. */
  g_signal_handlers_disconnect_by_data (f->a.proxy, events);
}

/* AddPeer at run time: relay B lists A from the start, A adds B over D-Bus; the link
 * comes up (PeerLinkChanged "up" on A) and adding B again is refused. */
static void
test_federation_add_peer (FedFixture    *f,
                          gconstpointer  data)
{
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *b_peer_uri = NULL;
  GVariant *peers;

  fed_start_both (f, FALSE, NULL, TRUE, NULL);
  g_signal_connect (f->a.proxy, "peer-link-changed", G_CALLBACK (peer_link_changed_cb),
                    events);
  peers = wzp_dbus_relay1_get_peers (f->a.proxy);
  g_assert_nonnull (peers);
  g_assert_cmpuint (g_variant_n_children (peers), ==, 0);
  /* B dials A, which does not know it: no link on B's side either. */
  wait_peer_not_state (&f->b, f->a.fingerprint, "up");

  b_peer_uri = g_strdup_printf ("wzps://%s#%s", f->b.address, f->b.fingerprint);
  wzp_dbus_relay1_call_add_peer_sync (f->a.proxy, b_peer_uri, G_DBUS_CALL_FLAGS_NONE, -1,
                                      NULL, &error);
  g_assert_no_error (error);
  wait_link_event (events, f->b.fingerprint, "up");
  wait_peer_state (&f->a, f->b.fingerprint, "up", 1);
  wait_peer_state (&f->b, f->a.fingerprint, "up", 1);

  wzp_dbus_relay1_call_add_peer_sync (f->a.proxy, b_peer_uri, G_DBUS_CALL_FLAGS_NONE, -1,
                                      NULL, &error);
  expect_dbus_error (error, "org.wzp.Relay1.Error.DuplicatePeer", f->b.fingerprint);

  g_signal_handlers_disconnect_by_data (f->a.proxy, events);
}

/* [federation] peers in the key file: the peers are dialled as with --peer; --peer
 * replaces the file's list. */
static void
test_federation_config (FedFixture    *f,
                        gconstpointer  data)
{
  const char *absent = "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d";
  const char *other = "0000:1111:2222:3333:4444:5555:6666:7777";
  g_autofree char *config = NULL;
  g_autofree char *other_uri = peer_uri (9, other);
  GVariant *peers;

  /* B first, listing A at a port chosen now; then A, whose file lists B and a relay
   * that is never there. */
  for (guint attempt = 0; attempt < 20 && f->a.process == NULL; attempt++)
    {
      guint port_a = pick_port ();
      guint port_b = pick_port ();
      g_autofree char *a_uri = peer_uri (port_a, f->a.fingerprint);
      g_autofree char *b_uri = peer_uri (port_b, f->b.fingerprint);
      g_autofree char *contents = NULL;
      const char * const b_args[] = { "--peer", a_uri, NULL };
      const char *a_args[] = { "--config", NULL, NULL };

      if (port_a == port_b || !fed_relay_start (&f->b, port_b, b_args))
        continue;
      contents = g_strdup_printf ("[federation]\n"
                                  "# B, and a relay that is never there\n"
                                  "peers = %s; wzps://127.0.0.1:9#%s\n", b_uri, absent);
      g_clear_pointer (&config, g_free);
      config = write_file ("federation.conf", contents);
      a_args[1] = config;
      if (!fed_relay_start (&f->a, port_a, a_args))
        fed_relay_stop (&f->b);
    }
  g_assert_nonnull (f->a.process);

  wait_peer_state (&f->a, f->b.fingerprint, "up", 2);
  wait_peer_state (&f->b, f->a.fingerprint, "up", 1);
  wait_peer_not_state (&f->a, absent, "up");

  /* --peer replaces the file's list: only the relay it names. */
  fed_relay_stop (&f->a);
  {
    const char * const argv[] = { "--config", config, "--peer", other_uri, NULL };

    for (guint attempt = 0; attempt < 20 && f->a.process == NULL; attempt++)
      fed_relay_start (&f->a, pick_port (), argv);
    g_assert_nonnull (f->a.process);
  }
  wait_peer_not_state (&f->a, other, "up");
  peers = wzp_dbus_relay1_get_peers (f->a.proxy);
  g_assert_cmpuint (g_variant_n_children (peers), ==, 1);
  g_assert_false (find_peer (peers, f->b.fingerprint, NULL, NULL, NULL));
  g_assert_false (find_peer (peers, absent, NULL, NULL, NULL));
}

/* AddPeer and RemovePeer with arguments that cannot work: D-Bus errors whose names say
 * which mistake and whose messages say what to do; the relay carries on. */
static void
test_bus_peer_errors (BusFixture    *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *self_uri = g_strdup_printf ("wzps://%s#%s", f->address, f->fingerprint);
  GVariant *peers;

  wzp_dbus_relay1_call_add_peer_sync (f->proxy, "relay.example.org:4433",
                                      G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  expect_dbus_error (error, "org.wzp.Relay1.Error.InvalidPeer",
                     "“relay.example.org:4433” is not a relay URI; use "
                     "wzps://HOST:PORT#FINGERPRINT");
  g_clear_error (&error);

  wzp_dbus_relay1_call_add_peer_sync (f->proxy, "wzps://relay.example.org:4433#1a2b",
                                      G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  expect_dbus_error (error, "org.wzp.Relay1.Error.InvalidPeer", "is not a relay URI");
  g_clear_error (&error);

  /* Itself: the relay cannot federate with itself. */
  wzp_dbus_relay1_call_add_peer_sync (f->proxy, self_uri, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                      &error);
  expect_dbus_error (error, "org.wzp.Relay1.Error.InvalidPeer", f->fingerprint);
  g_clear_error (&error);

  wzp_dbus_relay1_call_remove_peer_sync (f->proxy, "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d",
                                         G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  expect_dbus_error (error, "org.wzp.Relay1.Error.UnknownPeer",
                     "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d");
  g_clear_error (&error);

  wzp_dbus_relay1_call_remove_peer_sync (f->proxy, "relay-b", G_DBUS_CALL_FLAGS_NONE, -1,
                                         NULL, &error);
  expect_dbus_error (error, "org.wzp.Relay1.Error.UnknownPeer", "Not a fingerprint");
  g_clear_error (&error);

  /* Nothing was added, and the relay still answers. */
  peers = wzp_dbus_relay1_get_peers (f->proxy);
  g_assert_nonnull (peers);
  g_assert_cmpuint (g_variant_n_children (peers), ==, 0);
  g_assert_cmpstr (wzp_dbus_relay1_get_fingerprint (f->proxy), ==, f->fingerprint);
}

/* A peer added over D-Bus that never answers: listed, not up, and RemovePeer forgets it
 * with PeerLinkChanged "down" (unless it never left down). */
static void
test_bus_peer_unreachable (BusFixture    *f,
                           gconstpointer  data)
{
  const char *other = "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d";
  g_autofree char *uri = g_strdup_printf ("wzps://127.0.0.1:9#%s", other);
  g_autoptr(GError) error = NULL;
  GVariant *peers;
  const char *listed_uri = NULL, *state = NULL;
  guint32 announced = 99;
  FedRelay view = { .proxy = f->proxy };

  wzp_dbus_relay1_call_add_peer_sync (f->proxy, uri, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                      &error);
  g_assert_no_error (error);
  wait_peer_not_state (&view, other, "up");
  peers = wzp_dbus_relay1_get_peers (f->proxy);
  g_assert_true (find_peer (peers, other, &listed_uri, &state, &announced));
  g_assert_cmpstr (listed_uri, ==, uri);
  g_assert_true (g_str_equal (state, "down") || g_str_equal (state, "connecting"));
  g_assert_cmpuint (announced, ==, 0);

  wzp_dbus_relay1_call_remove_peer_sync (f->proxy, other, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                         &error);
  g_assert_no_error (error);
  wait_peer_state (&view, other, NULL, 0);
}

/* --dbus=system, with the test's bus standing in for the system bus: AddPeer and
 * RemovePeer go through the check of the caller's uid (this test runs as the relay's own
 * user, so it passes; the bus policy file keeps other users out before that). */
static void
test_system_bus_peers (void)
{
  g_autoptr(GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GSubprocess) relay = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(WzpDBusRelay1) proxy = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *identity = g_build_filename (g_get_user_data_dir (), "relay.pem", NULL);
  g_autofree char *line = NULL;
  g_autofree char *owner = NULL;
  const char *other = "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d";
  g_autofree char *other_uri = peer_uri (9, other);
  const char * const argv[] = { "--dbus=system", "--listen", "127.0.0.1:0",
                                "--identity", identity, NULL };
  FedRelay view = { NULL, };

  g_test_dbus_up (bus);
  connection = g_dbus_connection_new_for_address_sync (
    g_test_dbus_get_bus_address (bus),
    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
    G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &error);
  g_assert_no_error (error);
  relay = launch_relay_on_bus (G_SUBPROCESS_FLAGS_STDOUT_PIPE, g_test_dbus_get_bus_address (bus),
                               TRUE, argv, &error);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (relay));
  line = read_line (out);
  g_assert_nonnull (line);
  owner = wait_for_name_owner (connection);
  proxy = wzp_dbus_relay1_proxy_new_sync (connection, G_DBUS_PROXY_FLAGS_NONE, RELAY_BUS_NAME,
                                          RELAY_OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
  view.proxy = proxy;

  wzp_dbus_relay1_call_add_peer_sync (proxy, "relay.example.org:4433", G_DBUS_CALL_FLAGS_NONE,
                                      -1, NULL, &error);
  expect_dbus_error (error, "org.wzp.Relay1.Error.InvalidPeer", "is not a relay URI");
  g_clear_error (&error);

  wzp_dbus_relay1_call_add_peer_sync (proxy, other_uri, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                      &error);
  g_assert_no_error (error);
  wait_peer_not_state (&view, other, "up");

  wzp_dbus_relay1_call_remove_peer_sync (proxy, other, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                         &error);
  g_assert_no_error (error);
  wait_peer_state (&view, other, NULL, 0);

  terminate (relay);
  g_dbus_connection_close_sync (connection, NULL, NULL);
  g_test_dbus_down (bus);
}

/* Another user on a bus like the system bus: only as root, which can be someone else. */

#define NOBODY_UID 65534

/* A dbus-daemon whose default policy is the system bus's (method calls denied unless a
 * rule allows them, everyone may connect), with, if @policy_path is not NULL, that file
 * included as the system bus includes system.d. The test's user may own the relay's name
 * here (on a real system only wzp-relay may). Returns the bus's address. */
static char *
start_system_like_bus (const char   *policy_path,
                       GSubprocess **bus_out)
{
  g_autofree char *config = NULL;
  g_autofree char *include = policy_path != NULL
    ? g_strdup_printf ("  <include>%s</include>\n", policy_path) : g_strdup ("");
  g_autofree char *contents = g_strdup_printf (
    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
    "<busconfig>\n"
    "  <listen>unix:tmpdir=/tmp</listen>\n"
    "  <auth>EXTERNAL</auth>\n"
    "  <policy context=\"default\">\n"
    "    <allow user=\"*\"/>\n"
    "    <deny own=\"*\"/>\n"
    "    <deny send_type=\"method_call\"/>\n"
    "    <allow send_type=\"signal\"/>\n"
    "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
    "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
    "    <allow receive_type=\"method_call\"/>\n"
    "    <allow receive_type=\"method_return\"/>\n"
    "    <allow receive_type=\"error\"/>\n"
    "    <allow receive_type=\"signal\"/>\n"
    "    <allow send_destination=\"org.freedesktop.DBus\"/>\n"
    "    %s\n"
    "  </policy>\n"
    "  <policy user=\"root\"><allow own=\"" RELAY_BUS_NAME "\"/></policy>\n"
    "%s"
    "</busconfig>\n",
    /* Without the relay's policy: nothing but the relay itself stands in the way. */
    policy_path == NULL ? "<allow send_type=\"method_call\"/>" : "",
    include);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  char *address;

  config = write_file (policy_path != NULL ? "system-policy.conf" : "system-open.conf",
                       contents);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  /* A failed test must not leave the bus behind. */
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  *bus_out = g_subprocess_launcher_spawn (launcher, &error, "dbus-daemon", "--nofork",
                                          "--print-address=1", "--config-file", config, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (*bus_out));
  address = read_line (out);
  g_assert_nonnull (address);
  return address;
}

static void
become_nobody (gpointer user_data)
{
  if (setgroups (0, NULL) != 0 || setgid (NOBODY_UID) != 0 || setuid (NOBODY_UID) != 0)
    _exit (127);
}

/* Runs gdbus call as the user nobody; returns its exit status and its standard error. */
static int
gdbus_call_as_nobody (const char  *address,
                      const char  *method,
                      const char  *arg1,
                      const char  *arg2,
                      char       **err_out)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { "gdbus", "call", "--address", address, "--dest", RELAY_BUS_NAME,
                         "--object-path", RELAY_OBJECT_PATH, "--method", method, arg1, arg2,
                         NULL };

  g_subprocess_launcher_set_child_setup (launcher, become_nobody, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, store_result_cb, &result);
  wzp_test_wait_pointer ((gpointer *) &result, TIMEOUT_MS);
  g_subprocess_communicate_utf8_finish (process, result, NULL, err_out, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_test_message ("gdbus %s as nobody: status %d %s", method,
                  g_subprocess_get_exit_status (process), *err_out);
  return g_subprocess_get_exit_status (process);
}

static gboolean
can_be_nobody (void)
{
  g_autofree char *dbus_daemon = g_find_program_in_path ("dbus-daemon");
  g_autofree char *gdbus = g_find_program_in_path ("gdbus");

  if (getuid () != 0)
    {
      g_test_skip ("Needs root, to call as another user");
      return FALSE;
    }
  if (dbus_daemon == NULL || gdbus == NULL)
    {
      g_test_skip ("Needs dbus-daemon and gdbus");
      return FALSE;
    }
  return TRUE;
}

static GSubprocess *
spawn_system_relay (const char  *address,
                    GDataInputStream **out)
{
  g_autofree char *identity = g_build_filename (g_get_user_data_dir (), "relay.pem", NULL);
  const char * const argv[] = { "--dbus=system", "--listen", "127.0.0.1:0",
                                "--identity", identity, NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  GSubprocess *relay;

  relay = launch_relay_on_bus (G_SUBPROCESS_FLAGS_STDOUT_PIPE, address, TRUE, argv, &error);
  g_assert_no_error (error);
  *out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (relay));
  line = read_line (*out);
  g_assert_nonnull (line);
  return relay;
}

/* The installed bus policy: another user may read Peers and list calls, but may not call
 * AddPeer or RemovePeer; root may. */
static void
test_system_bus_policy (void)
{
  g_autofree char *policy = g_test_build_filename (G_TEST_BUILT, "..", "data", "relay",
                                                   "system", "org.wzp.Relay1.conf", NULL);
  g_autoptr(GSubprocess) bus = NULL;
  g_autoptr(GSubprocess) relay = NULL;
  g_autoptr(GDataInputStream) relay_out = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(WzpDBusRelay1) proxy = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  g_autofree char *owner = NULL;
  g_autofree char *err = NULL;
  const char *other = "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d";
  g_autofree char *other_uri = peer_uri (9, other);

  if (!can_be_nobody ())
    return;
  g_assert_true (g_file_test (policy, G_FILE_TEST_EXISTS));
  address = start_system_like_bus (policy, &bus);
  relay = spawn_system_relay (address, &relay_out);
  connection = g_dbus_connection_new_for_address_sync (
    address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
             G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &error);
  g_assert_no_error (error);
  owner = wait_for_name_owner (connection);

  g_assert_cmpint (gdbus_call_as_nobody (address, RELAY_BUS_NAME ".AddPeer", other_uri, NULL,
                                         &err), !=, 0);
  g_assert_nonnull (strstr (err, "org.freedesktop.DBus.Error.AccessDenied"));
  g_assert_nonnull (strstr (err, "AddPeer"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (gdbus_call_as_nobody (address, RELAY_BUS_NAME ".RemovePeer", other, NULL,
                                         &err), !=, 0);
  g_assert_nonnull (strstr (err, "org.freedesktop.DBus.Error.AccessDenied"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (gdbus_call_as_nobody (address, "org.freedesktop.DBus.Properties.Get",
                                         RELAY_BUS_NAME, "Peers", &err), ==, 0);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (gdbus_call_as_nobody (address, RELAY_BUS_NAME ".ListCalls", NULL, NULL,
                                         &err), ==, 0);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (gdbus_call_as_nobody (address, RELAY_BUS_NAME ".GetCounters", NULL, NULL,
                                         &err), ==, 0);

  /* Root may. */
  proxy = wzp_dbus_relay1_proxy_new_sync (connection, G_DBUS_PROXY_FLAGS_NONE, RELAY_BUS_NAME,
                                          RELAY_OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
  wzp_dbus_relay1_call_add_peer_sync (proxy, other_uri, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                      &error);
  g_assert_no_error (error);
  wzp_dbus_relay1_call_remove_peer_sync (proxy, other, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                         &error);
  g_assert_no_error (error);

  terminate (relay);
  g_dbus_connection_close_sync (connection, NULL, NULL);
  g_subprocess_send_signal (bus, SIGTERM);
  g_subprocess_wait (bus, NULL, NULL);
}

/* A local policy that lets everyone call everything: the relay still refuses AddPeer and
 * RemovePeer from a user who is neither root nor its own. */
static void
test_system_bus_uid_check (void)
{
  g_autoptr(GSubprocess) bus = NULL;
  g_autoptr(GSubprocess) relay = NULL;
  g_autoptr(GDataInputStream) relay_out = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  g_autofree char *owner = NULL;
  g_autofree char *err = NULL;
  const char *other = "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d";
  g_autofree char *other_uri = peer_uri (9, other);

  if (!can_be_nobody ())
    return;
  address = start_system_like_bus (NULL, &bus);
  relay = spawn_system_relay (address, &relay_out);
  connection = g_dbus_connection_new_for_address_sync (
    address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
             G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &error);
  g_assert_no_error (error);
  owner = wait_for_name_owner (connection);

  g_assert_cmpint (gdbus_call_as_nobody (address, RELAY_BUS_NAME ".AddPeer", other_uri, NULL,
                                         &err), !=, 0);
  g_assert_nonnull (strstr (err, "org.freedesktop.DBus.Error.AccessDenied"));
  g_assert_nonnull (strstr (err, "Only root and the relay's own user may change the relay's "
                                 "federation peers"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (gdbus_call_as_nobody (address, RELAY_BUS_NAME ".RemovePeer", other, NULL,
                                         &err), !=, 0);
  g_assert_nonnull (strstr (err, "Only root and the relay's own user"));
  g_clear_pointer (&err, g_free);
  /* Reading is for everyone. */
  g_assert_cmpint (gdbus_call_as_nobody (address, "org.freedesktop.DBus.Properties.Get",
                                         RELAY_BUS_NAME, "Peers", &err), ==, 0);

  terminate (relay);
  g_dbus_connection_close_sync (connection, NULL, NULL);
  g_subprocess_send_signal (bus, SIGTERM);
  g_subprocess_wait (bus, NULL, NULL);
}

/* The daemon's options */

static void
test_daemon_version (void)
{
  const char * const argv[] = { "--version", NULL };
  g_auto(RunResult) run = { 0, };
  g_autofree char *expected = g_strdup_printf ("wzp-relay %s\n", PACKAGE_VERSION);

  run_relay (&run, argv);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_cmpstr (run.out, ==, expected);
  g_assert_cmpstr (run.err, ==, "");
}

static void
test_daemon_help (void)
{
  const char * const argv[] = { "--help", NULL };
  g_auto(RunResult) run = { 0, };
  const char * const options[] = { "--listen", "--pipe-listen", "--peer", "--identity",
                                   "--config", "--dbus", "--replace", "--print-fingerprint",
                                   "--verbose", "--version", NULL };

  run_relay (&run, argv);
  g_assert_cmpint (run.status, ==, 0);
  for (guint i = 0; options[i] != NULL; i++)
    g_assert_nonnull (strstr (run.out, options[i]));
  /* How to federate two relays, for an operator who reads only --help. */
  g_assert_nonnull (strstr (run.out, "wzps://HOST:PORT#FINGERPRINT"));
  g_assert_nonnull (strstr (run.out, "lists this one too"));
}

static void
test_daemon_print_fingerprint (void)
{
  g_autofree char *path = g_build_filename (g_get_user_data_dir (), "keys", "relay.pem", NULL);
  const char * const argv[] = { "--print-fingerprint", "--identity", path, NULL };
  g_auto(RunResult) first = { 0, };
  g_auto(RunResult) second = { 0, };
  GStatBuf st;

  run_relay (&first, argv);
  g_assert_cmpint (first.status, ==, 0);
  g_assert_cmpstr (first.err, ==, "");
  g_strchomp (first.out);
  g_assert_true (wzp_fingerprint_is_valid (first.out));

  g_assert_no_errno (g_stat (path, &st));
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  run_relay (&second, argv);
  g_assert_cmpint (second.status, ==, 0);
  g_strchomp (second.out);
  g_assert_cmpstr (second.out, ==, first.out);
}

/* Without --identity, the key goes to $XDG_DATA_HOME/wzp/relay.pem. */
static void
test_daemon_default_identity (void)
{
  g_autofree char *path = g_build_filename (g_get_user_data_dir (), "wzp", "relay.pem", NULL);
  const char * const argv[] = { "--print-fingerprint", NULL };
  g_auto(RunResult) run = { 0, };
  GStatBuf st;

  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  run_relay (&run, argv);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_no_errno (g_stat (path, &st));
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
}

typedef struct
{
  const char *args[6];
  const char *expected;   /* in stderr, after "wzp-relay: " */
} BadCase;

static void
test_daemon_bad_options (void)
{
  const BadCase cases[] = {
    { { "--no-such-option", NULL }, "--no-such-option" },
    { { "--listen", NULL }, "--listen" },
    { { "surplus", NULL }, "surplus" },
    { { "--dbus=bus", NULL }, "“bus”" },
    { { "--replace", NULL }, "--dbus" },
    { { "--listen", "127.0.0.1:0", "--pipe-listen", "127.0.0.1:0", "--pipe-listen",
        "127.0.0.1:0" }, "one pipe address per listen address" },
    { { "--config", "/nonexistent/relay.conf", NULL }, "/nonexistent/relay.conf: " },
    { { "--peer", NULL }, "--peer" },
    { { "--peer", "relay.example.org:4433", NULL },
      "--peer: “relay.example.org:4433” is not a relay URI; use wzps://HOST:PORT#FINGERPRINT" },
    { { "--peer", "wzps://relay.example.org:4433#1a2b", NULL }, "is not a relay URI" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
      g_auto(GStrv) argv = NULL;
      g_auto(RunResult) run = { 0, };

      for (guint j = 0; j < G_N_ELEMENTS (cases[i].args) && cases[i].args[j] != NULL; j++)
        g_strv_builder_add (builder, cases[i].args[j]);
      argv = g_strv_builder_end (builder);

      g_test_message ("case %u: %s", i, cases[i].expected);
      run_relay (&run, (const char * const *) argv);
      g_assert_cmpint (run.status, ==, 1);
      g_assert_cmpstr (run.out, ==, "");
      g_assert_true (g_str_has_prefix (run.err, "wzp-relay: "));
      g_assert_nonnull (strstr (run.err, cases[i].expected));
    }
}

/* A peer the relay itself refuses (here: itself), from --peer and from the file: the
 * daemon stops at start and says where the peer came from. */
static void
test_daemon_bad_peer (void)
{
  g_autofree char *identity = g_build_filename (g_get_user_data_dir (), "relay.pem", NULL);
  g_autofree char *fingerprint = print_fingerprint (identity);
  g_autofree char *self_uri = g_strdup_printf ("wzps://127.0.0.1:4433#%s", fingerprint);
  g_autofree char *contents = g_strdup_printf ("[federation]\npeers=%s\n", self_uri);
  g_autofree char *config = write_file ("relay.conf", contents);
  g_autofree char *from_option = g_strdup_printf ("wzp-relay: --peer: “%s” ", self_uri);
  g_autofree char *from_file = g_strdup_printf ("wzp-relay: %s: [federation] peers: ", config);
  const char * const option_argv[] = { "--listen", "127.0.0.1:0", "--identity", identity,
                                       "--peer", self_uri, NULL };
  const char * const file_argv[] = { "--listen", "127.0.0.1:0", "--identity", identity,
                                     "--config", config, NULL };
  g_auto(RunResult) by_option = { 0, };
  g_auto(RunResult) by_file = { 0, };

  run_relay (&by_option, option_argv);
  g_assert_cmpint (by_option.status, ==, 1);
  g_assert_cmpstr (by_option.out, ==, "");
  g_assert_true (g_str_has_prefix (by_option.err, from_option));
  g_assert_nonnull (strstr (by_option.err, "itself"));

  run_relay (&by_file, file_argv);
  g_assert_cmpint (by_file.status, ==, 1);
  g_assert_cmpstr (by_file.out, ==, "");
  g_assert_true (g_str_has_prefix (by_file.err, from_file));
  g_assert_nonnull (strstr (by_file.err, "itself"));
}

static void
test_daemon_bad_listen (void)
{
  g_autofree char *identity = g_build_filename (g_get_user_data_dir (), "relay.pem", NULL);
  const char * const argv[] = { "--listen", "nowhere", "--identity", identity, NULL };
  g_auto(RunResult) run = { 0, };

  run_relay (&run, argv);
  g_assert_cmpint (run.status, ==, 1);
  g_assert_cmpstr (run.out, ==, "");
  g_assert_true (g_str_has_prefix (run.err, "wzp-relay: "));
  g_assert_nonnull (strstr (run.err, "nowhere"));
}

typedef struct
{
  const char *contents;
  const char *expected;   /* in stderr, after "wzp-relay: PATH: " */
} ConfigCase;

static void
test_daemon_bad_config (void)
{
  const ConfigCase cases[] = {
    { "[limits]\nring-timeout=abc\n", "[limits] ring-timeout: “abc” is not a number" },
    { "[limits]\nring-timeout=-1\n", "[limits] ring-timeout: “-1” is not a number" },
    { "[limits]\nmax-frame-size=70000\n", "[limits] max-frame-size: “70000” is out of range" },
    { "[limits]\nmax-frame-size=100\n", "[limits] max-frame-size: “100” is out of range" },
    { "[limits]\nring-timout=5\n",
      "[limits] ring-timout: unknown key; did you mean “ring-timeout”?" },
    { "[limits]\nbananas=5\n", "[limits] bananas: unknown key; the keys are: " },
    /* A key as far from a name in length as a suggestion may be is still compared (the
     * names further off are skipped: edit distances cost the product of the lengths). */
    { "[limits]\nring-timeoutxyz=5\n",
      "[limits] ring-timeoutxyz: unknown key; did you mean “ring-timeout”?" },
    { "[limits]\nn-calls=3\n", "[limits] n-calls: the relay reports this" },
    { "[limits]\nidentity=x\n", "[limits] identity: this key belongs in [relay]" },
    { "[limits]\nlisten=127.0.0.1:0\n", "[limits] listen: this key belongs in [relay]" },
    { "[relays]\nlisten=127.0.0.1:0\n", "unknown group [relays]" },
    { "[relay]\nlisten=\n", "[relay] listen: the list is empty" },
    { "[relay]\nlisten=nowhere\n", "[relay] listen: “nowhere” is not a listen address" },
    { "[relay]\nlisten=127.0.0.1:0;127.0.0.1:0\npipe-listen=127.0.0.1:0\n",
      "[relay] pipe-listen: give one pipe address per listen address" },
    { "[relay]\nallowed-fingerprints=1a2b\n", "[relay] allowed-fingerprints: “1a2b” is not a "
      "fingerprint" },
    { "[relay]\nreflectors=relay.example.org:4433\n", "[relay] reflectors: "
      "“relay.example.org:4433” is not a relay URI" },
    { "[relay]\nallowed-fingerprints=1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d\n"
      "reflectors=wzps://relay.example.org:4433#1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d\n"
      "[limits]\nbogus=1\n", "[limits] bogus: unknown key" },
    { "not a key file\n", "not a key-value pair" },
    { "[federation]\npeers=relay.example.org:4433\n",
      "[federation] peers: “relay.example.org:4433” is not a relay URI" },
    { "[federation]\npeers=wzps://a.example.org:4433#1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d;"
      "wzps://b.example.org:4433#1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d\n",
      "[federation] peers: the relay 1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d is listed twice" },
    { "[federation]\npeer=wzps://a.example.org:4433#1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d\n",
      "[federation] peer: unknown key; did you mean “peers”?" },
    { "[relay]\npeers=wzps://a.example.org:4433#1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d\n",
      "[relay] peers: this key belongs in [federation]" },
    { "[peers]\npeers=\n", "unknown group [peers]; the groups are [relay], [limits] and "
      "[federation]" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = write_file ("relay.conf", cases[i].contents);
      g_autofree char *identity = g_build_filename (g_get_user_data_dir (), "relay.pem", NULL);
      g_autofree char *prefix = g_strdup_printf ("wzp-relay: %s: ", path);
      const char * const argv[] = { "--config", path, "--identity", identity, NULL };
      g_auto(RunResult) run = { 0, };

      g_test_message ("case %u: %s", i, cases[i].expected);
      run_relay (&run, argv);
      g_assert_cmpint (run.status, ==, 1);
      g_assert_cmpstr (run.out, ==, "");
      g_assert_true (g_str_has_prefix (run.err, prefix));
      g_assert_nonnull (strstr (run.err, cases[i].expected));
    }
}

/* Starts the daemon with @args, reads @n URI lines, checks nothing else is printed
 * before the daemon stops, and returns the URIs. */
static GStrv
start_and_read_uris (const char * const *args,
                     guint               n)
{
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GStrvBuilder) uris = g_strv_builder_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *rest = NULL;

  process = launch_relay (G_SUBPROCESS_FLAGS_STDOUT_PIPE, args, &error);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *line = read_line (out);

      g_assert_nonnull (line);
      g_strv_builder_add (uris, line);
    }

  terminate (process);
  rest = read_line (out);
  g_assert_null (rest);
  return g_strv_builder_end (uris);
}

/* --listen twice: two URIs, two ports, one fingerprint; --verbose does not reach stdout. */
static void
test_daemon_two_listen (void)
{
  g_autofree char *identity = g_build_filename (g_get_user_data_dir (), "relay.pem", NULL);
  const char * const argv[] = { "--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0",
                                "--identity", identity, "--verbose", NULL };
  g_auto(GStrv) uris = start_and_read_uris (argv, 2);
  g_autofree char *address0 = NULL, *address1 = NULL, *fp0 = NULL, *fp1 = NULL;

  parse_uri (uris[0], &address0, &fp0);
  parse_uri (uris[1], &address1, &fp1);
  g_assert_cmpstr (address0, !=, address1);
  g_assert_cmpstr (fp0, ==, fp1);
  g_assert_true (g_str_has_prefix (address0, "127.0.0.1:"));
  g_assert_true (g_str_has_prefix (address1, "127.0.0.1:"));
}

/* [relay] listen in the file; --listen on the command line wins over it. */
static void
test_daemon_config_listen (void)
{
  g_autofree char *path = write_file ("relay.conf",
                                      "[relay]\n"
                                      "listen=127.0.0.1:0; 127.0.0.1:0\n");
  g_autofree char *identity = g_build_filename (g_get_user_data_dir (), "relay.pem", NULL);
  const char * const from_file[] = { "--config", path, "--identity", identity, NULL };
  const char * const overridden[] = { "--config", path, "--identity", identity,
                                      "--listen", "127.0.0.1:0", NULL };
  g_auto(GStrv) two = start_and_read_uris (from_file, 2);
  g_auto(GStrv) one = start_and_read_uris (overridden, 1);

  g_assert_cmpstr (two[0], !=, two[1]);
  g_assert_cmpuint (g_strv_length (one), ==, 1);
}

/* Without --config, $XDG_CONFIG_HOME/wzp/relay.conf is read when it exists. */
static void
test_daemon_default_config (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_config_dir (), "wzp", NULL);
  g_autofree char *path = g_build_filename (dir, "relay.conf", NULL);
  g_autofree char *identity = g_build_filename (g_get_user_data_dir (), "relay.pem", NULL);
  g_autofree char *prefix = g_strdup_printf ("wzp-relay: %s: [limits] grace-period: ", path);
  const char * const argv[] = { "--listen", "127.0.0.1:0", "--identity", identity, NULL };
  g_autoptr(GError) error = NULL;
  g_auto(RunResult) run = { 0, };

  g_assert_no_errno (g_mkdir_with_parents (dir, 0700));
  g_file_set_contents (path, "[limits]\ngrace-period=soon\n", -1, &error);
  g_assert_no_error (error);

  run_relay (&run, argv);
  g_assert_cmpint (run.status, ==, 1);
  g_assert_true (g_str_has_prefix (run.err, prefix));
}

/* A key that only an earlier relay used (pipe-forwarding, docs/relay.md) is ignored with
 * a warning that names the file, the group and the key; the relay starts. */
static void
test_daemon_retired_key (void)
{
  const char * const files[] = {
    "[relay]\npipe-forwarding=splice\n",
    "[relay]\npipe-forwarding=copy\n",
    "[limits]\npipe-forwarding=splice\nring-timeout=30\n",
  };
  const char * const groups[] = { "relay", "relay", "limits" };
  g_autofree char *identity = g_build_filename (g_get_user_data_dir (), "relay.pem", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = write_file ("relay.conf", files[i]);
      const char * const argv[] = { "--config", path, "--identity", identity,
                                    "--listen", "127.0.0.1:0", NULL };
      g_autofree char *expected = g_strdup_printf ("wzp-relay: warning: %s: [%s] "
                                                   "pipe-forwarding: no longer used",
                                                   path, groups[i]);
      g_autoptr(GSubprocess) process = NULL;
      g_autoptr(GDataInputStream) out = NULL;
      g_autoptr(GDataInputStream) err = NULL;
      g_autoptr(GString) said = g_string_new (NULL);
      g_autoptr(GError) error = NULL;
      g_autofree char *uri = NULL;
      char *line;

      process = launch_relay (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                              argv, &error);
      g_assert_no_error (error);
      out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
      err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (process));
      uri = read_line (out);
      g_assert_nonnull (uri);
      g_assert_true (g_str_has_prefix (uri, "wzps://127.0.0.1:"));
      terminate (process);
      while ((line = read_line (err)) != NULL)
        {
          g_string_append_printf (said, "%s\n", line);
          g_free (line);
        }
      g_test_message ("wzp-relay said: %s", said->str);
      g_assert_nonnull (strstr (said->str, expected));
    }
}

/* The shipped example documents every configurable relay property, and with every key
 * uncommented at its documented default the daemon accepts it. */
static void
test_daemon_example_config (void)
{
  g_autofree char *example_path = g_test_build_filename (G_TEST_DIST, "..", "data",
                                                         "wzp-relay.conf.example", NULL);
  g_autofree char *example = NULL;
  g_autoptr(GString) uncommented = g_string_new (NULL);
  g_autoptr(GRegex) key_line = NULL;
  g_autoptr(GTypeClass) klass = g_type_class_ref (WZP_TYPE_RELAY);
  g_autofree GParamSpec **pspecs = NULL;
  g_autofree char *path = NULL;
  g_autofree char *identity = g_build_filename (g_get_user_data_dir (), "relay.pem", NULL);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) uris = NULL;
  guint n_pspecs;

  g_file_get_contents (example_path, &example, NULL, &error);
  g_assert_no_error (error);

  pspecs = g_object_class_list_properties (G_OBJECT_CLASS (klass), &n_pspecs);
  for (guint i = 0; i < n_pspecs; i++)
    {
      g_autofree char *line = NULL;

      if ((pspecs[i]->flags & G_PARAM_WRITABLE) == 0 ||
          (pspecs[i]->flags & G_PARAM_CONSTRUCT_ONLY) != 0)
        continue;
      line = g_strdup_printf ("\n#%s=", pspecs[i]->name);
      if (strstr (example, line) == NULL)
        g_error ("wzp-relay.conf.example does not document “%s”", pspecs[i]->name);

      /* A numeric limit's documented default is the property's default. */
      if (G_IS_PARAM_SPEC_UINT (pspecs[i]))
        {
          g_autofree char *with_default =
            g_strdup_printf ("\n#%s=%u\n", pspecs[i]->name,
                             G_PARAM_SPEC_UINT (pspecs[i])->default_value);

          if (strstr (example, with_default) == NULL)
            g_error ("wzp-relay.conf.example gives “%s” another default than %u",
                     pspecs[i]->name, G_PARAM_SPEC_UINT (pspecs[i])->default_value);
        }
      /* So is a choice's (by its nick, as the key file takes it). */
      if (G_IS_PARAM_SPEC_ENUM (pspecs[i]))
        {
          GParamSpecEnum *spec = G_PARAM_SPEC_ENUM (pspecs[i]);
          GEnumValue *value = g_enum_get_value (spec->enum_class, spec->default_value);
          g_autofree char *with_default =
            g_strdup_printf ("\n#%s=%s\n", pspecs[i]->name, value->value_nick);

          if (strstr (example, with_default) == NULL)
            g_error ("wzp-relay.conf.example gives “%s” another default than %s",
                     pspecs[i]->name, value->value_nick);
        }
    }

  /* Uncomment every key (the documentation lines have a space after the #). */
  key_line = g_regex_new ("^#([a-z-]+=)", 0, 0, &error);
  g_assert_no_error (error);
  lines = g_strsplit (example, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *line = g_regex_replace (key_line, lines[i], -1, 0, "\\1", 0, &error);

      g_assert_no_error (error);
      g_string_append_printf (uncommented, "%s\n", line);
    }
  path = write_file ("relay.conf", uncommented->str);

  /* The command line wins over the file's [::]:4433 and [::]:4434. */
  {
    const char * const argv[] = { "--config", path, "--identity", identity,
                                  "--listen", "127.0.0.1:0", "--pipe-listen", "127.0.0.1:0",
                                  NULL };

    uris = start_and_read_uris (argv, 1);
    g_assert_true (g_str_has_prefix (uris[0], "wzps://127.0.0.1:"));
  }
}

/* A named pipe given as the configuration (or put in its place) is an error at once, not
 * a daemon that never starts: opening it would wait for a writer. run_relay() fails the
 * test after TIMEOUT_MS. */
static void
test_daemon_config_fifo (void)
{
  g_autofree char *config = g_build_filename (g_get_user_data_dir (), "relay.conf", NULL);
  g_autofree char *identity = g_build_filename (g_get_user_data_dir (), "relay.pem", NULL);
  const char * const argv[] = { "--print-fingerprint", "--config", config,
                                "--identity", identity, NULL };
  g_auto(RunResult) run = { 0, };

  g_assert_no_errno (g_mkdir_with_parents (g_get_user_data_dir (), 0700));
  g_assert_no_errno (mkfifo (config, 0600));
  run_relay (&run, argv);
  g_assert_cmpint (run.status, ==, 1);
  g_assert_true (g_str_has_prefix (run.err, "wzp-relay: "));
  g_assert_nonnull (strstr (run.err, config));
  g_assert_nonnull (strstr (run.err, "named pipe (FIFO)"));
}

/* A configuration far larger than any is not read into memory; one reached through a
 * link, as configuration management makes them, is read. */
static void
test_daemon_config_size_and_link (void)
{
  g_autoptr(GString) big = g_string_new ("[relay]\n");
  g_autofree char *identity = g_build_filename (g_get_user_data_dir (), "relay.pem", NULL);
  g_autofree char *config = NULL;
  g_autofree char *small = write_file ("small.conf", "[relay]\n");
  g_autofree char *link = g_build_filename (g_get_user_data_dir (), "linked.conf", NULL);
  g_auto(RunResult) run = { 0, };
  g_auto(RunResult) linked = { 0, };

  while (big->len <= 1024 * 1024)
    g_string_append (big, "# a comment, and another, and another, and another one\n");
  config = write_file ("big.conf", big->str);
  {
    const char * const argv[] = { "--print-fingerprint", "--config", config,
                                  "--identity", identity, NULL };

    run_relay (&run, argv);
  }
  g_assert_cmpint (run.status, ==, 1);
  g_assert_nonnull (strstr (run.err, config));
  g_assert_nonnull (strstr (run.err, "too large"));

  g_assert_no_errno (symlink (small, link));
  {
    const char * const argv[] = { "--print-fingerprint", "--config", link,
                                  "--identity", identity, NULL };

    run_relay (&linked, argv);
  }
  g_assert_cmpint (linked.status, ==, 0);
  g_assert_cmpstr (linked.err, ==, "");
}

/* The relay's identity is read as the library reads every key: a link is refused. */
static void
test_daemon_identity_symlink (void)
{
  g_autofree char *path = g_build_filename (g_get_user_data_dir (), "keys", "relay.pem", NULL);
  g_autofree char *link = g_build_filename (g_get_user_data_dir (), "keys", "link.pem", NULL);
  g_autofree char *fingerprint = print_fingerprint (path);
  const char * const argv[] = { "--print-fingerprint", "--identity", link, NULL };
  g_auto(RunResult) run = { 0, };

  g_assert_no_errno (symlink (path, link));
  run_relay (&run, argv);
  g_assert_cmpint (run.status, ==, 1);
  g_assert_cmpstr (run.out, ==, "");
  g_assert_nonnull (strstr (run.err, "symbolic link"));
}

/* $XDG_DATA_HOME/wzp, where the relay keeps its key by default, is made 0700 again at
 * start if others were given access to it. */
static void
test_daemon_data_dir_mode (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "wzp", NULL);
  const char * const argv[] = { "--print-fingerprint", NULL };
  g_auto(RunResult) run = { 0, };
  GStatBuf st;

  g_assert_no_errno (g_mkdir_with_parents (dir, 0700));
  g_assert_no_errno (g_chmod (dir, 0755));
  run_relay (&run, argv);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_no_errno (g_stat (dir, &st));
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/wzp/relay-daemon/version", test_daemon_version);
  g_test_add_func ("/wzp/relay-daemon/help", test_daemon_help);
  g_test_add_func ("/wzp/relay-daemon/print-fingerprint", test_daemon_print_fingerprint);
  g_test_add_func ("/wzp/relay-daemon/default-identity", test_daemon_default_identity);
  g_test_add_func ("/wzp/relay-daemon/bad-options", test_daemon_bad_options);
  g_test_add_func ("/wzp/relay-daemon/bad-listen", test_daemon_bad_listen);
  g_test_add_func ("/wzp/relay-daemon/bad-peer", test_daemon_bad_peer);
  g_test_add_func ("/wzp/relay-daemon/bad-config", test_daemon_bad_config);
  g_test_add_func ("/wzp/relay-daemon/config-fifo", test_daemon_config_fifo);
  g_test_add_func ("/wzp/relay-daemon/config-size-and-link", test_daemon_config_size_and_link);
  g_test_add_func ("/wzp/relay-daemon/identity-symlink", test_daemon_identity_symlink);
  g_test_add_func ("/wzp/relay-daemon/data-dir-mode", test_daemon_data_dir_mode);
  g_test_add_func ("/wzp/relay-daemon/two-listen", test_daemon_two_listen);
  g_test_add_func ("/wzp/relay-daemon/config-listen", test_daemon_config_listen);
  g_test_add_func ("/wzp/relay-daemon/default-config", test_daemon_default_config);
  g_test_add_func ("/wzp/relay-daemon/example-config", test_daemon_example_config);
  g_test_add_func ("/wzp/relay-daemon/retired-key", test_daemon_retired_key);
  g_test_add_func ("/wzp/relay-daemon/counters-at-shutdown", test_daemon_counters_at_shutdown);

  g_test_add ("/wzp/relay-dbus/properties", BusFixture, NULL,
              bus_fixture_setup, test_bus_properties, bus_fixture_teardown);
  g_test_add ("/wzp/relay-dbus/introspection", BusFixture, NULL,
              bus_fixture_setup, test_bus_introspection, bus_fixture_teardown);
  g_test_add ("/wzp/relay-dbus/sigterm", BusFixture, NULL,
              bus_fixture_setup, test_bus_sigterm, bus_fixture_teardown);
  g_test_add ("/wzp/relay-dbus/registrations-and-calls", BusFixture, NULL,
              bus_fixture_setup, test_bus_registrations_and_calls, bus_fixture_teardown);
  g_test_add ("/wzp/relay-dbus/shutdown-ends-calls", BusFixture, NULL,
              bus_fixture_setup, test_bus_shutdown_ends_calls, bus_fixture_teardown);
  g_test_add ("/wzp/relay-dbus/counters", BusFixture, "max-registrations-per-ip=2",
              bus_fixture_setup, test_bus_counters, bus_fixture_teardown);
  g_test_add ("/wzp/relay-dbus/replace", BusFixture, NULL,
              bus_fixture_setup, test_bus_replace, bus_fixture_teardown);
  g_test_add ("/wzp/relay-dbus/debug-controller", BusFixture, NULL,
              bus_fixture_setup, test_bus_debug_controller, bus_fixture_teardown);
  g_test_add ("/wzp/relay-dbus/peer-errors", BusFixture, NULL,
              bus_fixture_setup, test_bus_peer_errors, bus_fixture_teardown);
  g_test_add ("/wzp/relay-dbus/peer-unreachable", BusFixture, NULL,
              bus_fixture_setup, test_bus_peer_unreachable, bus_fixture_teardown);
  g_test_add ("/wzp/relay-dbus/federation/peer-option", FedFixture, NULL,
              fed_fixture_setup, test_federation_peer_option, fed_fixture_teardown);
  g_test_add ("/wzp/relay-dbus/federation/add-peer", FedFixture, NULL,
              fed_fixture_setup, test_federation_add_peer, fed_fixture_teardown);
  g_test_add ("/wzp/relay-dbus/federation/config", FedFixture, NULL,
              fed_fixture_setup, test_federation_config, fed_fixture_teardown);
  g_test_add_func ("/wzp/relay-dbus/system-bus-peers", test_system_bus_peers);
  g_test_add_func ("/wzp/relay-dbus/system-bus-policy", test_system_bus_policy);
  g_test_add_func ("/wzp/relay-dbus/system-bus-uid-check", test_system_bus_uid_check);

  return g_test_run ();
}
