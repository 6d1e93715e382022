/* test-candidates.c: host candidate rules on synthetic interface lists, and the real
 * enumeration of this machine
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "wzp-candidates-private.h"
#include "wzp-message-private.h"

#define UR (WZP_IF_UP | WZP_IF_RUNNING)
#define URL (WZP_IF_UP | WZP_IF_RUNNING | WZP_IF_LOOPBACK)

/* Runs the filter and returns "ADDRESS IFACE" lines joined by "; ". */
static char *
run_filter (const WzpIfAddr          *list,
            gsize                     n,
            const WzpCandidateFilter *filter,
            WzpSkipReason            *reasons)
{
  g_autoptr(GPtrArray) candidates = _wzp_candidates_filter (list, n, 40001, filter, reasons);
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < candidates->len; i++)
    {
      WzpCandidate *c = candidates->pdata[i];
      g_string_append_printf (out, "%s%s %s", i ? "; " : "", c->address, c->interface);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
test_rules (void)
{
  static const struct {
    WzpIfAddr     ifa;
    WzpSkipReason reason;
  } cases[] = {
    /* Interface state. */
    { { "eth0", UR, "192.168.1.2", 24, 0, 0 }, WZP_SKIP_NONE },
    { { "eth0", WZP_IF_RUNNING, "192.168.1.2", 24, 0, 0 }, WZP_SKIP_INTERFACE_DOWN },
    { { "eth0", 0, "192.168.1.2", 24, 0, 0 }, WZP_SKIP_INTERFACE_DOWN },
    { { "eth0", WZP_IF_UP, "192.168.1.2", 24, 0, 0 }, WZP_SKIP_NOT_RUNNING },
    { { "lo", URL, "127.0.0.1", 8, 0, 0 }, WZP_SKIP_LOOPBACK },
    { { "lo", URL, "::1", 128, 0, 0 }, WZP_SKIP_LOOPBACK },
    { { "lo", URL, "10.9.9.9", 32, 0, 0 }, WZP_SKIP_LOOPBACK },   /* any address on lo */
    { { "eth0", UR, "127.0.0.2", 8, 0, 0 }, WZP_SKIP_LOOPBACK },  /* loopback address */
    /* The default deny list, one pattern each. */
    { { "docker0", UR, "172.17.0.1", 16, 0, 0 }, WZP_SKIP_DENIED },
    { { "veth1a2b3c", UR, "10.1.0.1", 24, 0, 0 }, WZP_SKIP_DENIED },
    { { "br-0123abcd", UR, "172.18.0.1", 16, 0, 0 }, WZP_SKIP_DENIED },
    { { "virbr0", UR, "192.168.122.1", 24, 0, 0 }, WZP_SKIP_DENIED },
    { { "vnet3", UR, "192.168.122.5", 24, 0, 0 }, WZP_SKIP_DENIED },
    { { "vboxnet0", UR, "192.168.56.1", 24, 0, 0 }, WZP_SKIP_DENIED },
    { { "vmnet8", UR, "172.16.5.1", 24, 0, 0 }, WZP_SKIP_DENIED },
    { { "tailscale0", UR, "100.101.102.103", 32, 0, 0 }, WZP_SKIP_DENIED },
    { { "tailscale0", UR, "fd7a:115c:a1e0::1", 128, 0, 0 }, WZP_SKIP_DENIED },
    { { "ztabcdef12", UR, "10.147.17.5", 24, 0, 0 }, WZP_SKIP_DENIED },
    { { "wg0", UR, "10.8.0.2", 24, 0, 0 }, WZP_SKIP_DENIED },
    { { "tun0", UR, "10.9.0.6", 24, 0, 0 }, WZP_SKIP_DENIED },
    /* Not on the list, though similar. */
    { { "bridge0", UR, "192.168.3.1", 24, 0, 0 }, WZP_SKIP_NONE },
    { { "wlan0", UR, "10.0.0.7", 24, 0, 0 }, WZP_SKIP_NONE },
    { { "enp3s0", UR, "172.20.1.1", 16, 0, 0 }, WZP_SKIP_NONE },
    /* IPv4 address classes. */
    { { "eth0", UR, "10.0.0.1", 8, 0, 0 }, WZP_SKIP_NONE },
    { { "eth0", UR, "172.16.0.1", 12, 0, 0 }, WZP_SKIP_NONE },
    { { "eth0", UR, "172.31.0.1", 16, 0, 0 }, WZP_SKIP_NONE },
    { { "eth0", UR, "172.32.0.1", 16, 0, 0 }, WZP_SKIP_PUBLIC_IPV4 },
    { { "eth0", UR, "100.64.0.21", 10, 0, 0 }, WZP_SKIP_NONE },
    { { "eth0", UR, "100.128.0.1", 10, 0, 0 }, WZP_SKIP_PUBLIC_IPV4 },
    { { "eth0", UR, "198.51.100.7", 24, 0, 0 }, WZP_SKIP_PUBLIC_IPV4 },
    { { "eth0", UR, "169.254.3.4", 16, 0, 0 }, WZP_SKIP_LINK_LOCAL },
    { { "eth0", UR, "0.0.0.0", 0, 0, 0 }, WZP_SKIP_UNSPECIFIED },
    { { "eth0", UR, "224.0.0.251", 32, 0, 0 }, WZP_SKIP_NOT_UNICAST },
    { { "eth0", UR, "240.0.0.1", 8, 0, 0 }, WZP_SKIP_NOT_UNICAST },
    /* IPv6 address classes and flags. */
    { { "eth0", UR, "2001:db8:1::21", 64, 0, 0 }, WZP_SKIP_NONE },
    { { "eth0", UR, "fd00:1::21", 64, 0, 0 }, WZP_SKIP_NONE },
    { { "eth0", UR, "2001:db8:1::99", 64, WZP_ADDR_TEMPORARY, 0 }, WZP_SKIP_NONE },
    { { "eth0", UR, "fe80::1", 64, 0, 0 }, WZP_SKIP_LINK_LOCAL },
    { { "eth0", UR, "::", 0, 0, 0 }, WZP_SKIP_UNSPECIFIED },
    { { "eth0", UR, "ff02::1", 128, 0, 0 }, WZP_SKIP_NOT_UNICAST },
    { { "eth0", UR, "4000::1", 64, 0, 0 }, WZP_SKIP_NOT_UNICAST },
    { { "eth0", UR, "::ffff:10.0.0.1", 96, 0, 0 }, WZP_SKIP_NOT_UNICAST },
    { { "eth0", UR, "2001:db8:1::21", 64, WZP_ADDR_DEPRECATED, 0 }, WZP_SKIP_DEPRECATED },
    { { "eth0", UR, "2001:db8:1::21", 64, WZP_ADDR_TEMPORARY | WZP_ADDR_DEPRECATED, 0 },
      WZP_SKIP_DEPRECATED },
    { { "eth0", UR, "2001:db8:1::21", 64, WZP_ADDR_TENTATIVE, 0 }, WZP_SKIP_TENTATIVE },
    { { "eth0", UR, "fd00::5", 64, WZP_ADDR_TENTATIVE | WZP_ADDR_DAD_FAILED, 0 },
      WZP_SKIP_DAD_FAILED },
    /* Garbage. */
    { { "eth0", UR, "192.168.1.300", 24, 0, 0 }, WZP_SKIP_UNPARSABLE },
    { { "eth0", UR, "fe80::1%eth0", 64, 0, 0 }, WZP_SKIP_UNPARSABLE },
    { { "eth0", UR, NULL, 0, 0, 0 }, WZP_SKIP_UNPARSABLE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      WzpSkipReason reason = _wzp_candidates_check (&cases[i].ifa, NULL);

      g_test_message ("%s %s", cases[i].ifa.name, cases[i].ifa.address);
      g_assert_cmpstr (_wzp_skip_reason_to_string (reason), ==,
                       _wzp_skip_reason_to_string (cases[i].reason));
    }
}

/* The list from the issue: docker0, a veth, tailscale0 with a 100.64 address, a
 * deprecated IPv6, a temporary and a stable IPv6 on one interface, an interface that is
 * down, plus the usual loopback and link-local noise. */
static const WzpIfAddr realistic[] = {
  { "lo", URL, "127.0.0.1", 8, 0, 0 },                                               /* 0 */
  { "lo", URL, "::1", 128, 0, 0 },                                                   /* 1 */
  { "wlp2s0", UR, "192.168.1.20", 24, 0, 0 },                                        /* 2 */
  { "wlp2s0", UR, "2001:db8:1:0:aaaa:bbbb:cccc:1", 64, WZP_ADDR_TEMPORARY, 86000 },  /* 3 */
  { "wlp2s0", UR, "2001:db8:1:0:dddd:eeee:ffff:2", 64,
    WZP_ADDR_TEMPORARY | WZP_ADDR_DEPRECATED, 0 },                                   /* 4 */
  { "wlp2s0", UR, "2001:db8:1::20", 64, 0, G_MAXUINT32 },                            /* 5 */
  { "wlp2s0", UR, "fd00:1::20", 64, 0, G_MAXUINT32 },                                /* 6 */
  { "wlp2s0", UR, "fe80::1234:5678:9abc:def0", 64, 0, G_MAXUINT32 },                 /* 7 */
  { "docker0", UR, "172.17.0.1", 16, 0, 0 },                                         /* 8 */
  { "docker0", UR, "fe80::42:acff:fe11:1", 64, 0, 0 },                               /* 9 */
  { "veth5f3a2b1", UR, "fe80::a0b1:c2ff:fed3:e4f5", 64, 0, 0 },                      /* 10 */
  { "tailscale0", UR, "100.101.102.103", 32, 0, 0 },                                 /* 11 */
  { "tailscale0", UR, "fd7a:115c:a1e0::1", 128, 0, 0 },                              /* 12 */
  { "enp0s31f6", WZP_IF_UP, "10.0.0.5", 24, 0, 0 },                        /* 13: no carrier */
  { "wwan0", 0, "100.70.1.2", 30, 0, 0 },                                            /* 14: down */
  { "eth1", UR, "2001:db8:5::9", 64, WZP_ADDR_DEPRECATED, 0 },                       /* 15 */
  { "eth1", UR, "10.20.30.40", 16, 0, 0 },                                           /* 16 */
};

static void
test_filter_realistic (void)
{
  WzpSkipReason reasons[G_N_ELEMENTS (realistic)];
  g_autofree char *out = run_filter (realistic, G_N_ELEMENTS (realistic), NULL, reasons);
  static const WzpSkipReason expected[] = {
    WZP_SKIP_LOOPBACK, WZP_SKIP_LOOPBACK,
    WZP_SKIP_NONE, WZP_SKIP_NONE, WZP_SKIP_DEPRECATED, WZP_SKIP_SUPERSEDED, WZP_SKIP_NONE,
    WZP_SKIP_LINK_LOCAL,
    WZP_SKIP_DENIED, WZP_SKIP_DENIED, WZP_SKIP_DENIED, WZP_SKIP_DENIED, WZP_SKIP_DENIED,
    WZP_SKIP_NOT_RUNNING, WZP_SKIP_INTERFACE_DOWN,
    WZP_SKIP_DEPRECATED, WZP_SKIP_NONE,
  };

  G_STATIC_ASSERT (G_N_ELEMENTS (expected) == G_N_ELEMENTS (realistic));

  g_assert_cmpstr (out, ==,
                   "192.168.1.20:40001 wlp2s0; "
                   "10.20.30.40:40001 eth1; "
                   "[2001:db8:1:0:aaaa:bbbb:cccc:1]:40001 wlp2s0; "
                   "[fd00:1::20]:40001 wlp2s0");
  for (gsize i = 0; i < G_N_ELEMENTS (realistic); i++)
    {
      g_test_message ("%s %s", realistic[i].name, realistic[i].address);
      g_assert_cmpstr (_wzp_skip_reason_to_string (reasons[i]), ==,
                       _wzp_skip_reason_to_string (expected[i]));
    }
}

static void
test_filter_allow (void)
{
  const char * const allow[] = { "tailscale*", NULL };
  WzpCandidateFilter filter = { .allow = allow };
  g_autofree char *out = run_filter (realistic, G_N_ELEMENTS (realistic), &filter, NULL);

  /* The allow list overrides the deny list, and nothing else: tailscale0's CGNAT address
   * comes after the RFC 1918 ones; its ULA after the other interface's. */
  g_assert_cmpstr (out, ==,
                   "192.168.1.20:40001 wlp2s0; "
                   "10.20.30.40:40001 eth1; "
                   "100.101.102.103:40001 tailscale0; "
                   "[2001:db8:1:0:aaaa:bbbb:cccc:1]:40001 wlp2s0; "
                   "[fd00:1::20]:40001 wlp2s0; "
                   "[fd7a:115c:a1e0::1]:40001 tailscale0");
}

static void
test_filter_deny_lists (void)
{
  const char * const *defaults = _wzp_candidates_get_default_deny_list ();
  const char * const expected_defaults[] = {
    "docker*", "veth*", "br-*", "virbr*", "vnet*", "vboxnet*", "vmnet*", "tailscale*", "zt*",
    "wg*", "tun*", NULL
  };
  const char * const empty[] = { NULL };
  const char * const custom[] = { "wlp*", "eth?", NULL };
  const char * const allow_docker[] = { "docker0", NULL };
  const char * const allow_all[] = { "*", NULL };

  g_assert_true (g_strv_equal (defaults, expected_defaults));

  /* NULL: the default list. */
  g_assert_true (_wzp_candidates_name_denied ("docker0", NULL));
  g_assert_false (_wzp_candidates_name_denied ("eth0", NULL));
  /* Patterns match the whole name. */
  g_assert_false (_wzp_candidates_name_denied ("mydocker0", NULL));
  g_assert_false (_wzp_candidates_name_denied ("br0", NULL));
  g_assert_true (_wzp_candidates_name_denied ("br-", NULL));

  {
    WzpCandidateFilter f = { .deny = empty };
    g_autofree char *out = run_filter (realistic, G_N_ELEMENTS (realistic), &f, NULL);

    g_assert_false (_wzp_candidates_name_denied ("docker0", &f));
    /* Nothing denied: docker0 and tailscale0 come back. */
    g_assert_cmpstr (out, ==,
                     "192.168.1.20:40001 wlp2s0; "
                     "172.17.0.1:40001 docker0; "
                     "10.20.30.40:40001 eth1; "
                     "100.101.102.103:40001 tailscale0; "
                     "[2001:db8:1:0:aaaa:bbbb:cccc:1]:40001 wlp2s0; "
                     "[fd00:1::20]:40001 wlp2s0; "
                     "[fd7a:115c:a1e0::1]:40001 tailscale0");
  }

  {
    /* A custom list replaces the default one. */
    WzpCandidateFilter f = { .deny = custom };
    g_autofree char *out = run_filter (realistic, G_N_ELEMENTS (realistic), &f, NULL);

    g_assert_true (_wzp_candidates_name_denied ("eth1", &f));
    g_assert_false (_wzp_candidates_name_denied ("eth10", &f));
    g_assert_cmpstr (out, ==,
                     "172.17.0.1:40001 docker0; "
                     "100.101.102.103:40001 tailscale0; "
                     "[fd7a:115c:a1e0::1]:40001 tailscale0");
  }

  {
    WzpCandidateFilter f = { .allow = allow_docker };

    g_assert_false (_wzp_candidates_name_denied ("docker0", &f));
    g_assert_true (_wzp_candidates_name_denied ("docker1", &f));
  }

  {
    /* Allowing everything does not make a down interface or a public address usable. */
    WzpCandidateFilter f = { .allow = allow_all };
    WzpSkipReason reasons[G_N_ELEMENTS (realistic)];
    g_autofree char *out = run_filter (realistic, G_N_ELEMENTS (realistic), &f, reasons);

    g_assert_cmpint (reasons[14], ==, WZP_SKIP_INTERFACE_DOWN);
    g_assert_cmpint (reasons[13], ==, WZP_SKIP_NOT_RUNNING);
    g_assert_cmpint (reasons[0], ==, WZP_SKIP_LOOPBACK);
    g_assert_cmpint (reasons[10], ==, WZP_SKIP_LINK_LOCAL);
  }
}

static void
test_filter_temporary (void)
{
  static const WzpIfAddr list[] = {
    /* One /64: a stable, then two temporaries; the one preferred longer wins. */
    { "eth0", UR, "2001:db8:1::10", 64, 0, G_MAXUINT32 },
    { "eth0", UR, "2001:db8:1:0:1::1", 64, WZP_ADDR_TEMPORARY, 3600 },
    { "eth0", UR, "2001:db8:1:0:2::2", 64, WZP_ADDR_TEMPORARY, 80000 },
    /* Another /64 with only a stable address: kept (another network). */
    { "eth0", UR, "2001:db8:2::10", 64, 0, G_MAXUINT32 },
    /* Same /64 on another interface: independent. */
    { "eth1", UR, "2001:db8:1::11", 64, 0, G_MAXUINT32 },
    /* ULA: temporary over stable too. */
    { "eth0", UR, "fd00:1::10", 64, 0, G_MAXUINT32 },
    { "eth0", UR, "fd00:1:0:0:3::3", 64, WZP_ADDR_TEMPORARY, 0 },
  };
  WzpSkipReason reasons[G_N_ELEMENTS (list)];
  WzpCandidateFilter filter = { .max_per_interface = 10 };
  g_autofree char *out = run_filter (list, G_N_ELEMENTS (list), &filter, reasons);

  g_assert_cmpstr (out, ==,
                   "[2001:db8:1:0:2::2]:40001 eth0; "
                   "[2001:db8:2::10]:40001 eth0; "
                   "[2001:db8:1::11]:40001 eth1; "
                   "[fd00:1::3:0:0:3]:40001 eth0");
  g_assert_cmpint (reasons[0], ==, WZP_SKIP_SUPERSEDED);
  g_assert_cmpint (reasons[1], ==, WZP_SKIP_SUPERSEDED);
  g_assert_cmpint (reasons[2], ==, WZP_SKIP_NONE);
  g_assert_cmpint (reasons[5], ==, WZP_SKIP_SUPERSEDED);

  /* Without temporaries, the first stable address of a /64 wins. */
  {
    static const WzpIfAddr stable[] = {
      { "eth0", UR, "2001:db8:1::10", 64, 0, 0 },
      { "eth0", UR, "2001:db8:1::20", 64, 0, 0 },
    };
    g_autofree char *out2 = run_filter (stable, G_N_ELEMENTS (stable), NULL, NULL);

    g_assert_cmpstr (out2, ==, "[2001:db8:1::10]:40001 eth0");
  }
}

static void
test_filter_limit (void)
{
  static const WzpIfAddr list[] = {
    { "eth0", UR, "192.168.1.1", 24, 0, 0 },
    { "eth0", UR, "192.168.2.1", 24, 0, 0 },
    { "eth0", UR, "100.64.1.1", 10, 0, 0 },
    { "eth0", UR, "10.1.1.1", 8, 0, 0 },
    { "eth0", UR, "172.16.1.1", 12, 0, 0 },
    { "eth0", UR, "2001:db8:1::1", 64, 0, 0 },
    { "eth0", UR, "2001:db8:2::1", 64, 0, 0 },
    { "eth0", UR, "fd00:1::1", 64, 0, 0 },
    { "eth0", UR, "2001:db8:3::1", 64, 0, 0 },
    { "eth1", UR, "10.2.2.2", 8, 0, 0 },
  };
  WzpSkipReason reasons[G_N_ELEMENTS (list)];
  g_autofree char *out = run_filter (list, G_N_ELEMENTS (list), NULL, reasons);

  /* Three per family and interface, taken in dial order (so CGNAT loses to RFC 1918,
   * ULA to global); the limit is per interface. */
  g_assert_cmpstr (out, ==,
                   "192.168.1.1:40001 eth0; 192.168.2.1:40001 eth0; 10.1.1.1:40001 eth0; "
                   "10.2.2.2:40001 eth1; "
                   "[2001:db8:1::1]:40001 eth0; [2001:db8:2::1]:40001 eth0; "
                   "[2001:db8:3::1]:40001 eth0");
  g_assert_cmpint (reasons[2], ==, WZP_SKIP_LIMIT);
  g_assert_cmpint (reasons[4], ==, WZP_SKIP_LIMIT);
  g_assert_cmpint (reasons[7], ==, WZP_SKIP_LIMIT);

  {
    WzpCandidateFilter filter = { .max_per_interface = 1 };
    g_autofree char *out2 = run_filter (list, G_N_ELEMENTS (list), &filter, NULL);

    g_assert_cmpstr (out2, ==,
                     "192.168.1.1:40001 eth0; 10.2.2.2:40001 eth1; [2001:db8:1::1]:40001 eth0");
  }
}

static void
test_filter_duplicate (void)
{
  static const WzpIfAddr list[] = {
    { "eth0", UR, "192.168.1.5", 24, 0, 0 },
    { "wlan0", UR, "192.168.1.5", 24, 0, 0 },
    { "wlan0", UR, "fd00::5", 64, 0, 0 },
    { "eth0", UR, "fd00::5", 64, 0, 0 },
  };
  WzpSkipReason reasons[G_N_ELEMENTS (list)];
  g_autofree char *out = run_filter (list, G_N_ELEMENTS (list), NULL, reasons);

  g_assert_cmpstr (out, ==, "192.168.1.5:40001 eth0; [fd00::5]:40001 wlan0");
  g_assert_cmpint (reasons[1], ==, WZP_SKIP_DUPLICATE);
  g_assert_cmpint (reasons[3], ==, WZP_SKIP_DUPLICATE);
}

static void
test_filter_order (void)
{
  static const WzpIfAddr list[] = {
    { "wwan0", UR, "100.64.9.9", 10, 0, 0 },
    { "wwan0", UR, "2001:db8:9::9", 64, 0, 0 },
    { "eth0", UR, "fd00:1::1", 64, 0, 0 },
    { "eth0", UR, "10.0.0.1", 8, 0, 0 },
    { "wlan0", UR, "2001:db8:1::1", 64, 0, 0 },
    { "wlan0", UR, "192.168.1.1", 24, 0, 0 },
  };
  g_autofree char *out = run_filter (list, G_N_ELEMENTS (list), NULL, NULL);

  /* IPv4 before IPv6; RFC 1918 before CGNAT; global before ULA; then interface order. */
  g_assert_cmpstr (out, ==,
                   "10.0.0.1:40001 eth0; 192.168.1.1:40001 wlan0; 100.64.9.9:40001 wwan0; "
                   "[2001:db8:9::9]:40001 wwan0; [2001:db8:1::1]:40001 wlan0; "
                   "[fd00:1::1]:40001 eth0");
}

static void
test_filter_loopback (void)
{
  WzpCandidateFilter filter = { .loopback_only = TRUE };
  WzpSkipReason reasons[G_N_ELEMENTS (realistic)];
  g_autofree char *out = run_filter (realistic, G_N_ELEMENTS (realistic), &filter, reasons);
  static const WzpIfAddr lo_alias = { "lo", URL, "10.9.9.9", 32, 0, 0 };

  /* Test-only: the loopback addresses and nothing else, although the list has RFC 1918,
   * global and ULA (fd00:1::20) addresses that the default filter keeps. */
  g_assert_cmpstr (out, ==, "127.0.0.1:40001 lo; [::1]:40001 lo");
  g_assert_cmpint (reasons[2], ==, WZP_SKIP_NOT_LOOPBACK);
  g_assert_cmpint (reasons[3], ==, WZP_SKIP_NOT_LOOPBACK);
  g_assert_cmpint (reasons[6], ==, WZP_SKIP_NOT_LOOPBACK);
  g_assert_cmpint (reasons[16], ==, WZP_SKIP_NOT_LOOPBACK);
  /* Being on lo does not make an address a loopback one. */
  g_assert_cmpint (_wzp_candidates_check (&lo_alias, &filter), ==, WZP_SKIP_NOT_LOOPBACK);

  {
    static const WzpIfAddr only_lo[] = {
      { "lo", URL, "127.0.0.1", 8, 0, 0 },
      { "lo", URL, "::1", 128, 0, 0 },
    };
    g_autoptr(GPtrArray) c = _wzp_candidates_filter (only_lo, 2, 5555, &filter, NULL);

    g_assert_cmpuint (c->len, ==, 2);
    g_assert_cmpstr (((WzpCandidate *) c->pdata[0])->address, ==, "127.0.0.1:5555");
    g_assert_cmpint (((WzpCandidate *) c->pdata[0])->klass, ==, WZP_ADDRESS_CLASS_LOOPBACK);
    g_assert_cmpstr (((WzpCandidate *) c->pdata[1])->address, ==, "[::1]:5555");
  }
}

static void
test_filter_empty (void)
{
  g_autoptr(GPtrArray) c = _wzp_candidates_filter (NULL, 0, 1, NULL, NULL);

  g_assert_cmpuint (c->len, ==, 0);
}

/* The peer's host candidates a client dials (docs/candidates.md, "Dialling the peer's
 * host candidates"). */
static void
assert_peer_filter (const char * const *offered,
                    gboolean            loopback,
                    const char * const *expected,
                    unsigned            expected_ignored)
{
  unsigned ignored = G_MAXUINT;
  g_auto(GStrv) kept = _wzp_candidates_filter_peer (offered, WZP_MAX_HOST_CANDIDATES, loopback,
                                                     &ignored);

  g_assert_nonnull (kept);
  g_assert_cmpuint (g_strv_length (kept), ==, g_strv_length ((char **) expected));
  for (guint i = 0; expected[i] != NULL; i++)
    g_assert_cmpstr (kept[i], ==, expected[i]);
  g_assert_cmpuint (ignored, ==, expected_ignored);
}

static void
test_peer_filter_classes (void)
{
  const char * const good[] = {
    "192.168.88.21:40001", "10.0.2.21:40001", "172.16.0.1:40001", "100.64.0.1:40001",
    "[fd00:1::21]:40001", "[2001:db8:1::21]:40001", "[2a01:4f8::1]:40001",
    "127.0.0.1:40001", "[::1]:40001", NULL
  };
  const char * const lan_and_global[] = {
    "192.168.88.21:40001", "10.0.2.21:40001", "172.16.0.1:40001", "100.64.0.1:40001",
    "[fd00:1::21]:40001", "[2001:db8:1::21]:40001", "[2a01:4f8::1]:40001", NULL
  };
  /* Never a host candidate (public IPv4 is the reflexive address's business); each list
   * is within the cap, so every entry is looked at. */
  const char * const bad[] = {
    "0.0.0.0:40001", "[::]:40001", "169.254.1.1:40001", "[fe80::1]:40001",
    "224.0.0.1:40001", "[ff02::1]:40001", "255.255.255.255:40001", "240.0.0.1:40001",
    "203.0.113.5:40001", "8.8.8.8:40001", "0.1.2.3:40001", "[::ffff:8.8.8.8]:40001",
    "[64:ff9b::1]:40001", "example.org:40001", "10.0.0.1", "[fe80::1%eth0]:40001", NULL
  };
  const char * const none[] = { NULL };

  assert_peer_filter (good, FALSE, lan_and_global, 2);
  assert_peer_filter (good, TRUE, good, 0);
  g_assert_cmpuint (g_strv_length ((char **) bad), ==, 16);
  assert_peer_filter (bad, FALSE, none, 16);
  assert_peer_filter (bad, TRUE, none, 16);
}

static void
test_peer_filter_one_port (void)
{
  /* The first candidate kept gives the port; an unusable one before it does not. */
  const char * const offered[] = {
    "224.0.0.1:9", "192.168.1.2:40001", "192.168.1.3:22", "[2001:db8::2]:40001",
    "[fd00::2]:443", "10.1.1.1:40001", NULL
  };
  const char * const expected[] = {
    "192.168.1.2:40001", "[2001:db8::2]:40001", "10.1.1.1:40001", NULL
  };

  assert_peer_filter (offered, FALSE, expected, 3);
}

static void
test_peer_filter_cap (void)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) offered = NULL;
  g_auto(GStrv) kept = NULL;
  unsigned ignored = 0;

  for (guint i = 0; i < 3000; i++)
    {
      g_autofree char *address = g_strdup_printf ("10.%u.%u.1:40001", i / 256, i % 256);

      g_strv_builder_add (builder, address);
    }
  offered = g_strv_builder_end (builder);
  kept = _wzp_candidates_filter_peer ((const char * const *) offered,
                                      WZP_MAX_HOST_CANDIDATES, FALSE, &ignored);
  g_assert_cmpuint (g_strv_length (kept), ==, 16);
  g_assert_cmpuint (ignored, ==, 3000 - 16);
  g_assert_cmpstr (kept[0], ==, "10.0.0.1:40001");
  g_assert_cmpstr (kept[15], ==, "10.0.15.1:40001");

  /* Nothing offered, nothing kept (and never NULL). */
  g_clear_pointer (&kept, g_strfreev);
  kept = _wzp_candidates_filter_peer (NULL, WZP_MAX_HOST_CANDIDATES, TRUE, &ignored);
  g_assert_nonnull (kept);
  g_assert_cmpuint (g_strv_length (kept), ==, 0);
  g_assert_cmpuint (ignored, ==, 0);
}

