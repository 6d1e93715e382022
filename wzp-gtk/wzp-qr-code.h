/* wzp-qr-code.h: QR codes drawn into a texture
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define WZP_QR_CODE_QUIET_ZONE 4   /* modules of white around the code, as the standard asks */

GdkTexture *wzp_qr_code_new_texture (const char  *text,
                                     int          module_px,
                                     int         *n_modules,
                                     GError     **error);

G_END_DECLS
