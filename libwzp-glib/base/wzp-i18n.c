/* wzp-i18n.c: binds the library's gettext domain on first use
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libintl.h>

#include "wzp-i18n-private.h"

static void
ensure_domain_bound (void)
{
  static gsize bound = 0;

  if (g_once_init_enter (&bound))
    {
      bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      g_once_init_leave (&bound, 1);
    }
}

const char *
_wzp_gettext (const char *msgid)
{
  ensure_domain_bound ();
  return g_dgettext (GETTEXT_PACKAGE, msgid);
}
