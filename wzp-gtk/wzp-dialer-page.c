/* wzp-dialer-page.c: the main page: relay status, identity, dialling, contacts, recents
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "wzp-dialer-page.h"
#include "wzp-gtk-util.h"

struct _WzpDialerPage
{
  AdwBin          parent_instance;

  AdwActionRow   *relay_row;
  GtkStack       *relay_icon_stack;
  GtkImage       *relay_icon;
  GtkSpinner     *relay_spinner;
  GtkButton      *relay_button;
  AdwActionRow   *fingerprint_row;
  AdwEntryRow    *alias_row;
  AdwEntryRow    *dial_row;
  GtkButton      *call_button;
  GtkLabel       *dial_hint;
  gboolean        dial_refused;    /* the app refused the last dial: keep what was typed */
  GtkListBox     *contacts_list;
  GtkListBox     *recents_list;

  WzpClient      *client;
  WzpContacts    *contacts;
  WzpCallHistory *history;
  GSettings      *settings;
  GError         *relay_error;
};

G_DEFINE_FINAL_TYPE (WzpDialerPage, wzp_dialer_page, ADW_TYPE_BIN)

/* Relay status */

static char *
relay_display_name (const char *uri)
{
  g_autoptr(GUri) parsed = g_uri_parse (uri, G_URI_FLAGS_NONE, NULL);

  if (parsed == NULL || g_uri_get_host (parsed) == NULL)
    return g_strdup (uri);
  if (g_uri_get_port (parsed) > 0)
    return g_strdup_printf (strchr (g_uri_get_host (parsed), ':') ? "[%s]:%d" : "%s:%d",
                            g_uri_get_host (parsed), g_uri_get_port (parsed));
  return g_strdup (g_uri_get_host (parsed));
}

static void
set_status (WzpDialerPage *self,
            const char    *title,
            const char    *subtitle,
            const char    *icon_name,
            const char    *style,
            const char    *button_label,
            const char    *button_action)
{
  GtkWidget *icon = GTK_WIDGET (self->relay_icon);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->relay_row), title);
  adw_action_row_set_subtitle (self->relay_row, subtitle != NULL ? subtitle : "");

  if (icon_name == NULL)
    {
      gtk_stack_set_visible_child_name (self->relay_icon_stack, "spinner");
      gtk_spinner_start (self->relay_spinner);
    }
  else
    {
      gtk_spinner_stop (self->relay_spinner);
      gtk_stack_set_visible_child_name (self->relay_icon_stack, "icon");
      gtk_image_set_from_icon_name (self->relay_icon, icon_name);
    }
  gtk_widget_remove_css_class (icon, "success");
  gtk_widget_remove_css_class (icon, "warning");
  gtk_widget_remove_css_class (icon, "error");
  if (style != NULL)
    gtk_widget_add_css_class (icon, style);

  gtk_widget_set_visible (GTK_WIDGET (self->relay_button), button_label != NULL);
  if (button_label != NULL)
    {
      gtk_button_set_label (self->relay_button, button_label);
      gtk_actionable_set_action_name (GTK_ACTIONABLE (self->relay_button), button_action);
    }
}

