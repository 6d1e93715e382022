/* wzp-file.c: reading the files wzp owns, and keeping its folder private
 *
 * Whoever can write to a folder that holds one of our files can put something else under
 * its name: a named pipe, on which open() blocks forever; a link to another file; a file of
 * gigabytes. So a file is opened without following a link and without blocking, and what
 * was opened is then judged by fstat() on the descriptor, never by a look at the name
 * beforehand, which could be answered by one file and the open by another
 * (docs/decisions.md, "Files wzp reads"). The same code serves the library, the relay and,
 * compiled into it, the app, which cannot reach the library's private symbols.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#ifdef WZP_FILE_IN_APP
#include <glib/gi18n.h>
#else
#include "wzp-i18n-private.h"
#endif

#include "wzp-file-private.h"

/* Contents may be a private key: a buffer is wiped before it goes back to the allocator. */
void
_wzp_file_free_contents (char  *contents,
                         gsize  length)
{
  if (contents == NULL)
    return;
  explicit_bzero (contents, length);
  g_free (contents);
}

static const char *
describe_type (mode_t mode)
{
  if (S_ISDIR (mode))
    return _("a folder");
  if (S_ISFIFO (mode))
    return _("a named pipe (FIFO)");
  if (S_ISSOCK (mode))
    return _("a socket");
  if (S_ISCHR (mode))
    return _("a character device");
  if (S_ISBLK (mode))
    return _("a block device");
  if (S_ISLNK (mode))
    return _("a symbolic link");
  return _("something other than a file");
}

/**
 * _wzp_file_read_regular_full:
 * @path: the file
 * @max_size: the largest file accepted, in bytes
 * @flags: %WZP_FILE_FOLLOW_LINKS to accept a symbolic link as the file
 * @out_stat: (out) (optional): the file's status, taken on the descriptor that was read
 * @contents: (out): the contents, NUL-terminated; free with _wzp_file_free_contents()
 * @length: (out): their length, without the NUL
 *
 * Reads @path, which must be a regular file of at most @max_size bytes and, without
 * %WZP_FILE_FOLLOW_LINKS, not a symbolic link. Never blocks on a FIFO or a device.
 *
 * Errors from the system are %G_FILE_ERROR, as g_file_get_contents() gives them
 * (%G_FILE_ERROR_NOENT when there is no file); a file refused for what it is is
 * %G_IO_ERROR: %G_IO_ERROR_NOT_REGULAR_FILE (a link, a folder, a FIFO, a device) or
 * %G_IO_ERROR_INVALID_DATA (larger than @max_size). Messages name the file and say what
 * to do.
 */
gboolean
_wzp_file_read_regular_full (const char   *path,
                             gsize         max_size,
                             WzpFileFlags  flags,
                             struct stat  *out_stat,
                             char        **contents,
                             gsize        *length,
                             GError      **error)
{
  g_autofree char *display_name = g_filename_display_name (path);
  struct stat st;
  char *buffer = NULL;
  gsize allocated;
  gsize size = 0;
  int saved_errno;
  int fd;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (contents != NULL, FALSE);
  g_return_val_if_fail (max_size < G_MAXSIZE / 2, FALSE);

  *contents = NULL;
  if (length != NULL)
    *length = 0;

  /* O_NONBLOCK: opening a FIFO without a writer would wait for one. O_NOFOLLOW: the last
   * component may not be a link (ELOOP); the folders above it are the user's business. */
  do
    fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY |
                     ((flags & WZP_FILE_FOLLOW_LINKS) ? 0 : O_NOFOLLOW));
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    {
      saved_errno = errno;
      if (saved_errno == ELOOP && (flags & WZP_FILE_FOLLOW_LINKS) == 0)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                     _("“%s” is a symbolic link, which wzp does not follow for its own files "
                       "(another program could point it elsewhere). Put the file itself "
                       "there instead of the link."),
                     display_name);
      else
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                     _("Could not open “%s”: %s"), display_name, g_strerror (saved_errno));
      return FALSE;
    }

  if (fstat (fd, &st) != 0)
    {
      saved_errno = errno;
      g_close (fd, NULL);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   _("Could not read “%s”: %s"), display_name, g_strerror (saved_errno));
      return FALSE;
    }

  if (!S_ISREG (st.st_mode))
    {
      g_close (fd, NULL);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                   _("“%s” is %s, not a regular file. Move it away, then try again."),
                   display_name, describe_type (st.st_mode));
      return FALSE;
    }

  if ((guint64) st.st_size > max_size)
    {
      g_autofree char *size_text = g_format_size_full (st.st_size, G_FORMAT_SIZE_IEC_UNITS);
      g_autofree char *max_text = g_format_size_full (max_size, G_FORMAT_SIZE_IEC_UNITS);

      g_close (fd, NULL);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("“%s” is too large (%s, at most %s expected). Move it away, then try "
                     "again."),
                   display_name, size_text, max_text);
      return FALSE;
    }

  /* The size fstat() gave may change while we read: read until the end, and at most one
   * byte more than the cap, to see a file that grew past it. */
  allocated = MAX ((gsize) st.st_size, 256) + 1;
  buffer = g_malloc (allocated);
  for (;;)
    {
      gssize n;

      if (size + 1 == allocated)
        {
          gsize bigger;
          char *grown;

          if (size > max_size)
            break;
          bigger = MIN (allocated * 2, max_size + 2);
          grown = g_malloc (bigger);
          memcpy (grown, buffer, size);
          _wzp_file_free_contents (buffer, allocated);
          buffer = grown;
          allocated = bigger;
        }

      n = read (fd, buffer + size, allocated - 1 - size);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          saved_errno = errno;
          g_close (fd, NULL);
          _wzp_file_free_contents (buffer, allocated);
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                       _("Could not read “%s”: %s"), display_name, g_strerror (saved_errno));
          return FALSE;
        }
      if (n == 0)
        break;
      size += n;
    }
  g_close (fd, NULL);

  if (size > max_size)
    {
      g_autofree char *max_text = g_format_size_full (max_size, G_FORMAT_SIZE_IEC_UNITS);

      _wzp_file_free_contents (buffer, allocated);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("“%s” is too large (more than %s). Move it away, then try again."),
                   display_name, max_text);
      return FALSE;
    }

  /* Shrink to fit, wiping the spare copy: callers keep only what they were given. */
  if (allocated > size + 1)
    {
      char *fitted = g_malloc (size + 1);

      memcpy (fitted, buffer, size);
      _wzp_file_free_contents (buffer, allocated);
      buffer = fitted;
    }
  buffer[size] = '\0';

  if (out_stat != NULL)
    *out_stat = st;
  *contents = buffer;
  if (length != NULL)
    *length = size;
  return TRUE;
}

