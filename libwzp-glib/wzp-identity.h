/* wzp-identity.h: a key pair, its self-signed certificate and its fingerprint
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(WZP_GLIB_INSIDE) && !defined(WZP_GLIB_COMPILATION)
# error "Only <wzp-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "wzp-version.h"

G_BEGIN_DECLS

/**
 * WZP_IDENTITY_ERROR:
 *
 * The error domain of [class@Wzp.Identity].
 *
 * Since: 1.0
 */
#define WZP_IDENTITY_ERROR (wzp_identity_error_quark ())

/**
 * WzpIdentityError:
 * @WZP_IDENTITY_ERROR_INSECURE_PERMISSIONS: the key file is readable by group or others
 * @WZP_IDENTITY_ERROR_CORRUPT: the key file does not hold a usable key and certificate
 * @WZP_IDENTITY_ERROR_GENERATION_FAILED: a new key or certificate could not be made
 * @WZP_IDENTITY_ERROR_PIN_MISMATCH: a peer presented a certificate whose fingerprint is
 *   not the one expected
 *
 * Errors from loading, creating or checking identities.
 *
 * Since: 1.0
 */
typedef enum {
  WZP_IDENTITY_ERROR_INSECURE_PERMISSIONS,
  WZP_IDENTITY_ERROR_CORRUPT,
  WZP_IDENTITY_ERROR_GENERATION_FAILED,
  WZP_IDENTITY_ERROR_PIN_MISMATCH,
} WzpIdentityError;

WZP_AVAILABLE_IN_ALL
GQuark wzp_identity_error_quark (void);

#define WZP_TYPE_IDENTITY (wzp_identity_get_type ())
WZP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (WzpIdentity, wzp_identity, WZP, IDENTITY, GObject)

WZP_AVAILABLE_IN_ALL
void             wzp_identity_load_or_create_async  (const char           *path,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
WZP_AVAILABLE_IN_ALL
WzpIdentity     *wzp_identity_load_or_create_finish (GAsyncResult         *result,
                                                     GError              **error) G_GNUC_WARN_UNUSED_RESULT;
WZP_AVAILABLE_IN_ALL
char            *wzp_identity_get_default_path      (void) G_GNUC_WARN_UNUSED_RESULT;
WZP_AVAILABLE_IN_ALL
const char      *wzp_identity_get_fingerprint       (WzpIdentity          *self);
WZP_AVAILABLE_IN_ALL
const char      *wzp_identity_get_path              (WzpIdentity          *self);
WZP_AVAILABLE_IN_ALL
GTlsCertificate *wzp_identity_get_certificate       (WzpIdentity          *self);

WZP_AVAILABLE_IN_ALL
char            *wzp_fingerprint_from_certificate   (GTlsCertificate      *certificate,
                                                     GError              **error) G_GNUC_WARN_UNUSED_RESULT;
WZP_AVAILABLE_IN_ALL
gboolean         wzp_fingerprint_is_valid           (const char           *fingerprint);

G_END_DECLS
