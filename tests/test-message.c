/* test-message.c: the signalling messages (docs/protocol.md, "Messages")
 *
 * The schema is described once, in the table below; the round trips, the "unset members
 * are omitted" checks and most of the bad-input cases are generated from it. The JSON of
 * the bad inputs is built with json-glib directly, never with the encoder under test.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "wzp-glib.h"
#include "wzp-message-private.h"

/* ---- the schema ------------------------------------------------------------------------ */

typedef enum {
  KIND_STRING,     /* any JSON string */
  KIND_FP,         /* fingerprint */
  KIND_ADDR,       /* address string */
  KIND_TOKEN,      /* pipe token: 32 lower-case hex digits */
  KIND_ENUM,       /* one of MemberSpec.values */
  KIND_BOOL,
  KIND_INT,
  KIND_STR_LIST,   /* list of any strings */
  KIND_ADDR_LIST,
  KIND_FP_LIST,
  KIND_FEATURE_LIST, /* list of feature names */
  KIND_INNER,      /* a whole message object */
  KIND_BINDING,    /* a presence binding object */
  KIND_BINDING_LIST,
} Kind;

typedef struct {
  const char  *name;
  Kind         kind;
  gboolean     required;
  const char **values; /* KIND_ENUM only */
} MemberSpec;

typedef struct {
  WzpMessageType type;
  const char    *wire;
  MemberSpec     members[12];
} MessageSpec;

static const char *nat_values[] = { "None", "Cone", "Symmetric", "Multiple", "Unknown", NULL };
static const char *accept_values[] = { "Reject", "AcceptTrusted", "AcceptGeneric", NULL };
static const char *role_values[] = { "caller", "callee", NULL };
static const char *reason_values[] = { "Normal", "Busy", "Declined", "Timeout", "Unreachable",
                                       "Error", NULL };

#define REQ(n, k)     { n, k, TRUE, NULL }
#define OPT(n, k)     { n, k, FALSE, NULL }
#define REQ_ENUM(n, v) { n, KIND_ENUM, TRUE, v }
#define OPT_ENUM(n, v) { n, KIND_ENUM, FALSE, v }

static const MessageSpec specs[] = {
  { WZP_MESSAGE_REGISTER_PRESENCE, "RegisterPresence",
    { OPT ("alias", KIND_STRING), REQ ("client_version", KIND_STRING),
      OPT ("binding", KIND_BINDING) } },
  { WZP_MESSAGE_REGISTER_PRESENCE_ACK, "RegisterPresenceAck",
    { REQ ("success", KIND_BOOL), OPT ("error", KIND_STRING), OPT ("fingerprint", KIND_FP),
      OPT ("observed_addr", KIND_ADDR), OPT ("relay_fingerprint", KIND_FP),
      OPT ("relay_version", KIND_STRING), OPT ("reflectors", KIND_STR_LIST) } },
  { WZP_MESSAGE_REFLECT, "Reflect", { { NULL } } },
  { WZP_MESSAGE_REFLECT_RESPONSE, "ReflectResponse", { REQ ("observed_addr", KIND_ADDR) } },
  { WZP_MESSAGE_DIRECT_CALL_OFFER, "DirectCallOffer",
    { REQ ("call_id", KIND_STRING), REQ ("target_fingerprint", KIND_FP),
      OPT ("caller_fingerprint", KIND_FP), OPT ("caller_alias", KIND_STRING),
      OPT ("caller_reflexive_addr", KIND_ADDR), OPT ("caller_local_addrs", KIND_ADDR_LIST),
      OPT_ENUM ("caller_nat_type", nat_values), OPT ("caller_relay_fingerprint", KIND_FP) } },
  { WZP_MESSAGE_CALL_RINGING, "CallRinging", { REQ ("call_id", KIND_STRING) } },
  { WZP_MESSAGE_DIRECT_CALL_ANSWER, "DirectCallAnswer",
    { REQ ("call_id", KIND_STRING), REQ_ENUM ("accept_mode", accept_values),
      OPT ("callee_reflexive_addr", KIND_ADDR), OPT ("callee_local_addrs", KIND_ADDR_LIST),
      OPT_ENUM ("callee_nat_type", nat_values) } },
  { WZP_MESSAGE_CALL_SETUP, "CallSetup",
    { REQ ("call_id", KIND_STRING), REQ_ENUM ("role", role_values),
      REQ ("peer_fingerprint", KIND_FP), OPT ("peer_alias", KIND_STRING),
      OPT ("peer_direct_addr", KIND_ADDR), OPT ("peer_local_addrs", KIND_ADDR_LIST),
      OPT_ENUM ("peer_nat_type", nat_values), OPT ("relay_pipe", KIND_BOOL),
      OPT ("pipe_token", KIND_TOKEN), OPT ("pipe_addr", KIND_ADDR) } },
  { WZP_MESSAGE_CANDIDATE_UPDATE, "CandidateUpdate",
    { REQ ("call_id", KIND_STRING), OPT ("reflexive_addr", KIND_ADDR),
      OPT ("local_addrs", KIND_ADDR_LIST) } },
  { WZP_MESSAGE_HANGUP, "Hangup",
    { REQ ("call_id", KIND_STRING), REQ_ENUM ("reason", reason_values) } },
  { WZP_MESSAGE_OPEN_PIPE, "OpenPipe",
    { REQ ("call_id", KIND_STRING), REQ ("pipe_token", KIND_TOKEN), OPT ("seq", KIND_INT) } },
  { WZP_MESSAGE_PIPE_READY, "PipeReady", { REQ ("call_id", KIND_STRING) } },
  { WZP_MESSAGE_PIPE_REQUESTED, "PipeRequested", { REQ ("call_id", KIND_STRING) } },
  { WZP_MESSAGE_PEER_SIGNALLING_LOST, "PeerSignallingLost", { REQ ("call_id", KIND_STRING) } },
  { WZP_MESSAGE_NOMINATE, "Nominate",
    { REQ ("seq", KIND_INT), OPT ("features", KIND_FEATURE_LIST) } },
  { WZP_MESSAGE_NOMINATE_ACK, "NominateAck",
    { REQ ("seq", KIND_INT), OPT ("features", KIND_FEATURE_LIST) } },
  { WZP_MESSAGE_PING, "Ping", { REQ ("timestamp_ms", KIND_INT) } },
  { WZP_MESSAGE_PONG, "Pong", { REQ ("timestamp_ms", KIND_INT) } },
  { WZP_MESSAGE_ERROR, "Error",
    { REQ ("code", KIND_STRING), REQ ("message", KIND_STRING), OPT ("call_id", KIND_STRING) } },
  { WZP_MESSAGE_FEDERATION_HELLO, "FederationHello",
    { REQ ("relay_fingerprint", KIND_FP), REQ ("relay_version", KIND_STRING) } },
  { WZP_MESSAGE_FEDERATED_SIGNAL_FORWARD, "FederatedSignalForward",
    { REQ ("inner", KIND_INNER), REQ ("origin_relay_fingerprint", KIND_FP) } },
  { WZP_MESSAGE_PRESENCE_UPDATE, "PresenceUpdate",
    { OPT ("added", KIND_BINDING_LIST), OPT ("removed", KIND_FP_LIST), OPT ("snapshot", KIND_BOOL),
      OPT ("more", KIND_BOOL) } },
};

G_STATIC_ASSERT (G_N_ELEMENTS (specs) == WZP_N_MESSAGE_TYPES);

/* ---- sample values --------------------------------------------------------------------- */

#define FP1 "0123:4567:89ab:cdef:0123:4567:89ab:cdef"
#define FP2 "ffff:0000:a1b2:c3d4:e5f6:0709:1011:dead"
#define TOKEN "00112233445566778899aabbccddeeff"
#define INT_SAMPLE G_GINT64_CONSTANT (1700000000123)

static const char *sample_addr_list[] = { "192.168.88.21:40001", "[2001:db8:1::21]:40001",
                                          "10.0.0.1:1", "[fd00::1]:65535", NULL };
static const char *sample_fp_list[] = { FP1, FP2, "0000:0000:0000:0000:0000:0000:0000:0000",
                                        NULL };
static const char *sample_feature_list[] = { "voice/opus", "x-later/thing_2.0", NULL };
static const char *sample_str_list[] = { "wzps://relay-b.example.org:4433",
                                         "wzps://[2001:db8::5]:4433", "", NULL };

/* A distinct value per member; strings carry non-ASCII text and characters JSON escapes. */
static char *
sample_string (const MemberSpec *member)
{
  switch (member->kind)
    {
    case KIND_STRING:
      return g_strdup_printf ("%s: Zoë \"quoted\" \\ back\tslash\n☎ %s", member->name,
                              member->name);
    case KIND_FP:
      return g_strdup (strlen (member->name) % 2 ? FP1 : FP2);
    case KIND_ADDR:
      return g_strdup (strlen (member->name) % 2 ? "192.168.88.21:40001"
                                                 : "[2001:db8:1::21]:40001");
    case KIND_TOKEN:
      return g_strdup (TOKEN);
    case KIND_ENUM:
      /* The last value: never the first, so a "default" cannot pass by accident. */
      return g_strdup (member->values[g_strv_length ((char **) member->values) - 1]);
    default:
      g_assert_not_reached ();
    }
}

static const char **
sample_list (const MemberSpec *member)
{
  switch (member->kind)
    {
    case KIND_STR_LIST:
      return sample_str_list;
    case KIND_ADDR_LIST:
      return sample_addr_list;
    case KIND_FP_LIST:
      return sample_fp_list;
    case KIND_FEATURE_LIST:
      return sample_feature_list;
    default:
      g_assert_not_reached ();
    }
}

static gboolean
kind_is_string (Kind kind)
{
  return kind == KIND_STRING || kind == KIND_FP || kind == KIND_ADDR || kind == KIND_TOKEN ||
         kind == KIND_ENUM;
}

static gboolean
kind_is_list (Kind kind)
{
  return kind == KIND_STR_LIST || kind == KIND_ADDR_LIST || kind == KIND_FP_LIST ||
         kind == KIND_FEATURE_LIST;
}

static const MessageSpec *
spec_for_wire (const char *wire)
{
  for (gsize i = 0; i < G_N_ELEMENTS (specs); i++)
    if (g_str_equal (specs[i].wire, wire))
      return &specs[i];
  g_assert_not_reached ();
}

/* The inner message used by FederatedSignalForward, as JSON text. */
#define INNER_JSON \
  "{\"type\":\"DirectCallOffer\",\"call_id\":\"inner-call\",\"target_fingerprint\":\"" FP2 \
  "\",\"caller_local_addrs\":[\"10.1.2.3:5000\"],\"x_inner_future\":{\"k\":[1,2]}}"

/* A binding as the shape check sees it (the signature is not checked when decoding). */
#define BINDING_JSON \
  "{\"fingerprint\":\"" FP1 "\",\"relay_fingerprint\":\"" FP2 "\",\"time_ms\":1700000000123," \
  "\"public_key\":\"MFkwEwYHKoZIzj0CAQ==\",\"signature\":\"MEUCIQ+/\"}"
#define BINDING_LIST_JSON "[" BINDING_JSON "," BINDING_JSON "]"

static JsonNode *parse_json (const char *text,
                             gssize      len);

