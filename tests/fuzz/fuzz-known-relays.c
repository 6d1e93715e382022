/* fuzz-known-relays.c: the file of relays trusted on first use (docs/identity.md)
 *
 * The input is the file's contents. It is parsed as the client parses it, without the
 * file: loaded as a key file (comments kept), or, when that fails, salvaged line by line
 * as a damaged file is. Promises: every relay that a key of the file names has either a
 * well-formed pin or a WZP_CLIENT_ERROR_KNOWN_RELAYS with a message; a lookup never
 * returns a malformed fingerprint; what the client writes (the loaded file with a new pin,
 * or the salvaged pins) loads again and gives the same pin for every relay it pins, so
 * trust on first use never forgets or changes a key by saving.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "wzp-glib.h"
#include "wzp-client-private.h"

#define PATH "/home/user/.local/share/wzp/known-relays"
#define NEW_RELAY "relay.example.org:4433"
#define NEW_PIN "0123:4567:89ab:cdef:0123:4567:89ab:cdef"

/* @relay's pin in @file: NULL for none, or "!" when looking it up fails. */
static char *
lookup (GKeyFile   *file,
        const char *relay)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *pin = NULL;

  if (!_wzp_known_relays_find_pin (file, PATH, relay, &pin, &error))
    {
      fuzz_check (pin == NULL);
      fuzz_check (g_error_matches (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_KNOWN_RELAYS));
      fuzz_check (error->message != NULL && error->message[0] != '\0');
      return g_strdup ("!");
    }
  fuzz_check (error == NULL);
  fuzz_check (pin == NULL || wzp_fingerprint_is_valid (pin));
  return g_steal_pointer (&pin);
}

/* The relays that @file's keys name, each once. */
static GPtrArray *
relays_of (GKeyFile *file)
{
  g_auto(GStrv) keys = g_key_file_get_keys (file, "relays", NULL, NULL);
  GPtrArray *relays = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      char *relay = _wzp_known_relays_relay_from_key (keys[i]);

      if (relay == NULL)
        continue;
      fuzz_check (g_utf8_validate (relay, -1, NULL));
      if (g_ptr_array_find_with_equal_func (relays, relay, g_str_equal, NULL))
        g_free (relay);
      else
        g_ptr_array_add (relays, relay);
    }
  return relays;
}

/* Writes @file as the client does and reads it back; each relay of @relays keeps its pin
 * (@pins, in the same order; "!" entries are not checked: the client never writes them). */
static void
check_round_trip (GKeyFile  *file,
                  GPtrArray *relays,
                  GPtrArray *pins)
{
  g_autoptr(GKeyFile) again = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  gsize len;

  text = g_key_file_to_data (file, &len, NULL);
  if (!g_key_file_load_from_data (again, text, len, G_KEY_FILE_KEEP_COMMENTS, &error))
    {
      fprintf (stderr, "the file as written does not load: %s\n", error->message);
      abort ();
    }
  for (guint i = 0; i < relays->len; i++)
    {
      const char *pin = g_ptr_array_index (pins, i);
      g_autofree char *read_back = NULL;

      if (g_strcmp0 (pin, "!") == 0)
        continue;
      read_back = lookup (again, g_ptr_array_index (relays, i));
      if (g_strcmp0 (read_back, pin) != 0)
        {
          fprintf (stderr, "%s: pinned %s, read back %s\n",
                   (char *) g_ptr_array_index (relays, i), pin ? pin : "(none)",
                   read_back ? read_back : "(none)");
          abort ();
        }
    }
}

int
LLVMFuzzerTestOneInput (const unsigned char *data,
                        size_t               size)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) relays = NULL;
  g_autoptr(GPtrArray) pins = g_ptr_array_new_with_free_func (g_free);
  /* g_file_get_contents() gives a NUL-terminated copy; salvage reads it as text. */
  g_autofree char *contents = g_strndup ((const char *) data, size);

  fuzz_set_logging_func ();

  if (!g_key_file_load_from_data (file, (const char *) data, size, G_KEY_FILE_KEEP_COMMENTS,
                                  &error))
    {
      /* Damaged: set aside, and what its lines still pin is written to a new file. */
      g_autoptr(GKeyFile) fresh = g_key_file_new ();
      g_autoptr(GPtrArray) fresh_relays = NULL;
      guint kept;

      fuzz_check (error->domain == G_KEY_FILE_ERROR);
      kept = _wzp_known_relays_salvage (fresh, contents);
      fresh_relays = relays_of (fresh);
      fuzz_check (fresh_relays->len == kept);
      for (guint i = 0; i < fresh_relays->len; i++)
        {
          char *pin = lookup (fresh, g_ptr_array_index (fresh_relays, i));

          fuzz_check (pin != NULL && pin[0] != '!');
          g_ptr_array_add (pins, pin);
        }
      check_round_trip (fresh, fresh_relays, pins);
      return 0;
    }

  /* Every relay the file names looks up to a pin, none, or an error. */
  relays = relays_of (file);
  for (guint i = 0; i < relays->len; i++)
    g_ptr_array_add (pins, lookup (file, g_ptr_array_index (relays, i)));

  /* A relay trusted on first use is added and the file saved: the other pins stay. */
  {
    g_autofree char *relay = _wzp_known_relay_key ("Relay.Example.ORG", 4433);
    g_autofree char *before = NULL;

    fuzz_check (g_str_equal (relay, NEW_RELAY));
    before = lookup (file, relay);
    if (before == NULL)
      {
        _wzp_known_relays_set_pin (file, relay, NEW_PIN);
        g_ptr_array_add (relays, g_strdup (relay));
        g_ptr_array_add (pins, g_strdup (NEW_PIN));
        /* Unless another relay's pins changed with it, in which case the round trip
         * below says so. */
      }
    check_round_trip (file, relays, pins);
  }

  return 0;
}
