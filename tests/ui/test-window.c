/* test-window.c: wzp-gtk's windows and pages build from their templates, without an
 * application, and their widgets behave on their own (fingerprint validation, naming,
 * preferences written to GSettings, contacts on disk).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define G_SETTINGS_ENABLE_BACKEND
#include <gio/gsettingsbackend.h>
#include <glib/gstdio.h>

#include "ui-test-util.h"
#include "wzp-call-history.h"
#include "wzp-call-page.h"
#include "wzp-contact-page.h"
#include "wzp-contacts.h"
#include "wzp-dialer-page.h"
#include "wzp-fingerprint-text.h"
#include "wzp-gtk-util.h"
#include "wzp-identity-dialog.h"
#include "wzp-link.h"
#include "wzp-preferences-window.h"
#include "wzp-qr-code.h"
#include "wzp-window.h"

#define FP_MOM     "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d"
#define FP_UNKNOWN "ffff:eeee:dddd:cccc:bbbb:aaaa:9999:8888"

static GtkWidget *
child (gpointer    widget,
       GType       type,
       const char *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (widget), type, name);

  g_assert_nonnull (object);
  return GTK_WIDGET (object);
}

static void
test_window_templates (void)
{
  WzpWindow *window = g_object_new (WZP_TYPE_WINDOW, NULL);

  g_assert_true (WZP_IS_DIALER_PAGE (wzp_window_get_dialer_page (window)));
  g_assert_true (WZP_IS_CALL_PAGE (wzp_window_get_call_page (window)));
  g_assert_false (wzp_window_is_in_call (window));
  /* Before the app hands over a client, the page says it is starting. */
  g_assert_cmpstr (wzp_dialer_page_get_status_title (wzp_window_get_dialer_page (window)), ==,
                   "Starting…");

  wzp_window_show_outgoing (window, FP_MOM);
  g_assert_true (wzp_window_is_in_call (window));
  wzp_window_show_main (window);
  g_assert_false (wzp_window_is_in_call (window));

  gtk_window_present (GTK_WINDOW (window));
  wzp_ui_spin (100);
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_help_overlay (void)
{
  g_autoptr(GtkBuilder) builder =
    gtk_builder_new_from_resource (RESOURCE_BASE_PATH "/gtk/help-overlay.ui");
  GObject *overlay = gtk_builder_get_object (builder, "help_overlay");

  g_assert_true (GTK_IS_SHORTCUTS_WINDOW (overlay));
  gtk_window_destroy (GTK_WINDOW (overlay));
}

static void
test_fingerprint_input (void)
{
  struct {
    const char          *text;
    WzpFingerprintInput  expected;
    const char          *normalized;
  } cases[] = {
    { "", WZP_FINGERPRINT_INPUT_EMPTY, NULL },
    { "   ", WZP_FINGERPRINT_INPUT_EMPTY, NULL },
    { "1a2b", WZP_FINGERPRINT_INPUT_PARTIAL, NULL },
    { "1a2b:3c", WZP_FINGERPRINT_INPUT_PARTIAL, NULL },
    { FP_MOM, WZP_FINGERPRINT_INPUT_VALID, FP_MOM },
    { "1A2B:3C4D:5E6F:7A8B:9C0D:1E2F:3A4B:5C6D", WZP_FINGERPRINT_INPUT_VALID, FP_MOM },
    { "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d", WZP_FINGERPRINT_INPUT_VALID, FP_MOM },
    { " 1a2b 3c4d\t5e6f 7a8b 9c0d 1e2f 3a4b 5c6d\n", WZP_FINGERPRINT_INPUT_VALID, FP_MOM },
    { "1a2b:3c4g", WZP_FINGERPRINT_INPUT_INVALID, NULL },
    { "1a2:b3c4", WZP_FINGERPRINT_INPUT_INVALID, NULL },
    { "1a2b3:c4d", WZP_FINGERPRINT_INPUT_INVALID, NULL },
    { FP_MOM ":0000", WZP_FINGERPRINT_INPUT_INVALID, NULL },
    { "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d0", WZP_FINGERPRINT_INPUT_INVALID, NULL },
    { "Mom", WZP_FINGERPRINT_INPUT_INVALID, NULL },
    { "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6dé", WZP_FINGERPRINT_INPUT_INVALID, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *normalized = NULL;
      g_autofree char *hint = NULL;

      g_test_message ("input “%s”", cases[i].text);
      g_assert_cmpint (wzp_fingerprint_input_check (cases[i].text, &normalized, &hint), ==,
                       cases[i].expected);
      g_assert_cmpstr (normalized, ==, cases[i].normalized);
      if (cases[i].expected == WZP_FINGERPRINT_INPUT_INVALID ||
          cases[i].expected == WZP_FINGERPRINT_INPUT_PARTIAL)
        g_assert_nonnull (hint);
    }
}

static void
test_dial_entry_validates (void)
{
  WzpDialerPage *page = g_object_ref_sink (g_object_new (WZP_TYPE_DIALER_PAGE, NULL));
  g_autoptr(WzpContacts) contacts = wzp_contacts_new (NULL);
  GtkWidget *row = child (page, WZP_TYPE_DIALER_PAGE, "dial_row");
  GtkWidget *button = child (page, WZP_TYPE_DIALER_PAGE, "call_button");
  GtkLabel *hint = GTK_LABEL (child (page, WZP_TYPE_DIALER_PAGE, "dial_hint"));

  wzp_contacts_add (contacts, "Mom", FP_MOM);
  wzp_dialer_page_set_contacts (page, contacts);

  gtk_editable_set_text (GTK_EDITABLE (row), "1a2b:3c4");
  g_assert_false (gtk_widget_has_css_class (row, "error"));
  g_assert_false (gtk_widget_get_sensitive (button));
  g_assert_cmpstr (gtk_label_get_text (hint), ==, "7 of 32 digits");

  gtk_editable_set_text (GTK_EDITABLE (row), "1a2b:3c4x");
  /* Said under the entry, not dimmed; but nothing turns red (red is for hanging up). */
  g_assert_false (gtk_widget_get_sensitive (button));
  g_assert_nonnull (strstr (gtk_label_get_text (hint), "“x”"));
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (hint), "dim-label"));
  g_assert_false (gtk_widget_has_css_class (row, "error"));
  g_assert_false (gtk_widget_has_css_class (button, "error"));
  g_assert_false (gtk_widget_has_css_class (button, "destructive-action"));
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (hint), "error"));

  gtk_editable_set_text (GTK_EDITABLE (row), "1A2B 3C4D 5E6F 7A8B 9C0D 1E2F 3A4B 5C6D");
  g_assert_false (gtk_widget_has_css_class (row, "error"));
  g_assert_true (gtk_widget_has_css_class (row, "success"));
  g_assert_true (gtk_widget_get_sensitive (button));
  /* A full fingerprint in the contacts is named as you type, and so is whom the call
   * button calls. */
  g_assert_cmpstr (gtk_label_get_text (hint), ==, "This is Mom. Press Enter to call.");
  wzp_ui_assert_accessible_label (button, "Call Mom");

  gtk_editable_set_text (GTK_EDITABLE (row), FP_UNKNOWN);
  g_assert_true (gtk_widget_get_sensitive (button));
  wzp_ui_assert_accessible_label (button, "Call this fingerprint");
  g_assert_cmpstr (gtk_label_get_text (hint), ==, "A complete fingerprint. Press Enter to call.");

  gtk_editable_set_text (GTK_EDITABLE (row), "");
  g_assert_false (gtk_widget_get_sensitive (button));

  g_object_unref (page);
}

