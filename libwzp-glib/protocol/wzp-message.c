/* wzp-message.c: signalling messages, validated against a schema table
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "wzp-address-private.h"
#include "wzp-error.h"
#include "wzp-identity.h"
#include "wzp-message-private.h"

/* What a member must look like. Validation happens once, at decode time (and for the inner
 * message of a forward); after that, getters can trust the object. */
typedef enum {
  KIND_STRING,
  KIND_ADDRESS,
  KIND_FINGERPRINT,
  KIND_TOKEN,
  KIND_BOOL,
  KIND_INT,
  KIND_STRV,
  KIND_FEATURES,
  KIND_ADDRESS_LIST,
  KIND_FINGERPRINT_LIST,
  KIND_NAT_TYPE,
  KIND_ACCEPT_MODE,
  KIND_HANGUP_REASON,
  KIND_ROLE,
  KIND_MESSAGE,
  KIND_BINDING,
  KIND_BINDING_LIST,
} MemberKind;

typedef struct {
  const char *name;
  MemberKind  kind;
  gboolean    required;
} MemberSpec;

typedef struct {
  const char       *name;
  const MemberSpec *members;
} MessageSpec;

#define REQ(n, k) { n, k, TRUE }
#define OPT(n, k) { n, k, FALSE }
#define END { NULL, 0, FALSE }

static const MemberSpec members_register_presence[] = {
  OPT ("alias", KIND_STRING), REQ ("client_version", KIND_STRING),
  OPT ("binding", KIND_BINDING), END
};
static const MemberSpec members_register_presence_ack[] = {
  REQ ("success", KIND_BOOL), OPT ("error", KIND_STRING),
  OPT ("fingerprint", KIND_FINGERPRINT), OPT ("observed_addr", KIND_ADDRESS),
  OPT ("relay_fingerprint", KIND_FINGERPRINT), OPT ("relay_version", KIND_STRING),
  OPT ("reflectors", KIND_STRV), END
};
static const MemberSpec members_no_members[] = { END };
static const MemberSpec members_reflect_response[] = { REQ ("observed_addr", KIND_ADDRESS), END };
static const MemberSpec members_direct_call_offer[] = {
  REQ ("call_id", KIND_STRING), REQ ("target_fingerprint", KIND_FINGERPRINT),
  OPT ("caller_fingerprint", KIND_FINGERPRINT), OPT ("caller_alias", KIND_STRING),
  OPT ("caller_reflexive_addr", KIND_ADDRESS), OPT ("caller_local_addrs", KIND_ADDRESS_LIST),
  OPT ("caller_nat_type", KIND_NAT_TYPE), OPT ("caller_relay_fingerprint", KIND_FINGERPRINT),
  END
};
static const MemberSpec members_call_only[] = { REQ ("call_id", KIND_STRING), END };
static const MemberSpec members_direct_call_answer[] = {
  REQ ("call_id", KIND_STRING), REQ ("accept_mode", KIND_ACCEPT_MODE),
  OPT ("callee_reflexive_addr", KIND_ADDRESS), OPT ("callee_local_addrs", KIND_ADDRESS_LIST),
  OPT ("callee_nat_type", KIND_NAT_TYPE), END
};
static const MemberSpec members_call_setup[] = {
  REQ ("call_id", KIND_STRING), REQ ("role", KIND_ROLE),
  REQ ("peer_fingerprint", KIND_FINGERPRINT), OPT ("peer_alias", KIND_STRING),
  OPT ("peer_direct_addr", KIND_ADDRESS), OPT ("peer_local_addrs", KIND_ADDRESS_LIST),
  OPT ("peer_nat_type", KIND_NAT_TYPE), OPT ("relay_pipe", KIND_BOOL),
  OPT ("pipe_token", KIND_TOKEN), OPT ("pipe_addr", KIND_ADDRESS), END
};
static const MemberSpec members_candidate_update[] = {
  REQ ("call_id", KIND_STRING), OPT ("reflexive_addr", KIND_ADDRESS),
  OPT ("local_addrs", KIND_ADDRESS_LIST), END
};
static const MemberSpec members_hangup[] = {
  REQ ("call_id", KIND_STRING), REQ ("reason", KIND_HANGUP_REASON), END
};
static const MemberSpec members_open_pipe[] = {
  REQ ("call_id", KIND_STRING), REQ ("pipe_token", KIND_TOKEN), OPT ("seq", KIND_INT), END
};
static const MemberSpec members_nominate[] = {
  REQ ("seq", KIND_INT), OPT ("features", KIND_FEATURES), END
};
static const MemberSpec members_ping[] = { REQ ("timestamp_ms", KIND_INT), END };
static const MemberSpec members_error[] = {
  REQ ("code", KIND_STRING), REQ ("message", KIND_STRING), OPT ("call_id", KIND_STRING), END
};
static const MemberSpec members_federation_hello[] = {
  REQ ("relay_fingerprint", KIND_FINGERPRINT), REQ ("relay_version", KIND_STRING), END
};
static const MemberSpec members_federated_signal_forward[] = {
  REQ ("inner", KIND_MESSAGE), REQ ("origin_relay_fingerprint", KIND_FINGERPRINT), END
};
static const MemberSpec members_presence_update[] = {
  OPT ("added", KIND_BINDING_LIST), OPT ("removed", KIND_FINGERPRINT_LIST),
  OPT ("snapshot", KIND_BOOL), OPT ("more", KIND_BOOL), END
};