static WzpBinding *
sample_binding (void)
{
  g_autoptr(JsonNode) node = parse_json (BINDING_JSON, -1);
  g_autoptr(GError) error = NULL;
  WzpBinding *binding = _wzp_binding_from_json (node, &error);

  g_assert_no_error (error);
  return binding;
}

static GPtrArray *
sample_bindings (void)
{
  GPtrArray *bindings = g_ptr_array_new_with_free_func ((GDestroyNotify) _wzp_binding_free);

  g_ptr_array_add (bindings, sample_binding ());
  g_ptr_array_add (bindings, sample_binding ());
  return bindings;
}

static void
assert_sample_binding (const WzpBinding *binding)
{
  g_assert_nonnull (binding);
  g_assert_cmpstr (binding->fingerprint, ==, FP1);
  g_assert_cmpstr (binding->relay_fingerprint, ==, FP2);
  g_assert_cmpint (binding->time_ms, ==, INT_SAMPLE);
  g_assert_cmpstr (binding->public_key, ==, "MFkwEwYHKoZIzj0CAQ==");
  g_assert_cmpstr (binding->signature, ==, "MEUCIQ+/");
}

static JsonNode *
parse_json (const char *text,
            gssize      len)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (json_parser_get_root (parser));
  return json_node_copy (json_parser_get_root (parser));
}

static JsonNode *
bytes_to_json (GBytes *bytes)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  g_assert_nonnull (data);
  g_assert_cmpuint (len, >, 0);
  g_assert_true (g_utf8_validate (data, len, NULL));
  g_assert_null (memchr (data, '\0', len));
  return parse_json (data, len);
}

static WzpMessage *
inner_message (void)
{
  g_autoptr(GError) error = NULL;
  WzpMessage *inner = _wzp_message_decode (INNER_JSON, strlen (INNER_JSON), &error);

  g_assert_no_error (error);
  g_assert_nonnull (inner);
  return inner;
}

/* Sets every member (or only the required ones) with the typed setters. */
static void
fill_message (WzpMessage        *message,
              const MessageSpec *spec,
              gboolean           all)
{
  for (const MemberSpec *m = spec->members; m->name != NULL; m++)
    {
      if (!all && !m->required)
        continue;

      if (kind_is_string (m->kind))
        {
          g_autofree char *value = NULL;

          if (all)
            value = sample_string (m);
          else if (m->kind == KIND_ENUM)
            value = g_strdup (m->values[0]);
          else
            value = sample_string (m);
          _wzp_message_set_string (message, m->name, value);
        }
      else if (kind_is_list (m->kind))
        _wzp_message_set_strv (message, m->name, sample_list (m));
      else if (m->kind == KIND_BOOL)
        /* Required booleans get FALSE when minimal: FALSE must still be sent. */
        _wzp_message_set_bool (message, m->name, all);
      else if (m->kind == KIND_INT)
        _wzp_message_set_int (message, m->name, all ? INT_SAMPLE : 0);
      else if (m->kind == KIND_INNER)
        {
          g_autoptr(WzpMessage) inner = inner_message ();

          _wzp_message_set_inner (message, inner);
        }
      else if (m->kind == KIND_BINDING)
        {
          g_autoptr(WzpBinding) binding = sample_binding ();

          _wzp_message_set_binding (message, m->name, binding);
        }
      else if (m->kind == KIND_BINDING_LIST)
        {
          g_autoptr(GPtrArray) bindings = sample_bindings ();

          _wzp_message_set_bindings (message, m->name, bindings);
        }
    }
}

/* Checks the typed getters against what fill_message() set. */
static void
check_members (WzpMessage        *message,
               const MessageSpec *spec,
               gboolean           all)
{
  g_assert_cmpint (_wzp_message_get_message_type (message), ==, spec->type);

  for (const MemberSpec *m = spec->members; m->name != NULL; m++)
    {
      gboolean set = all || m->required;

      g_test_message ("checking %s.%s", spec->wire, m->name);

      if (kind_is_string (m->kind))
        {
          g_autofree char *expected = NULL;

          if (set)
            expected = (!all && m->kind == KIND_ENUM) ? g_strdup (m->values[0])
                                                      : sample_string (m);
          g_assert_cmpstr (_wzp_message_get_string (message, m->name), ==, expected);
        }
      else if (kind_is_list (m->kind))
        {
          g_auto(GStrv) values = _wzp_message_dup_strv (message, m->name);

          g_assert_nonnull (values);
          if (set)
            g_assert_cmpstrv (values, sample_list (m));
          else
            g_assert_cmpuint (g_strv_length (values), ==, 0);
        }
      else if (m->kind == KIND_BOOL)
        g_assert_cmpint (_wzp_message_get_bool (message, m->name), ==, all);
      else if (m->kind == KIND_INT)
        g_assert_cmpint (_wzp_message_get_int (message, m->name), ==, all ? INT_SAMPLE : 0);
      else if (m->kind == KIND_INNER)
        {
          WzpMessage *inner = _wzp_message_get_inner (message);

          g_assert_nonnull (inner);
          g_assert_cmpint (_wzp_message_get_message_type (inner), ==,
                           WZP_MESSAGE_DIRECT_CALL_OFFER);
          g_assert_cmpstr (_wzp_message_get_string (inner, "call_id"), ==, "inner-call");
          g_assert_cmpstr (_wzp_message_get_string (inner, "target_fingerprint"), ==, FP2);
        }
      else if (m->kind == KIND_BINDING)
        {
          g_autoptr(WzpBinding) binding = _wzp_message_dup_binding (message, m->name);

          if (set)
            assert_sample_binding (binding);
          else
            g_assert_null (binding);
        }
      else if (m->kind == KIND_BINDING_LIST)
        {
          g_autoptr(GPtrArray) bindings = _wzp_message_dup_bindings (message, m->name);

          g_assert_cmpuint (bindings->len, ==, set ? 2 : 0);
          for (guint i = 0; i < bindings->len; i++)
            assert_sample_binding (g_ptr_array_index (bindings, i));
        }

      /* Members that are set are present; unset optional ones are absent, and a required
       * boolean or integer is present even when FALSE or 0. */
      g_assert_cmpint (_wzp_message_has_member (message, m->name), ==, set);
    }
}

/* Checks the JSON text of an encoded message member by member. */
static void
check_json (JsonObject        *object,
            const MessageSpec *spec,
            gboolean           all)
{
  guint expected_members = 1;

  g_assert_true (json_object_has_member (object, "type"));
  g_assert_cmpstr (json_object_get_string_member (object, "type"), ==, spec->wire);

  for (const MemberSpec *m = spec->members; m->name != NULL; m++)
    {
      gboolean set = all || m->required;
      JsonNode *node = json_object_get_member (object, m->name);

      g_test_message ("checking JSON of %s.%s", spec->wire, m->name);
      if (!set)
        {
          /* Unset optional members and empty lists are omitted, not null. */
          g_assert_null (node);
          continue;
        }

      expected_members++;
      g_assert_nonnull (node);
      if (kind_is_string (m->kind))
        {
          g_autofree char *expected = (!all && m->kind == KIND_ENUM) ? g_strdup (m->values[0])
                                                                       : sample_string (m);
          g_assert_cmpint (JSON_NODE_TYPE (node), ==, JSON_NODE_VALUE);
          g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_STRING);
          g_assert_cmpstr (json_node_get_string (node), ==, expected);
        }
      else if (kind_is_list (m->kind))
        {
          JsonArray *array;
          const char **expected = sample_list (m);

          g_assert_cmpint (JSON_NODE_TYPE (node), ==, JSON_NODE_ARRAY);
          array = json_node_get_array (node);
          g_assert_cmpuint (json_array_get_length (array), ==, g_strv_length ((char **) expected));
          for (guint i = 0; expected[i] != NULL; i++)
            g_assert_cmpstr (json_array_get_string_element (array, i), ==, expected[i]);
        }
      else if (m->kind == KIND_BOOL)
        {
          g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_BOOLEAN);
          g_assert_cmpint (json_node_get_boolean (node), ==, all);
        }
      else if (m->kind == KIND_INT)
        {
          g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_INT64);
          g_assert_cmpint (json_node_get_int (node), ==, all ? INT_SAMPLE : 0);
        }
      else if (m->kind == KIND_INNER)
        {
          g_autoptr(JsonNode) expected = parse_json (INNER_JSON, -1);

          g_assert_cmpint (JSON_NODE_TYPE (node), ==, JSON_NODE_OBJECT);
          /* The inner object is carried untouched, unknown members included. */
          g_assert_true (json_node_equal (node, expected));
        }
      else if (m->kind == KIND_BINDING || m->kind == KIND_BINDING_LIST)
        {
          g_autoptr(JsonNode) expected =
            parse_json (m->kind == KIND_BINDING ? BINDING_JSON : BINDING_LIST_JSON, -1);

          g_assert_true (json_node_equal (node, expected));
        }
    }

  g_assert_cmpuint (json_object_get_size (object), ==, expected_members);
}

/* ---- round trips ----------------------------------------------------------------------- */

static void
round_trip (const MessageSpec *spec,
            gboolean           all)
{
  g_autoptr(WzpMessage) message = _wzp_message_new (spec->type);
  g_autoptr(WzpMessage) decoded = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) bytes2 = NULL;
  g_autoptr(JsonNode) json = NULL;
  g_autoptr(JsonNode) json2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *copy = NULL;
  gsize len;

  g_assert_nonnull (message);
  g_assert_cmpint (_wzp_message_get_message_type (message), ==, spec->type);
  fill_message (message, spec, all);
  check_members (message, spec, all);

  bytes = _wzp_message_encode (message);
  g_assert_nonnull (bytes);
  json = bytes_to_json (bytes);
  g_assert_cmpint (JSON_NODE_TYPE (json), ==, JSON_NODE_OBJECT);
  check_json (json_node_get_object (json), spec, all);

  /* Decode from an exact-size heap copy so any read past the end shows under ASan. */
  copy = g_memdup2 (g_bytes_get_data (bytes, &len), g_bytes_get_size (bytes));
  decoded = _wzp_message_decode (copy, len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (decoded);
  check_members (decoded, spec, all);
  g_assert_cmpstr (_wzp_message_type_to_string (_wzp_message_get_message_type (decoded)), ==,
                   spec->wire);

  /* Encoding the decoded message gives the same JSON object again. */
  bytes2 = _wzp_message_encode (decoded);
  json2 = bytes_to_json (bytes2);
  g_assert_true (json_node_equal (json, json2));
}

static void
test_round_trip_full (gconstpointer data)
{
  round_trip (data, TRUE);
}

static void
test_round_trip_minimal (gconstpointer data)
{
  round_trip (data, FALSE);
}

/* Every value of every enumerated member travels. */
static void
test_enum_values (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (specs); i++)
    for (const MemberSpec *m = specs[i].members; m->name != NULL; m++)
      {
        if (m->kind != KIND_ENUM)
          continue;

        for (const char **v = m->values; *v != NULL; v++)
          {
            g_autoptr(WzpMessage) message = _wzp_message_new (specs[i].type);
            g_autoptr(WzpMessage) decoded = NULL;
            g_autoptr(GBytes) bytes = NULL;
            g_autoptr(GError) error = NULL;

            g_test_message ("%s.%s = %s", specs[i].wire, m->name, *v);
            fill_message (message, &specs[i], FALSE);
            _wzp_message_set_string (message, m->name, *v);
            bytes = _wzp_message_encode (message);
            decoded = _wzp_message_decode (g_bytes_get_data (bytes, NULL),
                                           g_bytes_get_size (bytes), &error);
            g_assert_no_error (error);
            g_assert_cmpstr (_wzp_message_get_string (decoded, m->name), ==, *v);
          }
      }
}

