/* wzp-network-info-private.h: what the client knows about its network
 *
 * A private object the client owns (WzpClient exposes its values as properties):
 *  - host candidates for port P (gathered off the main loop; re-gathered, debounced, on
 *    GNetworkMonitor::network-changed; re-filtered at once when the deny or allow list
 *    changes; re-gathered shortly after an address is seen tentative);
 *  - reflexive observations from any source (RegisterPresenceAck, Reflect, reflectors,
 *    a NAT type measurement), and the NAT type classified from them per family;
 *  - the observed address: the own relay's latest answer (docs/decisions.md, "Two
 *    reflectors classify the NAT").
 * Every change is notified; ::gathered is emitted after every (re)gathering.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-enums.h"
#include "wzp-candidates-private.h"
#include "wzp-nat-type-private.h"

G_BEGIN_DECLS

/* The default debounce of network changes. */
#define WZP_NETWORK_INFO_DEBOUNCE_MS 500

#define WZP_TYPE_NETWORK_INFO (_wzp_network_info_get_type ())
G_DECLARE_FINAL_TYPE (WzpNetworkInfo, _wzp_network_info, WZP, NETWORK_INFO, GObject)

/* Properties:
 *  port              guint     P, paired with every host candidate (read-write)
 *  network-monitor   GNetworkMonitor (construct-only; NULL: the default monitor)
 *  loopback-only     gboolean  test-only: loopback host candidates and no others
 *                              (construct-only)
 *  deny-list         GStrv     name globs (default: docs/candidates.md, "Deny and allow lists")
 *  allow-list        GStrv     overrides the deny list (default: empty)
 *  debounce-ms       guint     network change debounce (default 500)
 *  host-candidates   GStrv     read-only, dial order ("192.168.88.21:40001", ...)
 *  nat-type          WzpNatType read-only, IPv4 (measured and advertised explicitly)
 *  nat-type-ipv6     WzpNatType read-only
 *  observed-address  gchararray read-only, the own relay's latest answer, or NULL
 *
 * Signal ::gathered (gboolean candidates_changed): after every gathering.
 *
 * Nothing is gathered until the first _wzp_network_info_gather_async() or network
 * change. */
WzpNetworkInfo  *_wzp_network_info_new                   (guint16               port,
                                                          gboolean              loopback_only);

/* Gathers now (a pending debounce is dropped); completes once a gathering that started
 * after this call has been published. Fails only if enumeration failed or cancelled. */
void             _wzp_network_info_gather_async          (WzpNetworkInfo       *self,
                                                          GCancellable         *cancellable,
                                                          GAsyncReadyCallback   callback,
                                                          gpointer              user_data);
gboolean         _wzp_network_info_gather_finish         (WzpNetworkInfo       *self,
                                                          GAsyncResult         *result,
                                                          GError              **error);
/* What GNetworkMonitor::network-changed does: (re)starts the debounce timer. */
void             _wzp_network_info_network_changed       (WzpNetworkInfo       *self);

guint16          _wzp_network_info_get_port              (WzpNetworkInfo       *self);
void             _wzp_network_info_set_port              (WzpNetworkInfo       *self,
                                                          guint16               port);
void             _wzp_network_info_set_deny_list         (WzpNetworkInfo       *self,
                                                          const char * const   *deny);
void             _wzp_network_info_set_allow_list        (WzpNetworkInfo       *self,
                                                          const char * const   *allow);

/* WzpCandidate elements in dial order (borrowed; replaced, not changed, on updates). */
GPtrArray       *_wzp_network_info_get_candidates        (WzpNetworkInfo       *self);
GStrv            _wzp_network_info_dup_host_candidates   (WzpNetworkInfo       *self);
/* Every address of every interface from the last gathering (numeric, no port). */
GStrv            _wzp_network_info_dup_own_addresses     (WzpNetworkInfo       *self);
/* How long the last enumeration took, in µs (0 before the first). */
gint64           _wzp_network_info_get_gather_time       (WzpNetworkInfo       *self);

/* Reflexive observations. @observed NULL forgets @reflector's observation. With
 * @own_relay, also sets observed-address. The NAT types are re-classified at once. */
void             _wzp_network_info_set_observation       (WzpNetworkInfo       *self,
                                                          const char           *reflector,
                                                          const char           *observed,
                                                          gboolean              own_relay);
void             _wzp_network_info_clear_observations    (WzpNetworkInfo       *self);
/* Takes every answer of @measurement (and forgets reflectors that failed in it);
 * @own_relay (nullable) names the reflector that is the own relay. */
void             _wzp_network_info_apply_measurement     (WzpNetworkInfo       *self,
                                                          const WzpNatMeasurement *measurement,
                                                          const char           *own_relay);

WzpNatType       _wzp_network_info_get_nat_type          (WzpNetworkInfo       *self,
                                                          GSocketFamily         family);
const char      *_wzp_network_info_get_observed_address  (WzpNetworkInfo       *self);
/* The classification's explanation for @family (for diagnostics). */
const char      *_wzp_network_info_get_nat_explanation   (WzpNetworkInfo       *self,
                                                          GSocketFamily         family);

G_END_DECLS
