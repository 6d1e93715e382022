/* wzp-relay-config.c: the relay's key file, turned into WzpRelay properties
 *
 * [relay] holds the daemon's own keys (listen, pipe-listen, identity), [federation] its
 * peers; every other key, in any of the groups, names a writable WzpRelay property and is
 * parsed by that property's type. New limits in the library are configurable without
 * touching this file. A key that an earlier relay knew and this one no longer uses
 * (retired_keys) is accepted with a warning.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-file-private.h"
#include "wzp-relay-config.h"

/* A configuration is a few hundred bytes; a larger one is not read into memory. */
#define CONFIG_MAX_SIZE (1024 * 1024)

G_DEFINE_QUARK (wzp-relay-config-error-quark, wzp_relay_config_error)

#define GROUP_RELAY      "relay"
#define GROUP_LIMITS     "limits"
#define GROUP_FEDERATION "federation"

static const char * const relay_keys[] = { "listen", "pipe-listen", "identity", NULL };
static const char * const federation_keys[] = { "peers", NULL };

/* Keys of earlier relays that do nothing any more, and why. A file that still has one
 * loads with a warning, whatever the value: an upgrade must not stop a relay over a
 * choice it no longer offers. */
static const struct
{
  const char *key;
  const char *why;
} retired_keys[] = {
  { "pipe-forwarding", "no longer used: the relay always copies the bytes of relayed calls" },
};

WzpRelayConfig *
wzp_relay_config_new (void)
{
  WzpRelayConfig *self = g_new0 (WzpRelayConfig, 1);

  self->properties = g_array_new (FALSE, TRUE, sizeof (WzpRelayConfigProperty));
  self->warnings = g_ptr_array_new_with_free_func (g_free);
  return self;
}

void
wzp_relay_config_free (WzpRelayConfig *self)
{
  if (self == NULL)
    return;

  for (guint i = 0; i < self->properties->len; i++)
    {
      WzpRelayConfigProperty *property =
        &g_array_index (self->properties, WzpRelayConfigProperty, i);

      g_value_unset (&property->value);
      g_param_spec_unref (property->pspec);
    }
  g_array_unref (self->properties);
  g_ptr_array_unref (self->warnings);
  g_strfreev (self->listen);
  g_strfreev (self->pipe_listen);
  g_free (self->identity);
  g_strfreev (self->peers);
  g_free (self->path);
  g_free (self);
}

static const char *
retired_key_reason (const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (retired_keys); i++)
    if (g_str_equal (key, retired_keys[i].key))
      return retired_keys[i].why;
  return NULL;
}

/* Properties a configuration file may set: writable after construction. */
static gboolean
pspec_is_configurable (GParamSpec *pspec)
{
  return (pspec->flags & G_PARAM_WRITABLE) != 0 &&
         (pspec->flags & G_PARAM_CONSTRUCT_ONLY) == 0;
}

static guint
edit_distance (const char *a,
               const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  g_autofree guint *row = g_new (guint, lb + 1);

  for (gsize j = 0; j <= lb; j++)
    row[j] = j;
  for (gsize i = 1; i <= la; i++)
    {
      guint diagonal = row[0];

      row[0] = i;
      for (gsize j = 1; j <= lb; j++)
        {
          guint above = row[j];
          guint cost = a[i - 1] == b[j - 1] ? 0 : 1;

          row[j] = MIN (MIN (row[j] + 1, row[j - 1] + 1), diagonal + cost);
          diagonal = above;
        }
    }
  return row[lb];
}

