/* wzp-relay-bus.c: the relay on D-Bus: owns org.wzp.Relay1 and exports its interface
 *
 * The interface (data/org.wzp.Relay1.xml, generated into wzp-relay-dbus.[ch]) mirrors
 * the WzpRelay: its properties are bound to the relay's (Peers is refreshed when a peer
 * or a link changes), its signals forward the relay's, and its methods read the relay
 * (its lists, its counters) or add and remove federation peers. On the system bus, the methods that change the relay
 * are for root and the relay's own user only: the bus policy says so, and the caller's
 * uid is checked here too, in case a local policy file is more generous.
 * GDebugControllerDBus sits beside it at /org/gtk/Debugging so that debug output can be
 * switched on in a running relay.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <unistd.h>

#include "wzp-relay-bus.h"
#include "wzp-relay-config.h"
#include "wzp-relay-dbus.h"

#define RELAY_DBUS_ERROR_PREFIX RELAY_BUS_NAME ".Error."

struct _WzpRelayBus
{
  WzpRelay             *relay;
  GBusType              bus_type;
  guint                 owner_id;
  gboolean              owned;          /* the name was acquired at least once */
  gboolean              lost;           /* lost_func was called */

  GDBusConnection      *connection;
  WzpDBusRelay1        *skeleton;
  GDebugControllerDBus *debug_controller;
  GBinding             *bindings[3];
  gulong                call_started_id;
  gulong                call_ended_id;
  gulong                peer_link_changed_id;
  gulong                peer_presence_changed_id;
  GHashTable           *link_states;    /* fingerprint -> last WzpPeerLinkState emitted + 1 */
  GCancellable         *cancellable;    /* pending authorization checks */

  WzpRelayBusLostFunc   lost_func;
  gpointer              user_data;
};

static const char *
bus_name_for_humans (GBusType bus_type)
{
  return bus_type == G_BUS_TYPE_SYSTEM ? "system bus" : "session bus";
}

static void
report_lost (WzpRelayBus *self,
             const char  *message)
{
  if (self->lost)
    return;
  self->lost = TRUE;
  self->lost_func (message, self->user_data);
}

/* Whether the caller of @invocation is root or the relay's own user. Blocking (it asks
 * the bus daemon): call it only from a worker thread, as GDebugControllerDBus::authorize
 * runs. */
static gboolean
caller_is_privileged_sync (GDBusMethodInvocation *invocation)
{
  GDBusConnection *connection = g_dbus_method_invocation_get_connection (invocation);
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  guint32 uid;

  reply = g_dbus_connection_call_sync (connection,
                                       "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetConnectionUnixUser",
                                       g_variant_new ("(s)", sender), G_VARIANT_TYPE ("(u)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  if (reply == NULL)
    {
      g_debug ("Cannot tell who %s is: %s", sender, error->message);
      return FALSE;
    }
  g_variant_get (reply, "(u)", &uid);
  return uid == 0 || uid == getuid ();
}

/* Runs in a worker thread; reads nothing that changes after construction. */
static gboolean
debug_controller_authorize_cb (GDebugControllerDBus  *controller,
                               GDBusMethodInvocation *invocation,
                               gpointer               user_data)
{
  GBusType bus_type = GPOINTER_TO_INT (user_data);
  gboolean allowed;

  /* On the session bus, everyone who can reach us is the user. */
  if (bus_type != G_BUS_TYPE_SYSTEM)
    return TRUE;

  allowed = caller_is_privileged_sync (invocation);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_DBUS_SENDER", g_dbus_method_invocation_get_sender (invocation),
                    "MESSAGE", "%s %s to switch debug output",
                    allowed ? "Allowed" : "Refused",
                    g_dbus_method_invocation_get_sender (invocation));
  return allowed;
}

/* Methods that change the relay */

typedef void (*PrivilegedFunc) (WzpRelayBus           *self,
                                GDBusMethodInvocation *invocation);

typedef struct
{
  WzpRelayBus           *self;          /* not to be touched once cancelled */
  GDBusMethodInvocation *invocation;
  PrivilegedFunc         func;
} PrivilegeCheck;

static void
unix_user_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  PrivilegeCheck *check = user_data;
  g_autoptr(GDBusMethodInvocation) invocation = check->invocation;
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  const char *method = g_dbus_method_invocation_get_method_name (invocation);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  WzpRelayBus *self = check->self;
  PrivilegedFunc func = check->func;
  guint32 uid;

  g_free (check);
  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* The relay is shutting down (and @self is gone). */
      g_dbus_method_invocation_return_dbus_error (invocation,
                                                  "org.freedesktop.DBus.Error.Failed",
                                                  "The relay is shutting down");
      return;
    }
  if (reply == NULL)
    {
      g_dbus_method_invocation_return_dbus_error (invocation,
                                                  "org.freedesktop.DBus.Error.AccessDenied",
                                                  "Cannot tell which user is calling");
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "WZP_DBUS_SENDER", sender,
                        "MESSAGE", "Refused %s from %s: cannot tell which user it is: %s",
                        method, sender, error->message);
      return;
    }

  g_variant_get (reply, "(u)", &uid);
  if (uid != 0 && uid != getuid ())
    {
      g_dbus_method_invocation_return_dbus_error (invocation,
                                                  "org.freedesktop.DBus.Error.AccessDenied",
                                                  "Only root and the relay's own user may "
                                                  "change the relay's federation peers");
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                        "WZP_DBUS_SENDER", sender,
                        "MESSAGE", "Refused %s from %s (uid %u): only root and the relay's "
                        "user may call it", method, sender, uid);
      return;
    }
  func (self, invocation);
}

