/* wzp-audio-devices-private.h: what the device list lends to the rest of the library
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @value as a property value of a GStreamer launch description, such that it cannot add
 * elements or properties (a file name, a device name): as it is when it holds only plain
 * characters (letters, digits, `._-:/`), else in double quotes with `"` and `\`
 * escaped. */
char *_wzp_audio_quote (const char *value);

G_END_DECLS
