/* wzp-nat-type.c: NAT mapping type classification and measurement
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "wzp-address-private.h"
#include "wzp-nat-type-private.h"

const char *
_wzp_nat_type_to_string (WzpNatType type)
{
  switch (type)
    {
    case WZP_NAT_TYPE_UNKNOWN: return "unknown";
    case WZP_NAT_TYPE_NONE: return "none";
    case WZP_NAT_TYPE_CONE: return "cone";
    case WZP_NAT_TYPE_SYMMETRIC: return "symmetric";
    case WZP_NAT_TYPE_MULTIPLE: return "multiple";
    default: return "?";
    }
}

typedef struct {
  const char   *reflector;
  const char   *observed;
  GInetAddress *inet;
  guint16       port;
} Evidence;

static void
evidence_clear (gpointer data)
{
  g_clear_object (&((Evidence *) data)->inet);
}

static gboolean
is_own_address (GInetAddress       *inet,
                const char * const *own_addresses)
{
  for (gsize i = 0; own_addresses != NULL && own_addresses[i] != NULL; i++)
    {
      g_autoptr(GInetAddress) own = _wzp_address_parse_ip (own_addresses[i]);

      if (own == NULL)
        {
          /* Tolerate "ip:port" too. */
          if (!_wzp_address_parse_parts (own_addresses[i], &own, NULL))
            continue;
        }
      if (g_inet_address_equal (own, inet))
        return TRUE;
    }
  return FALSE;
}

WzpNatType
_wzp_nat_type_classify (GSocketFamily             family,
                        const char * const       *own_addresses,
                        const WzpReflexiveAnswer *answers,
                        gsize                     n_answers,
                        char                    **explanation)
{
  g_autoptr(GArray) evidence = g_array_new (FALSE, TRUE, sizeof (Evidence));
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GString) dropped = g_string_new (NULL);
  const char *family_name = family == G_SOCKET_FAMILY_IPV4 ? "IPv4" : "IPv6";
  WzpNatType type;
  gboolean all_own = TRUE;
  gboolean ips_differ = FALSE;
  gboolean ports_differ = FALSE;

  g_return_val_if_fail (family == G_SOCKET_FAMILY_IPV4 || family == G_SOCKET_FAMILY_IPV6,
                        WZP_NAT_TYPE_UNKNOWN);
  g_return_val_if_fail (answers != NULL || n_answers == 0, WZP_NAT_TYPE_UNKNOWN);

  g_array_set_clear_func (evidence, evidence_clear);

  for (gsize i = 0; i < n_answers; i++)
    {
      const WzpReflexiveAnswer *answer = &answers[i];
      const char *reflector = answer->reflector != NULL ? answer->reflector : "?";
      g_autoptr(GInetAddress) inet = NULL;
      gboolean superseded = FALSE;
      WzpAddressClass klass;
      guint16 port;

      /* The last answer of a reflector wins. */
      for (gsize j = i + 1; j < n_answers && !superseded; j++)
        superseded = g_strcmp0 (answers[j].reflector, answer->reflector) == 0;
      if (superseded || answer->observed == NULL)
        continue;

      if (!_wzp_address_parse_parts (answer->observed, &inet, &port))
        {
          g_string_append_printf (dropped, "%s%s's \"%s\" (not an address)",
                                  dropped->len ? ", " : "", reflector, answer->observed);
          continue;
        }
      if (g_inet_address_get_family (inet) != family)
        continue;

      klass = _wzp_address_classify (inet);
      if (klass != WZP_ADDRESS_CLASS_GLOBAL)
        {
          g_string_append_printf (dropped, "%s%s's %s (%s, not evidence)",
                                  dropped->len ? ", " : "", reflector, answer->observed,
                                  _wzp_address_class_to_string (klass));
          continue;
        }

      {
        Evidence e = { reflector, answer->observed, g_steal_pointer (&inet), port };

        if (!is_own_address (e.inet, own_addresses))
          all_own = FALSE;
        if (evidence->len > 0)
          {
            Evidence *first = &g_array_index (evidence, Evidence, 0);

            if (!g_inet_address_equal (first->inet, e.inet))
              ips_differ = TRUE;
            else if (first->port != e.port)
              ports_differ = TRUE;
          }
        g_array_append_val (evidence, e);
      }
    }

  if (evidence->len == 0)
    {
      type = WZP_NAT_TYPE_UNKNOWN;
      g_string_append_printf (text, "%s: unknown, no usable answer", family_name);
    }
  else if (all_own)
    {
      type = WZP_NAT_TYPE_NONE;
      g_string_append_printf (text, "%s: none, %s is one of this host's addresses",
                              family_name, g_array_index (evidence, Evidence, 0).observed);
    }
  else if (evidence->len < 2)
    {
      type = WZP_NAT_TYPE_UNKNOWN;
      g_string_append_printf (text, "%s: unknown, only %s answered (%s)", family_name,
                              g_array_index (evidence, Evidence, 0).reflector,
                              g_array_index (evidence, Evidence, 0).observed);
    }
  else
    {
      if (ips_differ)
        type = WZP_NAT_TYPE_MULTIPLE;
      else if (ports_differ)
        type = WZP_NAT_TYPE_SYMMETRIC;
      else
        type = WZP_NAT_TYPE_CONE;

      g_string_append_printf (text, "%s: %s, ", family_name, _wzp_nat_type_to_string (type));
      for (guint i = 0; i < evidence->len; i++)
        {
          Evidence *e = &g_array_index (evidence, Evidence, i);
          g_string_append_printf (text, "%s%s saw %s", i > 0 ? ", " : "", e->reflector,
                                  e->observed);
        }
    }

  if (dropped->len > 0)
    g_string_append_printf (text, "; dropped %s", dropped->str);

  if (explanation != NULL)
    *explanation = g_strdup (text->str);
  return type;
}

