/* wzp-identity.c: a key pair, its self-signed certificate and its fingerprint
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wzp-file-private.h"
#include "wzp-i18n-private.h"
#include <glib/gstdio.h>
#include <gio/gio.h>

#include "wzp-identity.h"
#include "wzp-identity-private.h"
#include "wzp-tls-private.h"

/* A key and a certificate take about 1.5 KiB; anything much larger is not ours. */
#define MAX_KEY_FILE_SIZE (64 * 1024)

/**
 * WzpIdentity:
 *
 * Who this client or relay is: an ECDSA P-256 private key, a self-signed X.509
 * certificate for it, and the key's fingerprint.
 *
 * The fingerprint ([property@Wzp.Identity:fingerprint]) is the user's address: people
 * call fingerprints, and every TLS connection in wzp is authenticated by pinning the
 * peer's fingerprint.
 *
 * An identity is made on first use and kept in one PEM file (the private key, then the
 * certificate), by default [func@Wzp.Identity.get_default_path]. The file is written
 * atomically with mode 0600 and is never overwritten; a key file that other users can
 * read or write is refused (%WZP_IDENTITY_ERROR_INSECURE_PERMISSIONS).
 *
 * ```c
 * static void
 * identity_ready_cb (GObject      *source,
 *                    GAsyncResult *result,
 *                    gpointer      user_data)
 * {
 *   g_autoptr(GError) error = NULL;
 *   g_autoptr(WzpIdentity) identity = wzp_identity_load_or_create_finish (result, &error);
 *
 *   if (identity == NULL)
 *     g_printerr ("%s\n", error->message);
 *   else
 *     g_print ("My address is %s\n", wzp_identity_get_fingerprint (identity));
 * }
 *
 * wzp_identity_load_or_create_async (NULL, NULL, identity_ready_cb, NULL);
 * ```
 *
 * Identities are immutable, and safe to share between threads once made.
 *
 * Since: 1.0
 */
struct _WzpIdentity
{
  GObject parent_instance;

  GTlsCertificate *certificate;
  char            *fingerprint;
  char            *path;
};

G_DEFINE_FINAL_TYPE (WzpIdentity, wzp_identity, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_CERTIFICATE,
  PROP_FINGERPRINT,
  PROP_PATH,
  N_PROPS,
};

static GParamSpec *properties[N_PROPS];

static void
wipe_free (char  *secret,
           gsize  length)
{
  if (secret == NULL)
    return;

  explicit_bzero (secret, length);
  g_free (secret);
}

/* Takes @certificate and @fingerprint. */
static WzpIdentity *
wzp_identity_new_take (GTlsCertificate *certificate,
                       char            *fingerprint,
                       const char      *path)
{
  WzpIdentity *self = g_object_new (WZP_TYPE_IDENTITY, NULL);

  self->certificate = certificate;
  self->fingerprint = fingerprint;
  self->path = g_strdup (path);

  return self;
}

static void
wzp_identity_dispose (GObject *object)
{
  WzpIdentity *self = WZP_IDENTITY (object);

  g_clear_object (&self->certificate);

  G_OBJECT_CLASS (wzp_identity_parent_class)->dispose (object);
}

static void
wzp_identity_finalize (GObject *object)
{
  WzpIdentity *self = WZP_IDENTITY (object);

  g_free (self->fingerprint);
  g_free (self->path);

  G_OBJECT_CLASS (wzp_identity_parent_class)->finalize (object);
}

