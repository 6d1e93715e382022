/* wzp-identity-dialog.c: your own fingerprint, name and wzp: link, with its QR code
 *
 * What people need to call you, on a page of its own instead of at the top of the main
 * page: the fingerprint (two lines of four groups), a QR code of the wzp: link that holds
 * it and your relay (a phone's camera opens it), copy buttons for both, and the name you
 * give yourself.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "wzp-fingerprint-text.h"
#include "wzp-identity-dialog.h"
#include "wzp-link.h"
#include "wzp-qr-code.h"

#define QR_MODULE_PX 5

struct _WzpIdentityDialog
{
  AdwWindow        parent_instance;

  AdwToastOverlay *toasts;
  GtkPicture      *qr_picture;
  GtkLabel        *fingerprint_label;
  GtkWidget       *copy_button;
  GtkWidget       *copy_link_button;
  GtkLabel        *relay_label;
  AdwEntryRow     *name_row;

  WzpClient       *client;
  GSettings       *settings;
  char            *link;
  GdkTexture      *qr_texture;
};

G_DEFINE_FINAL_TYPE (WzpIdentityDialog, wzp_identity_dialog, ADW_TYPE_WINDOW)

static void
update (WzpIdentityDialog *self)
{
  g_autofree char *fingerprint = NULL;
  g_autofree char *lines = NULL;
  g_autoptr(GError) error = NULL;
  const char *relay = NULL;

  if (self->client != NULL)
    {
      g_object_get (self->client, "fingerprint", &fingerprint, NULL);
      relay = wzp_client_get_relay_uri (self->client);
    }

  g_clear_pointer (&self->link, g_free);
  g_clear_object (&self->qr_texture);
  if (fingerprint == NULL)
    {
      gtk_label_set_text (self->fingerprint_label, _("Loading…"));
      gtk_picture_set_paintable (self->qr_picture, NULL);
      gtk_widget_set_sensitive (self->copy_button, FALSE);
      gtk_widget_set_sensitive (self->copy_link_button, FALSE);
      return;
    }

  lines = wzp_fingerprint_to_lines (fingerprint);
  gtk_label_set_text (self->fingerprint_label, lines);
  gtk_widget_set_sensitive (self->copy_button, TRUE);
  gtk_widget_set_sensitive (self->copy_link_button, TRUE);

  self->link = wzp_link_build (fingerprint, relay);
  self->qr_texture = wzp_qr_code_new_texture (self->link, QR_MODULE_PX, NULL, &error);
  if (self->qr_texture == NULL)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE", "%s", error->message);
  gtk_picture_set_paintable (self->qr_picture, GDK_PAINTABLE (self->qr_texture));

  if (relay != NULL && *relay != '\0')
    {
      g_autofree char *text =
        /* Translators: %s is the relay's address, such as wzps://relay.example.org:4433. */
        g_strdup_printf (_("The code and the link also name your relay, %s, so that "
                           "people who use another one can reach you."), relay);

      gtk_label_set_text (self->relay_label, text);
    }
  else
    gtk_label_set_text (self->relay_label,
                        _("Set up a relay in Preferences and the code and the link will "
                          "name it too."));
}

static void
toast (WzpIdentityDialog *self,
       const char        *title)
{
  adw_toast_overlay_add_toast (self->toasts, adw_toast_new (title));
}

static void
copy_fingerprint_cb (WzpIdentityDialog *self)
{
  g_autofree char *fingerprint = NULL;

  if (self->client == NULL)
    return;
  g_object_get (self->client, "fingerprint", &fingerprint, NULL);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), fingerprint);
  toast (self, _("Fingerprint copied"));
}

static void
copy_link_cb (WzpIdentityDialog *self)
{
  if (self->link == NULL)
    return;
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), self->link);
  toast (self, _("Link copied"));
}

/* Your name */

static void
alias_changed_cb (WzpIdentityDialog *self)
{
  g_autofree char *alias = g_settings_get_string (self->settings, "alias");

  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (self->name_row)), alias) != 0)
    gtk_editable_set_text (GTK_EDITABLE (self->name_row), alias);
}

