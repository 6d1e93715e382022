/* wzp-audio-device-row.c: a combo row choosing a microphone or a sound output
 *
 * The choices are "System default" (an empty key: the client then follows whatever the
 * system's default is at each call) and the devices of one direction from the library's
 * WzpAudioDevices, in its order; the row writes the chosen device's id to a GSettings
 * key, which the application binds to WzpClient:audio-source or :audio-sink. A stored
 * choice whose device is not there shows as such and stays chosen (the library falls back
 * to the default in the call, and the device is used again when it comes back).
 *
 * The device list is one WzpAudioDevices shared by every row on screen: started when the
 * first row is mapped, stopped when the last is unmapped (docs/voice.md, "The device
 * list": it is started explicitly, as a dialog opens).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "wzp-audio-device-row.h"

struct _WzpAudioDeviceRow
{
  AdwComboRow        parent_instance;

  WzpAudioDirection  direction;
  WzpAudioDevices   *devices;      /* while mapped */
  GtkStringList     *labels;       /* the model */
  GPtrArray         *ids;          /* char*, parallel to labels; "" is the default */
  GSettings         *settings;
  char              *key;
  gboolean           updating;
};

G_DEFINE_FINAL_TYPE (WzpAudioDeviceRow, wzp_audio_device_row, ADW_TYPE_COMBO_ROW)

static WzpAudioDevices *shared_devices;   /* weak: the rows on screen hold it */
static GError *shared_error;              /* why it could not start, if it could not */

/* The shared list, started; it stays as long as someone holds a reference. */
static WzpAudioDevices *
acquire_devices (void)
{
  if (shared_devices != NULL)
    return g_object_ref (shared_devices);

  shared_devices = wzp_audio_devices_new ();
  g_object_add_weak_pointer (G_OBJECT (shared_devices), (gpointer *) &shared_devices);
  g_clear_error (&shared_error);
  if (!wzp_audio_devices_start (shared_devices, &shared_error))
    g_debug ("Audio devices cannot be listed: %s", shared_error->message);
  return shared_devices;
}

static char *
stored_choice (WzpAudioDeviceRow *self)
{
  if (self->settings == NULL)
    return g_strdup ("");
  return g_settings_get_string (self->settings, self->key);
}

/* Rebuilds the choices from the device list and selects the stored one. */
static void
rebuild (WzpAudioDeviceRow *self)
{
  g_autofree char *choice = stored_choice (self);
  g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);
  guint selected = 0;
  guint n;

  g_ptr_array_set_size (self->ids, 0);
  g_ptr_array_add (self->ids, g_strdup (""));
  g_ptr_array_add (labels, g_strdup (_("System default")));

  n = self->devices != NULL ? g_list_model_get_n_items (G_LIST_MODEL (self->devices)) : 0;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(WzpAudioDevice) device = g_list_model_get_item (G_LIST_MODEL (self->devices), i);

      if (wzp_audio_device_get_direction (device) != self->direction)
        continue;
      if (g_strcmp0 (wzp_audio_device_get_id (device), choice) == 0)
        selected = self->ids->len;
      g_ptr_array_add (self->ids, g_strdup (wzp_audio_device_get_id (device)));
      g_ptr_array_add (labels, g_strdup (wzp_audio_device_get_display_name (device)));
    }
  if (*choice != '\0' && selected == 0)
    {
      /* Kept: the device may come back, and the call falls back meanwhile. */
      selected = self->ids->len;
      g_ptr_array_add (self->ids, g_strdup (choice));
      if (strstr (choice, "device=") == NULL)
        /* Not a device: a description someone set (a test signal, a file); shown as is. */
        g_ptr_array_add (labels, g_strdup (choice));
      else
        g_ptr_array_add (labels, g_strdup (self->direction == WZP_AUDIO_DIRECTION_SOURCE
                                             ? _("Chosen microphone (not connected)")
                                             : _("Chosen output (not connected)")));
    }
  g_ptr_array_add (labels, NULL);

  self->updating = TRUE;
  gtk_string_list_splice (self->labels, 0,
                          g_list_model_get_n_items (G_LIST_MODEL (self->labels)),
                          (const char * const *) labels->pdata);
  adw_combo_row_set_selected (ADW_COMBO_ROW (self), selected);
  self->updating = FALSE;

  adw_action_row_set_subtitle (ADW_ACTION_ROW (self),
                               self->devices != NULL && shared_error != NULL
                                 ? shared_error->message : "");
}

static void
selected_cb (WzpAudioDeviceRow *self)
{
  guint selected = adw_combo_row_get_selected (ADW_COMBO_ROW (self));

  if (self->updating || self->settings == NULL || selected >= self->ids->len)
    return;
  g_settings_set_string (self->settings, self->key, g_ptr_array_index (self->ids, selected));
}

