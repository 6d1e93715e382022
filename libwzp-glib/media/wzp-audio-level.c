/* wzp-audio-level.c: how loud a source is, outside any call (docs/voice.md, "Devices")
 *
 * A pipeline of its own: the source, audioconvert, GStreamer's level element (one
 * message every 100 ms) and a fakesink; the messages are read on the thread-default
 * main context of the meter's owner. In a build without GStreamer starting it says why.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#if WZP_HAVE_VOICE
# include <gst/gst.h>
# include "wzp-gst-private.h"
#endif

#include "wzp-audio-devices.h"
#include "wzp-i18n-private.h"

/* How often the level is measured: ten times a second, as a meter on screen moves. */
#define INTERVAL_MS 100

/**
 * WzpAudioLevel:
 *
 * How loud an audio source is, for an application's "test your microphone": between
 * [method@Wzp.AudioLevel.start] and [method@Wzp.AudioLevel.stop] it listens to its
 * [property@Wzp.AudioLevel:source] and updates [property@Wzp.AudioLevel:peak-db] and
 * [property@Wzp.AudioLevel:rms-db] about ten times a second, on the thread-default main
 * context of the thread that made it. It needs no call and no relay.
 *
 * The source opens as a call's would, so the meter shows what a call would send (before
 * the call's echo cancellation and gain control).
 *
 * Since: 1.0
 */
struct _WzpAudioLevel
{
  GObject        parent_instance;

  GMainContext  *context;        /* the owner's */
  char          *source;
  double         peak_db;
  double         rms_db;
  GObject       *pipeline;       /* a GstPipeline, while started */
  GSource       *watch;          /* its bus, on the owner's context */
};

G_DEFINE_FINAL_TYPE (WzpAudioLevel, wzp_audio_level, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SOURCE,
  PROP_PEAK_DB,
  PROP_RMS_DB,
  N_PROPS,
};
static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_ERROR,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

/* A measurement notifies both levels, changed or not (a meter on screen may want each:
 * ten a second); a stop, only what changed. */
static void
set_levels (WzpAudioLevel *self,
            double         peak_db,
            double         rms_db,
            gboolean       measured)
{
  /* silence is -inf dB to GStreamer: the floor, as anything quieter */
  peak_db = isnan (peak_db) ? WZP_AUDIO_LEVEL_SILENCE
                            : CLAMP (peak_db, WZP_AUDIO_LEVEL_SILENCE, 0.0);
  rms_db = isnan (rms_db) ? WZP_AUDIO_LEVEL_SILENCE
                          : CLAMP (rms_db, WZP_AUDIO_LEVEL_SILENCE, 0.0);
  g_object_freeze_notify (G_OBJECT (self));
  if (measured || self->peak_db != peak_db)
    {
      self->peak_db = peak_db;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEAK_DB]);
    }
  if (measured || self->rms_db != rms_db)
    {
      self->rms_db = rms_db;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RMS_DB]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

static void
pipeline_stop (WzpAudioLevel *self);

#if WZP_HAVE_VOICE

/* The loudest channel of a level message's field (a GValueArray of dB, one a channel). */
static double
loudest (const GstStructure *structure,
         const char         *field)
{
  const GValue *value = gst_structure_get_value (structure, field);
  double loudest = -INFINITY;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  if (value != NULL && G_VALUE_HOLDS (value, g_value_array_get_type ()))
    {
      GValueArray *channels = g_value_get_boxed (value);

      for (guint i = 0; channels != NULL && i < channels->n_values; i++)
        if (G_VALUE_HOLDS_DOUBLE (&channels->values[i]))
          loudest = MAX (loudest, g_value_get_double (&channels->values[i]));
    }
  G_GNUC_END_IGNORE_DEPRECATIONS
  return loudest;
}

static gboolean
bus_cb (GstBus     *bus,
        GstMessage *message,
        gpointer    user_data)
{
  WzpAudioLevel *self = user_data;
  const GstStructure *structure = gst_message_get_structure (message);

  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ELEMENT && structure != NULL &&
      gst_structure_has_name (structure, "level"))
    {
      set_levels (self, loudest (structure, "peak"), loudest (structure, "rms"), TRUE);
    }
  else if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR)
    {
      g_autoptr(GError) gst_error = NULL;
      g_autoptr(GError) error = NULL;

      gst_message_parse_error (message, &gst_error, NULL);
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s",
                           _("The microphone failed"), gst_error->message);
      g_object_ref (self);
      pipeline_stop (self);
      g_signal_emit (self, signals[SIGNAL_ERROR], 0, error);
      g_object_unref (self);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
