/* wzp-tls-dial.c: the one pinned-TLS dial (see wzp-tls-dial-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-error.h"
#include "wzp-head-stream-private.h"
#include "wzp-i18n-private.h"
#include "wzp-tls-dial-private.h"
#include "wzp-tls-private.h"
#include "wzp-tls-refusal-private.h"

typedef struct
{
  GSocketConnectable *connectable;
  WzpSharedPort      *from;           /* nullable */
  GTlsCertificate    *certificate;
  char               *pin;            /* nullable */
  guint               timeout_ms;
  /* Ours, passed to every step: the caller's cancellable and the timeout both cancel it,
   * and timed_out tells the two apart. */
  GCancellable       *cancellable;
  GCancellable       *caller_cancellable;
  gulong              caller_cancelled_id;
  GSource            *timeout_source;
  gboolean            timed_out;
  WzpTlsDialStep      step;
  GSocketConnection  *socket_conn;    /* until _wzp_tls_dial_finish() takes it */
  GIOStream          *head;           /* over socket_conn, under tls: what the server sent */
  GIOStream          *tls;
  /* From P only: the addresses the name resolves to, tried one after the other, and the
   * error of the attempt that got furthest (with its step), reported if none succeeds. */
  GSocketAddressEnumerator *enumerator;
  GError             *best_error;
  WzpTlsDialStep      best_step;
} Dial;

static void
dial_free (Dial *dial)
{
  if (dial->timeout_source != NULL)
    {
      g_source_destroy (dial->timeout_source);
      g_source_unref (dial->timeout_source);
    }
  if (dial->caller_cancellable != NULL)
    {
      g_cancellable_disconnect (dial->caller_cancellable, dial->caller_cancelled_id);
      g_object_unref (dial->caller_cancellable);
    }
  /* Set only when the dial failed after connecting, or its result was never taken. */
  if (dial->socket_conn != NULL)
    g_io_stream_close (G_IO_STREAM (dial->socket_conn), NULL, NULL);
  g_clear_object (&dial->socket_conn);
  g_clear_object (&dial->tls);
  g_clear_object (&dial->head);
  g_clear_object (&dial->enumerator);
  g_clear_error (&dial->best_error);
  g_clear_object (&dial->cancellable);
  g_clear_object (&dial->connectable);
  g_clear_object (&dial->from);
  g_clear_object (&dial->certificate);
  g_free (dial->pin);
  g_free (dial);
}

/* Fails @task; a cancellation the timeout caused becomes G_IO_ERROR_TIMED_OUT, with what
 * a person can check. Takes @error. */
static void
dial_fail (GTask  *task,
           GError *error)
{
  Dial *dial = g_task_get_task_data (task);

  if (dial->timed_out && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *name = g_socket_connectable_to_string (dial->connectable);
      g_autofree char *limit = g_strdup_printf ("%g s", dial->timeout_ms / 1000.0);

      g_clear_error (&error);
      if (dial->step == WZP_TLS_DIAL_STEP_HANDSHAKE)
        error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                             _("%s took the connection but did not finish a TLS handshake "
                               "within %s: check that it is a wzp relay and that it is not "
                               "overloaded"), name, limit);
      else
        error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                             _("No connection to %s within %s: check the address, and that "
                               "the host is up and lets connections to that port through"),
                             name, limit);
    }
  if (dial->socket_conn != NULL)
    g_io_stream_close (G_IO_STREAM (dial->socket_conn), NULL, NULL);
  g_task_return_error (task, error);
}

static void dial_next_address (GTask *task);

/* One attempt (an address, from P) failed at dial->step: the next address is tried, and if
 * there is none the error of the attempt that got furthest is reported (a pin mismatch at
 * one address says more than a refused connection at another; GSocketClient ranks its
 * errors the same way). Without P, GSocketClient has tried every address already. Takes
 * @task and @error. */
static void
dial_attempt_failed (GTask  *task,
                     GError *error)
{
  Dial *dial = g_task_get_task_data (task);

  if (dial->enumerator == NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      dial_fail (task, error);
      g_object_unref (task);
      return;
    }

  g_debug ("Dialling %s failed: %s", dial->tls != NULL ? "TLS" : "TCP", error->message);
  if (dial->best_error == NULL || dial->step > dial->best_step)
    {
      g_clear_error (&dial->best_error);
      dial->best_error = error;
      dial->best_step = dial->step;
    }
  else
    g_error_free (error);

  if (dial->socket_conn != NULL)
    g_io_stream_close (G_IO_STREAM (dial->socket_conn), NULL, NULL);
  g_clear_object (&dial->socket_conn);
  g_clear_object (&dial->tls);
  g_clear_object (&dial->head);
  dial_next_address (task);
}

