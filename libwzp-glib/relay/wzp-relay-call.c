/* wzp-relay-call.c: a call as the relay holds it (RelayCall): the registry, its parties'
 * storage, and its end of life, which what hangs off it (pipes, a bridge) watches for
 *
 * Below the call state machine (wzp-relay-calls.c), so that pipes and bridges can find a
 * call and watch it without knowing the machine.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-relay-private.h"

const char *
_wzp_relay_call_state_name (RelayCallState state)
{
  switch (state)
    {
    case CALL_OFFERED:
      return "offered";
    case CALL_RINGING:
      return "ringing";
    case CALL_SET_UP:
      return "set-up";
    case CALL_ENDED:
    default:
      return "ended";
    }
}

static void
party_clear (WzpRelay   *relay,
             RelayParty *party)
{
  _wzp_clear_source (relay->context, &party->grace_id);
  g_clear_pointer (&party->fingerprint, g_free);
  g_clear_pointer (&party->alias, g_free);
  g_clear_pointer (&party->reflexive_addr, g_free);
  g_clear_pointer (&party->local_addrs, g_strfreev);
  g_clear_pointer (&party->nat_type, g_free);
  g_clear_pointer (&party->pipe_secret, g_free);
  g_clear_pointer (&party->relay, g_free);
}

void
_wzp_relay_call_watch_gone (RelayCall         *call,
                            RelayCallGoneFunc  func,
                            gpointer           data)
{
  RelayCallWatch watch = { func, data };

  if (call->gone_watches == NULL)
    call->gone_watches = g_array_new (FALSE, FALSE, sizeof (RelayCallWatch));
  for (guint i = 0; i < call->gone_watches->len; i++)
    {
      RelayCallWatch *w = &g_array_index (call->gone_watches, RelayCallWatch, i);

      if (w->func == func && w->data == data)
        return;
    }
  g_array_append_val (call->gone_watches, watch);
}

/* Last first: what attached last (a bridge, for the pipe that asked for it) goes first. */
static void
call_notify_gone (RelayCall *call)
{
  g_autoptr(GArray) watches = g_steal_pointer (&call->gone_watches);

  for (guint i = watches ? watches->len : 0; i > 0; i--)
    {
      RelayCallWatch *w = &g_array_index (watches, RelayCallWatch, i - 1);

      w->func (call, w->data);
    }
}

void
_wzp_relay_call_free (RelayCall *call)
{
  _wzp_clear_source (call->relay->context, &call->ring_timeout_id);
  _wzp_clear_source (call->relay->context, &call->duration_id);
  /* Until nobody is left: one that started watching meanwhile must hear it too. */
  while (call->gone_watches != NULL)
    call_notify_gone (call);
  /* Calls end through _wzp_relay_call_end(); this only keeps the counts right if one
   * did not. */
  _wzp_relay_call_set_state (call, CALL_ENDED);
  g_free (call->bridge_secret);
  party_clear (call->relay, &call->party[0]);
  party_clear (call->relay, &call->party[1]);
  g_free (call->call_id);
  g_free (call);
}

RelayCall *
_wzp_relay_call_lookup (WzpRelay   *self,
                        const char *call_id)
{
  return call_id ? g_hash_table_lookup (self->calls, call_id) : NULL;
}
