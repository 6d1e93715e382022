/* wzp-gtk-util.c: small helpers shared by the app's windows and pages
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "wzp-file-private.h"
#include "wzp-gtk-util.h"

/* Thousands of contacts or calls take a few MiB; a larger file is not read into memory. */
#define WZP_JSON_FILE_MAX_SIZE (16 * 1024 * 1024)

#define FINGERPRINT_DIGITS 32
#define FINGERPRINT_GROUPS 8
#define GROUP_DIGITS       4

/**
 * wzp_fingerprint_input_check:
 * @text: what the user typed or pasted
 * @normalized: (out) (optional): the canonical fingerprint when the result is VALID
 * @hint: (out) (optional): a sentence for the user (NULL when there is nothing to say)
 *
 * Accepts the canonical form (`1a2b:3c4d:…`, 8 groups of 4 lower-case hex digits), and
 * what people paste: upper case, spaces, or the 32 digits without colons.
 */
WzpFingerprintInput
wzp_fingerprint_input_check (const char  *text,
                             char       **normalized,
                             char       **hint)
{
  g_autoptr(GString) digits = g_string_new (NULL);
  gboolean has_colons = FALSE;
  unsigned group_len = 0;
  unsigned n_groups = 1;

  if (normalized != NULL)
    *normalized = NULL;
  if (hint != NULL)
    *hint = NULL;

  if (text == NULL)
    text = "";

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_isspace (c))
        continue;
      if (c == ':')
        {
          has_colons = TRUE;
          if (group_len != GROUP_DIGITS)
            {
              if (hint != NULL)
                *hint = g_strdup (_("Each group of a fingerprint has 4 digits"));
              return WZP_FINGERPRINT_INPUT_INVALID;
            }
          group_len = 0;
          n_groups++;
          if (n_groups > FINGERPRINT_GROUPS)
            {
              if (hint != NULL)
                *hint = g_strdup (_("A fingerprint has 8 groups of 4 digits"));
              return WZP_FINGERPRINT_INPUT_INVALID;
            }
          continue;
        }
      if (c < 0x80 && g_ascii_isxdigit ((char) c))
        {
          g_string_append_c (digits, g_ascii_tolower ((char) c));
          group_len++;
          if (digits->len > FINGERPRINT_DIGITS || (has_colons && group_len > GROUP_DIGITS))
            {
              if (hint != NULL)
                *hint = g_strdup (has_colons ? _("Each group of a fingerprint has 4 digits")
                                             : _("Too long: a fingerprint has 32 digits"));
              return WZP_FINGERPRINT_INPUT_INVALID;
            }
          continue;
        }

      if (hint != NULL)
        {
          char utf8[7] = { 0 };

          g_unichar_to_utf8 (c, utf8);
          /* Translators: %s is the character that was typed. */
          *hint = g_strdup_printf (_("“%s” is not part of a fingerprint: it holds only the "
                                     "digits 0–9 and the letters a–f"), utf8);
        }
      return WZP_FINGERPRINT_INPUT_INVALID;
    }

  if (digits->len == 0 && !has_colons)
    return WZP_FINGERPRINT_INPUT_EMPTY;

  if (digits->len < FINGERPRINT_DIGITS)
    {
      if (hint != NULL)
        /* Translators: %u is how many of the 32 hex digits were typed so far. */
        *hint = g_strdup_printf (_("%u of 32 digits"), (unsigned) digits->len);
      return WZP_FINGERPRINT_INPUT_PARTIAL;
    }

  if (normalized != NULL)
    {
      GString *out = g_string_sized_new (FINGERPRINT_DIGITS + FINGERPRINT_GROUPS);

      for (unsigned i = 0; i < FINGERPRINT_DIGITS; i++)
        {
          if (i > 0 && i % GROUP_DIGITS == 0)
            g_string_append_c (out, ':');
          g_string_append_c (out, digits->str[i]);
        }
      *normalized = g_string_free (out, FALSE);
      g_assert (wzp_fingerprint_is_valid (*normalized));
    }
  return WZP_FINGERPRINT_INPUT_VALID;
}

