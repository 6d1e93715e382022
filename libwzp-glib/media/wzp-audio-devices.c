/* wzp-audio-devices.c: the system's audio devices as a list model (docs/voice.md,
 * "Devices")
 *
 * A GstDeviceMonitor for "Audio/Source" and "Audio/Sink", one for the process, heard on
 * the thread-default main context of each list's owner. Each device is shown as a WzpAudioDevice whose id is
 * the launch description of the element its provider makes for it, the very string
 * WzpClient:audio-source and :audio-sink take. In a build without GStreamer the list
 * stays empty and starting it says why.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#if WZP_HAVE_VOICE
# include <gst/gst.h>
# include "wzp-gst-private.h"
#endif

#include "wzp-audio-devices.h"
#include "wzp-audio-devices-private.h"
#include "wzp-enum-types.h"
#include "wzp-i18n-private.h"

/**
 * WzpAudioDevice:
 *
 * One audio device of the system, an item of [class@Wzp.AudioDevices]: a microphone or
 * an output, as the sound server (PulseAudio, or PipeWire through its PulseAudio
 * service) names it.
 *
 * Its [property@Wzp.AudioDevice:id] is what to store as the user's choice and to give
 * [property@Wzp.Client:audio-source] or [property@Wzp.Client:audio-sink].
 *
 * Since: 1.0
 */
struct _WzpAudioDevice
{
  GObject            parent_instance;

  char              *id;
  char              *display_name;
  WzpAudioDirection  direction;
  gboolean           is_default;
  GObject           *gst_device;     /* the GstDevice it shows */
};

G_DEFINE_FINAL_TYPE (WzpAudioDevice, wzp_audio_device, G_TYPE_OBJECT)

enum {
  DEVICE_PROP_0,
  DEVICE_PROP_ID,
  DEVICE_PROP_DISPLAY_NAME,
  DEVICE_PROP_DIRECTION,
  DEVICE_PROP_IS_DEFAULT,
  N_DEVICE_PROPS,
};
static GParamSpec *device_properties[N_DEVICE_PROPS];

/**
 * WzpAudioDevices:
 *
 * The system's audio devices, sources and sinks together, as a [iface@Gio.ListModel] of
 * [class@Wzp.AudioDevice], for an application's preferences: it works outside any call.
 *
 * The list is empty until [method@Wzp.AudioDevices.start]; from then on it follows the
 * devices that come and go (a headset plugged in, a Bluetooth device that connects) and
 * which one is the system's default, on the thread-default main context of the thread
 * that made it. Devices keep the order in which they appeared.
 *
 * When GStreamer's PulseAudio plugin is there (PulseAudio, or PipeWire through its
 * PulseAudio service: every GNOME desktop), the list shows the devices of the sound
 * server, and their ids are `pulsesrc device=NAME` or `pulsesink device=NAME`, stable
 * across restarts. Without it, the list shows what GStreamer's other device providers
 * find.
 *
 * Since: 1.0
 */
struct _WzpAudioDevices
{
  GObject        parent_instance;

  GMainContext  *context;        /* the owner's */
  GPtrArray     *items;          /* WzpAudioDevice* */
  GObject       *monitor;        /* the shared GstDeviceMonitor, while started */
  GObject       *bus;            /* a GstBus of the list's own, while started */
  GSource       *watch;          /* that bus, on the owner's context */
  gboolean       pulse_only;     /* the PulseAudio provider is there: only its devices */
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (WzpAudioDevices, wzp_audio_devices, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      list_model_iface_init))

/* Characters a value of a launch description may hold without quotes. */
#define PLAIN_VALUE_CHARS \
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/"

char *
_wzp_audio_quote (const char *value)
{
  GString *quoted;

  if (value[0] != '\0' && value[strspn (value, PLAIN_VALUE_CHARS)] == '\0')
    return g_strdup (value);
  quoted = g_string_new ("\"");
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (quoted, '\\');
      g_string_append_c (quoted, *p);
    }
  g_string_append_c (quoted, '"');
  return g_string_free (quoted, FALSE);
}

/* WzpAudioDevice */

