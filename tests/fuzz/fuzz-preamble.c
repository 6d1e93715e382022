/* fuzz-preamble.c: what a direct connection's peer sends ahead of its TLS records
 *
 * A direct dial reads the peer's preamble (magic, version, SHA-256 of the call id:
 * docs/calls.md, "The race") through a WzpExpectInputStream, and a relay pipe's client
 * reads the relay's PipeReady frame through one in frame mode, both in front of TLS bytes
 * that must stay for TLS. The input's first byte chooses the mode (bit 0: PipeReady frame,
 * else the preamble of CALL_ID), the read style (bit 1: non-blocking pollable reads, else
 * blocking ones) and the read size (bits 2-7, plus one); the rest is what the peer sent.
 *
 * Promises checked against a model computed from the input: the stream matches exactly
 * when the input begins with the expected bytes (or a well-formed PipeReady frame); then
 * every read returns the bytes that follow, unchanged and in order, and the end; otherwise
 * every read fails with the same WZP_PROTOCOL_ERROR (UNEXPECTED for other bytes, REMOTE
 * for an end too early, the decoder's error for a malformed frame), and the base stream was
 * never read past the expected bytes or frame.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "wzp-glib.h"
#include "wzp-expect-stream-private.h"
#include "wzp-frame-io-private.h"
#include "wzp-message-private.h"
#include "wzp-race-private.h"

#define CALL_ID "6f1c0e1a-3b7d-4c52-9a8e-2f4d5b6c7d8e"
/* wzp-expect-stream.c's limit on a frame expected at the head of a stream. */
#define EXPECT_FRAME_MAX 4096

typedef struct {
  gboolean matches;      /* the stream should match */
  gsize    head;         /* bytes that the expected part takes, when it matches */
  gsize    max_consumed; /* the most the stream may read from its base */
  GQuark   domain;       /* the failure, when it does not */
  int      code;
} Model;

static Model
model_preamble (const guint8 *stream,
                gsize         len,
                const guint8  expected[WZP_PREAMBLE_LEN])
{
  Model model = { FALSE, WZP_PREAMBLE_LEN, WZP_PREAMBLE_LEN, WZP_PROTOCOL_ERROR,
                  WZP_PROTOCOL_ERROR_UNEXPECTED };

  model.matches = len >= WZP_PREAMBLE_LEN && memcmp (stream, expected, WZP_PREAMBLE_LEN) == 0;
  return model;
}

static Model
model_frame (const guint8 *stream,
             gsize         len)
{
  Model model = { FALSE, 0, 4, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_REMOTE };
  guint32 body_len;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) message = NULL;

  if (len < 4)
    return model;
  if (!_wzp_frame_check_header (stream, EXPECT_FRAME_MAX, &body_len, &error))
    {
      model.code = error->code;
      return model;
    }
  model.max_consumed = 4 + (gsize) body_len;
  if (len < 4 + (gsize) body_len)
    return model;
  message = _wzp_message_decode ((const char *) stream + 4, body_len, &error);
  if (message == NULL)
    {
      model.domain = error->domain;
      model.code = error->code;
      return model;
    }
  if (_wzp_message_get_message_type (message) != WZP_MESSAGE_PIPE_READY)
    {
      model.code = WZP_PROTOCOL_ERROR_UNEXPECTED;
      return model;
    }
  model.matches = TRUE;
  model.head = 4 + body_len;
  return model;
}

/* One read through @stream: blocking, or non-blocking (a memory stream is always
 * readable, so WOULD_BLOCK is not an answer here). */
static gssize
read_some (GInputStream  *stream,
           gboolean       nonblocking,
           guint8        *buffer,
           gsize          count,
           GError       **error)
{
  if (nonblocking)
    return g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream), buffer,
                                                     count, NULL, error);
  return g_input_stream_read (stream, buffer, count, NULL, error);
}

