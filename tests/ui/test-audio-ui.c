/* test-audio-ui.c: the app's voice controls and call outcomes, built without an
 * application: the quality indicator following WzpCall:stats, the outcome page and its
 * words, the device rows listing what WzpAudioDevices lists (on a PulseAudio of the test's
 * own, no sound card) and the microphone test on a GStreamer test source.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#define G_SETTINGS_ENABLE_BACKEND
#include <gio/gsettingsbackend.h>

#include "pulse-daemon.h"
#include "test-util.h"
#include "ui-test-util.h"
#include "wzp-audio-device-row.h"
#include "wzp-call-outcome.h"
#include "wzp-call-page.h"
#include "wzp-call-quality.h"
#include "wzp-mic-test-row.h"
#include "wzp-preferences-window.h"
#include "wzp-window.h"

#define FP_MOM  "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d"
#define WAIT_MS 10000

static GtkWidget *
child (gpointer    widget,
       GType       type,
       const char *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (widget), type, name);

  g_assert_nonnull (object);
  return GTK_WIDGET (object);
}

/* One sample of WzpCall:stats, with the keys the library gives. */
static GVariant *
stats (gint64  rtt_ms,
       gint64  playout_ms,
       guint64 received,
       guint64 played,
       guint64 concealed)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "rtt-ms", "x", rtt_ms);
  g_variant_dict_insert (&dict, "playout-delay-ms", "x", playout_ms);
  g_variant_dict_insert (&dict, "frames-received", "t", received);
  g_variant_dict_insert (&dict, "frames-played", "t", played);
  g_variant_dict_insert (&dict, "frames-concealed", "t", concealed);
  g_variant_dict_insert (&dict, "frames-sent", "t", received);
  g_variant_dict_insert (&dict, "frames-late", "t", (guint64) 0);
  g_variant_dict_insert (&dict, "bitrate", "x", (gint64) 35200);
  return g_variant_dict_end (&dict);
}

static void
test_quality_judgement (void)
{
  g_autoptr(GVariant) start = g_variant_ref_sink (stats (40, 40, 0, 0, 0));
  g_autoptr(GVariant) clean = g_variant_ref_sink (stats (40, 40, 250, 250, 0));
  g_autoptr(GVariant) far = g_variant_ref_sink (stats (400, 60, 250, 250, 0));
  g_autoptr(GVariant) lossy = g_variant_ref_sink (stats (40, 40, 230, 230, 20));
  g_autoptr(GVariant) unknown = g_variant_ref_sink (stats (-1, 0, 0, 0, 0));
  WzpCallQualityFigures figures;
  g_autofree char *text = NULL;

  /* Nothing measured yet. */
  g_assert_cmpint (wzp_call_quality_assess (NULL, NULL, NULL), ==, WZP_CALL_QUALITY_UNKNOWN);
  g_assert_cmpint (wzp_call_quality_assess (unknown, NULL, NULL), ==, WZP_CALL_QUALITY_UNKNOWN);

  /* 20 + 40 ms one way, nothing lost. */
  g_assert_cmpint (wzp_call_quality_assess (clean, start, &figures), ==, WZP_CALL_QUALITY_GOOD);
  g_assert_cmpint (figures.delay_ms, ==, 60);
  g_assert_cmpfloat (figures.loss, ==, 0.0);
  text = wzp_call_quality_describe (&figures);
  g_assert_nonnull (strstr (text, "Round trip: 40 ms"));
  g_assert_nonnull (strstr (text, "Audio lost: 0.0 %"));
  g_clear_pointer (&text, g_free);

  /* 200 + 60 ms one way: beyond G.114's 150 ms. */
  g_assert_cmpint (wzp_call_quality_assess (far, start, NULL), ==, WZP_CALL_QUALITY_FAIR);
  /* 20 of 250 frames concealed: 8 %. */
  g_assert_cmpint (wzp_call_quality_assess (lossy, start, &figures), ==, WZP_CALL_QUALITY_POOR);
  g_assert_cmpfloat_with_epsilon (figures.loss, 0.08, 1e-9);
  /* Loss counts over the window, not since the call began. */
  g_assert_cmpint (wzp_call_quality_assess (lossy, lossy, NULL), ==, WZP_CALL_QUALITY_GOOD);
}

