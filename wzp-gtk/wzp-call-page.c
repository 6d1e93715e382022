/* wzp-call-page.c: the page shown during a call, and after it
 *
 * The peer is named from the contacts by full fingerprint, otherwise "Unknown caller"
 * (someone who called) or "Unknown contact" (someone this side called); the full
 * fingerprint is always shown, and the alias only as a quoted, secondary label
 * (docs/decisions.md, "Peers are named by their full fingerprint").
 *
 * During a call: mute (bound both ways to WzpCall:muted, so Ctrl+M and the button agree),
 * the volume (WzpCall:volume, remembered in GSettings "call-volume"), the devices (the
 * same GSettings keys as the preferences), a quality indicator from WzpCall:stats,
 * "Reconnecting…" while WzpCall:reconnecting, and WzpCall:audio-error. After it, the page
 * stays with the outcome and "Call Again" / "Close" (docs/app.md, "Outcomes").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "wzp-audio-device-row.h"
#include "wzp-call-clock.h"
#include "wzp-call-page.h"
#include "wzp-call-quality.h"
#include "wzp-fingerprint-text.h"
#include "wzp-gtk-util.h"

/* How many stats samples (one a second) the quality is judged over. */
#define QUALITY_WINDOW 5

struct _WzpCallPage
{
  AdwBin          parent_instance;

  GtkWidget      *avatar;
  GtkWidget      *name_label;
  GtkWidget      *fingerprint_label;
  GtkWidget      *alias_label;
  GtkWidget      *state_label;
  GtkWidget      *timer_label;
  GtkWidget      *path_badge;
  GtkWidget      *privacy_label;
  GtkWidget      *hangup_button;
  AdwExpanderRow *details_row;
  AdwWindowTitle *window_title;
  GtkWidget      *reconnecting_spinner;
  GtkWidget      *quality_label;
  GtkWidget      *outcome_detail;
  GtkWidget      *audio_error_box;
  GtkWidget      *audio_error_label;
  GtkWidget      *controls_box;
  GtkWidget      *mute_button;
  GtkWidget      *muted_label;
  GtkWidget      *outcome_box;
  GtkWidget      *close_button;
  GtkWidget      *call_again_button;
  AdwPreferencesGroup *audio_group;
  GtkWidget      *volume_scale;
  AdwExpanderRow *devices_row;
  GtkWidget      *output_row;
  GtkWidget      *input_row;

  WzpContacts    *contacts;
  WzpCall        *call;
  char           *fingerprint;
  GPtrArray      *detail_rows;   /* GtkWidget*, in details_row */
  GtkWidget      *path_row;      /* the nominated path, first detail row */
  gint64          active_since;  /* monotonic µs, 0 before the call is connected */
  guint           timer_id;

  GSettings      *settings;
  GBinding       *muted_binding;
  GQueue          stats;         /* GVariant*, newest first, at most QUALITY_WINDOW */
  WzpCallQuality  quality;
  GtkWidget      *quality_row;   /* in details_row */
  char           *outcome;       /* the outcome's title once the call is over, or NULL */
};

