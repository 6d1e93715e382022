/* wzp-version.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-version.h"

/**
 * wzp_get_version:
 *
 * Gets the version of the libwzp-glib that the program runs against.
 *
 * Returns: the version, such as "0.1.0"
 *
 * Since: 1.0
 */
const char *
wzp_get_version (void)
{
  return WZP_VERSION_S;
}