static void
wzp_identity_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  WzpIdentity *self = WZP_IDENTITY (object);

  switch (prop_id)
    {
    case PROP_CERTIFICATE:
      g_value_set_object (value, self->certificate);
      break;

    case PROP_FINGERPRINT:
      g_value_set_string (value, self->fingerprint);
      break;

    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
wzp_identity_class_init (WzpIdentityClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = wzp_identity_dispose;
  object_class->finalize = wzp_identity_finalize;
  object_class->get_property = wzp_identity_get_property;

  /**
   * WzpIdentity:certificate:
   *
   * The self-signed certificate, with its private key, ready to be the certificate of
   * a client or server [class@Gio.TlsConnection].
   *
   * Since: 1.0
   */
  properties[PROP_CERTIFICATE] =
    g_param_spec_object ("certificate", NULL, NULL,
                         G_TYPE_TLS_CERTIFICATE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpIdentity:fingerprint:
   *
   * The fingerprint of the identity's public key, as
   * [func@Wzp.fingerprint_from_certificate] computes it: 8 colon-separated groups of 4
   * lower-case hex digits.
   *
   * Since: 1.0
   */
  properties[PROP_FINGERPRINT] =
    g_param_spec_string ("fingerprint", NULL, NULL,
                         NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpIdentity:path:
   *
   * The file the identity was loaded from or saved to, or %NULL for an identity that
   * exists only in memory.
   *
   * Since: 1.0
   */
  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL,
                         NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
wzp_identity_init (WzpIdentity *self)
{
}

/* Parses a key file's contents; a failure is the file's fault (CORRUPT). */
static WzpIdentity *
identity_from_pem (const char  *pem,
                   gsize        length,
                   const char  *path,
                   GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *display_name = g_filename_display_name (path);
  GTlsCertificate *certificate;
  char *fingerprint = NULL;

  certificate = _wzp_tls_certificate_new_from_pem (pem, length, &fingerprint, &local_error);
  if (certificate == NULL)
    {
      g_set_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_CORRUPT,
                   _("The identity file “%s” is damaged (%s). Restore it from a backup, or "
                     "move it away to make a new identity, which changes your fingerprint."),
                   display_name, local_error->message);
      return NULL;
    }

  return wzp_identity_new_take (certificate, fingerprint, path);
}

/* The identity's errors from the system have always been G_IO_ERROR; wzp-file.c gives
 * G_FILE_ERROR, as GLib's file functions do. */
static void
propagate_as_io_error (GError       **error,
                       const GError  *file_error)
{
  g_set_error_literal (error, G_IO_ERROR, g_io_error_from_file_error (file_error->code),
                       file_error->message);
}

/* Reads the key file. G_IO_ERROR_NOT_FOUND when there is none. The mode and the owner are
 * judged on the descriptor that was read (wzp-file.c), not on the name. */
static char *
read_key_file (const char  *path,
               gsize       *length,
               GError     **error)
{
  g_autofree char *display_name = g_filename_display_name (path);
  g_autoptr(GError) local_error = NULL;
  char *contents = NULL;
  struct stat st;

  if (!_wzp_file_read_regular_full (path, MAX_KEY_FILE_SIZE, WZP_FILE_NONE, &st,
                                    &contents, length, &local_error))
    {
      /* A link, a FIFO, a folder or a huge file where the key should be holds no key. */
      if (local_error->domain == G_IO_ERROR)
        g_set_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_CORRUPT,
                     _("The identity file cannot be used: %s"), local_error->message);
      else
        propagate_as_io_error (error, local_error);
      return NULL;
    }

  /* Root can read anything (docs/decisions.md, "Key files are judged by their mode bits");
   * a key another user wrote would be theirs, not ours. */
  if ((st.st_mode & 077) != 0 || st.st_uid != geteuid ())
    {
      _wzp_file_free_contents (contents, *length);
      if ((st.st_mode & 077) != 0)
        g_set_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_INSECURE_PERMISSIONS,
                     _("The identity file “%s” can be read or written by other users "
                       "(its mode is %04o). Make it private with “chmod 600 %s”, then try "
                       "again."),
                     display_name, (unsigned) (st.st_mode & 07777), display_name);
      else
        g_set_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_INSECURE_PERMISSIONS,
                     _("The identity file “%s” belongs to another user. Use your own "
                       "identity file, or move this one away to make a new identity."),
                     display_name);
      return NULL;
    }

  return contents;
}

/* Writes @pem to @path atomically, mode 0600, unless @path exists: then returns FALSE
 * with G_IO_ERROR_EXISTS, and the caller loads the file that won. */
