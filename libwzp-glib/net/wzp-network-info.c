/* wzp-network-info.c: host candidates, observations and NAT type, kept up to date
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "wzp-enum-types.h"
#include "wzp-network-info-private.h"

/* After an address was skipped as tentative (DAD running), look again this soon, a few
 * times: GNetworkMonitor does not report the end of DAD. */
#define TENTATIVE_RETRY_MS 1500
#define TENTATIVE_RETRIES  5

typedef struct {
  char *reflector;
  char *observed;
} Observation;

struct _WzpNetworkInfo
{
  GObject           parent_instance;

  GMainContext     *context;
  GCancellable     *cancellable;
  GNetworkMonitor  *monitor;

  guint16           port;
  gboolean          loopback_only;
  GStrv             deny_list;
  GStrv             allow_list;
  guint             debounce_ms;

  /* Gathering. */
  GArray           *ifaddrs;          /* WzpIfAddr of the last enumeration */
  GStrv             own_addresses;
  GPtrArray        *candidates;       /* WzpCandidate */
  gint64            gather_time_us;
  gboolean          gathering;
  gboolean          gather_again;
  GSList           *waiting_current;  /* GTask, completed by the gathering in flight */
  GSList           *waiting_next;     /* GTask, completed by the one after it */
  GSource          *debounce_source;
  GSource          *tentative_source;
  guint             tentative_retries;

  /* Observations and classification. */
  GPtrArray        *observations;     /* Observation, in arrival order */
  char             *observed_address;
  WzpNatType        nat_type;
  WzpNatType        nat_type_ipv6;
  char             *explanation;
  char             *explanation_ipv6;
};

G_DEFINE_FINAL_TYPE (WzpNetworkInfo, _wzp_network_info, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PORT,
  PROP_NETWORK_MONITOR,
  PROP_LOOPBACK_ONLY,
  PROP_DENY_LIST,
  PROP_ALLOW_LIST,
  PROP_DEBOUNCE_MS,
  PROP_HOST_CANDIDATES,
  PROP_NAT_TYPE,
  PROP_NAT_TYPE_IPV6,
  PROP_OBSERVED_ADDRESS,
  N_PROPS,
};
static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_GATHERED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

static void start_gathering (WzpNetworkInfo *self);

static void
observation_free (Observation *o)
{
  g_free (o->reflector);
  g_free (o->observed);
  g_free (o);
}

static gboolean
strv_equal0 (char **a,
             char **b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_strv_equal ((const char * const *) a, (const char * const *) b);
}

/* ------------------------------------------------------------------------------------ */
/* Classification                                                                       */
/* ------------------------------------------------------------------------------------ */

static void
reclassify (WzpNetworkInfo *self)
{
  g_autoptr(GArray) answers = g_array_new (FALSE, TRUE, sizeof (WzpReflexiveAnswer));
  g_autofree char *explanation = NULL;
  g_autofree char *explanation_ipv6 = NULL;
  WzpNatType type;
  WzpNatType type_ipv6;

  for (guint i = 0; i < self->observations->len; i++)
    {
      Observation *o = self->observations->pdata[i];
      WzpReflexiveAnswer answer = { o->reflector, o->observed };

      g_array_append_val (answers, answer);
    }

  type = _wzp_nat_type_classify (G_SOCKET_FAMILY_IPV4,
                                 (const char * const *) self->own_addresses,
                                 (WzpReflexiveAnswer *) answers->data, answers->len,
                                 &explanation);
  type_ipv6 = _wzp_nat_type_classify (G_SOCKET_FAMILY_IPV6,
                                      (const char * const *) self->own_addresses,
                                      (WzpReflexiveAnswer *) answers->data, answers->len,
                                      &explanation_ipv6);

  g_free (self->explanation);
  self->explanation = g_steal_pointer (&explanation);
  g_free (self->explanation_ipv6);
  self->explanation_ipv6 = g_steal_pointer (&explanation_ipv6);

  if (type != self->nat_type)
    {
      g_debug ("Network info: NAT type %s → %s", _wzp_nat_type_to_string (self->nat_type),
               self->explanation);
      self->nat_type = type;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAT_TYPE]);
    }
  if (type_ipv6 != self->nat_type_ipv6)
    {
      g_debug ("Network info: NAT type %s → %s", _wzp_nat_type_to_string (self->nat_type_ipv6),
               self->explanation_ipv6);
      self->nat_type_ipv6 = type_ipv6;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAT_TYPE_IPV6]);
    }
}