/* The indicator on the page follows the samples as WzpCall:stats would bring them. */
static void
test_quality_indicator (void)
{
  WzpCallPage *page = g_object_ref_sink (g_object_new (WZP_TYPE_CALL_PAGE, NULL));
  GtkWidget *label = child (page, WZP_TYPE_CALL_PAGE, "quality_label");

  wzp_call_page_show_outgoing (page, FP_MOM);
  g_assert_false (gtk_widget_get_visible (label));

  wzp_call_page_push_stats (page, stats (30, 40, 0, 0, 0));
  wzp_call_page_push_stats (page, stats (30, 40, 50, 50, 0));
  g_assert_true (gtk_widget_get_visible (label));
  g_assert_cmpint (wzp_call_page_get_quality (page), ==, WZP_CALL_QUALITY_GOOD);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (label)), ==, "Good connection");
  g_assert_true (gtk_widget_has_css_class (label, "quality-good"));
  g_assert_nonnull (strstr (gtk_widget_get_tooltip_text (label), "Round trip: 30 ms"));

  /* The path gets slow. */
  wzp_call_page_push_stats (page, stats (420, 40, 100, 100, 0));
  g_assert_cmpint (wzp_call_page_get_quality (page), ==, WZP_CALL_QUALITY_FAIR);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (label)), ==, "Fair connection");
  g_assert_false (gtk_widget_has_css_class (label, "quality-good"));
  g_assert_true (gtk_widget_has_css_class (label, "quality-fair"));

  /* And loses audio: 15 of the last 150 frames. */
  wzp_call_page_push_stats (page, stats (420, 40, 135, 135, 15));
  g_assert_cmpint (wzp_call_page_get_quality (page), ==, WZP_CALL_QUALITY_POOR);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (label)), ==, "Poor connection");
  g_assert_nonnull (strstr (gtk_widget_get_tooltip_text (label), "Audio lost: 10.0 %"));

  /* It recovers: five clean seconds later the window holds no loss. */
  for (guint i = 1; i <= 5; i++)
    wzp_call_page_push_stats (page, stats (30, 40, 135 + 50 * i, 135 + 50 * i, 15));
  g_assert_cmpint (wzp_call_page_get_quality (page), ==, WZP_CALL_QUALITY_GOOD);

  /* The figures are in Connection Details too. */
  g_assert_true (gtk_widget_is_ancestor (wzp_call_page_get_quality_row (page),
                                         child (page, WZP_TYPE_CALL_PAGE, "details_row")));
  g_assert_cmpstr (adw_preferences_row_get_title (
                     ADW_PREFERENCES_ROW (wzp_call_page_get_quality_row (page))), ==,
                   "Good connection");

  /* A new call starts from nothing, with details of its own. */
  wzp_call_page_show_outgoing (page, FP_MOM);
  g_assert_false (gtk_widget_get_visible (label));
  g_assert_cmpint (wzp_call_page_get_quality (page), ==, WZP_CALL_QUALITY_UNKNOWN);
  g_assert_null (wzp_call_page_get_quality_row (page));
  wzp_call_page_push_stats (page, stats (420, 40, 0, 0, 0));
  g_assert_true (gtk_widget_is_ancestor (wzp_call_page_get_quality_row (page),
                                         child (page, WZP_TYPE_CALL_PAGE, "details_row")));
  g_assert_cmpstr (adw_preferences_row_get_title (
                     ADW_PREFERENCES_ROW (wzp_call_page_get_quality_row (page))), ==,
                   "Fair connection");

  g_object_unref (page);
}

static void
check_error_outcome (GQuark      domain,
                     int         code,
                     const char *title,
                     const char *detail)
{
  g_autoptr(GError) error = g_error_new (domain, code, "what the library said");
  g_autofree char *t = NULL;
  g_autofree char *d = NULL;

  wzp_call_outcome_from_error (error, &t, &d);
  g_assert_cmpstr (t, ==, title);
  g_assert_cmpstr (d, ==, detail);
}

static void
test_outcome_words (void)
{
  check_error_outcome (WZP_CALL_ERROR, WZP_CALL_ERROR_DECLINED, "Declined",
                       "The call was declined");
  check_error_outcome (WZP_CALL_ERROR, WZP_CALL_ERROR_BUSY, "Busy", "The line is busy");
  /* A ring timeout is "No answer", not a failure. */
  check_error_outcome (WZP_CALL_ERROR, WZP_CALL_ERROR_TIMEOUT, "No answer", "Nobody answered");
  check_error_outcome (WZP_CALL_ERROR, WZP_CALL_ERROR_UNREACHABLE, "Not reachable",
                       "No connection could be made, not even through the relay");
  check_error_outcome (WZP_CALL_ERROR, WZP_CALL_ERROR_UNKNOWN_PEER, "Not reachable",
                       "Nobody with this fingerprint is connected to your relay");
  check_error_outcome (WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_NOT_CONNECTED, "Not connected",
                       "You are not connected to a relay, so nobody can be called");
  /* Otherwise the library's sentence, which names the cause. */
  check_error_outcome (WZP_CALL_ERROR, WZP_CALL_ERROR_FAILED, "Call failed",
                       "what the library said");
}

