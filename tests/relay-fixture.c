/* relay-fixture.c: the relay fixture and the raw-client and pipe helpers that the
 * test-relay-*.c programs share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "relay-fixture.h"
#include "wzp-pipe-token-private.h"

void
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

void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  wzp_relay_stop (f->relay);
  wzp_test_finalize_object (f->relay);
  g_free (f->address);
  g_free (f->pipe_address);
}

WzpTestClient *
connect_registered (Fixture    *f,
                    const char *alias)
{
  WzpTestClient *client = wzp_test_client_connect (f->address, NULL,
                                                   wzp_relay_get_fingerprint (f->relay));
  g_autoptr(WzpMessage) ack = wzp_test_client_register (client, alias);

  return client;
}

char *
new_call_id (void)
{
  return g_uuid_string_random ();
}

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

WzpMessage *
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

char *
token_for (WzpMessage *setup,
           gint64      seq)
{
  return _wzp_pipe_token_derive (_wzp_message_get_string (setup, "pipe_token"), seq);
}

void
check_bystander (Fixture       *f,
                 WzpTestClient *bystander)
{
  g_autoptr(WzpMessage) reflect = _wzp_message_new (WZP_MESSAGE_REFLECT);
  g_autoptr(WzpMessage) response = NULL;

  wzp_test_client_send (bystander, reflect);
  response = wzp_test_client_expect (bystander, WZP_MESSAGE_REFLECT_RESPONSE);
}