static void
test_type_names (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (specs); i++)
    {
      g_autoptr(WzpMessage) message = _wzp_message_new (specs[i].type);
      g_autoptr(GBytes) bytes = _wzp_message_encode (message);
      g_autoptr(JsonNode) json = bytes_to_json (bytes);

      g_assert_cmpstr (_wzp_message_type_to_string (specs[i].type), ==, specs[i].wire);
      g_assert_cmpstr (json_object_get_string_member (json_node_get_object (json), "type"), ==,
                       specs[i].wire);
    }
}

static void
test_wire_enums (void)
{
  static const struct { WzpNatType value; const char *wire; } nat[] = {
    { WZP_NAT_TYPE_NONE, "None" }, { WZP_NAT_TYPE_CONE, "Cone" },
    { WZP_NAT_TYPE_SYMMETRIC, "Symmetric" }, { WZP_NAT_TYPE_MULTIPLE, "Multiple" },
    { WZP_NAT_TYPE_UNKNOWN, "Unknown" },
  };
  static const struct { WzpAcceptMode value; const char *wire; } accept[] = {
    { WZP_ACCEPT_MODE_REJECT, "Reject" }, { WZP_ACCEPT_MODE_TRUSTED, "AcceptTrusted" },
    { WZP_ACCEPT_MODE_PRIVACY, "AcceptGeneric" },
  };
  static const struct { WzpHangupReason value; const char *wire; } reason[] = {
    { WZP_HANGUP_REASON_NORMAL, "Normal" }, { WZP_HANGUP_REASON_BUSY, "Busy" },
    { WZP_HANGUP_REASON_DECLINED, "Declined" }, { WZP_HANGUP_REASON_TIMEOUT, "Timeout" },
    { WZP_HANGUP_REASON_UNREACHABLE, "Unreachable" }, { WZP_HANGUP_REASON_ERROR, "Error" },
  };
  static const char *bad[] = { "", "cone", "CONE", "None ", "Open", "accepttrusted",
                               "Accept", "normal", "0", "Reject\n" };

  for (gsize i = 0; i < G_N_ELEMENTS (nat); i++)
    {
      WzpNatType out = (WzpNatType) -1;

      g_assert_cmpstr (_wzp_nat_type_to_wire (nat[i].value), ==, nat[i].wire);
      g_assert_true (_wzp_nat_type_from_wire (nat[i].wire, &out));
      g_assert_cmpint (out, ==, nat[i].value);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (accept); i++)
    {
      WzpAcceptMode out = (WzpAcceptMode) -1;

      g_assert_cmpstr (_wzp_accept_mode_to_wire (accept[i].value), ==, accept[i].wire);
      g_assert_true (_wzp_accept_mode_from_wire (accept[i].wire, &out));
      g_assert_cmpint (out, ==, accept[i].value);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (reason); i++)
    {
      WzpHangupReason out = (WzpHangupReason) -1;

      g_assert_cmpstr (_wzp_hangup_reason_to_wire (reason[i].value), ==, reason[i].wire);
      g_assert_true (_wzp_hangup_reason_from_wire (reason[i].wire, &out));
      g_assert_cmpint (out, ==, reason[i].value);
    }
  g_assert_cmpstr (_wzp_call_role_to_wire (WZP_CALL_ROLE_CALLER), ==, "caller");
  g_assert_cmpstr (_wzp_call_role_to_wire (WZP_CALL_ROLE_CALLEE), ==, "callee");

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      WzpNatType nat_out;
      WzpAcceptMode accept_out;
      WzpHangupReason reason_out;

      g_autofree char *shown = g_strescape (bad[i], NULL);

      g_test_message ("bad enumeration text \"%s\"", shown);
      g_assert_false (_wzp_nat_type_from_wire (bad[i], &nat_out));
      g_assert_false (_wzp_accept_mode_from_wire (bad[i], &accept_out));
      g_assert_false (_wzp_hangup_reason_from_wire (bad[i], &reason_out));
    }
}

/* ---- forward compatibility ------------------------------------------------------------- */

static void
test_unknown_members_preserved (void)
{
  static const char *inputs[] = {
    "{\"type\":\"Ping\",\"timestamp_ms\":5,\"x_future\":{\"nested\":[1,2.5,{\"z\":null}],"
    "\"b\":true},\"x_str\":\"é\",\"x_null\":null,\"x_list\":[\"a\",7]}",
    "{\"x_first\":1,\"type\":\"CallSetup\",\"call_id\":\"c\",\"role\":\"callee\","
    "\"peer_fingerprint\":\"" FP1 "\",\"relay_pipe\":true,\"x_last\":[[]]}",
    "{\"type\":\"FederatedSignalForward\",\"origin_relay_fingerprint\":\"" FP1 "\","
    "\"inner\":" INNER_JSON ",\"x_outer\":\"kept\"}",
    "{\"type\":\"Reflect\",\"observed_addr\":\"1.2.3.4:5\",\"x\":{}}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(WzpMessage) message = NULL;
      g_autoptr(WzpMessage) copy = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GBytes) copy_bytes = NULL;
      g_autoptr(JsonNode) expected = parse_json (inputs[i], -1);
      g_autoptr(JsonNode) encoded = NULL;
      g_autoptr(JsonNode) copy_encoded = NULL;

      g_test_message ("input: %s", inputs[i]);
      message = _wzp_message_decode (inputs[i], strlen (inputs[i]), &error);
      g_assert_no_error (error);
      g_assert_nonnull (message);

      /* The whole object survives decode → encode, unknown members included. */
      bytes = _wzp_message_encode (message);
      encoded = bytes_to_json (bytes);
      g_assert_true (json_node_equal (encoded, expected));

      /* And a copy carries them too. */
      copy = _wzp_message_copy (message);
      copy_bytes = _wzp_message_encode (copy);
      copy_encoded = bytes_to_json (copy_bytes);
      g_assert_true (json_node_equal (copy_encoded, expected));

      /* The object is reachable. */
      g_assert_true (json_object_has_member (_wzp_message_get_object (message), "type"));
    }
}

/* The inner message of a forward keeps its own unknown members, through the outer message
 * being built with the setter too. */
static void
test_inner_preserved (void)
{
  g_autoptr(WzpMessage) inner = inner_message ();
  g_autoptr(WzpMessage) outer = _wzp_message_new (WZP_MESSAGE_FEDERATED_SIGNAL_FORWARD);
  g_autoptr(WzpMessage) decoded = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonNode) json = NULL;
  g_autoptr(JsonNode) expected = parse_json (INNER_JSON, -1);
  g_autoptr(GError) error = NULL;
  JsonObject *inner_object;

  _wzp_message_set_inner (outer, inner);
  _wzp_message_set_string (outer, "origin_relay_fingerprint", FP2);
  bytes = _wzp_message_encode (outer);
  json = bytes_to_json (bytes);
  g_assert_true (json_node_equal (json_object_get_member (json_node_get_object (json), "inner"),
                                  expected));

  decoded = _wzp_message_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                 &error);
  g_assert_no_error (error);
  inner_object = _wzp_message_get_object (_wzp_message_get_inner (decoded));
  g_assert_true (json_object_has_member (inner_object, "x_inner_future"));

  /* A forward of a forward is still a valid message. */
  {
    g_autoptr(WzpMessage) outer2 = _wzp_message_new (WZP_MESSAGE_FEDERATED_SIGNAL_FORWARD);
    g_autoptr(GBytes) bytes2 = NULL;
    g_autoptr(WzpMessage) decoded2 = NULL;

    _wzp_message_set_inner (outer2, decoded);
    _wzp_message_set_string (outer2, "origin_relay_fingerprint", FP1);
    bytes2 = _wzp_message_encode (outer2);
    decoded2 = _wzp_message_decode (g_bytes_get_data (bytes2, NULL), g_bytes_get_size (bytes2),
                                    &error);
    g_assert_no_error (error);
    g_assert_cmpint (_wzp_message_get_message_type (_wzp_message_get_inner (decoded2)), ==,
                     WZP_MESSAGE_FEDERATED_SIGNAL_FORWARD);
  }
}

/* Escaped characters, including a surrogate pair, decode to the right UTF-8. */
static void
test_escapes (void)
{
  const char *text = "{\"type\":\"RegisterPresence\",\"client_version\":"
                     "\"\\ud83d\\ude00 \\u00e9\\t\\\"\\\\\\/\\u260e\"}";
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) message = _wzp_message_decode (text, strlen (text), &error);

  /* The low half of a pair is not the start of another pair. */
  const char *pair_then_escape = "{\"type\":\"RegisterPresence\",\"client_version\":"
                                 "\"\\ud83d\\ude00\\u0041\"}";
  g_autoptr(WzpMessage) message2 = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (_wzp_message_get_string (message, "client_version"), ==,
                   "\xf0\x9f\x98\x80 \xc3\xa9\t\"\\/\xe2\x98\x8e");

  message2 = _wzp_message_decode (pair_then_escape, strlen (pair_then_escape), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (_wzp_message_get_string (message2, "client_version"), ==,
                   "\xf0\x9f\x98\x80" "A");
}

/* Absent lists read as empty; null optional members count as absent. */
static void
test_absent_and_null (void)
{
  static const struct { const char *json; const char *member; } cases[] = {
    { "{\"type\":\"RegisterPresence\",\"client_version\":\"1\",\"alias\":null}", "alias" },
    { "{\"type\":\"Error\",\"code\":\"c\",\"message\":\"m\",\"call_id\":null}", "call_id" },
    { "{\"type\":\"DirectCallOffer\",\"call_id\":\"c\",\"target_fingerprint\":\"" FP1 "\","
      "\"caller_nat_type\":null,\"caller_reflexive_addr\":null,\"caller_fingerprint\":null}",
      "caller_nat_type" },
    { "{\"type\":\"CallSetup\",\"call_id\":\"c\",\"role\":\"caller\",\"peer_fingerprint\":\""
      FP1 "\",\"relay_pipe\":null,\"pipe_token\":null,\"pipe_addr\":null}", "pipe_token" },
    { "{\"type\":\"PresenceUpdate\",\"snapshot\":null,\"more\":null}", "more" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (specs); i++)
    {
      const MessageSpec *spec = &specs[i];
      g_autoptr(WzpMessage) message = _wzp_message_new (spec->type);
      g_autoptr(WzpMessage) decoded = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GError) error = NULL;

      fill_message (message, spec, FALSE);
      bytes = _wzp_message_encode (message);
      decoded = _wzp_message_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                     &error);
      g_assert_no_error (error);
      for (const MemberSpec *m = spec->members; m->name != NULL; m++)
        {
          if (m->required)
            continue;
          if (kind_is_list (m->kind))
            {
              g_auto(GStrv) values = _wzp_message_dup_strv (decoded, m->name);

              g_assert_nonnull (values);
              g_assert_null (values[0]);
            }
          else if (kind_is_string (m->kind))
            g_assert_null (_wzp_message_get_string (decoded, m->name));
          else if (m->kind == KIND_BOOL)
            g_assert_false (_wzp_message_get_bool (decoded, m->name));
        }
    }

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(WzpMessage) message = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("input: %s", cases[i].json);
      message = _wzp_message_decode (cases[i].json, strlen (cases[i].json), &error);
      g_assert_no_error (error);
      g_assert_nonnull (message);
      g_assert_null (_wzp_message_get_string (message, cases[i].member));
    }

  /* Getters on members a message never has. */
  {
    g_autoptr(WzpMessage) ping = _wzp_message_new (WZP_MESSAGE_PING);
    g_auto(GStrv) none = _wzp_message_dup_strv (ping, "no_such_list");

    g_assert_null (_wzp_message_get_string (ping, "no_such_member"));
    g_assert_false (_wzp_message_get_bool (ping, "no_such_member"));
    g_assert_cmpint (_wzp_message_get_int (ping, "no_such_member"), ==, 0);
    g_assert_false (_wzp_message_has_member (ping, "no_such_member"));
    g_assert_null (_wzp_message_get_inner (ping));
    g_assert_nonnull (none);
    g_assert_null (none[0]);
  }
}

