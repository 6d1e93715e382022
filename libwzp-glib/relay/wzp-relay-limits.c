/* wzp-relay-limits.c: per-source-IP counters, token buckets and the fd reserve
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <sys/resource.h>

#include "wzp-relay-private.h"
#include "wzp-socket-private.h"

IpCounters *
_wzp_relay_ip_counters (WzpRelay     *self,
                        GInetAddress *address)
{
  g_autofree char *key = _wzp_address_source_key (address);
  IpCounters *counters = g_hash_table_lookup (self->ip_counters, key);

  if (counters == NULL)
    {
      counters = g_new0 (IpCounters, 1);
      counters->key = g_steal_pointer (&key);
      g_queue_init (&counters->awaiting_hello);
      g_hash_table_insert (self->ip_counters, counters->key, counters);
    }
  return counters;
}

/* Drops an entry once nothing counts against it, so the table does not grow with every
 * address that ever connected. */
void
_wzp_relay_ip_counters_gc (WzpRelay   *self,
                           IpCounters *counters)
{
  if (counters->conns == 0 && counters->handshakes == 0 && counters->registrations == 0 &&
      counters->pipes == 0 && counters->tls_handshakes == 0 && counters->unregistered == 0 &&
      counters->ringing == 0)
    g_hash_table_remove (self->ip_counters, counters->key);
}

static void
bucket_refill (RelayBucket *bucket,
               double       rate,
               double       burst,
               gint64       now)
{
  if (bucket->last_us == 0)
    bucket->tokens = burst;
  else
    bucket->tokens = MIN (burst, bucket->tokens + (now - bucket->last_us) * rate / G_USEC_PER_SEC);
  bucket->last_us = now;
}

gboolean
_wzp_relay_bucket_take_at (RelayBucket *bucket,
                           double       rate,
                           double       burst,
                           double       amount,
                           gint64       now_us)
{
  bucket_refill (bucket, rate, burst, now_us);
  if (bucket->tokens < amount)
    return FALSE;
  bucket->tokens -= amount;
  return TRUE;
}

gboolean
_wzp_relay_bucket_take (RelayBucket *bucket,
                        double       rate,
                        double       burst,
                        double       amount)
{
  return _wzp_relay_bucket_take_at (bucket, rate, burst, amount, g_get_monotonic_time ());
}

/* Microseconds until @amount tokens are available (after a refill by _take). */
double
_wzp_relay_bucket_wait_us (RelayBucket *bucket,
                           double       rate,
                           double       amount)
{
  if (bucket->tokens >= amount || rate <= 0)
    return 0;
  return (amount - bucket->tokens) * G_USEC_PER_SEC / rate;
}

/* Near the descriptor limit, stop accepting for a moment rather than fail in the middle
 * of something (a pipe needs 4 more fds to forward): the check shared with the client's
 * port P (net/wzp-socket.c). */
gboolean
_wzp_relay_fds_low (WzpRelay *self,
                    int       fd)
{
  return _wzp_fds_low (fd, self->min_free_fds);
}

void
_wzp_relay_raise_nofile (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
    return;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &rl) != 0)
    g_debug ("Could not raise the open file limit: %s", g_strerror (errno));
}