static void
set_observed_address (WzpNetworkInfo *self,
                      const char     *observed)
{
  if (g_strcmp0 (self->observed_address, observed) == 0)
    return;
  g_free (self->observed_address);
  self->observed_address = g_strdup (observed);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OBSERVED_ADDRESS]);
}

static gboolean
store_observation (WzpNetworkInfo *self,
                   const char     *reflector,
                   const char     *observed)
{
  for (guint i = 0; i < self->observations->len; i++)
    {
      Observation *o = self->observations->pdata[i];

      if (g_strcmp0 (o->reflector, reflector) != 0)
        continue;
      if (observed == NULL)
        {
          g_ptr_array_remove_index (self->observations, i);
          return TRUE;
        }
      if (g_strcmp0 (o->observed, observed) == 0)
        return FALSE;
      g_free (o->observed);
      o->observed = g_strdup (observed);
      return TRUE;
    }

  if (observed != NULL)
    {
      Observation *o = g_new0 (Observation, 1);

      o->reflector = g_strdup (reflector);
      o->observed = g_strdup (observed);
      g_ptr_array_add (self->observations, o);
      return TRUE;
    }
  return FALSE;
}

void
_wzp_network_info_set_observation (WzpNetworkInfo *self,
                                   const char     *reflector,
                                   const char     *observed,
                                   gboolean        own_relay)
{
  g_return_if_fail (WZP_IS_NETWORK_INFO (self));
  g_return_if_fail (reflector != NULL);

  g_object_freeze_notify (G_OBJECT (self));
  if (own_relay)
    set_observed_address (self, observed);
  if (store_observation (self, reflector, observed))
    reclassify (self);
  g_object_thaw_notify (G_OBJECT (self));
}

void
_wzp_network_info_clear_observations (WzpNetworkInfo *self)
{
  g_return_if_fail (WZP_IS_NETWORK_INFO (self));

  g_object_freeze_notify (G_OBJECT (self));
  g_ptr_array_set_size (self->observations, 0);
  set_observed_address (self, NULL);
  reclassify (self);
  g_object_thaw_notify (G_OBJECT (self));
}

void
_wzp_network_info_apply_measurement (WzpNetworkInfo          *self,
                                     const WzpNatMeasurement *measurement,
                                     const char              *own_relay)
{
  g_return_if_fail (WZP_IS_NETWORK_INFO (self));
  g_return_if_fail (measurement != NULL);

  g_object_freeze_notify (G_OBJECT (self));
  for (guint i = 0; i < measurement->results->len; i++)
    {
      const WzpReflexiveResult *r = measurement->results->pdata[i];

      store_observation (self, r->reflector, r->observed);
      if (own_relay != NULL && g_strcmp0 (own_relay, r->reflector) == 0)
        set_observed_address (self, r->observed);
    }
  reclassify (self);
  g_object_thaw_notify (G_OBJECT (self));
}

WzpNatType
_wzp_network_info_get_nat_type (WzpNetworkInfo *self,
                                GSocketFamily   family)
{
  g_return_val_if_fail (WZP_IS_NETWORK_INFO (self), WZP_NAT_TYPE_UNKNOWN);

  return family == G_SOCKET_FAMILY_IPV6 ? self->nat_type_ipv6 : self->nat_type;
}

const char *
_wzp_network_info_get_nat_explanation (WzpNetworkInfo *self,
                                       GSocketFamily   family)
{
  g_return_val_if_fail (WZP_IS_NETWORK_INFO (self), NULL);

  return family == G_SOCKET_FAMILY_IPV6 ? self->explanation_ipv6 : self->explanation;
}

const char *
_wzp_network_info_get_observed_address (WzpNetworkInfo *self)
{
  g_return_val_if_fail (WZP_IS_NETWORK_INFO (self), NULL);

  return self->observed_address;
}

/* ------------------------------------------------------------------------------------ */
/* Candidates                                                                           */
/* ------------------------------------------------------------------------------------ */

