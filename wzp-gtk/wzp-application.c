/* wzp-application.c: the app: identity, client, calls, notifications, sounds, actions
 *
 * The application owns everything that must outlive a window: the identity and the
 * WzpClient (whose settings are bound from GSettings), the contacts and recent calls, the
 * call in progress with its suspend and idle inhibition, and incoming calls.
 *
 * A call is never only a notification, and never invisible (docs/app.md): a call that
 * rings shows the ringing page in the window (created and presented if need be) and a
 * notification, and plays the ringtone unless Do Not Disturb is on; a call that arrives
 * during another one is refused as busy, and the window says who tried; closing the window
 * during a call leaves a "Call in progress" notification; quitting during a call asks
 * first, and the call ended that way is saved in Recent Calls before the app exits.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "wzp-application-private.h"
#include "wzp-background.h"
#include "wzp-call-clock.h"
#include "wzp-call-outcome.h"
#include "wzp-gsound-player.h"
#include "wzp-gtk-util.h"
#include "wzp-link.h"
#include "wzp-preferences-window.h"
#include "wzp-signed-in-elsewhere.h"

/* An outgoing call while wzp_client_place_call_async() runs. Its WzpCall arrives at once
 * through WzpClient::outgoing-call; the async result only says how the attempt ended. */
typedef struct
{
  WzpApplication *app;
  char           *fingerprint;
  GCancellable   *cancellable;
  WzpCall        *call;          /* from ::outgoing-call */
  gboolean        abandoned;     /* the user hung up: no error toast */
} Dial;

struct _WzpApplication
{
  AdwApplication  parent_instance;

  GSettings      *settings;
  WzpIdentity    *identity;
  WzpClient      *client;
  WzpContacts    *contacts;
  WzpCallHistory *history;
  GCancellable   *cancellable;
  GError         *relay_error;     /* why the last connection failed, with its code */

  /* The call on the call page: first a Dial, then its WzpCall. */
  Dial           *dial;
  WzpCall        *call;
  gint64          call_start;      /* wall clock (s) when placed or when it rang */
  gboolean        hung_up_locally;
  gboolean        inhibiting;
  guint           inhibit_cookie;
  gboolean        held_for_call;
  gboolean        held_for_background;

  /* An incoming call waiting for an answer. */
  WzpCall        *ringing;
  gint64          ringing_start;

  /* The last caller told busy, shown until called back: fingerprint, or NULL. */
  char           *busy_caller;

  /* Ringtone and ringback; Do Not Disturb (org.gnome.desktop.notifications, or NULL). */
  WzpSoundPlayer *sounds;
  const char     *sound_playing;   /* WZP_SOUND_*, or NULL */
  GSettings      *desktop_notifications;
  gboolean        desktop_notifications_looked_up;

  GtkWidget      *quit_dialog;     /* "End the call and quit?", or NULL */
  gboolean        ongoing_notified;
  gboolean        background_failed_told;
};

G_DEFINE_FINAL_TYPE (WzpApplication, wzp_application, ADW_TYPE_APPLICATION)

enum {
  PROP_0,
  PROP_CLIENT,
  N_PROPS,
};
static GParamSpec *properties[N_PROPS];

static void
dial_free (Dial *dial)
{
  g_object_unref (dial->app);
  g_clear_object (&dial->call);
  g_free (dial->fingerprint);
  g_clear_object (&dial->cancellable);
  g_free (dial);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Dial, dial_free)

/* Windows */

WzpWindow *
wzp_application_get_main_window (WzpApplication *self)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l; l = l->next)
    if (WZP_IS_WINDOW (l->data))
      return l->data;
  return NULL;
}

static char *
notification_id (const char *prefix,
                 WzpCall    *call)
{
  return g_strdup_printf ("%s-%s", prefix, wzp_call_get_call_id (call));
}

/* The notification that stands for a window closed during a call. */
static void
withdraw_ongoing (WzpApplication *self)
{
  if (!self->ongoing_notified)
    return;
  self->ongoing_notified = FALSE;
  g_application_withdraw_notification (G_APPLICATION (self), "ongoing-call");
}

static void
show_busy_caller (WzpApplication *self,
                  WzpWindow      *window)
{
  g_autofree char *name = NULL;

  if (self->busy_caller == NULL)
    return;
  name = wzp_contacts_dup_display_name (self->contacts, self->busy_caller);
  wzp_window_show_busy_call (window, name, self->busy_caller);
}

static WzpWindow *
ensure_main_window (WzpApplication *self)
{
  WzpWindow *window = wzp_application_get_main_window (self);

  if (window != NULL)
    return window;

  window = wzp_window_new (GTK_APPLICATION (self));
  wzp_window_set_settings (window, self->settings);
  wzp_window_set_contacts (window, self->contacts);
  wzp_window_set_history (window, self->history);
  wzp_window_set_client (window, self->client);
  wzp_dialer_page_set_relay_error (wzp_window_get_dialer_page (window), self->relay_error);
  if (self->call != NULL)
    wzp_window_show_call (window, self->call);
  else if (self->dial != NULL)
    wzp_window_show_outgoing (window, self->dial->fingerprint);
  if (self->ringing != NULL)
    wzp_window_show_ringing (window, self->ringing);
  show_busy_caller (self, window);
  withdraw_ongoing (self);
  return window;
}

static void
toast (WzpApplication *self,
       const char     *title,
       const char     *details)
{
  WzpWindow *window = wzp_application_get_main_window (self);

  if (window != NULL)
    wzp_window_show_problem (window, title, details);
}

/* The call is over: its page stays with the outcome, Call Again and Close (docs/app.md,
 * "Outcomes"), instead of a toast that queues, goes stale and is cut off. */
static void
show_outcome (WzpApplication *self,
              const char     *title,
              const char     *detail)
{
  WzpWindow *window = wzp_application_get_main_window (self);

  if (window != NULL && wzp_window_is_in_call (window))
    wzp_call_page_show_outcome (wzp_window_get_call_page (window), title, detail);
}

/* A dial refused before any call: said where the user typed it, or on the outcome page
 * when it came from there (Call Again). */
static void
refuse_dial (WzpApplication *self,
             const char     *why)
{
  WzpWindow *window = wzp_application_get_main_window (self);

  if (window == NULL)
    return;
  if (wzp_window_is_in_call (window))
    wzp_call_page_show_outcome (wzp_window_get_call_page (window), _("Cannot call"), why);
  else
    wzp_dialer_page_show_dial_error (wzp_window_get_dialer_page (window), why);
}

/* Sounds: through the WzpSoundPlayer seam, never through a call's audio pipeline. */

static void
desktop_notifications_changed_cb (WzpApplication *self);

