/* test-identity.c: WzpIdentity storage, permissions, corruption and fingerprints
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "test-util.h"
#include "wzp-fingerprint-private.h"
#include "wzp-identity-private.h"
#include "wzp-tls-private.h"

#define LOAD_TIMEOUT_MS 20000

#define FINGERPRINT_PATTERN "^[0-9a-f]{4}(:[0-9a-f]{4}){7}$"

/* An EC P-256 certificate made with OpenSSL, and its fingerprint computed with
 * `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum`. */
static const char kat_certificate[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIBijCCATGgAwIBAgIUCl0lTxDCHCrJqVbopJyydXuBc6owCgYIKoZIzj0EAwIw\n"
  "GjEYMBYGA1UEAwwPd3pwIHRlc3QgdmVjdG9yMCAXDTI2MTEyNTA1MzgyOVoYDzIx\n"
  "MjYxMTAxMDUzODI5WjAaMRgwFgYDVQQDDA93enAgdGVzdCB2ZWN0b3IwWTATBgcq\n"
  "hkjOPQIBBggqhkjOPQMBBwNCAATxVovAHNQLfU2zqYlJVq5fjFzlXqXfSRyA+62e\n"
  "2mn2MwmsCSC/o6DlmnExGH9MnRlKzJ9nfAOAulnIVyN1RpwJo1MwUTAdBgNVHQ4E\n"
  "FgQUo+BVOAYLBW4TErwTtqYWXXuaRoQwHwYDVR0jBBgwFoAUo+BVOAYLBW4TErwT\n"
  "tqYWXXuaRoQwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBnI1uf\n"
  "XwrmnJmr/3akWwULmvxnSsnWs0awScVEuk4wFwIgd0QYC9mPcqro0zRfjBRQ5pnD\n"
  "H0JvcUOSwcqEvHvrIk0=\n"
  "-----END CERTIFICATE-----\n";
static const char kat_fingerprint[] = "fca5:c1c3:b1ea:bd75:eda8:f572:da09:935b";

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

static WzpIdentity *
load_identity_full (const char    *path,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  wzp_identity_load_or_create_async (path, cancellable, store_result_cb, &result);
  wzp_test_wait_pointer ((gpointer *) &result, LOAD_TIMEOUT_MS);

  return wzp_identity_load_or_create_finish (result, error);
}

static WzpIdentity *
load_identity (const char  *path,
               GError     **error)
{
  return load_identity_full (path, NULL, error);
}

static unsigned
file_mode (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static unsigned
count_dir_entries (const char *dir_path)
{
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  unsigned n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
write_file (const char *path,
            const char *contents,
            gssize      length,
            int         mode)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents_full (path, contents, length, G_FILE_SET_CONTENTS_CONSISTENT, mode,
                            &error);
  g_assert_no_error (error);
  /* The umask must not decide what the test checks. */
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
}

static void
test_default_path (void)
{
  g_autofree char *path = wzp_identity_get_default_path ();
  g_autofree char *expected = g_build_filename (g_get_user_data_dir (), "wzp", "identity.pem",
                                                NULL);

  g_assert_cmpstr (path, ==, expected);
}

static void
test_create_then_load (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = wzp_identity_get_default_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *contents = NULL;
  g_autofree char *fingerprint = NULL;
  WzpIdentity *created, *loaded;
  const char *key_at, *cert_at;

  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  created = load_identity (NULL, &error);
  g_assert_no_error (error);
  g_assert_true (WZP_IS_IDENTITY (created));
  g_assert_cmpstr (wzp_identity_get_path (created), ==, path);
  g_assert_true (wzp_fingerprint_is_valid (wzp_identity_get_fingerprint (created)));
  fingerprint = g_strdup (wzp_identity_get_fingerprint (created));

  /* Private: the file 0600, the folder 0700, and nothing else left in it. */
  g_assert_cmpuint (file_mode (path), ==, 0600);
  g_assert_cmpuint (file_mode (dir), ==, 0700);
  g_assert_cmpuint (count_dir_entries (dir), ==, 1);

  /* One PEM file: the key, then the certificate. */
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  key_at = strstr (contents, "-----BEGIN PRIVATE KEY-----");
  cert_at = strstr (contents, "-----BEGIN CERTIFICATE-----");
  g_assert_true (key_at == contents);
  g_assert_nonnull (cert_at);
  g_assert_true (cert_at > key_at);

  loaded = load_identity (path, &error);
  g_assert_no_error (error);
  g_assert_true (loaded != created);
  g_assert_cmpstr (wzp_identity_get_fingerprint (loaded), ==, fingerprint);
  g_assert_true (g_tls_certificate_is_same (wzp_identity_get_certificate (loaded),
                                            wzp_identity_get_certificate (created)));

  /* Loading did not rewrite the file. */
  {
    g_autofree char *again = NULL;

    g_assert_true (g_file_get_contents (path, &again, NULL, NULL));
    g_assert_cmpstr (again, ==, contents);
    g_assert_cmpuint (file_mode (path), ==, 0600);
  }

  g_assert_finalize_object (loaded);
  g_assert_finalize_object (created);
}

static void
test_explicit_path (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *base = g_build_filename (g_get_user_data_dir (), "a", NULL);
  g_autofree char *dir = g_build_filename (base, "b", NULL);
  g_autofree char *path = g_build_filename (dir, "me.pem", NULL);
  WzpIdentity *identity;

  identity = load_identity (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (wzp_identity_get_path (identity), ==, path);
  g_assert_cmpuint (file_mode (path), ==, 0600);
  g_assert_cmpuint (file_mode (dir), ==, 0700);
  g_assert_cmpuint (file_mode (base), ==, 0700);
  g_assert_finalize_object (identity);
}

static void
test_properties (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *path = NULL;
  g_autofree char *private_key_pem = NULL;
  WzpIdentity *identity;
  GParamSpec *pspec;

  identity = load_identity (NULL, &error);
  g_assert_no_error (error);

  g_object_get (identity,
                "certificate", &certificate,
                "fingerprint", &fingerprint,
                "path", &path,
                NULL);
  g_assert_true (certificate == wzp_identity_get_certificate (identity));
  g_assert_cmpstr (fingerprint, ==, wzp_identity_get_fingerprint (identity));
  g_assert_cmpstr (path, ==, wzp_identity_get_path (identity));

  /* The certificate carries its private key, so GIO can present it. */
  g_object_get (certificate, "private-key-pem", &private_key_pem, NULL);
  g_assert_nonnull (private_key_pem);

  /* Immutable: read-only properties. */
  for (const char *const *name = (const char *const[]) { "certificate", "fingerprint",
                                                          "path", NULL };
       *name != NULL; name++)
    {
      pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (identity), *name);
      g_assert_nonnull (pspec);
      g_assert_true (pspec->flags & G_PARAM_READABLE);
      g_assert_false (pspec->flags & G_PARAM_WRITABLE);
    }

  g_clear_object (&certificate);
  g_assert_finalize_object (identity);
}

static void
test_certificate (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) der = NULL;
  g_autoptr(GDateTime) not_before = NULL;
  g_autoptr(GDateTime) not_after = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *subject = NULL;
  g_autofree char *issuer = NULL;
  gnutls_x509_crt_t crt;
  gnutls_datum_t datum;
  unsigned bits = 0;
  guint8 key_id[32];
  size_t key_id_size = sizeof key_id;
  g_autofree char *from_key_id = NULL;
  GString *hex;
  WzpIdentity *identity;

  identity = _wzp_identity_new_ephemeral (&error);
  g_assert_no_error (error);
  g_assert_null (wzp_identity_get_path (identity));

  g_object_get (wzp_identity_get_certificate (identity),
                "certificate", &der,
                "not-valid-before", &not_before,
                "not-valid-after", &not_after,
                "subject-name", &subject,
                "issuer-name", &issuer,
                NULL);
  g_assert_nonnull (der);
  g_assert_cmpstr (subject, ==, issuer);
  g_assert_true (g_date_time_compare (not_before, now) <= 0);
  /* Long validity: identities do not expire in practice. */
  g_assert_cmpint (g_date_time_get_year (not_after), >=, g_date_time_get_year (now) + 50);

  g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
  datum.data = der->data;
  datum.size = der->len;
  g_assert_cmpint (gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_DER), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_get_version (crt), ==, 3);
  g_assert_cmpint (gnutls_x509_crt_get_pk_algorithm (crt, &bits), ==, GNUTLS_PK_ECDSA);
  g_assert_cmpuint (bits, ==, 256);
  g_assert_cmpint (gnutls_x509_crt_check_issuer (crt, crt), ==, 1);

  /* GnuTLS's SHA-256 key ID is the same hash over the SubjectPublicKeyInfo. */
  g_assert_cmpint (gnutls_x509_crt_get_key_id (crt, GNUTLS_KEYID_USE_SHA256, key_id,
                                               &key_id_size), ==, 0);
  hex = g_string_new (NULL);
  for (unsigned i = 0; i < 16; i += 2)
    g_string_append_printf (hex, "%s%02x%02x", i > 0 ? ":" : "", key_id[i], key_id[i + 1]);
  from_key_id = g_string_free (hex, FALSE);
  g_assert_cmpstr (from_key_id, ==, wzp_identity_get_fingerprint (identity));

  gnutls_x509_crt_deinit (crt);
  g_assert_finalize_object (identity);
}