int
LLVMFuzzerTestOneInput (const unsigned char *data,
                        size_t               size)
{
  g_autoptr(GInputStream) base = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GByteArray) passed = g_byte_array_new ();
  g_autoptr(GError) first_error = NULL;
  guint8 expected[WZP_PREAMBLE_LEN];
  const guint8 *peer;
  gsize peer_len;
  gboolean frame_mode, nonblocking;
  gsize chunk;
  Model model;

  fuzz_set_logging_func ();
  if (size < 1)
    return 0;
  frame_mode = data[0] & 1;
  nonblocking = (data[0] >> 1) & 1;
  chunk = (data[0] >> 2) + 1;
  peer = data + 1;
  peer_len = size - 1;

  _wzp_preamble_build (CALL_ID, expected);
  fuzz_check (memcmp (expected, WZP_PREAMBLE_MAGIC, 3) == 0);
  fuzz_check (expected[3] == WZP_PREAMBLE_VERSION);

  base = g_memory_input_stream_new_from_data (g_memdup2 (peer, peer_len), peer_len, g_free);
  if (frame_mode)
    {
      stream = _wzp_expect_input_stream_new_frame (base, WZP_MESSAGE_PIPE_READY,
                                                   "The relay closed the pipe");
      model = model_frame (peer, peer_len);
    }
  else
    {
      stream = _wzp_expect_input_stream_new (base, expected, sizeof expected,
                                             "The peer sent something else");
      model = model_preamble (peer, peer_len, expected);
    }
  fuzz_check (g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (stream)));

  /* Read until the end or the first failure. */
  for (;;)
    {
      guint8 buffer[64];
      gssize n = read_some (stream, nonblocking, buffer, chunk, &first_error);

      if (n < 0)
        break;
      if (n == 0)
        break;
      fuzz_check ((gsize) n <= chunk);
      g_byte_array_append (passed, buffer, n);
    }

  if (model.matches)
    {
      if (first_error != NULL)
        {
          fprintf (stderr, "the stream should have matched: %s\n", first_error->message);
          abort ();
        }
      fuzz_check (_wzp_expect_input_stream_matched (WZP_EXPECT_INPUT_STREAM (stream)));
      fuzz_check (!_wzp_expect_input_stream_failed (WZP_EXPECT_INPUT_STREAM (stream), NULL));
      /* What followed the expected part came through whole. */
      fuzz_check (passed->len == peer_len - model.head);
      fuzz_check (passed->len == 0 || memcmp (passed->data, peer + model.head, passed->len) == 0);
      return 0;
    }

  if (first_error == NULL)
    {
      fprintf (stderr, "the stream should have failed (%s %d) but read %u bytes to the end\n",
               g_quark_to_string (model.domain), model.code, passed->len);
      abort ();
    }
  if (!g_error_matches (first_error, model.domain, model.code))
    {
      fprintf (stderr, "expected %s %d, got %s %d: %s\n", g_quark_to_string (model.domain),
               model.code, g_quark_to_string (first_error->domain), first_error->code,
               first_error->message);
      abort ();
    }
  fuzz_check (passed->len == 0);
  fuzz_check (!_wzp_expect_input_stream_matched (WZP_EXPECT_INPUT_STREAM (stream)));
  {
    g_autoptr(GError) verdict = NULL;

    fuzz_check (_wzp_expect_input_stream_failed (WZP_EXPECT_INPUT_STREAM (stream), &verdict));
    fuzz_check (g_error_matches (verdict, first_error->domain, first_error->code));
  }
  /* Never past the expected part: the TLS bytes behind it are not ours. */
  fuzz_check (g_seekable_tell (G_SEEKABLE (base)) <= (goffset) model.max_consumed);
  /* A failed stream stays failed, and says so at once. */
  {
    g_autoptr(GError) again = NULL;
    guint8 byte;

    fuzz_check (read_some (stream, !nonblocking, &byte, 1, &again) < 0);
    fuzz_check (g_error_matches (again, first_error->domain, first_error->code));
    fuzz_check (g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (stream)));
  }
  return 0;
}