static const MessageSpec specs[WZP_N_MESSAGE_TYPES] = {
  [WZP_MESSAGE_REGISTER_PRESENCE] = { "RegisterPresence", members_register_presence },
  [WZP_MESSAGE_REGISTER_PRESENCE_ACK] = { "RegisterPresenceAck", members_register_presence_ack },
  [WZP_MESSAGE_REFLECT] = { "Reflect", members_no_members },
  [WZP_MESSAGE_REFLECT_RESPONSE] = { "ReflectResponse", members_reflect_response },
  [WZP_MESSAGE_DIRECT_CALL_OFFER] = { "DirectCallOffer", members_direct_call_offer },
  [WZP_MESSAGE_CALL_RINGING] = { "CallRinging", members_call_only },
  [WZP_MESSAGE_DIRECT_CALL_ANSWER] = { "DirectCallAnswer", members_direct_call_answer },
  [WZP_MESSAGE_CALL_SETUP] = { "CallSetup", members_call_setup },
  [WZP_MESSAGE_CANDIDATE_UPDATE] = { "CandidateUpdate", members_candidate_update },
  [WZP_MESSAGE_HANGUP] = { "Hangup", members_hangup },
  [WZP_MESSAGE_OPEN_PIPE] = { "OpenPipe", members_open_pipe },
  [WZP_MESSAGE_PIPE_READY] = { "PipeReady", members_call_only },
  [WZP_MESSAGE_PIPE_REQUESTED] = { "PipeRequested", members_call_only },
  [WZP_MESSAGE_PEER_SIGNALLING_LOST] = { "PeerSignallingLost", members_call_only },
  [WZP_MESSAGE_NOMINATE] = { "Nominate", members_nominate },
  [WZP_MESSAGE_NOMINATE_ACK] = { "NominateAck", members_nominate },
  [WZP_MESSAGE_PING] = { "Ping", members_ping },
  [WZP_MESSAGE_PONG] = { "Pong", members_ping },
  [WZP_MESSAGE_ERROR] = { "Error", members_error },
  [WZP_MESSAGE_FEDERATION_HELLO] = { "FederationHello", members_federation_hello },
  [WZP_MESSAGE_FEDERATED_SIGNAL_FORWARD] = { "FederatedSignalForward",
                                             members_federated_signal_forward },
  [WZP_MESSAGE_PRESENCE_UPDATE] = { "PresenceUpdate", members_presence_update },
};

/* A forward's inner message may itself be a forward; bound the nesting so that hostile
 * input cannot recurse deeply. One level is all the protocol uses. */
#define MAX_NESTING 2

struct _WzpMessage {
  gatomicrefcount  ref_count;
  WzpMessageType   type;
  JsonObject      *object;
  WzpMessage      *inner;   /* validated view of "inner", FederatedSignalForward only */
};

static const char * const nat_type_wire[] = {
  [WZP_NAT_TYPE_UNKNOWN] = "Unknown",
  [WZP_NAT_TYPE_NONE] = "None",
  [WZP_NAT_TYPE_CONE] = "Cone",
  [WZP_NAT_TYPE_SYMMETRIC] = "Symmetric",
  [WZP_NAT_TYPE_MULTIPLE] = "Multiple",
};
static const char * const accept_mode_wire[] = {
  [WZP_ACCEPT_MODE_REJECT] = "Reject",
  [WZP_ACCEPT_MODE_TRUSTED] = "AcceptTrusted",
  [WZP_ACCEPT_MODE_PRIVACY] = "AcceptGeneric",
};
static const char * const hangup_reason_wire[] = {
  [WZP_HANGUP_REASON_NORMAL] = "Normal",
  [WZP_HANGUP_REASON_BUSY] = "Busy",
  [WZP_HANGUP_REASON_DECLINED] = "Declined",
  [WZP_HANGUP_REASON_TIMEOUT] = "Timeout",
  [WZP_HANGUP_REASON_UNREACHABLE] = "Unreachable",
  [WZP_HANGUP_REASON_ERROR] = "Error",
};
static const char * const role_wire[] = {
  [WZP_CALL_ROLE_CALLER] = "caller",
  [WZP_CALL_ROLE_CALLEE] = "callee",
};

static int
wire_lookup (const char * const *table,
             guint               n,
             const char         *text)
{
  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (table[i], text) == 0)
      return (int) i;
  return -1;
}

#define WIRE_PAIR(name, Type, table)                                          \
  const char *                                                                \
  _wzp_##name##_to_wire (Type value)                                          \
  {                                                                           \
    g_return_val_if_fail ((guint) value < G_N_ELEMENTS (table), NULL);        \
    return table[value];                                                      \
  }                                                                           \
  gboolean                                                                    \
  _wzp_##name##_from_wire (const char *text,                                  \
                           Type       *out)                                   \
  {                                                                           \
    int i = wire_lookup (table, G_N_ELEMENTS (table), text);                  \
    if (i < 0)                                                                \
      return FALSE;                                                           \
    *out = (Type) i;                                                          \
    return TRUE;                                                              \
  }

