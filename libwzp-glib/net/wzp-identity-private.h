/* wzp-identity-private.h: identities for tests and benchmarks
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-identity.h"

G_BEGIN_DECLS

/* An identity that lives only in memory (tests, benchmarks with thousands of clients). */
WzpIdentity     *_wzp_identity_new_ephemeral   (GError         **error);

G_END_DECLS
