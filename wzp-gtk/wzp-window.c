/* wzp-window.c: the main window: the dialer page, the call page and the ringing page
 *
 * The window shows what the application tells it (the client, the contacts, the call); the
 * calls themselves, notifications and inhibition live in WzpApplication, so that calls go on
 * and can be answered with no window open.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "wzp-gtk-util.h"
#include "wzp-ringing-page.h"
#include "wzp-window.h"

struct _WzpWindow
{
  AdwApplicationWindow  parent_instance;

  AdwToastOverlay      *toast_overlay;
  AdwLeaflet           *leaflet;
  WzpDialerPage        *dialer_page;
  WzpCallPage          *call_page;
  WzpRingingPage       *ringing_page;
  GtkRevealer          *busy_revealer;
  GtkWidget            *busy_label;
  GtkWidget            *busy_call_back_button;

  WzpClient            *client;
  WzpContacts          *contacts;
  WzpCallHistory       *history;
  GSettings            *settings;
  char                 *last_toast;
  GPtrArray            *toasts;        /* AdwToast*, shown or queued */
};

G_DEFINE_FINAL_TYPE (WzpWindow, wzp_window, ADW_TYPE_APPLICATION_WINDOW)

/* Toasts */

static void
toast_dismissed_cb (WzpWindow *self,
                    AdwToast  *toast)
{
  g_ptr_array_remove (self->toasts, toast);
}

