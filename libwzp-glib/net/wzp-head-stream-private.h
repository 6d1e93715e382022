/* wzp-head-stream-private.h: a stream that keeps the first bytes read through it
 *
 * glib-networking reads a server's TLS records itself and reports a failed handshake only
 * as a translated sentence; it does not say which alert the server sent. A client's TLS
 * dial therefore runs TLS over a WzpHeadIOStream, which passes everything through and
 * keeps a copy of the first bytes the server sent, to tell a relay's refusal
 * (wzp-tls-refusal-private.h) from any other failure once the handshake has failed.
 *
 * Its input is pollable when its base's is (GTlsConnection needs pollable base streams);
 * its output is its base's. Closing it closes its base (so closing the TLS stream over it
 * still closes the socket); dropping the last reference does not, as with a
 * GSocketConnection that others still hold.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define WZP_TYPE_HEAD_IO_STREAM (_wzp_head_io_stream_get_type ())
G_DECLARE_FINAL_TYPE (WzpHeadIOStream, _wzp_head_io_stream, WZP, HEAD_IO_STREAM, GIOStream)

/* Wraps @base (whose input stream must be pollable: a socket connection's), keeping the
 * first @keep bytes read. */
GIOStream    *_wzp_head_io_stream_new       (GIOStream       *base,
                                             gsize            keep);
/* The bytes kept so far (at most @keep), and their number in *@len. Read it once the
 * reader is done (a TLS handshake may read in a worker thread): after its callback. */
const guint8 *_wzp_head_io_stream_get_head  (WzpHeadIOStream *self,
                                             gsize           *len);
GIOStream    *_wzp_head_io_stream_get_base  (WzpHeadIOStream *self);

G_END_DECLS
