/* test-relay.c: the relay with real clients on loopback
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "test-util.h"
#include "wzp-path-private.h"
#include "wzp-pipe-token-private.h"
#include "wzp-relay-private.h"

typedef struct
{
  WzpRelay *relay;
  char     *address;
  char     *pipe_address;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) listen = NULL;
  g_auto(GStrv) pipes = NULL;

  f->relay = wzp_relay_new (identity);
  wzp_relay_listen (f->relay, "127.0.0.1:0", NULL, &error);
  g_assert_no_error (error);
  listen = wzp_relay_dup_listen_addresses (f->relay);
  pipes = wzp_relay_dup_pipe_addresses (f->relay);
  f->address = g_strdup (listen[0]);
  f->pipe_address = g_strdup (pipes[0]);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  wzp_relay_stop (f->relay);
  wzp_test_finalize_object (f->relay);
  g_free (f->address);
  g_free (f->pipe_address);
}

static WzpTestClient *
connect_registered (Fixture    *f,
                    const char *alias)
{
  WzpTestClient *client = wzp_test_client_connect (f->address, NULL,
                                                   wzp_relay_get_fingerprint (f->relay));
  g_autoptr(WzpMessage) ack = wzp_test_client_register (client, alias);

  return client;
}

static char *
new_call_id (void)
{
  return g_uuid_string_random ();
}

static void
count_cb (guint *count)
{
  (*count)++;
}

static void
test_register (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(WzpTestClient) client = wzp_test_client_connect (f->address, NULL,
                                                             wzp_relay_get_fingerprint (f->relay));
  g_autoptr(WzpMessage) ack = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autofree char *local_text = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autofree char *fp = NULL;
  guint registrations_notified = 0, calls_notified = 0;

  g_signal_connect_swapped (f->relay, "notify::n-registrations", G_CALLBACK (count_cb),
                            &registrations_notified);
  g_signal_connect_swapped (f->relay, "notify::n-calls", G_CALLBACK (count_cb),
                            &calls_notified);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 0);
  ack = wzp_test_client_register (client, "Alice");

  /* The observed address is the client's own source address and port. */
  local = g_socket_connection_get_local_address (client->conn, NULL);
  local_text = _wzp_address_to_string (local);
  g_assert_cmpstr (_wzp_message_get_string (ack, "observed_addr"), ==, local_text);
  g_assert_cmpstr (_wzp_message_get_string (ack, "relay_fingerprint"), ==,
                   wzp_relay_get_fingerprint (f->relay));
  g_assert_cmpstr (_wzp_message_get_string (ack, "relay_version"), ==, PACKAGE_VERSION);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 1);
  /* Only the count that changed notifies. */
  g_assert_cmpuint (registrations_notified, ==, 1);
  g_assert_cmpuint (calls_notified, ==, 0);
  g_signal_handlers_disconnect_by_func (f->relay, count_cb, &registrations_notified);
  g_signal_handlers_disconnect_by_func (f->relay, count_cb, &calls_notified);

  list = g_variant_ref_sink (wzp_relay_list_registrations (f->relay));
  g_assert_cmpuint (g_variant_n_children (list), ==, 1);
  {
    g_autoptr(GVariant) entry = g_variant_get_child_value (list, 0);
    g_autofree char *alias = NULL;

    g_assert_true (g_variant_lookup (entry, "fingerprint", "s", &fp));
    g_assert_cmpstr (fp, ==, wzp_test_client_fingerprint (client));
    g_assert_true (g_variant_lookup (entry, "alias", "s", &alias));
    g_assert_cmpstr (alias, ==, "Alice");
  }
}

static void
test_reflect (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(WzpTestClient) client = wzp_test_client_connect (f->address, NULL, NULL);
  g_autoptr(WzpMessage) reflect = _wzp_message_new (WZP_MESSAGE_REFLECT);
  g_autoptr(WzpMessage) response = NULL;
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (client->conn, NULL);
  g_autofree char *local_text = _wzp_address_to_string (local);

  /* Reflection works without registering (a reflection-only connection). */
  wzp_test_client_send (client, reflect);
  response = wzp_test_client_expect (client, WZP_MESSAGE_REFLECT_RESPONSE);
  g_assert_cmpstr (_wzp_message_get_string (response, "observed_addr"), ==, local_text);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 0);
}

static void
test_wrong_relay_pin (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpTestClient) client =
    wzp_test_client_try_connect (f->address, NULL,
                                 "0000:0000:0000:0000:0000:0000:0000:0000", &error);

  g_assert_null (client);
  g_assert_nonnull (error);
}

static void
test_call_flow (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autofree char *call_id = new_call_id ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, wzp_test_client_fingerprint (b));
  g_autoptr(WzpMessage) got_offer = NULL;
  g_autoptr(WzpMessage) ringing = NULL;
  g_autoptr(WzpMessage) got_ringing = NULL;
  g_autoptr(WzpMessage) answer = wzp_test_make_answer (call_id, "AcceptTrusted");
  g_autoptr(WzpMessage) got_answer = NULL;
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autoptr(WzpMessage) hangup = NULL;
  g_autoptr(WzpMessage) got_hangup = NULL;
  g_autofree char *pipe_addr = NULL;

  /* A spoofed caller identity and an unknown member: the relay overrides the former
   * and passes the latter on untouched. */
  _wzp_message_set_string (offer, "caller_fingerprint", wzp_test_client_fingerprint (b));
  json_object_set_string_member (_wzp_message_get_object (offer), "x_future", "kept");
  wzp_test_client_send (a, offer);

  got_offer = wzp_test_client_expect (b, WZP_MESSAGE_DIRECT_CALL_OFFER);
  g_assert_cmpstr (_wzp_message_get_string (got_offer, "call_id"), ==, call_id);
  g_assert_cmpstr (_wzp_message_get_string (got_offer, "caller_fingerprint"), ==,
                   wzp_test_client_fingerprint (a));
  g_assert_cmpstr (_wzp_message_get_string (got_offer, "caller_alias"), ==, "Alice");
  g_assert_cmpstr (_wzp_message_get_string (got_offer, "x_future"), ==, "kept");
  /* Addresses reach the callee only with CallSetup, after answering. */
  g_assert_false (_wzp_message_has_member (got_offer, "caller_reflexive_addr"));
  g_assert_false (_wzp_message_has_member (got_offer, "caller_local_addrs"));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 1);

  ringing = _wzp_message_new_for_call (WZP_MESSAGE_CALL_RINGING, call_id);
  wzp_test_client_send (b, ringing);
  got_ringing = wzp_test_client_expect (a, WZP_MESSAGE_CALL_RINGING);
  g_assert_cmpstr (_wzp_message_get_string (got_ringing, "call_id"), ==, call_id);

  wzp_test_client_send (b, answer);
  got_answer = wzp_test_client_expect (a, WZP_MESSAGE_DIRECT_CALL_ANSWER);
  g_assert_cmpstr (_wzp_message_get_string (got_answer, "accept_mode"), ==, "AcceptTrusted");
  g_assert_false (_wzp_message_has_member (got_answer, "callee_local_addrs"));

  /* Cross-wiring, field by field: each side gets the OTHER side's candidates. */
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
  g_assert_cmpstr (_wzp_message_get_string (setup_a, "pipe_addr"), ==, f->pipe_address);
  g_assert_cmpuint (strlen (_wzp_message_get_string (setup_a, "pipe_token")), ==, 32);

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
  g_assert_cmpstr (_wzp_message_get_string (setup_b, "pipe_addr"), ==, f->pipe_address);
  g_assert_cmpstr (_wzp_message_get_string (setup_a, "pipe_token"), !=,
                   _wzp_message_get_string (setup_b, "pipe_token"));

  hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);
  _wzp_message_set_string (hangup, "reason", "Normal");
  wzp_test_client_send (a, hangup);
  got_hangup = wzp_test_client_expect (b, WZP_MESSAGE_HANGUP);
  g_assert_cmpstr (_wzp_message_get_string (got_hangup, "reason"), ==, "Normal");
  g_assert_true (wzp_test_client_quiet (a, 50));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
  pipe_addr = NULL;
}

static void
test_privacy_answer (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);

  /* Neither side learns anything about where the other is. */
  for (WzpMessage *setup = setup_a; setup != NULL; setup = setup == setup_a ? setup_b : NULL)
    {
      g_assert_false (_wzp_message_has_member (setup, "peer_direct_addr"));
      g_assert_false (_wzp_message_has_member (setup, "peer_local_addrs"));
      g_assert_false (_wzp_message_has_member (setup, "peer_nat_type"));
      g_assert_true (_wzp_message_get_bool (setup, "relay_pipe"));
      g_assert_nonnull (_wzp_message_get_string (setup, "pipe_token"));
    }

  /* And no addresses are passed on later either. */
  {
    g_autoptr(WzpMessage) update = _wzp_message_new_for_call (WZP_MESSAGE_CANDIDATE_UPDATE,
                                                              call_id);
    _wzp_message_set_string (update, "reflexive_addr", "198.51.100.9:1000");
    wzp_test_client_send (a, update);
    wzp_test_client_expect_error (a, WZP_ERROR_CODE_BAD_STATE);
    g_assert_true (wzp_test_client_quiet (b, 50));
  }
}

static void
test_reject (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autofree char *call_id = new_call_id ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, wzp_test_client_fingerprint (b));
  g_autoptr(WzpMessage) answer = wzp_test_make_answer (call_id, "Reject");
  g_autoptr(WzpMessage) got_offer = NULL;
  g_autoptr(WzpMessage) got_answer = NULL;

  wzp_test_client_send (a, offer);
  got_offer = wzp_test_client_expect (b, WZP_MESSAGE_DIRECT_CALL_OFFER);
  wzp_test_client_send (b, answer);
  got_answer = wzp_test_client_expect (a, WZP_MESSAGE_DIRECT_CALL_ANSWER);
  g_assert_cmpstr (_wzp_message_get_string (got_answer, "accept_mode"), ==, "Reject");
  g_assert_false (_wzp_message_has_member (got_answer, "callee_reflexive_addr"));
  g_assert_true (wzp_test_client_quiet (a, 50));
  g_assert_true (wzp_test_client_quiet (b, 1));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
}

static void
test_unknown_callee (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autofree char *call_id = new_call_id ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id,
                                                     "0123:4567:89ab:cdef:0123:4567:89ab:cdef");
  g_autoptr(WzpMessage) error = NULL;

  wzp_test_client_send (a, offer);
  error = wzp_test_client_expect (a, WZP_MESSAGE_ERROR);
  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, WZP_ERROR_CODE_UNKNOWN_CALLEE);
  g_assert_cmpstr (_wzp_message_get_string (error, "call_id"), ==, call_id);
  g_assert_nonnull (strstr (_wzp_message_get_string (error, "message"),
                            "0123:4567:89ab:cdef:0123:4567:89ab:cdef"));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
}

/* Sends an offer of @call_id to @target from @client and returns the Error it gets. */
static WzpMessage *
offer_refused (WzpTestClient *client,
               const char    *call_id,
               const char    *target)
{
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, target);

  wzp_test_client_send (client, offer);
  return wzp_test_client_expect (client, WZP_MESSAGE_ERROR);
}

/* Another party's live call id gets the reply a fresh id gets, wherever a fresh one would
 * fail too, and never "in use" (docs/protocol.md, "Call ids"); the call goes on. The
 * caller reusing its own live id is told so. */
static void
test_call_id_not_confirmed (Fixture       *f,
                            gconstpointer  data)
{
  static const char *nobody = "0123:4567:89ab:cdef:0123:4567:89ab:cdef";
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpTestClient) c = connect_registered (f, "Carol");
  g_autoptr(WzpTestClient) d = connect_registered (f, "Dave");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);
  g_autofree char *fresh = new_call_id ();

  /* Carol offers Alice's call id, and a fresh one, to nobody: the same reply. */
  {
    g_autoptr(WzpMessage) taken = offer_refused (c, call_id, nobody);
    g_autoptr(WzpMessage) unused = offer_refused (c, fresh, nobody);

    g_assert_cmpstr (_wzp_message_get_string (taken, "code"), ==,
                     _wzp_message_get_string (unused, "code"));
    g_assert_cmpstr (_wzp_message_get_string (taken, "message"), ==,
                     _wzp_message_get_string (unused, "message"));
    g_assert_cmpstr (_wzp_message_get_string (taken, "call_id"), ==, call_id);
    g_assert_cmpstr (_wzp_message_get_string (unused, "call_id"), ==, fresh);
  }

  /* Where a fresh id would ring (Dave, or a party of the call), the refusal tells nothing
   * about the call: not "in use", not the parties. */
  {
    const char *targets[] = {
      wzp_test_client_fingerprint (d),
      wzp_test_client_fingerprint (a),
      wzp_test_client_fingerprint (b),
    };

    for (gsize i = 0; i < G_N_ELEMENTS (targets); i++)
      {
        g_autoptr(WzpMessage) error = offer_refused (c, call_id, targets[i]);
        const char *text = _wzp_message_get_string (error, "message");

        g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==,
                         WZP_ERROR_CODE_BAD_MESSAGE);
        g_assert_null (strstr (text, "in use"));
        g_assert_null (strstr (text, call_id));
        g_assert_null (strstr (text, wzp_test_client_fingerprint (a)));
        g_assert_null (strstr (text, wzp_test_client_fingerprint (b)));
      }
  }
  g_assert_true (wzp_test_client_quiet (a, 50));
  g_assert_true (wzp_test_client_quiet (b, 1));
  g_assert_true (wzp_test_client_quiet (d, 1));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 1);

  /* Alice's own live id: she is told what is wrong. */
  {
    g_autoptr(WzpMessage) again = offer_refused (a, call_id, wzp_test_client_fingerprint (d));

    g_assert_cmpstr (_wzp_message_get_string (again, "code"), ==, WZP_ERROR_CODE_BAD_MESSAGE);
    g_assert_nonnull (strstr (_wzp_message_get_string (again, "message"),
                              "You already have a call with the id"));
  }

  /* The call goes on. */
  {
    g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);
    g_autoptr(WzpMessage) got = NULL;

    _wzp_message_set_string (hangup, "reason", "Normal");
    wzp_test_client_send (a, hangup);
    got = wzp_test_client_expect (b, WZP_MESSAGE_HANGUP);
    g_assert_cmpstr (_wzp_message_get_string (got, "call_id"), ==, call_id);
    g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
  }
}

