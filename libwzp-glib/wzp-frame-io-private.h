/* wzp-frame-io-private.h: length-prefixed frames on any GIOStream
 *
 * A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON, at most
 * WZP_FRAME_MAX_SIZE. Reads are exact (never more than the frame), so the raw stream can
 * be handed over after a frame (pipes, preamble). Writes are queued and go out in order,
 * one whole frame at a time, never interleaved.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-message-private.h"

G_BEGIN_DECLS

#define WZP_TYPE_FRAME_IO (_wzp_frame_io_get_type ())
G_DECLARE_FINAL_TYPE (WzpFrameIO, _wzp_frame_io, WZP, FRAME_IO, GObject)

WzpFrameIO      *_wzp_frame_io_new                 (GIOStream            *stream);
GIOStream       *_wzp_frame_io_get_stream          (WzpFrameIO           *self);
/* Payload limit for reads (default WZP_FRAME_MAX_SIZE; the relay may lower it). */
void             _wzp_frame_io_set_max_frame_size  (WzpFrameIO           *self,
                                                    gsize                 max);

/* Reads one frame and decodes it. Only one read may be pending at a time. A clean end of
 * stream before a frame starts is G_IO_ERROR_CLOSED ("The connection was closed");
 * in the middle of a frame WZP_PROTOCOL_ERROR_TRUNCATED. */
void             _wzp_frame_io_read_async          (WzpFrameIO           *self,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
WzpMessage      *_wzp_frame_io_read_finish         (WzpFrameIO           *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);

/* Queues a message. @callback (nullable) runs once the frame is fully written or failed.
 * After a write error, every queued and later write fails with that error. A write that
 * would take the queued bytes over the limit (_wzp_frame_io_set_max_queued_bytes())
 * fails with G_IO_ERROR_NO_SPACE, and is such an error: the owner closes the stream. */
void             _wzp_frame_io_write_async         (WzpFrameIO           *self,
                                                    WzpMessage           *message,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
gboolean         _wzp_frame_io_write_finish        (WzpFrameIO           *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
/* Fire and forget. */
void             _wzp_frame_io_send                (WzpFrameIO           *self,
                                                    WzpMessage           *message);
/* Number of frames queued or being written. */
guint            _wzp_frame_io_get_queued          (WzpFrameIO           *self);
/* Bytes of the frames queued or being written (headers included). */
gsize            _wzp_frame_io_get_queued_bytes    (WzpFrameIO           *self);
/* Limit on those bytes (0, the default: none). A frame is always taken when nothing is
 * queued. Lowering it does not drop what is queued already. */
void             _wzp_frame_io_set_max_queued_bytes (WzpFrameIO          *self,
                                                    gsize                 max);
/* When the oldest frame not yet fully written was queued (g_get_monotonic_time()), or 0
 * if none is waiting: a peer that stopped reading shows as a time that gets old. */
gint64           _wzp_frame_io_get_pending_since   (WzpFrameIO           *self);

/* The length check shared by the async reader and the fuzz target: parses a 4-byte
 * header and fails for lengths over @max. */
gboolean         _wzp_frame_check_header           (const guint8          header[4],
                                                    gsize                 max,
                                                    guint32              *out_len,
                                                    GError              **error);

G_END_DECLS
