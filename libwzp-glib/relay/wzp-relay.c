/* wzp-relay.c: the relay object, its listeners, registration, dispatch
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "wzp-enum-types.h"
#include "wzp-error.h"
#include "wzp-relay-federation-private.h"
#include "wzp-relay-log-private.h"
#include "wzp-relay-private.h"
#include "wzp-relay-proxy-private.h"
#include "wzp-strv-private.h"
#include "wzp-timeout-private.h"
#include "wzp-tls-private.h"

/**
 * WzpRelay:
 *
 * A relay server: clients register with it, it tells them the address it sees them at,
 * introduces callers to callees, cross-wires their candidates into each party's
 * `CallSetup`, and forwards call traffic on pipes when no direct path exists.
 *
 * The `wzp-relay` daemon is a thin program around this object; tests in C, Python and
 * JavaScript embed one in-process:
 *
 * ```python
 * relay = Wzp.Relay.new(identity)
 * relay.listen("127.0.0.1:0", None)
 * print(relay.dup_uris())
 * ```
 *
 * Every limit is a property; see docs/relay.md for what each does when it is hit.
 *
 * Since: 1.0
 */

G_DEFINE_QUARK (wzp-relay-error-quark, wzp_relay_error)

G_DEFINE_FINAL_TYPE (WzpRelay, wzp_relay, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_IDENTITY,
  PROP_FINGERPRINT,
  PROP_LISTEN_ADDRESSES,
  PROP_PIPE_ADDRESSES,
  PROP_N_REGISTRATIONS,
  PROP_N_CALLS,
  PROP_ALLOWED_FINGERPRINTS,
  PROP_REFLECTORS,
  PROP_FIRST_LIMIT,
};

/* The numeric limits, each a readable and writable guint property. */
typedef struct {
  const char *name;
  gsize       offset;
  guint       min;
  guint       max;
  guint       def;
} LimitSpec;

#define LIMIT(n, field, lo, hi, d) { n, G_STRUCT_OFFSET (WzpRelay, field), lo, hi, d }

static const LimitSpec limit_specs[] = {
  LIMIT ("max-frame-size", max_frame_size, 256, WZP_FRAME_MAX_SIZE, WZP_FRAME_MAX_SIZE),
  LIMIT ("max-messages-per-second", max_messages_per_second, 1, 100000, 50),
  LIMIT ("max-pending-handshakes", max_pending_handshakes, 1, 1000000, 4096),
  LIMIT ("max-handshakes-per-ip", max_handshakes_per_ip, 1, 1000000, 128),
  LIMIT ("max-tls-handshakes", max_tls_handshakes, 4, 100000, 1024),
  LIMIT ("client-hello-timeout", client_hello_timeout, 1, 60, 1),
  LIMIT ("handshake-timeout", handshake_timeout, 1, 3600, 5),
  LIMIT ("max-unregistered-per-ip", max_unregistered_per_ip, 1, G_MAXINT, 128),
  LIMIT ("max-registrations", max_registrations, 1, G_MAXINT, 100000),
  LIMIT ("max-registrations-per-ip", max_registrations_per_ip, 1, G_MAXINT, 2048),
  LIMIT ("max-calls-per-client", max_calls_per_client, 1, 10000, 4),
  LIMIT ("max-ringing-per-client", max_ringing_per_client, 1, 10000, 4),
  LIMIT ("max-ringing-per-ip", max_ringing_per_ip, 1, G_MAXINT, 1024),
  LIMIT ("max-ringing-per-callee", max_ringing_per_callee, 1, 10000, 8),
  LIMIT ("max-pipes-per-ip", max_pipes_per_ip, 1, 100000, 256),
  LIMIT ("pipe-bytes-per-second", pipe_bytes_per_second, 1024, G_MAXINT, 16384),
  LIMIT ("pipe-burst-bytes", pipe_burst_bytes, 1024, G_MAXINT, 65536),
  LIMIT ("pipe-wait-timeout", pipe_wait_timeout, 1, 3600, 10),
  LIMIT ("idle-timeout", idle_timeout, 2, 86400, 90),
  LIMIT ("keepalive-interval", keepalive_interval, 1, 86400, 30),
  LIMIT ("ring-timeout", ring_timeout, 1, 3600, 45),
  LIMIT ("grace-period", grace_period, 1, 3600, 30),
  LIMIT ("max-call-duration", max_call_duration, 0, G_MAXINT, 0),
  LIMIT ("min-free-fds", min_free_fds, 8, 100000, 64),
  LIMIT ("max-queued-bytes", max_queued_bytes, 16384, 16 * 1024 * 1024, 256 * 1024),
};

#define N_PROPS (PROP_FIRST_LIMIT + G_N_ELEMENTS (limit_specs))
static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_CALL_STARTED,
  SIGNAL_CALL_ENDED,
  SIGNAL_PEER_LINK_CHANGED,
  SIGNAL_PEER_PRESENCE_CHANGED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

static void relay_stop (WzpRelay *self,
                        gboolean  graceful);

/* Registration */

gboolean
_wzp_relay_fingerprint_allowed (WzpRelay   *self,
                     const char *fingerprint)
{
  if (self->allowed_fingerprints == NULL || self->allowed_fingerprints[0] == NULL)
    return TRUE;
  /* Federation peers are let in to present their FederationHello. */
  if (_wzp_relay_federation_is_peer (self, fingerprint))
    return TRUE;
  return g_strv_contains ((const char * const *) self->allowed_fingerprints, fingerprint);
}

/* A registration's binding must be the client's own, for this relay, and of about now
 * (docs/protocol.md, "Presence bindings"). None is fine: the client is then reachable
 * here only. A bad one is refused, so that the client learns of it. */
