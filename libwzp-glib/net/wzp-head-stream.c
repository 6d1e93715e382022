/* wzp-head-stream.c: a stream that keeps the first bytes read through it
 * (wzp-head-stream-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-head-stream-private.h"

/* The input side: a pollable filter that copies what passes until it has @keep bytes. */

#define WZP_TYPE_HEAD_INPUT_STREAM (_wzp_head_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (WzpHeadInputStream, _wzp_head_input_stream, WZP, HEAD_INPUT_STREAM,
                      GFilterInputStream)

struct _WzpHeadInputStream
{
  GFilterInputStream  parent_instance;

  /* Written by the reading thread (a TLS handshake reads in a worker), read by the owner
   * only after that reader finished. */
  guint8             *head;
  gsize               keep;
  gsize               len;
};

static void pollable_iface_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (WzpHeadInputStream, _wzp_head_input_stream,
                               G_TYPE_FILTER_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      pollable_iface_init))

static GInputStream *
base_of (WzpHeadInputStream *self)
{
  return g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (self));
}

static gssize
keep_head (WzpHeadInputStream *self,
           const void         *buffer,
           gssize              n)
{
  if (n > 0 && self->len < self->keep)
    {
      gsize copy = MIN ((gsize) n, self->keep - self->len);

      memcpy (self->head + self->len, buffer, copy);
      self->len += copy;
    }
  return n;
}

static gssize
head_read (GInputStream  *stream,
           void          *buffer,
           gsize          count,
           GCancellable  *cancellable,
           GError       **error)
{
  WzpHeadInputStream *self = WZP_HEAD_INPUT_STREAM (stream);

  return keep_head (self, buffer,
                    g_input_stream_read (base_of (self), buffer, count, cancellable, error));
}

static gssize
head_read_nonblocking (GPollableInputStream  *stream,
                       void                  *buffer,
                       gsize                  count,
                       GError               **error)
{
  WzpHeadInputStream *self = WZP_HEAD_INPUT_STREAM (stream);

  return keep_head (self, buffer,
                    g_pollable_input_stream_read_nonblocking (
                      G_POLLABLE_INPUT_STREAM (base_of (self)), buffer, count, NULL, error));
}

static gboolean
head_can_poll (GPollableInputStream *stream)
{
  GInputStream *base = base_of (WZP_HEAD_INPUT_STREAM (stream));

  return G_IS_POLLABLE_INPUT_STREAM (base) &&
         g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (base));
}

static gboolean
head_is_readable (GPollableInputStream *stream)
{
  GInputStream *base = base_of (WZP_HEAD_INPUT_STREAM (stream));

  return g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (base));
}

static GSource *
head_create_source (GPollableInputStream *stream,
                    GCancellable         *cancellable)
{
  GInputStream *base = base_of (WZP_HEAD_INPUT_STREAM (stream));
  g_autoptr(GSource) base_source =
    g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (base), NULL);

  /* Dispatches with this stream as the source object. */
  return g_pollable_source_new_full (stream, base_source, cancellable);
}

static void
pollable_iface_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = head_can_poll;
  iface->is_readable = head_is_readable;
  iface->create_source = head_create_source;
  iface->read_nonblocking = head_read_nonblocking;
}

static void
_wzp_head_input_stream_finalize (GObject *object)
{
  WzpHeadInputStream *self = WZP_HEAD_INPUT_STREAM (object);

  g_free (self->head);

  G_OBJECT_CLASS (_wzp_head_input_stream_parent_class)->finalize (object);
}

static void
_wzp_head_input_stream_class_init (WzpHeadInputStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = _wzp_head_input_stream_finalize;
  /* skip and the async reads: GInputStream's defaults go through read_fn, or for a
   * pollable stream through read_nonblocking. */
  G_INPUT_STREAM_CLASS (klass)->read_fn = head_read;
}

static void
_wzp_head_input_stream_init (WzpHeadInputStream *self)
{
}

/* The stream */

struct _WzpHeadIOStream
{
  GIOStream           parent_instance;

