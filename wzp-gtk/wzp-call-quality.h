/* wzp-call-quality.h: how good a call sounds, judged from WzpCall:stats
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  WZP_CALL_QUALITY_UNKNOWN,   /* nothing measured yet */
  WZP_CALL_QUALITY_GOOD,
  WZP_CALL_QUALITY_FAIR,
  WZP_CALL_QUALITY_POOR,
} WzpCallQuality;

/* What the judgement rests on, over the window between two samples of the stats. */
typedef struct
{
  gint64 rtt_ms;        /* the path's round trip, -1 when not measured */
  gint64 playout_ms;    /* how long received audio waits before it is played, -1 unknown */
  gint64 delay_ms;      /* one way, mouth to ear beyond processing: rtt/2 + playout; -1 */
  double loss;          /* share of the audio due that was concealed, 0..1; -1 unknown */
  guint64 received;     /* frames received in the window */
  guint64 concealed;    /* frames concealed in the window */
} WzpCallQualityFigures;

WzpCallQuality  wzp_call_quality_assess   (GVariant                    *stats,
                                           GVariant                    *earlier,
                                           WzpCallQualityFigures       *figures);
const char     *wzp_call_quality_label    (WzpCallQuality               quality);
const char     *wzp_call_quality_css_class (WzpCallQuality              quality);
char           *wzp_call_quality_describe (const WzpCallQualityFigures *figures);

G_END_DECLS