static void
update_status (WzpDialerPage *self)
{
  const char *uri = self->client != NULL ? wzp_client_get_relay_uri (self->client) : NULL;
  const char *message = self->client != NULL ? wzp_client_get_error_message (self->client)
                                             : NULL;
  g_autofree char *relay = NULL;
  g_autofree char *subtitle = NULL;

  gtk_widget_set_tooltip_text (GTK_WIDGET (self->relay_row), message);

  if (self->client == NULL && self->relay_error != NULL)
    {
      set_status (self, _("Your identity could not be loaded"), self->relay_error->message,
                  "dialog-error-symbolic", "error", NULL, NULL);
      return;
    }
  if (self->client == NULL)
    {
      set_status (self, _("Starting…"), _("Loading your identity"), NULL, NULL, NULL, NULL);
      return;
    }
  if (uri == NULL || *uri == '\0')
    {
      set_status (self, _("No relay set up"),
                  _("A relay introduces you to the people you call. Ask the person who runs "
                    "yours for its address, then add it to make and receive calls."),
                  "network-offline-symbolic", "warning", _("Set Up…"), "app.preferences");
      return;
    }

  relay = relay_display_name (uri);
  switch (wzp_client_get_state (self->client))
    {
    case WZP_CLIENT_STATE_CONNECTING:
      /* Translators: %s is the relay's host and port. */
      subtitle = g_strdup_printf (_("Signing in at %s"), relay);
      set_status (self, _("Connecting to the relay…"), subtitle, NULL, NULL, NULL, NULL);
      break;

    case WZP_CLIENT_STATE_CONNECTED:
      /* Translators: %s is the relay's host and port. */
      subtitle = g_strdup_printf (_("Ready for calls through %s"), relay);
      set_status (self, _("Connected"), subtitle, "emblem-ok-symbolic", "success", NULL, NULL);
      break;

    case WZP_CLIENT_STATE_RECONNECTING:
      /* Translators: %s is the relay's host and port. */
      subtitle = g_strdup_printf (_("%s does not answer. Trying again in a moment; calls "
                                    "cannot be made or received until then."), relay);
      set_status (self, _("Cannot reach the relay"), subtitle, "network-error-symbolic",
                  "warning", _("Retry Now"), "app.reconnect");
      break;

    case WZP_CLIENT_STATE_FAILED:
      if (g_error_matches (self->relay_error, WZP_CLIENT_ERROR,
                           WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED))
        set_status (self, _("The relay’s identity changed"),
                    _("Someone may be intercepting your connection, or the relay’s operator "
                      "replaced its key. Check with them before you connect again."),
                    "dialog-warning-symbolic", "error", _("Try Again"), "app.reconnect");
      else if (g_error_matches (self->relay_error, WZP_CLIENT_ERROR,
                                WZP_CLIENT_ERROR_RELAY_PIN_MISMATCH))
        /* The fingerprint after # in the address is not this relay's: a typo in the
         * address or in the fingerprint, not an attack to warn about. */
        set_status (self, _("This is not the relay in the address"),
                    _("The relay at this address has another fingerprint. Check the address "
                      "and the fingerprint after # in Preferences."),
                    "dialog-error-symbolic", "error", _("Preferences"), "app.preferences");
      else if (g_error_matches (self->relay_error, WZP_CLIENT_ERROR,
                                WZP_CLIENT_ERROR_REPLACED))
        set_status (self, _("Signed in somewhere else"),
                    _("Another program is using your identity with this relay. Close it, "
                      "then try again."),
                    "dialog-warning-symbolic", "error", _("Try Again"), "app.reconnect");
      else if (g_error_matches (self->relay_error, WZP_CLIENT_ERROR,
                                WZP_CLIENT_ERROR_INVALID_URI))
        set_status (self, _("The relay address is not valid"),
                    _("Check the address in Preferences."),
                    "dialog-error-symbolic", "error", _("Preferences"), "app.preferences");
      else
        set_status (self, _("Not connected to the relay"),
                    message != NULL ? message : _("The connection was closed."),
                    "dialog-error-symbolic", "error", _("Try Again"), "app.reconnect");
      break;

    case WZP_CLIENT_STATE_DISCONNECTED:
    default:
      /* Translators: %s is the relay's host and port. */
      subtitle = g_strdup_printf (_("Not signed in at %s"), relay);
      set_status (self, _("Not connected"), subtitle, "network-offline-symbolic", NULL,
                  _("Connect"), "app.reconnect");
      break;
    }
}

const char *
wzp_dialer_page_get_status_title (WzpDialerPage *self)
{
  return adw_preferences_row_get_title (ADW_PREFERENCES_ROW (self->relay_row));
}

void
wzp_dialer_page_set_relay_error (WzpDialerPage *self,
                                 const GError  *error)
{
  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  g_clear_error (&self->relay_error);
  if (error != NULL)
    self->relay_error = g_error_copy (error);
  update_status (self);
}

