/* wzp-dialer-page.c: the main page: relay status and dialling, contacts, recent calls
 *
 * Three views in an AdwViewStack (Call, Contacts, Recent Calls) with a switcher in the
 * header bar, or at the bottom when the window is narrow; a welcome page with the relay
 * entry while no relay is set up; a contact's page. Your own fingerprint has a dialog of
 * its own (WzpIdentityDialog). Contacts and recent calls are changed here, with Undo.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "wzp-contact-page.h"
#include "wzp-dialer-page.h"
#include "wzp-fingerprint-text.h"
#include "wzp-gtk-util.h"
#include "wzp-identity-dialog.h"
#include "wzp-signed-in-elsewhere.h"
#include "wzp-window.h"

struct _WzpDialerPage
{
  AdwBin             parent_instance;

  GtkStack          *pages;           /* main, welcome, contact */
  AdwViewStack      *view_stack;
  GtkWidget         *recents_view;
  AdwViewStackPage  *recents_page;    /* the view stack's page of recents_view */
  AdwViewSwitcherTitle *switcher_title;
  AdwViewSwitcherBar *switcher_bar;
  GtkWidget         *menu_button;
  GtkWidget         *identity_button;
  AdwActionRow      *relay_row;
  GtkStack          *relay_icon_stack;
  GtkImage          *relay_icon;
  GtkSpinner        *relay_spinner;
  GtkButton         *relay_button;
  AdwEntryRow       *dial_row;
  GtkButton         *call_button;
  GtkLabel          *dial_hint;
  GtkWidget         *add_contact_button;
  GtkWidget         *contacts_damaged_box;
  GtkLabel          *contacts_damaged;
  GtkListBox        *contacts_list;
  GtkWidget         *clear_button;
  GtkWidget         *history_damaged_box;
  GtkLabel          *history_damaged;
  GtkListBox        *recents_list;
  AdwEntryRow       *welcome_relay_row;
  GtkLabel          *welcome_hint;
  GtkWidget         *welcome_damaged;
  GtkWidget         *welcome_button;
  WzpContactPage    *contact_page;

  WzpClient         *client;
  WzpContacts       *contacts;
  WzpCallHistory    *history;
  GSettings         *settings;
  GError            *relay_error;
  AdwToast          *undo_toast;      /* the last toast with Undo, for the tests */
  GtkWidget         *add_dialog;      /* weak */
  guint              unseen_missed;
};

G_DEFINE_FINAL_TYPE (WzpDialerPage, wzp_dialer_page, ADW_TYPE_BIN)

static void
show_toast (WzpDialerPage *self,
            AdwToast      *toast)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  if (WZP_IS_WINDOW (root))
    wzp_window_add_toast (WZP_WINDOW (root), toast);
  else
    g_object_unref (g_object_ref_sink (toast));
}

/* The accessible label and tooltip of an icon-only button: screen readers read the
 * label, and "Call Dana" says whom the button acts on, which its icon cannot. */
static void
set_button_label (GtkWidget  *button,
                  const char *label)
{
  gtk_widget_set_tooltip_text (button, label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  label, -1);
}

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
      /* The relay answered, and turned the connection away for now (docs/relay.md, "When
       * the relay turns clients away"): not a network problem on the user's side. */
      if (g_error_matches (wzp_client_get_error (self->client), WZP_CLIENT_ERROR,
                           WZP_CLIENT_ERROR_RELAY_BUSY))
        {
          /* Translators: %s is the relay's host and port. */
          subtitle = g_strdup_printf (_("%s is turning new connections away for now. Trying "
                                        "again in a moment; calls cannot be made or received "
                                        "until then."), relay);
          set_status (self, _("The relay is busy"), subtitle, "network-error-symbolic",
                      "warning", _("Retry Now"), "app.reconnect");
        }
      else if (g_error_matches (wzp_client_get_error (self->client), WZP_CLIENT_ERROR,
                                WZP_CLIENT_ERROR_RELAY_TOO_MANY_CONNECTIONS))
        {
          /* Translators: %s is the relay's host and port. Many people can share one
           * network address (a mobile carrier's, a campus's), and the relay limits how
           * many connections one address may open at once. */
          subtitle = g_strdup_printf (_("%s has too many connections from your network "
                                        "right now. Trying again in a moment; calls cannot be "
                                        "made or received until then."), relay);
          set_status (self, _("Too many connections from your network"), subtitle,
                      "network-error-symbolic", "warning", _("Retry Now"), "app.reconnect");
        }
      else
        {
          /* Translators: %s is the relay's host and port. */
          subtitle = g_strdup_printf (_("%s does not answer. Trying again in a moment; calls "
                                        "cannot be made or received until then."), relay);
          set_status (self, _("Cannot reach the relay"), subtitle, "network-error-symbolic",
                      "warning", _("Retry Now"), "app.reconnect");
        }
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
      else if (wzp_signed_in_elsewhere_check (self->client, self->relay_error))
        set_status (self, _("Signed in somewhere else"),
                    _("Another program is using your identity with your relay, so calls go "
                      "there, not here. Close it, then reconnect."),
                    "dialog-warning-symbolic", "warning", _("Reconnect Here"),
                    "app.reconnect");
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