static void
test_ephemeral (void)
{
  WzpIdentity *a = wzp_test_identity_new ();
  WzpIdentity *b = wzp_test_identity_new ();

  g_assert_cmpstr (wzp_identity_get_fingerprint (a), !=, wzp_identity_get_fingerprint (b));
  g_assert_null (wzp_identity_get_path (a));
  g_assert_finalize_object (a);
  g_assert_finalize_object (b);
}

static void
check_insecure_mode (unsigned mode)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = wzp_identity_get_default_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  WzpIdentity *identity;

  g_test_message ("mode %04o", mode);

  identity = load_identity (NULL, &error);
  g_assert_no_error (error);
  g_assert_finalize_object (identity);
  g_assert_true (g_file_get_contents (path, &before, NULL, NULL));

  g_assert_cmpint (g_chmod (path, mode), ==, 0);
  identity = load_identity (NULL, &error);
  g_assert_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_INSECURE_PERMISSIONS);
  g_assert_null (identity);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "chmod 600"));

  /* Refused, not repaired or replaced. */
  g_assert_cmpuint (file_mode (path), ==, mode);
  g_assert_true (g_file_get_contents (path, &after, NULL, NULL));
  g_assert_cmpstr (after, ==, before);
  g_assert_cmpuint (count_dir_entries (dir), ==, 1);

  g_assert_cmpint (g_unlink (path), ==, 0);
}

