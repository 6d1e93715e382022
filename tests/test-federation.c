/* test-federation.c: calls between clients of federated relays, on loopback
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "test-util.h"
#include "wzp-client-private.h"
#include "wzp-path-private.h"
#include "wzp-pipe-token-private.h"
#include "wzp-relay-federation-private.h"
#include "wzp-relay-private.h"

#define MAX_RELAYS 3

typedef struct
{
  WzpRelay *relay[MAX_RELAYS];
  char     *address[MAX_RELAYS];
  char     *pipe_address[MAX_RELAYS];
  char     *uri[MAX_RELAYS];
  guint     n;
} Fixture;

/* One of wzp_relay_dup_counters() (docs/relay.md, "Counters"). */
static guint64
counter (WzpRelay   *relay,
         const char *key)
{
  g_autoptr(GVariant) counters = wzp_relay_dup_counters (relay);
  guint64 value = G_MAXUINT64;

  g_assert_true (g_variant_lookup (counters, key, "t", &value));
  return value;
}

static void
start_relay (Fixture *f,
             guint    i)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) listen = NULL;
  g_auto(GStrv) pipes = NULL;
  g_auto(GStrv) uris = NULL;

  f->relay[i] = wzp_relay_new (identity);
  wzp_relay_listen (f->relay[i], "127.0.0.1:0", NULL, &error);
  g_assert_no_error (error);
  listen = wzp_relay_dup_listen_addresses (f->relay[i]);
  pipes = wzp_relay_dup_pipe_addresses (f->relay[i]);
  uris = wzp_relay_dup_uris (f->relay[i]);
  f->address[i] = g_strdup (listen[0]);
  f->pipe_address[i] = g_strdup (pipes[0]);
  f->uri[i] = g_strdup (uris[0]);
}

static const char *
fp_of (Fixture *f,
       guint    i)
{
  return wzp_relay_get_fingerprint (f->relay[i]);
}

/* The state nick and announced count of @peer in @relay's list, FALSE if absent. */
static gboolean
peer_entry (WzpRelay    *relay,
            const char  *peer_fp,
            char       **state,
            guint       *announced)
{
  g_autoptr(GVariant) list = g_variant_ref_sink (wzp_relay_list_peers (relay));
  GVariantIter iter;
  const char *uri, *fp, *nick;
  guint32 count;

  g_variant_iter_init (&iter, list);
  while (g_variant_iter_next (&iter, "(&s&s&su)", &uri, &fp, &nick, &count))
    if (strcmp (fp, peer_fp) == 0)
      {
        if (state != NULL)
          *state = g_strdup (nick);
        if (announced != NULL)
          *announced = count;
        return TRUE;
      }
  return FALSE;
}

static gboolean
link_is_up (WzpRelay   *relay,
            const char *peer_fp)
{
  g_autofree char *state = NULL;

  return peer_entry (relay, peer_fp, &state, NULL) && strcmp (state, "up") == 0;
}

static void
wait_link_up (Fixture *f,
              guint    a,
              guint    b)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (!(link_is_up (f->relay[a], fp_of (f, b)) && link_is_up (f->relay[b], fp_of (f, a))))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("The link between relay %u and relay %u did not come up", a, b);
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
link_relays (Fixture *f,
             guint    a,
             guint    b)
{
  g_autoptr(GError) error = NULL;

  wzp_relay_add_peer (f->relay[a], f->uri[b], &error);
  g_assert_no_error (error);
  wzp_relay_add_peer (f->relay[b], f->uri[a], &error);
  g_assert_no_error (error);
  wait_link_up (f, a, b);
}

static void
start_relays (Fixture *f,
              guint    n)
{
  f->n = n;
  for (guint i = 0; i < f->n; i++)
    start_relay (f, i);
}

static void
fixture_setup_two (Fixture       *f,
                   gconstpointer  data)
{
  start_relays (f, 2);
  link_relays (f, 0, 1);
}

/* A - B - C: A and C are not linked. */
static void
fixture_setup_line (Fixture       *f,
                    gconstpointer  data)
{
  start_relays (f, 3);
  link_relays (f, 0, 1);
  link_relays (f, 1, 2);
}

static void
fixture_setup_unlinked (Fixture       *f,
                        gconstpointer  data)
{
  start_relays (f, 2);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  for (guint i = 0; i < f->n; i++)
    if (f->relay[i] != NULL)
      wzp_relay_stop (f->relay[i]);
  for (guint i = 0; i < f->n; i++)
    {
      if (f->relay[i] != NULL)
        wzp_test_finalize_object (f->relay[i]);
      g_free (f->address[i]);
      g_free (f->pipe_address[i]);
      g_free (f->uri[i]);
    }
}

/* Raw clients */

static WzpTestClient *
connect_registered (Fixture    *f,
                    guint       i,
                    const char *alias)
{
  WzpTestClient *client = wzp_test_client_connect (f->address[i], NULL, fp_of (f, i));
  g_autoptr(WzpMessage) ack = wzp_test_client_register (client, alias);

  return client;
}

/* Waits until relay @at knows that a peer relay holds @fingerprint (or, with @present
 * FALSE, that none does). Presence updates are paced to one a second per link. */
static void
wait_presence (WzpRelay   *at,
               const char *fingerprint,
               gboolean    present)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while ((_wzp_relay_presence_lookup (at, fingerprint, G_MININT64) != NULL) != present)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Presence of %s did not become %s", fingerprint, present ? "known" : "gone");
      g_main_context_iteration (NULL, TRUE);
    }
}

/* Spends the tokens of @peer's presence bucket: the next change waits a second. */
static void
empty_bucket (RelayPeer *peer)
{
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < peer->bucket.burst; i++)
    _wzp_token_bucket_take (&peer->bucket, now);
}

static WzpTestClient *
connect_announced (Fixture    *f,
                   guint       i,
                   const char *alias,
                   guint       seen_at)
{
  WzpTestClient *client = connect_registered (f, i, alias);

  wait_presence (f->relay[seen_at], wzp_test_client_fingerprint (client), TRUE);
  return client;
}

static void
expect_hangup (WzpTestClient *client,
               const char    *call_id,
               const char    *reason)
{
  g_autoptr(WzpMessage) hangup = wzp_test_client_expect (client, WZP_MESSAGE_HANGUP);

  g_assert_cmpstr (_wzp_message_get_string (hangup, "call_id"), ==, call_id);
  g_assert_cmpstr (_wzp_message_get_string (hangup, "reason"), ==, reason);
}

static void
wait_no_calls (WzpRelay *relay)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (wzp_relay_get_n_calls (relay) > 0)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("The relay still has %u calls", wzp_relay_get_n_calls (relay));
      g_main_context_iteration (NULL, TRUE);
    }
}

/* Links */

typedef struct
{
  GPtrArray *events;   /* "FINGERPRINT nick" */
} LinkEvents;

static void
peer_link_changed_cb (WzpRelay         *relay,
                      const char       *fingerprint,
                      WzpPeerLinkState  state,
                      LinkEvents       *events)
{
  GEnumClass *klass = g_type_class_ref (WZP_TYPE_PEER_LINK_STATE);

  g_ptr_array_add (events->events, g_strdup_printf ("%s %s", fingerprint,
                                                    g_enum_get_value (klass, state)->value_nick));
  g_type_class_unref (klass);
}

static void
test_link (Fixture       *f,
           gconstpointer  data)
{
  LinkEvents events[2] = { { g_ptr_array_new_with_free_func (g_free) },
                           { g_ptr_array_new_with_free_func (g_free) } };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autofree char *up_0 = NULL;
  g_autofree char *up_1 = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *state = NULL;
  guint32 announced;

  for (guint i = 0; i < 2; i++)
    g_signal_connect (f->relay[i], "peer-link-changed", G_CALLBACK (peer_link_changed_cb),
                      &events[i]);

  /* Refused peers */
  g_assert_false (wzp_relay_add_peer (f->relay[0], "https://example.org", &error));
  g_assert_error (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_INVALID_PEER);
  g_clear_error (&error);
  g_assert_false (wzp_relay_add_peer (f->relay[0], "wzps://127.0.0.1:4433", &error));
  g_assert_error (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_INVALID_PEER);
  g_clear_error (&error);
  g_assert_false (wzp_relay_add_peer (f->relay[0], f->uri[0], &error));
  g_assert_error (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_INVALID_PEER);
  g_clear_error (&error);
  g_assert_false (wzp_relay_remove_peer (f->relay[0], fp_of (f, 1), &error));
  g_assert_error (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_UNKNOWN_PEER);
  g_clear_error (&error);

  /* Only one side configured: no link (the other refuses, or never dials). */
  g_assert_true (wzp_relay_add_peer (f->relay[0], f->uri[1], &error));
  g_assert_no_error (error);
  g_assert_false (wzp_relay_add_peer (f->relay[0], f->uri[1], &error));
  g_assert_error (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_DUPLICATE_PEER);
  g_clear_error (&error);
  wzp_test_spin (300);
  g_assert_false (link_is_up (f->relay[0], fp_of (f, 1)));
  g_assert_cmpuint (counter (f->relay[0], "peers"), ==, 1);
  g_assert_cmpuint (counter (f->relay[0], "peer-links-up"), ==, 0);

  /* Both: up on both sides, each having said so once. */
  g_assert_true (wzp_relay_add_peer (f->relay[1], f->uri[0], &error));
  g_assert_no_error (error);
  wait_link_up (f, 0, 1);

  list = g_variant_ref_sink (wzp_relay_list_peers (f->relay[0]));
  g_assert_cmpstr (g_variant_get_type_string (list), ==, "a(sssu)");
  g_assert_cmpuint (g_variant_n_children (list), ==, 1);
  g_variant_get_child (list, 0, "(sssu)", &uri, &fp, &state, &announced);
  g_assert_cmpstr (uri, ==, f->uri[1]);
  g_assert_cmpstr (fp, ==, fp_of (f, 1));
  g_assert_cmpstr (state, ==, "up");
  g_assert_cmpuint (announced, ==, 0);
  g_assert_cmpuint (counter (f->relay[0], "peer-links-up"), ==, 1);
  g_assert_cmpuint (counter (f->relay[1], "peer-links-up"), ==, 1);
  /* A link is the federation's, not a client connection. */
  g_assert_cmpuint (counter (f->relay[1], "connections"), ==, 0);

  up_0 = g_strdup_printf ("%s up", fp_of (f, 1));
  up_1 = g_strdup_printf ("%s up", fp_of (f, 0));
  g_assert_cmpstr (g_ptr_array_index (events[0].events, events[0].events->len - 1), ==, up_0);
  g_assert_cmpstr (g_ptr_array_index (events[1].events, events[1].events->len - 1), ==, up_1);

  /* The peer is a reflector for this relay's clients (docs/protocol.md, "Reflectors"). */
  {
    g_autoptr(WzpTestClient) client = wzp_test_client_connect (f->address[0], NULL,
                                                               fp_of (f, 0));
    g_autoptr(WzpMessage) ack = wzp_test_client_register (client, "Alice");

    wzp_test_assert_strv (_wzp_message_dup_strv (ack, "reflectors"), f->uri[1], NULL);
  }
  /* ... and answers them: a client of relay 0, unregistered at relay 1, asks it. */
  {
    g_autoptr(WzpTestClient) client = wzp_test_client_connect (f->address[1], NULL,
                                                               fp_of (f, 1));
    g_autoptr(WzpMessage) reflect = _wzp_message_new (WZP_MESSAGE_REFLECT);
    g_autoptr(WzpMessage) response = NULL;
    g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (client->conn,
                                                                             NULL);
    g_autofree char *local_text = _wzp_address_to_string (local);

    wzp_test_client_send (client, reflect);
    response = wzp_test_client_expect (client, WZP_MESSAGE_REFLECT_RESPONSE);
    g_assert_cmpstr (_wzp_message_get_string (response, "observed_addr"), ==, local_text);
  }

  /* Removing the peer takes the link down on both sides, and it stays down. */
  g_assert_true (wzp_relay_remove_peer (f->relay[1], fp_of (f, 0), &error));
  g_assert_no_error (error);
  g_assert_false (peer_entry (f->relay[1], fp_of (f, 0), NULL, NULL));
  {
    gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

    while (link_is_up (f->relay[0], fp_of (f, 1)))
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_main_context_iteration (NULL, TRUE);
      }
  }
  wzp_test_spin (600);
  g_assert_false (link_is_up (f->relay[0], fp_of (f, 1)));

  for (guint i = 0; i < 2; i++)
    {
      g_signal_handlers_disconnect_by_data (f->relay[i], &events[i]);
      g_ptr_array_unref (events[i].events);
    }
}

