/* wzp-background.h: running in the background and starting at login
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

void      wzp_background_request_async  (gboolean              enable,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data);
gboolean  wzp_background_request_finish (GAsyncResult         *result,
                                         GError              **error);
char     *wzp_background_get_autostart_path (void);

G_END_DECLS