/* The badge on the call page. */
const char *
wzp_path_kind_label (WzpPathKind kind)
{
  switch (kind)
    {
    case WZP_PATH_KIND_DIRECT_LAN:
      return _("Direct (LAN)");
    case WZP_PATH_KIND_DIRECT_INTERNET:
      return _("Direct (Internet)");
    case WZP_PATH_KIND_RELAY:
      return _("Via relay");
    case WZP_PATH_KIND_NONE:
    default:
      return NULL;
    }
}

const char *
wzp_path_kind_css_class (WzpPathKind kind)
{
  switch (kind)
    {
    case WZP_PATH_KIND_DIRECT_LAN:
      return "direct-lan";
    case WZP_PATH_KIND_DIRECT_INTERNET:
      return "direct-internet";
    case WZP_PATH_KIND_RELAY:
      return "relay";
    case WZP_PATH_KIND_NONE:
    default:
      return NULL;
    }
}

char *
wzp_format_duration (gint64 seconds)
{
  if (seconds < 0)
    seconds = 0;
  if (seconds >= 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT ":%02d:%02d", seconds / 3600,
                            (int) (seconds / 60 % 60), (int) (seconds % 60));
  return g_strdup_printf ("%02d:%02d", (int) (seconds / 60), (int) (seconds % 60));
}

/* An alias is only ever a secondary, quoted label: anyone can call themselves "Mom". */
char *
wzp_alias_label (const char *alias)
{
  if (alias == NULL || *alias == '\0')
    return NULL;
  /* Translators: %s is the name a caller gave themselves; nobody checked it. */
  return g_strdup_printf (_("Calls themselves “%s”"), alias);
}

/* Why a call could not be placed or answered, for a toast. */
char *
wzp_describe_call_error (const GError *error)
{
  if (error->domain == WZP_CLIENT_ERROR)
    {
      switch ((WzpClientError) error->code)
        {
        case WZP_CLIENT_ERROR_NOT_CONNECTED:
        case WZP_CLIENT_ERROR_NO_RELAY:
          return g_strdup (_("You are not connected to a relay, so nobody can be called"));
        case WZP_CLIENT_ERROR_INVALID_FINGERPRINT:
          return g_strdup (_("That is not a complete fingerprint"));
        case WZP_CLIENT_ERROR_INVALID_URI:
        case WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED:
        case WZP_CLIENT_ERROR_REGISTRATION_FAILED:
        case WZP_CLIENT_ERROR_REPLACED:
        case WZP_CLIENT_ERROR_KNOWN_RELAYS:
        default:
          break;
        }
    }
  else if (error->domain == WZP_CALL_ERROR)
    {
      switch ((WzpCallError) error->code)
        {
        case WZP_CALL_ERROR_UNKNOWN_PEER:
          return g_strdup (_("Nobody with this fingerprint is connected to your relay"));
        case WZP_CALL_ERROR_UNREACHABLE:
          return g_strdup (_("No connection could be made, not even through the relay"));
        case WZP_CALL_ERROR_DECLINED:
          return g_strdup (_("The call was declined"));
        case WZP_CALL_ERROR_BUSY:
          return g_strdup (_("The line is busy"));
        case WZP_CALL_ERROR_TIMEOUT:
          return g_strdup (_("Nobody answered"));
        case WZP_CALL_ERROR_HUNG_UP:
          return g_strdup (_("The call was hung up"));
        case WZP_CALL_ERROR_IMPERSONATION:
          return g_strdup (_("The call was stopped: the relay tried to connect you to "
                             "someone else"));
        case WZP_CALL_ERROR_FAILED:
        case WZP_CALL_ERROR_NOT_INCOMING:
        default:
          break;
        }
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_strdup (_("The call was cancelled"));

  return g_strdup (_("The call failed"));
}

/* "docker*, wg*" → { "docker*", "wg*" }; NULL for an empty list. */
char **
wzp_split_list (const char *text)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) parts = NULL;
  gboolean any = FALSE;

  if (text == NULL)
    return NULL;

  parts = g_regex_split_simple ("[,;\\s]+", text, 0, 0);
  for (unsigned i = 0; parts[i] != NULL; i++)
    {
      if (*parts[i] == '\0')
        continue;
      g_strv_builder_add (builder, parts[i]);
      any = TRUE;
    }
  return any ? g_strv_builder_end (builder) : NULL;
}

