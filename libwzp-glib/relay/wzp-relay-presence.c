/* wzp-relay-presence.c: who is registered where (PresenceUpdate; docs/protocol.md, "Presence")
 *
 * Each relay tells each peer which fingerprints are registered with it: a full snapshot
 * when the link comes up, then changes, paced per link by a token bucket: a change goes
 * out at once while the link has a token, and what comes faster waits for the next one,
 * together (PRESENCE_BURST below). Every update is cut into frames of at most
 * PRESENCE_CHUNK fingerprints, far under the 64 KiB frame cap; all but the last carry
 * more=true. A snapshot replaces what the peer said before only once its last chunk is
 * in, so lookups never see half of one.
 *
 * Presence travels one hop: a relay announces only its own registrations, so a callee
 * registered two links away is unknown (the caller gets Error{unknown_callee} at once).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-error.h"
#include "wzp-relay-federation-private.h"

#include <string.h>

#include "wzp-fingerprint-private.h"

/* A frame of an update carries at most this much, by the estimate below: half the 64 KiB
 * frame cap, whatever the keys (an RSA-4096 binding is about 1.6 KB of JSON, a wzp
 * identity's ECDSA one about 450 bytes: some 70 of those a frame). */
#define PRESENCE_CHUNK_BYTES    (32 * 1024)
/* One update a second per link, sustained, and two at once after a quiet spell: a client
 * whose app restarts is gone and back (two changes) within moments, and with one token
 * its return would wait out the second that its going started, unreachable from the
 * peer's clients meanwhile. */
#define PRESENCE_INTERVAL_US    G_USEC_PER_SEC
#define PRESENCE_BURST          2
/* What a peer may announce: memory spent on a peer's say-so is bounded too. */
#define PRESENCE_MAX_PER_PEER   1000000

/* What a peer announced about one user: the user's binding to that peer, and whether its
 * signature was checked (it is when a lookup is about to rely on it, not before: a
 * snapshot of 100,000 users would otherwise hold the relay for half a minute). */
typedef struct
{
  WzpBinding *binding;
  gboolean    verified;
} PeerEntry;

static void
peer_entry_free (gpointer data)
{
  PeerEntry *entry = data;

  _wzp_binding_free (entry->binding);
  g_free (entry);
}

static GHashTable *
announced_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, NULL, peer_entry_free);
}

static gsize
binding_size (const WzpBinding *binding)
{
  /* The two fingerprints, the time, the member names and quotes: under 200 bytes. */
  return strlen (binding->public_key) + strlen (binding->signature) + 200;
}

static void
send_update (RelayPeer  *peer,
             GPtrArray  *added,
             GPtrArray  *removed,
             gboolean    snapshot)
{
  guint n_added = added ? added->len : 0;
  guint n_removed = removed ? removed->len : 0;
  guint total = n_added + n_removed;
  guint done = 0;

  /* Each frame carries up to PRESENCE_CHUNK_BYTES of bindings and fingerprints, added
   * ones first. An empty snapshot is still sent (one frame): it tells the peer that
   * nobody is here. */
  do
    {
      g_autoptr(WzpMessage) update = _wzp_message_new (WZP_MESSAGE_PRESENCE_UPDATE);
      g_autoptr(GPtrArray) a = g_ptr_array_new ();
      g_autoptr(GPtrArray) r = g_ptr_array_new ();
      gsize bytes = 0;

      while (done < total && (bytes == 0 || bytes < PRESENCE_CHUNK_BYTES))
        {
          if (done < n_added)
            {
              WzpBinding *binding = g_ptr_array_index (added, done);

              if (bytes > 0 && bytes + binding_size (binding) > PRESENCE_CHUNK_BYTES)
                break;
              bytes += binding_size (binding);
              g_ptr_array_add (a, binding);
            }
          else
            {
              bytes += WZP_FINGERPRINT_LEN + 3;
              g_ptr_array_add (r, g_ptr_array_index (removed, done - n_added));
            }
          done++;
        }
      g_ptr_array_add (r, NULL);

      _wzp_message_set_bindings (update, "added", a);
      _wzp_message_set_strv (update, "removed", (const char * const *) r->pdata);
      if (snapshot)
        _wzp_message_set_bool (update, "snapshot", TRUE);
      if (done < total)
        _wzp_message_set_bool (update, "more", TRUE);
      _wzp_relay_federation_send (peer, update);
    }
  while (done < total);
}

