/* test-frame-io.c: length-prefixed frames on a GIOStream
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "wzp-glib.h"
#include "wzp-frame-io-private.h"
#include "wzp-message-private.h"

/* Every wait is bounded by this. */
#define TIMEOUT_MS 10000

static gboolean
wake_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the default main context until @cond holds; fails the test after TIMEOUT_MS. */
#define WAIT_UNTIL(cond)                                                                   \
  G_STMT_START                                                                             \
  {                                                                                        \
    gint64 deadline_ = g_get_monotonic_time () + TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;    \
    guint wake_id_ = g_timeout_add (50, wake_cb, NULL);                                    \
    while (!(cond))                                                                        \
      {                                                                                    \
        if (g_get_monotonic_time () > deadline_)                                           \
          g_error ("Timed out after %d ms waiting for %s", TIMEOUT_MS, #cond);             \
        g_main_context_iteration (NULL, TRUE);                                             \
      }                                                                                    \
    g_source_remove (wake_id_);                                                            \
  }                                                                                        \
  G_STMT_END

/* Runs pending dispatches (finishing GTasks) without blocking. */
static void
drain_main_context (void)
{
  for (guint i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

static WzpMessage *
read_frame (WzpFrameIO   *io,
            GCancellable *cancellable,
            GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  _wzp_frame_io_read_async (io, cancellable, store_result_cb, &result);
  WAIT_UNTIL (result != NULL);
  return _wzp_frame_io_read_finish (io, result, error);
}

static gboolean
write_frame (WzpFrameIO *io,
             WzpMessage *message,
             GError    **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  _wzp_frame_io_write_async (io, message, NULL, store_result_cb, &result);
  WAIT_UNTIL (result != NULL);
  return _wzp_frame_io_write_finish (io, result, error);
}

/* A Ping with an index, padded with an unknown member to @pad bytes of payload text. */
static WzpMessage *
ping_new (gint64 index,
          gsize  pad)
{
  WzpMessage *message = _wzp_message_new (WZP_MESSAGE_PING);

  _wzp_message_set_int (message, "timestamp_ms", index);
  if (pad > 0)
    {
      g_autofree char *padding = g_strnfill (pad, 'a' + index % 26);

      _wzp_message_set_string (message, "x_pad", padding);
    }
  return message;
}

static void
assert_ping (WzpMessage *message,
             gint64      index,
             gsize       pad)
{
  const char *padding;

  g_assert_nonnull (message);
  g_assert_cmpint (_wzp_message_get_message_type (message), ==, WZP_MESSAGE_PING);
  g_assert_cmpint (_wzp_message_get_int (message, "timestamp_ms"), ==, index);
  padding = _wzp_message_get_string (message, "x_pad");
  if (pad == 0)
    {
      g_assert_null (padding);
      return;
    }
  g_assert_nonnull (padding);
  g_assert_cmpuint (strlen (padding), ==, pad);
  for (gsize i = 0; i < pad; i++)
    if (padding[i] != 'a' + index % 26)
      g_error ("frame %" G_GINT64_FORMAT " is corrupt at byte %" G_GSIZE_FORMAT, index, i);
}

static void
append_frame (GByteArray *buffer,
              const void *payload,
              gsize       len)
{
  guint32 be = GUINT32_TO_BE ((guint32) len);

  g_byte_array_append (buffer, (const guint8 *) &be, 4);
  g_byte_array_append (buffer, payload, len);
}

static void
append_header (GByteArray *buffer,
               guint32     len)
{
  guint32 be = GUINT32_TO_BE (len);

  g_byte_array_append (buffer, (const guint8 *) &be, 4);
}

static void
append_message (GByteArray *buffer,
                WzpMessage *message)
{
  g_autoptr(GBytes) bytes = _wzp_message_encode (message);

  append_frame (buffer, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

/* A GSimpleIOStream reading @len bytes of @data from memory and writing to memory. */
static GIOStream *
memory_stream_new (const void     *data,
                   gsize           len,
                   GOutputStream **output_out)
{
  g_autoptr(GInputStream) input = g_memory_input_stream_new_from_data (g_memdup2 (data, len), len,
                                                                       g_free);
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();

  if (output_out != NULL)
    *output_out = output;
  return g_simple_io_stream_new (input, output);
}

/* Two connected GSocketConnections over an AF_UNIX socketpair. */
static void
socket_pair_new (GIOStream **a,
                 GIOStream **b)
{
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  for (int i = 0; i < 2; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) socket = g_socket_new_from_fd (fds[i], &error);

      g_assert_no_error (error);
      GIOStream **out = i == 0 ? a : b;

      *out = G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
    }
}

static GSocket *
stream_socket (GIOStream *stream)
{
  return g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream));
}

/* Reads the raw stream directly (with a socket timeout, so a swallowed byte fails instead of
 * hanging). */
static GBytes *
read_raw (GIOStream *stream,
          gsize      len)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *buffer = g_malloc0 (len + 16);
  gsize got = 0;

  if (G_IS_SOCKET_CONNECTION (stream))
    g_socket_set_timeout (stream_socket (stream), 2);
  while (got < len)
    {
      gssize n = g_input_stream_read (g_io_stream_get_input_stream (stream), buffer + got,
                                      len - got, NULL, &error);

      g_assert_no_error (error);
      if (n == 0)
        break;
      got += n;
    }
  if (G_IS_SOCKET_CONNECTION (stream))
    g_socket_set_timeout (stream_socket (stream), 0);
  return g_bytes_new (buffer, got);
}

static void
write_raw (GIOStream  *stream,
           const void *data,
           gsize       len)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all (g_io_stream_get_output_stream (stream), data, len, NULL, NULL,
                             &error);
  g_assert_no_error (error);
}

/* ---- format ---------------------------------------------------------------------------- */

static void
test_write_format (void)
{
  GOutputStream *output;
  g_autoptr(GIOStream) stream = memory_stream_new ("", 0, &output);
  g_autoptr(WzpFrameIO) io = _wzp_frame_io_new (stream);
  g_autoptr(GByteArray) expected = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (_wzp_frame_io_get_stream (io) == stream);
  for (int i = 0; i < 4; i++)
    {
      g_autoptr(WzpMessage) message = ping_new (i, i * 100);

      append_message (expected, message);
      g_assert_true (write_frame (io, message, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (_wzp_frame_io_get_queued (io), ==, 0);

  /* A 4-byte big-endian length, then exactly the encoded JSON; nothing else. */
  g_assert_cmpmem (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (output)),
                   g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (output)),
                   expected->data, expected->len);

  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&io));
}

static void
test_check_header (void)
{
  static const struct { guint8 header[4]; gsize max; guint32 len; gboolean ok; } cases[] = {
    { { 0, 0, 0, 0 }, WZP_FRAME_MAX_SIZE, 0, TRUE },
    { { 0, 0, 0, 1 }, WZP_FRAME_MAX_SIZE, 1, TRUE },
    { { 0, 0, 1, 2 }, WZP_FRAME_MAX_SIZE, 258, TRUE },
    { { 0, 1, 0, 0 }, WZP_FRAME_MAX_SIZE, 65536, TRUE },
    { { 0, 1, 0, 1 }, WZP_FRAME_MAX_SIZE, 0, FALSE },
    { { 0xff, 0xff, 0xff, 0xff }, WZP_FRAME_MAX_SIZE, 0, FALSE },
    { { 0x80, 0, 0, 0 }, WZP_FRAME_MAX_SIZE, 0, FALSE },
    { { 1, 0, 0, 0 }, WZP_FRAME_MAX_SIZE, 0, FALSE },
    { { 0, 0, 0, 100 }, 100, 100, TRUE },
    { { 0, 0, 0, 101 }, 100, 0, FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      guint32 len = 12345;
      gboolean ok = _wzp_frame_check_header (cases[i].header, cases[i].max, &len, &error);

      g_test_message ("header %02x %02x %02x %02x, max %" G_GSIZE_FORMAT, cases[i].header[0],
                      cases[i].header[1], cases[i].header[2], cases[i].header[3], cases[i].max);
      g_assert_cmpint (ok, ==, cases[i].ok);
      if (ok)
        {
          g_assert_no_error (error);
          g_assert_cmpuint (len, ==, cases[i].len);
        }
      else
        {
          g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE);
        }
    }
}