static gboolean
candidates_equal (GPtrArray *a,
                  GPtrArray *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  if (a->len != b->len)
    return FALSE;
  for (guint i = 0; i < a->len; i++)
    {
      WzpCandidate *x = a->pdata[i];
      WzpCandidate *y = b->pdata[i];

      if (g_strcmp0 (x->address, y->address) != 0 || g_strcmp0 (x->interface, y->interface) != 0)
        return FALSE;
    }
  return TRUE;
}

static gboolean
tentative_retry_cb (gpointer user_data)
{
  WzpNetworkInfo *self = user_data;

  g_clear_pointer (&self->tentative_source, g_source_unref);
  start_gathering (self);
  return G_SOURCE_REMOVE;
}

/* Applies the filter to the last enumeration. Returns whether the candidates changed. */
static gboolean
refilter (WzpNetworkInfo *self)
{
  WzpCandidateFilter filter = {
    .deny = (const char * const *) self->deny_list,
    .allow = (const char * const *) self->allow_list,
    .loopback_only = self->loopback_only,
  };
  g_autofree WzpSkipReason *reasons = NULL;
  g_autoptr(GPtrArray) candidates = NULL;
  gboolean tentative = FALSE;

  if (self->ifaddrs == NULL)
    return FALSE;

  reasons = g_new0 (WzpSkipReason, MAX (self->ifaddrs->len, 1));
  candidates = _wzp_candidates_filter ((const WzpIfAddr *) self->ifaddrs->data,
                                       self->ifaddrs->len, self->port, &filter, reasons);

  for (guint i = 0; i < self->ifaddrs->len; i++)
    tentative |= reasons[i] == WZP_SKIP_TENTATIVE;
  if (tentative && self->tentative_source == NULL && self->tentative_retries < TENTATIVE_RETRIES)
    {
      self->tentative_retries++;
      self->tentative_source = g_timeout_source_new (TENTATIVE_RETRY_MS);
      g_source_set_callback (self->tentative_source, tentative_retry_cb, self, NULL);
      g_source_set_static_name (self->tentative_source, "[wzp] tentative address retry");
      g_source_attach (self->tentative_source, self->context);
    }
  else if (!tentative)
    self->tentative_retries = 0;

  if (candidates_equal (candidates, self->candidates))
    return FALSE;

  g_clear_pointer (&self->candidates, g_ptr_array_unref);
  self->candidates = g_steal_pointer (&candidates);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HOST_CANDIDATES]);
  return TRUE;
}

static void
complete_waiting (GSList **list,
                  GError  *error)
{
  GSList *tasks = g_steal_pointer (list);

  for (GSList *l = tasks; l != NULL; l = l->next)
    {
      GTask *task = l->data;

      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_boolean (task, TRUE);
    }
  g_slist_free_full (tasks, g_object_unref);
}

static void
enumerate_cb (GObject      *source_object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(WzpNetworkInfo) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) ifaddrs = NULL;
  gint64 elapsed_us = 0;
  gboolean changed = FALSE;

  ifaddrs = _wzp_candidates_enumerate_finish (result, &elapsed_us, &error);
  self->gathering = FALSE;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      complete_waiting (&self->waiting_current, error);
      complete_waiting (&self->waiting_next, error);
      return;
    }

  if (ifaddrs == NULL)
    {
      g_debug ("Network info: gathering failed: %s", error->message);
      complete_waiting (&self->waiting_current, error);
    }
  else
    {
      g_auto(GStrv) own = _wzp_candidates_dup_own_addresses ((const WzpIfAddr *) ifaddrs->data,
                                                              ifaddrs->len);
      gboolean own_changed = !strv_equal0 (own, self->own_addresses);

      g_clear_pointer (&self->ifaddrs, g_array_unref);
      self->ifaddrs = g_steal_pointer (&ifaddrs);
      self->gather_time_us = elapsed_us;

      g_object_freeze_notify (G_OBJECT (self));
      changed = refilter (self);
      if (own_changed)
        {
          g_strfreev (self->own_addresses);
          self->own_addresses = g_steal_pointer (&own);
          reclassify (self);
        }
      g_object_thaw_notify (G_OBJECT (self));

      g_debug ("Network info: %u host candidates (%s) in %" G_GINT64_FORMAT " us",
               self->candidates ? self->candidates->len : 0, changed ? "changed" : "unchanged",
               elapsed_us);
      g_signal_emit (self, signals[SIGNAL_GATHERED], 0, changed);
      complete_waiting (&self->waiting_current, NULL);
    }

  self->waiting_current = g_steal_pointer (&self->waiting_next);
  if (self->gather_again || self->waiting_current != NULL)
    start_gathering (self);
}