static void
test_ring_timeout (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autofree char *call_id = new_call_id ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, wzp_test_client_fingerprint (b));
  g_autoptr(WzpMessage) got_offer = NULL;
  g_autoptr(WzpMessage) hangup_a = NULL;
  g_autoptr(WzpMessage) hangup_b = NULL;

  g_object_set (f->relay, "ring-timeout", 1, NULL);
  wzp_test_client_send (a, offer);
  got_offer = wzp_test_client_expect (b, WZP_MESSAGE_DIRECT_CALL_OFFER);
  hangup_a = wzp_test_client_expect (a, WZP_MESSAGE_HANGUP);
  hangup_b = wzp_test_client_expect (b, WZP_MESSAGE_HANGUP);
  g_assert_cmpstr (_wzp_message_get_string (hangup_a, "reason"), ==, "Timeout");
  g_assert_cmpstr (_wzp_message_get_string (hangup_b, "reason"), ==, "Timeout");
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
}

static void
test_peer_disconnect_before_answer (Fixture       *f,
                                    gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  WzpTestClient *b = connect_registered (f, "Bob");
  g_autofree char *call_id = new_call_id ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, wzp_test_client_fingerprint (b));
  g_autoptr(WzpMessage) got_offer = NULL;
  g_autoptr(WzpMessage) hangup = NULL;

  wzp_test_client_send (a, offer);
  got_offer = wzp_test_client_expect (b, WZP_MESSAGE_DIRECT_CALL_OFFER);
  wzp_test_client_free (b);
  hangup = wzp_test_client_expect (a, WZP_MESSAGE_HANGUP);
  g_assert_cmpstr (_wzp_message_get_string (hangup, "call_id"), ==, call_id);
  g_assert_cmpstr (_wzp_message_get_string (hangup, "reason"), ==, "Error");
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 1);
}

static void
test_grace_and_reattach (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  WzpTestClient *b = connect_registered (f, "Bob");
  g_autoptr(WzpIdentity) b_identity = g_object_ref (b->identity);
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);
  g_autoptr(WzpMessage) lost = NULL;
  g_autoptr(WzpMessage) hangup = NULL;
  g_autoptr(WzpTestClient) b2 = NULL;
  g_autoptr(WzpMessage) ack = NULL;

  g_object_set (f->relay, "grace-period", 1, NULL);

  /* Losing signalling is not the end of a set-up call. */
  wzp_test_client_free (b);
  lost = wzp_test_client_expect (a, WZP_MESSAGE_PEER_SIGNALLING_LOST);
  g_assert_cmpstr (_wzp_message_get_string (lost, "call_id"), ==, call_id);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 1);

  /* Coming back within the grace period re-attaches the call. */
  b2 = wzp_test_client_connect (f->address, b_identity, NULL);
  ack = wzp_test_client_register (b2, "Bob");
  g_assert_true (wzp_test_client_quiet (a, 1500));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 1);

  /* Leaving again for longer than the grace period ends it. */
  g_clear_pointer (&b2, wzp_test_client_free);
  g_clear_pointer (&lost, _wzp_message_unref);
  lost = wzp_test_client_expect (a, WZP_MESSAGE_PEER_SIGNALLING_LOST);
  hangup = wzp_test_client_expect (a, WZP_MESSAGE_HANGUP);
  g_assert_cmpstr (_wzp_message_get_string (hangup, "reason"), ==, "Error");
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
}

static void
test_reregistration_replaces (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(WzpTestClient) old = connect_registered (f, "Bob");
  g_autoptr(WzpTestClient) fresh = wzp_test_client_connect (f->address, old->identity, NULL);
  g_autoptr(WzpMessage) ack = wzp_test_client_register (fresh, "Bob again");
  g_autoptr(WzpTestClient) caller = connect_registered (f, "Alice");
  g_autofree char *call_id = new_call_id ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, wzp_test_client_fingerprint (fresh));
  g_autoptr(WzpMessage) got_offer = NULL;

  /* The old connection is told why and closed; its cleanup leaves the new one alone. */
  wzp_test_client_expect_error (old, WZP_ERROR_CODE_REPLACED);
  wzp_test_client_wait_closed (old);
  wzp_test_spin (50);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 2);

  wzp_test_client_send (caller, offer);
  got_offer = wzp_test_client_expect (fresh, WZP_MESSAGE_DIRECT_CALL_OFFER);
  g_assert_cmpstr (_wzp_message_get_string (got_offer, "call_id"), ==, call_id);
}

static void
test_busy (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpTestClient) c = connect_registered (f, "Carol");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = NULL;
  g_autofree char *second = new_call_id ();
  g_autoptr(WzpMessage) offer = NULL;
  g_autoptr(WzpMessage) busy = NULL;

  g_autoptr(GPtrArray) lines = NULL;
  guint logged = 0;

  g_object_set (f->relay, "max-calls-per-client", 1, NULL);
  call_id = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);

  wzp_test_log_capture_start ();
  offer = wzp_test_make_offer (second, wzp_test_client_fingerprint (b));
  wzp_test_client_send (c, offer);
  busy = wzp_test_client_expect (c, WZP_MESSAGE_HANGUP);
  g_assert_cmpstr (_wzp_message_get_string (busy, "reason"), ==, "Busy");
  g_assert_cmpstr (_wzp_message_get_string (busy, "call_id"), ==, second);
  g_assert_true (wzp_test_client_quiet (b, 50));

  /* Every limit hit is logged (docs/relay.md, "Logs"), the callee's too. */
  lines = wzp_test_log_captured ();
  wzp_test_log_capture_stop ();
  for (guint i = 0; i < lines->len; i++)
    {
      GHashTable *line = g_ptr_array_index (lines, i);

      if (g_strcmp0 (g_hash_table_lookup (line, "WZP_LIMIT"), "max-calls-per-client") == 0)
        {
          const char *message = g_hash_table_lookup (line, "MESSAGE");

          g_assert_nonnull (strstr (message, second));
          g_assert_nonnull (strstr (message, wzp_test_client_fingerprint (b)));
          logged++;
        }
    }
  g_assert_cmpuint (logged, ==, 1);
}

/* Sends an offer from @from to @to; returns its call id. */
static char *
send_offer (WzpTestClient *from,
            WzpTestClient *to)
{
  char *call_id = new_call_id ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, wzp_test_client_fingerprint (to));

  wzp_test_client_send (from, offer);
  return call_id;
}

/* The next message of @client is Error{@code} for @call_id, saying @text somewhere. */
static void
expect_call_error (WzpTestClient *client,
                   const char    *code,
                   const char    *call_id,
                   const char    *text)
{
  g_autoptr(WzpMessage) error = wzp_test_client_expect (client, WZP_MESSAGE_ERROR);

  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, code);
  g_assert_cmpstr (_wzp_message_get_string (error, "call_id"), ==, call_id);
  g_assert_nonnull (strstr (_wzp_message_get_string (error, "message"), text));
}

/* Issue 16, item 4: offers nobody answered used to count against the callee's
 * max-calls-per-client, so a throwaway identity ringing someone made them busy for
 * everyone else (and kept them from calling out). */
static void
test_ringing_is_not_busy (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(WzpTestClient) victim = connect_registered (f, "Victim");
  g_autoptr(WzpTestClient) real = connect_registered (f, "Real");
  g_autoptr(WzpTestClient) friend = connect_registered (f, "Friend");
  g_autoptr(GPtrArray) throwaways = g_ptr_array_new_with_free_func (
    (GDestroyNotify) wzp_test_client_free);
  g_autofree char *first = NULL;
  g_autofree char *real_call = NULL;
  g_autofree char *out_call = NULL;

  /* One identity rings once: its further offers to the same person are refused. */
  g_ptr_array_add (throwaways, connect_registered (f, "Throwaway"));
  first = wzp_test_offer_call (g_ptr_array_index (throwaways, 0), victim);
  for (int i = 0; i < 10; i++)
    {
      g_autofree char *again = send_offer (g_ptr_array_index (throwaways, 0), victim);

      expect_call_error (g_ptr_array_index (throwaways, 0), WZP_ERROR_CODE_LIMIT_REACHED,
                         again, "You are already calling");
    }
  /* More identities, as many as the victim's call limit (4). */
  for (int i = 1; i < 4; i++)
    {
      g_autofree char *call_id = NULL;

      g_ptr_array_add (throwaways, connect_registered (f, "Throwaway"));
      call_id = wzp_test_offer_call (g_ptr_array_index (throwaways, i), victim);
    }

  /* A real caller still rings the victim, and the victim can still call out. */
  real_call = wzp_test_offer_call (real, victim);
  out_call = wzp_test_offer_call (victim, friend);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 6);
}

static void
test_ringing_per_caller (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpTestClient) c = connect_registered (f, "Carol");
  g_autoptr(WzpTestClient) d = connect_registered (f, "Dave");
  g_autofree char *to_b = NULL;
  g_autofree char *to_c = NULL;
  g_autofree char *to_d = NULL;
  g_autofree char *again = NULL;
  g_autoptr(WzpMessage) hangup = NULL;
  g_autoptr(WzpMessage) got = NULL;

  g_object_set (f->relay, "max-ringing-per-client", 2, NULL);
  to_b = wzp_test_offer_call (a, b);
  to_c = wzp_test_offer_call (a, c);
  to_d = send_offer (a, d);
  expect_call_error (a, WZP_ERROR_CODE_LIMIT_REACHED, to_d, "2 unanswered calls");
  g_assert_true (wzp_test_client_quiet (d, 50));

  /* Hanging one up makes room. */
  hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, to_b);
  _wzp_message_set_string (hangup, "reason", "Normal");
  wzp_test_client_send (a, hangup);
  got = wzp_test_client_expect (b, WZP_MESSAGE_HANGUP);
  again = wzp_test_offer_call (a, d);
}

static void
test_ringing_per_callee (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(WzpTestClient) victim = connect_registered (f, "Victim");
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpTestClient) c = connect_registered (f, "Carol");
  g_autofree char *from_a = NULL;
  g_autofree char *from_b = NULL;
  g_autofree char *from_c = NULL;
  g_autoptr(WzpMessage) busy = NULL;

  g_object_set (f->relay, "max-ringing-per-callee", 2, NULL);
  from_a = wzp_test_offer_call (a, victim);
  from_b = wzp_test_offer_call (b, victim);
  from_c = send_offer (c, victim);
  busy = wzp_test_client_expect (c, WZP_MESSAGE_HANGUP);
  g_assert_cmpstr (_wzp_message_get_string (busy, "reason"), ==, "Busy");
  g_assert_cmpstr (_wzp_message_get_string (busy, "call_id"), ==, from_c);
  g_assert_true (wzp_test_client_quiet (victim, 50));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 2);
}

static void
test_ringing_per_ip (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpTestClient) c = connect_registered (f, "Carol");
  g_autoptr(WzpTestClient) x = connect_registered (f, "Xavier");
  g_autofree char *from_a = NULL;
  g_autofree char *from_b = NULL;
  g_autofree char *from_c = NULL;
  g_autoptr(WzpMessage) answer = NULL;
  g_autoptr(WzpMessage) got = NULL;
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_x = NULL;

  /* Every test client comes from 127.0.0.1. */
  g_object_set (f->relay, "max-ringing-per-ip", 2, NULL);
  from_a = wzp_test_offer_call (a, x);
  from_b = wzp_test_offer_call (b, x);
  from_c = send_offer (c, x);
  expect_call_error (c, WZP_ERROR_CODE_LIMIT_REACHED, from_c, "Your address (127.0.0.1)");
  g_assert_true (wzp_test_client_quiet (x, 50));

  /* An answered call no longer counts as unanswered. */
  answer = wzp_test_make_answer (from_a, "AcceptTrusted");
  wzp_test_client_send (x, answer);
  got = wzp_test_client_expect (a, WZP_MESSAGE_DIRECT_CALL_ANSWER);
  setup_a = wzp_test_client_expect (a, WZP_MESSAGE_CALL_SETUP);
  setup_x = wzp_test_client_expect (x, WZP_MESSAGE_CALL_SETUP);
  g_clear_pointer (&from_c, g_free);
  from_c = wzp_test_offer_call (c, x);
}

/* Decision (docs/protocol.md, "Calls at the relay"): a second offer to the same callee
 * while the first is unanswered is refused, not put in place of the first. */
