/* test-relay-dbus.c: the wzp-relay daemon as a subprocess: its options, its
 * configuration file, and its org.wzp.Relay1 service on a private bus
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/stat.h>

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

/* Starts the daemon with @argv (after the program name). */
static GSubprocess *
launch_relay (GSubprocessFlags     flags,
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
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_ptr_array_add (full, (gpointer) relay_bin ());
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (full, (gpointer) argv[i]);
  g_ptr_array_add (full, NULL);
  return g_subprocess_launcher_spawnv (launcher, (const char * const *) full->pdata, error);
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
                              &f->fingerprint, NULL);

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
  g_assert_nonnull (g_dbus_interface_info_lookup_signal (info, "CallStarted"));
  g_assert_nonnull (g_dbus_interface_info_lookup_signal (info, "CallEnded"));
  g_assert_nonnull (g_dbus_interface_info_lookup_property (info, "Fingerprint"));
  g_assert_nonnull (g_dbus_interface_info_lookup_property (info, "ListenAddresses"));
  g_assert_nonnull (g_dbus_interface_info_lookup_property (info, "Registrations"));
  g_assert_nonnull (g_dbus_interface_info_lookup_property (info, "ActiveCalls"));
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
  const char * const options[] = { "--listen", "--pipe-listen", "--identity", "--config",
                                   "--dbus", "--replace", "--print-fingerprint", "--verbose",
                                   "--version", NULL };

  run_relay (&run, argv);
  g_assert_cmpint (run.status, ==, 0);
  for (guint i = 0; options[i] != NULL; i++)
    g_assert_nonnull (strstr (run.out, options[i]));
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
  g_test_add_func ("/wzp/relay-daemon/bad-config", test_daemon_bad_config);
  g_test_add_func ("/wzp/relay-daemon/two-listen", test_daemon_two_listen);
  g_test_add_func ("/wzp/relay-daemon/config-listen", test_daemon_config_listen);
  g_test_add_func ("/wzp/relay-daemon/default-config", test_daemon_default_config);
  g_test_add_func ("/wzp/relay-daemon/example-config", test_daemon_example_config);

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
  g_test_add ("/wzp/relay-dbus/replace", BusFixture, NULL,
              bus_fixture_setup, test_bus_replace, bus_fixture_teardown);
  g_test_add ("/wzp/relay-dbus/debug-controller", BusFixture, NULL,
              bus_fixture_setup, test_bus_debug_controller, bus_fixture_teardown);

  return g_test_run ();
}
