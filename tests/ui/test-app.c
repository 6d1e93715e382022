/* test-app.c: the registered wzp-gtk application against a relay in this process, with
 * wzp-cli processes as the people it calls and who call it.
 *
 * The cases run in order and share one application (GApplication registers once per
 * process): start-up without a relay, relay errors, preferences changing the client, an
 * outgoing call with its path badge, mute (button and Ctrl+M), volume, quality and a lost
 * path ("Reconnecting…"), then hang-up; a call hung up by the peer; incoming calls on the
 * ringing page with another window focused and through notifications (answer, answer
 * privately, decline), the ringtone and Do Not Disturb, a missed call, a second caller told
 * busy; outcomes on the call page (busy, declined, then Call Again; no answer; an unknown
 * callee); the window closed during a call and opened again, quitting during a call;
 * screenshots of the main window, the ringing page, the call page and an outcome.
 *
 * Sounds go to a fake WzpSoundPlayer that records what would have played. The app's
 * client has no sound card to use: its microphone is a silent test source and its output
 * a fakesink, set through the same GSettings keys as the device choice.
 *
 * Notifications go to a fake org.gtk.Notifications server owned by this process on the
 * session bus of dbus-run-session, which records what the app sends.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "test-util.h"
#include "ui-test-util.h"
#include "wzp-application-private.h"
#include "wzp-background.h"
#include "wzp-call-page.h"
#include "wzp-call-private.h"
#include "wzp-client-private.h"
#include "wzp-dialer-page.h"
#include "wzp-fingerprint-text.h"
#include "wzp-gtk-util.h"
#include "wzp-identity-dialog.h"
#include "wzp-link.h"
#include "wzp-preferences-window.h"
#include "wzp-ringing-page.h"
#include "wzp-sound-player.h"
#include "wzp-window.h"

#define TIMEOUT_MS 20000
#define UNKNOWN_FP "0000:1111:2222:3333:4444:5555:6666:7777"
/* Fake audio: no sound card needed (docs/voice.md, "Sources and sinks"). */
#define TEST_SOURCE "audiotestsrc is-live=true wave=silence"
#define TEST_SINK   "fakesink sync=true"

static struct
{
  WzpApplication *app;
  WzpRelay       *relay;
  char           *relay_uri;
  char           *peer_identity;    /* wzp-cli's key file: always the same person */
  char           *peer_fingerprint;
  char           *peer2_identity;   /* a second person, "Dana", not in the contacts */
  char           *peer2_fingerprint;
  char           *tmp_dir;
  GObject        *sounds;           /* FakeSounds */
  WzpUiPeer      *held_peer;        /* Mom, in a call across several cases */

  /* the fake notification server */
  GDBusConnection *bus;
  guint            owner_id;
  guint            object_id;
  gboolean         name_owned;
  GPtrArray       *notifications;    /* GVariant* (s id, a{sv}), as added */
  GPtrArray       *withdrawn;        /* char* ids */
} fx;

/* The fake sound player: what would have played, as "play EVENT", "repeat EVENT", "stop" */

#define FAKE_TYPE_SOUNDS (fake_sounds_get_type ())
G_DECLARE_FINAL_TYPE (FakeSounds, fake_sounds, FAKE, SOUNDS, GObject)

struct _FakeSounds
{
  GObject    parent_instance;
  GPtrArray *events;    /* char* */
  char      *playing;   /* repeating or not; NULL once stopped */
};

