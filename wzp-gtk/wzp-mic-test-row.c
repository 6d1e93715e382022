/* wzp-mic-test-row.c: "Test Your Microphone": a level meter on the chosen microphone
 *
 * A toggle starts the library's WzpAudioLevel on the microphone stored under a GSettings
 * key (empty: the system's default), and a level bar follows its peak, ten times a second.
 * It shows what a call would send before echo cancellation and gain control. The meter
 * stops when the toggle is released, the row leaves the screen, or the source fails (the
 * row then says why).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <wzp-glib.h>

#include "wzp-mic-test-row.h"

/* The bar spans -60 dBFS (quiet room) to 0 dBFS (full scale). */
#define FLOOR_DB (-60.0)

struct _WzpMicTestRow
{
  AdwActionRow     parent_instance;

  GtkWidget       *level_bar;
  GtkWidget       *toggle;
  WzpAudioLevel   *level;
  GSettings       *settings;
  char            *key;
};

G_DEFINE_FINAL_TYPE (WzpMicTestRow, wzp_mic_test_row, ADW_TYPE_ACTION_ROW)

static void
set_subtitle (WzpMicTestRow *self,
              const char    *text)
{
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self), text);
}

static void
peak_cb (WzpMicTestRow *self)
{
  double db = wzp_audio_level_get_peak_db (self->level);

  gtk_level_bar_set_value (GTK_LEVEL_BAR (self->level_bar),
                           CLAMP ((db - FLOOR_DB) / -FLOOR_DB, 0.0, 1.0));
}

static void
stop (WzpMicTestRow *self)
{
  if (self->level == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->level, self);
  wzp_audio_level_stop (self->level);
  g_clear_object (&self->level);
  gtk_level_bar_set_value (GTK_LEVEL_BAR (self->level_bar), 0.0);
}

static void
level_error_cb (WzpMicTestRow *self,
                GError        *error)
{
  stop (self);
  set_subtitle (self, error->message);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (self->toggle), FALSE);
}

static void
start (WzpMicTestRow *self)
{
  g_autofree char *source = NULL;
  g_autoptr(GError) error = NULL;

  stop (self);
  if (self->settings != NULL)
    source = g_settings_get_string (self->settings, self->key);
  self->level = wzp_audio_level_new (source != NULL && *source != '\0' ? source : NULL);
  g_signal_connect_object (self->level, "notify::peak-db", G_CALLBACK (peak_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->level, "error", G_CALLBACK (level_error_cb), self,
                           G_CONNECT_SWAPPED);
  if (!wzp_audio_level_start (self->level, &error))
    {
      stop (self);
      set_subtitle (self, error->message);
      gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (self->toggle), FALSE);
      return;
    }
  set_subtitle (self, _("Speak: the bar moves with your voice"));
}

static void
toggled_cb (WzpMicTestRow *self)
{
  if (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->toggle)))
    start (self);
  else
    stop (self);
}

/* Another microphone chosen while testing: listen to that one. */
static void
source_changed_cb (WzpMicTestRow *self)
{
  if (self->level != NULL)
    start (self);
}

void
wzp_mic_test_row_bind (WzpMicTestRow *self,
                       GSettings     *settings,
                       const char    *key)
{
  g_autofree char *signal = g_strdup_printf ("changed::%s", key);

  g_return_if_fail (WZP_IS_MIC_TEST_ROW (self));

  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_set_object (&self->settings, settings);
  g_free (self->key);
  self->key = g_strdup (key);
  if (settings != NULL)
    g_signal_connect_object (settings, signal, G_CALLBACK (source_changed_cb), self,
                             G_CONNECT_SWAPPED);
}

void
wzp_mic_test_row_set_testing (WzpMicTestRow *self,
                              gboolean       testing)
{
  g_return_if_fail (WZP_IS_MIC_TEST_ROW (self));
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (self->toggle), testing);
}

gboolean
wzp_mic_test_row_get_testing (WzpMicTestRow *self)
{
  g_return_val_if_fail (WZP_IS_MIC_TEST_ROW (self), FALSE);
  return self->level != NULL;
}

/* What the bar shows, 0 to 1. */
double
wzp_mic_test_row_get_level (WzpMicTestRow *self)
{
  g_return_val_if_fail (WZP_IS_MIC_TEST_ROW (self), 0.0);
  return gtk_level_bar_get_value (GTK_LEVEL_BAR (self->level_bar));
}

static void
wzp_mic_test_row_unmap (GtkWidget *widget)
{
  WzpMicTestRow *self = WZP_MIC_TEST_ROW (widget);

  /* Nobody sees the bar: the microphone is closed. */
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (self->toggle), FALSE);
  GTK_WIDGET_CLASS (wzp_mic_test_row_parent_class)->unmap (widget);
}

static void
wzp_mic_test_row_dispose (GObject *object)
{
  WzpMicTestRow *self = WZP_MIC_TEST_ROW (object);

  stop (self);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (wzp_mic_test_row_parent_class)->dispose (object);
}

static void
wzp_mic_test_row_finalize (GObject *object)
{
  g_free (WZP_MIC_TEST_ROW (object)->key);

  G_OBJECT_CLASS (wzp_mic_test_row_parent_class)->finalize (object);
}

static void
wzp_mic_test_row_class_init (WzpMicTestRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = wzp_mic_test_row_dispose;
  object_class->finalize = wzp_mic_test_row_finalize;
  widget_class->unmap = wzp_mic_test_row_unmap;
}

static void
wzp_mic_test_row_init (WzpMicTestRow *self)
{
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self), _("Test Your Microphone"));
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self), FALSE);
  set_subtitle (self, _("Listen to the chosen microphone here, outside any call"));

  self->level_bar = gtk_level_bar_new_for_interval (0.0, 1.0);
  gtk_widget_set_valign (self->level_bar, GTK_ALIGN_CENTER);
  gtk_widget_set_size_request (self->level_bar, 120, -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->level_bar),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Microphone level"), -1);
  /* No "low"/"high" colours: loud is not a warning here. */
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (self->level_bar), GTK_LEVEL_BAR_OFFSET_LOW);
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (self->level_bar), GTK_LEVEL_BAR_OFFSET_HIGH);
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (self->level_bar), GTK_LEVEL_BAR_OFFSET_FULL);
  adw_action_row_add_suffix (ADW_ACTION_ROW (self), self->level_bar);

  self->toggle = gtk_toggle_button_new_with_mnemonic (_("_Test"));
  gtk_widget_set_valign (self->toggle, GTK_ALIGN_CENTER);
  g_signal_connect_object (self->toggle, "toggled", G_CALLBACK (toggled_cb), self,
                           G_CONNECT_SWAPPED);
  adw_action_row_add_suffix (ADW_ACTION_ROW (self), self->toggle);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (self), self->toggle);
}

GtkWidget *
wzp_mic_test_row_new (void)
{
  return g_object_new (WZP_TYPE_MIC_TEST_ROW, NULL);
}
