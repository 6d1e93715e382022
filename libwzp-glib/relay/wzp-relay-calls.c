/* wzp-relay-calls.c: the call state machine and CallSetup cross-wiring
 *
 * The relay owns the truth about a call: every call message must come from a party of
 * that call, in a state where it makes sense; anything else gets an Error and changes
 * nothing. Calls are keyed by the caller's call_id.
 *
 * Federation: when the other party is registered with a peer relay, both relays hold the
 * call and run this same machine, each with one local and one remote party (RelayParty's
 * relay). Each party is reached through its endpoint (wzp-relay-endpoint-private.h):
 * messages for the remote party travel over the link in FederatedSignalForward; messages
 * from it arrive through _wzp_relay_calls_handle_remote(). Each relay sends CallSetup to
 * its own party only, so the cross-wiring is the local code's.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "wzp-relay-endpoint-private.h"
#include "wzp-relay-federation-private.h"
#include "wzp-relay-log-private.h"
#include "wzp-relay-private.h"

#define NOTIFY_NONE  (-1)
#define NOTIFY_BOTH  2

static void
log_call (RelayCall  *call,
          const char *format,
          ...) G_GNUC_PRINTF (2, 3);

static void
log_call (RelayCall  *call,
          const char *format,
          ...)
{
  g_autofree char *raw = NULL;
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  raw = g_strdup_vprintf (format, args);
  va_end (args);
  /* It may quote a peer relay's Error text. */
  text = _wzp_relay_log_text (raw, WZP_RELAY_LOG_MAX_TEXT);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_CALL_ID", call->call_id,
                    "WZP_CALLER", call->party[WZP_CALL_ROLE_CALLER].fingerprint,
                    "WZP_CALLEE", call->party[WZP_CALL_ROLE_CALLEE].fingerprint,
                    "MESSAGE", "Call %s: %s", call->call_id, text);
}

/* Who sent a call message: a client registered here, or a party at a peer relay (which
 * speaks for it over the link). Answers go back the same way. */
typedef struct
{
  const char *fingerprint;
  const char *alias;          /* the registration's alias (local parties) */
  RelayConn  *conn;           /* a party registered here, or NULL */
  RelayPeer  *peer;           /* the peer relay holding the party, or NULL */
} Sender;

static void
sender_send (WzpRelay   *self,
             Sender     *from,
             WzpMessage *message)
{
  if (from->conn != NULL)
    _wzp_relay_conn_send (from->conn, message);
  else
    _wzp_relay_federation_forward (self, from->peer->fingerprint, message);
}

static void
sender_error (WzpRelay   *self,
              Sender     *from,
              const char *code,
              const char *call_id,
              const char *format,
              ...) G_GNUC_PRINTF (5, 6);

static void
sender_error (WzpRelay   *self,
              Sender     *from,
              const char *code,
              const char *call_id,
              const char *format,
              ...)
{
  g_autofree char *text = NULL;
  g_autoptr(WzpMessage) error = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  if (from->conn != NULL)
    {
      _wzp_relay_conn_send_error (from->conn, code, call_id, "%s", text);
      return;
    }
  _wzp_relay_log_peer_error (self, from->peer->fingerprint, from->peer->uri,
                             from->fingerprint, code, call_id, text);
  /* Inside a forward: the peer relay passes it on to its party. */
  error = _wzp_message_new_error (code, text, call_id);
  _wzp_relay_federation_forward (self, from->peer->fingerprint, error);
}

static void
send_hangup (RelayCall       *call,
             int              role,
             WzpHangupReason  reason)
{
  g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call->call_id);

  _wzp_message_set_string (hangup, "reason", _wzp_hangup_reason_to_wire (reason));
  _wzp_relay_party_send (call, role, hangup);
}

/* Ends @call: tells @notify_role (a role, NOTIFY_BOTH or NOTIFY_NONE) with a Hangup,
 * closes its pipes and frees it. @call is invalid afterwards. */
void
_wzp_relay_call_end (RelayCall       *call,
                     WzpHangupReason  reason,
                     int              notify_role)
{
  WzpRelay *self = call->relay;
  const char *reason_text = _wzp_hangup_reason_to_wire (reason);

  if (call->state == CALL_ENDED)
    return;
  _wzp_relay_call_set_state (call, CALL_ENDED);

  if (notify_role == NOTIFY_BOTH || notify_role == WZP_CALL_ROLE_CALLER)
    send_hangup (call, WZP_CALL_ROLE_CALLER, reason);
  if (notify_role == NOTIFY_BOTH || notify_role == WZP_CALL_ROLE_CALLEE)
    send_hangup (call, WZP_CALL_ROLE_CALLEE, reason);

  log_call (call, "ended (%s)", reason_text);
  _wzp_relay_emit_call_ended (self, call, reason_text);
  g_hash_table_remove (self->calls, call->call_id);   /* frees the call */
  _wzp_relay_notify_counts (self);
}

static char *
new_secret (void)
{
  guint8 bytes[16];
  GString *hex = g_string_sized_new (32);

  /* getrandom(2) on 16 bytes never returns short once the pool is initialised. */
  if (getrandom (bytes, sizeof bytes, 0) != sizeof bytes)
    g_error ("getrandom() failed: %s", g_strerror (errno));
  for (guint i = 0; i < sizeof bytes; i++)
    g_string_append_printf (hex, "%02x", bytes[i]);
  return g_string_free (hex, FALSE);
}

