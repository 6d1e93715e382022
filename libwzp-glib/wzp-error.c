/* wzp-error.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-error.h"

G_DEFINE_QUARK (wzp-protocol-error-quark, wzp_protocol_error)
