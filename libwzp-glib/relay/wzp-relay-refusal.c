/* wzp-relay-refusal.c: turning a connection away before TLS, saying why
 *
 * Before its TLS handshake a connection has no channel for a signalling Error, and a bare
 * close looks to the client like a network failure. So the relay writes the plaintext
 * fatal alert record that says why (wzp-tls-refusal-private.h; docs/protocol.md, "Turned
 * away before TLS") and closes. The client's TLS library reads it as the server's first
 * record; the client tells its user "the relay is busy" or "too many connections from
 * your network" and retries later (docs/relay.md, "When the relay turns clients away").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>

#include "wzp-relay-private.h"
#include "wzp-tls-refusal-private.h"

/* What a client may have sent before the refusal: a ClientHello is one record of at most
 * 16 KiB plus its header. Reading more would let a peer keep the relay busy here. */
#define DRAIN_MAX (16384 + 5)

void
_wzp_relay_refuse_before_tls (int          fd,
                              RelayRefusal reason)
{
  guint8 alert[WZP_TLS_REFUSAL_LEN];
  guint8 buf[4096];
  gsize drained = 0;

  g_return_if_fail (fd >= 0);

  _wzp_tls_refusal_alert (reason == RELAY_REFUSAL_BUSY ? WZP_TLS_REFUSAL_BUSY
                                                       : WZP_TLS_REFUSAL_TOO_MANY_FROM_NETWORK,
                          alert);
  /* A new connection's send buffer is empty, so the seven bytes go in whole; if they do
   * not (the peer reset it already), nobody is left to tell. */
  if (send (fd, alert, sizeof alert, MSG_NOSIGNAL | MSG_DONTWAIT) != (gssize) sizeof alert)
    g_debug ("Could not send the refusal: %s", g_strerror (errno));

  /* Closing a socket with unread bytes in it sends a reset, not a FIN, and a peer's TCP
   * may drop what it received but was not read yet when a reset comes (the reason web
   * servers linger before closing). What arrived before the refusal, the ClientHello on a
   * fast link, is read and dropped; one arriving later still meets a reset. */
  while (drained < DRAIN_MAX)
    {
      gssize n = recv (fd, buf, MIN (sizeof buf, DRAIN_MAX - drained), MSG_DONTWAIT);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      drained += n;
    }
  shutdown (fd, SHUT_WR);
}