static void
closed_cb (gboolean *closed)
{
  *closed = TRUE;
}

/* The page stays with the outcome; Call Again dials the same fingerprint; Close returns to
 * the main page; the next call clears it. */
static void
test_outcome_page (void)
{
  WzpWindow *window = g_object_new (WZP_TYPE_WINDOW, NULL);
  WzpCallPage *page = wzp_window_get_call_page (window);
  GtkWidget *again = child (page, WZP_TYPE_CALL_PAGE, "call_again_button");
  g_autoptr(GVariant) target = NULL;
  gboolean closed = FALSE;

  gtk_window_present (GTK_WINDOW (window));
  wzp_window_show_outgoing (window, FP_MOM);
  g_assert_true (gtk_widget_get_visible (child (page, WZP_TYPE_CALL_PAGE, "controls_box")));
  g_assert_false (gtk_widget_get_visible (child (page, WZP_TYPE_CALL_PAGE, "outcome_box")));

  wzp_call_page_show_outcome (page, "Busy", "The line is busy");
  g_assert_true (wzp_window_is_in_call (window));
  g_assert_cmpstr (wzp_call_page_get_state_text (page), ==, "Busy");
  g_assert_cmpstr (wzp_call_page_get_outcome (page), ==, "Busy");
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (child (page, WZP_TYPE_CALL_PAGE,
                                                          "outcome_detail"))), ==,
                   "The line is busy");
  g_assert_false (gtk_widget_get_visible (child (page, WZP_TYPE_CALL_PAGE, "controls_box")));
  g_assert_false (gtk_widget_get_visible (child (page, WZP_TYPE_CALL_PAGE, "audio_group")));
  g_assert_true (gtk_widget_get_visible (again));
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (again)), ==, "app.dial");
  target = gtk_actionable_get_action_target_value (GTK_ACTIONABLE (again));
  g_variant_ref (target);
  g_assert_cmpstr (g_variant_get_string (target, NULL), ==, FP_MOM);

  g_signal_connect_swapped (page, "closed", G_CALLBACK (closed_cb), &closed);
  g_assert_true (gtk_widget_activate (child (page, WZP_TYPE_CALL_PAGE, "close_button")));
  WZP_UI_WAIT (closed, WAIT_MS);
  g_assert_false (wzp_window_is_in_call (window));
  g_assert_null (wzp_call_page_get_outcome (page));

  /* The next call starts clean. */
  wzp_window_show_outgoing (window, FP_MOM);
  g_assert_null (wzp_call_page_get_outcome (page));
  g_assert_cmpstr (wzp_call_page_get_state_text (page), ==, "Calling…");
  g_assert_true (gtk_widget_get_visible (child (page, WZP_TYPE_CALL_PAGE, "controls_box")));

  gtk_window_destroy (GTK_WINDOW (window));
}

/* Whether a device named @name of @direction is in @devices. */
static gboolean
lists (GListModel        *devices,
       const char        *name,
       WzpAudioDirection  direction)
{
  for (guint i = 0; i < g_list_model_get_n_items (devices); i++)
    {
      g_autoptr(WzpAudioDevice) device = g_list_model_get_item (devices, i);

      if (wzp_audio_device_get_direction (device) == direction &&
          g_strcmp0 (wzp_audio_device_get_display_name (device), name) == 0)
        return TRUE;
    }
  return FALSE;
}

/* The row's choices are "System default", then what @devices lists for its direction, in
 * the same order. */
static void
assert_row_lists (WzpAudioDeviceRow *row,
                  GListModel        *devices,
                  WzpAudioDirection  direction)
{
  GListModel *labels = adw_combo_row_get_model (ADW_COMBO_ROW (row));
  guint n = 1;

  g_assert_cmpstr (gtk_string_list_get_string (GTK_STRING_LIST (labels), 0), ==,
                   "System default");
  g_assert_cmpstr (wzp_audio_device_row_get_id (row, 0), ==, "");
  for (guint i = 0; i < g_list_model_get_n_items (devices); i++)
    {
      g_autoptr(WzpAudioDevice) device = g_list_model_get_item (devices, i);

      if (wzp_audio_device_get_direction (device) != direction)
        continue;
      g_assert_cmpstr (gtk_string_list_get_string (GTK_STRING_LIST (labels), n), ==,
                       wzp_audio_device_get_display_name (device));
      g_assert_cmpstr (wzp_audio_device_row_get_id (row, n), ==,
                       wzp_audio_device_get_id (device));
      n++;
    }
  g_assert_cmpuint (g_list_model_get_n_items (labels), ==, n);
}

