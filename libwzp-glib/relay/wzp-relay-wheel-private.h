/* wzp-relay-wheel-private.h: deadlines for many connections on one timer
 *
 * Each GSource of a GLib main context is prepared and checked on every iteration, so a
 * timer per connection costs O(all connections) per wake-up, and a periodic sweep over
 * all connections stalls the loop for as long as the sweep takes (at 19,000 clients, a
 * Reflect's p99 was 2-3 s: docs/relay.md, "The relay at scale"). A RelayWheel is a hashed
 * timing wheel: slots of WHEEL_TICK_MS in a ring, one timer for the whole wheel, and each
 * tick visits only the slot that is due. An entry due after a whole turn of the ring waits
 * in its slot, skipped until its time comes.
 *
 * Deadlines here are checks, not promises: the function of an entry that fires decides
 * what is due (a keepalive, a timeout) and schedules the entry again. Work that merely
 * postpones a deadline (a message arrived) changes nothing in the wheel: the check finds
 * it and schedules the next one, so a busy connection costs nothing per message.
 *
 * A deadline fires at most one tick (WHEEL_TICK_MS) late, and never early.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define WHEEL_TICK_MS 250

typedef struct _RelayWheel RelayWheel;

/* Embedded in what has a deadline; zeroed means "not scheduled". */
typedef struct
{
  GList  link;       /* in its slot; link.data is the entry */
  gint64 due_us;     /* monotonic */
  guint  slot;
  gboolean scheduled;
} RelayWheelEntry;

/* The entry is out of the wheel when this runs; schedule it again to keep it. */
typedef void (*RelayWheelFunc) (RelayWheelEntry *entry,
                                gint64           now_us,
                                gpointer         user_data);

RelayWheel *_wzp_relay_wheel_new        (GMainContext    *context,
                                         RelayWheelFunc   func,
                                         gpointer         user_data);
/* Entries still scheduled are dropped, not fired. */
void        _wzp_relay_wheel_free       (RelayWheel      *self);
/* (Re)schedules @entry at @due_us (monotonic). */
void        _wzp_relay_wheel_schedule   (RelayWheel      *self,
                                         RelayWheelEntry *entry,
                                         gint64           due_us);
void        _wzp_relay_wheel_cancel     (RelayWheel      *self,
                                         RelayWheelEntry *entry);
guint       _wzp_relay_wheel_get_size   (RelayWheel      *self);

G_END_DECLS
