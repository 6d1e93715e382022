/* wzp-nat-type-private.h: NAT mapping type (docs/candidates.md, "NAT mapping type")
 *
 * Two halves, both independent of where the answers come from:
 *  - _wzp_nat_type_classify(): a pure function from the host's own addresses and a list
 *    of reflexive answers (reflector id + observed "ip:port") to a WzpNatType, per
 *    address family;
 *  - _wzp_nat_type_measure_async(): runs reflexive "probes" concurrently under one
 *    deadline and classifies what came back. A probe is any async operation that yields
 *    an observed address: Reflect on the signalling connection, a new TLS connection
 *    from P to a reflector, or a fake in the tests.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-enums.h"

G_BEGIN_DECLS

/* Default deadline of a measurement. */
#define WZP_NAT_PROBE_TIMEOUT_MS 3000

typedef struct {
  const char *reflector;  /* who answered: "relay", a relay URI; answers with the same
                           * reflector count once (the last one wins) */
  const char *observed;   /* "198.51.100.1:40001", "[2001:db8::1]:40001"; NULL: no answer */
} WzpReflexiveAnswer;

const char      *_wzp_nat_type_to_string       (WzpNatType                 type);

/* Classifies the answers of @family (G_SOCKET_FAMILY_IPV4 or _IPV6; IPv4-mapped IPv6
 * answers count as IPv4):
 *  1. drop non-evidence: unparsable answers, private, CGNAT, ULA, loopback, link-local,
 *     unspecified and multicast/reserved addresses;
 *  2. every remaining answer is one of @own_addresses (numeric, no port) → NONE;
 *  3. fewer than two reflectors left → UNKNOWN;
 *  4. the IPs differ → MULTIPLE; the ports differ → SYMMETRIC; else CONE.
 * @explanation (nullable) receives a sentence for logs and diagnostics. */
WzpNatType       _wzp_nat_type_classify        (GSocketFamily              family,
                                                const char * const        *own_addresses,
                                                const WzpReflexiveAnswer  *answers,
                                                gsize                      n_answers,
                                                char                     **explanation);

/* A probe: starts one reflexive query. It must call @callback exactly once in the
 * thread-default main context of the caller, and honour @cancellable (it is cancelled at
 * the deadline and when the measurement is cancelled). */
typedef void  (*WzpReflexiveProbeFunc)       (gpointer              probe_data,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
/* Returns the observed address ("ip:port", transfer full) or NULL with @error set. */
typedef char *(*WzpReflexiveProbeFinishFunc) (gpointer              probe_data,
                                              GAsyncResult         *result,
                                              GError              **error);

typedef struct _WzpReflexiveProbe WzpReflexiveProbe;

/* @probe_data is kept (and @destroy called) until the probe has called back, even when
 * the measurement has already returned. */
WzpReflexiveProbe *_wzp_reflexive_probe_new  (const char                  *reflector,
                                              WzpReflexiveProbeFunc        start,
                                              WzpReflexiveProbeFinishFunc  finish,
                                              gpointer                     probe_data,
                                              GDestroyNotify               destroy);
void             _wzp_reflexive_probe_free    (WzpReflexiveProbe          *probe);

typedef struct {
  char    *reflector;
  char    *observed;     /* NULL when the probe failed or timed out */
  GError  *error;        /* why not (G_IO_ERROR_TIMED_OUT at the deadline) */
  gint64   elapsed_us;   /* from the start of the measurement to the answer */
} WzpReflexiveResult;

typedef struct {
  GPtrArray  *results;            /* WzpReflexiveResult, in probe order */
  WzpNatType  ipv4_type;
  char       *ipv4_explanation;
  WzpNatType  ipv6_type;
  char       *ipv6_explanation;
  gint64      elapsed_us;
} WzpNatMeasurement;

void             _wzp_nat_measurement_free    (WzpNatMeasurement          *measurement);
/* The results as classification input (pointers into @measurement). */
GArray          *_wzp_nat_measurement_get_answers (const WzpNatMeasurement *measurement);

/* Starts every probe of @probes (WzpReflexiveProbe elements; the array is referenced, so
 * give it _wzp_reflexive_probe_free as free function) at once, and returns when all have
 * answered or at @timeout_ms (0: WZP_NAT_PROBE_TIMEOUT_MS), whichever is first; probes
 * still running then are cancelled and reported as timed out. Fails only with
 * G_IO_ERROR_CANCELLED (at once, when @cancellable is cancelled). */
void             _wzp_nat_type_measure_async  (GPtrArray                  *probes,
                                               const char * const         *own_addresses,
                                               guint                       timeout_ms,
                                               GCancellable               *cancellable,
                                               GAsyncReadyCallback         callback,
                                               gpointer                    user_data);
WzpNatMeasurement *_wzp_nat_type_measure_finish (GAsyncResult             *result,
                                                 GError                  **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WzpReflexiveProbe, _wzp_reflexive_probe_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WzpNatMeasurement, _wzp_nat_measurement_free)

G_END_DECLS