static void
test_ringing_same_pair (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autofree char *first = wzp_test_offer_call (a, b);
  g_autofree char *second = send_offer (a, b);
  g_autofree char *third = NULL;
  g_autoptr(WzpMessage) hangup = NULL;
  g_autoptr(WzpMessage) got = NULL;

  expect_call_error (a, WZP_ERROR_CODE_LIMIT_REACHED, second, first);
  g_assert_true (wzp_test_client_quiet (b, 50));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 1);

  /* The other way round is another pair; once the first call is over, A may ring B. */
  g_clear_pointer (&second, g_free);
  second = wzp_test_offer_call (b, a);
  hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, first);
  _wzp_message_set_string (hangup, "reason", "Normal");
  wzp_test_client_send (a, hangup);
  got = wzp_test_client_expect (b, WZP_MESSAGE_HANGUP);
  third = wzp_test_offer_call (a, b);
}

/* An offer just under the frame limit, which the relay's caller_fingerprint and
 * caller_alias take over it. */
static WzpMessage *
make_padded_offer (const char *call_id,
                   const char *target,
                   gsize       size)
{
  WzpMessage *offer = _wzp_message_new_for_call (WZP_MESSAGE_DIRECT_CALL_OFFER, call_id);
  g_autoptr(GBytes) encoded = NULL;
  g_autofree char *padding = NULL;
  gsize len;

  _wzp_message_set_string (offer, "target_fingerprint", target);
  _wzp_message_set_string (offer, "padding", "");
  encoded = _wzp_message_encode (offer);
  len = g_bytes_get_size (encoded);
  g_assert_cmpuint (len, <, size);
  padding = g_strnfill (size - len, 'x');
  _wzp_message_set_string (offer, "padding", padding);
  g_clear_pointer (&encoded, g_bytes_unref);
  encoded = _wzp_message_encode (offer);
  g_assert_cmpuint (g_bytes_get_size (encoded), ==, size);
  return offer;
}

/* Issue 16, item 4: a message the relay enlarged past the frame limit used to be dropped
 * silently, and the call hung "offered" until the ring timeout. */
static void
test_oversized_offer (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autofree char *call_id = new_call_id ();
  g_autoptr(WzpMessage) offer = make_padded_offer (call_id, wzp_test_client_fingerprint (b),
                                                   WZP_FRAME_MAX_SIZE - 16);
  g_autofree char *next = NULL;
  gint64 start = g_get_monotonic_time ();

  wzp_test_client_send (a, offer);
  expect_call_error (a, WZP_ERROR_CODE_FRAME_TOO_LARGE, call_id, "frame limit");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_assert_true (wzp_test_client_quiet (b, 50));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);

  /* Nothing of it is left: the next offer to the same callee rings. */
  next = wzp_test_offer_call (a, b);
}

/* The relay builds CallSetup from both parties' members; one over a (lowered) frame limit
 * ends the call at once, with the reason, instead of leaving it half set up. */
static void
test_oversized_setup (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = NULL;
  g_autoptr(WzpTestClient) b = NULL;
  g_autofree char *call_id = NULL;
  g_autoptr(WzpMessage) answer = NULL;
  g_autoptr(WzpMessage) got = NULL;
  g_autoptr(WzpMessage) hangup_a = NULL;
  g_autoptr(WzpMessage) hangup_b = NULL;
  g_autoptr(GPtrArray) locals = g_ptr_array_new_with_free_func (g_free);

  g_object_set (f->relay, "max-frame-size", 1024, NULL);
  a = connect_registered (f, "Alice");
  b = connect_registered (f, "Bob");
  call_id = wzp_test_offer_call (a, b);

  for (int i = 0; i < WZP_MAX_HOST_CANDIDATES; i++)
    g_ptr_array_add (locals, g_strdup_printf ("[fd00:1234:5678:9abc:def0:1234:5678:%x]:40002",
                                              i));
  g_ptr_array_add (locals, NULL);
  answer = wzp_test_make_answer (call_id, "AcceptTrusted");
  _wzp_message_set_strv (answer, "callee_local_addrs", (const char * const *) locals->pdata);
  wzp_test_client_send (b, answer);

  got = wzp_test_client_expect (a, WZP_MESSAGE_DIRECT_CALL_ANSWER);
  expect_call_error (a, WZP_ERROR_CODE_FRAME_TOO_LARGE, call_id, "CallSetup");
  hangup_a = wzp_test_client_expect (a, WZP_MESSAGE_HANGUP);
  hangup_b = wzp_test_client_expect (b, WZP_MESSAGE_HANGUP);
  g_assert_cmpstr (_wzp_message_get_string (hangup_b, "reason"), ==, "Error");
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
}

/* 64 characters of two bytes each: an alias is counted in characters, not bytes. */
static char *
make_alias (guint n_chars)
{
  GString *alias = g_string_new (NULL);

  for (guint i = 0; i < n_chars; i++)
    g_string_append (alias, "é");
  return g_string_free (alias, FALSE);
}

static void
test_long_alias (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = wzp_test_client_connect (f->address, NULL, NULL);
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autofree char *longest = make_alias (WZP_MAX_ALIAS_CHARS);
  g_autofree char *too_long = make_alias (WZP_MAX_ALIAS_CHARS + 1);
  g_autoptr(WzpMessage) presence = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);
  g_autoptr(WzpMessage) error = NULL;
  g_autoptr(WzpMessage) ack = NULL;
  g_autofree char *call_id = new_call_id ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, wzp_test_client_fingerprint (b));
  g_autoptr(WzpMessage) got = NULL;

  /* Registering with it is refused, and the client stays unregistered. */
  _wzp_message_set_string (presence, "alias", too_long);
  _wzp_message_set_string (presence, "client_version", "test");
  wzp_test_client_send (a, presence);
  error = wzp_test_client_expect (a, WZP_MESSAGE_ERROR);
  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, WZP_ERROR_CODE_BAD_MESSAGE);
  g_assert_cmpstr (_wzp_message_get_string (error, "message"), ==,
                   "Your alias is longer than 64 characters; choose a shorter one");
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 1);
  ack = wzp_test_client_register (a, longest);

  /* So is an offer with it; the callee never rings. */
  _wzp_message_set_string (offer, "caller_alias", too_long);
  wzp_test_client_send (a, offer);
  expect_call_error (a, WZP_ERROR_CODE_BAD_MESSAGE, call_id, "longer than 64 characters");
  g_assert_true (wzp_test_client_quiet (b, 50));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);

  /* The longest allowed alias reaches the callee whole. */
  _wzp_message_set_string (offer, "caller_alias", NULL);
  wzp_test_client_send (a, offer);
  got = wzp_test_client_expect (b, WZP_MESSAGE_DIRECT_CALL_OFFER);
  g_assert_cmpstr (_wzp_message_get_string (got, "caller_alias"), ==, longest);
}

static void
hang_up (WzpTestClient *client,
         const char    *call_id)
{
  g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);

  _wzp_message_set_string (hangup, "reason", "Normal");
  wzp_test_client_send (client, hangup);
}

/* The ringing counters follow every way a call can end, and leave nothing behind: no
 * identity's entry, no pair, no address entry once its clients are gone. */
static void
test_ringing_counts_drop (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  WzpTestClient *b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *set_up = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);
  g_autofree char *cancelled = NULL;
  g_autofree char *declined = NULL;
  g_autofree char *timed_out = NULL;
  g_autofree char *lost = NULL;
  g_autoptr(WzpMessage) reject = NULL;
  g_autoptr(WzpMessage) got = NULL;

  /* Answered, then hung up. */
  hang_up (a, set_up);
  g_clear_pointer (&got, _wzp_message_unref);
  got = wzp_test_client_expect (b, WZP_MESSAGE_HANGUP);
  /* Cancelled while ringing. */
  cancelled = wzp_test_offer_call (a, b);
  hang_up (a, cancelled);
  g_clear_pointer (&got, _wzp_message_unref);
  got = wzp_test_client_expect (b, WZP_MESSAGE_HANGUP);
  /* Declined. */
  declined = wzp_test_offer_call (a, b);
  reject = wzp_test_make_answer (declined, "Reject");
  wzp_test_client_send (b, reject);
  g_clear_pointer (&got, _wzp_message_unref);
  got = wzp_test_client_expect (a, WZP_MESSAGE_DIRECT_CALL_ANSWER);
  /* Not answered in time. */
  g_object_set (f->relay, "ring-timeout", 1, NULL);
  timed_out = wzp_test_offer_call (a, b);
  g_clear_pointer (&got, _wzp_message_unref);
  got = wzp_test_client_expect (a, WZP_MESSAGE_HANGUP);
  g_clear_pointer (&got, _wzp_message_unref);
  got = wzp_test_client_expect (b, WZP_MESSAGE_HANGUP);
  /* The caller gone while it rings. */
  g_object_set (f->relay, "ring-timeout", 45, NULL);
  lost = wzp_test_offer_call (b, a);
  wzp_test_client_free (b);
  g_clear_pointer (&got, _wzp_message_unref);
  got = wzp_test_client_expect (a, WZP_MESSAGE_HANGUP);

  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
  g_assert_cmpuint (g_hash_table_size (f->relay->party_counts), ==, 0);
  g_assert_cmpuint (g_hash_table_size (f->relay->ringing_pairs), ==, 0);
  g_clear_pointer (&a, wzp_test_client_free);
  wzp_test_spin (50);
  g_assert_cmpuint (g_hash_table_size (f->relay->ip_counters), ==, 0);
}

static void
test_candidate_update (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);
  g_autoptr(WzpMessage) update = _wzp_message_new_for_call (WZP_MESSAGE_CANDIDATE_UPDATE,
                                                            call_id);
  g_autoptr(WzpMessage) got = NULL;
  const char * const locals[] = { "192.168.1.5:4000", NULL };

  _wzp_message_set_string (update, "reflexive_addr", "198.51.100.7:4000");
  _wzp_message_set_strv (update, "local_addrs", locals);
  wzp_test_client_send (b, update);
  got = wzp_test_client_expect (a, WZP_MESSAGE_CANDIDATE_UPDATE);
  g_assert_cmpstr (_wzp_message_get_string (got, "reflexive_addr"), ==, "198.51.100.7:4000");
  wzp_test_assert_strv (_wzp_message_dup_strv (got, "local_addrs"),
                        "192.168.1.5:4000", NULL);
}

/* A list of @n distinct private host candidates, all on port 40001. */
static GStrv
many_candidates (guint n)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *address = g_strdup_printf ("10.%u.%u.1:40001", i / 256, i % 256);

      g_strv_builder_add (builder, address);
    }
  return g_strv_builder_end (builder);
}

/* The sender of @call_id gets Error{bad_message} for it. */
static void
expect_refused (WzpTestClient *client,
                const char    *call_id)
{
  g_autoptr(WzpMessage) error = wzp_test_client_expect (client, WZP_MESSAGE_ERROR);

  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, WZP_ERROR_CODE_BAD_MESSAGE);
  g_assert_cmpstr (_wzp_message_get_string (error, "call_id"), ==, call_id);
  g_assert_nonnull (strstr (_wzp_message_get_string (error, "message"), "at most 16"));
}

/* Offers, answers and CandidateUpdates with more than WZP_MAX_HOST_CANDIDATES host
 * candidates are refused with an Error for the call and change nothing; a CallSetup never
 * carries more (docs/protocol.md, "Calls at the relay"). */
static void
test_candidate_caps (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_auto(GStrv) over = many_candidates (3000);
  g_auto(GStrv) at_cap = many_candidates (WZP_MAX_HOST_CANDIDATES);
  g_auto(GStrv) one_over = many_candidates (WZP_MAX_HOST_CANDIDATES + 1);
  g_autofree char *refused_id = new_call_id ();
  g_autofree char *call_id = NULL;
  g_autoptr(WzpMessage) offer = NULL;
  g_autoptr(WzpMessage) answer = NULL;
  g_autoptr(WzpMessage) update = NULL;
  g_autoptr(WzpMessage) got_answer = NULL;
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_auto(GStrv) locals_a = NULL;
  g_auto(GStrv) locals_b = NULL;

  /* An offer with 3,000: refused, no call, the callee never hears of it. */
  offer = wzp_test_make_offer (refused_id, wzp_test_client_fingerprint (b));
  _wzp_message_set_strv (offer, "caller_local_addrs", (const char * const *) over);
  wzp_test_client_send (a, offer);
  expect_refused (a, refused_id);
  g_assert_true (wzp_test_client_quiet (b, 50));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);

  /* 16 are fine. */
  call_id = new_call_id ();
  g_clear_pointer (&offer, _wzp_message_unref);
  offer = wzp_test_make_offer (call_id, wzp_test_client_fingerprint (b));
  _wzp_message_set_strv (offer, "caller_local_addrs", (const char * const *) at_cap);
  wzp_test_client_send (a, offer);
  g_clear_pointer (&offer, _wzp_message_unref);
  offer = wzp_test_client_expect (b, WZP_MESSAGE_DIRECT_CALL_OFFER);

  /* An answer with 17: refused, the call still rings and the caller hears nothing. */
  answer = wzp_test_make_answer (call_id, "AcceptTrusted");
  _wzp_message_set_strv (answer, "callee_local_addrs", (const char * const *) one_over);
  wzp_test_client_send (b, answer);
  expect_refused (b, call_id);
  g_assert_true (wzp_test_client_quiet (a, 50));
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 1);

  _wzp_message_set_strv (answer, "callee_local_addrs", (const char * const *) at_cap);
  wzp_test_client_send (b, answer);
  got_answer = wzp_test_client_expect (a, WZP_MESSAGE_DIRECT_CALL_ANSWER);
  setup_a = wzp_test_client_expect (a, WZP_MESSAGE_CALL_SETUP);
  setup_b = wzp_test_client_expect (b, WZP_MESSAGE_CALL_SETUP);
  locals_a = _wzp_message_dup_strv (setup_a, "peer_local_addrs");
  locals_b = _wzp_message_dup_strv (setup_b, "peer_local_addrs");
  g_assert_cmpuint (g_strv_length (locals_a), ==, WZP_MAX_HOST_CANDIDATES);
  g_assert_cmpuint (g_strv_length (locals_b), ==, WZP_MAX_HOST_CANDIDATES);

  /* A CandidateUpdate with 3,000: refused, not passed on. */
  update = _wzp_message_new_for_call (WZP_MESSAGE_CANDIDATE_UPDATE, call_id);
  _wzp_message_set_strv (update, "local_addrs", (const char * const *) over);
  wzp_test_client_send (b, update);
  expect_refused (b, call_id);
  g_assert_true (wzp_test_client_quiet (a, 50));
}