/* Whether @member of @message lists more host candidates than a client may announce; if
 * so, the sender gets an Error for the call and the message changes nothing. Refused, not
 * cut short: a sender beyond the cap is broken or hostile, and should hear it (docs/protocol.md,
 * "Calls at the relay"). */
static gboolean
refuse_too_many_candidates (WzpRelay   *self,
                            Sender     *from,
                            WzpMessage *message,
                            const char *member,
                            const char *call_id)
{
  g_auto(GStrv) locals = _wzp_message_dup_strv (message, member);
  guint n = g_strv_length (locals);

  if (n <= WZP_MAX_HOST_CANDIDATES)
    return FALSE;
  sender_error (self, from, WZP_ERROR_CODE_BAD_MESSAGE, call_id,
                "%s lists %u host candidates in %s; at most %d are allowed",
                _wzp_message_type_to_string (_wzp_message_get_message_type (message)), n,
                member, WZP_MAX_HOST_CANDIDATES);
  return TRUE;
}

static void
party_store_candidates (RelayParty *party,
                        WzpMessage *message,
                        const char *reflexive_member,
                        const char *local_member,
                        const char *nat_member)
{
  g_free (party->reflexive_addr);
  party->reflexive_addr = g_strdup (_wzp_message_get_string (message, reflexive_member));
  g_strfreev (party->local_addrs);
  /* At most WZP_MAX_HOST_CANDIDATES: every caller refused a message with more first
   * (refuse_too_many_candidates), so a CallSetup never carries more. */
  party->local_addrs = _wzp_message_dup_strv (message, local_member);
  if (nat_member != NULL)
    {
      g_free (party->nat_type);
      party->nat_type = g_strdup (_wzp_message_get_string (message, nat_member));
    }
}

static gboolean
ring_timeout_cb (gpointer user_data)
{
  RelayCall *call = user_data;

  call->ring_timeout_id = 0;
  _wzp_relay_call_end (call, WZP_HANGUP_REASON_TIMEOUT, NOTIFY_BOTH);
  return G_SOURCE_REMOVE;
}

static gboolean
duration_cb (gpointer user_data)
{
  RelayCall *call = user_data;

  call->duration_id = 0;
  _wzp_relay_counters_refused (call->relay, "max-call-duration");
  log_call (call, "reached the relay's maximum call duration");
  _wzp_relay_call_end (call, WZP_HANGUP_REASON_TIMEOUT, NOTIFY_BOTH);
  return G_SOURCE_REMOVE;
}

/* Whether @from is a party of @call: the same identity, at the same relay. */
static gboolean
sender_is_party (RelayCall *call,
                 Sender    *from)
{
  const char *relay = from->peer != NULL ? from->peer->fingerprint : NULL;

  for (int role = 0; role < 2; role++)
    if (g_strcmp0 (call->party[role].fingerprint, from->fingerprint) == 0 &&
        g_strcmp0 (call->party[role].relay, relay) == 0)
      return TRUE;
  return FALSE;
}

/* What a caller may have open at once (docs/relay.md, [limits]): an unanswered offer
 * counts against its caller, never its callee. Per-address limits apply to callers
 * registered here only: an offer from a peer relay comes from the peer relay's address.
 * If @from is over a limit, it gets an Error and TRUE is returned. */
static gboolean
refuse_over_caller_limits (WzpRelay   *self,
                           Sender     *from,
                           const char *target,
                           const char *call_id)
{
  RelayCall *pending = _wzp_relay_ringing_between (self, from->fingerprint, target);
  const char *limit;

  if (pending != NULL)
    {
      limit = "one-offer-per-callee";
      sender_error (self, from, WZP_ERROR_CODE_LIMIT_REACHED, call_id,
                    "You are already calling %s (call %s); hang that call up before "
                    "offering another", target, pending->call_id);
    }
  else if (_wzp_relay_counts_active (self, from->fingerprint) >= self->max_calls_per_client)
    {
      limit = "max-calls-per-client";
      sender_error (self, from, WZP_ERROR_CODE_LIMIT_REACHED, call_id,
                    "You already have %u calls at this relay", self->max_calls_per_client);
    }
  else if (_wzp_relay_counts_ringing_out (self, from->fingerprint) >=
           self->max_ringing_per_client)
    {
      limit = "max-ringing-per-client";
      sender_error (self, from, WZP_ERROR_CODE_LIMIT_REACHED, call_id,
                    "You already have %u unanswered calls at this relay; wait for one to "
                    "be answered or hang one up", self->max_ringing_per_client);
    }
  else if (from->conn != NULL && from->conn->ip->ringing >= self->max_ringing_per_ip)
    {
      limit = "max-ringing-per-ip";
      sender_error (self, from, WZP_ERROR_CODE_LIMIT_REACHED, call_id,
                    "Your address (%s) already has %u unanswered calls at this relay; try "
                    "again in a minute", from->conn->ip->key, self->max_ringing_per_ip);
    }
  else
    return FALSE;
  /* Sent as an Error, logged by its code: counted here under the limit's name. */
  _wzp_relay_counters_refused (self, limit);
  return TRUE;
}