static void
test_own_addresses (void)
{
  g_auto(GStrv) own = _wzp_candidates_dup_own_addresses (realistic, G_N_ELEMENTS (realistic));

  /* Everything, whatever the state or the rules. */
  g_assert_cmpuint (g_strv_length (own), ==, G_N_ELEMENTS (realistic));
  g_assert_true (g_strv_contains ((const char * const *) own, "100.70.1.2"));
  g_assert_true (g_strv_contains ((const char * const *) own, "127.0.0.1"));
}

/* ------------------------------------------------------------------------------------ */
/* The real machine                                                                     */
/* ------------------------------------------------------------------------------------ */

static int
cmp_int64 (gconstpointer a,
           gconstpointer b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return x < y ? -1 : (x > y ? 1 : 0);
}

static void
test_enumerate (void)
{
  g_autoptr(GArray) times = g_array_new (FALSE, FALSE, sizeof (gint64));
  gboolean have_loopback = FALSE;

  for (int run = 0; run < 21; run++)
    {
      g_autoptr(GError) error = NULL;
      gint64 elapsed = -1;
      g_autoptr(GArray) list = _wzp_candidates_enumerate (&elapsed, &error);

      g_assert_no_error (error);
      g_assert_nonnull (list);
      g_assert_cmpint (elapsed, >=, 0);
      g_array_append_val (times, elapsed);

      for (guint i = 0; i < list->len; i++)
        {
          const WzpIfAddr *ifa = &g_array_index (list, WzpIfAddr, i);
          g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (ifa->address);

          g_assert_nonnull (ifa->name);
          g_assert_nonnull (inet);
          if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV4)
            g_assert_cmpint (ifa->addr_flags, ==, 0);
          if (g_str_equal (ifa->address, "127.0.0.1"))
            {
              have_loopback = TRUE;
              g_assert_true (ifa->if_flags & WZP_IF_LOOPBACK);
            }
        }
    }

  g_array_sort (times, cmp_int64);
  g_test_message ("enumeration: median %" G_GINT64_FORMAT " us, max %" G_GINT64_FORMAT " us",
                  g_array_index (times, gint64, times->len / 2),
                  g_array_index (times, gint64, times->len - 1));
  /* "Well under 10 ms on an ordinary machine". */
  g_assert_cmpint (g_array_index (times, gint64, times->len / 2), <, 10000);

  if (!have_loopback)
    g_test_message ("no 127.0.0.1 here (a network namespace without lo up?)");
}

