/* wzp-candidates-private.h: host candidates (docs/candidates.md, "Host candidates")
 *
 * Gathering has two halves:
 *  - enumeration (blocking, run in a worker thread): getifaddrs, then rtnetlink (libmnl)
 *    for link flags and IPv6 address flags, cross-checked with libnice's interface
 *    enumeration; the result is a plain list of WzpIfAddr;
 *  - the filter: a pure function from a WzpIfAddr list (real or synthetic) to candidates in
 *    dial order, with a reason for every address it skips.
 *
 * Addresses are parsed, formatted and classified by wzp-address-private.h.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-address-private.h"

G_BEGIN_DECLS

/* Interface state, as IFF_UP / IFF_RUNNING / IFF_LOOPBACK. */
typedef enum {
  WZP_IF_UP       = 1 << 0,
  WZP_IF_RUNNING  = 1 << 1,
  WZP_IF_LOOPBACK = 1 << 2,
} WzpIfFlags;

/* IPv6 address state, from rtnetlink's IFA_F_TEMPORARY, IFA_F_DEPRECATED,
 * IFA_F_TENTATIVE and IFA_F_DADFAILED. Never set for IPv4 (where the kernel's 0x01 bit
 * means "secondary", not "temporary"). */
typedef enum {
  WZP_ADDR_TEMPORARY  = 1 << 0,
  WZP_ADDR_DEPRECATED = 1 << 1,
  WZP_ADDR_TENTATIVE  = 1 << 2,
  WZP_ADDR_DAD_FAILED = 1 << 3,
} WzpAddrFlags;

/* One address of one interface: the filter's input. Synthetic lists in tests use string
 * literals; lists from _wzp_candidates_enumerate() own their strings. */
typedef struct {
  char         *name;          /* interface name; IPv4: the address label ("eth0:1") */
  WzpIfFlags    if_flags;
  char         *address;       /* numeric, without port or scope: "10.0.2.21", "fd00::1" */
  unsigned      prefix;        /* prefix length */
  WzpAddrFlags  addr_flags;
  guint32       preferred_lft; /* remaining preferred lifetime in seconds (G_MAXUINT32:
                                * forever; 0: unknown). Only breaks ties between two
                                * temporary addresses of one /64: the longer one wins. */
} WzpIfAddr;

/* Why the filter skipped an address (WZP_SKIP_NONE: it became a candidate). */
typedef enum {
  WZP_SKIP_NONE,
  WZP_SKIP_UNPARSABLE,        /* not a numeric IPv4 or IPv6 address */
  WZP_SKIP_INTERFACE_DOWN,
  WZP_SKIP_NOT_RUNNING,       /* up, but no carrier / not operational */
  WZP_SKIP_LOOPBACK,          /* loopback interface or address (without loopback_only) */
  WZP_SKIP_NOT_LOOPBACK,      /* anything but a loopback address, with loopback_only */
  WZP_SKIP_DENIED,            /* interface name matches the deny list, not the allow list */
  WZP_SKIP_UNSPECIFIED,       /* 0.0.0.0, :: */
  WZP_SKIP_LINK_LOCAL,        /* 169.254/16, fe80::/10 */
  WZP_SKIP_PUBLIC_IPV4,       /* the reflexive address covers it */
  WZP_SKIP_NOT_UNICAST,       /* multicast, reserved, IPv6 outside 2000::/3 and fc00::/7 */
  WZP_SKIP_DAD_FAILED,
  WZP_SKIP_TENTATIVE,
  WZP_SKIP_DEPRECATED,
  WZP_SKIP_DUPLICATE,         /* the same address was already taken (another interface) */
  WZP_SKIP_SUPERSEDED,        /* another address of the same /64 on the interface won:
                               * temporary over stable */
  WZP_SKIP_LIMIT,             /* more than max_per_interface of this family */
  WZP_N_SKIP_REASONS
} WzpSkipReason;

const char      *_wzp_skip_reason_to_string        (WzpSkipReason reason);

/* The peer's host candidates that a client dials (docs/candidates.md, "Dialling the
 * peer's host candidates"): of the first @max_candidates in @offered (the protocol's
 * WZP_MAX_HOST_CANDIDATES: the cap is the protocol's, not the network layer's), those that
 * parse, are of a class a host candidate can have (RFC 1918, CGNAT, ULA, global IPv6;
 * loopback only with @loopback_allowed) and are on the port of the first one kept (the
 * peer's port P). Returns the kept ones in order (never NULL); @n_ignored_out (may be
 * NULL) gets how many of @offered were not kept. */