static void
name_apply_cb (WzpIdentityDialog *self)
{
  g_autofree char *alias = NULL;
  g_autofree char *old = NULL;

  if (self->settings == NULL)
    return;
  alias = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_row))));
  old = g_settings_get_string (self->settings, "alias");
  if (g_strcmp0 (alias, old) != 0)
    g_settings_set_string (self->settings, "alias", alias);
}

/* GObject */

static gboolean
wzp_identity_dialog_close_request (GtkWindow *window)
{
  /* A name typed but not applied is kept, as if applied: closing is not "cancel". */
  name_apply_cb (WZP_IDENTITY_DIALOG (window));
  return GTK_WINDOW_CLASS (wzp_identity_dialog_parent_class)->close_request (window);
}

static void
wzp_identity_dialog_dispose (GObject *object)
{
  WzpIdentityDialog *self = WZP_IDENTITY_DIALOG (object);

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->client);
  g_clear_object (&self->settings);
  g_clear_object (&self->qr_texture);
  g_clear_pointer (&self->link, g_free);

  G_OBJECT_CLASS (wzp_identity_dialog_parent_class)->dispose (object);
}

static void
wzp_identity_dialog_class_init (WzpIdentityDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = wzp_identity_dialog_dispose;
  window_class->close_request = wzp_identity_dialog_close_request;
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static GtkWidget *
caption (const char *text)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_justify (GTK_LABEL (label), GTK_JUSTIFY_CENTER);
  gtk_widget_add_css_class (label, "dim-label");
  return label;
}

static void
wzp_identity_dialog_init (WzpIdentityDialog *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *clamp = adw_clamp_new ();
  GtkWidget *content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 18);
  GtkWidget *fingerprint_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *group = adw_preferences_group_new ();
  GtkWidget *header = adw_header_bar_new ();

  gtk_window_set_title (GTK_WINDOW (self), _("Your Fingerprint"));
  gtk_window_set_modal (GTK_WINDOW (self), TRUE);
  gtk_window_set_default_size (GTK_WINDOW (self), 420, 680);

  self->toasts = ADW_TOAST_OVERLAY (adw_toast_overlay_new ());
  adw_toast_overlay_set_child (self->toasts, box);
  adw_window_set_content (ADW_WINDOW (self), GTK_WIDGET (self->toasts));
  gtk_box_append (GTK_BOX (box), header);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scrolled, TRUE);
  gtk_box_append (GTK_BOX (box), scrolled);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), clamp);
  adw_clamp_set_maximum_size (ADW_CLAMP (clamp), 400);
  adw_clamp_set_child (ADW_CLAMP (clamp), content);
  gtk_widget_set_margin_top (content, 18);
  gtk_widget_set_margin_bottom (content, 18);
  gtk_widget_set_margin_start (content, 12);
  gtk_widget_set_margin_end (content, 12);

  gtk_box_append (GTK_BOX (content),
                  caption (_("People call you by your fingerprint. Show them this code or send "
                             "them the link: either opens Wzp Phone ready to call you.")));

  self->qr_picture = GTK_PICTURE (gtk_picture_new ());
  gtk_picture_set_can_shrink (self->qr_picture, FALSE);
  gtk_widget_set_halign (GTK_WIDGET (self->qr_picture), GTK_ALIGN_CENTER);
  gtk_picture_set_alternative_text (self->qr_picture, _("QR code of your Wzp Phone link"));
  gtk_box_append (GTK_BOX (content), GTK_WIDGET (self->qr_picture));

  self->fingerprint_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_selectable (self->fingerprint_label, TRUE);
  gtk_label_set_justify (self->fingerprint_label, GTK_JUSTIFY_CENTER);
  gtk_widget_add_css_class (GTK_WIDGET (self->fingerprint_label), "fingerprint");
  gtk_widget_add_css_class (GTK_WIDGET (self->fingerprint_label), "title-4");
  gtk_widget_set_halign (fingerprint_box, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (fingerprint_box), GTK_WIDGET (self->fingerprint_label));
  self->copy_button = gtk_button_new_from_icon_name ("edit-copy-symbolic");
  gtk_widget_set_valign (self->copy_button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (self->copy_button, "flat");
  gtk_widget_set_tooltip_text (self->copy_button, _("Copy Fingerprint"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->copy_button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Copy fingerprint"), -1);
  g_signal_connect_swapped (self->copy_button, "clicked", G_CALLBACK (copy_fingerprint_cb),
                            self);
  gtk_box_append (GTK_BOX (fingerprint_box), self->copy_button);
  gtk_box_append (GTK_BOX (content), fingerprint_box);

  self->copy_link_button = gtk_button_new_with_mnemonic (_("Copy _Link"));
  gtk_widget_set_halign (self->copy_link_button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (self->copy_link_button, "pill");
  g_signal_connect_swapped (self->copy_link_button, "clicked", G_CALLBACK (copy_link_cb), self);
  gtk_box_append (GTK_BOX (content), self->copy_link_button);

  self->name_row = ADW_ENTRY_ROW (adw_entry_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->name_row),
                                 _("Your Name (shown to people you call)"));
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self->name_row), FALSE);
  adw_entry_row_set_show_apply_button (self->name_row, TRUE);
  g_signal_connect_swapped (self->name_row, "apply", G_CALLBACK (name_apply_cb), self);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), GTK_WIDGET (self->name_row));
  gtk_box_append (GTK_BOX (content), group);

  self->relay_label = GTK_LABEL (caption (NULL));
  gtk_label_set_wrap_mode (self->relay_label, PANGO_WRAP_WORD_CHAR);
  gtk_widget_add_css_class (GTK_WIDGET (self->relay_label), "caption");
  gtk_box_append (GTK_BOX (content), GTK_WIDGET (self->relay_label));
}