static void
test_insecure_permissions (void)
{
  const unsigned modes[] = { 0640, 0604, 0660, 0644, 0620, 0602, 0610, 0601, 0666, 0777 };

  for (unsigned i = 0; i < G_N_ELEMENTS (modes); i++)
    check_insecure_mode (modes[i]);
}

static void
test_owner_only_modes (void)
{
  const unsigned modes[] = { 0400, 0600, 0700 };
  g_autofree char *path = wzp_identity_get_default_path ();
  g_autofree char *fingerprint = NULL;

  for (unsigned i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      g_autoptr(GError) error = NULL;
      WzpIdentity *identity;

      if (fingerprint != NULL)
        g_assert_cmpint (g_chmod (path, modes[i]), ==, 0);

      identity = load_identity (NULL, &error);
      g_assert_no_error (error);
      if (fingerprint == NULL)
        fingerprint = g_strdup (wzp_identity_get_fingerprint (identity));
      g_assert_cmpstr (wzp_identity_get_fingerprint (identity), ==, fingerprint);
      g_assert_finalize_object (identity);
    }
}

typedef enum {
  CORRUPT_GARBAGE,
  CORRUPT_EMPTY,
  CORRUPT_TRUNCATED_KEY,
  CORRUPT_TRUNCATED_CERTIFICATE,
  CORRUPT_CERTIFICATE_WITHOUT_KEY,
  CORRUPT_KEY_WITHOUT_CERTIFICATE,
  CORRUPT_MISMATCHED_KEY,
  CORRUPT_NUL_BYTES,
} CorruptKind;

