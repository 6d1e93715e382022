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

double
bench_slope (const double *x,
             const double *y,
             guint         n,
             double       *intercept)
{
  double mx = 0, my = 0, sxx = 0, sxy = 0, slope;

  for (guint i = 0; i < n; i++)
    {
      mx += x[i];
      my += y[i];
    }
  if (n < 2)
    return NAN;
  mx /= n;
  my /= n;
  /* Centred sums: the times are large (microseconds) and the differences small. */
  for (guint i = 0; i < n; i++)
    {
      sxx += (x[i] - mx) * (x[i] - mx);
      sxy += (x[i] - mx) * (y[i] - my);
    }
  if (sxx == 0)
    return NAN;
  slope = sxy / sxx;
  if (intercept != NULL)
    *intercept = my - slope * mx;
  return slope;
}
