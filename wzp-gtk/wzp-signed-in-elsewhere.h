/* wzp-signed-in-elsewhere.h: when another program registers with the user's identity
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <wzp-glib.h>

G_BEGIN_DECLS

gboolean wzp_signed_in_elsewhere_check  (WzpClient    *client,
                                         const GError *relay_error);
void     wzp_signed_in_elsewhere_notify (GApplication *application,
                                         WzpClient    *client,
                                         const GError *relay_error);

G_END_DECLS
