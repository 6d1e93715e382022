/* wzp-binding.c: signed presence bindings (see wzp-binding-private.h; docs/protocol.md,
 * "Presence bindings")
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>

#include "wzp-binding-private.h"
#include "wzp-error.h"
#include "wzp-fingerprint-private.h"
#include "wzp-identity.h"

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_privkey_t, gnutls_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_pubkey_t, gnutls_pubkey_deinit, NULL)

/* What is signed. The first line keeps a binding's signature from meaning anything else
 * (the same key signs TLS handshakes); the time is in decimal, as on the wire. */
static char *
signed_text (const char *fingerprint,
             const char *relay_fingerprint,
             gint64      time_ms)
{
  return g_strdup_printf ("wzp presence binding 1\n%s\n%s\n%" G_GINT64_FORMAT,
                          fingerprint, relay_fingerprint, time_ms);
}

/* The signature algorithm for a key: SHA-256 with ECDSA or RSA, Ed25519 as it is. */
static gnutls_sign_algorithm_t
sign_algorithm_for (gnutls_pk_algorithm_t pk)
{
  if (pk == GNUTLS_PK_EDDSA_ED25519)
    return GNUTLS_SIGN_EDDSA_ED25519;
  return gnutls_pk_to_sign (pk, GNUTLS_DIG_SHA256);
}

WzpBinding *
_wzp_binding_new_signed (GTlsCertificate  *certificate,
                         const char       *relay_fingerprint,
                         gint64            time_ms,
                         GError          **error)
{
  g_auto(gnutls_privkey_t) key = NULL;
  g_auto(gnutls_pubkey_t) pub = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *text = NULL;
  gnutls_datum_t pem_datum, data, spki = { NULL, 0 }, sig = { NULL, 0 };
  gnutls_sign_algorithm_t algorithm;
  WzpBinding *binding;
  int status;

  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);
  g_return_val_if_fail (wzp_fingerprint_is_valid (relay_fingerprint), NULL);

  g_object_get (certificate, "private-key-pem", &pem, NULL);
  if (pem == NULL)
    {
      g_set_error_literal (error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                           "The identity has no private key to sign its presence with");
      return NULL;
    }
  pem_datum.data = (unsigned char *) pem;
  pem_datum.size = strlen (pem);

  if ((status = gnutls_privkey_init (&key)) < 0 ||
      (status = gnutls_privkey_import_x509_raw (key, &pem_datum, GNUTLS_X509_FMT_PEM,
                                                NULL, 0)) < 0 ||
      (status = gnutls_pubkey_init (&pub)) < 0 ||
      (status = gnutls_pubkey_import_privkey (pub, key, 0, 0)) < 0 ||
      (status = gnutls_pubkey_export2 (pub, GNUTLS_X509_FMT_DER, &spki)) < 0)
    {
      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                   "The identity’s key could not be read to sign its presence: %s",
                   gnutls_strerror (status));
      return NULL;
    }

  fingerprint = _wzp_fingerprint_from_spki (spki.data, spki.size, error);
  if (fingerprint == NULL)
    {
      gnutls_free (spki.data);
      return NULL;
    }

  text = signed_text (fingerprint, relay_fingerprint, time_ms);
  data.data = (unsigned char *) text;
  data.size = strlen (text);
  algorithm = sign_algorithm_for (gnutls_privkey_get_pk_algorithm (key, NULL));
  status = gnutls_privkey_sign_data2 (key, algorithm, 0, &data, &sig);
  if (status < 0)
    {
      gnutls_free (spki.data);
      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                   "The identity’s key could not sign its presence: %s",
                   gnutls_strerror (status));
      return NULL;
    }

  binding = g_new0 (WzpBinding, 1);
  binding->fingerprint = g_steal_pointer (&fingerprint);
  binding->relay_fingerprint = g_strdup (relay_fingerprint);
  binding->time_ms = time_ms;
  binding->public_key = g_base64_encode (spki.data, spki.size);
  binding->signature = g_base64_encode (sig.data, sig.size);
  gnutls_free (spki.data);
  gnutls_free (sig.data);
  return binding;
}

WzpBinding *
_wzp_binding_copy (const WzpBinding *binding)
{
  WzpBinding *copy = g_new0 (WzpBinding, 1);

  copy->fingerprint = g_strdup (binding->fingerprint);
  copy->relay_fingerprint = g_strdup (binding->relay_fingerprint);
  copy->time_ms = binding->time_ms;
  copy->public_key = g_strdup (binding->public_key);
  copy->signature = g_strdup (binding->signature);
  return copy;
}

void
_wzp_binding_free (WzpBinding *binding)
{
  if (binding == NULL)
    return;
  g_free (binding->fingerprint);
  g_free (binding->relay_fingerprint);
  g_free (binding->public_key);
  g_free (binding->signature);
  g_free (binding);
}

static gboolean
is_base64 (const char *text)
{
  gsize n = strlen (text);

  if (n == 0 || n % 4 != 0 || n > WZP_BINDING_MAX_B64)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    {
      char c = text[i];

      if (g_ascii_isalnum (c) || c == '+' || c == '/')
        continue;
      /* Padding: one or two '=' at the end only. */
      if (c == '=' && (i == n - 1 || (i == n - 2 && text[n - 1] == '=')))
        continue;
      return FALSE;
    }
  return TRUE;
}

