/* fuzz-media-frame.c: media frames of a call's end-to-end stream (docs/protocol.md,
 * "Media frames")
 *
 * The input is one binary frame as it comes off the stream: the 4-byte header (kind, then
 * a 3-byte length) and what follows. The header is parsed with binary frames on, and the
 * body (the header's length of it, or the rest when fewer bytes came) is decoded as a
 * media frame. fuzz-frame feeds media frames through the whole reader; this one looks at
 * the decoder alone, with promises the reader cannot check: a decoded frame encodes back
 * to the very same bytes, a failure says TRUNCATED exactly for a body shorter than the
 * media header and FRAME_TOO_LARGE exactly for a payload over the limit, and a frame
 * built from any decoded fields and payload length decodes to the same fields.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "wzp-glib.h"
#include "wzp-frame-io-private.h"
#include "wzp-media-frame-private.h"
#include "wzp-message-private.h"

static void
check_decode (const guint8 *body,
              gsize         len)
{
  WzpMediaFrame frame = { 0 };
  g_autoptr(GError) error = NULL;

  if (!_wzp_media_frame_decode (body, len, &frame, &error))
    {
      if (len < WZP_MEDIA_HEADER_LEN)
        fuzz_check (g_error_matches (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_TRUNCATED));
      else
        fuzz_check (len - WZP_MEDIA_HEADER_LEN > WZP_MEDIA_MAX_PAYLOAD &&
                    g_error_matches (error, WZP_PROTOCOL_ERROR,
                                     WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE));
      return;
    }

  fuzz_check (error == NULL);
  fuzz_check (len >= WZP_MEDIA_HEADER_LEN && len <= WZP_MEDIA_MAX_SIZE);
  fuzz_check (frame.payload == body + WZP_MEDIA_HEADER_LEN);
  fuzz_check (frame.payload_len == len - WZP_MEDIA_HEADER_LEN);
  fuzz_check (frame.stream_id == body[0] && frame.flags == body[1]);
  fuzz_check (frame.seq == ((guint32) body[2] << 24 | (guint32) body[3] << 16 |
                            (guint32) body[4] << 8 | body[5]));
  fuzz_check (frame.timestamp == ((guint32) body[6] << 24 | (guint32) body[7] << 16 |
                                  (guint32) body[8] << 8 | body[9]));

  /* Encoding gives back the same bytes. */
  {
    g_autoptr(GError) encode_error = NULL;
    g_autoptr(GBytes) encoded = _wzp_media_frame_encode (&frame, &encode_error);
    gsize encoded_len;
    const guint8 *encoded_data;

    fuzz_check (encoded != NULL && encode_error == NULL);
    encoded_data = g_bytes_get_data (encoded, &encoded_len);
    fuzz_check (encoded_len == len && memcmp (encoded_data, body, len) == 0);
  }

  /* One byte more payload than the limit is refused on encoding as on decoding. */
  {
    g_autofree guint8 *big = g_malloc0 (WZP_MEDIA_MAX_PAYLOAD + 1);
    WzpMediaFrame over = frame;
    g_autoptr(GError) encode_error = NULL;
    g_autoptr(GBytes) encoded = NULL;

    over.payload = big;
    over.payload_len = WZP_MEDIA_MAX_PAYLOAD + 1;
    encoded = _wzp_media_frame_encode (&over, &encode_error);
    fuzz_check (encoded == NULL &&
                g_error_matches (encode_error, WZP_PROTOCOL_ERROR,
                                 WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE));
  }
}

int
LLVMFuzzerTestOneInput (const unsigned char *data,
                        size_t               size)
{
  fuzz_set_logging_func ();

  /* The input as a body on its own. */
  check_decode (data, size);

  /* The input as a frame: header, then body. */
  if (size >= 4)
    {
      guint8 kind = 0xff;
      guint32 len = 0;
      g_autoptr(GError) error = NULL;
      gboolean ok = _wzp_frame_parse_header (data, TRUE, WZP_FRAME_MAX_SIZE, &kind, &len,
                                             &error);
      guint32 wire_len = (guint32) data[1] << 16 | (guint32) data[2] << 8 | data[3];

      /* Any kind's length is the lower three bytes, held to the frame limit. */
      fuzz_check (ok == (error == NULL));
      fuzz_check (ok == (wire_len <= WZP_FRAME_MAX_SIZE));
      if (!ok)
        {
          fuzz_check (g_error_matches (error, WZP_PROTOCOL_ERROR,
                                       WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE));
          return 0;
        }
      fuzz_check (kind == data[0] && len == wire_len);
      if (kind == WZP_FRAME_KIND_MEDIA)
        check_decode (data + 4, MIN (len, size - 4));
    }

  return 0;
}
