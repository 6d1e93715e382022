/* ui-test-util.c: helpers for the wzp-gtk UI tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>

#include "ui-test-util.h"

static gboolean
tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

static char *isolated_home;

static void
remove_tree (GFile *dir)
{
  g_autoptr(GFileEnumerator) children =
    g_file_enumerate_children (dir,
                               G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
                               G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  GFileInfo *info;

  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autoptr(GFileInfo) owned = info;
      g_autoptr(GFile) child = g_file_get_child (dir, g_file_info_get_name (info));

      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        remove_tree (child);
      else
        g_file_delete (child, NULL, NULL);
    }
  g_file_delete (dir, NULL, NULL);
}

static void
remove_isolated_home (void)
{
  g_autoptr(GFile) dir = g_file_new_for_path (isolated_home);

  remove_tree (dir);
  g_free (isolated_home);
}

void
wzp_ui_test_init (int    *argc,
                  char ***argv)
{
  /* Not G_TEST_OPTION_ISOLATE_DIRS: it also points XDG_DATA_DIRS at an empty directory,
   * and GTK then finds neither the icon theme nor the MIME database (SVG icons fail to
   * load, which is a warning, which is fatal). Only the user's own directories move. */
  isolated_home = g_dir_make_tmp ("wzp-ui-test-XDGXXXXXX", NULL);
  g_assert_nonnull (isolated_home);
  atexit (remove_isolated_home);
  for (guint i = 0; i < 4; i++)
    {
      static const char * const vars[] = { "XDG_DATA_HOME", "XDG_CONFIG_HOME",
                                           "XDG_CACHE_HOME", "XDG_STATE_HOME" };
      g_autofree char *path = g_build_filename (isolated_home, vars[i], NULL);

      g_assert_cmpint (g_mkdir_with_parents (path, 0700), ==, 0);
      g_setenv (vars[i], path, TRUE);
    }

  g_test_init (argc, argv, NULL);

  /* GTK's test accessibility backend: no AT-SPI bus, but the accessible properties are
   * kept, so the tests can read what a screen reader would say (GTK_A11Y=none keeps
   * none). */
  g_setenv ("GTK_A11Y", "test", TRUE);
  if (!gtk_init_check ())
    {
      printf ("1..0 # SKIP no display (run the UI tests under xvfb-run)\n");
      exit (EXIT_SUCCESS);
    }
  adw_init ();
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
  /* Keeps wzp_ui_iterate() from blocking for long. */
  g_timeout_add (20, tick_cb, NULL);
}

void
wzp_ui_iterate (void)
{
  g_main_context_iteration (NULL, TRUE);
}

void
wzp_ui_spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    wzp_ui_iterate ();
}

static void
save_texture (GdkTexture *texture,
              const char *dir,
              const char *name)
{
  g_autofree char *path = NULL;

  if (dir == NULL || *dir == '\0')
    return;
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  path = g_build_filename (dir, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("Saved %s", path);
}

void
wzp_ui_save_screenshot (GtkWidget  *widget,
                        const char *name)
{
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  GtkSnapshot *snapshot;
  GskRenderer *renderer;
  int width, height;

  /* Let layout and drawing settle: a window just presented has no size until the X
   * server maps it, which takes longer than the 300 ms on a slow machine (a sanitizer
   * build, say). */
  gtk_widget_queue_draw (widget);
  wzp_ui_spin (300);
  WZP_UI_WAIT (gtk_widget_get_mapped (widget) &&
               gtk_widget_get_width (widget) > 0 && gtk_widget_get_height (widget) > 0, 10000);

  /* The widget draws nothing (a NULL node) until its frame clock has laid it out once
   * after mapping: try again for a while. */
  paintable = gtk_widget_paintable_new (widget);
  for (int tries = 0; node == NULL && tries < 100; tries++)
    {
      if (tries > 0)
        wzp_ui_spin (100);
      width = gtk_widget_get_width (widget);
      height = gtk_widget_get_height (widget);
      snapshot = gtk_snapshot_new ();
      gdk_paintable_snapshot (paintable, snapshot, width, height);
      node = gtk_snapshot_free_to_node (snapshot);
    }
  g_assert_nonnull (node);

  renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  texture = gsk_renderer_render_texture (renderer, node,
                                        &GRAPHENE_RECT_INIT (0, 0, width, height));
  save_texture (texture, g_getenv ("WZP_SCREENSHOT_DIR"), name);
  if (g_strcmp0 (g_getenv ("WZP_UPDATE_SCREENSHOTS"), "1") == 0)
    save_texture (texture, g_getenv ("WZP_DOCS_SCREENSHOT_DIR"), name);
}

GtkWidget *
wzp_ui_find_by_label (GtkWidget  *root,
                      GType       type,
                      const char *label)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
    {
      char *problem = gtk_test_accessible_check_property (GTK_ACCESSIBLE (root),
                                                          GTK_ACCESSIBLE_PROPERTY_LABEL,
                                                          label);

      if (problem == NULL)
        return root;
      g_free (problem);
    }
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = wzp_ui_find_by_label (child, type, label);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* wzp-cli peers */

struct _WzpUiPeer
{
  GSubprocess      *process;
  GDataInputStream *out;
  GCancellable     *cancellable;
  GPtrArray        *events;     /* JsonNode* */
  guint             next;       /* first event not yet waited for */
  gboolean          eof;
  gboolean          exited;
  gboolean          success;
};

static void read_next_line (WzpUiPeer *peer);

static void
line_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  WzpUiPeer *peer = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source),
                                                                     result, NULL, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (line == NULL)
    {
      peer->eof = TRUE;
      return;
    }
  g_test_message ("wzp-cli: %s", line);
  {
    g_autoptr(JsonParser) parser = json_parser_new ();

    if (json_parser_load_from_data (parser, line, -1, NULL) &&
        JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
      g_ptr_array_add (peer->events, json_node_copy (json_parser_get_root (parser)));
  }
  read_next_line (peer);
}

