/* test-expect-stream.c: reading the peer's preamble in front of its TLS bytes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "test-util.h"
#include "wzp-error.h"
#include "wzp-expect-stream-private.h"
#include "wzp-message-private.h"
#include "wzp-tls-private.h"

#define MISMATCH "not the expected preamble"

static const guint8 expected[] = "WZP\001preamble-of-this-call";

/* A connected pair of stream sockets (AF_UNIX: pollable, no network needed). */
static void
socket_pair (GSocketConnection **a,
             GSocketConnection **b)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) sa = NULL;
  g_autoptr(GSocket) sb = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  sa = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  sb = g_socket_new_from_fd (fds[1], &error);
  g_assert_no_error (error);
  *a = g_socket_connection_factory_create_connection (sa);
  *b = g_socket_connection_factory_create_connection (sb);
}

static void
write_bytes (GSocketConnection *conn,
             const void        *data,
             gsize              len)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), data, len,
                             NULL, NULL, &error);
  g_assert_no_error (error);
}

typedef struct
{
  GByteArray *data;
  GError     *error;
  gboolean    done;
} ReadAll;

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  ReadAll *r = user_data;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result,
                                                              &r->error);

  if (bytes != NULL)
    g_byte_array_append (r->data, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  r->done = TRUE;
}

/* Reads until @want bytes came or an error (asynchronously: the pollable path). */
static void
read_async_until (GInputStream *stream,
                  ReadAll      *r,
                  gsize         want)
{
  while (r->error == NULL && r->data->len < want)
    {
      r->done = FALSE;
      g_input_stream_read_bytes_async (stream, 4096, G_PRIORITY_DEFAULT, NULL, read_cb, r);
      wzp_test_wait_flag (&r->done, 5000);
    }
}

/* The preamble is consumed and checked; the bytes behind it, even when they arrived in
 * the same segment, are all the reader sees. Arrival in small pieces is fine. */
static void
test_passes_what_follows (void)
{
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GByteArray) first = g_byte_array_new ();
  ReadAll r = { g_byte_array_new (), NULL, FALSE };

  socket_pair (&a, &b);
  stream = _wzp_expect_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (b)),
                                         expected, sizeof expected, MISMATCH);

  /* In three pieces: part of the preamble, the rest with the first TLS bytes, more TLS. */
  write_bytes (a, expected, 5);
  g_byte_array_append (first, expected + 5, sizeof expected - 5);
  g_byte_array_append (first, (const guint8 *) "\x16\x03\x01", 3);
  write_bytes (a, first->data, first->len);
  g_assert_false (_wzp_expect_input_stream_matched (WZP_EXPECT_INPUT_STREAM (stream)));
  read_async_until (stream, &r, 3);
  g_assert_no_error (r.error);
  g_assert_true (_wzp_expect_input_stream_matched (WZP_EXPECT_INPUT_STREAM (stream)));
  write_bytes (a, "rest", 4);
  read_async_until (stream, &r, 7);
  g_assert_no_error (r.error);
  g_assert_cmpmem (r.data->data, r.data->len, "\x16\x03\x01rest", 7);
  g_assert_false (_wzp_expect_input_stream_failed (WZP_EXPECT_INPUT_STREAM (stream), NULL));

  g_byte_array_unref (r.data);
}

/* A blocking reader (a TLS handshake in a worker thread) gets the same. */
static void
test_blocking_read (void)
{
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  guint8 buf[16];
  gssize n;

  socket_pair (&a, &b);
  stream = _wzp_expect_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (b)),
                                         expected, sizeof expected, MISMATCH);
  write_bytes (a, expected, sizeof expected);
  write_bytes (a, "tls", 3);
  n = g_input_stream_read (stream, buf, sizeof buf, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, "tls", 3);
}

static GInputStream *
preamble_stream (GSocketConnection *b)
{
  return _wzp_expect_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (b)),
                                       expected, sizeof expected, MISMATCH);
}