WIRE_PAIR (nat_type, WzpNatType, nat_type_wire)
WIRE_PAIR (accept_mode, WzpAcceptMode, accept_mode_wire)
WIRE_PAIR (hangup_reason, WzpHangupReason, hangup_reason_wire)

const char *
_wzp_call_role_to_wire (WzpCallRole role)
{
  g_return_val_if_fail ((guint) role < G_N_ELEMENTS (role_wire), NULL);
  return role_wire[role];
}

const char *
_wzp_message_type_to_string (WzpMessageType type)
{
  g_return_val_if_fail ((guint) type < WZP_N_MESSAGE_TYPES, NULL);
  return specs[type].name;
}

gboolean
_wzp_call_id_is_valid (const char *call_id)
{
  gsize len;

  if (call_id == NULL)
    return FALSE;
  len = strlen (call_id);
  if (len == 0 || len > 64)
    return FALSE;
  for (const char *p = call_id; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

/* Validation */

/* A feature name: 1 to WZP_MAX_FEATURE_LEN of a-z, 0-9, '/', '.', '_', '-'. */
static gboolean
feature_is_valid (const char *text)
{
  gsize len = strlen (text);

  if (len == 0 || len > WZP_MAX_FEATURE_LEN)
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && strchr ("/._-", *p) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
token_is_valid (const char *text)
{
  if (strlen (text) != 32)
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  return TRUE;
}

static gboolean
wrong_type (const char  *type_name,
            const char  *member,
            const char  *expected,
            GError     **error)
{
  g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_WRONG_TYPE,
               "%s: member “%s” must be %s", type_name, member, expected);
  return FALSE;
}

static gboolean
check_string_value (const char  *type_name,
                    const char  *member,
                    MemberKind   kind,
                    const char  *text,
                    GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GInetSocketAddress) address = NULL;
  gboolean ok = TRUE;
  const char *expected = NULL;

  switch (kind)
    {
    case KIND_STRING:
    case KIND_STRV:
      return TRUE;
    case KIND_FEATURES:
      ok = feature_is_valid (text);
      expected = "a feature name (1 to " G_STRINGIFY (WZP_MAX_FEATURE_LEN)
                 " of a-z, 0-9, “/”, “.”, “_”, “-”)";
      break;
    case KIND_ADDRESS:
    case KIND_ADDRESS_LIST:
      address = _wzp_address_parse (text, &local_error);
      if (address == NULL)
        {
          g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE,
                       "%s: member “%s”: %s", type_name, member, local_error->message);
          return FALSE;
        }
      return TRUE;
    case KIND_FINGERPRINT:
    case KIND_FINGERPRINT_LIST:
      ok = wzp_fingerprint_is_valid (text);
      expected = "a fingerprint (8 groups of 4 lower-case hex digits)";
      break;
    case KIND_TOKEN:
      ok = token_is_valid (text);
      expected = "a pipe token (32 lower-case hex digits)";
      break;
    case KIND_NAT_TYPE:
      ok = wire_lookup (nat_type_wire, G_N_ELEMENTS (nat_type_wire), text) >= 0;
      expected = "one of None, Cone, Symmetric, Multiple, Unknown";
      break;
    case KIND_ACCEPT_MODE:
      ok = wire_lookup (accept_mode_wire, G_N_ELEMENTS (accept_mode_wire), text) >= 0;
      expected = "one of Reject, AcceptTrusted, AcceptGeneric";
      break;
    case KIND_HANGUP_REASON:
      ok = wire_lookup (hangup_reason_wire, G_N_ELEMENTS (hangup_reason_wire), text) >= 0;
      expected = "one of Normal, Busy, Declined, Timeout, Unreachable, Error";
      break;
    case KIND_ROLE:
      ok = wire_lookup (role_wire, G_N_ELEMENTS (role_wire), text) >= 0;
      expected = "caller or callee";
      break;
    case KIND_BOOL:
    case KIND_INT:
    case KIND_MESSAGE:
    case KIND_BINDING:
    case KIND_BINDING_LIST:
    default:
      g_assert_not_reached ();
    }

  if (!ok)
    {
      g_autofree char *shown = _wzp_quote (text, WZP_QUOTE_MAX);

      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE,
                   "%s: member “%s” is “%s”, but must be %s", type_name, member, shown,
                   expected);
    }
  return ok;
}

static WzpMessage *message_new_from_object (JsonObject  *object,
                                            guint        depth,
                                            GError     **error);

