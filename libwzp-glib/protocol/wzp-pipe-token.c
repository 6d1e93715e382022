/* wzp-pipe-token.c: pipe tokens (see wzp-pipe-token-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-pipe-token-private.h"

char *
_wzp_pipe_token_derive (const char *secret,
                        gint64      seq)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *input = g_strdup_printf ("%s:%" G_GINT64_FORMAT, secret, seq);

  g_checksum_update (checksum, (const guchar *) input, strlen (input));
  return g_strndup (g_checksum_get_string (checksum), 32);
}
