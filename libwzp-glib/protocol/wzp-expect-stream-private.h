/* wzp-expect-stream-private.h: an input stream that must begin with known bytes
 *
 * The direct-connection preamble (docs/calls.md, "The race") comes from the peer just
 * ahead of its TLS records. Waiting for it before starting TLS costs half a round trip on
 * the TLS client side; instead the TLS handshake reads through a WzpExpectInputStream,
 * which first reads exactly the expected bytes from its base stream (never more, so the
 * TLS bytes that follow stay for TLS: docs/decisions.md, "Exact reads before a hand-over")
 * and checks them. Different or missing bytes fail every read with the message given at
 * construction, so the handshake, and only the connection it runs on, fails.
 *
 * It is pollable when its base stream is (GTlsConnection needs pollable base streams).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-message-private.h"

G_BEGIN_DECLS

#define WZP_TYPE_EXPECT_INPUT_STREAM (_wzp_expect_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (WzpExpectInputStream, _wzp_expect_input_stream, WZP, EXPECT_INPUT_STREAM,
                      GFilterInputStream)

/* @base must be a GPollableInputStream (a socket's input stream). @mismatch_message is
 * the error (WZP_PROTOCOL_ERROR_UNEXPECTED) when the stream does not begin with
 * @expected. Closing the stream does not close @base. */
GInputStream *_wzp_expect_input_stream_new        (GInputStream          *base,
                                                   const guint8          *expected,
                                                   gsize                  len,
                                                   const char            *mismatch_message);
/* The same for one whole frame (wzp-frame-io.c framing) of message @type: a relay pipe's
 * PipeReady, read by the E2E handshake that was started right behind OpenPipe. Another
 * message fails with WZP_PROTOCOL_ERROR_UNEXPECTED, a malformed frame with its decoding
 * error, and the end of the stream or a reset before the whole frame with
 * WZP_PROTOCOL_ERROR_REMOTE and @closed_message. */
GInputStream *_wzp_expect_input_stream_new_frame  (GInputStream          *base,
                                                   WzpMessageType         type,
                                                   const char            *closed_message);
/* TRUE once the expected bytes (or frame) were read and matched. */
gboolean      _wzp_expect_input_stream_matched    (WzpExpectInputStream  *self);
/* TRUE (and @error set, nullable) when the stream did not begin with the expected bytes. */
gboolean      _wzp_expect_input_stream_failed     (WzpExpectInputStream  *self,
                                                   GError               **error);

/* A GIOStream for a TLS handshake: @connection's output, and its input through a new
 * WzpExpectInputStream (returned in @expect, a new reference, for the outcome). Closing
 * it does not close the socket: close @connection for that. */
GIOStream    *_wzp_expect_io_stream_new           (GIOStream             *connection,
                                                   const guint8          *expected,
                                                   gsize                  len,
                                                   const char            *mismatch_message,
                                                   WzpExpectInputStream **expect);

/* The same with _wzp_expect_input_stream_new_frame(). */
GIOStream    *_wzp_expect_frame_io_stream_new     (GIOStream             *connection,
                                                   WzpMessageType         type,
                                                   const char            *closed_message,
                                                   WzpExpectInputStream **expect);

G_END_DECLS
