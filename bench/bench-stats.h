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

/* The least-squares line through the points (@x[i], @y[i]), i < @n: its slope, and its
 * intercept in *@intercept when not NULL; NAN when fewer than two distinct x. */
double bench_slope      (const double *x,
                         const double *y,
                         guint         n,
                         double       *intercept);

G_END_DECLS
