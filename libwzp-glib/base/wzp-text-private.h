/* wzp-text-private.h: remote text made safe to quote
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Remote text quoted in an error message: at most @max bytes of it (cut at a character,
 * with "…" after), made valid UTF-8. Replies never echo unbounded input
 * (docs/protocol.md, "Numbers" and "Call ids" say what is refused). */
#define WZP_QUOTE_MAX 64
char            *_wzp_quote                    (const char     *text,
                                                gsize           max);

G_END_DECLS