static void fake_sounds_iface_init (WzpSoundPlayerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (FakeSounds, fake_sounds, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (WZP_TYPE_SOUND_PLAYER,
                                                      fake_sounds_iface_init))

static void
fake_sounds_play (WzpSoundPlayer *player,
                  const char     *event_id,
                  gboolean        repeat)
{
  FakeSounds *self = FAKE_SOUNDS (player);

  g_test_message ("sound: %s %s", repeat ? "repeat" : "play", event_id);
  g_ptr_array_add (self->events, g_strdup_printf ("%s %s", repeat ? "repeat" : "play",
                                                  event_id));
  g_free (self->playing);
  self->playing = g_strdup (event_id);
}

static void
fake_sounds_stop (WzpSoundPlayer *player)
{
  FakeSounds *self = FAKE_SOUNDS (player);

  g_test_message ("sound: stop");
  g_ptr_array_add (self->events, g_strdup ("stop"));
  g_clear_pointer (&self->playing, g_free);
}

static void
fake_sounds_iface_init (WzpSoundPlayerInterface *iface)
{
  iface->play = fake_sounds_play;
  iface->stop = fake_sounds_stop;
}

static void
fake_sounds_finalize (GObject *object)
{
  FakeSounds *self = FAKE_SOUNDS (object);

  g_ptr_array_unref (self->events);
  g_free (self->playing);
  G_OBJECT_CLASS (fake_sounds_parent_class)->finalize (object);
}

static void
fake_sounds_class_init (FakeSoundsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = fake_sounds_finalize;
}

static void
fake_sounds_init (FakeSounds *self)
{
  self->events = g_ptr_array_new_with_free_func (g_free);
}

static const char *
sound_playing (void)
{
  return FAKE_SOUNDS (fx.sounds)->playing;
}

static guint
n_sound_events (void)
{
  return FAKE_SOUNDS (fx.sounds)->events->len;
}

/* Whether "EVENT" was recorded since event number @since. */
static gboolean
sound_recorded_since (guint       since,
                      const char *event)
{
  GPtrArray *events = FAKE_SOUNDS (fx.sounds)->events;

  for (guint i = since; i < events->len; i++)
    if (g_str_equal (g_ptr_array_index (events, i), event))
      return TRUE;
  return FALSE;
}

/* The fake org.gtk.Notifications (the interface GNotification's GTK backend calls) */

static const char notifications_xml[] =
  "<node>"
  "  <interface name='org.gtk.Notifications'>"
  "    <method name='AddNotification'>"
  "      <arg type='s' direction='in'/><arg type='s' direction='in'/>"
  "      <arg type='a{sv}' direction='in'/>"
  "    </method>"
  "    <method name='RemoveNotification'>"
  "      <arg type='s' direction='in'/><arg type='s' direction='in'/>"
  "    </method>"
  "  </interface>"
  "</node>";

static void
notifications_method_cb (GDBusConnection       *connection,
                         const char            *sender,
                         const char            *object_path,
                         const char            *interface_name,
                         const char            *method_name,
                         GVariant              *parameters,
                         GDBusMethodInvocation *invocation,
                         gpointer               user_data)
{
  if (g_str_equal (method_name, "AddNotification"))
    {
      const char *id;
      GVariant *notification;

      g_variant_get (parameters, "(&s&s@a{sv})", NULL, &id, &notification);
      g_test_message ("notification added: %s", id);
      g_ptr_array_add (fx.notifications, g_variant_new ("(s@a{sv})", id, notification));
      g_variant_unref (notification);
    }
  else if (g_str_equal (method_name, "RemoveNotification"))
    {
      const char *id;

      g_variant_get (parameters, "(&s&s)", NULL, &id);
      g_test_message ("notification removed: %s", id);
      g_ptr_array_add (fx.withdrawn, g_strdup (id));
    }
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
name_acquired_cb (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  fx.name_owned = TRUE;
}

static void
start_notification_server (void)
{
  static const GDBusInterfaceVTable vtable = { .method_call = notifications_method_cb };
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (notifications_xml, NULL);
  g_autoptr(GError) error = NULL;

  fx.notifications = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  fx.withdrawn = g_ptr_array_new_with_free_func (g_free);
  fx.bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);
  fx.object_id = g_dbus_connection_register_object (fx.bus, "/org/gtk/Notifications",
                                                    info->interfaces[0], &vtable, NULL, NULL,
                                                    &error);
  g_assert_no_error (error);
  fx.owner_id = g_bus_own_name_on_connection (fx.bus, "org.gtk.Notifications",
                                              G_BUS_NAME_OWNER_FLAGS_NONE, name_acquired_cb,
                                              NULL, NULL, NULL);
  WZP_UI_WAIT (fx.name_owned, TIMEOUT_MS);
}

/* The notification added with @id, or NULL. */
static GVariant *
find_notification (const char *id)
{
  for (guint i = 0; i < fx.notifications->len; i++)
    {
      GVariant *entry = g_ptr_array_index (fx.notifications, i);
      const char *entry_id;

      g_variant_get (entry, "(&s@a{sv})", &entry_id, NULL);
      if (g_str_equal (entry_id, id))
        return entry;
    }
  return NULL;
}

static gboolean
was_withdrawn (const char *id)
{
  for (guint i = 0; i < fx.withdrawn->len; i++)
    if (g_str_equal (g_ptr_array_index (fx.withdrawn, i), id))
      return TRUE;
  return FALSE;
}

/* The labels and actions of a notification's buttons, as "Label=action(target)". */
static char *
describe_buttons (GVariant *entry)
{
  g_autoptr(GVariant) notification = g_variant_get_child_value (entry, 1);
  g_autoptr(GVariant) buttons = g_variant_lookup_value (notification, "buttons",
                                                        G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr(GString) text = g_string_new (NULL);

  g_assert_nonnull (buttons);
  for (gsize i = 0; i < g_variant_n_children (buttons); i++)
    {
      g_autoptr(GVariant) button = g_variant_get_child_value (buttons, i);
      const char *label = NULL;
      const char *action = NULL;
      g_autoptr(GVariant) target = NULL;

      g_variant_lookup (button, "label", "&s", &label);
      g_variant_lookup (button, "action", "&s", &action);
      target = g_variant_lookup_value (button, "target", NULL);
      g_string_append_printf (text, "%s%s=%s(%s)", i ? "; " : "", label, action,
                              target && g_variant_is_of_type (target, G_VARIANT_TYPE_STRING)
                                ? g_variant_get_string (target, NULL) : "");
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static char *
notification_string (GVariant   *entry,
                     const char *key)
{
  g_autoptr(GVariant) notification = g_variant_get_child_value (entry, 1);
  char *value = NULL;

  g_variant_lookup (notification, key, "s", &value);
  return value;
}

/* Accessors */

static WzpWindow *
window (void)
{
  WzpWindow *w = wzp_application_get_main_window (fx.app);

  g_assert_nonnull (w);
  return w;
}

static WzpClient *
client (void)
{
  return wzp_application_get_client (fx.app);
}

static GSettings *
settings (void)
{
  return wzp_application_get_settings (fx.app);
}

static GtkWidget *
dialer_child (const char *name)
{
  GtkWidget *page = GTK_WIDGET (wzp_window_get_dialer_page (window ()));
  GObject *object = gtk_widget_get_template_child (page, WZP_TYPE_DIALER_PAGE, name);

  g_assert_nonnull (object);
  return GTK_WIDGET (object);
}

static GtkWidget *
call_child (const char *name)
{
  GtkWidget *page = GTK_WIDGET (wzp_window_get_call_page (window ()));
  GObject *object = gtk_widget_get_template_child (page, WZP_TYPE_CALL_PAGE, name);

  g_assert_nonnull (object);
  return GTK_WIDGET (object);
}

static GtkWidget *
ringing_child (const char *name)
{
  GtkWidget *page = GTK_WIDGET (wzp_window_get_ringing_page (window ()));
  GObject *object = gtk_widget_get_template_child (page, WZP_TYPE_RINGING_PAGE, name);

  g_assert_nonnull (object);
  return GTK_WIDGET (object);
}

/* Runs what the ringing page binds to @keyval, as the key pressed in the window would (a
 * key event cannot be made from a test in GTK 4; the page's shortcut controller is what
 * the event would reach, from Accept which has the focus). FALSE if nothing is bound. */
static gboolean
activate_ringing_shortcut (guint keyval)
{
  GtkWidget *page = GTK_WIDGET (wzp_window_get_ringing_page (window ()));
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (page);
  g_autoptr(GtkShortcutTrigger) wanted = gtk_keyval_trigger_new (keyval, 0);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GObject) controller = g_list_model_get_item (controllers, i);

      if (!GTK_IS_SHORTCUT_CONTROLLER (controller))
        continue;
      for (guint j = 0; j < g_list_model_get_n_items (G_LIST_MODEL (controller)); j++)
        {
          g_autoptr(GtkShortcut) shortcut = g_list_model_get_item (G_LIST_MODEL (controller), j);

          if (gtk_shortcut_trigger_equal (gtk_shortcut_get_trigger (shortcut), wanted))
            return gtk_shortcut_action_activate (gtk_shortcut_get_action (shortcut), 0, page,
                                                 gtk_shortcut_get_arguments (shortcut));
        }
    }
  return FALSE;
}

static const char *
status_title (void)
{
  return wzp_dialer_page_get_status_title (wzp_window_get_dialer_page (window ()));
}

static const char *
call_state (void)
{
  return wzp_call_page_get_state_text (wzp_window_get_call_page (window ()));
}

static WzpCallPage *
call_page (void)
{
  return wzp_window_get_call_page (window ());
}

static const char *
outcome (void)
{
  const char *text = wzp_call_page_get_outcome (call_page ());

  return text != NULL ? text : "";
}

static const char *
last_toast (void)
{
  const char *toast = wzp_window_get_last_toast (window ());

  return toast != NULL ? toast : "";
}

/* The minutes and seconds the call page's timer shows. */
static int
timer_seconds (void)
{
  const char *text = gtk_label_get_text (GTK_LABEL (call_child ("timer_label")));
  int minutes = 0;
  int seconds = 0;

  g_assert_true (gtk_widget_get_visible (call_child ("timer_label")));
  g_assert_cmpint (sscanf (text, "%d:%d", &minutes, &seconds), ==, 2);
  return minutes * 60 + seconds;
}

/* The seconds in an outcome such as "Call ended · 02:13". */
static int
outcome_seconds (void)
{
  const char *text = strstr (outcome (), "· ");
  int minutes = 0;
  int seconds = 0;

  g_assert_nonnull (text);
  g_assert_cmpint (sscanf (text + strlen ("· "), "%d:%d", &minutes, &seconds), ==, 2);
  return minutes * 60 + seconds;
}

/* The outcome's Close button: back to the main page. */
static void
close_outcome (void)
{
  g_assert_true (gtk_widget_get_visible (call_child ("close_button")));
  g_assert_true (gtk_widget_activate (call_child ("close_button")));
  WZP_UI_WAIT (!wzp_window_is_in_call (window ()), TIMEOUT_MS);
}

static guint
n_recent_calls (void)
{
  WzpCallHistory *history = wzp_application_get_history (fx.app);

  return g_list_model_get_n_items (wzp_call_history_get_model (history));
}

static WzpCallRecord *
newest_record (void)
{
  WzpCallRecord *record = g_list_model_get_item (
    wzp_call_history_get_model (wzp_application_get_history (fx.app)), 0);

  g_assert_nonnull (record);
  g_object_unref (record);   /* the history keeps it */
  return record;
}

static WzpUiPeer *
spawn_listener (const char *answer,
                const char *hold)
{
  WzpUiPeer *peer = hold != NULL
                      ? wzp_ui_peer_spawn (fx.relay_uri, fx.peer_identity, "Mom", "listen",
                                           "--answer", answer, "--calls", "1", "--hold", hold,
                                           NULL)
                      : wzp_ui_peer_spawn (fx.relay_uri, fx.peer_identity, "Mom", "listen",
                                           "--answer", answer, "--calls", "1", NULL);
  JsonObject *registered = wzp_ui_peer_wait_event (peer, "registered", TIMEOUT_MS);

  g_assert_cmpstr (json_object_get_string_member (registered, "fingerprint"), ==,
                   fx.peer_fingerprint);
  return peer;
}

static WzpUiPeer *
spawn_caller (const char *hold)
{
  g_autofree char *own = NULL;

  g_object_get (client (), "fingerprint", &own, NULL);
  return wzp_ui_peer_spawn (fx.relay_uri, fx.peer_identity, "Mom", "call", own, "--hold", hold,
                            NULL);
}

/* Cases */

static GtkWindow *
find_toplevel (GType type)
{
  g_autoptr(GList) toplevels = gtk_window_list_toplevels ();

  for (GList *l = toplevels; l; l = l->next)
    if (G_TYPE_CHECK_INSTANCE_TYPE (l->data, type) && gtk_widget_get_visible (l->data))
      return l->data;
  return NULL;
}

static void
test_startup (void)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) accels = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *autostart_path = wzp_background_get_autostart_path ();
  g_autofree char *autostart = NULL;
  g_autofree char *data_dir = g_build_filename (g_get_user_data_dir (), "wzp", NULL);
  g_autofree char *contacts_path = g_build_filename (data_dir, "contacts.json", NULL);
  g_autofree char *aside = NULL;
  g_autofree char *kept = NULL;
  const char *damaged = "{\"version\": 1, \"contacts\": [{\"name\": \"Gran";

  /* A contacts file damaged before the app starts. */
  g_assert_cmpint (g_mkdir_with_parents (data_dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (contacts_path, damaged, -1, NULL));

  g_assert_true (g_application_register (G_APPLICATION (fx.app), NULL, &error));
  g_assert_no_error (error);
  _wzp_application_set_sound_player (fx.app, WZP_SOUND_PLAYER (fx.sounds));
  g_application_activate (G_APPLICATION (fx.app));
  WZP_UI_WAIT (wzp_application_get_main_window (fx.app) != NULL, TIMEOUT_MS);

  /* The shortcuts window comes from gtk/help-overlay.ui under the resource base path. */
  g_assert_true (g_action_group_has_action (G_ACTION_GROUP (window ()), "show-help-overlay"));
  accels = gtk_application_get_accels_for_action (GTK_APPLICATION (fx.app),
                                                  "win.show-help-overlay");
  g_assert_true (g_strv_contains ((const char * const *) accels, "<Control>question"));
  g_clear_pointer (&accels, g_strfreev);
  accels = gtk_application_get_accels_for_action (GTK_APPLICATION (fx.app), "app.quit");
  g_assert_true (g_strv_contains ((const char * const *) accels, "<Control>q"));

  /* The damaged file was kept aside, not written over, and the Contacts view says where. */
  {
    g_autoptr(GDir) dir = g_dir_open (data_dir, 0, NULL);
    const char *name;

    while ((name = g_dir_read_name (dir)) != NULL)
      if (g_str_has_prefix (name, "contacts.json.damaged-"))
        aside = g_build_filename (data_dir, name, NULL);
  }
  g_assert_nonnull (aside);
  g_assert_true (g_file_get_contents (aside, &kept, NULL, NULL));
  g_assert_cmpstr (kept, ==, damaged);
  g_assert_true (gtk_widget_is_visible (dialer_child ("contacts_damaged")));
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (dialer_child ("contacts_damaged"))),
                            aside));
  g_signal_emit_by_name (dialer_child ("contacts_damaged_dismiss"), "clicked");
  g_assert_false (gtk_widget_is_visible (dialer_child ("contacts_damaged")));

  /* The identity is created on first start. */
  WZP_UI_WAIT (client () != NULL, TIMEOUT_MS);
  g_object_get (client (), "fingerprint", &fingerprint, NULL);
  g_assert_true (wzp_fingerprint_is_valid (fingerprint));

  /* No relay yet: a welcome with the relay entry in place... */
  g_assert_cmpstr (wzp_dialer_page_get_visible_view (wzp_window_get_dialer_page (window ())), ==,
                   "welcome");
  g_assert_true (gtk_widget_get_mapped (dialer_child ("welcome_relay_row")));
  wzp_ui_save_screenshot (GTK_WIDGET (window ()), "welcome.png");

  /* ...and the relay status, behind it, says the same. */
  g_assert_cmpstr (status_title (), ==, "No relay set up");
  g_assert_true (gtk_widget_get_visible (dialer_child ("relay_button")));
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (dialer_child ("relay_button"))),
                   ==, "app.preferences");
  g_assert_cmpint (wzp_client_get_state (client ()), ==, WZP_CLIENT_STATE_DISCONNECTED);

  /* Running in the background is the default, and starts the app at login. */
  g_assert_true (g_settings_get_boolean (settings (), "run-in-background"));
  WZP_UI_WAIT (g_file_test (autostart_path, G_FILE_TEST_EXISTS), TIMEOUT_MS);
  g_assert_true (g_file_get_contents (autostart_path, &autostart, NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (autostart, "--gapplication-service"));
  g_assert_nonnull (strstr (autostart, "X-GNOME-Autostart-enabled=true"));

  /* The loopback test mode must be set before the first connection. */
  _wzp_client_set_test_loopback (client (), TRUE);

  /* The device choice reaches the client; empty is the system's default (NULL). */
  g_assert_null (wzp_client_get_audio_source (client ()));
  g_assert_null (wzp_client_get_audio_sink (client ()));
  g_settings_set_string (settings (), "audio-input", TEST_SOURCE);
  g_settings_set_string (settings (), "audio-output", TEST_SINK);
  g_assert_cmpstr (wzp_client_get_audio_source (client ()), ==, TEST_SOURCE);
  g_assert_cmpstr (wzp_client_get_audio_sink (client ()), ==, TEST_SINK);

  g_clear_pointer (&accels, g_strfreev);
  accels = gtk_application_get_accels_for_action (GTK_APPLICATION (fx.app), "app.toggle-mute");
  g_assert_true (g_strv_contains ((const char * const *) accels, "<Control>m"));
}

static void
test_relay_errors (void)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autofree char *closed_uri = NULL;
  g_autofree char *wrong_pin_uri = NULL;
  g_autoptr(GError) error = NULL;

  /* A port where nobody listens: bind it, note it, close it. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, any, TRUE, &error));
  bound = g_socket_get_local_address (socket, &error);
  closed_uri = g_strdup_printf ("wzps://127.0.0.1:%u",
                                g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_close (socket, NULL);

  g_settings_set_string (settings (), "relay-uri", closed_uri);
  /* A relay set up: the welcome gives way to the dialer. */
  g_assert_cmpstr (wzp_dialer_page_get_visible_view (wzp_window_get_dialer_page (window ())), ==,
                   "call");
  WZP_UI_WAIT (g_strcmp0 (status_title (), "Cannot reach the relay") == 0, TIMEOUT_MS);
  g_assert_cmpint (wzp_client_get_state (client ()), ==, WZP_CLIENT_STATE_RECONNECTING);

  /* The right relay with another relay's fingerprint pinned in its URI. */
  {
    g_auto(GStrv) addresses = wzp_relay_dup_listen_addresses (fx.relay);

    wrong_pin_uri = g_strdup_printf ("wzps://%s#%s", addresses[0], UNKNOWN_FP);
  }
  g_settings_set_string (settings (), "relay-uri", wrong_pin_uri);
  WZP_UI_WAIT (g_strcmp0 (status_title (), "This is not the relay in the address") == 0,
               TIMEOUT_MS);
  g_assert_cmpint (wzp_client_get_state (client ()), ==, WZP_CLIENT_STATE_FAILED);

  /* Calling now explains why it cannot work, under the entry, and keeps what was typed. */
  gtk_editable_set_text (GTK_EDITABLE (dialer_child ("dial_row")), UNKNOWN_FP);
  g_signal_emit_by_name (dialer_child ("dial_row"), "entry-activated");
  g_assert_cmpstr (wzp_dialer_page_get_dial_hint (wzp_window_get_dialer_page (window ())), ==,
                   "You are not connected to a relay, so nobody can be called");
  /* Said plainly (not dimmed), and not in red: red is for hanging up. */
  g_assert_false (gtk_widget_has_css_class (dialer_child ("dial_hint"), "dim-label"));
  g_assert_false (gtk_widget_has_css_class (dialer_child ("dial_row"), "error"));
  g_assert_false (gtk_widget_has_css_class (dialer_child ("dial_hint"), "error"));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (dialer_child ("dial_row"))), ==,
                   UNKNOWN_FP);
  g_assert_false (wzp_window_is_in_call (window ()));
  gtk_editable_set_text (GTK_EDITABLE (dialer_child ("dial_row")), "");

  /* The real relay, at its handshake caps (docs/relay.md, "When the relay turns clients
   * away"): held by connections that sent a ClientHello and stall. First the cap per
   * address, which one from the app's own address holds; then the relay's, with a second
   * holder from another address taking the last place before the first cap is lifted,
   * so that no retry slips in between. The app says which, and keeps trying. */
  {
    g_auto(GStrv) addresses = wzp_relay_dup_listen_addresses (fx.relay);
    g_autoptr(GSocketConnection) same_address = NULL;
    g_autoptr(GSocketConnection) other_address = NULL;
    g_autofree char *busy = NULL;

    g_object_set (fx.relay, "handshake-timeout", 60, "max-handshakes-per-ip", 1, NULL);
    same_address = wzp_test_stalled_handshake_from (addresses[0], "127.0.0.1");
    wzp_ui_spin (200);
    g_settings_set_string (settings (), "relay-uri", fx.relay_uri);
    WZP_UI_WAIT (g_strcmp0 (status_title (), "Too many connections from your network") == 0,
                 TIMEOUT_MS);
    g_assert_cmpint (wzp_client_get_state (client ()), ==, WZP_CLIENT_STATE_RECONNECTING);

    g_object_set (fx.relay, "max-pending-handshakes", 2, NULL);
    other_address = wzp_test_stalled_handshake_from (addresses[0], "127.0.0.2");
    wzp_ui_spin (200);
    g_object_set (fx.relay, "max-handshakes-per-ip", 128, NULL);
    WZP_UI_WAIT (g_strcmp0 (status_title (), "The relay is busy") == 0, TIMEOUT_MS);
    g_assert_cmpint (wzp_client_get_state (client ()), ==, WZP_CLIENT_STATE_RECONNECTING);
    busy = g_strdup_printf ("%s is turning new connections away for now. Trying again in a "
                            "moment; calls cannot be made or received until then.",
                            addresses[0]);
    g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (dialer_child ("relay_row"))),
                     ==, busy);

    /* Freed: the app's next retry registers (below). */
    g_io_stream_close (G_IO_STREAM (same_address), NULL, NULL);
    g_io_stream_close (G_IO_STREAM (other_address), NULL, NULL);
    g_object_set (fx.relay, "handshake-timeout", 5, "max-pending-handshakes", 4096, NULL);
  }

  /* The real relay. */
  g_settings_set_string (settings (), "relay-uri", fx.relay_uri);
  WZP_UI_WAIT (wzp_client_get_state (client ()) == WZP_CLIENT_STATE_CONNECTED, TIMEOUT_MS);
  WZP_UI_WAIT (g_strcmp0 (status_title (), "Connected") == 0, TIMEOUT_MS);
  g_assert_cmpstr (wzp_client_get_relay_uri (client ()), ==, fx.relay_uri);
}