pipeline_start (WzpAudioLevel  *self,
                GError        **error)
{
  g_autoptr(GError) init_error = NULL;
  g_autofree char *description = NULL;
  g_autoptr(GstElement) pipeline = NULL;
  g_autoptr(GstBus) bus = NULL;

  if (!gst_init_check (NULL, NULL, &init_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("The microphone level cannot be shown: GStreamer could not start (%s)"),
                   init_error->message);
      return FALSE;
    }
  description = g_strdup_printf ("%s ! audioconvert "
                                 "! level interval=%" G_GUINT64_FORMAT " post-messages=true "
                                 "! fakesink sync=false async=false",
                                 self->source != NULL ? self->source : "autoaudiosrc",
                                 (guint64) INTERVAL_MS * GST_MSECOND);
  pipeline = _wzp_gst_parse (description, error);
  if (pipeline == NULL)
    return FALSE;
  bus = gst_element_get_bus (pipeline);
  self->watch = _wzp_gst_watch_bus (bus, self->context, bus_cb, self);
  self->pipeline = G_OBJECT (g_steal_pointer (&pipeline));
  if (!_wzp_gst_set_playing (GST_ELEMENT (self->pipeline),
                             _("The microphone could not be opened"), error))
    {
      pipeline_stop (self);
      return FALSE;
    }
  return TRUE;
}

static void
pipeline_stop (WzpAudioLevel *self)
{
  _wzp_gst_clear_watch (&self->watch);
  if (self->pipeline != NULL)
    gst_element_set_state (GST_ELEMENT (self->pipeline), GST_STATE_NULL);
  g_clear_object (&self->pipeline);
}

#else /* !WZP_HAVE_VOICE */

static gboolean
pipeline_start (WzpAudioLevel  *self,
                GError        **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       _("The microphone level cannot be shown: this build of wzp has no "
                         "GStreamer support"));
  return FALSE;
}

static void
pipeline_stop (WzpAudioLevel *self)
{
}

#endif /* WZP_HAVE_VOICE */

/**
 * wzp_audio_level_new:
 * @source: (nullable): the source to listen to: a GStreamer launch description of a live
 *   source, such as a [property@Wzp.AudioDevice:id], or %NULL for the system's default
 *   microphone
 *
 * Makes a level meter, stopped, which belongs to the thread-default main context.
 *
 * Returns: (transfer full): a new level meter
 *
 * Since: 1.0
 */
WzpAudioLevel *
wzp_audio_level_new (const char *source)
{
  return g_object_new (WZP_TYPE_AUDIO_LEVEL, "source", source, NULL);
}

/**
 * wzp_audio_level_get_source:
 * @self: a level meter
 *
 * Returns: (nullable): the source the meter listens to, or %NULL for the system's default
 *   microphone
 *
 * Since: 1.0
 */
const char *
wzp_audio_level_get_source (WzpAudioLevel *self)
{
  g_return_val_if_fail (WZP_IS_AUDIO_LEVEL (self), NULL);
  return self->source;
}

/**
 * wzp_audio_level_start:
 * @self: a level meter
 * @error: return location for a #GError
 *
 * Opens the source and starts measuring. Does nothing if the meter runs already. A
 * source that fails later (a device unplugged) stops the meter and emits
 * [signal@Wzp.AudioLevel::error].
 *
 * Returns: %TRUE if the meter runs; %FALSE with @error, in words for the user, when the
 *   source does not parse or cannot be opened, or in a build without GStreamer
 *
 * Since: 1.0
 */
gboolean
wzp_audio_level_start (WzpAudioLevel  *self,
                       GError        **error)
{
  g_return_val_if_fail (WZP_IS_AUDIO_LEVEL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->pipeline != NULL)
    return TRUE;
  return pipeline_start (self, error);
}

/**
 * wzp_audio_level_stop:
 * @self: a level meter
 *
 * Closes the source; both levels go back to %WZP_AUDIO_LEVEL_SILENCE. The meter can be
 * started again.
 *
 * Since: 1.0
 */
void
wzp_audio_level_stop (WzpAudioLevel *self)
{
  g_return_if_fail (WZP_IS_AUDIO_LEVEL (self));

  pipeline_stop (self);
  set_levels (self, WZP_AUDIO_LEVEL_SILENCE, WZP_AUDIO_LEVEL_SILENCE, FALSE);
}

