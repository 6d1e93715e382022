/* wzp-frame-io.c: length-prefixed frames on any GIOStream
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-error.h"
#include "wzp-frame-io-private.h"
#include "wzp-media-frame-private.h"

struct _WzpFrameIO
{
  GObject     parent_instance;

  GIOStream  *stream;
  gsize       max_frame_size;

  gboolean    reading;

  /* Binary frames (docs/protocol.md, "Media frames"): off, the header is a plain length
   * as on signalling connections. */
  gboolean            binary;
  WzpFrameIOMediaFunc media_func;
  gpointer            media_data;
  GDestroyNotify      media_destroy;
  guint64             skipped_frames;
  guint64             malformed_frames;

  /* Writes go out one whole frame at a time: media first, then the others, each in the
   * order they were queued (see queue_frame()). */
  GQueue      write_queue;      /* GTask*, the head is being written when writing */
  gboolean    writing;
  GError     *write_error;      /* sticky: every later write fails with it */
  gsize       queued_bytes;     /* of the frames in write_queue, headers included */
  gsize       max_queued_bytes; /* 0: no limit */
};

G_DEFINE_FINAL_TYPE (WzpFrameIO, _wzp_frame_io, G_TYPE_OBJECT)

/* A queued frame: the bytes, and when it was queued (monotonic), for
 * _wzp_frame_io_get_pending_since(). */
typedef struct
{
  GBytes *frame;
  gint64  queued_us;
  guint8  kind;       /* WZP_FRAME_KIND_* */
} WriteData;

static void
write_data_free (WriteData *data)
{
  g_bytes_unref (data->frame);
  g_free (data);
}

typedef struct
{
  guint8  header[4];
  guint8  kind;
  guint32 len;
  guint8 *body;
} ReadData;

static void
read_data_free (ReadData *data)
{
  g_free (data->body);
  g_free (data);
}

static void
_wzp_frame_io_dispose (GObject *object)
{
  WzpFrameIO *self = WZP_FRAME_IO (object);

  /* Pending write tasks hold a reference on self, so the queue is empty here. */
  g_assert (g_queue_is_empty (&self->write_queue));
  g_clear_object (&self->stream);

  G_OBJECT_CLASS (_wzp_frame_io_parent_class)->dispose (object);
}

static void
_wzp_frame_io_finalize (GObject *object)
{
  WzpFrameIO *self = WZP_FRAME_IO (object);

  g_clear_error (&self->write_error);
  if (self->media_destroy != NULL)
    self->media_destroy (self->media_data);

  G_OBJECT_CLASS (_wzp_frame_io_parent_class)->finalize (object);
}

static void
_wzp_frame_io_class_init (WzpFrameIOClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = _wzp_frame_io_dispose;
  object_class->finalize = _wzp_frame_io_finalize;
}

static void
_wzp_frame_io_init (WzpFrameIO *self)
{
  self->max_frame_size = WZP_FRAME_MAX_SIZE;
  g_queue_init (&self->write_queue);
}

WzpFrameIO *
_wzp_frame_io_new (GIOStream *stream)
{
  WzpFrameIO *self;

  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);

  self = g_object_new (WZP_TYPE_FRAME_IO, NULL);
  self->stream = g_object_ref (stream);
  return self;
}

GIOStream *
_wzp_frame_io_get_stream (WzpFrameIO *self)
{
  g_return_val_if_fail (WZP_IS_FRAME_IO (self), NULL);

  return self->stream;
}

void
_wzp_frame_io_set_max_frame_size (WzpFrameIO *self,
                                  gsize       max)
{
  g_return_if_fail (WZP_IS_FRAME_IO (self));
  g_return_if_fail (max > 0 && max <= G_MAXUINT32);
  g_return_if_fail (!self->binary || max <= WZP_FRAME_BINARY_MAX_LEN);

  self->max_frame_size = max;
}

void
_wzp_frame_io_set_binary_frames (WzpFrameIO *self,
                                 gboolean    binary)
{
  g_return_if_fail (WZP_IS_FRAME_IO (self));
  g_return_if_fail (!binary || self->max_frame_size <= WZP_FRAME_BINARY_MAX_LEN);

  self->binary = !!binary;
}

void
_wzp_frame_io_set_media_func (WzpFrameIO          *self,
                              WzpFrameIOMediaFunc  func,
                              gpointer             user_data,
                              GDestroyNotify       destroy)
{
  g_return_if_fail (WZP_IS_FRAME_IO (self));

  if (self->media_destroy != NULL)
    self->media_destroy (self->media_data);
  self->media_func = func;
  self->media_data = user_data;
  self->media_destroy = destroy;
}

guint64
_wzp_frame_io_get_skipped_frames (WzpFrameIO *self)
{
  g_return_val_if_fail (WZP_IS_FRAME_IO (self), 0);

  return self->skipped_frames;
}