/* ---- round trips ----------------------------------------------------------------------- */

static void
test_round_trip_memory (void)
{
  g_autoptr(GByteArray) buffer = g_byte_array_new ();
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(WzpFrameIO) io = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) end = NULL;
  const guint n = 300;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(WzpMessage) message = ping_new (i, (i * 7919) % 3000);

      append_message (buffer, message);
    }
  stream = memory_stream_new (buffer->data, buffer->len, NULL);
  io = _wzp_frame_io_new (stream);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(WzpMessage) message = read_frame (io, NULL, &error);

      g_assert_no_error (error);
      assert_ping (message, i, (i * 7919) % 3000);
    }

  /* A clean end between frames is G_IO_ERROR_CLOSED. */
  end = read_frame (io, NULL, &error);
  g_assert_null (end);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);

  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&io));
}

typedef struct {
  WzpFrameIO *io;
  guint       expected;
  guint       received;
  gsize     (*pad_for) (guint index);
  GError     *error;
  gboolean    done;
} Reader;

static void reader_next (Reader *reader);

static void
reader_read_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Reader *reader = user_data;
  g_autoptr(WzpMessage) message = _wzp_frame_io_read_finish (reader->io, result, &reader->error);

  if (message == NULL)
    {
      reader->done = TRUE;
      return;
    }
  assert_ping (message, reader->received, reader->pad_for (reader->received));
  reader->received++;
  reader_next (reader);
}

static void
reader_next (Reader *reader)
{
  if (reader->received == reader->expected)
    {
      reader->done = TRUE;
      return;
    }
  _wzp_frame_io_read_async (reader->io, NULL, reader_read_cb, reader);
}

static gsize
pad_varied (guint index)
{
  /* Mostly small frames, some large ones up to almost the limit. */
  if (index % 50 == 7)
    return 60000;
  return (index * 7919) % 20000;
}

/* What the write callbacks saw: each runs once, in the order the writes were queued. */
typedef struct {
  guint    expected;
  guint    completed;
  guint    failed;
  gint64   last_index;
  gboolean in_order;
} WriteLog;

#define WRITE_LOG_INIT { 0, 0, 0, -1, TRUE }

typedef struct {
  WriteLog *log;
  guint     index;
} WriteCall;

static void
logged_write_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  WriteCall *call = user_data;
  g_autoptr(GError) error = NULL;

  if (!_wzp_frame_io_write_finish (WZP_FRAME_IO (source), result, &error))
    call->log->failed++;
  if ((gint64) call->index <= call->log->last_index)
    call->log->in_order = FALSE;
  call->log->last_index = call->index;
  call->log->completed++;
  g_free (call);
}

static void
queue_write (WzpFrameIO *io,
             WzpMessage *message,
             WriteLog   *log,
             guint       index)
{
  WriteCall *call = g_new0 (WriteCall, 1);

  call->log = log;
  call->index = index;
  log->expected++;
  _wzp_frame_io_write_async (io, message, NULL, logged_write_cb, call);
}

/* Many large frames both ways at once over a real socket: partial writes happen, and the
 * frames still come out whole and in order. */
static void
test_round_trip_socket (void)
{
  GIOStream *a_stream, *b_stream;
  g_autoptr(WzpFrameIO) a = NULL;
  g_autoptr(WzpFrameIO) b = NULL;
  WriteLog a_log = WRITE_LOG_INIT, b_log = WRITE_LOG_INIT;
  Reader a_reader = { 0 }, b_reader = { 0 };
  const guint n = 200;

  socket_pair_new (&a_stream, &b_stream);
  a = _wzp_frame_io_new (a_stream);
  b = _wzp_frame_io_new (b_stream);
  g_object_unref (a_stream);
  g_object_unref (b_stream);

  a_reader = (Reader) { a, n, 0, pad_varied, NULL, FALSE };
  b_reader = (Reader) { b, n, 0, pad_varied, NULL, FALSE };
  reader_next (&a_reader);
  reader_next (&b_reader);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(WzpMessage) to_b = ping_new (i, pad_varied (i));
      g_autoptr(WzpMessage) to_a = ping_new (i, pad_varied (i));

      queue_write (a, to_b, &a_log, i);
      queue_write (b, to_a, &b_log, i);
    }

  WAIT_UNTIL (a_reader.done && b_reader.done && a_log.completed == n && b_log.completed == n);
  g_assert_no_error (a_reader.error);
  g_assert_no_error (b_reader.error);
  g_assert_cmpuint (a_reader.received, ==, n);
  g_assert_cmpuint (b_reader.received, ==, n);
  g_assert_cmpuint (a_log.failed, ==, 0);
  g_assert_cmpuint (b_log.failed, ==, 0);
  g_assert_true (a_log.in_order);
  g_assert_true (b_log.in_order);
  g_assert_cmpuint (_wzp_frame_io_get_queued (a), ==, 0);
  g_assert_cmpuint (_wzp_frame_io_get_queued (b), ==, 0);

  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&a));
  g_assert_finalize_object (g_steal_pointer (&b));
}

static gsize
pad_order (guint index)
{
  return (index * 104729) % 30000;
}

static gboolean
queue_from_idle_cb (gpointer user_data)
{
  gpointer *args = user_data;
  WzpFrameIO *io = args[0];
  guint *next = args[1];
  WriteLog *log = args[2];
  g_autoptr(WzpMessage) message = ping_new (*next, pad_order (*next));

  /* Callers alternate between the fire-and-forget and the async write. */
  if (*next % 3 == 0)
    _wzp_frame_io_send (io, message);
  else
    queue_write (io, message, log, *next);
  (*next)++;
  return *next < 1000 && *next % 100 != 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* 1000 writes queued without waiting, from a loop and from several main-loop callers, come
 * out in order and never interleaved. */
static void
test_write_order (void)
{
  GIOStream *a_stream, *b_stream;
  g_autoptr(WzpFrameIO) a = NULL;
  g_autoptr(WzpFrameIO) b = NULL;
  WriteLog log = WRITE_LOG_INIT;
  Reader reader = { 0 };
  guint next = 0;
  gpointer args[3];

  socket_pair_new (&a_stream, &b_stream);
  a = _wzp_frame_io_new (a_stream);
  b = _wzp_frame_io_new (b_stream);
  g_object_unref (a_stream);
  g_object_unref (b_stream);

  /* The first 500 straight from a loop, before the main loop runs at all. */
  for (; next < 500; next++)
    {
      g_autoptr(WzpMessage) message = ping_new (next, pad_order (next));

      queue_write (a, message, &log, next);
    }
  g_assert_cmpuint (_wzp_frame_io_get_queued (a), >, 0);
  g_assert_cmpuint (_wzp_frame_io_get_queued (a), <=, 500);

  /* The rest from idle callbacks, 100 per source, while the first ones are being written. */
  args[0] = a;
  args[1] = &next;
  args[2] = &log;
  for (int i = 0; i < 5; i++)
    g_idle_add (queue_from_idle_cb, args);

  reader = (Reader) { b, 1000, 0, pad_order, NULL, FALSE };
  reader_next (&reader);
  WAIT_UNTIL (reader.done && next == 1000 && log.completed == log.expected &&
              _wzp_frame_io_get_queued (a) == 0);
  g_assert_no_error (reader.error);
  g_assert_cmpuint (reader.received, ==, 1000);
  g_assert_cmpuint (log.failed, ==, 0);
  g_assert_true (log.in_order);

  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&a));
  g_assert_finalize_object (g_steal_pointer (&b));
}

