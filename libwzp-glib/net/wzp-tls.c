/* wzp-tls.c: GnuTLS key and certificate creation, and the one constructor every TLS
 * connection in the project goes through (fingerprints: wzp-fingerprint.c)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "wzp-i18n-private.h"
#include <gio/gio.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

/* For WZP_IDENTITY_ERROR and the fingerprint functions (wzp-fingerprint.c) only: TLS takes
 * certificates, never a WzpIdentity, so that identity code can use it without a cycle. */
#include "wzp-identity.h"
#include "wzp-tls-private.h"

/* The identity error domain is defined here, not in wzp-identity.c: the identity code is
 * built on this file, and generating a key or checking a pin, which fail with it, happen
 * here. Defining it above its users keeps TLS from calling back into identity. */
G_DEFINE_QUARK (wzp-identity-error-quark, wzp_identity_error)

/* Validity starts a day in the past so that a peer whose clock is behind still sees a
 * valid certificate (pins, not dates, decide trust; see docs/identity.md). */
#define ACTIVATION_SLACK_SECONDS (24 * 60 * 60)

#define PEER_STATE_KEY "wzp-tls-peer-state"

/* What ::accept-certificate saw, attached to each connection we make. */
typedef struct {
  char     *pin;              /* owned, nullable: the fingerprint we accept */
  char     *peer_fingerprint; /* owned, nullable: the fingerprint the peer presented */
  gboolean  checked;          /* ::accept-certificate ran */
  gboolean  rejected;         /* ... and refused the certificate because of the pin */
} PeerState;

static void
peer_state_free (gpointer data)
{
  PeerState *state = data;

  g_free (state->pin);
  g_free (state->peer_fingerprint);
  g_free (state);
}

static void
wipe_and_gnutls_free (gnutls_datum_t *datum)
{
  if (datum->data != NULL)
    {
      gnutls_memset (datum->data, 0, datum->size);
      gnutls_free (datum->data);
    }
  datum->data = NULL;
  datum->size = 0;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (gnutls_datum_t, wipe_and_gnutls_free)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_privkey_t, gnutls_x509_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)

/* Sets @error from a GnuTLS status code, in @domain/@code, prefixed by @what. */
static void
set_gnutls_error (GError     **error,
                  GQuark       domain,
                  int          code,
                  const char  *what,
                  int          status)
{
  g_set_error (error, domain, code, "%s: %s", what, gnutls_strerror (status));
}

char *
_wzp_tls_generate_pem (GError **error)
{
  g_auto(gnutls_x509_privkey_t) key = NULL;
  g_auto(gnutls_x509_crt_t) crt = NULL;
  g_auto(gnutls_datum_t) key_pem = { NULL, 0 };
  g_auto(gnutls_datum_t) crt_pem = { NULL, 0 };
  guint8 serial[16];
  guint8 key_id[64];
  size_t key_id_size = sizeof key_id;
  time_t now = time (NULL);
  char *pem;
  int status;

  status = gnutls_x509_privkey_init (&key);
  if (status >= 0)
    status = gnutls_x509_privkey_generate2 (key, GNUTLS_PK_ECDSA,
                                            GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1),
                                            0, NULL, 0);
  if (status < 0)
    {
      set_gnutls_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_GENERATION_FAILED,
                        _("Could not generate a key"), status);
      return NULL;
    }

  /* A positive 127-bit random serial (RFC 5280 4.1.2.2: at most 20 octets, positive). */
  status = gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial);
  serial[0] = (serial[0] & 0x7f) | 0x40;

  if (status >= 0)
    status = gnutls_x509_crt_init (&crt);
  if (status >= 0)
    status = gnutls_x509_crt_set_version (crt, 3);
  if (status >= 0)
    status = gnutls_x509_crt_set_serial (crt, serial, sizeof serial);
  if (status >= 0)
    status = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, "wzp", 3);
  if (status >= 0)
    status = gnutls_x509_crt_set_key (crt, key);
  if (status >= 0)
    status = gnutls_x509_crt_set_activation_time (crt, now - ACTIVATION_SLACK_SECONDS);
  /* GnuTLS's "no well-defined expiration" value, which GnuTLS 3.7 writes as 2106; with a
   * 32-bit time_t, as late as it goes (2038). */
  if (status >= 0)
    status = gnutls_x509_crt_set_expiration_time (crt, sizeof (time_t) >= 8
                                                       ? GNUTLS_X509_NO_WELL_DEFINED_EXPIRATION
                                                       : (time_t) G_MAXINT32);
  if (status >= 0)
    status = gnutls_x509_crt_set_basic_constraints (crt, 0, -1);
  if (status >= 0)
    status = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
  if (status >= 0)
    status = gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
  if (status >= 0)
    status = gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_CLIENT, 0);
  if (status >= 0)
    status = gnutls_x509_crt_get_key_id (crt, GNUTLS_KEYID_USE_SHA1, key_id, &key_id_size);
  if (status >= 0)
    status = gnutls_x509_crt_set_subject_key_id (crt, key_id, key_id_size);
  if (status >= 0)
    status = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0);
  if (status < 0)
    {
      set_gnutls_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_GENERATION_FAILED,
                        _("Could not make a certificate"), status);
      return NULL;
    }

  /* Unencrypted PKCS #8 ("BEGIN PRIVATE KEY"), which GIO reads for every key type. */
  status = gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL,
                                              GNUTLS_PKCS_PLAIN, &key_pem);
  if (status >= 0)
    status = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &crt_pem);
  if (status < 0)
    {
      set_gnutls_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_GENERATION_FAILED,
                        _("Could not encode the key and certificate"), status);
      return NULL;
    }

  pem = g_malloc (key_pem.size + crt_pem.size + 1);
  memcpy (pem, key_pem.data, key_pem.size);
  memcpy (pem + key_pem.size, crt_pem.data, crt_pem.size);
  pem[key_pem.size + crt_pem.size] = '\0';

  return pem;
}