guint64
_wzp_frame_io_get_malformed_frames (WzpFrameIO *self)
{
  g_return_val_if_fail (WZP_IS_FRAME_IO (self), 0);

  return self->malformed_frames;
}

void
_wzp_frame_io_set_max_queued_bytes (WzpFrameIO *self,
                                    gsize       max)
{
  g_return_if_fail (WZP_IS_FRAME_IO (self));

  self->max_queued_bytes = max;
}

gsize
_wzp_frame_io_get_queued_bytes (WzpFrameIO *self)
{
  g_return_val_if_fail (WZP_IS_FRAME_IO (self), 0);

  return self->queued_bytes;
}

gint64
_wzp_frame_io_get_pending_since (WzpFrameIO *self)
{
  GTask *head;

  g_return_val_if_fail (WZP_IS_FRAME_IO (self), 0);

  head = g_queue_peek_head (&self->write_queue);
  if (head == NULL)
    return 0;
  return ((WriteData *) g_task_get_task_data (head))->queued_us;
}

gboolean
_wzp_frame_check_header (const guint8   header[4],
                         gsize          max,
                         guint32       *out_len,
                         GError       **error)
{
  guint32 len = ((guint32) header[0] << 24) | ((guint32) header[1] << 16) |
                ((guint32) header[2] << 8) | (guint32) header[3];

  if (len > max)
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE,
                   "A frame of %u bytes is over the limit of %" G_GSIZE_FORMAT " bytes",
                   len, max);
      return FALSE;
    }

  *out_len = len;
  return TRUE;
}

gboolean
_wzp_frame_parse_header (const guint8   header[4],
                         gboolean       binary,
                         gsize          max,
                         guint8        *out_kind,
                         guint32       *out_len,
                         GError       **error)
{
  guint8 plain[4] = { 0, header[1], header[2], header[3] };

  if (!binary)
    {
      *out_kind = WZP_FRAME_KIND_JSON;
      return _wzp_frame_check_header (header, max, out_len, error);
    }
  /* The kind byte is 0 for JSON, and a JSON frame's length (at most 64 KiB) leaves the
   * first byte 0: the same bytes as without binary frames. */
  if (!_wzp_frame_check_header (plain, max, out_len, error))
    return FALSE;
  *out_kind = header[0];
  return TRUE;
}

/* Reading */

static void read_header (GTask *task);

/* A binary frame is never an error for the stream: an unknown kind (or media nobody asked
 * for) is skipped, a malformed media frame dropped and counted, and the read goes on
 * (docs/protocol.md, "Media frames"). */
static void
handle_binary_frame (WzpFrameIO *self,
                     ReadData   *data)
{
  g_autoptr(GError) error = NULL;
  WzpMediaFrame frame;

  if (data->kind != WZP_FRAME_KIND_MEDIA || self->media_func == NULL)
    {
      self->skipped_frames++;
      g_debug ("Skipping a frame of kind %u (%u bytes)", data->kind, data->len);
      return;
    }
  if (!_wzp_media_frame_decode (data->body, data->len, &frame, &error))
    {
      self->malformed_frames++;
      g_debug ("Dropping a malformed media frame: %s", error->message);
      return;
    }
  self->media_func (self, &frame, self->media_data);
}

static void
read_body_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  WzpFrameIO *self = g_task_get_source_object (task);
  ReadData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  WzpMessage *message;
  gsize n = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n, &error))
    {
      self->reading = FALSE;
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (n < data->len)
    {
      self->reading = FALSE;
      g_task_return_new_error (task, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_TRUNCATED,
                               "The connection closed in the middle of a frame "
                               "(%" G_GSIZE_FORMAT " of %u bytes)", n, data->len);
      return;
    }
  if (data->kind != WZP_FRAME_KIND_JSON)
    {
      /* The read goes on to the next frame; this one is the media function's or
       * nobody's. */
      handle_binary_frame (self, data);
      read_header (g_steal_pointer (&task));
      return;
    }

  self->reading = FALSE;
  message = _wzp_message_decode ((const char *) data->body, data->len, &error);
  if (message == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, message, (GDestroyNotify) _wzp_message_unref);
}

