/* fuzz-presence.c: PresenceUpdate from a federation peer and the signed bindings it
 * carries (docs/protocol.md, "Presence" and "Presence bindings")
 *
 * The input is what a peer relay sends on its link, one frame payload a line: each line
 * is decoded and, when it is a PresenceUpdate, handed to _wzp_relay_presence_handle() for
 * one peer, as the federation link does. A model of the protocol runs beside it: a
 * snapshot (chunked with more=true) replaces what the peer announced once its last chunk
 * is in, a change removes then adds, a change in the middle of a snapshot is refused with
 * WZP_PROTOCOL_ERROR_UNEXPECTED and changes nothing. A binding is taken only when it names
 * this peer and is not dated more than WZP_BINDING_MAX_AHEAD_MS ahead of the clock; any
 * other is dropped and the update reports an error. After every line the peer's announced
 * set and its snapshot being received must equal the model's, and hold only well-formed
 * fingerprints. Signatures are not checked here, as the relay does not check them on
 * arrival either: fuzz-binding covers the check. (The cap of a million fingerprints per
 * peer is out of reach of one input, and the model does not know it.)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "wzp-glib.h"
#include "wzp-identity-private.h"
#include "wzp-message-private.h"
#include "wzp-relay-federation-private.h"

static WzpRelay *relay;

static gboolean
same_set (GHashTable *set,
          GHashTable *model)
{
  GHashTableIter iter;
  gpointer key;

  if (set == NULL || model == NULL)
    return set == model;
  if (g_hash_table_size (set) != g_hash_table_size (model))
    return FALSE;
  g_hash_table_iter_init (&iter, set);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (model, key) || !wzp_fingerprint_is_valid (key))
      return FALSE;
  return TRUE;
}

static GHashTable *
new_set (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

int
LLVMFuzzerTestOneInput (const unsigned char *data,
                        size_t               size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_auto(GStrv) lines = NULL;
  g_autoptr(GHashTable) announced = new_set ();
  g_autoptr(GHashTable) staging = NULL;
  RelayPeer peer = { 0 };

  fuzz_set_logging_func ();
  if (relay == NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(WzpIdentity) identity = _wzp_identity_new_ephemeral (&error);

      fuzz_check (identity != NULL);
      relay = wzp_relay_new (identity);
    }

  peer.relay = relay;
  peer.uri = "wzps://relay-b.example.org:4433#ffff:0000:a1b2:c3d4:e5f6:0709:1011:dead";
  peer.fingerprint = "ffff:0000:a1b2:c3d4:e5f6:0709:1011:dead";
  _wzp_relay_presence_peer_init (&peer);

  /* Up to the first NUL, as the frame's text would end there for the JSON parser too. */
  lines = g_strsplit (text, "\n", 256);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) handle_error = NULL;
      g_autoptr(WzpMessage) message = _wzp_message_decode (lines[i], strlen (lines[i]),
                                                           &error);
      g_autoptr(GPtrArray) added = NULL;
      g_auto(GStrv) removed = NULL;
      gint64 latest_before, latest_after;
      gboolean snapshot, more, ok;

      if (message == NULL)
        {
          fuzz_check (error != NULL && error->domain == WZP_PROTOCOL_ERROR);
          continue;
        }
      if (_wzp_message_get_message_type (message) != WZP_MESSAGE_PRESENCE_UPDATE)
        continue;

      added = _wzp_message_dup_bindings (message, "added");
      removed = _wzp_message_dup_strv (message, "removed");
      snapshot = _wzp_message_get_bool (message, "snapshot");
      more = _wzp_message_get_bool (message, "more");
      /* The decoder's promise, which the presence code relies on. */
      for (guint j = 0; j < added->len; j++)
        {
          WzpBinding *binding = g_ptr_array_index (added, j);

          fuzz_check (wzp_fingerprint_is_valid (binding->fingerprint));
          fuzz_check (wzp_fingerprint_is_valid (binding->relay_fingerprint));
        }
      for (guint j = 0; removed[j] != NULL; j++)
        fuzz_check (wzp_fingerprint_is_valid (removed[j]));

      /* A binding's time is checked against the clock: one read before and one after
       * bound what the relay saw. */
      latest_before = g_get_real_time () / 1000 + WZP_BINDING_MAX_AHEAD_MS;
      ok = _wzp_relay_presence_handle (&peer, message, &handle_error);
      latest_after = g_get_real_time () / 1000 + WZP_BINDING_MAX_AHEAD_MS;
      fuzz_check (ok == (handle_error == NULL));

      /* The model. */
      if (snapshot || staging == NULL)
        {
          GHashTable *target;
          gboolean refused = FALSE;

          if (snapshot && staging == NULL)
            staging = new_set ();
          target = snapshot ? staging : announced;
          if (!snapshot)
            for (guint j = 0; removed[j] != NULL; j++)
              g_hash_table_remove (announced, removed[j]);
          for (guint j = 0; j < added->len; j++)
            {
              WzpBinding *binding = g_ptr_array_index (added, j);
              gboolean held = g_strcmp0 (binding->relay_fingerprint, peer.fingerprint) == 0 &&
                              binding->time_ms <= latest_before;

              /* At the edge of the clock either answer is right: go by the relay's. */
              if (g_strcmp0 (binding->relay_fingerprint, peer.fingerprint) == 0 &&
                  binding->time_ms > latest_before && binding->time_ms <= latest_after)
                held = g_hash_table_contains (snapshot ? peer.staging ? peer.staging
                                                                      : peer.announced
                                                       : peer.announced,
                                              binding->fingerprint);
              if (held)
                g_hash_table_add (target, g_strdup (binding->fingerprint));
              else
                refused = TRUE;
            }
          fuzz_check (ok == !refused);
          fuzz_check (refused || handle_error == NULL);
          fuzz_check (!refused || g_error_matches (handle_error, WZP_PROTOCOL_ERROR,
                                                   WZP_PROTOCOL_ERROR_INVALID_VALUE));
          if (snapshot && !more)
            {
              g_hash_table_unref (announced);
              announced = g_steal_pointer (&staging);
            }
        }
      else
        fuzz_check (!ok && g_error_matches (handle_error, WZP_PROTOCOL_ERROR,
                                            WZP_PROTOCOL_ERROR_UNEXPECTED));

      if (!same_set (peer.announced, announced) || !same_set (peer.staging, staging))
        {
          fprintf (stderr, "line %u: the peer holds %u (%s snapshot being received), the "
                   "model %u (%s)\n", i, g_hash_table_size (peer.announced),
                   peer.staging != NULL ? "a" : "no", g_hash_table_size (announced),
                   staging != NULL ? "a snapshot being received" : "none");
          abort ();
        }
    }

  _wzp_relay_presence_peer_clear (&peer);
  return 0;
}
