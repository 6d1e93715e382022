/* test-relay-limits.c: the relay's limits on calls: busy callees, unanswered offers
 * per caller, callee and address, frame sizes, aliases and candidate counts
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "relay-fixture.h"
#include "wzp-relay-private.h"

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

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

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
  ADD ("candidate-caps", test_candidate_caps);

  return g_test_run ();
}