static gboolean
check_member (WzpMessage        *message,
              const MemberSpec  *spec,
              JsonNode          *node,
              guint              depth,
              GError           **error)
{
  const char *type_name = specs[message->type].name;

  switch (spec->kind)
    {
    case KIND_BOOL:
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        return wrong_type (type_name, spec->name, "true or false", error);
      return TRUE;

    case KIND_INT:
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
        return wrong_type (type_name, spec->name, "an integer", error);
      return TRUE;

    case KIND_STRV:
    case KIND_FEATURES:
    case KIND_ADDRESS_LIST:
    case KIND_FINGERPRINT_LIST:
      {
        JsonArray *array;
        guint n;

        if (!JSON_NODE_HOLDS_ARRAY (node))
          return wrong_type (type_name, spec->name, "a list of strings", error);
        array = json_node_get_array (node);
        n = json_array_get_length (array);
        /* Refused, not cut short, like host candidates: a peer sends only the features
         * it implements, far fewer (docs/protocol.md, "Media frames"). */
        if (spec->kind == KIND_FEATURES && n > WZP_MAX_FEATURES)
          {
            g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE,
                         "%s: member “%s” lists %u features; at most %d are allowed",
                         type_name, spec->name, n, WZP_MAX_FEATURES);
            return FALSE;
          }
        for (guint i = 0; i < n; i++)
          {
            JsonNode *element = json_array_get_element (array, i);

            if (!JSON_NODE_HOLDS_VALUE (element) ||
                json_node_get_value_type (element) != G_TYPE_STRING)
              return wrong_type (type_name, spec->name, "a list of strings", error);
            if (!check_string_value (type_name, spec->name, spec->kind,
                                     json_node_get_string (element), error))
              return FALSE;
          }
        return TRUE;
      }

    case KIND_MESSAGE:
      {
        g_autoptr(GError) inner_error = NULL;

        if (!JSON_NODE_HOLDS_OBJECT (node))
          return wrong_type (type_name, spec->name, "a message object", error);
        if (depth >= MAX_NESTING)
          {
            g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE,
                         "%s: member “%s” nests messages too deeply", type_name, spec->name);
            return FALSE;
          }
        message->inner = message_new_from_object (json_node_get_object (node), depth + 1,
                                                  &inner_error);
        if (message->inner == NULL)
          {
            g_set_error (error, WZP_PROTOCOL_ERROR, inner_error->code,
                         "%s: member “%s”: %s", type_name, spec->name, inner_error->message);
            return FALSE;
          }
        return TRUE;
      }

    case KIND_BINDING:
    case KIND_BINDING_LIST:
      {
        JsonArray *array = NULL;
        guint n = 1;

        if (spec->kind == KIND_BINDING_LIST)
          {
            if (!JSON_NODE_HOLDS_ARRAY (node))
              return wrong_type (type_name, spec->name, "a list of bindings", error);
            array = json_node_get_array (node);
            n = json_array_get_length (array);
          }
        for (guint i = 0; i < n; i++)
          {
            g_autoptr(GError) binding_error = NULL;
            g_autoptr(WzpBinding) binding = NULL;

            binding = _wzp_binding_from_json (array ? json_array_get_element (array, i) : node,
                                              &binding_error);
            if (binding == NULL)
              {
                g_set_error (error, WZP_PROTOCOL_ERROR, binding_error->code,
                             "%s: member “%s”: %s", type_name, spec->name,
                             binding_error->message);
                return FALSE;
              }
          }
        return TRUE;
      }

    case KIND_STRING:
    case KIND_ADDRESS:
    case KIND_FINGERPRINT:
    case KIND_TOKEN:
    case KIND_NAT_TYPE:
    case KIND_ACCEPT_MODE:
    case KIND_HANGUP_REASON:
    case KIND_ROLE:
    default:
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        return wrong_type (type_name, spec->name, "a string", error);
      return check_string_value (type_name, spec->name, spec->kind,
                                 json_node_get_string (node), error);
    }
}

static WzpMessage *
message_alloc (WzpMessageType  type,
               JsonObject     *object)
{
  WzpMessage *self = g_new0 (WzpMessage, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->type = type;
  self->object = json_object_ref (object);
  return self;
}

static WzpMessage *
message_new_from_object (JsonObject  *object,
                         guint        depth,
                         GError     **error)
{
  g_autoptr(WzpMessage) message = NULL;
  JsonNode *type_node;
  const char *type_name;
  int type = -1;

  type_node = json_object_get_member (object, "type");
  if (type_node == NULL || JSON_NODE_HOLDS_NULL (type_node))
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_MISSING_MEMBER,
                   "The message has no member “type”");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (type_node) || json_node_get_value_type (type_node) != G_TYPE_STRING)
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_WRONG_TYPE,
                   "The message's member “type” must be a string");
      return NULL;
    }

  type_name = json_node_get_string (type_node);
  for (guint i = 0; i < WZP_N_MESSAGE_TYPES; i++)
    if (strcmp (specs[i].name, type_name) == 0)
      type = (int) i;
  if (type < 0)
    {
      g_autofree char *shown = _wzp_quote (type_name, WZP_QUOTE_MAX);

      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_UNKNOWN_TYPE,
                   "Unknown message type “%s”", shown);
      return NULL;
    }

  message = message_alloc (type, object);

  for (const MemberSpec *spec = specs[type].members; spec->name != NULL; spec++)
    {
      JsonNode *node = json_object_get_member (object, spec->name);

      if (node == NULL || JSON_NODE_HOLDS_NULL (node))
        {
          if (spec->required)
            {
              g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_MISSING_MEMBER,
                           "%s: required member “%s” is missing", specs[type].name,
                           spec->name);
              return NULL;
            }
          continue;
        }

      if (!check_member (message, spec, node, depth, error))
        return NULL;
    }

  return g_steal_pointer (&message);
}

/* Public (private-API) functions */

WzpMessage *
_wzp_message_new (WzpMessageType type)
{
  g_autoptr(JsonObject) object = json_object_new ();

  g_return_val_if_fail ((guint) type < WZP_N_MESSAGE_TYPES, NULL);

  json_object_set_string_member (object, "type", specs[type].name);
  return message_alloc (type, object);
}

