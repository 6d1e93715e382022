/* wzp-media-frame-private.h: media frames on a call's end-to-end stream
 *
 * Next to the JSON frames, a path stream carries binary frames: the first byte of the
 * 4-byte header is the frame's kind (0 for JSON, so today's JSON frames are unchanged),
 * the other three its length. A media frame (kind 1) is a stream id, flags, a sequence
 * number, a timestamp and at most WZP_MEDIA_MAX_PAYLOAD bytes of codec payload
 * (docs/protocol.md, "Media frames"). This file only encodes and decodes the body; the
 * reader and writer are WzpFrameIO's.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Frame kinds (the first header byte, when binary frames are on). */
#define WZP_FRAME_KIND_JSON  0x00
#define WZP_FRAME_KIND_MEDIA 0x01

/* A binary frame's length is the header's lower three bytes. */
#define WZP_FRAME_BINARY_MAX_LEN 0xFFFFFF

/* stream id (1), flags (1), sequence (4), timestamp (4), all big-endian */
#define WZP_MEDIA_HEADER_LEN 10
/* The largest Opus packet (RFC 6716, 3.4). */
#define WZP_MEDIA_MAX_PAYLOAD 1275
/* The largest media frame body: 1285 bytes, 1289 with the frame header. */
#define WZP_MEDIA_MAX_SIZE (WZP_MEDIA_HEADER_LEN + WZP_MEDIA_MAX_PAYLOAD)

typedef struct
{
  guint8        stream_id;
  guint8        flags;       /* sent as 0; bits a receiver does not know it ignores */
  guint32       seq;         /* per stream, +1 a frame, wraps */
  guint32       timestamp;   /* per stream, in the codec's clock (48 kHz for Opus), wraps */
  const guint8 *payload;     /* not owned: points into the frame it was decoded from */
  gsize         payload_len; /* 0 to WZP_MEDIA_MAX_PAYLOAD */
} WzpMediaFrame;

/* The body of @frame, WZP_MEDIA_HEADER_LEN + payload_len bytes; NULL with
 * WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE for a payload over WZP_MEDIA_MAX_PAYLOAD. */
GBytes   *_wzp_media_frame_encode (const WzpMediaFrame  *frame,
                                   GError              **error);
/* Parses a media frame body of @len bytes into @out (whose payload then points into
 * @body). Fails with WZP_PROTOCOL_ERROR_TRUNCATED for a body shorter than the media header
 * and WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE for a payload over the limit: the frame is
 * malformed, the stream is not (the caller drops the frame and reads on). */
gboolean  _wzp_media_frame_decode (const guint8         *body,
                                   gsize                 len,
                                   WzpMediaFrame        *out,
                                   GError              **error);

G_END_DECLS