/* “did you mean …” for a misspelt key, or the list of keys when nothing is close. */
static char *
suggest_key (GObjectClass *klass,
             const char   *group,
             const char   *key)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autofree GParamSpec **pspecs = NULL;
  g_autofree char *list = NULL;
  const char *best = NULL;
  guint best_distance = G_MAXUINT;
  gsize key_len = strlen (key);
  guint max_distance;
  guint n_pspecs;

  if (g_str_equal (group, GROUP_RELAY))
    for (guint i = 0; relay_keys[i] != NULL; i++)
      g_ptr_array_add (names, (gpointer) relay_keys[i]);
  if (g_str_equal (group, GROUP_FEDERATION))
    for (guint i = 0; federation_keys[i] != NULL; i++)
      g_ptr_array_add (names, (gpointer) federation_keys[i]);
  pspecs = g_object_class_list_properties (klass, &n_pspecs);
  for (guint i = 0; i < n_pspecs; i++)
    if (pspec_is_configurable (pspecs[i]))
      g_ptr_array_add (names, (gpointer) pspecs[i]->name);

  max_distance = MAX (2u, (guint) (key_len / 4));
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      gsize name_len = strlen (name);
      guint distance;

      /* The distance is at least the difference in length: a name that cannot be close
       * enough to suggest is not measured, so a long garbage key costs no more than
       * comparing lengths (edit_distance() costs the product of the two lengths). */
      if ((key_len > name_len ? key_len - name_len : name_len - key_len) > max_distance)
        continue;
      distance = edit_distance (key, name);

      if (distance < best_distance)
        {
          best_distance = distance;
          best = name;
        }
    }
  if (best != NULL && best_distance <= max_distance)
    return g_strdup_printf ("unknown key; did you mean “%s”?", best);

  g_ptr_array_add (names, NULL);
  list = g_strjoinv (", ", (char **) names->pdata);
  return g_strdup_printf ("unknown key; the keys are: %s", list);
}

static gboolean
parse_unsigned (const char  *text,
                guint64      min,
                guint64      max,
                guint64     *out,
                GError     **error)
{
  g_autoptr(GError) local_error = NULL;

  if (g_ascii_string_to_unsigned (text, 10, min, max, out, &local_error))
    return TRUE;
  if (g_error_matches (local_error, G_NUMBER_PARSER_ERROR, G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS))
    g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                 "“%s” is out of range; use a whole number from %" G_GUINT64_FORMAT
                 " to %" G_GUINT64_FORMAT, text, min, max);
  else
    g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                 "“%s” is not a number; use a whole number from %" G_GUINT64_FORMAT
                 " to %" G_GUINT64_FORMAT, text, min, max);
  return FALSE;
}

static gboolean
parse_signed (const char  *text,
              gint64       min,
              gint64       max,
              gint64      *out,
              GError     **error)
{
  g_autoptr(GError) local_error = NULL;

  if (g_ascii_string_to_signed (text, 10, min, max, out, &local_error))
    return TRUE;
  if (g_error_matches (local_error, G_NUMBER_PARSER_ERROR, G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS))
    g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                 "“%s” is out of range; use a whole number from %" G_GINT64_FORMAT
                 " to %" G_GINT64_FORMAT, text, min, max);
  else
    g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                 "“%s” is not a number; use a whole number from %" G_GINT64_FORMAT
                 " to %" G_GINT64_FORMAT, text, min, max);
  return FALSE;
}

/* A string value. GLib 2.74's g_key_file_get_string() returns a string for a value with
 * an invalid escape followed by a "\" at the end of the line, and sets the error twice
 * (with a warning about that: found by tests/fuzz/fuzz-relay-config.c); the value is
 * still wrong, so the error is what counts. */