static void
test_not_a_peer (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(WzpIdentity) stranger = wzp_test_identity_new ();
  g_autoptr(WzpTestClient) client = wzp_test_client_connect (f->address[0], stranger,
                                                             fp_of (f, 0));
  g_autoptr(WzpMessage) hello = _wzp_message_new (WZP_MESSAGE_FEDERATION_HELLO);

  _wzp_message_set_string (hello, "relay_fingerprint", wzp_identity_get_fingerprint (stranger));
  _wzp_message_set_string (hello, "relay_version", "1.0");
  wzp_test_client_send (client, hello);
  wzp_test_client_expect_error (client, WZP_ERROR_CODE_NOT_A_PEER);
  wzp_test_client_wait_closed (client);
  g_assert_false (peer_entry (f->relay[0], wzp_identity_get_fingerprint (stranger), NULL,
                              NULL));
}

static WzpTestClient *fake_peer_connect (Fixture     *f,
                                         guint        i,
                                         WzpIdentity *identity);

/* Keepalive: a link with traffic-less peers stays up on Ping/Pong; a peer that stops
 * answering is dropped after idle-timeout. */
static void
test_keepalive (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(WzpIdentity) silent_id = wzp_test_identity_new ();
  g_autoptr(WzpTestClient) silent = NULL;
  g_autoptr(WzpMessage) ping = NULL;
  gint64 deadline;

  for (guint i = 0; i < 2; i++)
    g_object_set (f->relay[i], "keepalive-interval", 1, "idle-timeout", 2, NULL);
  link_relays (f, 0, 1);
  silent = fake_peer_connect (f, 0, silent_id);
  silent->answer_pings = FALSE;

  /* Three seconds without a word from the clients: the relays' link lives on pings. */
  wzp_test_spin (3000);
  g_assert_true (link_is_up (f->relay[0], fp_of (f, 1)));
  g_assert_true (link_is_up (f->relay[1], fp_of (f, 0)));

  /* The fake peer was pinged and never answered (the test did not read): dropped. */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (link_is_up (f->relay[0], wzp_identity_get_fingerprint (silent_id)))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  ping = wzp_test_client_expect (silent, WZP_MESSAGE_PING);
  wzp_test_client_wait_closed (silent);
}

/* Calls */

static void
test_call_cross_wired (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_announced (f, 0, "Alice", 1);
  g_autoptr(WzpTestClient) b = connect_announced (f, 1, "Bob", 0);
  g_autofree char *call_id = g_uuid_string_random ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, wzp_test_client_fingerprint (b));
  g_autoptr(WzpMessage) got_offer = NULL;
  g_autoptr(WzpMessage) ringing = _wzp_message_new_for_call (WZP_MESSAGE_CALL_RINGING, call_id);
  g_autoptr(WzpMessage) got_ringing = NULL;
  g_autoptr(WzpMessage) answer = wzp_test_make_answer (call_id, "AcceptTrusted");
  g_autoptr(WzpMessage) got_answer = NULL;
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autoptr(WzpMessage) update = _wzp_message_new_for_call (WZP_MESSAGE_CANDIDATE_UPDATE, call_id);
  g_autoptr(WzpMessage) got_update = NULL;
  const char * const new_locals[] = { "192.168.1.5:40001", NULL };

  /* The offer reaches the callee with the caller's identity and without its addresses. */
  _wzp_message_set_string (offer, "caller_fingerprint", wzp_test_client_fingerprint (b));
  wzp_test_client_send (a, offer);
  got_offer = wzp_test_client_expect (b, WZP_MESSAGE_DIRECT_CALL_OFFER);
  g_assert_cmpstr (_wzp_message_get_string (got_offer, "call_id"), ==, call_id);
  g_assert_cmpstr (_wzp_message_get_string (got_offer, "caller_fingerprint"), ==,
                   wzp_test_client_fingerprint (a));
  g_assert_cmpstr (_wzp_message_get_string (got_offer, "caller_alias"), ==, "Alice");
  g_assert_false (_wzp_message_has_member (got_offer, "caller_reflexive_addr"));
  g_assert_false (_wzp_message_has_member (got_offer, "caller_local_addrs"));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[0]), ==, 1);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[1]), ==, 1);

  wzp_test_client_send (b, ringing);
  got_ringing = wzp_test_client_expect (a, WZP_MESSAGE_CALL_RINGING);
  g_assert_cmpstr (_wzp_message_get_string (got_ringing, "call_id"), ==, call_id);

  /* The answer reaches the caller without the callee's addresses (nor anything the relays
   * say to each other). */
  wzp_test_client_send (b, answer);
  got_answer = wzp_test_client_expect (a, WZP_MESSAGE_DIRECT_CALL_ANSWER);
  g_assert_cmpstr (_wzp_message_get_string (got_answer, "accept_mode"), ==, "AcceptTrusted");
  g_assert_false (_wzp_message_has_member (got_answer, "callee_reflexive_addr"));
  g_assert_false (_wzp_message_has_member (got_answer, "callee_local_addrs"));
  g_assert_false (_wzp_message_has_member (got_answer, "bridge_secret"));

  /* Each party's CallSetup carries the OTHER party's candidates, its own role, and its own
   * pipe secret and pipe address at ITS relay. */
  setup_a = wzp_test_client_expect (a, WZP_MESSAGE_CALL_SETUP);
  g_assert_cmpstr (_wzp_message_get_string (setup_a, "call_id"), ==, call_id);
  g_assert_cmpstr (_wzp_message_get_string (setup_a, "role"), ==, "caller");
  g_assert_cmpstr (_wzp_message_get_string (setup_a, "peer_fingerprint"), ==,
                   wzp_test_client_fingerprint (b));
  g_assert_cmpstr (_wzp_message_get_string (setup_a, "peer_direct_addr"), ==,
                   "198.51.100.2:40002");
  wzp_test_assert_strv (_wzp_message_dup_strv (setup_a, "peer_local_addrs"),
                        "10.0.2.21:40002", NULL);
  g_assert_cmpstr (_wzp_message_get_string (setup_a, "peer_nat_type"), ==, "Symmetric");
  g_assert_true (_wzp_message_get_bool (setup_a, "relay_pipe"));
  g_assert_cmpuint (strlen (_wzp_message_get_string (setup_a, "pipe_token")), ==, 32);
  g_assert_cmpstr (_wzp_message_get_string (setup_a, "pipe_addr"), ==, f->pipe_address[0]);

  setup_b = wzp_test_client_expect (b, WZP_MESSAGE_CALL_SETUP);
  g_assert_cmpstr (_wzp_message_get_string (setup_b, "call_id"), ==, call_id);
  g_assert_cmpstr (_wzp_message_get_string (setup_b, "role"), ==, "callee");
  g_assert_cmpstr (_wzp_message_get_string (setup_b, "peer_fingerprint"), ==,
                   wzp_test_client_fingerprint (a));
  g_assert_cmpstr (_wzp_message_get_string (setup_b, "peer_alias"), ==, "Alice");
  g_assert_cmpstr (_wzp_message_get_string (setup_b, "peer_direct_addr"), ==,
                   "198.51.100.1:40001");
  wzp_test_assert_strv (_wzp_message_dup_strv (setup_b, "peer_local_addrs"),
                        "192.168.88.21:40001", "[fd00:1::21]:40001", NULL);
  g_assert_cmpstr (_wzp_message_get_string (setup_b, "peer_nat_type"), ==, "Cone");
  g_assert_true (_wzp_message_get_bool (setup_b, "relay_pipe"));
  g_assert_cmpuint (strlen (_wzp_message_get_string (setup_b, "pipe_token")), ==, 32);
  g_assert_cmpstr (_wzp_message_get_string (setup_b, "pipe_token"), !=,
                   _wzp_message_get_string (setup_a, "pipe_token"));
  g_assert_cmpstr (_wzp_message_get_string (setup_b, "pipe_addr"), ==, f->pipe_address[1]);

  /* A network change crosses too. */
  _wzp_message_set_string (update, "reflexive_addr", "198.51.100.9:40001");
  _wzp_message_set_strv (update, "local_addrs", new_locals);
  wzp_test_client_send (a, update);
  got_update = wzp_test_client_expect (b, WZP_MESSAGE_CANDIDATE_UPDATE);
  g_assert_cmpstr (_wzp_message_get_string (got_update, "reflexive_addr"), ==,
                   "198.51.100.9:40001");
  wzp_test_assert_strv (_wzp_message_dup_strv (got_update, "local_addrs"),
                        "192.168.1.5:40001", NULL);

  /* Both relays list the call as set up. */
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GVariant) calls = g_variant_ref_sink (wzp_relay_list_calls (f->relay[i]));
      g_autoptr(GVariant) entry = g_variant_get_child_value (calls, 0);
      g_autofree char *state = NULL;

      g_assert_true (g_variant_lookup (entry, "state", "s", &state));
      g_assert_cmpstr (state, ==, "set-up");
    }
  g_assert_true (wzp_test_client_quiet (a, 100));
  g_assert_true (wzp_test_client_quiet (b, 0));
}

static void
test_call_privacy (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_announced (f, 0, "Alice", 1);
  g_autoptr(WzpTestClient) b = connect_announced (f, 1, "Bob", 0);
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  g_autoptr(WzpMessage) update = _wzp_message_new_for_call (WZP_MESSAGE_CANDIDATE_UPDATE, call_id);

  /* Neither side learns an address, across relays as on one. */
  for (WzpMessage *setup = setup_a; setup != NULL; setup = setup == setup_a ? setup_b : NULL)
    {
      g_assert_false (_wzp_message_has_member (setup, "peer_direct_addr"));
      g_assert_false (_wzp_message_has_member (setup, "peer_local_addrs"));
      g_assert_false (_wzp_message_has_member (setup, "peer_nat_type"));
      g_assert_true (_wzp_message_has_member (setup, "pipe_token"));
    }
  _wzp_message_set_string (update, "reflexive_addr", "198.51.100.9:40001");
  wzp_test_client_send (a, update);
  wzp_test_client_expect_error (a, WZP_ERROR_CODE_BAD_STATE);
  g_assert_true (wzp_test_client_quiet (b, 200));
}

static void
test_reject (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_announced (f, 0, "Alice", 1);
  g_autoptr(WzpTestClient) b = connect_announced (f, 1, "Bob", 0);
  g_autofree char *call_id = wzp_test_offer_call (a, b);
  g_autoptr(WzpMessage) reject = _wzp_message_new_for_call (WZP_MESSAGE_DIRECT_CALL_ANSWER,
                                                            call_id);
  g_autoptr(WzpMessage) got = NULL;

  _wzp_message_set_string (reject, "accept_mode", "Reject");
  wzp_test_client_send (b, reject);
  got = wzp_test_client_expect (a, WZP_MESSAGE_DIRECT_CALL_ANSWER);
  g_assert_cmpstr (_wzp_message_get_string (got, "accept_mode"), ==, "Reject");
  wait_no_calls (f->relay[0]);
  wait_no_calls (f->relay[1]);
  g_assert_true (wzp_test_client_quiet (a, 100));
  g_assert_true (wzp_test_client_quiet (b, 0));
}

