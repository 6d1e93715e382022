/* wzp-local-candidates.c: a snapshot of this client's candidates (see
 * wzp-local-candidates-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-local-candidates-private.h"

struct _WzpLocalCandidates
{
  gatomicrefcount  ref_count;
  guint            serial;
  gboolean         known;       /* FALSE before the client has network info */
  char            *reflexive;
  GStrv            host;
  WzpNatType       nat;
};

WzpLocalCandidates *
_wzp_local_candidates_new_unknown (guint serial)
{
  WzpLocalCandidates *self = g_new0 (WzpLocalCandidates, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->serial = serial;
  self->nat = WZP_NAT_TYPE_UNKNOWN;
  return self;
}

WzpLocalCandidates *
_wzp_local_candidates_new (guint               serial,
                           const char         *reflexive,
                           const char * const *host,
                           WzpNatType          nat)
{
  WzpLocalCandidates *self = _wzp_local_candidates_new_unknown (serial);

  self->known = TRUE;
  self->reflexive = g_strdup (reflexive);
  self->host = host ? g_strdupv ((char **) host) : g_new0 (char *, 1);
  self->nat = nat;
  return self;
}

WzpLocalCandidates *
_wzp_local_candidates_ref (WzpLocalCandidates *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
_wzp_local_candidates_unref (WzpLocalCandidates *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_free (self->reflexive);
  g_strfreev (self->host);
  g_free (self);
}

guint
_wzp_local_candidates_get_serial (WzpLocalCandidates *self)
{
  return self->serial;
}

GStrv
_wzp_local_candidates_dup_host (WzpLocalCandidates *self)
{
  return self->known ? g_strdupv (self->host) : NULL;
}

void
_wzp_local_candidates_fill (WzpLocalCandidates *self,
                            WzpMessage         *message,
                            const char         *reflexive_member,
                            const char         *local_member,
                            const char         *nat_member)
{
  if (!self->known)
    return;

  _wzp_message_set_string (message, reflexive_member, self->reflexive);
  _wzp_message_set_strv (message, local_member, (const char * const *) self->host);
  if (nat_member != NULL && self->nat != WZP_NAT_TYPE_UNKNOWN)
    _wzp_message_set_string (message, nat_member, _wzp_nat_type_to_wire (self->nat));
}
