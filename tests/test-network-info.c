/* test-network-info.c: the network-info object: gathering, deny/allow lists, debounced
 * re-gathering on network changes, observations and NAT type notifications
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "wzp-enum-types.h"
#include "wzp-network-info-private.h"

static gboolean
test_timeout_cb (gpointer user_data)
{
  g_error ("Timed out waiting");
  return G_SOURCE_REMOVE;
}

static void
wait_for (gpointer *ptr)
{
  guint id = g_timeout_add_seconds (5, test_timeout_cb, NULL);

  while (*ptr == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (id);
}

static void
spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static void
count_cb (GObject    *object,
          GParamSpec *pspec,
          gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
gathered_cb (WzpNetworkInfo *info,
             gboolean        changed,
             gpointer        user_data)
{
  (*(guint *) user_data)++;
}

static void
gather (WzpNetworkInfo *info)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  _wzp_network_info_gather_async (info, NULL, store_result_cb, &result);
  wait_for ((gpointer *) &result);
  g_assert_true (_wzp_network_info_gather_finish (info, result, &error));
  g_assert_no_error (error);
}

/* Whether this machine (or namespace) has 127.0.0.1 on an up, running lo. */
static gboolean
have_loopback (void)
{
  g_autoptr(GArray) list = _wzp_candidates_enumerate (NULL, NULL);

  for (guint i = 0; list != NULL && i < list->len; i++)
    {
      const WzpIfAddr *ifa = &g_array_index (list, WzpIfAddr, i);

      if (g_str_equal (ifa->address, "127.0.0.1") &&
          (ifa->if_flags & (WZP_IF_UP | WZP_IF_RUNNING)) == (WZP_IF_UP | WZP_IF_RUNNING))
        return TRUE;
    }
  return FALSE;
}

static void
test_gather (void)
{
  g_autoptr(WzpNetworkInfo) info = _wzp_network_info_new (40001, TRUE);
  g_auto(GStrv) candidates = NULL;
  g_auto(GStrv) own = NULL;
  guint notified = 0;
  guint gathered = 0;

  if (!have_loopback ())
    {
      g_test_skip ("No loopback interface up here");
      return;
    }

  g_signal_connect (info, "notify::host-candidates", G_CALLBACK (count_cb), &notified);
  g_signal_connect (info, "gathered", G_CALLBACK (gathered_cb), &gathered);

  /* Nothing before the first gathering. */
  g_object_get (info, "host-candidates", &candidates, NULL);
  g_assert_cmpuint (g_strv_length (candidates), ==, 0);
  g_clear_pointer (&candidates, g_strfreev);

  gather (info);
  g_assert_cmpuint (notified, ==, 1);
  g_assert_cmpuint (gathered, ==, 1);
  g_object_get (info, "host-candidates", &candidates, NULL);
  g_assert_true (g_strv_contains ((const char * const *) candidates, "127.0.0.1:40001"));
  /* Loopback mode: loopback candidates only, whatever else this machine has. */
  for (guint i = 0; candidates[i] != NULL; i++)
    {
      g_autoptr(GInetAddress) address = NULL;

      g_assert_true (_wzp_address_parse_parts (candidates[i], &address, NULL));
      g_assert_cmpint (_wzp_address_classify (address), ==, WZP_ADDRESS_CLASS_LOOPBACK);
    }
  g_assert_cmpint (_wzp_network_info_get_gather_time (info), >, 0);
  g_assert_cmpint (_wzp_network_info_get_gather_time (info), <, 100 * 1000);
  g_test_message ("gathering took %" G_GINT64_FORMAT " us",
                  _wzp_network_info_get_gather_time (info));

  own = _wzp_network_info_dup_own_addresses (info);
  g_assert_true (g_strv_contains ((const char * const *) own, "127.0.0.1"));

  /* The same again: no notification, but ::gathered. */
  gather (info);
  g_assert_cmpuint (notified, ==, 1);
  g_assert_cmpuint (gathered, ==, 2);

  /* The port change re-pairs at once, without gathering. */
  _wzp_network_info_set_port (info, 5000);
  g_assert_cmpuint (notified, ==, 2);
  g_assert_cmpuint (gathered, ==, 2);
  g_clear_pointer (&candidates, g_strfreev);
  candidates = _wzp_network_info_dup_host_candidates (info);
  g_assert_true (g_strv_contains ((const char * const *) candidates, "127.0.0.1:5000"));

  g_assert_finalize_object (g_steal_pointer (&info));
}

