/* test-relay-calls.c: the relay routing a call between two raw clients: offer, ringing,
 * answer, CallSetup, hang-up, timeouts, lost signalling and candidate updates
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "relay-fixture.h"

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

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  ADD ("call-flow", test_call_flow);
  ADD ("privacy-answer", test_privacy_answer);
  ADD ("reject", test_reject);
  ADD ("unknown-callee", test_unknown_callee);
  ADD ("call-id-not-confirmed", test_call_id_not_confirmed);
  ADD ("ring-timeout", test_ring_timeout);
  ADD ("peer-disconnect", test_peer_disconnect_before_answer);
  ADD ("grace-and-reattach", test_grace_and_reattach);
  ADD ("candidate-update", test_candidate_update);
  ADD ("stop-hangs-up", test_stop_hangs_up);

  return g_test_run ();
}
