/* wzp-background.c: running in the background and starting at login
 *
 * Calls reach a user whose window is closed only if the app runs. With `run-in-background`
 * on (the default) the application holds itself, and asks to be started at login:
 *
 * - inside a sandbox (Flatpak), through the Background portal
 *   (org.freedesktop.portal.Background.RequestBackground with autostart), which is the only
 *   way there, and which lets the desktop ask the user; the portal serves sandboxed apps
 *   only, so a host app cannot use it;
 * - otherwise with an XDG autostart entry, $XDG_CONFIG_HOME/autostart/APP_ID-autostart.desktop,
 *   that starts `wzp-gtk --gapplication-service` (no window; GNOME Calls' daemon mode).
 *
 * Turning the setting off removes the entry (or asks the portal for no autostart).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "wzp-background.h"

#define PORTAL_BUS_NAME    "org.freedesktop.portal.Desktop"
#define PORTAL_OBJECT_PATH "/org/freedesktop/portal/desktop"
#define PORTAL_BACKGROUND  "org.freedesktop.portal.Background"
#define PORTAL_REQUEST     "org.freedesktop.portal.Request"

char *
wzp_background_get_autostart_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "autostart",
                           APP_ID "-autostart.desktop", NULL);
}

/* The XDG autostart entry */

static char *
autostart_entry (void)
{
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  g_autofree char *exec = g_strdup_printf ("%s --gapplication-service", WZP_GTK_BINARY);

  g_key_file_set_string (key_file, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_TYPE,
                         G_KEY_FILE_DESKTOP_TYPE_APPLICATION);
  g_key_file_set_string (key_file, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_NAME,
                         _("Wzp Phone"));
  g_key_file_set_string (key_file, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_COMMENT,
                         _("Receive calls when the window is closed"));
  g_key_file_set_string (key_file, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_EXEC, exec);
  g_key_file_set_string (key_file, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_ICON,
                         APP_ID);
  g_key_file_set_boolean (key_file, G_KEY_FILE_DESKTOP_GROUP,
                          G_KEY_FILE_DESKTOP_KEY_NO_DISPLAY, TRUE);
  g_key_file_set_boolean (key_file, G_KEY_FILE_DESKTOP_GROUP, "X-GNOME-Autostart-enabled",
                          TRUE);
  g_key_file_set_boolean (key_file, G_KEY_FILE_DESKTOP_GROUP, "X-GNOME-UsesNotifications",
                          TRUE);
  return g_key_file_to_data (key_file, NULL, NULL);
}

static void
autostart_thread (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  gboolean enable = GPOINTER_TO_INT (task_data);
  g_autofree char *path = wzp_background_get_autostart_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *entry = NULL;
  GError *error = NULL;

  if (!enable)
    {
      if (g_unlink (path) != 0 && errno != ENOENT)
        {
          int saved = errno;

          g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                                   _("Could not remove %s: %s"), path, g_strerror (saved));
          return;
        }
      g_task_return_boolean (task, TRUE);
      return;
    }

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                               _("Could not create %s: %s"), dir, g_strerror (saved));
      return;
    }
  entry = autostart_entry ();
  if (!g_file_set_contents_full (path, entry, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/* The Background portal */

typedef struct
{
  GDBusConnection *bus;
  guint            response_id;   /* holds a reference on the task while subscribed */
} PortalRequest;

static void
portal_request_free (PortalRequest *request)
{
  g_clear_object (&request->bus);
  g_free (request);
}

/* Stops listening for the Response, which drops the subscription's reference on @task. */
static void
portal_unsubscribe (GTask *task)
{
  PortalRequest *request = g_task_get_task_data (task);
  guint id = request->response_id;

  request->response_id = 0;
  if (id != 0)
    g_dbus_connection_signal_unsubscribe (request->bus, id);
}

static void
portal_response_cb (GDBusConnection *bus,
                    const char      *sender,
                    const char      *object_path,
                    const char      *interface_name,
                    const char      *signal_name,
                    GVariant        *parameters,
                    gpointer         user_data)
{
  g_autoptr(GTask) task = g_object_ref (user_data);
  guint32 response;
  g_autoptr(GVariant) results = NULL;
  gboolean background = FALSE;

  portal_unsubscribe (task);
  g_variant_get (parameters, "(u@a{sv})", &response, &results);
  g_variant_lookup (results, "background", "b", &background);
  if (response == 0 && background)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                             _("Running in the background was not allowed; calls reach you "
                               "only while the window is open"));
}

static void
portal_called_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  /* On success the answer comes as the request's Response signal. */
  if (reply == NULL)
    {
      portal_unsubscribe (task);
      g_task_return_error (task, g_steal_pointer (&error));
    }
}

static void
request_portal (GTask    *task,
                gboolean  enable)
{
  PortalRequest *request = g_new0 (PortalRequest, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *token = g_strdup_printf ("wzp%u", g_random_int ());
  g_autofree char *sender = NULL;
  g_autofree char *request_path = NULL;
  GVariantBuilder options;
  const char *commandline[] = { "wzp-gtk", "--gapplication-service", NULL };

  g_task_set_task_data (task, request, (GDestroyNotify) portal_request_free);
  request->bus = g_bus_get_sync (G_BUS_TYPE_SESSION, g_task_get_cancellable (task), &error);
  if (request->bus == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* Listen before asking, at the path the portal will use (its Request documentation). */
  sender = g_strdup (g_dbus_connection_get_unique_name (request->bus) + 1);
  g_strdelimit (sender, ".", '_');
  request_path = g_strdup_printf (PORTAL_OBJECT_PATH "/request/%s/%s", sender, token);
  request->response_id =
    g_dbus_connection_signal_subscribe (request->bus, PORTAL_BUS_NAME, PORTAL_REQUEST,
                                        "Response", request_path, NULL,
                                        G_DBUS_SIGNAL_FLAGS_NONE, portal_response_cb,
                                        g_object_ref (task), g_object_unref);

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "handle_token", g_variant_new_string (token));
  g_variant_builder_add (&options, "{sv}", "reason",
                         g_variant_new_string (_("Receive calls when the window is closed")));
  g_variant_builder_add (&options, "{sv}", "autostart", g_variant_new_boolean (enable));
  g_variant_builder_add (&options, "{sv}", "commandline",
                         g_variant_new_strv (commandline, -1));
  g_variant_builder_add (&options, "{sv}", "dbus-activatable", g_variant_new_boolean (FALSE));
  g_dbus_connection_call (request->bus, PORTAL_BUS_NAME, PORTAL_OBJECT_PATH, PORTAL_BACKGROUND,
                          "RequestBackground", g_variant_new ("(sa{sv})", "", &options),
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NONE, -1,
                          g_task_get_cancellable (task), portal_called_cb, g_object_ref (task));
}

/**
 * wzp_background_request_async:
 * @enable: whether to run in the background and start at login
 *
 * Asks to be started at login (or no longer), through the Background portal inside a
 * sandbox and with an XDG autostart entry otherwise.
 */
void
wzp_background_request_async (gboolean             enable,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, wzp_background_request_async);

  if (g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS))
    {
      request_portal (task, enable);
      return;
    }
  g_task_set_task_data (task, GINT_TO_POINTER (enable), NULL);
  g_task_run_in_thread (task, autostart_thread);
}

gboolean
wzp_background_request_finish (GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == wzp_background_request_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
