/* wzp-relay-calls.c: the call state machine and CallSetup cross-wiring
 *
 * The relay owns the truth about a call: every call message must come from a party of
 * that call, in a state where it makes sense; anything else gets an Error and changes
 * nothing. Calls are keyed by the caller's call_id.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "wzp-relay-private.h"

#define NOTIFY_NONE  (-1)
#define NOTIFY_BOTH  2

const char *
_wzp_relay_call_state_name (RelayCallState state)
{
  switch (state)
    {
    case CALL_OFFERED:
      return "offered";
    case CALL_RINGING:
      return "ringing";
    case CALL_SET_UP:
      return "set-up";
    case CALL_ENDED:
    default:
      return "ended";
    }
}

static void
party_clear (RelayParty *party)
{
  g_clear_handle_id (&party->grace_id, g_source_remove);
  g_clear_pointer (&party->fingerprint, g_free);
  g_clear_pointer (&party->alias, g_free);
  g_clear_pointer (&party->reflexive_addr, g_free);
  g_clear_pointer (&party->local_addrs, g_strfreev);
  g_clear_pointer (&party->nat_type, g_free);
  g_clear_pointer (&party->pipe_secret, g_free);
}

void
_wzp_relay_call_free (RelayCall *call)
{
  g_clear_handle_id (&call->ring_timeout_id, g_source_remove);
  g_clear_handle_id (&call->duration_id, g_source_remove);
  _wzp_relay_pipes_drop_call (call);
  party_clear (&call->party[0]);
  party_clear (&call->party[1]);
  g_free (call->call_id);
  g_free (call);
}

RelayCall *
_wzp_relay_call_lookup (WzpRelay   *self,
                        const char *call_id)
{
  return call_id ? g_hash_table_lookup (self->calls, call_id) : NULL;
}

static void
log_call (RelayCall  *call,
          const char *format,
          ...) G_GNUC_PRINTF (2, 3);

static void
log_call (RelayCall  *call,
          const char *format,
          ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_CALL_ID", call->call_id,
                    "WZP_CALLER", call->party[WZP_CALL_ROLE_CALLER].fingerprint,
                    "WZP_CALLEE", call->party[WZP_CALL_ROLE_CALLEE].fingerprint,
                    "MESSAGE", "Call %s: %s", call->call_id, text);
}

static void
send_hangup (RelayCall       *call,
             int              role,
             WzpHangupReason  reason)
{
  g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call->call_id);

  _wzp_message_set_string (hangup, "reason", _wzp_hangup_reason_to_wire (reason));
  _wzp_relay_send_to (call->relay, call->party[role].fingerprint, hangup);
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
  call->state = CALL_ENDED;

  if (notify_role == NOTIFY_BOTH || notify_role == WZP_CALL_ROLE_CALLER)
    send_hangup (call, WZP_CALL_ROLE_CALLER, reason);
  if (notify_role == NOTIFY_BOTH || notify_role == WZP_CALL_ROLE_CALLEE)
    send_hangup (call, WZP_CALL_ROLE_CALLEE, reason);

  log_call (call, "ended (%s)", reason_text);
  _wzp_relay_emit_call_ended (self, call, reason_text);
  g_hash_table_remove (self->calls, call->call_id);   /* frees the call */
  _wzp_relay_notify_counts (self);
}

static guint
count_calls_of (WzpRelay   *self,
                const char *fingerprint)
{
  GHashTableIter iter;
  RelayCall *call;
  guint n = 0;

  g_hash_table_iter_init (&iter, self->calls);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &call))
    if (g_strcmp0 (call->party[0].fingerprint, fingerprint) == 0 ||
        g_strcmp0 (call->party[1].fingerprint, fingerprint) == 0)
      n++;
  return n;
}

/* Call ids come from the caller (a random UUID); the relay only needs them to be
 * printable, bounded and unique. */
