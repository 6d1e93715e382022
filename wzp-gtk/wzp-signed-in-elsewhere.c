/* wzp-signed-in-elsewhere.c: when another program registers with the user's identity
 *
 * The relay keeps one registration per fingerprint: a second program (another copy of the
 * app, wzp-cli) with the same identity takes the calls and this one is disconnected for
 * good. The main page says so; a notification says so too, because with the window closed
 * the user would otherwise learn of it only by missing calls.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "wzp-signed-in-elsewhere.h"

#define NOTIFICATION_ID "signed-in-elsewhere"

/* Whether @client was disconnected because another program took its identity: the
 * client's error (WzpClient:error) says so once registered, when no connect call is
 * there to return it; @relay_error is what a connect call returned, if any. */
gboolean
wzp_signed_in_elsewhere_check (WzpClient    *client,
                               const GError *relay_error)
{
  if (client == NULL || wzp_client_get_state (client) != WZP_CLIENT_STATE_FAILED)
    return FALSE;
  return g_error_matches (wzp_client_get_error (client), WZP_CLIENT_ERROR,
                          WZP_CLIENT_ERROR_REPLACED) ||
         g_error_matches (relay_error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_REPLACED);
}

/* Sends the notification when @client was replaced, withdraws it once connected again. */
void
wzp_signed_in_elsewhere_notify (GApplication *application,
                                WzpClient    *client,
                                const GError *relay_error)
{
  g_autoptr(GNotification) notification = NULL;
  g_autoptr(GIcon) icon = NULL;

  if (client != NULL && wzp_client_get_state (client) == WZP_CLIENT_STATE_CONNECTED)
    {
      g_application_withdraw_notification (application, NOTIFICATION_ID);
      return;
    }
  if (!wzp_signed_in_elsewhere_check (client, relay_error))
    return;

  icon = g_themed_icon_new ("dialog-warning-symbolic");
  notification = g_notification_new (_("Signed in somewhere else"));
  g_notification_set_body (notification,
                           _("Another program is using your identity with your relay, so "
                             "calls go there, not here. Close it, then reconnect."));
  g_notification_set_icon (notification, icon);
  /* No default action: clicking it brings the window, which says the same. */
  g_notification_set_priority (notification, G_NOTIFICATION_PRIORITY_HIGH);
  g_notification_add_button (notification, _("Reconnect Here"), "app.reconnect");
  g_application_send_notification (application, NOTIFICATION_ID, notification);
}