/* ------------------------------------------------------------------------------------ */
/* Measurement                                                                          */
/* ------------------------------------------------------------------------------------ */

struct _WzpReflexiveProbe {
  char                        *reflector;
  WzpReflexiveProbeFunc        start;
  WzpReflexiveProbeFinishFunc  finish;
  gpointer                     data;
  GDestroyNotify               destroy;
};

WzpReflexiveProbe *
_wzp_reflexive_probe_new (const char                  *reflector,
                          WzpReflexiveProbeFunc        start,
                          WzpReflexiveProbeFinishFunc  finish,
                          gpointer                     probe_data,
                          GDestroyNotify               destroy)
{
  WzpReflexiveProbe *probe;

  g_return_val_if_fail (reflector != NULL, NULL);
  g_return_val_if_fail (start != NULL && finish != NULL, NULL);

  probe = g_new0 (WzpReflexiveProbe, 1);
  probe->reflector = g_strdup (reflector);
  probe->start = start;
  probe->finish = finish;
  probe->data = probe_data;
  probe->destroy = destroy;
  return probe;
}

void
_wzp_reflexive_probe_free (WzpReflexiveProbe *probe)
{
  if (probe == NULL)
    return;
  if (probe->destroy != NULL)
    probe->destroy (probe->data);
  g_free (probe->reflector);
  g_free (probe);
}

static void
reflexive_result_free (WzpReflexiveResult *result)
{
  if (result == NULL)
    return;
  g_free (result->reflector);
  g_free (result->observed);
  g_clear_error (&result->error);
  g_free (result);
}

void
_wzp_nat_measurement_free (WzpNatMeasurement *measurement)
{
  if (measurement == NULL)
    return;
  g_clear_pointer (&measurement->results, g_ptr_array_unref);
  g_free (measurement->ipv4_explanation);
  g_free (measurement->ipv6_explanation);
  g_free (measurement);
}

GArray *
_wzp_nat_measurement_get_answers (const WzpNatMeasurement *measurement)
{
  GArray *answers = g_array_new (FALSE, TRUE, sizeof (WzpReflexiveAnswer));

  for (guint i = 0; measurement != NULL && i < measurement->results->len; i++)
    {
      const WzpReflexiveResult *r = measurement->results->pdata[i];
      WzpReflexiveAnswer answer = { r->reflector, r->observed };

      g_array_append_val (answers, answer);
    }
  return answers;
}

