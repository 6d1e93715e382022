/* test-nat-type.c: the NAT mapping classification table, and the concurrent measurement
 * with fake probes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "wzp-nat-type-private.h"

#define V4 G_SOCKET_FAMILY_IPV4
#define V6 G_SOCKET_FAMILY_IPV6

/* The host: a LAN address, a CGNAT address, a global IPv6 and one public IPv4
 * (as on a server or with a routed /29). */
static const char * const own[] = {
  "127.0.0.1", "::1", "192.168.1.5", "100.64.0.21", "2001:db8:1::5", "198.51.100.77", NULL
};

typedef struct {
  const char         *name;
  GSocketFamily       family;
  WzpReflexiveAnswer  answers[4];
  WzpNatType          expected;
} ClassifyCase;

static const ClassifyCase classify_cases[] = {
  /* The basic outcomes. */
  { "no answers", V4, { { NULL, NULL } }, WZP_NAT_TYPE_UNKNOWN },
  { "one answer", V4, { { "relay", "198.51.100.1:40001" } }, WZP_NAT_TYPE_UNKNOWN },
  { "cone", V4,
    { { "relay", "198.51.100.1:40001" }, { "b", "198.51.100.1:40001" } }, WZP_NAT_TYPE_CONE },
  { "cone with three", V4,
    { { "relay", "198.51.100.1:40001" }, { "b", "198.51.100.1:40001" },
      { "c", "198.51.100.1:40001" } }, WZP_NAT_TYPE_CONE },
  { "symmetric", V4,
    { { "relay", "198.51.100.1:40001" }, { "b", "198.51.100.1:51234" } },
    WZP_NAT_TYPE_SYMMETRIC },
  { "symmetric on the third", V4,
    { { "relay", "198.51.100.1:40001" }, { "b", "198.51.100.1:40001" },
      { "c", "198.51.100.1:40002" } }, WZP_NAT_TYPE_SYMMETRIC },
  { "multiple", V4,
    { { "relay", "198.51.100.1:40001" }, { "b", "198.51.100.2:40001" } },
    WZP_NAT_TYPE_MULTIPLE },
  { "multiple wins over symmetric", V4,
    { { "relay", "198.51.100.1:40001" }, { "b", "198.51.100.1:40009" },
      { "c", "198.51.100.2:40001" } }, WZP_NAT_TYPE_MULTIPLE },
  { "none, one answer", V4, { { "relay", "198.51.100.77:40001" } }, WZP_NAT_TYPE_NONE },
  { "none, two answers", V4,
    { { "relay", "198.51.100.77:40001" }, { "b", "198.51.100.77:40001" } },
    WZP_NAT_TYPE_NONE },
  { "own and another address", V4,
    { { "relay", "198.51.100.77:40001" }, { "b", "198.51.100.1:40001" } },
    WZP_NAT_TYPE_MULTIPLE },

  /* Non-evidence is dropped first. */
  { "private dropped", V4,
    { { "relay", "192.168.1.1:40001" }, { "b", "198.51.100.1:40001" } },
    WZP_NAT_TYPE_UNKNOWN },
  { "two private answers are not cone", V4,
    { { "relay", "10.0.0.1:40001" }, { "b", "10.0.0.1:40001" } }, WZP_NAT_TYPE_UNKNOWN },
  /* A relay on the LAN sees our own private address: dropped before "own → none". */
  { "own private address is not none", V4,
    { { "relay", "192.168.1.5:40001" }, { "b", "192.168.1.5:40001" } },
    WZP_NAT_TYPE_UNKNOWN },
  { "own CGNAT address is not none", V4,
    { { "relay", "100.64.0.21:40001" } }, WZP_NAT_TYPE_UNKNOWN },
  { "CGNAT dropped", V4,
    { { "relay", "100.64.0.1:40001" }, { "b", "100.64.0.1:40001" },
      { "c", "198.51.100.1:40001" } }, WZP_NAT_TYPE_UNKNOWN },
  { "loopback dropped", V4,
    { { "relay", "127.0.0.1:40001" }, { "b", "127.0.0.1:40001" } }, WZP_NAT_TYPE_UNKNOWN },
  { "link-local dropped", V4,
    { { "relay", "169.254.1.1:40001" }, { "b", "169.254.1.1:40001" } },
    WZP_NAT_TYPE_UNKNOWN },
  { "unspecified and multicast dropped", V4,
    { { "relay", "0.0.0.0:40001" }, { "b", "224.0.0.1:40001" } }, WZP_NAT_TYPE_UNKNOWN },
  { "dropped answers do not make multiple", V4,
    { { "relay", "198.51.100.1:40001" }, { "b", "10.1.1.1:5000" },
      { "c", "198.51.100.1:40001" } }, WZP_NAT_TYPE_CONE },
  { "garbage dropped", V4,
    { { "relay", "not an address" }, { "b", "198.51.100.1" },
      { "c", "198.51.100.1:40001" } }, WZP_NAT_TYPE_UNKNOWN },
  { "no answer (NULL) ignored", V4,
    { { "relay", NULL }, { "b", "198.51.100.1:40001" }, { "c", "198.51.100.1:40001" } },
    WZP_NAT_TYPE_CONE },

  /* Reflectors count once; the last answer wins. */
  { "one reflector twice is one answer", V4,
    { { "relay", "198.51.100.1:40001" }, { "relay", "198.51.100.1:40001" } },
    WZP_NAT_TYPE_UNKNOWN },
  { "one reflector, changed port, is not symmetric", V4,
    { { "relay", "198.51.100.1:40001" }, { "relay", "198.51.100.1:40002" } },
    WZP_NAT_TYPE_UNKNOWN },
  { "the latest answer counts", V4,
    { { "relay", "198.51.100.1:40001" }, { "b", "198.51.100.1:40009" },
      { "relay", "198.51.100.1:40009" } }, WZP_NAT_TYPE_CONE },

  /* Per family. */
  { "IPv6 answers do not count for IPv4", V4,
    { { "relay", "198.51.100.1:40001" }, { "b", "[2001:db8:9::1]:40001" } },
    WZP_NAT_TYPE_UNKNOWN },
  { "IPv4 answers do not count for IPv6", V6,
    { { "relay", "198.51.100.1:40001" }, { "b", "198.51.100.1:40001" } },
    WZP_NAT_TYPE_UNKNOWN },
  { "IPv6 own address: none", V6,
    { { "relay", "[2001:db8:1::5]:40001" }, { "b", "[2001:db8:1::5]:40001" } },
    WZP_NAT_TYPE_NONE },
  { "IPv6 cone (NPTv6 or NAT66)", V6,
    { { "relay", "[2001:db8:9::1]:40001" }, { "b", "[2001:db8:9::1]:40001" } },
    WZP_NAT_TYPE_CONE },
  { "IPv6 symmetric", V6,
    { { "relay", "[2001:db8:9::1]:40001" }, { "b", "[2001:db8:9::1]:40002" } },
    WZP_NAT_TYPE_SYMMETRIC },
  { "ULA dropped", V6,
    { { "relay", "[fd00::1]:40001" }, { "b", "[fd00::1]:40001" } }, WZP_NAT_TYPE_UNKNOWN },
  { "IPv6 link-local and loopback dropped", V6,
    { { "relay", "[fe80::1]:40001" }, { "b", "[::1]:40001" } }, WZP_NAT_TYPE_UNKNOWN },
  { "IPv4-mapped counts as IPv4", V4,
    { { "relay", "[::ffff:198.51.100.1]:40001" }, { "b", "198.51.100.1:40001" } },
    WZP_NAT_TYPE_CONE },
  { "IPv4-mapped own address", V4,
    { { "relay", "[::ffff:198.51.100.77]:40001" } }, WZP_NAT_TYPE_NONE },
};