static void
test_lists (void)
{
  g_autoptr(WzpNetworkInfo) info = _wzp_network_info_new (40001, TRUE);
  const char * const deny_lo[] = { "lo", NULL };
  const char * const allow_lo[] = { "l?", NULL };
  g_auto(GStrv) deny = NULL;
  g_auto(GStrv) candidates = NULL;
  guint notified = 0;
  guint list_notified = 0;

  if (!have_loopback ())
    {
      g_test_skip ("No loopback interface up here");
      return;
    }

  /* The default deny list is the property's default. */
  g_object_get (info, "deny-list", &deny, NULL);
  g_assert_true (g_strv_equal ((const char * const *) deny,
                               _wzp_candidates_get_default_deny_list ()));

  gather (info);
  g_signal_connect (info, "notify::host-candidates", G_CALLBACK (count_cb), &notified);
  g_signal_connect (info, "notify::deny-list", G_CALLBACK (count_cb), &list_notified);

  /* Denying lo re-filters at once (the app binds the lists to GSettings). */
  g_object_set (info, "deny-list", deny_lo, NULL);
  g_assert_cmpuint (list_notified, ==, 1);
  g_assert_cmpuint (notified, ==, 1);
  candidates = _wzp_network_info_dup_host_candidates (info);
  g_assert_false (g_strv_contains ((const char * const *) candidates, "127.0.0.1:40001"));
  g_clear_pointer (&candidates, g_strfreev);

  /* Same value again: nothing. */
  g_object_set (info, "deny-list", deny_lo, NULL);
  g_assert_cmpuint (list_notified, ==, 1);

  /* The allow list overrides it. */
  g_object_set (info, "allow-list", allow_lo, NULL);
  g_assert_cmpuint (notified, ==, 2);
  candidates = _wzp_network_info_dup_host_candidates (info);
  g_assert_true (g_strv_contains ((const char * const *) candidates, "127.0.0.1:40001"));

  /* NULL restores the default deny list. */
  _wzp_network_info_set_deny_list (info, NULL);
  g_clear_pointer (&deny, g_strfreev);
  g_object_get (info, "deny-list", &deny, NULL);
  g_assert_true (g_strv_equal ((const char * const *) deny,
                               _wzp_candidates_get_default_deny_list ()));

  g_assert_finalize_object (g_steal_pointer (&info));
}

static void
test_network_changed (void)
{
  g_autoptr(WzpNetworkInfo) info = _wzp_network_info_new (40001, TRUE);
  guint gathered = 0;
  gint64 start;

  g_object_set (info, "debounce-ms", 100, NULL);
  g_signal_connect (info, "gathered", G_CALLBACK (gathered_cb), &gathered);

  /* A burst of changes: one gathering, 100 ms after the last. */
  start = g_get_monotonic_time ();
  for (int i = 0; i < 5; i++)
    {
      _wzp_network_info_network_changed (info);
      spin (20);
    }
  g_assert_cmpuint (gathered, ==, 0);
  while (gathered == 0 && g_get_monotonic_time () - start < 3 * G_USEC_PER_SEC)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (gathered, ==, 1);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, (4 * 20 + 100) * 1000);
  spin (300);
  g_assert_cmpuint (gathered, ==, 1);

  /* GNetworkMonitor::network-changed does the same. */
  g_signal_emit_by_name (g_network_monitor_get_default (), "network-changed", TRUE);
  g_signal_emit_by_name (g_network_monitor_get_default (), "network-changed", TRUE);
  start = g_get_monotonic_time ();
  while (gathered == 1 && g_get_monotonic_time () - start < 3 * G_USEC_PER_SEC)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (gathered, ==, 2);

  /* An explicit gathering drops a pending debounce. */
  _wzp_network_info_network_changed (info);
  gather (info);
  g_assert_cmpuint (gathered, ==, 3);
  spin (250);
  g_assert_cmpuint (gathered, ==, 3);

  g_assert_finalize_object (g_steal_pointer (&info));
}

static void
test_concurrent_gathers (void)
{
  g_autoptr(WzpNetworkInfo) info = _wzp_network_info_new (40001, FALSE);
  GAsyncResult *results[3] = { NULL, };
  guint gathered = 0;

  g_signal_connect (info, "gathered", G_CALLBACK (gathered_cb), &gathered);
  for (int i = 0; i < 3; i++)
    _wzp_network_info_gather_async (info, NULL, store_result_cb, &results[i]);
  for (int i = 0; i < 3; i++)
    {
      wait_for ((gpointer *) &results[i]);
      g_assert_true (_wzp_network_info_gather_finish (info, results[i], NULL));
      g_object_unref (results[i]);
    }
  /* The first request started one; the two made during it share the next. */
  g_assert_cmpuint (gathered, ==, 2);

  g_assert_finalize_object (g_steal_pointer (&info));
}

