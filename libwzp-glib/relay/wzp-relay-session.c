/* wzp-relay-session.c: a client's TLS session at the relay, driven without threads (see
 * the header)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "wzp-error.h"
#include "wzp-fingerprint-private.h"
#include "wzp-relay-session-private.h"

/* GnuTLS hands out at most one record (16 KiB of plaintext) per call. */
#define RECORD_CHUNK 16384
#define FRAME_HEADER 4

struct _RelaySession
{
  gnutls_session_t  session;
  int               fd;
  GByteArray       *rx;            /* plaintext read, not yet taken as frames; or NULL */
  gsize             rx_start;
  GByteArray       *tx;            /* ciphertext not yet sent; or NULL */
  gsize             tx_start;
  gint64            tx_since;
  int               recv_errno;    /* what the last recv() failed with */
};

static void
set_error_from_gnutls (GError    **error,
                       RelaySession *self,
                       const char *what,
                       int         status)
{
  if (status == GNUTLS_E_FATAL_ALERT_RECEIVED || status == GNUTLS_E_WARNING_ALERT_RECEIVED)
    g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_MISC, "%s: the client sent the TLS alert “%s”",
                 what, gnutls_alert_get_name (gnutls_alert_get (self->session)));
  else if (status == GNUTLS_E_PULL_ERROR && self->recv_errno != 0)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (self->recv_errno), "%s: %s",
                 what, g_strerror (self->recv_errno));
  else
    g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_MISC, "%s: %s", what, gnutls_strerror (status));
}

/* Transport: reads go straight to the socket, writes only to the buffer */

static ssize_t
pull_cb (gnutls_transport_ptr_t ptr,
         void                  *data,
         size_t                 size)
{
  RelaySession *self = ptr;
  ssize_t n = recv (self->fd, data, size, MSG_DONTWAIT);

  if (n < 0)
    {
      self->recv_errno = errno == EWOULDBLOCK ? EAGAIN : errno;
      gnutls_transport_set_errno (self->session, self->recv_errno);
    }
  return n;
}

static ssize_t
push_cb (gnutls_transport_ptr_t ptr,
         const void            *data,
         size_t                 size)
{
  RelaySession *self = ptr;

  if (self->tx == NULL)
    {
      self->tx = g_byte_array_sized_new (MAX (size, 256));
      self->tx_start = 0;
      self->tx_since = g_get_monotonic_time ();
    }
  g_byte_array_append (self->tx, data, size);
  return size;
}

gnutls_certificate_credentials_t
_wzp_relay_session_credentials_new (GTlsCertificate  *certificate,
                                    GError          **error)
{
  gnutls_certificate_credentials_t credentials = NULL;
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;
  gnutls_datum_t cert, key;
  int status;

  g_object_get (certificate, "certificate-pem", &cert_pem, "private-key-pem", &key_pem, NULL);
  if (cert_pem == NULL || key_pem == NULL)
    {
      g_set_error_literal (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                           "The relay’s identity has no private key");
      return NULL;
    }
  cert.data = (unsigned char *) cert_pem;
  cert.size = strlen (cert_pem);
  key.data = (unsigned char *) key_pem;
  key.size = strlen (key_pem);
  if ((status = gnutls_certificate_allocate_credentials (&credentials)) < 0 ||
      (status = gnutls_certificate_set_x509_key_mem (credentials, &cert, &key,
                                                     GNUTLS_X509_FMT_PEM)) < 0)
    {
      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                   "The relay’s identity cannot be used for TLS: %s", gnutls_strerror (status));
      if (credentials != NULL)
        gnutls_certificate_free_credentials (credentials);
      credentials = NULL;
    }
  gnutls_memset (key_pem, 0, strlen (key_pem));
  return credentials;
}