static void
set_desktop_notifications (WzpApplication *self,
                           GSettings      *settings)
{
  if (self->desktop_notifications != NULL)
    g_signal_handlers_disconnect_by_data (self->desktop_notifications, self);
  g_set_object (&self->desktop_notifications, settings);
  self->desktop_notifications_looked_up = TRUE;
  if (settings != NULL)
    g_signal_connect_object (settings, "changed::show-banners",
                             G_CALLBACK (desktop_notifications_changed_cb), self,
                             G_CONNECT_SWAPPED);
}

/* Do Not Disturb is GNOME's show-banners=false; elsewhere, or without the schema, off. */
static gboolean
do_not_disturb (WzpApplication *self)
{
  if (!self->desktop_notifications_looked_up)
    {
      GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
      g_autoptr(GSettingsSchema) schema = NULL;
      g_autoptr(GSettings) settings = NULL;

      if (source != NULL)
        schema = g_settings_schema_source_lookup (source, "org.gnome.desktop.notifications",
                                                  TRUE);
      if (schema != NULL && g_settings_schema_has_key (schema, "show-banners"))
        settings = g_settings_new_full (schema, NULL, NULL);
      set_desktop_notifications (self, settings);
    }
  return self->desktop_notifications != NULL &&
         !g_settings_get_boolean (self->desktop_notifications, "show-banners");
}

static void
play_sound (WzpApplication *self,
            const char     *event_id,
            gboolean        repeat)
{
  if (self->sounds == NULL)
    self->sounds = wzp_gsound_player_new ();
  self->sound_playing = event_id;
  wzp_sound_player_play (self->sounds, event_id, repeat);
}

/* Stops @event_id if it is what plays. */
static void
stop_sound (WzpApplication *self,
            const char     *event_id)
{
  if (self->sound_playing == NULL || g_strcmp0 (self->sound_playing, event_id) != 0)
    return;
  self->sound_playing = NULL;
  wzp_sound_player_stop (self->sounds);
}

static void
desktop_notifications_changed_cb (WzpApplication *self)
{
  /* Do Not Disturb turned on while a call rings: silent from now; the page still shows. */
  if (do_not_disturb (self))
    stop_sound (self, WZP_SOUND_RINGTONE);
}

/* History */

static void
record_call (WzpApplication *self,
             const char     *fingerprint,
             const char     *alias,
             gboolean        incoming,
             WzpCallOutcome  outcome,
             gint64          start,
             gint64          duration,
             WzpPathKind     path_kind)
{
  g_autoptr(WzpCallRecord) record = wzp_call_record_new (fingerprint, alias, incoming, outcome,
                                                         start, duration, path_kind);

  wzp_call_history_add (self->history, record);
}

/* While a call is on: no suspend, no idle, and the app stays alive without a window. */

static void
call_began (WzpApplication *self)
{
  if (!self->inhibiting)
    {
      self->inhibiting = TRUE;
      self->inhibit_cookie =
        gtk_application_inhibit (GTK_APPLICATION (self),
                                 GTK_WINDOW (wzp_application_get_main_window (self)),
                                 GTK_APPLICATION_INHIBIT_SUSPEND | GTK_APPLICATION_INHIBIT_IDLE,
                                 _("A call is in progress"));
    }
  if (!self->held_for_call)
    {
      self->held_for_call = TRUE;
      g_application_hold (G_APPLICATION (self));
    }
}

static void
show_main (WzpApplication *self)
{
  WzpWindow *window = wzp_application_get_main_window (self);

  withdraw_ongoing (self);
  if (window != NULL)
    wzp_window_show_main (window);
}

/* (The page stays: with the outcome, or the caller returns to the main page.) */
static void
call_finished (WzpApplication *self)
{
  if (self->inhibiting)
    {
      self->inhibiting = FALSE;
      if (self->inhibit_cookie != 0)
        gtk_application_uninhibit (GTK_APPLICATION (self), self->inhibit_cookie);
      self->inhibit_cookie = 0;
    }
  if (self->held_for_call)
    {
      self->held_for_call = FALSE;
      g_application_release (G_APPLICATION (self));
    }
}

/* The call in progress */

static void
call_state_cb (WzpApplication *self,
               GParamSpec     *pspec,
               WzpCall        *call)
{
  /* Marks the moment it connected, on the call (its pages read the same clock). */
  wzp_call_clock_get_connected (call);

  /* The ringback tone while the other side rings. */
  if (wzp_call_get_role (call) == WZP_CALL_ROLE_CALLER &&
      wzp_call_get_state (call) == WZP_CALL_STATE_RINGING)
    {
      if (g_strcmp0 (self->sound_playing, WZP_SOUND_RINGBACK) != 0)
        play_sound (self, WZP_SOUND_RINGBACK, TRUE);
    }
  else
    stop_sound (self, WZP_SOUND_RINGBACK);
}

static void
call_ended_cb (WzpApplication  *self,
               WzpHangupReason  reason,
               WzpCall         *call)
{
  g_autoptr(WzpCall) keep = g_object_ref (call);
  gboolean incoming = wzp_call_get_role (call) == WZP_CALL_ROLE_CALLEE;
  gint64 connected = wzp_call_clock_get_connected (call);
  gint64 duration = 0;
  WzpCallOutcome outcome;
  g_autofree char *title = NULL;
  g_autofree char *detail = NULL;

  if (call != self->call)
    return;

  g_signal_handlers_disconnect_by_data (call, self);
  g_clear_object (&self->call);

  stop_sound (self, WZP_SOUND_RINGBACK);
  if (!incoming && reason == WZP_HANGUP_REASON_BUSY)
    play_sound (self, WZP_SOUND_BUSY, FALSE);

  if (connected != 0)
    {
      duration = (g_get_monotonic_time () - connected) / G_USEC_PER_SEC;
      outcome = WZP_CALL_OUTCOME_ANSWERED;
    }
  else if (self->hung_up_locally)
    outcome = WZP_CALL_OUTCOME_CANCELLED;
  else if (reason == WZP_HANGUP_REASON_DECLINED)
    outcome = WZP_CALL_OUTCOME_DECLINED;
  else if (reason == WZP_HANGUP_REASON_TIMEOUT)
    outcome = WZP_CALL_OUTCOME_NO_ANSWER;   /* a ring timeout is no failure */
  else if (reason == WZP_HANGUP_REASON_BUSY)
    outcome = WZP_CALL_OUTCOME_BUSY;
  else if (reason == WZP_HANGUP_REASON_UNREACHABLE)
    outcome = WZP_CALL_OUTCOME_UNREACHABLE;   /* an unknown fingerprint: no failure either */
  else
    outcome = WZP_CALL_OUTCOME_FAILED;

  record_call (self, wzp_call_get_peer_fingerprint (call), wzp_call_get_peer_alias (call),
               incoming, outcome, self->call_start, duration, wzp_call_get_path_kind (call));
  call_finished (self);

  if (self->hung_up_locally && connected == 0)
    show_main (self);   /* the user cancelled: nothing to tell */
  else if (incoming || connected != 0)
    {
      /* (An outgoing call that never connected is told by place_call_cb, which has the
       * error's code.) */
      wzp_call_outcome_from_call (call, connected != 0 ? duration : -1, &title,
                                  &detail);
      show_outcome (self, title, detail);
    }
  self->hung_up_locally = FALSE;
}

