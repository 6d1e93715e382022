/* wzp-preferences-window.c: the app's settings, bound to GSettings
 *
 * Entry rows write their key when applied (Enter or the apply button) and follow the key
 * when it changes elsewhere; switches are bound with g_settings_bind. The application
 * binds the same keys onto the WzpClient, so a change here changes the client. The relay
 * address is also written (or, when it is not valid, checked and the problem shown under
 * it) when its row loses the focus and when the window closes, so that a typed address is
 * not lost to a click elsewhere or to Escape.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "wzp-audio-device-row.h"
#include "wzp-gtk-util.h"
#include "wzp-mic-test-row.h"
#include "wzp-preferences-window.h"

struct _WzpPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  AdwEntryRow          *relay_row;
  GtkLabel             *relay_hint;
  char                 *relay_hint_text;  /* the hint when there is no problem */
  AdwEntryRow          *alias_row;
  GtkSwitch            *privacy_switch;
  GtkSwitch            *background_switch;
  AdwEntryRow          *deny_row;
  AdwEntryRow          *allow_row;
  AdwEntryRow          *reflector_row;

  GSettings            *settings;

  /* Audio */
  AdwPreferencesGroup  *audio_group;
  GtkWidget            *output_row;
  GtkWidget            *input_row;
  GtkWidget            *mic_test_row;
};

G_DEFINE_FINAL_TYPE (WzpPreferencesWindow, wzp_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

enum {
  PROP_0,
  PROP_SETTINGS,
  N_PROPS,
};
static GParamSpec *properties[N_PROPS];

static void
set_row_text (AdwEntryRow *row,
              const char  *text)
{
  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (row)), text) != 0)
    gtk_editable_set_text (GTK_EDITABLE (row), text);
}

static void
settings_changed_cb (WzpPreferencesWindow *self,
                     const char           *key,
                     GSettings            *settings)
{
  if (key == NULL || g_str_equal (key, "relay-uri"))
    {
      g_autofree char *uri = g_settings_get_string (settings, "relay-uri");

      set_row_text (self->relay_row, uri);
    }
  if (key == NULL || g_str_equal (key, "alias"))
    {
      g_autofree char *alias = g_settings_get_string (settings, "alias");

      set_row_text (self->alias_row, alias);
    }
  if (key == NULL || g_str_equal (key, "interface-deny-list"))
    {
      g_auto(GStrv) list = g_settings_get_strv (settings, "interface-deny-list");
      g_autofree char *text = wzp_join_list ((const char * const *) list);

      set_row_text (self->deny_row, text);
    }
  if (key == NULL || g_str_equal (key, "interface-allow-list"))
    {
      g_auto(GStrv) list = g_settings_get_strv (settings, "interface-allow-list");
      g_autofree char *text = wzp_join_list ((const char * const *) list);

      set_row_text (self->allow_row, text);
    }
  if (key == NULL || g_str_equal (key, "second-reflector"))
    {
      g_autofree char *uri = g_settings_get_string (settings, "second-reflector");

      set_row_text (self->reflector_row, uri);
    }
}

static char *
row_text (AdwEntryRow *row)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));
}

static void
show_invalid (WzpPreferencesWindow *self,
              AdwEntryRow          *row,
              const char           *hint)
{
  gtk_widget_add_css_class (GTK_WIDGET (row), "error");
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (hint));
}

static void
set_relay_problem (WzpPreferencesWindow *self,
                   const char           *problem)
{
  GtkWidget *hint = GTK_WIDGET (self->relay_hint);

  if (problem != NULL)
    {
      /* Inline, under the entry, where the user looks (a toast goes away). */
      gtk_widget_add_css_class (GTK_WIDGET (self->relay_row), "error");
      gtk_widget_remove_css_class (hint, "dim-label");
      gtk_label_set_text (self->relay_hint, problem);
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->relay_row), "error");
      gtk_widget_add_css_class (hint, "dim-label");
      gtk_label_set_text (self->relay_hint, self->relay_hint_text);
    }
}

static void
relay_changed_cb (WzpPreferencesWindow *self)
{
  set_relay_problem (self, NULL);
}

