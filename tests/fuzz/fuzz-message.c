/* fuzz-message.c: the message decoder on arbitrary frame payloads
 *
 * Besides "no crash, no leak, no warning", it checks what a successful decode promises:
 * every required member is there with a well-formed value, and the message encodes to
 * JSON that decodes again to the same object (a relay forwards what it decoded).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "fuzz.h"
#include "wzp-glib.h"
#include "wzp-address-private.h"
#include "wzp-message-private.h"

/* The schema, one string per type, in WzpMessageType order. Each member is KIND:name with
 * '!' before the kind when required. Kinds: s string, f fingerprint, a address, t pipe
 * token, e enumeration, b boolean, i integer, L list of strings, A list of addresses,
 * F list of fingerprints, n inner message. */
static const char *schema[] = {
  "!s:client_version s:alias",
  "!b:success s:error f:fingerprint a:observed_addr f:relay_fingerprint s:relay_version "
  "L:reflectors",
  "",
  "!a:observed_addr",
  "!s:call_id !f:target_fingerprint f:caller_fingerprint s:caller_alias "
  "a:caller_reflexive_addr A:caller_local_addrs e:caller_nat_type",
  "!s:call_id",
  "!s:call_id !e:accept_mode a:callee_reflexive_addr A:callee_local_addrs e:callee_nat_type",
  "!s:call_id !e:role !f:peer_fingerprint s:peer_alias a:peer_direct_addr A:peer_local_addrs "
  "e:peer_nat_type b:relay_pipe t:pipe_token a:pipe_addr",
  "!s:call_id a:reflexive_addr A:local_addrs",
  "!s:call_id !e:reason",
  "!s:call_id !t:pipe_token i:seq",
  "!s:call_id",
  "!s:call_id",
  "!s:call_id",
  "!i:seq",
  "!i:seq",
  "!i:timestamp_ms",
  "!i:timestamp_ms",
  "!s:code !s:message s:call_id",
  "!f:relay_fingerprint !s:relay_version",
  "!n:inner !f:origin_relay_fingerprint",
  "F:added F:removed b:snapshot b:more",
};

G_STATIC_ASSERT (G_N_ELEMENTS (schema) == WZP_N_MESSAGE_TYPES);

static gboolean
is_fingerprint (const char *text)
{
  if (strlen (text) != 39)
    return FALSE;
  for (int i = 0; i < 39; i++)
    {
      if (i % 5 == 4)
        {
          if (text[i] != ':')
            return FALSE;
        }
      else if (!g_ascii_isxdigit (text[i]) || g_ascii_isupper (text[i]))
        return FALSE;
    }
  return TRUE;
}

static gboolean
is_token (const char *text)
{
  if (strlen (text) != 32)
    return FALSE;
  for (int i = 0; i < 32; i++)
    if (!g_ascii_isxdigit (text[i]) || g_ascii_isupper (text[i]))
      return FALSE;
  return TRUE;
}

static void
check_address (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetSocketAddress) address = _wzp_address_parse (text, &error);
  g_autoptr(GInetSocketAddress) again = NULL;
  g_autofree char *canonical = NULL;

  /* The decoder accepted it, so the address parser must too, and its own output. */
  fuzz_check (address != NULL && error == NULL);
  fuzz_check (g_inet_socket_address_get_port (address) != 0);
  canonical = _wzp_address_to_string (G_SOCKET_ADDRESS (address));
  again = _wzp_address_parse (canonical, &error);
  fuzz_check (again != NULL && error == NULL);
  fuzz_check (g_inet_socket_address_get_port (again) == g_inet_socket_address_get_port (address));
}

static void
check_enum (const char *member,
            const char *text)
{
  if (g_str_has_suffix (member, "nat_type"))
    {
      WzpNatType nat;

      fuzz_check (_wzp_nat_type_from_wire (text, &nat));
      fuzz_check (g_str_equal (_wzp_nat_type_to_wire (nat), text));
    }
  else if (g_str_equal (member, "accept_mode"))
    {
      WzpAcceptMode mode;

      fuzz_check (_wzp_accept_mode_from_wire (text, &mode));
      fuzz_check (g_str_equal (_wzp_accept_mode_to_wire (mode), text));
    }
  else if (g_str_equal (member, "reason"))
    {
      WzpHangupReason reason;

      fuzz_check (_wzp_hangup_reason_from_wire (text, &reason));
      fuzz_check (g_str_equal (_wzp_hangup_reason_to_wire (reason), text));
    }
  else if (g_str_equal (member, "role"))
    fuzz_check (g_str_equal (text, _wzp_call_role_to_wire (WZP_CALL_ROLE_CALLER)) ||
                g_str_equal (text, _wzp_call_role_to_wire (WZP_CALL_ROLE_CALLEE)));
}

