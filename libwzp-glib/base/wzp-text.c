/* wzp-text.c: remote text made safe to quote
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-text-private.h"

char *
_wzp_quote (const char *text,
            gsize       max)
{
  gsize len = strlen (text);
  const char *end;

  if (len <= max)
    return g_utf8_make_valid (text, len);
  /* Back to the start of the character the limit falls in. */
  end = text + max;
  while (end > text && ((guchar) *end & 0xc0) == 0x80)
    end--;
  {
    g_autofree char *valid = g_utf8_make_valid (text, end - text);
    return g_strconcat (valid, "…", NULL);
  }
}
