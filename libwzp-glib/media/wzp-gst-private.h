/* wzp-gst-private.h: what the media objects that run GStreamer pipelines share
 *
 * A call's voice (wzp-voice.c), the device list (wzp-audio-devices.c) and the level meter
 * (wzp-audio-level.c) parse launch descriptions, start them and hear their buses on the
 * thread-default main context of their owner. Only in a build with GStreamer.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

G_BEGIN_DECLS

/* The pipeline of a launch description, floating reference sunk (a pipeline of its own);
 * NULL with a G_IO_ERROR_INVALID_ARGUMENT that says why when it does not parse or an
 * element is missing. */
GstElement *_wzp_gst_parse          (const char    *description,
                                     GError       **error);
/* Sets @pipeline playing. FALSE when it fails at once (a device that cannot be opened):
 * @error is "@what: GStreamer's reason". Failures after that come on the bus. */
gboolean    _wzp_gst_set_playing    (GstElement    *pipeline,
                                     const char    *what,
                                     GError       **error);
/* Calls @func with @user_data for each message of @bus, on @context; destroy the source
 * returned (g_source_destroy(), then g_source_unref()) to stop. */
GSource    *_wzp_gst_watch_bus      (GstBus        *bus,
                                     GMainContext  *context,
                                     GstBusFunc     func,
                                     gpointer       user_data);
/* Destroys and drops *@watch (a source from _wzp_gst_watch_bus()), if any. */
void        _wzp_gst_clear_watch    (GSource      **watch);

G_END_DECLS