static WzpPreferencesWindow *
find_preferences (void)
{
  g_autoptr(GList) toplevels = gtk_window_list_toplevels ();

  for (GList *l = toplevels; l; l = l->next)
    if (WZP_IS_PREFERENCES_WINDOW (l->data))
      return l->data;
  return NULL;
}

static GtkWidget *
prefs_child (WzpPreferencesWindow *prefs,
             const char           *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (prefs),
                                                   WZP_TYPE_PREFERENCES_WINDOW, name);

  g_assert_nonnull (object);
  return GTK_WIDGET (object);
}

static void
apply_row (WzpPreferencesWindow *prefs,
           const char           *name,
           const char           *text)
{
  GtkWidget *row = prefs_child (prefs, name);

  gtk_editable_set_text (GTK_EDITABLE (row), text);
  g_signal_emit_by_name (row, "apply");
}

static void
test_preferences_change_client (void)
{
  WzpPreferencesWindow *prefs;
  g_auto(GStrv) deny = NULL;
  g_auto(GStrv) allow = NULL;
  g_auto(GStrv) reflectors = NULL;
  g_autofree char *autostart_path = wzp_background_get_autostart_path ();

  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "preferences", NULL);
  WZP_UI_WAIT ((prefs = find_preferences ()) != NULL, TIMEOUT_MS);

  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (prefs_child (prefs, "relay_row"))), ==,
                   fx.relay_uri);

  apply_row (prefs, "alias_row", "Bob");
  g_assert_cmpstr (wzp_client_get_alias (client ()), ==, "Bob");

  /* Running in the background: off removes the autostart entry, on puts it back. */
  gtk_switch_set_active (GTK_SWITCH (prefs_child (prefs, "background_switch")), FALSE);
  g_assert_false (g_settings_get_boolean (settings (), "run-in-background"));
  WZP_UI_WAIT (!g_file_test (autostart_path, G_FILE_TEST_EXISTS), TIMEOUT_MS);
  gtk_switch_set_active (GTK_SWITCH (prefs_child (prefs, "background_switch")), TRUE);
  WZP_UI_WAIT (g_file_test (autostart_path, G_FILE_TEST_EXISTS), TIMEOUT_MS);

  gtk_switch_set_active (GTK_SWITCH (prefs_child (prefs, "privacy_switch")), TRUE);
  g_assert_true (wzp_client_get_privacy (client ()));
  gtk_switch_set_active (GTK_SWITCH (prefs_child (prefs, "privacy_switch")), FALSE);
  g_assert_false (wzp_client_get_privacy (client ()));

  apply_row (prefs, "deny_row", "docker*, wg*");
  g_object_get (client (), "deny-list", &deny, NULL);
  g_assert_nonnull (deny);
  g_assert_cmpuint (g_strv_length (deny), ==, 2);
  g_assert_cmpstr (deny[1], ==, "wg*");

  apply_row (prefs, "allow_row", "wg0");
  g_object_get (client (), "allow-list", &allow, NULL);
  g_assert_nonnull (allow);
  g_assert_cmpstr (allow[0], ==, "wg0");

  apply_row (prefs, "reflector_row", "wzps://reflector.example.org:4433");
  g_object_get (client (), "reflectors", &reflectors, NULL);
  g_assert_nonnull (reflectors);
  g_assert_cmpuint (g_strv_length (reflectors), ==, 1);
  g_assert_cmpstr (reflectors[0], ==, "wzps://reflector.example.org:4433");
  g_clear_pointer (&reflectors, g_strfreev);

  /* Emptied rows give the library its defaults back. */
  apply_row (prefs, "reflector_row", "");
  g_object_get (client (), "reflectors", &reflectors, NULL);
  g_assert_null (reflectors);
  apply_row (prefs, "deny_row", "");
  apply_row (prefs, "allow_row", "");
  g_clear_pointer (&allow, g_strfreev);
  g_object_get (client (), "allow-list", &allow, NULL);
  g_assert_null (allow);

  /* A wrong relay address is refused; the client keeps its relay. */
  apply_row (prefs, "relay_row", "relay.example.org:4433");
  g_assert_true (gtk_widget_has_css_class (prefs_child (prefs, "relay_row"), "error"));
  g_assert_cmpstr (wzp_client_get_relay_uri (client ()), ==, fx.relay_uri);

  gtk_window_destroy (GTK_WINDOW (prefs));
  g_assert_cmpint (wzp_client_get_state (client ()), ==, WZP_CLIENT_STATE_CONNECTED);
}

/* On notify::reconnecting: what the call page says at that moment. */
static void
record_state_cb (GPtrArray *seen)
{
  g_ptr_array_add (seen, g_strdup (call_state ()));
}

static void
test_outgoing_call (void)
{
  g_autofree char *peer_lines = wzp_fingerprint_to_lines (fx.peer_fingerprint);
  g_autoptr(WzpUiPeer) peer = spawn_listener ("trusted", NULL);
  GtkWidget *dial_row = dialer_child ("dial_row");
  WzpCall *call;
  const char *expected_badge;
  g_autofree char *upper = g_ascii_strup (fx.peer_fingerprint, -1);
  guint n_before = n_recent_calls ();
  int elapsed;

  wzp_contacts_add (wzp_application_get_contacts (fx.app), "Mom", fx.peer_fingerprint);

  /* Typed the way people paste: upper case, spaces for colons. */
  g_strdelimit (upper, ":", ' ');
  gtk_editable_set_text (GTK_EDITABLE (dial_row), upper);
  g_assert_true (gtk_widget_get_sensitive (dialer_child ("call_button")));
  /* (A button's activation clicks it after its press animation.) */
  g_assert_true (gtk_widget_activate (dialer_child ("call_button")));
  WZP_UI_WAIT (wzp_window_is_in_call (window ()), TIMEOUT_MS);

  /* The call page shows at once and follows the call. */
  g_assert_true (wzp_window_is_in_call (window ()));
  g_assert_true (_wzp_application_is_inhibiting (fx.app));
  WZP_UI_WAIT ((call = _wzp_application_get_call (fx.app)) != NULL, TIMEOUT_MS);
  g_assert_cmpstr (wzp_call_get_peer_fingerprint (call), ==, fx.peer_fingerprint);
  wzp_ui_peer_wait_event (peer, "incoming", TIMEOUT_MS);
  WZP_UI_WAIT (g_strcmp0 (call_state (), "Connected") == 0, TIMEOUT_MS);
  /* The dialled fingerprint is let go once the call connects. */
  WZP_UI_WAIT (*gtk_editable_get_text (GTK_EDITABLE (dial_row)) == '\0', TIMEOUT_MS);

  /* Named from the contacts by full fingerprint; the alias only quoted underneath. */
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (call_child ("name_label"))), ==, "Mom");
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (call_child ("fingerprint_label"))), ==,
                   peer_lines);

  /* The badge names the nominated path; only relay paths connect here so far. */
  expected_badge = wzp_path_kind_label (wzp_call_get_path_kind (call));
  g_assert_nonnull (expected_badge);
  g_assert_cmpstr (wzp_call_page_get_path_text (wzp_window_get_call_page (window ())), ==,
                   expected_badge);
  g_assert_nonnull (strstr (gtk_widget_get_tooltip_text (call_child ("path_badge")),
                            wzp_call_get_remote_address (call)));
  g_test_message ("path: %s (%s)", expected_badge, wzp_call_get_remote_address (call));

  /* Mute: the button and Ctrl+M's action both change the call, and the page shows it. */
  g_assert_false (wzp_call_get_muted (call));
  g_assert_true (gtk_widget_get_sensitive (call_child ("mute_button")));
  g_assert_false (gtk_widget_get_visible (call_child ("muted_label")));
  g_assert_true (gtk_widget_activate (call_child ("mute_button")));
  WZP_UI_WAIT (wzp_call_get_muted (call), TIMEOUT_MS);
  g_assert_true (gtk_widget_get_visible (call_child ("muted_label")));
  g_assert_cmpstr (gtk_widget_get_tooltip_text (call_child ("mute_button")), ==, "Unmute");
  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "toggle-mute", NULL);
  g_assert_false (wzp_call_get_muted (call));
  g_assert_false (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (call_child ("mute_button"))));
  g_assert_false (gtk_widget_get_visible (call_child ("muted_label")));
  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "toggle-mute", NULL);
  g_assert_true (wzp_call_get_muted (call));
  g_assert_true (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (call_child ("mute_button"))));
  g_assert_true (gtk_widget_get_visible (call_child ("muted_label")));

  /* The volume: this call, and remembered for the next. */
  gtk_range_set_value (GTK_RANGE (call_child ("volume_scale")), 0.5);
  g_assert_cmpfloat (wzp_call_get_volume (call), ==, 0.5);
  g_assert_cmpfloat (g_settings_get_double (settings (), "call-volume"), ==, 0.5);

  /* The quality comes from the call's statistics, once a round trip was measured. */
  WZP_UI_WAIT (gtk_widget_get_visible (call_child ("quality_label")), TIMEOUT_MS);
  g_assert_cmpint (wzp_call_page_get_quality (call_page ()), ==, WZP_CALL_QUALITY_GOOD);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (call_child ("quality_label"))), ==,
                   "Good connection");
  g_assert_nonnull (strstr (gtk_widget_get_tooltip_text (call_child ("quality_label")),
                            "Round trip: "));

  wzp_ui_spin (1100);   /* the timer shows 00:01 */
  g_assert_true (gtk_widget_get_visible (call_child ("timer_label")));
  adw_expander_row_set_expanded (ADW_EXPANDER_ROW (call_child ("details_row")), TRUE);
  wzp_window_dismiss_toasts (window ());
  wzp_ui_save_screenshot (GTK_WIDGET (window ()), "call.png");
  adw_expander_row_set_expanded (ADW_EXPANDER_ROW (call_child ("details_row")), FALSE);

  /* This computer's addresses are gone: the path is lost, and found again (the relay).
   * The page said "Reconnecting…" meanwhile, and still shows the user muted. */
  {
    const char * const other_network[] = { "192.0.2.99", NULL };
    g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);

    g_signal_connect_swapped (call, "notify::reconnecting", G_CALLBACK (record_state_cb), seen);
    _wzp_call_network_changed (call, other_network);
    WZP_UI_WAIT (seen->len >= 2, TIMEOUT_MS);
    g_signal_handlers_disconnect_by_data (call, seen);
    g_assert_cmpstr (g_ptr_array_index (seen, 0), ==, "Reconnecting…");
    g_assert_cmpstr (g_ptr_array_index (seen, 1), ==, "Connected");
    g_assert_cmpstr (call_state (), ==, "Connected");
    g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_ACTIVE);
    g_assert_true (wzp_call_get_muted (call));
    g_assert_true (gtk_widget_get_visible (call_child ("muted_label")));
  }