static void
take_call (WzpApplication *self,
           WzpCall        *call,
           gint64          start)
{
  g_assert (self->call == NULL);

  self->call = g_object_ref (call);
  self->call_start = start;
  self->hung_up_locally = FALSE;
  wzp_call_set_volume (call, g_settings_get_double (self->settings, "call-volume"));
  g_signal_connect_object (call, "notify::state", G_CALLBACK (call_state_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (call, "ended", G_CALLBACK (call_ended_cb), self, G_CONNECT_SWAPPED);
  call_state_cb (self, NULL, call);
  call_began (self);
}

static void
outgoing_call_cb (WzpApplication *self,
                  WzpCall        *call,
                  WzpClient      *client)
{
  WzpWindow *window;

  /* Only the call this app is placing (emitted inside place_call_async). */
  if (self->dial == NULL || self->dial->call != NULL || self->call != NULL ||
      g_strcmp0 (wzp_call_get_peer_fingerprint (call), self->dial->fingerprint) != 0)
    return;

  self->dial->call = g_object_ref (call);
  take_call (self, call, self->call_start);
  window = wzp_application_get_main_window (self);
  if (window != NULL)
    wzp_window_show_call (window, call);
}

static void
place_call_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(Dial) dial = user_data;
  WzpApplication *self = dial->app;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = wzp_client_place_call_finish (WZP_CLIENT (source), result, &error);
  g_autofree char *title = NULL;
  g_autofree char *detail = NULL;

  if (self->dial == dial)
    self->dial = NULL;

  if (call != NULL)
    {
      /* Connected. A call hung up meanwhile is ended here (it cannot be, with
       * ::outgoing-call, but a library without it would hand the call out only now). */
      if (dial->abandoned && wzp_call_get_state (call) != WZP_CALL_STATE_ENDED)
        wzp_call_hangup (call);
      return;
    }
  if (dial->abandoned)
    return;

  if (dial->call == NULL)
    {
      /* Refused before any call existed: not connected, a bad fingerprint, nobody there. */
      gboolean unreachable =
        g_error_matches (error, WZP_CALL_ERROR, WZP_CALL_ERROR_UNKNOWN_PEER) ||
        g_error_matches (error, WZP_CALL_ERROR, WZP_CALL_ERROR_UNREACHABLE);

      record_call (self, dial->fingerprint, NULL, FALSE,
                   unreachable ? WZP_CALL_OUTCOME_UNREACHABLE : WZP_CALL_OUTCOME_FAILED,
                   self->call_start, 0, WZP_PATH_KIND_NONE);
      call_finished (self);
    }
  wzp_call_outcome_from_error (error, &title, &detail);
  show_outcome (self, title, detail);
}

static void
dial (WzpApplication *self,
      const char     *fingerprint)
{
  WzpWindow *window = ensure_main_window (self);
  g_autofree char *own = NULL;

  gtk_window_present (GTK_WINDOW (window));

  if (self->call != NULL || self->dial != NULL || self->ringing != NULL)
    {
      toast (self, _("Hang up the current call first"), NULL);
      return;
    }
  if (!wzp_fingerprint_is_valid (fingerprint))
    {
      refuse_dial (self, _("That is not a complete fingerprint"));
      return;
    }
  if (self->client == NULL || wzp_client_get_state (self->client) != WZP_CLIENT_STATE_CONNECTED)
    {
      refuse_dial (self, _("You are not connected to a relay, so nobody can be called"));
      return;
    }
  g_object_get (self->client, "fingerprint", &own, NULL);
  if (g_strcmp0 (own, fingerprint) == 0)
    {
      refuse_dial (self, _("This is your own fingerprint"));
      return;
    }

  self->dial = g_new0 (Dial, 1);
  self->dial->app = g_object_ref (self);
  self->dial->fingerprint = g_strdup (fingerprint);
  self->dial->cancellable = g_cancellable_new ();
  self->call_start = g_get_real_time () / G_USEC_PER_SEC;
  call_began (self);
  wzp_window_show_outgoing (window, fingerprint);
  wzp_client_place_call_async (self->client, fingerprint, self->dial->cancellable,
                               place_call_cb, self->dial);
}

static void
hang_up (WzpApplication *self)
{
  if (self->dial != NULL)
    {
      self->dial->abandoned = TRUE;
      g_cancellable_cancel (self->dial->cancellable);
    }
  if (self->call != NULL)
    {
      self->hung_up_locally = TRUE;
      wzp_call_hangup (self->call);   /* ::ended does the rest */
      return;
    }
  if (self->dial != NULL)
    {
      /* No call object yet: place_call_cb ends it if it connects anyway. */
      record_call (self, self->dial->fingerprint, NULL, FALSE, WZP_CALL_OUTCOME_CANCELLED,
                   self->call_start, 0, WZP_PATH_KIND_NONE);
      self->dial = NULL;
      call_finished (self);
      show_main (self);
    }
}

/* Incoming calls */

static void
notify_incoming (WzpApplication *self,
                 WzpCall        *call)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *id = notification_id ("incoming-call", call);
  g_autofree char *name = wzp_contacts_dup_display_name (self->contacts,
                                                        wzp_call_get_peer_fingerprint (call));
  g_autofree char *alias = wzp_alias_label (wzp_call_get_peer_alias (call));
  g_autofree char *title = NULL;
  g_autofree char *body = NULL;
  g_autoptr(GIcon) icon = g_themed_icon_new ("call-incoming-symbolic");
  const char *call_id = wzp_call_get_call_id (call);

  /* Translators: %s is the caller's name from the contacts, or "Unknown caller". */
  title = g_strdup_printf (_("Incoming call from %s"), name);
  body = g_strjoin ("\n", wzp_call_get_peer_fingerprint (call), alias, NULL);
  notification = g_notification_new (title);
  g_notification_set_body (notification, body);
  g_notification_set_category (notification, "call.incoming");
  g_notification_set_priority (notification, G_NOTIFICATION_PRIORITY_URGENT);
  g_notification_set_icon (notification, icon);
  g_notification_set_default_action_and_target (notification, "app.show-call", "s", call_id);
  g_notification_add_button_with_target (notification, _("Decline"), "app.decline-call", "s",
                                         call_id);
  g_notification_add_button_with_target (notification, _("Answer Privately"),
                                         "app.answer-call-privately", "s", call_id);
  g_notification_add_button_with_target (notification, _("Answer"), "app.answer-call", "s",
                                         call_id);
  g_application_send_notification (G_APPLICATION (self), id, notification);
}

