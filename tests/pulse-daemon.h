/* pulse-daemon.h: a PulseAudio of the test's own, with no sound card, for tests of
 * devices and levels (test-audio-devices.c, the UI tests' device rows)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _WzpTestPulse WzpTestPulse;

WzpTestPulse *wzp_test_pulse_start          (char        **skipped);
void          wzp_test_pulse_stop           (WzpTestPulse *pulse);
char         *wzp_test_pulse_pactl          (const char   *first,
                                             ...) G_GNUC_NULL_TERMINATED;
guint         wzp_test_pulse_load_null_sink (const char   *name,
                                             const char   *description);
void          wzp_test_pulse_unload_module  (guint         module);

G_END_DECLS
