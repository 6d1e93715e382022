/* wzp-client.c: registration with a relay that survives restarts, and call routing
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-address-private.h"
#include "wzp-call-private.h"
#include "wzp-client-private.h"
#include "wzp-enum-types.h"
#include "wzp-error.h"
#include "wzp-frame-io-private.h"
#include "wzp-network-info-private.h"
#include "wzp-race-private.h"
#include "wzp-relay-uri-private.h"
#include "wzp-socket-private.h"
#include "wzp-strv-private.h"
#include "wzp-tls-dial-private.h"
#include "wzp-tls-private.h"
#include "wzp-timeout-private.h"

/**
 * WzpClient:
 *
 * A user's presence at a relay: it registers with its identity from its port, keeps the
 * registration alive across relay restarts and network changes, places calls and
 * reports incoming ones.
 *
 * ```python
 * client = Wzp.Client.new(identity)
 * client.props.relay_uri = "wzps://relay.example.org:4433#1a2b:..."
 * client.connect_async(None, on_connected)
 * ```
 *
 * Since: 1.0
 */

/* The retry policy (docs/relay.md, "When the relay turns clients away"): waits from 250 ms
 * doubling to 10 s, at least 2 s after the relay said it is busy or that our network has
 * too many connections, each wait times a random factor in [0.5, 1.5). */
#define BACKOFF_MIN_MS   250
#define BACKOFF_MAX_MS   10000
#define BACKOFF_REFUSED_MIN_MS 2000
#define BACKOFF_JITTER_MIN 0.5
#define BACKOFF_JITTER_MAX 1.5
#define KEEPALIVE_S      20
/* The relay answers a Ping or Reflect within this long, or the connection is dead: after
 * the keepalive, and (shorter) after a network change, when the way to the relay may be
 * gone although the local address is still there. */
#define KEEPALIVE_ANSWER_MS      10000
#define NETWORK_CHANGE_ANSWER_MS 3000

struct _WzpClient
{
  GObject            parent_instance;

  GMainContext      *context;          /* thread-default at construction: its timers' */
  WzpIdentity       *identity;
  char              *relay_uri;
  char              *alias;
  gboolean           privacy;
  char              *audio_source;     /* GStreamer descriptions for new calls, */
  char              *audio_sink;       /* NULL for the system's devices */
  guint              requested_port;
  char             **reflectors;
  char             **deny_list;
  char             **allow_list;
  gboolean           test_loopback;

  WzpClientState     state;
  char              *error_message;
  GError            *error;          /* behind error_message, with its domain and code */
  char              *relay_fingerprint;
  char              *known_key;         /* a relay (_wzp_known_relay_key()) and its pin, */
  char              *known_pin;         /* read once per connect: see keep_known_pin() */

  WzpNetworkInfo    *network;
  WzpSharedPort     *shared_port;

  GCancellable      *cancellable;       /* the current connection or attempt */
  GSocketConnection *socket_conn;
  GIOStream         *tls;
  WzpFrameIO        *io;
  gboolean           registered;
  GTask             *connect_task;
  gulong             connect_cancel_id;
  guint              reconnect_id;
  guint              backoff_ms;        /* the last wait before jitter; 0: none since success */
  guint              retry_delay_ms;    /* the wait of reconnect_id, jitter included */
  guint              keepalive_id;
  guint              answer_id;         /* waiting for the relay to answer anything */
  guint              candidates_serial; /* grows when what peers should dial changes */
  WzpLocalCandidates *local;            /* what the calls were last given */
  guint              announce_id;       /* idle: tell the calls about new candidates */

  GHashTable        *calls;             /* call_id -> WzpCall (owned) */

  GQueue             awaiting_preamble;   /* Accepted*: on P, oldest first */
  GHashTable        *awaiting_by_source;  /* source key -> GQueue* of Accepted (owned) */
};

G_DEFINE_FINAL_TYPE (WzpClient, wzp_client, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_IDENTITY,
  PROP_FINGERPRINT,
  PROP_RELAY_URI,
  PROP_ALIAS,
  PROP_PRIVACY,
  PROP_PORT,
  PROP_REFLECTORS,
  PROP_DENY_LIST,
  PROP_ALLOW_LIST,
  PROP_STATE,
  PROP_ERROR_MESSAGE,
  PROP_ERROR,
  PROP_OBSERVED_ADDRESS,
  PROP_NAT_TYPE,
  PROP_HOST_CANDIDATES,
  PROP_AUDIO_SOURCE,
  PROP_AUDIO_SINK,
  N_PROPS,
};
static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_INCOMING_CALL,
  SIGNAL_OUTGOING_CALL,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

static void start_attempt (WzpClient *self);
static void connection_failed (WzpClient *self,
                               GError    *error);

/* The error first, then the state: a handler of notify::state reads why. */
static void
set_state (WzpClient      *self,
           WzpClientState  state,
           const GError   *error)
{
  const char *error_message = error != NULL ? error->message : NULL;

  if (self->error != error &&
      (self->error == NULL || error == NULL || self->error->domain != error->domain ||
       self->error->code != error->code ||
       g_strcmp0 (self->error->message, error->message) != 0))
    {
      g_clear_error (&self->error);
      if (error != NULL)
        self->error = g_error_copy (error);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
    }
  if (g_strcmp0 (self->error_message, error_message) != 0)
    {
      g_free (self->error_message);
      self->error_message = g_strdup (error_message);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR_MESSAGE]);
    }
  if (self->state != state)
    {
      self->state = state;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
    }
}

/* The pending connect_async task; cancelling it disconnects. */
static gboolean
connect_cancelled_idle_cb (gpointer user_data)
{
  WzpClient *self = user_data;

  if (self->connect_task != NULL)
    wzp_client_unregister (self);
  return G_SOURCE_REMOVE;
}

static void
connect_cancelled_cb (GCancellable *cancellable,
                      WzpClient    *self)
{
  _wzp_idle_add_full (self->context, G_PRIORITY_DEFAULT, connect_cancelled_idle_cb,
                      g_object_ref (self), g_object_unref);
}

static GTask *
take_connect_task (WzpClient *self)
{
  GTask *task = g_steal_pointer (&self->connect_task);

  if (task != NULL && self->connect_cancel_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), self->connect_cancel_id);
  self->connect_cancel_id = 0;
  return task;
}

/* Sending */

/* A relay that stops reading must not grow the client without bound. A client sends
 * little (offers, answers, candidate updates, Pongs: a few KB in a call), so this is
 * generous, and only a relay that reads nothing ever hits it. */
#define MAX_QUEUED_BYTES (1024 * 1024)

static void
send_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(WzpClient) self = user_data;
  g_autoptr(GError) error = NULL;

  if (_wzp_frame_io_write_finish (WZP_FRAME_IO (source), result, &error))
    return;
  /* Other write errors are the read side's to notice; an old connection's are moot. */
  if (WZP_FRAME_IO (source) != self->io ||
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
    {
      g_debug ("Could not send a frame to the relay: %s", error->message);
      return;
    }
  connection_failed (self, g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                        "The relay is not reading: %s", error->message));
}

static void
send_frame (WzpClient  *self,
            WzpMessage *message)
{
  _wzp_frame_io_set_max_queued_bytes (self->io, MAX_QUEUED_BYTES);
  /* The callback runs from the main loop, never from inside this call. */
  _wzp_frame_io_write_async (self->io, message, NULL, send_cb, g_object_ref (self));
}

void
_wzp_client_send (WzpClient  *self,
                  WzpMessage *message)
{
  if (self->io != NULL && self->registered)
    send_frame (self, message);
}

const char *
_wzp_client_get_fingerprint (WzpClient *self)
{
  return wzp_identity_get_fingerprint (self->identity);
}

/* The candidates as they are now, for the calls. */
static WzpLocalCandidates *
make_local_candidates (WzpClient *self)
{
  g_auto(GStrv) host = NULL;

  if (self->network == NULL)
    return _wzp_local_candidates_new_unknown (self->candidates_serial);

  host = _wzp_network_info_dup_host_candidates (self->network);
  return _wzp_local_candidates_new (self->candidates_serial,
                                    _wzp_network_info_get_observed_address (self->network),
                                    (const char * const *) host,
                                    _wzp_network_info_get_nat_type (self->network,
                                                                    G_SOCKET_FAMILY_IPV4));
}

/* Something a call's candidates say changed: every call gets the new snapshot at once, so
 * that what a call sends is always what holds now (the calls never ask the client). */
