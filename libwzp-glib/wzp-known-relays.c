/* wzp-known-relays.c: trust on first use for relays
 *
 * A relay dialled without a fingerprint in its URI is remembered by host:port with the
 * fingerprint it showed the first time ($XDG_DATA_HOME/wzp/known-relays, a key file), and
 * pinned to it from then on. It is apart from wzp-client.c because it is storage, not
 * connection logic: one file, read and written whole.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-client-private.h"

static char *
known_relays_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "wzp", "known-relays", NULL);
}

char *
_wzp_known_relay_lookup (const char *key)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autofree char *path = known_relays_path ();

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, NULL))
    return NULL;
  return g_key_file_get_string (file, "relays", key, NULL);
}

void
_wzp_known_relay_remember (const char *key,
                           const char *fingerprint)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autofree char *path = known_relays_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GError) error = NULL;

  g_key_file_load_from_file (file, path, G_KEY_FILE_KEEP_COMMENTS, NULL);
  g_key_file_set_string (file, "relays", key, fingerprint);
  g_mkdir_with_parents (dir, 0700);
  if (!g_key_file_save_to_file (file, path, &error))
    g_warning ("Could not remember the relay's fingerprint in %s: %s", path, error->message);
}