/* The preferences' device rows show what the library's device list shows, write the
 * choice, and keep a chosen device that went away. */
static void
test_device_rows (void)
{
  g_autoptr(GSettingsBackend) backend = g_memory_settings_backend_new ();
  g_autoptr(GSettings) settings = g_settings_new_with_backend (SETTINGS_SCHEMA_ID, backend);
  g_autoptr(WzpAudioDevices) devices = NULL;
  g_autofree char *skipped = NULL;
  g_autofree char *chosen = NULL;
  WzpTestPulse *pulse;
  WzpAudioDeviceRow *output;
  WzpAudioDeviceRow *input;
  GtkWidget *prefs;
  guint module_gamma;
  gint64 deadline;

  pulse = wzp_test_pulse_start (&skipped);
  if (pulse == NULL)
    {
      g_test_skip (skipped);
      return;
    }
  wzp_test_pulse_load_null_sink ("wzp_alpha", "Alpha");
  wzp_test_pulse_load_null_sink ("wzp_beta", "Beta");

  prefs = wzp_preferences_window_new (NULL, settings);
  output = WZP_AUDIO_DEVICE_ROW (
    wzp_preferences_window_get_audio_row (WZP_PREFERENCES_WINDOW (prefs),
                                          WZP_AUDIO_DIRECTION_SINK));
  input = WZP_AUDIO_DEVICE_ROW (
    wzp_preferences_window_get_audio_row (WZP_PREFERENCES_WINDOW (prefs),
                                          WZP_AUDIO_DIRECTION_SOURCE));
  adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (prefs), "audio");
  gtk_window_present (GTK_WINDOW (prefs));
  WZP_UI_WAIT (gtk_widget_get_mapped (GTK_WIDGET (output)), WAIT_MS);

  /* The library's list the rows show, started when they came on screen. The test compares
   * with that one: a second WzpAudioDevices started in the same process was seen not to
   * hear a device plugged in afterwards (GStreamer 1.22), which the app never does. */
  devices = g_object_ref (wzp_audio_device_row_get_devices (output));
  g_assert_true (wzp_audio_device_row_get_devices (input) == devices);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (!lists (G_LIST_MODEL (devices), "Beta", WZP_AUDIO_DIRECTION_SINK) &&
         g_get_monotonic_time () < deadline)
    wzp_ui_spin (50);
  if (!lists (G_LIST_MODEL (devices), "Beta", WZP_AUDIO_DIRECTION_SINK))
    {
      g_test_skip ("the device list does not show the test's PulseAudio (GStreamer's "
                   "PulseAudio plugin missing?)");
      gtk_window_destroy (GTK_WINDOW (prefs));
      g_clear_object (&devices);
      wzp_test_pulse_stop (pulse);
      return;
    }
  WZP_UI_WAIT (g_list_model_get_n_items (adw_combo_row_get_model (ADW_COMBO_ROW (output))) == 3,
               WAIT_MS);
  /* The devices listed by the library, both ways: Alpha and Beta; their monitors. */
  assert_row_lists (output, G_LIST_MODEL (devices), WZP_AUDIO_DIRECTION_SINK);
  WZP_UI_WAIT (g_list_model_get_n_items (adw_combo_row_get_model (ADW_COMBO_ROW (input))) >= 3,
               WAIT_MS);
  assert_row_lists (input, G_LIST_MODEL (devices), WZP_AUDIO_DIRECTION_SOURCE);
  /* Nothing chosen: the system's default. */
  g_assert_cmpuint (adw_combo_row_get_selected (ADW_COMBO_ROW (output)), ==, 0);
  g_assert_cmpstr (wzp_audio_device_row_get_choice (output), ==, "");
  wzp_ui_spin (200);
  wzp_ui_save_screenshot (GTK_WIDGET (prefs), "preferences-audio.png");

  /* A device plugged in shows up. (GStreamer 1.22's PulseAudio provider reports the removal
   * of devices it heard of while running; the test plugs one in and out, as a user would.) */
  module_gamma = wzp_test_pulse_load_null_sink ("wzp_gamma", "Gamma");
  WZP_UI_WAIT (lists (G_LIST_MODEL (devices), "Gamma", WZP_AUDIO_DIRECTION_SINK), WAIT_MS);
  WZP_UI_WAIT (g_list_model_get_n_items (adw_combo_row_get_model (ADW_COMBO_ROW (output))) == 4,
               WAIT_MS);
  assert_row_lists (output, G_LIST_MODEL (devices), WZP_AUDIO_DIRECTION_SINK);

  /* Choosing it stores its id, which is what the client is given. */
  adw_combo_row_set_selected (ADW_COMBO_ROW (output), 3);
  chosen = g_settings_get_string (settings, "audio-output");
  g_assert_cmpstr (chosen, ==, wzp_audio_device_row_get_id (output, 3));
  g_assert_nonnull (strstr (chosen, "wzp_gamma"));

  /* It goes away: the list follows, and the choice is kept, said to be missing. */
  wzp_test_pulse_unload_module (module_gamma);
  WZP_UI_WAIT (!lists (G_LIST_MODEL (devices), "Gamma", WZP_AUDIO_DIRECTION_SINK), WAIT_MS);
  WZP_UI_WAIT (g_strcmp0 (gtk_string_list_get_string (
                 GTK_STRING_LIST (adw_combo_row_get_model (ADW_COMBO_ROW (output))),
                 adw_combo_row_get_selected (ADW_COMBO_ROW (output))),
               "Chosen output (not connected)") == 0, WAIT_MS);
  g_assert_cmpstr (wzp_audio_device_row_get_choice (output), ==, chosen);
  g_clear_pointer (&chosen, g_free);
  chosen = g_settings_get_string (settings, "audio-output");
  g_assert_nonnull (strstr (chosen, "wzp_gamma"));

  /* Back to the default: the key is empty again. */
  adw_combo_row_set_selected (ADW_COMBO_ROW (output), 0);
  g_clear_pointer (&chosen, g_free);
  chosen = g_settings_get_string (settings, "audio-output");
  g_assert_cmpstr (chosen, ==, "");

  gtk_window_destroy (GTK_WINDOW (prefs));
  wzp_ui_spin (100);
  g_clear_object (&devices);
  wzp_test_pulse_stop (pulse);
}