static gboolean
check_binding (RelayConn   *conn,
               WzpMessage  *message,
               WzpBinding **out)
{
  WzpRelay *self = conn->relay;
  g_autoptr(WzpBinding) binding = _wzp_message_dup_binding (message, "binding");
  g_autoptr(GError) error = NULL;
  gint64 now_ms = g_get_real_time () / 1000;

  *out = NULL;
  if (binding == NULL)
    return TRUE;
  if (g_strcmp0 (binding->fingerprint, conn->fingerprint) != 0 ||
      g_strcmp0 (binding->relay_fingerprint, wzp_relay_get_fingerprint (self)) != 0)
    {
      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_BAD_MESSAGE, NULL,
                                  "RegisterPresence: the binding must name your own "
                                  "fingerprint and this relay’s (%s)",
                                  wzp_relay_get_fingerprint (self));
      return FALSE;
    }
  /* Compared, not subtracted: the time is the client's, any int64 (an overflow would be
   * undefined). */
  if (binding->time_ms > now_ms + WZP_BINDING_MAX_AHEAD_MS ||
      binding->time_ms < now_ms - WZP_BINDING_MAX_AHEAD_MS)
    {
      gboolean ahead = binding->time_ms > now_ms;
      double minutes = (ahead ? (double) binding->time_ms - (double) now_ms
                              : (double) now_ms - (double) binding->time_ms) / 60000.0;

      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_CLOCK_SKEW, NULL,
                                  "Your computer’s clock is %.0f minutes %s the relay’s; "
                                  "set the date and time automatically and connect again",
                                  minutes, ahead ? "ahead of" : "behind");
      return FALSE;
    }
  if (!_wzp_binding_verify (binding, &error))
    {
      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_BAD_MESSAGE, NULL,
                                  "RegisterPresence: %s", error->message);
      return FALSE;
    }
  *out = g_steal_pointer (&binding);
  return TRUE;
}

static void
handle_register (RelayConn  *conn,
                 WzpMessage *message)
{
  WzpRelay *self = conn->relay;
  g_autoptr(WzpMessage) ack = NULL;
  g_autoptr(GError) alias_error = NULL;
  g_autoptr(WzpBinding) binding = NULL;
  RelayConn *old;
  const char *alias = _wzp_message_get_string (message, "alias");

  /* Refused, not cut short: the client shows its user the reason (docs/protocol.md,
   * "Aliases"). */
  if (!_wzp_alias_check (alias, &alias_error))
    {
      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_BAD_MESSAGE, NULL, "%s",
                                  alias_error->message);
      return;
    }
  if (!check_binding (conn, message, &binding))
    return;
  old = g_hash_table_lookup (self->registrations, conn->fingerprint);

  if (!conn->registered)
    {
      if (old == NULL && g_hash_table_size (self->registrations) >= self->max_registrations)
        {
          _wzp_relay_counters_refused (self, "max-registrations");
          _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_LIMIT_REACHED, NULL,
                                      "The relay is full (%u registrations); try again "
                                      "later or use another relay", self->max_registrations);
          return;
        }
      if (conn->ip->registrations >= self->max_registrations_per_ip)
        {
          _wzp_relay_counters_refused (self, "max-registrations-per-ip");
          _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_LIMIT_REACHED, NULL,
                                      "Too many registrations from your address (%u)",
                                      self->max_registrations_per_ip);
          return;
        }
    }

  g_free (conn->alias);
  conn->alias = g_strdup (alias);
  _wzp_binding_free (conn->binding);
  conn->binding = g_steal_pointer (&binding);
  conn->registered_ms = g_get_real_time () / 1000;

  if (old != conn)
    {
      conn->registered = TRUE;
      conn->ip->registrations++;
      _wzp_relay_accept_conn_registered (conn);
      /* replace, not insert: the key must be this connection's string, not the old one's */
      g_hash_table_replace (self->registrations, conn->fingerprint, conn);

      if (old != NULL)
        {
          g_autoptr(WzpMessage) error = NULL;

          /* The newer registration wins and the older is told why: a client does not fight
           * another process with its identity (docs/decisions.md, "Registration replacement"). */
          _wzp_relay_conn_log (old, G_LOG_LEVEL_INFO, "registration replaced by a newer connection");
          error = _wzp_message_new_error (WZP_ERROR_CODE_REPLACED,
                                          "This identity registered again from another "
                                          "connection; this one is closed. Check that "
                                          "only one program uses this identity.", NULL);
          old->registered = FALSE;
          old->ip->registrations--;
          _wzp_relay_conn_send_and_close (old, error);
        }

      _wzp_relay_conn_log (conn, G_LOG_LEVEL_INFO, "registered");
      _wzp_relay_notify_counts (self);
    }
  /* Every registration brings a fresh binding: the peers get the newest. */
  _wzp_relay_presence_local_changed (self, conn->fingerprint, conn->binding, TRUE);

  ack = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE_ACK);
  _wzp_message_set_bool (ack, "success", TRUE);
  _wzp_message_set_string (ack, "fingerprint", conn->fingerprint);
  _wzp_message_set_string (ack, "observed_addr", conn->remote_addr);
  _wzp_message_set_string (ack, "relay_fingerprint", wzp_relay_get_fingerprint (self));
  _wzp_message_set_string (ack, "relay_version", PACKAGE_VERSION);
  {
    /* The configured reflectors and the federation peers (docs/protocol.md, "Reflectors"). */
    g_auto(GStrv) reflectors = _wzp_relay_federation_dup_reflectors (self);
    _wzp_message_set_strv (ack, "reflectors", (const char * const *) reflectors);
  }
  _wzp_relay_conn_send (conn, ack);

  /* Calls waiting in their grace period continue on this connection. */
  _wzp_relay_calls_party_back (self, conn->fingerprint);
}