/* Writes the relay address if it changed and is valid; shows why not otherwise. */
static void
relay_commit (WzpPreferencesWindow *self)
{
  g_autofree char *uri = NULL;
  g_autofree char *current = NULL;
  g_autoptr(GError) error = NULL;

  /* (The row loses the focus once more while the window is taken down.) */
  if (self->settings == NULL || self->relay_row == NULL)
    return;
  uri = row_text (self->relay_row);
  current = g_settings_get_string (self->settings, "relay-uri");
  if (g_strcmp0 (uri, current) == 0)
    return;
  /* Empty is "no relay"; anything else must be an address the client can use, and the
   * library's message says what is wrong with it. */
  if (*uri != '\0' && !wzp_relay_uri_validate (uri, &error))
    {
      set_relay_problem (self, error->message);
      return;
    }
  g_settings_set_string (self->settings, "relay-uri", uri);
}

static void
relay_apply_cb (WzpPreferencesWindow *self)
{
  relay_commit (self);
}

static void
relay_focus_leave_cb (WzpPreferencesWindow *self)
{
  relay_commit (self);
}

static void
alias_apply_cb (WzpPreferencesWindow *self)
{
  g_autofree char *alias = row_text (self->alias_row);

  g_settings_set_string (self->settings, "alias", alias);
}

static void
apply_list (GSettings   *settings,
            const char  *key,
            AdwEntryRow *row)
{
  g_auto(GStrv) list = wzp_split_list (gtk_editable_get_text (GTK_EDITABLE (row)));
  const char * const empty[] = { NULL };

  g_settings_set_strv (settings, key, list != NULL ? (const char * const *) list : empty);
}

static void
deny_apply_cb (WzpPreferencesWindow *self)
{
  apply_list (self->settings, "interface-deny-list", self->deny_row);
}

static void
allow_apply_cb (WzpPreferencesWindow *self)
{
  apply_list (self->settings, "interface-allow-list", self->allow_row);
}

static void
reflector_apply_cb (WzpPreferencesWindow *self)
{
  g_autofree char *uri = row_text (self->reflector_row);
  g_autoptr(GError) error = NULL;

  if (*uri != '\0' && !wzp_relay_uri_validate (uri, &error))
    {
      show_invalid (self, self->reflector_row, error->message);
      return;
    }
  gtk_widget_remove_css_class (GTK_WIDGET (self->reflector_row), "error");
  g_settings_set_string (self->settings, "second-reflector", uri);
}

/* The devices calls use, and the microphone test, on the Audio page. The rows are made
 * here rather than in the template because each is told its direction and key. */
static void
setup_audio (WzpPreferencesWindow *self)
{
  self->output_row = wzp_audio_device_row_new (WZP_AUDIO_DIRECTION_SINK);
  wzp_audio_device_row_bind (WZP_AUDIO_DEVICE_ROW (self->output_row), self->settings,
                             "audio-output");
  adw_preferences_group_add (self->audio_group, self->output_row);

  self->input_row = wzp_audio_device_row_new (WZP_AUDIO_DIRECTION_SOURCE);
  wzp_audio_device_row_bind (WZP_AUDIO_DEVICE_ROW (self->input_row), self->settings,
                             "audio-input");
  adw_preferences_group_add (self->audio_group, self->input_row);

  self->mic_test_row = wzp_mic_test_row_new ();
  wzp_mic_test_row_bind (WZP_MIC_TEST_ROW (self->mic_test_row), self->settings, "audio-input");
  adw_preferences_group_add (self->audio_group, self->mic_test_row);
}