static void
read_header_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  WzpFrameIO *self = g_task_get_source_object (task);
  ReadData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gsize n = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n, &error))
    {
      self->reading = FALSE;
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (n == 0)
    {
      self->reading = FALSE;
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED,
                               "The connection was closed");
      return;
    }
  if (n < sizeof data->header)
    {
      self->reading = FALSE;
      g_task_return_new_error (task, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_TRUNCATED,
                               "The connection closed in the middle of a frame header");
      return;
    }
  /* A length over the limit is the one thing that breaks the framing itself, for binary
   * frames as for JSON: the stream cannot be read on. */
  if (!_wzp_frame_parse_header (data->header, self->binary, self->max_frame_size,
                                &data->kind, &data->len, &error))
    {
      self->reading = FALSE;
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (data->len == 0 && data->kind == WZP_FRAME_KIND_JSON)
    {
      self->reading = FALSE;
      g_task_return_new_error (task, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_JSON,
                               "The frame is empty; expected a JSON object");
      return;
    }
  if (data->len == 0)
    {
      handle_binary_frame (self, data);
      read_header (g_steal_pointer (&task));
      return;
    }

  data->body = g_malloc (data->len);
  g_input_stream_read_all_async (G_INPUT_STREAM (source), data->body, data->len,
                                 G_PRIORITY_DEFAULT, g_task_get_cancellable (task),
                                 read_body_cb, g_object_ref (task));
}

/* Reads the next frame's header for @task (taking it). Exact, unbuffered reads: nothing
 * past a frame is consumed, so the raw stream can be handed over after any frame
 * (docs/decisions.md, "Exact reads before a hand-over"). */
static void
read_header (GTask *task)
{
  WzpFrameIO *self = g_task_get_source_object (task);
  ReadData *data = g_task_get_task_data (task);

  g_clear_pointer (&data->body, g_free);
  data->kind = WZP_FRAME_KIND_JSON;
  data->len = 0;
  g_input_stream_read_all_async (g_io_stream_get_input_stream (self->stream),
                                 data->header, sizeof data->header, G_PRIORITY_DEFAULT,
                                 g_task_get_cancellable (task), read_header_cb, task);
}

void
_wzp_frame_io_read_async (WzpFrameIO          *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  ReadData *data;

  g_return_if_fail (WZP_IS_FRAME_IO (self));
  g_return_if_fail (!self->reading);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, _wzp_frame_io_read_async);
  data = g_new0 (ReadData, 1);
  g_task_set_task_data (task, data, (GDestroyNotify) read_data_free);

  self->reading = TRUE;
  read_header (g_steal_pointer (&task));
}

WzpMessage *
_wzp_frame_io_read_finish (WzpFrameIO    *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == _wzp_frame_io_read_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Writing */

static void write_next (WzpFrameIO *self);

static GTask *
write_queue_pop (WzpFrameIO *self)
{
  GTask *task = g_queue_pop_head (&self->write_queue);
  WriteData *data = g_task_get_task_data (task);

  self->queued_bytes -= g_bytes_get_size (data->frame);
  return task;
}

static void
write_frame_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  WzpFrameIO *self = user_data;
  g_autoptr(GTask) task = write_queue_pop (self);
  g_autoptr(GError) error = NULL;

  self->writing = FALSE;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (self->write_error == NULL)
        self->write_error = g_error_copy (error);
      g_task_return_error (task, g_steal_pointer (&error));
    }
  else
    g_task_return_boolean (task, TRUE);

  write_next (self);
}

static void
write_next (WzpFrameIO *self)
{
  GTask *task;
  GBytes *frame;

  while (!self->writing && (task = g_queue_peek_head (&self->write_queue)) != NULL)
    {
      GError *error = NULL;

      if (self->write_error != NULL)
        error = g_error_copy (self->write_error);
      else
        g_cancellable_set_error_if_cancelled (g_task_get_cancellable (task), &error);

      if (error != NULL)
        {
          write_queue_pop (self);
          g_task_return_error (task, error);
          g_object_unref (task);
          continue;
        }

      /* Once a frame has started, it is written whole: cancelling it half way would
       * leave the peer with a torn frame, so the write itself is not cancellable. */
      frame = ((WriteData *) g_task_get_task_data (task))->frame;
      self->writing = TRUE;
      g_output_stream_write_all_async (g_io_stream_get_output_stream (self->stream),
                                       g_bytes_get_data (frame, NULL),
                                       g_bytes_get_size (frame), G_PRIORITY_DEFAULT, NULL,
                                       write_frame_cb, self);
    }
}

/* Voice goes ahead of the other frames waiting (docs/voice.md, "Threads"): after the frame
 * being written, which is never torn, and after the media already waiting, so that media
 * keeps its own order. A JSON frame waiting (a CandidateUpdate, a Ping) is only ever
 * delayed by the few frames of voice that came after it; no message's meaning depends
 * on its order against media. */
static void
queue_media (WzpFrameIO *self,
             GTask      *task)
{
  GList *link = self->write_queue.head;

  if (self->writing && link != NULL)
    link = link->next;
  while (link != NULL &&
         ((WriteData *) g_task_get_task_data (link->data))->kind == WZP_FRAME_KIND_MEDIA)
    link = link->next;
  if (link == NULL)
    g_queue_push_tail (&self->write_queue, task);
  else
    g_queue_insert_before (&self->write_queue, link, task);
}

