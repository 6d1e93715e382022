/* wzp-relay-ringing.c: who has how many calls, kept as counters
 *
 * An unanswered offer (offered or ringing) counts against its caller, never against its
 * callee: otherwise anyone with a throwaway identity could keep anyone else "busy" by
 * ringing them (docs/relay.md, [limits]; docs/protocol.md, "Calls at the relay"). The
 * relay checks these counts on every offer, and may hold 100,000 registrations, so they
 * are counters kept as calls change state, not a walk over all calls.
 *
 * Per identity (local or at a peer relay): set-up calls, unanswered offers made,
 * unanswered offers received. Per source address (IpCounters): unanswered offers made by
 * local callers. Per caller and callee pair: the one unanswered offer between them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-relay-private.h"

struct _RelayCounts
{
  char  *fingerprint;
  guint  set_up;         /* calls set up, as either party */
  guint  ringing_out;    /* unanswered offers this identity made */
  guint  ringing_in;     /* unanswered offers to this identity */
};

static void
counts_free (RelayCounts *counts)
{
  g_free (counts->fingerprint);
  g_free (counts);
}

void
_wzp_relay_ringing_init (WzpRelay *self)
{
  self->party_counts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                              (GDestroyNotify) counts_free);
  self->ringing_pairs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

void
_wzp_relay_ringing_free (WzpRelay *self)
{
  g_clear_pointer (&self->ringing_pairs, g_hash_table_unref);
  g_clear_pointer (&self->party_counts, g_hash_table_unref);
}

static const RelayCounts no_counts = { NULL, 0, 0, 0 };

static const RelayCounts *
counts_lookup (WzpRelay   *self,
               const char *fingerprint)
{
  RelayCounts *counts = g_hash_table_lookup (self->party_counts, fingerprint);

  return counts != NULL ? counts : &no_counts;
}

/* What max-calls-per-client counts: calls this identity made or accepted. Offers others
 * made to it and it has not answered are not among them. */
guint
_wzp_relay_counts_active (WzpRelay   *self,
                          const char *fingerprint)
{
  const RelayCounts *counts = counts_lookup (self, fingerprint);

  return counts->set_up + counts->ringing_out;
}

guint
_wzp_relay_counts_ringing_out (WzpRelay   *self,
                               const char *fingerprint)
{
  return counts_lookup (self, fingerprint)->ringing_out;
}

guint
_wzp_relay_counts_ringing_in (WzpRelay   *self,
                              const char *fingerprint)
{
  return counts_lookup (self, fingerprint)->ringing_in;
}

/* The table holds only identities with calls (counts_add() drops the others). */
gboolean
_wzp_relay_counts_in_call (WzpRelay   *self,
                           const char *fingerprint)
{
  return g_hash_table_contains (self->party_counts, fingerprint);
}

static char *
pair_key (const char *caller,
          const char *callee)
{
  return g_strconcat (caller, " ", callee, NULL);
}

RelayCall *
_wzp_relay_ringing_between (WzpRelay   *self,
                            const char *caller,
                            const char *callee)
{
  g_autofree char *key = pair_key (caller, callee);

  return g_hash_table_lookup (self->ringing_pairs, key);
}

/* Adds @delta to @field of @fingerprint's counts; an entry back at zero is dropped, so
 * the table holds only identities with calls. */
static void
counts_add (WzpRelay   *self,
            const char *fingerprint,
            gsize       field,
            int         delta)
{
  RelayCounts *counts = g_hash_table_lookup (self->party_counts, fingerprint);
  guint *value;

  if (counts == NULL)
    {
      counts = g_new0 (RelayCounts, 1);
      counts->fingerprint = g_strdup (fingerprint);
      g_hash_table_insert (self->party_counts, counts->fingerprint, counts);
    }
  value = G_STRUCT_MEMBER_P (counts, field);
  if (G_UNLIKELY (delta < 0 && *value == 0))
    g_critical ("The relay's call counts of %s would go below zero", fingerprint);
  else
    *value += delta;
  if (counts->set_up == 0 && counts->ringing_out == 0 && counts->ringing_in == 0)
    g_hash_table_remove (self->party_counts, fingerprint);
}

static void
count_unanswered (RelayCall *call,
                  int        delta)
{
  WzpRelay *self = call->relay;
  const char *caller = call->party[WZP_CALL_ROLE_CALLER].fingerprint;
  const char *callee = call->party[WZP_CALL_ROLE_CALLEE].fingerprint;

  counts_add (self, caller, G_STRUCT_OFFSET (RelayCounts, ringing_out), delta);
  counts_add (self, callee, G_STRUCT_OFFSET (RelayCounts, ringing_in), delta);
  if (delta > 0)
    {
      g_hash_table_replace (self->ringing_pairs, pair_key (caller, callee), call);
      if (call->caller_ip != NULL)
        call->caller_ip->ringing++;
      return;
    }
  if (_wzp_relay_ringing_between (self, caller, callee) == call)
    {
      g_autofree char *key = pair_key (caller, callee);
      g_hash_table_remove (self->ringing_pairs, key);
    }
  if (call->caller_ip != NULL)
    {
      /* The address entry lives while something counts against it; this may have been
       * the last thing. */
      call->caller_ip->ringing--;
      _wzp_relay_ip_counters_gc (self, call->caller_ip);
      call->caller_ip = NULL;
    }
}

static void
count_set_up (RelayCall *call,
              int        delta)
{
  for (int role = 0; role < 2; role++)
    counts_add (call->relay, call->party[role].fingerprint,
                G_STRUCT_OFFSET (RelayCounts, set_up), delta);
}

typedef enum { COUNTED_NOT, COUNTED_UNANSWERED, COUNTED_SET_UP } Counted;

static Counted
counted_as (RelayCallState state)
{
  switch (state)
    {
    case CALL_OFFERED:
    case CALL_RINGING:
      return COUNTED_UNANSWERED;
    case CALL_SET_UP:
      return COUNTED_SET_UP;
    case CALL_ENDED:
    default:
      return COUNTED_NOT;
    }
}

static void
count (RelayCall *call,
       Counted    counted,
       int        delta)
{
  if (counted == COUNTED_UNANSWERED)
    count_unanswered (call, delta);
  else if (counted == COUNTED_SET_UP)
    count_set_up (call, delta);
}

/* Every change of a call's state goes through here, so the counters follow. A new call
 * starts as CALL_ENDED (counted nowhere), with its parties and caller_ip set. */
void
_wzp_relay_call_set_state (RelayCall      *call,
                           RelayCallState  state)
{
  Counted from = counted_as (call->state);
  Counted to = counted_as (state);

  call->state = state;
  if (from == to)
    return;
  count (call, from, -1);
  count (call, to, +1);
}