static void
test_call_page_names_by_full_fingerprint (void)
{
  WzpCallPage *page = g_object_ref_sink (g_object_new (WZP_TYPE_CALL_PAGE, NULL));
  g_autoptr(WzpContacts) contacts = wzp_contacts_new (NULL);
  GtkLabel *name = GTK_LABEL (child (page, WZP_TYPE_CALL_PAGE, "name_label"));
  GtkLabel *fingerprint = GTK_LABEL (child (page, WZP_TYPE_CALL_PAGE, "fingerprint_label"));
  GtkWidget *alias = child (page, WZP_TYPE_CALL_PAGE, "alias_label");

  wzp_contacts_add (contacts, "Mom", FP_MOM);
  wzp_call_page_set_contacts (page, contacts);

  wzp_call_page_show_outgoing (page, FP_MOM);
  g_assert_cmpstr (gtk_label_get_text (name), ==, "Mom");
  /* The full fingerprint, two lines of four groups. */
  g_assert_cmpstr (gtk_label_get_text (fingerprint), ==,
                   "1a2b:3c4d:5e6f:7a8b\n9c0d:1e2f:3a4b:5c6d");
  g_assert_cmpstr (wzp_call_page_get_state_text (page), ==, "Calling…");
  g_assert_null (wzp_call_page_get_path_text (page));
  g_assert_false (gtk_widget_get_visible (alias));

  /* Another fingerprint sharing Mom's first groups is not Mom; someone we call is no
   * "caller". */
  wzp_call_page_show_outgoing (page, "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:0000");
  g_assert_cmpstr (gtk_label_get_text (name), ==, "Unknown contact");
  g_assert_cmpstr (gtk_label_get_text (fingerprint), ==,
                   "1a2b:3c4d:5e6f:7a8b\n9c0d:1e2f:3a4b:0000");

  /* Adding the contact names the caller at once. */
  wzp_contacts_add (contacts, "Dad", "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:0000");
  g_assert_cmpstr (gtk_label_get_text (name), ==, "Dad");

  g_object_unref (page);
}

static void
test_path_labels (void)
{
  g_assert_cmpstr (wzp_path_kind_label (WZP_PATH_KIND_DIRECT_LAN), ==, "Direct (LAN)");
  g_assert_cmpstr (wzp_path_kind_label (WZP_PATH_KIND_DIRECT_INTERNET), ==, "Direct (Internet)");
  g_assert_cmpstr (wzp_path_kind_label (WZP_PATH_KIND_RELAY), ==, "Via relay");
  g_assert_null (wzp_path_kind_label (WZP_PATH_KIND_NONE));
}

static void
test_preferences_write_settings (void)
{
  g_autoptr(GSettingsBackend) backend = g_memory_settings_backend_new ();
  g_autoptr(GSettings) settings = g_settings_new_with_backend (SETTINGS_SCHEMA_ID, backend);
  GtkWidget *window;
  GtkWidget *relay_row, *alias_row, *deny_row, *reflector_row, *privacy_switch;
  g_auto(GStrv) deny = NULL;
  g_autofree char *uri = NULL;

  g_settings_set_string (settings, "alias", "Bob");
  window = wzp_preferences_window_new (NULL, settings);
  relay_row = child (window, WZP_TYPE_PREFERENCES_WINDOW, "relay_row");
  alias_row = child (window, WZP_TYPE_PREFERENCES_WINDOW, "alias_row");
  deny_row = child (window, WZP_TYPE_PREFERENCES_WINDOW, "deny_row");
  reflector_row = child (window, WZP_TYPE_PREFERENCES_WINDOW, "reflector_row");
  privacy_switch = child (window, WZP_TYPE_PREFERENCES_WINDOW, "privacy_switch");

  /* Rows show the settings... */
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (alias_row)), ==, "Bob");

  /* ...and write them when applied. */
  gtk_editable_set_text (GTK_EDITABLE (alias_row), "  Robert ");
  g_signal_emit_by_name (alias_row, "apply");
  uri = g_settings_get_string (settings, "alias");
  g_assert_cmpstr (uri, ==, "Robert");
  g_clear_pointer (&uri, g_free);

  gtk_editable_set_text (GTK_EDITABLE (relay_row), "wzps://relay.example.org:4433#" FP_MOM);
  g_signal_emit_by_name (relay_row, "apply");
  uri = g_settings_get_string (settings, "relay-uri");
  g_assert_cmpstr (uri, ==, "wzps://relay.example.org:4433#" FP_MOM);
  g_clear_pointer (&uri, g_free);

  /* A wrong address is refused and marked. */
  gtk_editable_set_text (GTK_EDITABLE (relay_row), "https://relay.example.org");
  g_signal_emit_by_name (relay_row, "apply");
  g_assert_true (gtk_widget_has_css_class (relay_row, "error"));
  uri = g_settings_get_string (settings, "relay-uri");
  g_assert_cmpstr (uri, ==, "wzps://relay.example.org:4433#" FP_MOM);
  g_clear_pointer (&uri, g_free);

  gtk_editable_set_text (GTK_EDITABLE (reflector_row), "wzps://relay.example.org:4433#1a2b");
  g_signal_emit_by_name (reflector_row, "apply");
  g_assert_true (gtk_widget_has_css_class (reflector_row, "error"));

  gtk_editable_set_text (GTK_EDITABLE (deny_row), "docker*, wg*  tun*");
  g_signal_emit_by_name (deny_row, "apply");
  deny = g_settings_get_strv (settings, "interface-deny-list");
  g_assert_cmpuint (g_strv_length (deny), ==, 3);
  g_assert_cmpstr (deny[0], ==, "docker*");
  g_assert_cmpstr (deny[2], ==, "tun*");

  gtk_switch_set_active (GTK_SWITCH (privacy_switch), TRUE);
  g_assert_true (g_settings_get_boolean (settings, "privacy-by-default"));
  /* Settings changed elsewhere show up. */
  g_settings_set_boolean (settings, "privacy-by-default", FALSE);
  g_assert_false (gtk_switch_get_active (GTK_SWITCH (privacy_switch)));
  g_settings_set_string (settings, "alias", "Bobby");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (alias_row)), ==, "Bobby");

  gtk_window_destroy (GTK_WINDOW (window));
}