GTlsCertificate *
_wzp_tls_certificate_new_from_pem (const char  *pem,
                                   gssize       length,
                                   char       **fingerprint,
                                   GError     **error)
{
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_auto(gnutls_x509_crt_t) crt = NULL;
  g_auto(gnutls_x509_privkey_t) key = NULL;
  g_autoptr(GByteArray) der = NULL;
  gnutls_datum_t datum;
  guint8 crt_id[32], key_id[32];
  size_t crt_id_size = sizeof crt_id, key_id_size = sizeof key_id;
  char *key_pem = NULL;
  int status;

  g_return_val_if_fail (pem != NULL, NULL);

  if (length < 0)
    length = strlen (pem);

  /* GIO parses the certificate (first CERTIFICATE block) and the private key. */
  certificate = g_tls_certificate_new_from_pem (pem, length, error);
  if (certificate == NULL)
    return NULL;

  g_object_get (certificate, "private-key-pem", &key_pem, "certificate", &der, NULL);
  if (key_pem == NULL)
    {
      g_set_error_literal (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                           _("There is a certificate but no private key"));
      return NULL;
    }

  /* The key must be the certificate's: compare the two public keys. */
  status = gnutls_x509_privkey_init (&key);
  if (status >= 0)
    {
      datum.data = (unsigned char *) key_pem;
      datum.size = strlen (key_pem);
      status = gnutls_x509_privkey_import2 (key, &datum, GNUTLS_X509_FMT_PEM, NULL, 0);
    }
  gnutls_memset (key_pem, 0, strlen (key_pem));
  g_free (key_pem);
  if (status >= 0)
    status = gnutls_x509_privkey_get_key_id (key, GNUTLS_KEYID_USE_SHA256, key_id, &key_id_size);
  if (status < 0)
    {
      set_gnutls_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                        _("The private key could not be read"), status);
      return NULL;
    }

  datum.data = der->data;
  datum.size = der->len;
  if ((status = gnutls_x509_crt_init (&crt)) < 0 ||
      (status = gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_DER)) < 0 ||
      (status = gnutls_x509_crt_get_key_id (crt, GNUTLS_KEYID_USE_SHA256,
                                            crt_id, &crt_id_size)) < 0)
    {
      set_gnutls_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                        _("The certificate could not be read"), status);
      return NULL;
    }

  if (key_id_size != crt_id_size || memcmp (key_id, crt_id, key_id_size) != 0)
    {
      g_set_error_literal (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                           _("The private key does not belong to the certificate"));
      return NULL;
    }

  if (fingerprint != NULL)
    {
      *fingerprint = wzp_fingerprint_from_certificate (certificate, error);
      if (*fingerprint == NULL)
        return NULL;
    }

  return g_steal_pointer (&certificate);
}

/* The TCP socket under @stream, or NULL when it is not one (a socket pair in tests). */
static GSocket *
tcp_socket_of (GIOStream *stream)
{
  GSocket *socket;
  GSocketFamily family;

  if (!G_IS_SOCKET_CONNECTION (stream))
    return NULL;

  socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream));
  family = g_socket_get_family (socket);
  if ((family != G_SOCKET_FAMILY_IPV4 && family != G_SOCKET_FAMILY_IPV6) ||
      g_socket_get_socket_type (socket) != G_SOCKET_TYPE_STREAM)
    return NULL;
  return socket;
}

void
_wzp_socket_connection_set_nodelay (GIOStream *stream)
{
  g_autoptr(GError) error = NULL;
  GSocket *socket = tcp_socket_of (stream);

  if (socket != NULL && !g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, &error))
    g_debug ("Could not set TCP_NODELAY: %s", error->message);
}