/* data: which party hangs up, 0 the caller, 1 the callee. */
static void
test_hangup (Fixture       *f,
             gconstpointer  data)
{
  guint who = GPOINTER_TO_UINT (data);
  g_autoptr(WzpTestClient) a = connect_announced (f, 0, "Alice", 1);
  g_autoptr(WzpTestClient) b = connect_announced (f, 1, "Bob", 0);
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);
  g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);
  WzpTestClient *sender = who == 0 ? a : b;
  WzpTestClient *other = who == 0 ? b : a;

  _wzp_message_set_string (hangup, "reason", "Normal");
  wzp_test_client_send (sender, hangup);
  expect_hangup (other, call_id, "Normal");
  wait_no_calls (f->relay[0]);
  wait_no_calls (f->relay[1]);
  g_assert_true (wzp_test_client_quiet (sender, 100));

  /* Also before the answer: the caller gives up while it rings. */
  {
    g_autofree char *second = wzp_test_offer_call (a, b);
    g_autoptr(WzpMessage) cancel = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, second);

    _wzp_message_set_string (cancel, "reason", "Normal");
    wzp_test_client_send (a, cancel);
    expect_hangup (b, second, "Normal");
    wait_no_calls (f->relay[0]);
    wait_no_calls (f->relay[1]);
  }
}

/* data: the relay whose ring timeout is short: 0 the caller's, 1 the callee's. */
static void
test_ring_timeout (Fixture       *f,
                   gconstpointer  data)
{
  guint which = GPOINTER_TO_UINT (data);
  g_autoptr(WzpTestClient) a = connect_announced (f, 0, "Alice", 1);
  g_autoptr(WzpTestClient) b = connect_announced (f, 1, "Bob", 0);
  g_autofree char *call_id = NULL;

  g_object_set (f->relay[which], "ring-timeout", 1, NULL);
  call_id = wzp_test_offer_call (a, b);
  expect_hangup (a, call_id, "Timeout");
  expect_hangup (b, call_id, "Timeout");
  wait_no_calls (f->relay[0]);
  wait_no_calls (f->relay[1]);
}

static void
test_unknown_everywhere (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_announced (f, 0, "Alice", 1);
  g_autoptr(WzpIdentity) nobody = wzp_test_identity_new ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer ("unknown-1",
                                                     wzp_identity_get_fingerprint (nobody));
  g_autoptr(WzpMessage) error = NULL;

  wzp_test_client_send (a, offer);
  error = wzp_test_client_expect (a, WZP_MESSAGE_ERROR);
  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, WZP_ERROR_CODE_UNKNOWN_CALLEE);
  g_assert_cmpstr (_wzp_message_get_string (error, "call_id"), ==, "unknown-1");
  g_assert_nonnull (strstr (_wzp_message_get_string (error, "message"), "federated"));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[0]), ==, 0);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[1]), ==, 0);
}

/* The callee's relay refuses an offer its presence promised (the callee left meanwhile):
 * the caller gets that relay's Error, and both relays forget the call. */
static void
test_callee_gone_meanwhile (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_announced (f, 0, "Alice", 1);
  WzpTestClient *b = connect_announced (f, 1, "Bob", 0);
  g_autofree char *target = g_strdup (wzp_test_client_fingerprint (b));
  g_autoptr(WzpMessage) offer = wzp_test_make_offer ("gone-1", target);

  /* Bob leaves when relay B's link to A has no token: relay A hears of it only with the
   * next one, a second from now. */
  empty_bucket (_wzp_relay_federation_peer (f->relay[1], fp_of (f, 0)));
  wzp_test_client_free (b);
  while (wzp_relay_get_n_registrations (f->relay[1]) > 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (_wzp_relay_presence_lookup (f->relay[0], target, G_MININT64));
  wzp_test_client_send (a, offer);
  wzp_test_client_expect_error (a, WZP_ERROR_CODE_UNKNOWN_CALLEE);
  wait_no_calls (f->relay[0]);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[1]), ==, 0);
  wait_presence (f->relay[0], target, FALSE);
}

/* data: 0: the callee's relay stops (it says goodbye); 1: the link breaks without a
 * word (a crash, a network failure). Either way both parties are told. */
static void
test_callee_relay_dies (Fixture       *f,
                        gconstpointer  data)
{
  gboolean abrupt = GPOINTER_TO_UINT (data);
  g_autoptr(WzpTestClient) a = connect_announced (f, 0, "Alice", 1);
  g_autoptr(WzpTestClient) b = connect_announced (f, 1, "Bob", 0);
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);

  if (abrupt)
    _wzp_relay_federation_drop_links (f->relay[1]);
  else
    wzp_relay_stop (f->relay[1]);

  expect_hangup (a, call_id, "Error");
  expect_hangup (b, call_id, "Error");
  wait_no_calls (f->relay[0]);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[1]), ==, 0);
  if (!abrupt)
    {
      wzp_test_client_expect_error (b, WZP_ERROR_CODE_SHUTDOWN);
      wzp_test_client_wait_closed (b);
    }
  /* The caller is still registered and gets no more word of that call. */
  g_assert_true (wzp_test_client_quiet (a, 100));
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay[0]), ==, 1);
}

/* The caller's signalling drops: before the answer the call ends; after it, the callee
 * hears PeerSignallingLost from across the link, then Hangup when the grace runs out. */
static void
test_caller_disconnects (Fixture       *f,
                         gconstpointer  data)
{
  WzpTestClient *a = connect_announced (f, 0, "Alice", 1);
  g_autoptr(WzpTestClient) b = connect_announced (f, 1, "Bob", 0);
  g_autofree char *first = wzp_test_offer_call (a, b);
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *second = NULL;
  g_autoptr(WzpMessage) lost = NULL;

  wzp_test_client_free (a);
  expect_hangup (b, first, "Error");
  wait_no_calls (f->relay[1]);

  g_object_set (f->relay[0], "grace-period", 1, NULL);
  a = connect_announced (f, 0, "Alice", 1);
  second = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);
  wzp_test_client_free (a);
  lost = wzp_test_client_expect (b, WZP_MESSAGE_PEER_SIGNALLING_LOST);
  g_assert_cmpstr (_wzp_message_get_string (lost, "call_id"), ==, second);
  expect_hangup (b, second, "Error");
  wait_no_calls (f->relay[0]);
  wait_no_calls (f->relay[1]);
}

/* Presence */

static void
wait_announced (WzpRelay   *relay,
                const char *peer_fp,
                guint       expected)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  guint announced = G_MAXUINT;

  while (!peer_entry (relay, peer_fp, NULL, &announced) || announced != expected)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("The peer announces %u identities, not %u", announced, expected);
      g_main_context_iteration (NULL, TRUE);
    }
}

/* What ::peer-presence-changed said last. */
typedef struct {
  char  *fingerprint;
  guint  n_announced;
  guint  n_signals;
} PresenceSeen;

static void
presence_changed_cb (WzpRelay     *relay,
                     const char   *fingerprint,
                     guint         n_announced,
                     PresenceSeen *seen)
{
  g_free (seen->fingerprint);
  seen->fingerprint = g_strdup (fingerprint);
  seen->n_announced = n_announced;
  seen->n_signals++;
}

static void
test_presence_reconnect (Fixture       *f,
                         gconstpointer  data)
{
  PresenceSeen seen = { NULL, G_MAXUINT, 0 };
  gulong handler = g_signal_connect (f->relay[0], "peer-presence-changed",
                                     G_CALLBACK (presence_changed_cb), &seen);
  g_autoptr(WzpTestClient) b1 = connect_announced (f, 1, "Bob", 0);
  WzpTestClient *b2 = connect_announced (f, 1, "Carol", 0);
  g_autofree char *b2_fp = g_strdup (wzp_test_client_fingerprint (b2));
  g_autoptr(WzpTestClient) b3 = NULL;
  g_autoptr(WzpTestClient) a = connect_announced (f, 0, "Alice", 1);

  wait_announced (f->relay[0], fp_of (f, 1), 2);
  wait_announced (f->relay[1], fp_of (f, 0), 1);
  /* The relay said so: what its D-Bus Peers property follows. */
  g_assert_cmpstr (seen.fingerprint, ==, fp_of (f, 1));
  g_assert_cmpuint (seen.n_announced, ==, 2);

  /* The link drops: what the peer announced is forgotten at once. */
  seen.n_signals = 0;
  _wzp_relay_federation_drop_links (f->relay[0]);
  g_assert_null (_wzp_relay_presence_lookup (f->relay[0], wzp_test_client_fingerprint (b1), G_MININT64));
  g_assert_false (link_is_up (f->relay[0], fp_of (f, 1)));
  g_assert_cmpuint (seen.n_signals, ==, 1);
  g_assert_cmpuint (seen.n_announced, ==, 0);
  g_clear_signal_handler (&handler, f->relay[0]);
  g_free (seen.fingerprint);

  /* Changes while it is down arrive with the snapshot when it is back. */
  wzp_test_client_free (b2);
  b3 = connect_registered (f, 1, "Dave");
  wait_link_up (f, 0, 1);
  wait_presence (f->relay[0], wzp_test_client_fingerprint (b3), TRUE);
  wait_announced (f->relay[0], fp_of (f, 1), 2);
  g_assert_nonnull (_wzp_relay_presence_lookup (f->relay[0], wzp_test_client_fingerprint (b1), G_MININT64));
  g_assert_null (_wzp_relay_presence_lookup (f->relay[0], b2_fp, G_MININT64));
  wait_announced (f->relay[1], fp_of (f, 0), 1);

  /* And a call works over the new link. */
  {
    g_autoptr(WzpMessage) setup_a = NULL;
    g_autoptr(WzpMessage) setup_b = NULL;
    g_autofree char *call_id = wzp_test_set_up_call (a, b3, "AcceptTrusted", &setup_a, &setup_b);
  }
}

static char *
fake_fingerprint (guint n)
{
  guint8 digest[32];
  GString *text = g_string_new (NULL);
  g_autofree char *seed = g_strdup_printf ("fake-%u", n);
  gsize len = sizeof digest;
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  g_checksum_update (sum, (const guchar *) seed, -1);
  g_checksum_get_digest (sum, digest, &len);
  for (guint i = 0; i < 16; i++)
    {
      g_string_append_printf (text, "%02x", digest[i]);
      if (i % 2 == 1 && i < 15)
        g_string_append_c (text, ':');
    }
  return g_string_free (text, FALSE);
}

/* A client whose app restarts, gone and at once back, is reachable from the peer relay at
 * once: after a quiet spell each of the two changes goes as it happens, not with the
 * next batch. Here relay B's link gets a token every ten minutes, so whatever waited for
 * one would miss every deadline below by far, even under valgrind. A third change does
 * wait, unless its client places a call (docs/protocol.md, "Presence"). */