/* Feeds @data (then a few bytes more, or the end of the stream) to a stream made by
 * @make, and checks its verdict: @domain/@code with @message_part in the message, no byte
 * passed on, and the same error at once for every later read. */
static void
check_refused_by (GInputStream *(*make) (GSocketConnection *b),
                  const void    *data,
                  gsize          len,
                  gboolean       close_after,
                  GQuark         domain,
                  int            code,
                  const char    *message_part)
{
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  ReadAll r = { g_byte_array_new (), NULL, FALSE };
  guint8 buf[16];

  socket_pair (&a, &b);
  stream = make (b);
  write_bytes (a, data, len);
  if (close_after)
    g_io_stream_close (G_IO_STREAM (a), NULL, NULL);
  else
    write_bytes (a, "tls", 3);

  read_async_until (stream, &r, 1);
  g_assert_error (r.error, domain, code);
  g_assert_nonnull (strstr (r.error->message, message_part));
  g_assert_cmpuint (r.data->len, ==, 0);
  g_assert_false (_wzp_expect_input_stream_matched (WZP_EXPECT_INPUT_STREAM (stream)));
  g_assert_true (_wzp_expect_input_stream_failed (WZP_EXPECT_INPUT_STREAM (stream), &error));
  g_assert_error (error, domain, code);
  g_clear_error (&error);

  /* The verdict stands: later reads fail the same way, at once. */
  g_assert_cmpint (g_input_stream_read (stream, buf, sizeof buf, NULL, &error), ==, -1);
  g_assert_error (error, domain, code);
  g_clear_error (&r.error);
  g_byte_array_unref (r.data);
}

static void
check_refused (const void *data,
               gsize       len,
               gboolean    close_after)
{
  check_refused_by (preamble_stream, data, len, close_after, WZP_PROTOCOL_ERROR,
                    WZP_PROTOCOL_ERROR_UNEXPECTED, MISMATCH);
}

/* Another call's preamble, the first byte already wrong, and a peer that closes before
 * the preamble is complete. */
static void
test_refuses_wrong (void)
{
  guint8 other[sizeof expected];

  memcpy (other, expected, sizeof expected);
  other[sizeof expected - 2] ^= 1;
  check_refused (other, sizeof other, FALSE);
  check_refused ("\x16\x03\x01", 3, FALSE);
  check_refused (expected, 10, TRUE);
}

/* Frame mode: a relay pipe's PipeReady, read by the handshake started behind OpenPipe. */

#define PIPE_CLOSED "the relay closed the pipe"

static GByteArray *
frame_of (WzpMessage *message)
{
  g_autoptr(GBytes) body = _wzp_message_encode (message);
  gsize len = g_bytes_get_size (body);
  guint8 header[4] = { len >> 24, len >> 16, len >> 8, len };
  GByteArray *frame = g_byte_array_new ();

  g_byte_array_append (frame, header, sizeof header);
  g_byte_array_append (frame, g_bytes_get_data (body, NULL), len);
  return frame;
}

static GInputStream *
frame_stream (GSocketConnection *b)
{
  return _wzp_expect_input_stream_new_frame (g_io_stream_get_input_stream (G_IO_STREAM (b)),
                                             WZP_MESSAGE_PIPE_READY, PIPE_CLOSED);
}

/* PipeReady is consumed whole (here in three pieces, the last with the peer's first TLS
 * bytes); the reader sees only what follows it. */
static void
test_frame_passes_what_follows (void)
{
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(WzpMessage) ready = _wzp_message_new_for_call (WZP_MESSAGE_PIPE_READY, "call-1");
  g_autoptr(GByteArray) frame = frame_of (ready);
  g_autoptr(GByteArray) tail = g_byte_array_new ();
  ReadAll r = { g_byte_array_new (), NULL, FALSE };

  socket_pair (&a, &b);
  stream = frame_stream (b);
  write_bytes (a, frame->data, 2);
  write_bytes (a, frame->data + 2, 5);
  g_byte_array_append (tail, frame->data + 7, frame->len - 7);
  g_byte_array_append (tail, (const guint8 *) "\x16\x03\x01", 3);
  write_bytes (a, tail->data, tail->len);
  read_async_until (stream, &r, 3);
  g_assert_no_error (r.error);
  g_assert_cmpmem (r.data->data, r.data->len, "\x16\x03\x01", 3);
  g_assert_true (_wzp_expect_input_stream_matched (WZP_EXPECT_INPUT_STREAM (stream)));
  g_byte_array_unref (r.data);
}

