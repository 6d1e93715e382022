/* wzp-path-private.h: an end-to-end authenticated path between the parties of a call
 *
 * Every path, however its TCP connection formed (relay pipe, dialled, accepted), runs the
 * call's own TLS: the caller is always the TLS client, the callee always the server, and
 * each pins the fingerprint it trusts for the peer (docs/decisions.md, "End-to-end TLS
 * on every path", "Pins never come from the relay").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-enums.h"
#include "wzp-frame-io-private.h"
#include "wzp-identity.h"

G_BEGIN_DECLS

/* Unsent bytes the kernel may hold on a path's socket: a few voice frames with their TLS
 * records (docs/voice.md). */
#define WZP_PATH_NOTSENT_LOWAT 1024

typedef struct
{
  grefcount    ref_count;
  GIOStream   *base;        /* the TCP connection */
  GIOStream   *tls;         /* the call's E2E TLS on it */
  WzpFrameIO  *io;          /* frames on the E2E stream */
  WzpPathKind  kind;
  char        *remote;      /* the peer's address (or the relay's, for a pipe) */
  char        *label;       /* the candidate it came from, for events */
  char        *peer;        /* the fingerprint pinned on this path */
  gboolean     closed;
} WzpPath;

WzpPath  *_wzp_path_ref   (WzpPath *path);
void      _wzp_path_unref (WzpPath *path);
/* Closes the path (both streams); idempotent. */
void      _wzp_path_close (WzpPath *path);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WzpPath, _wzp_path_unref)

/* Runs the call's E2E TLS handshake on @base (caller = client, callee = server), pinning
 * @peer_fingerprint. The result is a WzpPath of @kind that owns @base (the TCP
 * connection: closing the path closes it). @transport (nullable) is what TLS reads and
 * writes when that is not @base itself, e.g. @base's streams behind a check of the peer's
 * preamble (wzp-expect-stream-private.h). */
void      _wzp_path_secure_async      (GIOStream           *base,
                                       GIOStream           *transport,
                                       WzpIdentity         *identity,
                                       const char          *peer_fingerprint,
                                       WzpCallRole          role,
                                       WzpPathKind          kind,
                                       const char          *remote,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
WzpPath  *_wzp_path_secure_finish     (GAsyncResult        *result,
                                       GError             **error);

/* Opens a relay pipe: TCP to @pipe_addr, OpenPipe{call_id, token(secret, seq), seq}, and
 * the E2E handshake right behind it, whose reads take PipeReady first (exactly that
 * frame; anything else, or the relay closing the pipe, fails it). */
void      _wzp_path_open_pipe_async   (const char          *pipe_addr,
                                       const char          *call_id,
                                       const char          *pipe_secret,
                                       gint64               seq,
                                       WzpIdentity         *identity,
                                       const char          *peer_fingerprint,
                                       WzpCallRole          role,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
WzpPath  *_wzp_path_open_pipe_finish  (GAsyncResult        *result,
                                       GError             **error);

G_END_DECLS