static void
test_classify (gconstpointer data)
{
  const ClassifyCase *c = data;
  g_autofree char *explanation = NULL;
  gsize n = 0;
  WzpNatType type;

  while (n < G_N_ELEMENTS (c->answers) && c->answers[n].reflector != NULL)
    n++;

  type = _wzp_nat_type_classify (c->family, own, c->answers, n, &explanation);
  g_test_message ("%s", explanation);
  g_assert_cmpstr (_wzp_nat_type_to_string (type), ==, _wzp_nat_type_to_string (c->expected));
  g_assert_nonnull (explanation);
}

static void
test_classify_explanation (void)
{
  const WzpReflexiveAnswer answers[] = {
    { "relay", "198.51.100.1:40001" },
    { "wzps://b.example:4433", "198.51.100.1:40001" },
    { "c", "10.0.0.1:40001" },
  };
  g_autofree char *explanation = NULL;

  g_assert_cmpint (_wzp_nat_type_classify (V4, NULL, answers, G_N_ELEMENTS (answers),
                                           &explanation), ==, WZP_NAT_TYPE_CONE);
  g_assert_nonnull (strstr (explanation, "cone"));
  g_assert_nonnull (strstr (explanation, "wzps://b.example:4433 saw 198.51.100.1:40001"));
  g_assert_nonnull (strstr (explanation, "dropped c's 10.0.0.1:40001 (private"));

  /* No own addresses at all, and no explanation wanted. */
  g_assert_cmpint (_wzp_nat_type_classify (V4, NULL, answers, 2, NULL), ==, WZP_NAT_TYPE_CONE);
}