/* Runs @func for @invocation if its caller may change the relay: anyone on the session
 * bus (everyone there is the user), root and the relay's own user on the system bus.
 * Asks the bus daemon who the caller is, asynchronously: the main loop carries calls. */
static void
run_privileged (WzpRelayBus           *self,
                GDBusMethodInvocation *invocation,
                PrivilegedFunc         func)
{
  PrivilegeCheck *check;

  if (self->bus_type != G_BUS_TYPE_SYSTEM)
    {
      func (self, invocation);
      return;
    }

  check = g_new0 (PrivilegeCheck, 1);
  check->self = self;
  check->invocation = g_object_ref (invocation);
  check->func = func;
  g_dbus_connection_call (g_dbus_method_invocation_get_connection (invocation),
                          "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionUnixUser",
                          g_variant_new ("(s)", g_dbus_method_invocation_get_sender (invocation)),
                          G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1,
                          self->cancellable, unix_user_cb, check);
}

/* A WzpRelayError as the D-Bus error that AddPeer and RemovePeer document. */
static void
return_relay_error (GDBusMethodInvocation *invocation,
                    const GError          *error)
{
  const char *name = "org.freedesktop.DBus.Error.Failed";

  if (error->domain == WZP_RELAY_ERROR)
    switch ((WzpRelayError) error->code)
      {
      case WZP_RELAY_ERROR_INVALID_PEER:
        name = RELAY_DBUS_ERROR_PREFIX "InvalidPeer";
        break;
      case WZP_RELAY_ERROR_DUPLICATE_PEER:
        name = RELAY_DBUS_ERROR_PREFIX "DuplicatePeer";
        break;
      case WZP_RELAY_ERROR_UNKNOWN_PEER:
        name = RELAY_DBUS_ERROR_PREFIX "UnknownPeer";
        break;
      case WZP_RELAY_ERROR_NOT_RUNNING:
        name = RELAY_DBUS_ERROR_PREFIX "NotRunning";
        break;
      case WZP_RELAY_ERROR_INVALID_ADDRESS:
      case WZP_RELAY_ERROR_LISTEN_FAILED:
      default:
        break;
      }
  g_dbus_method_invocation_return_dbus_error (invocation, name, error->message);
}

/* PeerLinkChanged, once per change: RemovePeer says "down" itself (a removed peer's link
 * is gone whether or not the relay reports it), so a later report must not repeat it. */
static void
emit_link_state (WzpRelayBus      *self,
                 const char       *fingerprint,
                 WzpPeerLinkState  state)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (WZP_TYPE_PEER_LINK_STATE);
  GEnumValue *value = g_enum_get_value (klass, state);
  gpointer last;

  if (g_hash_table_lookup_extended (self->link_states, fingerprint, NULL, &last) &&
      GPOINTER_TO_INT (last) == (int) state + 1)
    return;
  g_hash_table_insert (self->link_states, g_strdup (fingerprint), GINT_TO_POINTER (state + 1));
  wzp_dbus_relay1_emit_peer_link_changed (self->skeleton, fingerprint,
                                          value != NULL ? value->value_nick : "down");
}