static gboolean
dial_timeout_cb (gpointer user_data)
{
  Dial *dial = user_data;

  dial->timed_out = TRUE;
  g_cancellable_cancel (dial->cancellable);
  return G_SOURCE_REMOVE;
}

static void
caller_cancelled_cb (GCancellable *caller_cancellable,
                     GCancellable *cancellable)
{
  g_cancellable_cancel (cancellable);
}

/* A relay that turned the connection away before TLS said why in its first bytes
 * (wzp-tls-refusal-private.h): the handshake's error, whatever GnuTLS made of the alert,
 * becomes what the relay said. */
static void
explain_refusal (Dial    *dial,
                 GError **error)
{
  g_autofree char *name = NULL;
  const guint8 *head;
  gsize len;

  if (g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  head = _wzp_head_io_stream_get_head (WZP_HEAD_IO_STREAM (dial->head), &len);
  switch (_wzp_tls_refusal_recognise (head, len))
    {
    case WZP_TLS_REFUSAL_BUSY:
      name = g_socket_connectable_to_string (dial->connectable);
      g_debug ("%s refused the connection (busy): %s", name, (*error)->message);
      g_clear_error (error);
      g_set_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_BUSY,
                   _("The relay at %s is busy and turned the connection away"), name);
      break;
    case WZP_TLS_REFUSAL_TOO_MANY_FROM_NETWORK:
      name = g_socket_connectable_to_string (dial->connectable);
      g_debug ("%s refused the connection (too many from this network): %s", name,
               (*error)->message);
      g_clear_error (error);
      g_set_error (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_TOO_MANY_CONNECTIONS,
                   _("Too many connections from your network to the relay at %s"), name);
      break;
    case WZP_TLS_REFUSAL_NONE:
    default:
      break;
    }
}

static void
dial_handshake_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Dial *dial = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      explain_refusal (dial, &error);
      _wzp_tls_connection_explain_error (dial->tls, &error);
      dial_attempt_failed (g_steal_pointer (&task), error);
      return;
    }
  /* A resumed session would skip ::accept-certificate, and with it the pin. */
  if (_wzp_tls_connection_get_peer_fingerprint (dial->tls) == NULL)
    {
      g_autofree char *name = g_socket_connectable_to_string (dial->connectable);

      dial_attempt_failed (g_steal_pointer (&task),
                           g_error_new (G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                                        _("%s was not authenticated by its certificate"),
                                        name));
      return;
    }
  g_task_return_pointer (task, g_object_ref (dial->tls), g_object_unref);
}

/* Both ways of connecting end here: GSocketClient, or the shared port P. */
static void
dial_connected_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Dial *dial = g_task_get_task_data (task);
  GError *error = NULL;

  if (G_IS_SOCKET_CLIENT (source))
    dial->socket_conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result,
                                                        &error);
  else
    dial->socket_conn = _wzp_shared_port_connect_finish (WZP_SHARED_PORT (source), result,
                                                         &error);
  if (dial->socket_conn == NULL)
    {
      dial_attempt_failed (g_steal_pointer (&task), error);
      return;
    }
  dial->step = WZP_TLS_DIAL_STEP_HANDSHAKE;
  /* TLS over a stream that keeps the server's first record, for explain_refusal(). */
  _wzp_socket_connection_set_nodelay (G_IO_STREAM (dial->socket_conn));
  dial->head = _wzp_head_io_stream_new (G_IO_STREAM (dial->socket_conn), WZP_TLS_REFUSAL_LEN);
  dial->tls = _wzp_tls_client_new (dial->head, dial->certificate, dial->pin, &error);
  if (dial->tls == NULL)
    {
      /* An invalid pin: no other address makes it valid. */
      dial_fail (task, error);
      return;
    }
  g_tls_connection_handshake_async (G_TLS_CONNECTION (dial->tls), G_PRIORITY_DEFAULT,
                                    dial->cancellable, dial_handshake_cb,
                                    g_steal_pointer (&task));
}