static char *
make_corrupt_contents (CorruptKind  kind,
                       gsize       *length)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = _wzp_tls_generate_pem (&error);
  g_autofree char *other = _wzp_tls_generate_pem (&error);
  const char *cert_at;
  gsize key_length;

  g_assert_no_error (error);
  cert_at = strstr (pem, "-----BEGIN CERTIFICATE-----");
  g_assert_nonnull (cert_at);
  key_length = cert_at - pem;

  switch (kind)
    {
    case CORRUPT_GARBAGE:
      *length = 1000;
      {
        char *garbage = g_malloc (*length + 1);

        for (gsize i = 0; i < *length; i++)
          garbage[i] = g_random_int_range (1, 256);
        garbage[*length] = '\0';
        return garbage;
      }

    case CORRUPT_EMPTY:
      *length = 0;
      return g_strdup ("");

    case CORRUPT_TRUNCATED_KEY:
      *length = key_length / 2;
      return g_strndup (pem, *length);

    case CORRUPT_TRUNCATED_CERTIFICATE:
      *length = key_length + (strlen (pem) - key_length) / 2;
      return g_strndup (pem, *length);

    case CORRUPT_CERTIFICATE_WITHOUT_KEY:
      *length = strlen (cert_at);
      return g_strdup (cert_at);

    case CORRUPT_KEY_WITHOUT_CERTIFICATE:
      *length = key_length;
      return g_strndup (pem, key_length);

    case CORRUPT_MISMATCHED_KEY:
      {
        const char *other_cert = strstr (other, "-----BEGIN CERTIFICATE-----");
        char *mixed = g_strdup_printf ("%.*s%s", (int) key_length, pem, other_cert);

        *length = strlen (mixed);
        return mixed;
      }

    case CORRUPT_NUL_BYTES:
      *length = strlen (pem);
      return g_malloc0 (*length + 1);

    default:
      g_assert_not_reached ();
    }
}

static void
test_corrupt (void)
{
  const char *names[] = {
    "garbage", "empty", "truncated key", "truncated certificate", "certificate without key",
    "key without certificate", "key of another certificate", "NUL bytes",
  };

  for (CorruptKind kind = CORRUPT_GARBAGE; kind <= CORRUPT_NUL_BYTES; kind++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *path = g_strdup_printf ("%s/corrupt-%d/identity.pem",
                                               g_get_user_data_dir (), kind);
      g_autofree char *dir = g_path_get_dirname (path);
      g_autofree char *contents = NULL;
      g_autofree char *after = NULL;
      gsize length = 0, after_length = 0;
      WzpIdentity *identity;

      g_test_message ("corrupt file: %s", names[kind]);
      contents = make_corrupt_contents (kind, &length);
      write_file (path, contents, length, 0600);

      identity = load_identity (path, &error);
      g_assert_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_CORRUPT);
      g_assert_null (identity);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, path));

      /* Never overwritten, never accompanied by a new file. */
      g_assert_true (g_file_get_contents (path, &after, &after_length, NULL));
      g_assert_cmpmem (after, after_length, contents, length);
      g_assert_cmpuint (file_mode (path), ==, 0600);
      g_assert_cmpuint (count_dir_entries (dir), ==, 1);
    }
}

