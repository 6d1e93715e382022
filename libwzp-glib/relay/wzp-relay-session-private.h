/* wzp-relay-session-private.h: a client's TLS session at the relay, driven without threads
 *
 * glib-networking runs each TLS handshake in a worker thread and every connection's
 * reads through GSources of the main context; the relay drives GnuTLS itself instead,
 * non-blocking, from its one epoll set (wzp-relay-poller-private.h). A RelaySession is
 * GnuTLS's server session on a connected socket, with the relay's wire framing on top:
 *
 *  - the handshake runs step by step as the socket becomes readable, mutual (the client
 *    must present a certificate; its fingerprint is the client's identity);
 *  - records read are decrypted into a buffer from which whole frames are taken
 *    (4-byte big-endian length, then the payload: docs/protocol.md, "Transport and framing");
 *  - what is written is encrypted at once into a buffer of ciphertext and sent as the
 *    socket takes it; the buffer's size and age are what max-queued-bytes and the write
 *    stall of idle-timeout look at. GnuTLS itself never sees EAGAIN on a write.
 *
 * An idle session holds no buffer: they are freed when empty.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <gnutls/gnutls.h>

G_BEGIN_DECLS

typedef struct _RelaySession RelaySession;

typedef enum
{
  RELAY_SESSION_AGAIN,     /* wait for the socket (readable, or writable if queued) */
  RELAY_SESSION_DONE,
  RELAY_SESSION_FAILED,    /* see the GError */
} RelaySessionStatus;

/* The relay's credentials (its certificate and key) for every session: made once. */
gnutls_certificate_credentials_t _wzp_relay_session_credentials_new (GTlsCertificate *certificate,
                                                                     GError         **error);

/* A server session on @fd (connected, non-blocking; not owned: close it after freeing
 * the session). */
RelaySession *_wzp_relay_session_new          (int                               fd,
                                               gnutls_certificate_credentials_t  credentials,
                                               GError                          **error);
void          _wzp_relay_session_free         (RelaySession  *self);

/* Runs the handshake as far as it can without blocking. */
RelaySessionStatus _wzp_relay_session_handshake (RelaySession  *self,
                                                 GError       **error);
/* The client's fingerprint, once the handshake is done (NULL if it sent no usable
 * certificate). */
char         *_wzp_relay_session_dup_peer_fingerprint (RelaySession  *self,
                                                       GError       **error);

/* Reads and decrypts what the socket holds, at most about @max bytes of it. Returns the
 * bytes of plaintext added (0: nothing until the socket is readable again), or -1 with
 * G_IO_ERROR_CLOSED at a clean end of stream, another error otherwise. */
gssize        _wzp_relay_session_read         (RelaySession  *self,
                                               gsize          max,
                                               GError       **error);
/* Whether GnuTLS still holds decrypted data that _read() would return without the socket
 * being readable. */
gboolean      _wzp_relay_session_has_pending  (RelaySession  *self);
/* Takes the next whole frame's payload out of what was read: TRUE and *@payload (owned,
 * NUL-terminated) when one is there; FALSE with *@payload NULL when more is needed; FALSE
 * with @error (WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE) for a frame over @max_frame. */
gboolean      _wzp_relay_session_take_frame   (RelaySession  *self,
                                               gsize          max_frame,
                                               GBytes       **payload,
                                               GError       **error);
/* Takes every byte read and not yet taken as frames (a connection handed over). */
GBytes       *_wzp_relay_session_steal_input  (RelaySession  *self);

/* A seam for the fuzz target of the frame extraction (tests/fuzz/fuzz-relay-session.c):
 * a session without TLS or socket, whose plaintext comes from _feed() as _read() would
 * add it after decryption. Only _take_frame(), _steal_input() and _free() may be called
 * on it. */
RelaySession *_wzp_relay_session_new_plaintext (void);
void          _wzp_relay_session_feed          (RelaySession  *self,
                                                const guint8  *data,
                                                gsize          len);

/* Encrypts @len bytes of @data into the send buffer (never fails: a write error shows up
 * in _flush()). */
void          _wzp_relay_session_write        (RelaySession  *self,
                                               const void    *data,
                                               gsize          len);
/* Sends what the buffer holds as far as the socket takes it. Returns the bytes still
 * waiting (wait for the socket to be writable), or -1 with @error. */
gssize        _wzp_relay_session_flush        (RelaySession  *self,
                                               GError       **error);
/* Bytes of ciphertext waiting for the socket. */
gsize         _wzp_relay_session_get_queued   (RelaySession  *self);
/* Since when the bytes waiting have waited without the socket taking any of them
 * (g_get_monotonic_time()), 0 when none is waiting: a client that stopped reading shows
 * as a time that gets old. */
gint64        _wzp_relay_session_get_pending_since (RelaySession *self);

G_END_DECLS
