/* test-candidates-netns.c: host candidates from real interfaces, with real IPv6 address
 * flags, in a temporary network namespace
 *
 * Builds a namespace "wzp-cand-<pid>" with dummy (or ifb) and veth interfaces: private,
 * CGNAT, public and link-local IPv4; a kernel-made temporary IPv6 next to its stable
 * template; a deprecated (preferred_lft 0), a tentative (slow DAD) and a DAD-failed
 * IPv6; docker0 and tailscale0; an interface that is down and one without carrier. Then
 * runs wzp-candidates-dump inside it (`ip netns exec`) and compares its output with what
 * the rules say. The namespace is always deleted, also when a check fails, and stale
 * ones of dead test processes are removed first.
 *
 * Needs root and `ip netns`; skips with the reason otherwise, or fails when
 * WZP_REQUIRE_NETLAB=1 (CI). Suite 'netlab', not parallel.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <gio/gio.h>

static char *ip_path;
static char *helper_path;

/* Runs @argv; returns stdout, or NULL with the reason (stderr included) in @error. */
static char *
run (const char * const  *argv,
     char               **err_out,
     GError             **error)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                     &status, error))
    return NULL;
  if (err_out != NULL)
    *err_out = g_strdup (err);
  if (!g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "%s: %s: ", argv[0], err != NULL ? g_strstrip (err) : "");
      return NULL;
    }
  return g_steal_pointer (&out);
}

static gboolean
ns_exec_script (const char  *ns,
                const char  *script,
                GError     **error)
{
  const char *argv[] = { ip_path, "netns", "exec", ns, "sh", "-ec", script, NULL };
  g_autofree char *out = run (argv, NULL, error);

  return out != NULL;
}

static char *
ns_exec (const char  *ns,
         const char **args,
         char       **err_out,
         GError     **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, ip_path);
  g_ptr_array_add (argv, (char *) "netns");
  g_ptr_array_add (argv, (char *) "exec");
  g_ptr_array_add (argv, (char *) ns);
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  return run ((const char * const *) argv->pdata, err_out, error);
}

static void
delete_namespace (const char *ns)
{
  const char *argv[] = { ip_path, "netns", "delete", ns, NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *out = run (argv, NULL, &error);

  if (out == NULL)
    g_test_message ("Could not delete namespace %s: %s", ns, error->message);
}

/* Namespaces left behind by test processes that died (a crash, a timeout kill). */
static void
delete_stale_namespaces (void)
{
  const char *argv[] = { ip_path, "netns", "list", NULL };
  g_autofree char *out = run (argv, NULL, NULL);
  g_auto(GStrv) lines = NULL;

  if (out == NULL)
    return;
  lines = g_strsplit (out, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) words = g_strsplit (lines[i], " ", 2);
      guint64 pid;

      if (words[0] == NULL || !g_str_has_prefix (words[0], "wzp-cand-") ||
          !g_ascii_string_to_unsigned (words[0] + strlen ("wzp-cand-"), 10, 1, G_MAXINT, &pid,
                                       NULL))
        continue;
      if (kill ((pid_t) pid, 0) == 0 || errno != ESRCH)
        continue;
      g_test_message ("Deleting stale namespace %s", words[0]);
      delete_namespace (words[0]);
    }
}

/* NULL if the test can run here, else why not. */
static char *
why_not (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ns = NULL;

  if (geteuid () != 0)
    return g_strdup ("network namespaces need root (CAP_NET_ADMIN and CAP_SYS_ADMIN)");
  if (ip_path == NULL)
    return g_strdup ("iproute2 (`ip`) is not installed");
  if (!g_file_test (helper_path, G_FILE_TEST_IS_EXECUTABLE))
    return g_strdup_printf ("the helper %s was not built", helper_path);

  {
    const char *argv[] = { ip_path, "netns", "list", NULL };
    g_autofree char *out = run (argv, NULL, &error);

    if (out == NULL)
      return g_strdup_printf ("`ip netns` is not available: %s", error->message);
  }
  return NULL;
}

static char *
find_temporary (const char  *ns,
                const char  *dev,
                GError     **error)
{
  const char *args[] = { "ip", "-6", "-o", "addr", "show", "dev", dev, "temporary", NULL };
  g_autofree char *out = ns_exec (ns, args, NULL, error);
  g_autoptr(GRegex) regex = NULL;
  g_autoptr(GMatchInfo) match = NULL;

  if (out == NULL)
    return NULL;
  regex = g_regex_new ("inet6 ([0-9a-f:]+)/64", 0, 0, NULL);
  if (!g_regex_match (regex, out, 0, &match))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "The kernel made no temporary address on %s: %s", dev, out);
      return NULL;
    }
  return g_match_info_fetch (match, 1);
}