/* ---- exact reads ----------------------------------------------------------------------- */

static const char raw_tail[] = "\x16\x03\x01\x02\x00RAW-BYTES-AFTER-THE-FRAME\n";

static void
test_exact_read_memory (void)
{
  g_autoptr(GByteArray) buffer = g_byte_array_new ();
  g_autoptr(WzpMessage) first = ping_new (1, 10);
  g_autoptr(WzpMessage) second = ping_new (2, 0);
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(WzpFrameIO) io = NULL;
  g_autoptr(WzpMessage) message = NULL;
  g_autoptr(WzpMessage) message2 = NULL;
  g_autoptr(GBytes) rest = NULL;
  g_autoptr(GError) error = NULL;

  append_message (buffer, first);
  append_message (buffer, second);
  g_byte_array_append (buffer, (const guint8 *) raw_tail, sizeof raw_tail - 1);
  stream = memory_stream_new (buffer->data, buffer->len, NULL);
  io = _wzp_frame_io_new (stream);

  message = read_frame (io, NULL, &error);
  g_assert_no_error (error);
  assert_ping (message, 1, 10);
  message2 = read_frame (io, NULL, &error);
  g_assert_no_error (error);
  assert_ping (message2, 2, 0);

  /* The bytes after the frame are still in the stream, untouched. */
  rest = read_raw (stream, sizeof raw_tail + 10);
  g_assert_cmpmem (g_bytes_get_data (rest, NULL), g_bytes_get_size (rest), raw_tail,
                   sizeof raw_tail - 1);

  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&io));
}

/* Over a socket the frame and the bytes after it arrive in one segment: a buffered reader
 * would swallow them (docs/decisions.md, "Exact reads before a hand-over"). */
static void
test_exact_read_socket (void)
{
  GIOStream *a_stream, *b_stream;
  g_autoptr(WzpFrameIO) io = NULL;
  g_autoptr(GByteArray) buffer = g_byte_array_new ();
  g_autoptr(WzpMessage) first = ping_new (1, 300);
  g_autoptr(WzpMessage) message = NULL;
  g_autoptr(GBytes) rest = NULL;
  g_autoptr(GError) error = NULL;

  socket_pair_new (&a_stream, &b_stream);
  io = _wzp_frame_io_new (b_stream);

  append_message (buffer, first);
  g_byte_array_append (buffer, (const guint8 *) raw_tail, sizeof raw_tail - 1);
  write_raw (a_stream, buffer->data, buffer->len);

  message = read_frame (io, NULL, &error);
  g_assert_no_error (error);
  assert_ping (message, 1, 300);

  rest = read_raw (b_stream, sizeof raw_tail - 1);
  g_assert_cmpmem (g_bytes_get_data (rest, NULL), g_bytes_get_size (rest), raw_tail,
                   sizeof raw_tail - 1);

  /* And the frame reader still works for what comes next. */
  {
    g_autoptr(WzpMessage) later = ping_new (9, 0);
    g_autoptr(WzpMessage) got = NULL;
    g_autoptr(GByteArray) more = g_byte_array_new ();

    append_message (more, later);
    write_raw (a_stream, more->data, more->len);
    got = read_frame (io, NULL, &error);
    g_assert_no_error (error);
    assert_ping (got, 9, 0);
  }

  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&io));
  g_object_unref (a_stream);
  g_object_unref (b_stream);
}

/* ---- bad input ------------------------------------------------------------------------- */

/* Reads frames from @data until an error; returns the number of good frames. */
static guint
read_all (const void *data,
          gsize       len,
          gsize       max,
          GError    **error)
{
  g_autoptr(GIOStream) stream = memory_stream_new (data, len, NULL);
  g_autoptr(WzpFrameIO) io = _wzp_frame_io_new (stream);
  guint n = 0;

  if (max > 0)
    _wzp_frame_io_set_max_frame_size (io, max);
  for (;;)
    {
      g_autoptr(WzpMessage) message = read_frame (io, NULL, error);

      if (message == NULL)
        break;
      n++;
      g_assert_cmpuint (n, <=, len / 4); /* every frame has a 4-byte header */
    }
  g_assert_true (error == NULL || *error != NULL);
  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&io));
  return n;
}

static void
test_truncated (void)
{
  g_autoptr(WzpMessage) ping = ping_new (5, 0);
  g_autoptr(GBytes) payload = _wzp_message_encode (ping);
  gsize payload_len = g_bytes_get_size (payload);
  g_autoptr(GByteArray) frame = g_byte_array_new ();

  append_frame (frame, g_bytes_get_data (payload, NULL), payload_len);

  /* Nothing at all: a clean close. */
  {
    g_autoptr(GError) error = NULL;

    g_assert_cmpuint (read_all ("", 0, 0, &error), ==, 0);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  }

  /* Every cut inside the frame: a truncated header or body. */
  for (gsize cut = 1; cut < frame->len; cut++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("cut after %" G_GSIZE_FORMAT " of %u bytes", cut, frame->len);
      g_assert_cmpuint (read_all (frame->data, cut, 0, &error), ==, 0);
      g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_TRUNCATED);
    }

  /* A good frame, then a cut one. */
  {
    g_autoptr(GByteArray) two = g_byte_array_new ();
    g_autoptr(GError) error = NULL;

    g_byte_array_append (two, frame->data, frame->len);
    g_byte_array_append (two, frame->data, 2);
    g_assert_cmpuint (read_all (two->data, two->len, 0, &error), ==, 1);
    g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_TRUNCATED);
  }

  /* A body much shorter than its header says. */
  {
    g_autoptr(GByteArray) buffer = g_byte_array_new ();
    g_autoptr(GError) error = NULL;

    append_header (buffer, 60000);
    g_byte_array_append (buffer, (const guint8 *) "{\"type\":", 8);
    g_assert_cmpuint (read_all (buffer->data, buffer->len, 0, &error), ==, 0);
    g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_TRUNCATED);
  }
}

/* The peer closes a socket in the middle of a frame. */
static void
test_truncated_socket (void)
{
  GIOStream *a_stream, *b_stream;
  g_autoptr(WzpFrameIO) io = NULL;
  g_autoptr(WzpMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) buffer = g_byte_array_new ();

  socket_pair_new (&a_stream, &b_stream);
  io = _wzp_frame_io_new (b_stream);
  append_header (buffer, 100);
  g_byte_array_append (buffer, (const guint8 *) "{\"type\":\"Ping\"", 14);
  write_raw (a_stream, buffer->data, buffer->len);
  g_io_stream_close (a_stream, NULL, NULL);

  message = read_frame (io, NULL, &error);
  g_assert_null (message);
  g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_TRUNCATED);

  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&io));
  g_object_unref (a_stream);
  g_object_unref (b_stream);
}

