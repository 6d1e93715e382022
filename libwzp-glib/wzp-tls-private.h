/* wzp-tls-private.h: GnuTLS key and certificate creation, SPKI fingerprints, and the one
 * constructor every TLS connection in the project goes through.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-identity.h"

G_BEGIN_DECLS

/* A fingerprint as text: 8 groups of 4 lower-case hex digits joined by ':' (39 chars). */
#define WZP_FINGERPRINT_LEN 39

/* Makes a new ECDSA P-256 key and a self-signed certificate, both PEM-encoded, key first.
 * Blocking (key generation): call it from a worker thread. */
char            *_wzp_tls_generate_pem         (GError         **error);

/* An identity that lives only in memory (tests, benchmarks with thousands of clients). */
WzpIdentity     *_wzp_identity_new_ephemeral   (GError         **error);

/* Wraps @base_stream in a client-side TLS connection:
 *  - database NULL (pins replace CA validation; ::accept-certificate decides),
 *  - TCP_NODELAY on the underlying socket when @base_stream is a GSocketConnection,
 *  - @identity's certificate presented to the server,
 *  - ::accept-certificate accepts exactly the certificate whose fingerprint is @pin;
 *    @pin NULL accepts any certificate (trust on first use, or a relay learning a client's
 *    identity); the fingerprint seen is available afterwards from
 *    _wzp_tls_connection_get_peer_fingerprint().
 * A pin mismatch makes the handshake fail; the error then reads
 * "The peer's certificate has fingerprint X, expected Y" (WZP_IDENTITY_ERROR_PIN_MISMATCH)
 * when queried via _wzp_tls_connection_take_pin_error(). */
GIOStream       *_wzp_tls_client_new           (GIOStream       *base_stream,
                                                WzpIdentity     *identity,
                                                const char      *pin,
                                                GError         **error);

/* Same for the server side, with client certificates REQUIRED (mutual TLS). */
GIOStream       *_wzp_tls_server_new           (GIOStream       *base_stream,
                                                WzpIdentity     *identity,
                                                const char      *pin,
                                                GError         **error);

/* The peer's fingerprint after a completed handshake (NULL before). */
const char      *_wzp_tls_connection_get_peer_fingerprint (GIOStream *tls);

/* Replaces a handshake error by the pin mismatch explanation when the pin was the reason.
 * Call on the error returned by g_tls_connection_handshake_finish(). */
void             _wzp_tls_connection_explain_error        (GIOStream  *tls,
                                                           GError    **error);

/* Sets TCP_NODELAY on a socket connection (no-op for other streams). */
void             _wzp_socket_connection_set_nodelay       (GIOStream  *stream);

G_END_DECLS
