/* wzp-candidates-dump.c: prints the host candidates the gatherer finds here
 *
 *   wzp-candidates-dump [--port P] [--loopback] [--deny GLOB]... [--allow GLOB]...
 *                       [--no-default-deny] [--raw] [--time N]
 *
 * One line per candidate, in dial order: "ADDRESS INTERFACE". --raw prints every
 * enumerated address with its flags and the filter's verdict instead. --time N
 * enumerates N times and prints the median and maximum time to stderr.
 * test-candidates-netns runs it inside a network namespace.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <gio/gio.h>

#include "wzp-candidates-private.h"

static int
cmp_int64 (gconstpointer a,
           gconstpointer b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return x < y ? -1 : (x > y ? 1 : 0);
}

int
main (int   argc,
      char *argv[])
{
  int port = 40001;
  gboolean loopback = FALSE;
  gboolean raw = FALSE;
  gboolean no_default_deny = FALSE;
  int repeat = 0;
  g_auto(GStrv) deny = NULL;
  g_auto(GStrv) allow = NULL;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "Port paired with the candidates", "P" },
    { "loopback", 0, 0, G_OPTION_ARG_NONE, &loopback, "Loopback only (test-only)", NULL },
    { "deny", 0, 0, G_OPTION_ARG_STRING_ARRAY, &deny, "Deny list glob (replaces the default)",
      "GLOB" },
    { "no-default-deny", 0, 0, G_OPTION_ARG_NONE, &no_default_deny, "Empty deny list", NULL },
    { "allow", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allow, "Allow list glob", "GLOB" },
    { "raw", 0, 0, G_OPTION_ARG_NONE, &raw, "Print every address and the verdict", NULL },
    { "time", 0, 0, G_OPTION_ARG_INT, &repeat, "Time N enumerations", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- print host candidates");
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) ifaddrs = NULL;
  g_autoptr(GPtrArray) candidates = NULL;
  g_autofree WzpSkipReason *reasons = NULL;
  static const char * const empty[] = { NULL };
  WzpCandidateFilter filter = { 0 };
  gint64 elapsed = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s: %s\n", g_get_prgname (), error->message);
      return EXIT_FAILURE;
    }

  filter.deny = no_default_deny ? empty : (const char * const *) deny;
  filter.allow = (const char * const *) allow;
  filter.loopback_only = loopback;

  if (repeat > 0)
    {
      g_autoptr(GArray) times = g_array_new (FALSE, FALSE, sizeof (gint64));

      for (int i = 0; i < repeat; i++)
        {
          g_autoptr(GArray) list = _wzp_candidates_enumerate (&elapsed, &error);
          g_autoptr(GPtrArray) c = NULL;
          gint64 start;

          if (list == NULL)
            break;
          start = g_get_monotonic_time ();
          c = _wzp_candidates_filter ((const WzpIfAddr *) list->data, list->len, port, &filter,
                                      NULL);
          elapsed += g_get_monotonic_time () - start;
          g_array_append_val (times, elapsed);
        }
      if (times->len > 0)
        {
          g_array_sort (times, cmp_int64);
          g_printerr ("gathering: %u runs, median %" G_GINT64_FORMAT " us, max %"
                      G_GINT64_FORMAT " us\n", times->len,
                      g_array_index (times, gint64, times->len / 2),
                      g_array_index (times, gint64, times->len - 1));
        }
    }

  ifaddrs = _wzp_candidates_enumerate (&elapsed, &error);
  if (ifaddrs == NULL)
    {
      g_printerr ("%s: %s\n", g_get_prgname (), error->message);
      return EXIT_FAILURE;
    }

  reasons = g_new0 (WzpSkipReason, MAX (ifaddrs->len, 1));
  candidates = _wzp_candidates_filter ((const WzpIfAddr *) ifaddrs->data, ifaddrs->len,
                                       port, &filter, reasons);

  if (raw)
    {
      for (guint i = 0; i < ifaddrs->len; i++)
        {
          const WzpIfAddr *ifa = &g_array_index (ifaddrs, WzpIfAddr, i);

          g_print ("%-12s %-40s /%-3u %s%s%s %s%s%s%s lft=%u: %s\n", ifa->name, ifa->address,
                   ifa->prefix,
                   ifa->if_flags & WZP_IF_UP ? "U" : "-",
                   ifa->if_flags & WZP_IF_RUNNING ? "R" : "-",
                   ifa->if_flags & WZP_IF_LOOPBACK ? "L" : "-",
                   ifa->addr_flags & WZP_ADDR_TEMPORARY ? "temporary " : "",
                   ifa->addr_flags & WZP_ADDR_DEPRECATED ? "deprecated " : "",
                   ifa->addr_flags & WZP_ADDR_TENTATIVE ? "tentative " : "",
                   ifa->addr_flags & WZP_ADDR_DAD_FAILED ? "dadfailed " : "",
                   ifa->preferred_lft, _wzp_skip_reason_to_string (reasons[i]));
        }
      return EXIT_SUCCESS;
    }

  for (guint i = 0; i < candidates->len; i++)
    {
      WzpCandidate *c = candidates->pdata[i];
      g_print ("%s %s\n", c->address, c->interface);
    }
  return EXIT_SUCCESS;
}