/* Welcome: while no relay is set up */

static void
update_welcome (WzpDialerPage *self)
{
  g_autofree char *uri = self->settings != NULL
                           ? g_settings_get_string (self->settings, "relay-uri")
                           : NULL;
  gboolean want = uri != NULL && *uri == '\0';
  const char *visible = gtk_stack_get_visible_child_name (self->pages);

  if (want && g_strcmp0 (visible, "welcome") != 0)
    gtk_stack_set_visible_child_name (self->pages, "welcome");
  else if (!want && g_strcmp0 (visible, "welcome") == 0)
    gtk_stack_set_visible_child_name (self->pages, "main");
}

static void
set_welcome_hint (WzpDialerPage *self,
                  const char    *text,
                  gboolean       problem)
{
  gtk_label_set_text (self->welcome_hint, text);
  /* A problem is not dimmed, but not red either: red is for hanging up. */
  if (problem)
    gtk_widget_remove_css_class (GTK_WIDGET (self->welcome_hint), "dim-label");
  else
    gtk_widget_add_css_class (GTK_WIDGET (self->welcome_hint), "dim-label");
}

static void
welcome_changed_cb (WzpDialerPage *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->welcome_relay_row));

  gtk_widget_set_sensitive (self->welcome_button, *text != '\0');
  set_welcome_hint (self, _("Such as wzps://relay.example.org:4433"), FALSE);
}

static void
welcome_apply_cb (WzpDialerPage *self)
{
  g_autofree char *uri = g_strstrip (g_strdup (gtk_editable_get_text (
                                       GTK_EDITABLE (self->welcome_relay_row))));
  g_autoptr(GError) error = NULL;

  if (*uri == '\0')
    {
      set_welcome_hint (self, _("Enter the address of a relay"), TRUE);
      return;
    }
  if (!wzp_relay_uri_validate (uri, &error))
    {
      set_welcome_hint (self, error->message, TRUE);
      return;
    }
  if (self->settings != NULL)
    g_settings_set_string (self->settings, "relay-uri", uri);
}

/* Dialling */

static void
dial_changed_cb (WzpDialerPage *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->dial_row));
  g_autofree char *normalized = NULL;
  g_autofree char *hint = NULL;
  g_autofree char *call_label = NULL;
  WzpFingerprintInput input = wzp_fingerprint_input_check (text, &normalized, &hint);
  GtkWidget *row = GTK_WIDGET (self->dial_row);
  GtkWidget *hint_label = GTK_WIDGET (self->dial_hint);

  /* No red here: red is for hanging up. A problem shows as a hint that is not dimmed. */
  gtk_widget_remove_css_class (row, "success");
  gtk_widget_add_css_class (hint_label, "dim-label");

  switch (input)
    {
    case WZP_FINGERPRINT_INPUT_EMPTY:
      gtk_label_set_text (self->dial_hint,
                          _("8 groups of 4 digits, such as\n"
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
          {
            /* Translators: %s is a contact's name. */
            text_hint = g_strdup_printf (_("This is %s. Press Enter to call."),
                                         wzp_contact_get_name (contact));
            /* Translators: %s is a contact's name; the button calls them. */
            call_label = g_strdup_printf (_("Call %s"), wzp_contact_get_name (contact));
          }
        gtk_label_set_text (self->dial_hint,
                            text_hint != NULL ? text_hint
                                              : _("A complete fingerprint. Press Enter to "
                                                  "call."));
      }
      break;
    case WZP_FINGERPRINT_INPUT_INVALID:
    default:
      gtk_widget_remove_css_class (hint_label, "dim-label");
      gtk_label_set_text (self->dial_hint, hint);
      break;
    }
  set_button_label (GTK_WIDGET (self->call_button),
                    call_label != NULL ? call_label : _("Call this fingerprint"));
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
  /* The fingerprint stays in the entry until the call connects: a call that is refused
   * (busy, nobody there, no relay) can be tried again without typing it again. */
  gtk_widget_activate_action (GTK_WIDGET (self), "app.dial", "s", normalized);
}

