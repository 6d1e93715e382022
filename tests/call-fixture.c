/* call-fixture.c: the relay fixture, clients and callee that the test-call-*.c programs
 * share, and what they record of a call (its candidate results and path changes)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "call-fixture.h"
#include "wzp-client-private.h"

void
start_relay (Fixture    *f,
             const char *address)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) uris = NULL;
  g_auto(GStrv) listen = NULL;
  gint64 deadline = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;

  f->relay = wzp_relay_new (f->relay_identity);
  /* Restarting on the same port can briefly find it taken while the old relay's
   * connections wind down in the kernel; a real daemon restart would retry too. */
  while (!wzp_relay_listen (f->relay, address, NULL, &error) &&
         g_error_matches (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_LISTEN_FAILED) &&
         g_get_monotonic_time () < deadline)
    {
      g_clear_error (&error);
      wzp_test_spin (50);
    }
  g_assert_no_error (error);
  uris = wzp_relay_dup_uris (f->relay);
  listen = wzp_relay_dup_listen_addresses (f->relay);
  g_free (f->uri);
  g_free (f->address);
  f->uri = g_strdup (uris[0]);
  f->address = g_strdup (listen[0]);
}

void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->relay_identity = wzp_test_identity_new ();
  start_relay (f, "127.0.0.1:0");
}

void
fixture_setup_fixed_port (Fixture       *f,
                          gconstpointer  data)
{
  const char *ip = data != NULL ? data : "127.0.0.1";
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) uris = NULL;
  g_auto(GStrv) listen = NULL;

  f->relay_identity = wzp_test_identity_new ();
  f->relay = wzp_relay_new (f->relay_identity);
  for (guint attempt = 0; attempt < 50; attempt++)
    {
      int port = g_random_int_range (20000, 30000);
      g_autofree char *address = strchr (ip, ':') != NULL
                                   ? g_strdup_printf ("[%s]:%d", ip, port)
                                   : g_strdup_printf ("%s:%d", ip, port);

      g_clear_error (&error);
      if (wzp_relay_listen (f->relay, address, NULL, &error))
        break;
    }
  if (error != NULL && strchr (ip, ':') != NULL)
    {
      g_test_message ("Cannot listen on %s: %s", ip, error->message);
      wzp_test_finalize_object (g_steal_pointer (&f->relay));
      return;
    }
  g_assert_no_error (error);
  uris = wzp_relay_dup_uris (f->relay);
  listen = wzp_relay_dup_listen_addresses (f->relay);
  f->uri = g_strdup (uris[0]);
  f->address = g_strdup (listen[0]);
}

void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->relay != NULL)
    {
      wzp_relay_stop (f->relay);
      wzp_test_finalize_object (f->relay);
    }
  g_clear_object (&f->relay_identity);
  g_free (f->uri);
  g_free (f->address);
}

WzpClient *
new_client (const char *uri,
            const char *alias)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();

  return new_client_for (identity, uri, alias);
}

WzpClient *
new_client_for (WzpIdentity *identity,
                const char  *uri,
                const char  *alias)
{
  WzpClient *client = wzp_client_new (identity);
  /* No audio unless a test asks for it (tests/test-voice.c does). */
  g_object_set (client, "audio-source", "none", "audio-sink", "none", NULL);

  _wzp_client_set_test_loopback (client, TRUE);
  wzp_client_set_relay_uri (client, uri);
  wzp_client_set_alias (client, alias);
  return client;
}

WzpClient *
connected_client (Fixture    *f,
                  const char *alias)
{
  WzpClient *client = new_client (f->uri, alias);
  WzpTestResult r = { 0 };

  wzp_client_connect_async (client, NULL, wzp_test_client_connected_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_no_error (r.error);
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_CONNECTED);
  return client;
}

void
disconnect_and_free (WzpClient *client)
{
  wzp_client_unregister (client);
  wzp_test_finalize_object (client);
}

static void
answered_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Callee *callee = user_data;

  wzp_call_answer_finish (WZP_CALL (source), result, &callee->answer_error);
  callee->answered = TRUE;
}

static void
count_set_up_cb (guint *count)
{
  (*count)++;
}