/* Another message, a frame over the limit, a body that is no message, and a relay that
 * closes the pipe half-way through the frame (or before it: it refused the pipe). */
static void
test_frame_refuses (void)
{
  g_autoptr(WzpMessage) error_message = _wzp_message_new_error ("bad_token", "no such pipe", NULL);
  g_autoptr(GByteArray) other = frame_of (error_message);
  g_autoptr(WzpMessage) ready = _wzp_message_new_for_call (WZP_MESSAGE_PIPE_READY, "call-1");
  g_autoptr(GByteArray) frame = frame_of (ready);
  const guint8 huge[] = { 0x00, 0x10, 0x00, 0x00 };
  const guint8 junk[] = { 0x00, 0x00, 0x00, 0x04, 'j', 'u', 'n', 'k' };

  check_refused_by (frame_stream, other->data, other->len, FALSE, WZP_PROTOCOL_ERROR,
                    WZP_PROTOCOL_ERROR_UNEXPECTED, "where PipeReady was expected");
  check_refused_by (frame_stream, huge, sizeof huge, FALSE, WZP_PROTOCOL_ERROR,
                    WZP_PROTOCOL_ERROR_FRAME_TOO_LARGE, "over the limit");
  check_refused_by (frame_stream, junk, sizeof junk, FALSE, WZP_PROTOCOL_ERROR,
                    WZP_PROTOCOL_ERROR_INVALID_JSON, "");
  check_refused_by (frame_stream, frame->data, frame->len - 3, TRUE, WZP_PROTOCOL_ERROR,
                    WZP_PROTOCOL_ERROR_REMOTE, PIPE_CLOSED);
  check_refused_by (frame_stream, "", 0, TRUE, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_REMOTE,
                    PIPE_CLOSED);
}

/* What the race does: both ends send their preamble and start TLS at once (the client's
 * ClientHello right behind its preamble); each TLS reads through its expect stream. */
typedef struct
{
  GIOStream *tls;
  GError    *error;
  gboolean   done;
} Handshake;

static void
handshake_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Handshake *h = user_data;

  g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &h->error);
  h->done = TRUE;
}