/* Setters with NULL strings or empty lists remove the member, so it is not sent. */
static void
test_setters_remove (void)
{
  static const char *empty[] = { NULL };
  g_autoptr(WzpMessage) message = _wzp_message_new (WZP_MESSAGE_DIRECT_CALL_OFFER);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonNode) json = NULL;
  JsonObject *object;

  _wzp_message_set_string (message, "call_id", "c1");
  _wzp_message_set_string (message, "target_fingerprint", FP1);
  _wzp_message_set_string (message, "caller_alias", "Alice");
  _wzp_message_set_string (message, "caller_alias", NULL);
  _wzp_message_set_strv (message, "caller_local_addrs", sample_addr_list);
  _wzp_message_set_strv (message, "caller_local_addrs", empty);
  _wzp_message_set_string (message, "caller_nat_type", "Cone");
  _wzp_message_remove_member (message, "caller_nat_type");
  _wzp_message_set_string (message, "caller_reflexive_addr", "1.2.3.4:5");
  _wzp_message_set_string (message, "caller_reflexive_addr", "5.6.7.8:9");
  g_assert_false (_wzp_message_has_member (message, "caller_alias"));
  g_assert_false (_wzp_message_has_member (message, "caller_local_addrs"));
  g_assert_false (_wzp_message_has_member (message, "caller_nat_type"));

  bytes = _wzp_message_encode (message);
  json = bytes_to_json (bytes);
  object = json_node_get_object (json);
  g_assert_false (json_object_has_member (object, "caller_alias"));
  g_assert_false (json_object_has_member (object, "caller_local_addrs"));
  g_assert_false (json_object_has_member (object, "caller_nat_type"));
  g_assert_cmpstr (json_object_get_string_member (object, "caller_reflexive_addr"), ==,
                   "5.6.7.8:9");
  g_assert_cmpuint (json_object_get_size (object), ==, 4);

  /* An empty list set by hand on the wire still reads as empty. */
  {
    const char *text = "{\"type\":\"PresenceUpdate\",\"added\":[],\"removed\":[]}";
    g_autoptr(GError) error = NULL;
    g_autoptr(WzpMessage) decoded = _wzp_message_decode (text, strlen (text), &error);
    g_auto(GStrv) added = NULL;

    g_assert_no_error (error);
    added = _wzp_message_dup_strv (decoded, "added");
    g_assert_nonnull (added);
    g_assert_null (added[0]);
  }
}

static void
test_copy_and_ref (void)
{
  g_autoptr(WzpMessage) message = _wzp_message_new (WZP_MESSAGE_CALL_SETUP);
  g_autoptr(WzpMessage) copy = NULL;
  WzpMessage *ref;

  fill_message (message, spec_for_wire ("CallSetup"), TRUE);
  copy = _wzp_message_copy (message);
  g_assert_true (copy != message);
  check_members (copy, spec_for_wire ("CallSetup"), TRUE);

  /* A copy is deep: changing it leaves the original alone. */
  _wzp_message_set_string (copy, "call_id", "changed");
  _wzp_message_set_strv (copy, "peer_local_addrs", (const char *[]) { "1.1.1.1:1", NULL });
  g_assert_cmpstr (_wzp_message_get_string (copy, "call_id"), ==, "changed");
  check_members (message, spec_for_wire ("CallSetup"), TRUE);

  ref = _wzp_message_ref (message);
  g_assert_true (ref == message);
  _wzp_message_unref (ref);
  g_assert_cmpint (_wzp_message_get_message_type (message), ==, WZP_MESSAGE_CALL_SETUP);
}

static void
test_convenience (void)
{
  static const WzpMessageType for_call[] = {
    WZP_MESSAGE_CALL_RINGING, WZP_MESSAGE_PIPE_READY, WZP_MESSAGE_PIPE_REQUESTED,
    WZP_MESSAGE_PEER_SIGNALLING_LOST,
  };

  {
    g_autoptr(WzpMessage) error = _wzp_message_new_error (WZP_ERROR_CODE_UNKNOWN_CALL,
                                                          "No such call", "call-7");
    g_autoptr(WzpMessage) error2 = _wzp_message_new_error (WZP_ERROR_CODE_FRAME_TOO_LARGE,
                                                           "Too large", NULL);
    g_autoptr(GBytes) bytes = _wzp_message_encode (error2);
    g_autoptr(JsonNode) json = bytes_to_json (bytes);

    g_assert_cmpint (_wzp_message_get_message_type (error), ==, WZP_MESSAGE_ERROR);
    g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, "unknown_call");
    g_assert_cmpstr (_wzp_message_get_string (error, "message"), ==, "No such call");
    g_assert_cmpstr (_wzp_message_get_string (error, "call_id"), ==, "call-7");
    g_assert_false (_wzp_message_has_member (error2, "call_id"));
    g_assert_false (json_object_has_member (json_node_get_object (json), "call_id"));
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (json), "code"), ==,
                     "frame_too_large");
  }

  for (gsize i = 0; i < G_N_ELEMENTS (for_call); i++)
    {
      g_autoptr(WzpMessage) message = _wzp_message_new_for_call (for_call[i], "call-8");
      g_autoptr(WzpMessage) decoded = NULL;
      g_autoptr(GBytes) bytes = _wzp_message_encode (message);
      g_autoptr(GError) error = NULL;

      g_assert_cmpint (_wzp_message_get_message_type (message), ==, for_call[i]);
      g_assert_cmpstr (_wzp_message_get_string (message, "call_id"), ==, "call-8");
      decoded = _wzp_message_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                     &error);
      g_assert_no_error (error);
      g_assert_cmpint (_wzp_message_get_message_type (decoded), ==, for_call[i]);
    }
}

static void
test_new_from_object (void)
{
  g_autoptr(JsonNode) good = parse_json (INNER_JSON, -1);
  g_autoptr(JsonNode) bad = parse_json ("{\"type\":\"DirectCallOffer\",\"call_id\":\"x\"}", -1);
  g_autoptr(WzpMessage) message = NULL;
  g_autoptr(WzpMessage) none = NULL;
  g_autoptr(GError) error = NULL;

  message = _wzp_message_new_from_object (json_node_get_object (good), &error);
  g_assert_no_error (error);
  g_assert_nonnull (message);
  g_assert_cmpstr (_wzp_message_get_string (message, "call_id"), ==, "inner-call");

  none = _wzp_message_new_from_object (json_node_get_object (bad), &error);
  g_assert_null (none);
  g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_MISSING_MEMBER);
  g_assert_nonnull (strstr (error->message, "target_fingerprint"));
}

/* ---- addresses ------------------------------------------------------------------------- */

/* Address members refuse these (the parser itself: test-address.c). */
static const char *bad_addresses[] = {
  "192.168.88.21",            /* no port */
  "192.168.88.21:0",          /* port 0 */
  "192.168.88.21:70000",      /* port out of range */
  "192.168.88.21:65536",
  "192.168.88.21:-1",
  "192.168.88.21:",
  "192.168.88.21:port",
  "192.168.88.21:80x",
  "192.168.88.21:+80",
  "192.168.88.21: 80",
  "192.168.88.21:80:90",
  "192.168.88.21:4294967297", /* wraps to 1 as a 32-bit number */
  "relay.example.org:4433",   /* a host name, not an IP literal */
  "localhost:80",
  "[::1]",                    /* IPv6 without a port */
  "[::1]:",
  "[::1]:0",
  "[::1]:99999",
  "[2001:db8:1::21:40001",    /* unbalanced bracket */
  "2001:db8:1::21]:40001",
  "2001:db8::1:40001",        /* IPv6 without brackets */
  "[relay.example.org]:4433",
  "[]:80",
  "[fe80::1%eth0]:80",        /* zone ids are not allowed */
  "[fe80::1%2]:80",
  ":40001",
  "256.1.1.1:80",
  "1.2.3:80",
  "garbage",
  "",
  " ",
  ":",
  "[",
  "]:",
};

/* ---- bad input ------------------------------------------------------------------------- */

static const char *
code_name (int code)
{
  static const char *names[] = { "TRUNCATED", "FRAME_TOO_LARGE", "INVALID_UTF8", "INVALID_JSON",
                                 "UNKNOWN_TYPE", "MISSING_MEMBER", "WRONG_TYPE", "INVALID_VALUE",
                                 "UNEXPECTED", "REMOTE" };

  if (code >= 0 && code < (int) G_N_ELEMENTS (names))
    return names[code];
  return "(out of range)";
}

/* Decodes @data from an exact-size heap copy and records in @failures anything that is not
 * the expected error: a success, another domain or code, or a message that does not contain
 * each of @needles. @alt_code (or -1) is a second accepted code. */
static void
expect_error_full (GString     *failures,
                   const char  *data,
                   gssize       len,
                   int          code,
                   int          alt_code,
                   const char **needles)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) message = NULL;
  g_autofree char *copy = NULL;
  g_autofree char *printable = NULL;

  if (len < 0)
    len = strlen (data);
  copy = g_malloc (len + 1);
  memcpy (copy, data, len);
  copy[len] = 'X'; /* not NUL: the decoder must use @len */
  printable = g_strescape (data, NULL);

  message = _wzp_message_decode (copy, len, &error);
  if (message != NULL)
    {
      g_string_append_printf (failures, "\n  accepted: %s (expected %s)", printable,
                              code_name (code));
      return;
    }
  if (error == NULL)
    {
      g_string_append_printf (failures, "\n  NULL without a GError: %s", printable);
      return;
    }
  if (error->domain != WZP_PROTOCOL_ERROR || (error->code != code && error->code != alt_code))
    {
      g_string_append_printf (failures, "\n  %s: expected %s, got %s %s (%d): %s", printable,
                              code_name (code), g_quark_to_string (error->domain),
                              error->domain == WZP_PROTOCOL_ERROR ? code_name (error->code)
                                                                  : "",
                              error->code, error->message);
      return;
    }
  if (!g_utf8_validate (error->message, -1, NULL))
    g_string_append_printf (failures, "\n  %s: error message is not UTF-8", printable);
  for (; needles != NULL && *needles != NULL; needles++)
    if (strstr (error->message, *needles) == NULL)
      g_string_append_printf (failures, "\n  %s: message \"%s\" does not mention \"%s\"",
                              printable, error->message, *needles);
}

static void
expect_error (GString    *failures,
              const char *data,
              gssize      len,
              int         code,
              const char *needle)
{
  const char *needles[] = { needle, NULL };

  expect_error_full (failures, data, len, code, -1, needles);
}