/* Identity */

static void
update_identity (WzpDialerPage *self)
{
  g_autofree char *fingerprint = NULL;

  if (self->client != NULL)
    g_object_get (self->client, "fingerprint", &fingerprint, NULL);
  adw_action_row_set_subtitle (self->fingerprint_row,
                               fingerprint != NULL ? fingerprint : _("Loading…"));
  gtk_widget_set_sensitive (GTK_WIDGET (self->fingerprint_row), fingerprint != NULL);
}

static void
alias_changed_cb (WzpDialerPage *self)
{
  g_autofree char *alias = g_settings_get_string (self->settings, "alias");

  gtk_editable_set_text (GTK_EDITABLE (self->alias_row), alias);
}

static void
alias_apply_cb (WzpDialerPage *self)
{
  g_autofree char *alias = NULL;

  if (self->settings == NULL)
    return;
  alias = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->alias_row))));
  g_settings_set_string (self->settings, "alias", alias);
}

/* Dialling */

static void
dial_changed_cb (WzpDialerPage *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->dial_row));
  g_autofree char *normalized = NULL;
  g_autofree char *hint = NULL;
  WzpFingerprintInput input = wzp_fingerprint_input_check (text, &normalized, &hint);
  GtkWidget *row = GTK_WIDGET (self->dial_row);

  gtk_widget_remove_css_class (row, "error");
  gtk_widget_remove_css_class (row, "success");
  gtk_widget_remove_css_class (GTK_WIDGET (self->dial_hint), "error");

  switch (input)
    {
    case WZP_FINGERPRINT_INPUT_EMPTY:
      gtk_label_set_text (self->dial_hint,
                          _("8 groups of 4 digits, such as "
                            "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d"));
      break;
    case WZP_FINGERPRINT_INPUT_PARTIAL:
      gtk_label_set_text (self->dial_hint, hint);
      break;
    case WZP_FINGERPRINT_INPUT_VALID:
      {
        WzpContact *contact = self->contacts != NULL
                                ? wzp_contacts_lookup (self->contacts, normalized)
                                : NULL;
        g_autofree char *text_hint = NULL;

        gtk_widget_add_css_class (row, "success");
        if (contact != NULL)
          /* Translators: %s is a contact's name. */
          text_hint = g_strdup_printf (_("This is %s. Press Enter to call."),
                                       wzp_contact_get_name (contact));
        gtk_label_set_text (self->dial_hint,
                            text_hint != NULL ? text_hint
                                              : _("A complete fingerprint. Press Enter to "
                                                  "call."));
      }
      break;
    case WZP_FINGERPRINT_INPUT_INVALID:
    default:
      gtk_widget_add_css_class (row, "error");
      gtk_widget_add_css_class (GTK_WIDGET (self->dial_hint), "error");
      gtk_label_set_text (self->dial_hint, hint);
      break;
    }
  gtk_widget_set_sensitive (GTK_WIDGET (self->call_button),
                            input == WZP_FINGERPRINT_INPUT_VALID);
}

static void
dial_activated_cb (WzpDialerPage *self)
{
  g_autofree char *normalized = NULL;

  if (wzp_fingerprint_input_check (gtk_editable_get_text (GTK_EDITABLE (self->dial_row)),
                                   &normalized, NULL) != WZP_FINGERPRINT_INPUT_VALID)
    {
      gtk_widget_error_bell (GTK_WIDGET (self));
      return;
    }
  self->dial_refused = FALSE;
  if (gtk_widget_activate_action (GTK_WIDGET (self), "app.dial", "s", normalized) &&
      !self->dial_refused)
    gtk_editable_set_text (GTK_EDITABLE (self->dial_row), "");
}

/* Why the app would not call what was typed ("your own fingerprint", "not connected"),
 * under the entry, where the user looks; the text stays to be corrected. */