/* An oversize length fails at once: the body is never waited for nor read. */
static void
test_too_large (void)
{
  static const guint32 lengths[] = { 0xFFFFFFFF, 65537, 0x80000000, 1000000 };

  for (gsize i = 0; i < G_N_ELEMENTS (lengths); i++)
    {
      GIOStream *a_stream, *b_stream;
      g_autoptr(WzpFrameIO) io = NULL;
      g_autoptr(WzpMessage) message = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GByteArray) header = g_byte_array_new ();
      g_autoptr(GBytes) after = NULL;
      gint64 start;

      g_test_message ("length %u over a socket that stays open", lengths[i]);
      socket_pair_new (&a_stream, &b_stream);
      io = _wzp_frame_io_new (b_stream);
      append_header (header, lengths[i]);
      /* Only the header, and a few bytes that must stay unread. */
      g_byte_array_append (header, (const guint8 *) "BODY", 4);
      write_raw (a_stream, header->data, header->len);

      start = g_get_monotonic_time ();
      message = read_frame (io, NULL, &error);
      g_assert_null (message);
      g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE);
      g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_TIME_SPAN_SECOND);

      after = read_raw (b_stream, 4);
      g_assert_cmpmem (g_bytes_get_data (after, NULL), g_bytes_get_size (after), "BODY", 4);

      drain_main_context ();
      g_assert_finalize_object (g_steal_pointer (&io));
      g_object_unref (a_stream);
      g_object_unref (b_stream);
    }

  /* From memory, with the whole oversize body present: none of it is consumed. */
  {
    g_autoptr(GByteArray) buffer = g_byte_array_new ();
    g_autofree char *body = g_strnfill (65537, ' ');
    g_autoptr(GIOStream) stream = NULL;
    g_autoptr(WzpFrameIO) io = NULL;
    g_autoptr(WzpMessage) message = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) rest = NULL;

    append_frame (buffer, body, 65537);
    stream = memory_stream_new (buffer->data, buffer->len, NULL);
    io = _wzp_frame_io_new (stream);
    message = read_frame (io, NULL, &error);
    g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE);
    rest = read_raw (stream, 65537 + 16);
    g_assert_cmpuint (g_bytes_get_size (rest), ==, 65537);

    drain_main_context ();
    g_assert_finalize_object (g_steal_pointer (&io));
  }
}

/* A JSON payload of exactly @len bytes. */
static char *
payload_of_size (gsize len)
{
  const char *head = "{\"type\":\"Ping\",\"timestamp_ms\":3,\"x_pad\":\"";
  GString *text = g_string_new (head);

  g_assert_cmpuint (len, >, strlen (head) + 2);
  while (text->len < len - 2)
    g_string_append_c (text, 'p');
  g_string_append (text, "\"}");
  g_assert_cmpuint (text->len, ==, len);
  return g_string_free (text, FALSE);
}

/* The limit itself is allowed; one more byte is not. A lower limit can be set. */
static void
test_limit (void)
{
  static const struct { gsize max; gsize len; gboolean ok; } cases[] = {
    { 0, WZP_FRAME_MAX_SIZE, TRUE },
    { 0, WZP_FRAME_MAX_SIZE + 1, FALSE },
    { 100, 100, TRUE },
    { 100, 101, FALSE },
    { 1000, 60000, FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *payload = payload_of_size (cases[i].len);
      g_autoptr(GByteArray) buffer = g_byte_array_new ();
      g_autoptr(GError) error = NULL;
      guint n;

      g_test_message ("max %" G_GSIZE_FORMAT ", frame %" G_GSIZE_FORMAT, cases[i].max,
                      cases[i].len);
      append_frame (buffer, payload, cases[i].len);
      n = read_all (buffer->data, buffer->len, cases[i].max, &error);
      if (cases[i].ok)
        {
          g_assert_cmpuint (n, ==, 1);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
        }
      else
        {
          g_assert_cmpuint (n, ==, 0);
          g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE);
        }
    }
}

/* Decoding errors come out of the reader as they are. */
static void
test_bad_payloads (void)
{
  static const struct { const char *json; gsize len; int code; } cases[] = {
    { "", 0, WZP_PROTOCOL_ERROR_INVALID_JSON },           /* a zero-length frame */
    { "{", 1, WZP_PROTOCOL_ERROR_INVALID_JSON },
    { "[1,2]", 5, WZP_PROTOCOL_ERROR_INVALID_JSON },
    { "{\"type\":\"\xff\"}", 12, WZP_PROTOCOL_ERROR_INVALID_UTF8 },
    { "{\"type\":\"Teleport\"}", 19, WZP_PROTOCOL_ERROR_UNKNOWN_TYPE },
    { "{\"type\":\"Ping\"}", 15, WZP_PROTOCOL_ERROR_MISSING_MEMBER },
    { "{\"type\":\"Ping\",\"timestamp_ms\":\"x\"}", 34, WZP_PROTOCOL_ERROR_WRONG_TYPE },
    { "{\"type\":\"ReflectResponse\",\"observed_addr\":\"host:1\"}", 51,
      WZP_PROTOCOL_ERROR_INVALID_VALUE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GByteArray) buffer = g_byte_array_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(WzpMessage) good = ping_new (1, 0);

      g_autofree char *shown = g_strescape (cases[i].json, NULL);

      /* escaped: TAP output must stay UTF-8, and some payloads are not */
      g_test_message ("payload %s", shown);
      g_assert_cmpuint (strlen (cases[i].json), ==, cases[i].len);
      append_message (buffer, good);
      append_frame (buffer, cases[i].json, cases[i].len);
      g_assert_cmpuint (read_all (buffer->data, buffer->len, 0, &error), ==, 1);
      g_assert_error (error, WZP_PROTOCOL_ERROR, cases[i].code);
    }
}

/* Whatever the bytes, reading ends with an error and never hangs or crashes. */
static void
test_no_hang (void)
{
  static const char *fixed[] = {
    "\0\0\0", "\0\0\0\0", "\0\0\0\0\0\0\0\0", "\xff\xff\xff\xff", "\0\0\0\x02{}",
    "\0\0\0\x01\0", "\0\0\0\x05\0\0\0\0\0",
  };
  static const gsize fixed_len[] = { 3, 4, 8, 4, 6, 5, 9 };
  GRand *rand = g_rand_new_with_seed (g_test_rand_int ());

  for (gsize i = 0; i < G_N_ELEMENTS (fixed); i++)
    {
      g_autoptr(GError) error = NULL;

      read_all (fixed[i], fixed_len[i], 0, &error);
      g_assert_nonnull (error);
    }

  for (guint round = 0; round < 300; round++)
    {
      g_autoptr(GByteArray) buffer = g_byte_array_new ();
      g_autoptr(GError) error = NULL;
      guint frames = g_rand_int_range (rand, 0, 5);

      /* Random frames: sometimes valid messages, sometimes random bytes of the right or a
       * wrong length. */
      for (guint f = 0; f < frames; f++)
        {
          guint kind = g_rand_int_range (rand, 0, 4);

          if (kind == 0)
            {
              g_autoptr(WzpMessage) message = ping_new (f, g_rand_int_range (rand, 0, 100));

              append_message (buffer, message);
            }
          else
            {
              guint len = g_rand_int_range (rand, 0, 200);
              g_autofree guint8 *junk = g_malloc (len + 1);

              for (guint j = 0; j < len; j++)
                junk[j] = g_rand_int_range (rand, 0, 256);
              if (kind == 1)
                append_frame (buffer, junk, len);
              else if (kind == 2)
                {
                  append_header (buffer, g_rand_int (rand));
                  g_byte_array_append (buffer, junk, len);
                }
              else
                g_byte_array_append (buffer, junk, len);
            }
        }
      read_all (buffer->data, buffer->len, 0, &error);
      g_assert_nonnull (error);
      g_assert_true (error->domain == WZP_PROTOCOL_ERROR || error->domain == G_IO_ERROR);
    }
  g_rand_free (rand);
}

/* ---- timing, cancellation, closing ----------------------------------------------------- */

typedef struct {
  GIOStream  *stream;
  GByteArray *bytes;
  guint       sent;
} SlowWriter;

