/* wzp-relay-counters.c: what an operator watches: connections by stage, idle clients,
 * refusals by reason, totals since the relay was made
 *
 * Two kinds of numbers (docs/relay.md, "Counters"):
 *
 * - what the relay holds now (connections per stage, idle clients, calls, pipes, peer
 *   links) is counted when asked, by one walk over the signalling connections: nothing
 *   is kept up to date on the hot paths, and the connection layer needs no hooks for it.
 *   The walk (a hash table iteration, and one lookup per registered client) runs only
 *   for a D-Bus GetCounters, a library caller, or the log line once a minute;
 * - what happened since the relay was made (connections accepted, refusals by the name
 *   of the limit that refused) is counted as it happens: a refusal is counted where it
 *   is logged (every _wzp_relay_log_limit() and _wzp_relay_log_refusal() line, written
 *   or suppressed by the log's rate limit), plus the few limits whose lines do not go
 *   through those (timeouts, queue caps, refusals sent as an Error).
 *
 * While the relay listens, a log line sums them up once a minute if anything changed
 * since the last one, and once more when the relay stops.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-relay-federation-private.h"
#include "wzp-relay-private.h"

/* A line a minute: often enough to date an attack or a rush, rare enough that a relay's
 * journal holds weeks of them. */
#define LOG_INTERVAL_MS (60 * 1000)

/* The reasons the relay can refuse for, in the order the log and docs/relay.md list
 * them: each is a [limits] key, or the name of a fixed limit. They are in every snapshot,
 * at 0 until hit, so that a monitoring system sees a fixed set of keys; a reason not
 * listed here (a limit added later) shows up once it is hit. */
static const char * const known_reasons[] = {
  "max-pending-handshakes",
  "max-handshakes-per-ip",
  "client-hello-timeout",
  "handshake-timeout",
  "min-free-fds",
  "max-unregistered-per-ip",
  "allowed-fingerprints",
  "max-registrations",
  "max-registrations-per-ip",
  "max-frame-size",
  "max-messages-per-second",
  "bad-messages",
  "idle-timeout",
  "max-queued-bytes",
  "max-calls-per-client",
  "max-ringing-per-client",
  "max-ringing-per-ip",
  "max-ringing-per-callee",
  "one-offer-per-callee",
  "max-call-duration",
  "max-pipes-per-ip",
  "pipe-refused",
  "pipe-wait-timeout",
  "pipe-forwarding",
  "federation-queued-bytes",
};

struct _RelayCounters
{
  GHashTable *refused;          /* reason -> guint64* (both owned) */
  GPtrArray  *reasons;          /* the keys of @refused in the order first seen */
  guint64     accepted;
  guint       log_interval_ms;
  guint       log_id;           /* the periodic line, while listening */
  GVariant   *last_logged;      /* the snapshot of the last line (or of the start) */
};

static guint64 *
reason_slot (RelayCounters *counters,
             const char    *reason)
{
  guint64 *slot = g_hash_table_lookup (counters->refused, reason);

  if (slot == NULL)
    {
      char *key = g_strdup (reason);

      slot = g_new0 (guint64, 1);
      g_hash_table_insert (counters->refused, key, slot);
      g_ptr_array_add (counters->reasons, key);
    }
  return slot;
}

void
_wzp_relay_counters_init (WzpRelay *self)
{
  RelayCounters *counters = g_new0 (RelayCounters, 1);

  counters->refused = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  counters->reasons = g_ptr_array_new ();
  counters->log_interval_ms = LOG_INTERVAL_MS;
  for (gsize i = 0; i < G_N_ELEMENTS (known_reasons); i++)
    reason_slot (counters, known_reasons[i]);
  self->counters = counters;
}

void
_wzp_relay_counters_free (WzpRelay *self)
{
  RelayCounters *counters = self->counters;

  if (counters == NULL)
    return;
  _wzp_clear_source (self->context, &counters->log_id);
  g_clear_pointer (&counters->last_logged, g_variant_unref);
  g_ptr_array_unref (counters->reasons);
  g_hash_table_unref (counters->refused);
  g_clear_pointer (&self->counters, g_free);
}

