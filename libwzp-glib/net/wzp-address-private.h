/* wzp-address-private.h: IP addresses and their "IP:PORT" text (docs/protocol.md,
 * "Value formats")
 *
 * The one place that parses, formats and classifies addresses, so that every component
 * reads a candidate, a listen address or a peer's source the same way.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what a dual-stack socket shows for an IPv4
 * peer) are the IPv4 address they carry, everywhere: parsing returns them as IPv4,
 * formatting writes them as IPv4, classification and the relay's per-source key treat
 * them as IPv4. Two spellings of one peer would otherwise count, compare and dial as two
 * (docs/decisions.md, "One address module").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What an address is, as far as candidates, NAT evidence and path kinds are concerned. */
typedef enum {
  WZP_ADDRESS_CLASS_INVALID,
  WZP_ADDRESS_CLASS_UNSPECIFIED, /* 0.0.0.0, :: */
  WZP_ADDRESS_CLASS_LOOPBACK,    /* 127/8, ::1 */
  WZP_ADDRESS_CLASS_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
  WZP_ADDRESS_CLASS_PRIVATE,     /* 10/8, 172.16/12, 192.168/16 (RFC 1918) */
  WZP_ADDRESS_CLASS_CGNAT,       /* 100.64/10 (RFC 6598) */
  WZP_ADDRESS_CLASS_ULA,         /* fc00::/7 */
  WZP_ADDRESS_CLASS_GLOBAL,      /* any other unicast IPv4; IPv6 2000::/3 */
  WZP_ADDRESS_CLASS_OTHER,       /* multicast, 0/8, 240/4, IPv6 outside the above */
} WzpAddressClass;

/* Is @address ::ffff:a.b.c.d? Only code that must tell the two spellings apart (an
 * interface address) asks; the rest lets the functions below unmap. */
gboolean            _wzp_address_is_mapped          (GInetAddress    *address);
/* @address itself, or for an IPv4-mapped IPv6 address the IPv4 address (transfer full). */
GInetAddress       *_wzp_address_unmap              (GInetAddress    *address);

/* "192.168.88.21:40001", "[2001:db8:1::21]:40001": an IP literal (IPv6 in brackets, no
 * zone id) and a port 1-65535. NULL with WZP_PROTOCOL_ERROR_INVALID_VALUE on anything
 * else, including NULL and "". */
GInetSocketAddress *_wzp_address_parse              (const char      *text,
                                                     GError         **error);
/* The same, split: FALSE on anything _wzp_address_parse() refuses; @address_out
 * (transfer full) and @port_out may be NULL. */
gboolean            _wzp_address_parse_parts        (const char      *text,
                                                     GInetAddress   **address_out,
                                                     guint16         *port_out);
/* A bare IP literal ("10.0.0.1", "fd00::1"), or NULL. */
GInetAddress       *_wzp_address_parse_ip           (const char      *text);

/* Text that _wzp_address_parse() reads back to the same address (unless the port is 0, as
 * in a bound socket's "any port"). */
char               *_wzp_address_to_string          (GSocketAddress  *address);
char               *_wzp_address_format             (GInetAddress    *address,
                                                     guint16          port);
/* The IP alone, without brackets: "10.0.0.1", "::1". */
char               *_wzp_address_ip_to_string       (GInetAddress    *address);
/* HOST:PORT for a host that may be an IPv6 literal (which gets brackets) or a name. */
char               *_wzp_address_format_host        (const char      *host,
                                                     guint16          port);

WzpAddressClass     _wzp_address_classify           (GInetAddress    *address);
/* INVALID for NULL or anything but a bare IP literal. */
WzpAddressClass     _wzp_address_classify_string    (const char      *address);
const char         *_wzp_address_class_to_string    (WzpAddressClass  klass);
/* RFC 1918, CGNAT, ULA: a path to such an address is "direct-lan" (docs/decisions.md,
 * "The path kind follows the remote address"). */
gboolean            _wzp_address_class_is_lan       (WzpAddressClass  klass);

/* What the relay counts a source under (docs/decisions.md, "Limits per source address"):
 * the IPv4 address ("198.51.100.7"), or an IPv6 address's /64 ("2001:0db8:0001:0002::/64"),
 * since whoever has one IPv6 address usually has the whole /64. */
char               *_wzp_address_source_key         (GInetAddress    *address);

/* Whether @connection's local address is still one of @own_addresses (numeric, maybe
 * with a scope; TRUE when there is nothing to go by): a connection from an address this
 * host no longer has is dead. */
gboolean            _wzp_connection_is_on_own_address (GSocketConnection  *connection,
                                                       const char * const *own_addresses);

G_END_DECLS
