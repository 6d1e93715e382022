/* wzp-client.h: a user's connection to a relay, and the calls made through it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(WZP_GLIB_INSIDE) && !defined(WZP_GLIB_COMPILATION)
# error "Only <wzp-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "wzp-call.h"
#include "wzp-enums.h"
#include "wzp-error.h"
#include "wzp-identity.h"
#include "wzp-types.h"
#include "wzp-version.h"

G_BEGIN_DECLS

#define WZP_TYPE_CLIENT (wzp_client_get_type ())
WZP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (WzpClient, wzp_client, WZP, CLIENT, GObject)

WZP_AVAILABLE_IN_ALL
WzpClient      *wzp_client_new                   (WzpIdentity          *identity) G_GNUC_WARN_UNUSED_RESULT;
WZP_AVAILABLE_IN_ALL
WzpIdentity    *wzp_client_get_identity          (WzpClient            *self);
WZP_AVAILABLE_IN_ALL
const char     *wzp_client_get_relay_uri         (WzpClient            *self);
WZP_AVAILABLE_IN_ALL
void            wzp_client_set_relay_uri         (WzpClient            *self,
                                                  const char           *uri);
WZP_AVAILABLE_IN_ALL
const char     *wzp_client_get_alias             (WzpClient            *self);
WZP_AVAILABLE_IN_ALL
void            wzp_client_set_alias             (WzpClient            *self,
                                                  const char           *alias);
WZP_AVAILABLE_IN_ALL
gboolean        wzp_client_get_privacy           (WzpClient            *self);
WZP_AVAILABLE_IN_ALL
void            wzp_client_set_privacy           (WzpClient            *self,
                                                  gboolean              privacy);
WZP_AVAILABLE_IN_ALL
const char     *wzp_client_get_audio_source      (WzpClient            *self);
WZP_AVAILABLE_IN_ALL
void            wzp_client_set_audio_source      (WzpClient            *self,
                                                  const char           *source);
WZP_AVAILABLE_IN_ALL
const char     *wzp_client_get_audio_sink        (WzpClient            *self);
WZP_AVAILABLE_IN_ALL
void            wzp_client_set_audio_sink        (WzpClient            *self,
                                                  const char           *sink);
WZP_AVAILABLE_IN_ALL
WzpClientState  wzp_client_get_state             (WzpClient            *self);
WZP_AVAILABLE_IN_ALL
const char     *wzp_client_get_error_message     (WzpClient            *self);
WZP_AVAILABLE_IN_ALL
const GError   *wzp_client_get_error             (WzpClient            *self);
WZP_AVAILABLE_IN_ALL
const char     *wzp_client_get_observed_address  (WzpClient            *self);
WZP_AVAILABLE_IN_ALL
WzpNatType      wzp_client_get_nat_type          (WzpClient            *self);
WZP_AVAILABLE_IN_ALL
guint           wzp_client_get_port              (WzpClient            *self);

WZP_AVAILABLE_IN_ALL
void            wzp_client_connect_async         (WzpClient            *self,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
WZP_AVAILABLE_IN_ALL
gboolean        wzp_client_connect_finish        (WzpClient            *self,
                                                  GAsyncResult         *result,
                                                  GError              **error);
WZP_AVAILABLE_IN_ALL
void            wzp_client_unregister            (WzpClient            *self);

WZP_AVAILABLE_IN_ALL
void            wzp_client_place_call_async      (WzpClient            *self,
                                                  const char           *fingerprint,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
WZP_AVAILABLE_IN_ALL
WzpCall        *wzp_client_place_call_finish     (WzpClient            *self,
                                                  GAsyncResult         *result,
                                                  GError              **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