static void
flush (RelayPeer *peer)
{
  RelayFederation *fed = peer->relay->federation;
  g_autoptr(GPtrArray) added = g_ptr_array_new ();
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) done = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key, value;

  _wzp_clear_source (peer->relay->context, &peer->flush_id);
  if (g_hash_table_size (peer->pending) == 0)
    return;

  g_hash_table_iter_init (&iter, peer->pending);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      /* The binding announced is the newest one of the user, the one in fed->local now. */
      WzpBinding *binding = g_hash_table_lookup (fed->local, key);

      g_hash_table_iter_steal (&iter);
      if (GPOINTER_TO_INT (value) && binding != NULL)
        {
          g_ptr_array_add (added, binding);
          g_ptr_array_add (done, key);
        }
      else
        g_ptr_array_add (removed, key);
    }
  /* An early flush (_wzp_relay_presence_flush_for) with no token empties the bucket. */
  _wzp_token_bucket_take (&peer->bucket, g_get_monotonic_time ());
  send_update (peer, added, removed, FALSE);
}

static void schedule_flush (RelayPeer *peer);

static gboolean
flush_cb (gpointer user_data)
{
  RelayPeer *peer = user_data;

  peer->flush_id = 0;
  if (_wzp_token_bucket_wait (&peer->bucket, g_get_monotonic_time ()) > 0)
    schedule_flush (peer);
  else
    flush (peer);
  return G_SOURCE_REMOVE;
}

static void
schedule_flush (RelayPeer *peer)
{
  gint64 wait_us;

  if (peer->flush_id != 0)
    return;
  wait_us = _wzp_token_bucket_wait (&peer->bucket, g_get_monotonic_time ());
  /* With a token at hand the update still waits for the main loop to come round, so that
   * changes made together (a relay restarting, many clients registering at once) go out
   * together. Without one, everything pending goes with the next token. */
  peer->flush_id = _wzp_timeout_add (peer->relay->context, (guint) ((wait_us + 999) / 1000),
                                     flush_cb, peer);
}

void
_wzp_relay_presence_local_changed (WzpRelay         *self,
                                   const char       *fingerprint,
                                   const WzpBinding *binding,
                                   gboolean          present)
{
  RelayFederation *fed = self->federation;
  WzpBinding *known = g_hash_table_lookup (fed->local, fingerprint);

  /* Only a user who signed a binding is announced: peers believe nothing else. */
  if (present && binding != NULL)
    {
      if (known != NULL && known->time_ms == binding->time_ms &&
          g_strcmp0 (known->signature, binding->signature) == 0)
        return;
      g_hash_table_replace (fed->local, g_strdup (fingerprint), _wzp_binding_copy (binding));
    }
  else if (!g_hash_table_remove (fed->local, fingerprint))
    return;
  present = present && binding != NULL;

  for (guint i = 0; i < fed->peers->len; i++)
    {
      RelayPeer *peer = g_ptr_array_index (fed->peers, i);

      if (peer->link == NULL)
        continue;
      /* The latest state wins: a client that comes and goes within one batch costs one
       * entry, not two. */
      g_hash_table_replace (peer->pending, g_strdup (fingerprint), GINT_TO_POINTER (present));
      schedule_flush (peer);
    }
}

