/* main.c: wzp-gtk, the GNOME app
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "wzp-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(WzpApplication) app = NULL;

  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = wzp_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
