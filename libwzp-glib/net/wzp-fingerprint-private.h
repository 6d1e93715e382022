/* wzp-fingerprint-private.h: the fingerprint's text form (docs/identity.md, "The
 * fingerprint"); the functions are public, in wzp-identity.h
 *
 * Apart from wzp-tls-private.h: TLS uses fingerprints, and the fingerprint code (and the
 * message validator, through wzp_fingerprint_is_valid()) must not depend on TLS.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

/* A fingerprint as text: 8 groups of 4 lower-case hex digits joined by ':' (39 chars). */
#define WZP_FINGERPRINT_LEN 39

#include <glib.h>

/* The fingerprint of a DER-encoded certificate (for TLS driven without GIO: the relay's
 * own sessions, wzp-relay-session.c); NULL and G_TLS_ERROR when it does not parse. */
char *_wzp_fingerprint_from_der (const guint8  *der,
                                 gsize          length,
                                 GError       **error);

/* The fingerprint of a DER-encoded SubjectPublicKeyInfo: what a fingerprint is a hash of. */
char *_wzp_fingerprint_from_spki (const guint8  *spki,
                                  gsize          length,
                                  GError       **error);
