/* wzp-timeout-private.h: timers on an object's own main context
 *
 * GLib's g_timeout_add() and g_idle_add() attach to the global default context, and
 * g_source_remove() looks there. A library object lives on the context that was
 * thread-default when it was made (GIO delivers its sockets and GTask results there), so
 * its timers must go there too: otherwise an object made in a worker thread with a context
 * of its own has its timers run on another thread, or never. Objects keep that context
 * (g_main_context_ref_thread_default() at construction) and use these instead.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

guint _wzp_timeout_add_full         (GMainContext   *context,
                                     gint            priority,
                                     guint           interval_ms,
                                     GSourceFunc     func,
                                     gpointer        data,
                                     GDestroyNotify  notify);
guint _wzp_timeout_add_seconds_full (GMainContext   *context,
                                     guint           seconds,
                                     GSourceFunc     func,
                                     gpointer        data,
                                     GDestroyNotify  notify);
guint _wzp_idle_add_full            (GMainContext   *context,
                                     gint            priority,
                                     GSourceFunc     func,
                                     gpointer        data,
                                     GDestroyNotify  notify);
/* Like g_clear_handle_id (id, g_source_remove), for a source on @context. */
void  _wzp_clear_source             (GMainContext   *context,
                                     guint          *id);

#define _wzp_timeout_add(context, interval_ms, func, data) \
  _wzp_timeout_add_full ((context), G_PRIORITY_DEFAULT, (interval_ms), (func), (data), NULL)
#define _wzp_timeout_add_seconds(context, seconds, func, data) \
  _wzp_timeout_add_seconds_full ((context), (seconds), (func), (data), NULL)
#define _wzp_idle_add(context, func, data) \
  _wzp_idle_add_full ((context), G_PRIORITY_DEFAULT_IDLE, (func), (data), NULL)

G_END_DECLS