WzpMessage *
_wzp_message_ref (WzpMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
_wzp_message_unref (WzpMessage *self)
{
  g_return_if_fail (self != NULL);

  if (g_atomic_ref_count_dec (&self->ref_count))
    {
      g_clear_pointer (&self->inner, _wzp_message_unref);
      json_object_unref (self->object);
      g_free (self);
    }
}

/* json_node_copy() shares objects and arrays with the original; a forwarded copy must
 * not, or removing a member from it would remove it from the original too. */
static JsonNode *
deep_copy_node (JsonNode *node)
{
  JsonNode *copy;

  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        g_autoptr(JsonObject) out = json_object_new ();
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        json_object_iter_init (&iter, object);
        while (json_object_iter_next (&iter, &name, &member))
          json_object_set_member (out, name, deep_copy_node (member));
        copy = json_node_init_object (json_node_alloc (), out);
        return copy;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);
        g_autoptr(JsonArray) out = json_array_sized_new (n);

        for (guint i = 0; i < n; i++)
          json_array_add_element (out, deep_copy_node (json_array_get_element (array, i)));
        return json_node_init_array (json_node_alloc (), out);
      }
    case JSON_NODE_VALUE:
    case JSON_NODE_NULL:
    default:
      return json_node_copy (node);
    }
}

WzpMessage *
_wzp_message_copy (WzpMessage *self)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), self->object);
  g_autoptr(JsonNode) copy = deep_copy_node (node);
  g_autoptr(GError) error = NULL;
  WzpMessage *message;

  /* Re-validation cannot fail on a valid message. */
  message = message_new_from_object (json_node_get_object (copy), 0, &error);
  g_assert_no_error (error);
  return message;
}

/* json-glib's parser recurses once per nesting level; a 64 KiB frame of "[[[[..." would
 * otherwise recurse 65536 deep. No message nests more than a few levels. */
#define MAX_JSON_DEPTH 16

/* The value of the four hex digits of a "\\u" escape starting at data[i] (the backslash),
 * or -1 if there are not four of them. */
static int
unicode_escape_value (const char *data,
                      gsize       len,
                      gsize       i)
{
  int value = 0;

  if (len - i < 6 || data[i] != '\\' || data[i + 1] != 'u')
    return -1;
  for (gsize k = i + 2; k < i + 6; k++)
    {
      int digit = g_ascii_xdigit_value (data[k]);

      if (digit < 0)
        return -1;
      value = value * 16 + digit;
    }
  return value;
}

/* json-glib reads an integer literal with strtoull and casts it to gint64, so
 * 9223372036854775808 silently becomes -9223372036854775808, and it takes leading zeros
 * and hexadecimal ("0x10") that JSON does not. Checks the number that starts at data[i]
 * and sets *end to the index just past it. Returns NULL if it is acceptable, else why not
 * (without the number, which may be 64 KiB of digits). A literal with a fraction or an
 * exponent is json-glib's double; check_values() refuses one that overflows it. */
static const char *
check_json_number (const char       *data,
                   gsize             len,
                   gsize             i,
                   gsize            *end,
                   WzpProtocolError *code)
{
  gboolean negative = data[i] == '-';
  gboolean integer = TRUE;
  gsize digits_start;
  gsize n_digits;

  if (negative)
    i++;
  digits_start = i;
  while (i < len && g_ascii_isdigit (data[i]))
    i++;
  n_digits = i - digits_start;
  if (n_digits > 1 && data[digits_start] == '0')
    return "The frame is not valid JSON: a number has a leading zero";
  if (i < len && data[i] == '.')
    {
      integer = FALSE;
      i++;
      while (i < len && g_ascii_isdigit (data[i]))
        i++;
    }
  if (i < len && (data[i] == 'e' || data[i] == 'E'))
    {
      integer = FALSE;
      i++;
      if (i < len && (data[i] == '+' || data[i] == '-'))
        i++;
      while (i < len && g_ascii_isdigit (data[i]))
        i++;
    }
  *end = i;
  if (i < len && (g_ascii_isalnum (data[i]) || data[i] == '_'))
    return "The frame is not valid JSON: a number is followed by a letter";
  if (!integer || n_digits == 0)
    return NULL;

  /* Without leading zeros, a 19-digit number compares as text. */
  if (n_digits < 19 ||
      (n_digits == 19 &&
       strncmp (data + digits_start,
                negative ? "9223372036854775808" : "9223372036854775807", 19) <= 0))
    return NULL;
  *code = WZP_PROTOCOL_ERROR_INVALID_VALUE;
  return "The frame holds an integer outside the 64-bit range (-9223372036854775808 to "
         "9223372036854775807); send larger numbers as strings";
}

/* The length of true, false or null as a whole word at @i, else 0 (json-glib reports
 * any other word itself). */
static gsize
json_literal_length (const char *data,
                     gsize       len,
                     gsize       i)
{
  static const char * const literals[] = { "true", "false", "null" };

  for (guint k = 0; k < G_N_ELEMENTS (literals); k++)
    {
      gsize n = strlen (literals[k]);

      if (len - i >= n && memcmp (data + i, literals[k], n) == 0 &&
          (len - i == n || !(g_ascii_isalnum (data[i + n]) || data[i + n] == '_')))
        return n;
    }
  return 0;
}

