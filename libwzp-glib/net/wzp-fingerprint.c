/* wzp-fingerprint.c: the fingerprint that names an identity, computed from a certificate
 * and checked as text (docs/identity.md, "The fingerprint")
 *
 * The functions are public and declared in wzp-identity.h; this file is one of the GIR's
 * sources, so their doc comments and annotations reach the typelib.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "wzp-i18n-private.h"
#include "wzp-fingerprint-private.h"
#include "wzp-identity.h"

/* The fingerprint is the first 16 bytes of SHA-256 over the DER SubjectPublicKeyInfo. */
#define FINGERPRINT_BYTES 16

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_pubkey_t, gnutls_pubkey_deinit, NULL)

static void
set_certificate_error (GError     **error,
                       int          code,
                       const char  *what,
                       int          status)
{
  g_set_error (error, G_TLS_ERROR, code, "%s: %s", what, gnutls_strerror (status));
}

static char *
format_fingerprint (const guint8 *digest)
{
  GString *text = g_string_sized_new (WZP_FINGERPRINT_LEN + 1);

  for (unsigned i = 0; i < FINGERPRINT_BYTES; i += 2)
    {
      if (i > 0)
        g_string_append_c (text, ':');
      g_string_append_printf (text, "%02x%02x", digest[i], digest[i + 1]);
    }

  g_assert (text->len == WZP_FINGERPRINT_LEN);
  return g_string_free (text, FALSE);
}

/* The fingerprint of a DER-encoded certificate's SubjectPublicKeyInfo. */
char *
_wzp_fingerprint_from_der (const guint8  *der,
                      gsize          length,
                      GError       **error)
{
  g_auto(gnutls_x509_crt_t) crt = NULL;
  g_auto(gnutls_pubkey_t) pubkey = NULL;
  gnutls_datum_t datum = { (unsigned char *) der, length };
  gnutls_datum_t spki = { NULL, 0 };
  char *fingerprint;
  int status;

  if (length > G_MAXUINT)
    {
      g_set_error_literal (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                           _("The certificate is too large"));
      return NULL;
    }

  if ((status = gnutls_x509_crt_init (&crt)) < 0 ||
      (status = gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_DER)) < 0)
    {
      set_certificate_error (error, G_TLS_ERROR_BAD_CERTIFICATE,
                             _("The certificate could not be parsed"), status);
      return NULL;
    }

  if ((status = gnutls_pubkey_init (&pubkey)) < 0 ||
      (status = gnutls_pubkey_import_x509 (pubkey, crt, 0)) < 0 ||
      (status = gnutls_pubkey_export2 (pubkey, GNUTLS_X509_FMT_DER, &spki)) < 0)
    {
      set_certificate_error (error, G_TLS_ERROR_BAD_CERTIFICATE,
                             _("The certificate’s public key could not be read"), status);
      return NULL;
    }

  fingerprint = _wzp_fingerprint_from_spki (spki.data, spki.size, error);
  gnutls_free (spki.data);
  return fingerprint;
}

/* The fingerprint of a DER-encoded SubjectPublicKeyInfo (a signed presence binding carries
 * the key itself: wzp-binding.c). */
char *
_wzp_fingerprint_from_spki (const guint8  *spki,
                            gsize          length,
                            GError       **error)
{
  guint8 digest[32];
  int status;

  status = gnutls_hash_fast (GNUTLS_DIG_SHA256, spki, length, digest);
  if (status < 0)
    {
      set_certificate_error (error, G_TLS_ERROR_MISC,
                             _("The certificate’s fingerprint could not be computed"), status);
      return NULL;
    }

  return format_fingerprint (digest);
}

/**
 * wzp_fingerprint_from_certificate:
 * @certificate: a certificate
 * @error: return location for a [error@Gio.TlsError]
 *
 * Computes the fingerprint that identifies the holder of @certificate's key: the first
 * 16 bytes of SHA-256 over the certificate's DER-encoded SubjectPublicKeyInfo, written as
 * 8 colon-separated groups of 4 lower-case hex digits (`1a2b:3c4d:…`, 39 characters).
 *
 * The fingerprint depends only on the public key, so a renewed certificate for the same
 * key keeps it.
 *
 * Returns: (transfer full) (nullable): the fingerprint, or %NULL if @certificate could not
 *   be parsed
 *
 * Since: 1.0
 */
char *
wzp_fingerprint_from_certificate (GTlsCertificate  *certificate,
                                  GError          **error)
{
  g_autoptr(GByteArray) der = NULL;

  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_object_get (certificate, "certificate", &der, NULL);
  if (der == NULL)
    {
      g_set_error_literal (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                           _("The certificate has no data"));
      return NULL;
    }

  return _wzp_fingerprint_from_der (der->data, der->len, error);
}

/**
 * wzp_fingerprint_is_valid:
 * @fingerprint: (nullable): text to check
 *
 * Checks that @fingerprint is a fingerprint in its canonical form, as
 * [func@Wzp.fingerprint_from_certificate] writes it: exactly 8 groups of 4 lower-case hex
 * digits separated by colons. Upper-case digits, spaces and other separators are refused,
 * so that valid fingerprints can be compared as strings. %NULL is not a fingerprint.
 *
 * Returns: %TRUE if @fingerprint is a well-formed fingerprint
 *
 * Since: 1.0
 */
gboolean
wzp_fingerprint_is_valid (const char *fingerprint)
{
  if (fingerprint == NULL)
    return FALSE;

  for (unsigned i = 0; i < WZP_FINGERPRINT_LEN; i++)
    {
      char c = fingerprint[i];

      if (i % 5 == 4)
        {
          if (c != ':')
            return FALSE;
        }
      else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
        {
          return FALSE; /* also stops at the terminating NUL of a short string */
        }
    }

  return fingerprint[WZP_FINGERPRINT_LEN] == '\0';
}