/* The relay address is checked by the library (wzp_relay_uri_validate), and its message,
 * naming the part at fault, is what the preferences show under the row. */
static void
test_relay_uri_messages (void)
{
  g_autoptr(GSettingsBackend) backend = g_memory_settings_backend_new ();
  g_autoptr(GSettings) settings = g_settings_new_with_backend (SETTINGS_SCHEMA_ID, backend);
  GtkWidget *window = wzp_preferences_window_new (NULL, settings);
  GtkWidget *relay_row = child (window, WZP_TYPE_PREFERENCES_WINDOW, "relay_row");
  GtkLabel *hint = GTK_LABEL (child (window, WZP_TYPE_PREFERENCES_WINDOW, "relay_hint"));
  const struct
  {
    const char *typed;
    const char *said;
  } wrong[] = {
    { "wzps://relay.example.org:99999",
      "“99999” is not a port: the port must be a number from 1 to 65535" },
    { "wzps://relay.example.org:",
      "The port is missing after the “:”: it must be a number from 1 to 65535" },
    { "https://relay.example.org",
      "The relay address must start with wzps://, not https://" },
    { "wzps://relay.example.org#nope",
      "“nope” after the “#” is not a relay fingerprint: it must be 8 groups of 4 characters "
      "from 0–9 and a–f, separated by “:”" },
  };
  g_autofree char *uri = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (wrong); i++)
    {
      gtk_editable_set_text (GTK_EDITABLE (relay_row), wrong[i].typed);
      g_signal_emit_by_name (relay_row, "apply");
      g_assert_true (gtk_widget_has_css_class (relay_row, "error"));
      g_assert_cmpstr (gtk_label_get_text (hint), ==, wrong[i].said);
      uri = g_settings_get_string (settings, "relay-uri");
      g_assert_cmpstr (uri, ==, "");
      g_clear_pointer (&uri, g_free);
    }

  /* Without a port it is 4433: accepted, as the library reads it. */
  gtk_editable_set_text (GTK_EDITABLE (relay_row), "wzps://relay.example.org");
  g_signal_emit_by_name (relay_row, "apply");
  g_assert_false (gtk_widget_has_css_class (relay_row, "error"));
  uri = g_settings_get_string (settings, "relay-uri");
  g_assert_cmpstr (uri, ==, "wzps://relay.example.org");
  g_clear_pointer (&uri, g_free);

  /* Empty is no relay, not a mistake. */
  gtk_editable_set_text (GTK_EDITABLE (relay_row), "");
  g_signal_emit_by_name (relay_row, "apply");
  g_assert_false (gtk_widget_has_css_class (relay_row, "error"));
  uri = g_settings_get_string (settings, "relay-uri");
  g_assert_cmpstr (uri, ==, "");

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_contacts_and_history_persist (void)
{
  g_autofree char *dir = g_dir_make_tmp ("wzp-contacts-XXXXXX", NULL);
  g_autofree char *contacts_path = g_build_filename (dir, "sub", "contacts.json", NULL);
  g_autofree char *history_path = g_build_filename (dir, "sub", "recent-calls.json", NULL);
  g_autoptr(WzpContacts) contacts = wzp_contacts_new (contacts_path);
  g_autoptr(WzpContacts) reloaded = wzp_contacts_new (contacts_path);
  g_autoptr(WzpCallHistory) history = wzp_call_history_new (history_path);
  g_autoptr(WzpCallHistory) history_reloaded = wzp_call_history_new (history_path);
  g_autoptr(WzpCallRecord) record = NULL;
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  wzp_contacts_add (contacts, "Zoë", FP_UNKNOWN);
  wzp_contacts_add (contacts, "Mom", FP_MOM);
  wzp_contacts_add (contacts, "Mum", FP_MOM);   /* renames */
  g_assert_cmpuint (g_list_model_get_n_items (wzp_contacts_get_model (contacts)), ==, 2);
  record = wzp_call_record_new (FP_MOM, "Mommy", TRUE, WZP_CALL_OUTCOME_MISSED, 1700000000, 0,
                                WZP_PATH_KIND_NONE);
  wzp_call_history_add (history, record);

  /* Saved in the background, with mode 0600. */
  WZP_UI_WAIT (g_file_test (contacts_path, G_FILE_TEST_EXISTS) &&
               g_file_test (history_path, G_FILE_TEST_EXISTS), 5000);
  wzp_ui_spin (200);
  g_assert_cmpint (g_stat (contacts_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0077, ==, 0);

  g_assert_true (wzp_contacts_load (reloaded, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (wzp_contacts_get_model (reloaded)), ==, 2);
  g_assert_cmpstr (wzp_contact_get_name (wzp_contacts_lookup (reloaded, FP_MOM)), ==, "Mum");
  g_assert_cmpstr (wzp_contact_get_name (wzp_contacts_lookup (reloaded, FP_UNKNOWN)), ==, "Zoë");

  g_assert_true (wzp_call_history_load (history_reloaded, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (wzp_call_history_get_model (history_reloaded)), ==,
                    1);
  {
    g_autoptr(WzpCallRecord) loaded =
      g_list_model_get_item (wzp_call_history_get_model (history_reloaded), 0);

    g_assert_cmpstr (wzp_call_record_get_fingerprint (loaded), ==, FP_MOM);
    g_assert_cmpstr (wzp_call_record_get_alias (loaded), ==, "Mommy");
    g_assert_true (wzp_call_record_get_incoming (loaded));
    g_assert_cmpint (wzp_call_record_get_outcome (loaded), ==, WZP_CALL_OUTCOME_MISSED);
  }

  g_remove (contacts_path);
  g_remove (history_path);
  g_autofree char *sub = g_build_filename (dir, "sub", NULL);
  g_rmdir (sub);
  g_rmdir (dir);
}

/* Test helpers for the new views */

static char *
read_file (const char *path)
{
  char *contents = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  return contents;
}

/* The one file in @dir whose name starts with @prefix, or NULL. */
static char *
find_aside (const char *dir,
            const char *prefix)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  char *found = NULL;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (name, prefix))
      {
        g_assert_null (found);
        found = g_build_filename (dir, name, NULL);
      }
  return found;
}

static void
remove_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_remove (path);
    }
  g_rmdir (dir);
}