/* Whether the callee @target, registered here, cannot take another call: calls it made
 * or accepted up to its limit, or as many unanswered offers to it as it may have. Other
 * people's offers never count as its calls, so no one can make it busy for everyone by
 * ringing it; the per-callee cap only bounds how many ring at once. */
static gboolean
callee_is_busy (WzpRelay   *self,
                const char *target,
                const char *call_id)
{
  guint ringing = _wzp_relay_counts_ringing_in (self, target);

  if (_wzp_relay_counts_active (self, target) >= self->max_calls_per_client)
    return TRUE;
  if (ringing < self->max_ringing_per_callee)
    return FALSE;
  _wzp_relay_counters_refused (self, "max-ringing-per-callee");
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_CALL_ID", call_id,
                    "WZP_CALLEE", target,
                    "MESSAGE", "Call %s: %s has %u unanswered calls already "
                    "(max-ringing-per-callee); answered Busy", call_id, target, ringing);
  return TRUE;
}

/* Whether @message can reach a party: through its connection here (max-frame-size), or
 * for a party at a peer relay (@remote) inside a forward on the link. The relay checks
 * before sending what it enlarged, since a frame over the limit is never sent: the party
 * would not hear of it, and the call would hang until a timeout. */
static gboolean
party_can_receive (WzpRelay    *self,
                   gboolean     remote,
                   WzpMessage  *message,
                   GError     **error)
{
  if (remote)
    return _wzp_relay_federation_check_size (self, message, error);
  return _wzp_message_check_size (message, self->max_frame_size, error);
}

/* Passes @message from @from on to party @role of @call. One that cannot go out ends the
 * call at once: @from hears why (Error{frame_too_large}), and both parties, which know of
 * the call, hear Hangup{Error} (a client ignores an Error about a call that is set up).
 * Returns FALSE if the call is over (and freed). */
static gboolean
call_forward (WzpRelay   *self,
              Sender     *from,
              RelayCall  *call,
              int         role,
              WzpMessage *message)
{
  g_autoptr(GError) error = NULL;

  if (party_can_receive (self, call->party[role].relay != NULL, message, &error))
    {
      _wzp_relay_party_send (call, role, message);
      return TRUE;
    }
  log_call (call, "%s", error->message);
  sender_error (self, from, WZP_ERROR_CODE_FRAME_TOO_LARGE, call->call_id,
                "The relay could not pass your message on: %s. The call is over",
                error->message);
  _wzp_relay_call_end (call, WZP_HANGUP_REASON_ERROR, NOTIFY_BOTH);
  return FALSE;
}

/* The offer as the callee, or its relay, gets it. The caller's identity comes from its
 * certificate, never from the message (a peer relay's word was checked against what it
 * announced). */
static WzpMessage *
offer_for_callee (WzpMessage *offer,
                  Sender     *from,
                  const char *alias,
                  gboolean    callee_remote)
{
  WzpMessage *forward = _wzp_message_copy (offer);

  _wzp_message_set_string (forward, "caller_fingerprint", from->fingerprint);
  _wzp_message_set_string (forward, "caller_alias", alias);
  /* The callee's app says that the caller is a user of another relay, which vouched for
   * them with their binding. Only we say so, and only to our own client: whatever a
   * caller or a peer put there is replaced. */
  if (from->peer != NULL && !callee_remote)
    _wzp_message_set_string (forward, "caller_relay_fingerprint", from->peer->fingerprint);
  else
    _wzp_message_remove_member (forward, "caller_relay_fingerprint");
  /* The caller's addresses reach the callee only in CallSetup, once the callee has
   * answered: someone who merely rings must not learn where the caller is. A callee's
   * relay builds that CallSetup, so it gets them, and withholds them as we would. Other
   * members pass through. */
  if (!callee_remote)
    {
      _wzp_message_remove_member (forward, "caller_reflexive_addr");
      _wzp_message_remove_member (forward, "caller_local_addrs");
    }
  return forward;
}

/* When @conn (a registration here, or NULL) claimed its fingerprint, to weigh against
 * the bindings peers announced: its binding's time, or without one when it registered. */
static gint64
registration_ms (RelayConn *conn)
{
  if (conn == NULL)
    return G_MININT64;
  return conn->binding != NULL ? conn->binding->time_ms : conn->registered_ms;
}

/* Where the callee @target is: registered here (*@callee_peer NULL) or at a peer relay.
 * If nowhere, @from gets Error{unknown_callee} and FALSE is returned. */
static gboolean
find_callee (WzpRelay    *self,
             Sender      *from,
             const char  *target,
             const char  *call_id,
             RelayPeer  **callee_peer)
{
  RelayConn *here = _wzp_relay_lookup_conn (self, target);

  /* An offer that came from a peer relay is for one of ours only: forwarding is one
   * hop. Otherwise the newest binding wins: a callee who registered at a peer relay
   * after registering here has moved there (docs/protocol.md, "Presence bindings"). */
  *callee_peer = NULL;
  if (from->peer == NULL)
    *callee_peer = _wzp_relay_presence_lookup (self, target, registration_ms (here));
  if (*callee_peer != NULL)
    {
      /* The callee's relay believes only a caller we announced, with a binding. */
      if (from->conn != NULL && from->conn->binding == NULL)
        {
          sender_error (self, from, WZP_ERROR_CODE_UNKNOWN_CALLEE, call_id,
                        "%s is a user of another relay, which believes only callers who "
                        "signed their registration; your app did not (update it)",
                        target);
          return FALSE;
        }
      return TRUE;
    }
  if (here != NULL)
    return TRUE;
  if (from->peer != NULL)
    sender_error (self, from, WZP_ERROR_CODE_UNKNOWN_CALLEE, call_id,
                  "Nobody with fingerprint %s is connected to the relay %s", target,
                  wzp_relay_get_fingerprint (self));
  else
    sender_error (self, from, WZP_ERROR_CODE_UNKNOWN_CALLEE, call_id,
                  "Nobody with fingerprint %s is connected to this relay or to the "
                  "relays it is federated with", target);
  return FALSE;
}

