/* wzp-tls-private.h: GnuTLS key and certificate creation, and the one constructor every
 * TLS connection in the project goes through (dialling a relay: wzp-tls-dial-private.h;
 * fingerprints: wzp-fingerprint.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Makes a new ECDSA P-256 key and a self-signed certificate, both PEM-encoded, key first.
 * Blocking (key generation): call it from a worker thread. */
char            *_wzp_tls_generate_pem         (GError         **error);

/* Parses a PEM key and certificate (any order) into a GTlsCertificate that GIO can use,
 * checking that the key is the certificate's; sets *@fingerprint (nullable) to its
 * fingerprint. Errors are G_TLS_ERROR_BAD_CERTIFICATE. Thread-safe. */
GTlsCertificate *_wzp_tls_certificate_new_from_pem (const char  *pem,
                                                    gssize       length,
                                                    char       **fingerprint,
                                                    GError     **error);

/* Wraps @base_stream in a client-side TLS connection:
 *  - database NULL (pins replace CA validation; ::accept-certificate decides),
 *  - TCP_NODELAY on the underlying socket when @base_stream is a GSocketConnection,
 *  - @certificate (with its private key; an identity's: wzp_identity_get_certificate())
 *    presented to the server: TLS knows certificates, not identities, so that identity
 *    code can use TLS without TLS calling back into it,
 *  - ::accept-certificate accepts exactly the certificate whose fingerprint is @pin;
 *    @pin NULL accepts any certificate (trust on first use, or a relay learning a client's
 *    identity); the fingerprint seen is available afterwards from
 *    _wzp_tls_connection_get_peer_fingerprint().
 * A pin mismatch makes the handshake fail with a generic G_TLS_ERROR; pass that error to
 * _wzp_tls_connection_explain_error(), which turns it into WZP_IDENTITY_ERROR_PIN_MISMATCH
 * "The peer's certificate has fingerprint X, but Y was expected".
 * A @pin that is not a valid fingerprint fails here with G_IO_ERROR_INVALID_ARGUMENT.
 * The connection is not handshaken yet: the caller runs g_tls_connection_handshake_async().
 * After a failed handshake, close the stream: when ::accept-certificate refuses, GnuTLS
 * under GIO sends no alert, and the peer waits until the TCP connection closes (in TLS 1.3
 * a client refused by the server has usually finished its own handshake already). */
GIOStream       *_wzp_tls_client_new           (GIOStream       *base_stream,
                                                GTlsCertificate *certificate,
                                                const char      *pin,
                                                GError         **error);

/* Same for the server side, with client certificates REQUIRED (mutual TLS). */
GIOStream       *_wzp_tls_server_new           (GIOStream       *base_stream,
                                                GTlsCertificate *certificate,
                                                const char      *pin,
                                                GError         **error);

/* The peer's fingerprint after a completed handshake: set by ::accept-certificate when it
 * accepted the peer (NULL before, and NULL when the pin refused it). Treat NULL after a
 * successful handshake as unauthenticated and close: a resumed TLS session would skip
 * ::accept-certificate (glib-networking 2.74 does not resume; see docs/identity.md). */
const char      *_wzp_tls_connection_get_peer_fingerprint (GIOStream *tls);

/* Replaces a handshake error by the pin mismatch explanation when the pin was the reason.
 * Call on the error returned by g_tls_connection_handshake_finish(). */
void             _wzp_tls_connection_explain_error        (GIOStream  *tls,
                                                           GError    **error);

/* Sets TCP_NODELAY on a socket connection (no-op for other streams). */
void             _wzp_socket_connection_set_nodelay       (GIOStream  *stream);
/* The socket reports itself writable only while less than @bytes are unsent in the
 * kernel: what waits to be sent waits in the program, where it can be dropped or put
 * behind fresher audio, instead of in the kernel, where it can only go out late. */
void             _wzp_socket_connection_set_notsent_lowat (GIOStream  *stream,
                                                           int         bytes);

G_END_DECLS
