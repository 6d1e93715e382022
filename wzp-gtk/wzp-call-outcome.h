/* wzp-call-outcome.h: how a call ended, in the words the call page shows
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <wzp-glib.h>

G_BEGIN_DECLS

void  wzp_call_outcome_from_error   (const GError  *error,
                                     char         **title,
                                     char         **detail);
void  wzp_call_outcome_from_call    (WzpCall       *call,
                                     gint64         connected_seconds,
                                     char         **title,
                                     char         **detail);

G_END_DECLS