/* A caller who gave up, or (@busy) who called during another call and was told busy. */
static void
notify_missed (WzpApplication *self,
               WzpCall        *call,
               gboolean        busy)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *id = notification_id ("missed-call", call);
  g_autofree char *name = wzp_contacts_dup_display_name (self->contacts,
                                                        wzp_call_get_peer_fingerprint (call));
  g_autofree char *alias = wzp_alias_label (wzp_call_get_peer_alias (call));
  g_autofree char *title = NULL;
  g_autofree char *body = NULL;
  g_autoptr(GIcon) icon = g_themed_icon_new ("call-missed-symbolic");

  if (busy)
    /* Translators: %s is the caller's name from the contacts, or "Unknown caller". They
     * called during another call and were told that you were busy. */
    title = g_strdup_printf (_("%s tried to call you"), name);
  else
    /* Translators: %s is the caller's name from the contacts, or "Unknown caller". */
    title = g_strdup_printf (_("Missed call from %s"), name);
  body = g_strjoin ("\n", wzp_call_get_peer_fingerprint (call), alias, NULL);
  notification = g_notification_new (title);
  g_notification_set_body (notification, body);
  /* No default action: clicking it activates the app, which shows the recent calls. */
  g_notification_set_category (notification, "call.unanswered");
  g_notification_set_icon (notification, icon);
  g_notification_add_button_with_target (notification, _("Call Back"), "app.call-back", "s",
                                         wzp_call_get_peer_fingerprint (call));
  g_application_send_notification (G_APPLICATION (self), id, notification);
}

static void
stop_ringing (WzpApplication *self)
{
  g_autofree char *id = NULL;
  WzpWindow *window = wzp_application_get_main_window (self);

  if (self->ringing == NULL)
    return;

  id = notification_id ("incoming-call", self->ringing);
  g_application_withdraw_notification (G_APPLICATION (self), id);
  stop_sound (self, WZP_SOUND_RINGTONE);
  if (window != NULL)
    wzp_window_stop_ringing (window);
  g_signal_handlers_disconnect_by_data (self->ringing, self);
  g_clear_object (&self->ringing);
}

static void
answer (WzpApplication *self,
        const char     *call_id,
        WzpAcceptMode   mode);

/* The ringing page, whatever has the focus, and the window brought forward. */
static void
show_ringing (WzpApplication *self)
{
  WzpWindow *window = ensure_main_window (self);

  if (self->ringing == NULL)
    return;
  wzp_window_show_ringing (window, self->ringing);
  /* Best effort: GNOME on Wayland may not raise a window without an activation token;
   * the notification and the ringtone are what make sure the user learns of the call. */
  gtk_window_present (GTK_WINDOW (window));
}

static void
ringing_state_cb (WzpApplication *self,
                  GParamSpec     *pspec,
                  WzpCall        *call)
{
  g_autoptr(WzpCall) keep = g_object_ref (call);

  if (call != self->ringing || wzp_call_get_state (call) != WZP_CALL_STATE_ENDED)
    return;

  /* The caller gave up, or nobody answered in time. */
  stop_ringing (self);
  record_call (self, wzp_call_get_peer_fingerprint (call), wzp_call_get_peer_alias (call), TRUE,
               WZP_CALL_OUTCOME_MISSED, self->ringing_start, 0, WZP_PATH_KIND_NONE);
  notify_missed (self, call, FALSE);
}

/* One call at a time, and no call waiting (no hold yet): a call that arrives during another
 * one, or while one rings, is refused as busy at once, and the user sees who tried, with
 * Call Back, in the window (during the call and after it) and in a notification. */
static void
refuse_busy (WzpApplication *self,
             WzpCall        *call)
{
  WzpWindow *window = wzp_application_get_main_window (self);

  /* The caller is told "busy", not "declined". */
  wzp_call_decline (call, WZP_HANGUP_REASON_BUSY);

  record_call (self, wzp_call_get_peer_fingerprint (call), wzp_call_get_peer_alias (call),
               TRUE, WZP_CALL_OUTCOME_MISSED, g_get_real_time () / G_USEC_PER_SEC, 0,
               WZP_PATH_KIND_NONE);
  g_free (self->busy_caller);
  self->busy_caller = g_strdup (wzp_call_get_peer_fingerprint (call));
  notify_missed (self, call, TRUE);
  if (window != NULL)
    show_busy_caller (self, window);
}

static void
incoming_call_cb (WzpApplication *self,
                  WzpCall        *call,
                  WzpClient      *client)
{
  if (self->call != NULL || self->dial != NULL || self->ringing != NULL)
    {
      refuse_busy (self, call);
      return;
    }

  self->ringing = g_object_ref (call);
  self->ringing_start = g_get_real_time () / G_USEC_PER_SEC;
  g_signal_connect_object (call, "notify::state", G_CALLBACK (ringing_state_cb), self,
                           G_CONNECT_SWAPPED);
  wzp_call_ring (call);

  /* The page whatever the focus, and the notification too: the window may not come
   * forward, and may be closed before the call is answered. */
  show_ringing (self);
  notify_incoming (self, call);
  if (!do_not_disturb (self))
    play_sound (self, WZP_SOUND_RINGTONE, TRUE);
}

static void
answer_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* A failure also ends the call, and ::ended tells the user. */
  if (!wzp_call_answer_finish (WZP_CALL (source), result, &error))
    g_debug ("Answering failed: %s", error->message);
}

static void
answer (WzpApplication *self,
        const char     *call_id,
        WzpAcceptMode   mode)
{
  g_autoptr(WzpCall) call = NULL;
  WzpWindow *window;

  if (self->ringing == NULL || g_strcmp0 (wzp_call_get_call_id (self->ringing), call_id) != 0)
    return;

  call = g_object_ref (self->ringing);
  stop_ringing (self);

  if (mode == WZP_ACCEPT_MODE_REJECT)
    {
      wzp_call_hangup (call);
      record_call (self, wzp_call_get_peer_fingerprint (call), wzp_call_get_peer_alias (call),
                   TRUE, WZP_CALL_OUTCOME_DECLINED, self->ringing_start, 0, WZP_PATH_KIND_NONE);
      return;
    }

  take_call (self, call, self->ringing_start);
  window = ensure_main_window (self);
  wzp_window_show_call (window, call);
  gtk_window_present (GTK_WINDOW (window));
  wzp_call_answer_async (call, mode, NULL, answer_cb, NULL);
}

/* Client */