/* Dispatch */

/* A peer relay opens a link (FederationHello) or a bridge (OpenPipe) on the ordinary
 * listener; anyone else sending FederationHello is refused and closed. */
static void
handle_federation (RelayConn  *conn,
                   WzpMessage *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) reply = NULL;
  const char *code = WZP_ERROR_CODE_BAD_MESSAGE;
  RelayProxy *proxy = _wzp_relay_proxy_new (conn->relay, &conn->handover, &error);
  gboolean adopted = FALSE;

  /* The federation code reads and writes GIO streams: it gets the plain end of a proxy
   * that carries this session, for as long as it keeps it. */
  if (proxy != NULL)
    {
      conn->tls = g_object_ref (G_IO_STREAM (conn->handover));
      conn->io = _wzp_frame_io_new (conn->tls);
      adopted = _wzp_relay_federation_adopt (conn->relay, conn, message, &code, &error);
      g_clear_object (&conn->io);
      g_clear_object (&conn->tls);
      g_clear_object (&conn->handover);
    }
  if (adopted)
    {
      _wzp_relay_poller_remove (conn->relay->poller, conn->watch);
      conn->watch = NULL;
      _wzp_relay_proxy_start (proxy, g_steal_pointer (&conn->session),
                              g_steal_pointer (&conn->socket_conn), conn->remote_addr);
      _wzp_relay_conn_detach (conn);
      return;
    }
  if (proxy != NULL)
    _wzp_relay_proxy_free (proxy);
  _wzp_relay_conn_log (conn, G_LOG_LEVEL_INFO, error->message);
  reply = _wzp_message_new_error (code, error->message,
                                  _wzp_message_get_string (message, "call_id"));
  _wzp_relay_conn_send_and_close (conn, reply);
}

void
_wzp_relay_dispatch (RelayConn  *conn,
                WzpMessage *message)
{
  WzpMessageType type = _wzp_message_get_message_type (message);

  if (type == WZP_MESSAGE_FEDERATION_HELLO ||
      (type == WZP_MESSAGE_OPEN_PIPE && !conn->registered &&
       _wzp_relay_federation_is_peer (conn->relay, conn->fingerprint)))
    {
      handle_federation (conn, message);
      return;
    }

  switch (type)
    {
    case WZP_MESSAGE_REGISTER_PRESENCE:
      handle_register (conn, message);
      break;

    case WZP_MESSAGE_REFLECT:
      {
        g_autoptr(WzpMessage) response = _wzp_message_new (WZP_MESSAGE_REFLECT_RESPONSE);

        _wzp_message_set_string (response, "observed_addr", conn->remote_addr);
        _wzp_relay_conn_send (conn, response);
      }
      break;

    case WZP_MESSAGE_PING:
      {
        g_autoptr(WzpMessage) pong = _wzp_message_new (WZP_MESSAGE_PONG);

        _wzp_message_set_int (pong, "timestamp_ms",
                              _wzp_message_get_int (message, "timestamp_ms"));
        _wzp_relay_conn_send (conn, pong);
      }
      break;

    case WZP_MESSAGE_PONG:
      break;

    case WZP_MESSAGE_ERROR:
      _wzp_relay_log_client_error (conn, _wzp_message_get_string (message, "code"),
                                   _wzp_message_get_string (message, "message"));
      break;

    case WZP_MESSAGE_DIRECT_CALL_OFFER:
    case WZP_MESSAGE_CALL_RINGING:
    case WZP_MESSAGE_DIRECT_CALL_ANSWER:
    case WZP_MESSAGE_CANDIDATE_UPDATE:
    case WZP_MESSAGE_HANGUP:
      if (!conn->registered)
        _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_NOT_REGISTERED,
                                    _wzp_message_get_string (message, "call_id"),
                                    "Register (RegisterPresence) before sending %s",
                                    _wzp_message_type_to_string (type));
      else
        _wzp_relay_calls_handle (conn->relay, conn, message);
      break;

    case WZP_MESSAGE_OPEN_PIPE:
      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_BAD_MESSAGE,
                                  _wzp_message_get_string (message, "call_id"),
                                  "OpenPipe goes to the relay's pipe address (CallSetup's "
                                  "pipe_addr), not to the signalling connection");
      break;

    case WZP_MESSAGE_REGISTER_PRESENCE_ACK:
    case WZP_MESSAGE_REFLECT_RESPONSE:
    case WZP_MESSAGE_CALL_SETUP:
    case WZP_MESSAGE_PIPE_READY:
    case WZP_MESSAGE_PIPE_REQUESTED:
    case WZP_MESSAGE_PEER_SIGNALLING_LOST:
    case WZP_MESSAGE_NOMINATE:
    case WZP_MESSAGE_NOMINATE_ACK:
    case WZP_MESSAGE_FEDERATION_HELLO:
    case WZP_MESSAGE_FEDERATED_SIGNAL_FORWARD:
    case WZP_MESSAGE_PRESENCE_UPDATE:
    case WZP_N_MESSAGE_TYPES:
    default:
      _wzp_relay_conn_send_error (conn, WZP_ERROR_CODE_BAD_MESSAGE, NULL,
                                  "A client does not send %s to a relay",
                                  _wzp_message_type_to_string (type));
      break;
    }
}

static gboolean
incoming_cb (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  return _wzp_relay_accept_incoming (user_data, connection);
}