/* Pipes */

static WzpFrameIO *
pipe_io (GSocketConnection *conn)
{
  return _wzp_frame_io_new (G_IO_STREAM (conn));
}

typedef struct
{
  WzpMessage *message;
  GError     *error;
  gboolean    done;
} ReadWait;

static void
read_frame_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  ReadWait *wait = user_data;

  wait->message = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result, &wait->error);
  wait->done = TRUE;
}

/* The relay's answer on a pipe: PipeReady, or NULL (with @error) when it closed it. */
static WzpMessage *
pipe_read_frame (GSocketConnection  *conn,
                 GError            **error)
{
  g_autoptr(WzpFrameIO) io = pipe_io (conn);
  ReadWait wait = { 0 };

  _wzp_frame_io_read_async (io, NULL, read_frame_cb, &wait);
  wzp_test_wait_flag (&wait.done, 5000);
  if (wait.error != NULL)
    g_propagate_error (error, wait.error);
  return wait.message;
}

static char *
token_for (WzpMessage *setup,
           gint64      seq)
{
  return _wzp_pipe_token_derive (_wzp_message_get_string (setup, "pipe_token"), seq);
}

static void
test_pipe_forwarding (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  g_autofree char *token_a = token_for (setup_a, 1);
  g_autofree char *token_b = token_for (setup_b, 1);
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) pipe_b = NULL;
  g_autoptr(WzpMessage) requested = NULL;
  g_autoptr(WzpMessage) ready_a = NULL;
  g_autoptr(WzpMessage) ready_b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) calls = NULL;
  gboolean relayed = FALSE;

  /* The first pipe brings PipeRequested to the other party. */
  pipe_a = wzp_test_pipe_open (_wzp_message_get_string (setup_a, "pipe_addr"), call_id, token_a, 1);
  requested = wzp_test_client_expect (b, WZP_MESSAGE_PIPE_REQUESTED);
  g_assert_cmpstr (_wzp_message_get_string (requested, "call_id"), ==, call_id);

  pipe_b = wzp_test_pipe_open (_wzp_message_get_string (setup_b, "pipe_addr"), call_id, token_b, 1);
  ready_a = pipe_read_frame (pipe_a, &error);
  g_assert_no_error (error);
  ready_b = pipe_read_frame (pipe_b, &error);
  g_assert_no_error (error);
  g_assert_cmpint (_wzp_message_get_message_type (ready_a), ==, WZP_MESSAGE_PIPE_READY);
  g_assert_cmpint (_wzp_message_get_message_type (ready_b), ==, WZP_MESSAGE_PIPE_READY);

  /* Bytes go both ways, untouched. */
  wzp_test_pipe_send_and_expect (pipe_a, pipe_b, "\x16\x03\x01 hello from the caller");
  wzp_test_pipe_send_and_expect (pipe_b, pipe_a, "\x17\x03\x03 and back from the callee");
  wzp_test_pipe_send_and_expect (pipe_a, pipe_b, "again");

  calls = g_variant_ref_sink (wzp_relay_list_calls (f->relay));
  {
    g_autoptr(GVariant) entry = g_variant_get_child_value (calls, 0);
    g_assert_true (g_variant_lookup (entry, "relayed", "b", &relayed));
    g_assert_true (relayed);
  }
}

static void
test_pipe_bad_tokens (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);
  const char *pipe_addr = _wzp_message_get_string (setup_a, "pipe_addr");
  g_autofree char *token_a = token_for (setup_a, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) requested = NULL;

  /* A wrong token: closed, nobody hears of it, nothing joins. */
  {
    g_autoptr(GSocketConnection) bogus =
      wzp_test_pipe_open (pipe_addr, call_id, "00000000000000000000000000000000", 1);
    g_autoptr(WzpMessage) none = pipe_read_frame (bogus, &error);

    g_assert_null (none);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
    g_clear_error (&error);
  }
  /* The raw secret from CallSetup is not a token either: it never crosses in clear. */
  {
    g_autoptr(GSocketConnection) bogus =
      wzp_test_pipe_open (pipe_addr, call_id, _wzp_message_get_string (setup_a, "pipe_token"), 1);
    g_autoptr(WzpMessage) none = pipe_read_frame (bogus, &error);

    g_assert_null (none);
    g_clear_error (&error);
  }
  g_assert_true (wzp_test_client_quiet (b, 50));

  /* A token is good for one pipe: using it again is refused and the party is told. */
  {
    g_autoptr(GSocketConnection) first = wzp_test_pipe_open (pipe_addr, call_id, token_a, 1);
    g_autoptr(GSocketConnection) again = NULL;
    g_autoptr(WzpMessage) none = NULL;

    requested = wzp_test_client_expect (b, WZP_MESSAGE_PIPE_REQUESTED);
    again = wzp_test_pipe_open (pipe_addr, call_id, token_a, 1);
    wzp_test_client_expect_error (a, WZP_ERROR_CODE_BAD_TOKEN);
    none = pipe_read_frame (again, &error);
    g_assert_null (none);
    g_clear_error (&error);
  }

  /* B's token cannot join a different call. */
  {
    g_autoptr(WzpTestClient) c = connect_registered (f, "Carol");
    g_autoptr(WzpTestClient) d = connect_registered (f, "Dave");
    g_autoptr(WzpMessage) setup_c = NULL;
    g_autoptr(WzpMessage) setup_d = NULL;
    g_autofree char *other_call = wzp_test_set_up_call (c, d, "AcceptTrusted", &setup_c, &setup_d);
    g_autofree char *token_b = token_for (setup_b, 1);
    g_autoptr(GSocketConnection) cross = wzp_test_pipe_open (pipe_addr, other_call, token_b, 1);
    g_autoptr(WzpMessage) none = pipe_read_frame (cross, &error);

    g_assert_null (none);
    g_clear_error (&error);
    g_assert_true (wzp_test_client_quiet (d, 50));
  }
}

static void
test_pipe_wait_timeout (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);
  g_autofree char *token_a = token_for (setup_a, 1);
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(WzpMessage) requested = NULL;
  g_autoptr(WzpMessage) none = NULL;
  g_autoptr(GError) error = NULL;

  g_object_set (f->relay, "pipe-wait-timeout", 1, NULL);
  pipe_a = wzp_test_pipe_open (_wzp_message_get_string (setup_a, "pipe_addr"), call_id, token_a, 1);
  requested = wzp_test_client_expect (b, WZP_MESSAGE_PIPE_REQUESTED);
  wzp_test_client_expect_error (a, WZP_ERROR_CODE_PIPE_TIMEOUT);
  none = pipe_read_frame (pipe_a, &error);
  g_assert_null (none);

  /* The next pipe, with the next token, still works once both come. */
  {
    g_autofree char *token_a2 = token_for (setup_a, 2);
    g_autofree char *token_b = token_for (setup_b, 1);
    g_autoptr(GSocketConnection) p1 = NULL;
    g_autoptr(GSocketConnection) p2 = NULL;
    g_autoptr(WzpMessage) r1 = NULL;
    g_autoptr(WzpMessage) r2 = NULL;
    g_autoptr(WzpMessage) requested2 = NULL;

    g_clear_error (&error);
    p1 = wzp_test_pipe_open (_wzp_message_get_string (setup_a, "pipe_addr"), call_id, token_a2, 2);
    requested2 = wzp_test_client_expect (b, WZP_MESSAGE_PIPE_REQUESTED);
    p2 = wzp_test_pipe_open (_wzp_message_get_string (setup_b, "pipe_addr"), call_id, token_b, 1);
    r1 = pipe_read_frame (p1, &error);
    g_assert_no_error (error);
    r2 = pipe_read_frame (p2, &error);
    g_assert_no_error (error);
    wzp_test_pipe_send_and_expect (p1, p2, "second pipe");
  }
}

/* Pipe forwarding runs on a thread of the relay's own (wzp-relay-forwarder.c): what it
 * must get right beyond carrying bytes. */

static WzpTestClient *
connect_registered_at (WzpRelay   *relay,
                       const char *alias)
{
  g_auto(GStrv) listen = wzp_relay_dup_listen_addresses (relay);
  WzpTestClient *client = wzp_test_client_connect (listen[0], NULL,
                                                   wzp_relay_get_fingerprint (relay));
  g_autoptr(WzpMessage) ack = wzp_test_client_register (client, alias);

  return client;
}

/* Opens the caller's pipe, then the callee's (who is told PipeRequested in between),
 * both with token @seq, and reads PipeReady on both. */
static void
open_joined_pipes (WzpTestClient      *b,
                   WzpMessage         *setup_a,
                   WzpMessage         *setup_b,
                   const char         *call_id,
                   gint64              seq,
                   GSocketConnection **pipe_a,
                   GSocketConnection **pipe_b)
{
  g_autofree char *token_a = token_for (setup_a, seq);
  g_autofree char *token_b = token_for (setup_b, seq);
  g_autoptr(WzpMessage) requested = NULL;
  g_autoptr(WzpMessage) ready_a = NULL;
  g_autoptr(WzpMessage) ready_b = NULL;
  g_autoptr(GError) error = NULL;

  *pipe_a = wzp_test_pipe_open (_wzp_message_get_string (setup_a, "pipe_addr"), call_id,
                                token_a, seq);
  requested = wzp_test_client_expect (b, WZP_MESSAGE_PIPE_REQUESTED);
  *pipe_b = wzp_test_pipe_open (_wzp_message_get_string (setup_b, "pipe_addr"), call_id,
                                token_b, seq);
  ready_a = pipe_read_frame (*pipe_a, &error);
  g_assert_no_error (error);
  ready_b = pipe_read_frame (*pipe_b, &error);
  g_assert_no_error (error);
  g_assert_cmpint (_wzp_message_get_message_type (ready_a), ==, WZP_MESSAGE_PIPE_READY);
  g_assert_cmpint (_wzp_message_get_message_type (ready_b), ==, WZP_MESSAGE_PIPE_READY);
}

typedef struct
{
  GInputStream *input;
  guint8        buf[4096];
  gsize         total;
  gboolean      done;
} Drain;

static void
drain_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Drain *d = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    {
      d->done = TRUE;
      return;
    }
  d->total += n;
  g_input_stream_read_async (d->input, d->buf, sizeof d->buf, G_PRIORITY_DEFAULT, NULL,
                             drain_cb, d);
}

/* Reads @conn until its end of stream (or a reset), at most 5 s; returns the bytes read
 * before it. */
static gsize
read_to_end (GSocketConnection *conn)
{
  Drain d = { .input = g_io_stream_get_input_stream (G_IO_STREAM (conn)) };

  g_input_stream_read_async (d.input, d.buf, sizeof d.buf, G_PRIORITY_DEFAULT, NULL,
                             drain_cb, &d);
  wzp_test_wait_flag (&d.done, 5000);
  return d.total;
}

static void
shutdown_write (GSocketConnection *conn)
{
  g_autoptr(GError) error = NULL;

  g_socket_shutdown (g_socket_connection_get_socket (conn), FALSE, TRUE, &error);
  g_assert_no_error (error);
}

/* Iterates the main context until @relay holds no pipe (at most 5 s). */
static void
wait_no_pipes (WzpRelay *relay)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (g_hash_table_size (relay->pipes) > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpuint (g_hash_table_size (relay->pipes), ==, 0);
}

/* Threads of this process called @name; the id of the first in @first_tid if not NULL. */
static guint
threads_named (const char  *name,
               char       **first_tid)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL) && g_strcmp0 (g_strchomp (comm), name) == 0)
        {
          if (n++ == 0 && first_tid != NULL)
            *first_tid = g_strdup (tid);
        }
    }
  return n;
}

static guint
count_threads (const char *name)
{
  return threads_named (name, NULL);
}

/* Threads called @name once an ended one has left /proc: a joined thread is gone for the
 * process, but the kernel lists its task until its exit is complete (at most 2 s here). */