static gboolean
wait_dad_failed (const char  *ns,
                 const char  *dev,
                 GError     **error)
{
  const char *args[] = { "ip", "-6", "addr", "show", "dev", dev, NULL };
  gint64 end = g_get_monotonic_time () + 8 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < end)
    {
      g_autofree char *out = ns_exec (ns, args, NULL, error);

      if (out == NULL)
        return FALSE;
      if (strstr (out, "dadfailed") != NULL)
        return TRUE;
      g_usleep (50 * 1000);
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "DAD did not fail on %s", dev);
  return FALSE;
}

/* The interfaces. `mk` makes a dummy, or an ifb where dummy is not built (both are
 * always up and running once set up). */
static const char setup_script[] =
  "mk() { ip link add \"$1\" type dummy 2>/dev/null || ip link add \"$1\" type ifb; }\n"
  "ip link set lo up\n"
  /* A LAN interface with everything. */
  "mk lan0\n"
  "sysctl -qw net.ipv6.conf.lan0.use_tempaddr=2\n"
  "ip link set lan0 up\n"
  "ip addr add 192.168.50.2/24 dev lan0\n"
  "ip addr add 10.1.2.3/8 dev lan0\n"
  "ip addr add 203.0.113.7/24 dev lan0\n"
  "ip addr add 169.254.3.4/16 dev lan0\n"
  "ip addr add 2001:db8:50::2/64 dev lan0 nodad mngtmpaddr\n"   /* + a kernel temporary */
  "ip addr add 2001:db8:51::5/64 dev lan0 nodad preferred_lft 0\n"  /* deprecated */
  "ip addr add fd00:50::2/64 dev lan0 nodad\n"
  /* CGNAT. */
  "mk cgn0\n"
  "ip link set cgn0 up\n"
  "ip addr add 100.64.9.9/10 dev cgn0\n"
  /* Denied by default. */
  "mk docker0\n"
  "ip link set docker0 up\n"
  "ip addr add 172.17.0.1/16 dev docker0\n"
  "ip addr add 2001:db8:17::1/64 dev docker0 nodad\n"
  "mk tailscale0\n"
  "ip link set tailscale0 up\n"
  "ip addr add 100.100.1.2/32 dev tailscale0\n"
  /* Down. */
  "mk down0\n"
  "ip addr add 192.168.51.2/24 dev down0\n"
  "ip addr add 2001:db8:51::2/64 dev down0 nodad\n"
  /* Up but not running: its veth peer is down. */
  "ip link add norun0 type veth peer name veth-norun0\n"
  "ip link set norun0 up\n"
  "ip addr add 192.168.52.2/24 dev norun0\n"
  /* Tentative for a long time: 50 DAD probes. */
  "ip link add tent0 type veth peer name veth-tent0\n"
  "sysctl -qw net.ipv6.conf.tent0.dad_transmits=50\n"
  "ip link set veth-tent0 up\n"
  "ip link set tent0 up\n"
  "ip addr add 2001:db8:60::1/64 dev tent0\n"
  /* DAD fails: the (denied) peer already holds the address. */
  "ip link add dad0 type veth peer name veth-dad0\n"
  "sysctl -qw net.ipv6.conf.dad0.router_solicitation_delay=0\n"
  "ip link set veth-dad0 up\n"
  "ip link set dad0 up\n"
  "ip addr add 2001:db8:70::1/64 dev veth-dad0 nodad\n"
  "ip addr add 2001:db8:70::1/64 dev dad0\n";

typedef struct {
  const char *name;
  const char *args[8];
  char       *output;
  char       *error;
} Run;