void
incoming_cb (WzpClient *client,
             WzpCall   *call,
             Callee    *callee)
{
  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_INCOMING);
  g_assert_cmpint (wzp_call_get_role (call), ==, WZP_CALL_ROLE_CALLEE);
  g_set_object (&callee->call, call);
  g_signal_connect_swapped (call, "set-up", G_CALLBACK (count_set_up_cb), &callee->n_set_up);
  if (callee->results != NULL)
    g_signal_connect (call, "candidate-result", G_CALLBACK (result_cb), callee->results);
  wzp_call_ring (call);
  if (callee->answer)
    wzp_call_answer_async (call, callee->mode, NULL, answered_cb, callee);
}

void
callee_clear (Callee *callee)
{
  g_clear_object (&callee->call);
  g_clear_error (&callee->answer_error);
}

WzpCall *
place_call (WzpClient  *caller,
            WzpClient  *callee,
            GError    **error)
{
  WzpTestResult r = { 0 };
  const char *target = wzp_identity_get_fingerprint (wzp_client_get_identity (callee));

  wzp_client_place_call_async (caller, target, NULL, wzp_test_placed_cb, &r);
  wzp_test_wait_flag (&r.done, 15000);
  if (r.error != NULL)
    g_propagate_error (error, r.error);
  return (WzpCall *) r.object;
}

void
notify_state_cb (WzpClient  *client,
                 GParamSpec *pspec,
                 GPtrArray  *states)
{
  g_ptr_array_add (states, GINT_TO_POINTER (wzp_client_get_state (client)));
}

void
wait_reregistered (WzpClient *client,
                   GPtrArray *states)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while ((states->len == 0 || wzp_client_get_state (client) != WZP_CLIENT_STATE_CONNECTED) &&
         g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpuint (states->len, >=, 2);
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (states, 0)), ==,
                   WZP_CLIENT_STATE_RECONNECTING);
  g_assert_cmpint (wzp_client_get_state (client), ==, WZP_CLIENT_STATE_CONNECTED);
}

void
replace_candidates (WzpMessage *setup,
                    gpointer    data)
{
  const Candidates *c = data;

  _wzp_message_set_strv (setup, "peer_local_addrs", c->locals);
  _wzp_message_set_string (setup, "peer_direct_addr", c->reflexive);
}

static const char *
nick (GType type,
      int   value)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (type);
  GEnumValue *enum_value = g_enum_get_value (klass, value);

  g_assert_nonnull (enum_value);
  return enum_value->value_nick;
}

void
result_cb (WzpCall            *call,
           const char         *address,
           WzpCandidateKind    kind,
           WzpCandidateResult  result,
           const char         *reason,
           int                 ms,
           GPtrArray          *results)
{
  g_ptr_array_add (results, g_strdup_printf ("%s %s %s: %s", nick (WZP_TYPE_CANDIDATE_KIND, kind),
                                             address, nick (WZP_TYPE_CANDIDATE_RESULT, result),
                                             reason));
}

gboolean
has_result (GPtrArray  *results,
            const char *text)
{
  for (guint i = 0; i < results->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (results, i), text))
      return TRUE;
  return FALSE;
}

void
follow_changed_cb (WzpCall *call,
                   Follow  *follow)
{
  follow->changes++;
}

void
follow_outgoing_cb (WzpClient *client,
                    WzpCall   *call,
                    Follow    *follow)
{
  g_signal_connect (call, "candidate-result", G_CALLBACK (result_cb), follow->results);
  g_signal_connect (call, "path-changed", G_CALLBACK (follow_changed_cb), follow);
}

static void
watch_path_changed_cb (WzpCall   *call,
                       CallWatch *watch)
{
  watch->path_changes++;
}

static void
watch_ended_cb (WzpCall         *call,
                WzpHangupReason  reason,
                CallWatch       *watch)
{
  watch->ended = TRUE;
}

void
watch_call (WzpCall   *call,
            CallWatch *watch)
{
  g_signal_connect (call, "path-changed", G_CALLBACK (watch_path_changed_cb), watch);
  g_signal_connect (call, "ended", G_CALLBACK (watch_ended_cb), watch);
}

void
wait_path_kind (WzpCall     *call,
                WzpPathKind  kind)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (wzp_call_get_path_kind (call) != kind && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, kind);
}