static void
test_tls_behind_preamble (void)
{
  g_autoptr(WzpIdentity) client_id = wzp_test_identity_new ();
  g_autoptr(WzpIdentity) server_id = wzp_test_identity_new ();
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GIOStream) ta = NULL;
  g_autoptr(GIOStream) tb = NULL;
  g_autoptr(WzpExpectInputStream) ea = NULL;
  g_autoptr(WzpExpectInputStream) eb = NULL;
  g_autoptr(GError) error = NULL;
  Handshake ha = { 0 };
  Handshake hb = { 0 };
  guint8 buf[8];
  gssize n;

  socket_pair (&a, &b);
  ta = _wzp_expect_io_stream_new (G_IO_STREAM (a), expected, sizeof expected, MISMATCH, &ea);
  tb = _wzp_expect_io_stream_new (G_IO_STREAM (b), expected, sizeof expected, MISMATCH, &eb);

  /* The client's preamble and ClientHello go out before the server's preamble exists. */
  write_bytes (a, expected, sizeof expected);
  ha.tls = _wzp_tls_client_new (ta, wzp_identity_get_certificate (client_id),
                                wzp_identity_get_fingerprint (server_id),
                                &error);
  g_assert_no_error (error);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (ha.tls), G_PRIORITY_DEFAULT, NULL,
                                    handshake_cb, &ha);
  wzp_test_spin (20);
  g_assert_false (ha.done);

  write_bytes (b, expected, sizeof expected);
  hb.tls = _wzp_tls_server_new (tb, wzp_identity_get_certificate (server_id),
                                wzp_identity_get_fingerprint (client_id),
                                &error);
  g_assert_no_error (error);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (hb.tls), G_PRIORITY_DEFAULT, NULL,
                                    handshake_cb, &hb);
  wzp_test_wait_flag (&ha.done, 5000);
  wzp_test_wait_flag (&hb.done, 5000);
  g_assert_no_error (ha.error);
  g_assert_no_error (hb.error);
  g_assert_true (_wzp_expect_input_stream_matched (ea));
  g_assert_true (_wzp_expect_input_stream_matched (eb));

  /* Data flows over TLS as usual. */
  g_output_stream_write_all (g_io_stream_get_output_stream (ha.tls), "hello", 5, NULL, NULL,
                             &error);
  g_assert_no_error (error);
  n = g_input_stream_read (g_io_stream_get_input_stream (hb.tls), buf, sizeof buf, NULL,
                           &error);
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, "hello", 5);

  /* Closing the TLS stack does not close the connection under it. */
  g_assert_true (g_io_stream_close (ta, NULL, NULL));
  g_assert_false (g_socket_is_closed (g_socket_connection_get_socket (a)));

  g_io_stream_close (G_IO_STREAM (a), NULL, NULL);
  g_io_stream_close (G_IO_STREAM (b), NULL, NULL);
  g_clear_object (&ha.tls);
  g_clear_object (&hb.tls);
}

/* A wrong preamble fails the TLS handshake reading behind it; the check says why. */
static void
test_tls_wrong_preamble (void)
{
  g_autoptr(WzpIdentity) client_id = wzp_test_identity_new ();
  g_autoptr(WzpIdentity) server_id = wzp_test_identity_new ();
  g_autoptr(GSocketConnection) a = NULL;
  g_autoptr(GSocketConnection) b = NULL;
  g_autoptr(GIOStream) ta = NULL;
  g_autoptr(WzpExpectInputStream) ea = NULL;
  g_autoptr(GError) error = NULL;
  Handshake ha = { 0 };

  socket_pair (&a, &b);
  ta = _wzp_expect_io_stream_new (G_IO_STREAM (a), expected, sizeof expected, MISMATCH, &ea);
  write_bytes (b, "HTTP/1.1 400 Bad Request\r\n\r\n", 28);
  ha.tls = _wzp_tls_client_new (ta, wzp_identity_get_certificate (client_id),
                                wzp_identity_get_fingerprint (server_id),
                                &error);
  g_assert_no_error (error);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (ha.tls), G_PRIORITY_DEFAULT, NULL,
                                    handshake_cb, &ha);
  wzp_test_wait_flag (&ha.done, 5000);
  g_assert_nonnull (ha.error);
  g_assert_true (_wzp_expect_input_stream_failed (ea, &error));
  g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_UNEXPECTED);

  g_clear_error (&ha.error);
  g_io_stream_close (G_IO_STREAM (a), NULL, NULL);
  g_clear_object (&ha.tls);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/wzp/expect-stream/passes-what-follows", test_passes_what_follows);
  g_test_add_func ("/wzp/expect-stream/blocking-read", test_blocking_read);
  g_test_add_func ("/wzp/expect-stream/refuses-wrong", test_refuses_wrong);
  g_test_add_func ("/wzp/expect-stream/tls-behind-preamble", test_tls_behind_preamble);
  g_test_add_func ("/wzp/expect-stream/tls-wrong-preamble", test_tls_wrong_preamble);
  g_test_add_func ("/wzp/expect-stream/frame-passes-what-follows", test_frame_passes_what_follows);
  g_test_add_func ("/wzp/expect-stream/frame-refuses", test_frame_refuses);

  return g_test_run ();
}