/* Returns NULL if the text's structure is acceptable, else why not, and sets *code
 * (WZP_PROTOCOL_ERROR_INVALID_JSON unless the text is JSON). json-glib is more
 * lenient than JSON (its scanner takes 'single-quoted' strings), so a single quote
 * outside a string is refused here too: otherwise it could hide brackets from the depth
 * count. A "\\u" escape must hold four hex digits, and a surrogate escape followed by
 * another "\\u" escape must make a high + low pair: json-glib 1.6 leaks the string it was
 * building when it fails on a malformed pair, so such input must never reach it. A lone
 * surrogate escape is refused here too (as bad UTF-8, which is what json-glib would make of
 * it): json-glib takes the character after it as part of the escape, so past a lone
 * surrogate its idea of where a string ends differs from this scan's, and a malformed pair
 * that this scan saw outside a string reached json-glib inside one (found by fuzz-preamble).
 * Nothing but white space may follow the value: json-glib 1.6 accepts a string, number,
 * true, false or null followed by an object or array (8{}), returns the first value, and
 * leaks the second, so a peer could make us leak with every frame. Found by fuzz-frame. */
static const char *
check_json_structure (const char       *data,
                      gsize             len,
                      WzpProtocolError *code)
{
  gboolean in_string = FALSE;
  gboolean closed = FALSE;
  int depth = 0;

  *code = WZP_PROTOCOL_ERROR_INVALID_JSON;
  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];

      if (closed && !g_ascii_isspace (c))
        return "The frame is not valid JSON: it holds more than one value";
      if (in_string)
        {
          if (c == '\\' && i + 1 < len && data[i + 1] == 'u')
            {
              int unit = unicode_escape_value (data, len, i);
              int next;

              if (unit < 0)
                return "The frame is not valid JSON: a \\u escape needs four hex digits";
              i += 5;
              if (unit < 0xd800 || unit > 0xdfff)
                continue;
              if (i + 2 >= len || data[i + 1] != '\\' || data[i + 2] != 'u')
                {
                  /* json-glib reads on after any surrogate escape for the low half: after a
                   * lone one it swallows the next character, a closing quote too, and the
                   * string would end elsewhere for it than for this scan. */
                  *code = WZP_PROTOCOL_ERROR_INVALID_UTF8;
                  return "The frame holds a string that is not valid UTF-8 (a lone surrogate "
                         "escape)";
                }
              next = unicode_escape_value (data, len, i + 1);
              if (unit > 0xdbff || next < 0xdc00 || next > 0xdfff)
                return "The frame is not valid JSON: a \\u escape holds half a surrogate pair";
              i += 6; /* the low half: it does not start a pair of its own */
            }
          else if (c == '\\')
            i++;
          else if (c == '"')
            {
              in_string = FALSE;
              closed = (depth == 0);
            }
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '\'')
        return "The frame is not valid JSON: single quotes are not string delimiters";
      else if (c == '[' || c == '{')
        {
          if (++depth > MAX_JSON_DEPTH)
            return "The frame nests JSON arrays or objects too deeply";
        }
      else if (c == ']' || c == '}')
        closed = (--depth == 0);
      else if (c == '-' || g_ascii_isdigit (c))
        {
          gsize end;
          const char *problem = check_json_number (data, len, i, &end, code);

          if (problem != NULL)
            return problem;
          i = end - 1;
          closed = (depth == 0);
        }
      else if (json_literal_length (data, len, i) > 0)
        {
          i += json_literal_length (data, len, i) - 1;
          closed = (depth == 0);
        }
      else if (!g_ascii_isspace (c) && c != ':' && c != ',' && !g_ascii_isalnum (c) &&
               c != '_')
        /* Anything else outside a string is not JSON. json-glib 1.6 takes some of it: it
         * reads "$c{...}" as the object, and leaks it (fuzz-message). A word is left to
         * json-glib, whose error names it. */
        return "The frame is not valid JSON: it holds a character that is not part of a "
               "value";
    }
  return NULL;
}

/* json-glib decodes "\\ud800" (a lone surrogate) into bytes that are not UTF-8, and reads
 * 1e999 as infinity, which it would write back as "inf.0": neither may reach the rest of
 * the program, nor be forwarded by a relay. */
typedef enum {
  VALUES_SOUND,
  VALUES_BAD_UTF8,
  VALUES_BAD_NUMBER,
  VALUES_UNWRITABLE_NUMBER,
} ValuesCheck;

