/* wzp-tls-dial-private.h: the one pinned-TLS dial (docs/identity.md, "Dialling")
 *
 * Every outgoing TLS connection the project makes to a relay goes through here: the
 * client's relay connection and reflector probes (library and wzp-cli), federation links
 * and bridges. Each used to repeat connect, _wzp_tls_client_new(), handshake and
 * _wzp_tls_connection_explain_error(); only their own error wording remains with them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-socket-private.h"

G_BEGIN_DECLS

/* Where a dial failed, for callers whose messages differ by step. */
typedef enum {
  WZP_TLS_DIAL_STEP_RESOLVE,    /* looking the host name up (only when dialling from P, and
                                 * only when no address was tried) */
  WZP_TLS_DIAL_STEP_CONNECT,    /* TCP (and, without P, the lookup GSocketClient makes) */
  WZP_TLS_DIAL_STEP_HANDSHAKE,  /* TLS, the pin, the peer's certificate */
} WzpTlsDialStep;

/* Connects to @connectable (a GNetworkAddress "host:port", or a GSocketAddress) and runs a
 * client TLS handshake over it (_wzp_tls_client_new(): @certificate presented, the peer
 * accepted iff its fingerprint is @pin; @pin NULL accepts any peer and records its
 * fingerprint, for _wzp_tls_connection_get_peer_fingerprint()).
 *
 * @from (nullable): dial from the client's port P (the reflexive address the relay sees
 * is then P's mapping; docs/decisions.md, "One port per client"), to every address
 * @connectable resolves to, one after the other in GIO's order (IPv6 and IPv4
 * interleaved), until one connects and passes the handshake and the pin; if none does,
 * the error of the attempt that got furthest (a handshake's over a connection's) is
 * reported, with its step. Without it, GSocketClient tries each address (TCP only: the
 * handshake runs on the first that connects), without proxies.
 *
 * @timeout_ms (0: none) bounds the whole dial; when it passes, the dial fails with
 * G_IO_ERROR_TIMED_OUT and a message saying which step did not finish. Cancelling
 * @cancellable fails it with G_IO_ERROR_CANCELLED. A pin mismatch is
 * WZP_IDENTITY_ERROR_PIN_MISMATCH (_wzp_tls_connection_explain_error()); a peer whose
 * certificate was not checked (a resumed session) is G_TLS_ERROR_BAD_CERTIFICATE. A relay
 * that turned the connection away before TLS, saying why (wzp-tls-refusal-private.h), is
 * WZP_CLIENT_ERROR_RELAY_BUSY or WZP_CLIENT_ERROR_RELAY_TOO_MANY_CONNECTIONS. The TLS
 * stream runs over a wrapper of the TCP connection (wzp-head-stream-private.h), not over
 * the connection itself; closing the TLS stream still closes it.
 * On failure the TCP connection, if any, is closed (no TLS alert reaches the peer;
 * docs/identity.md, "TLS connections"). */
void               _wzp_tls_dial_async  (GSocketConnectable   *connectable,
                                         WzpSharedPort        *from,
                                         GTlsCertificate      *certificate,
                                         const char           *pin,
                                         guint                 timeout_ms,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data);

/* The handshaken TLS stream, its peer authenticated. @socket_conn (nullable) gets the TCP
 * connection under it: close that one, not the TLS stream, to end the connection at once
 * (a TLS close waits to send close_notify). @failed_step (nullable) is set on failure. */
GIOStream         *_wzp_tls_dial_finish (GAsyncResult         *result,
                                         GSocketConnection   **socket_conn,
                                         WzpTlsDialStep       *failed_step,
                                         GError              **error);

G_END_DECLS
