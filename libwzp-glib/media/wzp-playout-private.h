/* wzp-playout-private.h: the receiver's playout buffer for one media stream
 *
 * Media frames come in over TCP (a relay pipe or a direct connection), so none is ever
 * lost on a path: a frame is late, never missing. The buffer decides, on the receiver's
 * clock, what to hand the decoder every frame period: the frame whose time has come, a
 * gap for the decoder to conceal (Opus PLC) when it has not arrived, and nothing of a
 * frame that comes after its time. The algorithm is described at the top of
 * wzp-playout.c and in docs/voice.md, "Playout buffer".
 *
 * Pure logic: no clock, no I/O, no GStreamer. Every call that needs the time takes it
 * (monotonic, in microseconds), so tests drive the buffer with a clock of their own
 * (tests/test-playout.c).
 *
 * Use: _wzp_playout_push() each media frame as it arrives, from any path (copies from two
 * paths and frames out of order are expected); arm a timer for
 * _wzp_playout_next_deadline(); when it fires, call _wzp_playout_pop() until it returns
 * WZP_PLAYOUT_WAIT, feeding each FRAME to the decoder and turning each GAP into a
 * concealed frame.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Durations are 64-bit, so that products with a clock rate do not overflow.
 *
 * The target delay (beyond the fastest recent frame) stays within these. */
#define WZP_PLAYOUT_MIN_DELAY_US      ((gint64) 20 * 1000)
#define WZP_PLAYOUT_MAX_DELAY_US      ((gint64) 200 * 1000)
/* How fast the delay comes down once jitter has gone: 5 ms every second. */
#define WZP_PLAYOUT_LOWER_US_PER_SEC  ((gint64) 5 * 1000)
/* The fastest frame of this long (arrival minus media time) is the base of the delay. */
#define WZP_PLAYOUT_BASE_WINDOW_US    ((gint64) 10 * G_USEC_PER_SEC)
/* The delay follows the 95th percentile of the frames that arrived over this long. */
#define WZP_PLAYOUT_JITTER_WINDOW_US  ((gint64) 2 * G_USEC_PER_SEC)
/* At most this much audio is queued; more frames are refused. */
#define WZP_PLAYOUT_CAPACITY_US       ((gint64) 1 * G_USEC_PER_SEC)
/* A timestamp further than this from where the sequence number puts the frame is believed
 * only if the frame's arrival agrees (a sender that dropped frames through a stall);
 * otherwise it is a jump of the sender's clock, and the buffer resyncs. */
#define WZP_PLAYOUT_JUMP_US           ((gint64) 200 * 1000)
/* Slots that a late _wzp_playout_pop() missed by more than this are skipped, not played. */
#define WZP_PLAYOUT_MAX_BACKLOG_US    ((gint64) 100 * 1000)

typedef enum {
  WZP_PLAYOUT_ACCEPTED,       /* queued until its time */
  WZP_PLAYOUT_DUPLICATE,      /* a copy of a frame already received (the other path's) */
  WZP_PLAYOUT_LATE,           /* its time has passed: dropped */
  WZP_PLAYOUT_OUT_OF_WINDOW,  /* far ahead of the stream, or the buffer is full: refused */
} WzpPlayoutPush;

typedef enum {
  WZP_PLAYOUT_WAIT,   /* nothing due: not started, or before the next deadline */
  WZP_PLAYOUT_FRAME,  /* decode this payload now */
  WZP_PLAYOUT_GAP,    /* nothing to decode for this frame period: conceal one frame */
} WzpPlayoutPop;

typedef struct
{
  guint64 received;         /* every push */
  guint64 played;           /* FRAMEs popped */
  guint64 concealed;        /* GAPs popped */
  guint64 late;             /* frames dropped because their time had passed */
  guint64 duplicates;       /* copies dropped */
  guint64 refused;          /* pushes out of the window or over the capacity */
  guint64 resyncs;          /* the timing started again (a sender clock jump) */
  gint64  target_delay_us;  /* the delay beyond the fastest recent frame, now */
  guint   buffered;         /* frames queued now */
} WzpPlayoutStats;

typedef struct _WzpPlayout WzpPlayout;

/* A buffer for a stream with a @clock_rate Hz media clock (48000 for Opus) and frames of
 * @frame_us (20000): one frame is @clock_rate * @frame_us / 1000000 ticks, which must be
 * a whole number. */
WzpPlayout     *_wzp_playout_new           (unsigned          clock_rate,
                                            gint64            frame_us);
void            _wzp_playout_free          (WzpPlayout       *self);

/* Forgets the stream, its timing and the counters: the next push starts a new stream. */
void            _wzp_playout_reset         (WzpPlayout       *self);

/* A media frame with @seq and @timestamp (as sent, wrapping at 2^32) arrived at
 * @arrival_us. Keeps a reference to @payload when it is ACCEPTED. The first frame pushed
 * starts the stream: its deadline is @arrival_us + WZP_PLAYOUT_MIN_DELAY_US, and the
 * first slot a quarter frame after that. */
WzpPlayoutPush  _wzp_playout_push          (WzpPlayout       *self,
                                            guint32           seq,
                                            guint32           timestamp,
                                            GBytes           *payload,
                                            gint64            arrival_us);

/* When _wzp_playout_pop() has its next unit (the next slot: it may be in the past), or
 * -1 before the stream has started. Slots are one frame period apart. */
gint64          _wzp_playout_next_deadline (WzpPlayout       *self);

/* At @now_us: WAIT before the next deadline; otherwise the frame period of that deadline
 * is consumed and the result is FRAME, with the payload in @payload (a new reference), or
 * GAP. Call again until WAIT: a caller that comes late gets the periods it missed, at
 * most WZP_PLAYOUT_MAX_BACKLOG_US of them. */
WzpPlayoutPop   _wzp_playout_pop           (WzpPlayout       *self,
                                            gint64            now_us,
                                            GBytes          **payload);

void            _wzp_playout_get_stats     (WzpPlayout       *self,
                                            WzpPlayoutStats  *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WzpPlayout, _wzp_playout_free)

G_END_DECLS