void
_wzp_relay_counters_refused (WzpRelay   *self,
                             const char *reason)
{
  /* NULL only while the relay is finalized: nothing is left to count then. */
  if (self->counters != NULL)
    (*reason_slot (self->counters, reason))++;
}

void
_wzp_relay_counters_accepted (WzpRelay *self)
{
  if (self->counters != NULL)
    self->counters->accepted++;
}

/* The snapshot */

typedef struct
{
  guint awaiting_hello;
  guint queued;
  guint handshaking;
  guint unregistered;
  guint registered;
  guint idle;
} ConnCounts;

static void
count_connections (WzpRelay   *self,
                   ConnCounts *counts)
{
  GHashTableIter iter;
  RelayConn *conn;

  memset (counts, 0, sizeof *counts);
  g_hash_table_iter_init (&iter, self->conns);
  while (g_hash_table_iter_next (&iter, (gpointer *) &conn, NULL))
    switch (conn->stage)
      {
      case CONN_AWAITING_HELLO:
        counts->awaiting_hello++;
        break;
      case CONN_QUEUED:
        counts->queued++;
        break;
      case CONN_HANDSHAKING:
        counts->handshaking++;
        break;
      case CONN_ESTABLISHED:
        if (!conn->registered)
          counts->unregistered++;
        else
          {
            counts->registered++;
            if (!_wzp_relay_counts_in_call (self, conn->fingerprint))
              counts->idle++;
          }
        break;
      case CONN_GONE:
      default:
        break;   /* closed connections leave the table; nothing to count */
      }
}

static guint64
refused_count (RelayCounters *counters,
               const char    *reason)
{
  guint64 *slot = g_hash_table_lookup (counters->refused, reason);

  return slot != NULL ? *slot : 0;
}

static void
add (GVariantBuilder *builder,
     const char      *key,
     guint64          value)
{
  g_variant_builder_add (builder, "{st}", key, value);
}

/* Everything, in a fixed order (so that two snapshots compare equal when nothing
 * changed): first what the relay holds now, then the totals. */