RelaySession *
_wzp_relay_session_new (int                               fd,
                        gnutls_certificate_credentials_t  credentials,
                        GError                          **error)
{
  RelaySession *self = g_new0 (RelaySession, 1);
  int status;

  self->fd = fd;
  /* No session tickets: clients never resume (a new handshake proves the key each time),
   * and tickets would cost every connection a message and the relay a key rotation. */
  if ((status = gnutls_init (&self->session, GNUTLS_SERVER | GNUTLS_NONBLOCK |
                                             GNUTLS_NO_SIGNAL | GNUTLS_NO_TICKETS)) < 0 ||
      (status = gnutls_set_default_priority (self->session)) < 0 ||
      (status = gnutls_credentials_set (self->session, GNUTLS_CRD_CERTIFICATE,
                                        credentials)) < 0)
    {
      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_MISC, "Could not start a TLS session: %s",
                   gnutls_strerror (status));
      _wzp_relay_session_free (self);
      return NULL;
    }
  /* Mutual TLS: the client's certificate is its identity. Its chain is not verified (the
   * fingerprint is what counts, docs/identity.md); the handshake's CertificateVerify
   * still proves that the client holds the key. */
  gnutls_certificate_server_set_request (self->session, GNUTLS_CERT_REQUIRE);
  /* The relay's own deadlines apply (handshake-timeout), not GnuTLS's. */
  gnutls_handshake_set_timeout (self->session, 0);
  gnutls_transport_set_ptr (self->session, self);
  gnutls_transport_set_pull_function (self->session, pull_cb);
  gnutls_transport_set_push_function (self->session, push_cb);
  return self;
}

void
_wzp_relay_session_free (RelaySession *self)
{
  if (self == NULL)
    return;
  if (self->session != NULL)
    gnutls_deinit (self->session);
  if (self->rx != NULL)
    g_byte_array_unref (self->rx);
  if (self->tx != NULL)
    g_byte_array_unref (self->tx);
  g_free (self);
}

RelaySessionStatus
_wzp_relay_session_handshake (RelaySession  *self,
                              GError       **error)
{
  int status;

  do
    status = gnutls_handshake (self->session);
  while (status < 0 && !gnutls_error_is_fatal (status) && status != GNUTLS_E_AGAIN);

  if (status == GNUTLS_E_AGAIN || status == GNUTLS_E_SUCCESS)
    {
      /* What the handshake wrote (ServerHello and the rest) goes out now. */
      if (_wzp_relay_session_flush (self, error) < 0)
        return RELAY_SESSION_FAILED;
      return status == GNUTLS_E_AGAIN ? RELAY_SESSION_AGAIN : RELAY_SESSION_DONE;
    }
  set_error_from_gnutls (error, self, "TLS handshake failed", status);
  return RELAY_SESSION_FAILED;
}

char *
_wzp_relay_session_dup_peer_fingerprint (RelaySession  *self,
                                         GError       **error)
{
  unsigned int n = 0;
  const gnutls_datum_t *certs = gnutls_certificate_get_peers (self->session, &n);

  if (certs == NULL || n == 0)
    {
      g_set_error_literal (error, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED,
                           "The client presented no certificate");
      return NULL;
    }
  return _wzp_fingerprint_from_der (certs[0].data, certs[0].size, error);
}

/* Reading */

static GByteArray *
rx_buffer (RelaySession *self)
{
  if (self->rx == NULL)
    {
      self->rx = g_byte_array_sized_new (RECORD_CHUNK);
      self->rx_start = 0;
    }
  return self->rx;
}

gssize
_wzp_relay_session_read (RelaySession  *self,
                         gsize          max,
                         GError       **error)
{
  gsize added = 0;

  while (added < max)
    {
      GByteArray *rx = rx_buffer (self);
      guint old_len = rx->len;
      ssize_t n;

      g_byte_array_set_size (rx, old_len + RECORD_CHUNK);
      n = gnutls_record_recv (self->session, rx->data + old_len, RECORD_CHUNK);
      g_byte_array_set_size (rx, old_len + MAX (n, 0));

      if (n > 0)
        {
          added += n;
          continue;
        }
      if (n == GNUTLS_E_AGAIN)
        break;
      if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_REHANDSHAKE ||
          n == GNUTLS_E_WARNING_ALERT_RECEIVED)
        continue;   /* not an end: TLS 1.2 renegotiation is simply not done */
      if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION)
        {
          if (added > 0)
            break;   /* deliver what came before the end; the next read reports it */
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                               "The connection was closed");
          return -1;
        }
      if (added > 0)
        break;
      set_error_from_gnutls (error, self, "Reading from the client failed", n);
      return -1;
    }

  if (self->rx != NULL && self->rx->len == self->rx_start)
    g_clear_pointer (&self->rx, g_byte_array_unref);   /* an idle session holds no buffer */
  return added;
}

gboolean
_wzp_relay_session_has_pending (RelaySession *self)
{
  return gnutls_record_check_pending (self->session) > 0;
}