  GIOStream          *base;
  WzpHeadInputStream *input;
  gboolean            disposing;
};

G_DEFINE_FINAL_TYPE (WzpHeadIOStream, _wzp_head_io_stream, G_TYPE_IO_STREAM)

static GInputStream *
head_io_get_input_stream (GIOStream *stream)
{
  return G_INPUT_STREAM (WZP_HEAD_IO_STREAM (stream)->input);
}

static GOutputStream *
head_io_get_output_stream (GIOStream *stream)
{
  return g_io_stream_get_output_stream (WZP_HEAD_IO_STREAM (stream)->base);
}

static gboolean
head_io_close (GIOStream     *stream,
               GCancellable  *cancellable,
               GError       **error)
{
  WzpHeadIOStream *self = WZP_HEAD_IO_STREAM (stream);

  /* GIOStream closes a stream it disposes of; the base stays open for whoever else holds
   * it, and closes when its own last reference goes. */
  if (self->disposing)
    return TRUE;
  g_input_stream_close (G_INPUT_STREAM (self->input), NULL, NULL);   /* not the base's */
  return g_io_stream_close (self->base, cancellable, error);
}

static void
base_closed_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!g_io_stream_close_finish (G_IO_STREAM (source), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/* GIOStream's default would run head_io_close() in a thread; a socket closes at once. */
static void
head_io_close_async (GIOStream           *stream,
                     int                  io_priority,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  WzpHeadIOStream *self = WZP_HEAD_IO_STREAM (stream);
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, head_io_close_async);
  g_input_stream_close (G_INPUT_STREAM (self->input), NULL, NULL);
  g_io_stream_close_async (self->base, io_priority, cancellable, base_closed_cb, task);
}

static gboolean
head_io_close_finish (GIOStream     *stream,
                      GAsyncResult  *result,
                      GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
_wzp_head_io_stream_dispose (GObject *object)
{
  WzpHeadIOStream *self = WZP_HEAD_IO_STREAM (object);

  self->disposing = TRUE;
  G_OBJECT_CLASS (_wzp_head_io_stream_parent_class)->dispose (object);
  g_clear_object (&self->input);
  g_clear_object (&self->base);
}

static void
_wzp_head_io_stream_class_init (WzpHeadIOStreamClass *klass)
{
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = _wzp_head_io_stream_dispose;
  stream_class->get_input_stream = head_io_get_input_stream;
  stream_class->get_output_stream = head_io_get_output_stream;
  stream_class->close_fn = head_io_close;
  stream_class->close_async = head_io_close_async;
  stream_class->close_finish = head_io_close_finish;
}

static void
_wzp_head_io_stream_init (WzpHeadIOStream *self)
{
}

GIOStream *
_wzp_head_io_stream_new (GIOStream *base,
                         gsize      keep)
{
  WzpHeadIOStream *self;

  g_return_val_if_fail (G_IS_IO_STREAM (base), NULL);
  g_return_val_if_fail (G_IS_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (base)), NULL);

  self = g_object_new (WZP_TYPE_HEAD_IO_STREAM, NULL);
  self->base = g_object_ref (base);
  self->input = g_object_new (WZP_TYPE_HEAD_INPUT_STREAM,
                              "base-stream", g_io_stream_get_input_stream (base),
                              "close-base-stream", FALSE,
                              NULL);
  self->input->keep = keep;
  self->input->head = g_malloc (MAX (keep, 1));
  return G_IO_STREAM (self);
}

const guint8 *
_wzp_head_io_stream_get_head (WzpHeadIOStream *self,
                              gsize           *len)
{
  g_return_val_if_fail (WZP_IS_HEAD_IO_STREAM (self), NULL);

  if (len != NULL)
    *len = self->input->len;
  return self->input->head;
}

GIOStream *
_wzp_head_io_stream_get_base (WzpHeadIOStream *self)
{
  g_return_val_if_fail (WZP_IS_HEAD_IO_STREAM (self), NULL);

  return self->base;
}