static GVariant *
counters_snapshot (WzpRelay *self)
{
  RelayCounters *counters = self->counters;
  RelayFederation *fed = self->federation;
  GVariantBuilder builder;
  ConnCounts conns;
  guint links_up = 0;
  guint64 refused = 0;

  count_connections (self, &conns);
  for (guint i = 0; i < fed->peers->len; i++)
    if (((RelayPeer *) g_ptr_array_index (fed->peers, i))->state == WZP_PEER_LINK_UP)
      links_up++;
  for (guint i = 0; i < counters->reasons->len; i++)
    refused += refused_count (counters, g_ptr_array_index (counters->reasons, i));

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{st}"));
  add (&builder, "connections", g_hash_table_size (self->conns));
  add (&builder, "connections-awaiting-hello", conns.awaiting_hello);
  add (&builder, "connections-queued", conns.queued);
  add (&builder, "connections-handshaking", conns.handshaking);
  add (&builder, "connections-unregistered", conns.unregistered);
  add (&builder, "connections-registered", conns.registered);
  add (&builder, "handshakes-in-flight", conns.awaiting_hello + conns.queued + conns.handshaking);
  add (&builder, "idle-clients", conns.idle);
  add (&builder, "calls", g_hash_table_size (self->calls));
  add (&builder, "pipes", g_hash_table_size (self->pipes));
  add (&builder, "pipes-forwarding", _wzp_relay_pipes_get_n_forwarding (self));
  add (&builder, "peers", fed->peers->len);
  add (&builder, "peer-links-up", links_up);
  add (&builder, "bridges", g_hash_table_size (fed->bridges));
  add (&builder, "accepted", counters->accepted);
  add (&builder, "refused", refused);
  add (&builder, "queue-caps-hit", refused_count (counters, "max-queued-bytes") +
                                   refused_count (counters, "federation-queued-bytes"));
  for (guint i = 0; i < counters->reasons->len; i++)
    {
      const char *reason = g_ptr_array_index (counters->reasons, i);
      g_autofree char *key = g_strconcat ("refused.", reason, NULL);

      add (&builder, key, refused_count (counters, reason));
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

/**
 * wzp_relay_dup_counters:
 * @self: a relay
 *
 * What an operator watches: what the relay holds now and what it did since it was
 * made, as a dictionary of unsigned 64-bit numbers. The daemon serves the same on D-Bus
 * (`GetCounters`) and logs it once a minute; docs/relay.md, "Counters", says more.
 *
 * What the relay holds now (counted when this is called, by one walk over the
 * connections):
 *
 * - `connections`: signalling connections, in any stage (the next five add up to it);
 * - `connections-awaiting-hello`: accepted, their TLS ClientHello not all in yet;
 * - `connections-queued`: ClientHello in, waiting for a TLS handshake slot;
 * - `connections-handshaking`: in their TLS handshake;
 * - `connections-unregistered`: handshake done, not registered (yet);
 * - `connections-registered`: registered clients;
 * - `handshakes-in-flight`: connections whose TLS handshake has not completed (the
 *   first three stages, what `max-pending-handshakes` caps);
 * - `idle-clients`: registered clients that are a party to no call the relay holds
 *   (none offered by them, none ringing at them, none set up);
 * - `calls`: calls offered, ringing or set up;
 * - `pipes`: pipe connections open, waiting or joined;
 * - `pipes-forwarding`: joined pipe pairs the forwarding thread carries;
 * - `peers`, `peer-links-up`: federation peers configured, and those whose link is up;
 * - `bridges`: federation bridges (relayed calls between two relays).
 *
 * Totals since the relay was made (they survive [method@Wzp.Relay.stop]):
 *
 * - `accepted`: signalling connections taken in (those refused at accept are counted
 *   under `refused.*` instead);
 * - `refused.REASON`: how often each limit turned something away (a connection, a
 *   registration, a call, a pipe) or closed a connection, REASON being the `[limits]`
 *   key (`max-handshakes-per-ip`, `idle-timeout`, `max-queued-bytes`, …) or the name of a
 *   fixed limit (`bad-messages`, `one-offer-per-callee`, `pipe-refused`,
 *   `federation-queued-bytes`); every reason the relay knows is there from the start, at 0;
 * - `refused`: the sum of the `refused.*`;
 * - `queue-caps-hit`: connections and federation links closed for not reading what
 *   the relay had to send them (`refused.max-queued-bytes` plus
 *   `refused.federation-queued-bytes`).
 *
 * Keys may be added in later versions: ignore the ones you do not know.
 *
 * Returns: (transfer full): a #GVariant of type `a{st}`
 *
 * Since: 1.0
 */
GVariant *
wzp_relay_dup_counters (WzpRelay *self)
{
  g_return_val_if_fail (WZP_IS_RELAY (self), NULL);

  return counters_snapshot (self);
}

/* The log line */

static guint64
lookup (GVariant   *snapshot,
        const char *key)
{
  guint64 value = 0;

  if (snapshot != NULL)
    g_variant_lookup (snapshot, key, "t", &value);
  return value;
}

/* "max-handshakes-per-ip 30, idle-timeout 7": the reasons that grew since @before
 * (NULL: since the relay was made), or NULL if none did. */
static char *
refusals_since (GVariant *now,
                GVariant *before)
{
  g_autoptr(GString) text = g_string_new (NULL);
  GVariantIter iter;
  const char *key;
  guint64 value;

  g_variant_iter_init (&iter, now);
  while (g_variant_iter_next (&iter, "{&st}", &key, &value))
    {
      guint64 grew;

      if (!g_str_has_prefix (key, "refused."))
        continue;
      grew = value - lookup (before, key);
      if (grew == 0)
        continue;
      g_string_append_printf (text, "%s%s %" G_GUINT64_FORMAT, text->len > 0 ? ", " : "",
                              key + strlen ("refused."), grew);
    }
  return text->len > 0 ? g_string_free (g_steal_pointer (&text), FALSE) : NULL;
}

/* "connections=3 connections-awaiting-hello=1 …": every counter, for the journal field. */
static char *
counters_field (GVariant *snapshot)
{
  GString *text = g_string_new (NULL);
  GVariantIter iter;
  const char *key;
  guint64 value;

  g_variant_iter_init (&iter, snapshot);
  while (g_variant_iter_next (&iter, "{&st}", &key, &value))
    g_string_append_printf (text, "%s%s=%" G_GUINT64_FORMAT, text->len > 0 ? " " : "",
                            key, value);
  return g_string_free (text, FALSE);
}

/* One line: @prefix, what the relay holds, then what changed since @before. */
static void
log_counters (GVariant   *now,
              GVariant   *before,
              const char *prefix,
              const char *since)
{
  g_autofree char *refusals = refusals_since (now, before);
  g_autofree char *field = counters_field (now);
  g_autofree char *message = NULL;
  GLogField fields[] = {
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
    { "PRIORITY", "6", -1 },
    { "WZP_COUNTERS", field, -1 },
    { "MESSAGE", NULL, -1 },
  };

  message = g_strdup_printf (
    "%s: %" G_GUINT64_FORMAT " connections (%" G_GUINT64_FORMAT " awaiting their "
    "ClientHello, %" G_GUINT64_FORMAT " queued, %" G_GUINT64_FORMAT " in their TLS "
    "handshake, %" G_GUINT64_FORMAT " unregistered, %" G_GUINT64_FORMAT " registered of "
    "which %" G_GUINT64_FORMAT " idle), %" G_GUINT64_FORMAT " calls, %" G_GUINT64_FORMAT
    " pipes, %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " peer links up; %s: "
    "%" G_GUINT64_FORMAT " connections accepted, %" G_GUINT64_FORMAT " refusals%s%s%s",
    prefix,
    lookup (now, "connections"), lookup (now, "connections-awaiting-hello"),
    lookup (now, "connections-queued"), lookup (now, "connections-handshaking"),
    lookup (now, "connections-unregistered"), lookup (now, "connections-registered"),
    lookup (now, "idle-clients"), lookup (now, "calls"), lookup (now, "pipes"),
    lookup (now, "peer-links-up"), lookup (now, "peers"),
    since,
    lookup (now, "accepted") - lookup (before, "accepted"),
    lookup (now, "refused") - lookup (before, "refused"),
    refusals != NULL ? " (" : "", refusals != NULL ? refusals : "",
    refusals != NULL ? ")" : "");
  fields[3].value = message;
  g_log_structured_array (G_LOG_LEVEL_INFO, fields, G_N_ELEMENTS (fields));
}

static gboolean
log_tick_cb (gpointer user_data)
{
  WzpRelay *self = user_data;
  RelayCounters *counters = self->counters;
  g_autoptr(GVariant) now = counters_snapshot (self);

  /* A quiet relay writes nothing: no line says the same as the one before it. */
  if (counters->last_logged != NULL && g_variant_equal (now, counters->last_logged))
    return G_SOURCE_CONTINUE;
  log_counters (now, counters->last_logged, "Counters", "since the last line");
  g_clear_pointer (&counters->last_logged, g_variant_unref);
  counters->last_logged = g_steal_pointer (&now);
  return G_SOURCE_CONTINUE;
}

void
_wzp_relay_counters_start (WzpRelay *self)
{
  RelayCounters *counters = self->counters;

  if (counters->log_id != 0)
    return;
  /* The first line comes when something changed since the start. */
  g_clear_pointer (&counters->last_logged, g_variant_unref);
  counters->last_logged = counters_snapshot (self);
  counters->log_id = _wzp_timeout_add (self->context, counters->log_interval_ms,
                                       log_tick_cb, self);
}

void
_wzp_relay_counters_stop (WzpRelay *self)
{
  RelayCounters *counters = self->counters;
  g_autoptr(GVariant) now = NULL;

  if (counters == NULL || counters->log_id == 0)
    return;   /* not listening: said already, or nothing to say */
  _wzp_clear_source (self->context, &counters->log_id);
  now = counters_snapshot (self);
  /* The totals since the relay was made, and what it held as it stopped. */
  log_counters (now, NULL, "Stopping; the relay holds", "since it was made");
  g_clear_pointer (&counters->last_logged, g_variant_unref);
}

void
_wzp_relay_counters_set_log_interval (WzpRelay *self,
                                      guint     interval_ms)
{
  RelayCounters *counters = self->counters;

  counters->log_interval_ms = interval_ms;
  if (counters->log_id != 0)
    {
      _wzp_clear_source (self->context, &counters->log_id);
      counters->log_id = _wzp_timeout_add (self->context, interval_ms, log_tick_cb, self);
    }
}