static gboolean
call_id_is_valid (const char *call_id)
{
  gsize len = strlen (call_id);

  if (len == 0 || len > 64)
    return FALSE;
  for (const char *p = call_id; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
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
  log_call (call, "reached the relay's maximum call duration");
  _wzp_relay_call_end (call, WZP_HANGUP_REASON_TIMEOUT, NOTIFY_BOTH);
  return G_SOURCE_REMOVE;
}

static void
handle_offer (WzpRelay   *self,
              RelayConn  *conn,
              WzpMessage *offer)
{
  const char *call_id = _wzp_message_get_string (offer, "call_id");
  const char *target = _wzp_message_get_string (offer, "target_fingerprint");
  const char *alias = _wzp_message_get_string (offer, "caller_alias");
  g_autoptr(WzpMessage) forward = NULL;
  RelayCall *call;

  if (!call_id_is_valid (call_id))
    {
      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_BAD_MESSAGE, NULL,
                                  "A call id must be 1 to 64 letters, digits, '-' or '_'");
      return;
    }
  if (g_hash_table_contains (self->calls, call_id))
    {
      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_BAD_MESSAGE, call_id,
                                  "The call id %s is already in use", call_id);
      return;
    }
  if (strcmp (target, conn->fingerprint) == 0)
    {
      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_BAD_MESSAGE, call_id,
                                  "You cannot call yourself");
      return;
    }
  if (count_calls_of (self, conn->fingerprint) >= self->max_calls_per_client)
    {
      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_LIMIT_REACHED, call_id,
                                  "You already have %u calls at this relay",
                                  self->max_calls_per_client);
      return;
    }
  if (_wzp_relay_lookup_conn (self, target) == NULL)
    {
      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_UNKNOWN_CALLEE, call_id,
                                  "Nobody with fingerprint %s is connected to this relay",
                                  target);
      return;
    }
  if (count_calls_of (self, target) >= self->max_calls_per_client)
    {
      g_autoptr(WzpMessage) busy = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);

      _wzp_message_set_string (busy, "reason",
                               _wzp_hangup_reason_to_wire (WZP_HANGUP_REASON_BUSY));
      _wzp_relay_conn_send (conn, busy);
      return;
    }

  call = g_new0 (RelayCall, 1);
  call->relay = self;
  call->call_id = g_strdup (call_id);
  call->state = CALL_OFFERED;
  call->started = g_get_real_time () / G_USEC_PER_SEC;
  call->party[WZP_CALL_ROLE_CALLER].fingerprint = g_strdup (conn->fingerprint);
  call->party[WZP_CALL_ROLE_CALLER].alias = g_strdup (alias ? alias : conn->alias);
  call->party[WZP_CALL_ROLE_CALLEE].fingerprint = g_strdup (target);
  party_store_candidates (&call->party[WZP_CALL_ROLE_CALLER], offer, "caller_reflexive_addr",
                          "caller_local_addrs", "caller_nat_type");
  g_hash_table_insert (self->calls, call->call_id, call);
  call->ring_timeout_id = g_timeout_add_seconds (self->ring_timeout, ring_timeout_cb, call);

  /* The caller's identity comes from its certificate, never from the message. Its
   * addresses reach the callee only in CallSetup, once the callee has answered: someone
   * who merely rings must not learn where the caller is. Other members pass through. */
  forward = _wzp_message_copy (offer);
  _wzp_message_set_string (forward, "caller_fingerprint", conn->fingerprint);
  _wzp_message_set_string (forward, "caller_alias", call->party[WZP_CALL_ROLE_CALLER].alias);
  _wzp_message_remove_member (forward, "caller_reflexive_addr");
  _wzp_message_remove_member (forward, "caller_local_addrs");
  _wzp_relay_send_to (self, target, forward);

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
      ip_text = g_inet_address_to_string (ip);

      if (conn != NULL &&
          (g_inet_address_get_is_any (ip) || g_strcmp0 (ip_text, conn->local_ip) == 0))
        {
          g_free (fallback);
          if (strchr (conn->local_ip, ':') != NULL)
            return g_strdup_printf ("[%s]:%u", conn->local_ip, port);
          return g_strdup_printf ("%s:%u", conn->local_ip, port);
        }
      if (fallback == NULL)
        fallback = g_strdup (text);
    }
  return fallback;
}

static void
send_setup (RelayCall   *call,
            WzpCallRole  role)
{
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
  _wzp_relay_send_to (call->relay, party->fingerprint, setup);
}

