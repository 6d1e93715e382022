/* wzp-link.h: wzp: links, which carry a fingerprint and the relay to call it through
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

char     *wzp_link_build (const char  *fingerprint,
                          const char  *relay_uri);
gboolean  wzp_link_parse (const char  *link,
                          char       **fingerprint,
                          char       **relay_uri,
                          GError     **error);

G_END_DECLS