void
wzp_window_add_toast (WzpWindow *self,
                      AdwToast  *toast)
{
  g_return_if_fail (WZP_IS_WINDOW (self));

  g_free (self->last_toast);
  self->last_toast = g_strdup (adw_toast_get_title (toast));
  g_ptr_array_add (self->toasts, g_object_ref (toast));
  g_signal_connect_object (toast, "dismissed", G_CALLBACK (toast_dismissed_cb), self,
                           G_CONNECT_SWAPPED);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

/* Dismisses every toast shown or waiting (before a screenshot, for instance). */
void
wzp_window_dismiss_toasts (WzpWindow *self)
{
  g_autoptr(GPtrArray) toasts = NULL;

  g_return_if_fail (WZP_IS_WINDOW (self));

  toasts = g_ptr_array_copy (self->toasts, (GCopyFunc) g_object_ref, NULL);
  g_ptr_array_set_free_func (toasts, g_object_unref);
  for (guint i = 0; i < toasts->len; i++)
    adw_toast_dismiss (g_ptr_array_index (toasts, i));
}

/* A toast with a "Details" button that shows @details (may be NULL) in a dialog. */
void
wzp_window_show_problem (WzpWindow  *self,
                         const char *title,
                         const char *details)
{
  AdwToast *toast = adw_toast_new (title);

  adw_toast_set_timeout (toast, 8);
  if (details != NULL && *details != '\0')
    {
      adw_toast_set_button_label (toast, _("Details"));
      adw_toast_set_action_name (toast, "win.show-details");
      adw_toast_set_action_target_value (toast, g_variant_new ("(ss)", title, details));
    }
  wzp_window_add_toast (self, toast);
}

/* The title of the newest toast, for tests. */
const char *
wzp_window_get_last_toast (WzpWindow *self)
{
  g_return_val_if_fail (WZP_IS_WINDOW (self), NULL);
  return self->last_toast;
}

static void
show_details_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  const char *title;
  const char *details;
  GtkWidget *dialog;

  g_variant_get (parameter, "(&s&s)", &title, &details);
  dialog = adw_message_dialog_new (GTK_WINDOW (widget), title, details);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Pages */

void
wzp_window_show_main (WzpWindow *self)
{
  g_return_if_fail (WZP_IS_WINDOW (self));

  adw_leaflet_set_visible_child_name (self->leaflet, "main");
  wzp_call_page_set_call (self->call_page, NULL);
}

void
wzp_window_show_outgoing (WzpWindow  *self,
                          const char *fingerprint)
{
  g_return_if_fail (WZP_IS_WINDOW (self));

  wzp_call_page_show_outgoing (self->call_page, fingerprint);
  adw_leaflet_set_visible_child_name (self->leaflet, "call");
  wzp_call_page_focus_hang_up (self->call_page);
}

void
wzp_window_show_call (WzpWindow *self,
                      WzpCall   *call)
{
  g_return_if_fail (WZP_IS_WINDOW (self));

  wzp_call_page_set_call (self->call_page, call);
  adw_leaflet_set_visible_child_name (self->leaflet, "call");
  wzp_call_page_focus_hang_up (self->call_page);
}

/* A call ringing: the ringing page, with the focus on Accept. */
void
wzp_window_show_ringing (WzpWindow *self,
                         WzpCall   *call)
{
  g_return_if_fail (WZP_IS_WINDOW (self));
  g_return_if_fail (WZP_IS_CALL (call));

  wzp_ringing_page_set_call (self->ringing_page, call);
  adw_leaflet_set_visible_child_name (self->leaflet, "ringing");
  wzp_ringing_page_focus_accept (self->ringing_page);
}

/* The call stopped ringing: the main page, unless another page has been shown since. */
void
wzp_window_stop_ringing (WzpWindow *self)
{
  g_return_if_fail (WZP_IS_WINDOW (self));

  if (wzp_window_is_ringing (self))
    adw_leaflet_set_visible_child_name (self->leaflet, "main");
  wzp_ringing_page_set_call (self->ringing_page, NULL);
}

gboolean
wzp_window_is_ringing (WzpWindow *self)
{
  g_return_val_if_fail (WZP_IS_WINDOW (self), FALSE);
  return g_strcmp0 (adw_leaflet_get_visible_child_name (self->leaflet), "ringing") == 0;
}

WzpRingingPage *
wzp_window_get_ringing_page (WzpWindow *self)
{
  return self->ringing_page;
}

/* Someone called during a call and was told busy: "Dana tried to call you", with Call Back,
 * under whatever page shows, until dismissed or called back (app.dismiss-busy-call and
 * app.call-back: the application remembers it for windows made later). @name names the
 * caller (from the contacts, or "Unknown caller"). */
void
wzp_window_show_busy_call (WzpWindow  *self,
                           const char *name,
                           const char *fingerprint)
{
  g_autofree char *text = NULL;
  g_autofree char *call_back = NULL;

  g_return_if_fail (WZP_IS_WINDOW (self));

  /* Translators: %s is a caller's name from the contacts, or "Unknown caller". They called
   * during another call and were told that you were busy. */
  text = g_strdup_printf (_("%s tried to call you"), name);
  gtk_label_set_text (GTK_LABEL (self->busy_label), text);
  gtk_widget_set_tooltip_text (self->busy_label, fingerprint);
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->busy_call_back_button), "s",
                                    fingerprint);
  /* Translators: %s is a caller's name from the contacts, or "Unknown caller". */
  call_back = g_strdup_printf (_("Call back %s"), name);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->busy_call_back_button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, call_back, -1);
  gtk_revealer_set_reveal_child (self->busy_revealer, TRUE);
}

/* The text of "… tried to call you" while it shows, or NULL. */
const char *
wzp_window_get_busy_call_text (WzpWindow *self)
{
  g_return_val_if_fail (WZP_IS_WINDOW (self), NULL);

  if (!gtk_revealer_get_reveal_child (self->busy_revealer))
    return NULL;
  return gtk_label_get_text (GTK_LABEL (self->busy_label));
}

void
wzp_window_hide_busy_call (WzpWindow *self)
{
  g_return_if_fail (WZP_IS_WINDOW (self));

  gtk_revealer_set_reveal_child (self->busy_revealer, FALSE);
}