enum {
  SIGNAL_CLOSED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (WzpCallPage, wzp_call_page, ADW_TYPE_BIN)

static void
update_peer (WzpCallPage *self)
{
  WzpContact *contact = self->contacts != NULL
                          ? wzp_contacts_lookup (self->contacts, self->fingerprint)
                          : NULL;
  g_autofree char *alias_text = NULL;
  g_autofree char *lines = NULL;

  if (contact != NULL)
    {
      gtk_label_set_text (GTK_LABEL (self->name_label), wzp_contact_get_name (contact));
      adw_avatar_set_text (ADW_AVATAR (self->avatar), wzp_contact_get_name (contact));
      adw_avatar_set_show_initials (ADW_AVATAR (self->avatar), TRUE);
    }
  else
    {
      /* Someone this side called is no caller: the fingerprint underneath says who. */
      gboolean outgoing = self->call == NULL ||
                          wzp_call_get_role (self->call) == WZP_CALL_ROLE_CALLER;

      gtk_label_set_text (GTK_LABEL (self->name_label),
                          outgoing ? _("Unknown contact") : _("Unknown caller"));
      adw_avatar_set_text (ADW_AVATAR (self->avatar), NULL);
      adw_avatar_set_show_initials (ADW_AVATAR (self->avatar), FALSE);
    }
  /* Two lines of four groups, as everywhere (wzp-fingerprint-text.c): no width breaks a
   * group. */
  lines = wzp_fingerprint_to_lines (self->fingerprint);
  gtk_label_set_text (GTK_LABEL (self->fingerprint_label), lines != NULL ? lines : "");

  alias_text = wzp_alias_label (self->call != NULL ? wzp_call_get_peer_alias (self->call)
                                                   : NULL);
  gtk_label_set_text (GTK_LABEL (self->alias_label), alias_text != NULL ? alias_text : "");
  gtk_widget_set_visible (self->alias_label, alias_text != NULL);
}

static void
update_timer (WzpCallPage *self)
{
  g_autofree char *text = NULL;

  if (self->active_since == 0)
    {
      gtk_widget_set_visible (self->timer_label, FALSE);
      return;
    }
  text = wzp_format_duration ((g_get_monotonic_time () - self->active_since) / G_USEC_PER_SEC);
  gtk_label_set_text (GTK_LABEL (self->timer_label), text);
  gtk_widget_set_visible (self->timer_label, TRUE);
}

static gboolean
timer_cb (gpointer user_data)
{
  update_timer (WZP_CALL_PAGE (user_data));
  return G_SOURCE_CONTINUE;
}

static void
set_state_text (WzpCallPage *self,
                const char  *text)
{
  gtk_label_set_text (GTK_LABEL (self->state_label), text);
  adw_window_title_set_subtitle (self->window_title, text);
}

static void
update_state (WzpCallPage *self)
{
  WzpCallState state = self->call != NULL ? wzp_call_get_state (self->call)
                                          : WZP_CALL_STATE_CALLING;
  gboolean reconnecting = self->call != NULL && state != WZP_CALL_STATE_ENDED &&
                          wzp_call_get_reconnecting (self->call);

  gtk_widget_set_visible (self->reconnecting_spinner, reconnecting);
  gtk_spinner_set_spinning (GTK_SPINNER (self->reconnecting_spinner), reconnecting);

  switch (state)
    {
    case WZP_CALL_STATE_CALLING:
      set_state_text (self, _("Calling…"));
      break;
    case WZP_CALL_STATE_RINGING:
      set_state_text (self, _("Ringing…"));
      break;
    case WZP_CALL_STATE_INCOMING:
      set_state_text (self, _("Incoming call"));
      break;
    case WZP_CALL_STATE_CONNECTING:
      set_state_text (self, _("Connecting…"));
      break;
    case WZP_CALL_STATE_ACTIVE:
      set_state_text (self, _("Connected"));
      break;
    case WZP_CALL_STATE_ENDED:
    default:
      set_state_text (self, _("Call ended"));
      break;
    }
  if (reconnecting)
    /* The path was lost; the call looks for another (a spare, or the relay). */
    set_state_text (self, _("Reconnecting…"));
  if (self->outcome != NULL)
    set_state_text (self, self->outcome);

  if (state == WZP_CALL_STATE_ACTIVE && self->active_since == 0)
    {
      /* The call's clock: a page made during the call counts from when it connected. */
      self->active_since = wzp_call_clock_get_connected (self->call);
      self->timer_id = g_timeout_add (500, timer_cb, self);
    }
  else if (state == WZP_CALL_STATE_ENDED)
    g_clear_handle_id (&self->timer_id, g_source_remove);
  update_timer (self);

  gtk_widget_set_sensitive (self->hangup_button, state != WZP_CALL_STATE_ENDED);
  gtk_widget_set_sensitive (self->mute_button,
                            self->call != NULL && state != WZP_CALL_STATE_ENDED);
}

static GtkWidget *
add_detail_row (WzpCallPage *self,
                const char  *title,
                const char  *subtitle,
                const char  *icon_name)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *icon = gtk_image_new_from_icon_name (icon_name);

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 0);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
  adw_expander_row_add_row (self->details_row, row);
  g_ptr_array_add (self->detail_rows, row);
  return row;
}

static void
clear_details (WzpCallPage *self)
{
  for (unsigned i = 0; i < self->detail_rows->len; i++)
    adw_expander_row_remove (self->details_row, g_ptr_array_index (self->detail_rows, i));
  g_ptr_array_set_size (self->detail_rows, 0);
  self->path_row = NULL;
  self->quality_row = NULL;
}

