/* wzp-client-private.h: WzpClient internals for the call, tests and tools
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "wzp-client.h"
#include "wzp-message-private.h"
#include "wzp-network-info-private.h"
#include "wzp-socket-private.h"

G_BEGIN_DECLS

/* A message for the relay (dropped while not registered). */
void            _wzp_client_send              (WzpClient    *self,
                                               WzpMessage   *message);
const char     *_wzp_client_get_fingerprint   (WzpClient    *self);

/* Test-only: listen on loopback and offer loopback host candidates, never the machine's
 * own interfaces (docs/decisions.md, "Loopback tests bring their own candidates"). Set
 * before connecting. */
void            _wzp_client_set_test_loopback (WzpClient    *self,
                                               gboolean      loopback);
/* Loopback test mode: the only mode in which the peer's loopback candidates are dialled. */
gboolean        _wzp_client_get_test_loopback (WzpClient    *self);
WzpSharedPort  *_wzp_client_get_shared_port   (WzpClient    *self);
/* The context the client lives on (thread-default when it was made): its timers go there. */
GMainContext   *_wzp_client_get_context      (WzpClient    *self);
WzpNetworkInfo *_wzp_client_get_network_info  (WzpClient    *self);

/* Port P under a flood (docs/calls.md, "Port P under a flood"): connections whose preamble
 * is not in yet, at most this many per source (IPv4 address or IPv6 /64) and in total,
 * the oldest closed to make room, each closed after the deadline. */
#define WZP_CLIENT_MAX_AWAITING_PER_SOURCE 8
#define WZP_CLIENT_MAX_AWAITING_PREAMBLE   64
#define WZP_CLIENT_PREAMBLE_DEADLINE_S     2
/* Of the reflectors the relay lists, the most that are probed (only pinned ones are). */
#define WZP_CLIENT_MAX_RELAY_REFLECTORS    2
/* Test-only: how many connections on P wait for their preamble, from @source (an
 * _wzp_address_source_key()) or, if NULL, in all. */
guint           _wzp_client_get_n_awaiting_preamble (WzpClient  *self,
                                                     const char *source);

/* The retry policy (docs/relay.md, "When the relay turns clients away"), for the client
 * and its tests. The nominal wait after a failure with @error, the last nominal wait
 * being @previous_ms (0: the first failure since a success): 250 ms doubling to 10 s, and
 * at least 2 s when the relay turned us away (WZP_CLIENT_ERROR_RELAY_BUSY,
 * _RELAY_TOO_MANY_CONNECTIONS). */
guint           _wzp_client_backoff_next      (guint         previous_ms,
                                               const GError *error);
/* The wait actually taken: @nominal_ms times a random factor in [0.5, 1.5). */
guint           _wzp_client_backoff_jitter    (guint         nominal_ms);
/* The wait of the retry the client is waiting for (jitter included), 0 when none is. */
guint           _wzp_client_get_retry_delay_ms (WzpClient   *self);

/* wzp-client-reflectors.c: asks the reflector at @uri (a relay URI) what address it sees
 * P at, and gives the answer to the network info (no answer within 3 s: none). */
void            _wzp_client_probe_reflector   (WzpClient    *self,
                                               const char   *uri);

/* wzp-known-relays.c: relays trusted on first use (docs/identity.md). A relay is named by
 * _wzp_known_relay_key(): HOST:PORT or [IPV6]:PORT in a canonical spelling. */
char           *_wzp_known_relay_key          (const char   *host,
                                               guint16       port);
/* Sets *@out_fingerprint to the fingerprint pinned for @key, or NULL when there is none.
 * FALSE when the file cannot be read (G_FILE_ERROR: worth retrying), or
 * (WZP_CLIENT_ERROR_KNOWN_RELAYS) is damaged (it is then set aside) or holds no usable
 * pin for @key. */
gboolean        _wzp_known_relay_lookup       (const char   *key,
                                               char        **out_fingerprint,
                                               GError      **error);
/* Pins @fingerprint for @key and saves the file, holding the file's lock from reading to
 * writing; FALSE when that fails (WZP_CLIENT_ERROR_KNOWN_RELAYS, or G_FILE_ERROR if the
 * file cannot be read), or WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED if another program
 * pinned another one meanwhile. */
gboolean        _wzp_known_relay_remember     (const char   *key,
                                               const char   *fingerprint,
                                               GError      **error);

/* The file's parsing, apart from reading and writing it: a seam for the fuzz target
 * (tests/fuzz/fuzz-known-relays.c), which runs it on bytes instead of a file. */
/* The relay a key of the file names (as _wzp_known_relay_key()), or NULL. */
char           *_wzp_known_relays_relay_from_key (const char *key);
/* Sets @relay's pin in @file, its key encoded so that it reads back. */
void            _wzp_known_relays_set_pin     (GKeyFile     *file,
                                               const char   *relay,
                                               const char   *fingerprint);
/* @relay's pin in @file (*@out_fingerprint NULL: none); @path names the file in messages.
 * FALSE (WZP_CLIENT_ERROR_KNOWN_RELAYS) when @relay's entry is not a usable pin. */
gboolean        _wzp_known_relays_find_pin    (GKeyFile     *file,
                                               const char   *path,
                                               const char   *relay,
                                               char        **out_fingerprint,
                                               GError      **error);
/* Copies into @fresh each line of a damaged file's @contents that still reads as a pin;
 * returns how many relays @fresh then pins. */
guint           _wzp_known_relays_salvage     (GKeyFile     *fresh,
                                               const char   *contents);

G_END_DECLS
