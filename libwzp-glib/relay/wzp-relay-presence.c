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

/* 1024 fingerprints of 39 characters, quoted and separated: about 43 KB of JSON. */
#define PRESENCE_CHUNK          1024
/* One update a second per link, sustained, and two at once after a quiet spell: a client
 * whose app restarts is gone and back (two changes) within moments, and with one token
 * its return would wait out the second that its going started, unreachable from the
 * peer's clients meanwhile. */
#define PRESENCE_INTERVAL_US    G_USEC_PER_SEC
#define PRESENCE_BURST          2
/* What a peer may announce: memory spent on a peer's say-so is bounded too. */
#define PRESENCE_MAX_PER_PEER   1000000

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

  /* Each frame carries up to PRESENCE_CHUNK fingerprints, added ones first. An empty
   * snapshot is still sent (one frame): it tells the peer that nobody is here. */
  do
    {
      g_autoptr(WzpMessage) update = _wzp_message_new (WZP_MESSAGE_PRESENCE_UPDATE);
      g_autoptr(GPtrArray) a = g_ptr_array_new ();
      g_autoptr(GPtrArray) r = g_ptr_array_new ();
      guint end = MIN (done + PRESENCE_CHUNK, total);

      for (guint i = done; i < end; i++)
        {
          if (i < n_added)
            g_ptr_array_add (a, g_ptr_array_index (added, i));
          else
            g_ptr_array_add (r, g_ptr_array_index (removed, i - n_added));
        }
      g_ptr_array_add (a, NULL);
      g_ptr_array_add (r, NULL);
      done = end;

      _wzp_message_set_strv (update, "added", (const char * const *) a->pdata);
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
  g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key, value;

  _wzp_clear_source (peer->relay->context, &peer->flush_id);
  if (g_hash_table_size (peer->pending) == 0)
    return;

  g_hash_table_iter_init (&iter, peer->pending);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_hash_table_iter_steal (&iter);
      g_ptr_array_add (GPOINTER_TO_INT (value) ? added : removed, key);
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
_wzp_relay_presence_local_changed (WzpRelay   *self,
                                   const char *fingerprint,
                                   gboolean    present)
{
  RelayFederation *fed = self->federation;

  if (present)
    {
      if (g_hash_table_contains (fed->local, fingerprint))
        return;
      g_hash_table_add (fed->local, g_strdup (fingerprint));
    }
  else if (!g_hash_table_remove (fed->local, fingerprint))
    return;

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
  gpointer key;

  /* The snapshot supersedes whatever was pending for an earlier link. */
  g_hash_table_remove_all (peer->pending);
  _wzp_clear_source (peer->relay->context, &peer->flush_id);

  g_hash_table_iter_init (&iter, fed->local);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (all, key);
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
  peer->announced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
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

static gboolean
add_all (GHashTable  *set,
         char       **fingerprints,
         GError     **error)
{
  for (guint i = 0; fingerprints[i] != NULL; i++)
    {
      if (g_hash_table_size (set) >= PRESENCE_MAX_PER_PEER &&
          !g_hash_table_contains (set, fingerprints[i]))
        {
          g_set_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_UNEXPECTED,
                       "PresenceUpdate: more than %u fingerprints announced; the rest "
                       "are ignored", PRESENCE_MAX_PER_PEER);
          return FALSE;
        }
      g_hash_table_add (set, g_strdup (fingerprints[i]));
    }
  return TRUE;
}

gboolean
_wzp_relay_presence_handle (RelayPeer   *peer,
                            WzpMessage  *update,
                            GError     **error)
{
  g_auto(GStrv) added = _wzp_message_dup_strv (update, "added");
  g_auto(GStrv) removed = _wzp_message_dup_strv (update, "removed");
  gboolean snapshot = _wzp_message_get_bool (update, "snapshot");
  gboolean more = _wzp_message_get_bool (update, "more");
  gboolean ok = TRUE;

  if (snapshot)
    {
      if (peer->staging == NULL)
        peer->staging = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      /* A snapshot lists who is there; "removed" means nothing in it. */
      ok = add_all (peer->staging, added, error);
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
  return add_all (peer->announced, added, error);
}

RelayPeer *
_wzp_relay_presence_lookup (WzpRelay   *self,
                            const char *fingerprint)
{
  RelayFederation *fed = self->federation;

  for (guint i = 0; i < fed->peers->len; i++)
    {
      RelayPeer *peer = g_ptr_array_index (fed->peers, i);

      if (peer->link != NULL && g_hash_table_contains (peer->announced, fingerprint))
        return peer;
    }
  return NULL;
}