/* Call Back works from the main page: there is one call at a time (no hold). */
static void
page_changed_cb (WzpWindow *self)
{
  gboolean on_main = g_strcmp0 (adw_leaflet_get_visible_child_name (self->leaflet), "main") == 0;

  gtk_widget_set_sensitive (self->busy_call_back_button, on_main);
  gtk_widget_set_tooltip_text (self->busy_call_back_button,
                               on_main ? NULL : _("You can call back once this call is over"));
}

gboolean
wzp_window_is_in_call (WzpWindow *self)
{
  g_return_val_if_fail (WZP_IS_WINDOW (self), FALSE);
  return g_strcmp0 (adw_leaflet_get_visible_child_name (self->leaflet), "call") == 0;
}

WzpDialerPage *
wzp_window_get_dialer_page (WzpWindow *self)
{
  return self->dialer_page;
}

WzpCallPage *
wzp_window_get_call_page (WzpWindow *self)
{
  return self->call_page;
}

/* Models */

void
wzp_window_set_client (WzpWindow *self,
                       WzpClient *client)
{
  g_return_if_fail (WZP_IS_WINDOW (self));

  g_set_object (&self->client, client);
  wzp_dialer_page_set_client (self->dialer_page, client);
}

void
wzp_window_set_contacts (WzpWindow   *self,
                         WzpContacts *contacts)
{
  g_return_if_fail (WZP_IS_WINDOW (self));

  g_set_object (&self->contacts, contacts);
  wzp_dialer_page_set_contacts (self->dialer_page, contacts);
  wzp_call_page_set_contacts (self->call_page, contacts);
  wzp_ringing_page_set_contacts (self->ringing_page, contacts);
}

void
wzp_window_set_history (WzpWindow      *self,
                        WzpCallHistory *history)
{
  g_return_if_fail (WZP_IS_WINDOW (self));

  g_set_object (&self->history, history);
  wzp_dialer_page_set_history (self->dialer_page, history);
}

void
wzp_window_set_settings (WzpWindow *self,
                         GSettings *settings)
{
  g_return_if_fail (WZP_IS_WINDOW (self));

  g_set_object (&self->settings, settings);
  wzp_dialer_page_set_settings (self->dialer_page, settings);
  if (settings != NULL)
    {
      gtk_window_set_default_size (GTK_WINDOW (self),
                                   g_settings_get_int (settings, "window-width"),
                                   g_settings_get_int (settings, "window-height"));
      if (g_settings_get_boolean (settings, "window-maximized"))
        gtk_window_maximize (GTK_WINDOW (self));
    }
}

/* Actions */

static void
copy_fingerprint_action (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  WzpWindow *self = WZP_WINDOW (widget);
  g_autofree char *fingerprint = NULL;

  if (self->client == NULL)
    return;
  g_object_get (self->client, "fingerprint", &fingerprint, NULL);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), fingerprint);
  wzp_window_add_toast (self, adw_toast_new (_("Fingerprint copied")));
}

static void
focus_dial_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  WzpWindow *self = WZP_WINDOW (widget);

  if (wzp_window_is_in_call (self) || wzp_window_is_ringing (self))
    return;
  wzp_dialer_page_focus_dial (self->dialer_page);
}

/* Contacts and recent calls are the dialer page's (with Undo); the window's actions and
 * shortcuts reach them from anywhere in the window. */

static void
add_contact_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  wzp_dialer_page_add_contact (WZP_WINDOW (widget)->dialer_page,
                               g_variant_get_string (parameter, NULL));
}

static void
remove_contact_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  wzp_dialer_page_remove_contact (WZP_WINDOW (widget)->dialer_page,
                                  g_variant_get_string (parameter, NULL));
}

static void
clear_history_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  wzp_dialer_page_clear_history (WZP_WINDOW (widget)->dialer_page);
}

/* GObject */