#if WZP_HAVE_VOICE
  /* Another output chosen during the call applies to it; this one is not there, so the
   * call falls back to the default and the page says what the library said. The user is
   * still muted. */
  g_assert_false (gtk_widget_get_visible (call_child ("audio_error_box")));
  g_settings_set_string (settings (), "audio-output", "pulsesink device=wzp-ui-test-missing");
  WZP_UI_WAIT (wzp_call_get_audio_error (call) != NULL, TIMEOUT_MS);
  g_test_message ("audio-error: %s", wzp_call_get_audio_error (call));
  g_assert_true (gtk_widget_get_visible (call_child ("audio_error_box")));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (call_child ("audio_error_label"))), ==,
                   wzp_call_get_audio_error (call));
  g_assert_true (wzp_call_get_muted (call));
  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_ACTIVE);
  g_settings_set_string (settings (), "audio-output", TEST_SINK);
#else
  /* A build without voice: the page says so from the start, in the library's words. */
  g_assert_nonnull (wzp_call_get_audio_error (call));
  g_assert_true (gtk_widget_get_visible (call_child ("audio_error_box")));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (call_child ("audio_error_label"))), ==,
                   wzp_call_get_audio_error (call));
#endif

  /* Hanging up: the page stays with the outcome, and Close returns to the main page. The
   * peer's call ended normally. The outcome's length is the timer's: both read the
   * call's clock (the label lags by up to its half-second tick). */
  wzp_ui_spin (1100);
  elapsed = timer_seconds ();
  g_assert_cmpint (elapsed, >=, 1);
  g_assert_true (gtk_widget_activate (call_child ("hangup_button")));
  WZP_UI_WAIT (g_str_has_prefix (outcome (), "Call ended · "), TIMEOUT_MS);
  g_assert_cmpint (outcome_seconds (), >=, elapsed);
  g_assert_cmpint (outcome_seconds (), <=, elapsed + 1);
  g_assert_true (wzp_window_is_in_call (window ()));
  g_assert_cmpstr (call_state (), ==, outcome ());
  g_assert_true (gtk_widget_get_visible (call_child ("call_again_button")));
  g_assert_false (gtk_widget_get_visible (call_child ("controls_box")));
  g_assert_false (gtk_widget_get_visible (call_child ("muted_label")));
  g_assert_null (_wzp_application_get_call (fx.app));
  g_assert_false (_wzp_application_is_inhibiting (fx.app));
  g_assert_true (wzp_ui_peer_wait_exit (peer, TIMEOUT_MS));
  close_outcome ();
  g_assert_null (wzp_call_page_get_outcome (call_page ()));
  g_settings_set_double (settings (), "call-volume", 1.0);

  g_assert_cmpuint (n_recent_calls (), ==, n_before + 1);
  g_assert_cmpint (wzp_call_record_get_outcome (newest_record ()), ==, WZP_CALL_OUTCOME_ANSWERED);
  g_assert_false (wzp_call_record_get_incoming (newest_record ()));
}

static void
test_private_call_hung_up_by_peer (void)
{
  g_autoptr(WzpUiPeer) peer = spawn_listener ("trusted", "1");
  WzpCall *call;

  /* Privacy shares no addresses, so the call can only go through the relay. */
  g_settings_set_boolean (settings (), "privacy-by-default", TRUE);
  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "dial",
                                  g_variant_new_string (fx.peer_fingerprint));
  WZP_UI_WAIT ((call = _wzp_application_get_call (fx.app)) != NULL, TIMEOUT_MS);
  g_object_ref (call);
  WZP_UI_WAIT (g_strcmp0 (call_state (), "Connected") == 0 ||
               !wzp_window_is_in_call (window ()), TIMEOUT_MS);
  g_assert_cmpint (wzp_call_get_path_kind (call), ==, WZP_PATH_KIND_RELAY);
  g_assert_true (wzp_call_get_privacy (call));
  g_object_unref (call);

  /* The peer hangs up after a second: the page says how long the call was. */
  WZP_UI_WAIT (g_str_has_prefix (outcome (), "Call ended · 00:0"), TIMEOUT_MS);
  g_assert_null (_wzp_application_get_call (fx.app));
  close_outcome ();
  g_assert_cmpint (wzp_call_record_get_path_kind (newest_record ()), ==, WZP_PATH_KIND_RELAY);
  wzp_ui_peer_wait_exit (peer, TIMEOUT_MS);
  g_settings_set_boolean (settings (), "privacy-by-default", FALSE);
}

static void
test_ringing_page (void)
{
  g_autofree char *peer_lines = wzp_fingerprint_to_lines (fx.peer_fingerprint);
  g_autoptr(WzpUiPeer) peer = NULL;
  GtkWidget *other;
  GtkWidget *accept;
  WzpCall *ringing;
  WzpCall *call;
  g_autofree char *id = NULL;
  guint sounds_before;

  /* Someone else's window has the focus. */
  other = gtk_window_new ();
  gtk_window_set_title (GTK_WINDOW (other), "Another program");
  gtk_window_present (GTK_WINDOW (other));
  WZP_UI_WAIT (gtk_window_is_active (GTK_WINDOW (other)), TIMEOUT_MS);
  WZP_UI_WAIT (!gtk_window_is_active (GTK_WINDOW (window ())), TIMEOUT_MS);
  g_assert_false (wzp_window_is_ringing (window ()));

  sounds_before = n_sound_events ();
  peer = spawn_caller ("30");

  /* The whole window rings, the focus on Accept. */
  WZP_UI_WAIT ((ringing = _wzp_application_get_ringing_call (fx.app)) != NULL, TIMEOUT_MS);
  g_assert_true (wzp_window_is_ringing (window ()));
  g_assert_true (wzp_ringing_page_get_call (wzp_window_get_ringing_page (window ())) == ringing);
  accept = ringing_child ("accept_button");
  g_assert_true (gtk_window_get_focus (GTK_WINDOW (window ())) == accept);
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (accept)), ==,
                   "app.answer-call");
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (ringing_child ("name_label"))), ==, "Mom");
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (ringing_child ("fingerprint_label"))), ==,
                   peer_lines);
  g_assert_true (gtk_widget_get_visible (ringing_child ("alias_label")));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (ringing_child ("alias_label"))), ==,
                   "Calls themselves “Mom”");
  /* A caller of our own relay: nothing said about servers. */
  g_assert_false (gtk_widget_get_visible (ringing_child ("origin_label")));
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (
                     ringing_child ("private_button"))), ==, "app.answer-call-privately");
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (
                     ringing_child ("decline_button"))), ==, "app.decline-call");

  /* The notification too, and the ringtone, over and over. */
  id = g_strdup_printf ("incoming-call-%s", wzp_call_get_call_id (ringing));
  WZP_UI_WAIT (find_notification (id) != NULL, TIMEOUT_MS);
  g_assert_true (sound_recorded_since (sounds_before, "repeat " WZP_SOUND_RINGTONE));
  g_assert_cmpstr (sound_playing (), ==, WZP_SOUND_RINGTONE);
  wzp_ui_peer_wait_event (peer, "ringing", TIMEOUT_MS);
  wzp_window_dismiss_toasts (window ());
  wzp_ui_save_screenshot (GTK_WIDGET (window ()), "ringing.png");

  /* Accept (a button's activation clicks it after its press animation). */
  g_assert_true (gtk_widget_activate (accept));
  WZP_UI_WAIT (wzp_window_is_in_call (window ()), TIMEOUT_MS);
  g_assert_null (_wzp_application_get_ringing_call (fx.app));
  g_assert_null (sound_playing ());
  g_assert_true (sound_recorded_since (sounds_before, "stop"));
  WZP_UI_WAIT (was_withdrawn (id), TIMEOUT_MS);
  WZP_UI_WAIT (g_strcmp0 (call_state (), "Connected") == 0, TIMEOUT_MS);
  call = _wzp_application_get_call (fx.app);
  g_assert_nonnull (call);
  g_assert_cmpint (wzp_call_get_role (call), ==, WZP_CALL_ROLE_CALLEE);
  g_assert_false (wzp_call_get_privacy (call));
  g_assert_cmpstr (wzp_call_page_get_path_text (wzp_window_get_call_page (window ())), ==,
                   wzp_path_kind_label (wzp_call_get_path_kind (call)));
  /* The alias is shown, quoted and secondary. */
  g_assert_true (gtk_widget_get_visible (call_child ("alias_label")));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (call_child ("alias_label"))), ==,
                   "Calls themselves “Mom”");
  wzp_ui_peer_wait_event (peer, "path", TIMEOUT_MS);

  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "hang-up", NULL);
  WZP_UI_WAIT (g_str_has_prefix (outcome (), "Call ended · "), TIMEOUT_MS);
  close_outcome ();
  g_assert_true (wzp_ui_peer_wait_exit (peer, TIMEOUT_MS));
  g_assert_cmpint (wzp_call_record_get_outcome (newest_record ()), ==, WZP_CALL_OUTCOME_ANSWERED);
  g_assert_true (wzp_call_record_get_incoming (newest_record ()));
  gtk_window_destroy (GTK_WINDOW (other));
}

static gboolean
link_up (WzpRelay *relay,
         guint     announced)
{
  g_autoptr(GVariant) peers = g_variant_ref_sink (wzp_relay_list_peers (relay));
  const char *state = NULL;
  guint32 n = 0;

  if (g_variant_n_children (peers) == 0)
    return FALSE;
  g_variant_get_child (peers, 0, "(&s&s&su)", NULL, NULL, &state, &n);
  return g_strcmp0 (state, "up") == 0 && n >= announced;
}

/* A caller who signed in to a federated relay: the ringing page says so, in words that
 * are not the call page's "Via relay", and names that server in its tooltip. */
static void
test_ringing_page_federated (void)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  g_autoptr(WzpRelay) other = wzp_relay_new (identity);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) other_uris = NULL;
  g_autoptr(WzpUiPeer) peer = NULL;
  g_autofree char *own = NULL;
  g_autofree char *first_group = NULL;
  g_autoptr(JsonObject) ended = NULL;
  GtkWidget *origin;
  WzpCall *ringing;

  g_assert_true (wzp_relay_listen (other, "127.0.0.1:0", NULL, &error));
  g_assert_no_error (error);
  other_uris = wzp_relay_dup_uris (other);
  g_assert_true (wzp_relay_add_peer (other, fx.relay_uri, &error));
  g_assert_true (wzp_relay_add_peer (fx.relay, other_uris[0], &error));
  g_assert_no_error (error);
  /* Up, and our app's user announced to the other relay. */
  WZP_UI_WAIT (link_up (other, 1) && link_up (fx.relay, 0), TIMEOUT_MS);

  g_object_get (client (), "fingerprint", &own, NULL);
  peer = wzp_ui_peer_spawn (other_uris[0], fx.peer_identity, "Mom", "call", own, "--hold",
                            "30", NULL);
  WZP_UI_WAIT ((ringing = _wzp_application_get_ringing_call (fx.app)) != NULL, TIMEOUT_MS);
  g_assert_cmpstr (wzp_call_get_caller_relay_fingerprint (ringing), ==,
                   wzp_relay_get_fingerprint (other));
  origin = ringing_child ("origin_label");
  g_assert_true (gtk_widget_get_visible (origin));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (origin)), ==, "Signed in to another server");
  g_assert_null (strstr (gtk_label_get_text (GTK_LABEL (origin)), "relay"));
  first_group = g_strndup (wzp_relay_get_fingerprint (other), 4);
  g_assert_nonnull (strstr (gtk_widget_get_tooltip_text (origin), first_group));
  wzp_ui_save_screenshot (GTK_WIDGET (window ()), "ringing-federated.png");

  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "decline-call",
                                  g_variant_new_string (wzp_call_get_call_id (ringing)));
  WZP_UI_WAIT (_wzp_application_get_ringing_call (fx.app) == NULL, TIMEOUT_MS);
  ended = json_object_ref (wzp_ui_peer_wait_event (peer, "ended", TIMEOUT_MS));
  g_assert_cmpstr (json_object_get_string_member (ended, "reason"), ==, "declined");
  g_clear_pointer (&peer, wzp_ui_peer_free);

  g_assert_true (wzp_relay_remove_peer (fx.relay, wzp_relay_get_fingerprint (other), &error));
  g_assert_no_error (error);
  wzp_relay_stop (other);
}