GStrv            _wzp_candidates_filter_peer       (const char * const *offered,
                                                    unsigned        max_candidates,
                                                    gboolean        loopback_allowed,
                                                    unsigned       *n_ignored_out);

/* A host candidate. */
typedef struct {
  char            *address;    /* "192.168.88.21:40001" */
  char            *interface;  /* for diagnostics */
  WzpAddressClass  klass;
} WzpCandidate;

WzpCandidate    *_wzp_candidate_new                (const char     *address,
                                                    const char     *interface,
                                                    WzpAddressClass klass);
void             _wzp_candidate_free               (WzpCandidate   *candidate);

/* The default deny list: docker*, veth*, br-*, virbr*, vnet*, vboxnet*, vmnet*,
 * tailscale*, zt*, wg*, tun*. NULL-terminated, static. */
const char * const *_wzp_candidates_get_default_deny_list (void);

/* Patterns are globs (`*` and `?`) matched against the whole interface name. */
typedef struct {
  const char * const *deny;              /* NULL: the default list; empty: deny nothing */
  const char * const *allow;             /* overrides the deny list (and nothing else) */
  gboolean            loopback_only;     /* tests: 127.0.0.1, ::1 and nothing else
                                          * (docs/decisions.md, "Tests") */
  unsigned            max_per_interface; /* per family; 0: WZP_CANDIDATES_MAX_PER_INTERFACE */
} WzpCandidateFilter;

#define WZP_CANDIDATES_MAX_PER_INTERFACE 3

/* Whether the deny/allow lists reject @name. */
gboolean         _wzp_candidates_name_denied       (const char                *name,
                                                    const WzpCandidateFilter  *filter);

/* The rules of one address on its own (no duplicates, /64 selection or limits). */
WzpSkipReason    _wzp_candidates_check             (const WzpIfAddr           *ifaddr,
                                                    const WzpCandidateFilter  *filter);

/* The filter. Returns WzpCandidate elements in dial order: IPv4 (RFC 1918, then CGNAT,
 * then loopback), then IPv6 (global, then ULA, then loopback); within a class, by
 * interface (first appearance in @ifaddrs), then input order. On each interface, per /64,
 * one IPv6 address: temporary over stable, then the longer preferred lifetime, then the
 * first. At most max_per_interface addresses per family and interface.
 * @reasons (nullable) receives one entry per input address. @filter may be NULL
 * (defaults). Logs every skip at debug level. */
GPtrArray       *_wzp_candidates_filter            (const WzpIfAddr           *ifaddrs,
                                                    gsize                      n_ifaddrs,
                                                    guint16                    port,
                                                    const WzpCandidateFilter  *filter,
                                                    WzpSkipReason             *reasons);

/* Enumeration (blocking; call it from a worker thread). A GArray of WzpIfAddr owning its
 * strings: every IPv4 and IPv6 address of every interface, whatever its state, merged
 * from getifaddrs and rtnetlink; disagreements between them and with libnice are logged
 * at debug level. @elapsed_us (nullable) receives the time it took. */
GArray          *_wzp_candidates_enumerate         (gint64                    *elapsed_us,
                                                    GError                   **error);

/* Runs _wzp_candidates_enumerate() in a worker thread. */
void             _wzp_candidates_enumerate_async   (GCancellable              *cancellable,
                                                    GAsyncReadyCallback        callback,
                                                    gpointer                   user_data);
GArray          *_wzp_candidates_enumerate_finish  (GAsyncResult              *result,
                                                    gint64                    *elapsed_us,
                                                    GError                   **error);

/* Enumerates in a worker thread and filters (the filter is copied). Returns WzpCandidate
 * elements in dial order. */
void             _wzp_candidates_gather_async      (guint16                    port,
                                                    const WzpCandidateFilter  *filter,
                                                    GCancellable              *cancellable,
                                                    GAsyncReadyCallback        callback,
                                                    gpointer                   user_data);
GPtrArray       *_wzp_candidates_gather_finish     (GAsyncResult              *result,
                                                    GError                   **error);

/* Every address in @ifaddrs (numeric, no port), whatever the interface state: the
 * "own addresses" of NAT type classification. */
GStrv            _wzp_candidates_dup_own_addresses (const WzpIfAddr           *ifaddrs,
                                                    gsize                      n_ifaddrs);

/* The address strings of a WzpCandidate array. */
GStrv            _wzp_candidates_dup_addresses     (GPtrArray                 *candidates);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WzpCandidate, _wzp_candidate_free)

G_END_DECLS