static gboolean
pipe_incoming_cb (GSocketService    *service,
                  GSocketConnection *connection,
                  GObject           *source_object,
                  gpointer           user_data)
{
  WzpRelay *self = user_data;

  if (!_wzp_relay_accept_check_fds (self, connection))
    return TRUE;
  _wzp_relay_pipes_incoming (self, connection);
  return TRUE;
}

/* Signals, counts and listings */

/* After a registration or a call came or went: notifies the counts that changed. */
void
_wzp_relay_notify_counts (WzpRelay *self)
{
  guint n_registrations = g_hash_table_size (self->registrations);
  guint n_calls = g_hash_table_size (self->calls);

  if (self->notified_registrations != n_registrations)
    {
      self->notified_registrations = n_registrations;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_REGISTRATIONS]);
    }
  if (self->notified_calls != n_calls)
    {
      self->notified_calls = n_calls;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_CALLS]);
    }
}

void
_wzp_relay_emit_call_started (WzpRelay  *self,
                              RelayCall *call)
{
  g_signal_emit (self, signals[SIGNAL_CALL_STARTED], 0, call->call_id,
                 call->party[WZP_CALL_ROLE_CALLER].fingerprint,
                 call->party[WZP_CALL_ROLE_CALLEE].fingerprint);
}

void
_wzp_relay_emit_call_ended (WzpRelay   *self,
                            RelayCall  *call,
                            const char *reason)
{
  g_signal_emit (self, signals[SIGNAL_CALL_ENDED], 0, call->call_id, reason);
}

void
_wzp_relay_emit_peer_link_changed (WzpRelay         *self,
                                   const char       *fingerprint,
                                   WzpPeerLinkState  state)
{
  g_signal_emit (self, signals[SIGNAL_PEER_LINK_CHANGED], 0, fingerprint, state);
}

void
_wzp_relay_emit_peer_presence_changed (WzpRelay   *self,
                                       const char *fingerprint,
                                       guint       n_announced)
{
  g_signal_emit (self, signals[SIGNAL_PEER_PRESENCE_CHANGED], 0, fingerprint, n_announced);
}

/* GObject */

static guint *
limit_field (WzpRelay *self,
             guint     index)
{
  return G_STRUCT_MEMBER_P (self, limit_specs[index].offset);
}

