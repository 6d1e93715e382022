/* wzp-expect-stream.c: an input stream that must begin with known bytes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-error.h"
#include "wzp-expect-stream-private.h"
#include "wzp-frame-io-private.h"
#include "wzp-message-private.h"

/* A frame expected at the head of a stream is a small control message (PipeReady). */
#define FRAME_MAX 4096

struct _WzpExpectInputStream
{
  GFilterInputStream  parent_instance;

  guint8             *expected;
  gsize               len;
  gsize               matched;     /* bytes of @expected read and found equal so far */
  char               *message;
  /* Frame mode (_wzp_expect_input_stream_new_frame): one whole frame of @frame_type
   * instead of @expected; @message is then what to say if the stream ends before it. */
  gboolean            frame_mode;
  WzpMessageType      frame_type;
  guint8              header[4];
  gsize               header_got;
  guint8             *body;
  gsize               body_len;
  gsize               body_got;
  gboolean            frame_done;
  /* Set once by the reading thread (a TLS handshake may read in a worker); read by the
   * owner only after that reader finished. */
  GError             *error;
};

static void pollable_iface_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (WzpExpectInputStream, _wzp_expect_input_stream,
                               G_TYPE_FILTER_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      pollable_iface_init))

static GInputStream *
base_of (WzpExpectInputStream *self)
{
  return g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (self));
}

static gboolean
fail (WzpExpectInputStream  *self,
      GError               **error)
{
  if (self->error == NULL)
    self->error = g_error_new_literal (WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_UNEXPECTED,
                                       self->message);
  g_propagate_error (error, g_error_copy (self->error));
  return FALSE;
}

/* Frame mode: the verdict is @self->error, set here once. */
static gboolean
fail_frame (WzpExpectInputStream  *self,
            GError                *verdict,
            GError               **error)
{
  self->error = verdict;
  return fail (self, error);
}

/* Frame mode: reads the rest of the frame, exactly, and checks its type. */
static gboolean
consume_frame (WzpExpectInputStream  *self,
               gboolean               blocking,
               GCancellable          *cancellable,
               GError               **error)
{
  while (!self->frame_done)
    {
      gboolean in_header = self->header_got < sizeof self->header;
      guint8 *dest = in_header ? self->header + self->header_got : self->body + self->body_got;
      gsize want = in_header ? sizeof self->header - self->header_got
                             : self->body_len - self->body_got;
      GError *local = NULL;
      gssize n = 0;

      if (want > 0)
        {
          n = g_pollable_stream_read (base_of (self), dest, want, blocking, cancellable, &local);
          if (n < 0 && (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ||
                        g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED)))
            {
              g_propagate_error (error, local);
              return FALSE;   /* not a verdict */
            }
          /* The end of the stream, or a reset (a peer that closes with our bytes unread),
           * before the whole frame: the other side gave up on us. */
          if (n <= 0)
            {
              GError *verdict = g_error_new (WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_REMOTE,
                                             "%s%s%s", self->message,
                                             local != NULL ? ": " : "",
                                             local != NULL ? local->message : "");

              g_clear_error (&local);
              return fail_frame (self, verdict, error);
            }
        }

      if (in_header)
        {
          guint32 len;

          self->header_got += n;
          if (self->header_got < sizeof self->header)
            continue;
          if (!_wzp_frame_check_header (self->header, FRAME_MAX, &len, &local))
            return fail_frame (self, local, error);
          self->body_len = len;
          self->body = g_malloc (MAX (len, 1));
          continue;
        }

      self->body_got += n;
      if (self->body_got == self->body_len)
        {
          g_autoptr(WzpMessage) message = _wzp_message_decode ((const char *) self->body,
                                                               self->body_len, &local);

          if (message == NULL)
            return fail_frame (self, local, error);
          if (_wzp_message_get_message_type (message) != self->frame_type)
            return fail_frame (self, g_error_new (WZP_PROTOCOL_ERROR,
                                                  WZP_PROTOCOL_ERROR_UNEXPECTED,
                                                  "%s came where %s was expected",
                                                  _wzp_message_type_to_string (
                                                    _wzp_message_get_message_type (message)),
                                                  _wzp_message_type_to_string (
                                                    self->frame_type)),
                               error);
          self->frame_done = TRUE;
        }
    }
  return TRUE;
}