/* A call for @offer from @from, offered, counted and in the registry, ringing for at most
 * ring-timeout. */
static RelayCall *
call_new (WzpRelay   *self,
          Sender     *from,
          WzpMessage *offer,
          const char *alias,
          RelayPeer  *callee_peer)
{
  RelayCall *call = g_new0 (RelayCall, 1);
  RelayParty *caller = &call->party[WZP_CALL_ROLE_CALLER];
  RelayParty *callee = &call->party[WZP_CALL_ROLE_CALLEE];

  call->relay = self;
  call->call_id = g_strdup (_wzp_message_get_string (offer, "call_id"));
  call->state = CALL_ENDED;   /* counted nowhere until it is offered, below */
  call->started = g_get_real_time () / G_USEC_PER_SEC;
  caller->fingerprint = g_strdup (from->fingerprint);
  caller->alias = g_strdup (alias);
  caller->relay = from->peer ? g_strdup (from->peer->fingerprint) : NULL;
  caller->endpoint = _wzp_relay_endpoint_for (caller->relay);
  callee->fingerprint = g_strdup (_wzp_message_get_string (offer, "target_fingerprint"));
  callee->relay = callee_peer ? g_strdup (callee_peer->fingerprint) : NULL;
  callee->endpoint = _wzp_relay_endpoint_for (callee->relay);
  party_store_candidates (caller, offer, "caller_reflexive_addr", "caller_local_addrs",
                          "caller_nat_type");
  /* An offer from a peer relay has the peer relay's address, not the caller's. */
  call->caller_ip = from->conn != NULL ? from->conn->ip : NULL;
  _wzp_relay_call_set_state (call, CALL_OFFERED);
  g_hash_table_insert (self->calls, call->call_id, call);
  call->ring_timeout_id = _wzp_timeout_add_seconds (self->context, self->ring_timeout,
                                                    ring_timeout_cb, call);
  return call;
}

static void
handle_offer (WzpRelay   *self,
              Sender     *from,
              WzpMessage *offer)
{
  const char *call_id = _wzp_message_get_string (offer, "call_id");
  const char *target = _wzp_message_get_string (offer, "target_fingerprint");
  const char *alias = _wzp_message_get_string (offer, "caller_alias");
  g_autoptr(WzpMessage) forward = NULL;
  g_autoptr(GError) error = NULL;
  RelayPeer *callee_peer = NULL;
  RelayCall *taken;
  RelayCall *call;

  if (!_wzp_call_id_is_valid (call_id))
    {
      sender_error (self, from, WZP_ERROR_CODE_BAD_MESSAGE, NULL,
                    "A call id must be 1 to 64 letters, digits, '-' or '_'");
      return;
    }
  if (refuse_too_many_candidates (self, from, offer, "caller_local_addrs", call_id))
    return;
  if (!_wzp_alias_check (alias, &error))
    {
      sender_error (self, from, WZP_ERROR_CODE_BAD_MESSAGE, call_id, "%s", error->message);
      return;
    }
  /* Reusing one's own live call id is a mistake worth naming; someone else's is
   * checked last, below. */
  taken = g_hash_table_lookup (self->calls, call_id);
  if (taken != NULL && sender_is_party (taken, from))
    {
      sender_error (self, from, WZP_ERROR_CODE_BAD_MESSAGE, call_id,
                    "You already have a call with the id %s; offer a new call with a fresh "
                    "random id", call_id);
      return;
    }
  if (strcmp (target, from->fingerprint) == 0)
    {
      sender_error (self, from, WZP_ERROR_CODE_BAD_MESSAGE, call_id,
                    "You cannot call yourself");
      return;
    }
  if (refuse_over_caller_limits (self, from, target, call_id))
    return;
  if (!find_callee (self, from, target, call_id, &callee_peer))
    return;
  /* A callee at a peer relay is counted there (its relay answers Hangup{Busy}). */
  if (callee_peer == NULL && callee_is_busy (self, target, call_id))
    {
      g_autoptr(WzpMessage) busy = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);

      _wzp_message_set_string (busy, "reason",
                               _wzp_hangup_reason_to_wire (WZP_HANGUP_REASON_BUSY));
      /* Rate limited per caller: it is the caller who keeps trying. */
      _wzp_relay_log_limit (self, from->conn != NULL ? _wzp_relay_log_conn_source (from->conn)
                                                     : from->peer->fingerprint,
                            "max-calls-per-client",
                            from->conn != NULL ? from->conn->remote_addr : NULL,
                            "call %s from %s: the callee %s already has %u calls; "
                            "Hangup{Busy}", call_id, from->fingerprint, target,
                            self->max_calls_per_client);
      sender_send (self, from, busy);
      return;
    }
  if (alias == NULL)
    alias = from->alias;
  forward = offer_for_callee (offer, from, alias, callee_peer != NULL);
  if (!party_can_receive (self, callee_peer != NULL, forward, &error))
    {
      sender_error (self, from, WZP_ERROR_CODE_FRAME_TOO_LARGE, call_id,
                    "This call cannot be offered: once the relay adds the caller's identity, "
                    "%s; send a smaller offer", error->message);
      return;
    }
  /* Someone else's call (docs/protocol.md, "Call ids"): every check a fresh id could
   * fail came first, and the refusal neither says "in use" nor names anything about
   * that call, so the offer learns no more than that this id cannot be used. */
  if (taken != NULL)
    {
      sender_error (self, from, WZP_ERROR_CODE_BAD_MESSAGE, call_id,
                    "This call id cannot be used; offer again with a fresh random id");
      return;
    }

  call = call_new (self, from, offer, alias, callee_peer);
  /* The callee's relay checks the caller against what we announced: announce first. */
  if (callee_peer != NULL)
    _wzp_relay_presence_flush_for (callee_peer, from->fingerprint);
  _wzp_relay_party_send (call, WZP_CALL_ROLE_CALLEE, forward);

  if (callee_peer != NULL)
    log_call (call, "offered (the callee is at the peer relay %s)", callee_peer->uri);
  else if (from->peer != NULL)
    log_call (call, "offered (the caller is at the peer relay %s)", from->peer->uri);
  else
    log_call (call, "offered");
  _wzp_relay_emit_call_started (self, call);
  _wzp_relay_notify_counts (self);
}