static void
wzp_relay_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  WzpRelay *self = WZP_RELAY (object);

  if (prop_id >= PROP_FIRST_LIMIT && prop_id < N_PROPS)
    {
      g_value_set_uint (value, *limit_field (self, prop_id - PROP_FIRST_LIMIT));
      return;
    }

  switch (prop_id)
    {
    case PROP_IDENTITY:
      g_value_set_object (value, self->identity);
      break;
    case PROP_FINGERPRINT:
      g_value_set_string (value, wzp_relay_get_fingerprint (self));
      break;
    case PROP_LISTEN_ADDRESSES:
      g_value_take_boxed (value, wzp_relay_dup_listen_addresses (self));
      break;
    case PROP_PIPE_ADDRESSES:
      g_value_take_boxed (value, wzp_relay_dup_pipe_addresses (self));
      break;
    case PROP_N_REGISTRATIONS:
      g_value_set_uint (value, wzp_relay_get_n_registrations (self));
      break;
    case PROP_N_CALLS:
      g_value_set_uint (value, wzp_relay_get_n_calls (self));
      break;
    case PROP_ALLOWED_FINGERPRINTS:
      g_value_set_boxed (value, self->allowed_fingerprints);
      break;
    case PROP_REFLECTORS:
      g_value_set_boxed (value, self->reflectors);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
wzp_relay_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  WzpRelay *self = WZP_RELAY (object);

  if (prop_id >= PROP_FIRST_LIMIT && prop_id < N_PROPS)
    {
      guint *field = limit_field (self, prop_id - PROP_FIRST_LIMIT);
      guint v = g_value_get_uint (value);

      if (*field != v)
        {
          *field = v;
          g_object_notify_by_pspec (object, pspec);
        }
      return;
    }

  switch (prop_id)
    {
    case PROP_IDENTITY:
      g_set_object (&self->identity, g_value_get_object (value));
      break;
    case PROP_ALLOWED_FINGERPRINTS:
      if (_wzp_strv_replace (&self->allowed_fingerprints, g_value_get_boxed (value)))
        g_object_notify_by_pspec (object, pspec);
      break;
    case PROP_REFLECTORS:
      if (_wzp_strv_replace (&self->reflectors, g_value_get_boxed (value)))
        g_object_notify_by_pspec (object, pspec);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
wzp_relay_constructed (GObject *object)
{
  WzpRelay *self = WZP_RELAY (object);

  G_OBJECT_CLASS (wzp_relay_parent_class)->constructed (object);

  if (self->identity == NULL)
    g_critical ("WzpRelay needs an identity");
}

static void
wzp_relay_dispose (GObject *object)
{
  WzpRelay *self = WZP_RELAY (object);

  relay_stop (self, FALSE);
  g_clear_object (&self->identity);

  G_OBJECT_CLASS (wzp_relay_parent_class)->dispose (object);
}

static void
wzp_relay_finalize (GObject *object)
{
  WzpRelay *self = WZP_RELAY (object);

  g_ptr_array_unref (self->services);
  g_ptr_array_unref (self->pipe_services);
  g_ptr_array_unref (self->listen_addresses);
  g_ptr_array_unref (self->pipe_addresses);
  g_hash_table_unref (self->conns);
  g_hash_table_unref (self->registrations);
  g_hash_table_unref (self->calls);
  g_hash_table_unref (self->pipes);
  g_hash_table_unref (self->ip_counters);
  _wzp_relay_ringing_free (self);
  g_strfreev (self->allowed_fingerprints);
  g_strfreev (self->reflectors);
  _wzp_relay_federation_free (self);
  _wzp_relay_accept_free (self);
  _wzp_relay_log_clear (self);
  _wzp_relay_counters_free (self);
  g_hash_table_unref (self->proxies);
  _wzp_relay_wheel_free (self->wheel);
  _wzp_relay_poller_free (self->poller);
  if (self->tls_credentials != NULL)
    gnutls_certificate_free_credentials (self->tls_credentials);
  /* Last: freeing calls and peers removes their timers from it. */
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (wzp_relay_parent_class)->finalize (object);
}

static void
ip_counters_free (IpCounters *counters)
{
  g_free (counters->key);
  g_free (counters);
}

static void
wzp_relay_class_init (WzpRelayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = wzp_relay_get_property;
  object_class->set_property = wzp_relay_set_property;
  object_class->constructed = wzp_relay_constructed;
  object_class->dispose = wzp_relay_dispose;
  object_class->finalize = wzp_relay_finalize;

  /**
   * WzpRelay:identity:
   *
   * The relay's own identity: clients pin its fingerprint.
   *
   * Since: 1.0
   */
  properties[PROP_IDENTITY] =
    g_param_spec_object ("identity", NULL, NULL, WZP_TYPE_IDENTITY,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpRelay:fingerprint:
   *
   * The fingerprint of the relay's identity.
   *
   * Since: 1.0
   */
  properties[PROP_FINGERPRINT] =
    g_param_spec_string ("fingerprint", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpRelay:listen-addresses:
   *
   * The signalling addresses the relay listens on, with the ports actually bound.
   *
   * Since: 1.0
   */
  properties[PROP_LISTEN_ADDRESSES] =
    g_param_spec_boxed ("listen-addresses", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpRelay:pipe-addresses:
   *
   * The addresses the relay accepts pipes on, with the ports actually bound.
   *
   * Since: 1.0
   */
  properties[PROP_PIPE_ADDRESSES] =
    g_param_spec_boxed ("pipe-addresses", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpRelay:n-registrations:
   *
   * The number of registered clients.
   *
   * Since: 1.0
   */
  properties[PROP_N_REGISTRATIONS] =
    g_param_spec_uint ("n-registrations", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpRelay:n-calls:
   *
   * The number of calls the relay knows: offered, ringing or set up.
   *
   * Since: 1.0
   */
  properties[PROP_N_CALLS] =
    g_param_spec_uint ("n-calls", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpRelay:allowed-fingerprints:
   *
   * When set and not empty, only these identities may use the relay.
   *
   * Since: 1.0
   */
  properties[PROP_ALLOWED_FINGERPRINTS] =
    g_param_spec_boxed ("allowed-fingerprints", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpRelay:reflectors:
   *
   * Relay URIs that clients may ask for their reflexive address as a second opinion
   * (they learn them from `RegisterPresenceAck`).
   *
   * Since: 1.0
   */
  properties[PROP_REFLECTORS] =
    g_param_spec_boxed ("reflectors", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /* The limits; docs/relay.md describes each (names and defaults are the table above). */
  for (guint i = 0; i < G_N_ELEMENTS (limit_specs); i++)
    properties[PROP_FIRST_LIMIT + i] =
      g_param_spec_uint (limit_specs[i].name, NULL, NULL,
                         limit_specs[i].min, limit_specs[i].max, limit_specs[i].def,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * WzpRelay::call-started:
   * @self: the relay
   * @call_id: the call's id
   * @caller: the caller's fingerprint
   * @callee: the callee's fingerprint
   *
   * Emitted when a call is offered through the relay.
   *
   * Since: 1.0
   */
  signals[SIGNAL_CALL_STARTED] =
    g_signal_new ("call-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);

  /**
   * WzpRelay::call-ended:
   * @self: the relay
   * @call_id: the call's id
   * @reason: why it ended, as on the wire: `Normal`, `Busy`, `Declined`, `Timeout`,
   *   `Unreachable` or `Error`
   *
   * Emitted when the relay forgets a call.
   *
   * Since: 1.0
   */
  signals[SIGNAL_CALL_ENDED] =
    g_signal_new ("call-ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);

  /**
   * WzpRelay::peer-link-changed:
   * @self: the relay
   * @fingerprint: the federation peer's fingerprint
   * @state: the link's new state
   *
   * Emitted when the link to a federation peer (see [method@Wzp.Relay.add_peer]) goes
   * down, starts connecting, or comes up.
   *
   * Since: 1.0
   */
  signals[SIGNAL_PEER_LINK_CHANGED] =
    g_signal_new ("peer-link-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, WZP_TYPE_PEER_LINK_STATE);

  /**
   * WzpRelay::peer-presence-changed:
   * @self: the relay
   * @fingerprint: the federation peer's fingerprint
   * @n_announced: how many identities the peer now says it holds
   *
   * Emitted when the number of identities a federation peer announces changes (its
   * presence updates are paced to one a second per link, and the number drops to 0 when
   * the link goes down): the last member of what [method@Wzp.Relay.list_peers] returns.
   *
   * Since: 1.0
   */
  signals[SIGNAL_PEER_PRESENCE_CHANGED] =
    g_signal_new ("peer-presence-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_UINT);
}

static void
wzp_relay_init (WzpRelay *self)
{
  self->services = g_ptr_array_new_with_free_func (g_object_unref);
  self->pipe_services = g_ptr_array_new_with_free_func (g_object_unref);
  self->listen_addresses = g_ptr_array_new_with_free_func (g_free);
  self->pipe_addresses = g_ptr_array_new_with_free_func (g_free);
  self->conns = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) _wzp_relay_conn_unref, NULL);
  self->registrations = g_hash_table_new (g_str_hash, g_str_equal);
  self->calls = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify) _wzp_relay_call_free);
  self->pipes = g_hash_table_new (NULL, NULL);
  /* GIO delivers the relay's sockets here; its own sources (the pipe forwarder's reports)
   * go to the same context. */
  self->context = g_main_context_ref_thread_default ();
  self->ip_counters = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                             (GDestroyNotify) ip_counters_free);
  _wzp_relay_ringing_init (self);
  _wzp_relay_federation_init (self);
  _wzp_relay_accept_init (self);
  _wzp_relay_counters_init (self);
  self->wheel = _wzp_relay_wheel_new (self->context, _wzp_relay_conn_deadline, self);
  self->proxies = g_hash_table_new (NULL, NULL);
}

/**
 * wzp_relay_new:
 * @identity: the relay's identity
 *
 * Creates a relay. It does nothing until [method@Wzp.Relay.listen] is called.
 *
 * Returns: (transfer full): a new relay
 *
 * Since: 1.0
 */
WzpRelay *
wzp_relay_new (WzpIdentity *identity)
{
  g_return_val_if_fail (WZP_IS_IDENTITY (identity), NULL);

  return g_object_new (WZP_TYPE_RELAY, "identity", identity, NULL);
}

static GInetSocketAddress *
parse_listen_address (const char  *text,
                      GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  GInetSocketAddress *address;
  g_autofree char *with_port = NULL;

  /* Port 0 means "pick a free port", which the wire format (ports 1-65535) refuses. */
  if (text != NULL && g_str_has_suffix (text, ":0"))
    {
      with_port = g_strdup (text);
      with_port[strlen (with_port) - 1] = '1';
      address = _wzp_address_parse (with_port, &local_error);
      if (address != NULL)
        {
          GInetSocketAddress *zero =
            G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (
              g_inet_socket_address_get_address (address), 0));
          g_object_unref (address);
          return zero;
        }
    }
  else
    address = _wzp_address_parse (text, &local_error);

  if (address == NULL)
    g_set_error (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_INVALID_ADDRESS,
                 "“%s” is not a listen address: use IP:PORT or [IPv6]:PORT, such as "
                 "0.0.0.0:4433 or [::]:4433", text ? text : "");
  return address;
}

static GSocketService *
listen_on (WzpRelay            *self,
           GInetSocketAddress  *address,
           GCallback            incoming,
           char               **out_bound,
           GError             **error)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *requested = _wzp_address_to_string (G_SOCKET_ADDRESS (address));

  /* A restart brings every client back within a second or two (their first retries
   * spread over 125-375 ms): the kernel keeps what the relay has not accepted yet, up to
   * net.core.somaxconn (4096 by default), instead of dropping SYNs that then wait a
   * second for their retransmission. */
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (service), SOMAXCONN);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), G_SOCKET_ADDRESS (address),
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                      &effective, &local_error))
    {
      g_set_error (error, WZP_RELAY_ERROR, WZP_RELAY_ERROR_LISTEN_FAILED,
                   "Cannot listen on %s: %s", requested, local_error->message);
      return NULL;
    }

  g_signal_connect (service, "incoming", incoming, self);
  *out_bound = _wzp_address_to_string (effective);
  return g_steal_pointer (&service);
}

/**
 * wzp_relay_listen:
 * @self: a relay
 * @address: the signalling address, such as `0.0.0.0:4433` or `[::]:4433`; port 0 picks
 *   a free port
 * @pipe_address: (nullable): the pipe address; %NULL means the same IP with the next
 *   port (or a free port when @address has port 0)
 * @error: return location for a #GError
 *
 * Starts accepting clients on @address and pipes on @pipe_address. May be called more
 * than once, for IPv4 and IPv6 for example. The first call also raises the soft limit of
 * open files to the hard one.
 *
 * Returns: %TRUE if both addresses are bound
 *
 * Since: 1.0
 */
gboolean
wzp_relay_listen (WzpRelay    *self,
                  const char  *address,
                  const char  *pipe_address,
                  GError     **error)
{
  g_autoptr(GInetSocketAddress) signalling = NULL;
  g_autoptr(GInetSocketAddress) pipe = NULL;
  g_autoptr(GSocketService) service = NULL;
  g_autoptr(GSocketService) pipe_service = NULL;
  g_autofree char *bound = NULL;
  g_autofree char *pipe_bound = NULL;

  g_return_val_if_fail (WZP_IS_RELAY (self), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  signalling = parse_listen_address (address, error);
  if (signalling == NULL)
    return FALSE;

  if (pipe_address != NULL)
    {
      pipe = parse_listen_address (pipe_address, error);
      if (pipe == NULL)
        return FALSE;
    }
  else
    {
      guint port = g_inet_socket_address_get_port (signalling);

      pipe = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (
        g_inet_socket_address_get_address (signalling), port == 0 ? 0 : port + 1));
    }

  /* Made once, at the first listen: every client's TLS session and socket use them. */
  if (self->tls_credentials == NULL)
    {
      self->tls_credentials = _wzp_relay_session_credentials_new (
        wzp_identity_get_certificate (self->identity), error);
      if (self->tls_credentials == NULL)
        return FALSE;
    }
  if (self->poller == NULL)
    {
      self->poller = _wzp_relay_poller_new (self->context, error);
      if (self->poller == NULL)
        return FALSE;
    }

  service = listen_on (self, signalling, G_CALLBACK (incoming_cb), &bound, error);
  if (service == NULL)
    return FALSE;
  pipe_service = listen_on (self, pipe, G_CALLBACK (pipe_incoming_cb), &pipe_bound, error);
  if (pipe_service == NULL)
    {
      g_socket_service_stop (service);
      g_socket_listener_close (G_SOCKET_LISTENER (service));
      return FALSE;
    }

  if (!self->running)
    _wzp_relay_raise_nofile ();
  self->running = TRUE;
  _wzp_relay_federation_start (self);
  _wzp_relay_counters_start (self);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_LISTEN_ADDRESS", bound,
                    "MESSAGE", "Listening on %s (pipes on %s)", bound, pipe_bound);

  g_ptr_array_add (self->services, g_steal_pointer (&service));
  g_ptr_array_add (self->pipe_services, g_steal_pointer (&pipe_service));
  g_ptr_array_add (self->listen_addresses, g_steal_pointer (&bound));
  g_ptr_array_add (self->pipe_addresses, g_steal_pointer (&pipe_bound));

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LISTEN_ADDRESSES]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PIPE_ADDRESSES]);
  return TRUE;
}

