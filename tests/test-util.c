/* test-util.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "test-util.h"
#include "wzp-tls-private.h"

static gboolean
timeout_cb (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

static void
wait_until (gboolean  (*done) (gpointer),
            gpointer   data,
            guint      timeout_ms)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (timeout_ms, timeout_cb, &timed_out);

  while (!done (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);

  if (timed_out)
    g_error ("Timed out after %u ms waiting for a condition", timeout_ms);
  g_source_remove (id);
}

static gboolean
flag_done (gpointer data)
{
  return *(gboolean *) data;
}

static gboolean
pointer_done (gpointer data)
{
  return *(gpointer *) data != NULL;
}

void
wzp_test_wait_flag (gboolean *flag,
                    guint     timeout_ms)
{
  wait_until (flag_done, flag, timeout_ms);
}

void
wzp_test_wait_pointer (gpointer *ptr,
                       guint     timeout_ms)
{
  wait_until (pointer_done, ptr, timeout_ms);
}

void
wzp_test_spin (guint ms)
{
  gboolean done = FALSE;
  guint id = g_timeout_add (ms, timeout_cb, &done);

  while (!done)
    g_main_context_iteration (NULL, TRUE);
  (void) id;
}

WzpIdentity *
wzp_test_identity_new (void)
{
  g_autoptr(GError) error = NULL;
  WzpIdentity *identity = _wzp_identity_new_ephemeral (&error);

  g_assert_no_error (error);
  g_assert_nonnull (identity);
  return identity;
}

guint
wzp_test_count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n - 1; /* the GDir's own fd */
}