static void
assert_no_failures (GString *failures)
{
  if (failures->len > 0)
    g_test_message ("failures:%s", failures->str);
  g_assert_cmpstr (failures->str, ==, "");
}

static void
test_bad_envelope (void)
{
  g_autoptr(GString) failures = g_string_new (NULL);
  static const char *invalid_json[] = {
    "", " ", "\n\t", "{", "}", "{\"type\":\"Ping\",}", "{\"type\":\"Ping\" \"timestamp_ms\":1}",
    "{\"type\":\"Reflect\"} x", "{\"type\":\"Ping\",\"timestamp_ms\":}",
    "{\"type\":\"Ping\",\"timestamp_ms\":1", "{\"type\":\"Pi", "{\"type\":\"Reflect\",\"x\":NaN}",
    "{\"type\":\"Reflect\",\"x\":[1,2}", "{type:\"Reflect\"}", "\xef\xbb\xbf",
    /* json-glib accepts these, but they are not JSON (RFC 8259): */
    "{'type':'Reflect'}",                         /* single-quoted strings */
    "{\"type\":\"Reflect\",\"x\":'y'}",
    "{\"type\":\"Reflect\"}{\"type\":\"Ping\"}",    /* a second value after the object */
    "{\"type\":\"Reflect\"}]",
    "{\"type\":\"Reflect\",\"x\":\"\\uzzzz\"}",  /* not four hex digits */
    "{\"type\":\"Reflect\",\"x\":\"\\u12\"}",
    /* malformed surrogate pairs (json-glib 1.6 leaks on these: the decoder must refuse them
     * before json-glib sees them; the valgrind setup checks that nothing leaks) */
    "{\"type\":\"Reflect\",\"x\":\"\\ud800\\u0041\"}",
    "{\"type\":\"Reflect\",\"x\":\"\\udc00\\udc00\"}",
    "{\"type\":\"Reflect\",\"x\":\"\\ud800\\u00\"}",
    "{\"type\":\"Reflect\",\"x\":\"\\ud800\\uzzzz\"}",
  };
  static const char *not_object[] = {
    "[]", "[{\"type\":\"Reflect\"}]", "42", "-1.5", "\"Reflect\"", "null", "true", "false",
  };
  static const struct { const char *data; gssize len; } bad_utf8[] = {
    { "{\"type\":\"Reflect\",\"x\":\"\xff\"}", -1 },
    { "{\"type\":\"Reflect\",\"x\":\"\xc0\xaf\"}", -1 },          /* overlong '/' */
    { "{\"type\":\"Reflect\",\"x\":\"\xed\xa0\x80\"}", -1 },      /* UTF-16 surrogate */
    { "{\"type\":\"Reflect\",\"x\":\"\xf4\x90\x80\x80\"}", -1 },  /* above U+10FFFF */
    { "{\"type\":\"Reflect\",\"x\":\"\xe2\x98\"}", -1 },          /* cut sequence */
    { "{\"type\":\"Reflect\"}\xe2", -1 },                         /* cut at the end */
    { "{\"type\":\"Ping\",\"timestamp_ms\":1,\"\xfe\":1}", -1 },    /* in a member name */
    { "\xff\xfe{\x00\"\x00t\x00", 8 },                            /* UTF-16 */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (invalid_json); i++)
    expect_error (failures, invalid_json[i], -1, WZP_PROTOCOL_ERROR_INVALID_JSON, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (not_object); i++)
    expect_error (failures, not_object[i], -1, WZP_PROTOCOL_ERROR_INVALID_JSON, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_utf8); i++)
    expect_error (failures, bad_utf8[i].data, bad_utf8[i].len, WZP_PROTOCOL_ERROR_INVALID_UTF8,
                  NULL);

  /* JSON escapes that do not make a character: json-glib 1.6 turns a lone surrogate into
   * bytes that are not UTF-8, so they must be refused like raw bad UTF-8. */
  {
    static const char *lone_surrogates[] = {
      "{\"type\":\"RegisterPresence\",\"client_version\":\"a\\udc00b\"}",
      "{\"type\":\"RegisterPresence\",\"client_version\":\"N\\ud800ominate\"}",
      "{\"type\":\"RegisterPresence\",\"client_version\":\"1\",\"x\":\"a\\ud800b\"}",
      "{\"type\":\"RegisterPresence\",\"client_version\":\"1\",\"x\\udfffy\":1}",
      "{\"type\":\"RegisterPresence\",\"client_version\":\"1\",\"x\":[\"\\ude00\\ud83d!\"]}",
      "{\"type\":\"Error\",\"code\":\"c\",\"message\":\"\\ud800\\ud800.\"}",
      "{\"t{\\ud800\"\"",  /* json-glib's own error text would not be UTF-8 here */
    };

    for (gsize i = 0; i < G_N_ELEMENTS (lone_surrogates); i++)
      expect_error_full (failures, lone_surrogates[i], -1, WZP_PROTOCOL_ERROR_INVALID_UTF8,
                         WZP_PROTOCOL_ERROR_INVALID_JSON, NULL);
  }

  /* json-glib takes the character after a lone surrogate escape as part of it, a closing
   * quote too, so it would read the malformed pair after this one inside a string (where
   * it leaks) while a scan by JSON's rules sees it outside: lone surrogates are refused
   * before json-glib sees them (found by fuzz-preamble). */
  expect_error (failures, "{\"x\":\"\\udc00\"\\udbff\\udbff\"}", -1,
                WZP_PROTOCOL_ERROR_INVALID_UTF8, "lone surrogate");
  expect_error (failures, "{\"type\":\"Reflect\",\"x\":\"\\ud800\"}", -1,
                WZP_PROTOCOL_ERROR_INVALID_UTF8, "lone surrogate");

  /* A value, then an object or array: json-glib 1.6 returns the first value and leaks the
   * second, so the decoder refuses them as two values before json-glib sees them (found by
   * fuzz-frame). A second scalar is refused the same way. */
  {
    static const char *two_values[] = {
      "8{\"type\":\"Ping\",\"timestamp_ms\":1}", "8[1]", " -1.5e3 {}", "\"Ping\"{}",
      "\"a\\\"{\"[]", "true{}", "false []", "null\n{\"type\":\"Reflect\"}", "8 9",
      "\"a\" \"b\"",
    };

    for (gsize i = 0; i < G_N_ELEMENTS (two_values); i++)
      expect_error (failures, two_values[i], -1, WZP_PROTOCOL_ERROR_INVALID_JSON,
                    "more than one value");
    /* A word that is not a literal is json-glib's to name. */
    expect_error (failures, "nullx{}", -1, WZP_PROTOCOL_ERROR_INVALID_JSON, "nullx");
  }

  /* A character no value starts with, before or inside one: json-glib 1.6 reads
   * "$c{...}" as the object and leaks it (found by fuzz-message). */
  {
    static const char *junk[] = {
      "$c{\"type\":\"Ping\",\"timestamp_ms\":1,\"x\":{\"a\":[1]}}", "${}", "#[1]",
      "{\"type\":\"Ping\",\"timestamp_ms\":1,\"x\":@}", "[\x01]",
    };

    for (gsize i = 0; i < G_N_ELEMENTS (junk); i++)
      expect_error (failures, junk[i], -1, WZP_PROTOCOL_ERROR_INVALID_JSON,
                    "not part of a value");
  }

  /* A NUL byte inside the payload is not accepted (either as bad UTF-8 or bad JSON). */
  expect_error_full (failures, "{\"type\":\"Reflect\"}\0", 19, WZP_PROTOCOL_ERROR_INVALID_UTF8,
                     WZP_PROTOCOL_ERROR_INVALID_JSON, NULL);
  expect_error_full (failures, "{\"type\":\"Ref\0lect\"}", 19, WZP_PROTOCOL_ERROR_INVALID_UTF8,
                     WZP_PROTOCOL_ERROR_INVALID_JSON, NULL);

  /* The type member. */
  expect_error (failures, "{}", -1, WZP_PROTOCOL_ERROR_MISSING_MEMBER, "type");
  expect_error (failures, "{\"timestamp_ms\":1}", -1, WZP_PROTOCOL_ERROR_MISSING_MEMBER, "type");
  expect_error (failures, "{\"Type\":\"Ping\",\"timestamp_ms\":1}", -1,
                WZP_PROTOCOL_ERROR_MISSING_MEMBER, "type");
  expect_error (failures, "{\"type\":5}", -1, WZP_PROTOCOL_ERROR_WRONG_TYPE, "type");
  expect_error (failures, "{\"type\":true}", -1, WZP_PROTOCOL_ERROR_WRONG_TYPE, "type");
  expect_error (failures, "{\"type\":[\"Ping\"]}", -1, WZP_PROTOCOL_ERROR_WRONG_TYPE, "type");
  expect_error (failures, "{\"type\":{\"name\":\"Ping\"}}", -1, WZP_PROTOCOL_ERROR_WRONG_TYPE,
                "type");
  expect_error_full (failures, "{\"type\":null}", -1, WZP_PROTOCOL_ERROR_MISSING_MEMBER,
                     WZP_PROTOCOL_ERROR_WRONG_TYPE, (const char *[]) { "type", NULL });

  /* Unknown types name the type. */
  expect_error (failures, "{\"type\":\"Teleport\"}", -1, WZP_PROTOCOL_ERROR_UNKNOWN_TYPE,
                "Teleport");
  expect_error (failures, "{\"type\":\"ping\",\"timestamp_ms\":1}", -1,
                WZP_PROTOCOL_ERROR_UNKNOWN_TYPE, "ping");
  expect_error (failures, "{\"type\":\"\"}", -1, WZP_PROTOCOL_ERROR_UNKNOWN_TYPE, NULL);
  expect_error (failures, "{\"type\":\"Ping \",\"timestamp_ms\":1}", -1,
                WZP_PROTOCOL_ERROR_UNKNOWN_TYPE, NULL);

  assert_no_failures (failures);
}

/* The complete, valid JSON object of a message with every member, built without the
 * encoder under test. */
static JsonObject *
valid_object (const MessageSpec *spec)
{
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "type", spec->wire);
  for (const MemberSpec *m = spec->members; m->name != NULL; m++)
    {
      if (kind_is_string (m->kind))
        {
          g_autofree char *value = sample_string (m);

          json_object_set_string_member (object, m->name, value);
        }
      else if (kind_is_list (m->kind))
        {
          JsonArray *array = json_array_new ();

          for (const char **v = sample_list (m); *v != NULL; v++)
            json_array_add_string_element (array, *v);
          json_object_set_array_member (object, m->name, array);
        }
      else if (m->kind == KIND_BOOL)
        json_object_set_boolean_member (object, m->name, TRUE);
      else if (m->kind == KIND_INT)
        json_object_set_int_member (object, m->name, INT_SAMPLE);
      else if (m->kind == KIND_INNER)
        {
          JsonNode *inner = parse_json (INNER_JSON, -1);

          json_object_set_member (object, m->name, inner);
        }
      else if (m->kind == KIND_BINDING || m->kind == KIND_BINDING_LIST)
        json_object_set_member (object, m->name,
                                parse_json (m->kind == KIND_BINDING ? BINDING_JSON
                                                                    : BINDING_LIST_JSON, -1));
    }
  return object;
}