static char *
get_string (GKeyFile    *key_file,
            const char  *group,
            const char  *key,
            GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *value = g_key_file_get_string (key_file, group, key, &local_error);

  if (local_error != NULL || value == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return g_steal_pointer (&value);
}

/* A list value: GKeyFile's “a;b;c”, with blanks around items and empty items dropped
 * (so “a; b;” is two items and an empty value is an empty list). */
static GStrv
get_list (GKeyFile    *key_file,
          const char  *group,
          const char  *key,
          GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) items = g_key_file_get_string_list (key_file, group, key, NULL, &local_error);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  /* The error, not the result, says whether it failed: see get_string(). */
  if (local_error != NULL || items == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  for (guint i = 0; items[i] != NULL; i++)
    {
      g_strstrip (items[i]);
      if (items[i][0] != '\0')
        g_strv_builder_add (builder, items[i]);
    }
  return g_strv_builder_end (builder);
}

/* Parses the key's text into @value, initialised to @pspec's type, and checks it
 * against @pspec's range. The message of @error is about the value only; the caller
 * adds where it came from. */
static gboolean
parse_value (GKeyFile    *key_file,
             const char  *group,
             const char  *key,
             GParamSpec  *pspec,
             GValue      *value,
             GError     **error)
{
  GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);
  g_autofree char *raw = g_key_file_get_value (key_file, group, key, NULL);
  g_autofree char *text = g_strstrip (g_strdup (raw != NULL ? raw : ""));
  g_autoptr(GError) local_error = NULL;

  g_value_init (value, type);

  if (G_IS_PARAM_SPEC_UINT (pspec))
    {
      GParamSpecUInt *spec = G_PARAM_SPEC_UINT (pspec);
      guint64 n;

      if (!parse_unsigned (text, spec->minimum, spec->maximum, &n, error))
        return FALSE;
      g_value_set_uint (value, n);
    }
  else if (G_IS_PARAM_SPEC_UINT64 (pspec))
    {
      GParamSpecUInt64 *spec = G_PARAM_SPEC_UINT64 (pspec);
      guint64 n;

      if (!parse_unsigned (text, spec->minimum, spec->maximum, &n, error))
        return FALSE;
      g_value_set_uint64 (value, n);
    }
  else if (G_IS_PARAM_SPEC_INT (pspec))
    {
      GParamSpecInt *spec = G_PARAM_SPEC_INT (pspec);
      gint64 n;

      if (!parse_signed (text, spec->minimum, spec->maximum, &n, error))
        return FALSE;
      g_value_set_int (value, n);
    }
  else if (G_IS_PARAM_SPEC_INT64 (pspec))
    {
      GParamSpecInt64 *spec = G_PARAM_SPEC_INT64 (pspec);
      gint64 n;

      if (!parse_signed (text, spec->minimum, spec->maximum, &n, error))
        return FALSE;
      g_value_set_int64 (value, n);
    }
  else if (G_IS_PARAM_SPEC_BOOLEAN (pspec))
    {
      gboolean b = g_key_file_get_boolean (key_file, group, key, &local_error);

      if (local_error != NULL)
        {
          g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                       "“%s” is not a boolean; use true or false", text);
          return FALSE;
        }
      g_value_set_boolean (value, b);
    }
  else if (G_IS_PARAM_SPEC_DOUBLE (pspec))
    {
      GParamSpecDouble *spec = G_PARAM_SPEC_DOUBLE (pspec);
      double d = g_key_file_get_double (key_file, group, key, &local_error);

      if (local_error != NULL)
        {
          g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                       "“%s” is not a number", text);
          return FALSE;
        }
      if (d < spec->minimum || d > spec->maximum)
        {
          g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                       "“%s” is out of range; use a number from %g to %g",
                       text, spec->minimum, spec->maximum);
          return FALSE;
        }
      g_value_set_double (value, d);
    }
  else if (G_IS_PARAM_SPEC_ENUM (pspec))
    {
      GEnumClass *enum_class = G_PARAM_SPEC_ENUM (pspec)->enum_class;
      GEnumValue *enum_value = g_enum_get_value_by_nick (enum_class, text);

      if (enum_value == NULL)
        {
          g_autoptr(GPtrArray) nicks = g_ptr_array_new ();
          g_autofree char *list = NULL;

          for (guint i = 0; i < enum_class->n_values; i++)
            g_ptr_array_add (nicks, (gpointer) enum_class->values[i].value_nick);
          g_ptr_array_add (nicks, NULL);
          list = g_strjoinv (", ", (char **) nicks->pdata);
          g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                       "“%s” is not one of %s", text, list);
          return FALSE;
        }
      g_value_set_enum (value, enum_value->value);
    }
  else if (G_IS_PARAM_SPEC_STRING (pspec))
    {
      g_autofree char *s = get_string (key_file, group, key, &local_error);

      if (s == NULL)
        {
          g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                       "%s", local_error->message);
          return FALSE;
        }
      g_value_take_string (value, g_steal_pointer (&s));
    }
  else if (type == G_TYPE_STRV)
    {
      GStrv list = get_list (key_file, group, key, &local_error);

      if (list == NULL)
        {
          g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                       "%s", local_error->message);
          return FALSE;
        }
      g_value_take_boxed (value, list);
    }
  else
    {
      g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                   "cannot be set from a configuration file (type %s)", g_type_name (type));
      return FALSE;
    }

  /* Whatever the type-specific code did not check (a future type with its own rules). */
  if (g_param_value_validate (pspec, value))
    {
      g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                   "“%s” is not a valid value", text);
      return FALSE;
    }
  return TRUE;
}

/**
 * wzp_relay_config_check_relay_uri:
 * @uri: what should be another relay's URI
 * @error: the message says what is wrong, without saying where @uri came from
 *
 * Checks the form wzps://HOST:PORT#FINGERPRINT of reflectors and federation peers. The
 * relay parses peers again when it dials them; this check is for a message that names
 * the file and the key before anything starts.
 */
