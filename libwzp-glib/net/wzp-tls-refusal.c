/* wzp-tls-refusal.c: how a relay says why it turns a connection away before TLS
 * (wzp-tls-refusal-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-tls-refusal-private.h"

/* RFC 8446, 5.1 and 6. */
#define TLS_ALERT_RECORD      0x15
#define TLS_ALERT_FATAL       2
#define TLS_ACCESS_DENIED     49
#define TLS_INTERNAL_ERROR    80

void
_wzp_tls_refusal_alert (WzpTlsRefusal reason,
                        guint8        alert[WZP_TLS_REFUSAL_LEN])
{
  static const guint8 header[] = { TLS_ALERT_RECORD, 0x03, 0x03, 0x00, 0x02, TLS_ALERT_FATAL };

  g_return_if_fail (reason == WZP_TLS_REFUSAL_BUSY ||
                    reason == WZP_TLS_REFUSAL_TOO_MANY_FROM_NETWORK);

  memcpy (alert, header, sizeof header);
  alert[6] = reason == WZP_TLS_REFUSAL_BUSY ? TLS_INTERNAL_ERROR : TLS_ACCESS_DENIED;
}

WzpTlsRefusal
_wzp_tls_refusal_recognise (const guint8 *head,
                            gsize         len)
{
  guint8 busy[WZP_TLS_REFUSAL_LEN];
  guint8 too_many[WZP_TLS_REFUSAL_LEN];

  if (head == NULL || len < WZP_TLS_REFUSAL_LEN)
    return WZP_TLS_REFUSAL_NONE;
  _wzp_tls_refusal_alert (WZP_TLS_REFUSAL_BUSY, busy);
  _wzp_tls_refusal_alert (WZP_TLS_REFUSAL_TOO_MANY_FROM_NETWORK, too_many);
  if (memcmp (head, busy, WZP_TLS_REFUSAL_LEN) == 0)
    return WZP_TLS_REFUSAL_BUSY;
  if (memcmp (head, too_many, WZP_TLS_REFUSAL_LEN) == 0)
    return WZP_TLS_REFUSAL_TOO_MANY_FROM_NETWORK;
  return WZP_TLS_REFUSAL_NONE;
}