static guint
count_threads_settled (const char *name,
                       guint       expected)
{
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  guint n;

  while ((n = count_threads (name)) != expected && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  return n;
}

#define FORWARDER_THREAD "wzp-forwarder"

/* The end of a stream is passed on, one direction at a time; when both have ended, the
 * relay closes the pair and the call can open its next pipes. */
static void
test_pipe_end_of_stream (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) pipe_b = NULL;
  g_autoptr(GSocketConnection) next_a = NULL;
  g_autoptr(GSocketConnection) next_b = NULL;

  open_joined_pipes (b, setup_a, setup_b, call_id, 1, &pipe_a, &pipe_b);
  wzp_test_pipe_send_and_expect (pipe_a, pipe_b, "before the end");
  g_assert_cmpuint (_wzp_relay_pipes_get_n_forwarding (f->relay), ==, 1);

  /* The caller ends its side: the callee sees the end and can still talk back. */
  shutdown_write (pipe_a);
  g_assert_cmpuint (read_to_end (pipe_b), ==, 0);
  wzp_test_pipe_send_and_expect (pipe_b, pipe_a, "after the caller's end");

  /* The callee ends too. The forwarder sees it on its thread while this one sleeps and
   * does not run the relay's context (the forwarder must not run relay code then: the
   * prototype did, and deadlocked); the relay closes the pair once its context runs. */
  shutdown_write (pipe_b);
  g_usleep (200 * 1000);
  g_assert_cmpuint (read_to_end (pipe_a), ==, 0);
  wait_no_pipes (f->relay);
  g_assert_cmpuint (_wzp_relay_pipes_get_n_forwarding (f->relay), ==, 0);

  /* The call goes on, and its next pipes work. */
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 1);
  open_joined_pipes (b, setup_a, setup_b, call_id, 2, &next_a, &next_b);
  wzp_test_pipe_send_and_expect (next_a, next_b, "the next pipe");
  wzp_test_pipe_send_and_expect (next_b, next_a, "and back");
}

/* A federation bridge stands in for a party's pipe with one end of a socketpair
 * (wzp-relay-bridge.c): matched and joined like a pipe, it gets PipeReady, and the
 * forwarder carries bytes between it and the other party's TCP pipe. */
static void
test_pipe_bridge_end (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  g_autofree char *token_a = token_for (setup_a, 1);
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) ours = NULL;
  g_autoptr(GSocketConnection) theirs = NULL;
  g_autoptr(WzpMessage) requested = NULL;
  g_autoptr(WzpMessage) ready_a = NULL;
  g_autoptr(WzpMessage) ready_bridge = NULL;
  g_autoptr(GError) error = NULL;
  int fds[2];

  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds));
  {
    g_autoptr(GSocket) s0 = g_socket_new_from_fd (fds[0], &error);
    g_autoptr(GSocket) s1 = g_socket_new_from_fd (fds[1], &error);

    g_assert_no_error (error);
    ours = g_socket_connection_factory_create_connection (s0);
    theirs = g_socket_connection_factory_create_connection (s1);
  }

  /* The callee's side is the bridge: the caller is asked for its pipe. */
  g_assert_true (_wzp_relay_pipes_add_bridge (_wzp_relay_call_lookup (f->relay, call_id),
                                              WZP_CALL_ROLE_CALLEE, theirs, "a test bridge"));
  requested = wzp_test_client_expect (a, WZP_MESSAGE_PIPE_REQUESTED);
  g_assert_cmpstr (_wzp_message_get_string (requested, "call_id"), ==, call_id);

  pipe_a = wzp_test_pipe_open (_wzp_message_get_string (setup_a, "pipe_addr"), call_id,
                               token_a, 1);
  ready_a = pipe_read_frame (pipe_a, &error);
  g_assert_no_error (error);
  ready_bridge = pipe_read_frame (ours, &error);
  g_assert_no_error (error);
  g_assert_cmpint (_wzp_message_get_message_type (ready_a), ==, WZP_MESSAGE_PIPE_READY);
  g_assert_cmpint (_wzp_message_get_message_type (ready_bridge), ==, WZP_MESSAGE_PIPE_READY);

  wzp_test_pipe_send_and_expect (pipe_a, ours, "from the caller into the bridge");
  wzp_test_pipe_send_and_expect (ours, pipe_a, "from the bridge to the caller");

  /* The bridge ending ends the caller's pipe. */
  g_io_stream_close (G_IO_STREAM (ours), NULL, NULL);
  g_assert_cmpuint (read_to_end (pipe_a), ==, 0);
  wait_no_pipes (f->relay);
}

/* Two relays in one process each forward on their own thread; dropping one while both
 * forward closes its pipes and ends its thread, and the other goes on. */
static void
test_pipe_two_relays (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  g_autoptr(GError) error = NULL;
  WzpRelay *second = wzp_relay_new (identity);
  g_autoptr(WzpTestClient) a1 = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b1 = connect_registered (f, "Bob");
  WzpTestClient *a2, *b2;
  g_autoptr(WzpMessage) setup_a1 = NULL;
  g_autoptr(WzpMessage) setup_b1 = NULL;
  g_autoptr(WzpMessage) setup_a2 = NULL;
  g_autoptr(WzpMessage) setup_b2 = NULL;
  g_autofree char *call_1 = NULL;
  g_autofree char *call_2 = NULL;
  g_autoptr(GSocketConnection) pipe_a1 = NULL;
  g_autoptr(GSocketConnection) pipe_b1 = NULL;
  g_autoptr(GSocketConnection) pipe_a2 = NULL;
  g_autoptr(GSocketConnection) pipe_b2 = NULL;
  guint threads = count_threads (FORWARDER_THREAD);

  wzp_relay_listen (second, "127.0.0.1:0", NULL, &error);
  g_assert_no_error (error);
  a2 = connect_registered_at (second, "Carol");
  b2 = connect_registered_at (second, "Dave");

  call_1 = wzp_test_set_up_call (a1, b1, "AcceptGeneric", &setup_a1, &setup_b1);
  call_2 = wzp_test_set_up_call (a2, b2, "AcceptGeneric", &setup_a2, &setup_b2);
  open_joined_pipes (b1, setup_a1, setup_b1, call_1, 1, &pipe_a1, &pipe_b1);
  open_joined_pipes (b2, setup_a2, setup_b2, call_2, 1, &pipe_a2, &pipe_b2);
  wzp_test_pipe_send_and_expect (pipe_a1, pipe_b1, "on the first relay");
  wzp_test_pipe_send_and_expect (pipe_b2, pipe_a2, "on the second relay");
  g_assert_cmpuint (count_threads (FORWARDER_THREAD), ==, threads + 2);

  /* The last reference goes while both forward (no wzp_relay_stop first). */
  wzp_test_client_free (a2);
  wzp_test_client_free (b2);
  wzp_test_finalize_object (second);
  g_assert_cmpuint (count_threads_settled (FORWARDER_THREAD, threads + 1), ==, threads + 1);
  g_assert_cmpuint (read_to_end (pipe_a2), ==, 0);
  g_assert_cmpuint (read_to_end (pipe_b2), ==, 0);

  wzp_test_pipe_send_and_expect (pipe_a1, pipe_b1, "the first relay goes on");
  wzp_test_pipe_send_and_expect (pipe_b1, pipe_a1, "both ways");
}

typedef struct
{
  gboolean done;
  GError  *error;
} WriteWait;

static void
write_all_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  WriteWait *w = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &w->error);
  w->done = TRUE;
}

/* Stopping the relay in the middle of a transfer closes the pipes at once, stops its
 * forwarding thread, and leaves no descriptor behind. */
static void
test_pipe_stop_while_forwarding (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) pipe_b = NULL;
  gsize size = 32 * 1024 * 1024;   /* more than the socket buffers on the way hold */
  g_autofree guint8 *bulk = g_malloc0 (size);
  WriteWait w = { 0 };
  guint fds_before = wzp_test_count_fds ();
  guint threads = count_threads (FORWARDER_THREAD);

  open_joined_pipes (b, setup_a, setup_b, call_id, 1, &pipe_a, &pipe_b);
  wzp_test_pipe_send_and_expect (pipe_b, pipe_a, "forwarding");
  g_assert_cmpuint (count_threads (FORWARDER_THREAD), ==, threads + 1);
  /* More than the rate limit lets through for a while: the transfer is under way. */
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (pipe_a)),
                                   bulk, size, G_PRIORITY_DEFAULT, NULL,
                                   write_all_cb, &w);
  wzp_test_spin (100);
  g_assert_false (w.done);

  wzp_relay_stop (f->relay);
  g_assert_cmpuint (count_threads_settled (FORWARDER_THREAD, threads), ==, threads);
  g_assert_cmpuint (g_hash_table_size (f->relay->pipes), ==, 0);
  /* The callee got part of it, then the end; the caller's write fails. */
  g_assert_cmpuint (read_to_end (pipe_b), <, size);
  wzp_test_wait_flag (&w.done, 5000);
  g_assert_nonnull (w.error);
  g_clear_error (&w.error);

  g_io_stream_close (G_IO_STREAM (pipe_a), NULL, NULL);
  g_io_stream_close (G_IO_STREAM (pipe_b), NULL, NULL);
  wzp_test_spin (50);
  /* The relay's listeners are closed now too, so fewer than before. */
  g_assert_cmpuint (wzp_test_count_fds (), <, fds_before);
}

/* Descriptors listed in @dir (a /proc fd directory), below the descriptor limit: valgrind
 * keeps descriptors of its own above the limit it shows the program, and does not let
 * close_range() close them. */
static int
count_fds_in (const char *dir_path)
{
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  struct rlimit limit;
  const char *name;
  int n = 0;

  g_assert_nonnull (dir);
  g_assert_no_errno (getrlimit (RLIMIT_NOFILE, &limit));
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_ascii_strtoull (name, NULL, 10) < limit.rlim_cur)
      n++;
  return n;
}

/* Descriptors in the table of the forwarding thread @tid (the thread unshares its table:
 * wzp-relay-forwarder.c); -1 when it shares the process's table. */
static int
count_thread_fds (const char *tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/fd", tid);
  int n = count_fds_in (path);

  /* On a shared table both counts include the GDir that read them. */
  return n == count_fds_in ("/proc/self/fd") ? -1 : n;
}

/* The forwarding thread works on a descriptor table of its own. It must hold nothing of
 * the relay's but the sockets it forwards: a copy of any other socket would keep that
 * connection open after the relay closed it. And what it holds for a pipe goes with the
 * pipe (no test of the process's descriptors would see a leak in that table). */
static void
test_pipe_forwarder_descriptors (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpTestClient) c = connect_registered (f, "Carol");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) pipe_b = NULL;
  g_autoptr(GSocketConnection) next_a = NULL;
  g_autoptr(GSocketConnection) next_b = NULL;
  g_autoptr(WzpMessage) hangup = NULL;
  g_autofree char *tid = NULL;
  int std_fds = 0, own, with_one, per_forward;

  for (int fd = 0; fd < 3; fd++)
    std_fds += fcntl (fd, F_GETFD) != -1;

  /* The first join starts the thread, while the process holds many other descriptors
   * (listeners, every client's signalling connection at both ends). */
  open_joined_pipes (b, setup_a, setup_b, call_id, 1, &pipe_a, &pipe_b);
  wzp_test_pipe_send_and_expect (pipe_a, pipe_b, "forwarding");
  g_assert_cmpuint (threads_named (FORWARDER_THREAD, &tid), ==, 1);
  with_one = count_thread_fds (tid);
  if (with_one < 0)
    {
      g_test_skip ("the forwarding thread shares the process's descriptor table here");
      return;
    }
  /* Its epoll set, its wake-up and report eventfds, its end of the socket pair that
   * brings it sockets; per forward its copies of the two sockets. */
  own = std_fds + 4;
  per_forward = 2;
  g_assert_cmpint (with_one, ==, own + per_forward);

  /* Carol's signalling connection, which was open when the thread started, is closed by
   * the relay (a second registration replaces it): she sees it end. */
  {
    g_autoptr(WzpTestClient) c2 = wzp_test_client_connect (f->address, c->identity, NULL);
    g_autoptr(WzpMessage) ack = wzp_test_client_register (c2, "Carol again");

    wzp_test_client_expect_error (c, WZP_ERROR_CODE_REPLACED);
    wzp_test_client_wait_closed (c);
  }

  /* The next pipes of the call: the old pair goes, the new one comes. */
  g_io_stream_close (G_IO_STREAM (pipe_a), NULL, NULL);
  g_io_stream_close (G_IO_STREAM (pipe_b), NULL, NULL);
  wait_no_pipes (f->relay);
  g_assert_cmpint (count_thread_fds (tid), ==, own);
  open_joined_pipes (b, setup_a, setup_b, call_id, 2, &next_a, &next_b);
  wzp_test_pipe_send_and_expect (next_b, next_a, "the next pipe");
  g_assert_cmpint (count_thread_fds (tid), ==, own + per_forward);

  /* The call ends: its pipes close, and nothing of them is left in the thread. */
  hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);
  _wzp_message_set_string (hangup, "reason", "Normal");
  wzp_test_client_send (a, hangup);
  g_assert_cmpuint (read_to_end (next_b), ==, 0);
  wait_no_pipes (f->relay);
  g_assert_cmpint (count_thread_fds (tid), ==, own);
}

/* A receiver that stops reading holds the sender up (TCP's flow control, through the
 * relay: nothing piles up in it), and once it reads again every byte arrives, in order;
 * then bytes written right before the end of the stream arrive before the end. */
