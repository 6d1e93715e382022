/* bench-daemon.c: wzp-relay daemons for the benchmarks (see bench-daemon.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <signal.h>
#include <sys/prctl.h>

#include <glib/gstdio.h>

#include "bench-daemon.h"

gboolean
bench_relay_init (BenchRelay  *relay,
                  const char  *bin,
                  const char  *dir,
                  const char  *name,
                  GError     **error)
{
  g_autofree char *file = g_strdup_printf ("relay-%s.pem", name);
  g_autofree char *log = g_strdup_printf ("relay-%s.log", name);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  relay->name = name;
  relay->identity = g_build_filename (dir, file, NULL);
  relay->log = g_build_filename (dir, log, NULL);
  {
    const char *argv[] = { bin, "--print-fingerprint", "--identity", relay->identity, NULL };

    if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                       &status, error) ||
        !g_spawn_check_wait_status (status, error))
      {
        g_prefix_error (error, "%s --print-fingerprint: %s: ", bin, err != NULL ? err : "");
        return FALSE;
      }
  }
  relay->fingerprint = g_strstrip (g_steal_pointer (&out));
  return TRUE;
}

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts @relay on its port. FALSE if the daemon exits instead (the port was taken). */
static gboolean
relay_start (BenchRelay  *relay,
             const char  *bin,
             const char  *config,
             GError     **error)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", relay->port);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *line = NULL;

  g_ptr_array_add (argv, g_strdup (bin));
  g_ptr_array_add (argv, g_strdup ("--listen"));
  g_ptr_array_add (argv, g_strdup (listen));
  g_ptr_array_add (argv, g_strdup ("--pipe-listen"));
  g_ptr_array_add (argv, g_strdup ("127.0.0.1:0"));
  g_ptr_array_add (argv, g_strdup ("--identity"));
  g_ptr_array_add (argv, g_strdup (relay->identity));
  g_ptr_array_add (argv, g_strdup ("--config"));
  g_ptr_array_add (argv, g_strdup (config));
  for (guint i = 0; i < G_N_ELEMENTS (relay->peers) && relay->peers[i] != NULL; i++)
    {
      g_ptr_array_add (argv, g_strdup ("--peer"));
      g_ptr_array_add (argv, g_strdup_printf ("wzps://127.0.0.1:%u#%s", relay->peers[i]->port,
                                              relay->peers[i]->fingerprint));
    }
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  /* The relays log every call: to files, read when something fails. */
  g_subprocess_launcher_set_stderr_file_path (launcher, relay->log);
  relay->process = g_subprocess_launcher_spawnv (launcher,
                                                 (const char * const *) argv->pdata, error);
  if (relay->process == NULL)
    return FALSE;
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (relay->process));
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, NULL);
  if (line == NULL || !g_str_has_prefix (line, "wzps://"))
    {
      g_subprocess_wait (relay->process, NULL, NULL);
      g_clear_object (&relay->process);
      return FALSE;
    }
  g_free (relay->address);
  g_free (relay->uri);
  relay->address = g_strdup (listen);
  relay->uri = g_strdup_printf ("wzps://%s#%s", listen, relay->fingerprint);
  return TRUE;
}

gboolean
bench_relays_start (BenchRelay **relays,
                    guint        n,
                    const char  *bin,
                    const char  *config,
                    GError     **error)
{
  for (guint attempt = 0; attempt < 20; attempt++)
    {
      guint base = g_random_int_range (20000, 30000);
      guint started = 0;

      for (guint i = 0; i < n; i++)
        relays[i]->port = base + 2 * i;
      while (started < n && relay_start (relays[started], bin, config, error))
        started++;
      if (started == n)
        return TRUE;
      if (error != NULL && *error != NULL)
        return FALSE;   /* could not run it at all */
      while (started > 0)
        bench_relay_stop (relays[--started]);
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
               "could not start %u relays on free ports (see %s)", n, relays[0]->log);
  return FALSE;
}

pid_t
bench_relay_pid (BenchRelay *relay)
{
  const char *id = relay->process != NULL ? g_subprocess_get_identifier (relay->process) : NULL;

  return id != NULL ? (pid_t) g_ascii_strtoll (id, NULL, 10) : 0;
}

gboolean
bench_relay_alive (BenchRelay *relay)
{
  return relay->process != NULL && g_subprocess_get_identifier (relay->process) != NULL;
}

int
bench_relay_stop (BenchRelay *relay)
{
  int status;

  if (relay->process == NULL)
    return -1;
  g_subprocess_send_signal (relay->process, SIGTERM);
  g_subprocess_wait (relay->process, NULL, NULL);
  status = g_subprocess_get_status (relay->process);
  g_clear_object (&relay->process);
  return status;
}

void
bench_relay_clear (BenchRelay *relay)
{
  bench_relay_stop (relay);
  if (relay->identity != NULL)
    g_remove (relay->identity);
  if (relay->log != NULL)
    g_remove (relay->log);
  g_clear_pointer (&relay->identity, g_free);
  g_clear_pointer (&relay->log, g_free);
  g_clear_pointer (&relay->fingerprint, g_free);
  g_clear_pointer (&relay->address, g_free);
  g_clear_pointer (&relay->uri, g_free);
}