static void
handle_answer (WzpRelay   *self,
               RelayCall  *call,
               WzpMessage *answer)
{
  WzpAcceptMode mode = WZP_ACCEPT_MODE_REJECT;
  g_autoptr(WzpMessage) forward = _wzp_message_copy (answer);

  _wzp_accept_mode_from_wire (_wzp_message_get_string (answer, "accept_mode"), &mode);

  /* The caller learns the answer; addresses travel only in CallSetup. */
  _wzp_message_remove_member (forward, "callee_reflexive_addr");
  _wzp_message_remove_member (forward, "callee_local_addrs");
  _wzp_relay_send_to (self, call->party[WZP_CALL_ROLE_CALLER].fingerprint, forward);

  if (mode == WZP_ACCEPT_MODE_REJECT)
    {
      _wzp_relay_call_end (call, WZP_HANGUP_REASON_DECLINED, NOTIFY_NONE);
      return;
    }

  /* Addresses are only taken from an AcceptTrusted answer; a privacy answer keeps both
   * sides' addresses to themselves and the call runs over the relay only. */
  call->privacy = (mode == WZP_ACCEPT_MODE_PRIVACY);
  if (!call->privacy)
    party_store_candidates (&call->party[WZP_CALL_ROLE_CALLEE], answer,
                            "callee_reflexive_addr", "callee_local_addrs", "callee_nat_type");

  call->state = CALL_SET_UP;
  g_clear_handle_id (&call->ring_timeout_id, g_source_remove);
  call->party[WZP_CALL_ROLE_CALLER].pipe_secret = new_secret ();
  call->party[WZP_CALL_ROLE_CALLEE].pipe_secret = new_secret ();
  if (self->max_call_duration > 0)
    call->duration_id = g_timeout_add_seconds (self->max_call_duration, duration_cb, call);

  send_setup (call, WZP_CALL_ROLE_CALLER);
  send_setup (call, WZP_CALL_ROLE_CALLEE);
  log_call (call, "set up (%s)", call->privacy ? "privacy: relay only" : "trusted");
}

static int
role_of (RelayCall  *call,
         const char *fingerprint)
{
  for (int role = 0; role < 2; role++)
    if (g_strcmp0 (call->party[role].fingerprint, fingerprint) == 0)
      return role;
  return -1;
}

void
_wzp_relay_calls_handle (WzpRelay   *self,
                         RelayConn  *conn,
                         WzpMessage *message)
{
  WzpMessageType type = _wzp_message_get_message_type (message);
  const char *type_name = _wzp_message_type_to_string (type);
  const char *call_id = _wzp_message_get_string (message, "call_id");
  RelayCall *call;
  int role;

  if (type == WZP_MESSAGE_DIRECT_CALL_OFFER)
    {
      handle_offer (self, conn, message);
      return;
    }

  /* A call the sender is not a party of looks exactly like one that does not exist:
   * the relay never confirms other people's call ids. */
  call = _wzp_relay_call_lookup (self, call_id);
  role = call ? role_of (call, conn->fingerprint) : -1;
  if (role < 0)
    {
      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_UNKNOWN_CALL, call_id,
                                  "%s for a call you are not in: %s", type_name, call_id);
      return;
    }

  switch (type)
    {
    case WZP_MESSAGE_CALL_RINGING:
      if (role != WZP_CALL_ROLE_CALLEE ||
          (call->state != CALL_OFFERED && call->state != CALL_RINGING))
        break;
      call->state = CALL_RINGING;
      {
        g_autoptr(WzpMessage) forward = _wzp_message_copy (message);
        _wzp_relay_send_to (self, call->party[WZP_CALL_ROLE_CALLER].fingerprint, forward);
      }
      return;

    case WZP_MESSAGE_DIRECT_CALL_ANSWER:
      if (role != WZP_CALL_ROLE_CALLEE ||
          (call->state != CALL_OFFERED && call->state != CALL_RINGING))
        break;
      handle_answer (self, call, message);
      return;

    case WZP_MESSAGE_CANDIDATE_UPDATE:
      if (call->state != CALL_SET_UP)
        break;
      if (call->privacy)
        {
          _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_BAD_STATE, call_id,
                                      "This call was answered in privacy mode; the relay "
                                      "does not pass addresses on");
          return;
        }
      party_store_candidates (&call->party[role], message, "reflexive_addr", "local_addrs",
                              NULL);
      {
        g_autoptr(WzpMessage) forward = _wzp_message_copy (message);
        _wzp_relay_send_to (self, call->party[1 - role].fingerprint, forward);
      }
      return;

    case WZP_MESSAGE_HANGUP:
      {
        WzpHangupReason reason = WZP_HANGUP_REASON_NORMAL;

        _wzp_hangup_reason_from_wire (_wzp_message_get_string (message, "reason"), &reason);
        _wzp_relay_call_end (call, reason, 1 - role);
      }
      return;

    default:
      break;
    }

  _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_BAD_STATE, call_id,
                              "%s makes no sense from the %s of a call that is %s", type_name,
                              role == WZP_CALL_ROLE_CALLER ? "caller" : "callee",
                              _wzp_relay_call_state_name (call->state));
}

/* Signalling loss and grace (DESIGN 11, item 9) */

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
            g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, self->grace_period,
                                        grace_expired_cb, data, g_free);
          _wzp_relay_send_to (self, call->party[1 - role].fingerprint, lost);
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
          g_clear_handle_id (&call->party[role].grace_id, g_source_remove);
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