static void
test_pipe_backpressure (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = NULL;
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) pipe_b = NULL;
  g_autoptr(GError) error = NULL;
  gsize size = 32 * 1024 * 1024;   /* more than the socket buffers on the way hold */
  g_autofree guint8 *sent = g_malloc (size);
  g_autofree guint8 *received = g_malloc (size);
  WzpTestRawRead r = { 0 };   /* its own buffer is too small: `received` takes the bytes */
  WriteWait w = { 0 };
  const char last[] = "the last words";
  char tail[sizeof last] = { 0 };
  gsize got = 0;

  g_object_set (f->relay, "pipe-bytes-per-second", G_MAXINT, "pipe-burst-bytes", G_MAXINT,
                NULL);
  call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  open_joined_pipes (b, setup_a, setup_b, call_id, 1, &pipe_a, &pipe_b);

  for (gsize i = 0; i < size; i++)
    sent[i] = (guint8) (i * 31 + (i >> 12));
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (pipe_a)),
                                   sent, size, G_PRIORITY_DEFAULT, NULL, write_all_cb, &w);
  wzp_test_spin (300);
  g_assert_false (w.done);

  g_input_stream_read_all_async (g_io_stream_get_input_stream (G_IO_STREAM (pipe_b)),
                                 received, size, G_PRIORITY_DEFAULT, NULL, wzp_test_raw_read_cb, &r);
  wzp_test_wait_flag (&r.done, 20000);
  g_assert_no_error (r.error);
  g_assert_cmpmem (received, r.got, sent, size);
  wzp_test_wait_flag (&w.done, 5000);
  g_assert_no_error (w.error);

  /* Bytes and the end of the stream together: the bytes come first. */
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (pipe_a)), last,
                             sizeof last, NULL, NULL, &error);
  g_assert_no_error (error);
  shutdown_write (pipe_a);
  g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (pipe_b)), tail,
                           sizeof tail, &got, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (tail, got, last, sizeof last);
  g_assert_cmpuint (read_to_end (pipe_b), ==, 0);
  wzp_test_pipe_send_and_expect (pipe_b, pipe_a, "after the caller's end");
}

/* pipe-bytes-per-second holds: past the burst, the rest comes at the rate. */
static void
test_pipe_rate_limit (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = NULL;
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) pipe_b = NULL;
  g_autoptr(GError) error = NULL;
  guint8 sent[3072];
  WzpTestRawRead r = { 0 };
  gint64 start;

  g_object_set (f->relay, "pipe-bytes-per-second", 1024, "pipe-burst-bytes", 1024, NULL);
  call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  open_joined_pipes (b, setup_a, setup_b, call_id, 1, &pipe_a, &pipe_b);

  for (gsize i = 0; i < sizeof sent; i++)
    sent[i] = (guint8) (i * 7);
  start = g_get_monotonic_time ();
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (pipe_a)), sent,
                             sizeof sent, NULL, NULL, &error);
  g_assert_no_error (error);
  g_input_stream_read_all_async (g_io_stream_get_input_stream (G_IO_STREAM (pipe_b)), r.buf,
                                 sizeof sent, G_PRIORITY_DEFAULT, NULL, wzp_test_raw_read_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_no_error (r.error);
  g_assert_cmpmem (r.buf, r.got, sent, sizeof sent);
  /* 1024 bytes at once, then 2048 at 1024 per second: about 2 s. Without the limit,
   * a few milliseconds. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 3 * G_USEC_PER_SEC / 2);
}

/* Bad input: each case gets its Error, and another client on the relay is unaffected. */

static void
check_bystander (Fixture       *f,
                 WzpTestClient *bystander)
{
  g_autoptr(WzpMessage) reflect = _wzp_message_new (WZP_MESSAGE_REFLECT);
  g_autoptr(WzpMessage) response = NULL;

  wzp_test_client_send (bystander, reflect);
  response = wzp_test_client_expect (bystander, WZP_MESSAGE_REFLECT_RESPONSE);
}

static void
send_frame_text (WzpTestClient *client,
                 const char    *text,
                 gssize         len)
{
  gsize n = len < 0 ? strlen (text) : (gsize) len;
  g_autofree guint8 *frame = g_malloc (n + 4);

  frame[0] = n >> 24;
  frame[1] = n >> 16;
  frame[2] = n >> 8;
  frame[3] = n;
  memcpy (frame + 4, text, n);
  wzp_test_client_send_raw (client, frame, n + 4);
}

static void
test_bad_input (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(WzpTestClient) bystander = connect_registered (f, "Bystander");
  g_autoptr(WzpTestClient) bad = connect_registered (f, "Mallory");
  const struct {
    const char *text;
    gssize      len;
  } cases[] = {
    { "this is not json", -1 },
    { "[1,2,3]", -1 },
    { "{\"type\":\"NoSuchMessage\"}", -1 },
    { "{\"type\":42}", -1 },
    { "{\"type\":\"Hangup\",\"call_id\":7,\"reason\":\"Normal\"}", -1 },
    { "{\"type\":\"Hangup\",\"call_id\":\"x\"}", -1 },
    { "{\"type\":\"DirectCallOffer\",\"call_id\":\"x\",\"target_fingerprint\":\"nope\"}", -1 },
    { "{\"type\":\"DirectCallOffer\",\"call_id\":\"x\",\"target_fingerprint\":"
      "\"0123:4567:89ab:cdef:0123:4567:89ab:cdef\",\"caller_local_addrs\":[\"1.2.3.4\"]}", -1 },
    { "{\"type\":\"Ping\",\"timestamp_ms\":\"soon\"}", -1 },
    { "{\"type\":\"Reflect\"\xff}", -1 },
    { "{\"type\":\"Reflect\"}\0", 19 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("bad input case %u", i);
      send_frame_text (bad, cases[i].text, cases[i].len);
      wzp_test_client_expect_error (bad, WZP_ERROR_CODE_BAD_MESSAGE);
    }
  check_bystander (f, bystander);

  /* Messages for calls you are not in, in every flavour. */
  {
    g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
    g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
    g_autoptr(WzpMessage) setup_a = NULL;
    g_autoptr(WzpMessage) setup_b = NULL;
    g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);
    WzpMessageType types[] = { WZP_MESSAGE_CALL_RINGING, WZP_MESSAGE_HANGUP,
                               WZP_MESSAGE_CANDIDATE_UPDATE, WZP_MESSAGE_DIRECT_CALL_ANSWER };

    for (guint i = 0; i < G_N_ELEMENTS (types); i++)
      {
        g_autoptr(WzpMessage) message = _wzp_message_new_for_call (types[i], call_id);

        _wzp_message_set_string (message, "reason", "Normal");
        _wzp_message_set_string (message, "accept_mode", "AcceptTrusted");
        wzp_test_client_send (bad, message);
        wzp_test_client_expect_error (bad, WZP_ERROR_CODE_UNKNOWN_CALL);
      }
    g_assert_true (wzp_test_client_quiet (a, 50));
    g_assert_true (wzp_test_client_quiet (b, 1));
    g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 1);

    /* A party in the wrong state: the caller cannot answer its own call. */
    {
      g_autoptr(WzpMessage) answer = wzp_test_make_answer (call_id, "AcceptTrusted");
      wzp_test_client_send (a, answer);
      wzp_test_client_expect_error (a, WZP_ERROR_CODE_BAD_STATE);
    }
  }

  /* Calling before registering. */
  {
    g_autoptr(WzpTestClient) anon = wzp_test_client_connect (f->address, NULL, NULL);
    g_autoptr(WzpMessage) offer = wzp_test_make_offer ("abc",
                                                       wzp_test_client_fingerprint (bystander));

    wzp_test_client_send (anon, offer);
    wzp_test_client_expect_error (anon, WZP_ERROR_CODE_NOT_REGISTERED);
    g_assert_true (wzp_test_client_quiet (bystander, 50));
  }

  /* A flood: rate-limited with an Error, then closed; nobody else notices. */
  {
    g_autoptr(WzpMessage) ping = _wzp_message_new (WZP_MESSAGE_PING);
    g_autoptr(WzpMessage) first = NULL;
    gboolean saw_rate_error = FALSE;

    _wzp_message_set_int (ping, "timestamp_ms", 1);
    bad->answer_pings = FALSE;
    for (guint i = 0; i < 1000; i++)
      wzp_test_client_send (bad, ping);
    for (;;)
      {
        g_autoptr(WzpMessage) message = wzp_test_client_next (bad, 5000);

        if (message == NULL)
          break;
        if (_wzp_message_get_message_type (message) == WZP_MESSAGE_ERROR &&
            g_strcmp0 (_wzp_message_get_string (message, "code"),
                       WZP_ERROR_CODE_RATE_LIMITED) == 0)
          saw_rate_error = TRUE;
      }
    g_assert_true (saw_rate_error);
    check_bystander (f, bystander);
  }

  /* An oversize frame: an Error, then the connection closes. */
  {
    g_autoptr(WzpTestClient) big = connect_registered (f, "Big");
    guint8 header[4] = { 0x00, 0x01, 0x00, 0x01 };   /* 65537 bytes */

    wzp_test_client_send_raw (big, header, sizeof header);
    wzp_test_client_expect_error (big, WZP_ERROR_CODE_FRAME_TOO_LARGE);
    wzp_test_client_wait_closed (big);
    check_bystander (f, bystander);
  }

  /* A truncated frame followed by a close. */
  {
    g_autoptr(WzpTestClient) trunc = connect_registered (f, "Trunc");
    guint8 partial[6] = { 0x00, 0x00, 0x00, 0x40, '{', '"' };

    wzp_test_client_send_raw (trunc, partial, sizeof partial);
    g_io_stream_close (G_IO_STREAM (trunc->conn), NULL, NULL);
    wzp_test_spin (50);
    check_bystander (f, bystander);
  }
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), >=, 1);
}

/* Logs: a client decides how often it is refused and what text it sends, not how much
 * the relay logs (docs/relay.md, "Logs"). */

static guint
count_lines_with (GPtrArray  *lines,
                  const char *field,
                  const char *value)
{
  guint n = 0;

  for (guint i = 0; i < lines->len; i++)
    if (g_strcmp0 (g_hash_table_lookup (g_ptr_array_index (lines, i), field), value) == 0)
      n++;
  return n;
}

/* Hundreds of Errors in a burst: a handful of lines, and one that says how many were
 * left out; none is lost from the count. */
static void
test_log_rate_limit (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(WzpTestClient) bad = connect_registered (f, "Mallory");
  g_autoptr(WzpMessage) open = _wzp_message_new_for_call (WZP_MESSAGE_OPEN_PIPE, "x");
  const guint n_errors = 300;
  guint written = 0;
  guint suppressed = 0;
  gint64 start, deadline;
  guint elapsed_s;

  g_object_set (f->relay, "max-messages-per-second", 100000, NULL);
  _wzp_message_set_string (open, "pipe_token", "0123456789abcdef0123456789abcdef");
  wzp_test_log_capture_start ();

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n_errors; i++)
    wzp_test_client_send (bad, open);
  /* The Errors themselves are not held back: only the log lines are. */
  for (guint i = 0; i < n_errors; i++)
    wzp_test_client_expect_error (bad, WZP_ERROR_CODE_BAD_MESSAGE);
  elapsed_s = (g_get_monotonic_time () - start) / G_USEC_PER_SEC;

  {
    g_autoptr(GPtrArray) lines = wzp_test_log_captured ();
    guint n = count_lines_with (lines, "WZP_ERROR_CODE", WZP_ERROR_CODE_BAD_MESSAGE);

    g_test_message ("%u Errors in %u s: %u lines", n_errors, elapsed_s, n);
    /* The burst, then one a second (and one more for a second boundary). */
    g_assert_cmpuint (n, <=, 5 + elapsed_s + 1);
  }

  /* Once the client is quiet, a line says how many were left out. */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autoptr(GPtrArray) lines = wzp_test_log_captured ();

      written = suppressed = 0;
      for (guint i = 0; i < lines->len; i++)
        {
          GHashTable *line = g_ptr_array_index (lines, i);
          const char *count = g_hash_table_lookup (line, "WZP_SUPPRESSED");

          if (g_strcmp0 (g_hash_table_lookup (line, "WZP_ERROR_CODE"),
                         WZP_ERROR_CODE_BAD_MESSAGE) != 0)
            continue;
          if (count != NULL)
            {
              g_assert_nonnull (strstr (g_hash_table_lookup (line, "MESSAGE"), "suppressed"));
              suppressed += atoi (count);
            }
          /* A line of its own for the count has no address; an Error's line has. */
          if (g_hash_table_contains (line, "WZP_REMOTE_ADDRESS"))
            written++;
        }
      if (written + suppressed >= n_errors || g_get_monotonic_time () > deadline)
        break;
      wzp_test_spin (100);
    }
  wzp_test_log_capture_stop ();
  g_test_message ("%u lines written, %u counted as suppressed", written, suppressed);
  g_assert_cmpuint (suppressed, >, 0);
  g_assert_cmpuint (written + suppressed, ==, n_errors);
}

/* 30 KB of text with escape sequences and newlines, where the relay would quote it: the
 * log shows its beginning, escaped, and no line is long. */
