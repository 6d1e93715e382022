/* bench-stats.c: figures over a benchmark's samples (see bench-stats.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "bench-stats.h"

static int
cmp_double (gconstpointer a,
            gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

double
bench_percentile (GArray *samples,
                  double  p)
{
  guint rank;

  if (samples->len == 0)
    return NAN;
  g_array_sort (samples, cmp_double);
  rank = (guint) ceil (p / 100.0 * samples->len);
  return g_array_index (samples, double, MAX (rank, 1) - 1);
}