/* The entry empties once a call to what it holds connects. */
static void
placed_call_state_cb (WzpDialerPage *self,
                      GParamSpec    *pspec,
                      WzpCall       *call)
{
  g_autofree char *normalized = NULL;

  if (wzp_call_get_state (call) == WZP_CALL_STATE_ENDED)
    {
      g_signal_handlers_disconnect_by_func (call, placed_call_state_cb, self);
      return;
    }
  if (wzp_call_get_state (call) != WZP_CALL_STATE_ACTIVE)
    return;
  g_signal_handlers_disconnect_by_func (call, placed_call_state_cb, self);
  if (wzp_fingerprint_input_check (gtk_editable_get_text (GTK_EDITABLE (self->dial_row)),
                                   &normalized, NULL) == WZP_FINGERPRINT_INPUT_VALID &&
      g_strcmp0 (normalized, wzp_call_get_peer_fingerprint (call)) == 0)
    gtk_editable_set_text (GTK_EDITABLE (self->dial_row), "");
}

static void
outgoing_call_cb (WzpDialerPage *self,
                  WzpCall       *call,
                  WzpClient     *client)
{
  g_signal_connect_object (call, "notify::state", G_CALLBACK (placed_call_state_cb), self,
                           G_CONNECT_SWAPPED);
  placed_call_state_cb (self, NULL, call);
}

/* Why the app would not call what was typed ("your own fingerprint", "not connected"),
 * under the entry, where the user looks; the text stays to be corrected. As for a
 * fingerprint that cannot be right: a hint that is not dimmed, no red (red is for hanging
 * up); typing again brings the usual hint back (dial_changed_cb). */
void
wzp_dialer_page_show_dial_error (WzpDialerPage *self,
                                 const char    *message)
{
  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  gtk_widget_remove_css_class (GTK_WIDGET (self->dial_row), "success");
  gtk_widget_remove_css_class (GTK_WIDGET (self->dial_hint), "dim-label");
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
  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->pages), "welcome") == 0)
    {
      gtk_widget_grab_focus (GTK_WIDGET (self->welcome_relay_row));
      return;
    }
  gtk_stack_set_visible_child_name (self->pages, "main");
  adw_view_stack_set_visible_child_name (self->view_stack, "call");
  gtk_widget_grab_focus (GTK_WIDGET (self->dial_row));
}

/**
 * wzp_dialer_page_open_link:
 * @fingerprint: the canonical fingerprint from a wzp: link
 * @relay_uri: (nullable): the relay the link names
 *
 * Fills the dial entry, ready to call. Before any relay is set up, the link's relay is
 * put in the welcome page's entry, for the user to confirm: opening a link never changes
 * the relay by itself.
 */
void
wzp_dialer_page_open_link (WzpDialerPage *self,
                           const char    *fingerprint,
                           const char    *relay_uri)
{
  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  gtk_editable_set_text (GTK_EDITABLE (self->dial_row), fingerprint);
  adw_view_stack_set_visible_child_name (self->view_stack, "call");
  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->pages), "welcome") == 0)
    {
      if (relay_uri != NULL &&
          *gtk_editable_get_text (GTK_EDITABLE (self->welcome_relay_row)) == '\0')
        gtk_editable_set_text (GTK_EDITABLE (self->welcome_relay_row), relay_uri);
      gtk_widget_grab_focus (self->welcome_button);
      return;
    }
  gtk_stack_set_visible_child_name (self->pages, "main");
  gtk_widget_grab_focus (GTK_WIDGET (self->call_button));
}

/* Lists */

static GtkWidget *
new_icon_button (const char *icon_name,
                 const char *label,
                 const char *action_name,
                 const char *fingerprint)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon_name);

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  set_button_label (button, label);
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
  const char *name = wzp_contact_get_name (contact);
  g_autofree char *lines = wzp_fingerprint_to_lines (fingerprint);
  g_autofree char *remove_label = NULL;
  g_autofree char *call_label = NULL;

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), lines);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 0);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  gtk_widget_add_css_class (row, "fingerprint");
  g_object_set_data_full (G_OBJECT (row), "wzp-fingerprint", g_strdup (fingerprint), g_free);
  /* Translators: %s is a contact's name; the button removes them. */
  remove_label = g_strdup_printf (_("Remove %s"), name);
  /* Translators: %s is a contact's name; the button calls them. */
  call_label = g_strdup_printf (_("Call %s"), name);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                             new_icon_button ("user-trash-symbolic", remove_label,
                                              "dialer.remove-contact", fingerprint));
  adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                             new_icon_button ("call-start-symbolic", call_label, "app.dial",
                                              fingerprint));
  return row;
}

