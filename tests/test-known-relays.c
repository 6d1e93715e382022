/* test-known-relays.c: the file of relays trusted on first use (wzp-known-relays.c)
 *
 * Every test runs in its own $XDG_DATA_HOME (G_TEST_OPTION_ISOLATE_DIRS);
 * test-call-connect.c checks the same file through real connections.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "test-util.h"
#include "wzp-client-private.h"

#define FP_A "fca5:c1c3:b1ea:bd75:eda8:f572:da09:935b"
#define FP_B "0123:4567:89ab:cdef:0123:4567:89ab:cdef"

static char *
read_known_relays (void)
{
  g_autofree char *path = wzp_test_known_relays_path ();
  g_autoptr(GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

static void
remember_ok (const char *key,
             const char *fingerprint)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (_wzp_known_relay_remember (key, fingerprint, &error));
  g_assert_no_error (error);
}

/* The lookup of @key fails; returns the error (WZP_CLIENT_ERROR_KNOWN_RELAYS unless the
 * file cannot be read). */
static GError *
lookup_error (const char *key)
{
  GError *error = NULL;
  char *fingerprint = NULL;

  g_assert_false (_wzp_known_relay_lookup (key, &fingerprint, &error));
  g_assert_nonnull (error);
  g_assert_null (fingerprint);
  g_test_message ("%s", error->message);
  return error;
}

static void
assert_lookup_fails (const char *key)
{
  g_autoptr(GError) error = lookup_error (key);

  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_KNOWN_RELAYS);
}

