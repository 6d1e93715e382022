/* bench-stats.h: figures over a benchmark's samples, shared by the benchmarks
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The nearest-rank @p-th percentile (0 < @p <= 100) of @samples, an array of double,
 * which it sorts in place; NAN when there are none. */
double bench_percentile (GArray *samples,
                         double  p);

G_END_DECLS