static void
start_gathering (WzpNetworkInfo *self)
{
  if (self->gathering)
    {
      self->gather_again = TRUE;
      return;
    }

  if (self->debounce_source != NULL)
    {
      g_source_destroy (self->debounce_source);
      g_clear_pointer (&self->debounce_source, g_source_unref);
    }
  if (self->tentative_source != NULL)
    {
      g_source_destroy (self->tentative_source);
      g_clear_pointer (&self->tentative_source, g_source_unref);
    }

  self->gathering = TRUE;
  self->gather_again = FALSE;

  g_main_context_push_thread_default (self->context);
  _wzp_candidates_enumerate_async (self->cancellable, enumerate_cb, g_object_ref (self));
  g_main_context_pop_thread_default (self->context);
}

void
_wzp_network_info_gather_async (WzpNetworkInfo      *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (WZP_IS_NETWORK_INFO (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, _wzp_network_info_gather_async);

  if (self->gathering)
    {
      self->waiting_next = g_slist_append (self->waiting_next, task);
      self->gather_again = TRUE;
    }
  else
    {
      self->waiting_current = g_slist_append (self->waiting_current, task);
      start_gathering (self);
    }
}

gboolean
_wzp_network_info_gather_finish (WzpNetworkInfo  *self,
                                 GAsyncResult    *result,
                                 GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        _wzp_network_info_gather_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
debounce_cb (gpointer user_data)
{
  WzpNetworkInfo *self = user_data;

  g_clear_pointer (&self->debounce_source, g_source_unref);
  g_debug ("Network info: network changed, gathering again");
  start_gathering (self);
  return G_SOURCE_REMOVE;
}

void
_wzp_network_info_network_changed (WzpNetworkInfo *self)
{
  g_return_if_fail (WZP_IS_NETWORK_INFO (self));

  if (self->debounce_source != NULL)
    {
      g_source_destroy (self->debounce_source);
      g_clear_pointer (&self->debounce_source, g_source_unref);
    }
  self->tentative_retries = 0;
  self->debounce_source = g_timeout_source_new (self->debounce_ms);
  g_source_set_callback (self->debounce_source, debounce_cb, self, NULL);
  g_source_set_static_name (self->debounce_source, "[wzp] network change debounce");
  g_source_attach (self->debounce_source, self->context);
}

static gboolean
network_changed_idle_cb (gpointer user_data)
{
  _wzp_network_info_network_changed (WZP_NETWORK_INFO (user_data));
  return G_SOURCE_REMOVE;
}

/* GIO's default network monitor emits on the context of the thread that made it first,
 * which need not be ours (a GStreamer or GIO worker thread may have): the change is
 * handled on our context, never on the emitter's thread. */
static void
network_changed_cb (WzpNetworkInfo  *self,
                    gboolean         available,
                    GNetworkMonitor *monitor)
{
  if (g_main_context_is_owner (self->context))
    _wzp_network_info_network_changed (self);
  else
    g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, network_changed_idle_cb,
                                g_object_ref (self), g_object_unref);
}

GPtrArray *
_wzp_network_info_get_candidates (WzpNetworkInfo *self)
{
  g_return_val_if_fail (WZP_IS_NETWORK_INFO (self), NULL);

  return self->candidates;
}

GStrv
_wzp_network_info_dup_host_candidates (WzpNetworkInfo *self)
{
  g_return_val_if_fail (WZP_IS_NETWORK_INFO (self), NULL);

  return _wzp_candidates_dup_addresses (self->candidates);
}

GStrv
_wzp_network_info_dup_own_addresses (WzpNetworkInfo *self)
{
  g_return_val_if_fail (WZP_IS_NETWORK_INFO (self), NULL);

  return self->own_addresses != NULL ? g_strdupv (self->own_addresses) : g_new0 (char *, 1);
}

gint64
_wzp_network_info_get_gather_time (WzpNetworkInfo *self)
{
  g_return_val_if_fail (WZP_IS_NETWORK_INFO (self), 0);

  return self->gather_time_us;
}

guint16
_wzp_network_info_get_port (WzpNetworkInfo *self)
{
  g_return_val_if_fail (WZP_IS_NETWORK_INFO (self), 0);

  return self->port;
}

void
_wzp_network_info_set_port (WzpNetworkInfo *self,
                            guint16         port)
{
  g_return_if_fail (WZP_IS_NETWORK_INFO (self));

  if (self->port == port)
    return;
  self->port = port;
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORT]);
  refilter (self);
  g_object_thaw_notify (G_OBJECT (self));
}