/* One spelling per relay, whatever the URI said. */
static void
test_keys (void)
{
  const struct { const char *host; const char *key; } cases[] = {
    { "192.0.2.1", "192.0.2.1:4433" },
    { "Relay.Example.ORG", "relay.example.org:4433" },
    { "::1", "[::1]:4433" },
    { "0:0:0:0:0:0:0:1", "[::1]:4433" },
    { "2001:DB8::A", "[2001:db8::a]:4433" },
    { "FE80::1%eth0", "[fe80::1%eth0]:4433" },
    { "::ffff:192.0.2.1", "192.0.2.1:4433" },
    { "bücher.example", "xn--bcher-kva.example:4433" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *key = _wzp_known_relay_key (cases[i].host, 4433);

      g_assert_cmpstr (key, ==, cases[i].key);
    }
}

/* Every address form is stored under a key the key file takes, reads back, and is found
 * again however the host is spelt. */
static void
test_every_address_form (void)
{
  /* How a relay was dialled first, and another spelling of the same address. */
  const struct { const char *host; const char *again; } hosts[] = {
    { "192.0.2.1", "192.0.2.1" },
    { "relay.example.org", "RELAY.Example.Org" },
    { "::1", "0:0::1" },
    { "fe80::1%eth0", "FE80:0::1%eth0" },
    { "2001:db8::a", "2001:DB8::A" },
  };
  g_autofree char *path = wzp_test_known_relays_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *contents = NULL;
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *v6 = NULL;
  GStatBuf st;

  for (guint i = 0; i < G_N_ELEMENTS (hosts); i++)
    {
      g_autofree char *key = _wzp_known_relay_key (hosts[i].host, 4433 + i);
      g_autofree char *none = wzp_test_known_relay_pin (key);

      g_assert_null (none);
      remember_ok (key, i % 2 == 0 ? FP_A : FP_B);
    }
  for (guint i = 0; i < G_N_ELEMENTS (hosts); i++)
    {
      g_autofree char *key = _wzp_known_relay_key (hosts[i].again, 4433 + i);
      g_autofree char *pin = wzp_test_known_relay_pin (key);

      g_assert_cmpstr (pin, ==, i % 2 == 0 ? FP_A : FP_B);
    }
  g_free (wzp_test_known_relay_pin ("[::1]:4434"));   /* another port is another relay */

  /* What a person reads in the file; GKeyFile itself takes it. */
  contents = read_known_relays ();
  g_test_message ("%s", contents);
  g_assert_nonnull (strstr (contents, "\nrelay.example.org:4434=" FP_B "\n"));
  g_assert_nonnull (strstr (contents, "\n%5B::1%5D:4435=" FP_A "\n"));
  g_assert_nonnull (strstr (contents, "\n%5Bfe80::1%25eth0%5D:4436=" FP_B "\n"));
  g_assert_true (g_key_file_load_from_data (file, contents, -1, G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);
  v6 = g_key_file_get_string (file, "relays", "%5B::1%5D:4435", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (v6, ==, FP_A);

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
}

/* Files of earlier versions (bare HOST:PORT keys, the host as the URI spelt it) still
 * pin, and stay as they are when a relay is added. */
static void
test_old_format (void)
{
  g_autofree char *contents = NULL;
  g_autofree char *pin = NULL;
  g_autofree char *pin2 = NULL;

  wzp_test_write_known_relays ("# my relays\n"
                               "[relays]\n"
                               "Relay.Example.org:4433=" FP_A "\n"
                               "192.0.2.1:4433=" FP_B "\n");
  pin = wzp_test_known_relay_pin ("relay.example.org:4433");
  g_assert_cmpstr (pin, ==, FP_A);
  pin2 = wzp_test_known_relay_pin ("192.0.2.1:4433");
  g_assert_cmpstr (pin2, ==, FP_B);

  remember_ok ("[::1]:4433", FP_A);
  contents = read_known_relays ();
  g_assert_true (g_str_has_prefix (contents, "# my relays\n"));
  g_assert_nonnull (strstr (contents, "\n[relays]\n"
                                      "Relay.Example.org:4433=" FP_A "\n"
                                      "192.0.2.1:4433=" FP_B "\n"
                                      "%5B::1%5D:4433=" FP_A "\n"));
}

/* A pin is never replaced: remembering another key for a pinned relay (another program
 * pinned it since our lookup) is refused. */
static void
test_remember_keeps_pin (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *pin = NULL;

  remember_ok ("[::1]:4433", FP_A);
  remember_ok ("[::1]:4433", FP_A);
  g_assert_false (_wzp_known_relay_remember ("[::1]:4433", FP_B, &error));
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED);
  pin = wzp_test_known_relay_pin ("[::1]:4433");
  g_assert_cmpstr (pin, ==, FP_A);
}

/* Entries that do not parse are passed over and kept; one for the relay asked about is an
 * error, not "no pin"; so are two pins that disagree. The file is the user's input: what
 * is passed over is told as a message, once, and a warning (which G_DEBUG=fatal-warnings,
 * set here whatever the environment says, makes abort the program) never comes. */
static void
test_invalid_entries (void)
{
  GLogLevelFlags fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_WARNING |
                                                 G_LOG_LEVEL_CRITICAL);
  g_autofree char *pin = NULL;
  g_autofree char *contents = NULL;
  guint before;

  wzp_test_write_known_relays ("[relays]\n"
                               "no port=" FP_A "\n"
                               "bad.example:4433=not a fingerprint\n"
                               "good.example:4433=" FP_A "\n"
                               "Twice.example:4433=" FP_A "\n"
                               "twice.example:4433=" FP_B "\n");

  before = wzp_test_count_messages ();
  wzp_test_expect_message ("*“no port”*");
  wzp_test_expect_message ("*bad.example:4433*");
  pin = wzp_test_known_relay_pin ("good.example:4433");
  wzp_test_assert_expected_messages ();
  g_assert_cmpstr (pin, ==, FP_A);

  /* Told once: later lookups and saves (reconnections) add nothing to the log. */
  assert_lookup_fails ("bad.example:4433");
  assert_lookup_fails ("twice.example:4433");
  remember_ok ("new.example:4433", FP_B);
  g_assert_cmpuint (wzp_test_count_messages (), ==, before + 2);
  contents = read_known_relays ();
  g_assert_nonnull (strstr (contents, "\nno port=" FP_A "\n"));
  g_assert_nonnull (strstr (contents, "\nbad.example:4433=not a fingerprint\n"));
  g_assert_nonnull (strstr (contents, "\nnew.example:4433=" FP_B "\n"));

  /* A new entry that does not parse is told, once. */
  wzp_test_write_known_relays ("[relays]\njunk=abc\n");
  wzp_test_expect_message ("*“junk”*");
  g_clear_pointer (&pin, g_free);
  pin = wzp_test_known_relay_pin ("good.example:4433");
  wzp_test_assert_expected_messages ();
  g_assert_null (pin);
  remember_ok ("good.example:4433", FP_A);
  g_assert_cmpuint (wzp_test_count_messages (), ==, before + 3);

  g_log_set_always_fatal (fatal);
}

/* A file that does not parse is copied aside (never over an earlier copy) and reported;
 * a new file keeps the pins its lines still give. */
static void
test_damaged (void)
{
  const char *damaged = "[relays]\n"
                        "good.example:4433=" FP_A "\n"
                        "[::1]:4433=" FP_B "\n"
                        "\x01\x02 garbage without an equals sign\n";
  g_autofree char *path = wzp_test_known_relays_path ();
  g_autofree char *pin = NULL;
  g_autofree char *pin6 = NULL;
  g_autofree char *copy = NULL;
  g_autofree char *fresh = NULL;
  g_auto(GStrv) aside = NULL;
  g_auto(GStrv) before = NULL;
  g_auto(GStrv) after = NULL;
  GStatBuf st;

  wzp_test_write_known_relays (damaged);
  wzp_test_expect_message ("*was damaged*");
  assert_lookup_fails ("good.example:4433");
  wzp_test_assert_expected_messages ();

  aside = wzp_test_list_set_aside ();
  g_assert_cmpuint (g_strv_length (aside), ==, 1);
  g_assert_true (g_file_get_contents (aside[0], &copy, NULL, NULL));
  g_assert_cmpstr (copy, ==, damaged);

  /* The new file parses and holds both pins that could be read. */
  fresh = read_known_relays ();
  g_test_message ("%s", fresh);
  g_assert_nonnull (strstr (fresh, "\n%5B::1%5D:4433=" FP_B "\n"));
  pin = wzp_test_known_relay_pin ("good.example:4433");
  g_assert_cmpstr (pin, ==, FP_A);
  pin6 = wzp_test_known_relay_pin ("[::1]:4433");
  g_assert_cmpstr (pin6, ==, FP_B);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* Damaged again: the copy takes a name no earlier file has, even when one of this
   * second or the next one is taken; every earlier file keeps its contents. */
  for (int ahead = 0; ahead <= 1; ahead++)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
      g_autoptr(GDateTime) then = g_date_time_add_seconds (now, ahead);
      g_autofree char *stamp = g_date_time_format (then, "%Y%m%dT%H%M%SZ");
      g_autofree char *taken = g_strdup_printf ("%s.damaged-%s", path, stamp);

      if (!g_file_test (taken, G_FILE_TEST_EXISTS))
        g_assert_true (g_file_set_contents (taken, "an earlier copy", -1, NULL));
    }
  before = wzp_test_list_set_aside ();
  wzp_test_write_known_relays ("nothing here\n");
  wzp_test_expect_message ("*was damaged*");
  assert_lookup_fails ("good.example:4433");
  wzp_test_assert_expected_messages ();
  after = wzp_test_list_set_aside ();
  g_assert_cmpuint (g_strv_length (after), ==, g_strv_length (before) + 1);
  for (guint i = 0; after[i] != NULL; i++)
    {
      g_autofree char *text = NULL;

      g_assert_true (g_file_get_contents (after[i], &text, NULL, NULL));
      if (!g_strv_contains ((const char * const *) before, after[i]))
        g_assert_cmpstr (text, ==, "nothing here\n");
      else if (strcmp (after[i], aside[0]) == 0)
        g_assert_cmpstr (text, ==, damaged);
      else
        g_assert_cmpstr (text, ==, "an earlier copy");
    }
  g_clear_pointer (&pin, g_free);
  pin = wzp_test_known_relay_pin ("good.example:4433");
  g_assert_null (pin);
}

