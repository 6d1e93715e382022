/* wzp-media-frame.c: media frames on a call's end-to-end stream
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-error.h"
#include "wzp-media-frame-private.h"

static void
put_u32 (guint8  *out,
         guint32  value)
{
  out[0] = (value >> 24) & 0xff;
  out[1] = (value >> 16) & 0xff;
  out[2] = (value >> 8) & 0xff;
  out[3] = value & 0xff;
}

static guint32
get_u32 (const guint8 *in)
{
  return ((guint32) in[0] << 24) | ((guint32) in[1] << 16) | ((guint32) in[2] << 8) |
         (guint32) in[3];
}

GBytes *
_wzp_media_frame_encode (const WzpMediaFrame  *frame,
                         GError              **error)
{
  guint8 *body;

  g_return_val_if_fail (frame != NULL, NULL);
  g_return_val_if_fail (frame->payload != NULL || frame->payload_len == 0, NULL);

  if (frame->payload_len > WZP_MEDIA_MAX_PAYLOAD)
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE,
                   "A media payload of %" G_GSIZE_FORMAT " bytes is over the limit of %d "
                   "bytes", frame->payload_len, WZP_MEDIA_MAX_PAYLOAD);
      return NULL;
    }

  body = g_malloc (WZP_MEDIA_HEADER_LEN + frame->payload_len);
  body[0] = frame->stream_id;
  body[1] = frame->flags;
  put_u32 (body + 2, frame->seq);
  put_u32 (body + 6, frame->timestamp);
  if (frame->payload_len > 0)
    memcpy (body + WZP_MEDIA_HEADER_LEN, frame->payload, frame->payload_len);
  return g_bytes_new_take (body, WZP_MEDIA_HEADER_LEN + frame->payload_len);
}

gboolean
_wzp_media_frame_decode (const guint8   *body,
                         gsize           len,
                         WzpMediaFrame  *out,
                         GError        **error)
{
  g_return_val_if_fail (body != NULL || len == 0, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (len < WZP_MEDIA_HEADER_LEN)
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_TRUNCATED,
                   "A media frame of %" G_GSIZE_FORMAT " bytes is shorter than its %d-byte "
                   "header", len, WZP_MEDIA_HEADER_LEN);
      return FALSE;
    }
  if (len - WZP_MEDIA_HEADER_LEN > WZP_MEDIA_MAX_PAYLOAD)
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE,
                   "A media payload of %" G_GSIZE_FORMAT " bytes is over the limit of %d "
                   "bytes", len - WZP_MEDIA_HEADER_LEN, WZP_MEDIA_MAX_PAYLOAD);
      return FALSE;
    }

  out->stream_id = body[0];
  out->flags = body[1];
  out->seq = get_u32 (body + 2);
  out->timestamp = get_u32 (body + 6);
  out->payload = body + WZP_MEDIA_HEADER_LEN;
  out->payload_len = len - WZP_MEDIA_HEADER_LEN;
  return TRUE;
}
