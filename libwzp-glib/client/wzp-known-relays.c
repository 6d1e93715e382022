/* wzp-known-relays.c: trust on first use for relays
 *
 * A relay dialled without a fingerprint in its URI is remembered with the fingerprint it
 * showed the first time ($XDG_DATA_HOME/wzp/known-relays, a key file), and pinned to it
 * from then on. It is apart from wzp-client.c because it is storage, not connection
 * logic: one small file, read and written whole. docs/identity.md ("Relays trusted on
 * first use") gives the format and what happens when the file cannot be read, written
 * or parsed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>

#include <glib/gstdio.h>

#include "wzp-address-private.h"
#include "wzp-client-private.h"
#include "wzp-file-private.h"
#include "wzp-i18n-private.h"
#include "wzp-relay-uri-private.h"

#define GROUP "relays"

/* A line is about 100 bytes: ten thousand relays. A larger file is not ours, and is not
 * read into memory. */
#define KNOWN_RELAYS_MAX_SIZE (1024 * 1024)

/* Key file keys cannot hold "[", "]" or "=", nor begin or end with a space. Keys are the
 * relay's name percent-encoded as in URIs, "%" included so that they read back; these
 * characters stay as they are, so HOST:PORT keys of earlier versions read the same. */
#define KEY_RESERVED_CHARS_ALLOWED ":!$&'()*+,;@"

#define HEADER_COMMENT \
  " Relays that wzp trusted on first use: HOST:PORT=FINGERPRINT, where an IPv6 address\n" \
  " [ADDRESS]:PORT is written %5BADDRESS%5D:PORT. Removing a line makes wzp trust the\n" \
  " relay's key on its next connection again."

static char *
known_relays_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "wzp", "known-relays", NULL);
}

/* One spelling per host: an IP address in GIO's form (zone kept as written, IPv4-mapped as
 * IPv4: docs/protocol.md, "Value formats"), a host name in ASCII lower case (what DNS
 * compares). */
static char *
canonical_host (const char *host)
{
  const char *zone = strchr (host, '%');
  g_autofree char *bare = zone != NULL ? g_strndup (host, zone - host) : g_strdup (host);
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (bare);
  char *ascii;

  if (address != NULL)
    {
      g_autofree char *text = _wzp_address_ip_to_string (address);

      return g_strconcat (text, zone, NULL);
    }
  ascii = g_hostname_to_ascii (host);
  return ascii != NULL ? ascii : g_ascii_strdown (host, -1);
}

char *
_wzp_known_relay_key (const char *host,
                      guint16     port)
{
  g_autofree char *canonical = canonical_host (host);

  return _wzp_address_format_host (canonical, port);
}

/* The relay (as _wzp_known_relay_key() names it) that a key of the file stands for, or
 * NULL if it names none. Also reads keys that were never encoded ("[::1]:4433"). */
char *
_wzp_known_relays_relay_from_key (const char *key)
{
  g_autofree char *text = g_uri_unescape_string (key, NULL);
  g_autofree char *host = NULL;
  guint16 port;

  if (text == NULL || !g_utf8_validate (text, -1, NULL) ||
      !_wzp_relay_uri_parse_host_port (text, 0, &host, &port))
    return NULL;
  return _wzp_known_relay_key (host, port);
}

/* An entry of another relay that is not a pin is passed over. The file is the user's
 * input, not a bug in a program: a message, not a warning (docs/decisions.md, "Client and
 * calls"), which G_DEBUG=fatal-warnings would make abort the program. Each entry is told
 * once per process, or every reconnection would repeat it. */
static void
report_ignored_entry (const char *display_name,
                      const char *key,
                      const char *value)
{
  static GMutex mutex;
  static GHashTable *reported;   /* "PATH\nKEY=VALUE" */
  g_autofree char *entry = g_strdup_printf ("%s\n%s=%s", display_name, key,
                                            value != NULL ? value : "");
  gboolean is_new;

  g_mutex_lock (&mutex);
  if (reported == NULL)
    reported = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  is_new = g_hash_table_add (reported, g_steal_pointer (&entry));
  g_mutex_unlock (&mutex);

  if (is_new)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "MESSAGE", "Ignoring the entry “%s” of %s: it is not a relay's address "
                      "and fingerprint", key, display_name);
}