gboolean
_wzp_relay_session_take_frame (RelaySession  *self,
                               gsize          max_frame,
                               GBytes       **payload,
                               GError       **error)
{
  const guint8 *head;
  gsize available;
  guint32 len;
  GBytes *bytes;

  *payload = NULL;
  if (self->rx == NULL)
    return FALSE;
  head = self->rx->data + self->rx_start;
  available = self->rx->len - self->rx_start;
  if (available < FRAME_HEADER)
    return FALSE;
  len = ((guint32) head[0] << 24) | ((guint32) head[1] << 16) | ((guint32) head[2] << 8) |
        (guint32) head[3];
  if (len > max_frame)
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE,
                   "A frame of %u bytes is over the limit of %" G_GSIZE_FORMAT " bytes",
                   len, max_frame);
      return FALSE;
    }
  if (available < FRAME_HEADER + (gsize) len)
    return FALSE;

  {
    /* NUL-terminated, as the JSON parser may want it. */
    char *copy = g_malloc (len + 1);

    memcpy (copy, head + FRAME_HEADER, len);
    copy[len] = '\0';
    bytes = g_bytes_new_take (copy, len);
  }
  self->rx_start += FRAME_HEADER + len;
  if (self->rx_start == self->rx->len)
    g_clear_pointer (&self->rx, g_byte_array_unref);
  else if (self->rx_start > self->rx->len / 2)
    {
      g_byte_array_remove_range (self->rx, 0, self->rx_start);
      self->rx_start = 0;
    }
  *payload = bytes;
  return TRUE;
}

RelaySession *
_wzp_relay_session_new_plaintext (void)
{
  RelaySession *self = g_new0 (RelaySession, 1);

  self->fd = -1;
  return self;
}

void
_wzp_relay_session_feed (RelaySession *self,
                         const guint8 *data,
                         gsize         len)
{
  g_return_if_fail (self->session == NULL);

  /* The same buffer _read() fills, and the same rule: an idle session holds none. */
  if (len > 0)
    g_byte_array_append (rx_buffer (self), data, len);
}

GBytes *
_wzp_relay_session_steal_input (RelaySession *self)
{
  GBytes *bytes;

  if (self->rx == NULL)
    return g_bytes_new (NULL, 0);
  bytes = g_bytes_new (self->rx->data + self->rx_start, self->rx->len - self->rx_start);
  g_clear_pointer (&self->rx, g_byte_array_unref);
  return bytes;
}

/* Writing */

void
_wzp_relay_session_write (RelaySession *self,
                          const void   *data,
                          gsize         len)
{
  const guint8 *p = data;

  while (len > 0)
    {
      ssize_t n = gnutls_record_send (self->session, p, len);

      /* The push function never fails, so neither does this but for a session that is
       * already broken; its reads will say so. */
      if (n <= 0)
        {
          g_debug ("Could not encrypt for a client: %s", gnutls_strerror ((int) n));
          return;
        }
      p += n;
      len -= n;
    }
}

gssize
_wzp_relay_session_flush (RelaySession  *self,
                          GError       **error)
{
  while (self->tx != NULL)
    {
      gsize left = self->tx->len - self->tx_start;
      ssize_t n = send (self->fd, self->tx->data + self->tx_start, left,
                        MSG_DONTWAIT | MSG_NOSIGNAL);

      if (n < 0)
        {
          int saved = errno;

          if (saved == EINTR)
            continue;
          if (saved == EAGAIN || saved == EWOULDBLOCK)
            break;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "Could not write to the client: %s", g_strerror (saved));
          return -1;
        }
      /* A stall is no progress at all: a slow reader that keeps taking bytes is not one. */
      self->tx_since = g_get_monotonic_time ();
      self->tx_start += n;
      if (self->tx_start == self->tx->len)
        g_clear_pointer (&self->tx, g_byte_array_unref);
      else if (self->tx_start > 65536 && self->tx_start > self->tx->len / 2)
        {
          g_byte_array_remove_range (self->tx, 0, self->tx_start);
          self->tx_start = 0;
        }
    }
  return _wzp_relay_session_get_queued (self);
}

gsize
_wzp_relay_session_get_queued (RelaySession *self)
{
  return self->tx != NULL ? self->tx->len - self->tx_start : 0;
}

gint64
_wzp_relay_session_get_pending_since (RelaySession *self)
{
  return self->tx != NULL ? self->tx_since : 0;
}
