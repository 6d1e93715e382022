/* wzp-client-reflectors.c: measuring the NAT through reflectors
 *
 * One probe per reflector: a short-lived TLS connection from the client's port P, a
 * Reflect, and the address the reflector saw goes to the network info, which classifies
 * the mapping. It is apart from wzp-client.c because it shares nothing with the relay
 * connection but the port and the identity: its own connections, deadline and errors
 * (a reflector that does not answer only leaves the NAT type less certain).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "wzp-client-private.h"
#include "wzp-frame-io-private.h"
#include "wzp-relay-uri-private.h"
#include "wzp-tls-dial-private.h"
#include "wzp-timeout-private.h"

/* NAT type: besides the own relay (its ack), each reflector is asked for the reflexive
 * address of P over a short-lived TLS connection from P. Two answers classify the
 * mapping (docs/decisions.md, "Two reflectors classify the NAT"). */
#define REFLECT_DEADLINE_S 3

typedef struct
{
  WzpClient         *client;
  char              *uri;
  GCancellable      *cancellable;
  guint              timeout_id;
  GSocketConnection *conn;
  GIOStream         *tls;
  WzpFrameIO        *io;
} Probe;

static void
probe_free (Probe *probe)
{
  _wzp_clear_source (_wzp_client_get_context (probe->client), &probe->timeout_id);
  if (probe->conn != NULL)
    g_io_stream_close (G_IO_STREAM (probe->conn), NULL, NULL);
  g_clear_object (&probe->io);
  g_clear_object (&probe->tls);
  g_clear_object (&probe->conn);
  g_clear_object (&probe->cancellable);
  g_object_unref (probe->client);
  g_free (probe->uri);
  g_free (probe);
}

static void
probe_done (Probe      *probe,
            const char *observed,
            GError     *error)
{
  if (observed != NULL)
    {
      WzpNetworkInfo *network = _wzp_client_get_network_info (probe->client);

      _wzp_network_info_set_observation (network, probe->uri, observed, FALSE);
      g_debug ("Reflector %s sees us at %s", probe->uri, observed);
    }
  else
    g_debug ("Reflector %s did not answer: %s", probe->uri, error ? error->message : "?");
  probe_free (probe);
}

static void
probe_read_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Probe *probe = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) message = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result,
                                                             &error);

  if (message != NULL && _wzp_message_get_message_type (message) == WZP_MESSAGE_REFLECT_RESPONSE)
    probe_done (probe, _wzp_message_get_string (message, "observed_addr"), NULL);
  else
    probe_done (probe, NULL, error);
}

static void
probe_dialled_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Probe *probe = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) reflect = NULL;

  probe->tls = _wzp_tls_dial_finish (result, &probe->conn, NULL, &error);
  if (probe->tls == NULL)
    {
      probe_done (probe, NULL, error);
      return;
    }
  probe->io = _wzp_frame_io_new (probe->tls);
  reflect = _wzp_message_new (WZP_MESSAGE_REFLECT);
  _wzp_frame_io_send (probe->io, reflect);
  _wzp_frame_io_read_async (probe->io, probe->cancellable, probe_read_cb, probe);
}

static gboolean
probe_timeout_cb (gpointer user_data)
{
  Probe *probe = user_data;

  probe->timeout_id = 0;
  g_cancellable_cancel (probe->cancellable);
  return G_SOURCE_REMOVE;
}

void
_wzp_client_probe_reflector (WzpClient  *self,
                             const char *uri)
{
  WzpSharedPort *port = _wzp_client_get_shared_port (self);
  g_autofree char *host = NULL;
  g_autofree char *pin = NULL;
  g_autoptr(GSocketConnectable) connectable = NULL;
  guint16 port_number;
  Probe *probe;

  if (!_wzp_relay_uri_parse (uri, &host, &port_number, &pin, NULL))
    {
      g_debug ("Ignoring reflector “%s”: not a relay URI", uri);
      return;
    }
  /* What is measured is the mapping of P: from anywhere else the answer would mislead. */
  if (port == NULL)
    {
      g_debug ("Not probing reflector %s: the client has no port", uri);
      return;
    }

  probe = g_new0 (Probe, 1);
  probe->client = g_object_ref (self);
  probe->uri = g_strdup (uri);
  probe->cancellable = g_cancellable_new ();
  probe->timeout_id = _wzp_timeout_add_seconds (_wzp_client_get_context (self),
                                                REFLECT_DEADLINE_S, probe_timeout_cb, probe);

  connectable = g_network_address_new (host, port_number);
  _wzp_tls_dial_async (connectable, port,
                       wzp_identity_get_certificate (wzp_client_get_identity (self)),
                       pin, 0, probe->cancellable, probe_dialled_cb, probe);
}