static void
test_netns (void)
{
  g_autofree char *reason = why_not ();
  g_autofree char *ns = g_strdup_printf ("wzp-cand-%d", (int) getpid ());
  g_autoptr(GError) error = NULL;
  g_autofree char *temporary = NULL;
  g_autofree char *raw = NULL;
  g_autofree char *timing = NULL;
  gboolean created = FALSE;
  gboolean ok = FALSE;
  Run runs[] = {
    { "default", { NULL } },
    { "allow", { "--allow", "tailscale*", NULL } },
    { "custom deny", { "--deny", "lan*", NULL } },
    { "loopback", { "--loopback", NULL } },
  };

  if (reason != NULL)
    {
      if (g_strcmp0 (g_getenv ("WZP_REQUIRE_NETLAB"), "1") == 0)
        g_test_fail_printf ("WZP_REQUIRE_NETLAB=1, but %s", reason);
      else
        g_test_skip (reason);
      return;
    }

  delete_stale_namespaces ();

  /* Everything up to the deletion collects results; checks come after it, so a failing
   * check never leaves the namespace behind. */
  {
    const char *argv[] = { ip_path, "netns", "add", ns, NULL };
    g_autofree char *out = run (argv, NULL, &error);

    created = out != NULL;
  }
  if (created &&
      ns_exec_script (ns, setup_script, &error) &&
      wait_dad_failed (ns, "dad0", &error) &&
      (temporary = find_temporary (ns, "lan0", &error)) != NULL)
    {
      const char *raw_args[] = { helper_path, "--raw", NULL };
      const char *time_args[] = { helper_path, "--time", "200", NULL };
      g_autofree char *time_out = NULL;

      ok = TRUE;
      for (gsize i = 0; i < G_N_ELEMENTS (runs) && ok; i++)
        {
          const char *args[10] = { helper_path, NULL };

          for (gsize j = 0; runs[i].args[j] != NULL; j++)
            args[j + 1] = runs[i].args[j];
          runs[i].output = ns_exec (ns, args, &runs[i].error, &error);
          ok = runs[i].output != NULL;
        }
      if (ok)
        ok = (raw = ns_exec (ns, raw_args, NULL, &error)) != NULL;
      if (ok)
        ok = (time_out = ns_exec (ns, time_args, &timing, &error)) != NULL;
    }

  if (created)
    delete_namespace (ns);

  if (!created && g_strcmp0 (g_getenv ("WZP_REQUIRE_NETLAB"), "1") != 0)
    {
      g_test_skip_printf ("Cannot create a network namespace here: %s", error->message);
      return;
    }
  g_assert_no_error (error);
  g_assert_true (ok);

  g_test_message ("kernel temporary address: %s", temporary);
  g_test_message ("inside the namespace: %s", timing ? g_strstrip (timing) : "");
  g_test_message ("raw:\n%s", raw);

  /* The rtnetlink flags, read for real. */
  {
    g_autofree char *tmp_line = g_strdup_printf ("%s ", temporary);
    g_auto(GStrv) lines = g_strsplit (raw, "\n", -1);
    const struct {
      const char *address;
      const char *expected;
    } flags[] = {
      { tmp_line, "temporary" },
      { "2001:db8:51::5 ", "deprecated" },
      { "2001:db8:60::1 ", "tentative" },
      { "2001:db8:70::1 ", "dadfailed" },
      { "192.168.51.2 ", "interface is down" },
      { "192.168.52.2 ", "not running" },
      { "172.17.0.1 ", "deny list" },
      { "203.0.113.7 ", "public IPv4" },
      { "2001:db8:50::2 ", "same /64 is preferred" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (flags); i++)
      {
        gboolean found = FALSE;

        for (gsize j = 0; lines[j] != NULL && !found; j++)
          found = strstr (lines[j], flags[i].address) != NULL &&
                  strstr (lines[j], flags[i].expected) != NULL &&
                  (i != 3 || strstr (lines[j], "dad0") == lines[j]);
        if (!found)
          g_test_message ("no line with %s and %s", flags[i].address, flags[i].expected);
        g_assert_true (found);
      }
  }

  {
    g_autofree char *expected_default =
      g_strdup_printf ("192.168.50.2:40001 lan0\n"
                       "10.1.2.3:40001 lan0\n"
                       "100.64.9.9:40001 cgn0\n"
                       "[%s]:40001 lan0\n"
                       "[fd00:50::2]:40001 lan0\n", temporary);
    g_autofree char *expected_allow =
      g_strdup_printf ("192.168.50.2:40001 lan0\n"
                       "10.1.2.3:40001 lan0\n"
                       "100.64.9.9:40001 cgn0\n"
                       "100.100.1.2:40001 tailscale0\n"
                       "[%s]:40001 lan0\n"
                       "[fd00:50::2]:40001 lan0\n", temporary);
    /* A custom deny list replaces the default one: docker0, tailscale0 and the veth
     * holding dad0's address come back. */
    const char *expected_custom =
      "172.17.0.1:40001 docker0\n"
      "100.64.9.9:40001 cgn0\n"
      "100.100.1.2:40001 tailscale0\n"
      "[2001:db8:17::1]:40001 docker0\n"
      "[2001:db8:70::1]:40001 veth-dad0\n";
    /* Loopback mode: only loopback, although lan0 has a ULA, a global IPv6 address and
     * RFC 1918 ones. */
    const char *expected_loopback =
      "127.0.0.1:40001 lo\n"
      "[::1]:40001 lo\n";

    g_assert_cmpstr (runs[0].output, ==, expected_default);
    g_assert_cmpstr (runs[1].output, ==, expected_allow);
    g_assert_cmpstr (runs[2].output, ==, expected_custom);
    g_assert_cmpstr (runs[3].output, ==, expected_loopback);
  }

  for (gsize i = 0; i < G_N_ELEMENTS (runs); i++)
    {
      g_free (runs[i].output);
      g_free (runs[i].error);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  ip_path = g_find_program_in_path ("ip");
  if (ip_path == NULL && g_file_test ("/usr/sbin/ip", G_FILE_TEST_IS_EXECUTABLE))
    ip_path = g_strdup ("/usr/sbin/ip");
  helper_path = g_test_build_filename (G_TEST_BUILT, "wzp-candidates-dump", NULL);

  g_test_add_func ("/wzp/candidates/netns", test_netns);

  return g_test_run ();
}
