/* fuzz-relay-config.c: the relay's key file (wzp-relay/wzp-relay-config.c; docs/relay.md)
 *
 * The input is a configuration file. It is loaded as wzp-relay loads one (GKeyFile, then
 * wzp_relay_config_load_key_file()), and on success applied to a new WzpRelay, as the
 * daemon does before it listens. Promises: a file that does not load fails with
 * G_KEY_FILE_ERROR (GKeyFile's syntax) or WZP_RELAY_CONFIG_ERROR with a message that
 * begins with the file's name; a file that loads holds only what it can be applied with:
 * no value that GLib cannot read, no property setter that warns (g_object_set_property()
 * warns about a value of the wrong type or out of range, and a warning aborts here), every
 * configured property reads back as configured, list values have no empty items,
 * fingerprints and relay URIs are well-formed, and no peer is listed twice.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "wzp-glib.h"
#include "wzp-identity-private.h"
#include "wzp-relay-config.h"

#define NAME "/etc/wzp/relay.conf"

static WzpIdentity *identity;

/* GLib 2.74 (Debian 12) warns from inside g_key_file_get_string() and _get_string_list()
 * for a value with an invalid escape and a "\" at the end of the line: it sets its own
 * error twice. That is GLib's bug, not ours (wzp-relay-config.c's get_string() makes sure
 * the value is refused all the same), so that one warning is let through; any other
 * aborts as in every target. */
static GLogWriterOutput
log_writer (GLogLevelFlags   log_level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  const char *domain = NULL;
  const char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
    }
  if (g_strcmp0 (domain, "GLib") == 0 && message != NULL &&
      g_str_has_prefix (message, "GError set over the top of a previous GError") &&
      strstr (message, "The overwriting error message was: Key file contains") != NULL)
    return G_LOG_WRITER_HANDLED;
  return fuzz_log_writer (log_level, fields, n_fields, user_data);
}

static void
check_list (GStrv list)
{
  if (list == NULL)
    return;
  for (guint i = 0; list[i] != NULL; i++)
    {
      fuzz_check (list[i][0] != '\0');
      fuzz_check (!g_ascii_isspace (list[i][0]));
      fuzz_check (!g_ascii_isspace (list[i][strlen (list[i]) - 1]));
    }
}

/* GParamSpecBoxed compares pointers; a list compares by its items (NULL is empty). */
static gboolean
same_value (GParamSpec   *pspec,
            const GValue *a,
            const GValue *b)
{
  static const char * const empty[] = { NULL };
  const char * const *list_a, * const *list_b;

  if (!G_VALUE_HOLDS (a, G_TYPE_STRV))
    return g_param_values_cmp (pspec, a, b) == 0;
  list_a = g_value_get_boxed (a);
  list_b = g_value_get_boxed (b);
  return g_strv_equal (list_a != NULL ? list_a : empty, list_b != NULL ? list_b : empty);
}