static void
publish_local_candidates (WzpClient *self)
{
  GHashTableIter iter;
  WzpCall *call;

  g_clear_pointer (&self->local, _wzp_local_candidates_unref);
  self->local = make_local_candidates (self);
  g_hash_table_iter_init (&iter, self->calls);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &call))
    _wzp_call_set_local_candidates (call, self->local);
}

/* The calls' sink (WzpCallSink): what a call sends upward. */

static void
call_send_cb (GObject    *owner,
              WzpMessage *message)
{
  _wzp_client_send (WZP_CLIENT (owner), message);
}

static void
call_ended_cb (GObject *owner,
               WzpCall *call)
{
  g_hash_table_remove (WZP_CLIENT (owner)->calls, wzp_call_get_call_id (call));
}

/* A new call's place in the client: the sink, our candidates, and the table. */
static void
adopt_call (WzpClient *self,
            WzpCall   *call)
{
  _wzp_call_set_local_candidates (call, self->local);
  _wzp_call_voice_prepare (call, self->audio_source, self->audio_sink);
  g_hash_table_insert (self->calls, g_strdup (wzp_call_get_call_id (call)), g_object_ref (call));
}

/* The calls, each with a reference: telling a call may end it (and take it out of the
 * table) while we go through them. */
static GPtrArray *
dup_calls (WzpClient *self)
{
  GPtrArray *calls = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  WzpCall *call;

  g_hash_table_iter_init (&iter, self->calls);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &call))
    g_ptr_array_add (calls, g_object_ref (call));
  return calls;
}

/* The connection */

static void
drop_connection (WzpClient *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  _wzp_clear_source (self->context, &self->keepalive_id);
  _wzp_clear_source (self->context, &self->answer_id);
  if (self->socket_conn != NULL)
    g_io_stream_close (G_IO_STREAM (self->socket_conn), NULL, NULL);
  g_clear_object (&self->io);
  g_clear_object (&self->tls);
  g_clear_object (&self->socket_conn);
  self->registered = FALSE;
}

/* The relay turned us away before TLS, for now (busy, or too many of our network). */
static gboolean
error_is_refusal (const GError *error)
{
  return g_error_matches (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_BUSY) ||
         g_error_matches (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_TOO_MANY_CONNECTIONS);
}

/* A file of known relays that cannot be read is G_FILE_ERROR, and retried: it may be
 * readable in a moment, and no connection is made without the pin meanwhile
 * (docs/identity.md, "When the file is wrong"). A refusal is not one of the client errors
 * that retrying cannot fix either. */
static gboolean
error_is_permanent (const GError *error)
{
  if (error_is_refusal (error))
    return FALSE;
  return error->domain == WZP_CLIENT_ERROR ||
         g_error_matches (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_PIN_MISMATCH);
}

guint
_wzp_client_backoff_next (guint         previous_ms,
                          const GError *error)
{
  guint next = previous_ms == 0 ? BACKOFF_MIN_MS : MIN (previous_ms * 2, BACKOFF_MAX_MS);

  /* A refusing relay is at a cap: coming back within a second would only meet it again. */
  if (error != NULL && error_is_refusal (error))
    next = MAX (next, BACKOFF_REFUSED_MIN_MS);
  return next;
}

/* Without it, every client a relay restart dropped at the same moment would come back at
 * the same moments, 250 ms, 750 ms, 1.75 s ... later, together, and meet the handshake
 * caps together each time. */
guint
_wzp_client_backoff_jitter (guint nominal_ms)
{
  return (guint) (nominal_ms * g_random_double_range (BACKOFF_JITTER_MIN, BACKOFF_JITTER_MAX));
}

guint
_wzp_client_get_retry_delay_ms (WzpClient *self)
{
  g_return_val_if_fail (WZP_IS_CLIENT (self), 0);

  return self->reconnect_id != 0 ? self->retry_delay_ms : 0;
}

static gboolean
reconnect_cb (gpointer user_data)
{
  WzpClient *self = user_data;

  self->reconnect_id = 0;
  start_attempt (self);
  return G_SOURCE_REMOVE;
}

/* Every failure and loss ends here: permanent errors stop, others retry with backoff. */
static void
connection_failed (WzpClient *self,
                   GError    *error)
{
  g_autoptr(GError) owned = error;
  gboolean was_registered = self->registered;

  drop_connection (self);

  if (was_registered)
    {
      /* Calls not yet set up cannot survive; set-up calls go on (the relay keeps them
       * for its grace period and they re-attach when we register again). */
      g_autoptr(GPtrArray) calls = dup_calls (self);

      for (guint i = 0; i < calls->len; i++)
        _wzp_call_signalling_lost (g_ptr_array_index (calls, i));
    }

  if (self->connect_task != NULL)
    {
      g_autoptr(GTask) task = take_connect_task (self);
      g_task_return_error (task, g_error_copy (owned));
    }

  if (error_is_permanent (owned))
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "MESSAGE", "Not connecting to the relay again: %s", owned->message);
      set_state (self, WZP_CLIENT_STATE_FAILED, owned);
      return;
    }

  /* The retry is set before the state changes: a handler of notify::state sees it, and
   * one that unregisters cancels it. */
  self->backoff_ms = _wzp_client_backoff_next (self->backoff_ms, owned);
  self->retry_delay_ms = _wzp_client_backoff_jitter (self->backoff_ms);
  g_debug ("Relay connection failed (%s); retrying in %u ms", owned->message,
           self->retry_delay_ms);
  self->reconnect_id = _wzp_timeout_add (self->context, self->retry_delay_ms, reconnect_cb,
                                         self);
  set_state (self, WZP_CLIENT_STATE_RECONNECTING, owned);
}

/* Reconnects without the backoff wait: for losses that a retry now can fix (the network
 * changed under the connection). */
static void
reconnect_at_once (WzpClient *self,
                   GError    *error)
{
  connection_failed (self, error);
  if (self->reconnect_id != 0)
    {
      _wzp_clear_source (self->context, &self->reconnect_id);
      start_attempt (self);
    }
}

static gboolean
answer_timeout_cb (gpointer user_data)
{
  WzpClient *self = user_data;

  self->answer_id = 0;
  reconnect_at_once (self, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                        "The relay stopped answering"));
  return G_SOURCE_REMOVE;
}

/* Any frame from the relay within @ms proves the connection (see read_cb). A TCP
 * connection whose way is gone can look alive for many minutes. */
static void
expect_answer (WzpClient *self,
               guint      ms)
{
  _wzp_clear_source (self->context, &self->answer_id);
  self->answer_id = _wzp_timeout_add (self->context, ms, answer_timeout_cb, self);
}

static gboolean
keepalive_cb (gpointer user_data)
{
  WzpClient *self = user_data;
  g_autoptr(WzpMessage) ping = _wzp_message_new (WZP_MESSAGE_PING);

  _wzp_message_set_int (ping, "timestamp_ms", g_get_real_time () / 1000);
  _wzp_client_send (self, ping);
  if (self->answer_id == 0)
    expect_answer (self, KEEPALIVE_ANSWER_MS);
  return G_SOURCE_CONTINUE;
}

/* Network changes (docs/calls.md, "When the network changes mid-call"; issue 7) */

static void
announce_to_calls (WzpClient *self)
{
  g_autoptr(GPtrArray) calls = dup_calls (self);

  for (guint i = 0; i < calls->len; i++)
    _wzp_call_announce_candidates (g_ptr_array_index (calls, i));
}

static gboolean
announce_idle_cb (gpointer user_data)
{
  WzpClient *self = user_data;

  self->announce_id = 0;
  /* While the relay connection is in doubt (a Reflect or Ping waits for its answer), what
   * the relay sees us as may change too, and an update could be lost: the answer, or the
   * ack of a new registration, announces instead (read_cb, handle_ack). */
  if (self->registered && self->answer_id == 0)
    announce_to_calls (self);
  return G_SOURCE_REMOVE;
}

/* What peers should dial changed: tell the calls, once the current burst of changes (a
 * gathering notifies, then reports) is over. */
static void
candidates_changed (WzpClient *self)
{
  self->candidates_serial++;
  publish_local_candidates (self);
  if (self->announce_id == 0)
    self->announce_id = _wzp_idle_add (self->context, announce_idle_cb, self);
}

/* The own relay's view of our address (RegisterPresenceAck, ReflectResponse). */
static void
set_observed (WzpClient  *self,
              const char *observed)
{
  g_autofree char *before = g_strdup (_wzp_network_info_get_observed_address (self->network));

  if (observed == NULL)
    return;
  _wzp_network_info_set_observation (self->network, "relay", observed, TRUE);
  if (g_strcmp0 (before, observed) != 0)
    {
      self->candidates_serial++;
      publish_local_candidates (self);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OBSERVED_ADDRESS]);
    }
}