/* Reads every member of a decoded message through the typed getters and checks it. */
static void
check_message (WzpMessage *message,
               guint       depth)
{
  WzpMessageType type = _wzp_message_get_message_type (message);
  g_auto(GStrv) members = NULL;
  JsonObject *object;

  fuzz_check ((guint) type < WZP_N_MESSAGE_TYPES);
  fuzz_check (_wzp_message_type_to_string (type) != NULL);
  object = _wzp_message_get_object (message);
  fuzz_check (object != NULL);
  fuzz_check (g_strcmp0 (json_object_get_string_member (object, "type"),
                         _wzp_message_type_to_string (type)) == 0);

  members = g_strsplit (schema[type], " ", -1);
  for (char **m = members; *m != NULL && **m != '\0'; m++)
    {
      gboolean required = (*m)[0] == '!';
      char kind = (*m)[required ? 1 : 0];
      const char *name = *m + (required ? 3 : 2);
      gboolean present = _wzp_message_has_member (message, name);

      if (required && kind != 'L' && kind != 'A' && kind != 'F')
        fuzz_check (present);

      switch (kind)
        {
        case 's':
        case 'f':
        case 'a':
        case 't':
        case 'e':
          {
            const char *value = _wzp_message_get_string (message, name);

            if (required)
              fuzz_check (value != NULL);
            if (value == NULL)
              break;
            fuzz_check (g_utf8_validate (value, -1, NULL));
            if (kind == 'f')
              fuzz_check (is_fingerprint (value));
            else if (kind == 't')
              fuzz_check (is_token (value));
            else if (kind == 'a')
              check_address (value);
            else if (kind == 'e')
              check_enum (name, value);
          }
          break;

        case 'b':
          (void) _wzp_message_get_bool (message, name);
          break;

        case 'i':
          (void) _wzp_message_get_int (message, name);
          break;

        case 'L':
        case 'A':
        case 'F':
          {
            g_auto(GStrv) values = _wzp_message_dup_strv (message, name);

            fuzz_check (values != NULL);
            for (char **v = values; *v != NULL; v++)
              {
                fuzz_check (g_utf8_validate (*v, -1, NULL));
                if (kind == 'A')
                  check_address (*v);
                else if (kind == 'F')
                  fuzz_check (is_fingerprint (*v));
              }
          }
          break;

        case 'n':
          {
            WzpMessage *inner = _wzp_message_get_inner (message);

            fuzz_check (inner != NULL);
            fuzz_check (depth < 10000);
            check_message (inner, depth + 1);
          }
          break;

        default:
          fuzz_check (FALSE);
        }
    }
}

static JsonNode *
parse (const char *data,
       gsize       len)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (!json_parser_load_from_data (parser, data, len, NULL) ||
      json_parser_get_root (parser) == NULL)
    return NULL;
  return json_node_copy (json_parser_get_root (parser));
}

int
LLVMFuzzerTestOneInput (const unsigned char *data,
                        size_t               size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) message = NULL;
  g_autoptr(WzpMessage) again = NULL;
  g_autoptr(WzpMessage) copy = NULL;
  g_autoptr(GBytes) encoded = NULL;
  g_autoptr(GBytes) copy_encoded = NULL;
  g_autoptr(JsonNode) first = NULL;
  g_autoptr(JsonNode) second = NULL;

  fuzz_set_logging_func ();

  message = _wzp_message_decode ((const char *) data, size, &error);
  if (message == NULL)
    {
      /* Every failure is a protocol error with a readable message. */
      fuzz_check (error != NULL);
      fuzz_check (error->domain == WZP_PROTOCOL_ERROR);
      fuzz_check (error->message != NULL && error->message[0] != '\0');
      fuzz_check (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }
  fuzz_check (error == NULL);

  check_message (message, 0);

  /* What was accepted encodes to what is accepted again, as the same object. */
  encoded = _wzp_message_encode (message);
  fuzz_check (encoded != NULL);
  again = _wzp_message_decode (g_bytes_get_data (encoded, NULL), g_bytes_get_size (encoded),
                               &error);
  if (again == NULL)
    {
      fprintf (stderr, "re-encoded message does not decode: %s\n%.*s\n", error->message,
               (int) MIN (g_bytes_get_size (encoded), 2000),
               (const char *) g_bytes_get_data (encoded, NULL));
      abort ();
    }
  fuzz_check (_wzp_message_get_message_type (again) == _wzp_message_get_message_type (message));
  first = parse (g_bytes_get_data (encoded, NULL), g_bytes_get_size (encoded));
  fuzz_check (first != NULL);
  {
    g_autoptr(GBytes) encoded2 = _wzp_message_encode (again);

    second = parse (g_bytes_get_data (encoded2, NULL), g_bytes_get_size (encoded2));
    fuzz_check (second != NULL);
    fuzz_check (json_node_equal (first, second));
  }

  /* A copy is the same message. */
  copy = _wzp_message_copy (message);
  copy_encoded = _wzp_message_encode (copy);
  {
    g_autoptr(JsonNode) copied = parse (g_bytes_get_data (copy_encoded, NULL),
                                        g_bytes_get_size (copy_encoded));

    fuzz_check (copied != NULL);
    fuzz_check (json_node_equal (first, copied));
  }

  return 0;
}
