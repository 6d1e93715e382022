/* pulse-daemon.c: a PulseAudio of the test's own, with no sound card
 *
 * `pulseaudio` runs with no configuration (-n), only its native socket, in a temporary
 * folder of its own (its XDG_RUNTIME_DIR and HOME), and this process is pointed at it with
 * PULSE_SERVER and PULSE_COOKIE. The daemon runs under a small shell that removes the
 * folder when the daemon ends, and that the test's death (an assertion, a timeout) ends
 * too (PR_SET_PDEATHSIG), so nothing is left behind on any path.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <signal.h>
#include <sys/prctl.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "pulse-daemon.h"
#include "test-util.h"

/* How long the daemon or a pactl command may take. */
#define WAIT_MS 10000

struct _WzpTestPulse
{
  char        *dir;        /* the daemon's folder, removed when it ends */
  GSubprocess *daemon;     /* the shell that runs it */
};

/* Runs the daemon ("$@"); when it ends, or when this shell is told to end (SIGTERM: the
 * test's teardown, or the test's death through PR_SET_PDEATHSIG), ends it and removes
 * its folder ($1). */
static const char daemon_script[] =
  "dir=$1; shift\n"
  "cleanup () { kill \"$pid\" 2>/dev/null; wait \"$pid\"; rm -rf \"$dir\"; exit 0; }\n"
  "\"$@\" & pid=$!\n"
  "trap cleanup TERM INT HUP\n"
  "wait \"$pid\"\n"
  "cleanup\n";

/* In the shell: the test's death ends it. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

typedef struct
{
  GSubprocess *process;
  gboolean     done;
  char        *output;
} Run;

static void
communicated_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Run *run = user_data;

  g_subprocess_communicate_utf8_finish (run->process, result, &run->output, NULL, NULL);
  run->done = TRUE;
}

/* Runs `pactl ARGS…` against the test's daemon, bounded in time; its output, or NULL
 * when it failed. */
char *
wzp_test_pulse_pactl (const char *first,
                      ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  Run run = { 0 };
  va_list args;

  g_ptr_array_add (argv, (gpointer) "pactl");
  va_start (args, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  run.process = g_subprocess_newv ((const char * const *) argv->pdata,
                                   G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                   G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (run.process, NULL, NULL, communicated_cb, &run);
  wzp_test_wait_flag (&run.done, WAIT_MS);
  if (!g_subprocess_get_successful (run.process))
    g_clear_pointer (&run.output, g_free);
  g_object_unref (run.process);
  return run.output;
}

/* Loads a null sink named @name (shown as @description): an output, and its monitor as a
 * source. Its module's index. */
guint
wzp_test_pulse_load_null_sink (const char *name,
                               const char *description)
{
  g_autofree char *sink_name = g_strdup_printf ("sink_name=%s", name);
  g_autofree char *properties = g_strdup_printf ("sink_properties=device.description=%s",
                                                 description);
  g_autofree char *index = wzp_test_pulse_pactl ("load-module", "module-null-sink", sink_name,
                                                 properties, NULL);
  guint64 module = 0;

  g_assert_nonnull (index);
  g_assert_true (g_ascii_string_to_unsigned (g_strstrip (index), 10, 0, G_MAXUINT32,
                                             &module, NULL));
  return module;
}

void
wzp_test_pulse_unload_module (guint module)
{
  g_autofree char *index = g_strdup_printf ("%u", module);
  g_autofree char *output = wzp_test_pulse_pactl ("unload-module", index, NULL);

  g_assert_nonnull (output);
}

static gboolean
daemon_answers (void)
{
  g_autofree char *info = NULL;

  for (guint waited = 0; waited < WAIT_MS; waited += 50)
    {
      info = wzp_test_pulse_pactl ("info", NULL);
      if (info != NULL)
        return TRUE;
      wzp_test_spin (50);
    }
  return FALSE;
}

/* Starts the daemon, with no sinks yet; NULL, and in @skipped why, when it cannot run
 * here (the pulseaudio and pactl programs are missing). */
WzpTestPulse *
wzp_test_pulse_start (char **skipped)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *pulseaudio = g_find_program_in_path ("pulseaudio");
  g_autofree char *pactl_path = g_find_program_in_path ("pactl");
  g_autofree char *runtime = NULL;
  g_autofree char *home = NULL;
  g_autofree char *socket = NULL;
  g_autofree char *server = NULL;
  g_autofree char *protocol = NULL;
  g_autofree char *cookie = NULL;
  WzpTestPulse *pulse;

  if (pulseaudio == NULL || pactl_path == NULL)
    {
      *skipped = g_strdup ("needs the pulseaudio and pactl programs (packages "
                           "pulseaudio, pulseaudio-utils)");
      return NULL;
    }

  pulse = g_new0 (WzpTestPulse, 1);
  pulse->dir = g_dir_make_tmp ("wzp-test-audio-XXXXXX", &error);
  g_assert_no_error (error);
  runtime = g_build_filename (pulse->dir, "runtime", NULL);
  home = g_build_filename (pulse->dir, "home", NULL);
  socket = g_build_filename (pulse->dir, "native", NULL);
  g_assert_cmpint (g_mkdir (runtime, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (home, 0700), ==, 0);
  server = g_strdup_printf ("unix:%s", socket);
  cookie = g_build_filename (pulse->dir, "cookie", NULL);
  protocol = g_strdup_printf ("module-native-protocol-unix socket=%s auth-anonymous=1",
                              socket);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                        G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", runtime, TRUE);
  g_subprocess_launcher_setenv (launcher, "HOME", home, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "DBUS_SESSION_BUS_ADDRESS");
  g_subprocess_launcher_unsetenv (launcher, "DISPLAY");
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  pulse->daemon = g_subprocess_launcher_spawn (launcher, &error, "/bin/sh", "-c",
                                               daemon_script, "sh", pulse->dir, pulseaudio,
                                               "--daemonize=no", "-n", "--use-pid-file=no",
                                               "--exit-idle-time=-1", "--disallow-exit",
                                               "--log-target=stderr", "--load", protocol,
                                               NULL);
  g_assert_no_error (error);

  /* This process (GStreamer's elements, pactl) talks to that daemon only, and keeps its
   * client cookie in the folder, not in the user's home. */
  g_setenv ("PULSE_SERVER", server, TRUE);
  g_setenv ("PULSE_COOKIE", cookie, TRUE);
  g_assert_true (daemon_answers ());
  return pulse;
}

static void
waited_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) user_data = TRUE;
}

/* Ends the daemon; its folder is gone when this returns. */
void
wzp_test_pulse_stop (WzpTestPulse *pulse)
{
  gboolean ended = FALSE;

  g_unsetenv ("PULSE_SERVER");
  g_unsetenv ("PULSE_COOKIE");
  if (pulse == NULL)
    return;
  /* the shell ends the daemon and removes the folder */
  g_subprocess_send_signal (pulse->daemon, SIGTERM);
  g_subprocess_wait_async (pulse->daemon, NULL, waited_cb, &ended);
  wzp_test_wait_flag (&ended, WAIT_MS);
  g_clear_object (&pulse->daemon);
  g_assert_false (g_file_test (pulse->dir, G_FILE_TEST_EXISTS));
  g_free (pulse->dir);
  g_free (pulse);
}