static void
test_log_client_text (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpTestClient) bad = connect_registered (f, "Mallory");
  /* JSON escapes: the relay decodes them into ESC, LF and U+202E (right-to-left). */
  g_autoptr(GString) long_text = g_string_new ("\\u001b[31m\\nred\\u202e");
  g_autoptr(GPtrArray) lines = NULL;
  g_autofree char *json = NULL;
  guint quoted = 0;

  g_string_append (long_text, "\\u001b]0;owned\\u0007");
  while (long_text->len < 30 * 1024)
    g_string_append (long_text, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\\n");
  wzp_test_log_capture_start ();

  /* The Error text a client sends, a call id in an Error's journal field, and a call id
   * quoted in an Error's text. */
  json = g_strdup_printf ("{\"type\":\"Error\",\"code\":\"oops\",\"message\":\"%s\"}",
                          long_text->str);
  send_frame_text (bad, json, -1);
  g_free (json);
  json = g_strdup_printf ("{\"type\":\"OpenPipe\",\"call_id\":\"%s\","
                          "\"pipe_token\":\"0123456789abcdef0123456789abcdef\"}",
                          long_text->str);
  send_frame_text (bad, json, -1);
  wzp_test_client_expect_error (bad, WZP_ERROR_CODE_BAD_MESSAGE);
  g_free (json);
  json = g_strdup_printf ("{\"type\":\"Hangup\",\"call_id\":\"%s\",\"reason\":\"Normal\"}",
                          long_text->str);
  send_frame_text (bad, json, -1);
  wzp_test_client_expect_error (bad, WZP_ERROR_CODE_UNKNOWN_CALL);

  lines = wzp_test_log_captured ();
  wzp_test_log_capture_stop ();
  for (guint i = 0; i < lines->len; i++)
    {
      GHashTable *line = g_ptr_array_index (lines, i);
      GHashTableIter iter;
      const char *key, *value;

      gboolean quotes = FALSE;

      g_hash_table_iter_init (&iter, line);
      while (g_hash_table_iter_next (&iter, (gpointer *) &key, (gpointer *) &value))
        {
          g_assert_cmpuint (strlen (value), <=, 1024);
          for (const char *p = value; *p; p++)
            g_assert_cmpint ((guchar) *p, >=, 0x20);
          g_assert_null (strstr (value, "\u202e"));   /* the bidi override, as is */
          /* Its beginning, escaped, then "…" where it was cut. */
          if (strstr (value, "\\x1b[31m\\nred\\u202e\\x1b]0;owned\\x07AAA") != NULL)
            {
              g_assert_true (strstr (value, "A…") != NULL || strstr (value, "\\n…") != NULL);
              quotes = TRUE;
            }
        }
      quoted += quotes;
    }
  /* The client's Error (at debug), OpenPipe's Error and Hangup's. */
  g_assert_cmpuint (quoted, ==, 3);
  g_assert_cmpuint (count_lines_with (lines, "WZP_ERROR_CODE", WZP_ERROR_CODE_BAD_MESSAGE), ==, 1);
}

/* Handshake limits: idle TCP connections from one address cannot starve real clients. */

static int
idle_connect_from (const char *source_ip,
                   guint16     port)
{
  struct sockaddr_in src = { .sin_family = AF_INET };
  struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  inet_pton (AF_INET, source_ip, &src.sin_addr);
  inet_pton (AF_INET, "127.0.0.1", &dst.sin_addr);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &src, sizeof src), ==, 0);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &dst, sizeof dst), ==, 0);
  return fd;
}

/* Sums, over the lines of @field = @value, the lines written about a connection (those
 * with WZP_REMOTE_ADDRESS, not those that only report a count) and WZP_SUPPRESSED. */
static void
count_written_and_suppressed (GPtrArray  *lines,
                              const char *field,
                              const char *value,
                              guint      *written,
                              guint      *suppressed)
{
  *written = *suppressed = 0;
  for (guint i = 0; i < lines->len; i++)
    {
      GHashTable *line = g_ptr_array_index (lines, i);
      const char *count = g_hash_table_lookup (line, "WZP_SUPPRESSED");

      if (g_strcmp0 (g_hash_table_lookup (line, field), value) != 0)
        continue;
      if (count != NULL)
        *suppressed += atoi (count);
      if (g_hash_table_contains (line, "WZP_REMOTE_ADDRESS"))
        (*written)++;
    }
}

/* Connections refused at accept, as fast as TCP allows: a handful of lines, then the
 * count of the others (docs/relay.md, "Logs"). */
static void
test_log_refusals (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GInetSocketAddress) address = _wzp_address_parse (f->address, NULL);
  guint16 port = g_inet_socket_address_get_port (address);
  int fds[60];
  guint written = 0, suppressed = 0;
  gint64 start, deadline;
  guint elapsed_s;

  g_object_set (f->relay, "max-handshakes-per-ip", 1, NULL);
  wzp_test_log_capture_start ();

  /* The address has one place before the handshake: each new connection takes it, and
   * the one before, still silent, is closed to make room (a limit hit each time). */
  start = g_get_monotonic_time ();
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    fds[i] = idle_connect_from ("127.0.0.3", port);
  /* Pipes without a valid token: refused too. */
  for (guint i = 0; i < 60; i++)
    {
      g_autoptr(GSocketConnection) pipe =
        wzp_test_pipe_open (f->pipe_address, "no-such-call",
                            "0123456789abcdef0123456789abcdef", 1);
      wzp_test_spin (1);
    }
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autoptr(GPtrArray) lines = wzp_test_log_captured ();

      count_written_and_suppressed (lines, "WZP_LIMIT", "max-handshakes-per-ip",
                                    &written, &suppressed);
      if (written + suppressed >= G_N_ELEMENTS (fds) - 1 || g_get_monotonic_time () > deadline)
        break;
      wzp_test_spin (50);
    }
  elapsed_s = (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_test_message ("handshakes: %u lines written, %u counted as suppressed in %u s",
                  written, suppressed, elapsed_s);
  g_assert_cmpuint (written, >=, 1);
  g_assert_cmpuint (written, <=, 5 + elapsed_s + 1);
  g_assert_cmpuint (written + suppressed, ==, G_N_ELEMENTS (fds) - 1);

  {
    g_autoptr(GPtrArray) lines = wzp_test_log_captured ();
    guint refused = 0;

    for (guint i = 0; i < lines->len; i++)
      {
        const char *message = g_hash_table_lookup (g_ptr_array_index (lines, i), "MESSAGE");

        if (strstr (message, "pipe refused") != NULL)
          refused++;
      }
    g_test_message ("pipes: %u lines", refused);
    g_assert_cmpuint (refused, >=, 1);
    g_assert_cmpuint (refused, <=, 5 + elapsed_s + 1);
  }
  wzp_test_log_capture_stop ();

  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    close (fds[i]);
}

/* A relay made in a worker thread, on that thread's own context (what a server that runs
 * its relay off the main thread does). */
typedef struct
{
  GMutex        lock;
  GCond         cond;
  GMainContext *context;
  char         *address;
  gint          quit;
} RelayThread;

static gpointer
relay_thread_main (gpointer data)
{
  RelayThread *rt = data;
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) listen = NULL;
  WzpRelay *relay;

  g_main_context_push_thread_default (rt->context);
  relay = wzp_relay_new (identity);
  g_object_set (relay, "handshake-timeout", 1, NULL);
  wzp_relay_listen (relay, "127.0.0.1:0", NULL, &error);
  g_assert_no_error (error);
  listen = wzp_relay_dup_listen_addresses (relay);

  g_mutex_lock (&rt->lock);
  rt->address = g_strdup (listen[0]);
  g_cond_signal (&rt->cond);
  g_mutex_unlock (&rt->lock);

  while (!g_atomic_int_get (&rt->quit))
    g_main_context_iteration (rt->context, TRUE);
  wzp_relay_stop (relay);
  g_object_unref (relay);
  g_main_context_pop_thread_default (rt->context);
  return NULL;
}

/* The relay's timers run where the relay lives. Here its thread iterates only its own
 * context, and this thread iterates none while it waits: a TCP connection that never
 * starts its handshake must still be closed after handshake-timeout (1 s). Timers on the
 * global default context would never fire. */
static void
test_relay_on_own_context (void)
{
  RelayThread rt = { .context = g_main_context_new () };
  g_autoptr(GInetSocketAddress) address = NULL;
  struct timeval timeout = { .tv_sec = 10 };
  GThread *thread;
  char byte;
  ssize_t n;
  int fd;

  g_mutex_init (&rt.lock);
  g_cond_init (&rt.cond);
  thread = g_thread_new ("relay", relay_thread_main, &rt);
  g_mutex_lock (&rt.lock);
  while (rt.address == NULL)
    g_cond_wait (&rt.cond, &rt.lock);
  g_mutex_unlock (&rt.lock);

  address = _wzp_address_parse (rt.address, NULL);
  {
    struct sockaddr_storage native;

    g_assert_true (g_socket_address_to_native (G_SOCKET_ADDRESS (address), &native,
                                               sizeof native, NULL));
    fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_no_errno (connect (fd, (struct sockaddr *) &native, sizeof (struct sockaddr_in)));
  }
  g_assert_no_errno (setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout));

  /* Blocks this thread (no context iterated here) until the relay closes it. */
  n = recv (fd, &byte, 1, 0);
  g_assert_cmpint (n, ==, 0);
  close (fd);

  g_atomic_int_set (&rt.quit, 1);
  g_main_context_wakeup (rt.context);
  g_thread_join (thread);
  g_free (rt.address);
  g_main_context_unref (rt.context);
  g_cond_clear (&rt.cond);
  g_mutex_clear (&rt.lock);
}

static void
test_idle_connections (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GInetSocketAddress) address = _wzp_address_parse (f->address, NULL);
  guint16 port = g_inet_socket_address_get_port (address);
  int fds[100];
  gint64 start, elapsed_us;
  g_autoptr(WzpTestClient) client = NULL;
  g_autoptr(WzpMessage) ack = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    fds[i] = idle_connect_from ("127.0.0.2", port);
  wzp_test_spin (100);   /* the relay accepts them all, and holds what it allows */

  start = g_get_monotonic_time ();
  client = wzp_test_client_connect (f->address, NULL, NULL);
  ack = wzp_test_client_register (client, "Real");
  elapsed_us = g_get_monotonic_time () - start;
  g_test_message ("registration with 100 idle connections open took %.1f ms",
                  elapsed_us / 1000.0);
  g_assert_cmpint (elapsed_us, <, 100 * 1000);

  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    close (fds[i]);
}

/* Keepalive: a client that answers the relay's Pings stays registered; one that does not
 * is told Error{idle} and closed after idle-timeout. */
static void
test_keepalive (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(WzpTestClient) awake = NULL;
  g_autoptr(WzpTestClient) silent = NULL;
  g_autoptr(WzpMessage) ping = NULL;

  g_object_set (f->relay, "keepalive-interval", 1, "idle-timeout", 3, NULL);
  awake = connect_registered (f, "Alice");
  silent = connect_registered (f, "Bob");
  silent->answer_pings = FALSE;

  ping = wzp_test_client_expect (silent, WZP_MESSAGE_PING);
  g_assert_cmpint (_wzp_message_get_int (ping, "timestamp_ms"), >, 0);
  wzp_test_client_expect_error (silent, WZP_ERROR_CODE_IDLE);
  wzp_test_client_wait_closed (silent);

  /* The awake client answered its Pings all along (the helper does) and is served. */
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 1);
  check_bystander (f, awake);
}

static void
test_stop_hangs_up (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptTrusted", &setup_a, &setup_b);
  g_autoptr(WzpMessage) hangup_a = NULL;
  g_autoptr(WzpMessage) hangup_b = NULL;

  wzp_relay_stop (f->relay);
  hangup_a = wzp_test_client_expect (a, WZP_MESSAGE_HANGUP);
  hangup_b = wzp_test_client_expect (b, WZP_MESSAGE_HANGUP);
  g_assert_cmpstr (_wzp_message_get_string (hangup_a, "call_id"), ==, call_id);
  wzp_test_client_expect_error (a, WZP_ERROR_CODE_SHUTDOWN);
  wzp_test_client_wait_closed (a);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
  g_assert_cmpuint (wzp_relay_get_n_registrations (f->relay), ==, 0);
}

static void
test_no_growth (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  guint fds_before = 0;

  for (guint i = 0; i < 30; i++)
    {
      g_autoptr(WzpMessage) setup_a = NULL;
      g_autoptr(WzpMessage) setup_b = NULL;
      g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
      g_autofree char *ta = token_for (setup_a, 1);
      g_autofree char *tb = token_for (setup_b, 1);
      g_autoptr(GSocketConnection) pa = wzp_test_pipe_open (
        _wzp_message_get_string (setup_a, "pipe_addr"), call_id, ta, 1);
      g_autoptr(GSocketConnection) pb = wzp_test_pipe_open (
        _wzp_message_get_string (setup_b, "pipe_addr"), call_id, tb, 1);
      g_autoptr(WzpMessage) requested = wzp_test_client_expect (b, WZP_MESSAGE_PIPE_REQUESTED);
      g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);
      g_autoptr(WzpMessage) got = NULL;

      g_autoptr(WzpMessage) ready_a = pipe_read_frame (pa, NULL);
      g_autoptr(WzpMessage) ready_b = pipe_read_frame (pb, NULL);

      g_assert_nonnull (ready_a);
      g_assert_nonnull (ready_b);
      wzp_test_pipe_send_and_expect (pa, pb, "x");
      _wzp_message_set_string (hangup, "reason", "Normal");
      wzp_test_client_send (b, hangup);
      got = wzp_test_client_expect (a, WZP_MESSAGE_HANGUP);
      g_io_stream_close (G_IO_STREAM (pa), NULL, NULL);
      g_io_stream_close (G_IO_STREAM (pb), NULL, NULL);
      if (i == 4)
        fds_before = wzp_test_count_fds ();
    }
  wzp_test_spin (50);
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 0);
  g_assert_cmpuint (g_hash_table_size (f->relay->pipes), ==, 0);
  g_assert_cmpuint (wzp_test_count_fds (), <=, fds_before);
}

