/* wzp-send-queue-private.h: the sender's queue of media frames, bounded in audio time
 *
 * Frames wait here between the encoder and the path's stream. When TCP cannot take them
 * as fast as they come (the path stalls, or its rate drops), they would pile up and every
 * later frame would be as late as the pile is long. So the queue holds at most a limit of
 * audio (WZP_SEND_QUEUE_DEFAULT_LIMIT_US, settable from WZP_SEND_QUEUE_MIN_LIMIT_US to
 * WZP_SEND_QUEUE_MAX_LIMIT_US) and drops the oldest frames beyond it: what the receiver
 * would have played too late anyway (docs/voice.md, "Sender queue").
 *
 * Pure logic: no clock and no I/O. The writer pops a frame whenever the stream can take
 * one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define WZP_SEND_QUEUE_DEFAULT_LIMIT_US ((gint64) 80 * 1000)
#define WZP_SEND_QUEUE_MIN_LIMIT_US     ((gint64) 20 * 1000)
#define WZP_SEND_QUEUE_MAX_LIMIT_US     ((gint64) 200 * 1000)

typedef struct _WzpSendQueue WzpSendQueue;

/* An empty queue holding at most @limit_us of audio. */
WzpSendQueue *_wzp_send_queue_new           (gint64         limit_us);
void          _wzp_send_queue_free          (WzpSendQueue  *self);

/* A new limit; frames beyond it are dropped at once (the oldest first). */
void          _wzp_send_queue_set_limit     (WzpSendQueue  *self,
                                             gint64         limit_us);
gint64        _wzp_send_queue_get_limit     (WzpSendQueue  *self);

/* Queues @frame (a reference is taken) holding @duration_us of audio, then drops the
 * oldest frames while the queue holds more than its limit. The frame just pushed is
 * never dropped, even when it alone is longer than the limit. Returns how many were
 * dropped. */
guint         _wzp_send_queue_push          (WzpSendQueue  *self,
                                             GBytes        *frame,
                                             gint64         duration_us);
/* The oldest frame (the caller's reference), and its duration in @duration_us (may be
 * NULL); NULL when the queue is empty. */
GBytes       *_wzp_send_queue_pop           (WzpSendQueue  *self,
                                             gint64        *duration_us);
/* Drops every frame, without counting them as dropped (a call that ends, a new path). */
void          _wzp_send_queue_clear         (WzpSendQueue  *self);

guint         _wzp_send_queue_get_length    (WzpSendQueue  *self);
/* The audio queued, in microseconds. */
gint64        _wzp_send_queue_get_queued_us (WzpSendQueue  *self);
/* Frames dropped for the limit since the queue was made. */
guint64       _wzp_send_queue_get_dropped   (WzpSendQueue  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WzpSendQueue, _wzp_send_queue_free)

G_END_DECLS