static const char *
candidate_kind_title (WzpCandidateKind kind)
{
  switch (kind)
    {
    case WZP_CANDIDATE_KIND_HOST:
      return _("Local network address");
    case WZP_CANDIDATE_KIND_REFLEXIVE:
      return _("Internet address");
    case WZP_CANDIDATE_KIND_RELAY:
    default:
      return _("Relay");
    }
}

static void
candidate_result_cb (WzpCallPage        *self,
                     const char         *address,
                     WzpCandidateKind    kind,
                     WzpCandidateResult  result,
                     const char         *reason,
                     int                 ms,
                     WzpCall            *call)
{
  g_autofree char *outcome = NULL;
  g_autofree char *subtitle = NULL;
  const char *icon = "dialog-question-symbolic";

  if (result == WZP_CANDIDATE_RESULT_OK)
    {
      /* Translators: %d is a number of milliseconds. */
      outcome = g_strdup_printf (_("Connected after %d ms"), ms);
      icon = "emblem-ok-symbolic";
    }
  else if (result == WZP_CANDIDATE_RESULT_FAILED)
    {
      outcome = (reason != NULL && *reason != '\0')
                  /* Translators: %d is a number of milliseconds, %s the reason. */
                  ? g_strdup_printf (_("Failed after %d ms: %s"), ms, reason)
                  /* Translators: %d is a number of milliseconds. */
                  : g_strdup_printf (_("Failed after %d ms"), ms);
      icon = "dialog-error-symbolic";
    }
  else if (result == WZP_CANDIDATE_RESULT_MERGED)
    {
      /* Translators: %d is a number of milliseconds. */
      outcome = g_strdup_printf (_("Met the other side’s attempt after %d ms"), ms);
      icon = "emblem-ok-symbolic";
    }
  else
    {
      /* Translators: %d is a number of milliseconds. */
      outcome = g_strdup_printf (_("Not needed, stopped after %d ms"), ms);
      icon = "action-unavailable-symbolic";
    }

  subtitle = g_strdup_printf ("%s · %s", candidate_kind_title (kind), outcome);
  add_detail_row (self, address, subtitle, icon);
}

static void
update_path (WzpCallPage *self)
{
  WzpPathKind kind = self->call != NULL ? wzp_call_get_path_kind (self->call)
                                        : WZP_PATH_KIND_NONE;
  const char *label = wzp_path_kind_label (kind);
  const char *remote = self->call != NULL ? wzp_call_get_remote_address (self->call) : NULL;
  int ms = self->call != NULL ? wzp_call_get_time_to_path (self->call) : -1;
  g_autofree char *tooltip = NULL;
  g_autofree char *subtitle = NULL;

  for (unsigned k = WZP_PATH_KIND_NONE; k <= WZP_PATH_KIND_RELAY; k++)
    if (wzp_path_kind_css_class (k) != NULL)
      gtk_widget_remove_css_class (self->path_badge, wzp_path_kind_css_class (k));

  gtk_widget_set_visible (self->path_badge, label != NULL);
  if (label == NULL)
    return;

  gtk_label_set_text (GTK_LABEL (self->path_badge), label);
  gtk_widget_add_css_class (self->path_badge, wzp_path_kind_css_class (kind));
  if (remote != NULL && ms >= 0)
    /* Translators: %s is an address such as 192.168.1.20:40001, %d milliseconds. */
    tooltip = g_strdup_printf (_("Remote address: %s\nFound in %d ms"), remote, ms);
  else if (remote != NULL)
    /* Translators: %s is an address such as 192.168.1.20:40001. */
    tooltip = g_strdup_printf (_("Remote address: %s"), remote);
  gtk_widget_set_tooltip_text (self->path_badge, tooltip);

  /* The path in use heads the details; it also stands for attempts made before this
   * page had the call object. */
  if (ms >= 0)
    /* Translators: %s is an address, %d milliseconds. */
    subtitle = g_strdup_printf (_("In use: %s, found in %d ms"), remote ? remote : "", ms);
  else
    /* Translators: %s is an address. */
    subtitle = g_strdup_printf (_("In use: %s"), remote ? remote : "");
  if (self->path_row == NULL)
    {
      self->path_row = add_detail_row (self, label, subtitle, "network-transmit-receive-symbolic");
      /* First in the list: the expander row only appends, so append the others again. */
      g_ptr_array_remove (self->detail_rows, self->path_row);
      g_ptr_array_insert (self->detail_rows, 0, self->path_row);
      for (unsigned i = 1; i < self->detail_rows->len; i++)
        {
          g_autoptr(GtkWidget) row = g_object_ref (g_ptr_array_index (self->detail_rows, i));

          adw_expander_row_remove (self->details_row, row);
          adw_expander_row_add_row (self->details_row, row);
        }
    }
  else
    {
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->path_row), label);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (self->path_row), subtitle);
    }
}