static gboolean
string_or_null_mapping (GValue   *value,
                        GVariant *variant,
                        gpointer  user_data)
{
  const char *s = g_variant_get_string (variant, NULL);

  g_value_set_string (value, *s != '\0' ? s : NULL);
  return TRUE;
}

static gboolean
strv_or_null_mapping (GValue   *value,
                      GVariant *variant,
                      gpointer  user_data)
{
  g_autofree const char **strv = g_variant_get_strv (variant, NULL);

  g_value_set_boxed (value, strv[0] != NULL ? strv : NULL);
  return TRUE;
}

static gboolean
reflectors_mapping (GValue   *value,
                    GVariant *variant,
                    gpointer  user_data)
{
  const char *uri = g_variant_get_string (variant, NULL);
  const char *strv[] = { uri, NULL };

  g_value_set_boxed (value, *uri != '\0' ? strv : NULL);
  return TRUE;
}

static void
set_relay_error (WzpApplication *self,
                 const GError   *error)
{
  WzpWindow *window = wzp_application_get_main_window (self);

  g_clear_error (&self->relay_error);
  g_free (self->busy_caller);
  if (error != NULL)
    self->relay_error = g_error_copy (error);
  if (window != NULL)
    wzp_dialer_page_set_relay_error (wzp_window_get_dialer_page (window), error);
  wzp_signed_in_elsewhere_notify (G_APPLICATION (self), self->client, self->relay_error);
}

static void
connect_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(WzpApplication) self = user_data;
  g_autoptr(GError) error = NULL;

  if (wzp_client_connect_finish (WZP_CLIENT (source), result, &error))
    set_relay_error (self, NULL);
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
           !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
    set_relay_error (self, error);
}

static void
connect_relay (WzpApplication *self)
{
  const char *uri;

  if (self->client == NULL)
    return;
  uri = wzp_client_get_relay_uri (self->client);
  if (uri == NULL || *uri == '\0')
    return;
  set_relay_error (self, NULL);
  wzp_client_connect_async (self->client, self->cancellable, connect_cb, g_object_ref (self));
}

static void
relay_uri_changed_cb (WzpApplication *self)
{
  const char *uri = wzp_client_get_relay_uri (self->client);
  WzpClientState state = wzp_client_get_state (self->client);

  if (uri == NULL || *uri == '\0')
    {
      wzp_client_unregister (self->client);
      set_relay_error (self, NULL);
      return;
    }

  if (self->call == NULL && self->dial == NULL && self->ringing == NULL)
    {
      /* Start over, so that the first attempt's error reaches connect_cb with its code
       * (a client that retries by itself reports only a message). */
      if (state != WZP_CLIENT_STATE_DISCONNECTED && state != WZP_CLIENT_STATE_FAILED)
        wzp_client_unregister (self->client);
      connect_relay (self);
    }
  else if (state == WZP_CLIENT_STATE_DISCONNECTED || state == WZP_CLIENT_STATE_FAILED)
    connect_relay (self);
  else
    set_relay_error (self, NULL);   /* the client moves to the new relay by itself */
}

static void
client_state_cb (WzpApplication *self)
{
  if (wzp_client_get_state (self->client) == WZP_CLIENT_STATE_CONNECTED)
    set_relay_error (self, NULL);
  else
    wzp_signed_in_elsewhere_notify (G_APPLICATION (self), self->client, self->relay_error);
}

static void
identity_loaded_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(WzpApplication) self = user_data;
  g_autoptr(GError) error = NULL;
  WzpWindow *window;

  self->identity = wzp_identity_load_or_create_finish (result, &error);
  if (self->identity == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                            "MESSAGE", "Cannot load the identity: %s", error->message);
          set_relay_error (self, error);
        }
      return;
    }

  self->client = wzp_client_new (self->identity);
  g_settings_bind_with_mapping (self->settings, "relay-uri", self->client, "relay-uri",
                                G_SETTINGS_BIND_GET, string_or_null_mapping, NULL, NULL, NULL);
  g_settings_bind_with_mapping (self->settings, "alias", self->client, "alias",
                                G_SETTINGS_BIND_GET, string_or_null_mapping, NULL, NULL, NULL);
  g_settings_bind (self->settings, "privacy-by-default", self->client, "privacy",
                   G_SETTINGS_BIND_GET);
  g_settings_bind_with_mapping (self->settings, "interface-deny-list", self->client,
                                "deny-list", G_SETTINGS_BIND_GET, strv_or_null_mapping, NULL,
                                NULL, NULL);
  g_settings_bind_with_mapping (self->settings, "interface-allow-list", self->client,
                                "allow-list", G_SETTINGS_BIND_GET, strv_or_null_mapping, NULL,
                                NULL, NULL);
  g_settings_bind_with_mapping (self->settings, "second-reflector", self->client,
                                "reflectors", G_SETTINGS_BIND_GET, reflectors_mapping, NULL,
                                NULL, NULL);
  /* Empty: follow the system's default device (the library's NULL). */
  g_settings_bind_with_mapping (self->settings, "audio-input", self->client, "audio-source",
                                G_SETTINGS_BIND_GET, string_or_null_mapping, NULL, NULL, NULL);
  g_settings_bind_with_mapping (self->settings, "audio-output", self->client, "audio-sink",
                                G_SETTINGS_BIND_GET, string_or_null_mapping, NULL, NULL, NULL);

  g_signal_connect_object (self->client, "incoming-call", G_CALLBACK (incoming_call_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->client, "outgoing-call", G_CALLBACK (outgoing_call_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->client, "notify::relay-uri", G_CALLBACK (relay_uri_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->client, "notify::state", G_CALLBACK (client_state_cb), self,
                           G_CONNECT_SWAPPED);

  window = wzp_application_get_main_window (self);
  if (window != NULL)
    wzp_window_set_client (window, self->client);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT]);

  connect_relay (self);
}

/* Actions */

static void
quit_now (WzpApplication *self)
{
  if (self->quit_dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->quit_dialog));
  hang_up (self);
  if (self->ringing != NULL)
    answer (self, wzp_call_get_call_id (self->ringing), WZP_ACCEPT_MODE_REJECT);
  /* The call just ended is in Recent Calls: written out before the main loop stops. */
  wzp_call_history_flush (self->history);
  g_application_quit (G_APPLICATION (self));
}

static void
quit_response_cb (WzpApplication *self,
                  const char     *response)
{
  /* Answered: the dialog closes by itself. */
  g_clear_weak_pointer (&self->quit_dialog);
  if (g_strcmp0 (response, "quit") == 0)
    quit_now (self);
}

