/* wzp-i18n-private.h: translated messages of the library
 *
 * The library shares the "wzp" gettext domain with the app and the tools, but a program
 * that merely loads it (Python through GObject introspection, a relay embedded in a test)
 * never calls bindtextdomain(). Like GLib does for itself, _() binds the domain to the
 * installation's locale directory on first use, so a non-/usr prefix still finds its
 * catalogues.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib/gi18n-lib.h>

G_BEGIN_DECLS

const char *_wzp_gettext (const char *msgid) G_GNUC_FORMAT (1);

#undef _
#define _(String) _wzp_gettext (String)

G_END_DECLS
