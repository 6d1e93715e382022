/* test-window.c: wzp-gtk's windows and pages build from their templates, without an
 * application, and their widgets behave on their own (fingerprint validation, naming,
 * preferences written to GSettings, contacts on disk).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#define G_SETTINGS_ENABLE_BACKEND
#include <gio/gsettingsbackend.h>
#include <glib/gstdio.h>

#include "ui-test-util.h"
#include "wzp-call-history.h"
#include "wzp-call-page.h"
#include "wzp-contacts.h"
#include "wzp-dialer-page.h"
#include "wzp-gtk-util.h"
#include "wzp-preferences-window.h"
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
  g_assert_true (gtk_widget_has_css_class (row, "error"));
  g_assert_false (gtk_widget_get_sensitive (button));
  g_assert_nonnull (strstr (gtk_label_get_text (hint), "“x”"));

  gtk_editable_set_text (GTK_EDITABLE (row), "1A2B 3C4D 5E6F 7A8B 9C0D 1E2F 3A4B 5C6D");
  g_assert_false (gtk_widget_has_css_class (row, "error"));
  g_assert_true (gtk_widget_has_css_class (row, "success"));
  g_assert_true (gtk_widget_get_sensitive (button));
  /* A full fingerprint in the contacts is named as you type. */
  g_assert_cmpstr (gtk_label_get_text (hint), ==, "This is Mom. Press Enter to call.");

  gtk_editable_set_text (GTK_EDITABLE (row), FP_UNKNOWN);
  g_assert_true (gtk_widget_get_sensitive (button));
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
  g_assert_cmpstr (gtk_label_get_text (fingerprint), ==, FP_MOM);
  g_assert_cmpstr (wzp_call_page_get_state_text (page), ==, "Calling…");
  g_assert_null (wzp_call_page_get_path_text (page));
  g_assert_false (gtk_widget_get_visible (alias));

  /* Another fingerprint sharing Mom's first groups is not Mom; someone we call is no
   * "caller". */
  wzp_call_page_show_outgoing (page, "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:0000");
  g_assert_cmpstr (gtk_label_get_text (name), ==, "Unknown contact");
  g_assert_cmpstr (gtk_label_get_text (fingerprint), ==,
                   "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:0000");

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

static void
test_relay_uri_check (void)
{
  g_assert_true (wzp_relay_uri_check ("", NULL));
  g_assert_true (wzp_relay_uri_check ("wzps://relay.example.org", NULL));
  g_assert_true (wzp_relay_uri_check ("wzps://127.0.0.1:4433", NULL));
  g_assert_true (wzp_relay_uri_check ("wzps://[::1]:4433#" FP_MOM, NULL));
  g_assert_false (wzp_relay_uri_check ("relay.example.org", NULL));
  g_assert_false (wzp_relay_uri_check ("wzps://relay.example.org/path", NULL));
  g_assert_false (wzp_relay_uri_check ("wzps://relay.example.org#nope", NULL));
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

  /* A damaged file is an error, not a crash. */
  g_assert_true (g_file_set_contents (contacts_path, "{\"contacts\": 3}", -1, NULL));
  g_assert_false (wzp_contacts_load (reloaded, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);

  g_remove (contacts_path);
  g_remove (history_path);
  g_autofree char *sub = g_build_filename (dir, "sub", NULL);
  g_rmdir (sub);
  g_rmdir (dir);
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
  g_test_add_func ("/wzp/ui/preferences/relay-uri-check", test_relay_uri_check);
  g_test_add_func ("/wzp/ui/storage/contacts-and-history", test_contacts_and_history_persist);

  return g_test_run ();
}