/* GNOME's Do Not Disturb, from the desktop's own schema (gsettings-desktop-schemas), with
 * banners shown or not, given to the app; NULL (and the test skipped) without that schema. */
static GSettings *
use_desktop_notifications (gboolean show_banners)
{
  g_autoptr(GSettingsSchemaSource) source = NULL;
  g_autoptr(GSettingsSchema) schema = NULL;
  GSettings *notifications;

  source = g_settings_schema_source_new_from_directory ("/usr/share/glib-2.0/schemas", NULL,
                                                        FALSE, NULL);
  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, "org.gnome.desktop.notifications", FALSE);
  if (schema == NULL)
    {
      g_test_skip ("org.gnome.desktop.notifications is not installed");
      return NULL;
    }
  notifications = g_settings_new_full (schema, NULL, NULL);
  g_settings_set_boolean (notifications, "show-banners", show_banners);
  _wzp_application_set_desktop_notifications (fx.app, notifications);
  return notifications;
}

static void
test_ringing_do_not_disturb (void)
{
  g_autoptr(GSettings) notifications = NULL;
  g_autoptr(WzpUiPeer) peer = NULL;
  WzpCall *ringing;
  guint sounds_before = n_sound_events ();

  notifications = use_desktop_notifications (FALSE);
  if (notifications == NULL)
    return;

  /* The page shows; nothing plays. */
  peer = spawn_caller ("30");
  WZP_UI_WAIT ((ringing = _wzp_application_get_ringing_call (fx.app)) != NULL, TIMEOUT_MS);
  g_assert_true (wzp_window_is_ringing (window ()));
  wzp_ui_peer_wait_event (peer, "ringing", TIMEOUT_MS);
  g_assert_null (sound_playing ());
  g_assert_cmpuint (n_sound_events (), ==, sounds_before);

  /* Decline, from the page. */
  g_assert_true (gtk_widget_activate (ringing_child ("decline_button")));
  WZP_UI_WAIT (_wzp_application_get_ringing_call (fx.app) == NULL, TIMEOUT_MS);
  g_assert_false (wzp_window_is_ringing (window ()));
  g_assert_false (wzp_window_is_in_call (window ()));
  wzp_ui_peer_wait_event (peer, "ended", TIMEOUT_MS);
  wzp_ui_peer_wait_exit (peer, TIMEOUT_MS);

  _wzp_application_set_desktop_notifications (fx.app, NULL);
}

/* Escape on the ringing page declines: the caller hears "declined", the ringtone stops. */
static void
test_ringing_escape_declines (void)
{
  g_autoptr(WzpUiPeer) peer = NULL;
  WzpCall *ringing;
  JsonObject *ended;
  guint sounds_before;

  peer = spawn_caller ("30");
  WZP_UI_WAIT ((ringing = _wzp_application_get_ringing_call (fx.app)) != NULL, TIMEOUT_MS);
  g_assert_true (wzp_window_is_ringing (window ()));
  wzp_ui_peer_wait_event (peer, "ringing", TIMEOUT_MS);
  WZP_UI_WAIT (g_strcmp0 (sound_playing (), WZP_SOUND_RINGTONE) == 0, TIMEOUT_MS);
  g_assert_true (gtk_window_get_focus (GTK_WINDOW (window ())) == ringing_child ("accept_button"));
  sounds_before = n_sound_events ();

  g_assert_true (activate_ringing_shortcut (GDK_KEY_Escape));
  WZP_UI_WAIT (_wzp_application_get_ringing_call (fx.app) == NULL, TIMEOUT_MS);
  g_assert_false (wzp_window_is_ringing (window ()));
  g_assert_false (wzp_window_is_in_call (window ()));
  g_assert_null (sound_playing ());
  g_assert_true (sound_recorded_since (sounds_before, "stop"));

  ended = wzp_ui_peer_wait_event (peer, "ended", TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (ended, "reason"), ==, "declined");
  wzp_ui_peer_wait_exit (peer, TIMEOUT_MS);
  g_assert_cmpint (wzp_call_record_get_outcome (newest_record ()), ==, WZP_CALL_OUTCOME_DECLINED);

  /* With nothing ringing, Escape does nothing (the window's own Escape is not taken). */
  g_assert_false (activate_ringing_shortcut (GDK_KEY_Escape));
}

/* Do Not Disturb turned on while a call rings: the ringtone stops, the page stays. */
static void
test_ringing_do_not_disturb_turned_on (void)
{
  g_autoptr(GSettings) notifications = NULL;
  g_autoptr(WzpUiPeer) peer = NULL;
  WzpCall *ringing;
  guint sounds_before;

  notifications = use_desktop_notifications (TRUE);
  if (notifications == NULL)
    return;

  /* Rings, with the ringtone. */
  peer = spawn_caller ("30");
  WZP_UI_WAIT ((ringing = _wzp_application_get_ringing_call (fx.app)) != NULL, TIMEOUT_MS);
  wzp_ui_peer_wait_event (peer, "ringing", TIMEOUT_MS);
  WZP_UI_WAIT (g_strcmp0 (sound_playing (), WZP_SOUND_RINGTONE) == 0, TIMEOUT_MS);
  sounds_before = n_sound_events ();

  /* Do Not Disturb on: silent at once, and the call still shows. */
  g_settings_set_boolean (notifications, "show-banners", FALSE);
  WZP_UI_WAIT (sound_playing () == NULL, TIMEOUT_MS);
  g_assert_true (sound_recorded_since (sounds_before, "stop"));
  g_assert_true (_wzp_application_get_ringing_call (fx.app) == ringing);
  g_assert_true (wzp_window_is_ringing (window ()));
  wzp_ui_spin (300);
  g_assert_null (sound_playing ());

  g_assert_true (gtk_widget_activate (ringing_child ("decline_button")));
  WZP_UI_WAIT (_wzp_application_get_ringing_call (fx.app) == NULL, TIMEOUT_MS);
  wzp_ui_peer_wait_event (peer, "ended", TIMEOUT_MS);
  wzp_ui_peer_wait_exit (peer, TIMEOUT_MS);

  _wzp_application_set_desktop_notifications (fx.app, NULL);
}

/* A relay path is normal, not a problem: the badge is neutral, never a warning or error. */
static void
assert_path_badge_neutral (void)
{
  GtkWidget *badge = call_child ("path_badge");
  g_auto(GStrv) classes = gtk_widget_get_css_classes (badge);
  g_autofree char *joined = g_strjoinv (" ", classes);

  g_test_message ("path badge classes: %s", joined);
  g_assert_true (gtk_widget_get_visible (badge));
  g_assert_true (gtk_widget_has_css_class (badge, "path-badge"));
  g_assert_true (gtk_widget_has_css_class (badge, "relay"));
  for (guint i = 0; classes[i] != NULL; i++)
    {
      g_assert_cmpstr (classes[i], !=, "warning");
      g_assert_cmpstr (classes[i], !=, "error");
      g_assert_cmpstr (classes[i], !=, "destructive-action");
    }
}

static void
test_incoming_notification_answer_privately (void)
{
  g_autoptr(WzpUiPeer) peer = NULL;
  g_autofree char *id = NULL;
  g_autofree char *buttons = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *title = NULL;
  g_autofree char *body = NULL;
  GVariant *entry;
  WzpCall *ringing;
  WzpCall *call;

  peer = spawn_caller ("30");
  WZP_UI_WAIT ((ringing = _wzp_application_get_ringing_call (fx.app)) != NULL, TIMEOUT_MS);
  id = g_strdup_printf ("incoming-call-%s", wzp_call_get_call_id (ringing));
  WZP_UI_WAIT ((entry = find_notification (id)) != NULL, TIMEOUT_MS);
  g_assert_true (wzp_window_is_ringing (window ()));

  title = notification_string (entry, "title");
  g_assert_cmpstr (title, ==, "Incoming call from Mom");
  body = notification_string (entry, "body");
  g_assert_nonnull (strstr (body, fx.peer_fingerprint));
  buttons = describe_buttons (entry);
  expected = g_strdup_printf ("Decline=app.decline-call(%1$s); "
                              "Answer Privately=app.answer-call-privately(%1$s); "
                              "Answer=app.answer-call(%1$s)", wzp_call_get_call_id (ringing));
  g_assert_cmpstr (buttons, ==, expected);

  /* What the shell does when the button is pressed. */
  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "answer-call-privately",
                                  g_variant_new_string (wzp_call_get_call_id (ringing)));
  WZP_UI_WAIT (was_withdrawn (id), TIMEOUT_MS);
  WZP_UI_WAIT (g_strcmp0 (call_state (), "Connected") == 0, TIMEOUT_MS);
  call = _wzp_application_get_call (fx.app);
  g_assert_true (wzp_call_get_privacy (call));
  g_assert_cmpstr (wzp_call_page_get_path_text (wzp_window_get_call_page (window ())), ==,
                   "Via relay");
  assert_path_badge_neutral ();
  g_assert_true (gtk_widget_get_visible (call_child ("privacy_label")));
  /* The caller has its path too (its NominateAck may still be on the way). */
  wzp_ui_peer_wait_event (peer, "path", TIMEOUT_MS);

  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "hang-up", NULL);
  WZP_UI_WAIT (g_str_has_prefix (outcome (), "Call ended · "), TIMEOUT_MS);
  close_outcome ();
  g_assert_true (wzp_ui_peer_wait_exit (peer, TIMEOUT_MS));
}

static void
test_incoming_notification_decline (void)
{
  g_autoptr(WzpUiPeer) peer = NULL;
  g_autofree char *id = NULL;
  WzpCall *ringing;
  JsonObject *ended;
  GtkWidget *dialog;

  peer = spawn_caller ("30");
  WZP_UI_WAIT ((ringing = _wzp_application_get_ringing_call (fx.app)) != NULL, TIMEOUT_MS);
  id = g_strdup_printf ("incoming-call-%s", wzp_call_get_call_id (ringing));
  WZP_UI_WAIT (find_notification (id) != NULL, TIMEOUT_MS);

  /* Ctrl+Q while it rings asks first; Cancel leaves it ringing. */
  gtk_widget_activate_action (GTK_WIDGET (window ()), "app.quit", NULL);
  WZP_UI_WAIT ((dialog = _wzp_application_get_quit_dialog (fx.app)) != NULL, TIMEOUT_MS);
  g_assert_cmpstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dialog)), ==,
                   "Decline the Call and Quit?");
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_assert_null (_wzp_application_get_quit_dialog (fx.app));
  g_assert_true (_wzp_application_get_ringing_call (fx.app) == ringing);
  g_assert_true (wzp_window_is_ringing (window ()));

  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "decline-call",
                                  g_variant_new_string (wzp_call_get_call_id (ringing)));
  WZP_UI_WAIT (was_withdrawn (id), TIMEOUT_MS);
  g_assert_null (_wzp_application_get_ringing_call (fx.app));
  g_assert_false (wzp_window_is_in_call (window ()));

  ended = wzp_ui_peer_wait_event (peer, "ended", TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (ended, "reason"), ==, "declined");
  g_assert_false (wzp_ui_peer_wait_exit (peer, TIMEOUT_MS));
  g_assert_cmpint (wzp_call_record_get_outcome (newest_record ()), ==, WZP_CALL_OUTCOME_DECLINED);
}