/* A file that cannot be read is an error, not "no pin" (which would trust any key); a
 * G_FILE_ERROR, which the client retries, since it may be readable in a moment. */
static void
test_unreadable (void)
{
  g_autofree char *path = wzp_test_known_relays_path ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) aside = NULL;

  g_assert_cmpint (g_mkdir_with_parents (path, 0700), ==, 0);   /* a folder in its place */
  error = lookup_error ("good.example:4433");
  g_assert_true (error->domain == G_FILE_ERROR);
  g_assert_true (g_str_has_prefix (error->message, "Could not read the known relays in "));
  g_clear_error (&error);
  g_assert_false (_wzp_known_relay_remember ("good.example:4433", FP_A, &error));
  g_assert_true (error->domain == G_FILE_ERROR);
  aside = wzp_test_list_set_aside ();
  g_assert_null (aside[0]);
}

static void
test_save_fails (void)
{
  g_autofree char *path = wzp_test_known_relays_path ();
  g_autofree char *expected = g_strdup_printf ("Could not remember the relay's key in %s: *",
                                               path);
  g_autoptr(GError) error = NULL;
  g_autofree char *pin = NULL;
  gboolean saved;

  wzp_test_set_disk_full (TRUE);
  saved = _wzp_known_relay_remember ("[::1]:4433", FP_A, &error);
  wzp_test_set_disk_full (FALSE);
  g_assert_false (saved);
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_KNOWN_RELAYS);
  g_test_message ("%s", error->message);
  g_assert_true (g_pattern_match_simple (expected, error->message));
  pin = wzp_test_known_relay_pin ("[::1]:4433");
  g_assert_null (pin);
}

