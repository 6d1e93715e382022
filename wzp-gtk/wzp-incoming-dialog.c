/* wzp-incoming-dialog.c: "Incoming call" with Answer, Answer Privately and Decline
 *
 * Shown instead of a notification when the window has the focus. The caller is named
 * from the contacts by full fingerprint, otherwise "Unknown caller"; the full fingerprint
 * is always shown and the alias only quoted, underneath.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "wzp-gtk-util.h"
#include "wzp-incoming-dialog.h"

struct _WzpIncomingDialog
{
  AdwMessageDialog  parent_instance;
  WzpCall          *call;
};

G_DEFINE_FINAL_TYPE (WzpIncomingDialog, wzp_incoming_dialog, ADW_TYPE_MESSAGE_DIALOG)

static void
wzp_incoming_dialog_dispose (GObject *object)
{
  WzpIncomingDialog *self = WZP_INCOMING_DIALOG (object);

  g_clear_object (&self->call);

  G_OBJECT_CLASS (wzp_incoming_dialog_parent_class)->dispose (object);
}

static void
wzp_incoming_dialog_class_init (WzpIncomingDialogClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = wzp_incoming_dialog_dispose;
}

static void
wzp_incoming_dialog_init (WzpIncomingDialog *self)
{
  AdwMessageDialog *dialog = ADW_MESSAGE_DIALOG (self);

  adw_message_dialog_set_heading (dialog, _("Incoming Call"));
  adw_message_dialog_add_responses (dialog,
                                    WZP_INCOMING_RESPONSE_DECLINE, _("_Decline"),
                                    WZP_INCOMING_RESPONSE_PRIVATE, _("Answer _Privately"),
                                    WZP_INCOMING_RESPONSE_ANSWER, _("_Answer"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, WZP_INCOMING_RESPONSE_DECLINE,
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_response_appearance (dialog, WZP_INCOMING_RESPONSE_ANSWER,
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, WZP_INCOMING_RESPONSE_ANSWER);
  adw_message_dialog_set_close_response (dialog, WZP_INCOMING_RESPONSE_DECLINE);
  adw_message_dialog_set_body_use_markup (dialog, TRUE);
  gtk_window_set_modal (GTK_WINDOW (self), TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self), "incoming-call");
}

GtkWidget *
wzp_incoming_dialog_new (GtkWindow   *parent,
                         WzpCall     *call,
                         WzpContacts *contacts)
{
  WzpIncomingDialog *self;
  const char *fingerprint;
  g_autofree char *name = NULL;
  g_autofree char *alias = NULL;
  g_autofree char *body = NULL;

  g_return_val_if_fail (WZP_IS_CALL (call), NULL);

  self = g_object_new (WZP_TYPE_INCOMING_DIALOG, "transient-for", parent, NULL);
  self->call = g_object_ref (call);

  fingerprint = wzp_call_get_peer_fingerprint (call);
  name = wzp_contacts_dup_display_name (contacts, fingerprint);
  alias = wzp_alias_label (wzp_call_get_peer_alias (call));
  body = g_markup_printf_escaped ("<b>%s</b>\n<tt>%s</tt>%s%s\n\n%s",
                                  name, fingerprint,
                                  alias != NULL ? "\n" : "", alias != NULL ? alias : "",
                                  _("Answering privately shares none of your network "
                                    "addresses: the call then runs through the relay."));
  adw_message_dialog_set_body (ADW_MESSAGE_DIALOG (self), body);
  return GTK_WIDGET (self);
}

/**
 * wzp_incoming_dialog_get_call:
 *
 * Returns: (transfer none): the call the dialog asks about
 */
WzpCall *
wzp_incoming_dialog_get_call (WzpIncomingDialog *self)
{
  g_return_val_if_fail (WZP_IS_INCOMING_DIALOG (self), NULL);
  return self->call;
}