void
_wzp_known_relays_set_pin (GKeyFile   *file,
                           const char *relay,
                           const char *fingerprint)
{
  g_autofree char *key = g_uri_escape_string (relay, KEY_RESERVED_CHARS_ALLOWED, TRUE);

  g_key_file_set_string (file, GROUP, key, fingerprint);
}

/* Sets *@out_fingerprint to @relay's pin in @file (NULL: none). An entry for @relay that
 * is not a fingerprint, or two entries for it that disagree (one host spelt two ways by
 * an earlier version), are errors; entries that do not parse are passed over, with a
 * message, and stay in the file. */
gboolean
_wzp_known_relays_find_pin (GKeyFile    *file,
                            const char  *path,
                            const char  *relay,
                            char       **out_fingerprint,
                            GError     **error)
{
  g_autofree char *display_name = g_filename_display_name (path);
  g_auto(GStrv) keys = g_key_file_get_keys (file, GROUP, NULL, NULL);
  g_autofree char *found = NULL;

  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      g_autofree char *named = _wzp_known_relays_relay_from_key (keys[i]);
      g_autofree char *value = g_key_file_get_string (file, GROUP, keys[i], NULL);
      gboolean mine = g_strcmp0 (named, relay) == 0;

      if (value != NULL)
        g_strstrip (value);
      if (named == NULL || value == NULL || !wzp_fingerprint_is_valid (value))
        {
          if (mine)
            {
              g_set_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_KNOWN_RELAYS,
                           _("The key remembered for the relay at %s in %s (“%s”) is not a "
                             "fingerprint. Correct or remove that line, then connect again."),
                           relay, display_name, value != NULL ? value : "");
              return FALSE;
            }
          report_ignored_entry (display_name, keys[i], value);
          continue;
        }
      if (!mine)
        continue;
      if (found != NULL && strcmp (found, value) != 0)
        {
          g_set_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_KNOWN_RELAYS,
                       _("%s remembers two keys for the relay at %s (%s and %s). Remove "
                         "the line that is wrong, then connect again."),
                       display_name, relay, found, value);
          return FALSE;
        }
      g_free (found);
      found = g_steal_pointer (&value);
    }

  *out_fingerprint = g_steal_pointer (&found);
  return TRUE;
}

/* Whoever writes the file holds an advisory lock on PATH.lock from reading it to writing
 * it, so that two programs saving at once see each other's pins (docs/identity.md,
 * "The file"). Readers take none: the file is only ever replaced whole. The lock belongs
 * to the open descriptor, so it goes with it, also when the program dies. */
typedef int KnownRelaysLock;

#define LOCK_WAIT_MAX_US   (2 * G_USEC_PER_SEC)
#define LOCK_WAIT_STEP_US  5000

static void
unlock_known_relays (KnownRelaysLock fd)
{
  g_close (fd, NULL);
}

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (KnownRelaysLock, unlock_known_relays, -1)

/* Makes the folder of @path (mode 0700) and takes the lock, waiting while another program
 * holds it, for two seconds at most; returns the descriptor, or -1 (G_FILE_ERROR). */
static KnownRelaysLock
lock_known_relays (const char  *path,
                   GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *lock_path = g_strconcat (path, ".lock", NULL);
  g_autofree char *display_name = NULL;
  g_autoptr(GError) dir_error = NULL;
  gboolean made_dir = _wzp_file_ensure_dir (dir, &dir_error);
  int fd = made_dir ? g_open (lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)
                    : -1;
  gint64 give_up_us = g_get_monotonic_time () + LOCK_WAIT_MAX_US;
  int result = -1;
  int saved_errno;

  /* Another program holds the lock for one read and one write of a small file; a holder
   * that never lets go (stopped in a debugger, a hung NFS home) must not freeze the
   * caller's main loop, so the wait is bounded. */
  while (fd >= 0 && (result = flock (fd, LOCK_EX | LOCK_NB)) != 0 &&
         (errno == EINTR || errno == EWOULDBLOCK) && g_get_monotonic_time () < give_up_us)
    g_usleep (LOCK_WAIT_STEP_US);
  if (result == 0)
    return fd;

  saved_errno = errno;
  if (fd >= 0)
    g_close (fd, NULL);
  if (!made_dir)
    {
      g_propagate_error (error, g_steal_pointer (&dir_error));
      return -1;
    }
  display_name = g_filename_display_name (lock_path);
  if (made_dir && saved_errno == EWOULDBLOCK)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_AGAIN,
                 _("Could not lock %s: another program has held it for two seconds"),
                 display_name);
  else
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                 _("Could not lock %s: %s"), display_name, g_strerror (saved_errno));
  return -1;
}