/**
 * wzp_audio_device_get_id:
 * @self: a device
 *
 * Returns: the device's id: the GStreamer launch description that opens it
 *   (`pulsesrc device=alsa_input.usb-…`), to give [property@Wzp.Client:audio-source]
 *   (for a source) or [property@Wzp.Client:audio-sink] (for a sink) as it is, and to
 *   store as the user's choice
 *
 * Since: 1.0
 */
const char *
wzp_audio_device_get_id (WzpAudioDevice *self)
{
  g_return_val_if_fail (WZP_IS_AUDIO_DEVICE (self), NULL);
  return self->id;
}

/**
 * wzp_audio_device_get_display_name:
 * @self: a device
 *
 * Returns: the device's name for people, as the sound server gives it ("Built-in Audio
 *   Analog Stereo")
 *
 * Since: 1.0
 */
const char *
wzp_audio_device_get_display_name (WzpAudioDevice *self)
{
  g_return_val_if_fail (WZP_IS_AUDIO_DEVICE (self), NULL);
  return self->display_name;
}

/**
 * wzp_audio_device_get_direction:
 * @self: a device
 *
 * Returns: whether the device captures (a source) or plays (a sink)
 *
 * Since: 1.0
 */
WzpAudioDirection
wzp_audio_device_get_direction (WzpAudioDevice *self)
{
  g_return_val_if_fail (WZP_IS_AUDIO_DEVICE (self), WZP_AUDIO_DIRECTION_SOURCE);
  return self->direction;
}

/**
 * wzp_audio_device_get_is_default:
 * @self: a device
 *
 * Returns: whether the device is the system's default for its direction, the one a
 *   %NULL [property@Wzp.Client:audio-source] or [property@Wzp.Client:audio-sink] uses
 *
 * Since: 1.0
 */
gboolean
wzp_audio_device_get_is_default (WzpAudioDevice *self)
{
  g_return_val_if_fail (WZP_IS_AUDIO_DEVICE (self), FALSE);
  return self->is_default;
}