/* NAT type: the configured reflectors and those the relay names in its ack, each once
 * (wzp-client-reflectors.c). Of the relay's, at most WZP_CLIENT_MAX_RELAY_REFLECTORS and
 * only pinned ones (docs/candidates.md, "Reflectors"): the list is the relay's word, and
 * each probe is a connection from P to wherever it points. */
static void
probe_reflectors (WzpClient  *self,
                  WzpMessage *ack)
{
  g_auto(GStrv) from_relay = _wzp_message_dup_strv (ack, "reflectors");
  guint n_probed = 0;

  for (guint i = 0; self->reflectors != NULL && self->reflectors[i] != NULL; i++)
    _wzp_client_probe_reflector (self, self->reflectors[i]);
  for (guint i = 0; from_relay[i] != NULL && n_probed < WZP_CLIENT_MAX_RELAY_REFLECTORS; i++)
    {
      g_autofree char *host = NULL;
      g_autofree char *pin = NULL;
      guint16 port;

      if (self->reflectors != NULL &&
          g_strv_contains ((const char * const *) self->reflectors, from_relay[i]))
        continue;
      if (!_wzp_relay_uri_parse (from_relay[i], &host, &port, &pin, NULL) || pin == NULL)
        {
          g_debug ("Not probing reflector “%s” from the relay: it has no pin", from_relay[i]);
          continue;
        }
      _wzp_client_probe_reflector (self, from_relay[i]);
      n_probed++;
    }
}

static void
handle_ack (WzpClient  *self,
            WzpMessage *ack)
{
  const char *observed = _wzp_message_get_string (ack, "observed_addr");

  if (!_wzp_message_get_bool (ack, "success"))
    {
      const char *why = _wzp_message_get_string (ack, "error");

      connection_failed (self, g_error_new (WZP_CLIENT_ERROR,
                                            WZP_CLIENT_ERROR_REGISTRATION_FAILED,
                                            "The relay refused the registration: %s",
                                            why ? why : "no reason given"));
      return;
    }

  self->registered = TRUE;
  self->backoff_ms = 0;
  set_observed (self, observed);
  _wzp_clear_source (self->context, &self->keepalive_id);
  self->keepalive_id = _wzp_timeout_add_seconds (self->context, KEEPALIVE_S, keepalive_cb, self);

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_FINGERPRINT", _wzp_client_get_fingerprint (self),
                    "MESSAGE", "Registered with the relay as %s (seen at %s)",
                    _wzp_client_get_fingerprint (self), observed ? observed : "?");
  set_state (self, WZP_CLIENT_STATE_CONNECTED, NULL);
  probe_reflectors (self, ack);

  if (self->connect_task != NULL)
    {
      g_autoptr(GTask) task = take_connect_task (self);
      g_task_return_boolean (task, TRUE);
    }

  /* Back after a network change or a lost connection: the relay re-attached our calls
   * (its grace period); peers whose calls missed a change of our address learn it now. */
  announce_to_calls (self);
}

static void
handle_offer (WzpClient  *self,
              WzpMessage *offer)
{
  const char *call_id = _wzp_message_get_string (offer, "call_id");
  const char *caller = _wzp_message_get_string (offer, "caller_fingerprint");
  g_autoptr(WzpCall) call = NULL;

  /* The relay fills caller_fingerprint from the caller's certificate; without it there
   * is nobody to pin, so the offer cannot be shown. */
  if (caller == NULL || g_hash_table_contains (self->calls, call_id))
    return;

  call = _wzp_call_new_incoming (&(WzpCallSink) { G_OBJECT (self), call_send_cb, call_ended_cb },
                                 self->identity, self->shared_port, self->test_loopback, offer,
                                 self->privacy);
  adopt_call (self, call);
  g_signal_emit (self, signals[SIGNAL_INCOMING_CALL], 0, call);
}

static void
handle_message (WzpClient  *self,
                WzpMessage *message)
{
  WzpMessageType type = _wzp_message_get_message_type (message);
  const char *call_id = _wzp_message_get_string (message, "call_id");
  WzpCall *call;

  if (!self->registered)
    {
      if (type == WZP_MESSAGE_REGISTER_PRESENCE_ACK)
        handle_ack (self, message);
      else if (type == WZP_MESSAGE_ERROR)
        connection_failed (self, g_error_new (WZP_CLIENT_ERROR,
                                              WZP_CLIENT_ERROR_REGISTRATION_FAILED,
                                              "The relay refused the registration: %s",
                                              _wzp_message_get_string (message, "message")));
      return;
    }

  switch (type)
    {
    case WZP_MESSAGE_DIRECT_CALL_OFFER:
      handle_offer (self, message);
      return;

    case WZP_MESSAGE_PING:
      {
        g_autoptr(WzpMessage) pong = _wzp_message_new (WZP_MESSAGE_PONG);

        _wzp_message_set_int (pong, "timestamp_ms",
                              _wzp_message_get_int (message, "timestamp_ms"));
        _wzp_client_send (self, pong);
      }
      return;

    case WZP_MESSAGE_REFLECT_RESPONSE:
      set_observed (self, _wzp_message_get_string (message, "observed_addr"));
      return;

    case WZP_MESSAGE_ERROR:
      if (g_strcmp0 (_wzp_message_get_string (message, "code"), WZP_ERROR_CODE_REPLACED) == 0)
        {
          connection_failed (self, g_error_new (WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_REPLACED,
                                                "Another program registered with this "
                                                "identity, so this one was disconnected"));
          return;
        }
      if (call_id == NULL)
        {
          g_debug ("Relay error: %s", _wzp_message_get_string (message, "message"));
          return;
        }
      break;

    default:
      break;
    }

  call = call_id ? g_hash_table_lookup (self->calls, call_id) : NULL;
  if (call != NULL)
    _wzp_call_handle_message (call, message);
}

static void read_next (WzpClient *self);

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(WzpClient) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) message = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result,
                                                             &error);

  if (WZP_FRAME_IO (source) != self->io)
    return;   /* an old connection's last read */

  if (message == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        connection_failed (self, g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                              "Lost the connection to the relay: %s",
                                              error->message));
      return;
    }

  if (self->answer_id != 0)
    {
      /* The relay is there: what waited for that may go out now. */
      _wzp_clear_source (self->context, &self->answer_id);
      handle_message (self, message);
      if (WZP_FRAME_IO (source) == self->io)
        announce_to_calls (self);
    }
  else
    handle_message (self, message);
  if (WZP_FRAME_IO (source) == self->io)
    read_next (self);
}

static void
read_next (WzpClient *self)
{
  _wzp_frame_io_read_async (self->io, self->cancellable, read_cb, g_object_ref (self));
}

/* Pins read from the known relays file, or written to it, serve every reconnection of
 * one connect: a reconnection in the middle of a call then reads no file, and cannot fail
 * because the file cannot be read for a moment. The cache holds only pins, never "none":
 * a relay not yet remembered is looked up on every attempt. wzp_client_connect_async()
 * and a new relay URI read the file again, so a line removed to trust a relay's new key
 * counts from the next connect. */
static void
keep_known_pin (WzpClient  *self,
                const char *key,
                const char *pin)
{
  g_free (self->known_key);
  g_free (self->known_pin);
  self->known_key = g_strdup (key);
  self->known_pin = g_strdup (pin);
}

static void
forget_known_pin (WzpClient *self)
{
  g_clear_pointer (&self->known_key, g_free);
  g_clear_pointer (&self->known_pin, g_free);
}

typedef struct
{
  WzpClient *client;
  char      *host_key;    /* "host:port" (_wzp_known_relay_key()), for messages and pins */
  char      *pin;         /* from the URI, or remembered; NULL: trust on first use */
  gboolean   pin_from_uri;
} Attempt;

static void
attempt_free (Attempt *attempt)
{
  g_object_unref (attempt->client);
  g_free (attempt->host_key);
  g_free (attempt->pin);
  g_free (attempt);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Attempt, attempt_free)

