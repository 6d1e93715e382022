/* wzp-call-quality.c: how good a call sounds, judged from WzpCall:stats
 *
 * The judgement (docs/app.md, "Call quality"): the delay one way is estimated as half the
 * round trip plus the playout delay; the loss is the share of the audio due in the window
 * that the decoder had to make up (concealed frames: missing, or late and dropped).
 * Good: at most 150 ms one way (ITU-T G.114's limit for a good conversation) and at most
 * 1 % lost (Opus conceals that without anyone noticing); fair: at most 300 ms and 5 %;
 * poor beyond either.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "wzp-call-quality.h"

#define GOOD_DELAY_MS 150
#define FAIR_DELAY_MS 300
#define GOOD_LOSS     0.01
#define FAIR_LOSS     0.05

static gint64
lookup_int (GVariant   *stats,
            const char *key)
{
  gint64 value = -1;

  if (stats == NULL || !g_variant_lookup (stats, key, "x", &value))
    return -1;
  return value;
}

static guint64
lookup_count (GVariant   *stats,
              const char *key)
{
  guint64 value = 0;

  if (stats != NULL)
    g_variant_lookup (stats, key, "t", &value);
  return value;
}

/* Counters only grow; a sample from another call (or none) counts from zero. */
static guint64
delta (GVariant   *stats,
       GVariant   *earlier,
       const char *key)
{
  guint64 now = lookup_count (stats, key);
  guint64 then = lookup_count (earlier, key);

  return now >= then ? now - then : now;
}

/* @stats: the newest WzpCall:stats (a{sv}, nullable); @earlier: an older sample of the
 * same call to measure loss against (nullable: since the call began). */
WzpCallQuality
wzp_call_quality_assess (GVariant              *stats,
                         GVariant              *earlier,
                         WzpCallQualityFigures *figures)
{
  WzpCallQualityFigures f = { .rtt_ms = -1, .playout_ms = -1, .delay_ms = -1, .loss = -1 };
  guint64 played;
  WzpCallQuality quality = WZP_CALL_QUALITY_UNKNOWN;

  if (stats != NULL && g_variant_is_of_type (stats, G_VARIANT_TYPE_VARDICT))
    {
      f.rtt_ms = lookup_int (stats, "rtt-ms");
      f.playout_ms = lookup_int (stats, "playout-delay-ms");
      f.received = delta (stats, earlier, "frames-received");
      f.concealed = delta (stats, earlier, "frames-concealed");
      played = delta (stats, earlier, "frames-played");
      if (f.rtt_ms >= 0)
        f.delay_ms = f.rtt_ms / 2 + MAX (f.playout_ms, 0);
      /* Without voice from the other side (a call without audio) there is no loss to
       * speak of: only the delay counts then. */
      if (played + f.concealed > 0 && f.received > 0)
        f.loss = (double) f.concealed / (double) (played + f.concealed);

      if (f.delay_ms >= 0 || f.loss >= 0)
        {
          quality = WZP_CALL_QUALITY_GOOD;
          if (f.delay_ms > GOOD_DELAY_MS || f.loss > GOOD_LOSS)
            quality = WZP_CALL_QUALITY_FAIR;
          if (f.delay_ms > FAIR_DELAY_MS || f.loss > FAIR_LOSS)
            quality = WZP_CALL_QUALITY_POOR;
        }
    }
  if (figures != NULL)
    *figures = f;
  return quality;
}

/* For the indicator: NULL while nothing is known. */
const char *
wzp_call_quality_label (WzpCallQuality quality)
{
  switch (quality)
    {
    case WZP_CALL_QUALITY_GOOD:
      return _("Good connection");
    case WZP_CALL_QUALITY_FAIR:
      return _("Fair connection");
    case WZP_CALL_QUALITY_POOR:
      return _("Poor connection");
    case WZP_CALL_QUALITY_UNKNOWN:
    default:
      return NULL;
    }
}

const char *
wzp_call_quality_css_class (WzpCallQuality quality)
{
  switch (quality)
    {
    case WZP_CALL_QUALITY_GOOD:
      return "quality-good";
    case WZP_CALL_QUALITY_FAIR:
      return "quality-fair";
    case WZP_CALL_QUALITY_POOR:
      return "quality-poor";
    case WZP_CALL_QUALITY_UNKNOWN:
    default:
      return NULL;
    }
}

/* The figures in words, one a line, for the tooltip and Connection Details. */
char *
wzp_call_quality_describe (const WzpCallQualityFigures *figures)
{
  GString *text = g_string_new (NULL);

  if (figures->delay_ms >= 0)
    /* Translators: %d is a number of milliseconds. */
    g_string_append_printf (text, _("Delay: about %d ms one way"), (int) figures->delay_ms);
  else
    g_string_append (text, _("Delay: not measured yet"));
  g_string_append_c (text, '\n');
  if (figures->rtt_ms >= 0)
    /* Translators: %d is a number of milliseconds. */
    g_string_append_printf (text, _("Round trip: %d ms"), (int) figures->rtt_ms);
  else
    g_string_append (text, _("Round trip: not measured yet"));
  g_string_append_c (text, '\n');
  if (figures->loss >= 0)
    /* Translators: %.1f is a percentage such as 0.5; %% is the percent sign. */
    g_string_append_printf (text, _("Audio lost: %.1f %%"), figures->loss * 100.0);
  else
    g_string_append (text, _("Audio lost: no audio received"));
  return g_string_free (text, FALSE);
}
