/* fuzz-relay-session.c: frames taken out of a client's decrypted bytes at the relay
 *
 * The relay reads each client's TLS records itself and takes whole frames out of the
 * plaintext (wzp-relay-session.c, _wzp_relay_session_take_frame()). This target feeds the
 * input's bytes into a session without TLS (the _new_plaintext() seam) in pieces, as
 * records arrive, and takes frames after each piece. The first byte chooses the piece
 * size (1 to 128 bytes) and the frame limit (the relay's 64 KiB, or a small one, for
 * limits set low in the key file). A model walks the same bytes: every frame taken must
 * be the model's next one, byte for byte; a frame over the limit must fail with
 * FRAME_TOO_LARGE exactly where the model meets it; and what is left when the input ends
 * (or the read stops) is handed over intact by _steal_input(), as for a connection passed
 * to a pipe.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "wzp-glib.h"
#include "wzp-frame-io-private.h"
#include "wzp-relay-session-private.h"

static guint32
be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

int
LLVMFuzzerTestOneInput (const unsigned char *data,
                        size_t               size)
{
  RelaySession *session;
  const guint8 *stream;
  gsize len, piece, max_frame;
  gsize fed = 0;
  gsize model = 0;        /* where the model's next frame begins */
  gboolean failed = FALSE;

  fuzz_set_logging_func ();
  if (size < 1)
    return 0;
  piece = (data[0] & 0x7f) + 1;
  max_frame = (data[0] & 0x80) ? 64 : WZP_FRAME_MAX_SIZE;
  stream = data + 1;
  len = size - 1;

  session = _wzp_relay_session_new_plaintext ();
  while (fed < len && !failed)
    {
      gsize n = MIN (piece, len - fed);

      _wzp_relay_session_feed (session, stream + fed, n);
      fed += n;

      for (;;)
        {
          g_autoptr(GBytes) payload = NULL;
          g_autoptr(GError) error = NULL;
          gboolean took = _wzp_relay_session_take_frame (session, max_frame, &payload, &error);
          gsize available = fed - model;
          guint32 frame_len = available >= 4 ? be32 (stream + model) : 0;

          if (took)
            {
              gsize payload_len;
              const guint8 *bytes = g_bytes_get_data (payload, &payload_len);

              fuzz_check (error == NULL);
              fuzz_check (available >= 4 && frame_len <= max_frame &&
                          available >= 4 + (gsize) frame_len);
              fuzz_check (payload_len == frame_len);
              fuzz_check (payload_len == 0 || memcmp (bytes, stream + model + 4, payload_len) == 0);
              fuzz_check (bytes[payload_len] == '\0');   /* promised, for the JSON parser */
              model += 4 + frame_len;
              continue;
            }
          fuzz_check (payload == NULL);
          if (error != NULL)
            {
              fuzz_check (g_error_matches (error, WZP_PROTOCOL_ERROR,
                                           WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE));
              fuzz_check (available >= 4 && frame_len > max_frame);
              failed = TRUE;   /* the relay closes the connection */
            }
          else
            fuzz_check (available < 4 || (frame_len <= max_frame &&
                                          available < 4 + (gsize) frame_len));
          break;
        }
    }

  /* What was fed and not taken is still there, whole. */
  {
    g_autoptr(GBytes) rest = _wzp_relay_session_steal_input (session);
    gsize rest_len;
    const guint8 *bytes = g_bytes_get_data (rest, &rest_len);

    fuzz_check (rest_len == fed - model);
    fuzz_check (rest_len == 0 || memcmp (bytes, stream + model, rest_len) == 0);
  }
  /* And stealing took it all. */
  {
    g_autoptr(GBytes) none = _wzp_relay_session_steal_input (session);

    fuzz_check (g_bytes_get_size (none) == 0);
  }

  _wzp_relay_session_free (session);
  return 0;
}