static void
dialled_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(Attempt) attempt = user_data;
  WzpClient *self = attempt->client;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) socket_conn = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(WzpMessage) presence = NULL;
  WzpTlsDialStep step = WZP_TLS_DIAL_STEP_CONNECT;
  const char *seen;

  /* A dropped attempt's cancellable is cancelled (drop_connection()). */
  tls = _wzp_tls_dial_finish (result, &socket_conn, &step, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  /* Two different stories for the user: an address whose pin does not match is most
   * likely a wrong address or a mistyped pin; a relay trusted on first use that shows
   * another key than the first time may be an interception. */
  if (g_error_matches (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_PIN_MISMATCH) &&
      attempt->pin_from_uri)
    {
      connection_failed (self, g_error_new (WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_PIN_MISMATCH,
                                            "The relay at %s is not the one in its URI: %s",
                                            attempt->host_key, error->message));
      return;
    }
  if (g_error_matches (error, WZP_IDENTITY_ERROR, WZP_IDENTITY_ERROR_PIN_MISMATCH))
    {
      connection_failed (self,
                         g_error_new (WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED,
                                      "The relay at %s has a different identity than the "
                                      "first time (%s); if the operator changed it, remove "
                                      "it from the known relays file",
                                      attempt->host_key, error->message));
      return;
    }
  if (tls == NULL)
    {
      if (step == WZP_TLS_DIAL_STEP_CONNECT)
        g_prefix_error (&error, "Cannot reach the relay at %s: ", attempt->host_key);
      connection_failed (self, g_steal_pointer (&error));
      return;
    }
  self->socket_conn = g_steal_pointer (&socket_conn);
  self->tls = g_steal_pointer (&tls);

  /* Trust on first use: a relay whose key cannot be remembered is not used, or the next
   * connection would accept any key again. */
  seen = _wzp_tls_connection_get_peer_fingerprint (self->tls);
  if (attempt->pin == NULL)
    {
      if (!_wzp_known_relay_remember (attempt->host_key, seen, &error))
        {
          connection_failed (self, g_steal_pointer (&error));
          return;
        }
      keep_known_pin (self, attempt->host_key, seen);
    }
  g_free (self->relay_fingerprint);
  self->relay_fingerprint = g_strdup (seen);

  self->io = _wzp_frame_io_new (self->tls);
  presence = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);
  _wzp_message_set_string (presence, "alias", self->alias);
  _wzp_message_set_string (presence, "client_version", PACKAGE_VERSION);
  {
    /* Our own word that we are at this relay, for its peers (docs/protocol.md, "Presence
     * bindings"): without it users of federated relays cannot reach us. */
    g_autoptr(GError) sign_error = NULL;
    g_autoptr(WzpBinding) binding =
      _wzp_binding_new_signed (wzp_identity_get_certificate (self->identity), seen,
                               g_get_real_time () / 1000, &sign_error);

    if (binding == NULL)
      g_warning ("Registering without a presence binding (users of federated relays "
                 "cannot call this identity): %s", sign_error->message);
    _wzp_message_set_binding (presence, "binding", binding);
  }
  send_frame (self, presence);
  read_next (self);
}

/* Direct connections accepted on P: the dialler's preamble says which call (by a hash of
 * its id); anything else is closed. Until its preamble is in, a connection costs a
 * descriptor and says nothing about who it is, so those waiting are capped per source and
 * in total, the oldest closed to make room, and given PREAMBLE_DEADLINE_S (docs/calls.md,
 * "Port P under a flood"): a real dialler sends its preamble with its first bytes. */
typedef struct
{
  WzpClient         *client;
  GSocketConnection *conn;
  guint8             preamble[WZP_PREAMBLE_LEN];
  guint              timeout_id;
  GCancellable      *cancellable;
  char              *source;        /* _wzp_address_source_key() */
  char              *remote;        /* IP:PORT, for the log */
  GList              link;          /* in awaiting_preamble, while waiting */
  GList              source_link;   /* in its source's queue, while waiting */
} Accepted;

static void
accepted_unlink (Accepted *accepted)
{
  WzpClient *self = accepted->client;
  GQueue *queue;

  if (accepted->link.data == NULL)
    return;
  g_queue_unlink (&self->awaiting_preamble, &accepted->link);
  queue = g_hash_table_lookup (self->awaiting_by_source, accepted->source);
  g_queue_unlink (queue, &accepted->source_link);
  if (g_queue_is_empty (queue))
    g_hash_table_remove (self->awaiting_by_source, accepted->source);
  accepted->link.data = NULL;
}

static void
accepted_free (Accepted *accepted)
{
  accepted_unlink (accepted);
  _wzp_clear_source (accepted->client->context, &accepted->timeout_id);
  g_object_unref (accepted->client);
  g_object_unref (accepted->conn);
  g_object_unref (accepted->cancellable);
  g_free (accepted->source);
  g_free (accepted->remote);
  g_free (accepted);
}

/* Stops waiting for @accepted's preamble: its read fails, and its callback closes it. */
static void
accepted_give_up (Accepted *accepted)
{
  accepted_unlink (accepted);
  _wzp_clear_source (accepted->client->context, &accepted->timeout_id);
  g_cancellable_cancel (accepted->cancellable);
}

static gboolean
accepted_timeout_cb (gpointer user_data)
{
  Accepted *accepted = user_data;

  accepted->timeout_id = 0;
  accepted_give_up (accepted);
  return G_SOURCE_REMOVE;
}

static void
accepted_preamble_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Accepted *accepted = user_data;
  WzpClient *self = accepted->client;
  gsize n = 0;
  GHashTableIter iter;
  WzpCall *call;

  accepted_unlink (accepted);
  if (g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n, NULL) &&
      n == WZP_PREAMBLE_LEN && !g_cancellable_is_cancelled (accepted->cancellable))
    {
      g_hash_table_iter_init (&iter, self->calls);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &call))
        if (_wzp_call_matches_preamble (call, accepted->preamble))
          {
            _wzp_call_take_accepted (call, accepted->conn);
            accepted_free (accepted);
            return;
          }
    }

  g_io_stream_close (G_IO_STREAM (accepted->conn), NULL, NULL);
  accepted_free (accepted);
}

/* At a cap, the connection that has waited longest makes room: a real dialler's preamble
 * comes one round trip after its connect, so the oldest silent one is almost surely idle,
 * and idle ones cannot keep a real peer behind the same address (a carrier NAT) out. */
static void
make_room_for (WzpClient  *self,
               const char *source)
{
  for (;;)
    {
      GQueue *queue = g_hash_table_lookup (self->awaiting_by_source, source);
      gboolean per_source = queue != NULL &&
                            queue->length >= WZP_CLIENT_MAX_AWAITING_PER_SOURCE;
      Accepted *oldest;
      g_autofree char *message = NULL;
      GLogField extra[1];

      if (!per_source && self->awaiting_preamble.length < WZP_CLIENT_MAX_AWAITING_PREAMBLE)
        return;
      oldest = g_queue_peek_head (per_source ? queue : &self->awaiting_preamble);
      message = g_strdup_printf ("%s: no preamble yet on port P; closed to make room for a "
                                 "new connection", oldest->remote);
      extra[0] = (GLogField) { "WZP_REMOTE_ADDRESS", oldest->remote, -1 };
      _wzp_limited_log_write (_wzp_shared_port_get_log (self->shared_port), G_LOG_LEVEL_INFO,
                              oldest->source, "WZP_LIMIT",
                              per_source ? "max-awaiting-preamble-per-source"
                                         : "max-awaiting-preamble",
                              extra, G_N_ELEMENTS (extra), message);
      accepted_give_up (oldest);
    }
}

static void
port_incoming_cb (WzpSharedPort     *port,
                  GSocketConnection *connection,
                  WzpClient         *self)
{
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  Accepted *accepted;
  GQueue *queue;

  if (remote == NULL || !G_IS_INET_SOCKET_ADDRESS (remote))
    return;   /* closed when the emission ends */

  accepted = g_new0 (Accepted, 1);
  accepted->client = g_object_ref (self);
  accepted->conn = g_object_ref (connection);
  accepted->cancellable = g_cancellable_new ();
  accepted->source = _wzp_address_source_key (
    g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  accepted->remote = _wzp_address_to_string (remote);

  make_room_for (self, accepted->source);
  queue = g_hash_table_lookup (self->awaiting_by_source, accepted->source);
  if (queue == NULL)
    {
      queue = g_queue_new ();
      g_hash_table_insert (self->awaiting_by_source, g_strdup (accepted->source), queue);
    }
  accepted->link.data = accepted;
  accepted->source_link.data = accepted;
  g_queue_push_tail_link (&self->awaiting_preamble, &accepted->link);
  g_queue_push_tail_link (queue, &accepted->source_link);

  accepted->timeout_id = _wzp_timeout_add_seconds (self->context, WZP_CLIENT_PREAMBLE_DEADLINE_S,
                                                   accepted_timeout_cb, accepted);
  /* Exact read: the dialler's TLS follows the preamble. */
  g_input_stream_read_all_async (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                                 accepted->preamble, WZP_PREAMBLE_LEN, G_PRIORITY_DEFAULT,
                                 accepted->cancellable, accepted_preamble_cb, accepted);
}

guint
_wzp_client_get_n_awaiting_preamble (WzpClient  *self,
                                     const char *source)
{
  GQueue *queue;

  if (source == NULL)
    return self->awaiting_preamble.length;
  queue = g_hash_table_lookup (self->awaiting_by_source, source);
  return queue != NULL ? queue->length : 0;
}

static void
network_changed_cb (WzpClient *self)
{
  publish_local_candidates (self);
}

/* The network info's nat-type and host-candidates are the client's properties too. */
static void
network_notify_cb (WzpNetworkInfo *network,
                   GParamSpec     *pspec,
                   WzpClient      *self)
{
  if (g_strcmp0 (pspec->name, "nat-type") == 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAT_TYPE]);
  else
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HOST_CANDIDATES]);
      candidates_changed (self);
    }
}