static void
test_not_a_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (g_get_user_data_dir (), "dir.pem", NULL);
  WzpIdentity *identity;

  g_assert_cmpint (g_mkdir_with_parents (path, 0700), ==, 0);
  identity = load_identity (path, &error);
  g_assert_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_CORRUPT);
  g_assert_null (identity);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "is a folder, not a regular file"));
}

/* A named pipe where the key should be: opening it for reading would wait for a writer
 * forever (a worker thread stuck, the app never ready). An error, at once. */
static void
test_fifo (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = wzp_identity_get_default_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  gint64 start = g_get_monotonic_time ();
  WzpIdentity *identity;

  g_assert_no_errno (g_mkdir_with_parents (dir, 0700));
  g_assert_no_errno (mkfifo (path, 0600));
  /* wzp_test_wait_pointer() fails the test after 5 s. */
  {
    g_autoptr(GAsyncResult) result = NULL;

    wzp_identity_load_or_create_async (NULL, NULL, store_result_cb, &result);
    wzp_test_wait_pointer ((gpointer *) &result, 5000);
    identity = wzp_identity_load_or_create_finish (result, &error);
  }
  g_assert_null (identity);
  g_assert_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, "named pipe (FIFO)"));
  g_assert_nonnull (strstr (error->message, path));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

/* A link where the key should be is not followed: whoever could make it could point it
 * at a key of their choosing. */
static void
test_symlink (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "keys", NULL);
  g_autofree char *real = g_build_filename (dir, "real.pem", NULL);
  g_autofree char *link = g_build_filename (dir, "link.pem", NULL);
  g_autoptr(WzpIdentity) made = NULL;
  WzpIdentity *identity;

  made = load_identity (real, &error);
  g_assert_no_error (error);
  g_assert_no_errno (symlink (real, link));
  identity = load_identity (link, &error);
  g_assert_null (identity);
  g_assert_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, "symbolic link"));
}

/* A key file far larger than a key is not read into memory. */
static void
test_too_large (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (g_get_user_data_dir (), "keys", "big.pem", NULL);
  g_autofree char *big = g_malloc (64 * 1024 + 2);
  WzpIdentity *identity;

  memset (big, '#', 64 * 1024 + 1);
  big[64 * 1024 + 1] = '\0';
  write_file (path, big, -1, 0600);
  identity = load_identity (path, &error);
  g_assert_null (identity);
  g_assert_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, "too large"));
}

/* A key another user wrote is theirs, even where we may read it (as root). */
static void
test_other_owner (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (g_get_user_data_dir (), "keys", "theirs.pem",
                                            NULL);
  g_autoptr(WzpIdentity) made = NULL;
  WzpIdentity *identity;

  if (geteuid () != 0)
    {
      g_test_skip ("giving a file to another user needs root");
      return;
    }
  made = load_identity (path, &error);
  g_assert_no_error (error);
  g_assert_no_errno (chown (path, 65534, 65534));
  identity = load_identity (path, &error);
  g_assert_null (identity);
  g_assert_error (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_INSECURE_PERMISSIONS);
  g_assert_nonnull (strstr (error->message, "belongs to another user"));
}

/* wzp's own folder ($XDG_DATA_HOME/wzp) that others were given access to is made private
 * again when the identity loads; the user is told. */
static void
test_data_dir_mode (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = wzp_identity_get_default_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(WzpIdentity) identity = NULL;

  g_assert_no_errno (g_mkdir_with_parents (dir, 0700));
  g_assert_no_errno (g_chmod (dir, 0755));
  wzp_test_expect_message ("Made the folder * private again (mode 0700, was 0755)");
  identity = load_identity (NULL, &error);
  g_assert_no_error (error);
  wzp_test_assert_expected_messages ();
  g_assert_cmpuint (file_mode (dir), ==, 0700);
}

/* wzp's own folder, if another user owns it and others may use it, is not ours to fix:
 * refused. */