static void
update_privacy (WzpCallPage *self)
{
  gtk_widget_set_visible (self->privacy_label,
                          self->call != NULL && wzp_call_get_privacy (self->call));
}

/* Quality, from the stats of the last few seconds (wzp-call-quality.c says how). */
static void
show_quality (WzpCallPage *self)
{
  GVariant *newest = g_queue_peek_head (&self->stats);
  GVariant *oldest = self->stats.length > 1 ? g_queue_peek_tail (&self->stats) : NULL;
  WzpCallQualityFigures figures;
  g_autofree char *details = NULL;
  const char *label;

  self->quality = wzp_call_quality_assess (newest, oldest, &figures);
  label = wzp_call_quality_label (self->quality);
  for (unsigned q = WZP_CALL_QUALITY_UNKNOWN; q <= WZP_CALL_QUALITY_POOR; q++)
    if (wzp_call_quality_css_class (q) != NULL)
      gtk_widget_remove_css_class (self->quality_label, wzp_call_quality_css_class (q));

  gtk_widget_set_visible (self->quality_label, label != NULL && self->outcome == NULL);
  if (label == NULL)
    return;

  details = wzp_call_quality_describe (&figures);
  gtk_label_set_text (GTK_LABEL (self->quality_label), label);
  gtk_widget_add_css_class (self->quality_label, wzp_call_quality_css_class (self->quality));
  gtk_widget_set_tooltip_text (self->quality_label, details);

  /* The same figures in Connection Details. */
  if (self->quality_row == NULL)
    {
      self->quality_row = add_detail_row (self, label, details,
                                          "network-cellular-signal-good-symbolic");
      adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (self->quality_row), 0);
    }
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->quality_row), label);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->quality_row), details);
}

static void
clear_stats (WzpCallPage *self)
{
  g_queue_clear_full (&self->stats, (GDestroyNotify) g_variant_unref);
  self->quality = WZP_CALL_QUALITY_UNKNOWN;
  gtk_widget_set_visible (self->quality_label, FALSE);
}

/* A new sample of WzpCall:stats (the page's handler, and the tests' way in). */
void
wzp_call_page_push_stats (WzpCallPage *self,
                          GVariant    *stats)
{
  g_return_if_fail (WZP_IS_CALL_PAGE (self));

  if (stats == NULL)
    return;
  g_queue_push_head (&self->stats, g_variant_ref_sink (stats));
  while (self->stats.length > QUALITY_WINDOW)
    g_variant_unref (g_queue_pop_tail (&self->stats));
  show_quality (self);
}

static void
stats_cb (WzpCallPage *self)
{
  wzp_call_page_push_stats (self, wzp_call_get_stats (self->call));
}

/* The quality's row in Connection Details, or NULL; for tests. */
GtkWidget *
wzp_call_page_get_quality_row (WzpCallPage *self)
{
  g_return_val_if_fail (WZP_IS_CALL_PAGE (self), NULL);
  return self->quality_row;
}

WzpCallQuality
wzp_call_page_get_quality (WzpCallPage *self)
{
  g_return_val_if_fail (WZP_IS_CALL_PAGE (self), WZP_CALL_QUALITY_UNKNOWN);
  return self->quality;
}

/* The library's words: a device failed, or the chosen one is missing and the call uses
 * the default instead. The call goes on either way. */
static void
update_audio_error (WzpCallPage *self)
{
  const char *error = self->call != NULL ? wzp_call_get_audio_error (self->call) : NULL;

  gtk_label_set_text (GTK_LABEL (self->audio_error_label), error != NULL ? error : "");
  gtk_widget_set_visible (self->audio_error_box, error != NULL && self->outcome == NULL);
}