static gboolean
slow_write_cb (gpointer user_data)
{
  SlowWriter *writer = user_data;

  write_raw (writer->stream, writer->bytes->data + writer->sent, 1);
  writer->sent++;
  return writer->sent < writer->bytes->len ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
test_slow_writer (void)
{
  GIOStream *a_stream, *b_stream;
  g_autoptr(WzpFrameIO) io = NULL;
  g_autoptr(GByteArray) buffer = g_byte_array_new ();
  g_autoptr(WzpMessage) first = ping_new (1, 40);
  g_autoptr(WzpMessage) second = ping_new (2, 0);
  g_autoptr(WzpMessage) got1 = NULL;
  g_autoptr(WzpMessage) got2 = NULL;
  g_autoptr(GError) error = NULL;
  SlowWriter writer;

  socket_pair_new (&a_stream, &b_stream);
  io = _wzp_frame_io_new (b_stream);
  append_message (buffer, first);
  append_message (buffer, second);
  writer = (SlowWriter) { a_stream, buffer, 0 };
  g_timeout_add (1, slow_write_cb, &writer);

  got1 = read_frame (io, NULL, &error);
  g_assert_no_error (error);
  assert_ping (got1, 1, 40);
  got2 = read_frame (io, NULL, &error);
  g_assert_no_error (error);
  assert_ping (got2, 2, 0);
  g_assert_cmpuint (writer.sent, ==, buffer->len);

  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&io));
  g_object_unref (a_stream);
  g_object_unref (b_stream);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (void)
{
  /* 0: nothing arrives; 1: half a header; 2: a header and half a body; 3: pre-cancelled */
  for (int variant = 0; variant < 4; variant++)
    {
      GIOStream *a_stream, *b_stream;
      g_autoptr(WzpFrameIO) io = NULL;
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(WzpMessage) message = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GByteArray) buffer = g_byte_array_new ();

      g_test_message ("variant %d", variant);
      socket_pair_new (&a_stream, &b_stream);
      io = _wzp_frame_io_new (b_stream);
      if (variant == 1)
        g_byte_array_append (buffer, (const guint8 *) "\0\0", 2);
      else if (variant == 2)
        {
          append_header (buffer, 50);
          g_byte_array_append (buffer, (const guint8 *) "{\"type\":", 8);
        }
      if (buffer->len > 0)
        write_raw (a_stream, buffer->data, buffer->len);
      if (variant == 3)
        g_cancellable_cancel (cancellable);
      else
        g_timeout_add (50, cancel_cb, cancellable);

      message = read_frame (io, cancellable, &error);
      g_assert_null (message);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

      drain_main_context ();
      g_assert_finalize_object (g_steal_pointer (&io));
      g_object_unref (a_stream);
      g_object_unref (b_stream);
    }
}

/* A cancelled read releases the reader once its callback ran, even if the caller dropped
 * its reference first. */
static void
test_cancel_unref (void)
{
  GIOStream *a_stream, *b_stream;
  WzpFrameIO *io;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(WzpMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  socket_pair_new (&a_stream, &b_stream);
  io = _wzp_frame_io_new (b_stream);
  g_object_add_weak_pointer (G_OBJECT (io), (gpointer *) &io);
  _wzp_frame_io_read_async (io, cancellable, store_result_cb, &result);
  g_object_unref (io);
  g_timeout_add (20, cancel_cb, cancellable);
  WAIT_UNTIL (result != NULL);
  {
    g_autoptr(GObject) source = g_async_result_get_source_object (result);

    g_assert_true (source == (GObject *) io);
    message = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result, &error);
  }
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_object (&result);
  drain_main_context ();
  g_assert_null (io);

  g_object_unref (a_stream);
  g_object_unref (b_stream);
}

static void
test_peer_closed (void)
{
  GIOStream *a_stream, *b_stream;
  g_autoptr(WzpFrameIO) io = NULL;
  g_autoptr(WzpMessage) message = NULL;
  g_autoptr(GError) read_error = NULL;
  WriteLog log = WRITE_LOG_INIT;

  socket_pair_new (&a_stream, &b_stream);
  io = _wzp_frame_io_new (b_stream);
  g_io_stream_close (a_stream, NULL, NULL);

  /* Reading: a clean close. */
  message = read_frame (io, NULL, &read_error);
  g_assert_null (message);
  g_assert_error (read_error, G_IO_ERROR, G_IO_ERROR_CLOSED);

  /* Writing: every queued write fails (no crash, no SIGPIPE), and so do later ones. */
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(WzpMessage) ping = ping_new (i, 20000);

      queue_write (io, ping, &log, i);
    }
  WAIT_UNTIL (log.completed == 5);
  g_assert_cmpuint (log.failed, ==, 5);
  g_assert_true (log.in_order);
  g_assert_cmpuint (_wzp_frame_io_get_queued (io), ==, 0);

  {
    g_autoptr(WzpMessage) ping = ping_new (99, 0);
    g_autoptr(GError) error = NULL;

    _wzp_frame_io_send (io, ping);
    g_assert_false (write_frame (io, ping, &error));
    g_assert_nonnull (error);
    WAIT_UNTIL (_wzp_frame_io_get_queued (io) == 0);
  }

  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&io));
  g_object_unref (a_stream);
  g_object_unref (b_stream);
}

/* Writing on a stream closed locally fails cleanly too. */
static void
test_write_closed_stream (void)
{
  g_autoptr(GIOStream) stream = memory_stream_new ("", 0, NULL);
  g_autoptr(WzpFrameIO) io = _wzp_frame_io_new (stream);
  g_autoptr(WzpMessage) ping = ping_new (1, 0);
  g_autoptr(GError) error = NULL;

  g_io_stream_close (stream, NULL, NULL);
  g_assert_false (write_frame (io, ping, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);

  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&io));
}

/* A peer that never reads: the queue stops at the limit, the write that would pass it
 * fails and so does every queued and later one. */
static void
test_queue_limit (void)
{
  GIOStream *a_stream, *b_stream;
  g_autoptr(WzpFrameIO) io = NULL;
  WriteLog log = WRITE_LOG_INIT;
  int small = 4096;

  socket_pair_new (&a_stream, &b_stream);
  g_assert_no_errno (setsockopt (g_socket_get_fd (stream_socket (a_stream)), SOL_SOCKET,
                                 SO_SNDBUF, &small, sizeof small));
  io = _wzp_frame_io_new (a_stream);
  _wzp_frame_io_set_max_queued_bytes (io, 64 * 1024);

  /* 400 KB asked for at once; the queue takes at most 64 KiB of it. */
  for (guint i = 0; i < 400; i++)
    {
      g_autoptr(WzpMessage) ping = ping_new (i, 1000);

      queue_write (io, ping, &log, i);
      g_assert_cmpuint (_wzp_frame_io_get_queued_bytes (io), <=, 64 * 1024);
    }
  g_assert_cmpuint (_wzp_frame_io_get_queued_bytes (io), >, 60 * 1024);

  /* The overflow failed them all but what the socket took, in order. */
  WAIT_UNTIL (log.completed == log.expected);
  g_assert_true (log.in_order);
  g_assert_cmpuint (log.failed, >, 400 - 64);
  g_assert_cmpuint (log.failed, <, 400);
  g_assert_cmpuint (_wzp_frame_io_get_queued_bytes (io), ==, 0);

  /* Sticky: a later write fails at once, though the queue is empty now. */
  {
    g_autoptr(WzpMessage) ping = ping_new (999, 0);
    g_autoptr(GError) error = NULL;

    g_assert_false (write_frame (io, ping, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  }

  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&io));
  g_object_unref (a_stream);
  g_object_unref (b_stream);
}