static gboolean
write_key_file_exclusive (const char  *path,
                          const char  *pem,
                          GError     **error)
{
  g_autofree char *display_name = g_filename_display_name (path);
  g_autofree char *tmp_path = NULL;
  int saved_errno;

  /* The folder exists: load_or_create() made it. */
  /* g_file_set_contents_full() writes a temporary file, syncs it and renames it, so a
   * crash leaves either nothing or a complete file, never a world-readable one. It
   * renames over the target, though: write under a name of our own, then link(2) it
   * into place, which fails if another process made the identity meanwhile. */
  tmp_path = g_strdup_printf ("%s.new-%08x%08x", path, g_random_int (), g_random_int ());
  if (!g_file_set_contents_full (tmp_path, pem, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                 error))
    return FALSE;

  if (link (tmp_path, path) == 0)
    {
      g_unlink (tmp_path);
      return TRUE;
    }

  saved_errno = errno;
  if (saved_errno == EEXIST)
    {
      g_unlink (tmp_path);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   _("The identity file “%s” already exists"), display_name);
      return FALSE;
    }

  /* Some file systems have no hard links: rename, which is still atomic. */
  if ((saved_errno == EPERM || saved_errno == EOPNOTSUPP || saved_errno == ENOSYS) &&
      !g_file_test (path, G_FILE_TEST_EXISTS) && g_rename (tmp_path, path) == 0)
    return TRUE;

  g_unlink (tmp_path);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               _("Could not save the identity file “%s”: %s"),
               display_name, g_strerror (saved_errno));
  return FALSE;
}

static WzpIdentity *
create_identity (const char    *path,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  GTlsCertificate *certificate;
  char *fingerprint = NULL;
  char *pem;
  gboolean written;

  pem = _wzp_tls_generate_pem (error);
  if (pem == NULL)
    return NULL;

  /* Parsed back, as a load would: what we save must be loadable. */
  certificate = _wzp_tls_certificate_new_from_pem (pem, -1, &fingerprint, &local_error);
  if (certificate == NULL)
    {
      wipe_free (pem, strlen (pem));
      g_set_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_GENERATION_FAILED,
                   _("The new identity is not usable: %s"), local_error->message);
      return NULL;
    }

  written = !g_cancellable_set_error_if_cancelled (cancellable, error) &&
            write_key_file_exclusive (path, pem, error);
  wipe_free (pem, strlen (pem));

  if (!written)
    {
      g_object_unref (certificate);
      g_free (fingerprint);
      return NULL;
    }

  g_debug ("Made a new identity %s in %s", fingerprint, path);
  return wzp_identity_new_take (certificate, fingerprint, path);
}

static WzpIdentity *
load_or_create (const char    *path,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GError) dir_error = NULL;

  /* Whoever can write to the folder can swap the key (wzp-file.c). */
  if (!_wzp_file_ensure_dir (dir, &dir_error))
    {
      propagate_as_io_error (error, dir_error);
      return NULL;
    }

  /* Twice at most: a lost race to create the file means the next load finds it. */
  for (unsigned attempt = 0; attempt < 2; attempt++)
    {
      g_autoptr(GError) local_error = NULL;
      WzpIdentity *identity;
      char *contents;
      gsize length = 0;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;

      contents = read_key_file (path, &length, &local_error);
      if (contents != NULL)
        {
          identity = identity_from_pem (contents, length, path, error);
          _wzp_file_free_contents (contents, length);
          return identity;
        }

      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      g_clear_error (&local_error);

      identity = create_identity (path, cancellable, &local_error);
      if (identity != NULL)
        return identity;

      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS) || attempt > 0)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
    }

  g_assert_not_reached ();
}

static void
load_or_create_thread (GTask        *task,
                       gpointer      source_object,
                       gpointer      task_data,
                       GCancellable *cancellable)
{
  const char *path = task_data;
  GError *error = NULL;
  WzpIdentity *identity;

  identity = load_or_create (path, cancellable, &error);
  if (identity == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, identity, g_object_unref);
}