void
wzp_dialer_page_show_dial_error (WzpDialerPage *self,
                                 const char    *message)
{
  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  self->dial_refused = TRUE;
  gtk_widget_add_css_class (GTK_WIDGET (self->dial_row), "error");
  gtk_widget_remove_css_class (GTK_WIDGET (self->dial_row), "success");
  gtk_widget_add_css_class (GTK_WIDGET (self->dial_hint), "error");
  gtk_label_set_text (self->dial_hint, message);
}

const char *
wzp_dialer_page_get_dial_hint (WzpDialerPage *self)
{
  g_return_val_if_fail (WZP_IS_DIALER_PAGE (self), NULL);
  return gtk_label_get_text (self->dial_hint);
}

void
wzp_dialer_page_focus_dial (WzpDialerPage *self)
{
  gtk_widget_grab_focus (GTK_WIDGET (self->dial_row));
}

/* Lists */

static GtkWidget *
new_icon_button (const char *icon_name,
                 const char *tooltip,
                 const char *action_name,
                 const char *fingerprint)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon_name);

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (button, tooltip);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action_name);
  gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "s", fingerprint);
  gtk_widget_add_css_class (button, "flat");
  return button;
}

static GtkWidget *
create_contact_row (gpointer item,
                    gpointer user_data)
{
  WzpContact *contact = WZP_CONTACT (item);
  GtkWidget *row = adw_action_row_new ();
  const char *fingerprint = wzp_contact_get_fingerprint (contact);

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), wzp_contact_get_name (contact));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), fingerprint);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 0);
  gtk_widget_add_css_class (row, "fingerprint");
  adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                             new_icon_button ("user-trash-symbolic", _("Remove Contact"),
                                              "win.remove-contact", fingerprint));
  adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                             new_icon_button ("call-start-symbolic", _("Call"), "app.dial",
                                              fingerprint));
  return row;
}

static GtkWidget *
create_recent_row (gpointer item,
                   gpointer user_data)
{
  WzpDialerPage *self = WZP_DIALER_PAGE (user_data);
  WzpCallRecord *record = WZP_CALL_RECORD (item);
  const char *fingerprint = wzp_call_record_get_fingerprint (record);
  WzpContact *contact = self->contacts != NULL ? wzp_contacts_lookup (self->contacts, fingerprint)
                                               : NULL;
  g_autofree char *alias = wzp_alias_label (wzp_call_record_get_alias (record));
  g_autofree char *description = wzp_call_record_describe (record);
  g_autofree char *subtitle = NULL;
  g_autofree char *title = NULL;
  GtkWidget *row = adw_action_row_new ();
  const char *icon;

  if (wzp_call_record_get_outcome (record) == WZP_CALL_OUTCOME_MISSED)
    icon = "call-missed-symbolic";
  else if (wzp_call_record_get_incoming (record))
    icon = "call-incoming-symbolic";
  else
    icon = "call-outgoing-symbolic";

  /* Markup, so that only the fingerprint is monospace; everything else is escaped. */
  subtitle = g_markup_printf_escaped ("<tt>%s</tt>\n%s%s%s", fingerprint, description,
                                      contact == NULL && alias != NULL ? "\n" : "",
                                      contact == NULL && alias != NULL ? alias : "");
  /* Someone this side called is no caller. */
  title = g_markup_escape_text (contact != NULL ? wzp_contact_get_name (contact)
                                : wzp_call_record_get_incoming (record) ? _("Unknown caller")
                                                                        : _("Unknown contact"),
                                -1);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), TRUE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 0);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), gtk_image_new_from_icon_name (icon));
  gtk_widget_add_css_class (row, "recent-call");
  if (contact == NULL)
    adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                               new_icon_button ("contact-new-symbolic", _("Add to Contacts"),
                                                "win.add-contact", fingerprint));
  adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                             new_icon_button ("call-start-symbolic", _("Call Back"), "app.dial",
                                              fingerprint));
  return row;
}

