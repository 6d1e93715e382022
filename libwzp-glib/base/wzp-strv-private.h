/* wzp-strv-private.h: string-array properties that notify only when they change
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Replaces *@field (owned, nullable) by a copy of @value (nullable). Returns FALSE and
 * leaves *@field alone when the two are equal (NULL equals only NULL), so that a setter
 * notifies only on change. */
static inline gboolean
_wzp_strv_replace (char               ***field,
                   const char * const   *value)
{
  const char * const *current = (const char * const *) *field;

  if (current == NULL || value == NULL ? current == value : g_strv_equal (current, value))
    return FALSE;

  g_strfreev (*field);
  *field = g_strdupv ((char **) value);
  return TRUE;
}

G_END_DECLS