/* Ctrl+Q during a call or while one rings asks first: quitting ends the call. */
static void
quit_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       user_data)
{
  WzpApplication *self = user_data;
  WzpWindow *window;
  AdwMessageDialog *dialog;
  g_autofree char *name = NULL;
  const char *fingerprint;

  if (self->call == NULL && self->dial == NULL && self->ringing == NULL)
    {
      quit_now (self);
      return;
    }
  if (self->quit_dialog != NULL)
    {
      gtk_window_present (GTK_WINDOW (self->quit_dialog));
      return;
    }

  window = ensure_main_window (self);
  gtk_window_present (GTK_WINDOW (window));
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (window), NULL, NULL));
  if (self->call != NULL || self->dial != NULL)
    {
      fingerprint = self->call != NULL ? wzp_call_get_peer_fingerprint (self->call)
                                       : self->dial->fingerprint;
      name = wzp_contacts_dup_display_name (self->contacts, fingerprint);
      adw_message_dialog_set_heading (dialog, _("Hang Up and Quit?"));
      /* Translators: %s is the other person's name from the contacts, or "Unknown caller". */
      adw_message_dialog_format_body (dialog, _("Quitting ends your call with %s."), name);
      adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"),
                                        "quit", _("_Hang Up and Quit"), NULL);
    }
  else
    {
      name = wzp_contacts_dup_display_name (self->contacts,
                                            wzp_call_get_peer_fingerprint (self->ringing));
      adw_message_dialog_set_heading (dialog, _("Decline the Call and Quit?"));
      /* Translators: %s is the caller's name from the contacts, or "Unknown caller". */
      adw_message_dialog_format_body (dialog, _("%s is calling you. Quitting declines the call."),
                                      name);
      adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"),
                                        "quit", _("_Decline and Quit"), NULL);
    }
  adw_message_dialog_set_response_appearance (dialog, "quit", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_set_weak_pointer (&self->quit_dialog, GTK_WIDGET (dialog));
  g_signal_connect_object (dialog, "response", G_CALLBACK (quit_response_cb), self,
                           G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
preferences_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       user_data)
{
  WzpApplication *self = user_data;
  WzpWindow *window = ensure_main_window (self);
  GtkWidget *preferences = wzp_preferences_window_new (GTK_WINDOW (window), self->settings);

  gtk_window_present (GTK_WINDOW (preferences));
}

static char *
debug_info (WzpApplication *self)
{
  GString *info = g_string_new (NULL);
  g_autofree char *fingerprint = NULL;
  g_auto(GStrv) candidates = NULL;
  g_autofree char *candidates_text = NULL;
  GEnumClass *states = g_type_class_ref (WZP_TYPE_CLIENT_STATE);
  GEnumClass *nat_types = g_type_class_ref (WZP_TYPE_NAT_TYPE);

  g_string_append_printf (info, "wzp-gtk %s (%s)\nlibwzp-glib %s\n", PACKAGE_VERSION, APP_ID,
                          WZP_VERSION_S);
  g_string_append_printf (info, "GTK %u.%u.%u, libadwaita %u.%u.%u, GLib %u.%u.%u\n",
                          gtk_get_major_version (), gtk_get_minor_version (),
                          gtk_get_micro_version (), adw_get_major_version (),
                          adw_get_minor_version (), adw_get_micro_version (),
                          glib_major_version, glib_minor_version, glib_micro_version);
  if (self->client != NULL)
    {
      g_object_get (self->client, "fingerprint", &fingerprint, "host-candidates", &candidates,
                    NULL);
      candidates_text = wzp_join_list ((const char * const *) candidates);
      g_string_append_printf (info,
                              "\nFingerprint: %s\nRelay: %s\nState: %s\nError: %s\n"
                              "Observed address: %s\nNAT type: %s\nPort: %u\n"
                              "Host candidates: %s\n",
                              fingerprint,
                              wzp_client_get_relay_uri (self->client)
                                ? wzp_client_get_relay_uri (self->client) : "(none)",
                              g_enum_get_value (states, wzp_client_get_state (self->client))
                                ->value_nick,
                              wzp_client_get_error_message (self->client)
                                ? wzp_client_get_error_message (self->client) : "(none)",
                              wzp_client_get_observed_address (self->client)
                                ? wzp_client_get_observed_address (self->client) : "(none)",
                              g_enum_get_value (nat_types, wzp_client_get_nat_type (self->client))
                                ->value_nick,
                              wzp_client_get_port (self->client),
                              candidates_text);
    }
  g_type_class_unref (states);
  g_type_class_unref (nat_types);
  return g_string_free (info, FALSE);
}

static void
about_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  WzpApplication *self = user_data;
  WzpWindow *window = ensure_main_window (self);
  g_autofree char *info = debug_info (self);
  const char *developers[] = { _("The wzp developers"), NULL };

  adw_show_about_window (GTK_WINDOW (window),
                         "application-name", _("Wzp Phone"),
                         "application-icon", APP_ID,
                         "developer-name", _("The wzp developers"),
                         "developers", developers,
                         "version", PACKAGE_VERSION,
                         "comments", _("Peer-to-peer voice calls. You call people by their "
                                       "fingerprint; calls take the shortest path that works "
                                       "and are encrypted end to end."),
                         "copyright", "© 2026 The wzp developers",
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "debug-info", info,
                         "debug-info-filename", "wzp-debug-info.txt",
                         /* Translators: put your names here, one a line. */
                         "translator-credits", _("translator-credits"),
                         NULL);
}

static void
dial_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       user_data)
{
  dial (WZP_APPLICATION (user_data), g_variant_get_string (parameter, NULL));
}

static void
forget_busy_caller (WzpApplication *self)
{
  WzpWindow *window = wzp_application_get_main_window (self);

  g_clear_pointer (&self->busy_caller, g_free);
  if (window != NULL)
    wzp_window_hide_busy_call (window);
}

static void
dismiss_busy_call_action (GSimpleAction *action,
                          GVariant      *parameter,
                          gpointer       user_data)
{
  forget_busy_caller (WZP_APPLICATION (user_data));
}

static void
call_back_action (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       user_data)
{
  WzpApplication *self = user_data;
  const char *fingerprint = g_variant_get_string (parameter, NULL);

  /* Called back: "… tried to call you" has done its job (from the window or from the
   * notification), unless the call could not be placed now. */
  dial (self, fingerprint);
  if (g_strcmp0 (self->busy_caller, fingerprint) == 0 && (self->dial != NULL || self->call))
    forget_busy_caller (self);
}

static void
hang_up_action (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  hang_up (WZP_APPLICATION (user_data));
}

static void
toggle_mute_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       user_data)
{
  WzpApplication *self = user_data;

  /* The call page's button is bound to WzpCall:muted and follows. */
  if (self->call != NULL && wzp_call_get_state (self->call) != WZP_CALL_STATE_ENDED)
    wzp_call_set_muted (self->call, !wzp_call_get_muted (self->call));
}