static void
test_damaged_files_kept_aside (void)
{
  g_autofree char *dir = g_dir_make_tmp ("wzp-damaged-XXXXXX", NULL);
  g_autofree char *contacts_path = g_build_filename (dir, "contacts.json", NULL);
  g_autofree char *history_path = g_build_filename (dir, "recent-calls.json", NULL);
  g_autoptr(WzpContacts) contacts = wzp_contacts_new (contacts_path);
  g_autoptr(WzpCallHistory) history = wzp_call_history_new (history_path);
  g_autoptr(GError) error = NULL;
  g_autofree char *contacts_aside = NULL;
  g_autofree char *history_aside = NULL;
  g_autofree char *kept = NULL;
  g_autofree char *rewritten = NULL;
  WzpDialerPage *page;
  const char *damaged_contacts = "{\"version\": 1, \"contacts\": [{\"name\": \"Mom\", \"finger";
  const char *damaged_history =
    "{\"version\": 1, \"calls\": [{\"fingerprint\": \"" FP_MOM "\", \"outcome\": \"missed\"},"
    " 42]}";

  g_assert_true (g_file_set_contents (contacts_path, damaged_contacts, -1, NULL));
  g_assert_true (g_file_set_contents (history_path, damaged_history, -1, NULL));

  /* Not JSON: renamed aside, reported with where it went, and the list starts empty. */
  g_assert_false (wzp_contacts_load (contacts, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  contacts_aside = find_aside (dir, "contacts.json.damaged-");
  g_assert_nonnull (contacts_aside);
  g_assert_cmpstr (wzp_contacts_get_damaged_path (contacts), ==, contacts_aside);
  g_assert_nonnull (strstr (error->message, contacts_aside));
  g_assert_false (g_file_test (contacts_path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  /* One call of two unreadable: the readable one is kept, the file too. */
  g_assert_false (wzp_call_history_load (history, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  history_aside = find_aside (dir, "recent-calls.json.damaged-");
  g_assert_nonnull (history_aside);
  g_assert_cmpuint (g_list_model_get_n_items (wzp_call_history_get_model (history)), ==, 1);

  /* The page says so, in the view where the list is. */
  page = g_object_ref_sink (g_object_new (WZP_TYPE_DIALER_PAGE, NULL));
  wzp_dialer_page_set_contacts (page, contacts);
  wzp_dialer_page_set_history (page, history);
  g_assert_true (gtk_widget_is_visible (child (page, WZP_TYPE_DIALER_PAGE, "contacts_damaged")));
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (child (page, WZP_TYPE_DIALER_PAGE,
                                                                   "contacts_damaged"))),
                            contacts_aside));
  g_assert_true (gtk_widget_is_visible (child (page, WZP_TYPE_DIALER_PAGE, "history_damaged")));
  /* Read, the note can go. */
  g_signal_emit_by_name (child (page, WZP_TYPE_DIALER_PAGE, "history_damaged_dismiss"), "clicked");
  g_assert_false (gtk_widget_is_visible (child (page, WZP_TYPE_DIALER_PAGE, "history_damaged")));

  /* No relay yet: the welcome hides the views and their notes, so it says the same. */
  {
    g_autoptr(GSettingsBackend) backend = g_memory_settings_backend_new ();
    g_autoptr(GSettings) settings = g_settings_new_with_backend (SETTINGS_SCHEMA_ID, backend);
    GtkWidget *welcome_note = child (page, WZP_TYPE_DIALER_PAGE, "welcome_damaged");
    GtkWidget *window = gtk_window_new ();
    const char *text;

    gtk_window_set_child (GTK_WINDOW (window), GTK_WIDGET (page));
    wzp_dialer_page_set_settings (page, settings);
    gtk_window_present (GTK_WINDOW (window));
    g_assert_cmpstr (wzp_dialer_page_get_visible_view (page), ==, "welcome");
    WZP_UI_WAIT (gtk_widget_get_mapped (welcome_note), 5000);
    /* What the user would otherwise never see. */
    g_assert_false (gtk_widget_get_mapped (child (page, WZP_TYPE_DIALER_PAGE,
                                                  "contacts_damaged")));
    text = gtk_label_get_text (GTK_LABEL (welcome_note));
    g_assert_nonnull (strstr (text, contacts_aside));
    g_assert_nonnull (strstr (text, history_aside));

    /* Once a relay is set up, the views show their own notes, and the welcome's goes. */
    g_settings_set_string (settings, "relay-uri", "wzps://relay.example.org:4433");
    g_assert_cmpstr (wzp_dialer_page_get_visible_view (page), !=, "welcome");
    WZP_UI_WAIT (!gtk_widget_get_mapped (welcome_note), 5000);

    wzp_dialer_page_set_settings (page, NULL);
    gtk_window_set_child (GTK_WINDOW (window), NULL);
    gtk_window_destroy (GTK_WINDOW (window));
  }

  /* Saving writes a new file and leaves the damaged one as it was. */
  wzp_contacts_add (contacts, "Mom", FP_MOM);
  WZP_UI_WAIT (g_file_test (contacts_path, G_FILE_TEST_EXISTS), 5000);
  wzp_ui_spin (200);
  kept = read_file (contacts_aside);
  g_assert_cmpstr (kept, ==, damaged_contacts);
  rewritten = read_file (contacts_path);
  g_assert_nonnull (strstr (rewritten, FP_MOM));

  g_object_unref (page);
  remove_dir (dir);
}

static WzpWindow *
window_with_models (WzpContacts    *contacts,
                    WzpCallHistory *history)
{
  WzpWindow *window = g_object_new (WZP_TYPE_WINDOW, NULL);

  wzp_window_set_contacts (window, contacts);
  wzp_window_set_history (window, history);
  gtk_window_present (GTK_WINDOW (window));
  return window;
}

static void
add_record (WzpCallHistory *history,
            const char     *fingerprint,
            WzpCallOutcome  outcome)
{
  g_autoptr(WzpCallRecord) record = wzp_call_record_new (fingerprint, NULL, TRUE, outcome,
                                                         g_get_real_time () / G_USEC_PER_SEC,
                                                         0, WZP_PATH_KIND_NONE);

  wzp_call_history_add (history, record);
}

static void
test_remove_and_clear_offer_undo (void)
{
  g_autoptr(WzpContacts) contacts = wzp_contacts_new (NULL);
  g_autoptr(WzpCallHistory) history = wzp_call_history_new (NULL);
  WzpWindow *window;
  WzpDialerPage *page;
  GListModel *calls = wzp_call_history_get_model (history);
  AdwToast *toast;

  wzp_contacts_add (contacts, "Mom", FP_MOM);
  wzp_contacts_add (contacts, "Zoë", FP_UNKNOWN);
  add_record (history, FP_MOM, WZP_CALL_OUTCOME_ANSWERED);
  add_record (history, FP_UNKNOWN, WZP_CALL_OUTCOME_MISSED);
  window = window_with_models (contacts, history);
  page = wzp_window_get_dialer_page (window);

  /* Removing asks nothing, and says what happened with an Undo button. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.remove-contact", "s",
                                             FP_MOM));
  g_assert_null (wzp_contacts_lookup (contacts, FP_MOM));
  g_assert_cmpstr (wzp_window_get_last_toast (window), ==, "Mom removed from Contacts");
  toast = wzp_dialer_page_get_undo_toast (page);
  g_assert_cmpstr (adw_toast_get_button_label (toast), ==, "_Undo");
  g_signal_emit_by_name (toast, "button-clicked");
  g_assert_nonnull (wzp_contacts_lookup (contacts, FP_MOM));
  g_assert_cmpstr (wzp_contact_get_name (wzp_contacts_lookup (contacts, FP_MOM)), ==, "Mom");

  /* Clear, then Undo: the calls come back in their order. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-history", NULL));
  g_assert_cmpuint (g_list_model_get_n_items (calls), ==, 0);
  g_assert_cmpstr (wzp_window_get_last_toast (window), ==, "Recent calls cleared");
  g_assert_false (gtk_widget_get_sensitive (child (page, WZP_TYPE_DIALER_PAGE, "clear_button")));
  toast = wzp_dialer_page_get_undo_toast (page);
  g_signal_emit_by_name (toast, "button-clicked");
  g_assert_cmpuint (g_list_model_get_n_items (calls), ==, 2);
  {
    g_autoptr(WzpCallRecord) newest = g_list_model_get_item (calls, 0);

    g_assert_cmpstr (wzp_call_record_get_fingerprint (newest), ==, FP_UNKNOWN);
  }
  g_assert_true (gtk_widget_get_sensitive (child (page, WZP_TYPE_DIALER_PAGE, "clear_button")));

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_add_saved_fingerprint_says_so (void)
{
  g_autoptr(WzpContacts) contacts = wzp_contacts_new (NULL);
  g_autoptr(WzpCallHistory) history = wzp_call_history_new (NULL);
  WzpWindow *window;
  WzpDialerPage *page;
  AdwMessageDialog *dialog;
  GtkWidget *name_row;

  wzp_contacts_add (contacts, "Mom", FP_MOM);
  window = window_with_models (contacts, history);
  page = wzp_window_get_dialer_page (window);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.add-contact", "s",
                                             "1A2B 3C4D 5E6F 7A8B 9C0D 1E2F 3A4B 5C6D"));
  dialog = ADW_MESSAGE_DIALOG (wzp_dialer_page_get_add_dialog (page));
  g_assert_nonnull (dialog);
  name_row = g_object_get_data (G_OBJECT (dialog), "wzp-name-row");
  g_assert_cmpstr (adw_message_dialog_get_body (dialog), ==,
                   "This fingerprint is already saved as “Mom”.");
  g_assert_false (adw_message_dialog_get_response_enabled (dialog, "add"));

  /* Another name renames, and the dialog says so before. */
  gtk_editable_set_text (GTK_EDITABLE (name_row), "Mum");
  g_assert_cmpstr (adw_message_dialog_get_body (dialog), ==,
                   "This fingerprint is already saved as “Mom”. Saving renames the contact.");
  g_assert_cmpstr (adw_message_dialog_get_response_label (dialog, "add"), ==, "_Rename");
  g_assert_true (adw_message_dialog_get_response_enabled (dialog, "add"));
  adw_message_dialog_response (dialog, "add");
  g_assert_cmpstr (wzp_contact_get_name (wzp_contacts_lookup (contacts, FP_MOM)), ==, "Mum");
  g_assert_cmpuint (g_list_model_get_n_items (wzp_contacts_get_model (contacts)), ==, 1);
  g_assert_cmpstr (wzp_window_get_last_toast (window), ==, "“Mom” renamed to “Mum”");

  gtk_window_destroy (GTK_WINDOW (window));
}

static GtkWidget *
find_row_button (WzpDialerPage *page,
                 const char    *list,
                 const char    *label)
{
  return wzp_ui_find_by_label (child (page, WZP_TYPE_DIALER_PAGE, list), GTK_TYPE_BUTTON, label);
}

static void
test_accessible_names (void)
{
  g_autoptr(WzpContacts) contacts = wzp_contacts_new (NULL);
  g_autoptr(WzpCallHistory) history = wzp_call_history_new (NULL);
  WzpWindow *window;
  WzpDialerPage *page;
  GtkWidget *button;

  wzp_contacts_add (contacts, "Dana", FP_MOM);
  add_record (history, FP_MOM, WZP_CALL_OUTCOME_ANSWERED);
  add_record (history, FP_UNKNOWN, WZP_CALL_OUTCOME_MISSED);
  window = window_with_models (contacts, history);
  page = wzp_window_get_dialer_page (window);

  /* What a screen reader says for each icon-only button: whom it acts on. */
  wzp_ui_assert_accessible_label (child (page, WZP_TYPE_DIALER_PAGE, "menu_button"), "Main Menu");
  wzp_ui_assert_accessible_label (child (page, WZP_TYPE_DIALER_PAGE, "identity_button"),
                                  "Your fingerprint and name");
  wzp_ui_assert_accessible_label (child (page, WZP_TYPE_DIALER_PAGE, "add_contact_button"),
                                  "Add contact");

  button = find_row_button (page, "contacts_list", "Call Dana");
  g_assert_nonnull (button);
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (button)), ==, "app.dial");
  g_assert_cmpstr (g_variant_get_string (gtk_actionable_get_action_target_value (
                     GTK_ACTIONABLE (button)), NULL), ==, FP_MOM);
  button = find_row_button (page, "contacts_list", "Remove Dana");
  g_assert_nonnull (button);
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (button)), ==,
                   "dialer.remove-contact");

  /* Recent calls: Call Back names the contact, or the fingerprint of a stranger. */
  g_assert_nonnull (find_row_button (page, "recents_list", "Call Dana"));
  g_assert_nonnull (find_row_button (page, "recents_list", "Call " FP_UNKNOWN));
  g_assert_nonnull (find_row_button (page, "recents_list", "Add " FP_UNKNOWN " to Contacts"));

  /* The contact's page. */
  wzp_dialer_page_show_contact (page, FP_MOM);
  {
    WzpContactPage *contact = wzp_dialer_page_get_contact_page (page);

    wzp_ui_assert_accessible_label (wzp_contact_page_get_call_button (contact), "Call Dana");
    g_assert_nonnull (wzp_ui_find_by_label (GTK_WIDGET (contact), GTK_TYPE_BUTTON,
                                            "Copy fingerprint"));
    g_assert_nonnull (wzp_ui_find_by_label (GTK_WIDGET (contact), GTK_TYPE_BUTTON,
                                            "Remove Dana from Contacts"));
    g_assert_nonnull (wzp_ui_find_by_label (GTK_WIDGET (contact), GTK_TYPE_BUTTON,
                                            "Back to Contacts"));
  }

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_views_and_contact_page (void)
{
  g_autoptr(WzpContacts) contacts = wzp_contacts_new (NULL);
  g_autoptr(WzpCallHistory) history = wzp_call_history_new (NULL);
  WzpWindow *window;
  WzpDialerPage *page;
  WzpContactPage *contact;
  AdwViewStack *stack;
  AdwViewStackPage *recents;
  GtkWidget *name_row;

  wzp_contacts_add (contacts, "Dana", FP_MOM);
  add_record (history, FP_MOM, WZP_CALL_OUTCOME_ANSWERED);
  window = window_with_models (contacts, history);
  page = wzp_window_get_dialer_page (window);
  stack = ADW_VIEW_STACK (child (page, WZP_TYPE_DIALER_PAGE, "view_stack"));
  recents = adw_view_stack_get_page (stack, adw_view_stack_get_child_by_name (stack, "recents"));

  /* Three views; the call view first. */
  g_assert_cmpstr (wzp_dialer_page_get_visible_view (page), ==, "call");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (adw_view_stack_get_pages (stack))),
                    ==, 3);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "dialer.show-view", "s",
                                             "contacts"));
  g_assert_cmpstr (wzp_dialer_page_get_visible_view (page), ==, "contacts");

  /* A missed call marks Recent Calls until it is looked at. */
  g_assert_false (adw_view_stack_page_get_needs_attention (recents));
  add_record (history, FP_UNKNOWN, WZP_CALL_OUTCOME_MISSED);
  g_assert_true (adw_view_stack_page_get_needs_attention (recents));
  g_assert_cmpuint (adw_view_stack_page_get_badge_number (recents), ==, 1);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "dialer.show-view", "s",
                                             "recents"));
  g_assert_cmpstr (wzp_dialer_page_get_visible_view (page), ==, "recents");
  g_assert_false (adw_view_stack_page_get_needs_attention (recents));

  /* A contact's page: the name to rename, the full fingerprint in two lines of four
   * groups, and only the calls with them. */
  gtk_widget_activate_action (GTK_WIDGET (page), "dialer.show-contact", "s", FP_MOM);
  g_assert_cmpstr (wzp_dialer_page_get_visible_view (page), ==, "contact");
  contact = wzp_dialer_page_get_contact_page (page);
  name_row = wzp_contact_page_get_name_row (contact);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (name_row)), ==, "Dana");
  g_assert_nonnull (wzp_ui_find_by_label (GTK_WIDGET (contact), GTK_TYPE_BUTTON,
                                          "Copy fingerprint"));
  g_assert_cmpuint (g_list_model_get_n_items (wzp_contact_page_get_calls (contact)), ==, 1);
  gtk_editable_set_text (GTK_EDITABLE (name_row), "Dana Scully");
  g_signal_emit_by_name (name_row, "apply");
  g_assert_cmpstr (wzp_contact_get_name (wzp_contacts_lookup (contacts, FP_MOM)), ==,
                   "Dana Scully");
  wzp_ui_assert_accessible_label (wzp_contact_page_get_call_button (contact), "Call Dana Scully");

  /* Removing from there goes back to the contacts. */
  gtk_widget_activate_action (GTK_WIDGET (contact), "dialer.remove-contact", "s", FP_MOM);
  g_assert_cmpstr (wzp_dialer_page_get_visible_view (page), ==, "contacts");

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_fingerprint_lines (void)
{
  g_autofree char *lines = wzp_fingerprint_to_lines (FP_MOM);
  g_autoptr(WzpContacts) contacts = wzp_contacts_new (NULL);
  g_autoptr(WzpCallHistory) history = wzp_call_history_new (NULL);
  WzpWindow *window;
  WzpDialerPage *page;
  GtkWidget *row;

  g_assert_cmpstr (lines, ==, "1a2b:3c4d:5e6f:7a8b\n9c0d:1e2f:3a4b:5c6d");

  /* At the narrowest width, each line of a contact's fingerprint stays one line. */
  wzp_contacts_add (contacts, "Dana", FP_MOM);
  window = window_with_models (contacts, history);
  gtk_window_set_default_size (GTK_WINDOW (window), 360, 640);
  page = wzp_window_get_dialer_page (window);
  wzp_dialer_page_show_view (page, "contacts");
  wzp_ui_spin (300);
  row = gtk_widget_get_first_child (child (page, WZP_TYPE_DIALER_PAGE, "contacts_list"));
  g_assert_true (ADW_IS_ACTION_ROW (row));
  g_assert_true (gtk_widget_has_css_class (row, "fingerprint"));
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), ==, lines);
  {
    /* The subtitle label: find it by its text, and count its laid-out lines. */
    GtkWidget *label = NULL;
    GtkWidget *w = row;

    while (w != NULL && label == NULL)
      {
        if (GTK_IS_LABEL (w) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (w)), lines) == 0)
          label = w;
        else if (gtk_widget_get_first_child (w) != NULL)
          w = gtk_widget_get_first_child (w);
        else
          {
            while (w != row && gtk_widget_get_next_sibling (w) == NULL)
              w = gtk_widget_get_parent (w);
            w = w == row ? NULL : gtk_widget_get_next_sibling (w);
          }
      }
    g_assert_nonnull (label);
    g_assert_cmpint (pango_layout_get_line_count (gtk_label_get_layout (GTK_LABEL (label))), ==,
                     2);
  }
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_links (void)
{
  g_autofree char *link = wzp_link_build (FP_MOM, "wzps://relay.example.org:4433#" FP_UNKNOWN);
  g_autofree char *fingerprint = NULL;
  g_autofree char *relay = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (link, ==, "wzp:" FP_MOM "?relay=wzps%3A%2F%2Frelay.example.org%3A4433%23"
                   "ffff%3Aeeee%3Adddd%3Acccc%3Abbbb%3Aaaaa%3A9999%3A8888");
  g_assert_true (wzp_link_parse (link, &fingerprint, &relay, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (fingerprint, ==, FP_MOM);
  g_assert_cmpstr (relay, ==, "wzps://relay.example.org:4433#" FP_UNKNOWN);
  g_clear_pointer (&fingerprint, g_free);
  g_clear_pointer (&relay, g_free);

  /* What people paste: upper case, "//", no relay. */
  g_assert_true (wzp_link_parse ("WZP://1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D", &fingerprint, &relay,
                                 &error));
  g_assert_cmpstr (fingerprint, ==, FP_MOM);
  g_assert_null (relay);
  g_clear_pointer (&fingerprint, g_free);

  g_assert_false (wzp_link_parse ("wzp:1a2b:3c4d", &fingerprint, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "8 of 32 digits"));
  g_clear_error (&error);
  g_assert_false (wzp_link_parse ("wzp:" FP_MOM "?relay=https%3A%2F%2Fexample.org", &fingerprint,
                                  &relay, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, "The relay address in the link is not valid: The relay "
                   "address must start with wzps://, not https://");
  g_assert_null (fingerprint);
  g_clear_error (&error);
  g_assert_false (wzp_link_parse ("https://example.org", &fingerprint, NULL, &error));
  g_clear_error (&error);
}

/* Whether the pixel at (@x, @y) of @texture is dark. */
static gboolean
dark_at (GdkTexture *texture,
         int         x,
         int         y)
{
  int width = gdk_texture_get_width (texture);
  g_autofree guint32 *pixels = g_new (guint32, (gsize) width * gdk_texture_get_height (texture));

  gdk_texture_download (texture, (guchar *) pixels, width * 4);
  return (pixels[y * width + x] & 0xff) < 0x80;
}

static void
test_qr_code (void)
{
  g_autoptr(GError) error = NULL;
  int modules = 0;
  g_autoptr(GdkTexture) texture =
    wzp_qr_code_new_texture ("wzp:" FP_MOM, 4, &modules, &error);
  int q = WZP_QR_CODE_QUIET_ZONE * 4;

  g_assert_no_error (error);
  g_assert_nonnull (texture);
  /* Version 2 at least (25 modules), with the quiet zone around. */
  g_assert_cmpint (modules, >=, 25);
  g_assert_cmpint ((modules - 17) % 4, ==, 0);
  g_assert_cmpint (gdk_texture_get_width (texture), ==, (modules + 8) * 4);
  /* The quiet zone is light; the three finder patterns have a dark corner module and a
   * light ring inside. */
  g_assert_false (dark_at (texture, 0, 0));
  g_assert_true (dark_at (texture, q, q));
  g_assert_false (dark_at (texture, q + 4, q + 4));
  g_assert_true (dark_at (texture, q + 8, q + 8));
  g_assert_true (dark_at (texture, q + (modules - 1) * 4, q));
  g_assert_true (dark_at (texture, q, q + (modules - 1) * 4));
}

static void
test_preferences_relay_kept (void)
{
  g_autoptr(GSettingsBackend) backend = g_memory_settings_backend_new ();
  g_autoptr(GSettings) settings = g_settings_new_with_backend (SETTINGS_SCHEMA_ID, backend);
  GtkWidget *window = wzp_preferences_window_new (NULL, settings);
  GtkWidget *relay_row = child (window, WZP_TYPE_PREFERENCES_WINDOW, "relay_row");
  GtkLabel *hint = GTK_LABEL (child (window, WZP_TYPE_PREFERENCES_WINDOW, "relay_hint"));
  GtkEventController *focus = NULL;
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (relay_row);
  g_autofree char *uri = NULL;

  for (guint i = 0; i < g_list_model_get_n_items (controllers) && focus == NULL; i++)
    {
      g_autoptr(GObject) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_EVENT_CONTROLLER_FOCUS (controller))
        focus = GTK_EVENT_CONTROLLER (controller);
    }
  g_assert_nonnull (focus);

  /* Typed, then the focus goes elsewhere: saved. */
  gtk_editable_set_text (GTK_EDITABLE (relay_row), "wzps://relay.example.org:4433");
  g_signal_emit_by_name (focus, "leave");
  uri = g_settings_get_string (settings, "relay-uri");
  g_assert_cmpstr (uri, ==, "wzps://relay.example.org:4433");
  g_clear_pointer (&uri, g_free);

  /* Not valid: checked on leaving, the reason shown under the row, nothing saved. */
  gtk_editable_set_text (GTK_EDITABLE (relay_row), "relay.example.org:4433");
  g_signal_emit_by_name (focus, "leave");
  g_assert_true (gtk_widget_has_css_class (relay_row, "error"));
  g_assert_cmpstr (gtk_label_get_text (hint), ==,
                   "The relay address must start with wzps://, like "
                   "wzps://relay.example.org:4433");
  uri = g_settings_get_string (settings, "relay-uri");
  g_assert_cmpstr (uri, ==, "wzps://relay.example.org:4433");
  g_clear_pointer (&uri, g_free);
  /* Typing again clears the problem. */
  gtk_editable_set_text (GTK_EDITABLE (relay_row), "wzps://other.example.org:4433");
  g_assert_false (gtk_widget_has_css_class (relay_row, "error"));
  g_assert_true (g_str_has_prefix (gtk_label_get_text (hint), "Such as wzps://"));

  /* Escape (closing the window) keeps what was typed. */
  gtk_window_present (GTK_WINDOW (window));
  wzp_ui_spin (100);
  gtk_widget_activate_action (window, "window.close", NULL);
  uri = g_settings_get_string (settings, "relay-uri");
  g_assert_cmpstr (uri, ==, "wzps://other.example.org:4433");
}

static void
test_identity_dialog_name (void)
{
  g_autoptr(GSettingsBackend) backend = g_memory_settings_backend_new ();
  g_autoptr(GSettings) settings = g_settings_new_with_backend (SETTINGS_SCHEMA_ID, backend);
  GtkWidget *dialog;
  GtkWidget *name_row;
  g_autofree char *alias = NULL;

  g_settings_set_string (settings, "alias", "Bob");
  dialog = wzp_identity_dialog_new (NULL, NULL, settings);
  name_row = wzp_identity_dialog_get_name_row (WZP_IDENTITY_DIALOG (dialog));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (name_row)), ==, "Bob");
  wzp_ui_assert_accessible_label (wzp_identity_dialog_get_copy_button (
                                    WZP_IDENTITY_DIALOG (dialog)), "Copy fingerprint");
  /* No identity yet: no link, nothing to copy. */
  g_assert_null (wzp_identity_dialog_get_link (WZP_IDENTITY_DIALOG (dialog)));
  g_assert_false (gtk_widget_get_sensitive (wzp_identity_dialog_get_copy_button (
                                              WZP_IDENTITY_DIALOG (dialog))));

  /* A name typed and the dialog closed (Escape) is kept. */
  gtk_editable_set_text (GTK_EDITABLE (name_row), "Robert ");
  gtk_window_present (GTK_WINDOW (dialog));
  wzp_ui_spin (100);
  gtk_widget_activate_action (dialog, "window.close", NULL);
  alias = g_settings_get_string (settings, "alias");
  g_assert_cmpstr (alias, ==, "Robert");
}