/**
 * wzp_audio_level_get_peak_db:
 * @self: a level meter
 *
 * Returns: the loudest sample of the last 100 ms, in dB below full scale (0.0 is the
 *   loudest a sample can be, %WZP_AUDIO_LEVEL_SILENCE is silence)
 *
 * Since: 1.0
 */
double
wzp_audio_level_get_peak_db (WzpAudioLevel *self)
{
  g_return_val_if_fail (WZP_IS_AUDIO_LEVEL (self), WZP_AUDIO_LEVEL_SILENCE);
  return self->peak_db;
}

/**
 * wzp_audio_level_get_rms_db:
 * @self: a level meter
 *
 * Returns: the average power (root mean square) of the last 100 ms, in dB below full
 *   scale: how loud it sounds
 *
 * Since: 1.0
 */
double
wzp_audio_level_get_rms_db (WzpAudioLevel *self)
{
  g_return_val_if_fail (WZP_IS_AUDIO_LEVEL (self), WZP_AUDIO_LEVEL_SILENCE);
  return self->rms_db;
}

static void
wzp_audio_level_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  WzpAudioLevel *self = WZP_AUDIO_LEVEL (object);

  switch (prop_id)
    {
    case PROP_SOURCE:
      g_value_set_string (value, self->source);
      break;
    case PROP_PEAK_DB:
      g_value_set_double (value, self->peak_db);
      break;
    case PROP_RMS_DB:
      g_value_set_double (value, self->rms_db);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
wzp_audio_level_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  WzpAudioLevel *self = WZP_AUDIO_LEVEL (object);

  switch (prop_id)
    {
    case PROP_SOURCE:
      self->source = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
wzp_audio_level_dispose (GObject *object)
{
  pipeline_stop (WZP_AUDIO_LEVEL (object));

  G_OBJECT_CLASS (wzp_audio_level_parent_class)->dispose (object);
}

static void
wzp_audio_level_finalize (GObject *object)
{
  WzpAudioLevel *self = WZP_AUDIO_LEVEL (object);

  g_free (self->source);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (wzp_audio_level_parent_class)->finalize (object);
}

static void
wzp_audio_level_class_init (WzpAudioLevelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = wzp_audio_level_get_property;
  object_class->set_property = wzp_audio_level_set_property;
  object_class->dispose = wzp_audio_level_dispose;
  object_class->finalize = wzp_audio_level_finalize;

  /**
   * WzpAudioLevel:source:
   *
   * The source the meter listens to: a GStreamer launch description of a live source
   * (a [property@Wzp.AudioDevice:id]), or %NULL for the system's default microphone.
   *
   * Since: 1.0
   */
  properties[PROP_SOURCE] =
    g_param_spec_string ("source", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpAudioLevel:peak-db:
   *
   * The loudest sample of the last 100 ms, in dB below full scale, from
   * %WZP_AUDIO_LEVEL_SILENCE (silence) to 0.0; notified at each measurement, about ten
   * times a second while the meter runs, even when it did not change.
   *
   * Since: 1.0
   */
  properties[PROP_PEAK_DB] =
    g_param_spec_double ("peak-db", NULL, NULL, WZP_AUDIO_LEVEL_SILENCE, 0.0,
                         WZP_AUDIO_LEVEL_SILENCE,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpAudioLevel:rms-db:
   *
   * The average power of the last 100 ms, in dB below full scale, from
   * %WZP_AUDIO_LEVEL_SILENCE (silence) to 0.0: how loud it sounds. Notified as
   * [property@Wzp.AudioLevel:peak-db] is.
   *
   * Since: 1.0
   */
  properties[PROP_RMS_DB] =
    g_param_spec_double ("rms-db", NULL, NULL, WZP_AUDIO_LEVEL_SILENCE, 0.0,
                         WZP_AUDIO_LEVEL_SILENCE,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * WzpAudioLevel::error:
   * @self: the level meter
   * @error: what went wrong, in words for the user
   *
   * The source failed while the meter ran (a device unplugged); the meter has stopped.
   *
   * Since: 1.0
   */
  signals[SIGNAL_ERROR] =
    g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
wzp_audio_level_init (WzpAudioLevel *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->peak_db = WZP_AUDIO_LEVEL_SILENCE;
  self->rms_db = WZP_AUDIO_LEVEL_SILENCE;
}