static void
answer_call_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       user_data)
{
  answer (WZP_APPLICATION (user_data), g_variant_get_string (parameter, NULL),
          WZP_ACCEPT_MODE_TRUSTED);
}

static void
answer_call_privately_action (GSimpleAction *action,
                              GVariant      *parameter,
                              gpointer       user_data)
{
  answer (WZP_APPLICATION (user_data), g_variant_get_string (parameter, NULL),
          WZP_ACCEPT_MODE_PRIVACY);
}

static void
decline_call_action (GSimpleAction *action,
                     GVariant      *parameter,
                     gpointer       user_data)
{
  answer (WZP_APPLICATION (user_data), g_variant_get_string (parameter, NULL),
          WZP_ACCEPT_MODE_REJECT);
}

static void
show_call_action (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       user_data)
{
  WzpApplication *self = user_data;
  WzpWindow *window = ensure_main_window (self);

  gtk_window_present (GTK_WINDOW (window));
  if (self->ringing != NULL)
    wzp_window_show_ringing (window, self->ringing);
}

static void
reconnect_action (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       user_data)
{
  WzpApplication *self = user_data;

  if (self->client == NULL)
    return;
  if (wzp_client_get_state (self->client) == WZP_CLIENT_STATE_RECONNECTING)
    wzp_client_unregister (self->client);
  if (wzp_client_get_state (self->client) != WZP_CLIENT_STATE_CONNECTED)
    connect_relay (self);
}

/* A device chosen during a call (on the call page or in the preferences) applies to it at
 * once: the client's properties reach only the calls made after. */
static void
audio_device_changed_cb (WzpApplication *self,
                         const char     *key)
{
  g_autofree char *device = g_settings_get_string (self->settings, key);
  WzpAudioDirection direction = g_str_equal (key, "audio-input") ? WZP_AUDIO_DIRECTION_SOURCE
                                                                 : WZP_AUDIO_DIRECTION_SINK;

  if (self->call != NULL)
    wzp_call_switch_audio_device (self->call, direction, *device != '\0' ? device : NULL);
}

static void
background_requested_cb (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(WzpApplication) self = user_data;
  g_autoptr(GError) error = NULL;

  if (wzp_background_request_finish (result, &error) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                    "MESSAGE", "Cannot start at login: %s", error->message);
  if (!self->background_failed_told)
    {
      self->background_failed_told = TRUE;
      toast (self, _("Wzp Phone cannot start by itself at login"), error->message);
    }
}

/* Held while running in the background, and started at login (wzp-background.c). */
static void
background_changed_cb (WzpApplication *self)
{
  gboolean background = g_settings_get_boolean (self->settings, "run-in-background");

  if (background && !self->held_for_background)
    g_application_hold (G_APPLICATION (self));
  else if (!background && self->held_for_background)
    g_application_release (G_APPLICATION (self));
  self->held_for_background = background;
  wzp_background_request_async (background, self->cancellable, background_requested_cb,
                                g_object_ref (self));
}

static const GActionEntry app_actions[] = {
  { .name = "quit", .activate = quit_action },
  { .name = "preferences", .activate = preferences_action },
  { .name = "about", .activate = about_action },
  { .name = "dial", .activate = dial_action, .parameter_type = "s" },
  { .name = "call-back", .activate = call_back_action, .parameter_type = "s" },
  { .name = "dismiss-busy-call", .activate = dismiss_busy_call_action },
  { .name = "hang-up", .activate = hang_up_action },
  { .name = "toggle-mute", .activate = toggle_mute_action },
  { .name = "answer-call", .activate = answer_call_action, .parameter_type = "s" },
  { .name = "answer-call-privately", .activate = answer_call_privately_action,
    .parameter_type = "s" },
  { .name = "decline-call", .activate = decline_call_action, .parameter_type = "s" },
  { .name = "show-call", .activate = show_call_action, .parameter_type = "s" },
  { .name = "reconnect", .activate = reconnect_action },
};

/* GApplication */

static void
wzp_application_startup (GApplication *application)
{
  WzpApplication *self = WZP_APPLICATION (application);
  g_autofree char *contacts_path = wzp_contacts_get_default_path ();
  g_autofree char *history_path = wzp_call_history_get_default_path ();
  g_autoptr(GError) error = NULL;
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *preferences_accels[] = { "<Control>comma", NULL };
  static const char *hang_up_accels[] = { "<Control><Shift>h", NULL };
  static const char *mute_accels[] = { "<Control>m", NULL };

  /* AdwApplication sets up GTK and Adwaita here: chain up first. */
  G_APPLICATION_CLASS (wzp_application_parent_class)->startup (application);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences",
                                         preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.hang-up", hang_up_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.toggle-mute", mute_accels);

  self->settings = g_settings_new (SETTINGS_SCHEMA_ID);
  g_signal_connect_object (self->settings, "changed::run-in-background",
                           G_CALLBACK (background_changed_cb), self, G_CONNECT_SWAPPED);
  background_changed_cb (self);
  g_signal_connect_object (self->settings, "changed::audio-input",
                           G_CALLBACK (audio_device_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::audio-output",
                           G_CALLBACK (audio_device_changed_cb), self, G_CONNECT_SWAPPED);

  /* A damaged file is kept aside and the dialer page says so in its view (a message in
   * the journal, not a warning: nothing is lost, and the user is told). */
  self->contacts = wzp_contacts_new (contacts_path);
  if (!wzp_contacts_load (self->contacts, &error))
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE", "%s", error->message);
      g_clear_error (&error);
    }
  self->history = wzp_call_history_new (history_path);
  if (!wzp_call_history_load (self->history, &error))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE", "%s", error->message);

  wzp_identity_load_or_create_async (NULL, self->cancellable, identity_loaded_cb,
                                     g_object_ref (self));
}

static void
wzp_application_activate (GApplication *application)
{
  WzpApplication *self = WZP_APPLICATION (application);
  WzpWindow *window = ensure_main_window (self);

  gtk_window_present (GTK_WINDOW (window));
}

/* wzp: links (desktop file: x-scheme-handler/wzp; `wzp-gtk wzp:…`): the dialer, filled. */
static void
wzp_application_open (GApplication  *application,
                      GFile        **files,
                      int            n_files,
                      const char    *hint)
{
  WzpApplication *self = WZP_APPLICATION (application);
  WzpWindow *window = ensure_main_window (self);
  g_autofree char *uri = n_files > 0 ? g_file_get_uri (files[0]) : NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *relay = NULL;
  g_autoptr(GError) error = NULL;

  gtk_window_present (GTK_WINDOW (window));
  if (uri == NULL)
    return;
  if (!wzp_link_parse (uri, &fingerprint, &relay, &error))
    {
      toast (self, _("This link cannot be called"), error->message);
      return;
    }
  wzp_dialer_page_open_link (wzp_window_get_dialer_page (window), fingerprint, relay);
}