static const char *
get_string (JsonObject  *object,
            const char  *member,
            GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_MISSING_MEMBER,
                   "binding: member “%s” is missing", member);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_WRONG_TYPE,
                   "binding: member “%s” must be a string", member);
      return NULL;
    }
  return json_node_get_string (node);
}

WzpBinding *
_wzp_binding_from_json (JsonNode  *node,
                        GError   **error)
{
  g_autoptr(WzpBinding) binding = NULL;
  JsonObject *object;
  JsonNode *time_node;
  const char *fingerprint, *relay, *key, *signature;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_WRONG_TYPE,
                           "binding: must be an object");
      return NULL;
    }
  object = json_node_get_object (node);

  if ((fingerprint = get_string (object, "fingerprint", error)) == NULL ||
      (relay = get_string (object, "relay_fingerprint", error)) == NULL ||
      (key = get_string (object, "public_key", error)) == NULL ||
      (signature = get_string (object, "signature", error)) == NULL)
    return NULL;

  if (!wzp_fingerprint_is_valid (fingerprint) || !wzp_fingerprint_is_valid (relay))
    {
      g_set_error_literal (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE,
                           "binding: “fingerprint” and “relay_fingerprint” must be "
                           "fingerprints (8 groups of 4 lower-case hex digits)");
      return NULL;
    }
  if (!is_base64 (key) || !is_base64 (signature))
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE,
                   "binding: “public_key” and “signature” must be base64, at most %d "
                   "characters", WZP_BINDING_MAX_B64);
      return NULL;
    }

  time_node = json_object_get_member (object, "time_ms");
  if (time_node == NULL || JSON_NODE_HOLDS_NULL (time_node))
    {
      g_set_error_literal (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_MISSING_MEMBER,
                           "binding: member “time_ms” is missing");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (time_node) ||
      json_node_get_value_type (time_node) != G_TYPE_INT64)
    {
      g_set_error_literal (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_WRONG_TYPE,
                           "binding: member “time_ms” must be an integer");
      return NULL;
    }

  binding = g_new0 (WzpBinding, 1);
  binding->fingerprint = g_strdup (fingerprint);
  binding->relay_fingerprint = g_strdup (relay);
  binding->time_ms = json_node_get_int (time_node);
  binding->public_key = g_strdup (key);
  binding->signature = g_strdup (signature);
  return g_steal_pointer (&binding);
}

JsonNode *
_wzp_binding_to_json (const WzpBinding *binding)
{
  JsonObject *object = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (object, "fingerprint", binding->fingerprint);
  json_object_set_string_member (object, "relay_fingerprint", binding->relay_fingerprint);
  json_object_set_int_member (object, "time_ms", binding->time_ms);
  json_object_set_string_member (object, "public_key", binding->public_key);
  json_object_set_string_member (object, "signature", binding->signature);
  json_node_take_object (node, object);
  return node;
}

static void
set_invalid (GError     **error,
             const char  *why)
{
  g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE,
               "binding: %s", why);
}

gboolean
_wzp_binding_verify (const WzpBinding  *binding,
                     GError           **error)
{
  g_auto(gnutls_pubkey_t) pub = NULL;
  g_autofree guint8 *spki = NULL;
  g_autofree guint8 *sig = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *text = NULL;
  gsize spki_len, sig_len;
  gnutls_datum_t spki_datum, sig_datum, data;
  gnutls_sign_algorithm_t algorithm;

  spki = g_base64_decode (binding->public_key, &spki_len);
  sig = g_base64_decode (binding->signature, &sig_len);
  fingerprint = _wzp_fingerprint_from_spki (spki, spki_len, NULL);
  if (g_strcmp0 (fingerprint, binding->fingerprint) != 0)
    {
      set_invalid (error, "the public key is not the key of the fingerprint");
      return FALSE;
    }

  spki_datum.data = spki;
  spki_datum.size = (unsigned) spki_len;
  if (gnutls_pubkey_init (&pub) < 0 ||
      gnutls_pubkey_import (pub, &spki_datum, GNUTLS_X509_FMT_DER) < 0)
    {
      set_invalid (error, "the public key does not parse");
      return FALSE;
    }
  algorithm = sign_algorithm_for (gnutls_pubkey_get_pk_algorithm (pub, NULL));
  if (algorithm == GNUTLS_SIGN_UNKNOWN)
    {
      set_invalid (error, "the public key is of a kind that cannot sign");
      return FALSE;
    }

  text = signed_text (binding->fingerprint, binding->relay_fingerprint, binding->time_ms);
  data.data = (unsigned char *) text;
  data.size = strlen (text);
  sig_datum.data = sig;
  sig_datum.size = (unsigned) sig_len;
  if (gnutls_pubkey_verify_data2 (pub, algorithm, 0, &data, &sig_datum) < 0)
    {
      set_invalid (error, "the signature does not verify");
      return FALSE;
    }
  return TRUE;
}
