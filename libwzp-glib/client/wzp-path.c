/* wzp-path.c: end-to-end authenticated paths (relay pipes; direct ones reuse the handshake)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-address-private.h"
#include "wzp-error.h"
#include "wzp-message-private.h"
#include "wzp-expect-stream-private.h"
#include "wzp-path-private.h"
#include "wzp-pipe-token-private.h"
#include "wzp-tls-private.h"

WzpPath *
_wzp_path_ref (WzpPath *path)
{
  g_ref_count_inc (&path->ref_count);
  return path;
}

void
_wzp_path_close (WzpPath *path)
{
  if (path->closed)
    return;
  path->closed = TRUE;
  /* Closing the TCP connection is enough: TLS close_notify would only delay it. A FIN
   * goes first: sockets on P close with SO_LINGER 0, and a NAT that saw only the RST
   * keeps the 4-tuple in CLOSE and drops the next call's simultaneous open on it. */
  if (path->base != NULL)
    {
      if (G_IS_SOCKET_CONNECTION (path->base))
        g_socket_shutdown (g_socket_connection_get_socket (G_SOCKET_CONNECTION (path->base)),
                           FALSE, TRUE, NULL);
      g_io_stream_close (path->base, NULL, NULL);
    }
}

void
_wzp_path_unref (WzpPath *path)
{
  if (!g_ref_count_dec (&path->ref_count))
    return;

  _wzp_path_close (path);
  g_clear_object (&path->io);
  g_clear_object (&path->tls);
  g_clear_object (&path->base);
  g_free (path->remote);
  g_free (path->label);
  g_free (path->peer);
  g_free (path);
}

/* The E2E handshake */

static void
secure_handshake_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  WzpPath *path = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      _wzp_tls_connection_explain_error (path->tls, &error);
      _wzp_path_close (path);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* Belt and braces: the pin must have been checked on this very handshake. */
  if (g_strcmp0 (_wzp_tls_connection_get_peer_fingerprint (path->tls),
                 path->peer) != 0)
    {
      _wzp_path_close (path);
      g_task_return_new_error (task, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_PIN_MISMATCH,
                               "The peer was not authenticated by its certificate");
      return;
    }

  path->io = _wzp_frame_io_new (path->tls);
  /* The end-to-end stream takes binary frames: until a media function is set, media and
   * unknown kinds are skipped, never a reason to drop the path (docs/protocol.md, "Media
   * frames"). */
  _wzp_frame_io_set_binary_frames (path->io, TRUE);
  g_task_return_pointer (task, _wzp_path_ref (path), (GDestroyNotify) _wzp_path_unref);
}