static char *
object_to_string (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return json_to_string (node, FALSE);
}

/* Replaces one member of a valid message by @value (parsed JSON text; NULL removes it), and
 * expects @code with a message naming the member and the message type. */
static void
expect_member_error (GString           *failures,
                     const MessageSpec *spec,
                     const char        *member,
                     const char        *value,
                     int                code,
                     int                alt_code,
                     const char        *needle)
{
  g_autoptr(JsonObject) object = valid_object (spec);
  g_autofree char *text = NULL;
  const char *needles[] = { needle ? needle : member, spec->wire, NULL };

  if (value == NULL)
    json_object_remove_member (object, member);
  else
    json_object_set_member (object, member, parse_json (value, -1));
  text = object_to_string (object);
  expect_error_full (failures, text, -1, code, alt_code, needles);
}

static void
test_bad_members (void)
{
  g_autoptr(GString) failures = g_string_new (NULL);
  static const char *not_strings[] = { "42", "true", "[]", "[\"x\"]", "{}", "1.5" };
  static const char *not_bools[] = { "\"true\"", "1", "0", "[]", "{}" };
  static const char *not_ints[] = { "\"5\"", "1.5", "true", "[]", "{}", "1e3" };
  static const char *not_lists[] = { "\"192.168.88.21:40001\"", "42", "true", "{}" };
  /* Lists with an element of the wrong type; the ones marked TRUE start with a valid
   * element, so only the wrong type can be the problem. */
  static const struct { gboolean after_valid; const char *json; } bad_list_elements[] = {
    { FALSE, "[1]" }, { TRUE, "2" }, { FALSE, "[[]]" }, { FALSE, "[null]" }, { TRUE, "{}" },
    { FALSE, "[true]" }, { TRUE, "false" },
  };
  static const char *bad_fingerprints[] = {
    "0123:4567:89AB:CDEF:0123:4567:89ab:cdef",        /* upper case */
    "0123:4567:89ab:cdef:0123:4567:89ab",             /* 7 groups */
    "0123:4567:89ab:cdef:0123:4567:89ab:cdef:0123",   /* 9 groups */
    "0123:4567:89ab:cdef:0123:4567:89ab:cdef:",       /* trailing separator */
    ":0123:4567:89ab:cdef:0123:4567:89ab:cdef",
    "012:4567:89ab:cdef:0123:4567:89ab:cdef0",        /* groups of the wrong size */
    "01234:567:89ab:cdef:0123:4567:89ab:cdef",
    "0123:4567:89ab:cdeg:0123:4567:89ab:cdef",        /* not hex */
    "0123-4567-89ab-cdef-0123-4567-89ab-cdef",
    "0123456789abcdef0123456789abcdef",
    "0123:4567:89ab:cdef:0123:4567:89ab:cde ",
    " 0123:4567:89ab:cdef:0123:4567:89ab:cdef",
    "0123:4567:89ab:cdef:0123:4567:89ab:cdef\n",
    "0123::4567:89ab:cdef:0123:4567:89ab:cdef",
    "",
    "garbage",
  };
  static const char *bad_tokens[] = {
    "00112233445566778899aabbccddeef",     /* 31 */
    "00112233445566778899aabbccddeeff0",   /* 33 */
    "00112233445566778899AABBCCDDEEFF",    /* upper case */
    "00112233445566778899aabbccddeefg",    /* not hex */
    "0011223344556677-899aabbccddeeff",
    "",
  };
  static const char *bad_features[] = {
    "",                                       /* empty */
    "0123456789abcdef0123456789abcdef0",      /* 33 */
    "Voice/Opus",                             /* upper case */
    "voice opus",
    "voice/opus\\n",
    "voice:opus",
    "vo\\u00efce",
  };
  static const char *bad_enum_values[] = { "\"\"", "\"garbage\"", "\"cone\"", "\"Caller\"",
                                           "\"reject\"", "\"normal\"", "\"Normal \"" };

  for (gsize i = 0; i < G_N_ELEMENTS (specs); i++)
    {
      const MessageSpec *spec = &specs[i];

      /* The complete object itself is valid. */
      {
        g_autoptr(JsonObject) object = valid_object (spec);
        g_autofree char *text = object_to_string (object);
        g_autoptr(GError) error = NULL;
        g_autoptr(WzpMessage) message = _wzp_message_decode (text, strlen (text), &error);

        g_assert_no_error (error);
        check_members (message, spec, TRUE);
      }

      for (const MemberSpec *m = spec->members; m->name != NULL; m++)
        {
          /* Missing, and null. */
          if (m->required)
            {
              expect_member_error (failures, spec, m->name, NULL,
                                   WZP_PROTOCOL_ERROR_MISSING_MEMBER, -1, NULL);
              expect_member_error (failures, spec, m->name, "null",
                                   WZP_PROTOCOL_ERROR_MISSING_MEMBER,
                                   WZP_PROTOCOL_ERROR_WRONG_TYPE, NULL);
            }

          /* Wrong JSON types. */
          if (kind_is_string (m->kind))
            for (gsize j = 0; j < G_N_ELEMENTS (not_strings); j++)
              expect_member_error (failures, spec, m->name, not_strings[j],
                                   WZP_PROTOCOL_ERROR_WRONG_TYPE, -1, NULL);
          else if (m->kind == KIND_BOOL)
            for (gsize j = 0; j < G_N_ELEMENTS (not_bools); j++)
              expect_member_error (failures, spec, m->name, not_bools[j],
                                   WZP_PROTOCOL_ERROR_WRONG_TYPE, -1, NULL);
          else if (m->kind == KIND_INT)
            for (gsize j = 0; j < G_N_ELEMENTS (not_ints); j++)
              expect_member_error (failures, spec, m->name, not_ints[j],
                                   WZP_PROTOCOL_ERROR_WRONG_TYPE, -1, NULL);
          else if (kind_is_list (m->kind))
            {
              for (gsize j = 0; j < G_N_ELEMENTS (not_lists); j++)
                expect_member_error (failures, spec, m->name, not_lists[j],
                                     WZP_PROTOCOL_ERROR_WRONG_TYPE, -1, NULL);
              for (gsize j = 0; j < G_N_ELEMENTS (bad_list_elements); j++)
                {
                  g_autofree char *value =
                    bad_list_elements[j].after_valid
                      ? g_strdup_printf ("[\"%s\",%s]", sample_list (m)[0],
                                         bad_list_elements[j].json)
                      : g_strdup (bad_list_elements[j].json);

                  expect_member_error (failures, spec, m->name, value,
                                       WZP_PROTOCOL_ERROR_WRONG_TYPE, -1, NULL);
                }
            }
          else if (m->kind == KIND_BINDING || m->kind == KIND_BINDING_LIST)
            {
              /* Each way a binding can be malformed, alone and (in a list) after a valid
               * one: the shape is checked at decode time, member by member. */
              static const struct { const char *json; int code; } bad_bindings[] = {
                { "\"x\"", WZP_PROTOCOL_ERROR_WRONG_TYPE },
                { "{}", WZP_PROTOCOL_ERROR_MISSING_MEMBER },
                { "{\"fingerprint\":\"" FP1 "\",\"relay_fingerprint\":\"" FP2 "\","
                  "\"public_key\":\"AAAA\",\"signature\":\"AAAA\"}",
                  WZP_PROTOCOL_ERROR_MISSING_MEMBER },
                { "{\"fingerprint\":\"" FP1 "\",\"relay_fingerprint\":\"" FP2 "\","
                  "\"time_ms\":\"1\",\"public_key\":\"AAAA\",\"signature\":\"AAAA\"}",
                  WZP_PROTOCOL_ERROR_WRONG_TYPE },
                { "{\"fingerprint\":\"" FP1 "\",\"relay_fingerprint\":\"" FP2 "\","
                  "\"time_ms\":1.5,\"public_key\":\"AAAA\",\"signature\":\"AAAA\"}",
                  WZP_PROTOCOL_ERROR_WRONG_TYPE },
                { "{\"fingerprint\":\"" FP1 "\",\"relay_fingerprint\":7,"
                  "\"time_ms\":1,\"public_key\":\"AAAA\",\"signature\":\"AAAA\"}",
                  WZP_PROTOCOL_ERROR_WRONG_TYPE },
                { "{\"fingerprint\":\"0123\",\"relay_fingerprint\":\"" FP2 "\","
                  "\"time_ms\":1,\"public_key\":\"AAAA\",\"signature\":\"AAAA\"}",
                  WZP_PROTOCOL_ERROR_INVALID_VALUE },
                { "{\"fingerprint\":\"" FP1 "\",\"relay_fingerprint\":\"" FP2 "\","
                  "\"time_ms\":1,\"public_key\":\"AA*A\",\"signature\":\"AAAA\"}",
                  WZP_PROTOCOL_ERROR_INVALID_VALUE },
                { "{\"fingerprint\":\"" FP1 "\",\"relay_fingerprint\":\"" FP2 "\","
                  "\"time_ms\":1,\"public_key\":\"AAAA\",\"signature\":\"AAA\"}",
                  WZP_PROTOCOL_ERROR_INVALID_VALUE },
                { "{\"fingerprint\":\"" FP1 "\",\"relay_fingerprint\":\"" FP2 "\","
                  "\"time_ms\":1,\"public_key\":\"\",\"signature\":\"AAAA\"}",
                  WZP_PROTOCOL_ERROR_INVALID_VALUE },
                { "{\"fingerprint\":\"" FP1 "\",\"relay_fingerprint\":\"" FP2 "\","
                  "\"time_ms\":1,\"public_key\":\"A=AA\",\"signature\":\"AAAA\"}",
                  WZP_PROTOCOL_ERROR_INVALID_VALUE },
              };

              for (gsize j = 0; j < G_N_ELEMENTS (bad_bindings); j++)
                {
                  g_autofree char *value =
                    m->kind == KIND_BINDING ? g_strdup (bad_bindings[j].json)
                                            : g_strdup_printf ("[" BINDING_JSON ",%s]",
                                                               bad_bindings[j].json);

                  expect_member_error (failures, spec, m->name, value, bad_bindings[j].code,
                                       -1, NULL);
                }
              if (m->kind == KIND_BINDING_LIST)
                expect_member_error (failures, spec, m->name, BINDING_JSON,
                                     WZP_PROTOCOL_ERROR_WRONG_TYPE, -1, NULL);
              else
                {
                  /* A key longer than any the relay takes. */
                  g_autofree char *long_key = g_strnfill (WZP_BINDING_MAX_B64 + 4, 'A');
                  g_autofree char *value = g_strdup_printf (
                      "{\"fingerprint\":\"" FP1 "\",\"relay_fingerprint\":\"" FP2 "\","
                      "\"time_ms\":1,\"public_key\":\"%s\",\"signature\":\"AAAA\"}",
                      long_key);

                  expect_member_error (failures, spec, m->name, value,
                                       WZP_PROTOCOL_ERROR_INVALID_VALUE, -1, NULL);
                }
            }
          else if (m->kind == KIND_INNER)
            {
              static const char *not_objects[] = { "\"x\"", "[]", "42", "true" };

              for (gsize j = 0; j < G_N_ELEMENTS (not_objects); j++)
                expect_member_error (failures, spec, m->name, not_objects[j],
                                     WZP_PROTOCOL_ERROR_WRONG_TYPE, -1, NULL);
            }

          /* Values that do not parse. */
          if (m->kind == KIND_ADDR || m->kind == KIND_ADDR_LIST)
            for (gsize j = 0; j < G_N_ELEMENTS (bad_addresses); j++)
              {
                g_autofree char *quoted = g_strdup_printf (
                    m->kind == KIND_ADDR ? "\"%s\"" : "[\"10.0.0.1:5\",\"%s\"]",
                    bad_addresses[j]);

                expect_member_error (failures, spec, m->name, quoted,
                                     WZP_PROTOCOL_ERROR_INVALID_VALUE, -1, NULL);
              }
          if (m->kind == KIND_FP || m->kind == KIND_FP_LIST)
            for (gsize j = 0; j < G_N_ELEMENTS (bad_fingerprints); j++)
              {
                g_autofree char *escaped = g_strescape (bad_fingerprints[j], NULL);
                g_autofree char *quoted = g_strdup_printf (
                    m->kind == KIND_FP ? "\"%s\"" : "[\"" FP1 "\",\"%s\"]", escaped);

                expect_member_error (failures, spec, m->name, quoted,
                                     WZP_PROTOCOL_ERROR_INVALID_VALUE, -1, NULL);
              }
          if (m->kind == KIND_FEATURE_LIST)
            for (gsize j = 0; j < G_N_ELEMENTS (bad_features); j++)
              {
                g_autofree char *quoted =
                  g_strdup_printf ("[\"voice/opus\",\"%s\"]", bad_features[j]);

                expect_member_error (failures, spec, m->name, quoted,
                                     WZP_PROTOCOL_ERROR_INVALID_VALUE, -1, NULL);
              }
          if (m->kind == KIND_TOKEN)
            for (gsize j = 0; j < G_N_ELEMENTS (bad_tokens); j++)
              {
                g_autofree char *quoted = g_strdup_printf ("\"%s\"", bad_tokens[j]);

                expect_member_error (failures, spec, m->name, quoted,
                                     WZP_PROTOCOL_ERROR_INVALID_VALUE, -1, NULL);
              }
          if (m->kind == KIND_ENUM)
            for (gsize j = 0; j < G_N_ELEMENTS (bad_enum_values); j++)
              expect_member_error (failures, spec, m->name, bad_enum_values[j],
                                   WZP_PROTOCOL_ERROR_INVALID_VALUE, -1, NULL);
        }
    }

  assert_no_failures (failures);
}