/* Sets Peers from the relay: called on every ::peer-link-changed and
 * ::peer-presence-changed, and when peers are added or removed. The skeleton emits
 * PropertiesChanged only when the value differs. */
static void
refresh_peers (WzpRelayBus *self)
{
  g_autoptr(GVariant) peers = g_variant_take_ref (wzp_relay_list_peers (self->relay));

  wzp_dbus_relay1_set_peers (self->skeleton, peers);
}

static void
add_peer (WzpRelayBus           *self,
          GDBusMethodInvocation *invocation)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  const char *uri;
  g_autoptr(GError) error = NULL;

  g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(&s)", &uri);
  /* The same check, and so the same message, as for --peer and the configuration file;
   * the relay checks the rest (its own fingerprint, a peer twice). */
  if (!wzp_relay_config_check_relay_uri (uri, &error))
    {
      g_dbus_method_invocation_return_dbus_error (invocation,
                                                  RELAY_DBUS_ERROR_PREFIX "InvalidPeer",
                                                  error->message);
      return;
    }
  if (!wzp_relay_add_peer (self->relay, uri, &error))
    {
      return_relay_error (invocation, error);
      return;
    }
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_DBUS_SENDER", sender,
                    "MESSAGE", "Added federation peer %s (AddPeer from %s)", uri, sender);
  refresh_peers (self);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
remove_peer (WzpRelayBus           *self,
             GDBusMethodInvocation *invocation)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  const char *fingerprint;
  g_autoptr(GError) error = NULL;

  g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(&s)", &fingerprint);
  if (!wzp_fingerprint_is_valid (fingerprint))
    {
      g_dbus_method_invocation_return_dbus_error (invocation,
                                                  RELAY_DBUS_ERROR_PREFIX "UnknownPeer",
                                                  "Not a fingerprint: give the peer's "
                                                  "fingerprint as Peers shows it (8 groups "
                                                  "of 4 lower-case hex digits joined by "
                                                  "colons)");
      return;
    }

  if (!wzp_relay_remove_peer (self->relay, fingerprint, &error))
    {
      return_relay_error (invocation, error);
      return;
    }
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "WZP_DBUS_SENDER", sender,
                    "MESSAGE", "Removed federation peer %s (RemovePeer from %s)",
                    fingerprint, sender);
  refresh_peers (self);
  emit_link_state (self, fingerprint, WZP_PEER_LINK_DOWN);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static gboolean