static void
wzp_preferences_window_constructed (GObject *object)
{
  WzpPreferencesWindow *self = WZP_PREFERENCES_WINDOW (object);

  G_OBJECT_CLASS (wzp_preferences_window_parent_class)->constructed (object);

  if (self->settings == NULL)
    self->settings = g_settings_new (SETTINGS_SCHEMA_ID);

  g_settings_bind (self->settings, "privacy-by-default", self->privacy_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "run-in-background", self->background_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_signal_connect_object (self->settings, "changed", G_CALLBACK (settings_changed_cb), self,
                           G_CONNECT_SWAPPED);
  settings_changed_cb (self, NULL, self->settings);
  setup_audio (self);
}

static void
wzp_preferences_window_set_property (GObject      *object,
                                     guint         prop_id,
                                     const GValue *value,
                                     GParamSpec   *pspec)
{
  WzpPreferencesWindow *self = WZP_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
wzp_preferences_window_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  WzpPreferencesWindow *self = WZP_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
wzp_preferences_window_close_request (GtkWindow *window)
{
  relay_commit (WZP_PREFERENCES_WINDOW (window));
  return GTK_WINDOW_CLASS (wzp_preferences_window_parent_class)->close_request (window);
}

static void
wzp_preferences_window_finalize (GObject *object)
{
  g_free (WZP_PREFERENCES_WINDOW (object)->relay_hint_text);

  G_OBJECT_CLASS (wzp_preferences_window_parent_class)->finalize (object);
}

static void
wzp_preferences_window_dispose (GObject *object)
{
  WzpPreferencesWindow *self = WZP_PREFERENCES_WINDOW (object);

  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  gtk_widget_dispose_template (GTK_WIDGET (self), WZP_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (wzp_preferences_window_parent_class)->dispose (object);
}

static void
wzp_preferences_window_class_init (WzpPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = wzp_preferences_window_constructed;
  object_class->set_property = wzp_preferences_window_set_property;
  object_class->get_property = wzp_preferences_window_get_property;
  object_class->dispose = wzp_preferences_window_dispose;
  object_class->finalize = wzp_preferences_window_finalize;
  GTK_WINDOW_CLASS (klass)->close_request = wzp_preferences_window_close_request;

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE_PATH
                                               "/wzp-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, WzpPreferencesWindow, relay_row);
  gtk_widget_class_bind_template_child (widget_class, WzpPreferencesWindow, relay_hint);
  gtk_widget_class_bind_template_child (widget_class, WzpPreferencesWindow, alias_row);
  gtk_widget_class_bind_template_child (widget_class, WzpPreferencesWindow, privacy_switch);
  gtk_widget_class_bind_template_child (widget_class, WzpPreferencesWindow, background_switch);
  gtk_widget_class_bind_template_child (widget_class, WzpPreferencesWindow, deny_row);
  gtk_widget_class_bind_template_child (widget_class, WzpPreferencesWindow, allow_row);
  gtk_widget_class_bind_template_child (widget_class, WzpPreferencesWindow, reflector_row);
  gtk_widget_class_bind_template_child (widget_class, WzpPreferencesWindow, audio_group);
  gtk_widget_class_bind_template_callback (widget_class, relay_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, relay_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, alias_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, deny_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, allow_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, reflector_apply_cb);
}

static void
wzp_preferences_window_init (WzpPreferencesWindow *self)
{
  GtkEventController *focus = gtk_event_controller_focus_new ();

  gtk_widget_init_template (GTK_WIDGET (self));
  self->relay_hint_text = g_strdup (gtk_label_get_text (self->relay_hint));
  /* On the row: focus moving to its own apply button is not leaving it. */
  g_signal_connect_swapped (focus, "leave", G_CALLBACK (relay_focus_leave_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->relay_row), focus);
}

/* The Audio page's rows, for tests. */
GtkWidget *
wzp_preferences_window_get_audio_row (WzpPreferencesWindow *self,
                                      WzpAudioDirection     direction)
{
  g_return_val_if_fail (WZP_IS_PREFERENCES_WINDOW (self), NULL);
  return direction == WZP_AUDIO_DIRECTION_SOURCE ? self->input_row : self->output_row;
}

GtkWidget *
wzp_preferences_window_get_mic_test_row (WzpPreferencesWindow *self)
{
  g_return_val_if_fail (WZP_IS_PREFERENCES_WINDOW (self), NULL);
  return self->mic_test_row;
}

GtkWidget *
wzp_preferences_window_new (GtkWindow *parent,
                            GSettings *settings)
{
  return g_object_new (WZP_TYPE_PREFERENCES_WINDOW,
                       "transient-for", parent,
                       "settings", settings,
                       NULL);
}