static void
wzp_audio_device_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  WzpAudioDevice *self = WZP_AUDIO_DEVICE (object);

  switch (prop_id)
    {
    case DEVICE_PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case DEVICE_PROP_DISPLAY_NAME:
      g_value_set_string (value, self->display_name);
      break;
    case DEVICE_PROP_DIRECTION:
      g_value_set_enum (value, self->direction);
      break;
    case DEVICE_PROP_IS_DEFAULT:
      g_value_set_boolean (value, self->is_default);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
wzp_audio_device_finalize (GObject *object)
{
  WzpAudioDevice *self = WZP_AUDIO_DEVICE (object);

  g_free (self->id);
  g_free (self->display_name);
  g_clear_object (&self->gst_device);

  G_OBJECT_CLASS (wzp_audio_device_parent_class)->finalize (object);
}

static void
wzp_audio_device_class_init (WzpAudioDeviceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = wzp_audio_device_get_property;
  object_class->finalize = wzp_audio_device_finalize;

  /**
   * WzpAudioDevice:id:
   *
   * The GStreamer launch description that opens the device, to give
   * [property@Wzp.Client:audio-source] or [property@Wzp.Client:audio-sink] and to store
   * as the user's choice. A device always has the same id (PulseAudio's names for devices
   * last), so a stored choice finds its device again when it comes back.
   *
   * Since: 1.0
   */
  device_properties[DEVICE_PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpAudioDevice:display-name:
   *
   * The device's name for people, as the sound server gives it.
   *
   * Since: 1.0
   */
  device_properties[DEVICE_PROP_DISPLAY_NAME] =
    g_param_spec_string ("display-name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpAudioDevice:direction:
   *
   * Whether the device captures sound (a source) or plays it (a sink).
   *
   * Since: 1.0
   */
  device_properties[DEVICE_PROP_DIRECTION] =
    g_param_spec_enum ("direction", NULL, NULL, WZP_TYPE_AUDIO_DIRECTION,
                       WZP_AUDIO_DIRECTION_SOURCE,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpAudioDevice:is-default:
   *
   * Whether the device is the system's default for its direction; it changes when the
   * user picks another default (in GNOME Settings, or `pactl set-default-sink`).
   *
   * Since: 1.0
   */
  device_properties[DEVICE_PROP_IS_DEFAULT] =
    g_param_spec_boolean ("is-default", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_DEVICE_PROPS, device_properties);
}

static void
wzp_audio_device_init (WzpAudioDevice *self)
{
}

/* WzpAudioDevices: the list */

static GType
list_model_get_item_type (GListModel *list)
{
  return WZP_TYPE_AUDIO_DEVICE;
}

static guint
list_model_get_n_items (GListModel *list)
{
  return WZP_AUDIO_DEVICES (list)->items->len;
}

static gpointer
list_model_get_item (GListModel *list,
                     guint       position)
{
  WzpAudioDevices *self = WZP_AUDIO_DEVICES (list);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = list_model_get_item_type;
  iface->get_n_items = list_model_get_n_items;
  iface->get_item = list_model_get_item;
}

static void
clear_items (WzpAudioDevices *self,
             gboolean         emit)
{
  guint n = self->items->len;

  g_ptr_array_set_size (self->items, 0);
  if (emit && n > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, n, 0);
}

#if WZP_HAVE_VOICE

static void
set_display_name (WzpAudioDevice *self,
                  const char     *display_name)
{
  if (g_strcmp0 (self->display_name, display_name) == 0)
    return;
  g_free (self->display_name);
  self->display_name = g_strdup (display_name);
  g_object_notify_by_pspec (G_OBJECT (self), device_properties[DEVICE_PROP_DISPLAY_NAME]);
}

static void
set_is_default (WzpAudioDevice *self,
                gboolean        is_default)
{
  if (self->is_default == !!is_default)
    return;
  self->is_default = !!is_default;
  g_object_notify_by_pspec (G_OBJECT (self), device_properties[DEVICE_PROP_IS_DEFAULT]);
}

/* The position of the item that shows @gst_device, or -1. */
static int
find_item (WzpAudioDevices *self,
           gpointer         gst_device)
{
  for (guint i = 0; i < self->items->len; i++)
    if (((WzpAudioDevice *) g_ptr_array_index (self->items, i))->gst_device == gst_device)
      return i;
  return -1;
}

/* The launch description of @element: its factory and the properties its device
 * provider set, those that differ from a fresh element's (`pulsesrc device=NAME`). */
static char *
element_description (GstElement *element)
{
  GstElementFactory *factory = gst_element_get_factory (element);
  g_autoptr(GstElement) fresh = gst_object_ref_sink (gst_element_factory_create (factory,
                                                                                 NULL));
  GString *description = g_string_new (GST_OBJECT_NAME (factory));
  guint n_specs = 0;
  g_autofree GParamSpec **specs = g_object_class_list_properties (G_OBJECT_GET_CLASS (element),
                                                                  &n_specs);

  for (guint i = 0; i < n_specs; i++)
    {
      GParamSpec *spec = specs[i];
      g_auto(GValue) value = G_VALUE_INIT;
      g_auto(GValue) fresh_value = G_VALUE_INIT;
      g_autofree char *text = NULL;
      g_autofree char *quoted = NULL;

      /* GstObject's own (name, parent) say nothing about the device */
      if ((spec->flags & G_PARAM_READWRITE) != G_PARAM_READWRITE ||
          (spec->flags & G_PARAM_CONSTRUCT_ONLY) != 0 || spec->owner_type == GST_TYPE_OBJECT)
        continue;
      g_value_init (&value, spec->value_type);
      g_value_init (&fresh_value, spec->value_type);
      g_object_get_property (G_OBJECT (element), spec->name, &value);
      g_object_get_property (G_OBJECT (fresh), spec->name, &fresh_value);
      if (g_param_values_cmp (spec, &value, &fresh_value) == 0)
        continue;
      text = G_VALUE_HOLDS_STRING (&value) ? g_value_dup_string (&value)
                                           : gst_value_serialize (&value);
      if (text == NULL)
        continue;
      quoted = _wzp_audio_quote (text);
      g_string_append_printf (description, " %s=%s", spec->name, quoted);
    }
  return g_string_free (description, FALSE);
}

/* A new item for @gst_device, or NULL for a device the list does not show. */
static WzpAudioDevice *
device_new (WzpAudioDevices *self,
            GstDevice       *gst_device)
{
  g_autoptr(GstElement) element = NULL;
  g_autoptr(GstStructure) props = NULL;
  const char *factory_name;
  WzpAudioDevice *device;
  gboolean is_default = FALSE;
  WzpAudioDirection direction;

  if (gst_device_has_classes (gst_device, "Audio/Source"))
    direction = WZP_AUDIO_DIRECTION_SOURCE;
  else if (gst_device_has_classes (gst_device, "Audio/Sink"))
    direction = WZP_AUDIO_DIRECTION_SINK;
  else
    return NULL;

  element = gst_device_create_element (gst_device, NULL);
  if (element == NULL)
    return NULL;
  gst_object_ref_sink (element);
  factory_name = GST_OBJECT_NAME (gst_element_get_factory (element));
  if (self->pulse_only && !g_str_equal (factory_name, "pulsesrc") &&
      !g_str_equal (factory_name, "pulsesink"))
    return NULL;

  props = gst_device_get_properties (gst_device);
  if (props != NULL)
    gst_structure_get_boolean (props, "is-default", &is_default);

  device = g_object_new (WZP_TYPE_AUDIO_DEVICE, NULL);
  device->id = element_description (element);
  device->display_name = gst_device_get_display_name (gst_device);
  device->direction = direction;
  device->is_default = is_default;
  device->gst_device = G_OBJECT (gst_object_ref (gst_device));
  return device;
}

static void
device_added (WzpAudioDevices *self,
              GstDevice       *gst_device)
{
  WzpAudioDevice *device;

  if (find_item (self, gst_device) >= 0)
    return;   /* listed already, from gst_device_monitor_get_devices() */
  device = device_new (self, gst_device);
  if (device == NULL)
    return;
  g_ptr_array_add (self->items, device);
  g_list_model_items_changed (G_LIST_MODEL (self), self->items->len - 1, 0, 1);
}

static void
device_removed (WzpAudioDevices *self,
                GstDevice       *gst_device)
{
  int position = find_item (self, gst_device);

  if (position < 0)
    return;
  g_ptr_array_remove_index (self->items, position);
  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
}

/* A provider replaced @old with @gst_device (PulseAudio: the default changed): the item
 * follows, or is replaced in place when it would open something else now. */
static void
device_changed (WzpAudioDevices *self,
                GstDevice       *gst_device,
                GstDevice       *old)
{
  int position = find_item (self, old);
  WzpAudioDevice *item;
  g_autoptr(WzpAudioDevice) fresh = NULL;

  if (position < 0)
    {
      device_added (self, gst_device);
      return;
    }
  item = g_ptr_array_index (self->items, position);
  fresh = device_new (self, gst_device);
  if (fresh == NULL)
    {
      device_removed (self, old);
      return;
    }
  if (!g_str_equal (fresh->id, item->id) || fresh->direction != item->direction)
    {
      g_ptr_array_index (self->items, position) = g_steal_pointer (&fresh);
      g_object_unref (item);
      g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 1);
      return;
    }
  g_set_object (&item->gst_device, fresh->gst_device);
  set_display_name (item, fresh->display_name);
  set_is_default (item, fresh->is_default);
}

static gboolean
bus_cb (GstBus     *bus,
        GstMessage *message,
        gpointer    user_data)
{
  WzpAudioDevices *self = user_data;
  g_autoptr(GstDevice) gst_device = NULL;
  g_autoptr(GstDevice) old = NULL;

  switch (GST_MESSAGE_TYPE (message))
    {
    case GST_MESSAGE_DEVICE_ADDED:
      gst_message_parse_device_added (message, &gst_device);
      device_added (self, gst_device);
      break;
    case GST_MESSAGE_DEVICE_REMOVED:
      gst_message_parse_device_removed (message, &gst_device);
      device_removed (self, gst_device);
      break;
    case GST_MESSAGE_DEVICE_CHANGED:
      gst_message_parse_device_changed (message, &gst_device, &old);
      device_changed (self, gst_device, old);
      break;
    default:
      break;
    }
  return G_SOURCE_CONTINUE;
}

/* One GstDeviceMonitor for the process, shared by the lists that run. Why: GStreamer
 * 1.22's monitor takes its providers' messages with the sync handler of the provider's
 * bus, of which a bus has one, and a provider is one object in the process: the monitor
 * made last takes them all, and a list started before it would hear no device come or go
 * (docs/voice.md, "Devices"). The shared monitor's messages go to each list's own bus,
 * which the list's owner context reads. */
static GMutex shared_lock;               /* the monitor, its users, its buses */
static GstDeviceMonitor *shared_monitor;
static guint shared_users;
static GPtrArray *shared_buses;          /* GstBus*: the lists' own, while started */

/* On the thread a provider posts from: a copy for each list. */
static GstBusSyncReply
fan_out (GstBus     *bus,
         GstMessage *message,
         gpointer    user_data)
{
  g_mutex_lock (&shared_lock);
  for (guint i = 0; shared_buses != NULL && i < shared_buses->len; i++)
    gst_bus_post (g_ptr_array_index (shared_buses, i), gst_message_ref (message));
  g_mutex_unlock (&shared_lock);
  return GST_BUS_DROP;
}

/* The shared monitor, made and started for its first user; NULL when no provider
 * starts. Not under shared_lock: a provider may post (fan_out) while it starts. */
static GstDeviceMonitor *
shared_monitor_get (void)
{
  static GMutex start_lock;   /* two lists started at once make one monitor */
  g_autoptr(GstDeviceMonitor) monitor = NULL;
  g_autoptr(GstBus) bus = NULL;

  g_mutex_lock (&start_lock);
  g_mutex_lock (&shared_lock);
  if (shared_monitor != NULL)
    {
      shared_users++;
      monitor = gst_object_ref (shared_monitor);
      g_mutex_unlock (&shared_lock);
      g_mutex_unlock (&start_lock);
      return g_steal_pointer (&monitor);
    }
  g_mutex_unlock (&shared_lock);

  monitor = gst_device_monitor_new ();   /* (transfer full) since GStreamer 1.14 */
  gst_device_monitor_add_filter (monitor, "Audio/Source", NULL);
  gst_device_monitor_add_filter (monitor, "Audio/Sink", NULL);
  /* PipeWire's provider hides PulseAudio's; PulseAudio's names are the ones that last
   * and pulsesrc is what autoaudiosrc opens, so both are heard, and PulseAudio's kept. */
  gst_device_monitor_set_show_all_devices (monitor, TRUE);
  bus = gst_device_monitor_get_bus (monitor);
  gst_bus_set_sync_handler (bus, fan_out, NULL, NULL);
  if (!gst_device_monitor_start (monitor))
    {
      g_mutex_unlock (&start_lock);
      return NULL;
    }
  g_mutex_lock (&shared_lock);
  shared_monitor = gst_object_ref (monitor);
  shared_users = 1;
  g_mutex_unlock (&shared_lock);
  g_mutex_unlock (&start_lock);
  return g_steal_pointer (&monitor);
}

static void
shared_monitor_release (void)
{
  g_autoptr(GstDeviceMonitor) last = NULL;

  g_mutex_lock (&shared_lock);
  if (--shared_users == 0)
    last = g_steal_pointer (&shared_monitor);
  g_mutex_unlock (&shared_lock);
  if (last != NULL)
    gst_device_monitor_stop (last);
}

static void monitor_stop (WzpAudioDevices *self);

static gboolean
monitor_start (WzpAudioDevices  *self,
               GError          **error)
{
  g_autoptr(GError) init_error = NULL;
  GstDeviceMonitor *monitor;
  g_auto(GStrv) providers = NULL;
  GList *devices;

  if (!gst_init_check (NULL, NULL, &init_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("Audio devices cannot be listed: GStreamer could not start (%s)"),
                   init_error->message);
      return FALSE;
    }

  /* The list's bus first: what a provider posts while the monitor starts is heard (and
   * found listed already). */
  self->bus = G_OBJECT (gst_bus_new ());
  self->watch = _wzp_gst_watch_bus (GST_BUS (self->bus), self->context, bus_cb, self);
  g_mutex_lock (&shared_lock);
  if (shared_buses == NULL)
    shared_buses = g_ptr_array_new_with_free_func (gst_object_unref);
  g_ptr_array_add (shared_buses, gst_object_ref (self->bus));
  g_mutex_unlock (&shared_lock);

  monitor = shared_monitor_get ();
  if (monitor == NULL)
    {
      monitor_stop (self);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           _("Audio devices cannot be listed: GStreamer has no way to find "
                             "them (install the GStreamer PulseAudio plugin, in the good "
                             "plugins)"));
      return FALSE;
    }
  self->monitor = G_OBJECT (monitor);

  providers = gst_device_monitor_get_providers (monitor);
  self->pulse_only = providers != NULL &&
                     g_strv_contains ((const char * const *) providers, "pulsedeviceprovider");
  /* The devices there now; their DEVICE_ADDED messages, if they come, find them listed. */
  devices = gst_device_monitor_get_devices (monitor);
  for (GList *l = devices; l != NULL; l = l->next)
    device_added (self, l->data);
  g_list_free_full (devices, gst_object_unref);
  return TRUE;
}

static void
monitor_stop (WzpAudioDevices *self)
{
  if (self->bus != NULL)
    {
      g_mutex_lock (&shared_lock);
      g_ptr_array_remove (shared_buses, self->bus);
      g_mutex_unlock (&shared_lock);
    }
  _wzp_gst_clear_watch (&self->watch);
  g_clear_object (&self->bus);
  if (self->monitor != NULL)
    shared_monitor_release ();
  g_clear_object (&self->monitor);
}

#else /* !WZP_HAVE_VOICE */

static gboolean
monitor_start (WzpAudioDevices  *self,
               GError          **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       _("Audio devices cannot be listed: this build of wzp has no "
                         "GStreamer support"));
  return FALSE;
}

static void
monitor_stop (WzpAudioDevices *self)
{
}

#endif /* WZP_HAVE_VOICE */

/**
 * wzp_audio_devices_new:
 *
 * Makes an empty list of the system's audio devices, which belongs to the thread-default
 * main context; [method@Wzp.AudioDevices.start] fills it.
 *
 * Returns: (transfer full): a new device list
 *
 * Since: 1.0
 */
WzpAudioDevices *
wzp_audio_devices_new (void)
{
  return g_object_new (WZP_TYPE_AUDIO_DEVICES, NULL);
}

/**
 * wzp_audio_devices_start:
 * @self: a device list
 * @error: return location for a #GError
 *
 * Lists the devices there now and follows them from then on: items come and go with the
 * devices ([signal@Gio.ListModel::items-changed]) and their properties change with the
 * system's, on the list's main context. Does nothing if the list is started already.
 *
 * Fails, leaving the list empty, in a build without GStreamer or when GStreamer has no
 * way to find devices; the error says so in words for the user.
 *
 * Returns: %TRUE if the list follows the devices
 *
 * Since: 1.0
 */
gboolean
wzp_audio_devices_start (WzpAudioDevices  *self,
                         GError          **error)
{
  g_return_val_if_fail (WZP_IS_AUDIO_DEVICES (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->monitor != NULL)
    return TRUE;
  return monitor_start (self, error);
}

/**
 * wzp_audio_devices_stop:
 * @self: a device list
 *
 * Stops following the devices and empties the list. It can be started again.
 *
 * Since: 1.0
 */
void
wzp_audio_devices_stop (WzpAudioDevices *self)
{
  g_return_if_fail (WZP_IS_AUDIO_DEVICES (self));

  monitor_stop (self);
  clear_items (self, TRUE);
}

static void
wzp_audio_devices_dispose (GObject *object)
{
  WzpAudioDevices *self = WZP_AUDIO_DEVICES (object);

  monitor_stop (self);
  clear_items (self, FALSE);

  G_OBJECT_CLASS (wzp_audio_devices_parent_class)->dispose (object);
}

static void
wzp_audio_devices_finalize (GObject *object)
{
  WzpAudioDevices *self = WZP_AUDIO_DEVICES (object);

  g_ptr_array_unref (self->items);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (wzp_audio_devices_parent_class)->finalize (object);
}

static void
wzp_audio_devices_class_init (WzpAudioDevicesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = wzp_audio_devices_dispose;
  object_class->finalize = wzp_audio_devices_finalize;
}

static void
wzp_audio_devices_init (WzpAudioDevices *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
}
