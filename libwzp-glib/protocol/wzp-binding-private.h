/* wzp-binding-private.h: signed presence bindings (docs/protocol.md, "Presence bindings")
 *
 * A binding is a user's own statement "I, the holder of this key, am registered with the
 * relay whose fingerprint is R, as of time T", signed with the user's identity key. The
 * client makes one at each registration; its relay passes it to its peers with the
 * presence update; a peer relay believes an announcement, or a forwarded offer's caller,
 * only with a binding that names the relay that sent it, and the newest binding of a user
 * wins. So a relay can speak only for the users who chose it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The longest public key and signature a binding may carry, base64 (an RSA-4096 key and
 * its signature fit; a wzp identity's ECDSA P-256 key takes 124 and 96 characters). */
#define WZP_BINDING_MAX_B64 1024

/* How far a binding's time may be ahead of the clock of the relay that reads it. A
 * binding from the future would win over every real one until its time came. */
#define WZP_BINDING_MAX_AHEAD_MS (10 * 60 * 1000)

typedef struct
{
  char   *fingerprint;        /* the user: must be the fingerprint of public_key */
  char   *relay_fingerprint;  /* the relay the user registered with */
  gint64  time_ms;            /* the user's clock, milliseconds since 1970 (UTC) */
  char   *public_key;         /* base64 of the DER SubjectPublicKeyInfo */
  char   *signature;          /* base64 of the signature over the signed text */
} WzpBinding;

/* A binding for @relay_fingerprint at @time_ms, signed with the private key of
 * @certificate (a wzp identity's certificate); NULL and an error if the key cannot sign. */
WzpBinding *_wzp_binding_new_signed    (GTlsCertificate   *certificate,
                                        const char        *relay_fingerprint,
                                        gint64             time_ms,
                                        GError           **error);
WzpBinding *_wzp_binding_copy          (const WzpBinding  *binding);
void        _wzp_binding_free          (WzpBinding        *binding);

/* Reads a binding from a message member: the shape only (members, their types, valid
 * fingerprints, base64 within WZP_BINDING_MAX_B64); NULL and WZP_PROTOCOL_ERROR
 * otherwise. Nothing cryptographic: see _wzp_binding_verify(). */
WzpBinding *_wzp_binding_from_json     (JsonNode          *node,
                                        GError           **error);
JsonNode   *_wzp_binding_to_json       (const WzpBinding  *binding);

/* Whether @binding is the user's own: its fingerprint is that of its public key, and the
 * signature over its fingerprint, relay and time verifies with that key. FALSE and a
 * WZP_PROTOCOL_ERROR_INVALID_VALUE saying which otherwise. About 0.3 ms of CPU (ECDSA P-256):
 * relays verify when they are about to rely on a binding, not for every one announced. */
gboolean    _wzp_binding_verify        (const WzpBinding  *binding,
                                        GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WzpBinding, _wzp_binding_free)

G_END_DECLS
