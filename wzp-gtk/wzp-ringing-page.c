/* wzp-ringing-page.c: an incoming call, full page, with Accept and Decline
 *
 * Shown whenever a call rings, whatever has the focus, so that a call is never only a
 * notification (which Do Not Disturb hides and a click dismisses): bringing the window
 * back shows the call waiting. The focus goes to Accept, so a screen reader announces the
 * call and Enter answers; Escape declines. The buttons activate the application's
 * answer-call, answer-call-privately and decline-call actions with the call's id, the same
 * ones the notification's buttons use.
 *
 * The caller is named from the contacts by full fingerprint, otherwise "Unknown caller";
 * the full fingerprint is always shown, the alias only quoted underneath
 * (docs/decisions.md, "Peers are named by their full fingerprint").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "wzp-fingerprint-text.h"
#include "wzp-gtk-util.h"
#include "wzp-ringing-page.h"

struct _WzpRingingPage
{
  AdwBin       parent_instance;

  GtkWidget   *avatar;
  GtkWidget   *name_label;
  GtkWidget   *fingerprint_label;
  GtkWidget   *alias_label;
  GtkWidget   *origin_label;
  GtkWidget   *accept_button;
  GtkWidget   *decline_button;
  GtkWidget   *private_button;

  WzpContacts *contacts;
  WzpCall     *call;
};

G_DEFINE_FINAL_TYPE (WzpRingingPage, wzp_ringing_page, ADW_TYPE_BIN)

static void
set_accessible_label (GtkWidget  *widget,
                      const char *label)
{
  gtk_accessible_update_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                  -1);
}

static void
update (WzpRingingPage *self)
{
  const char *fingerprint = self->call != NULL ? wzp_call_get_peer_fingerprint (self->call)
                                               : NULL;
  WzpContact *contact = self->contacts != NULL && fingerprint != NULL
                          ? wzp_contacts_lookup (self->contacts, fingerprint)
                          : NULL;
  const char *name = contact != NULL ? wzp_contact_get_name (contact) : _("Unknown caller");
  g_autofree char *alias = wzp_alias_label (self->call != NULL
                                              ? wzp_call_get_peer_alias (self->call) : NULL);
  GVariant *target = g_variant_new_string (self->call != NULL
                                             ? wzp_call_get_call_id (self->call) : "");
  g_autofree char *accept = NULL;
  g_autofree char *decline = NULL;
  g_autofree char *lines = NULL;
  g_autofree char *answer_privately = NULL;
  const char *origin;

  gtk_label_set_text (GTK_LABEL (self->name_label), name);
  adw_avatar_set_text (ADW_AVATAR (self->avatar), contact != NULL ? name : NULL);
  adw_avatar_set_show_initials (ADW_AVATAR (self->avatar), contact != NULL);
  /* Two lines of four groups, as everywhere (wzp-fingerprint-text.c). */
  lines = wzp_fingerprint_to_lines (fingerprint);
  gtk_label_set_text (GTK_LABEL (self->fingerprint_label), lines != NULL ? lines : "");
  gtk_label_set_text (GTK_LABEL (self->alias_label), alias != NULL ? alias : "");
  gtk_widget_set_visible (self->alias_label, alias != NULL);
  /* A caller from a federated relay: said in words about where they signed in, never
   * "relay", so that it cannot be read as the call page's path badge ("Via relay"), which
   * is about how the voices travel (docs/app.md, "Calls from users of other relays"). */
  origin = self->call != NULL ? wzp_call_get_caller_relay_fingerprint (self->call) : NULL;
  gtk_widget_set_visible (self->origin_label, origin != NULL);
  if (origin != NULL)
    {
      g_autofree char *origin_lines = wzp_fingerprint_to_lines (origin);
      /* Translators: %s is a server's fingerprint, on two lines. */
      g_autofree char *tooltip = g_strdup_printf (_("Your server passed this call on from "
                                                    "the server below, where the caller "
                                                    "signed in. It vouched for their "
                                                    "fingerprint, nothing more.\n%s"),
                                                  origin_lines);

      gtk_widget_set_tooltip_text (self->origin_label, tooltip);
    }

  g_variant_ref_sink (target);
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->accept_button), target);
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->decline_button), target);
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->private_button), target);
  g_variant_unref (target);

  /* Screen readers hear whom the buttons act on. */
  /* Translators: %s is the caller's name from the contacts, or "Unknown caller". */
  accept = g_strdup_printf (_("Accept call from %s"), name);
  /* Translators: %s is the caller's name from the contacts, or "Unknown caller". */
  decline = g_strdup_printf (_("Decline call from %s"), name);
  /* Translators: %s is the caller's name from the contacts, or "Unknown caller". */
  answer_privately = g_strdup_printf (_("Answer call from %s privately"), name);
  set_accessible_label (self->accept_button, accept);
  set_accessible_label (self->decline_button, decline);
  set_accessible_label (self->private_button, answer_privately);
}

