/* fuzz-binding.c: a signed presence binding (docs/protocol.md, "Presence bindings")
 *
 * The input is a binding's JSON object, as it comes in RegisterPresence.binding or in a
 * PresenceUpdate's "added": it is decoded inside a RegisterPresence (so with the
 * decoder's limits on nesting and numbers) and then verified, which is what a relay does
 * before it believes one. Promises: a decoding failure is a WZP_PROTOCOL_ERROR; a
 * verification is an answer either way, with an INVALID_VALUE error exactly when it says
 * no; a binding that verifies names the fingerprint of its own key, survives encode and
 * decode unchanged and still verifies, and stops verifying when its time or its relay is
 * changed (the signature covers both). fuzz-presence covers how updates carry bindings;
 * this target covers the check itself, which costs a signature verification (about
 * 0.3 ms) for an input that keeps a real key.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "wzp-glib.h"
#include "wzp-fingerprint-private.h"
#include "wzp-message-private.h"

#define OTHER_RELAY "0000:1111:2222:3333:4444:5555:6666:7777"

static gboolean
same_binding (const WzpBinding *a,
              const WzpBinding *b)
{
  return g_strcmp0 (a->fingerprint, b->fingerprint) == 0 &&
         g_strcmp0 (a->relay_fingerprint, b->relay_fingerprint) == 0 &&
         a->time_ms == b->time_ms &&
         g_strcmp0 (a->public_key, b->public_key) == 0 &&
         g_strcmp0 (a->signature, b->signature) == 0;
}

/* A binding that verified must fail when @changed differs from it in one signed field. */
static void
check_tampered (WzpBinding *changed)
{
  g_autoptr(GError) error = NULL;

  fuzz_check (!_wzp_binding_verify (changed, &error));
  fuzz_check (g_error_matches (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE));
}

int
LLVMFuzzerTestOneInput (const unsigned char *data,
                        size_t               size)
{
  static const char head[] = "{\"type\":\"RegisterPresence\",\"client_version\":\"x\",\"binding\":";
  g_autoptr(GString) text = g_string_new (head);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) verify_error = NULL;
  g_autoptr(WzpMessage) message = NULL;
  g_autoptr(WzpBinding) binding = NULL;
  g_autoptr(WzpMessage) again = NULL;
  g_autoptr(WzpBinding) round_trip = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree guint8 *spki = NULL;
  g_autofree char *fingerprint = NULL;
  gsize spki_len;
  gboolean valid;

  fuzz_set_logging_func ();
  g_string_append_len (text, (const char *) data, size);
  g_string_append_c (text, '}');

  message = _wzp_message_decode (text->str, text->len, &error);
  if (message == NULL)
    {
      fuzz_check (error != NULL && error->domain == WZP_PROTOCOL_ERROR);
      return 0;
    }
  binding = _wzp_message_dup_binding (message, "binding");
  /* Absent (null) is allowed; anything else that decoded is a well-formed binding. */
  if (binding == NULL)
    {
      fuzz_check (!_wzp_message_has_member (message, "binding"));
      return 0;
    }
  fuzz_check (wzp_fingerprint_is_valid (binding->fingerprint));
  fuzz_check (wzp_fingerprint_is_valid (binding->relay_fingerprint));

  valid = _wzp_binding_verify (binding, &verify_error);
  fuzz_check (valid == (verify_error == NULL));
  if (!valid)
    {
      fuzz_check (g_error_matches (verify_error, WZP_PROTOCOL_ERROR,
                                   WZP_PROTOCOL_ERROR_INVALID_VALUE));
      return 0;
    }

  /* It names its own key. */
  spki = g_base64_decode (binding->public_key, &spki_len);
  fingerprint = _wzp_fingerprint_from_spki (spki, spki_len, NULL);
  fuzz_check (g_strcmp0 (fingerprint, binding->fingerprint) == 0);

  /* It survives the wire. */
  again = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);
  _wzp_message_set_string (again, "client_version", "x");
  _wzp_message_set_binding (again, "binding", binding);
  bytes = _wzp_message_encode (again);
  g_clear_pointer (&again, _wzp_message_unref);
  again = _wzp_message_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL);
  fuzz_check (again != NULL);
  round_trip = _wzp_message_dup_binding (again, "binding");
  fuzz_check (round_trip != NULL && same_binding (binding, round_trip));
  fuzz_check (_wzp_binding_verify (round_trip, NULL));

  /* The signature covers the time and the relay. */
  round_trip->time_ms ^= 1;
  check_tampered (round_trip);
  round_trip->time_ms ^= 1;
  g_free (round_trip->relay_fingerprint);
  round_trip->relay_fingerprint = g_strdup (g_strcmp0 (binding->relay_fingerprint, OTHER_RELAY) != 0
                                            ? OTHER_RELAY : "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  check_tampered (round_trip);
  return 0;
}