static void
contact_activated_cb (WzpDialerPage *self,
                      GtkListBoxRow *row)
{
  const char *fingerprint = g_object_get_data (G_OBJECT (row), "wzp-fingerprint");

  if (fingerprint != NULL)
    wzp_dialer_page_show_contact (self, fingerprint);
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
  g_autofree char *lines = wzp_fingerprint_to_lines (fingerprint);
  g_autofree char *subtitle = NULL;
  g_autofree char *title = NULL;
  g_autofree char *call_label = NULL;
  GtkWidget *row = adw_action_row_new ();
  const char *icon;

  if (wzp_call_record_get_outcome (record) == WZP_CALL_OUTCOME_MISSED)
    icon = "call-missed-symbolic";
  else if (wzp_call_record_get_incoming (record))
    icon = "call-incoming-symbolic";
  else
    icon = "call-outgoing-symbolic";

  /* Markup, so that only the fingerprint is monospace; everything else is escaped. */
  subtitle = g_markup_printf_escaped ("<tt>%s</tt>\n%s%s%s", lines, description,
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
    {
      g_autofree char *add_label = NULL;

      /* Translators: %s is a fingerprint; the button saves it as a contact. */
      add_label = g_strdup_printf (_("Add %s to Contacts"), fingerprint);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                                 new_icon_button ("contact-new-symbolic", add_label,
                                                  "dialer.add-contact", fingerprint));
    }
  /* Translators: %s is a contact's name or, for someone not in the contacts, their
   * fingerprint; the button calls them back. */
  call_label = g_strdup_printf (_("Call %s"), contact != NULL ? wzp_contact_get_name (contact)
                                                              : fingerprint);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                             new_icon_button ("call-start-symbolic", call_label, "app.dial",
                                              fingerprint));
  return row;
}

static void
bind_recents (WzpDialerPage *self)
{
  gtk_list_box_bind_model (self->recents_list,
                           self->history ? wzp_call_history_get_model (self->history) : NULL,
                           create_recent_row, self, NULL);
  gtk_widget_set_sensitive (self->clear_button,
                            self->history != NULL &&
                            g_list_model_get_n_items (
                              wzp_call_history_get_model (self->history)) > 0);
}

/* Missed calls mark the Recent Calls view until it is looked at. */
static void
update_unseen (WzpDialerPage *self)
{
  adw_view_stack_page_set_needs_attention (self->recents_page, self->unseen_missed > 0);
  adw_view_stack_page_set_badge_number (self->recents_page, self->unseen_missed);
}

static void
history_changed_cb (WzpDialerPage *self,
                    guint          position,
                    guint          removed,
                    guint          added,
                    GListModel    *model)
{
  gtk_widget_set_sensitive (self->clear_button, g_list_model_get_n_items (model) > 0);
  if (position != 0 || added == 0 ||
      g_strcmp0 (adw_view_stack_get_visible_child_name (self->view_stack), "recents") == 0)
    return;
  for (guint i = 0; i < added; i++)
    {
      g_autoptr(WzpCallRecord) record = g_list_model_get_item (model, i);

      if (wzp_call_record_get_outcome (record) == WZP_CALL_OUTCOME_MISSED)
        self->unseen_missed++;
    }
  update_unseen (self);
}

static void
visible_view_cb (WzpDialerPage *self)
{
  if (g_strcmp0 (adw_view_stack_get_visible_child_name (self->view_stack), "recents") != 0)
    return;
  self->unseen_missed = 0;
  update_unseen (self);
}

static void
update_damaged (WzpDialerPage *self)
{
  const char *contacts = self->contacts != NULL ? wzp_contacts_get_damaged_path (self->contacts)
                                                : NULL;
  const char *history = self->history != NULL
                          ? wzp_call_history_get_damaged_path (self->history)
                          : NULL;

  gtk_widget_set_visible (self->contacts_damaged_box, contacts != NULL);
  if (contacts != NULL)
    {
      /* Translators: %s is a file's path. */
      g_autofree char *text = g_strdup_printf (_("Your contacts file was damaged. It was "
                                                 "kept as %s; below are the contacts that "
                                                 "could be read."), contacts);

      gtk_label_set_text (self->contacts_damaged, text);
    }
  gtk_widget_set_visible (self->history_damaged_box, history != NULL);
  if (history != NULL)
    {
      /* Translators: %s is a file's path. */
      g_autofree char *text = g_strdup_printf (_("The list of recent calls was damaged. It "
                                                 "was kept as %s; below are the calls that "
                                                 "could be read."), history);

      gtk_label_set_text (self->history_damaged, text);
    }

  /* The welcome hides the views, and the notes with them: while no relay is set up, it
   * says the same, so a damaged file is never reported only where nobody can see it. */
  gtk_widget_set_visible (self->welcome_damaged, contacts != NULL || history != NULL);
  if (contacts != NULL || history != NULL)
    {
      g_autoptr(GString) text = g_string_new (NULL);

      if (contacts != NULL)
        /* Translators: %s is a file's path. Shown on the first-start welcome page. */
        g_string_append_printf (text, _("Your contacts file was damaged. It was kept as %s; "
                                        "the contacts that could be read were loaded."),
                                contacts);
      if (contacts != NULL && history != NULL)
        g_string_append (text, "\n\n");
      if (history != NULL)
        /* Translators: %s is a file's path. Shown on the first-start welcome page. */
        g_string_append_printf (text, _("The list of recent calls was damaged. It was kept "
                                        "as %s; the calls that could be read were loaded."),
                                history);
      gtk_label_set_text (GTK_LABEL (self->welcome_damaged), text->str);
    }
}