static void
test_data_dir_other_owner (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = wzp_identity_get_default_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  WzpIdentity *identity;

  if (geteuid () != 0)
    {
      g_test_skip ("giving a folder to another user needs root");
      return;
    }
  g_assert_no_errno (g_mkdir_with_parents (dir, 0700));
  g_assert_no_errno (chown (dir, 65534, 65534));
  g_assert_no_errno (g_chmod (dir, 0755));
  identity = load_identity (NULL, &error);
  g_assert_null (identity);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "belongs to another user"));
  g_assert_cmpuint (file_mode (dir), ==, 0755);
}

/* A folder the user chose is not changed; refused if others can write to it (they could
 * swap the key), accepted when its sticky bit stops them, as in /tmp. */
static void
test_chosen_dir_writable (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "shared", NULL);
  g_autofree char *path = g_build_filename (dir, "relay.pem", NULL);
  g_autoptr(WzpIdentity) sticky = NULL;
  WzpIdentity *identity;

  g_assert_no_errno (g_mkdir_with_parents (dir, 0700));
  g_assert_no_errno (g_chmod (dir, 0777));
  identity = load_identity (path, &error);
  g_assert_null (identity);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "chmod go-w"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (file_mode (dir), ==, 0777);
  g_clear_error (&error);

  g_assert_no_errno (g_chmod (dir, 01777));
  sticky = load_identity (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (file_mode (dir), ==, 01777);
}