GtkWidget *
wzp_identity_dialog_new (GtkWindow *parent,
                         WzpClient *client,
                         GSettings *settings)
{
  WzpIdentityDialog *self = g_object_new (WZP_TYPE_IDENTITY_DIALOG,
                                          "transient-for", parent, NULL);

  g_set_object (&self->client, client);
  g_set_object (&self->settings, settings);
  if (client != NULL)
    {
      g_signal_connect_object (client, "notify::relay-uri", G_CALLBACK (update), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (client, "notify::fingerprint", G_CALLBACK (update), self,
                               G_CONNECT_SWAPPED);
    }
  gtk_widget_set_sensitive (GTK_WIDGET (self->name_row), settings != NULL);
  if (settings != NULL)
    {
      g_signal_connect_object (settings, "changed::alias", G_CALLBACK (alias_changed_cb), self,
                               G_CONNECT_SWAPPED);
      alias_changed_cb (self);
    }
  update (self);
  /* Not the selectable fingerprint: focused, it would show selected. */
  gtk_window_set_focus (GTK_WINDOW (self), self->copy_link_button);
  return GTK_WIDGET (self);
}

/* The link the QR code holds, or NULL before the identity is loaded. */
const char *
wzp_identity_dialog_get_link (WzpIdentityDialog *self)
{
  g_return_val_if_fail (WZP_IS_IDENTITY_DIALOG (self), NULL);
  return self->link;
}

GdkTexture *
wzp_identity_dialog_get_qr_texture (WzpIdentityDialog *self)
{
  g_return_val_if_fail (WZP_IS_IDENTITY_DIALOG (self), NULL);
  return self->qr_texture;
}

GtkWidget *
wzp_identity_dialog_get_copy_button (WzpIdentityDialog *self)
{
  g_return_val_if_fail (WZP_IS_IDENTITY_DIALOG (self), NULL);
  return self->copy_button;
}

GtkWidget *
wzp_identity_dialog_get_name_row (WzpIdentityDialog *self)
{
  g_return_val_if_fail (WZP_IS_IDENTITY_DIALOG (self), NULL);
  return GTK_WIDGET (self->name_row);
}