gboolean
wzp_relay_config_check_relay_uri (const char  *uri,
                                  GError     **error)
{
  const char *hash = strchr (uri, '#');

  if (!g_str_has_prefix (uri, "wzps://") || hash == NULL ||
      hash == uri + strlen ("wzps://") || !wzp_fingerprint_is_valid (hash + 1))
    {
      g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                   "“%s” is not a relay URI; use wzps://HOST:PORT#FINGERPRINT, with the "
                   "fingerprint the other relay prints at start", uri);
      return FALSE;
    }
  return TRUE;
}

/* What the type alone cannot say: a list of fingerprints or relay URIs with a typo in it
 * would quietly lock everyone out, or send clients nowhere. */
static gboolean
check_value (GParamSpec    *pspec,
             const GValue  *value,
             GError       **error)
{
  const char * const *items;

  if (G_PARAM_SPEC_VALUE_TYPE (pspec) != G_TYPE_STRV)
    return TRUE;
  items = g_value_get_boxed (value);

  for (guint i = 0; items != NULL && items[i] != NULL; i++)
    {
      if (g_str_equal (pspec->name, "allowed-fingerprints") &&
          !wzp_fingerprint_is_valid (items[i]))
        {
          g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                       "“%s” is not a fingerprint; a fingerprint is 8 groups of 4 lower-case "
                       "hex digits joined by colons", items[i]);
          return FALSE;
        }
      if (g_str_equal (pspec->name, "reflectors") &&
          !wzp_relay_config_check_relay_uri (items[i], error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
load_relay_key (WzpRelayConfig  *self,
                GKeyFile        *key_file,
                const char      *key,
                GError         **error)
{
  if (g_str_equal (key, "listen") || g_str_equal (key, "pipe-listen"))
    {
      GStrv *target = g_str_equal (key, "listen") ? &self->listen : &self->pipe_listen;
      g_auto(GStrv) list = get_list (key_file, GROUP_RELAY, key, error);

      if (list == NULL)
        return FALSE;
      if (list[0] == NULL)
        {
          g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                       "the list is empty; give at least one address such as [::]:4433, "
                       "or remove the key for the default");
          return FALSE;
        }
      g_strfreev (*target);
      *target = g_steal_pointer (&list);
      return TRUE;
    }

  g_assert (g_str_equal (key, "identity"));
  g_clear_pointer (&self->identity, g_free);
  self->identity = get_string (key_file, GROUP_RELAY, key, error);
  if (self->identity == NULL)
    return FALSE;
  g_strstrip (self->identity);
  if (self->identity[0] == '\0')
    g_clear_pointer (&self->identity, g_free);   /* empty means the default */
  return TRUE;
}

/* [federation] peers: a list of relay URIs, each one a different relay. */
static gboolean
load_federation_key (WzpRelayConfig  *self,
                     GKeyFile        *key_file,
                     const char      *key,
                     GError         **error)
{
  g_auto(GStrv) list = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  g_assert (g_str_equal (key, "peers"));
  list = get_list (key_file, GROUP_FEDERATION, key, error);
  if (list == NULL)
    return FALSE;
  for (guint i = 0; list[i] != NULL; i++)
    {
      const char *fingerprint;

      if (!wzp_relay_config_check_relay_uri (list[i], error))
        return FALSE;
      fingerprint = strchr (list[i], '#') + 1;
      if (!g_hash_table_add (seen, (gpointer) fingerprint))
        {
          g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                       "the relay %s is listed twice; a relay is one peer, whatever its "
                       "addresses", fingerprint);
          return FALSE;
        }
    }
  g_strfreev (self->peers);
  self->peers = g_steal_pointer (&list);
  return TRUE;
}

/* @name is how errors call the source (normally the file's path). */
gboolean
wzp_relay_config_load_key_file (WzpRelayConfig  *self,
                                GKeyFile        *key_file,
                                const char      *name,
                                GError         **error)
{
  g_autoptr(GTypeClass) klass = g_type_class_ref (WZP_TYPE_RELAY);
  g_auto(GStrv) groups = g_key_file_get_groups (key_file, NULL);

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (key_file != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  for (guint g = 0; groups[g] != NULL; g++)
    {
      const char *group = groups[g];
      g_auto(GStrv) keys = NULL;

      if (!g_str_equal (group, GROUP_RELAY) && !g_str_equal (group, GROUP_LIMITS) &&
          !g_str_equal (group, GROUP_FEDERATION))
        {
          g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_UNKNOWN_GROUP,
                       "%s: unknown group [%s]; the groups are [relay], [limits] and "
                       "[federation]", name, group);
          return FALSE;
        }

      keys = g_key_file_get_keys (key_file, group, NULL, NULL);
      for (guint k = 0; keys != NULL && keys[k] != NULL; k++)
        {
          const char *key = keys[k];
          g_autoptr(GError) local_error = NULL;
          GParamSpec *pspec;
          const char *why_retired;
          WzpRelayConfigProperty property = { NULL, G_VALUE_INIT };

          if (g_str_equal (group, GROUP_RELAY) && g_strv_contains (relay_keys, key))
            {
              if (!load_relay_key (self, key_file, key, &local_error))
                {
                  g_set_error (error, WZP_RELAY_CONFIG_ERROR,
                               WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                               "%s: [%s] %s: %s", name, group, key, local_error->message);
                  return FALSE;
                }
              continue;
            }

          if (g_str_equal (group, GROUP_FEDERATION) && g_strv_contains (federation_keys, key))
            {
              if (!load_federation_key (self, key_file, key, &local_error))
                {
                  g_set_error (error, WZP_RELAY_CONFIG_ERROR,
                               WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                               "%s: [%s] %s: %s", name, group, key, local_error->message);
                  return FALSE;
                }
              continue;
            }

          if (g_strv_contains (relay_keys, key) || g_strv_contains (federation_keys, key))
            {
              g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_UNKNOWN_KEY,
                           "%s: [%s] %s: this key belongs in [%s]",
                           name, group, key,
                           g_strv_contains (relay_keys, key) ? GROUP_RELAY : GROUP_FEDERATION);
              return FALSE;
            }

          why_retired = retired_key_reason (key);
          if (why_retired != NULL)
            {
              g_ptr_array_add (self->warnings,
                               g_strdup_printf ("%s: [%s] %s: %s; remove the line", name,
                                                group, key, why_retired));
              continue;
            }

          pspec = g_object_class_find_property (G_OBJECT_CLASS (klass), key);
          if (pspec == NULL)
            {
              g_autofree char *hint = suggest_key (G_OBJECT_CLASS (klass), group, key);

              g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_UNKNOWN_KEY,
                           "%s: [%s] %s: %s", name, group, key, hint);
              return FALSE;
            }
          if (!pspec_is_configurable (pspec))
            {
              g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_READ_ONLY,
                           "%s: [%s] %s: the relay reports this, it cannot be configured",
                           name, group, key);
              return FALSE;
            }

          property.pspec = pspec;
          if (!parse_value (key_file, group, key, pspec, &property.value, &local_error) ||
              !check_value (pspec, &property.value, &local_error))
            {
              g_value_unset (&property.value);
              g_set_error (error, WZP_RELAY_CONFIG_ERROR, WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
                           "%s: [%s] %s: %s", name, group, key, local_error->message);
              return FALSE;
            }
          g_param_spec_ref (pspec);
          g_array_append_val (self->properties, property);
        }
    }

  g_free (self->path);
  self->path = g_strdup (name);
  return TRUE;
}