/* Queues a frame of @kind with @payload for @task (taking it); @what names it in errors. */
static void
queue_frame (WzpFrameIO *self,
             GTask      *task,
             guint8      kind,
             GBytes     *payload,
             const char *what)
{
  WriteData *data;
  gsize len = g_bytes_get_size (payload);
  guint8 *frame;

  if (len > self->max_frame_size)
    {
      g_task_return_new_error (task, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE,
                               "A %s of %" G_GSIZE_FORMAT " bytes is over the frame limit",
                               what, len);
      g_object_unref (task);
      return;
    }

  /* A peer that does not read must not grow us without bound: over the limit, this write
   * fails and so does every later one (the sticky error), which the owner sees in the
   * write's callback and closes the connection for. The frames queued behind the one
   * being written fail once it is done, or once the owner's close fails it. One frame is
   * always taken when nothing is queued, so a limit below the frame size cannot stop a
   * connection that keeps up. */
  if (self->write_error == NULL && self->max_queued_bytes > 0 && self->queued_bytes > 0 &&
      self->queued_bytes + len + 4 > self->max_queued_bytes)
    {
      self->write_error =
        g_error_new (G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                     "The peer is not reading: %" G_GSIZE_FORMAT " bytes are waiting to be "
                     "written, and %" G_GSIZE_FORMAT " more would pass the limit of %"
                     G_GSIZE_FORMAT, self->queued_bytes, len + 4, self->max_queued_bytes);
    }
  if (self->write_error != NULL)
    {
      /* Created in this main loop iteration, so the callback runs from an idle, never
       * from inside this call. */
      g_task_return_error (task, g_error_copy (self->write_error));
      g_object_unref (task);
      return;
    }

  frame = g_malloc (len + 4);
  frame[0] = (kind != WZP_FRAME_KIND_JSON) ? kind : (len >> 24) & 0xff;
  frame[1] = (len >> 16) & 0xff;
  frame[2] = (len >> 8) & 0xff;
  frame[3] = len & 0xff;
  memcpy (frame + 4, g_bytes_get_data (payload, NULL), len);
  data = g_new0 (WriteData, 1);
  data->frame = g_bytes_new_take (frame, len + 4);
  data->queued_us = g_get_monotonic_time ();
  data->kind = kind;
  g_task_set_task_data (task, data, (GDestroyNotify) write_data_free);

  self->queued_bytes += len + 4;
  if (kind == WZP_FRAME_KIND_MEDIA)
    queue_media (self, task);
  else
    g_queue_push_tail (&self->write_queue, task);
  write_next (self);
}

void
_wzp_frame_io_write_async (WzpFrameIO          *self,
                           WzpMessage          *message,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GBytes) payload = NULL;
  g_autofree char *what = NULL;
  GTask *task;

  g_return_if_fail (WZP_IS_FRAME_IO (self));
  g_return_if_fail (message != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, _wzp_frame_io_write_async);

  payload = _wzp_message_encode (message);
  what = g_strdup_printf ("%s message", _wzp_message_type_to_string (
                            _wzp_message_get_message_type (message)));
  queue_frame (self, task, WZP_FRAME_KIND_JSON, payload, what);
}

void
_wzp_frame_io_write_media_async (WzpFrameIO          *self,
                                 const WzpMediaFrame *frame,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GBytes) payload = NULL;
  GError *error = NULL;
  GTask *task;

  g_return_if_fail (WZP_IS_FRAME_IO (self));
  g_return_if_fail (self->binary);
  g_return_if_fail (frame != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, _wzp_frame_io_write_media_async);

  payload = _wzp_media_frame_encode (frame, &error);
  if (payload == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  queue_frame (self, task, WZP_FRAME_KIND_MEDIA, payload, "media frame");
}

gboolean
_wzp_frame_io_write_finish (WzpFrameIO    *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
send_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!_wzp_frame_io_write_finish (WZP_FRAME_IO (source), result, &error))
    g_debug ("Could not send a frame: %s", error->message);
}

void
_wzp_frame_io_send (WzpFrameIO *self,
                    WzpMessage *message)
{
  _wzp_frame_io_write_async (self, message, NULL, send_cb, NULL);
}

void
_wzp_frame_io_send_media (WzpFrameIO          *self,
                          const WzpMediaFrame *frame)
{
  _wzp_frame_io_write_media_async (self, frame, NULL, send_cb, NULL);
}

guint
_wzp_frame_io_get_queued (WzpFrameIO *self)
{
  g_return_val_if_fail (WZP_IS_FRAME_IO (self), 0);

  return g_queue_get_length (&self->write_queue);
}