/* Without a limit, a peer that never reads shows as a pending write that gets old. */
static void
test_pending_since (void)
{
  GIOStream *a_stream, *b_stream;
  g_autoptr(WzpFrameIO) io = NULL;
  WriteLog log = WRITE_LOG_INIT;
  int small = 4096;
  gint64 before, since;

  socket_pair_new (&a_stream, &b_stream);
  g_assert_no_errno (setsockopt (g_socket_get_fd (stream_socket (a_stream)), SOL_SOCKET,
                                 SO_SNDBUF, &small, sizeof small));
  io = _wzp_frame_io_new (a_stream);
  g_assert_cmpint (_wzp_frame_io_get_pending_since (io), ==, 0);

  before = g_get_monotonic_time ();
  for (guint i = 0; i < 100; i++)
    {
      g_autoptr(WzpMessage) ping = ping_new (i, 1000);

      queue_write (io, ping, &log, i);
    }
  drain_main_context ();
  since = _wzp_frame_io_get_pending_since (io);
  g_assert_cmpint (since, >=, before);
  g_usleep (20 * 1000);
  drain_main_context ();
  g_assert_cmpint (_wzp_frame_io_get_pending_since (io), ==, since);
  g_assert_cmpuint (log.failed, ==, 0);

  /* Once written or failed, nothing is pending. */
  g_io_stream_close (a_stream, NULL, NULL);
  WAIT_UNTIL (log.completed == log.expected);
  g_assert_cmpint (_wzp_frame_io_get_pending_since (io), ==, 0);
  g_assert_cmpuint (_wzp_frame_io_get_queued_bytes (io), ==, 0);

  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&io));
  g_object_unref (a_stream);
  g_object_unref (b_stream);
}

/* A limit smaller than a frame does not stop a peer that keeps up: with nothing queued,
 * one frame is always taken. */
static void
test_queue_limit_one_frame (void)
{
  GOutputStream *output;
  g_autoptr(GIOStream) stream = memory_stream_new ("", 0, &output);
  g_autoptr(WzpFrameIO) io = _wzp_frame_io_new (stream);
  g_autoptr(GError) error = NULL;

  _wzp_frame_io_set_max_queued_bytes (io, 100);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(WzpMessage) ping = ping_new (i, 1000);

      g_assert_true (write_frame (io, ping, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (_wzp_frame_io_get_queued_bytes (io), ==, 0);

  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&io));
}

/* ---- binary frames (docs/protocol.md, "Media frames") ----------------------------------- */

static void
append_binary (GByteArray   *buffer,
               guint8        kind,
               const guint8 *body,
               guint32       len)
{
  guint8 header[4] = { kind, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff };

  g_assert_cmpuint (len, <=, 0xFFFFFF);
  g_byte_array_append (buffer, header, 4);
  if (len > 0)
    g_byte_array_append (buffer, body, len);
}

typedef struct
{
  GPtrArray *payloads;  /* GBytes* */
  GArray    *seqs;      /* guint32 */
  GArray    *stamps;    /* guint32 */
  GArray    *streams;   /* guint8 */
} MediaSeen;

static void
media_seen_init (MediaSeen *seen)
{
  seen->payloads = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  seen->seqs = g_array_new (FALSE, FALSE, sizeof (guint32));
  seen->stamps = g_array_new (FALSE, FALSE, sizeof (guint32));
  seen->streams = g_array_new (FALSE, FALSE, sizeof (guint8));
}

static void
media_seen_clear (MediaSeen *seen)
{
  g_ptr_array_unref (seen->payloads);
  g_array_unref (seen->seqs);
  g_array_unref (seen->stamps);
  g_array_unref (seen->streams);
}

static void
media_cb (WzpFrameIO          *io,
          const WzpMediaFrame *frame,
          gpointer             user_data)
{
  MediaSeen *seen = user_data;

  g_ptr_array_add (seen->payloads, g_bytes_new (frame->payload, frame->payload_len));
  g_array_append_val (seen->seqs, frame->seq);
  g_array_append_val (seen->stamps, frame->timestamp);
  g_array_append_val (seen->streams, frame->stream_id);
}

/* The body of a media frame with @payload_len bytes of 'p'. */
static GBytes *
media_body (guint32 seq,
            gsize   payload_len)
{
  g_autofree guint8 *payload = g_malloc (payload_len + 1);
  WzpMediaFrame frame = { 3, 0, seq, seq * 960, payload, payload_len };
  g_autoptr(GError) error = NULL;
  GBytes *body;

  memset (payload, 'p', payload_len);
  body = _wzp_media_frame_encode (&frame, &error);
  g_assert_no_error (error);
  return body;
}

/* Encoding and decoding the media body, and its limits. */
static void
test_media_frame_codec (void)
{
  static const guint8 payload[] = { 0xde, 0xad, 0xbe, 0xef };
  static const guint8 expected[] = { 0x07, 0x00, 0x01, 0x02, 0x03, 0x04, 0xff, 0xee, 0xdd,
                                     0xcc, 0xde, 0xad, 0xbe, 0xef };
  WzpMediaFrame frame = { 7, 0, 0x01020304, 0xffeeddcc, payload, sizeof payload };
  WzpMediaFrame out;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GBytes) largest = NULL;
  g_autoptr(GBytes) empty = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *big = g_malloc0 (WZP_MEDIA_MAX_PAYLOAD + 1);

  body = _wzp_media_frame_encode (&frame, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (body, NULL), g_bytes_get_size (body), expected,
                   sizeof expected);
  g_assert_true (_wzp_media_frame_decode (g_bytes_get_data (body, NULL),
                                          g_bytes_get_size (body), &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out.stream_id, ==, 7);
  g_assert_cmpuint (out.flags, ==, 0);
  g_assert_cmpuint (out.seq, ==, 0x01020304);
  g_assert_cmpuint (out.timestamp, ==, 0xffeeddcc);
  g_assert_cmpmem (out.payload, out.payload_len, payload, sizeof payload);

  /* Flags a receiver does not know are ignored, not refused. */
  {
    guint8 flagged[sizeof expected];

    memcpy (flagged, expected, sizeof expected);
    flagged[1] = 0xff;
    g_assert_true (_wzp_media_frame_decode (flagged, sizeof flagged, &out, &error));
    g_assert_cmpuint (out.flags, ==, 0xff);
  }

  /* 0 to WZP_MEDIA_MAX_PAYLOAD bytes of payload. */
  frame.payload = big;
  frame.payload_len = 0;
  empty = _wzp_media_frame_encode (&frame, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (empty), ==, WZP_MEDIA_HEADER_LEN);
  frame.payload_len = WZP_MEDIA_MAX_PAYLOAD;
  largest = _wzp_media_frame_encode (&frame, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (largest), ==, WZP_MEDIA_MAX_SIZE);
  g_assert_cmpuint (WZP_MEDIA_MAX_SIZE, ==, 1285);
  frame.payload_len = WZP_MEDIA_MAX_PAYLOAD + 1;
  g_assert_null (_wzp_media_frame_encode (&frame, &error));
  g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE);
  g_clear_error (&error);

  /* Too short for the header, too long for the payload. */
  for (gsize len = 0; len < WZP_MEDIA_HEADER_LEN; len++)
    {
      g_assert_false (_wzp_media_frame_decode (big, len, &out, &error));
      g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_TRUNCATED);
      g_clear_error (&error);
    }
  {
    g_autofree guint8 *over = g_malloc0 (WZP_MEDIA_MAX_SIZE + 1);

    g_assert_false (_wzp_media_frame_decode (over, WZP_MEDIA_MAX_SIZE + 1, &out, &error));
    g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE);
  }
}

/* With binary frames on, JSON frames are the same bytes: the kind byte of JSON is the
 * length's first byte, always 0 under the limit. */