/* A graceful stop lets each connection flush its Hangups and the final Error before it
 * closes (the connections close themselves as their writes complete); disposing closes
 * everything at once, since nothing may outlive the relay. */
static void
relay_stop (WzpRelay *self,
            gboolean  graceful)
{
  GHashTableIter iter;
  RelayConn *conn;

  /* First: what the relay held as it was asked to stop. */
  _wzp_relay_counters_stop (self);
  self->running = FALSE;
  _wzp_clear_source (self->context, &self->resume_accept_id);

  /* Stop first: that cancels the pending accept, which would otherwise fail on the
   * closed socket and warn. */
  for (guint i = 0; i < self->services->len; i++)
    {
      g_socket_service_stop (g_ptr_array_index (self->services, i));
      g_socket_listener_close (g_ptr_array_index (self->services, i));
    }
  for (guint i = 0; i < self->pipe_services->len; i++)
    {
      g_socket_service_stop (g_ptr_array_index (self->pipe_services, i));
      g_socket_listener_close (g_ptr_array_index (self->pipe_services, i));
    }
  g_ptr_array_set_size (self->services, 0);
  g_ptr_array_set_size (self->pipe_services, 0);
  g_ptr_array_set_size (self->listen_addresses, 0);
  g_ptr_array_set_size (self->pipe_addresses, 0);

  _wzp_relay_calls_shutdown (self);
  _wzp_relay_pipes_close_all (self);
  /* After the calls: their Hangups to peer relays are queued on the links. */
  _wzp_relay_federation_stop (self, graceful);
  _wzp_relay_proxies_close_all (self);

  /* Hangups are queued on the connections: let each flush before it closes. */
  g_hash_table_iter_init (&iter, self->conns);
  while (g_hash_table_iter_next (&iter, (gpointer *) &conn, NULL))
    {
      g_autoptr(WzpMessage) bye = NULL;

      if (conn->stage != CONN_ESTABLISHED || conn->closed)
        continue;
      bye = _wzp_message_new_error (WZP_ERROR_CODE_SHUTDOWN, "The relay is shutting down",
                                    NULL);
      _wzp_relay_conn_unregister (conn);
      _wzp_relay_conn_send_and_close (conn, bye);
    }

  /* Connections still in their handshake are closed now; on dispose, all of them (the
   * flush callbacks then find them closed). */
  g_hash_table_iter_init (&iter, self->conns);
  while (g_hash_table_iter_next (&iter, (gpointer *) &conn, NULL))
    if (conn->stage != CONN_ESTABLISHED && !conn->closed)
      {
        _wzp_relay_conn_close (conn, "relay stopped");
        g_hash_table_iter_init (&iter, self->conns);
      }

  while (!graceful && g_hash_table_size (self->conns) > 0)
    {
      g_hash_table_iter_init (&iter, self->conns);
      g_hash_table_iter_next (&iter, (gpointer *) &conn, NULL);
      _wzp_relay_conn_close (conn, "relay stopped");
    }

  _wzp_relay_notify_counts (self);
  /* Lines held back by the rate limit are counted, never lost. */
  _wzp_relay_log_flush (self);
}