static void
test_missed_call (void)
{
  g_autoptr(WzpUiPeer) peer = NULL;
  g_autofree char *incoming_id = NULL;
  g_autofree char *missed_id = NULL;
  g_autofree char *title = NULL;
  g_autofree char *buttons = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *call_id = NULL;
  GVariant *entry;
  WzpCall *ringing;

  peer = spawn_caller ("30");
  WZP_UI_WAIT ((ringing = _wzp_application_get_ringing_call (fx.app)) != NULL, TIMEOUT_MS);
  call_id = g_strdup (wzp_call_get_call_id (ringing));
  incoming_id = g_strdup_printf ("incoming-call-%s", call_id);
  missed_id = g_strdup_printf ("missed-call-%s", call_id);
  WZP_UI_WAIT (find_notification (incoming_id) != NULL, TIMEOUT_MS);
  wzp_ui_peer_wait_event (peer, "ringing", TIMEOUT_MS);

  /* The caller gives up. */
  wzp_ui_peer_terminate (peer);
  WZP_UI_WAIT ((entry = find_notification (missed_id)) != NULL, TIMEOUT_MS);
  WZP_UI_WAIT (was_withdrawn (incoming_id), TIMEOUT_MS);
  g_assert_null (_wzp_application_get_ringing_call (fx.app));

  title = notification_string (entry, "title");
  g_assert_cmpstr (title, ==, "Missed call from Mom");
  buttons = describe_buttons (entry);
  expected = g_strdup_printf ("Call Back=app.call-back(%s)", fx.peer_fingerprint);
  g_assert_cmpstr (buttons, ==, expected);
  g_assert_cmpint (wzp_call_record_get_outcome (newest_record ()), ==, WZP_CALL_OUTCOME_MISSED);
  wzp_ui_peer_wait_exit (peer, TIMEOUT_MS);
}

/* Answers a call from Mom through the notification's action; returns the call. */
static WzpCall *
answer_call_from (WzpUiPeer *peer)
{
  WzpCall *ringing;
  WzpCall *call;

  WZP_UI_WAIT ((ringing = _wzp_application_get_ringing_call (fx.app)) != NULL, TIMEOUT_MS);
  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "answer-call",
                                  g_variant_new_string (wzp_call_get_call_id (ringing)));
  WZP_UI_WAIT (g_strcmp0 (call_state (), "Connected") == 0, TIMEOUT_MS);
  call = _wzp_application_get_call (fx.app);
  g_assert_nonnull (call);
  wzp_ui_peer_wait_event (peer, "path", TIMEOUT_MS);
  return call;
}

static void
test_busy (void)
{
  g_autoptr(WzpUiPeer) peer = spawn_caller ("60");
  g_autoptr(WzpUiPeer) second = NULL;
  g_autofree char *own = NULL;
  g_autofree char *missed_id = NULL;
  g_autofree char *buttons = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *title = NULL;
  GtkWidget *call_back;
  GVariant *target;
  JsonObject *ended;
  GVariant *entry;
  WzpCall *call;
  guint sounds_before;
  guint n_before;

  call = answer_call_from (peer);
  n_before = n_recent_calls ();
  sounds_before = n_sound_events ();

  /* Dana calls during the call: told busy at once; nothing rings here. */
  g_object_get (client (), "fingerprint", &own, NULL);
  second = wzp_ui_peer_spawn (fx.relay_uri, fx.peer2_identity, "Dana", "call", own, "--hold",
                              "30", NULL);
  ended = wzp_ui_peer_wait_event (second, "ended", TIMEOUT_MS);
  g_test_message ("the second caller was told: %s (%s)",
                  json_object_get_string_member (ended, "reason"),
                  json_object_get_string_member (ended, "message"));
  g_assert_cmpstr (json_object_get_string_member (ended, "reason"), ==, "busy");
  g_assert_false (wzp_ui_peer_wait_exit (second, TIMEOUT_MS));
  g_assert_true (_wzp_application_get_call (fx.app) == call);
  g_assert_true (wzp_window_is_in_call (window ()));
  g_assert_null (_wzp_application_get_ringing_call (fx.app));
  g_assert_cmpuint (n_sound_events (), ==, sounds_before);

  /* The user sees who tried, during the call, with Call Back for afterwards. */
  WZP_UI_WAIT (wzp_window_get_busy_call_text (window ()) != NULL, TIMEOUT_MS);
  g_assert_cmpstr (wzp_window_get_busy_call_text (window ()), ==,
                   "Unknown caller tried to call you");
  call_back = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (window ()), WZP_TYPE_WINDOW,
                                                        "busy_call_back_button"));
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (call_back)), ==,
                   "app.call-back");
  target = gtk_actionable_get_action_target_value (GTK_ACTIONABLE (call_back));
  g_assert_cmpstr (g_variant_get_string (target, NULL), ==, fx.peer2_fingerprint);
  g_assert_false (gtk_widget_get_sensitive (call_back));
  wzp_window_dismiss_toasts (window ());
  wzp_ui_save_screenshot (GTK_WIDGET (window ()), "tried-to-call.png");
  missed_id = g_strdup_printf ("missed-call-%s",
                               json_object_get_string_member (ended, "call_id"));
  WZP_UI_WAIT ((entry = find_notification (missed_id)) != NULL, TIMEOUT_MS);
  title = notification_string (entry, "title");
  g_assert_cmpstr (title, ==, "Unknown caller tried to call you");
  buttons = describe_buttons (entry);
  expected = g_strdup_printf ("Call Back=app.call-back(%s)", fx.peer2_fingerprint);
  g_assert_cmpstr (buttons, ==, expected);
  g_assert_cmpuint (n_recent_calls (), ==, n_before + 1);
  g_assert_cmpint (wzp_call_record_get_outcome (newest_record ()), ==, WZP_CALL_OUTCOME_MISSED);
  g_assert_cmpstr (wzp_call_record_get_fingerprint (newest_record ()), ==, fx.peer2_fingerprint);

  /* After the call it is still there, and Call Back works. */
  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "hang-up", NULL);
  WZP_UI_WAIT (g_str_has_prefix (outcome (), "Call ended · "), TIMEOUT_MS);
  close_outcome ();
  g_assert_true (wzp_ui_peer_wait_exit (peer, TIMEOUT_MS));
  g_assert_cmpstr (wzp_window_get_busy_call_text (window ()), ==,
                   "Unknown caller tried to call you");
  g_assert_true (gtk_widget_get_sensitive (call_back));
  /* (Dana is gone by now, so the call back fails at once: a record of it is enough.) */
  g_assert_true (gtk_widget_activate (call_back));
  WZP_UI_WAIT (!wzp_call_record_get_incoming (newest_record ()) &&
               g_strcmp0 (wzp_call_record_get_fingerprint (newest_record ()),
                          fx.peer2_fingerprint) == 0, TIMEOUT_MS);
  g_assert_null (wzp_window_get_busy_call_text (window ()));
  WZP_UI_WAIT (g_strcmp0 (outcome (), "Not reachable") == 0, TIMEOUT_MS);
  close_outcome ();
}

static void
test_close_window_during_call (void)
{
  g_autofree char *buttons = NULL;
  GVariant *entry;
  WzpCall *call;
  guint sounds_before = n_sound_events ();

  /* The call goes on through the quit cases after this one. */
  fx.held_peer = spawn_listener ("trusted", NULL);
  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "dial",
                                  g_variant_new_string (fx.peer_fingerprint));
  WZP_UI_WAIT ((call = _wzp_application_get_call (fx.app)) != NULL, TIMEOUT_MS);
  WZP_UI_WAIT (g_strcmp0 (call_state (), "Connected") == 0, TIMEOUT_MS);
  /* The ringback played while Mom's phone rang, and stopped when she answered. */
  g_assert_true (sound_recorded_since (sounds_before, "repeat " WZP_SOUND_RINGBACK));
  g_assert_null (sound_playing ());
  /* (Waited for, not slept: on a slow machine the call's start can hold the loop.) */
  WZP_UI_WAIT (timer_seconds () >= 2, TIMEOUT_MS);

  /* Closing the window leaves the call on, and a notification to come back to it. */
  gtk_window_close (GTK_WINDOW (window ()));
  WZP_UI_WAIT (wzp_application_get_main_window (fx.app) == NULL, TIMEOUT_MS);
  g_assert_true (_wzp_application_get_call (fx.app) == call);
  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_ACTIVE);
  g_assert_true (_wzp_application_is_inhibiting (fx.app));
  WZP_UI_WAIT ((entry = find_notification ("ongoing-call")) != NULL, TIMEOUT_MS);
  {
    g_autofree char *title = notification_string (entry, "title");

    g_assert_cmpstr (title, ==, "Call in progress");
  }
  buttons = describe_buttons (entry);
  g_assert_cmpstr (buttons, ==, "Hang Up=app.hang-up(); Return=app.show-call()");

  /* Return: the window is back on the call, and the timer counts from the call's start. */
  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "show-call",
                                  g_variant_new_string (""));
  WZP_UI_WAIT (wzp_application_get_main_window (fx.app) != NULL, TIMEOUT_MS);
  g_assert_true (wzp_window_is_in_call (window ()));
  g_assert_true (wzp_call_page_get_call (wzp_window_get_call_page (window ())) == call);
  g_assert_cmpint (timer_seconds (), >=, 2);
  WZP_UI_WAIT (was_withdrawn ("ongoing-call"), TIMEOUT_MS);
}

static void
test_quit_during_call_asks (void)
{
  GtkWidget *dialog;
  WzpCall *call = _wzp_application_get_call (fx.app);

  /* Still the call of the case before. */
  g_assert_nonnull (call);
  gtk_widget_activate_action (GTK_WIDGET (window ()), "app.quit", NULL);
  WZP_UI_WAIT ((dialog = _wzp_application_get_quit_dialog (fx.app)) != NULL, TIMEOUT_MS);
  g_assert_true (gtk_widget_get_visible (dialog));
  g_assert_cmpstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dialog)), ==,
                   "Hang Up and Quit?");
  g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), "Mom"));
  g_assert_cmpstr (adw_message_dialog_get_default_response (ADW_MESSAGE_DIALOG (dialog)), ==,
                   "cancel");
  g_assert_true (_wzp_application_get_call (fx.app) == call);

  /* Cancel: the call goes on. */
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  WZP_UI_WAIT (_wzp_application_get_quit_dialog (fx.app) == NULL, TIMEOUT_MS);
  wzp_ui_spin (200);
  g_assert_true (_wzp_application_get_call (fx.app) == call);
  g_assert_cmpint (wzp_call_get_state (call), ==, WZP_CALL_STATE_ACTIVE);
}

static void
test_quit_ends_call (void)
{
  WzpCall *call = _wzp_application_get_call (fx.app);
  GtkWidget *dialog;
  g_autofree char *path = wzp_call_history_get_default_path ();
  g_autofree char *saved = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *fingerprint = NULL;
  guint n_before = n_recent_calls ();

  g_assert_nonnull (call);
  fingerprint = g_strdup (wzp_call_get_peer_fingerprint (call));
  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "quit", NULL);
  WZP_UI_WAIT ((dialog = _wzp_application_get_quit_dialog (fx.app)) != NULL, TIMEOUT_MS);
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "quit");

  /* The call ended, it is in Recent Calls, and on disk before the app goes. */
  g_assert_null (_wzp_application_get_call (fx.app));
  g_assert_null (_wzp_application_get_quit_dialog (fx.app));
  g_assert_cmpuint (n_recent_calls (), ==, n_before + 1);
  g_assert_cmpstr (wzp_call_record_get_fingerprint (newest_record ()), ==, fingerprint);
  g_assert_cmpint (wzp_call_record_get_outcome (newest_record ()), ==, WZP_CALL_OUTCOME_ANSWERED);
  g_assert_true (g_file_get_contents (path, &saved, NULL, &error));
  g_assert_no_error (error);
  {
    g_autoptr(JsonNode) root = json_from_string (saved, &error);
    JsonArray *calls;
    JsonObject *first;

    g_assert_no_error (error);
    calls = json_object_get_array_member (json_node_get_object (root), "calls");
    g_assert_nonnull (calls);
    g_assert_cmpuint (json_array_get_length (calls), ==, n_recent_calls ());
    first = json_array_get_object_element (calls, 0);
    g_assert_cmpstr (json_object_get_string_member (first, "fingerprint"), ==, fingerprint);
  }
  /* Mom heard the hang-up. */
  g_assert_true (wzp_ui_peer_wait_exit (fx.held_peer, TIMEOUT_MS));
  g_clear_pointer (&fx.held_peer, wzp_ui_peer_free);
}