static void
update_muted (WzpCallPage *self)
{
  gboolean muted = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->mute_button));
  const char *what = muted ? _("Unmute") : _("Mute");

  gtk_button_set_icon_name (GTK_BUTTON (self->mute_button),
                            muted ? "microphone-sensitivity-muted-symbolic"
                                  : "audio-input-microphone-symbolic");
  gtk_widget_set_tooltip_text (self->mute_button, what);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->mute_button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, what, -1);
  gtk_widget_set_visible (self->muted_label, muted && self->outcome == NULL);
}

/* The user moved the slider: this call, and the next ones. */
static void
volume_changed_cb (WzpCallPage *self)
{
  double volume = gtk_range_get_value (GTK_RANGE (self->volume_scale));

  if (self->call != NULL && wzp_call_get_volume (self->call) != volume)
    wzp_call_set_volume (self->call, volume);
  if (g_settings_get_double (self->settings, "call-volume") != volume)
    g_settings_set_double (self->settings, "call-volume", volume);
}

static void
call_volume_cb (WzpCallPage *self)
{
  double volume = wzp_call_get_volume (self->call);

  if (gtk_range_get_value (GTK_RANGE (self->volume_scale)) != volume)
    gtk_range_set_value (GTK_RANGE (self->volume_scale), volume);
}

/* The live controls, or the outcome with its buttons. */
static void
update_mode (WzpCallPage *self)
{
  gboolean over = self->outcome != NULL;

  update_state (self);
  gtk_widget_set_visible (self->controls_box, !over);
  gtk_widget_set_visible (GTK_WIDGET (self->audio_group), !over);
  gtk_widget_set_visible (self->outcome_box, over);
  gtk_widget_set_visible (self->outcome_detail,
                          over && *gtk_label_get_text (GTK_LABEL (self->outcome_detail)) != '\0');
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->call_again_button),
                                          g_variant_new_string (self->fingerprint != NULL
                                                                  ? self->fingerprint : ""));
  if (over)
    {
      gtk_widget_set_visible (self->path_badge, FALSE);
      gtk_widget_set_visible (self->timer_label, FALSE);
      gtk_widget_set_visible (self->privacy_label, FALSE);
    }
  update_muted (self);
  update_audio_error (self);
  show_quality (self);
}

static void
clear_outcome (WzpCallPage *self)
{
  g_clear_pointer (&self->outcome, g_free);
  gtk_label_set_text (GTK_LABEL (self->outcome_detail), "");
}

/**
 * wzp_call_page_show_outcome:
 * @title: how the call ended, in a word or two ("Declined", "Call ended · 02:13")
 * @detail: (nullable): a sentence more
 *
 * The call is over: the page stays with its outcome, "Call Again" and "Close", until
 * the user closes it or another call takes the page.
 */
void
wzp_call_page_show_outcome (WzpCallPage *self,
                            const char  *title,
                            const char  *detail)
{
  g_return_if_fail (WZP_IS_CALL_PAGE (self));
  g_return_if_fail (title != NULL);

  g_free (self->outcome);
  self->outcome = g_strdup (title);
  gtk_label_set_text (GTK_LABEL (self->outcome_detail), detail != NULL ? detail : "");
  g_clear_handle_id (&self->timer_id, g_source_remove);
  update_mode (self);
  /* Enter calls again; the close button is a Tab away. */
  gtk_widget_grab_focus (self->call_again_button);
}

/* The outcome's title, or NULL during a call. */
const char *
wzp_call_page_get_outcome (WzpCallPage *self)
{
  g_return_val_if_fail (WZP_IS_CALL_PAGE (self), NULL);
  return self->outcome;
}

const char *
wzp_call_page_get_outcome_detail (WzpCallPage *self)
{
  g_return_val_if_fail (WZP_IS_CALL_PAGE (self), NULL);
  return gtk_label_get_text (GTK_LABEL (self->outcome_detail));
}

static void
close_clicked_cb (WzpCallPage *self)
{
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0);
}

static void
disconnect_call (WzpCallPage *self)
{
  if (self->call != NULL)
    g_signal_handlers_disconnect_by_data (self->call, self);
  g_clear_pointer (&self->muted_binding, g_binding_unbind);
  g_clear_object (&self->call);
  g_clear_handle_id (&self->timer_id, g_source_remove);
  self->active_since = 0;
}