static void
test_presence_return (Fixture       *f,
                      gconstpointer  data)
{
  RelayPeer *peer = _wzp_relay_federation_peer (f->relay[1], fp_of (f, 0));
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  const char *b_fp = wzp_identity_get_fingerprint (identity);
  g_autoptr(WzpTestClient) a = connect_announced (f, 0, "Alice", 1);
  WzpTestClient *b = wzp_test_client_connect (f->address[1], identity, fp_of (f, 1));
  g_autoptr(WzpMessage) ack = wzp_test_client_register (b, "Bob");
  g_autoptr(WzpMessage) ack_again = NULL;
  g_autoptr(WzpTestClient) b_again = NULL;
  g_autoptr(WzpTestClient) c = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  wait_presence (f->relay[0], b_fp, TRUE);
  /* The link has been quiet: a full bucket. */
  _wzp_relay_presence_set_pacing (f->relay[1], 600 * G_USEC_PER_SEC, 0);

  /* Bob's app restarts: gone, then back with the same identity, and Alice's call from
   * relay A reaches him. */
  wzp_test_client_free (b);
  wait_presence (f->relay[0], b_fp, FALSE);
  b_again = wzp_test_client_connect (f->address[1], identity, fp_of (f, 1));
  ack_again = wzp_test_client_register (b_again, "Bob");
  wait_presence (f->relay[0], b_fp, TRUE);
  first = wzp_test_offer_call (a, b_again);

  /* No token left: Carol's arrival waits for the next one, ten minutes away. */
  c = connect_registered (f, 1, "Carol");
  g_assert_true (g_hash_table_contains (peer->pending, wzp_test_client_fingerprint (c)));
  g_assert_cmpuint (peer->flush_id, !=, 0);
  wzp_test_spin (100);
  g_assert_null (_wzp_relay_presence_lookup (f->relay[0], wzp_test_client_fingerprint (c), G_MININT64));
  /* Her call goes all the same: relay B announces her first. */
  second = wzp_test_offer_call (c, a);
  g_assert_nonnull (_wzp_relay_presence_lookup (f->relay[0], wzp_test_client_fingerprint (c), G_MININT64));
  g_assert_cmpuint (g_hash_table_size (peer->pending), ==, 0);
}

/* A binding of the right shape for @fingerprint at @relay that is not signed: what the
 * presence code carries without checking (a lookup would check it, and forget it). */
static WzpBinding *
unsigned_binding (const char *fingerprint,
                  const char *relay)
{
  WzpBinding *binding = g_new0 (WzpBinding, 1);

  binding->fingerprint = g_strdup (fingerprint);
  binding->relay_fingerprint = g_strdup (relay);
  binding->time_ms = g_get_real_time () / 1000;
  /* The length of a real ECDSA P-256 key and signature, so the frames are as large. */
  binding->public_key = g_strnfill (124, 'A');
  binding->signature = g_strnfill (96, 'A');
  return binding;
}

/* 10,000 identities: the snapshot and a change of that size each fit the 64 KiB frame cap
 * only chunked; the peer ends up with exactly the set. */
static void
test_presence_10000 (Fixture       *f,
                     gconstpointer  data)
{
  const guint n = 10000;
  g_autoptr(GPtrArray) fps = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) bindings = g_ptr_array_new_with_free_func ((GDestroyNotify) _wzp_binding_free);
  g_autoptr(GError) error = NULL;
  RelayPeer *peer;

  for (guint i = 0; i < n; i++)
    {
      g_ptr_array_add (fps, fake_fingerprint (i));
      g_assert_true (wzp_fingerprint_is_valid (g_ptr_array_index (fps, i)));
      g_ptr_array_add (bindings, unsigned_binding (g_ptr_array_index (fps, i), fp_of (f, 0)));
    }

  /* Before the link: they go in the snapshot. */
  for (guint i = 0; i < n / 2; i++)
    _wzp_relay_presence_local_changed (f->relay[0], g_ptr_array_index (fps, i),
                                       g_ptr_array_index (bindings, i), TRUE);
  g_assert_true (wzp_relay_add_peer (f->relay[0], f->uri[1], &error));
  g_assert_true (wzp_relay_add_peer (f->relay[1], f->uri[0], &error));
  g_assert_no_error (error);
  wait_link_up (f, 0, 1);
  wait_announced (f->relay[1], fp_of (f, 0), n / 2);

  /* After: one batched change. */
  for (guint i = n / 2; i < n; i++)
    _wzp_relay_presence_local_changed (f->relay[0], g_ptr_array_index (fps, i),
                                       g_ptr_array_index (bindings, i), TRUE);
  wait_announced (f->relay[1], fp_of (f, 0), n);
  peer = _wzp_relay_federation_peer (f->relay[1], fp_of (f, 0));
  for (guint i = 0; i < n; i += 997)
    g_assert_true (g_hash_table_contains (peer->announced, g_ptr_array_index (fps, i)));

  /* All gone in one change, and the link is still up (no frame was refused). */
  for (guint i = 0; i < n; i++)
    _wzp_relay_presence_local_changed (f->relay[0], g_ptr_array_index (fps, i), NULL, FALSE);
  wait_announced (f->relay[1], fp_of (f, 0), 0);
  g_assert_true (link_is_up (f->relay[1], fp_of (f, 0)));
}

/* Three relays in a line */

static void
test_line (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_announced (f, 0, "Alice", 1);
  g_autoptr(WzpTestClient) b = connect_announced (f, 1, "Bob", 0);
  g_autoptr(WzpTestClient) c = connect_announced (f, 2, "Carol", 1);
  g_autoptr(WzpMessage) offer = wzp_test_make_offer ("line-1", wzp_test_client_fingerprint (c));
  g_autoptr(WzpMessage) error = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autoptr(WzpMessage) setup_c = NULL;
  g_autofree char *call_id = NULL;

  /* B announces only its own clients: C's user is unknown at A. */
  wait_announced (f->relay[0], fp_of (f, 1), 1);
  g_assert_null (_wzp_relay_presence_lookup (f->relay[0], wzp_test_client_fingerprint (c), G_MININT64));

  wzp_test_client_send (a, offer);
  error = wzp_test_client_expect (a, WZP_MESSAGE_ERROR);
  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, WZP_ERROR_CODE_UNKNOWN_CALLEE);
  g_assert_cmpstr (_wzp_message_get_string (error, "call_id"), ==, "line-1");
  g_assert_true (wzp_test_client_quiet (c, 200));
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[i]), ==, 0);

  /* The middle relay reaches both. */
  call_id = wzp_test_set_up_call (b, c, "AcceptTrusted", &setup_b, &setup_c);
  g_assert_cmpstr (_wzp_message_get_string (setup_c, "pipe_addr"), ==, f->pipe_address[2]);
  {
    g_autoptr(WzpMessage) setup_b2 = NULL;
    g_autoptr(WzpMessage) setup_a = NULL;
    g_autofree char *call_2 = wzp_test_set_up_call (b, a, "AcceptTrusted", &setup_b2, &setup_a);
  }
}

/* A fake peer relay: a raw client with the identity a relay has as a peer. */

static WzpTestClient *
fake_peer_connect (Fixture     *f,
                   guint        i,
                   WzpIdentity *identity)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = g_strdup_printf ("wzps://127.0.0.1:9#%s",
                                          wzp_identity_get_fingerprint (identity));
  WzpTestClient *peer;
  g_autoptr(WzpMessage) hello = _wzp_message_new (WZP_MESSAGE_FEDERATION_HELLO);
  g_autoptr(WzpMessage) their_hello = NULL;
  g_autoptr(WzpMessage) snapshot = NULL;

  g_assert_true (wzp_relay_add_peer (f->relay[i], uri, &error));
  g_assert_no_error (error);
  peer = wzp_test_client_connect (f->address[i], identity, fp_of (f, i));
  peer->answer_pings = TRUE;
  _wzp_message_set_string (hello, "relay_fingerprint", wzp_identity_get_fingerprint (identity));
  _wzp_message_set_string (hello, "relay_version", "1.0");
  wzp_test_client_send (peer, hello);
  their_hello = wzp_test_client_expect (peer, WZP_MESSAGE_FEDERATION_HELLO);
  g_assert_cmpstr (_wzp_message_get_string (their_hello, "relay_fingerprint"), ==, fp_of (f, i));
  snapshot = wzp_test_client_expect (peer, WZP_MESSAGE_PRESENCE_UPDATE);
  g_assert_true (_wzp_message_get_bool (snapshot, "snapshot"));
  g_assert_true (link_is_up (f->relay[i], wzp_identity_get_fingerprint (identity)));
  return peer;
}

/* @user's own binding to the relay @relay_fp at @time_ms: what only @user can make. */
static WzpBinding *
binding_of (WzpIdentity *user,
            const char  *relay_fp,
            gint64       time_ms)
{
  g_autoptr(GError) error = NULL;
  WzpBinding *binding = _wzp_binding_new_signed (wzp_identity_get_certificate (user), relay_fp,
                                                 time_ms, &error);

  g_assert_no_error (error);
  return binding;
}

static gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

/* A fake peer announces @bindings (a change, not a snapshot). */
static void
fake_peer_announce (WzpTestClient *peer,
                    GPtrArray     *bindings)
{
  g_autoptr(WzpMessage) update = _wzp_message_new (WZP_MESSAGE_PRESENCE_UPDATE);

  _wzp_message_set_bindings (update, "added", bindings);
  wzp_test_client_send (peer, update);
}

/* Waits until relay @at holds what the peer @peer_fp announced of @fingerprint (checked
 * or not). */
static void
wait_held (WzpRelay   *at,
           const char *peer_fp,
           const char *fingerprint)
{
  RelayPeer *peer = _wzp_relay_federation_peer (at, peer_fp);
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (!g_hash_table_contains (peer->announced, fingerprint))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

/* A fake peer announces one binding. */
static void
fake_peer_announce_one (WzpTestClient *peer,
                        WzpBinding    *binding)
{
  g_autoptr(GPtrArray) bindings = g_ptr_array_new ();

  g_ptr_array_add (bindings, binding);
  fake_peer_announce (peer, bindings);
}

/* A peer relay that stopped reading, removed: the link's last message (an Error) can
 * never be written, and the link is closed after idle-timeout rather than kept. */
static void
test_peer_not_reading (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(WzpIdentity) deaf_id = wzp_test_identity_new ();
  g_autoptr(WzpTestClient) deaf = NULL;
  g_autoptr(WzpTestClient) a = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *padding = g_strnfill (60000, 'p');
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GPtrArray) bindings = g_ptr_array_new_with_free_func ((GDestroyNotify) _wzp_binding_free);
  g_auto(GStrv) announced = NULL;
  GHashTable *links = f->relay[0]->federation->links;
  gint64 start, deadline, backlog_seen;

  /* 150 users at the peer: one unanswered offer per caller and callee. */
  for (guint i = 0; i < 150; i++)
    {
      g_autoptr(WzpIdentity) user = wzp_test_identity_new ();

      g_strv_builder_add (builder, wzp_identity_get_fingerprint (user));
      g_ptr_array_add (bindings, binding_of (user, wzp_identity_get_fingerprint (deaf_id),
                                             now_ms ()));
    }
  announced = g_strv_builder_end (builder);
  g_object_set (f->relay[0], "idle-timeout", 2, "max-messages-per-second", 100000,
                "max-calls-per-client", 10000, "max-ringing-per-client", 10000, NULL);
  a = connect_registered (f, 0, "Alice");
  deaf = fake_peer_connect (f, 0, deaf_id);
  fake_peer_announce (deaf, bindings);
  wait_presence (f->relay[0], announced[149], TRUE);
  wzp_test_client_stop_reading (deaf);

  /* 150 offers of 60 KB to its users go over the link: 9 MB, more than the socket buffers
   * take, so a forward is left waiting to be written. */
  for (guint i = 0; i < 150; i++)
    {
      g_autofree char *call_id = g_strdup_printf ("call-%u", i);
      g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, announced[i]);

      _wzp_message_set_string (offer, "x_pad", padding);
      wzp_test_client_send (a, offer);
      wzp_test_spin (2);
    }
  g_assert_cmpuint (g_hash_table_size (links), ==, 1);
  /* However slowly the relay runs (valgrind), remove the peer only once frames have
   * waited on the link for half a second without a break: the peer's buffers are full. */
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  backlog_seen = 0;
  while (backlog_seen == 0 || g_get_monotonic_time () - backlog_seen < G_USEC_PER_SEC / 2)
    {
      gsize backlog = _wzp_relay_federation_get_link_backlog (
          f->relay[0], wzp_identity_get_fingerprint (deaf_id));

      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      if (backlog == 0)
        backlog_seen = 0;
      else if (backlog_seen == 0)
        backlog_seen = g_get_monotonic_time ();
      wzp_test_spin (20);
    }

  start = g_get_monotonic_time ();
  g_assert_true (wzp_relay_remove_peer (f->relay[0], wzp_identity_get_fingerprint (deaf_id),
                                        &error));
  g_assert_no_error (error);
  deadline = start + 10 * G_USEC_PER_SEC;
  while (g_hash_table_size (links) > 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      wzp_test_spin (50);
    }
  g_test_message ("link closed %.1f s after the peer was removed",
                  (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);
  /* Not before idle-timeout (2 s) after a frame started to wait: the link was really
   * stuck, not flushed. (A slow run may have waited most of it before the removal.) */
  g_assert_cmpint (g_get_monotonic_time () - backlog_seen, >=, G_USEC_PER_SEC);
}