static void
set_list (WzpNetworkInfo     *self,
          GStrv              *field,
          const char * const *value,
          GParamSpec         *pspec)
{
  g_auto(GStrv) copy = g_strdupv ((char **) value);

  if (strv_equal0 (copy, *field))
    return;
  g_strfreev (*field);
  *field = g_steal_pointer (&copy);
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), pspec);
  refilter (self);
  g_object_thaw_notify (G_OBJECT (self));
}

void
_wzp_network_info_set_deny_list (WzpNetworkInfo     *self,
                                 const char * const *deny)
{
  g_return_if_fail (WZP_IS_NETWORK_INFO (self));

  /* NULL restores the default; an empty list denies nothing. */
  set_list (self, &self->deny_list,
            deny != NULL ? deny : _wzp_candidates_get_default_deny_list (),
            properties[PROP_DENY_LIST]);
}

void
_wzp_network_info_set_allow_list (WzpNetworkInfo     *self,
                                  const char * const *allow)
{
  static const char * const empty[] = { NULL };

  g_return_if_fail (WZP_IS_NETWORK_INFO (self));

  set_list (self, &self->allow_list, allow != NULL ? allow : empty,
            properties[PROP_ALLOW_LIST]);
}

/* ------------------------------------------------------------------------------------ */
/* GObject                                                                              */
/* ------------------------------------------------------------------------------------ */

WzpNetworkInfo *
_wzp_network_info_new (guint16  port,
                       gboolean loopback_only)
{
  return g_object_new (WZP_TYPE_NETWORK_INFO,
                       "port", (guint) port,
                       "loopback-only", loopback_only,
                       NULL);
}

static void
_wzp_network_info_constructed (GObject *object)
{
  WzpNetworkInfo *self = WZP_NETWORK_INFO (object);

  G_OBJECT_CLASS (_wzp_network_info_parent_class)->constructed (object);

  if (self->monitor == NULL)
    self->monitor = g_object_ref (g_network_monitor_get_default ());
  g_signal_connect_object (self->monitor, "network-changed",
                           G_CALLBACK (network_changed_cb), self, G_CONNECT_SWAPPED);
}

static void
_wzp_network_info_dispose (GObject *object)
{
  WzpNetworkInfo *self = WZP_NETWORK_INFO (object);

  g_cancellable_cancel (self->cancellable);
  if (self->monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->monitor, self);
  g_clear_object (&self->monitor);
  if (self->debounce_source != NULL)
    {
      g_source_destroy (self->debounce_source);
      g_clear_pointer (&self->debounce_source, g_source_unref);
    }
  if (self->tentative_source != NULL)
    {
      g_source_destroy (self->tentative_source);
      g_clear_pointer (&self->tentative_source, g_source_unref);
    }

  G_OBJECT_CLASS (_wzp_network_info_parent_class)->dispose (object);
}

static void
_wzp_network_info_finalize (GObject *object)
{
  WzpNetworkInfo *self = WZP_NETWORK_INFO (object);

  g_assert (self->waiting_current == NULL && self->waiting_next == NULL);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_strfreev (self->deny_list);
  g_strfreev (self->allow_list);
  g_clear_pointer (&self->ifaddrs, g_array_unref);
  g_strfreev (self->own_addresses);
  g_clear_pointer (&self->candidates, g_ptr_array_unref);
  g_clear_pointer (&self->observations, g_ptr_array_unref);
  g_free (self->observed_address);
  g_free (self->explanation);
  g_free (self->explanation_ipv6);

  G_OBJECT_CLASS (_wzp_network_info_parent_class)->finalize (object);
}