/**
 * wzp_identity_load_or_create_async:
 * @path: (nullable) (type filename): the key file, or %NULL for
 *   [func@Wzp.Identity.get_default_path]
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async): called when the identity is ready
 * @user_data: (closure): data for @callback
 *
 * Loads the identity kept in @path, or makes a new one and saves it there if the file
 * does not exist.
 *
 * A new identity is an ECDSA P-256 key and a self-signed certificate. The file is
 * written atomically with mode 0600 (its folder is made with mode 0700), so a crash
 * never leaves a partial or readable key behind; if another process makes the same
 * file at the same time, both end up with the one that was saved first.
 *
 * An existing file is never overwritten. The operation fails with
 * %WZP_IDENTITY_ERROR_INSECURE_PERMISSIONS if the file's mode gives any access to group
 * or others, or another user owns it, and with %WZP_IDENTITY_ERROR_CORRUPT if it does not
 * hold a private key and the matching certificate, or is not a regular file (a symbolic
 * link, a folder, a named pipe: it is opened without following a link and without
 * blocking, then judged on what was opened). The messages name the file and say what to
 * do.
 *
 * The file's folder must be private: wzp's own folder (that of
 * [func@Wzp.Identity.get_default_path]) is made mode 0700, and set back to 0700 if it
 * gives group or others access; another folder is refused (%G_IO_ERROR_PERMISSION_DENIED)
 * if users other than its owner can write to it, unless it has the sticky bit.
 *
 * Key generation and file access run in a worker thread; @callback runs in the
 * thread-default main context of the caller. Finish with
 * [func@Wzp.Identity.load_or_create_finish].
 *
 * Since: 1.0
 */
void
wzp_identity_load_or_create_async (const char          *path,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (path == NULL || *path != '\0');
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, wzp_identity_load_or_create_async);
  g_task_set_task_data (task,
                        path != NULL ? g_strdup (path) : wzp_identity_get_default_path (),
                        g_free);
  g_task_run_in_thread (task, load_or_create_thread);
}

/**
 * wzp_identity_load_or_create_finish:
 * @result: the result passed to the callback
 * @error: return location for a [error@Wzp.IdentityError] or [error@Gio.IOErrorEnum]
 *
 * Finishes [func@Wzp.Identity.load_or_create_async].
 *
 * Returns: (transfer full): the identity, or %NULL on error
 *
 * Since: 1.0
 */
WzpIdentity *
wzp_identity_load_or_create_finish (GAsyncResult  *result,
                                    GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        wzp_identity_load_or_create_async, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * wzp_identity_get_default_path:
 *
 * Gets where an identity is kept when no path is given:
 * `$XDG_DATA_HOME/wzp/identity.pem`, usually `~/.local/share/wzp/identity.pem`.
 *
 * Returns: (transfer full) (type filename): the default key file
 *
 * Since: 1.0
 */
char *
wzp_identity_get_default_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "wzp", "identity.pem", NULL);
}

/**
 * wzp_identity_get_fingerprint:
 * @self: an identity
 *
 * Gets the identity's fingerprint, which is the address others call.
 *
 * Returns: (transfer none): the fingerprint (`1a2b:3c4d:…`, 39 characters)
 *
 * Since: 1.0
 */
const char *
wzp_identity_get_fingerprint (WzpIdentity *self)
{
  g_return_val_if_fail (WZP_IS_IDENTITY (self), NULL);

  return self->fingerprint;
}

/**
 * wzp_identity_get_path:
 * @self: an identity
 *
 * Gets the file the identity is kept in.
 *
 * Returns: (transfer none) (nullable) (type filename): the key file, or %NULL for an
 *   identity that exists only in memory
 *
 * Since: 1.0
 */
const char *
wzp_identity_get_path (WzpIdentity *self)
{
  g_return_val_if_fail (WZP_IS_IDENTITY (self), NULL);

  return self->path;
}

/**
 * wzp_identity_get_certificate:
 * @self: an identity
 *
 * Gets the identity's certificate, with its private key.
 *
 * Returns: (transfer none): the certificate
 *
 * Since: 1.0
 */
GTlsCertificate *
wzp_identity_get_certificate (WzpIdentity *self)
{
  g_return_val_if_fail (WZP_IS_IDENTITY (self), NULL);

  return self->certificate;
}

WzpIdentity *
_wzp_identity_new_ephemeral (GError **error)
{
  GTlsCertificate *certificate;
  char *fingerprint = NULL;
  char *pem;

  pem = _wzp_tls_generate_pem (error);
  if (pem == NULL)
    return NULL;

  certificate = _wzp_tls_certificate_new_from_pem (pem, -1, &fingerprint, error);
  wipe_free (pem, strlen (pem));
  if (certificate == NULL)
    return NULL;

  return wzp_identity_new_take (certificate, fingerprint, NULL);
}
