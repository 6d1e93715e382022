/* wzp-send-queue.c: the sender's queue of media frames (see wzp-send-queue-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-send-queue-private.h"

typedef struct
{
  GBytes *frame;
  gint64  duration_us;
} Entry;

struct _WzpSendQueue
{
  GQueue  entries;      /* of Entry, oldest first */
  gint64  limit_us;
  gint64  queued_us;
  guint64 dropped;
};

static GBytes *
take_oldest (WzpSendQueue *self,
             gint64       *duration_us)
{
  Entry *entry = g_queue_pop_head (&self->entries);
  GBytes *frame = entry->frame;

  self->queued_us -= entry->duration_us;
  if (duration_us != NULL)
    *duration_us = entry->duration_us;
  g_free (entry);

  return frame;
}

/* Drops the oldest frames while there is more than the limit, keeping the newest. */
static guint
trim (WzpSendQueue *self)
{
  guint dropped = 0;

  while (self->queued_us > self->limit_us && self->entries.length > 1)
    {
      g_bytes_unref (take_oldest (self, NULL));
      dropped++;
    }
  self->dropped += dropped;

  return dropped;
}

WzpSendQueue *
_wzp_send_queue_new (gint64 limit_us)
{
  WzpSendQueue *self;

  g_return_val_if_fail (limit_us >= WZP_SEND_QUEUE_MIN_LIMIT_US &&
                        limit_us <= WZP_SEND_QUEUE_MAX_LIMIT_US, NULL);

  self = g_new0 (WzpSendQueue, 1);
  g_queue_init (&self->entries);
  self->limit_us = limit_us;

  return self;
}

void
_wzp_send_queue_free (WzpSendQueue *self)
{
  if (self == NULL)
    return;

  _wzp_send_queue_clear (self);
  g_free (self);
}

void
_wzp_send_queue_set_limit (WzpSendQueue *self,
                           gint64        limit_us)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (limit_us >= WZP_SEND_QUEUE_MIN_LIMIT_US &&
                    limit_us <= WZP_SEND_QUEUE_MAX_LIMIT_US);

  self->limit_us = limit_us;
  trim (self);
}

gint64
_wzp_send_queue_get_limit (WzpSendQueue *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->limit_us;
}

guint
_wzp_send_queue_push (WzpSendQueue *self,
                      GBytes       *frame,
                      gint64        duration_us)
{
  Entry *entry;

  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (frame != NULL, 0);
  g_return_val_if_fail (duration_us > 0, 0);

  entry = g_new (Entry, 1);
  entry->frame = g_bytes_ref (frame);
  entry->duration_us = duration_us;
  g_queue_push_tail (&self->entries, entry);
  self->queued_us += duration_us;

  return trim (self);
}

GBytes *
_wzp_send_queue_pop (WzpSendQueue *self,
                     gint64       *duration_us)
{
  g_return_val_if_fail (self != NULL, NULL);

  if (self->entries.length == 0)
    return NULL;

  return take_oldest (self, duration_us);
}

void
_wzp_send_queue_clear (WzpSendQueue *self)
{
  g_return_if_fail (self != NULL);

  while (self->entries.length > 0)
    g_bytes_unref (take_oldest (self, NULL));
}

guint
_wzp_send_queue_get_length (WzpSendQueue *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->entries.length;
}

gint64
_wzp_send_queue_get_queued_us (WzpSendQueue *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->queued_us;
}

guint64
_wzp_send_queue_get_dropped (WzpSendQueue *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->dropped;
}