/**
 * wzp_relay_stop:
 * @self: a relay
 *
 * Stops accepting, ends every call (both parties get `Hangup`), closes pipes, and tells
 * every client that the relay is shutting down; each connection closes once that message
 * is written (keep the main loop running for a moment). The relay can listen again
 * afterwards.
 *
 * Since: 1.0
 */
void
wzp_relay_stop (WzpRelay *self)
{
  g_return_if_fail (WZP_IS_RELAY (self));

  relay_stop (self, TRUE);
}

/**
 * wzp_relay_get_identity:
 * @self: a relay
 *
 * Returns: (transfer none): the relay's identity
 *
 * Since: 1.0
 */
WzpIdentity *
wzp_relay_get_identity (WzpRelay *self)
{
  g_return_val_if_fail (WZP_IS_RELAY (self), NULL);

  return self->identity;
}

/**
 * wzp_relay_get_fingerprint:
 * @self: a relay
 *
 * Returns: the fingerprint of the relay's identity
 *
 * Since: 1.0
 */
const char *
wzp_relay_get_fingerprint (WzpRelay *self)
{
  g_return_val_if_fail (WZP_IS_RELAY (self), NULL);

  return self->identity ? wzp_identity_get_fingerprint (self->identity) : NULL;
}

static GStrv
dup_array (GPtrArray *array)
{
  GStrv strv = g_new0 (char *, array->len + 1);

  for (guint i = 0; i < array->len; i++)
    strv[i] = g_strdup (g_ptr_array_index (array, i));
  return strv;
}

