/* wzp-tls-refusal-private.h: how a relay says why it turns a connection away before TLS
 *
 * A relay at a cap closes a new connection before any TLS channel exists, so it cannot
 * send a signalling Error. It writes one plaintext fatal TLS alert record instead, at
 * accept (or where its ServerHello would have been), and closes (docs/protocol.md,
 * "Turned away before TLS"):
 *
 *   0x15 (alert)  0x03 0x03 (TLS 1.2, the legacy record version)  0x00 0x02 (length)
 *   0x02 (fatal)  DESC
 *
 * DESC 80 (internal_error): the relay is busy, whoever connects (its own caps);
 * DESC 49 (access_denied): too many connections from the client's network (the caps per
 * address). Any other first bytes, or none, say nothing: an ordinary network failure.
 *
 * The relay writes these bytes (wzp-relay-refusal.c); a client's TLS dial reads them
 * (wzp-tls-dial.c): glib-networking reports a fatal alert only as a translated message,
 * so the dial keeps the first bytes the server sent (wzp-head-stream-private.h) and
 * compares them with this.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  WZP_TLS_REFUSAL_NONE,
  WZP_TLS_REFUSAL_BUSY,               /* internal_error (80) */
  WZP_TLS_REFUSAL_TOO_MANY_FROM_NETWORK,  /* access_denied (49) */
} WzpTlsRefusal;

/* The length of a refusal: one alert record, header and body. */
#define WZP_TLS_REFUSAL_LEN 7

/* Fills @alert with the record that says @reason (not WZP_TLS_REFUSAL_NONE). */
void          _wzp_tls_refusal_alert     (WzpTlsRefusal  reason,
                                          guint8         alert[WZP_TLS_REFUSAL_LEN]);

/* What the first @len bytes a server sent (@head) say: a refusal when they begin with
 * exactly one of the two records, WZP_TLS_REFUSAL_NONE otherwise (fewer bytes, another
 * alert, a ServerHello). */
WzpTlsRefusal _wzp_tls_refusal_recognise (const guint8  *head,
                                          gsize          len);

G_END_DECLS