static void
test_observations (void)
{
  g_autoptr(WzpNetworkInfo) info = _wzp_network_info_new (40001, FALSE);
  g_autofree char *observed = NULL;
  guint type_notified = 0;
  guint type6_notified = 0;
  guint observed_notified = 0;
  WzpNatType type;

  g_signal_connect (info, "notify::nat-type", G_CALLBACK (count_cb), &type_notified);
  g_signal_connect (info, "notify::nat-type-ipv6", G_CALLBACK (count_cb), &type6_notified);
  g_signal_connect (info, "notify::observed-address", G_CALLBACK (count_cb),
                    &observed_notified);

  /* RegisterPresenceAck from the own relay. */
  _wzp_network_info_set_observation (info, "relay", "198.51.100.1:40001", TRUE);
  g_object_get (info, "observed-address", &observed, "nat-type", &type, NULL);
  g_assert_cmpstr (observed, ==, "198.51.100.1:40001");
  g_assert_cmpint (type, ==, WZP_NAT_TYPE_UNKNOWN);
  g_assert_cmpuint (observed_notified, ==, 1);
  g_assert_cmpuint (type_notified, ==, 0);

  /* A second reflector agrees: cone. */
  _wzp_network_info_set_observation (info, "wzps://b:4433", "198.51.100.1:40001", FALSE);
  g_assert_cmpint (_wzp_network_info_get_nat_type (info, G_SOCKET_FAMILY_IPV4), ==,
                   WZP_NAT_TYPE_CONE);
  g_assert_cmpuint (type_notified, ==, 1);
  g_assert_cmpuint (observed_notified, ==, 1);
  g_assert_nonnull (strstr (_wzp_network_info_get_nat_explanation (info, G_SOCKET_FAMILY_IPV4),
                            "cone"));

  /* Same again: no notification. */
  _wzp_network_info_set_observation (info, "wzps://b:4433", "198.51.100.1:40001", FALSE);
  g_assert_cmpuint (type_notified, ==, 1);

  /* It sees another port: symmetric. */
  _wzp_network_info_set_observation (info, "wzps://b:4433", "198.51.100.1:61000", FALSE);
  g_assert_cmpint (_wzp_network_info_get_nat_type (info, G_SOCKET_FAMILY_IPV4), ==,
                   WZP_NAT_TYPE_SYMMETRIC);
  g_assert_cmpuint (type_notified, ==, 2);

  /* A private answer is not evidence. */
  _wzp_network_info_set_observation (info, "wzps://b:4433", "10.0.0.1:40001", FALSE);
  g_assert_cmpint (_wzp_network_info_get_nat_type (info, G_SOCKET_FAMILY_IPV4), ==,
                   WZP_NAT_TYPE_UNKNOWN);

  /* IPv6, separately. */
  _wzp_network_info_set_observation (info, "relay6", "[2001:db8:9::1]:40001", FALSE);
  _wzp_network_info_set_observation (info, "b6", "[2001:db8:9::1]:40001", FALSE);
  g_assert_cmpint (_wzp_network_info_get_nat_type (info, G_SOCKET_FAMILY_IPV6), ==,
                   WZP_NAT_TYPE_CONE);
  g_assert_cmpuint (type6_notified, ==, 1);

  /* Forgetting. */
  _wzp_network_info_set_observation (info, "b6", NULL, FALSE);
  g_assert_cmpint (_wzp_network_info_get_nat_type (info, G_SOCKET_FAMILY_IPV6), ==,
                   WZP_NAT_TYPE_UNKNOWN);
  _wzp_network_info_clear_observations (info);
  g_assert_null (_wzp_network_info_get_observed_address (info));
  g_assert_cmpuint (observed_notified, ==, 2);

  g_assert_finalize_object (g_steal_pointer (&info));
}

static void
test_apply_measurement (void)
{
  g_autoptr(WzpNetworkInfo) info = _wzp_network_info_new (40001, FALSE);
  WzpNatMeasurement m = { 0 };
  WzpReflexiveResult relay = { "relay", "198.51.100.1:40001", NULL, 1000 };
  WzpReflexiveResult b = { "b", "198.51.100.1:40001", NULL, 2000 };
  WzpReflexiveResult failed = { "b", NULL, NULL, 3000 };

  m.results = g_ptr_array_new ();
  g_ptr_array_add (m.results, &relay);
  g_ptr_array_add (m.results, &b);
  _wzp_network_info_apply_measurement (info, &m, "relay");
  g_assert_cmpstr (_wzp_network_info_get_observed_address (info), ==, "198.51.100.1:40001");
  g_assert_cmpint (_wzp_network_info_get_nat_type (info, G_SOCKET_FAMILY_IPV4), ==,
                   WZP_NAT_TYPE_CONE);

  /* A later measurement where b failed forgets b's old answer. */
  g_ptr_array_set_size (m.results, 0);
  g_ptr_array_add (m.results, &relay);
  g_ptr_array_add (m.results, &failed);
  _wzp_network_info_apply_measurement (info, &m, "relay");
  g_assert_cmpint (_wzp_network_info_get_nat_type (info, G_SOCKET_FAMILY_IPV4), ==,
                   WZP_NAT_TYPE_UNKNOWN);

  g_ptr_array_unref (m.results);
  g_assert_finalize_object (g_steal_pointer (&info));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/wzp/network-info/gather", test_gather);
  g_test_add_func ("/wzp/network-info/lists", test_lists);
  g_test_add_func ("/wzp/network-info/network-changed", test_network_changed);
  g_test_add_func ("/wzp/network-info/concurrent-gathers", test_concurrent_gathers);
  g_test_add_func ("/wzp/network-info/observations", test_observations);
  g_test_add_func ("/wzp/network-info/apply-measurement", test_apply_measurement);

  return g_test_run ();
}
