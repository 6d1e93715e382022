/* wzp-call-network.c: a call across network changes (docs/calls.md, "When the network
 * changes mid-call"; docs/decisions.md, "Losing signalling is not the end of a call")
 *
 * Either side's network may change mid-call. Ours: paths from addresses this host no
 * longer has are dropped at once, and the peer gets a CandidateUpdate with our new
 * candidates. The peer's: its CandidateUpdate replaces the candidates CallSetup gave.
 * Either way both sides dial again (a rate-limited new round, wzp-call.c). It is apart
 * from wzp-call.c because it is one concern with its own remote input to check (the
 * peer's candidates, in CallSetup and in CandidateUpdate), reached only through the five
 * entry points in wzp-call-private.h.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-call-private.h"
#include "wzp-candidates-private.h"
#include "wzp-address-private.h"

GStrv
_wzp_call_filter_peer_host_candidates (WzpCall            *self,
                                       const char         *source,
                                       const char * const *offered)
{
  gboolean loopback = self->sink.owner != NULL && self->loopback;
  unsigned n_ignored = 0;
  GStrv kept = _wzp_candidates_filter_peer (offered, WZP_MAX_HOST_CANDIDATES, loopback,
                                            &n_ignored);

  /* An honest peer never sends what is dropped here, so saying so is worth a message. */
  if (n_ignored > 0)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "WZP_CALL_ID", self->call_id,
                      "MESSAGE", "Call %s: %s carried %u host candidates of the peer; %u "
                      "are dialled (at most %d, on one port, of the classes a host "
                      "candidate can have), the others are ignored", self->call_id, source,
                      n_ignored + g_strv_length (kept), g_strv_length (kept),
                      WZP_MAX_HOST_CANDIDATES);
  return kept;
}

/* CandidateUpdate{call_id, reflexive_addr, local_addrs}: the relay passes it on to the
 * peer (docs/protocol.md). */
void
_wzp_call_send_candidate_update (WzpCall *self)
{
  g_autoptr(WzpMessage) update = _wzp_message_new_for_call (WZP_MESSAGE_CANDIDATE_UPDATE,
                                                            self->call_id);

  _wzp_local_candidates_fill (self->local, update, "reflexive_addr", "local_addrs", NULL);
  self->announced_serial = _wzp_local_candidates_get_serial (self->local);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_CALL_ID", self->call_id,
                    "MESSAGE", "Call %s: telling the peer our new addresses (reflexive %s)",
                    self->call_id,
                    _wzp_message_get_string (update, "reflexive_addr")
                      ? _wzp_message_get_string (update, "reflexive_addr") : "none");
  _wzp_call_send_signalling (self, update);
}

void
_wzp_call_handle_candidate_update (WzpCall    *self,
                                   WzpMessage *update)
{
  g_auto(GStrv) offered = NULL;
  g_auto(GStrv) locals = NULL;
  WzpPeerCandidates *candidates;
  const char *reflexive = _wzp_message_get_string (update, "reflexive_addr");

  /* Before set-up there is nothing to dial yet (CallSetup will carry the latest); a
   * privacy call dials nothing. */
  if (self->phase == WZP_CALL_PHASE_SIGNALLING || self->privacy)
    return;

  offered = _wzp_message_dup_strv (update, "local_addrs");
  locals = _wzp_call_filter_peer_host_candidates (self, "CandidateUpdate",
                                                  (const char * const *) offered);

  /* An update is the peer's whole current set of addresses: it replaces what CallSetup
   * said (it carries no NAT type: the one CallSetup gave stands). */
  candidates = _wzp_peer_candidates_new (reflexive, (const char * const *) locals,
                                         _wzp_peer_candidates_get_nat_type (self->peer_candidates));
  g_clear_pointer (&self->peer_candidates, _wzp_peer_candidates_unref);
  self->peer_candidates = candidates;

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_CALL_ID", self->call_id,
                    "MESSAGE", "Call %s: the peer's network changed (reflexive %s, %u host "
                    "candidates)", self->call_id, reflexive ? reflexive : "none",
                    g_strv_length (locals));
  _wzp_call_notify_peer_candidates (self);

  /* Its dials to us need ours to it (simultaneous open through NATs): both sides dial. */
  _wzp_call_request_round (self);
}

void
_wzp_call_network_changed (WzpCall            *self,
                           const char * const *own_addresses)
{
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func ((GDestroyNotify) _wzp_path_unref);
  g_autoptr(WzpCall) keep = g_object_ref (self);
  GPtrArray *paths;

  if (self->state == WZP_CALL_STATE_ENDED || own_addresses == NULL || own_addresses[0] == NULL)
    return;

  /* A path from an address this host no longer has is dead, whatever TCP thinks: the
   * kernel can send nothing on it and may take minutes to say so. */
  paths = _wzp_nominator_get_paths (self->nominator);
  for (guint i = 0; i < paths->len; i++)
    {
      WzpPath *path = g_ptr_array_index (paths, i);

      if (!path->closed && G_IS_SOCKET_CONNECTION (path->base) &&
          !_wzp_connection_is_on_own_address (G_SOCKET_CONNECTION (path->base),
                                              own_addresses))
        g_ptr_array_add (gone, _wzp_path_ref (path));
    }

  for (guint i = 0; i < gone->len && self->state != WZP_CALL_STATE_ENDED; i++)
    {
      WzpPath *path = g_ptr_array_index (gone, i);
      g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE,
                                             "this computer no longer has the address "
                                             "that path used");

      if (!path->closed)
        _wzp_nominator_drop_path (self->nominator, path, error);
    }
}

void
_wzp_call_announce_candidates (WzpCall *self)
{
  if (self->state == WZP_CALL_STATE_ENDED || self->privacy || self->sink.owner == NULL ||
      self->phase == WZP_CALL_PHASE_SIGNALLING ||
      self->announced_serial == _wzp_local_candidates_get_serial (self->local))
    return;

  _wzp_call_send_candidate_update (self);
  /* The peer's candidates are the same, but we dial them from somewhere new. */
  _wzp_call_request_round (self);
}