static ValuesCheck
check_values (JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        JsonNode *member;
        const char *name;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, &name, &member))
          {
            ValuesCheck check = g_utf8_validate (name, -1, NULL) ? check_values (member)
                                                                 : VALUES_BAD_UTF8;
            if (check != VALUES_SOUND)
              return check;
          }
        return VALUES_SOUND;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          {
            ValuesCheck check = check_values (json_array_get_element (array, i));
            if (check != VALUES_SOUND)
              return check;
          }
        return VALUES_SOUND;
      }
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING)
        return g_utf8_validate (json_node_get_string (node), -1, NULL) ? VALUES_SOUND
                                                                       : VALUES_BAD_UTF8;
      if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
        {
          double value = json_node_get_double (node);
          char text[G_ASCII_DTOSTR_BUF_SIZE];

          if (!isfinite (value))
            return VALUES_BAD_NUMBER;
          /* json-glib 1.6 writes a double with g_ascii_dtostr() and appends ".0" when
           * that has no '.', even after an exponent: 2e116 would go out as "2e+116.0",
           * which is not JSON, to whoever a relay passes the message on to. Found by
           * fuzz-message. */
          g_ascii_dtostr (text, sizeof text, value);
          if (strchr (text, '.') == NULL && strpbrk (text, "eE") != NULL)
            return VALUES_UNWRITABLE_NUMBER;
        }
      return VALUES_SOUND;
    case JSON_NODE_NULL:
    default:
      return VALUES_SOUND;
    }
}

WzpMessage *
_wzp_message_decode (const char  *data,
                     gsize        len,
                     GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) parse_error = NULL;
  WzpProtocolError code;
  const char *problem;
  JsonNode *root;

  if (len == 0)
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_JSON,
                   "The frame is empty; expected a JSON object");
      return NULL;
    }

  if (!g_utf8_validate_len (data, len, NULL))
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_UTF8,
                   "The frame is not valid UTF-8");
      return NULL;
    }

  /* json-glib stops at a NUL byte; a frame containing one is not a JSON text. */
  if (memchr (data, '\0', len) != NULL)
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_JSON,
                   "The frame contains a NUL byte");
      return NULL;
    }

  problem = check_json_structure (data, len, &code);
  if (problem != NULL)
    {
      g_set_error_literal (error, WZP_PROTOCOL_ERROR, code, problem);
      return NULL;
    }

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &parse_error))
    {
      /* json-glib's message may quote the input: bounded, with room for its own words. */
      g_autofree char *why = _wzp_quote (parse_error->message, 4 * WZP_QUOTE_MAX);

      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_JSON,
                   "The frame is not valid JSON: %s", why);
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_JSON,
                   "The frame is JSON but not an object");
      return NULL;
    }

  switch (check_values (root))
    {
    case VALUES_BAD_UTF8:
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_UTF8,
                   "The frame holds a string that is not valid UTF-8 (a lone surrogate "
                   "escape)");
      return NULL;
    case VALUES_BAD_NUMBER:
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE,
                   "The frame holds a number too large to represent");
      return NULL;
    case VALUES_UNWRITABLE_NUMBER:
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE,
                   "The frame holds a large number with a fraction or exponent that "
                   "could not be passed on as JSON; send it as a string");
      return NULL;
    case VALUES_SOUND:
    default:
      break;
    }

  return message_new_from_object (json_node_get_object (root), 0, error);
}

WzpMessage *
_wzp_message_new_from_object (JsonObject  *object,
                              GError     **error)
{
  g_return_val_if_fail (object != NULL, NULL);

  return message_new_from_object (object, 0, error);
}

GBytes *
_wzp_message_encode (WzpMessage *self)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), self->object);
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  gsize len = 0;
  char *text;

  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, &len);
  return g_bytes_new_take (text, len);
}

WzpMessageType
_wzp_message_get_message_type (WzpMessage *self)
{
  return self->type;
}

JsonObject *
_wzp_message_get_object (WzpMessage *self)
{
  return self->object;
}