static void
gather_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
  g_main_context_wakeup (NULL);
}

static GAsyncResult *
wait_result (GAsyncResult **result)
{
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (*result == NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (200);
    }
  return *result;
}

static void
test_gather_async (void)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) candidates = NULL;
  g_autoptr(GArray) list = _wzp_candidates_enumerate (NULL, &error);
  gboolean lo_up = FALSE;
  WzpCandidateFilter filter = { .loopback_only = TRUE };

  g_assert_no_error (error);
  for (guint i = 0; i < list->len; i++)
    {
      const WzpIfAddr *ifa = &g_array_index (list, WzpIfAddr, i);
      if (g_str_equal (ifa->address, "127.0.0.1") &&
          (ifa->if_flags & (WZP_IF_UP | WZP_IF_RUNNING)) == (WZP_IF_UP | WZP_IF_RUNNING))
        lo_up = TRUE;
    }

  _wzp_candidates_gather_async (4321, &filter, NULL, gather_cb, &result);
  candidates = _wzp_candidates_gather_finish (wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_nonnull (candidates);

  if (lo_up)
    {
      gboolean found = FALSE;

      for (guint i = 0; i < candidates->len; i++)
        found |= g_str_equal (((WzpCandidate *) candidates->pdata[i])->address,
                              "127.0.0.1:4321");
      g_assert_true (found);
    }
}