/* Read, a note about a damaged file can go (the file stays where the note said). */
static void
dismiss_note_cb (GtkWidget *note)
{
  gtk_widget_set_visible (note, FALSE);
}

static void
contacts_changed_cb (WzpDialerPage *self)
{
  /* Names in the recent calls come from the contacts. */
  bind_recents (self);
  dial_changed_cb (self);
}

/* Pages */

void
wzp_dialer_page_show_view (WzpDialerPage *self,
                           const char    *name)
{
  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  if (adw_view_stack_get_child_by_name (self->view_stack, name) == NULL)
    return;
  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->pages), "contact") == 0)
    gtk_stack_set_visible_child_name (self->pages, "main");
  adw_view_stack_set_visible_child_name (self->view_stack, name);
}

const char *
wzp_dialer_page_get_visible_view (WzpDialerPage *self)
{
  g_return_val_if_fail (WZP_IS_DIALER_PAGE (self), NULL);

  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->pages), "main") != 0)
    return gtk_stack_get_visible_child_name (self->pages);
  return adw_view_stack_get_visible_child_name (self->view_stack);
}

void
wzp_dialer_page_show_contact (WzpDialerPage *self,
                              const char    *fingerprint)
{
  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  if (self->contacts == NULL || wzp_contacts_lookup (self->contacts, fingerprint) == NULL)
    return;
  wzp_contact_page_set_fingerprint (self->contact_page, fingerprint);
  gtk_stack_set_visible_child_name (self->pages, "contact");
}

WzpContactPage *
wzp_dialer_page_get_contact_page (WzpDialerPage *self)
{
  return self->contact_page;
}

/* Contacts */

typedef struct
{
  WzpDialerPage *page;
  GtkWidget     *name_row;
  GtkWidget     *fingerprint_row;
  char          *body;
} AddContact;

static void
add_contact_free (gpointer data)
{
  AddContact *add = data;

  g_object_unref (add->page);
  g_free (add->body);
  g_free (add);
}

static void
add_contact_update (AdwMessageDialog *dialog)
{
  AddContact *add = g_object_get_data (G_OBJECT (dialog), "wzp-add-contact");
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (
                                        GTK_EDITABLE (add->name_row))));
  g_autofree char *hint = NULL;
  g_autofree char *normalized = NULL;
  WzpFingerprintInput input =
    wzp_fingerprint_input_check (gtk_editable_get_text (GTK_EDITABLE (add->fingerprint_row)),
                                 &normalized, &hint);
  WzpContact *existing = input == WZP_FINGERPRINT_INPUT_VALID && add->page->contacts != NULL
                           ? wzp_contacts_lookup (add->page->contacts, normalized)
                           : NULL;

  gtk_widget_set_tooltip_text (add->fingerprint_row, hint);
  if (existing != NULL)
    {
      /* Saying so, instead of silently renaming the contact. */
      if (g_strcmp0 (wzp_contact_get_name (existing), name) == 0 || *name == '\0')
        adw_message_dialog_format_body (dialog,
                                        /* Translators: %s is a contact's name. */
                                        _("This fingerprint is already saved as “%s”."),
                                        wzp_contact_get_name (existing));
      else
        adw_message_dialog_format_body (dialog,
                                        /* Translators: %s is a contact's name. */
                                        _("This fingerprint is already saved as “%s”. "
                                          "Saving renames the contact."),
                                        wzp_contact_get_name (existing));
      adw_message_dialog_set_response_label (dialog, "add", _("_Rename"));
    }
  else
    {
      adw_message_dialog_set_body (dialog, input == WZP_FINGERPRINT_INPUT_INVALID && hint
                                             ? hint : add->body);
      adw_message_dialog_set_response_label (dialog, "add", _("_Add"));
    }
  adw_message_dialog_set_response_enabled (dialog, "add",
                                           *name != '\0' &&
                                           input == WZP_FINGERPRINT_INPUT_VALID &&
                                           (existing == NULL ||
                                            g_strcmp0 (wzp_contact_get_name (existing),
                                                       name) != 0));
}

