/* wzp-fingerprint-text.c: how fingerprints are laid out for reading
 *
 * A fingerprint is 8 groups of 4 digits. Shown on one line it wraps wherever the width runs
 * out, which at 360 px leaves one group alone or splits one; people compare fingerprints
 * group by group, so it is always shown as two lines of four groups (in a monospace font,
 * from the "fingerprint" style class), and copied in its canonical one-line form.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-fingerprint-text.h"

#define GROUPS_PER_LINE 4
#define GROUP_LEN       5   /* four digits and a colon */

/* "1a2b:3c4d:5e6f:7a8b\n9c0d:1e2f:3a4b:5c6d" for a canonical fingerprint; anything else
 * is returned as it is. */
char *
wzp_fingerprint_to_lines (const char *fingerprint)
{
  gsize split = GROUPS_PER_LINE * GROUP_LEN - 1;

  if (fingerprint == NULL)
    return NULL;
  if (strlen (fingerprint) <= split || fingerprint[split] != ':')
    return g_strdup (fingerprint);
  return g_strdup_printf ("%.*s\n%s", (int) split, fingerprint, fingerprint + split + 1);
}
