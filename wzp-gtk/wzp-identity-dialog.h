/* wzp-identity-dialog.h: your own fingerprint, name and wzp: link, with its QR code
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>
#include <wzp-glib.h>

G_BEGIN_DECLS

#define WZP_TYPE_IDENTITY_DIALOG (wzp_identity_dialog_get_type ())
G_DECLARE_FINAL_TYPE (WzpIdentityDialog, wzp_identity_dialog, WZP, IDENTITY_DIALOG, AdwWindow)

GtkWidget  *wzp_identity_dialog_new             (GtkWindow         *parent,
                                                 WzpClient         *client,
                                                 GSettings         *settings);
const char *wzp_identity_dialog_get_link        (WzpIdentityDialog *self);
GdkTexture *wzp_identity_dialog_get_qr_texture  (WzpIdentityDialog *self);
GtkWidget  *wzp_identity_dialog_get_copy_button (WzpIdentityDialog *self);
GtkWidget  *wzp_identity_dialog_get_name_row    (WzpIdentityDialog *self);

G_END_DECLS