/* After every gathering (the network info debounces GNetworkMonitor's bursts): drop what
 * the change broke, and make sure the relay still hears us. */
static void
network_gathered_cb (WzpNetworkInfo *network,
                     gboolean        changed,
                     WzpClient      *self)
{
  g_auto(GStrv) own = _wzp_network_info_dup_own_addresses (network);
  g_autoptr(GPtrArray) calls = dup_calls (self);

  for (guint i = 0; i < calls->len; i++)
    _wzp_call_network_changed (g_ptr_array_index (calls, i), (const char * const *) own);

  if (self->registered)
    {
      g_autoptr(WzpMessage) reflect = NULL;

      if (!_wzp_connection_is_on_own_address (self->socket_conn, (const char * const *) own))
        {
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                            "MESSAGE", "The network changed under the relay connection; "
                            "registering again");
          reconnect_at_once (self, g_error_new (G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE,
                                                "The network changed: this computer no "
                                                "longer has the address the relay "
                                                "connection used"));
          return;
        }
      /* The address is still ours, but the way to the relay may be gone, and the relay
       * may see us elsewhere now (a new NAT): ask it. */
      reflect = _wzp_message_new (WZP_MESSAGE_REFLECT);
      _wzp_client_send (self, reflect);
      expect_answer (self, NETWORK_CHANGE_ANSWER_MS);
    }
  else if (self->reconnect_id != 0)
    {
      /* Waiting to retry: the network that failed us may be back. */
      _wzp_clear_source (self->context, &self->reconnect_id);
      start_attempt (self);
    }
}

static gboolean
ensure_port (WzpClient  *self,
             GError    **error)
{
  if (self->shared_port == NULL)
    {
      self->shared_port = _wzp_shared_port_new (self->requested_port,
                                                self->test_loopback
                                                  ? WZP_SHARED_PORT_FLAGS_LOOPBACK
                                                  : WZP_SHARED_PORT_FLAGS_NONE,
                                                error);
      if (self->shared_port == NULL)
        return FALSE;
      g_signal_connect_object (self->shared_port, "incoming", G_CALLBACK (port_incoming_cb),
                               self, 0);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORT]);
    }

  if (self->network == NULL)
    {
      self->network = _wzp_network_info_new (_wzp_shared_port_get_port (self->shared_port),
                                             self->test_loopback);
      if (self->deny_list != NULL)
        _wzp_network_info_set_deny_list (self->network, (const char * const *) self->deny_list);
      if (self->allow_list != NULL)
        _wzp_network_info_set_allow_list (self->network,
                                          (const char * const *) self->allow_list);
      /* First: the calls hear of any change before anyone hears of it from us. */
      g_signal_connect_object (self->network, "notify", G_CALLBACK (network_changed_cb),
                               self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->network, "notify::nat-type",
                               G_CALLBACK (network_notify_cb), self, 0);
      g_signal_connect_object (self->network, "notify::host-candidates",
                               G_CALLBACK (network_notify_cb), self, 0);
      g_signal_connect_object (self->network, "gathered",
                               G_CALLBACK (network_gathered_cb), self, 0);
      publish_local_candidates (self);
      _wzp_network_info_gather_async (self->network, NULL, NULL, NULL);
    }
  return TRUE;
}

static void
start_attempt (WzpClient *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autofree char *host = NULL;
  g_autofree char *uri_pin = NULL;
  Attempt *attempt;
  guint16 port;

  drop_connection (self);
  self->cancellable = g_cancellable_new ();

  if (self->relay_uri == NULL)
    {
      connection_failed (self, g_error_new (WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_NO_RELAY,
                                            "No relay is configured"));
      return;
    }
  if (!_wzp_relay_uri_parse (self->relay_uri, &host, &port, &uri_pin, &error) ||
      !ensure_port (self, &error))
    {
      connection_failed (self, g_steal_pointer (&error));
      return;
    }

  attempt = g_new0 (Attempt, 1);
  attempt->client = g_object_ref (self);
  attempt->host_key = _wzp_known_relay_key (host, port);
  attempt->pin_from_uri = (uri_pin != NULL);
  attempt->pin = g_steal_pointer (&uri_pin);
  if (attempt->pin == NULL && g_strcmp0 (attempt->host_key, self->known_key) == 0)
    attempt->pin = g_strdup (self->known_pin);
  if (attempt->pin == NULL)
    {
      if (!_wzp_known_relay_lookup (attempt->host_key, &attempt->pin, &error))
        {
          attempt_free (attempt);
          connection_failed (self, g_steal_pointer (&error));
          return;
        }
      if (attempt->pin != NULL)
        keep_known_pin (self, attempt->host_key, attempt->pin);
    }

  if (self->state != WZP_CLIENT_STATE_RECONNECTING)
    set_state (self, WZP_CLIENT_STATE_CONNECTING, NULL);

  /* From P: the reflexive address the relay sees is where P is reachable from outside
   * (docs/decisions.md, "One port per client"). */
  connectable = g_network_address_new (host, port);
  _wzp_tls_dial_async (connectable, self->shared_port,
                       wzp_identity_get_certificate (self->identity), attempt->pin, 0,
                       self->cancellable, dialled_cb, attempt);
}

/* Public API */

/**
 * wzp_client_new:
 * @identity: the user's identity
 *
 * Returns: (transfer full): a new client, not connected
 *
 * Since: 1.0
 */
WzpClient *
wzp_client_new (WzpIdentity *identity)
{
  g_return_val_if_fail (WZP_IS_IDENTITY (identity), NULL);

  return g_object_new (WZP_TYPE_CLIENT, "identity", identity, NULL);
}

/**
 * wzp_client_connect_async:
 * @self: a client
 * @cancellable: (nullable): a #GCancellable; cancelling it gives up connecting
 * @callback: (scope async) (closure user_data): called once registered, or on failure
 * @user_data: data for @callback
 *
 * Connects to [property@Wzp.Client:relay-uri] from the client's port and registers. The
 * client then keeps the registration alive: after a lost connection it reconnects with
 * backoff ([property@Wzp.Client:state] is %WZP_CLIENT_STATE_RECONNECTING meanwhile),
 * until [method@Wzp.Client.unregister]: it waits 250 ms, doubling to 10 s, each wait
 * times a random factor between 0.5 and 1.5 so that clients dropped together do not
 * come back together, and at least 2 s after a relay turned it away as busy
 * (%WZP_CLIENT_ERROR_RELAY_BUSY, %WZP_CLIENT_ERROR_RELAY_TOO_MANY_CONNECTIONS). It gives
 * up only on errors that retrying cannot fix (a relay whose fingerprint changed, another
 * program using the identity).
 *
 * An alias ([property@Wzp.Client:alias]) longer than 64 characters fails at once with
 * %G_IO_ERROR_INVALID_ARGUMENT: relays refuse it.
 *
 * Since: 1.0
 */
