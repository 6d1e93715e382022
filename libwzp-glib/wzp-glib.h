/* wzp-glib.h: the single header of libwzp-glib
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#define WZP_GLIB_INSIDE

#include "wzp-version.h"
#include "wzp-enums.h"
#include "wzp-enum-types.h"
#include "wzp-error.h"
#include "wzp-types.h"
#include "wzp-identity.h"
#include "wzp-relay-uri.h"
#include "wzp-audio-devices.h"
#include "wzp-call.h"
#include "wzp-client.h"
#include "wzp-relay.h"

#undef WZP_GLIB_INSIDE
