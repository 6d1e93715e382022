/* wzp-peer-candidates.c: a peer's candidates (see wzp-peer-candidates-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-peer-candidates-private.h"

struct _WzpPeerCandidates
{
  gatomicrefcount  ref_count;
  GArray          *candidates;   /* WzpPeerCandidate */
  WzpNatType       nat;
};

static void
candidate_clear (WzpPeerCandidate *candidate)
{
  g_free (candidate->address);
}

static void
append (WzpPeerCandidates    *self,
        WzpPeerCandidateKind  kind,
        const char           *address)
{
  WzpPeerCandidate candidate = { kind, g_strdup (address) };

  g_array_append_val (self->candidates, candidate);
}

WzpPeerCandidates *
_wzp_peer_candidates_new (const char         *reflexive,
                          const char * const *host,
                          WzpNatType          nat)
{
  WzpPeerCandidates *self = g_new0 (WzpPeerCandidates, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->candidates = g_array_new (FALSE, TRUE, sizeof (WzpPeerCandidate));
  g_array_set_clear_func (self->candidates, (GDestroyNotify) candidate_clear);
  self->nat = nat;
  for (guint i = 0; host != NULL && host[i] != NULL; i++)
    append (self, WZP_PEER_CANDIDATE_HOST, host[i]);
  if (reflexive != NULL)
    append (self, WZP_PEER_CANDIDATE_REFLEXIVE, reflexive);
  return self;
}

WzpPeerCandidates *
_wzp_peer_candidates_ref (WzpPeerCandidates *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
_wzp_peer_candidates_unref (WzpPeerCandidates *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_array_unref (self->candidates);
  g_free (self);
}

guint
_wzp_peer_candidates_get_length (WzpPeerCandidates *self)
{
  return self->candidates->len;
}

const WzpPeerCandidate *
_wzp_peer_candidates_get (WzpPeerCandidates *self,
                          guint              index)
{
  g_return_val_if_fail (index < self->candidates->len, NULL);
  return &g_array_index (self->candidates, WzpPeerCandidate, index);
}

const char *
_wzp_peer_candidates_get_reflexive (WzpPeerCandidates *self)
{
  for (guint i = 0; i < self->candidates->len; i++)
    {
      const WzpPeerCandidate *candidate = &g_array_index (self->candidates, WzpPeerCandidate, i);

      if (candidate->kind == WZP_PEER_CANDIDATE_REFLEXIVE)
        return candidate->address;
    }
  return NULL;
}

GStrv
_wzp_peer_candidates_dup_host (WzpPeerCandidates *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; i < self->candidates->len; i++)
    {
      const WzpPeerCandidate *candidate = &g_array_index (self->candidates, WzpPeerCandidate, i);

      if (candidate->kind == WZP_PEER_CANDIDATE_HOST)
        g_strv_builder_add (builder, candidate->address);
    }
  return g_strv_builder_end (builder);
}

WzpNatType
_wzp_peer_candidates_get_nat_type (WzpPeerCandidates *self)
{
  return self->nat;
}