/* FederatedSignalForward carries a whole message, which must itself be valid. */
static void
test_bad_inner (void)
{
  g_autoptr(GString) failures = g_string_new (NULL);
  const MessageSpec *spec = spec_for_wire ("FederatedSignalForward");
  static const struct { const char *inner; int code; } cases[] = {
    { "{}", WZP_PROTOCOL_ERROR_MISSING_MEMBER },
    { "{\"type\":\"Teleport\"}", WZP_PROTOCOL_ERROR_UNKNOWN_TYPE },
    { "{\"type\":7}", WZP_PROTOCOL_ERROR_WRONG_TYPE },
    { "{\"type\":\"DirectCallOffer\",\"call_id\":\"c\"}", WZP_PROTOCOL_ERROR_MISSING_MEMBER },
    { "{\"type\":\"DirectCallOffer\",\"call_id\":\"c\",\"target_fingerprint\":\"nope\"}",
      WZP_PROTOCOL_ERROR_INVALID_VALUE },
    { "{\"type\":\"Hangup\",\"call_id\":\"c\",\"reason\":\"Bored\"}",
      WZP_PROTOCOL_ERROR_INVALID_VALUE },
    { "{\"type\":\"Ping\",\"timestamp_ms\":\"now\"}", WZP_PROTOCOL_ERROR_WRONG_TYPE },
    { "{\"type\":\"CandidateUpdate\",\"call_id\":\"c\",\"local_addrs\":[\"example.org:1\"]}",
      WZP_PROTOCOL_ERROR_INVALID_VALUE },
    /* An invalid message two levels down. */
    { "{\"type\":\"FederatedSignalForward\",\"origin_relay_fingerprint\":\"" FP1 "\","
      "\"inner\":{\"type\":\"Pong\"}}", WZP_PROTOCOL_ERROR_MISSING_MEMBER },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    expect_member_error (failures, spec, "inner", cases[i].inner, cases[i].code, -1, NULL);

  assert_no_failures (failures);
}

/* Integers: JSON integers only; very large and negative numbers do not crash. */
static void
test_numbers (void)
{
  static const char *accepted[] = {
    "{\"type\":\"Ping\",\"timestamp_ms\":0}",
    "{\"type\":\"Ping\",\"timestamp_ms\":9223372036854775807}",
    "{\"type\":\"Nominate\",\"seq\":1}",
    /* Digits in strings, and numbers with a fraction or an exponent (doubles), are not
     * integer literals (test_integer_range). */
    "{\"type\":\"Ping\",\"timestamp_ms\":1,\"x\":\"99999999999999999999\"}",
    "{\"type\":\"Ping\",\"timestamp_ms\":1,\"x\":9223372036854775808.0}",
    "{\"type\":\"Ping\",\"timestamp_ms\":1,\"x\":1.5e19}",
    "{\"type\":\"Ping\",\"timestamp_ms\":1,\"x\":-1.5E+3}",
    "{\"type\":\"Ping\",\"timestamp_ms\":1,\"99999999999999999999\":0}",
  };
  static const char *survive[] = {
    "{\"type\":\"Ping\",\"timestamp_ms\":-1}",
    "{\"type\":\"Ping\",\"timestamp_ms\":-9223372036854775808}",
    "{\"type\":\"Ping\",\"timestamp_ms\":99999999999999999999999999}",
    "{\"type\":\"Ping\",\"timestamp_ms\":1e999}",
    "{\"type\":\"Ping\",\"timestamp_ms\":1,\"x\":-1e999}",
    "{\"type\":\"Nominate\",\"seq\":-0}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (accepted); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(WzpMessage) message = _wzp_message_decode (accepted[i], strlen (accepted[i]),
                                                           &error);

      g_assert_no_error (error);
      g_assert_nonnull (message);
      /* What is accepted can be passed on: its encoding decodes again. */
      {
        g_autoptr(GBytes) encoded = _wzp_message_encode (message);
        g_autoptr(WzpMessage) again = _wzp_message_decode (g_bytes_get_data (encoded, NULL),
                                                           g_bytes_get_size (encoded), &error);

        g_assert_no_error (error);
        g_assert_nonnull (again);
      }
    }
  {
    /* json-glib would write 1e19 back as "1e+19.0", which is not JSON (fuzz-message). */
    g_autoptr(GError) error = NULL;
    const char *unwritable = "{\"type\":\"Ping\",\"timestamp_ms\":1,\"x\":1e19}";
    g_autoptr(WzpMessage) message = _wzp_message_decode (unwritable, strlen (unwritable), &error);

    g_assert_null (message);
    g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE);
  }
  {
    g_autoptr(WzpMessage) max = _wzp_message_decode (accepted[1], strlen (accepted[1]), NULL);

    g_assert_cmpint (_wzp_message_get_int (max, "timestamp_ms"), ==, G_MAXINT64);
  }

  for (gsize i = 0; i < G_N_ELEMENTS (survive); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(WzpMessage) message = _wzp_message_decode (survive[i], strlen (survive[i]),
                                                           &error);

      g_test_message ("%s: %s", survive[i], message ? "accepted" : error->message);
      g_assert_true ((message != NULL) != (error != NULL));
      if (message != NULL)
        {
          g_autoptr(GBytes) bytes = _wzp_message_encode (message);
          g_autoptr(WzpMessage) again = NULL;

          /* What was accepted must encode to something that is accepted again: a relay
           * forwards unknown members, and must never turn a message into invalid JSON
           * (json-glib writes a non-finite double as "inf.0"). */
          g_assert_nonnull (bytes);
          again = _wzp_message_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                       &error);
          if (again == NULL)
            g_test_message ("re-encoded as %.*s", (int) g_bytes_get_size (bytes),
                            (const char *) g_bytes_get_data (bytes, NULL));
          g_assert_no_error (error);
        }
      else
        g_assert_true (error->domain == WZP_PROTOCOL_ERROR);
    }
}

/* The places an integer can be: a known member, an unknown one (forwarded as it is), an
 * array and an object inside an unknown one, and an unknown member of a forward's inner
 * message. %s is the literal. */
static const char *integer_places[] = {
  "{\"type\":\"Ping\",\"timestamp_ms\":%s}",
  "{\"type\":\"Ping\",\"timestamp_ms\":1,\"x_future\":%s}",
  "{\"type\":\"Ping\",\"timestamp_ms\":1,\"x_future\":{\"a\":[0,[%s],2]}}",
  "{\"type\":\"FederatedSignalForward\","
  "\"origin_relay_fingerprint\":\"0123:4567:89ab:cdef:0123:4567:89ab:cdef\","
  "\"inner\":{\"type\":\"Ping\",\"timestamp_ms\":1,\"x\":[%s]}}",
};

