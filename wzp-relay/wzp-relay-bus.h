/* wzp-relay-bus.h: the relay on D-Bus: owns org.wzp.Relay1 and exports its interface
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <wzp-glib.h>

G_BEGIN_DECLS

typedef struct _WzpRelayBus WzpRelayBus;

/* Called once when the relay cannot own its name or loses it (another relay replaced
 * it, or the bus went away); @message says which, in words for an operator. */
typedef void (*WzpRelayBusLostFunc) (const char *message,
                                     gpointer    user_data);

WzpRelayBus *wzp_relay_bus_new  (WzpRelay            *relay,
                                 GBusType             bus_type,
                                 gboolean             replace,
                                 WzpRelayBusLostFunc  lost_func,
                                 gpointer             user_data);
void         wzp_relay_bus_free (WzpRelayBus         *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WzpRelayBus, wzp_relay_bus_free)

G_END_DECLS