static void
_wzp_network_info_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  WzpNetworkInfo *self = WZP_NETWORK_INFO (object);

  switch (prop_id)
    {
    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;
    case PROP_NETWORK_MONITOR:
      g_value_set_object (value, self->monitor);
      break;
    case PROP_LOOPBACK_ONLY:
      g_value_set_boolean (value, self->loopback_only);
      break;
    case PROP_DENY_LIST:
      g_value_set_boxed (value, self->deny_list);
      break;
    case PROP_ALLOW_LIST:
      g_value_set_boxed (value, self->allow_list);
      break;
    case PROP_DEBOUNCE_MS:
      g_value_set_uint (value, self->debounce_ms);
      break;
    case PROP_HOST_CANDIDATES:
      g_value_take_boxed (value, _wzp_candidates_dup_addresses (self->candidates));
      break;
    case PROP_NAT_TYPE:
      g_value_set_enum (value, self->nat_type);
      break;
    case PROP_NAT_TYPE_IPV6:
      g_value_set_enum (value, self->nat_type_ipv6);
      break;
    case PROP_OBSERVED_ADDRESS:
      g_value_set_string (value, self->observed_address);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
_wzp_network_info_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  WzpNetworkInfo *self = WZP_NETWORK_INFO (object);

  switch (prop_id)
    {
    case PROP_PORT:
      _wzp_network_info_set_port (self, (guint16) g_value_get_uint (value));
      break;
    case PROP_NETWORK_MONITOR:
      self->monitor = g_value_dup_object (value);
      break;
    case PROP_LOOPBACK_ONLY:
      self->loopback_only = g_value_get_boolean (value);
      break;
    case PROP_DENY_LIST:
      _wzp_network_info_set_deny_list (self, g_value_get_boxed (value));
      break;
    case PROP_ALLOW_LIST:
      _wzp_network_info_set_allow_list (self, g_value_get_boxed (value));
      break;
    case PROP_DEBOUNCE_MS:
      if (self->debounce_ms != g_value_get_uint (value))
        {
          self->debounce_ms = g_value_get_uint (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
_wzp_network_info_class_init (WzpNetworkInfoClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = _wzp_network_info_constructed;
  object_class->dispose = _wzp_network_info_dispose;
  object_class->finalize = _wzp_network_info_finalize;
  object_class->get_property = _wzp_network_info_get_property;
  object_class->set_property = _wzp_network_info_set_property;

  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 0, G_MAXUINT16, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                       G_PARAM_STATIC_STRINGS);
  properties[PROP_NETWORK_MONITOR] =
    g_param_spec_object ("network-monitor", NULL, NULL, G_TYPE_NETWORK_MONITOR,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LOOPBACK_ONLY] =
    g_param_spec_boolean ("loopback-only", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_DENY_LIST] =
    g_param_spec_boxed ("deny-list", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ALLOW_LIST] =
    g_param_spec_boxed ("allow-list", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_DEBOUNCE_MS] =
    g_param_spec_uint ("debounce-ms", NULL, NULL, 0, 60000, WZP_NETWORK_INFO_DEBOUNCE_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_HOST_CANDIDATES] =
    g_param_spec_boxed ("host-candidates", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_NAT_TYPE] =
    g_param_spec_enum ("nat-type", NULL, NULL, WZP_TYPE_NAT_TYPE, WZP_NAT_TYPE_UNKNOWN,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_NAT_TYPE_IPV6] =
    g_param_spec_enum ("nat-type-ipv6", NULL, NULL, WZP_TYPE_NAT_TYPE, WZP_NAT_TYPE_UNKNOWN,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_OBSERVED_ADDRESS] =
    g_param_spec_string ("observed-address", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_GATHERED] =
    g_signal_new ("gathered",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
}

static void
_wzp_network_info_init (WzpNetworkInfo *self)
{
  static const char * const empty[] = { NULL };

  self->context = g_main_context_ref_thread_default ();
  self->cancellable = g_cancellable_new ();
  self->deny_list = g_strdupv ((char **) _wzp_candidates_get_default_deny_list ());
  self->allow_list = g_strdupv ((char **) empty);
  self->debounce_ms = WZP_NETWORK_INFO_DEBOUNCE_MS;
  self->observations = g_ptr_array_new_with_free_func ((GDestroyNotify) observation_free);
  self->nat_type = WZP_NAT_TYPE_UNKNOWN;
  self->nat_type_ipv6 = WZP_NAT_TYPE_UNKNOWN;
}