/* The pipe address for a party: the pipe listener on the address the party reached. */
static char *
pipe_addr_for (WzpRelay   *self,
               const char *fingerprint)
{
  RelayConn *conn = _wzp_relay_lookup_conn (self, fingerprint);
  char *fallback = NULL;

  for (guint i = 0; i < self->pipe_addresses->len; i++)
    {
      const char *text = g_ptr_array_index (self->pipe_addresses, i);
      g_autoptr(GInetSocketAddress) address = _wzp_address_parse (text, NULL);
      GInetAddress *ip;
      g_autofree char *ip_text = NULL;
      guint16 port;

      if (address == NULL)
        continue;
      ip = g_inet_socket_address_get_address (address);
      port = g_inet_socket_address_get_port (address);
      ip_text = _wzp_address_ip_to_string (ip);

      if (conn != NULL &&
          (g_inet_address_get_is_any (ip) || g_strcmp0 (ip_text, conn->local_ip) == 0))
        {
          g_free (fallback);
          return _wzp_address_format_host (conn->local_ip, port);
        }
      if (fallback == NULL)
        fallback = g_strdup (text);
    }
  return fallback;
}

/* Sends party @role its CallSetup. One the relay cannot send (too large for the party's
 * connection) ends the call at once: the party hears why in an Error, and both parties
 * Hangup{Error}. Returns FALSE if the call is over (and freed). */
static gboolean
send_setup (RelayCall   *call,
            WzpCallRole  role)
{
  g_autoptr(GError) error = NULL;
  RelayParty *party = &call->party[role];
  RelayParty *other = &call->party[1 - role];
  g_autoptr(WzpMessage) setup = _wzp_message_new_for_call (WZP_MESSAGE_CALL_SETUP,
                                                           call->call_id);
  g_autofree char *pipe_addr = pipe_addr_for (call->relay, party->fingerprint);

  /* Cross-wiring: each party gets the OTHER party's candidates. */
  _wzp_message_set_string (setup, "role", _wzp_call_role_to_wire (role));
  _wzp_message_set_string (setup, "peer_fingerprint", other->fingerprint);
  _wzp_message_set_string (setup, "peer_alias", other->alias);
  if (!call->privacy)
    {
      _wzp_message_set_string (setup, "peer_direct_addr", other->reflexive_addr);
      _wzp_message_set_strv (setup, "peer_local_addrs",
                             (const char * const *) other->local_addrs);
      _wzp_message_set_string (setup, "peer_nat_type", other->nat_type);
    }
  _wzp_message_set_bool (setup, "relay_pipe", TRUE);
  _wzp_message_set_string (setup, "pipe_token", party->pipe_secret);
  _wzp_message_set_string (setup, "pipe_addr", pipe_addr);
  if (call->relay->setup_filter != NULL)
    call->relay->setup_filter (setup, call->relay->setup_filter_data);
  if (!party_can_receive (call->relay, FALSE, setup, &error))
    {
      log_call (call, "%s", error->message);
      _wzp_relay_party_send_error (call, role, WZP_ERROR_CODE_FRAME_TOO_LARGE,
                                   "The relay could not send you this call's CallSetup: %s. "
                                   "The call is over", error->message);
      _wzp_relay_call_end (call, WZP_HANGUP_REASON_ERROR, NOTIFY_BOTH);
      return FALSE;
    }
  _wzp_relay_party_send (call, role, setup);
  return TRUE;
}

