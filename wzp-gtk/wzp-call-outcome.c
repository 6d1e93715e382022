/* wzp-call-outcome.c: how a call ended, in the words the call page shows
 *
 * A title of a word or two ("Declined", "No answer", "Busy", "Not reachable",
 * "Call ended · 02:13") and, where there is more to say, a sentence. The call page shows
 * them instead of toasts (docs/app.md, "Outcomes").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "wzp-call-outcome.h"
#include "wzp-gtk-util.h"

/* An outgoing call that did not happen, from the error place_call gave. */
void
wzp_call_outcome_from_error (const GError  *error,
                             char         **title,
                             char         **detail)
{
  const char *t = NULL;

  if (error->domain == WZP_CALL_ERROR)
    {
      switch ((WzpCallError) error->code)
        {
        case WZP_CALL_ERROR_DECLINED:
          t = _("Declined");
          break;
        case WZP_CALL_ERROR_BUSY:
          t = _("Busy");
          break;
        case WZP_CALL_ERROR_TIMEOUT:
          t = _("No answer");
          break;
        case WZP_CALL_ERROR_UNREACHABLE:
        case WZP_CALL_ERROR_UNKNOWN_PEER:
          t = _("Not reachable");
          break;
        case WZP_CALL_ERROR_HUNG_UP:
          t = _("Call ended");
          break;
        case WZP_CALL_ERROR_IMPERSONATION:
          t = _("Call stopped");
          break;
        case WZP_CALL_ERROR_FAILED:
        case WZP_CALL_ERROR_NOT_INCOMING:
        default:
          break;
        }
    }
  else if (g_error_matches (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_NOT_CONNECTED) ||
           g_error_matches (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_NO_RELAY))
    t = _("Not connected");

  *title = g_strdup (t != NULL ? t : _("Call failed"));
  /* The sentence: ours where we have one, else the library's message, which names the
   * cause. */
  *detail = wzp_describe_call_error (error);
  if (t == NULL || g_strcmp0 (*detail, _("The call failed")) == 0)
    {
      g_free (*detail);
      *detail = g_strdup (error->message);
    }
}

/* A call that ended, by its end reason; @connected_seconds is how long it was connected,
 * or -1 if it never was. */
void
wzp_call_outcome_from_call (WzpCall  *call,
                            gint64    connected_seconds,
                            char    **title,
                            char    **detail)
{
  WzpHangupReason reason = wzp_call_get_end_reason (call);
  const char *message = wzp_call_get_error_message (call);
  g_autofree char *length = NULL;

  *detail = NULL;
  if (connected_seconds >= 0)
    {
      length = wzp_format_duration (connected_seconds);
      if (reason == WZP_HANGUP_REASON_NORMAL)
        {
          /* Translators: %s is how long the call lasted, such as 02:13. */
          *title = g_strdup_printf (_("Call ended · %s"), length);
          return;
        }
      *title = g_strdup (reason == WZP_HANGUP_REASON_UNREACHABLE ? _("Connection lost")
                                                                 : _("Call failed"));
      /* Translators: %s is how long the call lasted, such as 02:13; then the reason. */
      *detail = g_strdup_printf (_("The call ended after %s: %s"), length,
                                 message != NULL ? message : "");
      return;
    }

  switch (reason)
    {
    case WZP_HANGUP_REASON_BUSY:
      *title = g_strdup (_("Busy"));
      break;
    case WZP_HANGUP_REASON_DECLINED:
      *title = g_strdup (_("Declined"));
      break;
    case WZP_HANGUP_REASON_TIMEOUT:
      *title = g_strdup (_("No answer"));
      break;
    case WZP_HANGUP_REASON_UNREACHABLE:
      *title = g_strdup (_("Not reachable"));
      break;
    case WZP_HANGUP_REASON_NORMAL:
      *title = g_strdup (_("Call ended"));
      break;
    case WZP_HANGUP_REASON_ERROR:
    default:
      *title = g_strdup (_("Call failed"));
      break;
    }
  if (reason != WZP_HANGUP_REASON_NORMAL && message != NULL)
    *detail = g_strdup (message);
}