static void
contacts_changed_cb (WzpCallPage *self)
{
  update_peer (self);
}

void
wzp_call_page_set_contacts (WzpCallPage *self,
                            WzpContacts *contacts)
{
  g_return_if_fail (WZP_IS_CALL_PAGE (self));

  if (self->contacts != NULL)
    g_signal_handlers_disconnect_by_data (wzp_contacts_get_model (self->contacts), self);
  g_set_object (&self->contacts, contacts);
  if (contacts != NULL)
    g_signal_connect_object (wzp_contacts_get_model (contacts), "items-changed",
                             G_CALLBACK (contacts_changed_cb), self, G_CONNECT_SWAPPED);
  update_peer (self);
}

/* A call placed but not connected yet: the library hands out the WzpCall only then. */
void
wzp_call_page_show_outgoing (WzpCallPage *self,
                             const char  *fingerprint)
{
  g_return_if_fail (WZP_IS_CALL_PAGE (self));

  disconnect_call (self);
  clear_details (self);
  clear_stats (self);
  clear_outcome (self);
  g_free (self->fingerprint);
  self->fingerprint = g_strdup (fingerprint);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (self->mute_button), FALSE);
  update_peer (self);
  update_state (self);
  update_path (self);
  update_privacy (self);
  update_mode (self);
}