/* ------------------------------------------------------------------------------------ */
/* Measurement with fake probes                                                         */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  const char *answer;       /* NULL: fail */
  guint       delay_ms;
  gboolean    never;        /* answers only when cancelled */
  gboolean   *destroyed;
  gboolean   *saw_cancel;
} FakeProbe;

/* One start of a probe: answers after its delay, or when cancelled, whichever is first
 * (a "never" probe only when cancelled, like real I/O with no peer). */
typedef struct {
  FakeProbe *probe;
  GTask     *task;
  GSource   *timer;
  GSource   *cancel;
} FakeCall;

static void
fake_call_finish (FakeCall *call)
{
  g_autoptr(GTask) task = call->task;

  if (call->timer != NULL)
    {
      g_source_destroy (call->timer);
      g_source_unref (call->timer);
    }
  if (call->cancel != NULL)
    {
      g_source_destroy (call->cancel);
      g_source_unref (call->cancel);
    }
  g_free (call);

  if (g_task_return_error_if_cancelled (task))
    return;
  {
    FakeProbe *probe = g_task_get_task_data (task);

    if (probe->answer != NULL)
      g_task_return_pointer (task, g_strdup (probe->answer), g_free);
    else
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED,
                               "Connection refused");
  }
}

static gboolean
fake_answer_cb (gpointer user_data)
{
  fake_call_finish (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
fake_cancelled_cb (GCancellable *cancellable,
                   gpointer      user_data)
{
  FakeCall *call = user_data;

  if (call->probe->saw_cancel != NULL)
    *call->probe->saw_cancel = TRUE;
  fake_call_finish (call);
  return G_SOURCE_REMOVE;
}

static void
fake_start (gpointer             probe_data,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  FakeCall *call = g_new0 (FakeCall, 1);

  call->probe = probe_data;
  call->task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_task_data (call->task, call->probe, NULL);

  call->cancel = g_cancellable_source_new (cancellable);
  g_source_set_callback (call->cancel, G_SOURCE_FUNC (fake_cancelled_cb), call, NULL);
  g_source_attach (call->cancel, NULL);
  if (!call->probe->never)
    {
      call->timer = g_timeout_source_new (call->probe->delay_ms);
      g_source_set_callback (call->timer, fake_answer_cb, call, NULL);
      g_source_attach (call->timer, NULL);
    }
}

static char *
fake_finish (gpointer       probe_data,
             GAsyncResult  *result,
             GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
fake_destroy (gpointer data)
{
  FakeProbe *probe = data;

  if (probe->destroyed != NULL)
    *probe->destroyed = TRUE;
  g_free (probe);
}

static WzpReflexiveProbe *
fake_probe (const char *reflector,
            const char *answer,
            guint       delay_ms,
            gboolean    never,
            gboolean   *destroyed,
            gboolean   *saw_cancel)
{
  FakeProbe *probe = g_new0 (FakeProbe, 1);

  probe->answer = answer;
  probe->delay_ms = delay_ms;
  probe->never = never;
  probe->destroyed = destroyed;
  probe->saw_cancel = saw_cancel;
  return _wzp_reflexive_probe_new (reflector, fake_start, fake_finish, probe, fake_destroy);
}

static GPtrArray *
probe_array (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) _wzp_reflexive_probe_free);
}

static void
measure_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static gboolean
test_timeout_cb (gpointer user_data)
{
  g_assert_not_reached ();
  return G_SOURCE_REMOVE;
}

/* Iterates until *@flag is set; fails after 5 s. */
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

static WzpNatMeasurement *
measure (GPtrArray    *probes,
         guint         timeout_ms,
         GCancellable *cancellable,
         GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  _wzp_nat_type_measure_async (probes, own, timeout_ms, cancellable, measure_cb, &result);
  wait_for ((gpointer *) &result);
  return _wzp_nat_type_measure_finish (result, error);
}

static const WzpReflexiveResult *
result_at (WzpNatMeasurement *m,
           guint              i)
{
  g_assert_cmpuint (i, <, m->results->len);
  return m->results->pdata[i];
}

static void
test_measure_cone (void)
{
  g_autoptr(GPtrArray) probes = probe_array ();
  g_autoptr(WzpNatMeasurement) m = NULL;
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (probes, fake_probe ("relay", "198.51.100.1:40001", 30, FALSE, NULL, NULL));
  g_ptr_array_add (probes, fake_probe ("b", "198.51.100.1:40001", 10, FALSE, NULL, NULL));
  g_ptr_array_add (probes, fake_probe ("v6", "[2001:db8:1::5]:40001", 5, FALSE, NULL, NULL));

  m = measure (probes, 2000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->ipv4_type, ==, WZP_NAT_TYPE_CONE);
  g_assert_cmpint (m->ipv6_type, ==, WZP_NAT_TYPE_NONE);
  g_assert_cmpuint (m->results->len, ==, 3);
  /* Results stay in probe order, whatever order they came in. */
  g_assert_cmpstr (result_at (m, 0)->reflector, ==, "relay");
  g_assert_cmpstr (result_at (m, 0)->observed, ==, "198.51.100.1:40001");
  g_assert_null (result_at (m, 0)->error);
  g_assert_cmpstr (result_at (m, 1)->reflector, ==, "b");
  g_assert_cmpint (result_at (m, 0)->elapsed_us, >, result_at (m, 1)->elapsed_us);
  /* Concurrent: all done well before the deadline, near the slowest probe. */
  g_assert_cmpint (m->elapsed_us, <, 1000 * 1000);
  g_assert_cmpint (m->elapsed_us, >=, 30 * 1000);
}

static void
test_measure_symmetric_multiple (void)
{
  g_autoptr(GPtrArray) probes = probe_array ();
  g_autoptr(GPtrArray) probes2 = probe_array ();
  g_autoptr(WzpNatMeasurement) m = NULL;
  g_autoptr(WzpNatMeasurement) m2 = NULL;

  g_ptr_array_add (probes, fake_probe ("relay", "198.51.100.1:40001", 1, FALSE, NULL, NULL));
  g_ptr_array_add (probes, fake_probe ("b", "198.51.100.1:61000", 1, FALSE, NULL, NULL));
  m = measure (probes, 0, NULL, NULL);
  g_assert_cmpint (m->ipv4_type, ==, WZP_NAT_TYPE_SYMMETRIC);
  g_assert_cmpint (m->ipv6_type, ==, WZP_NAT_TYPE_UNKNOWN);

  g_ptr_array_add (probes2, fake_probe ("relay", "198.51.100.1:40001", 1, FALSE, NULL, NULL));
  g_ptr_array_add (probes2, fake_probe ("b", "198.51.100.9:40001", 1, FALSE, NULL, NULL));
  m2 = measure (probes2, 0, NULL, NULL);
  g_assert_cmpint (m2->ipv4_type, ==, WZP_NAT_TYPE_MULTIPLE);
}

static void
test_measure_deadline (void)
{
  g_autoptr(GPtrArray) probes = probe_array ();
  g_autoptr(WzpNatMeasurement) m = NULL;
  g_autoptr(GError) error = NULL;
  gboolean destroyed = FALSE;
  gboolean saw_cancel = FALSE;

  g_ptr_array_add (probes, fake_probe ("relay", "198.51.100.1:40001", 5, FALSE, NULL, NULL));
  g_ptr_array_add (probes, fake_probe ("silent", NULL, 0, TRUE, &destroyed, &saw_cancel));

  m = measure (probes, 200, NULL, &error);
  g_assert_no_error (error);
  /* Returned at the deadline, not later. */
  g_assert_cmpint (m->elapsed_us, >=, 190 * 1000);
  g_assert_cmpint (m->elapsed_us, <, 2000 * 1000);
  g_assert_cmpint (m->ipv4_type, ==, WZP_NAT_TYPE_UNKNOWN);
  g_assert_cmpstr (result_at (m, 0)->observed, ==, "198.51.100.1:40001");
  g_assert_null (result_at (m, 1)->observed);
  g_assert_error (result_at (m, 1)->error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (result_at (m, 1)->error->message, "silent"));

  /* The silent probe was cancelled; once it calls back, its data goes with the array. */
  spin (50);
  g_assert_true (saw_cancel);
  g_assert_false (destroyed);      /* the caller's array still holds it */
  g_clear_pointer (&probes, g_ptr_array_unref);
  g_assert_true (destroyed);
}

static void
test_measure_failure (void)
{
  g_autoptr(GPtrArray) probes = probe_array ();
  g_autoptr(WzpNatMeasurement) m = NULL;

  g_ptr_array_add (probes, fake_probe ("relay", "198.51.100.1:40001", 1, FALSE, NULL, NULL));
  g_ptr_array_add (probes, fake_probe ("broken", NULL, 1, FALSE, NULL, NULL));
  m = measure (probes, 1000, NULL, NULL);

  /* A failure does not wait for the deadline. */
  g_assert_cmpint (m->elapsed_us, <, 900 * 1000);
  g_assert_error (result_at (m, 1)->error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_cmpint (m->ipv4_type, ==, WZP_NAT_TYPE_UNKNOWN);
}

static void
test_measure_empty (void)
{
  g_autoptr(GPtrArray) probes = probe_array ();
  g_autoptr(WzpNatMeasurement) m = measure (probes, 1000, NULL, NULL);

  g_assert_cmpuint (m->results->len, ==, 0);
  g_assert_cmpint (m->ipv4_type, ==, WZP_NAT_TYPE_UNKNOWN);
  g_assert_cmpint (m->ipv6_type, ==, WZP_NAT_TYPE_UNKNOWN);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_measure_cancelled (void)
{
  g_autoptr(GPtrArray) probes = probe_array ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  WzpNatMeasurement *m;
  gboolean saw_cancel = FALSE;
  gint64 start = g_get_monotonic_time ();

  g_ptr_array_add (probes, fake_probe ("silent", NULL, 0, TRUE, NULL, &saw_cancel));
  g_ptr_array_add (probes, fake_probe ("slow", "198.51.100.1:1", 3000, FALSE, NULL, NULL));
  g_timeout_add (50, cancel_cb, cancellable);

  m = measure (probes, 5000, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (m);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 1000 * 1000);
  spin (20);
  g_assert_true (saw_cancel);

  /* Already cancelled: no probe starts. */
  {
    g_autoptr(GPtrArray) more = probe_array ();
    g_autoptr(GError) error2 = NULL;
    gboolean saw = FALSE;

    g_ptr_array_add (more, fake_probe ("silent", NULL, 0, TRUE, NULL, &saw));
    m = measure (more, 5000, cancellable, &error2);
    g_assert_error (error2, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_null (m);
    spin (10);
    g_assert_false (saw);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (classify_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/wzp/nat-type/classify/%s",
                                               classify_cases[i].name);
      g_strdelimit (path + strlen ("/wzp/nat-type/classify/"), " ,()/", '-');
      g_test_add_data_func (path, &classify_cases[i], test_classify);
    }
  g_test_add_func ("/wzp/nat-type/classify-explanation", test_classify_explanation);
  g_test_add_func ("/wzp/nat-type/measure/cone", test_measure_cone);
  g_test_add_func ("/wzp/nat-type/measure/symmetric-multiple", test_measure_symmetric_multiple);
  g_test_add_func ("/wzp/nat-type/measure/deadline", test_measure_deadline);
  g_test_add_func ("/wzp/nat-type/measure/failure", test_measure_failure);
  g_test_add_func ("/wzp/nat-type/measure/empty", test_measure_empty);
  g_test_add_func ("/wzp/nat-type/measure/cancelled", test_measure_cancelled);

  return g_test_run ();
}
