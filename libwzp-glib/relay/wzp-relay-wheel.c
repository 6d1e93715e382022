/* wzp-relay-wheel.c: deadlines for many connections on one timer (see the header)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-relay-wheel-private.h"

/* 256 slots of 250 ms: one turn is 64 s, longer than the default keepalive interval, so
 * most entries fire on their first visit. */
#define N_SLOTS 256
#define TICK_US ((gint64) WHEEL_TICK_MS * 1000)

typedef struct
{
  GSource     source;
  RelayWheel *wheel;
} WheelSource;

struct _RelayWheel
{
  GQueue          slots[N_SLOTS];
  guint           size;
  gint64          next_tick;    /* the first tick not processed yet */
  GSource        *source;
  RelayWheelFunc  func;
  gpointer        user_data;
};

/* The tick at which @due_us has passed: never early. */
static gint64
tick_of (gint64 due_us)
{
  return (due_us + TICK_US - 1) / TICK_US;
}

static void
arm (RelayWheel *self)
{
  if (self->size == 0)
    {
      g_source_set_ready_time (self->source, -1);
      return;
    }
  for (gint64 t = self->next_tick; t < self->next_tick + N_SLOTS; t++)
    if (self->slots[t % N_SLOTS].length > 0)
      {
        g_source_set_ready_time (self->source, t * TICK_US);
        return;
      }
}

static gboolean
wheel_dispatch (GSource     *source,
                GSourceFunc  callback,
                gpointer     user_data)
{
  RelayWheel *self = ((WheelSource *) source)->wheel;
  gint64 now = g_source_get_time (source);
  gint64 current = now / TICK_US;
  gint64 first = MAX (self->next_tick, current - N_SLOTS + 1);
  GQueue due = G_QUEUE_INIT;

  /* Collect first, fire after: a function may schedule into any slot, this one too. */
  for (gint64 t = first; t <= current; t++)
    {
      GQueue *slot = &self->slots[t % N_SLOTS];
      GList *l = slot->head;

      while (l != NULL)
        {
          GList *next = l->next;
          RelayWheelEntry *entry = l->data;

          if (entry->due_us <= now)
            {
              g_queue_unlink (slot, l);
              g_queue_push_tail_link (&due, l);
            }
          l = next;
        }
    }
  self->next_tick = current + 1;

  while (due.head != NULL)
    {
      GList *l = due.head;
      RelayWheelEntry *entry = l->data;

      g_queue_unlink (&due, l);
      entry->scheduled = FALSE;
      self->size--;
      self->func (entry, now, self->user_data);
    }
  arm (self);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs wheel_source_funcs = {
  .dispatch = wheel_dispatch,
};

RelayWheel *
_wzp_relay_wheel_new (GMainContext   *context,
                      RelayWheelFunc  func,
                      gpointer        user_data)
{
  RelayWheel *self = g_new0 (RelayWheel, 1);

  for (guint i = 0; i < N_SLOTS; i++)
    g_queue_init (&self->slots[i]);
  self->func = func;
  self->user_data = user_data;
  self->next_tick = g_get_monotonic_time () / TICK_US;
  self->source = g_source_new (&wheel_source_funcs, sizeof (WheelSource));
  ((WheelSource *) self->source)->wheel = self;
  g_source_set_static_name (self->source, "wzp relay deadlines");
  g_source_set_ready_time (self->source, -1);
  g_source_attach (self->source, context);
  return self;
}

void
_wzp_relay_wheel_free (RelayWheel *self)
{
  if (self == NULL)
    return;
  for (guint i = 0; i < N_SLOTS; i++)
    while (self->slots[i].head != NULL)
      {
        RelayWheelEntry *entry = self->slots[i].head->data;

        g_queue_unlink (&self->slots[i], &entry->link);
        entry->scheduled = FALSE;
      }
  g_source_destroy (self->source);
  g_source_unref (self->source);
  g_free (self);
}

void
_wzp_relay_wheel_cancel (RelayWheel      *self,
                         RelayWheelEntry *entry)
{
  if (!entry->scheduled)
    return;
  g_queue_unlink (&self->slots[entry->slot], &entry->link);
  entry->scheduled = FALSE;
  self->size--;
  /* The timer stays armed: a wake-up for an empty slot costs nothing, and re-arming
   * here would scan slots on every cancel. */
}

void
_wzp_relay_wheel_schedule (RelayWheel      *self,
                           RelayWheelEntry *entry,
                           gint64           due_us)
{
  gint64 tick = MAX (tick_of (due_us), self->next_tick);
  gint64 ready = g_source_get_ready_time (self->source);

  _wzp_relay_wheel_cancel (self, entry);
  entry->due_us = due_us;
  entry->slot = tick % N_SLOTS;
  entry->link.data = entry;
  entry->scheduled = TRUE;
  g_queue_push_tail_link (&self->slots[entry->slot], &entry->link);
  self->size++;
  if (ready < 0 || tick * TICK_US < ready)
    g_source_set_ready_time (self->source, tick * TICK_US);
}

guint
_wzp_relay_wheel_get_size (RelayWheel *self)
{
  return self->size;
}