static void
test_binary_json_unchanged (void)
{
  GOutputStream *plain_out, *binary_out;
  g_autoptr(GIOStream) plain_stream = memory_stream_new ("", 0, &plain_out);
  g_autoptr(GIOStream) binary_stream = memory_stream_new ("", 0, &binary_out);
  g_autoptr(WzpFrameIO) plain = _wzp_frame_io_new (plain_stream);
  g_autoptr(WzpFrameIO) binary = _wzp_frame_io_new (binary_stream);
  g_autoptr(GError) error = NULL;
  gsize pads[] = { 0, 300, 65000 };

  _wzp_frame_io_set_binary_frames (binary, TRUE);
  for (gsize i = 0; i < G_N_ELEMENTS (pads); i++)
    {
      g_autoptr(WzpMessage) message = ping_new (i, pads[i]);

      g_assert_true (write_frame (plain, message, &error));
      g_assert_no_error (error);
      g_assert_true (write_frame (binary, message, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpmem (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (plain_out)),
                   g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (plain_out)),
                   g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (binary_out)),
                   g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (binary_out)));

  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&plain));
  g_assert_finalize_object (g_steal_pointer (&binary));
}

/* A writer and a reader with binary frames on, over a socket pair; the reader's media
 * goes to @seen. */
typedef struct
{
  GIOStream  *a_stream;
  GIOStream  *b_stream;
  WzpFrameIO *writer;
  WzpFrameIO *reader;
  MediaSeen   seen;
} MediaPair;

static void
media_pair_init (MediaPair *pair)
{
  media_seen_init (&pair->seen);
  socket_pair_new (&pair->a_stream, &pair->b_stream);
  pair->writer = _wzp_frame_io_new (pair->a_stream);
  pair->reader = _wzp_frame_io_new (pair->b_stream);
  _wzp_frame_io_set_binary_frames (pair->writer, TRUE);
  _wzp_frame_io_set_binary_frames (pair->reader, TRUE);
  _wzp_frame_io_set_media_func (pair->reader, media_cb, &pair->seen, NULL);
}

static void
media_pair_clear (MediaPair *pair)
{
  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&pair->writer));
  g_assert_finalize_object (g_steal_pointer (&pair->reader));
  g_object_unref (pair->a_stream);
  g_object_unref (pair->b_stream);
  media_seen_clear (&pair->seen);
}

/* Media and JSON frames through one writer, in order, and back through a reader: media
 * goes to the media function, reads complete with the JSON messages. */
static void
test_binary_round_trip (void)
{
  MediaPair pair;
  g_autoptr(WzpMessage) first = ping_new (1, 0);
  g_autoptr(WzpMessage) second = ping_new (2, 20);
  g_autoptr(WzpMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *payload = g_malloc (WZP_MEDIA_MAX_PAYLOAD);
  gsize sizes[] = { 0, 1, 160, WZP_MEDIA_MAX_PAYLOAD };

  media_pair_init (&pair);

  _wzp_frame_io_send (pair.writer, first);
  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      WzpMediaFrame frame = { 1, 0, 100 + i, 48000 + 960 * i, payload, sizes[i] };

      memset (payload, 'a' + i, sizes[i]);
      _wzp_frame_io_send_media (pair.writer, &frame);
    }
  _wzp_frame_io_send (pair.writer, second);

  message = read_frame (pair.reader, NULL, &error);
  g_assert_no_error (error);
  assert_ping (message, 1, 0);
  g_assert_cmpuint (pair.seen.payloads->len, ==, 0);
  g_clear_pointer (&message, _wzp_message_unref);
  message = read_frame (pair.reader, NULL, &error);
  g_assert_no_error (error);
  assert_ping (message, 2, 20);

  g_assert_cmpuint (pair.seen.payloads->len, ==, G_N_ELEMENTS (sizes));
  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      GBytes *got = g_ptr_array_index (pair.seen.payloads, i);
      const guint8 *data = g_bytes_get_data (got, NULL);

      g_assert_cmpuint (g_bytes_get_size (got), ==, sizes[i]);
      for (gsize j = 0; j < sizes[i]; j++)
        g_assert_cmpuint (data[j], ==, 'a' + i);
      g_assert_cmpuint (g_array_index (pair.seen.seqs, guint32, i), ==, 100 + i);
      g_assert_cmpuint (g_array_index (pair.seen.stamps, guint32, i), ==, 48000 + 960 * i);
      g_assert_cmpuint (g_array_index (pair.seen.streams, guint8, i), ==, 1);
    }
  g_assert_cmpuint (_wzp_frame_io_get_skipped_frames (pair.reader), ==, 0);
  g_assert_cmpuint (_wzp_frame_io_get_malformed_frames (pair.reader), ==, 0);

  /* A payload over the limit is refused at the writer and queues nothing. */
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autofree guint8 *big = g_malloc0 (WZP_MEDIA_MAX_PAYLOAD + 1);
    WzpMediaFrame frame = { 1, 0, 1, 1, big, WZP_MEDIA_MAX_PAYLOAD + 1 };

    _wzp_frame_io_write_media_async (pair.writer, &frame, NULL, store_result_cb, &result);
    g_assert_cmpuint (_wzp_frame_io_get_queued (pair.writer), ==, 0);
    WAIT_UNTIL (result != NULL);
    g_assert_false (_wzp_frame_io_write_finish (pair.writer, result, &error));
    g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE);
  }

  media_pair_clear (&pair);
}

/* Voice goes ahead of the JSON frames waiting to be written, never ahead of the frame
 * being written, and keeps its own order. */
