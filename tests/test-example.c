/* test-example.c: the C example of docs/api.md, run against an in-process relay
 *
 * The lines between "example: c" and "end of example" are quoted verbatim in
 * docs/api.md; tests/gir/check-api-doc.py fails when the two differ. Only public API is
 * used between the markers (<wzp-glib.h>); the test around it may use more.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "test-util.h"

/* example: c */
typedef struct
{
  WzpIdentity *identity;
  WzpClient   *client;
  WzpCall     *call;       /* the connected call */
  GError      *error;
  gboolean     done;
} Phone;

static void
identity_loaded_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Phone *phone = user_data;

  phone->identity = wzp_identity_load_or_create_finish (result, &phone->error);
  phone->done = TRUE;
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Phone *phone = user_data;

  wzp_client_connect_finish (WZP_CLIENT (source), result, &phone->error);
  phone->done = TRUE;
}

/* Registers with the relay at @uri (wzps://HOST:PORT#FINGERPRINT). */
static void
phone_connect (Phone      *phone,
               const char *uri)
{
  phone->client = wzp_client_new (phone->identity);
  g_object_set (phone->client, "audio-source", "none", "audio-sink", "none", NULL);
  wzp_client_set_relay_uri (phone->client, uri);
  phone->done = FALSE;
  wzp_client_connect_async (phone->client, NULL, connected_cb, phone);
}

/* The callee: ring, then answer without sharing any address (the call then runs over
 * the relay; WZP_ACCEPT_MODE_TRUSTED would let a direct path be found). */
static void
answered_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Phone *phone = user_data;

  if (wzp_call_answer_finish (WZP_CALL (source), result, &phone->error))
    phone->call = g_object_ref (WZP_CALL (source));
  phone->done = TRUE;
}

static void
incoming_call_cb (WzpClient *client,
                  WzpCall   *call,
                  gpointer   user_data)
{
  g_print ("# %s is calling\n", wzp_call_get_peer_fingerprint (call));
  wzp_call_ring (call);
  wzp_call_answer_async (call, WZP_ACCEPT_MODE_PRIVACY, NULL, answered_cb, user_data);
}

/* The caller: the call completes once a path is nominated. */
static void
call_placed_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Phone *phone = user_data;

  phone->call = wzp_client_place_call_finish (WZP_CLIENT (source), result, &phone->error);
  if (phone->call != NULL)
    g_print ("# Talking to %s via %s after %d ms\n",
             wzp_call_get_peer_fingerprint (phone->call),
             wzp_call_get_remote_address (phone->call),
             wzp_call_get_time_to_path (phone->call));
  phone->done = TRUE;
}

static void
call_ended_cb (WzpCall         *call,
               WzpHangupReason  reason,
               gpointer         user_data)
{
  Phone *phone = user_data;

  g_print ("# The call ended: %s\n", wzp_call_get_error_message (call));
  phone->done = TRUE;
}
/* end of example */

static gboolean
pointer_cleared (gpointer data)
{
  return *(gpointer *) data == NULL;
}

/* Disconnects and drops the client, which must then finalize: at once, or as soon as
 * its cancelled operations have called back (bounded; slow under load). */
static void
phone_clear (Phone *phone)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;
  WzpClient *client = g_steal_pointer (&phone->client);

  if (client != NULL)
    {
      wzp_client_unregister (client);
      g_object_add_weak_pointer (G_OBJECT (client), (gpointer *) &client);
      g_object_unref (client);
      while (!pointer_cleared (&client) && g_get_monotonic_time () < deadline)
        if (!g_main_context_iteration (NULL, FALSE))
          g_usleep (1000);
      g_assert_null (client);
    }
  g_clear_object (&phone->identity);
}

static void
load_identity (Phone      *phone,
               const char *dir,
               const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  phone->done = FALSE;
  wzp_identity_load_or_create_async (path, NULL, identity_loaded_cb, phone);
  wzp_test_wait_flag (&phone->done, 10000);
  g_assert_no_error (phone->error);
}

static void
test_example_call (void)
{
  g_autoptr(WzpIdentity) relay_identity = wzp_test_identity_new ();
  g_autoptr(WzpRelay) relay = wzp_relay_new (relay_identity);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("wzp-test-example-XXXXXX", &error);
  g_auto(GStrv) uris = NULL;
  Phone alice = { NULL, };
  Phone bob = { NULL, };

  g_assert_no_error (error);
  wzp_relay_listen (relay, "127.0.0.1:0", NULL, &error);
  g_assert_no_error (error);
  uris = wzp_relay_dup_uris (relay);

  load_identity (&alice, dir, "alice.pem");
  load_identity (&bob, dir, "bob.pem");

  phone_connect (&bob, uris[0]);
  wzp_test_wait_flag (&bob.done, 10000);
  g_assert_no_error (bob.error);
  phone_connect (&alice, uris[0]);
  wzp_test_wait_flag (&alice.done, 10000);
  g_assert_no_error (alice.error);

  g_signal_connect (bob.client, "incoming-call", G_CALLBACK (incoming_call_cb), &bob);
  alice.done = bob.done = FALSE;
  wzp_client_place_call_async (alice.client, wzp_identity_get_fingerprint (bob.identity), NULL,
                               call_placed_cb, &alice);
  wzp_test_wait_flag (&alice.done, 15000);
  wzp_test_wait_flag (&bob.done, 15000);
  g_assert_no_error (alice.error);
  g_assert_no_error (bob.error);
  g_assert_cmpint (wzp_call_get_path_kind (alice.call), ==, WZP_PATH_KIND_RELAY);
  g_assert_cmpint (wzp_call_get_path_kind (bob.call), ==, WZP_PATH_KIND_RELAY);
  g_assert_cmpstr (wzp_call_get_peer_fingerprint (bob.call), ==,
                   wzp_identity_get_fingerprint (alice.identity));

  g_signal_connect (bob.call, "ended", G_CALLBACK (call_ended_cb), &bob);
  alice.done = bob.done = FALSE;
  wzp_call_hangup (alice.call);
  wzp_test_wait_flag (&bob.done, 5000);
  g_assert_cmpint (wzp_call_get_end_reason (bob.call), ==, WZP_HANGUP_REASON_NORMAL);
  g_assert_cmpint (wzp_call_get_state (alice.call), ==, WZP_CALL_STATE_ENDED);

  g_clear_object (&alice.call);
  g_clear_object (&bob.call);
  phone_clear (&alice);
  phone_clear (&bob);
  wzp_relay_stop (relay);
  wzp_test_spin (20);

  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *path = g_build_filename (dir, i == 0 ? "alice.pem" : "bob.pem", NULL);

      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/wzp/example/call", test_example_call);

  return g_test_run ();
}