/**
 * wzp_relay_dup_listen_addresses:
 * @self: a relay
 *
 * Returns: (transfer full): the signalling addresses, with the ports actually bound
 *
 * Since: 1.0
 */
GStrv
wzp_relay_dup_listen_addresses (WzpRelay *self)
{
  g_return_val_if_fail (WZP_IS_RELAY (self), NULL);

  return dup_array (self->listen_addresses);
}

/**
 * wzp_relay_dup_pipe_addresses:
 * @self: a relay
 *
 * Returns: (transfer full): the pipe addresses, with the ports actually bound
 *
 * Since: 1.0
 */
GStrv
wzp_relay_dup_pipe_addresses (WzpRelay *self)
{
  g_return_val_if_fail (WZP_IS_RELAY (self), NULL);

  return dup_array (self->pipe_addresses);
}

/**
 * wzp_relay_dup_uris:
 * @self: a relay
 *
 * The relay's URIs, one per listen address: `wzps://HOST:PORT#FINGERPRINT`. A wildcard
 * address (`0.0.0.0`, `[::]`) is shown as it is: replace it by the host's name or
 * address when you hand the URI to someone.
 *
 * Returns: (transfer full): the URIs
 *
 * Since: 1.0
 */
GStrv
wzp_relay_dup_uris (WzpRelay *self)
{
  GStrv strv;

  g_return_val_if_fail (WZP_IS_RELAY (self), NULL);

  strv = g_new0 (char *, self->listen_addresses->len + 1);
  for (guint i = 0; i < self->listen_addresses->len; i++)
    strv[i] = g_strdup_printf ("wzps://%s#%s",
                               (const char *) g_ptr_array_index (self->listen_addresses, i),
                               wzp_relay_get_fingerprint (self));
  return strv;
}

/**
 * wzp_relay_get_n_registrations:
 * @self: a relay
 *
 * Returns: the number of registered clients
 *
 * Since: 1.0
 */
guint
wzp_relay_get_n_registrations (WzpRelay *self)
{
  g_return_val_if_fail (WZP_IS_RELAY (self), 0);

  return g_hash_table_size (self->registrations);
}

/**
 * wzp_relay_get_n_calls:
 * @self: a relay
 *
 * Returns: the number of calls the relay knows (offered, ringing or set up)
 *
 * Since: 1.0
 */
guint
wzp_relay_get_n_calls (WzpRelay *self)
{
  g_return_val_if_fail (WZP_IS_RELAY (self), 0);

  return g_hash_table_size (self->calls);
}

/**
 * wzp_relay_list_registrations:
 * @self: a relay
 *
 * Lists the registered clients, each a dictionary with `fingerprint` (s), `alias` (s,
 * possibly empty), `observed_addr` (s) and `connected_since` (x, Unix seconds).
 *
 * Returns: (transfer floating): a #GVariant of type `aa{sv}`
 *
 * Since: 1.0
 */
GVariant *
wzp_relay_list_registrations (WzpRelay *self)
{
  GVariantBuilder builder;
  GHashTableIter iter;
  RelayConn *conn;

  g_return_val_if_fail (WZP_IS_RELAY (self), NULL);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  g_hash_table_iter_init (&iter, self->registrations);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conn))
    {
      g_variant_builder_open (&builder, G_VARIANT_TYPE ("a{sv}"));
      g_variant_builder_add (&builder, "{sv}", "fingerprint",
                             g_variant_new_string (conn->fingerprint));
      g_variant_builder_add (&builder, "{sv}", "alias",
                             g_variant_new_string (conn->alias ? conn->alias : ""));
      g_variant_builder_add (&builder, "{sv}", "observed_addr",
                             g_variant_new_string (conn->remote_addr));
      g_variant_builder_add (&builder, "{sv}", "connected_since",
                             g_variant_new_int64 (conn->connected_since));
      g_variant_builder_close (&builder);
    }
  return g_variant_builder_end (&builder);
}

/**
 * wzp_relay_list_calls:
 * @self: a relay
 *
 * Lists the calls, each a dictionary with `call_id` (s), `caller` (s), `callee` (s),
 * `state` (s: `offered`, `ringing` or `set-up`), `relayed` (b: a pipe carried it) and
 * `started` (x, Unix seconds).
 *
 * Returns: (transfer floating): a #GVariant of type `aa{sv}`
 *
 * Since: 1.0
 */
GVariant *
wzp_relay_list_calls (WzpRelay *self)
{
  GVariantBuilder builder;
  GHashTableIter iter;
  RelayCall *call;

  g_return_val_if_fail (WZP_IS_RELAY (self), NULL);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  g_hash_table_iter_init (&iter, self->calls);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &call))
    {
      g_variant_builder_open (&builder, G_VARIANT_TYPE ("a{sv}"));
      g_variant_builder_add (&builder, "{sv}", "call_id", g_variant_new_string (call->call_id));
      g_variant_builder_add (&builder, "{sv}", "caller",
                             g_variant_new_string (call->party[WZP_CALL_ROLE_CALLER].fingerprint));
      g_variant_builder_add (&builder, "{sv}", "callee",
                             g_variant_new_string (call->party[WZP_CALL_ROLE_CALLEE].fingerprint));
      g_variant_builder_add (&builder, "{sv}", "state",
                             g_variant_new_string (_wzp_relay_call_state_name (call->state)));
      g_variant_builder_add (&builder, "{sv}", "relayed", g_variant_new_boolean (call->relayed));
      g_variant_builder_add (&builder, "{sv}", "started", g_variant_new_int64 (call->started));
      g_variant_builder_close (&builder);
    }
  return g_variant_builder_end (&builder);
}