static void
read_next_line (WzpUiPeer *peer)
{
  g_data_input_stream_read_line_async (peer->out, G_PRIORITY_DEFAULT, peer->cancellable,
                                       line_read_cb, peer);
}

static void
exited_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  WzpUiPeer *peer = user_data;

  if (!g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL))
    return;   /* cancelled: the peer is being freed */
  peer->exited = TRUE;
  peer->success = g_subprocess_get_successful (G_SUBPROCESS (source));
}

/* A peer never outlives a test that crashed: it would hold the test's stderr open. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

WzpUiPeer *
wzp_ui_peer_spawn (const char *relay_uri,
                   const char *identity_path,
                   const char *alias,
                   ...)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  WzpUiPeer *peer;
  const char *cli = g_getenv ("WZP_CLI");
  const char *arg;
  va_list args;

  g_assert_nonnull (cli);
  g_ptr_array_add (argv, (char *) cli);
  g_ptr_array_add (argv, (char *) "--relay");
  g_ptr_array_add (argv, (char *) relay_uri);
  g_ptr_array_add (argv, (char *) "--identity");
  g_ptr_array_add (argv, (char *) identity_path);
  if (alias != NULL)
    {
      g_ptr_array_add (argv, (char *) "--alias");
      g_ptr_array_add (argv, (char *) alias);
    }
  g_ptr_array_add (argv, (char *) "--json");
  va_start (args, alias);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_setenv (launcher, "WZP_TEST_LOOPBACK", "1", TRUE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  peer = g_new0 (WzpUiPeer, 1);
  peer->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  peer->cancellable = g_cancellable_new ();
  peer->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata,
                                                &error);
  g_assert_no_error (error);
  peer->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (peer->process));
  read_next_line (peer);
  g_subprocess_wait_async (peer->process, peer->cancellable, exited_cb, peer);
  return peer;
}

static JsonObject *
find_event (WzpUiPeer  *peer,
            const char *event)
{
  for (guint i = peer->next; i < peer->events->len; i++)
    {
      JsonObject *object = json_node_get_object (g_ptr_array_index (peer->events, i));

      if (g_strcmp0 (json_object_get_string_member_with_default (object, "event", ""),
                     event) == 0)
        {
          peer->next = i + 1;
          return object;
        }
    }
  return NULL;
}

JsonObject *
wzp_ui_peer_wait_event (WzpUiPeer  *peer,
                        const char *event,
                        guint       timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  JsonObject *object;

  while ((object = find_event (peer, event)) == NULL)
    {
      if (peer->eof && peer->exited)
        g_error ("wzp-cli exited before the event “%s”", event);
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out after %u ms waiting for the wzp-cli event “%s”", timeout_ms,
                 event);
      wzp_ui_iterate ();
    }
  return object;
}

gboolean
wzp_ui_peer_wait_exit (WzpUiPeer *peer,
                       guint      timeout_ms)
{
  WZP_UI_WAIT (peer->exited && peer->eof, timeout_ms);
  return peer->success;
}

void
wzp_ui_peer_terminate (WzpUiPeer *peer)
{
  if (!peer->exited)
    g_subprocess_send_signal (peer->process, SIGTERM);
}

void
wzp_ui_peer_free (WzpUiPeer *peer)
{
  if (!peer->exited)
    g_subprocess_force_exit (peer->process);
  /* Both callbacks must have run before @peer goes away. */
  WZP_UI_WAIT (peer->exited && peer->eof, 5000);
  g_cancellable_cancel (peer->cancellable);
  g_clear_object (&peer->out);
  g_clear_object (&peer->process);
  g_clear_object (&peer->cancellable);
  g_ptr_array_unref (peer->events);
  g_free (peer);
}