handle_add_peer_cb (WzpDBusRelay1         *skeleton,
                    GDBusMethodInvocation *invocation,
                    const char            *uri,
                    gpointer               user_data)
{
  run_privileged (user_data, invocation, add_peer);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_remove_peer_cb (WzpDBusRelay1         *skeleton,
                       GDBusMethodInvocation *invocation,
                       const char            *fingerprint,
                       gpointer               user_data)
{
  run_privileged (user_data, invocation, remove_peer);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_registrations_cb (WzpDBusRelay1         *skeleton,
                              GDBusMethodInvocation *invocation,
                              gpointer               user_data)
{
  WzpRelayBus *self = user_data;

  wzp_dbus_relay1_complete_list_registrations (skeleton, invocation,
                                               wzp_relay_list_registrations (self->relay));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_calls_cb (WzpDBusRelay1         *skeleton,
                      GDBusMethodInvocation *invocation,
                      gpointer               user_data)
{
  WzpRelayBus *self = user_data;

  wzp_dbus_relay1_complete_list_calls (skeleton, invocation,
                                       wzp_relay_list_calls (self->relay));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_counters_cb (WzpDBusRelay1         *skeleton,
                        GDBusMethodInvocation *invocation,
                        gpointer               user_data)
{
  WzpRelayBus *self = user_data;
  g_autoptr(GVariant) counters = wzp_relay_dup_counters (self->relay);

  wzp_dbus_relay1_complete_get_counters (skeleton, invocation, counters);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
relay_call_started_cb (WzpRelay   *relay,
                       const char *call_id,
                       const char *caller,
                       const char *callee,
                       gpointer    user_data)
{
  WzpRelayBus *self = user_data;

  wzp_dbus_relay1_emit_call_started (self->skeleton, call_id, caller, callee);
}

static void
relay_call_ended_cb (WzpRelay   *relay,
                     const char *call_id,
                     const char *reason,
                     gpointer    user_data)
{
  WzpRelayBus *self = user_data;

  wzp_dbus_relay1_emit_call_ended (self->skeleton, call_id, reason);
}

static void
relay_peer_link_changed_cb (WzpRelay         *relay,
                            const char       *fingerprint,
                            WzpPeerLinkState  state,
                            gpointer          user_data)
{
  WzpRelayBus *self = user_data;

  refresh_peers (self);
  emit_link_state (self, fingerprint, state);
}

static void
relay_peer_presence_changed_cb (WzpRelay   *relay,
                                const char *fingerprint,
                                guint       n_announced,
                                gpointer    user_data)
{
  refresh_peers (user_data);
}

static void
export_debug_controller (WzpRelayBus     *self,
                         GDBusConnection *connection)
{
  g_autoptr(GError) error = NULL;

  self->debug_controller = g_debug_controller_dbus_new (connection, NULL, &error);
  if (self->debug_controller == NULL)
    {
      /* Not fatal: the relay works without it. */
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                        "MESSAGE", "Cannot export the debug controller: %s", error->message);
      return;
    }
  /* Without a handler every request is refused. */
  g_signal_connect (self->debug_controller, "authorize",
                    G_CALLBACK (debug_controller_authorize_cb),
                    GINT_TO_POINTER (self->bus_type));
  /* --verbose may have switched debug output on already. */
  g_debug_controller_set_debug_enabled (G_DEBUG_CONTROLLER (self->debug_controller),
                                        g_log_get_debug_enabled ());
}

/* The connection is up but the name is not ours yet: export now, so that the objects
 * are there the moment a client sees the name. */
static void
bus_acquired_cb (GDBusConnection *connection,
                 const char      *name,
                 gpointer         user_data)
{
  WzpRelayBus *self = user_data;
  g_autoptr(GError) error = NULL;

  self->connection = g_object_ref (connection);
  self->skeleton = wzp_dbus_relay1_skeleton_new ();

  wzp_dbus_relay1_set_fingerprint (self->skeleton, wzp_relay_get_fingerprint (self->relay));
  self->bindings[0] = g_object_bind_property (self->relay, "listen-addresses",
                                              self->skeleton, "listen-addresses",
                                              G_BINDING_SYNC_CREATE);
  self->bindings[1] = g_object_bind_property (self->relay, "n-registrations",
                                              self->skeleton, "registrations",
                                              G_BINDING_SYNC_CREATE);
  self->bindings[2] = g_object_bind_property (self->relay, "n-calls",
                                              self->skeleton, "active-calls",
                                              G_BINDING_SYNC_CREATE);

  refresh_peers (self);

  g_signal_connect (self->skeleton, "handle-list-registrations",
                    G_CALLBACK (handle_list_registrations_cb), self);
  g_signal_connect (self->skeleton, "handle-list-calls",
                    G_CALLBACK (handle_list_calls_cb), self);
  g_signal_connect (self->skeleton, "handle-get-counters",
                    G_CALLBACK (handle_get_counters_cb), self);
  g_signal_connect (self->skeleton, "handle-add-peer",
                    G_CALLBACK (handle_add_peer_cb), self);
  g_signal_connect (self->skeleton, "handle-remove-peer",
                    G_CALLBACK (handle_remove_peer_cb), self);
  self->call_started_id = g_signal_connect (self->relay, "call-started",
                                            G_CALLBACK (relay_call_started_cb), self);
  self->call_ended_id = g_signal_connect (self->relay, "call-ended",
                                          G_CALLBACK (relay_call_ended_cb), self);
  self->peer_link_changed_id = g_signal_connect (self->relay, "peer-link-changed",
                                                 G_CALLBACK (relay_peer_link_changed_cb),
                                                 self);
  self->peer_presence_changed_id =
    g_signal_connect (self->relay, "peer-presence-changed",
                      G_CALLBACK (relay_peer_presence_changed_cb), self);

  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->skeleton),
                                         connection, RELAY_OBJECT_PATH, &error))
    {
      g_autofree char *message = g_strdup_printf ("Cannot export %s on the %s: %s",
                                                  RELAY_OBJECT_PATH,
                                                  bus_name_for_humans (self->bus_type),
                                                  error->message);
      report_lost (self, message);
      return;
    }

  export_debug_controller (self, connection);
}

static void
name_acquired_cb (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  WzpRelayBus *self = user_data;

  self->owned = TRUE;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "MESSAGE", "Owning %s on the %s", name, bus_name_for_humans (self->bus_type));
}

