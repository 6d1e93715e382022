/* wzp-contact-page.c: one contact: rename, full fingerprint, calls with them, Call
 *
 * Shown inside the dialer page (its leaflet) when a contact row is activated. The page
 * follows the contact by fingerprint, not by object: renaming replaces the WzpContact.
 * It acts through the dialer page's actions (dialer.*) and the app's (app.dial), so that
 * removing from here offers the same Undo as removing from the list.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "wzp-contact-page.h"
#include "wzp-fingerprint-text.h"

struct _WzpContactPage
{
  AdwBin             parent_instance;

  AdwWindowTitle    *title;
  AdwEntryRow       *name_row;
  AdwActionRow      *fingerprint_row;
  GtkWidget         *copy_button;
  GtkWidget         *call_button;
  GtkWidget         *remove_button;
  AdwPreferencesGroup *calls_group;
  GtkListBox        *calls_list;
  GtkLabel          *calls_placeholder;

  WzpContacts       *contacts;
  WzpCallHistory    *history;
  GtkFilterListModel *calls;
  char              *fingerprint;
};

G_DEFINE_FINAL_TYPE (WzpContactPage, wzp_contact_page, ADW_TYPE_BIN)

static void
set_label (GtkWidget  *widget,
           char       *label)   /* (transfer full) */
{
  gtk_widget_set_tooltip_text (widget, label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                  -1);
  g_free (label);
}

static void
update (WzpContactPage *self)
{
  WzpContact *contact = self->contacts != NULL && self->fingerprint != NULL
                          ? wzp_contacts_lookup (self->contacts, self->fingerprint)
                          : NULL;
  const char *name = contact != NULL ? wzp_contact_get_name (contact) : _("Unknown caller");
  g_autofree char *lines = wzp_fingerprint_to_lines (self->fingerprint);
  g_autofree char *calls_title = NULL;
  g_autofree char *placeholder = NULL;

  adw_window_title_set_title (self->title, name);
  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (self->name_row)),
                 contact != NULL ? name : "") != 0)
    gtk_editable_set_text (GTK_EDITABLE (self->name_row), contact != NULL ? name : "");
  adw_action_row_set_subtitle (self->fingerprint_row, lines != NULL ? lines : "");
  gtk_widget_set_sensitive (self->remove_button, contact != NULL);

  /* Translators: %s is a contact's name; the button calls them. */
  set_label (self->call_button, g_strdup_printf (_("Call %s"), name));
  /* Translators: %s is a contact's name. */
  set_label (self->remove_button, g_strdup_printf (_("Remove %s from Contacts"), name));
  /* Translators: %s is a contact's name: the list of calls with them. */
  calls_title = g_strdup_printf (_("Calls with %s"), name);
  adw_preferences_group_set_title (self->calls_group, calls_title);
  /* Translators: %s is a contact's name. */
  placeholder = g_strdup_printf (_("No calls with %s yet"), name);
  gtk_label_set_text (self->calls_placeholder, placeholder);
}

static GtkWidget *
create_call_row (gpointer item,
                 gpointer user_data)
{
  WzpCallRecord *record = WZP_CALL_RECORD (item);
  g_autofree char *description = wzp_call_record_describe (record);
  GtkWidget *row = adw_action_row_new ();
  const char *icon;

  if (wzp_call_record_get_outcome (record) == WZP_CALL_OUTCOME_MISSED)
    icon = "call-missed-symbolic";
  else if (wzp_call_record_get_incoming (record))
    icon = "call-incoming-symbolic";
  else
    icon = "call-outgoing-symbolic";
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), description);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), gtk_image_new_from_icon_name (icon));
  return row;
}

static gboolean
record_matches (gpointer item,
                gpointer user_data)
{
  WzpContactPage *self = user_data;

  return g_strcmp0 (wzp_call_record_get_fingerprint (item), self->fingerprint) == 0;
}

static void
rebind_calls (WzpContactPage *self)
{
  GtkCustomFilter *filter;

  g_clear_object (&self->calls);
  if (self->history != NULL)
    {
      filter = gtk_custom_filter_new (record_matches, self, NULL);
      self->calls = gtk_filter_list_model_new (
        g_object_ref (wzp_call_history_get_model (self->history)), GTK_FILTER (filter));
    }
  gtk_list_box_bind_model (self->calls_list, G_LIST_MODEL (self->calls), create_call_row,
                           self, NULL);
}

void
wzp_contact_page_set_models (WzpContactPage *self,
                             WzpContacts    *contacts,
                             WzpCallHistory *history)
{
  g_return_if_fail (WZP_IS_CONTACT_PAGE (self));

  if (self->contacts != NULL)
    g_signal_handlers_disconnect_by_data (wzp_contacts_get_model (self->contacts), self);
  g_set_object (&self->contacts, contacts);
  g_set_object (&self->history, history);
  if (contacts != NULL)
    g_signal_connect_object (wzp_contacts_get_model (contacts), "items-changed",
                             G_CALLBACK (update), self, G_CONNECT_SWAPPED);
  rebind_calls (self);
  update (self);
}

void
wzp_contact_page_set_fingerprint (WzpContactPage *self,
                                  const char     *fingerprint)
{
  g_return_if_fail (WZP_IS_CONTACT_PAGE (self));

  g_free (self->fingerprint);
  self->fingerprint = g_strdup (fingerprint);
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->call_button), "s",
                                    fingerprint != NULL ? fingerprint : "");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->remove_button), "s",
                                    fingerprint != NULL ? fingerprint : "");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->copy_button), "s",
                                    fingerprint != NULL ? fingerprint : "");
  rebind_calls (self);
  update (self);
}