/* Replies that are large for their request: each RegisterPresenceAck lists the relay's
 * reflectors, here about 3 KB of them, for an 80-byte RegisterPresence. With no rate
 * limit to speak of, the fastest a client can make the relay write to it. */
static void
set_big_acks (Fixture *f)
{
  g_autoptr(GPtrArray) reflectors = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < 40; i++)
    g_ptr_array_add (reflectors, g_strdup_printf ("wzps://reflector-%02u.example.org:4433#%s",
                                                  i, wzp_relay_get_fingerprint (f->relay)));
  g_ptr_array_add (reflectors, NULL);
  g_object_set (f->relay, "reflectors", reflectors->pdata, "max-messages-per-second", 100000,
                NULL);
}

/* The relay's write queue of each connection, at most @max bytes (or one frame). */
static void
assert_queues_bounded (Fixture *f,
                       gsize    max)
{
  GHashTableIter iter;
  RelayConn *conn;

  g_hash_table_iter_init (&iter, f->relay->conns);
  while (g_hash_table_iter_next (&iter, (gpointer *) &conn, NULL))
    if (conn->io != NULL && _wzp_frame_io_get_queued (conn->io) > 1)
      g_assert_cmpuint (_wzp_frame_io_get_queued_bytes (conn->io), <=, max);
}

/* A client that asks and never reads the answers is closed once its answers pass
 * max-queued-bytes: it cannot grow the relay. */
static void
test_not_reading (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(WzpTestClient) bystander = NULL;
  g_autoptr(WzpTestClient) deaf = NULL;
  g_autoptr(WzpMessage) presence = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);
  gint64 start, deadline;
  guint sent = 0;

  set_big_acks (f);
  g_object_set (f->relay, "max-queued-bytes", 16384, NULL);
  bystander = connect_registered (f, "Bystander");
  deaf = connect_registered (f, "Deaf");
  wzp_test_client_stop_reading (deaf);
  _wzp_message_set_string (presence, "client_version", "test");

  start = g_get_monotonic_time ();
  deadline = start + 20 * G_USEC_PER_SEC;
  while (wzp_relay_get_n_registrations (f->relay) == 2)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      for (guint i = 0; i < 50; i++, sent++)
        wzp_test_client_send (deaf, presence);
      wzp_test_spin (10);
      assert_queues_bounded (f, 16384);
    }
  g_test_message ("closed after %u registrations (%.1f s)", sent,
                  (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);

  /* Closed and forgotten: only the bystander is left, and it is served. */
  g_assert_cmpuint (g_hash_table_size (f->relay->conns), ==, 1);
  check_bystander (f, bystander);
}

/* A client that keeps sending but never reads, with the relay's writes to it stuck (its
 * TCP window shut) but below max-queued-bytes: closed once a frame has waited
 * idle-timeout to be written, though it is never idle. */
static void
test_write_stall (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(WzpTestClient) bystander = NULL;
  g_autoptr(WzpTestClient) deaf = NULL;
  g_autoptr(WzpMessage) presence = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);
  g_autoptr(WzpMessage) reflect = _wzp_message_new (WZP_MESSAGE_REFLECT);
  RelayConn *conn;
  gint64 stalled, deadline;
  guint asked = 0;

  set_big_acks (f);
  g_object_set (f->relay, "keepalive-interval", 1, "idle-timeout", 2,
                "max-queued-bytes", 16 * 1024 * 1024, NULL);
  bystander = connect_registered (f, "Bystander");
  deaf = connect_registered (f, "Deaf");
  wzp_test_client_stop_reading (deaf);
  _wzp_message_set_string (presence, "client_version", "test");
  conn = _wzp_relay_lookup_conn (f->relay, wzp_test_client_fingerprint (deaf));

  /* Until the kernel's buffers are full and a frame waits in the relay. */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (_wzp_frame_io_get_queued (conn->io) < 2)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      for (guint i = 0; i < 50; i++)
        wzp_test_client_send (deaf, presence);
      wzp_test_spin (10);
    }
  stalled = g_get_monotonic_time ();

  /* Busy, never idle: a Reflect every 200 ms. So is the bystander, which is served
   * all along. */
  deadline = stalled + 10 * G_USEC_PER_SEC;
  while (_wzp_relay_lookup_conn (f->relay, wzp_test_client_fingerprint (deaf)) != NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      wzp_test_client_send (deaf, reflect);
      wzp_test_client_send (bystander, reflect);
      asked++;
      wzp_test_spin (200);
    }
  g_test_message ("closed %.1f s after its writes stalled",
                  (g_get_monotonic_time () - stalled) / (double) G_USEC_PER_SEC);
  /* Not before idle-timeout (the sweep may run up to a period late, never early). */
  g_assert_cmpint (g_get_monotonic_time () - stalled, >=, G_USEC_PER_SEC);
  g_assert_cmpuint (g_hash_table_size (f->relay->conns), ==, 1);
  for (guint i = 0; i < asked; i++)
    {
      g_autoptr(WzpMessage) response = wzp_test_client_expect (bystander,
                                                               WZP_MESSAGE_REFLECT_RESPONSE);
    }
}

/* The next message, which must be an Error with @code, small whatever the request held,
 * and without a call_id unless @call_id (a valid one, echoed). */
static void
expect_small_error (WzpTestClient *client,
                    const char    *code,
                    const char    *call_id)
{
  g_autoptr(WzpMessage) error = wzp_test_client_expect (client, WZP_MESSAGE_ERROR);
  g_autoptr(GBytes) encoded = _wzp_message_encode (error);

  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, code);
  g_assert_cmpuint (g_bytes_get_size (encoded), <, 1024);
  g_assert_cmpstr (_wzp_message_get_string (error, "call_id"), ==, call_id);
}

/* Replies never echo what a client sent without bound: a 30 KB call id or value comes
 * back as nothing or a bounded quote, never twice in an Error. */
static void
test_no_echo (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(WzpTestClient) anon = wzp_test_client_connect (f->address, NULL, NULL);
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autofree char *long_id = g_strnfill (30000, 'x');
  g_autofree char *long_text = g_strnfill (30000, '9');

  /* Unregistered. */
  {
    g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, long_id);

    _wzp_message_set_string (hangup, "reason", "Normal");
    wzp_test_client_send (anon, hangup);
    expect_small_error (anon, WZP_ERROR_CODE_NOT_REGISTERED, NULL);
  }
  {
    g_autoptr(WzpMessage) open = _wzp_message_new_for_call (WZP_MESSAGE_OPEN_PIPE, long_id);

    _wzp_message_set_string (open, "pipe_token", "0123456789abcdef0123456789abcdef");
    wzp_test_client_send (anon, open);
    expect_small_error (anon, WZP_ERROR_CODE_BAD_MESSAGE, NULL);
  }

  /* Registered: a call you are not in, by a long id and by a valid one (echoed). */
  {
    g_autoptr(WzpMessage) ringing = _wzp_message_new_for_call (WZP_MESSAGE_CALL_RINGING,
                                                               long_id);
    g_autoptr(WzpMessage) ringing_valid = _wzp_message_new_for_call (WZP_MESSAGE_CALL_RINGING,
                                                                     "no-such-call");

    wzp_test_client_send (a, ringing);
    expect_small_error (a, WZP_ERROR_CODE_UNKNOWN_CALL, NULL);
    wzp_test_client_send (a, ringing_valid);
    expect_small_error (a, WZP_ERROR_CODE_UNKNOWN_CALL, "no-such-call");
  }

  /* An offer with a call id the relay refuses. */
  {
    g_autoptr(WzpMessage) offer = wzp_test_make_offer (long_id,
                                                       wzp_test_client_fingerprint (b));

    wzp_test_client_send (a, offer);
    expect_small_error (a, WZP_ERROR_CODE_BAD_MESSAGE, NULL);
  }

  /* Values the decoder refuses are quoted, bounded; the call id is valid, so it stays. */
  {
    g_autoptr(WzpMessage) offer = wzp_test_make_offer ("call-1",
                                                       wzp_test_client_fingerprint (b));

    _wzp_message_set_string (offer, "caller_reflexive_addr", long_text);
    wzp_test_client_send (a, offer);
    expect_small_error (a, WZP_ERROR_CODE_BAD_MESSAGE, NULL);
  }
  {
    g_autofree char *text = g_strdup_printf ("{\"type\":\"%s\"}", long_id);

    send_frame_text (a, text, -1);
    expect_small_error (a, WZP_ERROR_CODE_BAD_MESSAGE, NULL);
  }

  /* FederationHello from a client: refused and closed, without its call_id. */
  {
    g_autoptr(WzpMessage) hello = _wzp_message_new (WZP_MESSAGE_FEDERATION_HELLO);

    _wzp_message_set_string (hello, "relay_fingerprint", wzp_test_client_fingerprint (anon));
    _wzp_message_set_string (hello, "relay_version", "test");
    _wzp_message_set_string (hello, "call_id", long_id);
    wzp_test_client_send (anon, hello);
    expect_small_error (anon, "not_a_peer", NULL);
    wzp_test_client_wait_closed (anon);
  }

  g_assert_true (wzp_test_client_quiet (b, 50));
  check_bystander (f, a);
}

/* Setting a string-array property to the value it has notifies nothing. */
static void
test_notify_on_change (void)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  WzpRelay *relay = wzp_relay_new (identity);
  const char * const fingerprints[] = { wzp_identity_get_fingerprint (identity), NULL };
  const char * const reflectors[] = { "wzps://192.0.2.1:4433", NULL };

  wzp_test_check_strv_notify (relay, "allowed-fingerprints", fingerprints);
  wzp_test_check_strv_notify (relay, "reflectors", reflectors);
  wzp_test_finalize_object (relay);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, fn) \
  g_test_add ("/wzp/relay/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

  ADD ("register", test_register);
  ADD ("reflect", test_reflect);
  ADD ("wrong-relay-pin", test_wrong_relay_pin);
  ADD ("call-flow", test_call_flow);
  ADD ("privacy-answer", test_privacy_answer);
  ADD ("reject", test_reject);
  ADD ("unknown-callee", test_unknown_callee);
  ADD ("call-id-not-confirmed", test_call_id_not_confirmed);
  ADD ("ring-timeout", test_ring_timeout);
  ADD ("peer-disconnect", test_peer_disconnect_before_answer);
  ADD ("grace-and-reattach", test_grace_and_reattach);
  ADD ("reregistration-replaces", test_reregistration_replaces);
  ADD ("busy", test_busy);
  ADD ("ringing-is-not-busy", test_ringing_is_not_busy);
  ADD ("ringing-per-caller", test_ringing_per_caller);
  ADD ("ringing-per-callee", test_ringing_per_callee);
  ADD ("ringing-per-ip", test_ringing_per_ip);
  ADD ("ringing-same-pair", test_ringing_same_pair);
  ADD ("ringing-counts-drop", test_ringing_counts_drop);
  ADD ("oversized-offer", test_oversized_offer);
  ADD ("oversized-setup", test_oversized_setup);
  ADD ("long-alias", test_long_alias);
  ADD ("candidate-update", test_candidate_update);
  ADD ("candidate-caps", test_candidate_caps);
  ADD ("pipe-forwarding", test_pipe_forwarding);
  ADD ("pipe-bad-tokens", test_pipe_bad_tokens);
  ADD ("pipe-wait-timeout", test_pipe_wait_timeout);
  ADD ("pipe-end-of-stream", test_pipe_end_of_stream);
  ADD ("pipe-bridge-end", test_pipe_bridge_end);
  ADD ("pipe-two-relays", test_pipe_two_relays);
  ADD ("pipe-stop-while-forwarding", test_pipe_stop_while_forwarding);
  ADD ("pipe-rate-limit", test_pipe_rate_limit);
  ADD ("pipe-forwarder-descriptors", test_pipe_forwarder_descriptors);
  ADD ("pipe-backpressure", test_pipe_backpressure);
  ADD ("bad-input", test_bad_input);
  ADD ("log-rate-limit", test_log_rate_limit);
  ADD ("log-client-text", test_log_client_text);
  ADD ("idle-connections", test_idle_connections);
  ADD ("log-refusals", test_log_refusals);
  g_test_add_func ("/wzp/relay/own-context", test_relay_on_own_context);
  g_test_add_func ("/wzp/relay/notify-on-change", test_notify_on_change);
  ADD ("keepalive", test_keepalive);
  ADD ("stop-hangs-up", test_stop_hangs_up);
  ADD ("no-growth", test_no_growth);
  ADD ("not-reading", test_not_reading);
  ADD ("write-stall", test_write_stall);
  ADD ("no-echo", test_no_echo);

  return g_test_run ();
}
