/* fuzz-frame.c: the real async frame reader (and writer) on arbitrary bytes
 *
 * The input is the byte stream a peer sends. It is read with WzpFrameIO over a
 * GSimpleIOStream (a GMemoryInputStream, and a GMemoryOutputStream for replies), iterating
 * the main context, frame after frame until the reader fails. Every frame read is written
 * back through the same WzpFrameIO, and what was written must read back as the same frames.
 * A second pass reads the input with binary frames on, as on a call's end-to-end stream
 * (docs/protocol.md, "Media frames"): it reads every JSON frame the first pass read, and
 * more when binary frames stopped the first.
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

typedef struct {
  WzpFrameIO *io;
  GPtrArray  *messages;  /* read */
  GPtrArray  *written;   /* written back successfully, in order */
  guint       pending;   /* writes not completed yet */
  GError     *error;
  gboolean    done;
} State;

typedef struct {
  State      *state;
  WzpMessage *message;
} WriteData;

static void
write_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  WriteData *data = user_data;
  g_autoptr(GError) error = NULL;

  if (_wzp_frame_io_write_finish (WZP_FRAME_IO (source), result, &error))
    g_ptr_array_add (data->state->written, _wzp_message_ref (data->message));
  else
    /* Writing to memory can only fail when the message no longer fits in a frame once
     * re-encoded (json-glib may write a number longer than it was read: 1e9 →
     * 1000000000.0). */
    fuzz_check (g_error_matches (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE));
  data->state->pending--;
  _wzp_message_unref (data->message);
  g_free (data);
}

static void read_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data);

static void
read_next (State *state)
{
  _wzp_frame_io_read_async (state->io, NULL, read_cb, state);
}

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  State *state = user_data;
  WzpMessage *message = _wzp_frame_io_read_finish (state->io, result, &state->error);

  if (message == NULL)
    {
      state->done = TRUE;
      return;
    }
  fuzz_check (state->error == NULL);
  g_ptr_array_add (state->messages, message);
  {
    WriteData *data = g_new0 (WriteData, 1);

    data->state = state;
    data->message = _wzp_message_ref (message);
    state->pending++;
    _wzp_frame_io_write_async (state->io, message, NULL, write_cb, data);
  }
  read_next (state);
}

static void
media_cb (WzpFrameIO          *io,
          const WzpMediaFrame *frame,
          gpointer             user_data)
{
  guint *n_media = user_data;

  fuzz_check (frame->payload_len <= WZP_MEDIA_MAX_PAYLOAD);
  fuzz_check (frame->payload != NULL);
  (*n_media)++;
}

/* Reads all frames of @data (with binary frames if @binary); returns the messages and
 * sets @error to what ended it. */
static GPtrArray *
read_all (const guint8  *data,
          gsize          len,
          gboolean       binary,
          GBytes       **written,
          GPtrArray    **written_messages,
          GError       **error)
{
  g_autoptr(GInputStream) input = g_memory_input_stream_new_from_data (g_memdup2 (data, len),
                                                                       len, g_free);
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  g_autoptr(GIOStream) stream = g_simple_io_stream_new (input, output);
  State state = { 0 };
  guint n_media = 0;

  state.io = _wzp_frame_io_new (stream);
  if (binary)
    {
      _wzp_frame_io_set_binary_frames (state.io, TRUE);
      _wzp_frame_io_set_media_func (state.io, media_cb, &n_media, NULL);
    }
  state.messages = g_ptr_array_new_with_free_func ((GDestroyNotify) _wzp_message_unref);
  state.written = g_ptr_array_new_with_free_func ((GDestroyNotify) _wzp_message_unref);
  read_next (&state);
  while (!state.done)
    g_main_context_iteration (NULL, TRUE);
  while (state.pending > 0)
    g_main_context_iteration (NULL, TRUE);
  fuzz_check (_wzp_frame_io_get_queued (state.io) == 0);
  while (g_main_context_iteration (NULL, FALSE))
    ;

  fuzz_check (state.error != NULL);
  fuzz_check (state.error->domain == WZP_PROTOCOL_ERROR || state.error->domain == G_IO_ERROR);
  if (state.error->domain == G_IO_ERROR)
    fuzz_check (state.error->code == G_IO_ERROR_CLOSED);
  *error = state.error;

  g_object_unref (state.io);
  while (g_main_context_iteration (NULL, FALSE))
    ;

  fuzz_check (g_output_stream_close (output, NULL, NULL));
  if (written != NULL)
    *written = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (output));
  if (written_messages != NULL)
    *written_messages = g_steal_pointer (&state.written);
  g_clear_pointer (&state.written, g_ptr_array_unref);
  return state.messages;
}