gboolean
wzp_relay_config_load (WzpRelayConfig  *self,
                       const char      *path,
                       GError         **error)
{
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  /* Read as wzp reads its own files, so that a FIFO or a huge file in its place is an
   * error, not a hang (libwzp-glib/base/wzp-file.c); but through a link, which
   * configuration management often puts in /etc. Every error about the configuration
   * begins with its path, these too. */
  if (!_wzp_file_read_regular_full (path, CONFIG_MAX_SIZE, WZP_FILE_FOLLOW_LINKS, NULL,
                                    &contents, &length, &local_error))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: ", path);
      return FALSE;
    }
  if (!g_key_file_load_from_data (key_file, contents, length, G_KEY_FILE_NONE, &local_error))
    {
      /* GKeyFileError messages do not say which file. */
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: ", path);
      return FALSE;
    }
  return wzp_relay_config_load_key_file (self, key_file, path, error);
}

/* Sets every property the file named, in file order. */
void
wzp_relay_config_apply (WzpRelayConfig *self,
                        WzpRelay       *relay)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (WZP_IS_RELAY (relay));

  for (guint i = 0; i < self->properties->len; i++)
    {
      WzpRelayConfigProperty *property =
        &g_array_index (self->properties, WzpRelayConfigProperty, i);

      g_object_set_property (G_OBJECT (relay), property->pspec->name, &property->value);
    }
}
