/* wzp-call-clock.c: when a call connected, kept with the call
 *
 * A call's timer belongs to the call, not to the page that shows it: a window closed and
 * opened again during a call shows the time since the call connected, not since the new
 * page appeared. The moment is stored on the WzpCall object (which the application keeps
 * for the whole call), so the application (for Recent Calls) and every call page read the
 * same clock.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-call-clock.h"

#define CONNECTED_KEY "wzp-gtk-connected-at"

/**
 * wzp_call_clock_get_connected:
 * @call: a call
 *
 * The first reader of an active call marks the moment; whoever reads first (the
 * application or a page, both on ::notify::state) the others get the same time.
 *
 * Returns: the monotonic time (µs) when @call became active, or 0 if it has not
 */
gint64
wzp_call_clock_get_connected (WzpCall *call)
{
  gint64 *connected;

  g_return_val_if_fail (WZP_IS_CALL (call), 0);

  connected = g_object_get_data (G_OBJECT (call), CONNECTED_KEY);
  if (connected == NULL && wzp_call_get_state (call) == WZP_CALL_STATE_ACTIVE)
    {
      connected = g_new (gint64, 1);
      *connected = g_get_monotonic_time ();
      g_object_set_data_full (G_OBJECT (call), CONNECTED_KEY, connected, g_free);
    }
  return connected != NULL ? *connected : 0;
}