static void
test_media_first (void)
{
  MediaPair pair;
  g_autoptr(WzpMessage) first = ping_new (1, 0);
  g_autoptr(WzpMessage) second = ping_new (2, 20);
  g_autoptr(WzpMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  guint8 payload[80];

  media_pair_init (&pair);

  /* The first Ping is being written, the second waits; then three frames of voice. */
  _wzp_frame_io_send (pair.writer, first);
  _wzp_frame_io_send (pair.writer, second);
  memset (payload, 'v', sizeof payload);
  for (guint32 seq = 7; seq < 10; seq++)
    {
      WzpMediaFrame frame = { 1, 0, seq, seq * 960, payload, sizeof payload };

      _wzp_frame_io_send_media (pair.writer, &frame);
    }
  g_assert_cmpuint (_wzp_frame_io_get_queued (pair.writer), ==, 5);

  message = read_frame (pair.reader, NULL, &error);
  g_assert_no_error (error);
  assert_ping (message, 1, 0);
  g_clear_pointer (&message, _wzp_message_unref);
  message = read_frame (pair.reader, NULL, &error);
  g_assert_no_error (error);
  assert_ping (message, 2, 20);
  /* The voice came before the second Ping, in its own order. */
  g_assert_cmpuint (pair.seen.payloads->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (g_array_index (pair.seen.seqs, guint32, i), ==, 7 + i);

  media_pair_clear (&pair);
}

/* A frame of a kind this reader does not know, and media nobody asked for, are skipped
 * whole: the path stays, and nothing past the next JSON frame is read. Malformed media is
 * dropped and counted. */
static void
test_binary_skip_and_drop (void)
{
  g_autoptr(GByteArray) buffer = g_byte_array_new ();
  g_autoptr(WzpMessage) ping = ping_new (5, 3);
  g_autoptr(GBytes) good = media_body (9, 40);
  g_autofree guint8 *junk = g_malloc (WZP_FRAME_MAX_SIZE);
  g_autofree guint8 *zeros = g_malloc0 (WZP_FRAME_MAX_SIZE);
  static const guint32 bad_media_lens[] = { 0, 1, WZP_MEDIA_HEADER_LEN - 1,
                                            WZP_MEDIA_MAX_SIZE + 1, WZP_FRAME_MAX_SIZE };

  memset (junk, 0x5a, WZP_FRAME_MAX_SIZE);

  for (int with_func = 0; with_func < 2; with_func++)
    {
      g_autoptr(GIOStream) stream = NULL;
      g_autoptr(WzpFrameIO) io = NULL;
      g_autoptr(WzpMessage) message = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) rest = NULL;
      MediaSeen seen;

      g_test_message (with_func ? "with a media function" : "without a media function");
      media_seen_init (&seen);
      g_byte_array_set_size (buffer, 0);
      append_binary (buffer, 0x02, junk, 100);
      append_binary (buffer, 0x7f, NULL, 0);
      append_binary (buffer, 0xff, junk, WZP_FRAME_MAX_SIZE);
      for (gsize i = 0; i < G_N_ELEMENTS (bad_media_lens); i++)
        append_binary (buffer, WZP_FRAME_KIND_MEDIA, zeros, bad_media_lens[i]);
      append_binary (buffer, WZP_FRAME_KIND_MEDIA, g_bytes_get_data (good, NULL),
                     g_bytes_get_size (good));
      append_message (buffer, ping);
      g_byte_array_append (buffer, (const guint8 *) raw_tail, sizeof raw_tail - 1);

      stream = memory_stream_new (buffer->data, buffer->len, NULL);
      io = _wzp_frame_io_new (stream);
      _wzp_frame_io_set_binary_frames (io, TRUE);
      if (with_func)
        _wzp_frame_io_set_media_func (io, media_cb, &seen, NULL);

      message = read_frame (io, NULL, &error);
      g_assert_no_error (error);
      assert_ping (message, 5, 3);
      if (with_func)
        {
          g_assert_cmpuint (_wzp_frame_io_get_skipped_frames (io), ==, 3);
          g_assert_cmpuint (_wzp_frame_io_get_malformed_frames (io), ==,
                            G_N_ELEMENTS (bad_media_lens));
          g_assert_cmpuint (seen.payloads->len, ==, 1);
          g_assert_cmpuint (g_array_index (seen.seqs, guint32, 0), ==, 9);
        }
      else
        {
          /* Without a media function, media is not even parsed. */
          g_assert_cmpuint (_wzp_frame_io_get_skipped_frames (io), ==,
                            3 + G_N_ELEMENTS (bad_media_lens) + 1);
          g_assert_cmpuint (_wzp_frame_io_get_malformed_frames (io), ==, 0);
          g_assert_cmpuint (seen.payloads->len, ==, 0);
        }

      rest = read_raw (stream, sizeof raw_tail + 10);
      g_assert_cmpmem (g_bytes_get_data (rest, NULL), g_bytes_get_size (rest), raw_tail,
                       sizeof raw_tail - 1);

      drain_main_context ();
      g_assert_finalize_object (g_steal_pointer (&io));
      media_seen_clear (&seen);
    }
}

/* A binary frame's length over the limit breaks the framing: an error, as for JSON, and
 * the body is not read. Without binary frames (signalling) a kind byte is part of the
 * length, as before. */
static void
test_binary_too_large (void)
{
  static const struct { gboolean binary; guint32 header; } cases[] = {
    { TRUE, 0x01010001 },          /* media, 65537 bytes */
    { TRUE, 0x7fFFFFFF },          /* unknown kind, 16 MiB */
    { TRUE, 0x00010001 },          /* JSON, 65537 bytes */
    { FALSE, 0x01000020 },         /* media (32 bytes) on a connection without binary frames */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GByteArray) buffer = g_byte_array_new ();
      g_autoptr(GIOStream) stream = NULL;
      g_autoptr(WzpFrameIO) io = NULL;
      g_autoptr(WzpMessage) message = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) rest = NULL;

      append_header (buffer, cases[i].header);
      g_byte_array_append (buffer, (const guint8 *) "BODY", 4);
      stream = memory_stream_new (buffer->data, buffer->len, NULL);
      io = _wzp_frame_io_new (stream);
      _wzp_frame_io_set_binary_frames (io, cases[i].binary);

      message = read_frame (io, NULL, &error);
      g_assert_null (message);
      g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE);
      rest = read_raw (stream, 8);
      g_assert_cmpmem (g_bytes_get_data (rest, NULL), g_bytes_get_size (rest), "BODY", 4);

      drain_main_context ();
      g_assert_finalize_object (g_steal_pointer (&io));
    }

  /* The stream ending inside a binary frame is a torn frame. */
  {
    g_autoptr(GByteArray) buffer = g_byte_array_new ();
    g_autoptr(GIOStream) stream = NULL;
    g_autoptr(WzpFrameIO) io = NULL;
    g_autoptr(WzpMessage) message = NULL;
    g_autoptr(GError) error = NULL;

    append_header (buffer, 0x01000020);
    g_byte_array_append (buffer, (const guint8 *) "0123456789", 10);
    stream = memory_stream_new (buffer->data, buffer->len, NULL);
    io = _wzp_frame_io_new (stream);
    _wzp_frame_io_set_binary_frames (io, TRUE);
    message = read_frame (io, NULL, &error);
    g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_TRUNCATED);

    drain_main_context ();
    g_assert_finalize_object (g_steal_pointer (&io));
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/wzp/frame-io/write-format", test_write_format);
  g_test_add_func ("/wzp/frame-io/check-header", test_check_header);
  g_test_add_func ("/wzp/frame-io/round-trip/memory", test_round_trip_memory);
  g_test_add_func ("/wzp/frame-io/round-trip/socket", test_round_trip_socket);
  g_test_add_func ("/wzp/frame-io/write-order", test_write_order);
  g_test_add_func ("/wzp/frame-io/exact-read/memory", test_exact_read_memory);
  g_test_add_func ("/wzp/frame-io/exact-read/socket", test_exact_read_socket);
  g_test_add_func ("/wzp/frame-io/truncated/memory", test_truncated);
  g_test_add_func ("/wzp/frame-io/truncated/socket", test_truncated_socket);
  g_test_add_func ("/wzp/frame-io/too-large", test_too_large);
  g_test_add_func ("/wzp/frame-io/limit", test_limit);
  g_test_add_func ("/wzp/frame-io/bad-payloads", test_bad_payloads);
  g_test_add_func ("/wzp/frame-io/no-hang", test_no_hang);
  g_test_add_func ("/wzp/frame-io/slow-writer", test_slow_writer);
  g_test_add_func ("/wzp/frame-io/cancel", test_cancel);
  g_test_add_func ("/wzp/frame-io/cancel-unref", test_cancel_unref);
  g_test_add_func ("/wzp/frame-io/peer-closed", test_peer_closed);
  g_test_add_func ("/wzp/frame-io/write-closed-stream", test_write_closed_stream);
  g_test_add_func ("/wzp/frame-io/queue-limit", test_queue_limit);
  g_test_add_func ("/wzp/frame-io/pending-since", test_pending_since);
  g_test_add_func ("/wzp/frame-io/queue-limit/one-frame", test_queue_limit_one_frame);
  g_test_add_func ("/wzp/frame-io/media-frame/codec", test_media_frame_codec);
  g_test_add_func ("/wzp/frame-io/binary/json-unchanged", test_binary_json_unchanged);
  g_test_add_func ("/wzp/frame-io/binary/round-trip", test_binary_round_trip);
  g_test_add_func ("/wzp/frame-io/binary/media-first", test_media_first);
  g_test_add_func ("/wzp/frame-io/binary/skip-and-drop", test_binary_skip_and_drop);
  g_test_add_func ("/wzp/frame-io/binary/too-large", test_binary_too_large);

  return g_test_run ();
}
