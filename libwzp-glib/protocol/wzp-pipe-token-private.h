/* wzp-pipe-token-private.h: the single-use token that opens a relay pipe (docs/protocol.md,
 * "Pipes and their tokens")
 *
 *   pipe_token = hex (SHA-256 (secret ":" seq)[0..16]),  seq = 1, 2, 3, ...
 *
 * Protocol level: the client derives it to open its pipe, the relay to check an OpenPipe
 * and to open or check a federation bridge.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The relay's pipe token for a party's @seq-th pipe. */
char     *_wzp_pipe_token_derive      (const char          *secret,
                                       gint64               seq);

G_END_DECLS