static void
bind_recents (WzpDialerPage *self)
{
  gtk_list_box_bind_model (self->recents_list,
                           self->history ? wzp_call_history_get_model (self->history) : NULL,
                           create_recent_row, self, NULL);
}

static void
contacts_changed_cb (WzpDialerPage *self)
{
  /* Names in the recent calls come from the contacts. */
  bind_recents (self);
  dial_changed_cb (self);
}

/* Setters */

void
wzp_dialer_page_set_client (WzpDialerPage *self,
                            WzpClient     *client)
{
  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  if (self->client == client)
    return;
  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_set_object (&self->client, client);
  if (client != NULL)
    {
      g_signal_connect_object (client, "notify::state", G_CALLBACK (update_status), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (client, "notify::error-message", G_CALLBACK (update_status),
                               self, G_CONNECT_SWAPPED);
      g_signal_connect_object (client, "notify::relay-uri", G_CALLBACK (update_status), self,
                               G_CONNECT_SWAPPED);
    }
  update_status (self);
  update_identity (self);
}

void
wzp_dialer_page_set_contacts (WzpDialerPage *self,
                              WzpContacts   *contacts)
{
  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  if (self->contacts != NULL)
    g_signal_handlers_disconnect_by_data (wzp_contacts_get_model (self->contacts), self);
  g_set_object (&self->contacts, contacts);
  gtk_list_box_bind_model (self->contacts_list,
                           contacts != NULL ? wzp_contacts_get_model (contacts) : NULL,
                           create_contact_row, self, NULL);
  if (contacts != NULL)
    g_signal_connect_object (wzp_contacts_get_model (contacts), "items-changed",
                             G_CALLBACK (contacts_changed_cb), self, G_CONNECT_SWAPPED);
  bind_recents (self);
}

void
wzp_dialer_page_set_history (WzpDialerPage  *self,
                             WzpCallHistory *history)
{
  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  g_set_object (&self->history, history);
  bind_recents (self);
}

void
wzp_dialer_page_set_settings (WzpDialerPage *self,
                              GSettings     *settings)
{
  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_set_object (&self->settings, settings);
  gtk_widget_set_sensitive (GTK_WIDGET (self->alias_row), settings != NULL);
  if (settings != NULL)
    {
      g_signal_connect_object (settings, "changed::alias", G_CALLBACK (alias_changed_cb), self,
                               G_CONNECT_SWAPPED);
      alias_changed_cb (self);
    }
}

/* GObject */

static void
wzp_dialer_page_dispose (GObject *object)
{
  WzpDialerPage *self = WZP_DIALER_PAGE (object);

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  if (self->contacts != NULL)
    g_signal_handlers_disconnect_by_data (wzp_contacts_get_model (self->contacts), self);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  gtk_widget_dispose_template (GTK_WIDGET (self), WZP_TYPE_DIALER_PAGE);
  g_clear_object (&self->client);
  g_clear_object (&self->contacts);
  g_clear_object (&self->history);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (wzp_dialer_page_parent_class)->dispose (object);
}

static void
wzp_dialer_page_finalize (GObject *object)
{
  WzpDialerPage *self = WZP_DIALER_PAGE (object);

  g_clear_error (&self->relay_error);

  G_OBJECT_CLASS (wzp_dialer_page_parent_class)->finalize (object);
}

static void
wzp_dialer_page_class_init (WzpDialerPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = wzp_dialer_page_dispose;
  object_class->finalize = wzp_dialer_page_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE_PATH "/wzp-dialer-page.ui");
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, relay_row);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, relay_icon_stack);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, relay_icon);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, relay_spinner);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, relay_button);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, fingerprint_row);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, alias_row);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, dial_row);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, call_button);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, dial_hint);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, contacts_list);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, recents_list);
  gtk_widget_class_bind_template_callback (widget_class, alias_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, dial_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, dial_activated_cb);
}

static void
wzp_dialer_page_init (WzpDialerPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_widget_set_sensitive (GTK_WIDGET (self->alias_row), FALSE);
  update_status (self);
  update_identity (self);
}