void
wzp_client_connect_async (WzpClient           *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (WZP_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, wzp_client_connect_async);

  if (self->state == WZP_CLIENT_STATE_CONNECTED)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (self->connect_task != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               "Already connecting to the relay");
      return;
    }

  /* The relay would refuse the registration; say so before trying. */
  if (!_wzp_alias_check (self->alias, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  self->connect_task = g_steal_pointer (&task);
  if (cancellable != NULL)
    self->connect_cancel_id = g_cancellable_connect (cancellable,
                                                     G_CALLBACK (connect_cancelled_cb),
                                                     self, NULL);
  _wzp_clear_source (self->context, &self->reconnect_id);
  self->backoff_ms = 0;
  forget_known_pin (self);
  start_attempt (self);
}

/**
 * wzp_client_connect_finish:
 * @self: a client
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the client is registered
 *
 * Since: 1.0
 */
gboolean
wzp_client_connect_finish (WzpClient     *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * wzp_client_unregister:
 * @self: a client
 *
 * Hangs up every call and closes the connection to the relay; no reconnection follows.
 *
 * Since: 1.0
 */
void
wzp_client_unregister (WzpClient *self)
{
  g_autoptr(GPtrArray) calls = NULL;

  g_return_if_fail (WZP_IS_CLIENT (self));

  calls = dup_calls (self);
  for (guint i = 0; i < calls->len; i++)
    wzp_call_hangup (g_ptr_array_index (calls, i));

  _wzp_clear_source (self->context, &self->reconnect_id);
  if (self->connect_task != NULL)
    {
      g_autoptr(GTask) task = take_connect_task (self);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "Disconnected before the registration completed");
    }
  drop_connection (self);
  set_state (self, WZP_CLIENT_STATE_DISCONNECTED, NULL);
}

/**
 * wzp_client_place_call_async:
 * @self: a registered client
 * @fingerprint: whom to call
 * @cancellable: (nullable): a #GCancellable; cancelling it hangs the call up
 * @callback: (scope async) (closure user_data): called once the call is connected, or
 *   when it failed (declined, busy, unknown, unreachable)
 * @user_data: data for @callback
 *
 * Calls @fingerprint. The call's paths are authenticated against exactly this
 * fingerprint, whatever the relay says.
 *
 * Since: 1.0
 */
void
wzp_client_place_call_async (WzpClient           *self,
                             const char          *fingerprint,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(WzpCall) call = NULL;

  g_return_if_fail (WZP_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, wzp_client_place_call_async);

  if (fingerprint == NULL || !wzp_fingerprint_is_valid (fingerprint))
    {
      g_task_return_new_error (task, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_INVALID_FINGERPRINT,
                               "“%s” is not a fingerprint (8 groups of 4 lower-case hex "
                               "digits separated by colons)", fingerprint ? fingerprint : "");
      return;
    }
  if (!self->registered)
    {
      g_task_return_new_error (task, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_NOT_CONNECTED,
                               "Not connected to a relay");
      return;
    }

  call = _wzp_call_new_outgoing (&(WzpCallSink) { G_OBJECT (self), call_send_cb, call_ended_cb },
                                 self->identity, self->shared_port, self->test_loopback,
                                 fingerprint, self->privacy);
  adopt_call (self, call);
  _wzp_call_start (call, task, self->alias);
  g_signal_emit (self, signals[SIGNAL_OUTGOING_CALL], 0, call);
}

/**
 * wzp_client_place_call_finish:
 * @self: a client
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the connected call
 *
 * Since: 1.0
 */
WzpCall *
wzp_client_place_call_finish (WzpClient     *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Accessors */

/**
 * wzp_client_get_identity:
 * @self: a client
 *
 * Returns: (transfer none): the client's identity
 *
 * Since: 1.0
 */
WzpIdentity *
wzp_client_get_identity (WzpClient *self)
{
  g_return_val_if_fail (WZP_IS_CLIENT (self), NULL);
  return self->identity;
}

/**
 * wzp_client_get_relay_uri:
 * @self: a client
 *
 * Returns: (nullable): the relay URI
 *
 * Since: 1.0
 */
const char *
wzp_client_get_relay_uri (WzpClient *self)
{
  g_return_val_if_fail (WZP_IS_CLIENT (self), NULL);
  return self->relay_uri;
}

/**
 * wzp_client_set_relay_uri:
 * @self: a client
 * @uri: (nullable): `wzps://HOST:PORT#FINGERPRINT`; without the fingerprint the relay's
 *   identity is trusted on first use and remembered
 *
 * Sets the relay. A connected client moves to the new relay at once.
 *
 * Since: 1.0
 */
void
wzp_client_set_relay_uri (WzpClient  *self,
                          const char *uri)
{
  g_return_if_fail (WZP_IS_CLIENT (self));

  if (g_strcmp0 (self->relay_uri, uri) == 0)
    return;
  g_free (self->relay_uri);
  self->relay_uri = g_strdup (uri);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RELAY_URI]);
  forget_known_pin (self);

  if (self->state == WZP_CLIENT_STATE_CONNECTED || self->state == WZP_CLIENT_STATE_RECONNECTING)
    {
      _wzp_clear_source (self->context, &self->reconnect_id);
      self->backoff_ms = 0;
      start_attempt (self);
    }
}

/**
 * wzp_client_get_alias:
 * @self: a client
 *
 * Returns: (nullable): the name shown to people this client calls
 *
 * Since: 1.0
 */
const char *
wzp_client_get_alias (WzpClient *self)
{
  g_return_val_if_fail (WZP_IS_CLIENT (self), NULL);
  return self->alias;
}

/**
 * wzp_client_set_alias:
 * @self: a client
 * @alias: (nullable): a display name
 *
 * Sets the name shown to the people this client calls (taking effect at the next
 * registration and call). An alias has at most 64 characters: with a longer one,
 * [method@Wzp.Client.connect_async] fails with %G_IO_ERROR_INVALID_ARGUMENT, and calls
 * placed while connected are refused by the relay.
 *
 * Since: 1.0
 */
void
wzp_client_set_alias (WzpClient  *self,
                      const char *alias)
{
  g_return_if_fail (WZP_IS_CLIENT (self));

  if (g_strcmp0 (self->alias, alias) == 0)
    return;
  g_free (self->alias);
  self->alias = g_strdup (alias);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ALIAS]);
}

/**
 * wzp_client_get_privacy:
 * @self: a client
 *
 * Returns: whether calls share no addresses by default
 *
 * Since: 1.0
 */
gboolean
wzp_client_get_privacy (WzpClient *self)
{
  g_return_val_if_fail (WZP_IS_CLIENT (self), FALSE);
  return self->privacy;
}

/**
 * wzp_client_set_privacy:
 * @self: a client
 * @privacy: %TRUE to share no addresses in calls (they then run over the relay)
 *
 * Since: 1.0
 */
void
wzp_client_set_privacy (WzpClient *self,
                        gboolean   privacy)
{
  g_return_if_fail (WZP_IS_CLIENT (self));

  privacy = !!privacy;
  if (self->privacy == privacy)
    return;
  self->privacy = privacy;
  {
    GHashTableIter iter;
    WzpCall *call;

    g_hash_table_iter_init (&iter, self->calls);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &call))
      _wzp_call_set_client_privacy (call, privacy);
  }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PRIVACY]);
}

/**
 * wzp_client_get_audio_source:
 * @self: a client
 *
 * Returns: (nullable): the audio source of new calls, or %NULL for the system's default
 *   microphone
 *
 * Since: 1.0
 */
const char *
wzp_client_get_audio_source (WzpClient *self)
{
  g_return_val_if_fail (WZP_IS_CLIENT (self), NULL);
  return self->audio_source;
}

/**
 * wzp_client_set_audio_source:
 * @self: a client
 * @source: (nullable): a GStreamer description of a live audio source: a microphone's
 *   [property@Wzp.AudioDevice:id], `audiotestsrc is-live=true`,
 *   `filesrc location=talk.wav ! wavparse ! clocksync`; `none` to send silence; or %NULL
 *   for the system's default microphone
 *
 * Sets where new calls take this side's voice from; calls under way keep theirs. With
 * both the source and the sink `none`, calls carry no voice at all. A chosen device that
 * is not there, or goes away during a call, is replaced by the system's default, and
 * [property@Wzp.Call:audio-error] says so.
 *
 * Since: 1.0
 */
void
wzp_client_set_audio_source (WzpClient  *self,
                             const char *source)
{
  g_return_if_fail (WZP_IS_CLIENT (self));

  if (g_strcmp0 (self->audio_source, source) == 0)
    return;
  g_free (self->audio_source);
  self->audio_source = g_strdup (source);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUDIO_SOURCE]);
}

/**
 * wzp_client_get_audio_sink:
 * @self: a client
 *
 * Returns: (nullable): the audio sink of new calls, or %NULL for the system's default
 *   output
 *
 * Since: 1.0
 */
const char *
wzp_client_get_audio_sink (WzpClient *self)
{
  g_return_val_if_fail (WZP_IS_CLIENT (self), NULL);
  return self->audio_sink;
}