void
wzp_ringing_page_set_contacts (WzpRingingPage *self,
                               WzpContacts    *contacts)
{
  g_return_if_fail (WZP_IS_RINGING_PAGE (self));

  if (self->contacts != NULL)
    g_signal_handlers_disconnect_by_data (wzp_contacts_get_model (self->contacts), self);
  g_set_object (&self->contacts, contacts);
  if (contacts != NULL)
    g_signal_connect_object (wzp_contacts_get_model (contacts), "items-changed",
                             G_CALLBACK (update), self, G_CONNECT_SWAPPED);
  update (self);
}

void
wzp_ringing_page_set_call (WzpRingingPage *self,
                           WzpCall        *call)
{
  g_return_if_fail (WZP_IS_RINGING_PAGE (self));
  g_return_if_fail (call == NULL || WZP_IS_CALL (call));

  if (self->call != NULL)
    g_signal_handlers_disconnect_by_data (self->call, self);
  g_set_object (&self->call, call);
  if (call != NULL)
    g_signal_connect_object (call, "notify::peer-alias", G_CALLBACK (update), self,
                             G_CONNECT_SWAPPED);
  update (self);
}

/**
 * wzp_ringing_page_get_call:
 *
 * Returns: (transfer none) (nullable): the call ringing
 */
WzpCall *
wzp_ringing_page_get_call (WzpRingingPage *self)
{
  g_return_val_if_fail (WZP_IS_RINGING_PAGE (self), NULL);
  return self->call;
}

void
wzp_ringing_page_focus_accept (WzpRingingPage *self)
{
  g_return_if_fail (WZP_IS_RINGING_PAGE (self));

  gtk_widget_grab_focus (self->accept_button);
}

static gboolean
decline_shortcut_cb (GtkWidget *widget,
                     GVariant  *args,
                     gpointer   user_data)
{
  WzpRingingPage *self = WZP_RINGING_PAGE (widget);

  if (self->call == NULL)
    return FALSE;
  return gtk_widget_activate (self->decline_button);
}

static void
wzp_ringing_page_dispose (GObject *object)
{
  WzpRingingPage *self = WZP_RINGING_PAGE (object);

  if (self->call != NULL)
    g_signal_handlers_disconnect_by_data (self->call, self);
  g_clear_object (&self->call);
  if (self->contacts != NULL)
    g_signal_handlers_disconnect_by_data (wzp_contacts_get_model (self->contacts), self);
  g_clear_object (&self->contacts);
  gtk_widget_dispose_template (GTK_WIDGET (self), WZP_TYPE_RINGING_PAGE);

  G_OBJECT_CLASS (wzp_ringing_page_parent_class)->dispose (object);
}

static void
wzp_ringing_page_class_init (WzpRingingPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = wzp_ringing_page_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE_PATH "/wzp-ringing-page.ui");
  gtk_widget_class_bind_template_child (widget_class, WzpRingingPage, avatar);
  gtk_widget_class_bind_template_child (widget_class, WzpRingingPage, name_label);
  gtk_widget_class_bind_template_child (widget_class, WzpRingingPage, fingerprint_label);
  gtk_widget_class_bind_template_child (widget_class, WzpRingingPage, alias_label);
  gtk_widget_class_bind_template_child (widget_class, WzpRingingPage, origin_label);
  gtk_widget_class_bind_template_child (widget_class, WzpRingingPage, accept_button);
  gtk_widget_class_bind_template_child (widget_class, WzpRingingPage, decline_button);
  gtk_widget_class_bind_template_child (widget_class, WzpRingingPage, private_button);

  gtk_widget_class_add_binding (widget_class, GDK_KEY_Escape, 0, decline_shortcut_cb, NULL);
}

static void
wzp_ringing_page_init (WzpRingingPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  update (self);
}