static gboolean
secret_is_valid (const char *secret)
{
  if (secret == NULL || strlen (secret) != 32)
    return FALSE;
  for (const char *p = secret; *p; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

static void
handle_answer (WzpRelay   *self,
               Sender     *from,
               RelayCall  *call,
               WzpMessage *answer)
{
  RelayParty *caller = &call->party[WZP_CALL_ROLE_CALLER];
  RelayParty *callee = &call->party[WZP_CALL_ROLE_CALLEE];
  WzpAcceptMode mode = WZP_ACCEPT_MODE_REJECT;
  g_autoptr(WzpMessage) forward = _wzp_message_copy (answer);

  _wzp_accept_mode_from_wire (_wzp_message_get_string (answer, "accept_mode"), &mode);

  if (caller->relay != NULL)
    {
      /* The caller is at a peer relay, which builds the caller's CallSetup: it gets the
       * callee's addresses (none in privacy mode), and the bridge secret for our two relays'
       * pipes, made here as this relay checks it (docs/protocol.md, "The bridged relay path"). */
      if (mode != WZP_ACCEPT_MODE_TRUSTED)
        {
          _wzp_message_remove_member (forward, "callee_reflexive_addr");
          _wzp_message_remove_member (forward, "callee_local_addrs");
          _wzp_message_remove_member (forward, "callee_nat_type");
        }
      g_clear_pointer (&call->bridge_secret, g_free);
      if (mode != WZP_ACCEPT_MODE_REJECT)
        call->bridge_secret = new_secret ();
      _wzp_message_set_string (forward, "bridge_secret", call->bridge_secret);
    }
  else
    {
      if (callee->relay != NULL && mode != WZP_ACCEPT_MODE_REJECT)
        {
          const char *secret = _wzp_message_get_string (answer, "bridge_secret");

          if (secret_is_valid (secret))
            call->bridge_secret = g_strdup (secret);
          else
            log_call (call, "the callee's relay sent no valid bridge secret; the call "
                      "cannot use a relay pipe");
        }
      /* The caller learns the answer; addresses travel only in CallSetup. */
      _wzp_message_remove_member (forward, "callee_reflexive_addr");
      _wzp_message_remove_member (forward, "callee_local_addrs");
      _wzp_message_remove_member (forward, "bridge_secret");
    }
  if (!call_forward (self, from, call, WZP_CALL_ROLE_CALLER, forward))
    return;

  if (mode == WZP_ACCEPT_MODE_REJECT)
    {
      _wzp_relay_call_end (call, WZP_HANGUP_REASON_DECLINED, NOTIFY_NONE);
      return;
    }

  /* Addresses are only taken from an AcceptTrusted answer; a privacy answer keeps both
   * sides' addresses to themselves and the call runs over the relay only. */
  call->privacy = (mode == WZP_ACCEPT_MODE_PRIVACY);
  if (!call->privacy)
    party_store_candidates (callee, answer,
                            "callee_reflexive_addr", "callee_local_addrs", "callee_nat_type");

  _wzp_relay_call_set_state (call, CALL_SET_UP);
  _wzp_clear_source (call->relay->context, &call->ring_timeout_id);
  if (self->max_call_duration > 0)
    call->duration_id = _wzp_timeout_add_seconds (self->context, self->max_call_duration,
                                                  duration_cb, call);

  /* Each relay sets up its own parties: a party's pipe secret and pipe address are those
   * of the relay it is registered with. */
  for (int role = 0; role < 2; role++)
    if (call->party[role].relay == NULL)
      {
        call->party[role].pipe_secret = new_secret ();
        if (!send_setup (call, role))
          return;
      }
  log_call (call, "set up (%s)", call->privacy ? "privacy: relay only" : "trusted");
}

/* The role of the party registered HERE with @fingerprint (never a remote party's). */
static int
role_of (RelayCall  *call,
         const char *fingerprint)
{
  for (int role = 0; role < 2; role++)
    if (call->party[role].relay == NULL &&
        g_strcmp0 (call->party[role].fingerprint, fingerprint) == 0)
      return role;
  return -1;
}

/* The role of the party the peer relay @peer_fingerprint holds. */
static int
remote_role_of (RelayCall  *call,
                const char *peer_fingerprint)
{
  for (int role = 0; role < 2; role++)
    if (g_strcmp0 (call->party[role].relay, peer_fingerprint) == 0)
      return role;
  return -1;
}

/* A call message from @from, the party of @call with @role. */
static void
calls_dispatch (WzpRelay   *self,
                Sender     *from,
                RelayCall  *call,
                int         role,
                WzpMessage *message)
{
  WzpMessageType type = _wzp_message_get_message_type (message);
  const char *type_name = _wzp_message_type_to_string (type);
  const char *call_id = call->call_id;

  switch (type)
    {
    case WZP_MESSAGE_CALL_RINGING:
      if (role != WZP_CALL_ROLE_CALLEE ||
          (call->state != CALL_OFFERED && call->state != CALL_RINGING))
        break;
      _wzp_relay_call_set_state (call, CALL_RINGING);
      {
        g_autoptr(WzpMessage) forward = _wzp_message_copy (message);
        call_forward (self, from, call, WZP_CALL_ROLE_CALLER, forward);
      }
      return;

    case WZP_MESSAGE_DIRECT_CALL_ANSWER:
      if (role != WZP_CALL_ROLE_CALLEE ||
          (call->state != CALL_OFFERED && call->state != CALL_RINGING))
        break;
      if (refuse_too_many_candidates (self, from, message, "callee_local_addrs", call_id))
        return;
      handle_answer (self, from, call, message);
      return;

    case WZP_MESSAGE_CANDIDATE_UPDATE:
      if (call->state != CALL_SET_UP)
        break;
      if (call->privacy)
        {
          sender_error (self, from, WZP_ERROR_CODE_BAD_STATE, call_id,
                        "This call was answered in privacy mode; the relay does not pass "
                        "addresses on");
          return;
        }
      if (refuse_too_many_candidates (self, from, message, "local_addrs", call_id))
        return;
      party_store_candidates (&call->party[role], message, "reflexive_addr", "local_addrs",
                              NULL);
      {
        g_autoptr(WzpMessage) forward = _wzp_message_copy (message);
        call_forward (self, from, call, 1 - role, forward);
      }
      return;

    case WZP_MESSAGE_HANGUP:
      {
        WzpHangupReason reason = WZP_HANGUP_REASON_NORMAL;

        _wzp_hangup_reason_from_wire (_wzp_message_get_string (message, "reason"), &reason);
        _wzp_relay_call_end (call, reason, 1 - role);
      }
      return;

    case WZP_MESSAGE_PIPE_REQUESTED:
    case WZP_MESSAGE_PEER_SIGNALLING_LOST:
      /* Only from a remote party's relay: its pipe waits there, or its signalling is in
       * its grace period there. Our party hears it as from a local peer. */
      if (from->peer == NULL || call->state != CALL_SET_UP)
        break;
      {
        g_autoptr(WzpMessage) forward = _wzp_message_copy (message);
        call_forward (self, from, call, 1 - role, forward);
      }
      return;

    default:
      break;
    }

  sender_error (self, from, WZP_ERROR_CODE_BAD_STATE, call_id,
                "%s makes no sense from the %s of a call that is %s", type_name,
                role == WZP_CALL_ROLE_CALLER ? "caller" : "callee",
                _wzp_relay_call_state_name (call->state));
}

void
_wzp_relay_calls_handle (WzpRelay   *self,
                         RelayConn  *conn,
                         WzpMessage *message)
{
  WzpMessageType type = _wzp_message_get_message_type (message);
  const char *call_id = _wzp_message_get_string (message, "call_id");
  Sender from = { conn->fingerprint, conn->alias, conn, NULL };
  RelayCall *call;
  int role;

  if (type == WZP_MESSAGE_DIRECT_CALL_OFFER)
    {
      handle_offer (self, &from, message);
      return;
    }

  /* A call the sender is not a party of looks exactly like one that does not exist:
   * the relay never confirms other people's call ids. */
  call = _wzp_relay_call_lookup (self, call_id);
  role = call ? role_of (call, conn->fingerprint) : -1;
  if (role < 0)
    {
      /* The id is not quoted: it may be anything the client sent (the Error carries it
       * when it is a valid one). */
      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_UNKNOWN_CALL, call_id,
                                  "%s for a call you are not in",
                                  _wzp_message_type_to_string (type));
      return;
    }
  calls_dispatch (self, &from, call, role, message);
}

/* Federation: a message from a party at the peer relay @peer (the link checked that the
 * forward came from its origin, one hop). */
void
_wzp_relay_calls_handle_remote (WzpRelay   *self,
                                RelayPeer  *peer,
                                WzpMessage *inner)
{
  WzpMessageType type = _wzp_message_get_message_type (inner);
  const char *call_id = _wzp_message_get_string (inner, "call_id");
  RelayCall *call;
  int role;

  if (type == WZP_MESSAGE_DIRECT_CALL_OFFER)
    {
      const char *caller = _wzp_message_get_string (inner, "caller_fingerprint");
      Sender from = { caller, NULL, NULL, peer };

      /* A peer relay speaks only for the users whose newest binding names it: anything
       * else is a lie (or a bug), refused without a trace in the call registry. */
      if (caller == NULL ||
          !_wzp_relay_presence_speaks_for (self, peer, caller,
                                           registration_ms (_wzp_relay_lookup_conn (self, caller))))
        {
          _wzp_relay_federation_link_error (peer, WZP_ERROR_CODE_BAD_MESSAGE, call_id,
                                            "DirectCallOffer from %s, for whom your relay "
                                            "holds no valid binding, or not the newest; "
                                            "refused", caller ? caller : "nobody");
          return;
        }
      handle_offer (self, &from, inner);
      return;
    }

  call = _wzp_relay_call_lookup (self, call_id);
  role = call ? remote_role_of (call, peer->fingerprint) : -1;
  if (role < 0)
    {
      /* Hangups and errors cross each other when both relays end a call at once. */
      if (type == WZP_MESSAGE_HANGUP || type == WZP_MESSAGE_ERROR)
        {
          g_debug ("Peer relay %s: %s for a call that is over here: %s", peer->uri,
                   _wzp_message_type_to_string (type), call_id ? call_id : "(none)");
          return;
        }
      {
        Sender from = { "?", NULL, NULL, peer };
        sender_error (self, &from, WZP_ERROR_CODE_UNKNOWN_CALL, call_id,
                      "%s for a call that your relay's party is not in",
                      _wzp_message_type_to_string (type));
      }
      return;
    }

  if (type == WZP_MESSAGE_ERROR)
    {
      g_autoptr(WzpMessage) forward = _wzp_message_copy (inner);

      /* Our party hears it. An error before the answer, from the callee's relay, means it
       * refused the offer (callee gone, limits): the call is over. */
      _wzp_relay_party_send (call, 1 - role, forward);
      if (role == WZP_CALL_ROLE_CALLEE &&
          (call->state == CALL_OFFERED || call->state == CALL_RINGING))
        {
          log_call (call, "the callee's relay refused it: %s",
                    _wzp_message_get_string (inner, "message"));
          _wzp_relay_call_end (call, WZP_HANGUP_REASON_ERROR, NOTIFY_NONE);
        }
      return;
    }

  {
    Sender from = { call->party[role].fingerprint, NULL, NULL, peer };
    calls_dispatch (self, &from, call, role, inner);
  }
}

/* Federation: the link to a peer relay went down. Calls over it end at once: the far
 * relay ends its half the same way, and neither can tell the other anything until the
 * link is back (docs/protocol.md, Federation). */
void
_wzp_relay_calls_peer_lost (WzpRelay   *self,
                            const char *peer_fingerprint)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  RelayCall *call;

  g_hash_table_iter_init (&iter, self->calls);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &call))
    if (remote_role_of (call, peer_fingerprint) >= 0)
      g_ptr_array_add (ids, g_strdup (call->call_id));

  for (guint i = 0; i < ids->len; i++)
    {
      int remote;

      call = _wzp_relay_call_lookup (self, g_ptr_array_index (ids, i));
      if (call == NULL)
        continue;
      remote = remote_role_of (call, peer_fingerprint);
      log_call (call, "the link to the other party's relay went down");
      _wzp_relay_call_end (call, WZP_HANGUP_REASON_ERROR, 1 - remote);
    }
}