static void
test_welcome (void)
{
  g_autoptr(GSettingsBackend) backend = g_memory_settings_backend_new ();
  g_autoptr(GSettings) settings = g_settings_new_with_backend (SETTINGS_SCHEMA_ID, backend);
  WzpDialerPage *page = g_object_ref_sink (g_object_new (WZP_TYPE_DIALER_PAGE, NULL));
  GtkWidget *row = child (page, WZP_TYPE_DIALER_PAGE, "welcome_relay_row");
  GtkWidget *button = child (page, WZP_TYPE_DIALER_PAGE, "welcome_button");
  GtkLabel *hint = GTK_LABEL (child (page, WZP_TYPE_DIALER_PAGE, "welcome_hint"));
  g_autofree char *uri = NULL;

  /* No relay: the welcome, with the relay entry in place. */
  wzp_dialer_page_set_settings (page, settings);
  g_assert_cmpstr (wzp_dialer_page_get_visible_view (page), ==, "welcome");
  g_assert_false (gtk_widget_get_sensitive (button));

  /* A link opened now fills in the relay it names, for the user to confirm. */
  wzp_dialer_page_open_link (page, FP_MOM, "wzps://relay.example.org:4433");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (row)), ==,
                   "wzps://relay.example.org:4433");
  g_assert_cmpstr (wzp_dialer_page_get_visible_view (page), ==, "welcome");
  uri = g_settings_get_string (settings, "relay-uri");
  g_assert_cmpstr (uri, ==, "");
  g_clear_pointer (&uri, g_free);

  gtk_editable_set_text (GTK_EDITABLE (row), "relay.example.org");
  g_signal_emit_by_name (button, "clicked");
  g_assert_cmpstr (gtk_label_get_text (hint), ==,
                   "The relay address must start with wzps://, like "
                   "wzps://relay.example.org:4433");
  g_assert_cmpstr (wzp_dialer_page_get_visible_view (page), ==, "welcome");

  gtk_editable_set_text (GTK_EDITABLE (row), "wzps://relay.example.org:4433");
  g_signal_emit_by_name (button, "clicked");
  uri = g_settings_get_string (settings, "relay-uri");
  g_assert_cmpstr (uri, ==, "wzps://relay.example.org:4433");
  /* Then the dialer, with the link's fingerprint still in it. */
  g_assert_cmpstr (wzp_dialer_page_get_visible_view (page), ==, "call");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (child (page, WZP_TYPE_DIALER_PAGE,
                                                                "dial_row"))), ==, FP_MOM);

  g_object_unref (page);
}

