/* wzp-timeout.c: timers on an object's own main context (see wzp-timeout-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-timeout-private.h"

static guint
attach (GMainContext   *context,
        GSource        *source,
        gint            priority,
        GSourceFunc     func,
        gpointer        data,
        GDestroyNotify  notify)
{
  guint id;

  g_source_set_priority (source, priority);
  g_source_set_callback (source, func, data, notify);
  id = g_source_attach (source, context);
  g_source_unref (source);
  return id;
}

guint
_wzp_timeout_add_full (GMainContext   *context,
                       gint            priority,
                       guint           interval_ms,
                       GSourceFunc     func,
                       gpointer        data,
                       GDestroyNotify  notify)
{
  return attach (context, g_timeout_source_new (interval_ms), priority, func, data, notify);
}

guint
_wzp_timeout_add_seconds_full (GMainContext   *context,
                               guint           seconds,
                               GSourceFunc     func,
                               gpointer        data,
                               GDestroyNotify  notify)
{
  return attach (context, g_timeout_source_new_seconds (seconds), G_PRIORITY_DEFAULT,
                 func, data, notify);
}

guint
_wzp_idle_add_full (GMainContext   *context,
                    gint            priority,
                    GSourceFunc     func,
                    gpointer        data,
                    GDestroyNotify  notify)
{
  return attach (context, g_idle_source_new (), priority, func, data, notify);
}

void
_wzp_clear_source (GMainContext *context,
                   guint        *id)
{
  GSource *source;

  if (*id == 0)
    return;
  source = g_main_context_find_source_by_id (context, *id);
  if (source != NULL)
    g_source_destroy (source);
  *id = 0;
}
