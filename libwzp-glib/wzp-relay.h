/* wzp-relay.h: the relay server, embeddable (the wzp-relay daemon and the tests use it)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(WZP_GLIB_INSIDE) && !defined(WZP_GLIB_COMPILATION)
# error "Only <wzp-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "wzp-version.h"
#include "wzp-enums.h"
#include "wzp-identity.h"

G_BEGIN_DECLS

/**
 * WZP_RELAY_ERROR:
 *
 * The error domain of [class@Wzp.Relay].
 *
 * Since: 1.0
 */
#define WZP_RELAY_ERROR (wzp_relay_error_quark ())

/**
 * WzpRelayError:
 * @WZP_RELAY_ERROR_INVALID_ADDRESS: a listen address does not parse
 * @WZP_RELAY_ERROR_LISTEN_FAILED: a listen address could not be bound
 * @WZP_RELAY_ERROR_NOT_RUNNING: the relay is not listening
 * @WZP_RELAY_ERROR_INVALID_PEER: a federation peer URI does not parse, or names this
 *   relay itself
 * @WZP_RELAY_ERROR_DUPLICATE_PEER: a federation peer with that fingerprint is configured
 *   already
 * @WZP_RELAY_ERROR_UNKNOWN_PEER: no federation peer with that fingerprint is configured
 *
 * Errors from setting up a relay.
 *
 * Since: 1.0
 */
typedef enum {
  WZP_RELAY_ERROR_INVALID_ADDRESS,
  WZP_RELAY_ERROR_LISTEN_FAILED,
  WZP_RELAY_ERROR_NOT_RUNNING,
  WZP_RELAY_ERROR_INVALID_PEER,
  WZP_RELAY_ERROR_DUPLICATE_PEER,
  WZP_RELAY_ERROR_UNKNOWN_PEER,
} WzpRelayError;

WZP_AVAILABLE_IN_ALL
GQuark wzp_relay_error_quark (void);

#define WZP_TYPE_RELAY (wzp_relay_get_type ())
WZP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (WzpRelay, wzp_relay, WZP, RELAY, GObject)

WZP_AVAILABLE_IN_ALL
WzpRelay     *wzp_relay_new                    (WzpIdentity          *identity) G_GNUC_WARN_UNUSED_RESULT;
WZP_AVAILABLE_IN_ALL
gboolean      wzp_relay_listen                 (WzpRelay             *self,
                                                const char           *address,
                                                const char           *pipe_address,
                                                GError              **error);
WZP_AVAILABLE_IN_ALL
void          wzp_relay_stop                   (WzpRelay             *self);
WZP_AVAILABLE_IN_ALL
WzpIdentity  *wzp_relay_get_identity           (WzpRelay             *self);
WZP_AVAILABLE_IN_ALL
const char   *wzp_relay_get_fingerprint        (WzpRelay             *self);
WZP_AVAILABLE_IN_ALL
GStrv         wzp_relay_dup_listen_addresses   (WzpRelay             *self) G_GNUC_WARN_UNUSED_RESULT;
WZP_AVAILABLE_IN_ALL
GStrv         wzp_relay_dup_pipe_addresses     (WzpRelay             *self) G_GNUC_WARN_UNUSED_RESULT;
WZP_AVAILABLE_IN_ALL
GStrv         wzp_relay_dup_uris               (WzpRelay             *self) G_GNUC_WARN_UNUSED_RESULT;
WZP_AVAILABLE_IN_ALL
guint         wzp_relay_get_n_registrations    (WzpRelay             *self);
WZP_AVAILABLE_IN_ALL
guint         wzp_relay_get_n_calls            (WzpRelay             *self);
WZP_AVAILABLE_IN_ALL
GVariant     *wzp_relay_list_registrations     (WzpRelay             *self);
WZP_AVAILABLE_IN_ALL
GVariant     *wzp_relay_list_calls             (WzpRelay             *self);
WZP_AVAILABLE_IN_ALL
GVariant     *wzp_relay_dup_counters           (WzpRelay             *self) G_GNUC_WARN_UNUSED_RESULT;

WZP_AVAILABLE_IN_ALL
gboolean      wzp_relay_add_peer               (WzpRelay             *self,
                                                const char           *uri,
                                                GError              **error);
WZP_AVAILABLE_IN_ALL
gboolean      wzp_relay_remove_peer            (WzpRelay             *self,
                                                const char           *fingerprint,
                                                GError              **error);
WZP_AVAILABLE_IN_ALL
GVariant     *wzp_relay_list_peers             (WzpRelay             *self);

G_END_DECLS