void
_wzp_path_secure_async (GIOStream           *base,
                        GIOStream           *transport,
                        WzpIdentity         *identity,
                        const char          *peer_fingerprint,
                        WzpCallRole          role,
                        WzpPathKind          kind,
                        const char          *remote,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  WzpPath *path;

  g_return_if_fail (peer_fingerprint != NULL);
  g_task_set_source_tag (task, _wzp_path_secure_async);

  path = g_new0 (WzpPath, 1);
  g_ref_count_init (&path->ref_count);
  path->base = g_object_ref (base);
  path->kind = kind;
  path->remote = g_strdup (remote);
  path->peer = g_strdup (peer_fingerprint);
  g_task_set_task_data (task, path, (GDestroyNotify) _wzp_path_unref);

  /* (The TLS constructors set TCP_NODELAY only on a socket connection they are given.)
   * Voice goes out at once, and little waits in the kernel: a frame the kernel holds
   * behind a stall can only arrive late (docs/voice.md, "Sending and receiving"). */
  _wzp_socket_connection_set_nodelay (base);
  _wzp_socket_connection_set_notsent_lowat (base, WZP_PATH_NOTSENT_LOWAT);
  if (transport == NULL)
    transport = base;

  /* The caller is always the TLS client (docs/decisions.md, "End-to-end TLS on every path"). */
  if (role == WZP_CALL_ROLE_CALLER)
    path->tls = _wzp_tls_client_new (transport, wzp_identity_get_certificate (identity),
                                     peer_fingerprint, &error);
  else
    path->tls = _wzp_tls_server_new (transport, wzp_identity_get_certificate (identity),
                                     peer_fingerprint, &error);
  if (path->tls == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_tls_connection_handshake_async (G_TLS_CONNECTION (path->tls), G_PRIORITY_DEFAULT,
                                    cancellable, secure_handshake_cb, g_steal_pointer (&task));
}

WzpPath *
_wzp_path_secure_finish (GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Relay pipes */

typedef struct
{
  char               *pipe_addr;
  char               *call_id;
  char               *token;
  gint64              seq;
  WzpIdentity        *identity;
  char               *peer_fingerprint;
  WzpCallRole         role;
  GSocketConnection  *conn;
  WzpFrameIO         *io;              /* writes OpenPipe */
  WzpExpectInputStream *ready;         /* reads PipeReady, for the handshake */
} PipeData;

#define PIPE_CLOSED "The relay closed the pipe before joining it (see its error on the " \
                    "signalling connection)"

static void
pipe_data_free (PipeData *data)
{
  if (data->conn != NULL)
    g_io_stream_close (G_IO_STREAM (data->conn), NULL, NULL);
  g_free (data->pipe_addr);
  g_free (data->call_id);
  g_free (data->token);
  g_clear_object (&data->identity);
  g_free (data->peer_fingerprint);
  g_clear_object (&data->conn);
  g_clear_object (&data->io);
  g_clear_object (&data->ready);
  g_free (data);
}

static void
pipe_secured_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PipeData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  WzpPath *path = _wzp_path_secure_finish (result, &error);

  if (path == NULL)
    {
      g_autoptr(GError) ready_error = NULL;

      /* A pipe the relay refused, or a wrong first frame, surfaces as a TLS read error:
       * say what it was. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          _wzp_expect_input_stream_failed (data->ready, &ready_error))
        {
          g_task_return_error (task, g_steal_pointer (&ready_error));
          return;
        }
      g_prefix_error (&error, "End-to-end handshake through the relay failed: ");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_clear_object (&data->conn);   /* the path owns the connection now */
  g_task_return_pointer (task, path, (GDestroyNotify) _wzp_path_unref);
}

static void
pipe_open_written_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PipeData *data = g_task_get_task_data (task);
  GCancellable *cancellable; /* read before the task is handed on */
  g_autoptr(GIOStream) transport = NULL;
  g_autoptr(GError) error = NULL;

  if (!_wzp_frame_io_write_finish (WZP_FRAME_IO (source), result, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* The E2E handshake starts now, right behind OpenPipe, without waiting for PipeReady:
   * the caller's ClientHello waits in the relay's socket until the relay joins the pipes
   * and then follows the callee's PipeReady, which saves a round trip to the relay. The
   * handshake's reads take this side's PipeReady first, exactly (docs/decisions.md, "Exact
   * reads before a hand-over"); the bytes after it are the peer's. */
  transport = _wzp_expect_frame_io_stream_new (G_IO_STREAM (data->conn), WZP_MESSAGE_PIPE_READY,
                                               PIPE_CLOSED, &data->ready);
  cancellable = g_task_get_cancellable (task);
  _wzp_path_secure_async (G_IO_STREAM (data->conn), transport, data->identity,
                          data->peer_fingerprint, data->role, WZP_PATH_KIND_RELAY,
                          data->pipe_addr, cancellable, pipe_secured_cb,
                          g_steal_pointer (&task));
}

static void
pipe_connected_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PipeData *data = g_task_get_task_data (task);
  GCancellable *cancellable; /* read before the task is handed on */
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) open = NULL;

  data->conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (data->conn == NULL)
    {
      g_prefix_error (&error, "Cannot reach the relay's pipe address %s: ", data->pipe_addr);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  _wzp_socket_connection_set_nodelay (G_IO_STREAM (data->conn));

  data->io = _wzp_frame_io_new (G_IO_STREAM (data->conn));
  open = _wzp_message_new_for_call (WZP_MESSAGE_OPEN_PIPE, data->call_id);
  _wzp_message_set_string (open, "pipe_token", data->token);
  _wzp_message_set_int (open, "seq", data->seq);
  cancellable = g_task_get_cancellable (task);
  _wzp_frame_io_write_async (data->io, open, cancellable, pipe_open_written_cb,
                             g_steal_pointer (&task));
}

void
_wzp_path_open_pipe_async (const char          *pipe_addr,
                           const char          *call_id,
                           const char          *pipe_secret,
                           gint64               seq,
                           WzpIdentity         *identity,
                           const char          *peer_fingerprint,
                           WzpCallRole          role,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  PipeData *data;

  g_task_set_source_tag (task, _wzp_path_open_pipe_async);

  address = _wzp_address_parse (pipe_addr, &error);
  if (address == NULL || pipe_secret == NULL)
    {
      g_task_return_new_error (task, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE,
                               "The relay gave no usable pipe address or token");
      return;
    }

  data = g_new0 (PipeData, 1);
  data->pipe_addr = g_strdup (pipe_addr);
  data->call_id = g_strdup (call_id);
  data->token = _wzp_pipe_token_derive (pipe_secret, seq);
  data->seq = seq;
  data->identity = g_object_ref (identity);
  data->peer_fingerprint = g_strdup (peer_fingerprint);
  data->role = role;
  g_task_set_task_data (task, data, (GDestroyNotify) pipe_data_free);

  client = g_socket_client_new ();
  g_socket_client_set_enable_proxy (client, FALSE);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), cancellable,
                                 pipe_connected_cb, g_steal_pointer (&task));
}

WzpPath *
_wzp_path_open_pipe_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