void
_wzp_relay_presence_flush_for (RelayPeer  *peer,
                               const char *fingerprint)
{
  /* An offer from a client that registered a moment ago: the callee's relay checks the
   * caller against what we announced, so the announcement goes first (the batch goes
   * early; it still never carries anything but real changes). */
  if (peer->link != NULL && g_hash_table_contains (peer->pending, fingerprint))
    flush (peer);
}

void
_wzp_relay_presence_link_up (RelayPeer *peer)
{
  RelayFederation *fed = peer->relay->federation;
  g_autoptr(GPtrArray) all = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  /* The snapshot supersedes whatever was pending for an earlier link. */
  g_hash_table_remove_all (peer->pending);
  _wzp_clear_source (peer->relay->context, &peer->flush_id);

  g_hash_table_iter_init (&iter, fed->local);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (all, value);
  /* The snapshot goes at once, and counts: a link that keeps coming up spends its tokens
   * on snapshots, not on changes besides. */
  _wzp_token_bucket_take (&peer->bucket, g_get_monotonic_time ());
  send_update (peer, all, NULL, TRUE);
}

void
_wzp_relay_presence_link_down (RelayPeer *peer)
{
  g_hash_table_remove_all (peer->announced);
  g_clear_pointer (&peer->staging, g_hash_table_unref);
  g_hash_table_remove_all (peer->pending);
  _wzp_clear_source (peer->relay->context, &peer->flush_id);
}

void
_wzp_relay_presence_peer_init (RelayPeer *peer)
{
  peer->announced = announced_new ();
  peer->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  _wzp_token_bucket_init (&peer->bucket, PRESENCE_INTERVAL_US, PRESENCE_BURST);
}

void
_wzp_relay_presence_set_pacing (WzpRelay *self,
                                gint64    interval_us,
                                guint     burst)
{
  RelayFederation *fed = self->federation;

  for (guint i = 0; i < fed->peers->len; i++)
    {
      RelayPeer *peer = g_ptr_array_index (fed->peers, i);

      _wzp_token_bucket_init (&peer->bucket, interval_us, burst > 0 ? burst : PRESENCE_BURST);
      /* A full bucket: what waits for a token goes now. */
      if (peer->flush_id != 0)
        {
          _wzp_clear_source (self->context, &peer->flush_id);
          schedule_flush (peer);
        }
    }
}

void
_wzp_relay_presence_peer_clear (RelayPeer *peer)
{
  _wzp_relay_presence_link_down (peer);
  g_clear_pointer (&peer->announced, g_hash_table_unref);
  g_clear_pointer (&peer->pending, g_hash_table_unref);
}

/* Takes in what @peer announced: a binding that names another relay, or is dated in the
 * future, is refused at once (the first such is the error); the signature waits until a
 * lookup relies on it. */
static gboolean
add_all (RelayPeer   *peer,
         GHashTable  *set,
         GPtrArray   *bindings,
         GError     **error)
{
  gint64 latest_ms = g_get_real_time () / 1000 + WZP_BINDING_MAX_AHEAD_MS;

  for (guint i = 0; i < bindings->len; i++)
    {
      WzpBinding *binding = g_ptr_array_index (bindings, i);
      PeerEntry *entry;

      if (g_strcmp0 (binding->relay_fingerprint, peer->fingerprint) != 0)
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE,
                         "PresenceUpdate: the binding of %s names the relay %s, not yours; "
                         "a relay announces only the users registered with it",
                         binding->fingerprint, binding->relay_fingerprint);
          continue;
        }
      if (binding->time_ms > latest_ms)
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE,
                         "PresenceUpdate: the binding of %s is dated more than %d minutes "
                         "ahead of this relay’s clock", binding->fingerprint,
                         WZP_BINDING_MAX_AHEAD_MS / 60000);
          continue;
        }
      if (g_hash_table_size (set) >= PRESENCE_MAX_PER_PEER &&
          !g_hash_table_contains (set, binding->fingerprint))
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_UNEXPECTED,
                         "PresenceUpdate: more than %u fingerprints announced; the rest "
                         "are ignored", PRESENCE_MAX_PER_PEER);
          break;
        }
      entry = g_new0 (PeerEntry, 1);
      entry->binding = g_steal_pointer (&bindings->pdata[i]);
      /* The key is the entry's own string, freed with it. */
      g_hash_table_replace (set, entry->binding->fingerprint, entry);
    }
  return error == NULL || *error == NULL;
}