/* Writes @file to @path atomically (a crash leaves the old file or the new one), mode
 * 0600; the caller holds the lock, so the folder exists. G_FILE_ERROR on failure. */
static gboolean
write_file (GKeyFile    *file,
            const char  *path,
            GError     **error)
{
  g_autofree char *comment = g_key_file_get_comment (file, NULL, NULL, NULL);
  g_autofree char *data = NULL;
  gsize length;

  if (comment == NULL || *comment == '\0')
    g_key_file_set_comment (file, NULL, NULL, HEADER_COMMENT, NULL);
  data = g_key_file_to_data (file, &length, NULL);
  return g_file_set_contents_full (path, data, length, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                   error);
}

/* Copies the file at @path to PATH.damaged-TIME[-N], a name no other file has (the copy
 * is made with O_EXCL); returns that name. */
static char *
copy_aside (const char  *path,
            GError     **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%dT%H%M%SZ");
  g_autoptr(GFile) source = g_file_new_for_path (path);
  g_autoptr(GError) local_error = NULL;

  for (guint n = 1; n <= 100; n++)
    {
      g_autofree char *aside = n == 1 ? g_strdup_printf ("%s.damaged-%s", path, stamp)
                                      : g_strdup_printf ("%s.damaged-%s-%u", path, stamp, n);
      g_autoptr(GFile) target = g_file_new_for_path (aside);

      g_clear_error (&local_error);
      if (g_file_copy (source, target, G_FILE_COPY_NOFOLLOW_SYMLINKS, NULL, NULL, NULL,
                       &local_error))
        return g_steal_pointer (&aside);
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
        break;
    }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

/* Copies into @fresh every line of @contents that still reads as a pin; returns how many
 * relays it pins. */
guint
_wzp_known_relays_salvage (GKeyFile   *fresh,
                           const char *contents)
{
  g_auto(GStrv) lines = g_strsplit (contents, "\n", -1);
  g_auto(GStrv) keys = NULL;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *equals = strchr (lines[i], '=');
      g_autofree char *relay = NULL;
      char *value;

      if (equals == NULL || !g_utf8_validate (lines[i], -1, NULL))
        continue;
      *equals = '\0';
      relay = _wzp_known_relays_relay_from_key (g_strstrip (lines[i]));
      value = g_strstrip (equals + 1);
      if (relay != NULL && wzp_fingerprint_is_valid (value))
        _wzp_known_relays_set_pin (fresh, relay, value);
    }
  keys = g_key_file_get_keys (fresh, GROUP, NULL, NULL);
  return keys != NULL ? g_strv_length (keys) : 0;
}

/* Fails with a damaged file's report (WZP_CLIENT_ERROR_KNOWN_RELAYS), which goes to the
 * log as well: the user must learn that pins may be lost (docs/identity.md). A message,
 * not a warning: the file is input (docs/decisions.md, "Client and calls"). */
G_GNUC_PRINTF (2, 3)
static gboolean
damaged (GError     **error,
         const char  *format,
         ...)
{
  g_autofree char *report = NULL;
  va_list args;

  va_start (args, format);
  report = g_strdup_vprintf (format, args);
  va_end (args);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE", "%s", report);
  g_set_error_literal (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_KNOWN_RELAYS, report);
  return FALSE;
}

/* The file at @path does not parse (@reason); the caller holds the lock. It is kept as
 * PATH.damaged-TIME, and a new file holds the pins that its lines still give. Always
 * fails. */
static gboolean
set_aside (const char    *path,
           const char    *contents,
           const GError  *reason,
           GError       **error)
{
  g_autofree char *display_name = g_filename_display_name (path);
  g_autoptr(GKeyFile) fresh = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *aside = copy_aside (path, &local_error);
  g_autofree char *display_aside = NULL;
  guint kept;

  if (aside == NULL)
    return damaged (error, _("The file of known relays %s is damaged (%s), and could not be "
                             "kept under another name (%s). Repair or move it, then connect "
                             "again."),
                    display_name, reason->message, local_error->message);

  display_aside = g_filename_display_name (aside);
  kept = _wzp_known_relays_salvage (fresh, contents);
  if (!write_file (fresh, path, &local_error))
    {
      /* The copy holds it; without the damaged file the next connection can go on. */
      g_unlink (path);
      return damaged (error, _("The file of known relays %s was damaged (%s). It was moved "
                               "to %s, but a new one could not be written: %s"),
                      display_name, reason->message, display_aside, local_error->message);
    }
  return damaged (error, _("The file of known relays %s was damaged (%s) and was kept as "
                           "%s. The keys of %u relays could be read from it and stay pinned; "
                           "any other relay you trusted before will be trusted on its next "
                           "connection as if it were new. Check the copy, then connect "
                           "again."),
                  display_name, reason->message, display_aside, kept);
}