/* Shared by the task and every probe in flight, so that the task can return at the
 * deadline while late callbacks still find their state. */
typedef struct {
  gatomicrefcount  ref;
  GTask           *task;          /* NULL once returned */
  GPtrArray       *probes;
  GStrv            own_addresses;
  GCancellable    *probe_cancellable;
  GPtrArray       *results;       /* WzpReflexiveResult, NULL slots while pending */
  guint            pending;
  guint            timeout_ms;
  gint64           start;
  GSource         *deadline;
  GSource         *cancel_source;
} Measure;

typedef struct {
  Measure *measure;
  guint    index;
} ProbeCall;

static Measure *
measure_ref (Measure *m)
{
  g_atomic_ref_count_inc (&m->ref);
  return m;
}

static void
measure_unref (Measure *m)
{
  if (!g_atomic_ref_count_dec (&m->ref))
    return;
  g_assert (m->task == NULL);
  g_clear_pointer (&m->probes, g_ptr_array_unref);
  g_strfreev (m->own_addresses);
  g_clear_object (&m->probe_cancellable);
  g_clear_pointer (&m->results, g_ptr_array_unref);
  g_free (m);
}

static void
measure_destroy_sources (Measure *m)
{
  if (m->deadline != NULL)
    {
      g_source_destroy (m->deadline);
      g_clear_pointer (&m->deadline, g_source_unref);
    }
  if (m->cancel_source != NULL)
    {
      g_source_destroy (m->cancel_source);
      g_clear_pointer (&m->cancel_source, g_source_unref);
    }
}

static void
measure_complete (Measure *m)
{
  g_autoptr(GTask) task = g_steal_pointer (&m->task);
  WzpNatMeasurement *result;
  g_autoptr(GArray) answers = NULL;

  g_assert (task != NULL);
  measure_destroy_sources (m);
  g_cancellable_cancel (m->probe_cancellable);   /* stragglers */

  result = g_new0 (WzpNatMeasurement, 1);
  result->results = g_ptr_array_new_with_free_func ((GDestroyNotify) reflexive_result_free);
  for (guint i = 0; i < m->probes->len; i++)
    {
      WzpReflexiveResult *r = m->results->pdata[i];

      if (r == NULL)
        {
          WzpReflexiveProbe *probe = m->probes->pdata[i];

          r = g_new0 (WzpReflexiveResult, 1);
          r->reflector = g_strdup (probe->reflector);
          r->error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                  "No answer from %s within %u ms", probe->reflector,
                                  m->timeout_ms);
          r->elapsed_us = g_get_monotonic_time () - m->start;
        }
      else
        m->results->pdata[i] = NULL;
      g_ptr_array_add (result->results, r);
    }
  result->elapsed_us = g_get_monotonic_time () - m->start;

  answers = _wzp_nat_measurement_get_answers (result);
  result->ipv4_type = _wzp_nat_type_classify (G_SOCKET_FAMILY_IPV4,
                                              (const char * const *) m->own_addresses,
                                              (WzpReflexiveAnswer *) answers->data, answers->len,
                                              &result->ipv4_explanation);
  result->ipv6_type = _wzp_nat_type_classify (G_SOCKET_FAMILY_IPV6,
                                              (const char * const *) m->own_addresses,
                                              (WzpReflexiveAnswer *) answers->data, answers->len,
                                              &result->ipv6_explanation);
  g_debug ("NAT type: %s; %s (%" G_GINT64_FORMAT " ms)", result->ipv4_explanation,
           result->ipv6_explanation, result->elapsed_us / 1000);

  g_task_return_pointer (task, result, (GDestroyNotify) _wzp_nat_measurement_free);
}

