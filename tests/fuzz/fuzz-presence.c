/* fuzz-presence.c: PresenceUpdate from a federation peer (docs/protocol.md, "Presence")
 *
 * The input is what a peer relay sends on its link, one frame payload a line: each line
 * is decoded and, when it is a PresenceUpdate, handed to _wzp_relay_presence_handle() for
 * one peer, as the federation link does. A model of the protocol runs beside it: a
 * snapshot (chunked with more=true) replaces what the peer announced once its last chunk
 * is in, a change removes then adds, a change in the middle of a snapshot is refused with
 * WZP_PROTOCOL_ERROR_UNEXPECTED and changes nothing. After every line the peer's announced
 * set and its snapshot being received must equal the model's, and hold only well-formed
 * fingerprints. (The cap of a million fingerprints per peer is out of reach of one input,
 * and the model does not know it.)
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
      g_auto(GStrv) added = NULL;
      g_auto(GStrv) removed = NULL;
      gboolean snapshot, more, ok;

      if (message == NULL)
        {
          fuzz_check (error != NULL && error->domain == WZP_PROTOCOL_ERROR);
          continue;
        }
      if (_wzp_message_get_message_type (message) != WZP_MESSAGE_PRESENCE_UPDATE)
        continue;

      added = _wzp_message_dup_strv (message, "added");
      removed = _wzp_message_dup_strv (message, "removed");
      snapshot = _wzp_message_get_bool (message, "snapshot");
      more = _wzp_message_get_bool (message, "more");
      /* The decoder's promise, which the presence code relies on. */
      for (guint j = 0; added[j] != NULL; j++)
        fuzz_check (wzp_fingerprint_is_valid (added[j]));
      for (guint j = 0; removed[j] != NULL; j++)
        fuzz_check (wzp_fingerprint_is_valid (removed[j]));

      ok = _wzp_relay_presence_handle (&peer, message, &handle_error);
      fuzz_check (ok == (handle_error == NULL));

      /* The model. */
      if (snapshot)
        {
          fuzz_check (ok);
          if (staging == NULL)
            staging = new_set ();
          for (guint j = 0; added[j] != NULL; j++)
            g_hash_table_add (staging, g_strdup (added[j]));
          if (!more)
            {
              g_hash_table_unref (announced);
              announced = g_steal_pointer (&staging);
            }
        }
      else if (staging != NULL)
        fuzz_check (!ok && g_error_matches (handle_error, WZP_PROTOCOL_ERROR,
                                            WZP_PROTOCOL_ERROR_UNEXPECTED));
      else
        {
          fuzz_check (ok);
          for (guint j = 0; removed[j] != NULL; j++)
            g_hash_table_remove (announced, removed[j]);
          for (guint j = 0; added[j] != NULL; j++)
            g_hash_table_add (announced, g_strdup (added[j]));
        }

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