/* Reads the rest of the expected bytes, exactly (never what follows them). FALSE with
 * @error on a mismatch, the end of the stream, an I/O error, or G_IO_ERROR_WOULD_BLOCK
 * when not @blocking and nothing more is there yet. */
static gboolean
consume_expected (WzpExpectInputStream  *self,
                  gboolean               blocking,
                  GCancellable          *cancellable,
                  GError               **error)
{
  if (self->error != NULL)
    return fail (self, error);
  if (self->frame_mode)
    return consume_frame (self, blocking, cancellable, error);

  while (self->matched < self->len)
    {
      guint8 buf[64];
      gsize want = MIN (sizeof buf, self->len - self->matched);
      gssize n = g_pollable_stream_read (base_of (self), buf, want, blocking, cancellable,
                                         error);

      if (n < 0)
        return FALSE;   /* including WOULD_BLOCK and CANCELLED: not a verdict */
      if (n == 0 || memcmp (buf, self->expected + self->matched, n) != 0)
        return fail (self, error);
      self->matched += n;
    }
  return TRUE;
}

static gssize
expect_read (GInputStream  *stream,
             void          *buffer,
             gsize          count,
             GCancellable  *cancellable,
             GError       **error)
{
  WzpExpectInputStream *self = WZP_EXPECT_INPUT_STREAM (stream);

  if (!consume_expected (self, TRUE, cancellable, error))
    return -1;
  return g_input_stream_read (base_of (self), buffer, count, cancellable, error);
}

static gssize
expect_read_nonblocking (GPollableInputStream  *stream,
                         void                  *buffer,
                         gsize                  count,
                         GError               **error)
{
  WzpExpectInputStream *self = WZP_EXPECT_INPUT_STREAM (stream);

  if (!consume_expected (self, FALSE, NULL, error))
    return -1;
  return g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (base_of (self)),
                                                   buffer, count, NULL, error);
}

static gboolean
expect_can_poll (GPollableInputStream *stream)
{
  GInputStream *base = base_of (WZP_EXPECT_INPUT_STREAM (stream));

  return G_IS_POLLABLE_INPUT_STREAM (base) &&
         g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (base));
}

static gboolean
expect_is_readable (GPollableInputStream *stream)
{
  WzpExpectInputStream *self = WZP_EXPECT_INPUT_STREAM (stream);

  /* A failed stream is "readable": the read returns the verdict at once. */
  return self->error != NULL ||
         g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (base_of (self)));
}

static GSource *
expect_create_source (GPollableInputStream *stream,
                      GCancellable         *cancellable)
{
  WzpExpectInputStream *self = WZP_EXPECT_INPUT_STREAM (stream);
  g_autoptr(GSource) base_source = NULL;

  if (self->error != NULL)
    base_source = g_timeout_source_new (0);
  else
    base_source = g_pollable_input_stream_create_source (
      G_POLLABLE_INPUT_STREAM (base_of (self)), NULL);
  /* Dispatches with this stream as the source object. */
  return g_pollable_source_new_full (self, base_source, cancellable);
}

static void
pollable_iface_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = expect_can_poll;
  iface->is_readable = expect_is_readable;
  iface->create_source = expect_create_source;
  iface->read_nonblocking = expect_read_nonblocking;
}

static void
_wzp_expect_input_stream_finalize (GObject *object)
{
  WzpExpectInputStream *self = WZP_EXPECT_INPUT_STREAM (object);

  g_free (self->expected);
  g_free (self->body);
  g_free (self->message);
  g_clear_error (&self->error);

  G_OBJECT_CLASS (_wzp_expect_input_stream_parent_class)->finalize (object);
}