typedef struct
{
  const char *key;
  const char *fingerprint;
  gboolean    saved;
  GError     *error;
  int         done;       /* atomic */
} Save;

static gpointer
save_thread (gpointer data)
{
  Save *save = data;

  save->saved = _wzp_known_relay_remember (save->key, save->fingerprint, &save->error);
  g_atomic_int_set (&save->done, TRUE);
  return NULL;
}

/* Two programs saving at once: the second waits until the first has written, then sees its
 * pin and refuses another key for the same relay. The first program is this test holding
 * the lock on a descriptor of its own (flock locks of two open files conflict, in one
 * process too). */
static void
test_concurrent_save (void)
{
  g_autofree char *path = wzp_test_known_relays_path ();
  g_autofree char *lock_path = g_strconcat (path, ".lock", NULL);
  g_autofree char *pin = NULL;
  Save save = { "[::1]:4433", FP_B, FALSE, NULL, FALSE };
  GThread *thread;
  GStatBuf st;
  int fd;

  remember_ok ("good.example:4433", FP_A);
  g_assert_cmpint (g_stat (lock_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  fd = g_open (lock_path, O_RDWR | O_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (flock (fd, LOCK_EX), ==, 0);
  thread = g_thread_new ("save", save_thread, &save);
  g_usleep (200 * 1000);
  g_assert_false (g_atomic_int_get (&save.done));
  wzp_test_write_known_relays ("[relays]\n"
                               "good.example:4433=" FP_A "\n"
                               "%5B::1%5D:4433=" FP_A "\n");
  g_close (fd, NULL);
  g_thread_join (thread);

  g_assert_false (save.saved);
  g_assert_error (save.error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED);
  g_clear_error (&save.error);
  pin = wzp_test_known_relay_pin ("[::1]:4433");
  g_assert_cmpstr (pin, ==, FP_A);
}

/* A lock that another program never lets go (stopped, say) fails the save after a bounded
 * wait instead of freezing the caller's main loop; nothing is written. */
static void
test_lock_held (void)
{
  g_autofree char *path = wzp_test_known_relays_path ();
  g_autofree char *lock_path = g_strconcat (path, ".lock", NULL);
  g_autoptr(GError) error = NULL;
  int fd;

  remember_ok ("good.example:4433", FP_A);
  fd = g_open (lock_path, O_RDWR | O_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (flock (fd, LOCK_EX), ==, 0);

  g_assert_false (_wzp_known_relay_remember ("[::1]:4433", FP_B, &error));
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_KNOWN_RELAYS);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "another program has held it"));
  g_close (fd, NULL);
  g_assert_null (wzp_test_known_relay_pin ("[::1]:4433"));
}

/* A lock that cannot be taken (here a folder in the lock file's place) fails the save, and
 * the repair of a damaged file, with a message that names the lock file; nothing else is
 * touched. */
static void
test_lock_fails (void)
{
  g_autofree char *path = wzp_test_known_relays_path ();
  g_autofree char *lock_path = g_strconcat (path, ".lock", NULL);
  g_autofree char *expected = g_strdup_printf ("Could not remember the relay's key in %s: "
                                               "Could not lock %s: *", path, lock_path);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) aside = NULL;

  g_assert_cmpint (g_mkdir_with_parents (lock_path, 0700), ==, 0);
  g_assert_false (_wzp_known_relay_remember ("[::1]:4433", FP_A, &error));
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_KNOWN_RELAYS);
  g_test_message ("%s", error->message);
  g_assert_true (g_pattern_match_simple (expected, error->message));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  wzp_test_write_known_relays ("nothing here\n");
  wzp_test_expect_message ("*could not be repaired*");
  error = lookup_error ("good.example:4433");
  wzp_test_assert_expected_messages ();
  g_assert_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_KNOWN_RELAYS);
  g_assert_nonnull (strstr (error->message, lock_path));
  aside = wzp_test_list_set_aside ();
  g_assert_null (aside[0]);
  contents = read_known_relays ();
  g_assert_cmpstr (contents, ==, "nothing here\n");
}