static void
fake_peer_forward (WzpTestClient *peer,
                   const char    *origin,
                   WzpMessage    *inner)
{
  g_autoptr(WzpMessage) forward = _wzp_message_new (WZP_MESSAGE_FEDERATED_SIGNAL_FORWARD);

  _wzp_message_set_inner (forward, inner);
  _wzp_message_set_string (forward, "origin_relay_fingerprint", origin);
  wzp_test_client_send (peer, forward);
}

static void
test_lying_peer (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(WzpIdentity) liar_id = wzp_test_identity_new ();
  g_autoptr(WzpIdentity) victim = wzp_test_identity_new ();
  g_autoptr(WzpTestClient) b = connect_registered (f, 0, "Bob");
  g_autoptr(WzpTestClient) liar = fake_peer_connect (f, 0, liar_id);
  const char *liar_fp = wzp_identity_get_fingerprint (liar_id);
  g_autoptr(WzpMessage) offer = wzp_test_make_offer ("lie-1", wzp_test_client_fingerprint (b));
  g_autoptr(WzpMessage) error = NULL;
  g_autoptr(WzpMessage) got = NULL;
  g_autoptr(WzpIdentity) user = wzp_test_identity_new ();
  g_autoptr(WzpBinding) binding = binding_of (user, liar_fp, now_ms ());
  const char * const announced[] = { wzp_identity_get_fingerprint (user), NULL };

  /* An offer for a caller it never announced: refused, nothing happens. */
  _wzp_message_set_string (offer, "caller_fingerprint", wzp_identity_get_fingerprint (victim));
  fake_peer_forward (liar, liar_fp, offer);
  error = wzp_test_client_expect (liar, WZP_MESSAGE_ERROR);
  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, WZP_ERROR_CODE_BAD_MESSAGE);
  g_assert_cmpstr (_wzp_message_get_string (error, "call_id"), ==, "lie-1");
  g_assert_true (wzp_test_client_quiet (b, 200));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[0]), ==, 0);
  g_clear_pointer (&error, _wzp_message_unref);

  /* A forward of someone else's forward (a second hop): refused too. */
  fake_peer_announce_one (liar, binding);
  wait_presence (f->relay[0], announced[0], TRUE);
  _wzp_message_set_string (offer, "caller_fingerprint", announced[0]);
  fake_peer_forward (liar, fp_of (f, 1), offer);
  error = wzp_test_client_expect (liar, WZP_MESSAGE_ERROR);
  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, WZP_ERROR_CODE_BAD_MESSAGE);
  g_assert_true (wzp_test_client_quiet (b, 200));
  g_clear_pointer (&error, _wzp_message_unref);

  /* The same offer for a caller it announced, from itself, goes through: the check above
   * is what refused it. */
  fake_peer_forward (liar, liar_fp, offer);
  got = wzp_test_client_expect (b, WZP_MESSAGE_DIRECT_CALL_OFFER);
  g_assert_cmpstr (_wzp_message_get_string (got, "caller_fingerprint"), ==, announced[0]);
  g_assert_false (_wzp_message_has_member (got, "caller_reflexive_addr"));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[0]), ==, 1);

  /* It cannot act for the callee of that call, which is ours. */
  {
    g_autoptr(WzpMessage) answer = wzp_test_make_answer ("lie-1", "AcceptTrusted");
    g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, "lie-1");
    g_autoptr(WzpMessage) inner = NULL;
    g_autoptr(WzpMessage) forward = NULL;

    fake_peer_forward (liar, liar_fp, answer);
    forward = wzp_test_client_expect (liar, WZP_MESSAGE_FEDERATED_SIGNAL_FORWARD);
    inner = _wzp_message_ref (_wzp_message_get_inner (forward));
    g_assert_cmpint (_wzp_message_get_message_type (inner), ==, WZP_MESSAGE_ERROR);
    g_assert_cmpstr (_wzp_message_get_string (inner, "code"), ==, WZP_ERROR_CODE_BAD_STATE);
    g_assert_true (wzp_test_client_quiet (b, 100));

    /* Its caller hangs up: the callee hears it. */
    _wzp_message_set_string (hangup, "reason", "Normal");
    fake_peer_forward (liar, liar_fp, hangup);
    expect_hangup (b, "lie-1", "Normal");
    wait_no_calls (f->relay[0]);
  }
}

/* Rogue peers (docs/protocol.md, "Presence bindings"): a configured peer relay that lies
 * about who is registered with it. Each case is one way a rogue relay made use of the
 * presence it could announce before bindings existed. */

/* A binding of the right shape whose signature is someone else's (forged: signed by
 * @signer, not by the user it names). */
static WzpBinding *
forged_binding (WzpIdentity *user,
                WzpIdentity *signer,
                const char  *relay_fp,
                gint64       time_ms)
{
  WzpBinding *binding = binding_of (signer, relay_fp, time_ms);
  g_autoptr(WzpBinding) real = binding_of (user, relay_fp, time_ms);

  /* The user's fingerprint and key, the signer's signature. */
  g_free (binding->fingerprint);
  binding->fingerprint = g_strdup (real->fingerprint);
  g_free (binding->public_key);
  binding->public_key = g_strdup (real->public_key);
  return binding;
}

/* Reads the fake peer's messages until the Error about @call_id (NULL: any Error), which
 * is returned; Errors about forgotten bindings come first. */
static WzpMessage *
expect_link_error (WzpTestClient *peer,
                   const char    *call_id)
{
  for (;;)
    {
      g_autoptr(WzpMessage) error = wzp_test_client_expect (peer, WZP_MESSAGE_ERROR);

      if (call_id == NULL || g_strcmp0 (_wzp_message_get_string (error, "call_id"), call_id) == 0)
        return g_steal_pointer (&error);
    }
}

/* The rogue sends an offer as @caller to @callee; it must be refused on the link, and the
 * callee must not ring. */
static void
assert_offer_refused (Fixture       *f,
                      WzpTestClient *rogue,
                      const char    *rogue_fp,
                      const char    *caller,
                      WzpTestClient *callee,
                      const char    *call_id)
{
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, wzp_test_client_fingerprint (callee));
  g_autoptr(WzpMessage) error = NULL;

  _wzp_message_set_string (offer, "caller_fingerprint", caller);
  fake_peer_forward (rogue, rogue_fp, offer);
  error = expect_link_error (rogue, call_id);
  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, WZP_ERROR_CODE_BAD_MESSAGE);
  g_assert_true (wzp_test_client_quiet (callee, 200));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[0]), ==, 0);
}

/* "It made a user's phone ring as one of their contacts": a rogue peer cannot pass an offer
 * on as anyone whose newest valid binding does not name it. */
static void
test_rogue_ring_as_contact (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(WzpIdentity) rogue_id = wzp_test_identity_new ();
  const char *rogue_fp = wzp_identity_get_fingerprint (rogue_id);
  g_autoptr(WzpTestClient) bob = connect_registered (f, 0, "Bob");
  g_autoptr(WzpTestClient) alice = connect_registered (f, 0, "Alice");
  g_autoptr(WzpTestClient) carol = connect_announced (f, 1, "Carol", 0);
  g_autoptr(WzpTestClient) rogue = fake_peer_connect (f, 0, rogue_id);
  const char *carol_fp = wzp_test_client_fingerprint (carol);
  const char *alice_fp = wzp_test_client_fingerprint (alice);
  g_autoptr(WzpBinding) forged = forged_binding (carol->identity, rogue_id, rogue_fp, now_ms ());
  g_autoptr(WzpBinding) replayed = binding_of (carol->identity, fp_of (f, 1), now_ms ());
  g_autoptr(WzpBinding) carol_old = binding_of (carol->identity, rogue_fp, now_ms () - 60000);
  g_autoptr(WzpBinding) alice_old = binding_of (alice->identity, rogue_fp, now_ms () - 60000);
  g_autoptr(WzpMessage) error = NULL;

  /* Announced with no binding of Carol's own: a forged signature. */
  fake_peer_announce_one (rogue, forged);
  wait_held (f->relay[0], rogue_fp, carol_fp);
  assert_offer_refused (f, rogue, rogue_fp, carol_fp, bob, "rogue-1");

  /* Carol's real binding, to her real relay, replayed: refused when announced. */
  fake_peer_announce_one (rogue, replayed);
  error = expect_link_error (rogue, NULL);
  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, WZP_ERROR_CODE_BAD_MESSAGE);
  g_assert_nonnull (strstr (_wzp_message_get_string (error, "message"), "not yours"));
  assert_offer_refused (f, rogue, rogue_fp, carol_fp, bob, "rogue-2");

  /* A real binding of Carol's to the rogue, from when she used it: older than the one
   * her relay announced since, so it loses. */
  fake_peer_announce_one (rogue, carol_old);
  wait_held (f->relay[0], rogue_fp, carol_fp);
  assert_offer_refused (f, rogue, rogue_fp, carol_fp, bob, "rogue-3");

  /* The same for a user of this relay: Alice, registered here now, once used the rogue. */
  fake_peer_announce_one (rogue, alice_old);
  wait_held (f->relay[0], rogue_fp, alice_fp);
  assert_offer_refused (f, rogue, rogue_fp, alice_fp, bob, "rogue-4");
}

/* "It received calls meant for another peer's users, with the caller's addresses", and
 * "it made real users busy" (it answered for them): a call goes where the callee's newest
 * valid binding is. */
