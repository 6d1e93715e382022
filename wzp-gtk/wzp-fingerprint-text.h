/* wzp-fingerprint-text.h: how fingerprints are laid out for reading
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *wzp_fingerprint_to_lines (const char *fingerprint);

G_END_DECLS
