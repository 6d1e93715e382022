/* wzp-types.h: forward declarations shared by the public headers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(WZP_GLIB_INSIDE) && !defined(WZP_GLIB_COMPILATION)
# error "Only <wzp-glib.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

typedef struct _WzpCall WzpCall;
typedef struct _WzpClient WzpClient;

G_END_DECLS