static void
test_rogue_steal_calls (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(WzpIdentity) rogue_id = wzp_test_identity_new ();
  const char *rogue_fp = wzp_identity_get_fingerprint (rogue_id);
  g_autoptr(WzpTestClient) alice = connect_registered (f, 0, "Alice");
  g_autoptr(WzpTestClient) bob = connect_registered (f, 0, "Bob");
  g_autoptr(WzpTestClient) carol = connect_announced (f, 1, "Carol", 0);
  g_autoptr(WzpTestClient) rogue = fake_peer_connect (f, 0, rogue_id);
  const char *carol_fp = wzp_test_client_fingerprint (carol);
  /* Dated ahead of Carol's real one (within what relays accept): it would win if it were
   * believed unchecked. */
  g_autoptr(WzpBinding) forged = forged_binding (carol->identity, rogue_id, rogue_fp,
                                                 now_ms () + 60000);
  g_autoptr(WzpBinding) carol_old = binding_of (carol->identity, rogue_fp, now_ms () - 60000);
  g_autoptr(WzpBinding) bob_old = binding_of (bob->identity, rogue_fp, now_ms () - 60000);
  const char *call_ids[] = { "steal-1", "steal-2" };

  fake_peer_announce_one (rogue, forged);
  wait_held (f->relay[0], rogue_fp, carol_fp);
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_ids[round], carol_fp);
      g_autoptr(WzpMessage) got = NULL;
      g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP,
                                                               call_ids[round]);

      _wzp_message_set_string (offer, "caller_reflexive_addr", "198.51.100.7:40000");
      wzp_test_client_send (alice, offer);
      /* Carol rings, at her real relay; the rogue got nothing of the call. */
      got = wzp_test_client_expect (carol, WZP_MESSAGE_DIRECT_CALL_OFFER);
      g_assert_cmpstr (_wzp_message_get_string (got, "call_id"), ==, call_ids[round]);
      _wzp_message_set_string (hangup, "reason", "Normal");
      wzp_test_client_send (alice, hangup);
      expect_hangup (carol, call_ids[round], "Normal");
      wait_no_calls (f->relay[0]);
      /* The forged binding was checked and forgotten (the rogue is told); then its real
       * but older binding of Carol's is tried the same way. */
      if (round == 0)
        {
          g_autoptr(WzpMessage) error = expect_link_error (rogue, NULL);

          g_assert_nonnull (strstr (_wzp_message_get_string (error, "message"), "does not verify"));
          fake_peer_announce_one (rogue, carol_old);
          wait_held (f->relay[0], rogue_fp, carol_fp);
        }
    }
  /* Whatever the rogue got meanwhile (keepalives), never an offer. */
  while (!g_queue_is_empty (&rogue->inbox))
    {
      g_autoptr(WzpMessage) m = g_queue_pop_head (&rogue->inbox);

      g_assert_cmpint (_wzp_message_get_message_type (m), !=,
                       WZP_MESSAGE_FEDERATED_SIGNAL_FORWARD);
    }

  /* A user of this relay, announced by the rogue with an older binding: rings here. */
  fake_peer_announce_one (rogue, bob_old);
  wait_held (f->relay[0], rogue_fp, wzp_test_client_fingerprint (bob));
  {
    g_autoptr(WzpMessage) offer = wzp_test_make_offer ("steal-3", wzp_test_client_fingerprint (bob));
    g_autoptr(WzpMessage) got = NULL;

    wzp_test_client_send (alice, offer);
    got = wzp_test_client_expect (bob, WZP_MESSAGE_DIRECT_CALL_OFFER);
    g_assert_cmpstr (_wzp_message_get_string (got, "call_id"), ==, "steal-3");
    g_assert_true (wzp_test_client_quiet (rogue, 100));
  }
}

/* Waits until relay @at sends calls for @fingerprint to the peer @peer_fp. */
static void
wait_routed (WzpRelay   *at,
             const char *fingerprint,
             const char *peer_fp)
{
  RelayPeer *peer = _wzp_relay_federation_peer (at, peer_fp);
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (_wzp_relay_presence_lookup (at, fingerprint, G_MININT64) != peer)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Calls for %s never went to %s", fingerprint, peer_fp);
      g_main_context_iteration (NULL, TRUE);
    }
}

/* A user who moved is found at the new relay; an old binding replayed loses. Here the
 * "new relay" is a fake peer that announces Carol's own newer binding to it. */
static void
test_newest_binding_wins (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(WzpIdentity) other_id = wzp_test_identity_new ();
  const char *other_fp = wzp_identity_get_fingerprint (other_id);
  g_autoptr(WzpTestClient) alice = connect_registered (f, 0, "Alice");
  g_autoptr(WzpTestClient) carol = connect_announced (f, 1, "Carol", 0);
  g_autoptr(WzpTestClient) other = fake_peer_connect (f, 0, other_id);
  g_autoptr(WzpIdentity) carol_id = g_object_ref (carol->identity);
  g_autofree char *carol_fp = g_strdup (wzp_test_client_fingerprint (carol));
  g_autoptr(WzpBinding) moved = NULL;
  g_autoptr(WzpMessage) offer = wzp_test_make_offer ("moved-1", carol_fp);
  g_autoptr(WzpMessage) again = wzp_test_make_offer ("moved-2", carol_fp);
  g_autoptr(WzpMessage) forward = NULL;
  g_autoptr(WzpMessage) got = NULL;
  g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, "moved-1");

  /* Carol registers at the other relay, after relay 1: calls go there. */
  wzp_test_spin (5);
  moved = binding_of (carol_id, other_fp, now_ms ());
  fake_peer_announce_one (other, moved);
  wait_routed (f->relay[0], carol_fp, other_fp);
  wzp_test_client_send (alice, offer);
  forward = wzp_test_client_expect (other, WZP_MESSAGE_FEDERATED_SIGNAL_FORWARD);
  g_assert_cmpstr (_wzp_message_get_string (_wzp_message_get_inner (forward), "call_id"), ==,
                   "moved-1");
  g_assert_true (wzp_test_client_quiet (carol, 100));
  _wzp_message_set_string (hangup, "reason", "Normal");
  wzp_test_client_send (alice, hangup);
  wait_no_calls (f->relay[0]);

  /* She comes back to relay 1 (a newer binding there): calls go to relay 1 again, though
   * the other relay still announces its binding, which is the older one now. */
  g_clear_pointer (&carol, wzp_test_client_free);
  wzp_test_spin (5);
  carol = wzp_test_client_connect (f->address[1], carol_id, fp_of (f, 1));
  g_clear_pointer (&got, _wzp_message_unref);
  got = wzp_test_client_register (carol, "Carol");
  wait_routed (f->relay[0], carol_fp, fp_of (f, 1));
  g_clear_pointer (&got, _wzp_message_unref);
  wzp_test_client_send (alice, again);
  got = wzp_test_client_expect (carol, WZP_MESSAGE_DIRECT_CALL_OFFER);
  g_assert_cmpstr (_wzp_message_get_string (got, "call_id"), ==, "moved-2");

  /* The other relay replays its (older) binding: nothing changes. */
  fake_peer_announce_one (other, moved);
  wzp_test_spin (50);
  wait_held (f->relay[0], other_fp, carol_fp);
  g_assert_true (_wzp_relay_presence_lookup (f->relay[0], carol_fp, G_MININT64) ==
                 _wzp_relay_federation_peer (f->relay[0], fp_of (f, 1)));
}

/* A binding dated ahead of the relay's clock by more than it allows is refused when
 * announced: it would beat every real one until its time came. */
static void
test_future_binding (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(WzpIdentity) rogue_id = wzp_test_identity_new ();
  g_autoptr(WzpIdentity) user = wzp_test_identity_new ();
  const char *rogue_fp = wzp_identity_get_fingerprint (rogue_id);
  g_autoptr(WzpTestClient) rogue = fake_peer_connect (f, 0, rogue_id);
  g_autoptr(WzpBinding) future = binding_of (user, rogue_fp,
                                             now_ms () + WZP_BINDING_MAX_AHEAD_MS + 60000);
  g_autoptr(WzpBinding) soon = binding_of (user, rogue_fp, now_ms () + 60000);
  g_autoptr(WzpMessage) error = NULL;

  fake_peer_announce_one (rogue, future);
  error = expect_link_error (rogue, NULL);
  g_assert_nonnull (strstr (_wzp_message_get_string (error, "message"), "ahead"));
  g_assert_null (_wzp_relay_presence_lookup (f->relay[0], wzp_identity_get_fingerprint (user),
                                             G_MININT64));
  /* A minute ahead is a clock a little fast, and fine. */
  fake_peer_announce_one (rogue, soon);
  wait_presence (f->relay[0], wzp_identity_get_fingerprint (user), TRUE);
}

/* The callee's client learns that an offer came through federation, and from which relay;
 * nobody else can say so. */
static void
test_caller_relay_mark (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(WzpTestClient) alice = connect_announced (f, 0, "Alice", 1);
  g_autoptr(WzpTestClient) bob = connect_announced (f, 1, "Bob", 0);
  g_autoptr(WzpTestClient) dave = connect_registered (f, 1, "Dave");
  g_autoptr(WzpMessage) offer = wzp_test_make_offer ("mark-1", wzp_test_client_fingerprint (bob));
  g_autoptr(WzpMessage) local = wzp_test_make_offer ("mark-2", wzp_test_client_fingerprint (bob));
  g_autoptr(WzpMessage) got = NULL;

  /* Across the link: the mark names Alice's relay, whatever she wrote. */
  _wzp_message_set_string (offer, "caller_relay_fingerprint", fp_of (f, 1));
  wzp_test_client_send (alice, offer);
  got = wzp_test_client_expect (bob, WZP_MESSAGE_DIRECT_CALL_OFFER);
  g_assert_cmpstr (_wzp_message_get_string (got, "caller_relay_fingerprint"), ==, fp_of (f, 0));
  g_clear_pointer (&got, _wzp_message_unref);

  /* A local caller cannot claim to come from elsewhere. */
  _wzp_message_set_string (local, "caller_relay_fingerprint", fp_of (f, 0));
  wzp_test_client_send (dave, local);
  got = wzp_test_client_expect (bob, WZP_MESSAGE_DIRECT_CALL_OFFER);
  g_assert_cmpstr (_wzp_message_get_string (got, "call_id"), ==, "mark-2");
  g_assert_false (_wzp_message_has_member (got, "caller_relay_fingerprint"));
}

/* What a relay checks of a client's own binding when it registers. */
static WzpMessage *
register_with (WzpTestClient *client,
               WzpBinding    *binding)
{
  g_autoptr(WzpMessage) presence = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);
  WzpMessage *reply;

  _wzp_message_set_string (presence, "client_version", "test");
  _wzp_message_set_binding (presence, "binding", binding);
  wzp_test_client_send (client, presence);
  reply = wzp_test_client_next (client, 5000);
  g_assert_nonnull (reply);
  return reply;
}

static void
assert_registration_refused (WzpTestClient *client,
                             WzpBinding    *binding,
                             const char    *code,
                             const char    *needle)
{
  g_autoptr(WzpMessage) reply = register_with (client, binding);

  g_assert_cmpint (_wzp_message_get_message_type (reply), ==, WZP_MESSAGE_ERROR);
  g_assert_cmpstr (_wzp_message_get_string (reply, "code"), ==, code);
  g_assert_nonnull (strstr (_wzp_message_get_string (reply, "message"), needle));
}

static void
test_registration_binding (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(WzpTestClient) c = wzp_test_client_connect (f->address[0], NULL, fp_of (f, 0));
  g_autoptr(WzpTestClient) plain = wzp_test_client_connect (f->address[0], NULL, fp_of (f, 0));
  g_autoptr(WzpTestClient) signed_ = NULL;
  g_autoptr(WzpTestClient) bob = connect_announced (f, 1, "Bob", 0);
  g_autoptr(WzpIdentity) stranger = wzp_test_identity_new ();
  g_autoptr(WzpBinding) other_relay = binding_of (c->identity, fp_of (f, 1), now_ms ());
  g_autoptr(WzpBinding) not_mine = binding_of (stranger, fp_of (f, 0), now_ms ());
  g_autoptr(WzpBinding) forged = forged_binding (c->identity, stranger, fp_of (f, 0), now_ms ());
  g_autoptr(WzpBinding) fast = binding_of (c->identity, fp_of (f, 0), now_ms () + 20 * 60000);
  g_autoptr(WzpBinding) slow = binding_of (c->identity, fp_of (f, 0), now_ms () - 20 * 60000);
  g_autoptr(WzpBinding) first = binding_of (c->identity, fp_of (f, 0), G_MININT64);
  g_autoptr(WzpBinding) last = binding_of (c->identity, fp_of (f, 0), G_MAXINT64);
  g_autoptr(WzpMessage) reply = NULL;
  g_autoptr(WzpMessage) offer = NULL;

  assert_registration_refused (c, other_relay, WZP_ERROR_CODE_BAD_MESSAGE, "this relay");
  assert_registration_refused (c, not_mine, WZP_ERROR_CODE_BAD_MESSAGE, "your own");
  assert_registration_refused (c, forged, WZP_ERROR_CODE_BAD_MESSAGE, "does not verify");
  assert_registration_refused (c, fast, WZP_ERROR_CODE_CLOCK_SKEW, "20 minutes ahead");
  assert_registration_refused (c, slow, WZP_ERROR_CODE_CLOCK_SKEW, "20 minutes behind");
  /* The ends of int64: refused the same way, no arithmetic overflow (UBSan would say). */
  assert_registration_refused (c, first, WZP_ERROR_CODE_CLOCK_SKEW, "behind");
  assert_registration_refused (c, last, WZP_ERROR_CODE_CLOCK_SKEW, "ahead");
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay[0]), ==, 0);

  /* Without a binding: registered, reachable here, not announced. A client registered
   * after it is announced, so by then its change would have gone too. */
  reply = register_with (plain, NULL);
  g_assert_cmpint (_wzp_message_get_message_type (reply), ==, WZP_MESSAGE_REGISTER_PRESENCE_ACK);
  signed_ = connect_announced (f, 0, "Signed", 1);
  g_assert_null (_wzp_relay_presence_lookup (f->relay[1], wzp_test_client_fingerprint (plain),
                                             G_MININT64));
  /* And it cannot call users of the other relay, which would not believe it. */
  offer = wzp_test_make_offer ("plain-1", wzp_test_client_fingerprint (bob));
  wzp_test_client_send (plain, offer);
  g_clear_pointer (&reply, _wzp_message_unref);
  reply = wzp_test_client_expect (plain, WZP_MESSAGE_ERROR);
  g_assert_cmpstr (_wzp_message_get_string (reply, "code"), ==, WZP_ERROR_CODE_UNKNOWN_CALLEE);
  g_assert_nonnull (strstr (_wzp_message_get_string (reply, "message"), "signed"));
  g_assert_true (wzp_test_client_quiet (bob, 100));
}