void
wzp_call_page_set_call (WzpCallPage *self,
                        WzpCall     *call)
{
  g_return_if_fail (WZP_IS_CALL_PAGE (self));
  g_return_if_fail (call == NULL || WZP_IS_CALL (call));

  if (call == NULL && self->outcome != NULL)
    {
      /* Closed: the page is done with the call that ended. */
      clear_outcome (self);
      update_mode (self);
    }
  if (call == self->call)
    return;

  /* The same call going from "Calling…" to its object keeps its details. */
  if (call == NULL || g_strcmp0 (self->fingerprint, wzp_call_get_peer_fingerprint (call)) != 0 ||
      self->call != NULL)
    clear_details (self);
  disconnect_call (self);
  clear_stats (self);
  clear_outcome (self);

  if (call != NULL)
    {
      self->call = g_object_ref (call);
      g_free (self->fingerprint);
      self->fingerprint = g_strdup (wzp_call_get_peer_fingerprint (call));
      g_signal_connect_object (call, "notify::state", G_CALLBACK (update_state), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (call, "notify::peer-alias", G_CALLBACK (update_peer), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (call, "notify::privacy", G_CALLBACK (update_privacy), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (call, "path-changed", G_CALLBACK (update_path), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (call, "notify::path-kind", G_CALLBACK (update_path), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (call, "candidate-result", G_CALLBACK (candidate_result_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (call, "notify::reconnecting", G_CALLBACK (update_state), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (call, "notify::stats", G_CALLBACK (stats_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (call, "notify::audio-error", G_CALLBACK (update_audio_error),
                               self, G_CONNECT_SWAPPED);
      g_signal_connect_object (call, "notify::volume", G_CALLBACK (call_volume_cb), self,
                               G_CONNECT_SWAPPED);
      /* Both ways: the button, Ctrl+M (app.toggle-mute) and anyone else agree. */
      self->muted_binding = g_object_bind_property (call, "muted", self->mute_button, "active",
                                                    G_BINDING_SYNC_CREATE |
                                                    G_BINDING_BIDIRECTIONAL);
      call_volume_cb (self);
      if (wzp_call_get_stats (call) != NULL)
        stats_cb (self);
    }
  else
    gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (self->mute_button), FALSE);
  update_peer (self);
  update_state (self);
  update_path (self);
  update_privacy (self);
  update_mode (self);
}

/**
 * wzp_call_page_get_call:
 *
 * Returns: (transfer none) (nullable): the call shown
 */
WzpCall *
wzp_call_page_get_call (WzpCallPage *self)
{
  g_return_val_if_fail (WZP_IS_CALL_PAGE (self), NULL);
  return self->call;
}

/* Keyboard focus on the hang-up button, where Space or Enter ends the call. */
void
wzp_call_page_focus_hang_up (WzpCallPage *self)
{
  g_return_if_fail (WZP_IS_CALL_PAGE (self));

  gtk_widget_grab_focus (self->hangup_button);
  /* A selectable label selects all when focus passes through it on the way here. */
  gtk_label_select_region (GTK_LABEL (self->fingerprint_label), 0, 0);
}

const char *
wzp_call_page_get_state_text (WzpCallPage *self)
{
  return gtk_label_get_text (GTK_LABEL (self->state_label));
}

/* The badge's text, or NULL while it is hidden. */
const char *
wzp_call_page_get_path_text (WzpCallPage *self)
{
  if (!gtk_widget_get_visible (self->path_badge))
    return NULL;
  return gtk_label_get_text (GTK_LABEL (self->path_badge));
}

static void
wzp_call_page_dispose (GObject *object)
{
  WzpCallPage *self = WZP_CALL_PAGE (object);

  disconnect_call (self);
  if (self->contacts != NULL)
    g_signal_handlers_disconnect_by_data (wzp_contacts_get_model (self->contacts), self);
  g_clear_object (&self->contacts);
  g_queue_clear_full (&self->stats, (GDestroyNotify) g_variant_unref);
  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (self), WZP_TYPE_CALL_PAGE);

  G_OBJECT_CLASS (wzp_call_page_parent_class)->dispose (object);
}

static void
wzp_call_page_finalize (GObject *object)
{
  WzpCallPage *self = WZP_CALL_PAGE (object);

  g_free (self->fingerprint);
  g_free (self->outcome);
  g_ptr_array_unref (self->detail_rows);

  G_OBJECT_CLASS (wzp_call_page_parent_class)->finalize (object);
}

static void
wzp_call_page_class_init (WzpCallPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = wzp_call_page_dispose;
  object_class->finalize = wzp_call_page_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE_PATH "/wzp-call-page.ui");
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, avatar);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, name_label);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, fingerprint_label);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, alias_label);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, state_label);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, timer_label);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, path_badge);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, privacy_label);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, hangup_button);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, details_row);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, window_title);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, reconnecting_spinner);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, quality_label);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, outcome_detail);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, audio_error_box);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, audio_error_label);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, controls_box);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, mute_button);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, muted_label);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, outcome_box);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, close_button);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, call_again_button);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, audio_group);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, volume_scale);
  gtk_widget_class_bind_template_child (widget_class, WzpCallPage, devices_row);
  gtk_widget_class_bind_template_callback (widget_class, close_clicked_cb);

  /**
   * WzpCallPage::closed:
   *
   * The user closed the outcome of a call ended: the window shows its main page.
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static void
wzp_call_page_init (WzpCallPage *self)
{
  self->detail_rows = g_ptr_array_new ();
  g_queue_init (&self->stats);
  gtk_widget_init_template (GTK_WIDGET (self));

  /* The same keys as the preferences: a device chosen here is the choice from now on, and
   * the application moves the call to it. Folded away: rarely needed during a call, and
   * the device list runs only while the rows are on screen. */
  self->settings = g_settings_new (SETTINGS_SCHEMA_ID);
  self->output_row = wzp_audio_device_row_new (WZP_AUDIO_DIRECTION_SINK);
  wzp_audio_device_row_bind (WZP_AUDIO_DEVICE_ROW (self->output_row), self->settings,
                             "audio-output");
  adw_expander_row_add_row (self->devices_row, self->output_row);
  self->input_row = wzp_audio_device_row_new (WZP_AUDIO_DIRECTION_SOURCE);
  wzp_audio_device_row_bind (WZP_AUDIO_DEVICE_ROW (self->input_row), self->settings,
                             "audio-input");
  adw_expander_row_add_row (self->devices_row, self->input_row);

  gtk_range_set_value (GTK_RANGE (self->volume_scale),
                       g_settings_get_double (self->settings, "call-volume"));
  g_signal_connect_object (self->volume_scale, "value-changed", G_CALLBACK (volume_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->mute_button, "notify::active", G_CALLBACK (update_muted), self,
                           G_CONNECT_SWAPPED);
  update_state (self);
  update_mode (self);
}

/* The device rows on the page, for tests. */
GtkWidget *
wzp_call_page_get_audio_row (WzpCallPage       *self,
                             WzpAudioDirection  direction)
{
  g_return_val_if_fail (WZP_IS_CALL_PAGE (self), NULL);
  return direction == WZP_AUDIO_DIRECTION_SOURCE ? self->input_row : self->output_row;
}