/**
 * wzp_client_set_audio_sink:
 * @self: a client
 * @sink: (nullable): a GStreamer description of an audio sink: an output's
 *   [property@Wzp.AudioDevice:id], `wavenc ! filesink location=heard.wav`, `fakesink`;
 *   `none` to play nothing; or %NULL for the system's default output
 *
 * Sets where new calls play the other side's voice; calls under way keep theirs. A
 * chosen device that is not there, or goes away during a call, is replaced by the
 * system's default, and [property@Wzp.Call:audio-error] says so.
 *
 * Since: 1.0
 */
void
wzp_client_set_audio_sink (WzpClient  *self,
                           const char *sink)
{
  g_return_if_fail (WZP_IS_CLIENT (self));

  if (g_strcmp0 (self->audio_sink, sink) == 0)
    return;
  g_free (self->audio_sink);
  self->audio_sink = g_strdup (sink);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUDIO_SINK]);
}

/**
 * wzp_client_get_state:
 * @self: a client
 *
 * Returns: the state of the connection to the relay
 *
 * Since: 1.0
 */
WzpClientState
wzp_client_get_state (WzpClient *self)
{
  g_return_val_if_fail (WZP_IS_CLIENT (self), WZP_CLIENT_STATE_DISCONNECTED);
  return self->state;
}

/**
 * wzp_client_get_error_message:
 * @self: a client
 *
 * Returns: (nullable): why the last connection attempt failed, for the user
 *
 * Since: 1.0
 */
const char *
wzp_client_get_error_message (WzpClient *self)
{
  g_return_val_if_fail (WZP_IS_CLIENT (self), NULL);
  return self->error_message;
}

/**
 * wzp_client_get_error:
 * @self: a client
 *
 * Why the client is %WZP_CLIENT_STATE_RECONNECTING or %WZP_CLIENT_STATE_FAILED, with
 * the error's domain and code: [property@Wzp.Client:error].
 *
 * Returns: (nullable) (transfer none): the error of the last failed attempt, or %NULL
 *
 * Since: 1.0
 */
const GError *
wzp_client_get_error (WzpClient *self)
{
  g_return_val_if_fail (WZP_IS_CLIENT (self), NULL);
  return self->error;
}

/**
 * wzp_client_get_observed_address:
 * @self: a client
 *
 * Returns: (nullable): the address the relay sees this client at
 *
 * Since: 1.0
 */
const char *
wzp_client_get_observed_address (WzpClient *self)
{
  g_return_val_if_fail (WZP_IS_CLIENT (self), NULL);
  return self->network ? _wzp_network_info_get_observed_address (self->network) : NULL;
}

/**
 * wzp_client_get_nat_type:
 * @self: a client
 *
 * Returns: the IPv4 NAT mapping type, as measured against the relay and reflectors
 *
 * Since: 1.0
 */
WzpNatType
wzp_client_get_nat_type (WzpClient *self)
{
  g_return_val_if_fail (WZP_IS_CLIENT (self), WZP_NAT_TYPE_UNKNOWN);
  return self->network ? _wzp_network_info_get_nat_type (self->network, G_SOCKET_FAMILY_IPV4)
                       : WZP_NAT_TYPE_UNKNOWN;
}

/**
 * wzp_client_get_port:
 * @self: a client
 *
 * Returns: the client's port P once connected; before, the requested one (0: random)
 *
 * Since: 1.0
 */
guint
wzp_client_get_port (WzpClient *self)
{
  g_return_val_if_fail (WZP_IS_CLIENT (self), 0);
  return self->shared_port ? _wzp_shared_port_get_port (self->shared_port)
                           : self->requested_port;
}

/* Private */

void
_wzp_client_set_test_loopback (WzpClient *self,
                               gboolean   loopback)
{
  self->test_loopback = loopback;
}

gboolean
_wzp_client_get_test_loopback (WzpClient *self)
{
  return self->test_loopback;
}

GMainContext *
_wzp_client_get_context (WzpClient *self)
{
  return self->context;
}

WzpSharedPort *
_wzp_client_get_shared_port (WzpClient *self)
{
  return self->shared_port;
}

WzpNetworkInfo *
_wzp_client_get_network_info (WzpClient *self)
{
  return self->network;
}

/* GObject */