static void
wzp_application_shutdown (GApplication *application)
{
  WzpApplication *self = WZP_APPLICATION (application);

  g_cancellable_cancel (self->cancellable);
  stop_ringing (self);
  if (self->call != NULL)
    wzp_call_hangup (self->call);
  if (self->sounds != NULL)
    wzp_sound_player_stop (self->sounds);
  if (self->history != NULL)
    wzp_call_history_flush (self->history);
  if (self->client != NULL)
    wzp_client_unregister (self->client);

  G_APPLICATION_CLASS (wzp_application_parent_class)->shutdown (application);
}

static int
wzp_application_handle_local_options (GApplication *application,
                                      GVariantDict *options)
{
  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("wzp-gtk %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }
  return -1;
}

static void
wzp_application_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  WzpApplication *self = WZP_APPLICATION (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
wzp_application_dispose (GObject *object)
{
  WzpApplication *self = WZP_APPLICATION (object);

  if (self->dial != NULL)
    {
      self->dial->abandoned = TRUE;   /* place_call_cb frees it */
      self->dial = NULL;
    }
  g_clear_object (&self->call);
  g_clear_object (&self->ringing);
  g_clear_object (&self->client);
  g_clear_object (&self->identity);
  g_clear_object (&self->contacts);
  g_clear_object (&self->history);
  g_clear_object (&self->settings);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->sounds);
  if (self->desktop_notifications != NULL)
    g_signal_handlers_disconnect_by_data (self->desktop_notifications, self);
  g_clear_object (&self->desktop_notifications);

  G_OBJECT_CLASS (wzp_application_parent_class)->dispose (object);
}

static void
wzp_application_finalize (GObject *object)
{
  WzpApplication *self = WZP_APPLICATION (object);

  g_clear_error (&self->relay_error);

  G_OBJECT_CLASS (wzp_application_parent_class)->finalize (object);
}

/* Closing the window during a call leaves the call running (the app holds itself) and a
 * notification in its place, so the call is never invisible. */
static void
notify_ongoing (WzpApplication *self)
{
  g_autoptr(GNotification) notification = NULL;
  g_autoptr(GIcon) icon = g_themed_icon_new ("call-start-symbolic");
  const char *fingerprint = self->call != NULL ? wzp_call_get_peer_fingerprint (self->call)
                                               : self->dial->fingerprint;
  g_autofree char *name = wzp_contacts_dup_display_name (self->contacts, fingerprint);
  g_autofree char *body = NULL;

  /* Translators: %s is the other person's name from the contacts, or "Unknown caller". */
  body = g_strdup_printf (_("With %s"), name);
  notification = g_notification_new (_("Call in progress"));
  g_notification_set_body (notification, body);
  g_notification_set_icon (notification, icon);
  g_notification_set_category (notification, "call");
  /* Urgent: it stays until the call ends or the window is back. */
  g_notification_set_priority (notification, G_NOTIFICATION_PRIORITY_URGENT);
  g_notification_set_default_action_and_target (notification, "app.show-call", "s", "");
  g_notification_add_button (notification, _("Hang Up"), "app.hang-up");
  g_notification_add_button_with_target (notification, _("Return"), "app.show-call", "s", "");
  g_application_send_notification (G_APPLICATION (self), "ongoing-call", notification);
  self->ongoing_notified = TRUE;
}

static void
wzp_application_window_removed (GtkApplication *application,
                                GtkWindow      *window)
{
  WzpApplication *self = WZP_APPLICATION (application);

  GTK_APPLICATION_CLASS (wzp_application_parent_class)->window_removed (application, window);

  if (WZP_IS_WINDOW (window) && wzp_application_get_main_window (self) == NULL &&
      (self->call != NULL || self->dial != NULL))
    notify_ongoing (self);
}

static void
wzp_application_class_init (WzpApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);
  GtkApplicationClass *gtk_app_class = GTK_APPLICATION_CLASS (klass);

  object_class->get_property = wzp_application_get_property;
  object_class->dispose = wzp_application_dispose;
  object_class->finalize = wzp_application_finalize;
  app_class->startup = wzp_application_startup;
  app_class->activate = wzp_application_activate;
  app_class->open = wzp_application_open;
  app_class->shutdown = wzp_application_shutdown;
  app_class->handle_local_options = wzp_application_handle_local_options;
  gtk_app_class->window_removed = wzp_application_window_removed;

  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, WZP_TYPE_CLIENT,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
wzp_application_init (WzpApplication *self)
{
  static const GOptionEntry options[] = {
    { .long_name = "version", .arg = G_OPTION_ARG_NONE,
      .description = N_("Print the version and exit") },
    { NULL }
  };

  self->cancellable = g_cancellable_new ();
  g_application_add_main_option_entries (G_APPLICATION (self), options);
}

WzpApplication *
wzp_application_new (void)
{
  return g_object_new (WZP_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "resource-base-path", RESOURCE_BASE_PATH,
                       "flags", G_APPLICATION_HANDLES_OPEN,
                       NULL);
}

WzpClient *
wzp_application_get_client (WzpApplication *self)
{
  g_return_val_if_fail (WZP_IS_APPLICATION (self), NULL);
  return self->client;
}

WzpContacts *
wzp_application_get_contacts (WzpApplication *self)
{
  g_return_val_if_fail (WZP_IS_APPLICATION (self), NULL);
  return self->contacts;
}

WzpCallHistory *
wzp_application_get_history (WzpApplication *self)
{
  g_return_val_if_fail (WZP_IS_APPLICATION (self), NULL);
  return self->history;
}

GSettings *
wzp_application_get_settings (WzpApplication *self)
{
  g_return_val_if_fail (WZP_IS_APPLICATION (self), NULL);
  return self->settings;
}

/* Test hooks */

void
_wzp_application_set_sound_player (WzpApplication *self,
                                   WzpSoundPlayer *player)
{
  if (self->sounds != NULL && self->sound_playing != NULL)
    wzp_sound_player_stop (self->sounds);
  self->sound_playing = NULL;
  g_set_object (&self->sounds, player);
}

void
_wzp_application_set_desktop_notifications (WzpApplication *self,
                                            GSettings      *settings)
{
  set_desktop_notifications (self, settings);
}

GtkWidget *
_wzp_application_get_quit_dialog (WzpApplication *self)
{
  return self->quit_dialog;
}

WzpCall *
_wzp_application_get_ringing_call (WzpApplication *self)
{
  return self->ringing;
}

WzpCall *
_wzp_application_get_call (WzpApplication *self)
{
  return self->call;
}

gboolean
_wzp_application_is_inhibiting (WzpApplication *self)
{
  return self->inhibiting;
}
