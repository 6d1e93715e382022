/* driver.c: main() for gcc builds of the fuzz targets (GLib's fuzzing/driver.c pattern)
 *
 * Feeds every file named on the command line, or every file of a named directory (sorted,
 * not recursive), to LLVMFuzzerTestOneInput() once, and reports each as a TAP line. With no
 * argument it reads one input from standard input. Under clang with -Dfuzzing=true libFuzzer
 * provides main() instead and this file is not built.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "fuzz.h"

static gboolean
run_file (const char *path,
          guint       number)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree unsigned char *exact = NULL;
  gsize len;

  if (!g_file_get_contents (path, &contents, &len, &error))
    {
      printf ("not ok %u - %s: %s\n", number, path, error->message);
      return FALSE;
    }

  /* An exact-size copy, so a read past the end shows under ASan as it does in libFuzzer. */
  exact = g_malloc (MAX (len, 1));
  memcpy (exact, contents, len);
  LLVMFuzzerTestOneInput (exact, len);
  printf ("ok %u - %s (%" G_GSIZE_FORMAT " bytes)\n", number, path, len);
  fflush (stdout);
  return TRUE;
}

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

static void
collect (const char *arg,
         GPtrArray  *paths)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) names = NULL;
  const char *name;

  if (!g_file_test (arg, G_FILE_TEST_IS_DIR))
    {
      g_ptr_array_add (paths, g_strdup (arg));
      return;
    }

  dir = g_dir_open (arg, 0, NULL);
  if (dir == NULL)
    {
      g_ptr_array_add (paths, g_strdup (arg));
      return;
    }
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (arg, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (names, g_steal_pointer (&path));
    }
  g_ptr_array_sort (names, compare_paths);
  for (guint i = 0; i < names->len; i++)
    g_ptr_array_add (paths, g_strdup (g_ptr_array_index (names, i)));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  gboolean ok = TRUE;

  if (argc < 2)
    {
      g_autoptr(GByteArray) input = g_byte_array_new ();
      guint8 buffer[4096];
      size_t n;

      while ((n = fread (buffer, 1, sizeof buffer, stdin)) > 0)
        g_byte_array_append (input, buffer, n);
      LLVMFuzzerTestOneInput (input->data, input->len);
      return 0;
    }

  for (int i = 1; i < argc; i++)
    collect (argv[i], paths);

  printf ("1..%u\n", paths->len);
  for (guint i = 0; i < paths->len; i++)
    ok &= run_file (g_ptr_array_index (paths, i), i + 1);

  return ok ? 0 : 1;
}