const char *
wzp_contact_page_get_fingerprint (WzpContactPage *self)
{
  return self->fingerprint;
}

GtkWidget *
wzp_contact_page_get_name_row (WzpContactPage *self)
{
  return GTK_WIDGET (self->name_row);
}

GtkWidget *
wzp_contact_page_get_call_button (WzpContactPage *self)
{
  return self->call_button;
}

/* The calls with this contact, newest first. */
GListModel *
wzp_contact_page_get_calls (WzpContactPage *self)
{
  return G_LIST_MODEL (self->calls);
}

static void
name_apply_cb (WzpContactPage *self)
{
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (
                                        GTK_EDITABLE (self->name_row))));

  if (self->contacts == NULL || self->fingerprint == NULL || *name == '\0')
    {
      gtk_widget_error_bell (GTK_WIDGET (self));
      return;
    }
  wzp_contacts_add (self->contacts, name, self->fingerprint);
}

/* GObject */

static void
wzp_contact_page_dispose (GObject *object)
{
  WzpContactPage *self = WZP_CONTACT_PAGE (object);

  if (self->contacts != NULL)
    g_signal_handlers_disconnect_by_data (wzp_contacts_get_model (self->contacts), self);
  if (self->calls_list != NULL)
    gtk_list_box_bind_model (self->calls_list, NULL, NULL, NULL, NULL);
  g_clear_object (&self->calls);
  g_clear_object (&self->contacts);
  g_clear_object (&self->history);

  G_OBJECT_CLASS (wzp_contact_page_parent_class)->dispose (object);
}

static void
wzp_contact_page_finalize (GObject *object)
{
  WzpContactPage *self = WZP_CONTACT_PAGE (object);

  g_free (self->fingerprint);

  G_OBJECT_CLASS (wzp_contact_page_parent_class)->finalize (object);
}

static void
wzp_contact_page_class_init (WzpContactPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = wzp_contact_page_dispose;
  object_class->finalize = wzp_contact_page_finalize;
}

static void
wzp_contact_page_init (WzpContactPage *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *back = gtk_button_new_from_icon_name ("go-previous-symbolic");
  GtkWidget *page = adw_preferences_page_new ();
  GtkWidget *group = adw_preferences_group_new ();
  GtkWidget *buttons_group = adw_preferences_group_new ();
  GtkWidget *buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);

  adw_bin_set_child (ADW_BIN (self), box);
  gtk_box_append (GTK_BOX (box), header);
  gtk_box_append (GTK_BOX (box), page);
  gtk_widget_set_vexpand (page, TRUE);

  gtk_widget_set_tooltip_text (back, _("Back"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (back), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Back to Contacts"), -1);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (back), "dialer.show-main");
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), back);
  self->title = ADW_WINDOW_TITLE (adw_window_title_new ("", NULL));
  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), GTK_WIDGET (self->title));

  self->name_row = ADW_ENTRY_ROW (adw_entry_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->name_row), _("Name"));
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self->name_row), FALSE);
  adw_entry_row_set_show_apply_button (self->name_row, TRUE);
  g_signal_connect_swapped (self->name_row, "apply", G_CALLBACK (name_apply_cb), self);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), GTK_WIDGET (self->name_row));

  self->fingerprint_row = ADW_ACTION_ROW (adw_action_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->fingerprint_row), _("Fingerprint"));
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self->fingerprint_row), FALSE);
  adw_action_row_set_subtitle_lines (self->fingerprint_row, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->fingerprint_row), "fingerprint");
  self->copy_button = gtk_button_new_from_icon_name ("edit-copy-symbolic");
  gtk_widget_set_valign (self->copy_button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (self->copy_button, "flat");
  gtk_widget_set_tooltip_text (self->copy_button, _("Copy Fingerprint"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->copy_button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Copy fingerprint"), -1);
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->copy_button), "s", "");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->copy_button), "dialer.copy-fingerprint");
  adw_action_row_add_suffix (self->fingerprint_row, self->copy_button);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), GTK_WIDGET (self->fingerprint_row));
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (group));

  self->call_button = gtk_button_new_with_mnemonic (_("_Call"));
  gtk_widget_add_css_class (self->call_button, "pill");
  gtk_widget_add_css_class (self->call_button, "suggested-action");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->call_button), "s", "");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->call_button), "app.dial");
  self->remove_button = gtk_button_new_with_mnemonic (_("_Remove"));
  gtk_widget_add_css_class (self->remove_button, "pill");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->remove_button), "s", "");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->remove_button), "dialer.remove-contact");
  gtk_widget_set_halign (buttons, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (buttons), self->call_button);
  gtk_box_append (GTK_BOX (buttons), self->remove_button);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (buttons_group), buttons);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (buttons_group));

  self->calls_group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  self->calls_list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->calls_list, GTK_SELECTION_NONE);
  gtk_widget_add_css_class (GTK_WIDGET (self->calls_list), "boxed-list");
  self->calls_placeholder = GTK_LABEL (gtk_label_new (NULL));
  gtk_widget_set_margin_top (GTK_WIDGET (self->calls_placeholder), 18);
  gtk_widget_set_margin_bottom (GTK_WIDGET (self->calls_placeholder), 18);
  gtk_widget_add_css_class (GTK_WIDGET (self->calls_placeholder), "dim-label");
  gtk_list_box_set_placeholder (self->calls_list, GTK_WIDGET (self->calls_placeholder));
  adw_preferences_group_add (self->calls_group, GTK_WIDGET (self->calls_list));
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), self->calls_group);

  update (self);
}