static void
add_contact_response_cb (AdwMessageDialog *dialog,
                         const char       *response,
                         AddContact       *add)
{
  g_autofree char *name = NULL;
  g_autofree char *fingerprint = NULL;
  WzpContact *existing;

  if (g_strcmp0 (response, "add") != 0 || add->page->contacts == NULL)
    return;

  name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (add->name_row))));
  if (wzp_fingerprint_input_check (gtk_editable_get_text (GTK_EDITABLE (add->fingerprint_row)),
                                   &fingerprint, NULL) != WZP_FINGERPRINT_INPUT_VALID ||
      *name == '\0')
    return;
  existing = wzp_contacts_lookup (add->page->contacts, fingerprint);
  if (existing != NULL)
    {
      g_autofree char *old = g_strdup (wzp_contact_get_name (existing));
      g_autofree char *title = NULL;

      wzp_contacts_add (add->page->contacts, name, fingerprint);
      /* Translators: a contact was renamed from the first name to the second. */
      title = g_strdup_printf (_("“%s” renamed to “%s”"), old, name);
      show_toast (add->page, adw_toast_new (title));
      return;
    }
  wzp_contacts_add (add->page->contacts, name, fingerprint);
}

void
wzp_dialer_page_add_contact (WzpDialerPage *self,
                             const char    *fingerprint)
{
  AdwMessageDialog *dialog;
  GtkWidget *list;
  AddContact *add;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  add = g_new0 (AddContact, 1);
  add->page = g_object_ref (self);
  add->body = g_strdup (_("Save a fingerprint under a name you choose. Calls from it will "
                          "show this name."));

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root)
                                                                              : NULL,
                                                       _("Add Contact"), add->body));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "add", _("_Add"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "add", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "add");
  adw_message_dialog_set_close_response (dialog, "cancel");
  adw_message_dialog_set_response_enabled (dialog, "add", FALSE);

  list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (list, "boxed-list");
  add->name_row = adw_entry_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (add->name_row), _("Name"));
  add->fingerprint_row = adw_entry_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (add->fingerprint_row), _("Fingerprint"));
  adw_entry_row_set_input_hints (ADW_ENTRY_ROW (add->fingerprint_row),
                                 GTK_INPUT_HINT_NO_SPELLCHECK | GTK_INPUT_HINT_NO_EMOJI);
  gtk_editable_set_text (GTK_EDITABLE (add->fingerprint_row),
                         fingerprint != NULL ? fingerprint : "");
  gtk_list_box_append (GTK_LIST_BOX (list), add->name_row);
  gtk_list_box_append (GTK_LIST_BOX (list), add->fingerprint_row);
  adw_message_dialog_set_extra_child (dialog, list);

  g_object_set_data_full (G_OBJECT (dialog), "wzp-add-contact", add, add_contact_free);
  g_object_set_data (G_OBJECT (dialog), "wzp-name-row", add->name_row);
  g_object_set_data (G_OBJECT (dialog), "wzp-fingerprint-row", add->fingerprint_row);
  g_signal_connect_swapped (add->name_row, "changed", G_CALLBACK (add_contact_update), dialog);
  g_signal_connect_swapped (add->fingerprint_row, "changed", G_CALLBACK (add_contact_update),
                            dialog);
  g_signal_connect (dialog, "response", G_CALLBACK (add_contact_response_cb), add);
  add_contact_update (dialog);
  g_set_weak_pointer (&self->add_dialog, GTK_WIDGET (dialog));

  gtk_window_present (GTK_WINDOW (dialog));
  gtk_widget_grab_focus (add->name_row);
}

/* The Add Contact dialog on screen, or NULL (for the tests). */
GtkWidget *
wzp_dialer_page_get_add_dialog (WzpDialerPage *self)
{
  return self->add_dialog;
}

static void
set_undo_toast (WzpDialerPage *self,
                AdwToast      *toast)
{
  adw_toast_set_button_label (toast, _("_Undo"));
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  g_set_object (&self->undo_toast, toast);
  show_toast (self, toast);
}

/* The toasts hold the models, not the page: an Undo only needs them. */
static void
undo_remove_cb (AdwToast   *toast,
                WzpContact *contact)
{
  WzpContacts *contacts = g_object_get_data (G_OBJECT (toast), "wzp-contacts");

  if (wzp_contacts_lookup (contacts, wzp_contact_get_fingerprint (contact)) == NULL)
    wzp_contacts_add (contacts, wzp_contact_get_name (contact),
                      wzp_contact_get_fingerprint (contact));
}