char *
wzp_join_list (const char * const *list)
{
  if (list == NULL)
    return g_strdup ("");
  return g_strjoinv (", ", (char **) list);
}

typedef struct
{
  WzpJsonFile *file;
  GObject     *owner;   /* keeps @file alive */
} Save;

static void
json_saved_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Save *save = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_file_replace_contents_finish (G_FILE (source), result, NULL, &error))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "MESSAGE", "Could not save %s: %s", save->file->path, error->message);
  save->file->saving = FALSE;
  if (save->file->dirty)
    wzp_json_file_save (save->file, save->owner);
  g_object_unref (save->owner);
  g_free (save);
}

void
wzp_json_file_save (WzpJsonFile *file,
                    GObject     *owner)
{
  g_autoptr(JsonGenerator) generator = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GFile) gfile = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  Save *save;
  char *data;
  gsize len;

  if (file->path == NULL)
    return;
  if (file->saving)
    {
      file->dirty = TRUE;
      return;
    }
  file->dirty = FALSE;

  root = file->serialize (owner);
  generator = json_generator_new ();
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_root (generator, root);
  data = json_generator_to_data (generator, &len);
  bytes = g_bytes_new_take (data, len);

  /* The folder of the identity too: made 0700, and kept so (wzp-file.c). */
  gfile = g_file_new_for_path (file->path);
  dir = g_path_get_dirname (file->path);
  if (!_wzp_file_ensure_dir (dir, &error))
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                        "MESSAGE", "Could not save %s: %s", file->path, error->message);
      return;
    }

  file->saving = TRUE;
  save = g_new0 (Save, 1);
  save->file = file;
  save->owner = g_object_ref (owner);
  g_file_replace_contents_bytes_async (gfile, bytes, NULL, FALSE,
                                       G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION,
                                       NULL, json_saved_cb, save);
}

/* Returns NULL without an error when the file does not exist yet. */
JsonNode *
wzp_json_load (const char  *path,
               GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  /* Not json_parser_load_from_file(): a FIFO in the file's place would block the app's
   * start, and a huge file would fill its memory (wzp-file.c). */
  if (!_wzp_file_read_regular (path, WZP_JSON_FILE_MAX_SIZE, &contents, &length, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return NULL;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (!json_parser_load_from_data (parser, contents, length, &local_error))
    {
      g_autofree char *display_name = g_filename_display_name (path);

      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: ", display_name);
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL)
    return NULL;
  return json_node_copy (json_parser_get_root (parser));
}

static gboolean
flush_timed_out_cb (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main context until @file has nothing left to write, for at most @timeout_ms:
 * for quitting, when the main loop is about to stop and a write still running would be
 * lost. Returns whether everything was written. */
gboolean
wzp_json_file_flush (WzpJsonFile *file,
                     unsigned     timeout_ms)
{
  gboolean timed_out = FALSE;
  guint timeout_id;

  if (!file->saving)
    return TRUE;
  timeout_id = g_timeout_add (timeout_ms, flush_timed_out_cb, &timed_out);
  while (file->saving && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (timeout_id);
  return !file->saving;
}

/**
 * wzp_json_set_aside:
 * @path: a file that could not be read as it should
 * @error: set when the file could not be renamed
 *
 * Renames a damaged file to PATH.damaged-YYYYMMDD-HHMMSS next to it, so that what it held
 * is kept for the user (or a repair) and the next save does not overwrite it.
 *
 * Returns: (transfer full) (nullable): the new path, or %NULL with @error set
 */
char *
wzp_json_set_aside (const char  *path,
                    GError     **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *aside = g_strdup_printf ("%s.damaged-%s", path, stamp);
  g_autoptr(GFile) from = g_file_new_for_path (path);

  /* Two damaged files within a second: number the later ones. */
  for (guint i = 2; g_file_test (aside, G_FILE_TEST_EXISTS); i++)
    {
      g_free (aside);
      aside = g_strdup_printf ("%s.damaged-%s-%u", path, stamp, i);
    }
  {
    g_autoptr(GFile) to = g_file_new_for_path (aside);

    if (!g_file_move (from, to, G_FILE_COPY_NOFOLLOW_SYMLINKS, NULL, NULL, NULL, error))
      return NULL;
  }
  return g_steal_pointer (&aside);
}