static char *
integer_in (guint       place,
            const char *literal)
{
  g_autoptr(GString) text = g_string_new (integer_places[place]);

  g_string_replace (text, "%s", literal, 1);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* json-glib casts integer literals to gint64 without a check (9223372036854775808 became
 * -9223372036854775808): the decoder refuses any integer outside int64, wherever it is,
 * and what it accepts encodes to the same digits (docs/protocol.md, "Numbers"). */
static void
test_integer_range (void)
{
  static const char *valid[] = {
    "9223372036854775807", "-9223372036854775808", "0", "-0", "-1", "1000000000000000000",
    "-922337203685477580",
  };
  static const char *out_of_range[] = {
    "9223372036854775808", "-9223372036854775809", "9999999999999999999",
    "18446744073709551616", "-18446744073709551616", "99999999999999999999999999",
  };
  static const char *not_json[] = { "007", "-01", "00", "0x10", "12abc" };
  const char *range_needles[] = { "64-bit range", NULL };
  g_autoptr(GString) failures = g_string_new (NULL);

  for (guint place = 0; place < G_N_ELEMENTS (integer_places); place++)
    {
      for (gsize i = 0; i < G_N_ELEMENTS (valid); i++)
        {
          g_autofree char *text = integer_in (place, valid[i]);
          g_autoptr(GError) error = NULL;
          g_autoptr(WzpMessage) message = _wzp_message_decode (text, strlen (text), &error);
          g_autoptr(GBytes) bytes = NULL;
          g_autofree char *encoded = NULL;
          g_autofree char *expected = NULL;

          if (message == NULL)
            {
              g_string_append_printf (failures, "\n  refused: %s: %s", text, error->message);
              continue;
            }
          /* json-glib writes -0 as 0. */
          expected = g_strdup_printf ("%s%c", strcmp (valid[i], "-0") == 0 ? "0" : valid[i],
                                      place == 0 ? '}' : place == 1 ? '}' : ']');
          bytes = _wzp_message_encode (message);
          encoded = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
          if (strstr (encoded, expected) == NULL)
            g_string_append_printf (failures, "\n  %s: encoded as %s", text, encoded);
        }
      for (gsize i = 0; i < G_N_ELEMENTS (out_of_range); i++)
        {
          g_autofree char *text = integer_in (place, out_of_range[i]);

          expect_error_full (failures, text, -1, WZP_PROTOCOL_ERROR_INVALID_VALUE, -1,
                             range_needles);
        }
      for (gsize i = 0; i < G_N_ELEMENTS (not_json); i++)
        {
          g_autofree char *text = integer_in (place, not_json[i]);

          expect_error (failures, text, -1, WZP_PROTOCOL_ERROR_INVALID_JSON, "not valid JSON");
        }
    }

  /* A 60,000-digit integer is refused without being echoed. */
  {
    g_autoptr(GString) digits = g_string_new (NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(WzpMessage) message = NULL;

    for (guint i = 0; i < 60000; i++)
      g_string_append_c (digits, '9');
    text = integer_in (1, digits->str);
    message = _wzp_message_decode (text, strlen (text), &error);
    g_assert_null (message);
    g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE);
    g_assert_cmpuint (strlen (error->message), <, 200);
  }

  assert_no_failures (failures);
}

/* Deep nesting is refused, however deep, without exhausting the stack. */
static void
test_deep_nesting (void)
{
  static const guint depths[] = { 10, 100, 1000, 60000 };

  for (gsize i = 0; i < G_N_ELEMENTS (depths); i++)
    {
      g_autoptr(GString) text = g_string_new ("{\"type\":\"Ping\",\"timestamp_ms\":1,\"x\":");
      g_autoptr(GError) error = NULL;
      g_autoptr(WzpMessage) message = NULL;

      for (guint d = 0; d < depths[i]; d++)
        g_string_append (text, d % 2 ? "{\"k\":" : "[");
      g_string_append_c (text, '0');
      for (guint d = depths[i]; d > 0; d--)
        g_string_append (text, (d - 1) % 2 ? "}" : "]");
      g_string_append_c (text, '}');

      g_test_message ("depth %u", depths[i]);
      message = _wzp_message_decode (text->str, text->len, &error);
      if (depths[i] <= 10)
        {
          g_assert_no_error (error);
          g_assert_nonnull (message);
        }
      else
        {
          g_assert_null (message);
          g_assert_nonnull (error);
          g_assert_true (error->domain == WZP_PROTOCOL_ERROR);
        }
    }

  /* The depth check cannot be fooled by a quote that JSON does not treat as one. */
  {
    g_autoptr(GString) text = g_string_new ("{\"type\":\"Reflect\",\"q\":'\"',\"x\":");
    g_autoptr(GError) error = NULL;
    g_autoptr(WzpMessage) message = NULL;

    for (guint d = 0; d < 5000; d++)
      g_string_append_c (text, '[');
    for (guint d = 0; d < 5000; d++)
      g_string_append_c (text, ']');
    g_string_append (text, ",\"z\":\"\"}");
    message = _wzp_message_decode (text->str, text->len, &error);
    g_assert_null (message);
    g_assert_nonnull (error);
    g_assert_true (error->domain == WZP_PROTOCOL_ERROR);
  }
}

/* Error messages quote remote text bounded; an Error names a call only by a valid id. */
/* Features (docs/protocol.md, "Media frames"): optional, so a Nominate from a peer that
 * predates them is valid and lists none; names this version does not know are kept and
 * ignored; at most WZP_MAX_FEATURES names of at most WZP_MAX_FEATURE_LEN. */
static void
test_features (void)
{
  static const WzpMessageType types[] = { WZP_MESSAGE_NOMINATE, WZP_MESSAGE_NOMINATE_ACK };
  static const char *wires[] = { "Nominate", "NominateAck" };

  for (gsize t = 0; t < G_N_ELEMENTS (types); t++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(WzpMessage) old = NULL;
      g_autoptr(WzpMessage) new = NULL;
      g_autoptr(WzpMessage) built = NULL;
      g_autoptr(GBytes) encoded = NULL;
      g_autoptr(GString) many = g_string_new (NULL);
      g_autofree char *text = NULL;
      g_autofree char *expected = NULL;
      g_autofree char *longest = g_strnfill (WZP_MAX_FEATURE_LEN, 'a');
      g_auto(GStrv) listed = NULL;

      /* Today's peers: no member, no features. */
      text = g_strdup_printf ("{\"type\":\"%s\",\"seq\":1}", wires[t]);
      old = _wzp_message_decode (text, strlen (text), &error);
      g_assert_no_error (error);
      g_assert_false (_wzp_message_has_feature (old, WZP_FEATURE_VOICE_OPUS));
      g_clear_pointer (&text, g_free);

      /* Unknown names are kept and ignored. */
      text = g_strdup_printf ("{\"type\":\"%s\",\"seq\":2,\"features\":[\"x-later/video\","
                              "\"voice/opus\",\"%s\"]}", wires[t], longest);
      new = _wzp_message_decode (text, strlen (text), &error);
      g_assert_no_error (error);
      g_assert_true (_wzp_message_has_feature (new, WZP_FEATURE_VOICE_OPUS));
      g_assert_true (_wzp_message_has_feature (new, "x-later/video"));
      g_assert_false (_wzp_message_has_feature (new, "voice"));
      listed = _wzp_message_dup_strv (new, "features");
      g_assert_cmpuint (g_strv_length (listed), ==, 3);
      g_clear_pointer (&text, g_free);

      /* Without features, the frame is the same bytes as before they existed. */
      built = _wzp_message_new (types[t]);
      _wzp_message_set_int (built, "seq", 7);
      _wzp_message_set_strv (built, "features", NULL);
      encoded = _wzp_message_encode (built);
      expected = g_strdup_printf ("{\"type\":\"%s\",\"seq\":7}", wires[t]);
      g_assert_cmpmem (g_bytes_get_data (encoded, NULL), g_bytes_get_size (encoded), expected,
                       strlen (expected));

      /* WZP_MAX_FEATURES names pass, one more is refused. */
      for (guint i = 0; i <= WZP_MAX_FEATURES; i++)
        {
          g_autoptr(WzpMessage) message = NULL;
          g_autoptr(GError) local_error = NULL;

          g_string_append_printf (many, "%s\"f%u\"", i > 0 ? "," : "", i);
          text = g_strdup_printf ("{\"type\":\"%s\",\"seq\":3,\"features\":[%s]}",
                                  wires[t], many->str);
          message = _wzp_message_decode (text, strlen (text), &local_error);
          g_clear_pointer (&text, g_free);
          if (i + 1 <= WZP_MAX_FEATURES)
            g_assert_no_error (local_error);
          else
            {
              g_assert_error (local_error, WZP_PROTOCOL_ERROR,
                              WZP_PROTOCOL_ERROR_INVALID_VALUE);
              g_assert_nonnull (strstr (local_error->message, "features"));
            }
        }
    }
}

static void
test_bounded_quotes (void)
{
  g_autofree char *long_text = g_strnfill (30000, 'x');
  g_autofree char *json = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) message = NULL;

  {
    g_autofree char *short_one = _wzp_quote ("abc", WZP_QUOTE_MAX);
    g_autofree char *cut = _wzp_quote (long_text, WZP_QUOTE_MAX);
    /* 63 ASCII bytes, then "é" (2 bytes) across the limit: cut before it. */
    g_autofree char *accented = g_strconcat ("0123456789012345678901234567890123456789"
                                             "01234567890123456789012", "éé", NULL);
    g_autofree char *cut_accented = _wzp_quote (accented, WZP_QUOTE_MAX);

    g_assert_cmpstr (short_one, ==, "abc");
    g_assert_true (g_str_has_suffix (cut, "…"));
    g_assert_cmpuint (strlen (cut), ==, WZP_QUOTE_MAX + strlen ("…"));
    g_assert_true (g_utf8_validate (cut_accented, -1, NULL));
    g_assert_cmpuint (strlen (cut_accented), ==, 63 + strlen ("…"));
  }

  /* A value the decoder refuses is quoted, not echoed whole. */
  json = g_strdup_printf ("{\"type\":\"CandidateUpdate\",\"call_id\":\"c\","
                          "\"reflexive_addr\":\"%s\"}", long_text);
  message = _wzp_message_decode (json, strlen (json), &error);
  g_assert_null (message);
  g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE);
  g_assert_cmpuint (strlen (error->message), <, 256);
  g_clear_error (&error);
  g_free (json);
  json = g_strdup_printf ("{\"type\":\"Hangup\",\"call_id\":\"c\",\"reason\":\"%s\"}",
                          long_text);
  message = _wzp_message_decode (json, strlen (json), &error);
  g_assert_null (message);
  g_assert_cmpuint (strlen (error->message), <, 256);
  g_clear_error (&error);
  g_free (json);
  json = g_strdup_printf ("{\"type\":\"%s\"}", long_text);
  message = _wzp_message_decode (json, strlen (json), &error);
  g_assert_null (message);
  g_assert_cmpuint (strlen (error->message), <, 256);
  g_clear_error (&error);

  {
    g_autoptr(WzpMessage) valid = _wzp_message_new_error ("unknown_call", "text", "a-B_9");
    g_autoptr(WzpMessage) too_long = _wzp_message_new_error ("unknown_call", "text", long_text);
    g_autoptr(WzpMessage) odd = _wzp_message_new_error ("unknown_call", "text", "a b");
    g_autoptr(WzpMessage) empty = _wzp_message_new_error ("unknown_call", "text", "");

    g_assert_cmpstr (_wzp_message_get_string (valid, "call_id"), ==, "a-B_9");
    g_assert_false (_wzp_message_has_member (too_long, "call_id"));
    g_assert_false (_wzp_message_has_member (odd, "call_id"));
    g_assert_false (_wzp_message_has_member (empty, "call_id"));
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (specs); i++)
    {
      g_autofree char *full = g_strdup_printf ("/wzp/message/round-trip/%s", specs[i].wire);
      g_autofree char *minimal = g_strdup_printf ("/wzp/message/minimal/%s", specs[i].wire);

      g_test_add_data_func (full, &specs[i], test_round_trip_full);
      g_test_add_data_func (minimal, &specs[i], test_round_trip_minimal);
    }
  g_test_add_func ("/wzp/message/enum-values", test_enum_values);
  g_test_add_func ("/wzp/message/type-names", test_type_names);
  g_test_add_func ("/wzp/message/wire-enums", test_wire_enums);
  g_test_add_func ("/wzp/message/unknown-members-preserved", test_unknown_members_preserved);
  g_test_add_func ("/wzp/message/inner-preserved", test_inner_preserved);
  g_test_add_func ("/wzp/message/absent-and-null", test_absent_and_null);
  g_test_add_func ("/wzp/message/escapes", test_escapes);
  g_test_add_func ("/wzp/message/setters-remove", test_setters_remove);
  g_test_add_func ("/wzp/message/copy-and-ref", test_copy_and_ref);
  g_test_add_func ("/wzp/message/convenience", test_convenience);
  g_test_add_func ("/wzp/message/new-from-object", test_new_from_object);
  g_test_add_func ("/wzp/message/bad/envelope", test_bad_envelope);
  g_test_add_func ("/wzp/message/bad/members", test_bad_members);
  g_test_add_func ("/wzp/message/bad/inner", test_bad_inner);
  g_test_add_func ("/wzp/message/numbers", test_numbers);
  g_test_add_func ("/wzp/message/integer-range", test_integer_range);
  g_test_add_func ("/wzp/message/deep-nesting", test_deep_nesting);
  g_test_add_func ("/wzp/message/bounded-quotes", test_bounded_quotes);
  g_test_add_func ("/wzp/message/features", test_features);

  return g_test_run ();
}