int
LLVMFuzzerTestOneInput (const unsigned char *data,
                        size_t               size)
{
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  g_autoptr(WzpRelayConfig) config = wzp_relay_config_new ();
  g_autoptr(WzpRelay) relay = NULL;
  g_autoptr(GError) error = NULL;

  if (identity == NULL)
    {
      g_log_set_writer_func (log_writer, NULL, NULL);
      /* G_DEBUG=fatal-warnings (the test environment) would make GLib's warning fatal
       * after the writer let it through; the writer aborts on every other one. */
      g_log_set_always_fatal (G_LOG_FATAL_MASK);
      identity = _wzp_identity_new_ephemeral (&error);
      fuzz_check (identity != NULL);
    }

  if (!g_key_file_load_from_data (key_file, (const char *) data, size, G_KEY_FILE_NONE,
                                  &error))
    {
      fuzz_check (error != NULL && error->domain == G_KEY_FILE_ERROR);
      return 0;
    }
  if (!wzp_relay_config_load_key_file (config, key_file, NAME, &error))
    {
      fuzz_check (error != NULL && error->domain == WZP_RELAY_CONFIG_ERROR);
      fuzz_check (g_str_has_prefix (error->message, NAME ": "));
      return 0;
    }
  fuzz_check (error == NULL);
  fuzz_check (g_strcmp0 (config->path, NAME) == 0);

  /* No value that GLib cannot read as a string nor as a list was taken (a retired key
   * excepted: it is accepted whatever its value). */
  {
    g_auto(GStrv) groups = g_key_file_get_groups (key_file, NULL);

    for (guint g = 0; groups[g] != NULL; g++)
      {
        g_auto(GStrv) keys = g_key_file_get_keys (key_file, groups[g], NULL, NULL);

        for (guint k = 0; keys != NULL && keys[k] != NULL; k++)
          {
            g_autoptr(GError) string_error = NULL;
            g_autoptr(GError) list_error = NULL;
            g_autofree char *string = NULL;
            g_auto(GStrv) list = NULL;

            if (g_str_equal (keys[k], "pipe-forwarding"))
              continue;
            string = g_key_file_get_string (key_file, groups[g], keys[k], &string_error);
            list = g_key_file_get_string_list (key_file, groups[g], keys[k], NULL,
                                               &list_error);
            if (string_error != NULL && list_error != NULL)
              {
                fprintf (stderr, "[%s] %s was accepted, but its value does not read: %s\n",
                         groups[g], keys[k], string_error->message);
                abort ();
              }
          }
      }
  }

  /* The daemon's own keys. */
  check_list (config->listen);
  check_list (config->pipe_listen);
  fuzz_check (config->listen == NULL || config->listen[0] != NULL);
  fuzz_check (config->pipe_listen == NULL || config->pipe_listen[0] != NULL);
  if (config->identity != NULL)
    fuzz_check (config->identity[0] != '\0' && !g_ascii_isspace (config->identity[0]));
  check_list (config->peers);
  for (guint i = 0; config->peers != NULL && config->peers[i] != NULL; i++)
    {
      const char *hash = strchr (config->peers[i], '#');

      fuzz_check (wzp_relay_config_check_relay_uri (config->peers[i], NULL));
      fuzz_check (hash != NULL && wzp_fingerprint_is_valid (hash + 1));
      for (guint j = 0; j < i; j++)
        fuzz_check (!g_str_equal (strchr (config->peers[j], '#'), hash));
    }
  for (guint i = 0; i < config->warnings->len; i++)
    fuzz_check (g_str_has_prefix (g_ptr_array_index (config->warnings, i), NAME ": ["));

  /* Applied as the daemon does: no warning from any setter, and each property reads back
   * as the file set it (the last one wins when a key appears in two groups). */
  relay = wzp_relay_new (identity);
  wzp_relay_config_apply (config, relay);
  for (guint i = 0; i < config->properties->len; i++)
    {
      WzpRelayConfigProperty *property =
        &g_array_index (config->properties, WzpRelayConfigProperty, i);
      g_auto(GValue) value = G_VALUE_INIT;
      gboolean last = TRUE;

      fuzz_check (property->pspec->flags & G_PARAM_WRITABLE);
      fuzz_check (G_VALUE_HOLDS (&property->value, G_PARAM_SPEC_VALUE_TYPE (property->pspec)));
      {
        g_auto(GValue) copy = G_VALUE_INIT;

        g_value_init (&copy, G_VALUE_TYPE (&property->value));
        g_value_copy (&property->value, &copy);
        fuzz_check (!g_param_value_validate (property->pspec, &copy));
      }
      for (guint j = i + 1; j < config->properties->len; j++)
        if (g_array_index (config->properties, WzpRelayConfigProperty, j).pspec ==
            property->pspec)
          last = FALSE;
      if (!last)
        continue;

      g_value_init (&value, G_PARAM_SPEC_VALUE_TYPE (property->pspec));
      g_object_get_property (G_OBJECT (relay), property->pspec->name, &value);
      if (!same_value (property->pspec, &value, &property->value))
        {
          g_autofree char *want = g_strdup_value_contents (&property->value);
          g_autofree char *got = g_strdup_value_contents (&value);

          fprintf (stderr, "%s: configured %s, reads back %s\n", property->pspec->name, want,
                   got);
          abort ();
        }
    }

  return 0;
}