/**
 * _wzp_file_read_regular:
 *
 * _wzp_file_read_regular_full() without flags (a link is refused) and without the file's
 * status.
 */
gboolean
_wzp_file_read_regular (const char  *path,
                        gsize        max_size,
                        char       **contents,
                        gsize       *length,
                        GError     **error)
{
  return _wzp_file_read_regular_full (path, max_size, WZP_FILE_NONE, NULL, contents, length,
                                      error);
}

/* $XDG_DATA_HOME/wzp: the identity, the known relays, the app's contacts and calls. */
char *
_wzp_file_get_data_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "wzp", NULL);
}

/**
 * _wzp_file_ensure_dir:
 * @path: a folder for wzp's files
 *
 * Makes @path (mode 0700, and its missing parents too) and checks that nobody else can
 * change what is in it.
 *
 * wzp's own folder, _wzp_file_get_data_dir(), is wzp's to keep private: made 0700, and if
 * it has come to give group or others any access, it is set back to 0700 when this user
 * owns it, and refused otherwise. It must not be a symbolic link. A folder the user chose
 * (an identity given with --identity) is theirs: it is never changed, and refused only if
 * others may write to it, unless its sticky bit keeps them from replacing our files (as in
 * /tmp). docs/decisions.md, "Files wzp reads", says why.
 *
 * Returns: %TRUE if the folder is fit; otherwise %G_FILE_ERROR (%G_FILE_ERROR_PERM when
 *   refused), with a message that says what to do.
 */
gboolean
_wzp_file_ensure_dir (const char  *path,
                      GError     **error)
{
  g_autofree char *display_name = g_filename_display_name (path);
  g_autofree char *data_dir = _wzp_file_get_data_dir ();
  g_autofree char *canonical = g_canonicalize_filename (path, NULL);
  g_autofree char *canonical_data_dir = g_canonicalize_filename (data_dir, NULL);
  gboolean ours = g_strcmp0 (canonical, canonical_data_dir) == 0;
  struct stat st;
  int saved_errno;
  int fd;

  if (g_mkdir_with_parents (path, 0700) != 0)
    {
      saved_errno = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   _("Could not create the folder “%s”: %s"),
                   display_name, g_strerror (saved_errno));
      return FALSE;
    }

  /* Judged and changed through one descriptor, so that it is the folder we judged that we
   * change, whatever is renamed meanwhile. */
  do
    fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (ours ? O_NOFOLLOW : 0));
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    {
      saved_errno = errno;
      if (saved_errno == ELOOP && ours)
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                     _("The folder “%s” is a symbolic link, which wzp does not follow for its "
                       "own folder. Put the folder itself there instead of the link."),
                     display_name);
      else
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                     _("Could not open the folder “%s”: %s"),
                     display_name, g_strerror (saved_errno));
      return FALSE;
    }

  if (fstat (fd, &st) != 0)
    {
      saved_errno = errno;
      g_close (fd, NULL);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   _("Could not open the folder “%s”: %s"),
                   display_name, g_strerror (saved_errno));
      return FALSE;
    }

  if (ours && (st.st_mode & 077) != 0)
    {
      mode_t private_mode = st.st_mode & 0700;

      if (st.st_uid != geteuid ())
        {
          g_close (fd, NULL);
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                       _("The folder “%s” belongs to another user and others can use it "
                         "(its mode is %04o). Move it away, then try again."),
                       display_name, (unsigned) (st.st_mode & 07777));
          return FALSE;
        }
      if (fchmod (fd, private_mode) != 0)
        {
          saved_errno = errno;
          g_close (fd, NULL);
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                       _("The folder “%s” can be used by other users (its mode is %04o), "
                         "and could not be made private: %s. Run “chmod 700 %s”, then try "
                         "again."),
                       display_name, (unsigned) (st.st_mode & 07777),
                       g_strerror (saved_errno), display_name);
          return FALSE;
        }
      /* Said once, when it happens: the user may want to know who widened it. */
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "MESSAGE", "Made the folder %s private again (mode %04o, was %04o)",
                        path, (unsigned) private_mode, (unsigned) (st.st_mode & 07777));
    }
  else if (!ours && (st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0)
    {
      g_close (fd, NULL);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                   _("Other users can write to the folder “%s” (its mode is %04o), so they "
                     "could replace wzp's files in it. Run “chmod go-w %s”, or choose "
                     "another folder."),
                   display_name, (unsigned) (st.st_mode & 07777), display_name);
      return FALSE;
    }

  g_close (fd, NULL);
  return TRUE;
}