/* Signalling loss and grace (docs/decisions.md, "Losing signalling is not the end of a call") */

typedef struct
{
  RelayCall *call;
  int        role;
} GraceData;

static gboolean
grace_expired_cb (gpointer user_data)
{
  GraceData *data = user_data;
  RelayCall *call = data->call;

  call->party[data->role].grace_id = 0;
  log_call (call, "%s did not come back within the grace period",
            data->role == WZP_CALL_ROLE_CALLER ? "the caller" : "the callee");
  _wzp_relay_call_end (call, WZP_HANGUP_REASON_ERROR, 1 - data->role);
  return G_SOURCE_REMOVE;
}

static GPtrArray *
calls_of (WzpRelay   *self,
          const char *fingerprint)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  RelayCall *call;

  g_hash_table_iter_init (&iter, self->calls);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &call))
    if (role_of (call, fingerprint) >= 0)
      g_ptr_array_add (ids, g_strdup (call->call_id));
  return ids;
}

void
_wzp_relay_calls_party_lost (WzpRelay   *self,
                             const char *fingerprint)
{
  g_autoptr(GPtrArray) ids = calls_of (self, fingerprint);

  for (guint i = 0; i < ids->len; i++)
    {
      RelayCall *call = _wzp_relay_call_lookup (self, g_ptr_array_index (ids, i));
      int role;

      if (call == NULL)
        continue;
      role = role_of (call, fingerprint);

      if (call->state != CALL_SET_UP)
        {
          /* Not answered yet: nothing to keep alive. */
          _wzp_relay_call_end (call, WZP_HANGUP_REASON_ERROR, 1 - role);
          continue;
        }

      if (call->party[role].grace_id == 0)
        {
          GraceData *data = g_new0 (GraceData, 1);
          g_autoptr(WzpMessage) lost =
            _wzp_message_new_for_call (WZP_MESSAGE_PEER_SIGNALLING_LOST, call->call_id);

          data->call = call;
          data->role = role;
          call->party[role].grace_id =
            _wzp_timeout_add_seconds_full (self->context, self->grace_period,
                                           grace_expired_cb, data, g_free);
          _wzp_relay_party_send (call, 1 - role, lost);
          log_call (call, "signalling of the %s lost; waiting %u s for it to come back",
                    role == WZP_CALL_ROLE_CALLER ? "caller" : "callee", self->grace_period);
        }
    }
}

void
_wzp_relay_calls_party_back (WzpRelay   *self,
                             const char *fingerprint)
{
  GHashTableIter iter;
  RelayCall *call;

  g_hash_table_iter_init (&iter, self->calls);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &call))
    {
      int role = role_of (call, fingerprint);

      if (role >= 0 && call->party[role].grace_id != 0)
        {
          _wzp_clear_source (call->relay->context, &call->party[role].grace_id);
          log_call (call, "re-attached after re-registration");
        }
    }
}

void
_wzp_relay_calls_shutdown (WzpRelay *self)
{
  while (g_hash_table_size (self->calls) > 0)
    {
      GHashTableIter iter;
      RelayCall *call;

      g_hash_table_iter_init (&iter, self->calls);
      g_hash_table_iter_next (&iter, NULL, (gpointer *) &call);
      _wzp_relay_call_end (call, WZP_HANGUP_REASON_ERROR, NOTIFY_BOTH);
    }
}

void
_wzp_relay_set_setup_filter (WzpRelay  *self,
                             void     (*filter) (WzpMessage *setup,
                                                 gpointer    data),
                             gpointer   data)
{
  self->setup_filter = filter;
  self->setup_filter_data = data;
}