/* A named pipe in place of the contacts or the recent calls would block the app's start
 * (opening it waits for a writer): an error at once, the list empty, nothing saved over
 * it. In a subprocess, so that a hang fails after 10 s. */
static void
test_files_not_regular (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *dir = g_dir_make_tmp ("wzp-fifo-XXXXXX", NULL);
      g_autofree char *contacts_path = g_build_filename (dir, "contacts.json", NULL);
      g_autofree char *history_path = g_build_filename (dir, "recent-calls.json", NULL);
      g_autofree char *elsewhere = g_build_filename (dir, "elsewhere.json", NULL);
      g_autoptr(WzpContacts) contacts = wzp_contacts_new (contacts_path);
      g_autoptr(WzpCallHistory) history = wzp_call_history_new (history_path);
      g_autoptr(GError) error = NULL;

      g_assert_no_errno (mkfifo (contacts_path, 0600));
      g_assert_false (wzp_contacts_load (contacts, &error));
      g_assert_nonnull (strstr (error->message, "named pipe (FIFO)"));
      g_assert_cmpuint (g_list_model_get_n_items (wzp_contacts_get_model (contacts)), ==, 0);
      g_clear_error (&error);

      /* A link is not followed either. */
      g_assert_true (g_file_set_contents (elsewhere, "{\"version\": 1, \"calls\": []}", -1,
                                          NULL));
      g_assert_no_errno (symlink (elsewhere, history_path));
      g_assert_false (wzp_call_history_load (history, &error));
      g_assert_nonnull (strstr (error->message, "symbolic link"));
      return;
    }
  g_test_trap_subprocess (NULL, 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* Saving into $XDG_DATA_HOME/wzp makes it 0700 again if others were given access. */
static void
test_data_dir_private (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "wzp", NULL);
  g_autofree char *contacts_path = g_build_filename (dir, "contacts.json", NULL);
  g_autoptr(WzpContacts) contacts = NULL;
  GStatBuf st;

  g_assert_no_errno (g_mkdir_with_parents (dir, 0700));
  g_assert_no_errno (g_chmod (dir, 0755));
  g_unlink (contacts_path);   /* left by an earlier test, if any */
  contacts = wzp_contacts_new (contacts_path);
  wzp_contacts_add (contacts, "Mom", FP_MOM);
  WZP_UI_WAIT (g_file_test (contacts_path, G_FILE_TEST_EXISTS), 5000);
  g_assert_no_errno (g_stat (dir, &st));
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
  g_assert_no_errno (g_stat (contacts_path, &st));
  g_assert_cmpint (st.st_mode & 0077, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  wzp_ui_test_init (&argc, &argv);

  g_test_add_func ("/wzp/ui/window/templates", test_window_templates);
  g_test_add_func ("/wzp/ui/window/help-overlay", test_help_overlay);
  g_test_add_func ("/wzp/ui/dialer/fingerprint-input", test_fingerprint_input);
  g_test_add_func ("/wzp/ui/dialer/validates-as-you-type", test_dial_entry_validates);
  g_test_add_func ("/wzp/ui/call-page/names-by-full-fingerprint",
                   test_call_page_names_by_full_fingerprint);
  g_test_add_func ("/wzp/ui/call-page/path-labels", test_path_labels);
  g_test_add_func ("/wzp/ui/preferences/write-settings", test_preferences_write_settings);
  g_test_add_func ("/wzp/ui/preferences/relay-uri-messages", test_relay_uri_messages);
  g_test_add_func ("/wzp/ui/storage/contacts-and-history", test_contacts_and_history_persist);
  g_test_add_func ("/wzp/ui/storage/damaged-files-kept-aside", test_damaged_files_kept_aside);
  g_test_add_func ("/wzp/ui/storage/files-not-regular", test_files_not_regular);
  g_test_add_func ("/wzp/ui/storage/data-dir-private", test_data_dir_private);
  g_test_add_func ("/wzp/ui/dialer/remove-and-clear-offer-undo",
                   test_remove_and_clear_offer_undo);
  g_test_add_func ("/wzp/ui/dialer/add-saved-fingerprint-says-so",
                   test_add_saved_fingerprint_says_so);
  g_test_add_func ("/wzp/ui/dialer/accessible-names", test_accessible_names);
  g_test_add_func ("/wzp/ui/dialer/views-and-contact-page", test_views_and_contact_page);
  g_test_add_func ("/wzp/ui/dialer/fingerprint-lines", test_fingerprint_lines);
  g_test_add_func ("/wzp/ui/dialer/welcome", test_welcome);
  g_test_add_func ("/wzp/ui/links", test_links);
  g_test_add_func ("/wzp/ui/qr-code", test_qr_code);
  g_test_add_func ("/wzp/ui/preferences/relay-kept", test_preferences_relay_kept);
  g_test_add_func ("/wzp/ui/identity-dialog/name", test_identity_dialog_name);

  return g_test_run ();
}