gboolean
_wzp_relay_presence_handle (RelayPeer   *peer,
                            WzpMessage  *update,
                            GError     **error)
{
  g_autoptr(GPtrArray) added = _wzp_message_dup_bindings (update, "added");
  g_auto(GStrv) removed = _wzp_message_dup_strv (update, "removed");
  gboolean snapshot = _wzp_message_get_bool (update, "snapshot");
  gboolean more = _wzp_message_get_bool (update, "more");
  gboolean ok = TRUE;

  if (snapshot)
    {
      if (peer->staging == NULL)
        peer->staging = announced_new ();
      /* A snapshot lists who is there; "removed" means nothing in it. */
      ok = add_all (peer, peer->staging, added, error);
      if (!more)
        {
          g_hash_table_unref (peer->announced);
          peer->announced = g_steal_pointer (&peer->staging);
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                            "WZP_PEER", peer->fingerprint,
                            "MESSAGE", "Peer relay %s holds %u identities", peer->uri,
                            g_hash_table_size (peer->announced));
        }
      return ok;
    }

  if (peer->staging != NULL)
    {
      g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_UNEXPECTED,
                   "PresenceUpdate: a change arrived in the middle of a snapshot (the last "
                   "snapshot frame has more=false); ignored");
      return FALSE;
    }

  for (guint i = 0; removed[i] != NULL; i++)
    g_hash_table_remove (peer->announced, removed[i]);
  return add_all (peer, peer->announced, added, error);
}

RelayPeer *
_wzp_relay_presence_lookup (WzpRelay   *self,
                            const char *fingerprint,
                            gint64      newer_than_ms)
{
  RelayFederation *fed = self->federation;

  /* The newest binding wins; one whose signature fails is forgotten (the peer is told)
   * and the next newest is tried. */
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      RelayPeer *best = NULL;
      PeerEntry *best_entry = NULL;

      for (guint i = 0; i < fed->peers->len; i++)
        {
          RelayPeer *peer = g_ptr_array_index (fed->peers, i);
          PeerEntry *entry;

          if (peer->link == NULL)
            continue;
          entry = g_hash_table_lookup (peer->announced, fingerprint);
          if (entry != NULL && entry->binding->time_ms > newer_than_ms &&
              (best_entry == NULL || entry->binding->time_ms > best_entry->binding->time_ms))
            {
              best = peer;
              best_entry = entry;
            }
        }
      if (best == NULL)
        return NULL;
      if (best_entry->verified)
        return best;
      if (_wzp_binding_verify (best_entry->binding, &error))
        {
          best_entry->verified = TRUE;
          return best;
        }

      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "WZP_PEER", best->fingerprint,
                        "MESSAGE", "Peer relay %s announced %s with a forged binding (%s); "
                        "forgotten", best->uri, fingerprint, error->message);
      _wzp_relay_federation_link_error (best, WZP_ERROR_CODE_BAD_MESSAGE, NULL,
                                        "PresenceUpdate: the binding of %s is refused: %s",
                                        fingerprint, error->message);
      g_hash_table_remove (best->announced, fingerprint);
    }
}

gboolean
_wzp_relay_presence_speaks_for (WzpRelay   *self,
                                RelayPeer  *peer,
                                const char *fingerprint,
                                gint64      newer_than_ms)
{
  return _wzp_relay_presence_lookup (self, fingerprint, newer_than_ms) == peer;
}