static void
dial_resolved_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Dial *dial = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GSocketAddress) address =
    g_socket_address_enumerator_next_finish (G_SOCKET_ADDRESS_ENUMERATOR (source), result,
                                             &error);

  if (address == NULL)
    {
      /* Out of addresses: report the attempt that got furthest. A lookup that fails after
       * some addresses were tried (GNetworkAddress looks IPv4 and IPv6 up apart) says
       * less than they did. */
      if (dial->best_error != NULL &&
          (error == NULL || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)))
        {
          g_clear_error (&error);
          error = g_steal_pointer (&dial->best_error);
          dial->step = dial->best_step;
        }
      else if (error == NULL)
        {
          g_autofree char *name = g_socket_connectable_to_string (dial->connectable);

          error = g_error_new (G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
                               _("The host name of %s has no address"), name);
        }
      dial_fail (task, error);
      return;
    }
  dial->step = WZP_TLS_DIAL_STEP_CONNECT;
  _wzp_shared_port_connect_async (dial->from, address, dial->cancellable,
                                  dial_connected_cb, g_steal_pointer (&task));
}

/* From P: the next address of the name (GNetworkAddress gives them in RFC 8305's order,
 * IPv6 and IPv4 interleaved), each dialled and handshaken in turn with the same pin. */
static void
dial_next_address (GTask *task)
{
  Dial *dial = g_task_get_task_data (task);

  dial->step = WZP_TLS_DIAL_STEP_RESOLVE;
  g_socket_address_enumerator_next_async (dial->enumerator, dial->cancellable,
                                          dial_resolved_cb, task);
}

void
_wzp_tls_dial_async (GSocketConnectable  *connectable,
                     WzpSharedPort       *from,
                     GTlsCertificate     *certificate,
                     const char          *pin,
                     guint                timeout_ms,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Dial *dial;

  g_return_if_fail (G_IS_SOCKET_CONNECTABLE (connectable));
  g_return_if_fail (from == NULL || WZP_IS_SHARED_PORT (from));
  g_return_if_fail (G_IS_TLS_CERTIFICATE (certificate));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, _wzp_tls_dial_async);

  dial = g_new0 (Dial, 1);
  dial->connectable = g_object_ref (connectable);
  dial->from = from ? g_object_ref (from) : NULL;
  dial->certificate = g_object_ref (certificate);
  dial->pin = g_strdup (pin);
  dial->timeout_ms = timeout_ms;
  dial->cancellable = g_cancellable_new ();
  g_task_set_task_data (task, dial, (GDestroyNotify) dial_free);

  if (cancellable != NULL)
    {
      /* Runs at once if @cancellable is already cancelled: the first step then fails. */
      dial->caller_cancellable = g_object_ref (cancellable);
      dial->caller_cancelled_id =
        g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled_cb),
                               g_object_ref (dial->cancellable), g_object_unref);
    }
  if (timeout_ms > 0)
    {
      /* On the task's context, where the steps' results arrive (wzp-timeout-private.h). */
      dial->timeout_source = g_timeout_source_new (timeout_ms);
      g_source_set_callback (dial->timeout_source, dial_timeout_cb, dial, NULL);
      g_source_attach (dial->timeout_source, g_task_get_context (task));
    }

  if (from != NULL)
    {
      /* GSocketClient cannot dial from P (g_socket_bind() resets SO_REUSEPORT;
       * wzp-socket-private.h), so the addresses are GIO's enumerator's, tried here. */
      dial->enumerator = g_socket_connectable_enumerate (connectable);
      dial_next_address (g_steal_pointer (&task));
    }
  else
    {
      g_autoptr(GSocketClient) client = g_socket_client_new ();

      dial->step = WZP_TLS_DIAL_STEP_CONNECT;
      g_socket_client_set_enable_proxy (client, FALSE);
      g_socket_client_connect_async (client, connectable, dial->cancellable,
                                     dial_connected_cb, g_steal_pointer (&task));
    }
}

GIOStream *
_wzp_tls_dial_finish (GAsyncResult       *result,
                      GSocketConnection **socket_conn,
                      WzpTlsDialStep     *failed_step,
                      GError            **error)
{
  Dial *dial;
  GIOStream *tls;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == _wzp_tls_dial_async, NULL);

  dial = g_task_get_task_data (G_TASK (result));
  tls = g_task_propagate_pointer (G_TASK (result), error);
  if (tls == NULL)
    {
      if (failed_step != NULL)
        *failed_step = dial->step;
      return NULL;
    }
  /* Taken in any case: left in @dial, it would be closed when the task goes. */
  if (socket_conn != NULL)
    *socket_conn = g_steal_pointer (&dial->socket_conn);
  else
    g_clear_object (&dial->socket_conn);
  return tls;
}