/* Reads the file into @file; a missing one is empty. @locked: the caller holds the lock.
 *
 * A file that cannot be read is G_FILE_ERROR, which the client retries (docs/identity.md,
 * "When the file is wrong"). One that does not parse is read again under the lock (another
 * program may have repaired it meanwhile) and, if still damaged, set aside:
 * WZP_CLIENT_ERROR_KNOWN_RELAYS. */
static gboolean
load (GKeyFile    *file,
      const char  *path,
      gboolean     locked,
      GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GError) lock_error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *display_name = g_filename_display_name (path);
  g_autofree char *dir = g_path_get_dirname (path);
  g_auto(KnownRelaysLock) lock = -1;
  gsize length;

  /* The pins are only as safe as the folder that holds them (wzp-file.c). */
  if (!_wzp_file_ensure_dir (dir, error))
    return FALSE;
  if (!_wzp_file_read_regular (path, KNOWN_RELAYS_MAX_SIZE, &contents, &length, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      /* A link, a FIFO, a folder or a huge file (G_IO_ERROR) is not set aside as a
       * damaged file is (a copy would follow the link, or block on the FIFO): it is an
       * unreadable file, G_FILE_ERROR like the others, and the message says what to do. */
      if (local_error->domain == G_IO_ERROR)
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                       _("Could not read the known relays in %s: %s"),
                       display_name, local_error->message);
          return FALSE;
        }
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  _("Could not read the known relays in %s: "), display_name);
      return FALSE;
    }
  if (g_key_file_load_from_data (file, contents, length, G_KEY_FILE_KEEP_COMMENTS,
                                 &local_error))
    return TRUE;
  if (locked)
    return set_aside (path, contents, local_error, error);

  lock = lock_known_relays (path, &lock_error);
  if (lock < 0)
    return damaged (error, _("The file of known relays %s is damaged (%s), and could not be "
                             "repaired: %s. Repair or move it, then connect again."),
                    display_name, local_error->message, lock_error->message);
  return load (file, path, TRUE, error);
}

gboolean
_wzp_known_relay_lookup (const char  *key,
                         char       **out_fingerprint,
                         GError     **error)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autofree char *path = known_relays_path ();

  *out_fingerprint = NULL;
  return load (file, path, FALSE, error) &&
         _wzp_known_relays_find_pin (file, path, key, out_fingerprint, error);
}

static gboolean
save_failed (const char  *path,
             GError      *reason,
             GError     **error)
{
  g_autofree char *display_name = g_filename_display_name (path);

  g_set_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_KNOWN_RELAYS,
               _("Could not remember the relay's key in %s: %s"),
               display_name, reason->message);
  return FALSE;
}

gboolean
_wzp_known_relay_remember (const char  *key,
                           const char  *fingerprint,
                           GError     **error)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *path = known_relays_path ();
  g_autofree char *pinned = NULL;
  g_auto(KnownRelaysLock) lock = lock_known_relays (path, &local_error);

  if (lock < 0)
    return save_failed (path, local_error, error);
  /* Read again, under the lock: another program may have remembered this relay since the
   * lookup, and none can until this one has written. */
  if (!load (file, path, TRUE, error) ||
      !_wzp_known_relays_find_pin (file, path, key, &pinned, error))
    return FALSE;
  if (pinned != NULL && strcmp (pinned, fingerprint) != 0)
    {
      g_set_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED,
                   _("The relay at %s showed the key %s, but another program has just "
                     "remembered %s for it."), key, fingerprint, pinned);
      return FALSE;
    }
  if (pinned != NULL)
    return TRUE;

  _wzp_known_relays_set_pin (file, key, fingerprint);
  if (!write_file (file, path, &local_error))
    return save_failed (path, local_error, error);
  return TRUE;
}