/* Removes at once and offers Undo, rather than asking first. */
void
wzp_dialer_page_remove_contact (WzpDialerPage *self,
                                const char    *fingerprint)
{
  WzpContact *found;
  g_autoptr(WzpContact) contact = NULL;
  g_autofree char *title = NULL;
  AdwToast *toast;

  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  found = self->contacts != NULL ? wzp_contacts_lookup (self->contacts, fingerprint) : NULL;
  if (found == NULL)
    return;
  contact = g_object_ref (found);
  wzp_contacts_remove (self->contacts, fingerprint);
  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->pages), "contact") == 0 &&
      g_strcmp0 (wzp_contact_page_get_fingerprint (self->contact_page), fingerprint) == 0)
    wzp_dialer_page_show_view (self, "contacts");

  /* Translators: %s is a contact's name. */
  title = g_strdup_printf (_("%s removed from Contacts"), wzp_contact_get_name (contact));
  toast = adw_toast_new (title);
  g_object_set_data_full (G_OBJECT (toast), "wzp-contacts", g_object_ref (self->contacts),
                          g_object_unref);
  g_signal_connect_data (toast, "button-clicked", G_CALLBACK (undo_remove_cb),
                         g_steal_pointer (&contact), (GClosureNotify) g_object_unref, 0);
  set_undo_toast (self, toast);
}

static void
undo_clear_cb (AdwToast  *toast,
               GPtrArray *records)
{
  wzp_call_history_restore (g_object_get_data (G_OBJECT (toast), "wzp-history"), records);
  g_ptr_array_set_size (records, 0);   /* once */
}

void
wzp_dialer_page_clear_history (WzpDialerPage *self)
{
  g_autoptr(GPtrArray) records = NULL;
  AdwToast *toast;

  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  if (self->history == NULL)
    return;
  records = wzp_call_history_clear (self->history);
  if (records->len == 0)
    return;
  toast = adw_toast_new (_("Recent calls cleared"));
  g_object_set_data_full (G_OBJECT (toast), "wzp-history", g_object_ref (self->history),
                          g_object_unref);
  g_signal_connect_data (toast, "button-clicked", G_CALLBACK (undo_clear_cb),
                         g_steal_pointer (&records), (GClosureNotify) g_ptr_array_unref, 0);
  set_undo_toast (self, toast);
}

/* The last toast that offers Undo (for the tests: they emit its ::button-clicked). */
AdwToast *
wzp_dialer_page_get_undo_toast (WzpDialerPage *self)
{
  return self->undo_toast;
}

/* Actions */

static void
show_view_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  wzp_dialer_page_show_view (WZP_DIALER_PAGE (widget), g_variant_get_string (parameter, NULL));
}

static void
show_main_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  WzpDialerPage *self = WZP_DIALER_PAGE (widget);

  gtk_stack_set_visible_child_name (self->pages, "main");
  update_welcome (self);
}

static void
show_contact_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  wzp_dialer_page_show_contact (WZP_DIALER_PAGE (widget),
                                g_variant_get_string (parameter, NULL));
}

static void
show_identity_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  WzpDialerPage *self = WZP_DIALER_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkWidget *dialog = wzp_identity_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                               self->client, self->settings);

  gtk_window_present (GTK_WINDOW (dialog));
}

static void
add_contact_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  wzp_dialer_page_add_contact (WZP_DIALER_PAGE (widget), g_variant_get_string (parameter, NULL));
}

static void
remove_contact_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  wzp_dialer_page_remove_contact (WZP_DIALER_PAGE (widget),
                                  g_variant_get_string (parameter, NULL));
}

static void
clear_history_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  wzp_dialer_page_clear_history (WZP_DIALER_PAGE (widget));
}

static void
copy_fingerprint_action (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget),
                          g_variant_get_string (parameter, NULL));
  show_toast (WZP_DIALER_PAGE (widget), adw_toast_new (_("Fingerprint copied")));
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
      g_signal_connect_object (client, "outgoing-call", G_CALLBACK (outgoing_call_cb), self,
                               G_CONNECT_SWAPPED);
    }
  update_status (self);
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
  wzp_contact_page_set_models (self->contact_page, self->contacts, self->history);
  bind_recents (self);
  update_damaged (self);
}

void
wzp_dialer_page_set_history (WzpDialerPage  *self,
                             WzpCallHistory *history)
{
  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  if (self->history != NULL)
    g_signal_handlers_disconnect_by_data (wzp_call_history_get_model (self->history), self);
  g_set_object (&self->history, history);
  if (history != NULL)
    g_signal_connect_object (wzp_call_history_get_model (history), "items-changed",
                             G_CALLBACK (history_changed_cb), self, G_CONNECT_SWAPPED);
  wzp_contact_page_set_models (self->contact_page, self->contacts, self->history);
  bind_recents (self);
  update_damaged (self);
}