static void
wzp_client_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  WzpClient *self = WZP_CLIENT (object);

  switch (prop_id)
    {
    case PROP_IDENTITY:
      g_value_set_object (value, self->identity);
      break;
    case PROP_FINGERPRINT:
      g_value_set_string (value, _wzp_client_get_fingerprint (self));
      break;
    case PROP_RELAY_URI:
      g_value_set_string (value, self->relay_uri);
      break;
    case PROP_ALIAS:
      g_value_set_string (value, self->alias);
      break;
    case PROP_PRIVACY:
      g_value_set_boolean (value, self->privacy);
      break;
    case PROP_AUDIO_SOURCE:
      g_value_set_string (value, self->audio_source);
      break;
    case PROP_AUDIO_SINK:
      g_value_set_string (value, self->audio_sink);
      break;
    case PROP_PORT:
      g_value_set_uint (value, wzp_client_get_port (self));
      break;
    case PROP_REFLECTORS:
      g_value_set_boxed (value, self->reflectors);
      break;
    case PROP_DENY_LIST:
      g_value_set_boxed (value, self->deny_list);
      break;
    case PROP_ALLOW_LIST:
      g_value_set_boxed (value, self->allow_list);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_ERROR_MESSAGE:
      g_value_set_string (value, self->error_message);
      break;
    case PROP_ERROR:
      g_value_set_boxed (value, self->error);
      break;
    case PROP_OBSERVED_ADDRESS:
      g_value_set_string (value, wzp_client_get_observed_address (self));
      break;
    case PROP_NAT_TYPE:
      g_value_set_enum (value, wzp_client_get_nat_type (self));
      break;
    case PROP_HOST_CANDIDATES:
      g_value_take_boxed (value, self->network
                                   ? _wzp_network_info_dup_host_candidates (self->network)
                                   : NULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
wzp_client_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  WzpClient *self = WZP_CLIENT (object);

  switch (prop_id)
    {
    case PROP_IDENTITY:
      self->identity = g_value_dup_object (value);
      break;
    case PROP_RELAY_URI:
      wzp_client_set_relay_uri (self, g_value_get_string (value));
      break;
    case PROP_ALIAS:
      wzp_client_set_alias (self, g_value_get_string (value));
      break;
    case PROP_PRIVACY:
      wzp_client_set_privacy (self, g_value_get_boolean (value));
      break;
    case PROP_AUDIO_SOURCE:
      wzp_client_set_audio_source (self, g_value_get_string (value));
      break;
    case PROP_AUDIO_SINK:
      wzp_client_set_audio_sink (self, g_value_get_string (value));
      break;
    case PROP_PORT:
      self->requested_port = g_value_get_uint (value);
      break;
    case PROP_REFLECTORS:
      if (_wzp_strv_replace (&self->reflectors, g_value_get_boxed (value)))
        g_object_notify_by_pspec (object, pspec);
      break;
    case PROP_DENY_LIST:
      if (!_wzp_strv_replace (&self->deny_list, g_value_get_boxed (value)))
        break;
      if (self->network != NULL)
        _wzp_network_info_set_deny_list (self->network, (const char * const *) self->deny_list);
      g_object_notify_by_pspec (object, pspec);
      break;
    case PROP_ALLOW_LIST:
      if (!_wzp_strv_replace (&self->allow_list, g_value_get_boxed (value)))
        break;
      if (self->network != NULL)
        _wzp_network_info_set_allow_list (self->network,
                                          (const char * const *) self->allow_list);
      g_object_notify_by_pspec (object, pspec);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
wzp_client_dispose (GObject *object)
{
  WzpClient *self = WZP_CLIENT (object);

  if (self->calls != NULL)
    {
      g_autoptr(GPtrArray) calls = dup_calls (self);

      for (guint i = 0; i < calls->len; i++)
        _wzp_call_abandon (g_ptr_array_index (calls, i), "The client went away");
      g_hash_table_remove_all (self->calls);
    }
  _wzp_clear_source (self->context, &self->reconnect_id);
  _wzp_clear_source (self->context, &self->announce_id);
  drop_connection (self);
  if (self->shared_port != NULL)
    _wzp_shared_port_close (self->shared_port);
  g_clear_object (&self->shared_port);
  g_clear_object (&self->network);
  if (self->connect_task != NULL)
    {
      g_autoptr(GTask) task = take_connect_task (self);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The client went away");
    }

  G_OBJECT_CLASS (wzp_client_parent_class)->dispose (object);
}

static void
wzp_client_finalize (GObject *object)
{
  WzpClient *self = WZP_CLIENT (object);

  g_clear_object (&self->identity);
  g_clear_pointer (&self->calls, g_hash_table_unref);
  g_clear_pointer (&self->local, _wzp_local_candidates_unref);
  g_clear_pointer (&self->awaiting_by_source, g_hash_table_unref);
  g_free (self->relay_uri);
  g_free (self->alias);
  g_free (self->audio_source);
  g_free (self->audio_sink);
  g_free (self->error_message);
  g_clear_error (&self->error);
  g_free (self->relay_fingerprint);
  forget_known_pin (self);
  g_strfreev (self->reflectors);
  g_strfreev (self->deny_list);
  g_strfreev (self->allow_list);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (wzp_client_parent_class)->finalize (object);
}

static void
wzp_client_class_init (WzpClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = wzp_client_get_property;
  object_class->set_property = wzp_client_set_property;
  object_class->dispose = wzp_client_dispose;
  object_class->finalize = wzp_client_finalize;

  /**
   * WzpClient:identity:
   *
   * The user's identity.
   *
   * Since: 1.0
   */
  properties[PROP_IDENTITY] =
    g_param_spec_object ("identity", NULL, NULL, WZP_TYPE_IDENTITY,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:fingerprint:
   *
   * The user's fingerprint: the address people call.
   *
   * Since: 1.0
   */
  properties[PROP_FINGERPRINT] =
    g_param_spec_string ("fingerprint", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:relay-uri:
   *
   * The relay, as `wzps://HOST[:PORT][#FINGERPRINT]` (the port defaults to 4433;
   * without a fingerprint the relay's key is trusted on first use). An address that does
   * not parse fails the connection with %WZP_CLIENT_ERROR_INVALID_URI or
   * %WZP_CLIENT_ERROR_INVALID_FINGERPRINT and the message of wzp_relay_uri_validate(),
   * which checks one beforehand. A host name with several addresses is dialled at each
   * in turn.
   *
   * Since: 1.0
   */
  properties[PROP_RELAY_URI] =
    g_param_spec_string ("relay-uri", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:alias:
   *
   * The name shown to people this client calls.
   *
   * Since: 1.0
   */
  properties[PROP_ALIAS] =
    g_param_spec_string ("alias", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:privacy:
   *
   * Whether calls share no addresses (and so run over the relay).
   *
   * Since: 1.0
   */
  properties[PROP_PRIVACY] =
    g_param_spec_boolean ("privacy", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:audio-source:
   *
   * Where new calls take this side's voice from: a GStreamer description of a live
   * source (a [property@Wzp.AudioDevice:id] of [class@Wzp.AudioDevices]), `none` to send
   * silence, or %NULL for the system's default microphone.
   *
   * Since: 1.0
   */
  properties[PROP_AUDIO_SOURCE] =
    g_param_spec_string ("audio-source", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:audio-sink:
   *
   * Where new calls play the other side's voice: a GStreamer description of a sink (a
   * [property@Wzp.AudioDevice:id] of [class@Wzp.AudioDevices]), `none` to play nothing,
   * or %NULL for the system's default output.
   *
   * Since: 1.0
   */
  properties[PROP_AUDIO_SINK] =
    g_param_spec_string ("audio-sink", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:port:
   *
   * The client's TCP port P for direct connections and its relay connection; 0 (the
   * default) picks a random free port at the first connection.
   *
   * Since: 1.0
   */
  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 0, 65535, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:reflectors:
   *
   * Extra relay URIs to ask for the reflexive address when measuring the NAT type.
   *
   * Since: 1.0
   */
  properties[PROP_REFLECTORS] =
    g_param_spec_boxed ("reflectors", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:deny-list:
   *
   * Interface name patterns (`docker*`, `wg*`, ...) whose addresses are never offered;
   * %NULL means the default list.
   *
   * Since: 1.0
   */
  properties[PROP_DENY_LIST] =
    g_param_spec_boxed ("deny-list", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:allow-list:
   *
   * Interface name patterns offered even when the deny list matches them.
   *
   * Since: 1.0
   */
  properties[PROP_ALLOW_LIST] =
    g_param_spec_boxed ("allow-list", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:state:
   *
   * The state of the connection to the relay.
   *
   * Since: 1.0
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, WZP_TYPE_CLIENT_STATE,
                       WZP_CLIENT_STATE_DISCONNECTED,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:error-message:
   *
   * Why the connection failed, for the user; %NULL while connected.
   *
   * Since: 1.0
   */
  properties[PROP_ERROR_MESSAGE] =
    g_param_spec_string ("error-message", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:error:
   *
   * Why the connection failed, as the error itself, so that the reason can be told
   * apart by its domain and code (an app shows each in its own way): set with
   * [property@Wzp.Client:error-message], whose text it carries, while the client is
   * %WZP_CLIENT_STATE_RECONNECTING or %WZP_CLIENT_STATE_FAILED, and %NULL while it
   * connects for the first time, is connected or disconnected. Both are set before
   * [property@Wzp.Client:state] changes, so a handler of `notify::state` reads the
   * reason of the new state.
   *
   * It matters most for the failures the client does not retry, which come after
   * [method@Wzp.Client.connect_finish] has returned when the client was connected
   * before: %WZP_CLIENT_ERROR_REPLACED (another program registered with the same
   * identity at the relay: tell the user, and connect again only when they ask),
   * %WZP_CLIENT_ERROR_RELAY_PIN_MISMATCH (the relay at the address does not have the
   * fingerprint the address pins: the address or the fingerprint in it is wrong) and
   * %WZP_CLIENT_ERROR_RELAY_FINGERPRINT_CHANGED (a relay trusted on first use presents
   * another key than the first time: possibly an interception). Errors the client
   * retries (the relay cannot be reached, %G_IO_ERROR_CONNECTION_REFUSED and the like)
   * come with %WZP_CLIENT_STATE_RECONNECTING; among them %WZP_CLIENT_ERROR_RELAY_BUSY and
   * %WZP_CLIENT_ERROR_RELAY_TOO_MANY_CONNECTIONS, when the relay turned the client away
   * before TLS (it waits at least 2 s before the next attempt then).
   *
   * Since: 1.0
   */
  properties[PROP_ERROR] =
    g_param_spec_boxed ("error", NULL, NULL, G_TYPE_ERROR,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:observed-address:
   *
   * The address the relay sees this client at (its reflexive address).
   *
   * Since: 1.0
   */
  properties[PROP_OBSERVED_ADDRESS] =
    g_param_spec_string ("observed-address", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:nat-type:
   *
   * The IPv4 NAT mapping type.
   *
   * Since: 1.0
   */
  properties[PROP_NAT_TYPE] =
    g_param_spec_enum ("nat-type", NULL, NULL, WZP_TYPE_NAT_TYPE, WZP_NAT_TYPE_UNKNOWN,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * WzpClient:host-candidates:
   *
   * The LAN addresses offered to peers, in dial order.
   *
   * Since: 1.0
   */
  properties[PROP_HOST_CANDIDATES] =
    g_param_spec_boxed ("host-candidates", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * WzpClient::incoming-call:
   * @self: the client
   * @call: the incoming call, in state %WZP_CALL_STATE_INCOMING
   *
   * Emitted when someone calls. Call [method@Wzp.Call.ring] when the user is alerted,
   * then [method@Wzp.Call.answer_async] or [method@Wzp.Call.hangup].
   *
   * Since: 1.0
   */
  signals[SIGNAL_INCOMING_CALL] =
    g_signal_new ("incoming-call", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, WZP_TYPE_CALL);

  /**
   * WzpClient::outgoing-call:
   * @self: the client
   * @call: the call just placed, in state %WZP_CALL_STATE_CALLING
   *
   * Emitted by [method@Wzp.Client.place_call_async] once the offer is on its way, long
   * before the call completes: connect to the call's signals here to follow it (ringing,
   * [signal@Wzp.Call::candidate-result], [signal@Wzp.Call::ended]) or to hang it up
   * before it connects.
   *
   * Since: 1.0
   */
  signals[SIGNAL_OUTGOING_CALL] =
    g_signal_new ("outgoing-call", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, WZP_TYPE_CALL);
}

static void
wzp_client_init (WzpClient *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->calls = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->local = _wzp_local_candidates_new_unknown (0);
  self->awaiting_by_source = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                    (GDestroyNotify) g_queue_free);
}