static JsonNode *
get_member (WzpMessage *self,
            const char *member)
{
  JsonNode *node = json_object_get_member (self->object, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return node;
}

gboolean
_wzp_message_has_member (WzpMessage *self,
                         const char *member)
{
  return get_member (self, member) != NULL;
}

/* The getters tolerate a member of the wrong type (a member this version does not
 * validate, or one set by a newer peer inside a forwarded object) by returning the
 * "absent" value: they are also used on members outside the schema. */
const char *
_wzp_message_get_string (WzpMessage *self,
                         const char *member)
{
  JsonNode *node = get_member (self, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

void
_wzp_message_set_string (WzpMessage *self,
                         const char *member,
                         const char *value)
{
  g_return_if_fail (g_strcmp0 (member, "type") != 0);

  if (value == NULL)
    json_object_remove_member (self->object, member);
  else
    json_object_set_string_member (self->object, member, value);
}

gboolean
_wzp_message_get_bool (WzpMessage *self,
                       const char *member)
{
  JsonNode *node = get_member (self, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return FALSE;
  return json_node_get_boolean (node);
}

void
_wzp_message_set_bool (WzpMessage *self,
                       const char *member,
                       gboolean    value)
{
  json_object_set_boolean_member (self->object, member, value);
}

gint64
_wzp_message_get_int (WzpMessage *self,
                      const char *member)
{
  JsonNode *node = get_member (self, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return 0;
  return json_node_get_int (node);
}

void
_wzp_message_set_int (WzpMessage *self,
                      const char *member,
                      gint64      value)
{
  json_object_set_int_member (self->object, member, value);
}

char **
_wzp_message_dup_strv (WzpMessage *self,
                       const char *member)
{
  JsonNode *node = get_member (self, member);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint n = json_array_get_length (array);

      for (guint i = 0; i < n; i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (JSON_NODE_HOLDS_VALUE (element) &&
              json_node_get_value_type (element) == G_TYPE_STRING)
            g_strv_builder_add (builder, json_node_get_string (element));
        }
    }

  return g_strv_builder_end (builder);
}

gboolean
_wzp_message_has_feature (WzpMessage *self,
                          const char *feature)
{
  JsonNode *node;
  JsonArray *array;
  guint n;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (feature != NULL, FALSE);

  node = get_member (self, "features");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;
  array = json_node_get_array (node);
  n = json_array_get_length (array);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (JSON_NODE_HOLDS_VALUE (element) &&
          json_node_get_value_type (element) == G_TYPE_STRING &&
          g_strcmp0 (json_node_get_string (element), feature) == 0)
        return TRUE;
    }
  return FALSE;
}

void
_wzp_message_set_strv (WzpMessage         *self,
                       const char         *member,
                       const char * const *values)
{
  JsonArray *array;

  if (values == NULL || values[0] == NULL)
    {
      json_object_remove_member (self->object, member);
      return;
    }

  array = json_array_sized_new (g_strv_length ((char **) values));
  for (guint i = 0; values[i] != NULL; i++)
    json_array_add_string_element (array, values[i]);
  json_object_set_array_member (self->object, member, array);
}

WzpBinding *
_wzp_message_dup_binding (WzpMessage *self,
                          const char *member)
{
  JsonNode *node = get_member (self, member);

  return node != NULL ? _wzp_binding_from_json (node, NULL) : NULL;
}

void
_wzp_message_set_binding (WzpMessage       *self,
                          const char       *member,
                          const WzpBinding *binding)
{
  if (binding == NULL)
    json_object_remove_member (self->object, member);
  else
    json_object_set_member (self->object, member, _wzp_binding_to_json (binding));
}

GPtrArray *
_wzp_message_dup_bindings (WzpMessage *self,
                           const char *member)
{
  JsonNode *node = get_member (self, member);
  GPtrArray *bindings = g_ptr_array_new_with_free_func ((GDestroyNotify) _wzp_binding_free);

  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint n = json_array_get_length (array);

      for (guint i = 0; i < n; i++)
        {
          WzpBinding *binding = _wzp_binding_from_json (json_array_get_element (array, i),
                                                        NULL);

          if (binding != NULL)
            g_ptr_array_add (bindings, binding);
        }
    }
  return bindings;
}

void
_wzp_message_set_bindings (WzpMessage *self,
                           const char *member,
                           GPtrArray  *bindings)
{
  JsonArray *array;

  if (bindings == NULL || bindings->len == 0)
    {
      json_object_remove_member (self->object, member);
      return;
    }
  array = json_array_sized_new (bindings->len);
  for (guint i = 0; i < bindings->len; i++)
    json_array_add_element (array, _wzp_binding_to_json (g_ptr_array_index (bindings, i)));
  json_object_set_array_member (self->object, member, array);
}

WzpMessage *
_wzp_message_get_inner (WzpMessage *self)
{
  return self->inner;
}

void
_wzp_message_set_inner (WzpMessage *self,
                        WzpMessage *inner)
{
  g_return_if_fail (self->type == WZP_MESSAGE_FEDERATED_SIGNAL_FORWARD);
  g_return_if_fail (inner != NULL && inner != self);

  g_clear_pointer (&self->inner, _wzp_message_unref);
  self->inner = _wzp_message_ref (inner);
  json_object_set_object_member (self->object, "inner", json_object_ref (inner->object));
}

void
_wzp_message_remove_member (WzpMessage *self,
                            const char *member)
{
  g_return_if_fail (g_strcmp0 (member, "type") != 0);

  json_object_remove_member (self->object, member);
}

gboolean
_wzp_alias_check (const char  *alias,
                  GError     **error)
{
  /* Decoded messages are valid UTF-8; g_utf8_strlen() stops at the first NUL. */
  if (alias == NULL || g_utf8_strlen (alias, -1) <= WZP_MAX_ALIAS_CHARS)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "Your alias is longer than %d characters; choose a shorter one",
               WZP_MAX_ALIAS_CHARS);
  return FALSE;
}

gboolean
_wzp_message_check_size (WzpMessage  *self,
                         gsize        max,
                         GError     **error)
{
  g_autoptr(GBytes) payload = _wzp_message_encode (self);
  gsize len = g_bytes_get_size (payload);

  if (len <= max)
    return TRUE;
  g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE,
               "the %s message would be %" G_GSIZE_FORMAT " bytes, over the %"
               G_GSIZE_FORMAT "-byte frame limit", specs[self->type].name, len, max);
  return FALSE;
}

WzpMessage *
_wzp_message_new_error (const char *code,
                        const char *message,
                        const char *call_id)
{
  WzpMessage *self = _wzp_message_new (WZP_MESSAGE_ERROR);

  _wzp_message_set_string (self, "code", code);
  _wzp_message_set_string (self, "message", message);
  if (_wzp_call_id_is_valid (call_id))
    _wzp_message_set_string (self, "call_id", call_id);
  return self;
}

WzpMessage *
_wzp_message_new_for_call (WzpMessageType  type,
                           const char     *call_id)
{
  WzpMessage *self = _wzp_message_new (type);

  _wzp_message_set_string (self, "call_id", call_id);
  return self;
}