/* A named pipe in the file's place (anyone who could write to the folder could put one
 * there) is an error at once: opening it for reading would wait for a writer forever. In
 * a subprocess, so that a hang is a failure after 10 s, not a stuck suite. */
static void
test_fifo (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *path = wzp_test_known_relays_path ();
      g_autofree char *dir = g_path_get_dirname (path);
      g_autoptr(GError) error = NULL;

      g_assert_no_errno (g_mkdir_with_parents (dir, 0700));
      g_assert_no_errno (mkfifo (path, 0600));
      error = lookup_error ("good.example:4433");
      g_assert_true (error->domain == G_FILE_ERROR);
      g_assert_nonnull (strstr (error->message, "named pipe (FIFO)"));
      g_assert_nonnull (strstr (error->message, path));
      return;
    }
  g_test_trap_subprocess (NULL, 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* A link in the file's place is not followed: it could point at a file of pins that is
 * not the user's. */
static void
test_symlink (void)
{
  g_autofree char *path = wzp_test_known_relays_path ();
  g_autofree char *elsewhere = g_build_filename (g_get_user_data_dir (), "other-pins", NULL);
  g_autoptr(GError) error = NULL;

  wzp_test_write_known_relays ("[relays]\n");
  g_assert_true (g_file_set_contents (elsewhere, "[relays]\ngood.example:4433=" FP_A "\n", -1,
                                      NULL));
  g_assert_no_errno (g_unlink (path));
  g_assert_no_errno (symlink (elsewhere, path));
  error = lookup_error ("good.example:4433");
  g_assert_true (error->domain == G_FILE_ERROR);
  g_assert_nonnull (strstr (error->message, "symbolic link"));
}

/* A file far larger than any list of relays is not read into memory. */
static void
test_too_large (void)
{
  g_autoptr(GString) contents = g_string_new ("[relays]\ngood.example:4433=" FP_A "\n");
  g_autoptr(GError) error = NULL;

  while (contents->len <= 1024 * 1024)
    g_string_append (contents, "# padding padding padding padding padding padding padding\n");
  wzp_test_write_known_relays (contents->str);
  error = lookup_error ("good.example:4433");
  g_assert_true (error->domain == G_FILE_ERROR);
  g_assert_nonnull (strstr (error->message, "too large"));
}

/* The folder that holds the pins is made private again if others were given access to
 * it; the user is told. */
static void
test_folder_mode (void)
{
  g_autofree char *path = wzp_test_known_relays_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *pin = NULL;
  GStatBuf st;

  wzp_test_write_known_relays ("[relays]\ngood.example:4433=" FP_A "\n");
  g_assert_no_errno (g_chmod (dir, 0755));
  wzp_test_expect_message ("Made the folder * private again (mode 0700, was 0755)");
  pin = wzp_test_known_relay_pin ("good.example:4433");
  wzp_test_assert_expected_messages ();
  g_assert_cmpstr (pin, ==, FP_A);
  g_assert_no_errno (g_stat (dir, &st));
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/wzp/known-relays/keys", test_keys);
  g_test_add_func ("/wzp/known-relays/every-address-form", test_every_address_form);
  g_test_add_func ("/wzp/known-relays/old-format", test_old_format);
  g_test_add_func ("/wzp/known-relays/remember-keeps-pin", test_remember_keeps_pin);
  g_test_add_func ("/wzp/known-relays/invalid-entries", test_invalid_entries);
  g_test_add_func ("/wzp/known-relays/damaged", test_damaged);
  g_test_add_func ("/wzp/known-relays/unreadable", test_unreadable);
  g_test_add_func ("/wzp/known-relays/fifo", test_fifo);
  g_test_add_func ("/wzp/known-relays/symlink", test_symlink);
  g_test_add_func ("/wzp/known-relays/too-large", test_too_large);
  g_test_add_func ("/wzp/known-relays/folder-mode", test_folder_mode);
  g_test_add_func ("/wzp/known-relays/save-fails", test_save_fails);
  g_test_add_func ("/wzp/known-relays/concurrent-save", test_concurrent_save);
  g_test_add_func ("/wzp/known-relays/lock-held", test_lock_held);
  g_test_add_func ("/wzp/known-relays/lock-fails", test_lock_fails);

  return g_test_run ();
}