void
_wzp_socket_connection_set_notsent_lowat (GIOStream *stream,
                                          int        bytes)
{
  g_autoptr(GError) error = NULL;
  GSocket *socket = tcp_socket_of (stream);

  if (socket != NULL &&
      !g_socket_set_option (socket, IPPROTO_TCP, TCP_NOTSENT_LOWAT, bytes, &error))
    g_debug ("Could not set TCP_NOTSENT_LOWAT: %s", error->message);
}

static gboolean
accept_certificate_cb (GTlsConnection       *connection,
                       GTlsCertificate      *peer_certificate,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  PeerState *state = user_data;
  g_autoptr(GError) error = NULL;

  /* @errors is ignored on purpose: with database NULL it always holds UNKNOWN_CA, and
   * dates mean nothing for a pinned key. The handshake proves possession of the key
   * whose fingerprint is checked here. */
  g_clear_pointer (&state->peer_fingerprint, g_free);
  state->checked = TRUE;
  state->rejected = FALSE;

  state->peer_fingerprint = wzp_fingerprint_from_certificate (peer_certificate, &error);
  if (state->peer_fingerprint == NULL)
    {
      g_debug ("Refusing a peer certificate: %s", error->message);
      return FALSE;
    }

  if (state->pin != NULL && strcmp (state->pin, state->peer_fingerprint) != 0)
    {
      g_debug ("Refusing peer %s: pinned %s", state->peer_fingerprint, state->pin);
      state->rejected = TRUE;
      return FALSE;
    }

  return TRUE;
}

static GIOStream *
tls_connection_new (GType             type,
                    GIOStream        *base_stream,
                    GTlsCertificate  *certificate,
                    const char       *pin,
                    GError          **error)
{
  g_autoptr(GIOStream) tls = NULL;
  PeerState *state;

  if (pin != NULL && !wzp_fingerprint_is_valid (pin))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a valid fingerprint"), pin);
      return NULL;
    }

  _wzp_socket_connection_set_nodelay (base_stream);

  /* "database" must be NULL before GInitable::init runs: otherwise glib-networking loads
   * the system trust store and copies it into every connection's credentials (a slow
   * handshake and megabytes per idle server connection; docs/identity.md, "Measurements"). */
  if (type == G_TYPE_TLS_SERVER_CONNECTION)
    tls = g_initable_new (g_tls_backend_get_server_connection_type (g_tls_backend_get_default ()),
                          NULL, error,
                          "base-io-stream", base_stream,
                          "certificate", certificate,
                          "database", NULL,
                          "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED,
                          NULL);
  else
    tls = g_initable_new (g_tls_backend_get_client_connection_type (g_tls_backend_get_default ()),
                          NULL, error,
                          "base-io-stream", base_stream,
                          "certificate", certificate,
                          "database", NULL,
                          NULL);
  if (tls == NULL)
    return NULL;

  state = g_new0 (PeerState, 1);
  state->pin = g_strdup (pin);
  g_object_set_data_full (G_OBJECT (tls), PEER_STATE_KEY, state, peer_state_free);
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_certificate_cb), state);

  return g_steal_pointer (&tls);
}

GIOStream *
_wzp_tls_client_new (GIOStream        *base_stream,
                     GTlsCertificate  *certificate,
                     const char       *pin,
                     GError          **error)
{
  g_return_val_if_fail (G_IS_IO_STREAM (base_stream), NULL);
  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return tls_connection_new (G_TYPE_TLS_CLIENT_CONNECTION, base_stream, certificate, pin, error);
}

GIOStream *
_wzp_tls_server_new (GIOStream        *base_stream,
                     GTlsCertificate  *certificate,
                     const char       *pin,
                     GError          **error)
{
  g_return_val_if_fail (G_IS_IO_STREAM (base_stream), NULL);
  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return tls_connection_new (G_TYPE_TLS_SERVER_CONNECTION, base_stream, certificate, pin, error);
}

const char *
_wzp_tls_connection_get_peer_fingerprint (GIOStream *tls)
{
  PeerState *state;

  g_return_val_if_fail (G_IS_TLS_CONNECTION (tls), NULL);

  state = g_object_get_data (G_OBJECT (tls), PEER_STATE_KEY);
  if (state == NULL || !state->checked || state->rejected)
    return NULL;

  return state->peer_fingerprint;
}

void
_wzp_tls_connection_explain_error (GIOStream  *tls,
                                   GError    **error)
{
  PeerState *state;

  g_return_if_fail (G_IS_TLS_CONNECTION (tls));

  if (error == NULL || *error == NULL)
    return;

  state = g_object_get_data (G_OBJECT (tls), PEER_STATE_KEY);
  if (state == NULL || !state->rejected ||
      g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  g_clear_error (error);
  g_set_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_PIN_MISMATCH,
               _("The peer’s certificate has fingerprint %s, but %s was expected"),
               state->peer_fingerprint, state->pin);
}