static void
_wzp_expect_input_stream_class_init (WzpExpectInputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  object_class->finalize = _wzp_expect_input_stream_finalize;
  stream_class->read_fn = expect_read;
  /* skip and the async variants: GInputStream's defaults go through read_fn (in a thread)
   * or, for a pollable stream, through read_nonblocking. */
}

static void
_wzp_expect_input_stream_init (WzpExpectInputStream *self)
{
}

GInputStream *
_wzp_expect_input_stream_new (GInputStream *base,
                              const guint8 *expected,
                              gsize         len,
                              const char   *mismatch_message)
{
  WzpExpectInputStream *self;

  g_return_val_if_fail (G_IS_POLLABLE_INPUT_STREAM (base), NULL);
  g_return_val_if_fail (expected != NULL || len == 0, NULL);

  self = g_object_new (WZP_TYPE_EXPECT_INPUT_STREAM,
                       "base-stream", base,
                       "close-base-stream", FALSE,
                       NULL);
  self->expected = g_memdup2 (expected, len);
  self->len = len;
  self->message = g_strdup (mismatch_message);
  return G_INPUT_STREAM (self);
}

GInputStream *
_wzp_expect_input_stream_new_frame (GInputStream   *base,
                                    WzpMessageType  type,
                                    const char     *closed_message)
{
  WzpExpectInputStream *self;

  self = WZP_EXPECT_INPUT_STREAM (_wzp_expect_input_stream_new (base, NULL, 0, closed_message));
  if (self == NULL)
    return NULL;
  self->frame_mode = TRUE;
  self->frame_type = type;
  return G_INPUT_STREAM (self);
}

gboolean
_wzp_expect_input_stream_matched (WzpExpectInputStream *self)
{
  g_return_val_if_fail (WZP_IS_EXPECT_INPUT_STREAM (self), FALSE);

  if (self->frame_mode)
    return self->error == NULL && self->frame_done;
  return self->error == NULL && self->matched == self->len;
}

gboolean
_wzp_expect_input_stream_failed (WzpExpectInputStream  *self,
                                 GError               **error)
{
  g_return_val_if_fail (WZP_IS_EXPECT_INPUT_STREAM (self), FALSE);

  if (self->error == NULL)
    return FALSE;
  g_propagate_error (error, g_error_copy (self->error));
  return TRUE;
}

/* Closing the result closes the new input stream (not the connection's) and marks the
 * connection's output stream closed; the socket stays open until the connection closes. */
static GIOStream *
io_stream_for (GIOStream             *connection,
               GInputStream          *input,
               WzpExpectInputStream **expect)
{
  g_autoptr(GInputStream) owned = input;

  if (input == NULL)
    return NULL;
  if (expect != NULL)
    *expect = g_object_ref (WZP_EXPECT_INPUT_STREAM (input));
  return g_simple_io_stream_new (input, g_io_stream_get_output_stream (connection));
}

GIOStream *
_wzp_expect_io_stream_new (GIOStream             *connection,
                           const guint8          *expected,
                           gsize                  len,
                           const char            *mismatch_message,
                           WzpExpectInputStream **expect)
{
  g_return_val_if_fail (G_IS_IO_STREAM (connection), NULL);

  return io_stream_for (connection,
                        _wzp_expect_input_stream_new (g_io_stream_get_input_stream (connection),
                                                      expected, len, mismatch_message),
                        expect);
}

GIOStream *
_wzp_expect_frame_io_stream_new (GIOStream             *connection,
                                 WzpMessageType         type,
                                 const char            *closed_message,
                                 WzpExpectInputStream **expect)
{
  g_return_val_if_fail (G_IS_IO_STREAM (connection), NULL);

  return io_stream_for (connection,
                        _wzp_expect_input_stream_new_frame (
                          g_io_stream_get_input_stream (connection), type, closed_message),
                        expect);
}