/* "Test Your Microphone": the bar follows the chosen source, a test signal here. */
static void
test_mic_test (void)
{
  g_autoptr(GSettingsBackend) backend = g_memory_settings_backend_new ();
  g_autoptr(GSettings) settings = g_settings_new_with_backend (SETTINGS_SCHEMA_ID, backend);
  WzpMicTestRow *row = g_object_ref_sink (WZP_MIC_TEST_ROW (wzp_mic_test_row_new ()));

  g_settings_set_string (settings, "audio-input",
                         "audiotestsrc is-live=true wave=sine volume=0.8");
  wzp_mic_test_row_bind (row, settings, "audio-input");
  g_assert_false (wzp_mic_test_row_get_testing (row));

  wzp_mic_test_row_set_testing (row, TRUE);
  if (!wzp_mic_test_row_get_testing (row))
    {
      /* A build without voice: the row says why. */
      g_test_skip (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)));
      g_object_unref (row);
      return;
    }
  WZP_UI_WAIT (wzp_mic_test_row_get_level (row) > 0.8, WAIT_MS);

  /* Another microphone chosen meanwhile: the bar follows that one, silent here. */
  g_settings_set_string (settings, "audio-input", "audiotestsrc is-live=true wave=silence");
  WZP_UI_WAIT (wzp_mic_test_row_get_level (row) < 0.05, WAIT_MS);
  g_assert_true (wzp_mic_test_row_get_testing (row));

  wzp_mic_test_row_set_testing (row, FALSE);
  g_assert_false (wzp_mic_test_row_get_testing (row));
  g_assert_cmpfloat (wzp_mic_test_row_get_level (row), ==, 0.0);

  /* A source that cannot work says why, and the test stops. */
  g_settings_set_string (settings, "audio-input", "no-such-element-here");
  wzp_mic_test_row_set_testing (row, TRUE);
  WZP_UI_WAIT (!wzp_mic_test_row_get_testing (row), WAIT_MS);
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), !=,
                   "Speak: the bar moves with your voice");

  g_object_unref (row);
}

int
main (int   argc,
      char *argv[])
{
  wzp_ui_test_init (&argc, &argv);

  g_test_add_func ("/wzp/ui/audio/quality-judgement", test_quality_judgement);
  g_test_add_func ("/wzp/ui/audio/quality-indicator", test_quality_indicator);
  g_test_add_func ("/wzp/ui/call-page/outcome-words", test_outcome_words);
  g_test_add_func ("/wzp/ui/call-page/outcome-page", test_outcome_page);
  g_test_add_func ("/wzp/ui/audio/device-rows", test_device_rows);
  g_test_add_func ("/wzp/ui/audio/mic-test", test_mic_test);

  return g_test_run ();
}