int
LLVMFuzzerTestOneInput (const unsigned char *data,
                        size_t               size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) again_error = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GPtrArray) again = NULL;
  g_autoptr(GBytes) written = NULL;
  g_autoptr(GPtrArray) written_messages = NULL;
  gsize consumed = 0;

  fuzz_set_logging_func ();

  /* The header check alone, against the default and a small limit. */
  if (size >= 4)
    {
      guint32 len = 0;
      g_autoptr(GError) header_error = NULL;
      gboolean ok = _wzp_frame_check_header (data, WZP_FRAME_MAX_SIZE, &len, &header_error);

      fuzz_check (ok == (header_error == NULL));
      if (ok)
        fuzz_check (len <= WZP_FRAME_MAX_SIZE);
      else
        fuzz_check (g_error_matches (header_error, WZP_PROTOCOL_ERROR,
                                     WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE));
    }

  /* The same with binary frames (docs/protocol.md, "Media frames"), and the input as a
   * media frame body: a decoded frame lies within the input and its limits. */
  if (size >= 4)
    {
      guint32 len = 0;
      guint8 kind = 0;
      g_autoptr(GError) header_error = NULL;
      gboolean ok = _wzp_frame_parse_header (data, TRUE, WZP_FRAME_MAX_SIZE, &kind, &len,
                                             &header_error);

      fuzz_check (ok == (header_error == NULL));
      if (ok)
        fuzz_check (len <= WZP_FRAME_MAX_SIZE && kind == data[0]);
    }
  {
    WzpMediaFrame frame;
    g_autoptr(GError) media_error = NULL;

    if (_wzp_media_frame_decode (data, size, &frame, &media_error))
      fuzz_check (frame.payload_len <= WZP_MEDIA_MAX_PAYLOAD &&
                  frame.payload == data + WZP_MEDIA_HEADER_LEN &&
                  frame.payload_len == size - WZP_MEDIA_HEADER_LEN);
    else
      fuzz_check (media_error != NULL);
  }

  messages = read_all (data, size, FALSE, &written, &written_messages, &error);

  /* Each frame read consumed a header and its payload. */
  for (guint i = 0; i < messages->len; i++)
    {
      guint32 be, len;

      fuzz_check (size - consumed >= 4);
      memcpy (&be, data + consumed, 4);
      len = GUINT32_FROM_BE (be);
      consumed += 4 + len;
      fuzz_check (consumed <= size);
    }
  if (error->domain == G_IO_ERROR)
    fuzz_check (consumed == size); /* a clean close only right after a frame */

  /* What was written back reads again as the same messages, then a clean close. */
  again = read_all (g_bytes_get_data (written, NULL), g_bytes_get_size (written), FALSE, NULL,
                    NULL, &again_error);
  if (again->len != written_messages->len)
    {
      fprintf (stderr, "%u frames written back, %u read again: %s\n", written_messages->len,
               again->len, again_error->message);
      abort ();
    }
  fuzz_check (g_error_matches (again_error, G_IO_ERROR, G_IO_ERROR_CLOSED));
  for (guint i = 0; i < again->len; i++)
    fuzz_check (_wzp_message_get_message_type (g_ptr_array_index (again, i)) ==
                _wzp_message_get_message_type (g_ptr_array_index (written_messages, i)));

  /* With binary frames: the same JSON frames first (a JSON frame's first byte is 0 either
   * way), then whatever followed a binary frame. */
  {
    g_autoptr(GError) binary_error = NULL;
    g_autoptr(GPtrArray) binary = read_all (data, size, TRUE, NULL, NULL, &binary_error);

    fuzz_check (binary->len >= messages->len);
    for (guint i = 0; i < messages->len; i++)
      fuzz_check (_wzp_message_get_message_type (g_ptr_array_index (binary, i)) ==
                  _wzp_message_get_message_type (g_ptr_array_index (messages, i)));
  }

  return 0;
}