void
wzp_dialer_page_set_settings (WzpDialerPage *self,
                              GSettings     *settings)
{
  g_return_if_fail (WZP_IS_DIALER_PAGE (self));

  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_set_object (&self->settings, settings);
  if (settings != NULL)
    g_signal_connect_object (settings, "changed::relay-uri", G_CALLBACK (update_welcome), self,
                             G_CONNECT_SWAPPED);
  update_welcome (self);
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
  if (self->history != NULL)
    g_signal_handlers_disconnect_by_data (wzp_call_history_get_model (self->history), self);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  /* The stack changes its visible child while it takes its pages down. */
  if (self->view_stack != NULL)
    g_signal_handlers_disconnect_by_data (self->view_stack, self);
  if (self->add_dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->add_dialog));
  g_clear_weak_pointer (&self->add_dialog);
  /* The bin's child is a template child: taken from the bin first, so that the template
   * does not unparent it behind AdwBin's back. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), WZP_TYPE_DIALER_PAGE);
  g_clear_object (&self->client);
  g_clear_object (&self->contacts);
  g_clear_object (&self->history);
  g_clear_object (&self->settings);
  g_clear_object (&self->undo_toast);

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

  g_type_ensure (WZP_TYPE_CONTACT_PAGE);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE_PATH "/wzp-dialer-page.ui");
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, pages);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, view_stack);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, recents_view);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, switcher_title);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, switcher_bar);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, menu_button);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, identity_button);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, relay_row);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, relay_icon_stack);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, relay_icon);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, relay_spinner);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, relay_button);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, dial_row);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, call_button);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, dial_hint);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, add_contact_button);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, contacts_damaged_box);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, contacts_damaged);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, contacts_list);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, clear_button);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, history_damaged_box);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, history_damaged);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, recents_list);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, welcome_relay_row);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, welcome_hint);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, welcome_damaged);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, welcome_button);
  gtk_widget_class_bind_template_child (widget_class, WzpDialerPage, contact_page);
  gtk_widget_class_bind_template_callback (widget_class, dial_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, dial_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, contact_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, dismiss_note_cb);
  /* (No field: bound so that the tests can reach them by name.) */
  gtk_widget_class_bind_template_child_full (widget_class, "contacts_damaged_dismiss", FALSE, 0);
  gtk_widget_class_bind_template_child_full (widget_class, "history_damaged_dismiss", FALSE, 0);
  gtk_widget_class_bind_template_callback (widget_class, welcome_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, welcome_apply_cb);

  gtk_widget_class_install_action (widget_class, "dialer.show-view", "s", show_view_action);
  gtk_widget_class_install_action (widget_class, "dialer.show-main", NULL, show_main_action);
  gtk_widget_class_install_action (widget_class, "dialer.show-contact", "s",
                                   show_contact_action);
  gtk_widget_class_install_action (widget_class, "dialer.show-identity", NULL,
                                   show_identity_action);
  gtk_widget_class_install_action (widget_class, "dialer.add-contact", "s", add_contact_action);
  gtk_widget_class_install_action (widget_class, "dialer.remove-contact", "s",
                                   remove_contact_action);
  gtk_widget_class_install_action (widget_class, "dialer.clear-history", NULL,
                                   clear_history_action);
  gtk_widget_class_install_action (widget_class, "dialer.copy-fingerprint", "s",
                                   copy_fingerprint_action);

  /* Alt+1, 2, 3: the views, in the order of the switcher. */
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_1, GDK_ALT_MASK,
                                       "dialer.show-view", "s", "call");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_2, GDK_ALT_MASK,
                                       "dialer.show-view", "s", "contacts");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_3, GDK_ALT_MASK,
                                       "dialer.show-view", "s", "recents");
}

static void
wzp_dialer_page_init (WzpDialerPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->recents_page = adw_view_stack_get_page (self->view_stack, self->recents_view);
  /* The switcher moves to the bottom when the header bar is too narrow for it. (Bound to
   * "visible", not "reveal": libadwaita 1.2 allocates a hidden bar's box a height of -1
   * when animations are off, which GTK warns about.) */
  adw_view_switcher_bar_set_reveal (self->switcher_bar, TRUE);
  g_object_bind_property (self->switcher_title, "title-visible", self->switcher_bar, "visible",
                          G_BINDING_SYNC_CREATE);
  g_signal_connect_object (self->view_stack, "notify::visible-child",
                           G_CALLBACK (visible_view_cb), self, G_CONNECT_SWAPPED);
  update_status (self);
  dial_changed_cb (self);
  bind_recents (self);
}