static void
test_gather_cancelled (void)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  GPtrArray *candidates;

  g_cancellable_cancel (cancellable);
  _wzp_candidates_gather_async (1, NULL, cancellable, gather_cb, &result);
  candidates = _wzp_candidates_gather_finish (wait_result (&result), &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (candidates);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/wzp/candidates/rules", test_rules);
  g_test_add_func ("/wzp/candidates/filter/realistic", test_filter_realistic);
  g_test_add_func ("/wzp/candidates/filter/allow", test_filter_allow);
  g_test_add_func ("/wzp/candidates/filter/deny-lists", test_filter_deny_lists);
  g_test_add_func ("/wzp/candidates/filter/temporary", test_filter_temporary);
  g_test_add_func ("/wzp/candidates/filter/limit", test_filter_limit);
  g_test_add_func ("/wzp/candidates/filter/duplicate", test_filter_duplicate);
  g_test_add_func ("/wzp/candidates/filter/order", test_filter_order);
  g_test_add_func ("/wzp/candidates/filter/loopback", test_filter_loopback);
  g_test_add_func ("/wzp/candidates/filter/empty", test_filter_empty);
  g_test_add_func ("/wzp/candidates/peer-filter/classes", test_peer_filter_classes);
  g_test_add_func ("/wzp/candidates/peer-filter/one-port", test_peer_filter_one_port);
  g_test_add_func ("/wzp/candidates/peer-filter/cap", test_peer_filter_cap);
  g_test_add_func ("/wzp/candidates/own-addresses", test_own_addresses);
  g_test_add_func ("/wzp/candidates/enumerate", test_enumerate);
  g_test_add_func ("/wzp/candidates/gather-async", test_gather_async);
  g_test_add_func ("/wzp/candidates/gather-cancelled", test_gather_cancelled);

  return g_test_run ();
}