static gboolean
wzp_window_close_request (GtkWindow *window)
{
  WzpWindow *self = WZP_WINDOW (window);

  if (self->settings != NULL)
    {
      int width, height;

      gtk_window_get_default_size (window, &width, &height);
      g_settings_delay (self->settings);
      g_settings_set_int (self->settings, "window-width", width);
      g_settings_set_int (self->settings, "window-height", height);
      g_settings_set_boolean (self->settings, "window-maximized",
                              gtk_window_is_maximized (window));
      g_settings_apply (self->settings);
    }
  return GTK_WINDOW_CLASS (wzp_window_parent_class)->close_request (window);
}

static void
wzp_window_dispose (GObject *object)
{
  WzpWindow *self = WZP_WINDOW (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), WZP_TYPE_WINDOW);
  g_clear_object (&self->client);
  g_clear_object (&self->contacts);
  g_clear_object (&self->history);
  g_clear_object (&self->settings);
  if (self->toasts != NULL)
    g_ptr_array_set_size (self->toasts, 0);

  G_OBJECT_CLASS (wzp_window_parent_class)->dispose (object);
}

static void
wzp_window_finalize (GObject *object)
{
  WzpWindow *self = WZP_WINDOW (object);

  g_free (self->last_toast);
  g_ptr_array_unref (self->toasts);

  G_OBJECT_CLASS (wzp_window_parent_class)->finalize (object);
}

static void
wzp_window_class_init (WzpWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = wzp_window_dispose;
  object_class->finalize = wzp_window_finalize;
  window_class->close_request = wzp_window_close_request;

  g_type_ensure (WZP_TYPE_DIALER_PAGE);
  g_type_ensure (WZP_TYPE_CALL_PAGE);
  g_type_ensure (WZP_TYPE_RINGING_PAGE);

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_BASE_PATH "/wzp-window.ui");
  gtk_widget_class_bind_template_child (widget_class, WzpWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, WzpWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, WzpWindow, dialer_page);
  gtk_widget_class_bind_template_child (widget_class, WzpWindow, call_page);
  gtk_widget_class_bind_template_child (widget_class, WzpWindow, ringing_page);
  gtk_widget_class_bind_template_child (widget_class, WzpWindow, busy_revealer);
  gtk_widget_class_bind_template_child (widget_class, WzpWindow, busy_label);
  gtk_widget_class_bind_template_child (widget_class, WzpWindow, busy_call_back_button);

  gtk_widget_class_install_action (widget_class, "win.copy-fingerprint", NULL,
                                   copy_fingerprint_action);
  gtk_widget_class_install_action (widget_class, "win.focus-dial", NULL, focus_dial_action);
  gtk_widget_class_install_action (widget_class, "win.add-contact", "s", add_contact_action);
  gtk_widget_class_install_action (widget_class, "win.remove-contact", "s",
                                   remove_contact_action);
  gtk_widget_class_install_action (widget_class, "win.clear-history", NULL,
                                   clear_history_action);
  gtk_widget_class_install_action (widget_class, "win.show-details", "(ss)",
                                   show_details_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_l, GDK_CONTROL_MASK,
                                       "win.focus-dial", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_c,
                                       GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "win.copy-fingerprint", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK,
                                       "win.add-contact", "s", "");
}

static void
wzp_window_init (WzpWindow *self)
{
  self->toasts = g_ptr_array_new_with_free_func (g_object_unref);
  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect_object (self->leaflet, "notify::visible-child-name",
                           G_CALLBACK (page_changed_cb), self, G_CONNECT_SWAPPED);
  page_changed_cb (self);
  /* "Close" under a call's outcome. */
  g_signal_connect_object (self->call_page, "closed", G_CALLBACK (wzp_window_show_main), self,
                           G_CONNECT_SWAPPED);

  if (g_str_has_suffix (APP_ID, ".Devel"))
    gtk_widget_add_css_class (GTK_WIDGET (self), "devel");
}

WzpWindow *
wzp_window_new (GtkApplication *application)
{
  return g_object_new (WZP_TYPE_WINDOW, "application", application, NULL);
}