static void
probe_done_cb (GObject      *source_object,
               GAsyncResult *async_result,
               gpointer      user_data)
{
  ProbeCall *call = user_data;
  Measure *m = call->measure;
  WzpReflexiveProbe *probe = m->probes->pdata[call->index];
  g_autoptr(GError) error = NULL;
  g_autofree char *observed = probe->finish (probe->data, async_result, &error);

  m->pending--;
  if (m->task != NULL)
    {
      WzpReflexiveResult *r = g_new0 (WzpReflexiveResult, 1);

      r->reflector = g_strdup (probe->reflector);
      r->elapsed_us = g_get_monotonic_time () - m->start;
      if (observed != NULL)
        r->observed = g_steal_pointer (&observed);
      else if (error != NULL)
        r->error = g_steal_pointer (&error);
      else
        r->error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "%s gave no address",
                                probe->reflector);
      g_debug ("NAT type: %s answered %s after %" G_GINT64_FORMAT " ms", r->reflector,
               r->observed ? r->observed : r->error->message, r->elapsed_us / 1000);
      m->results->pdata[call->index] = r;

      if (m->pending == 0)
        measure_complete (m);
    }

  measure_unref (m);
  g_free (call);
}

static gboolean
deadline_cb (gpointer user_data)
{
  Measure *m = user_data;

  if (m->task != NULL)
    measure_complete (m);
  return G_SOURCE_REMOVE;
}

static gboolean
cancelled_cb (GCancellable *cancellable,
              gpointer      user_data)
{
  Measure *m = user_data;
  g_autoptr(GTask) task = g_steal_pointer (&m->task);

  if (task == NULL)
    return G_SOURCE_REMOVE;
  measure_destroy_sources (m);
  g_cancellable_cancel (m->probe_cancellable);
  g_task_return_error_if_cancelled (task);
  return G_SOURCE_REMOVE;
}

void
_wzp_nat_type_measure_async (GPtrArray           *probes,
                             const char * const  *own_addresses,
                             guint                timeout_ms,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  GTask *task;
  Measure *m;
  GMainContext *context;

  g_return_if_fail (probes != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, _wzp_nat_type_measure_async);
  g_task_set_check_cancellable (task, FALSE);

  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }

  m = g_new0 (Measure, 1);
  g_atomic_ref_count_init (&m->ref);
  m->task = task;
  m->probes = g_ptr_array_ref (probes);
  m->own_addresses = g_strdupv ((char **) own_addresses);
  m->probe_cancellable = g_cancellable_new ();
  m->results = g_ptr_array_new_with_free_func ((GDestroyNotify) reflexive_result_free);
  g_ptr_array_set_size (m->results, probes->len);
  m->timeout_ms = timeout_ms > 0 ? timeout_ms : WZP_NAT_PROBE_TIMEOUT_MS;
  m->start = g_get_monotonic_time ();
  context = g_task_get_context (task);

  /* The task data keeps one reference until the task is freed. */
  g_task_set_task_data (task, measure_ref (m), (GDestroyNotify) measure_unref);

  m->deadline = g_timeout_source_new (m->timeout_ms);
  g_source_set_callback (m->deadline, deadline_cb, m, NULL);
  g_source_set_static_name (m->deadline, "[wzp] NAT type deadline");
  g_source_attach (m->deadline, context);

  if (cancellable != NULL)
    {
      m->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (m->cancel_source, G_SOURCE_FUNC (cancelled_cb), m, NULL);
      g_source_set_static_name (m->cancel_source, "[wzp] NAT type cancelled");
      g_source_attach (m->cancel_source, context);
    }

  if (probes->len == 0)
    {
      measure_complete (m);
      measure_unref (m);
      return;
    }

  m->pending = probes->len;
  /* Start them all before any can complete synchronously and free the task under us. */
  measure_ref (m);
  for (guint i = 0; i < probes->len; i++)
    {
      WzpReflexiveProbe *probe = probes->pdata[i];
      ProbeCall *call = g_new0 (ProbeCall, 1);

      call->measure = measure_ref (m);
      call->index = i;
      probe->start (probe->data, m->probe_cancellable, probe_done_cb, call);
    }
  measure_unref (m);
  measure_unref (m);   /* the initial reference; the task data and the calls hold theirs */
}

WzpNatMeasurement *
_wzp_nat_type_measure_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        _wzp_nat_type_measure_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