/* The bridged relay path */

typedef struct
{
  WzpFrameIO *io;
  WzpMessage *message;
  GError     *error;
  gboolean    done;
} FrameWait;

static void
frame_read_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  FrameWait *wait = user_data;

  wait->message = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result, &wait->error);
  wait->done = TRUE;
}

/* Starts reading the relay's one frame on a pipe (PipeReady). */
static void
frame_wait_start (FrameWait         *wait,
                  GSocketConnection *pipe)
{
  memset (wait, 0, sizeof *wait);
  wait->io = _wzp_frame_io_new (G_IO_STREAM (pipe));
  _wzp_frame_io_read_async (wait->io, NULL, frame_read_cb, wait);
}

static void
frame_wait_expect_ready (FrameWait  *wait,
                         const char *call_id)
{
  wzp_test_wait_flag (&wait->done, 5000);
  g_assert_no_error (wait->error);
  g_assert_cmpint (_wzp_message_get_message_type (wait->message), ==, WZP_MESSAGE_PIPE_READY);
  g_assert_cmpstr (_wzp_message_get_string (wait->message, "call_id"), ==, call_id);
  g_clear_pointer (&wait->message, _wzp_message_unref);
  g_clear_object (&wait->io);
}

/* Reads until the end of the stream (a closed pipe); the bytes are not kept. */
static void
pipe_expect_end (GSocketConnection *pipe)
{
  WzpTestRawRead r = { 0 };

  g_input_stream_read_all_async (g_io_stream_get_input_stream (G_IO_STREAM (pipe)), r.buf,
                                 sizeof r.buf, G_PRIORITY_DEFAULT, NULL, wzp_test_raw_read_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_clear_error (&r.error);
  g_assert_cmpuint (r.got, <, sizeof r.buf);
}

static GSocketConnection *
open_pipe (WzpMessage *setup,
           const char *call_id,
           gint64      seq)
{
  g_autofree char *token = _wzp_pipe_token_derive (_wzp_message_get_string (setup, "pipe_token"),
                                                   seq);

  return wzp_test_pipe_open (_wzp_message_get_string (setup, "pipe_addr"), call_id, token, seq);
}

static void
test_bridge (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_announced (f, 0, "Alice", 1);
  g_autoptr(WzpTestClient) b = connect_announced (f, 1, "Bob", 0);
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) pipe_b = NULL;
  g_autoptr(WzpMessage) requested = NULL;
  FrameWait ready_a, ready_b;

  /* Each party opens its pipe at its own relay. The caller's comes first: its relay
   * bridges to the callee's, which asks the callee for its pipe. */
  g_assert_cmpstr (_wzp_message_get_string (setup_a, "pipe_addr"), ==, f->pipe_address[0]);
  g_assert_cmpstr (_wzp_message_get_string (setup_b, "pipe_addr"), ==, f->pipe_address[1]);
  pipe_a = open_pipe (setup_a, call_id, 1);
  frame_wait_start (&ready_a, pipe_a);
  requested = wzp_test_client_expect (b, WZP_MESSAGE_PIPE_REQUESTED);
  g_assert_cmpstr (_wzp_message_get_string (requested, "call_id"), ==, call_id);

  /* Not joined end to end yet: no PipeReady for the caller. */
  wzp_test_spin (200);
  g_assert_false (ready_a.done);

  pipe_b = open_pipe (setup_b, call_id, 1);
  frame_wait_start (&ready_b, pipe_b);
  frame_wait_expect_ready (&ready_b, call_id);
  frame_wait_expect_ready (&ready_a, call_id);

  /* Bytes both ways, untouched. */
  wzp_test_pipe_send_and_expect (pipe_a, pipe_b, "caller to callee, through two relays");
  wzp_test_pipe_send_and_expect (pipe_b, pipe_a, "and back");
  /* The operator sees the bridge, and the pipes forwarded at both relays. */
  g_assert_cmpuint (counter (f->relay[0], "bridges"), ==, 1);
  g_assert_cmpuint (counter (f->relay[0], "pipes-forwarding"), ==, 1);
  g_assert_cmpuint (counter (f->relay[1], "pipes-forwarding"), ==, 1);
  g_assert_true (wzp_test_client_quiet (a, 0));

  /* The callee opens a new pipe (its old one is replaced, the chain goes): the caller is
   * asked across the link, and its new pipe makes a new bridge. */
  {
    g_autoptr(GSocketConnection) pipe_b2 = open_pipe (setup_b, call_id, 2);
    g_autoptr(GSocketConnection) pipe_a2 = NULL;
    g_autoptr(WzpMessage) requested_a = NULL;

    pipe_expect_end (pipe_a);
    requested_a = wzp_test_client_expect (a, WZP_MESSAGE_PIPE_REQUESTED);
    g_assert_cmpstr (_wzp_message_get_string (requested_a, "call_id"), ==, call_id);
    frame_wait_start (&ready_b, pipe_b2);
    pipe_a2 = open_pipe (setup_a, call_id, 2);
    frame_wait_start (&ready_a, pipe_a2);
    frame_wait_expect_ready (&ready_b, call_id);
    frame_wait_expect_ready (&ready_a, call_id);
    wzp_test_pipe_send_and_expect (pipe_a2, pipe_b2, "second pipe");
    wzp_test_pipe_send_and_expect (pipe_b2, pipe_a2, "second answer");

    /* A hang-up closes the whole chain. */
    {
      g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);

      _wzp_message_set_string (hangup, "reason", "Normal");
      wzp_test_client_send (a, hangup);
      expect_hangup (b, call_id, "Normal");
    }
    pipe_expect_end (pipe_b2);
    pipe_expect_end (pipe_a2);
  }
  wait_no_calls (f->relay[0]);
  wait_no_calls (f->relay[1]);
  g_clear_object (&pipe_a);
  g_clear_object (&pipe_b);
  {
    gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

    /* Nothing of the bridges or pipes is left on either relay. */
    while ((g_hash_table_size (f->relay[0]->federation->bridges) > 0 ||
            g_hash_table_size (f->relay[1]->federation->bridges) > 0 ||
            g_hash_table_size (f->relay[0]->pipes) > 0 ||
            g_hash_table_size (f->relay[1]->pipes) > 0) && g_get_monotonic_time () < deadline)
      g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
    for (guint i = 0; i < 2; i++)
      {
        g_assert_cmpuint (g_hash_table_size (f->relay[i]->federation->bridges), ==, 0);
        g_assert_cmpuint (g_hash_table_size (f->relay[i]->pipes), ==, 0);
      }
  }
}

/* The "TLS handshake failed: " line a link that just failed its handshake logged, or NULL. */
static char *
find_handshake_failure (GPtrArray *lines)
{
  for (guint i = 0; i < lines->len; i++)
    {
      const char *message = g_hash_table_lookup (g_ptr_array_index (lines, i), "MESSAGE");
      const char *why = message ? strstr (message, "TLS handshake failed: ") : NULL;

      if (why != NULL)
        return g_strdup (why);
    }
  return NULL;
}

/* A peer relay that is not the one its URI pins: the link's log says whose fingerprint
 * came and which one was expected, and the link never comes up. */
static void
test_wrong_pin (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(WzpIdentity) other = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *found = NULL;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  /* Relay 0 dials only peers whose fingerprint sorts after its own. */
  other = wzp_test_identity_new ();
  while (strcmp (fp_of (f, 0), wzp_identity_get_fingerprint (other)) >= 0)
    {
      g_object_unref (other);
      other = wzp_test_identity_new ();
    }

  wzp_test_log_capture_start ();
  uri = g_strdup_printf ("wzps://%s#%s", f->address[1], wzp_identity_get_fingerprint (other));
  wzp_relay_add_peer (f->relay[0], uri, &error);
  g_assert_no_error (error);
  while (found == NULL)
    {
      g_autoptr(GPtrArray) lines = NULL;

      if (g_get_monotonic_time () > deadline)
        g_error ("No handshake failure was logged");
      g_main_context_iteration (NULL, FALSE);
      lines = wzp_test_log_captured ();
      found = find_handshake_failure (lines);
    }
  wzp_test_log_capture_stop ();

  expected = g_strdup_printf ("TLS handshake failed: The peer’s certificate has fingerprint "
                              "%s, but %s was expected",
                              fp_of (f, 1), wzp_identity_get_fingerprint (other));
  g_assert_cmpstr (found, ==, expected);
  g_assert_false (link_is_up (f->relay[0], wzp_identity_get_fingerprint (other)));
}

/* A bridge with a wrong token, or for a call its relay has no party in, is refused. */
static void
test_bridge_refused (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_announced (f, 0, "Alice", 1);
  g_autoptr(WzpTestClient) b = connect_announced (f, 1, "Bob", 0);
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  /* Relay B's identity dialling relay A (where the callee is not): not its call. */
  g_autoptr(WzpTestClient) as_b = wzp_test_client_connect (f->address[0],
                                                           wzp_relay_get_identity (f->relay[1]),
                                                           fp_of (f, 0));
  g_autoptr(WzpTestClient) as_a = wzp_test_client_connect (f->address[1],
                                                           wzp_relay_get_identity (f->relay[0]),
                                                           fp_of (f, 1));
  g_autoptr(WzpMessage) open_pipe_msg = _wzp_message_new_for_call (WZP_MESSAGE_OPEN_PIPE, call_id);

  _wzp_message_set_string (open_pipe_msg, "pipe_token", "0123456789abcdef0123456789abcdef");
  _wzp_message_set_int (open_pipe_msg, "seq", 1);
  wzp_test_client_send (as_b, open_pipe_msg);
  wzp_test_client_expect_error (as_b, WZP_ERROR_CODE_UNKNOWN_CALL);
  wzp_test_client_wait_closed (as_b);

  wzp_test_client_send (as_a, open_pipe_msg);
  wzp_test_client_expect_error (as_a, WZP_ERROR_CODE_BAD_TOKEN);
  wzp_test_client_wait_closed (as_a);
  g_assert_true (wzp_test_client_quiet (b, 100));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[1]), ==, 1);
}

/* Real clients: WzpClient and WzpCall */

static WzpClient *
connected_client (Fixture    *f,
                  guint       i,
                  const char *alias)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  WzpClient *client = wzp_client_new (identity);
  WzpTestResult r = { 0 };

  /* No audio unless a test asks for it (tests/test-voice.c does). */
  g_object_set (client, "audio-source", "none", "audio-sink", "none", NULL);
  _wzp_client_set_test_loopback (client, TRUE);
  wzp_client_set_relay_uri (client, f->uri[i]);
  wzp_client_set_alias (client, alias);
  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_no_error (r.error);
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_CONNECTED);
  return client;
}

