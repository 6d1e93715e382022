/* wzp-frame-io-private.h: length-prefixed frames on any GIOStream
 *
 * A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON, at most
 * WZP_FRAME_MAX_SIZE. With binary frames on (a call's end-to-end stream), the header's
 * first byte is the frame's kind instead, 0 for JSON (docs/protocol.md, "Media frames"):
 * JSON frames are the same bytes either way. Reads are exact (never more than the frame),
 * so the raw stream can be handed over after a frame (pipes, preamble). Writes are queued
 * and go out in order, one whole frame at a time, never interleaved.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-media-frame-private.h"
#include "wzp-message-private.h"

G_BEGIN_DECLS

#define WZP_TYPE_FRAME_IO (_wzp_frame_io_get_type ())
G_DECLARE_FINAL_TYPE (WzpFrameIO, _wzp_frame_io, WZP, FRAME_IO, GObject)

WzpFrameIO      *_wzp_frame_io_new                 (GIOStream            *stream);
GIOStream       *_wzp_frame_io_get_stream          (WzpFrameIO           *self);
/* Payload limit for reads (default WZP_FRAME_MAX_SIZE; the relay may lower it). */
void             _wzp_frame_io_set_max_frame_size  (WzpFrameIO           *self,
                                                    gsize                 max);

/* Called for each well-formed media frame read; @frame and its payload are valid during
 * the call only. */
typedef void (*WzpFrameIOMediaFunc) (WzpFrameIO          *io,
                                     const WzpMediaFrame *frame,
                                     gpointer             user_data);

/* Binary frames (default off: the header is a plain length, as on signalling
 * connections). On, a read takes binary frames as they come and completes only with a
 * JSON message or an error: a media frame goes to the media function, and is dropped and
 * counted when it is malformed; a frame of a kind not known here, or media without a
 * media function, is skipped and counted. Only a length over the limit (or a torn frame)
 * is an error. The frame limit must be at most WZP_FRAME_BINARY_MAX_LEN. */
void             _wzp_frame_io_set_binary_frames   (WzpFrameIO           *self,
                                                    gboolean              binary);
void             _wzp_frame_io_set_media_func      (WzpFrameIO           *self,
                                                    WzpFrameIOMediaFunc   func,
                                                    gpointer              user_data,
                                                    GDestroyNotify        destroy);
/* Binary frames skipped (unknown kind, or media without a media function) and media
 * frames dropped as malformed, since the start. */
guint64          _wzp_frame_io_get_skipped_frames  (WzpFrameIO           *self);
guint64          _wzp_frame_io_get_malformed_frames (WzpFrameIO          *self);

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
/* Queues a media frame ahead of the JSON frames waiting (not of the one being written),
 * after the media already waiting; binary frames must be on. A
 * payload over WZP_MEDIA_MAX_PAYLOAD fails with WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE and
 * queues nothing. Send media only to a peer that listed WZP_FEATURE_VOICE_OPUS. */
void             _wzp_frame_io_write_media_async   (WzpFrameIO           *self,
                                                    const WzpMediaFrame  *frame,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
/* Fire and forget. */
void             _wzp_frame_io_send                (WzpFrameIO           *self,
                                                    WzpMessage           *message);
void             _wzp_frame_io_send_media          (WzpFrameIO           *self,
                                                    const WzpMediaFrame  *frame);
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
/* The same with binary frames @binary: the kind is the first byte, the length the other
 * three, checked against @max. */
gboolean         _wzp_frame_parse_header           (const guint8          header[4],
                                                    gboolean              binary,
                                                    gsize                 max,
                                                    guint8               *out_kind,
                                                    guint32              *out_len,
                                                    GError              **error);

G_END_DECLS