static void
test_unknown_callee (void)
{
  GtkWidget *dial_row = dialer_child ("dial_row");

  /* Dialled from the entry. Someone we call is no "caller". */
  gtk_editable_set_text (GTK_EDITABLE (dial_row), UNKNOWN_FP);
  g_assert_true (gtk_widget_activate (dialer_child ("call_button")));
  WZP_UI_WAIT (wzp_window_is_in_call (window ()), TIMEOUT_MS);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (call_child ("name_label"))), ==,
                   "Unknown contact");
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (call_child ("fingerprint_label"))), ==,
                   "0000:1111:2222:3333\n4444:5555:6666:7777");
  WZP_UI_WAIT (g_strcmp0 (outcome (), "Not reachable") == 0, TIMEOUT_MS);
  g_assert_cmpstr (wzp_call_page_get_outcome_detail (call_page ()), ==,
                   "Nobody with this fingerprint is connected to your relay");
  g_assert_true (gtk_widget_get_visible (call_child ("outcome_detail")));
  /* Recent Calls: someone not reachable, not a failure, and no "caller". */
  g_assert_cmpint (wzp_call_record_get_outcome (newest_record ()), ==,
                   WZP_CALL_OUTCOME_UNREACHABLE);
  {
    g_autofree char *described = wzp_call_record_describe (newest_record ());

    g_assert_true (g_str_has_prefix (described, "Outgoing · Not reachable · "));
  }
  /* As the Recent Calls view shows it. */
  {
    GtkListBoxRow *row = gtk_list_box_get_row_at_index (
                           GTK_LIST_BOX (dialer_child ("recents_list")), 0);

    g_assert_true (ADW_IS_ACTION_ROW (row));
    g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), ==,
                     "Unknown contact");
    g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)),
                              "Not reachable"));
  }
  g_assert_false (_wzp_application_is_inhibiting (fx.app));
  /* No toast: the page says it. */
  g_assert_null (wzp_window_get_last_toast (window ()));
  close_outcome ();
  /* Refused: the fingerprint is still in the entry, to try again. */
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (dial_row)), ==, UNKNOWN_FP);
  gtk_editable_set_text (GTK_EDITABLE (dial_row), "");
}

/* Declined: the page says so; Call Again calls the same fingerprint again. */
static void
test_declined_then_call_again (void)
{
  g_autoptr(WzpUiPeer) refuser = spawn_listener ("reject", NULL);
  g_autoptr(WzpUiPeer) answerer = NULL;
  GtkWidget *again = NULL;

  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "dial",
                                  g_variant_new_string (fx.peer_fingerprint));
  WZP_UI_WAIT (g_strcmp0 (outcome (), "Declined") == 0, TIMEOUT_MS);
  g_assert_true (wzp_window_is_in_call (window ()));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (call_child ("name_label"))), ==, "Mom");
  g_assert_cmpint (wzp_call_record_get_outcome (newest_record ()), ==, WZP_CALL_OUTCOME_DECLINED);
  wzp_ui_peer_wait_exit (refuser, TIMEOUT_MS);
  wzp_ui_save_screenshot (GTK_WIDGET (window ()), "call-outcome.png");

  answerer = spawn_listener ("trusted", "1");
  again = call_child ("call_again_button");
  g_assert_true (gtk_widget_get_visible (again));
  g_assert_true (gtk_widget_activate (again));
  /* The same page goes back to calling, then connects. (A button's activation clicks it
   * after its press animation.) */
  WZP_UI_WAIT (wzp_call_page_get_outcome (call_page ()) == NULL, TIMEOUT_MS);
  g_assert_true (gtk_widget_get_visible (call_child ("controls_box")));
  wzp_ui_peer_wait_event (answerer, "incoming", TIMEOUT_MS);
  WZP_UI_WAIT (g_strcmp0 (call_state (), "Connected") == 0, TIMEOUT_MS);
  g_assert_cmpstr (wzp_call_get_peer_fingerprint (_wzp_application_get_call (fx.app)), ==,
                   fx.peer_fingerprint);
  WZP_UI_WAIT (g_str_has_prefix (outcome (), "Call ended · "), TIMEOUT_MS);
  close_outcome ();
  wzp_ui_peer_wait_exit (answerer, TIMEOUT_MS);
}

typedef struct
{
  WzpClient *client;
  WzpCall   *call;
  gboolean   connected;
} SilentPeer;

static void
silent_connected_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  SilentPeer *peer = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (wzp_client_connect_finish (WZP_CLIENT (source), result, &error));
  g_assert_no_error (error);
  peer->connected = TRUE;
}

/* Lets it ring: never answers. */
static void
silent_incoming_cb (WzpClient  *client,
                    WzpCall    *call,
                    SilentPeer *peer)
{
  g_set_object (&peer->call, call);
  wzp_call_ring (call);
}

/* Nobody answers before the relay's ring timeout: "No answer", not "Failed". */
static void
test_no_answer (void)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  SilentPeer peer = { 0 };
  g_autofree char *fingerprint = NULL;
  guint ring_timeout = 0;

  peer.client = wzp_client_new (identity);
  _wzp_client_set_test_loopback (peer.client, TRUE);
  wzp_client_set_relay_uri (peer.client, fx.relay_uri);
  g_signal_connect (peer.client, "incoming-call", G_CALLBACK (silent_incoming_cb), &peer);
  wzp_client_connect_async (peer.client, NULL, silent_connected_cb, &peer);
  WZP_UI_WAIT (peer.connected, TIMEOUT_MS);
  g_object_get (peer.client, "fingerprint", &fingerprint, NULL);

  g_object_get (fx.relay, "ring-timeout", &ring_timeout, NULL);
  g_object_set (fx.relay, "ring-timeout", 2, NULL);
  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "dial",
                                  g_variant_new_string (fingerprint));
  WZP_UI_WAIT (peer.call != NULL, TIMEOUT_MS);
  WZP_UI_WAIT (g_strcmp0 (call_state (), "Ringing…") == 0, TIMEOUT_MS);
  WZP_UI_WAIT (g_strcmp0 (outcome (), "No answer") == 0, TIMEOUT_MS);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (call_child ("name_label"))), ==,
                   "Unknown contact");
  /* Recent Calls says so too. */
  g_assert_cmpint (wzp_call_record_get_outcome (newest_record ()), ==,
                   WZP_CALL_OUTCOME_NO_ANSWER);
  {
    g_autofree char *described = wzp_call_record_describe (newest_record ());

    g_assert_true (g_str_has_prefix (described, "Outgoing · No answer · "));
  }
  g_object_set (fx.relay, "ring-timeout", ring_timeout, NULL);
  close_outcome ();

  g_signal_handlers_disconnect_by_data (peer.client, &peer);
  g_clear_object (&peer.call);
  wzp_client_unregister (peer.client);
  g_clear_object (&peer.client);
}

/* In another call: refuses with "busy", as this app does (wzp_call_decline). */
static void
busy_incoming_cb (WzpClient  *client,
                  WzpCall    *call,
                  SilentPeer *peer)
{
  g_set_object (&peer->call, call);
  wzp_call_decline (call, WZP_HANGUP_REASON_BUSY);
}

/* The other side is busy: the call page says "Busy" (not "Declined", not "Failed"), the
 * busy tone plays once, and Recent Calls says Busy. The callee is a client in this process
 * that refuses through the library, as the app does when a call comes during a call
 * (test_busy has the app's side of that). */
static void
test_busy_outcome (void)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  SilentPeer peer = { 0 };
  g_autofree char *fingerprint = NULL;
  guint sounds_before = n_sound_events ();

  peer.client = wzp_client_new (identity);
  _wzp_client_set_test_loopback (peer.client, TRUE);
  wzp_client_set_relay_uri (peer.client, fx.relay_uri);
  g_signal_connect (peer.client, "incoming-call", G_CALLBACK (busy_incoming_cb), &peer);
  wzp_client_connect_async (peer.client, NULL, silent_connected_cb, &peer);
  WZP_UI_WAIT (peer.connected, TIMEOUT_MS);
  g_object_get (peer.client, "fingerprint", &fingerprint, NULL);

  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "dial",
                                  g_variant_new_string (fingerprint));
  WZP_UI_WAIT (g_strcmp0 (outcome (), "Busy") == 0, TIMEOUT_MS);
  g_assert_nonnull (peer.call);
  g_assert_cmpint (wzp_call_get_end_reason (peer.call), ==, WZP_HANGUP_REASON_BUSY);
  g_assert_true (wzp_window_is_in_call (window ()));
  g_assert_true (gtk_widget_get_visible (call_child ("call_again_button")));
  g_assert_true (sound_recorded_since (sounds_before, "play " WZP_SOUND_BUSY));
  g_assert_cmpint (wzp_call_record_get_outcome (newest_record ()), ==, WZP_CALL_OUTCOME_BUSY);
  g_assert_cmpstr (wzp_call_record_get_fingerprint (newest_record ()), ==, fingerprint);
  {
    g_autofree char *described = wzp_call_record_describe (newest_record ());

    g_assert_true (g_str_has_prefix (described, "Outgoing · Busy · "));
  }
  close_outcome ();

  g_signal_handlers_disconnect_by_data (peer.client, &peer);
  g_clear_object (&peer.call);
  wzp_client_unregister (peer.client);
  g_clear_object (&peer.client);
}

static void
test_main_window_screenshot (void)
{
  WzpDialerPage *page = wzp_window_get_dialer_page (window ());

  g_assert_false (wzp_window_is_in_call (window ()));
  gtk_editable_set_text (GTK_EDITABLE (dialer_child ("dial_row")), "");
  gtk_window_set_default_size (GTK_WINDOW (window ()), 460, 760);
  wzp_window_dismiss_toasts (window ());
  wzp_dialer_page_show_view (page, "call");
  wzp_ui_spin (500);
  /* Nothing red after all the calls refused and failed before: the entry is as new. */
  g_assert_false (gtk_widget_has_css_class (dialer_child ("dial_row"), "error"));
  g_assert_false (gtk_widget_has_css_class (dialer_child ("dial_hint"), "error"));
  g_assert_true (gtk_widget_has_css_class (dialer_child ("dial_hint"), "dim-label"));
  wzp_ui_save_screenshot (GTK_WIDGET (window ()), "main-window.png");
  wzp_dialer_page_show_view (page, "contacts");
  wzp_ui_save_screenshot (GTK_WIDGET (window ()), "contacts.png");
  wzp_dialer_page_show_view (page, "recents");
  wzp_ui_save_screenshot (GTK_WIDGET (window ()), "recent-calls.png");
  wzp_dialer_page_show_contact (page, fx.peer_fingerprint);
  g_assert_cmpstr (wzp_dialer_page_get_visible_view (page), ==, "contact");
  wzp_ui_save_screenshot (GTK_WIDGET (window ()), "contact.png");

  /* At 360 px, the switcher moves to the bottom. */
  wzp_dialer_page_show_view (page, "call");
  gtk_window_set_default_size (GTK_WINDOW (window ()), 360, 720);
  wzp_ui_spin (500);
  WZP_UI_WAIT (gtk_widget_get_visible (dialer_child ("switcher_bar")), TIMEOUT_MS);
  wzp_ui_save_screenshot (GTK_WIDGET (window ()), "main-window-narrow.png");
  /* Wide, it is in the header bar. */
  gtk_window_set_default_size (GTK_WINDOW (window ()), 800, 760);
  WZP_UI_WAIT (!gtk_widget_get_visible (dialer_child ("switcher_bar")), TIMEOUT_MS);
  gtk_window_set_default_size (GTK_WINDOW (window ()), 460, 760);
  wzp_ui_spin (300);
}