typedef struct
{
  WzpAcceptMode  mode;
  WzpCall       *call;
  GError        *error;
  gboolean       answered;
} Callee;

static void
answered_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Callee *callee = user_data;

  wzp_call_answer_finish (WZP_CALL (source), result, &callee->error);
  callee->answered = TRUE;
}

static void
incoming_call_cb (WzpClient *client,
                  WzpCall   *call,
                  Callee    *callee)
{
  g_set_object (&callee->call, call);
  wzp_call_ring (call);
  wzp_call_answer_async (call, callee->mode, NULL, answered_cb, callee);
}

/* data: the callee's answer mode. Trusted: a direct path on loopback; privacy: only the
 * bridged relay path exists. */
static void
test_wzp_call (Fixture       *f,
               gconstpointer  data)
{
  WzpAcceptMode mode = GPOINTER_TO_INT (data);
  WzpPathKind expected = mode == WZP_ACCEPT_MODE_PRIVACY ? WZP_PATH_KIND_RELAY
                                                         : WZP_PATH_KIND_DIRECT_LAN;
  WzpClient *a = connected_client (f, 0, "Alice");
  WzpClient *b = connected_client (f, 1, "Bob");
  const char *a_fp = wzp_identity_get_fingerprint (wzp_client_get_identity (a));
  const char *b_fp = wzp_identity_get_fingerprint (wzp_client_get_identity (b));
  Callee callee = { .mode = mode };
  g_autoptr(WzpCall) call = NULL;
  WzpTestResult r = { 0 };

  wait_presence (f->relay[0], b_fp, TRUE);
  g_signal_connect (b, "incoming-call", G_CALLBACK (incoming_call_cb), &callee);
  wzp_client_place_call_async (a, b_fp, NULL, wzp_test_placed_cb, &r);
  wzp_test_wait_flag (&r.done, 15000);
  g_assert_no_error (r.error);
  call = WZP_CALL (r.object);
  wzp_test_wait_flag (&callee.answered, 5000);
  g_assert_no_error (callee.error);

  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_ACTIVE);
  wzp_test_wait_call_state (callee.call, WZP_CALL_STATE_ACTIVE);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, expected);
  g_assert_cmpint (wzp_call_get_path_kind (callee.call), ==, expected);
  g_assert_cmpstr (wzp_call_get_peer_fingerprint (call), ==, b_fp);
  g_assert_cmpstr (wzp_call_get_peer_fingerprint (callee.call), ==, a_fp);
  g_assert_cmpstr (wzp_call_get_peer_alias (callee.call), ==, "Alice");
  g_assert_cmpstr (wzp_call_get_call_id (call), ==, wzp_call_get_call_id (callee.call));
  if (mode == WZP_ACCEPT_MODE_PRIVACY)
    {
      /* Both relays carried it. */
      g_assert_cmpuint (g_hash_table_size (f->relay[0]->federation->bridges), ==, 1);
      g_assert_cmpuint (g_hash_table_size (f->relay[1]->federation->bridges), ==, 1);
    }

  wzp_call_hangup (callee.call);
  wzp_test_wait_call_state (call, WZP_CALL_STATE_ENDED);
  g_assert_cmpint (wzp_call_get_end_reason (call), ==, WZP_HANGUP_REASON_NORMAL);
  wait_no_calls (f->relay[0]);
  wait_no_calls (f->relay[1]);

  g_clear_object (&callee.call);
  g_clear_object (&call);
  wzp_client_unregister (a);
  wzp_client_unregister (b);
  wzp_test_finalize_object (a);
  wzp_test_finalize_object (b);
}

/* Issue 16, item 4, across a link: the callee's relay counts an offer from a peer relay
 * against its caller, but not against the peer relay's address, which every offer from
 * there shares. */
static void
test_ringing_limits (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(WzpTestClient) a1 = connect_announced (f, 0, "Alice", 1);
  g_autoptr(WzpTestClient) a2 = connect_announced (f, 0, "Anne", 1);
  g_autoptr(WzpTestClient) b1 = connect_announced (f, 1, "Bob", 0);
  g_autoptr(WzpTestClient) b2 = connect_announced (f, 1, "Bert", 0);
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *third = g_uuid_string_random ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (third, wzp_test_client_fingerprint (b2));
  g_autoptr(WzpMessage) error = NULL;

  g_object_set (f->relay[1], "max-ringing-per-ip", 1, "max-ringing-per-client", 1, NULL);
  first = wzp_test_offer_call (a1, b1);
  second = wzp_test_offer_call (a2, b2);

  wzp_test_client_send (a1, offer);
  error = wzp_test_client_expect (a1, WZP_MESSAGE_ERROR);
  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, WZP_ERROR_CODE_LIMIT_REACHED);
  g_assert_cmpstr (_wzp_message_get_string (error, "call_id"), ==, third);
  g_assert_nonnull (strstr (_wzp_message_get_string (error, "message"), "unanswered calls"));
  g_assert_true (wzp_test_client_quiet (b2, 50));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[0]), ==, 2);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[1]), ==, 2);
}

/* An offer that fits the caller's connection but not the forward that carries it to the
 * callee's relay is refused at once by the caller's relay. */
static void
test_oversized_offer (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_announced (f, 0, "Alice", 1);
  g_autoptr(WzpTestClient) b = connect_announced (f, 1, "Bob", 0);
  g_autofree char *call_id = g_uuid_string_random ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, wzp_test_client_fingerprint (b));
  g_autoptr(GBytes) encoded = NULL;
  g_autoptr(WzpMessage) error = NULL;
  g_autofree char *padding = NULL;

  encoded = _wzp_message_encode (offer);
  padding = g_strnfill (WZP_FRAME_MAX_SIZE - g_bytes_get_size (encoded) - 64, 'x');
  _wzp_message_set_string (offer, "padding", padding);
  wzp_test_client_send (a, offer);
  error = wzp_test_client_expect (a, WZP_MESSAGE_ERROR);
  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==,
                   WZP_ERROR_CODE_FRAME_TOO_LARGE);
  g_assert_cmpstr (_wzp_message_get_string (error, "call_id"), ==, call_id);
  g_assert_true (wzp_test_client_quiet (b, 50));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[0]), ==, 0);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay[1]), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/wzp/federation/link", Fixture, NULL, fixture_setup_unlinked, test_link,
              fixture_teardown);
  g_test_add ("/wzp/federation/wrong-pin", Fixture, NULL, fixture_setup_unlinked,
              test_wrong_pin, fixture_teardown);
  g_test_add ("/wzp/federation/not-a-peer", Fixture, NULL, fixture_setup_unlinked,
              test_not_a_peer, fixture_teardown);
  g_test_add ("/wzp/federation/keepalive", Fixture, NULL, fixture_setup_unlinked,
              test_keepalive, fixture_teardown);
  g_test_add ("/wzp/federation/call-cross-wired", Fixture, NULL, fixture_setup_two,
              test_call_cross_wired, fixture_teardown);
  g_test_add ("/wzp/federation/call-privacy", Fixture, NULL, fixture_setup_two,
              test_call_privacy, fixture_teardown);
  g_test_add ("/wzp/federation/reject", Fixture, NULL, fixture_setup_two, test_reject,
              fixture_teardown);
  g_test_add ("/wzp/federation/hangup-by-caller", Fixture, GUINT_TO_POINTER (0),
              fixture_setup_two, test_hangup, fixture_teardown);
  g_test_add ("/wzp/federation/hangup-by-callee", Fixture, GUINT_TO_POINTER (1),
              fixture_setup_two, test_hangup, fixture_teardown);
  g_test_add ("/wzp/federation/ring-timeout-at-caller-relay", Fixture, GUINT_TO_POINTER (0),
              fixture_setup_two, test_ring_timeout, fixture_teardown);
  g_test_add ("/wzp/federation/ring-timeout-at-callee-relay", Fixture, GUINT_TO_POINTER (1),
              fixture_setup_two, test_ring_timeout, fixture_teardown);
  g_test_add ("/wzp/federation/unknown-everywhere", Fixture, NULL, fixture_setup_two,
              test_unknown_everywhere, fixture_teardown);
  g_test_add ("/wzp/federation/callee-gone-meanwhile", Fixture, NULL, fixture_setup_two,
              test_callee_gone_meanwhile, fixture_teardown);
  g_test_add ("/wzp/federation/callee-relay-stops", Fixture, GUINT_TO_POINTER (0),
              fixture_setup_two, test_callee_relay_dies, fixture_teardown);
  g_test_add ("/wzp/federation/link-breaks-mid-call", Fixture, GUINT_TO_POINTER (1),
              fixture_setup_two, test_callee_relay_dies, fixture_teardown);
  g_test_add ("/wzp/federation/caller-disconnects", Fixture, NULL, fixture_setup_two,
              test_caller_disconnects, fixture_teardown);
  g_test_add ("/wzp/federation/presence-reconnect", Fixture, NULL, fixture_setup_two,
              test_presence_reconnect, fixture_teardown);
  g_test_add ("/wzp/federation/presence-return", Fixture, NULL, fixture_setup_two,
              test_presence_return, fixture_teardown);
  g_test_add ("/wzp/federation/presence-10000", Fixture, NULL, fixture_setup_unlinked,
              test_presence_10000, fixture_teardown);
  g_test_add ("/wzp/federation/line", Fixture, NULL, fixture_setup_line, test_line,
              fixture_teardown);
  g_test_add ("/wzp/federation/peer-not-reading", Fixture, NULL, fixture_setup_unlinked,
              test_peer_not_reading, fixture_teardown);
  g_test_add ("/wzp/federation/lying-peer", Fixture, NULL, fixture_setup_two, test_lying_peer,
              fixture_teardown);
  g_test_add ("/wzp/federation/ringing-limits", Fixture, NULL, fixture_setup_two,
              test_ringing_limits, fixture_teardown);
  g_test_add ("/wzp/federation/oversized-offer", Fixture, NULL, fixture_setup_two,
              test_oversized_offer, fixture_teardown);

  g_test_add ("/wzp/federation/rogue-peer/ring-as-contact", Fixture, NULL, fixture_setup_two,
              test_rogue_ring_as_contact, fixture_teardown);
  g_test_add ("/wzp/federation/rogue-peer/steal-calls", Fixture, NULL, fixture_setup_two,
              test_rogue_steal_calls, fixture_teardown);
  g_test_add ("/wzp/federation/rogue-peer/future-binding", Fixture, NULL, fixture_setup_two,
              test_future_binding, fixture_teardown);
  g_test_add ("/wzp/federation/newest-binding-wins", Fixture, NULL, fixture_setup_two,
              test_newest_binding_wins, fixture_teardown);
  g_test_add ("/wzp/federation/caller-relay-mark", Fixture, NULL, fixture_setup_two,
              test_caller_relay_mark, fixture_teardown);
  g_test_add ("/wzp/federation/registration-binding", Fixture, NULL, fixture_setup_two,
              test_registration_binding, fixture_teardown);
  g_test_add ("/wzp/federation/bridge", Fixture, NULL, fixture_setup_two, test_bridge,
              fixture_teardown);
  g_test_add ("/wzp/federation/bridge-refused", Fixture, NULL, fixture_setup_two,
              test_bridge_refused, fixture_teardown);
  g_test_add ("/wzp/federation/wzp-call-direct", Fixture,
              GINT_TO_POINTER (WZP_ACCEPT_MODE_TRUSTED), fixture_setup_two, test_wzp_call,
              fixture_teardown);
  g_test_add ("/wzp/federation/wzp-call-bridged", Fixture,
              GINT_TO_POINTER (WZP_ACCEPT_MODE_PRIVACY), fixture_setup_two, test_wzp_call,
              fixture_teardown);

  return g_test_run ();
}