static void
name_lost_cb (GDBusConnection *connection,
              const char      *name,
              gpointer         user_data)
{
  WzpRelayBus *self = user_data;
  g_autofree char *message = NULL;
  const char *bus = bus_name_for_humans (self->bus_type);

  if (connection == NULL)
    message = g_strdup_printf ("Cannot connect to the %s", bus);
  else if (g_dbus_connection_is_closed (connection))
    message = g_strdup_printf ("The connection to the %s was closed", bus);
  else if (self->owned)
    message = g_strdup_printf ("Another relay replaced this one as %s on the %s", name, bus);
  else if (self->bus_type == G_BUS_TYPE_SYSTEM)
    message = g_strdup_printf ("Cannot own %s on the %s: another relay owns it, or this "
                               "user may not (the bus policy lets only the wzp-relay user "
                               "own it)", name, bus);
  else
    message = g_strdup_printf ("Another relay already owns %s on the %s; stop it, or start "
                               "this one with --replace", name, bus);
  report_lost (self, message);
}

/* Starts owning org.wzp.Relay1 on @bus_type and exporting @relay there. @lost_func is
 * called (once) when that fails or stops; the caller should then exit. */
WzpRelayBus *
wzp_relay_bus_new (WzpRelay            *relay,
                   GBusType             bus_type,
                   gboolean             replace,
                   WzpRelayBusLostFunc  lost_func,
                   gpointer             user_data)
{
  WzpRelayBus *self;
  GBusNameOwnerFlags flags;

  g_return_val_if_fail (WZP_IS_RELAY (relay), NULL);
  g_return_val_if_fail (bus_type == G_BUS_TYPE_SESSION || bus_type == G_BUS_TYPE_SYSTEM, NULL);
  g_return_val_if_fail (lost_func != NULL, NULL);

  self = g_new0 (WzpRelayBus, 1);
  self->relay = g_object_ref (relay);
  self->bus_type = bus_type;
  self->lost_func = lost_func;
  self->user_data = user_data;
  self->cancellable = g_cancellable_new ();
  self->link_states = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  /* One relay per name: a second one fails at once instead of queueing. Every relay
   * allows replacement, so --replace takes over whichever relay is running (as mutter
   * and gnome-shell do), not only one that was itself started with --replace. */
  flags = G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE | G_BUS_NAME_OWNER_FLAGS_ALLOW_REPLACEMENT;
  if (replace)
    flags |= G_BUS_NAME_OWNER_FLAGS_REPLACE;

  self->owner_id = g_bus_own_name (bus_type, RELAY_BUS_NAME, flags,
                                   bus_acquired_cb, name_acquired_cb, name_lost_cb,
                                   self, NULL);
  return self;
}

/* Unexports everything, releases the name and flushes, so that signals emitted during
 * shutdown (CallEnded) and the name release reach the bus before the process exits. */
void
wzp_relay_bus_free (WzpRelayBus *self)
{
  if (self == NULL)
    return;

  /* After losing the name to a replacement, GLib 2.74 still sends ReleaseName on unown
   * and warns about the NOT_OWNER reply: only unown a name that was not lost. (The
   * process exits right after losing it.) */
  if (!self->lost)
    g_clear_handle_id (&self->owner_id, g_bus_unown_name);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_signal_handler (&self->call_started_id, self->relay);
  g_clear_signal_handler (&self->call_ended_id, self->relay);
  g_clear_signal_handler (&self->peer_link_changed_id, self->relay);
  g_clear_signal_handler (&self->peer_presence_changed_id, self->relay);
  for (guint i = 0; i < G_N_ELEMENTS (self->bindings); i++)
    if (self->bindings[i] != NULL)
      g_binding_unbind (self->bindings[i]);

  if (self->debug_controller != NULL)
    {
      /* Waits for authorize handlers still running in worker threads. */
      g_debug_controller_dbus_stop (self->debug_controller);
      g_clear_object (&self->debug_controller);
    }
  if (self->skeleton != NULL)
    {
      g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
      g_clear_object (&self->skeleton);
    }
  if (self->connection != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!g_dbus_connection_is_closed (self->connection) &&
          !g_dbus_connection_flush_sync (self->connection, NULL, &error))
        g_debug ("Cannot flush the bus connection: %s", error->message);
      g_clear_object (&self->connection);
    }

  g_clear_pointer (&self->link_states, g_hash_table_unref);
  g_clear_object (&self->relay);
  g_free (self);
}