static void
wzp_audio_device_row_map (GtkWidget *widget)
{
  WzpAudioDeviceRow *self = WZP_AUDIO_DEVICE_ROW (widget);

  GTK_WIDGET_CLASS (wzp_audio_device_row_parent_class)->map (widget);

  if (self->devices == NULL)
    {
      self->devices = acquire_devices ();
      g_signal_connect_object (self->devices, "items-changed", G_CALLBACK (rebuild), self,
                               G_CONNECT_SWAPPED);
    }
  rebuild (self);
}

static void
wzp_audio_device_row_unmap (GtkWidget *widget)
{
  WzpAudioDeviceRow *self = WZP_AUDIO_DEVICE_ROW (widget);

  if (self->devices != NULL)
    g_signal_handlers_disconnect_by_data (self->devices, self);
  g_clear_object (&self->devices);

  GTK_WIDGET_CLASS (wzp_audio_device_row_parent_class)->unmap (widget);
}

/* Shows the choice stored under @key in @settings, and writes the user's choice there. */
void
wzp_audio_device_row_bind (WzpAudioDeviceRow *self,
                           GSettings         *settings,
                           const char        *key)
{
  g_autofree char *signal = NULL;

  g_return_if_fail (WZP_IS_AUDIO_DEVICE_ROW (self));

  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_set_object (&self->settings, settings);
  g_free (self->key);
  self->key = g_strdup (key);
  if (settings != NULL)
    {
      signal = g_strdup_printf ("changed::%s", key);
      g_signal_connect_object (settings, signal, G_CALLBACK (rebuild), self, G_CONNECT_SWAPPED);
    }
  rebuild (self);
}

/* The list the row shows while it is on screen (NULL otherwise). */
WzpAudioDevices *
wzp_audio_device_row_get_devices (WzpAudioDeviceRow *self)
{
  g_return_val_if_fail (WZP_IS_AUDIO_DEVICE_ROW (self), NULL);
  return self->devices;
}

/* The id chosen: "" for the system's default. */
const char *
wzp_audio_device_row_get_choice (WzpAudioDeviceRow *self)
{
  guint selected;

  g_return_val_if_fail (WZP_IS_AUDIO_DEVICE_ROW (self), NULL);
  selected = adw_combo_row_get_selected (ADW_COMBO_ROW (self));
  return selected < self->ids->len ? g_ptr_array_index (self->ids, selected) : "";
}

/* The id behind the choice at @position ("" for the default), or NULL. */
const char *
wzp_audio_device_row_get_id (WzpAudioDeviceRow *self,
                             guint              position)
{
  g_return_val_if_fail (WZP_IS_AUDIO_DEVICE_ROW (self), NULL);
  return position < self->ids->len ? g_ptr_array_index (self->ids, position) : NULL;
}

static void
wzp_audio_device_row_dispose (GObject *object)
{
  WzpAudioDeviceRow *self = WZP_AUDIO_DEVICE_ROW (object);

  if (self->devices != NULL)
    g_signal_handlers_disconnect_by_data (self->devices, self);
  g_clear_object (&self->devices);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (wzp_audio_device_row_parent_class)->dispose (object);
}

static void
wzp_audio_device_row_finalize (GObject *object)
{
  WzpAudioDeviceRow *self = WZP_AUDIO_DEVICE_ROW (object);

  g_ptr_array_unref (self->ids);
  g_clear_object (&self->labels);
  g_free (self->key);

  G_OBJECT_CLASS (wzp_audio_device_row_parent_class)->finalize (object);
}

static void
wzp_audio_device_row_class_init (WzpAudioDeviceRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = wzp_audio_device_row_dispose;
  object_class->finalize = wzp_audio_device_row_finalize;
  widget_class->map = wzp_audio_device_row_map;
  widget_class->unmap = wzp_audio_device_row_unmap;
}

static void
wzp_audio_device_row_init (WzpAudioDeviceRow *self)
{
  self->ids = g_ptr_array_new_with_free_func (g_free);
  self->labels = gtk_string_list_new (NULL);
  adw_combo_row_set_model (ADW_COMBO_ROW (self), G_LIST_MODEL (self->labels));
  g_signal_connect (self, "notify::selected", G_CALLBACK (selected_cb), NULL);
  rebuild (self);
}

GtkWidget *
wzp_audio_device_row_new (WzpAudioDirection direction)
{
  WzpAudioDeviceRow *self = g_object_new (WZP_TYPE_AUDIO_DEVICE_ROW, NULL);

  self->direction = direction;
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self),
                                 direction == WZP_AUDIO_DIRECTION_SOURCE ? _("Microphone")
                                                                         : _("Sound Output"));
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self), FALSE);
  rebuild (self);
  return GTK_WIDGET (self);
}