static void
test_cancelled (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *path = wzp_identity_get_default_path ();
  WzpIdentity *identity;

  g_cancellable_cancel (cancellable);
  identity = load_identity_full (NULL, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (identity);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* Several loads of a missing file at once all end with the one identity that was saved. */
static void
test_concurrent_create (void)
{
  enum { N = 4 };
  g_autofree char *path = wzp_identity_get_default_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  GAsyncResult *results[N] = { NULL, };
  WzpIdentity *identities[N];
  WzpIdentity *reloaded;
  g_autoptr(GError) error = NULL;

  for (unsigned i = 0; i < N; i++)
    wzp_identity_load_or_create_async (path, NULL, store_result_cb, &results[i]);
  for (unsigned i = 0; i < N; i++)
    wzp_test_wait_pointer ((gpointer *) &results[i], LOAD_TIMEOUT_MS);

  for (unsigned i = 0; i < N; i++)
    {
      identities[i] = wzp_identity_load_or_create_finish (results[i], &error);
      g_assert_no_error (error);
      g_clear_object (&results[i]);
    }

  reloaded = load_identity (path, &error);
  g_assert_no_error (error);
  for (unsigned i = 0; i < N; i++)
    {
      g_assert_cmpstr (wzp_identity_get_fingerprint (identities[i]), ==,
                       wzp_identity_get_fingerprint (reloaded));
      g_assert_finalize_object (identities[i]);
    }
  g_assert_cmpuint (count_dir_entries (dir), ==, 1);
  g_assert_finalize_object (reloaded);
}

static void
test_fingerprint_format (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GRegex) regex = g_regex_new (FINGERPRINT_PATTERN, 0, 0, &error);

  g_assert_no_error (error);

  for (unsigned i = 0; i < 5; i++)
    {
      WzpIdentity *identity = wzp_test_identity_new ();
      const char *fingerprint = wzp_identity_get_fingerprint (identity);
      g_autofree char *computed = NULL;

      g_assert_cmpuint (strlen (fingerprint), ==, WZP_FINGERPRINT_LEN);
      g_assert_true (g_regex_match (regex, fingerprint, 0, NULL));
      g_assert_true (wzp_fingerprint_is_valid (fingerprint));

      computed = wzp_fingerprint_from_certificate (wzp_identity_get_certificate (identity),
                                                   &error);
      g_assert_no_error (error);
      g_assert_cmpstr (computed, ==, fingerprint);
      g_assert_finalize_object (identity);
    }
}

static void
test_fingerprint_known_answer (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autofree char *fingerprint = NULL;

  certificate = g_tls_certificate_new_from_pem (kat_certificate, -1, &error);
  g_assert_no_error (error);

  fingerprint = wzp_fingerprint_from_certificate (certificate, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (fingerprint, ==, kat_fingerprint);
}

static void
test_fingerprint_is_valid (void)
{
  const struct {
    const char *text;
    gboolean    valid;
  } cases[] = {
    { "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d", TRUE },
    { "0000:0000:0000:0000:0000:0000:0000:0000", TRUE },
    { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", TRUE },
    { kat_fingerprint, TRUE },
    { NULL, FALSE },
    { "", FALSE },
    { "1A2B:3C4D:5E6F:7A8B:9C0D:1E2F:3A4B:5C6D", FALSE },   /* upper case */
    { "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6", FALSE },    /* one digit short */
    { "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d:", FALSE },  /* trailing colon */
    { "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d0", FALSE },  /* one digit long */
    { "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b", FALSE },        /* 7 groups */
    { "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d:7e8f", FALSE }, /* 9 groups */
    { "1a2b3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d:7e", FALSE }, /* misplaced colon */
    { "1a2b-3c4d-5e6f-7a8b-9c0d-1e2f-3a4b-5c6d", FALSE },   /* other separator */
    { "1a2b 3c4d 5e6f 7a8b 9c0d 1e2f 3a4b 5c6d", FALSE },
    { " 1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6", FALSE },   /* leading space */
    { "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d ", FALSE },  /* trailing space */
    { "1a2g:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d", FALSE },   /* not hex */
    { "1a2b::3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6", FALSE },
    { "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d", FALSE },          /* no colons */
    { "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6\xc3\xa9", FALSE },
  };

  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("“%s”", cases[i].text ? cases[i].text : "(null)");
      g_assert_cmpint (wzp_fingerprint_is_valid (cases[i].text), ==, cases[i].valid);
    }
}

static void
test_pem_not_a_certificate (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsCertificate) certificate = NULL;
  char *fingerprint = NULL;

  certificate = _wzp_tls_certificate_new_from_pem ("nonsense", -1, &fingerprint, &error);
  g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_assert_null (certificate);
  g_assert_null (fingerprint);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/wzp/identity/default-path", test_default_path);
  g_test_add_func ("/wzp/identity/create-then-load", test_create_then_load);
  g_test_add_func ("/wzp/identity/explicit-path", test_explicit_path);
  g_test_add_func ("/wzp/identity/properties", test_properties);
  g_test_add_func ("/wzp/identity/certificate", test_certificate);
  g_test_add_func ("/wzp/identity/ephemeral", test_ephemeral);
  g_test_add_func ("/wzp/identity/insecure-permissions", test_insecure_permissions);
  g_test_add_func ("/wzp/identity/owner-only-modes", test_owner_only_modes);
  g_test_add_func ("/wzp/identity/corrupt", test_corrupt);
  g_test_add_func ("/wzp/identity/not-a-file", test_not_a_file);
  g_test_add_func ("/wzp/identity/fifo", test_fifo);
  g_test_add_func ("/wzp/identity/symlink", test_symlink);
  g_test_add_func ("/wzp/identity/too-large", test_too_large);
  g_test_add_func ("/wzp/identity/other-owner", test_other_owner);
  g_test_add_func ("/wzp/identity/data-dir-mode", test_data_dir_mode);
  g_test_add_func ("/wzp/identity/data-dir-other-owner", test_data_dir_other_owner);
  g_test_add_func ("/wzp/identity/chosen-dir-writable", test_chosen_dir_writable);
  g_test_add_func ("/wzp/identity/cancelled", test_cancelled);
  g_test_add_func ("/wzp/identity/concurrent-create", test_concurrent_create);
  g_test_add_func ("/wzp/identity/fingerprint/format", test_fingerprint_format);
  g_test_add_func ("/wzp/identity/fingerprint/known-answer", test_fingerprint_known_answer);
  g_test_add_func ("/wzp/identity/fingerprint/is-valid", test_fingerprint_is_valid);
  g_test_add_func ("/wzp/identity/pem-not-a-certificate", test_pem_not_a_certificate);

  return g_test_run ();
}
