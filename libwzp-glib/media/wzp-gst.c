/* wzp-gst.c: what the media objects that run GStreamer pipelines share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-gst-private.h"
#include "wzp-i18n-private.h"

GstElement *
_wzp_gst_parse (const char  *description,
                GError     **error)
{
  g_autoptr(GError) parse_error = NULL;
  GstElement *pipeline;

  pipeline = gst_parse_launch_full (description, NULL, GST_PARSE_FLAG_FATAL_ERRORS,
                                    &parse_error);
  if (pipeline == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The audio setup does not work: %s"), parse_error->message);
      return NULL;
    }
  return gst_object_ref_sink (pipeline);
}

gboolean
_wzp_gst_set_playing (GstElement  *pipeline,
                      const char  *what,
                      GError     **error)
{
  g_autoptr(GstBus) bus = NULL;
  g_autoptr(GstMessage) message = NULL;
  g_autoptr(GError) gst_error = NULL;

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE)
    return TRUE;

  bus = gst_element_get_bus (pipeline);
  message = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  if (message != NULL)
    gst_message_parse_error (message, &gst_error, NULL);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", what,
               gst_error != NULL ? gst_error->message : _("the device could not be opened"));
  return FALSE;
}

GSource *
_wzp_gst_watch_bus (GstBus       *bus,
                    GMainContext *context,
                    GstBusFunc    func,
                    gpointer      user_data)
{
  GSource *source = gst_bus_create_watch (bus);

  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) func, user_data, NULL);
  g_source_attach (source, context);
  return source;
}

void
_wzp_gst_clear_watch (GSource **watch)
{
  if (*watch == NULL)
    return;
  g_source_destroy (*watch);
  g_clear_pointer (watch, g_source_unref);
}
