/* wzp-call-clock.h: when a call connected, kept with the call
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <wzp-glib.h>

G_BEGIN_DECLS

gint64 wzp_call_clock_get_connected (WzpCall *call);

G_END_DECLS
