/* wzp-relay-endpoint.c: a call's party as the relay reaches it (see
 * wzp-relay-endpoint-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-relay-endpoint-private.h"
#include "wzp-relay-federation-private.h"

/* A party registered here: its signalling connection, while it has one (a party in its
 * grace period has none, and misses what is sent meanwhile). */

static void
local_send (RelayCall  *call,
            int         role,
            WzpMessage *message)
{
  RelayConn *conn = _wzp_relay_lookup_conn (call->relay, call->party[role].fingerprint);

  if (conn != NULL)
    _wzp_relay_conn_send (conn, message);
}

static void
local_send_error (RelayCall  *call,
                  int         role,
                  const char *code,
                  const char *text)
{
  RelayConn *conn = _wzp_relay_lookup_conn (call->relay, call->party[role].fingerprint);

  if (conn != NULL)
    _wzp_relay_conn_send_error (conn, code, call->call_id, "%s", text);
}

static void
local_request_pipe (RelayCall *call,
                    int        role)
{
  g_autoptr(WzpMessage) requested = _wzp_message_new_for_call (WZP_MESSAGE_PIPE_REQUESTED,
                                                               call->call_id);

  local_send (call, role, requested);
}

static const RelayEndpointOps local_ops = {
  local_send,
  local_send_error,
  local_request_pipe,
};

/* A party at a peer relay: inside FederatedSignalForward on the link, while it is up
 * (a call whose link went down ends with it). */

static void
federated_send (RelayCall  *call,
                int         role,
                WzpMessage *message)
{
  _wzp_relay_federation_forward (call->relay, call->party[role].relay, message);
}

/* Errors about a remote party's pipe are about the bridge that stands in for it here;
 * its own relay reports on its own pipes, so the party hears nothing from us. */
static void
federated_send_error (RelayCall  *call,
                      int         role,
                      const char *code,
                      const char *text)
{
}

static void
federated_request_pipe (RelayCall *call,
                        int        role)
{
  g_autoptr(WzpMessage) requested = NULL;

  /* At the caller's relay, "the callee should open its pipe" means: the caller's pipe is
   * here, bridge it to the callee's relay (docs/protocol.md, "The bridged relay path"). */
  if (role == WZP_CALL_ROLE_CALLEE)
    {
      _wzp_relay_bridge_open (call);
      return;
    }
  /* At the callee's relay: the caller's relay asks its party, whose pipe then arrives
   * there and is bridged here. */
  requested = _wzp_message_new_for_call (WZP_MESSAGE_PIPE_REQUESTED, call->call_id);
  federated_send (call, role, requested);
}

static const RelayEndpointOps federated_ops = {
  federated_send,
  federated_send_error,
  federated_request_pipe,
};

const RelayEndpointOps *
_wzp_relay_endpoint_for (const char *peer_fingerprint)
{
  return peer_fingerprint != NULL ? &federated_ops : &local_ops;
}

void
_wzp_relay_party_send (RelayCall  *call,
                       int         role,
                       WzpMessage *message)
{
  call->party[role].endpoint->send (call, role, message);
}

void
_wzp_relay_party_send_error (RelayCall  *call,
                             int         role,
                             const char *code,
                             const char *format,
                             ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  call->party[role].endpoint->send_error (call, role, code, text);
}

void
_wzp_relay_party_request_pipe (RelayCall *call,
                               int        role)
{
  call->party[role].endpoint->request_pipe (call, role);
}