static void
test_link_opens_dialer (void)
{
  g_autofree char *link = wzp_link_build (fx.peer_fingerprint, fx.relay_uri);
  g_autoptr(GFile) file = g_file_new_for_uri (link);
  GtkWidget *dial_row = dialer_child ("dial_row");
  g_autoptr(GFile) bad = g_file_new_for_uri ("wzp:1a2b:3c4d");
  WzpDialerPage *page = wzp_window_get_dialer_page (window ());

  /* As when a wzp: link is opened (desktop file: x-scheme-handler/wzp). */
  wzp_dialer_page_show_view (page, "recents");
  gtk_editable_set_text (GTK_EDITABLE (dial_row), "");
  g_application_open (G_APPLICATION (fx.app), &file, 1, "");
  g_assert_cmpstr (wzp_dialer_page_get_visible_view (page), ==, "call");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (dial_row)), ==, fx.peer_fingerprint);
  g_assert_true (gtk_widget_get_sensitive (dialer_child ("call_button")));
  wzp_ui_assert_accessible_label (dialer_child ("call_button"), "Call Mom");
  g_assert_false (wzp_window_is_in_call (window ()));

  /* A link that cannot be called says why. */
  g_application_open (G_APPLICATION (fx.app), &bad, 1, "");
  g_assert_cmpstr (last_toast (), ==, "This link cannot be called");
  gtk_editable_set_text (GTK_EDITABLE (dial_row), "");
}

static void
test_identity_dialog (void)
{
  g_autofree char *fingerprint = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *parsed_fp = NULL;
  g_autofree char *parsed_relay = NULL;
  g_autoptr(GError) error = NULL;
  WzpIdentityDialog *dialog;
  GdkTexture *qr;

  g_object_get (client (), "fingerprint", &fingerprint, NULL);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window ()), "dialer.show-identity",
                                             NULL) ||
                 gtk_widget_activate_action (dialer_child ("identity_button"),
                                             "dialer.show-identity", NULL));
  WZP_UI_WAIT ((dialog = (WzpIdentityDialog *) find_toplevel (WZP_TYPE_IDENTITY_DIALOG)) != NULL,
               TIMEOUT_MS);

  /* The QR code holds the wzp: link with the fingerprint and the relay. */
  expected = wzp_link_build (fingerprint, fx.relay_uri);
  g_assert_cmpstr (wzp_identity_dialog_get_link (dialog), ==, expected);
  g_assert_true (wzp_link_parse (wzp_identity_dialog_get_link (dialog), &parsed_fp,
                                 &parsed_relay, &error));
  g_assert_cmpstr (parsed_fp, ==, fingerprint);
  g_assert_cmpstr (parsed_relay, ==, fx.relay_uri);
  qr = wzp_identity_dialog_get_qr_texture (dialog);
  g_assert_nonnull (qr);
  g_assert_cmpint (gdk_texture_get_width (qr), >, 100);
  wzp_ui_assert_accessible_label (wzp_identity_dialog_get_copy_button (dialog),
                                  "Copy fingerprint");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (wzp_identity_dialog_get_name_row (dialog))),
                   ==, "Bob");

  /* Narrow: the code and both lines of the fingerprint still fit. */
  gtk_window_set_default_size (GTK_WINDOW (dialog), 360, 720);
  wzp_ui_save_screenshot (GTK_WIDGET (dialog), "identity.png");
  gtk_window_destroy (GTK_WINDOW (dialog));
}

static void
test_signed_in_elsewhere (void)
{
  g_autofree char *own_identity = g_build_filename (g_get_user_data_dir (), "wzp",
                                                    "identity.pem", NULL);
  g_autoptr(WzpUiPeer) other = NULL;
  GVariant *entry;
  g_autofree char *title = NULL;

  /* Another program with this identity registers at the relay. */
  g_assert_true (g_file_test (own_identity, G_FILE_TEST_EXISTS));
  other = wzp_ui_peer_spawn (fx.relay_uri, own_identity, NULL, "listen", "--answer", "reject",
                             NULL);
  wzp_ui_peer_wait_event (other, "registered", TIMEOUT_MS);

  /* Shown, and notified (the window may be closed). */
  WZP_UI_WAIT (g_strcmp0 (status_title (), "Signed in somewhere else") == 0, TIMEOUT_MS);
  WZP_UI_WAIT ((entry = find_notification ("signed-in-elsewhere")) != NULL, TIMEOUT_MS);
  title = notification_string (entry, "title");
  g_assert_cmpstr (title, ==, "Signed in somewhere else");
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (dialer_child ("relay_button"))),
                   ==, "app.reconnect");

  /* The other program goes; reconnecting here takes the calls back. */
  wzp_ui_peer_terminate (other);
  wzp_ui_peer_wait_exit (other, TIMEOUT_MS);
  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "reconnect", NULL);
  WZP_UI_WAIT (wzp_client_get_state (client ()) == WZP_CLIENT_STATE_CONNECTED, TIMEOUT_MS);
  WZP_UI_WAIT (was_withdrawn ("signed-in-elsewhere"), TIMEOUT_MS);
}


static void
test_about_and_shortcuts (void)
{
  GtkWindow *about;
  GtkWindow *shortcuts;

  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "about", NULL);
  WZP_UI_WAIT ((about = find_toplevel (ADW_TYPE_ABOUT_WINDOW)) != NULL, TIMEOUT_MS);
  g_assert_cmpstr (adw_about_window_get_application_name (ADW_ABOUT_WINDOW (about)), ==,
                   "Wzp Phone");
  g_assert_cmpstr (adw_about_window_get_version (ADW_ABOUT_WINDOW (about)), ==, PACKAGE_VERSION);
  /* The debug info says where the client stands. */
  g_assert_nonnull (strstr (adw_about_window_get_debug_info (ADW_ABOUT_WINDOW (about)),
                            fx.relay_uri));
  gtk_window_destroy (about);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window ()), "win.show-help-overlay",
                                             NULL));
  WZP_UI_WAIT ((shortcuts = find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW)) != NULL, TIMEOUT_MS);
  gtk_widget_set_visible (GTK_WIDGET (shortcuts), FALSE);
}

static void
test_quit (void)
{
  /* With no call, Ctrl+Q quits without asking. */
  g_assert_null (_wzp_application_get_call (fx.app));
  g_action_group_activate_action (G_ACTION_GROUP (fx.app), "quit", NULL);
  g_assert_null (_wzp_application_get_quit_dialog (fx.app));
  wzp_ui_spin (100);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(WzpIdentity) relay_identity = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) uris = NULL;
  g_autoptr(WzpUiPeer) probe = NULL;
  int status;

  wzp_ui_test_init (&argc, &argv);
  if (g_getenv ("DBUS_SESSION_BUS_ADDRESS") == NULL)
    {
      printf ("1..0 # SKIP no session bus (run under dbus-run-session)\n");
      return 0;
    }

  start_notification_server ();

  relay_identity = wzp_test_identity_new ();
  fx.relay = wzp_relay_new (relay_identity);
  g_assert_true (wzp_relay_listen (fx.relay, "127.0.0.1:0", NULL, &error));
  g_assert_no_error (error);
  uris = wzp_relay_dup_uris (fx.relay);
  fx.relay_uri = g_strdup (uris[0]);

  /* The peer's identity, and its fingerprint, once. */
  fx.tmp_dir = g_dir_make_tmp ("wzp-ui-peer-XXXXXX", NULL);
  fx.peer_identity = g_build_filename (fx.tmp_dir, "peer.pem", NULL);
  probe = wzp_ui_peer_spawn (fx.relay_uri, fx.peer_identity, NULL, "fingerprint", NULL);
  fx.peer_fingerprint = g_strdup (json_object_get_string_member (
    wzp_ui_peer_wait_event (probe, "fingerprint", TIMEOUT_MS), "fingerprint"));
  g_assert_true (wzp_ui_peer_wait_exit (probe, TIMEOUT_MS));
  g_clear_pointer (&probe, wzp_ui_peer_free);
  fx.peer2_identity = g_build_filename (fx.tmp_dir, "peer2.pem", NULL);
  probe = wzp_ui_peer_spawn (fx.relay_uri, fx.peer2_identity, NULL, "fingerprint", NULL);
  fx.peer2_fingerprint = g_strdup (json_object_get_string_member (
    wzp_ui_peer_wait_event (probe, "fingerprint", TIMEOUT_MS), "fingerprint"));
  g_assert_true (wzp_ui_peer_wait_exit (probe, TIMEOUT_MS));
  g_clear_pointer (&probe, wzp_ui_peer_free);
  fx.sounds = g_object_new (FAKE_TYPE_SOUNDS, NULL);

  fx.app = wzp_application_new ();

  g_test_add_func ("/wzp/ui/app/startup", test_startup);
  g_test_add_func ("/wzp/ui/app/relay-errors", test_relay_errors);
  g_test_add_func ("/wzp/ui/app/preferences-change-client", test_preferences_change_client);
  g_test_add_func ("/wzp/ui/app/outgoing-call", test_outgoing_call);
  g_test_add_func ("/wzp/ui/app/private-call-hung-up-by-peer", test_private_call_hung_up_by_peer);
  g_test_add_func ("/wzp/ui/app/ringing-page", test_ringing_page);
  g_test_add_func ("/wzp/ui/app/ringing-page-federated", test_ringing_page_federated);
  g_test_add_func ("/wzp/ui/app/ringing-do-not-disturb", test_ringing_do_not_disturb);
  g_test_add_func ("/wzp/ui/app/ringing-do-not-disturb-turned-on",
                   test_ringing_do_not_disturb_turned_on);
  g_test_add_func ("/wzp/ui/app/ringing-escape-declines", test_ringing_escape_declines);
  g_test_add_func ("/wzp/ui/app/incoming-notification-answer-privately",
                   test_incoming_notification_answer_privately);
  g_test_add_func ("/wzp/ui/app/incoming-notification-decline",
                   test_incoming_notification_decline);
  g_test_add_func ("/wzp/ui/app/missed-call", test_missed_call);
  g_test_add_func ("/wzp/ui/app/busy", test_busy);
  g_test_add_func ("/wzp/ui/app/unknown-callee", test_unknown_callee);
  g_test_add_func ("/wzp/ui/app/declined-then-call-again", test_declined_then_call_again);
  g_test_add_func ("/wzp/ui/app/no-answer", test_no_answer);
  g_test_add_func ("/wzp/ui/app/busy-outcome", test_busy_outcome);
  g_test_add_func ("/wzp/ui/app/main-window-screenshot", test_main_window_screenshot);
  g_test_add_func ("/wzp/ui/app/link-opens-dialer", test_link_opens_dialer);
  g_test_add_func ("/wzp/ui/app/identity-dialog", test_identity_dialog);
  g_test_add_func ("/wzp/ui/app/signed-in-elsewhere", test_signed_in_elsewhere);
  g_test_add_func ("/wzp/ui/app/about-and-shortcuts", test_about_and_shortcuts);
  g_test_add_func ("/wzp/ui/app/close-window-during-call", test_close_window_during_call);
  g_test_add_func ("/wzp/ui/app/quit-during-call-asks", test_quit_during_call_asks);
  g_test_add_func ("/wzp/ui/app/quit-ends-call", test_quit_ends_call);
  g_test_add_func ("/wzp/ui/app/quit", test_quit);

  status = g_test_run ();

  g_clear_object (&fx.app);
  wzp_relay_stop (fx.relay);
  g_clear_object (&fx.relay);
  if (fx.peer_identity != NULL)
    g_unlink (fx.peer_identity);
  if (fx.peer2_identity != NULL)
    g_unlink (fx.peer2_identity);
  g_free (fx.peer2_identity);
  g_free (fx.peer2_fingerprint);
  g_clear_object (&fx.sounds);
  if (fx.tmp_dir != NULL)
    g_rmdir (fx.tmp_dir);
  g_free (fx.peer_identity);
  g_free (fx.tmp_dir);
  g_free (fx.relay_uri);
  g_free (fx.peer_fingerprint);
  g_bus_unown_name (fx.owner_id);
  g_dbus_connection_unregister_object (fx.bus, fx.object_id);
  g_clear_object (&fx.bus);
  g_ptr_array_unref (fx.notifications);
  g_ptr_array_unref (fx.withdrawn);
  return status;
}
