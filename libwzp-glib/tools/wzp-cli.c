/* wzp-cli.c: the headless wzp client
 *
 * The command line and the events it prints are a contract that scripts and tests rely
 * on (issue 5, item 4; docs/api.md):
 *
 *   wzp-cli [--relay URI] [--identity FILE] [--alias NAME] [--port N] [--reflector URI]...
 *           [--privacy] [--json] COMMAND
 *     fingerprint
 *     candidates
 *     nat
 *     listen [--answer trusted|privacy|reject] [--calls N] [--hold SECONDS]
 *     call FINGERPRINT [--hold SECONDS]
 *
 * With --json, stdout carries one JSON object per line per event and nothing else;
 * without, the same events as readable lines. Errors are one line on stderr and a
 * non-zero exit status (2 for a wrong command line). Logs go to stderr.
 *
 * Test-only: WZP_TEST_LOOPBACK=1 in the environment makes the client listen on loopback
 * and offer loopback host candidates, so that tests do not depend on the machine's
 * interfaces (docs/decisions.md, "Loopback tests bring their own candidates"). It is
 * deliberately not in --help; never set it outside tests.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "wzp-glib.h"
#include "wzp-audio-devices-private.h"
#include "wzp-call-private.h"
#include "wzp-candidates-private.h"
#include "wzp-client-private.h"
#include "wzp-frame-io-private.h"
#include "wzp-message-private.h"
#include "wzp-nat-type-private.h"
#include "wzp-network-info-private.h"
#include "wzp-relay-uri-private.h"
#include "wzp-socket-private.h"
#include "wzp-tls-dial-private.h"

#define EXIT_USAGE          2
#define REGISTER_TIMEOUT_S  15
#define DRAIN_MAX_MS        1000

typedef enum {
  COMMAND_FINGERPRINT,
  COMMAND_CANDIDATES,
  COMMAND_NAT,
  COMMAND_LISTEN,
  COMMAND_CALL,
} Command;

typedef struct
{
  /* The command line */
  char          *relay;
  char          *identity_path;
  char          *alias;
  int            port;
  GPtrArray     *reflectors;      /* char*, NULL-terminated */
  gboolean       privacy;
  gboolean       json;
  char          *audio_in;       /* as given: FILE.wav, tone, default, pulse:DEVICE, none */
  char          *audio_out;
  char          *answer;
  int            n_calls;
  double         hold_s;          /* < 0: until the peer hangs up */
  Command        command;
  char          *target;
  WzpAcceptMode  accept_mode;
  gboolean       test_loopback;

  GMainLoop     *loop;
  GCancellable  *cancellable;
  int            exit_status;
  gboolean       finished;
  gboolean       interrupted;
  guint          timeout_id;
  gboolean       connect_refused; /* the first attempt was turned away; the client retries */
  WzpIdentity   *identity;
  WzpClient     *client;
  WzpSharedPort *shared_port;     /* candidates */
  GPtrArray     *calls;           /* CliCall*: every call seen */
  guint          n_taken;         /* listen: incoming calls answered (or rejected) */
  guint          n_done;          /* listen: taken calls that ended */
} Cli;

typedef struct
{
  Cli      *cli;
  WzpCall  *call;
  gint64    setup_us;
  gboolean  nominated;
  gboolean  taken;
  guint     hold_id;
  gint64    capture_origin_us;   /* as last printed in an "audio" event */
  gint64    playback_origin_us;
} CliCall;

/* Output */

static void
fail_line (const char *message)
{
  g_autofree char *line = g_strdup (message);

  /* One line, whatever the library's message holds. */
  g_strdelimit (line, "\r\n", ' ');
  g_printerr ("%s: %s\n", g_get_prgname (), line);
}

static int
fail (const char *format,
      ...) G_GNUC_PRINTF (1, 2);

static int
fail (const char *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  fail_line (message);
  return EXIT_FAILURE;
}

/* A wrong command line: one line on stderr, exit status 2. */
static int
usage (const char *format,
       ...) G_GNUC_PRINTF (1, 2);

static int
usage (const char *format,
       ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  fail_line (message);
  return EXIT_USAGE;
}

static void
finish (Cli *cli,
        int  status)
{
  if (cli->finished)
    return;
  cli->finished = TRUE;
  cli->exit_status = status;
  g_clear_handle_id (&cli->timeout_id, g_source_remove);
  g_cancellable_cancel (cli->cancellable);
  g_main_loop_quit (cli->loop);
}

static void
fail_and_finish (Cli        *cli,
                 const char *format,
                 ...) G_GNUC_PRINTF (2, 3);

static void
fail_and_finish (Cli        *cli,
                 const char *format,
                 ...)
{
  g_autofree char *message = NULL;
  va_list args;

  if (cli->finished)
    return;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  fail_line (message);
  finish (cli, EXIT_FAILURE);
}

static JsonBuilder *
event_new (const char *event,
           const char *call_id)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, event);
  if (call_id != NULL)
    {
      json_builder_set_member_name (builder, "call_id");
      json_builder_add_string_value (builder, call_id);
    }
  return builder;
}

/* @value NULL is JSON null. */
static void
event_add_string (JsonBuilder *builder,
                  const char  *name,
                  const char  *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
event_add_int (JsonBuilder *builder,
               const char  *name,
               gint64       value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

static void
event_add_bool (JsonBuilder *builder,
                const char  *name,
                gboolean     value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_boolean_value (builder, value);
}

/* @values NULL is an empty array. */
static void
event_add_strv (JsonBuilder        *builder,
                const char         *name,
                const char * const *values)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_array (builder);
  for (guint i = 0; values != NULL && values[i] != NULL; i++)
    json_builder_add_string_value (builder, values[i]);
  json_builder_end_array (builder);
}

/* Prints the event as a JSON line (--json) or as the readable line @format. */
static void
event_print (Cli         *cli,
             JsonBuilder *builder,
             const char  *format,
             ...) G_GNUC_PRINTF (3, 4);

static void
event_print (Cli         *cli,
             JsonBuilder *builder,
             const char  *format,
             ...)
{
  g_autoptr(JsonBuilder) owned = builder;

  json_builder_end_object (owned);
  if (cli->json)
    {
      g_autoptr(JsonNode) root = json_builder_get_root (owned);
      g_autoptr(JsonGenerator) generator = json_generator_new ();
      g_autofree char *text = NULL;

      json_generator_set_root (generator, root);
      text = json_generator_to_data (generator, NULL);
      fputs (text, stdout);
      fputc ('\n', stdout);
    }
  else
    {
      g_autofree char *line = NULL;
      va_list args;

      va_start (args, format);
      line = g_strdup_vprintf (format, args);
      va_end (args);
      g_print ("%s\n", line);
    }
  fflush (stdout);
}

static const char *
enum_nick (GType type,
           int   value)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (type);
  GEnumValue *enum_value = g_enum_get_value (klass, value);

  /* Nicks are static strings of the registered type. */
  return enum_value != NULL ? enum_value->value_nick : "unknown";
}

/* Leaving: lets queued messages (Hangup over signalling and over the call's path) reach
 * the wire, at most @max_ms, stopping once nothing has happened for a moment. */
static void
drain_main_context (guint max_ms)
{
  gint64 deadline = g_get_monotonic_time () + max_ms * G_TIME_SPAN_MILLISECOND;
  guint quiet_rounds = 0;

  while (quiet_rounds < 25 && g_get_monotonic_time () < deadline)
    {
      if (g_main_context_iteration (NULL, FALSE))
        quiet_rounds = 0;
      else
        {
          quiet_rounds++;
          g_usleep (2 * G_TIME_SPAN_MILLISECOND);
        }
    }
}

/* Calls */

static void
cli_call_free (CliCall *cc)
{
  g_signal_handlers_disconnect_by_data (cc->call, cc);
  g_clear_handle_id (&cc->hold_id, g_source_remove);
  g_object_unref (cc->call);
  g_free (cc);
}

static void
hang_up_all (Cli *cli)
{
  /* Hanging up runs ::ended handlers, which may look at the array: walk a copy. */
  g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < cli->calls->len; i++)
    g_ptr_array_add (calls, g_object_ref (((CliCall *) g_ptr_array_index (cli->calls, i))->call));
  for (guint i = 0; i < calls->len; i++)
    wzp_call_hangup (g_ptr_array_index (calls, i));
}

/* WzpCall notifies its peer addresses when CallSetup arrives: that is the setup event. */
static void
call_setup_cb (WzpCall *call,
               CliCall *cc)
{
  const char *call_id = wzp_call_get_call_id (call);
  const char *role = enum_nick (WZP_TYPE_CALL_ROLE, wzp_call_get_role (call));
  const char *direct = wzp_call_get_peer_direct_address (call);
  g_auto(GStrv) locals = wzp_call_dup_peer_local_addresses (call);
  g_autofree char *locals_text = g_strjoinv (", ", locals);
  JsonBuilder *event;

  cc->setup_us = g_get_monotonic_time ();

  event = event_new ("setup", call_id);
  event_add_string (event, "role", role);
  event_add_string (event, "peer_direct_addr", direct);
  event_add_strv (event, "peer_local_addrs", (const char * const *) locals);
  event_add_bool (event, "privacy", wzp_call_get_privacy (call));
  event_print (cc->cli, event,
               _("Call %s: set up as %s; the peer's direct address: %s; its local addresses: %s"),
               call_id, role, direct ? direct : _("none"),
               *locals_text ? locals_text : _("none"));
}

static void
call_state_cb (WzpCall    *call,
               GParamSpec *pspec,
               CliCall    *cc)
{
  const char *call_id = wzp_call_get_call_id (call);

  if (wzp_call_get_state (call) == WZP_CALL_STATE_RINGING)
    event_print (cc->cli, event_new ("ringing", call_id), _("Call %s: ringing"), call_id);
}

static void
call_candidate_result_cb (WzpCall            *call,
                          const char         *address,
                          WzpCandidateKind    kind_value,
                          WzpCandidateResult  result_value,
                          const char         *reason,
                          int                 ms,
                          CliCall            *cc)
{
  const char *call_id = wzp_call_get_call_id (call);
  const char *kind = enum_nick (WZP_TYPE_CANDIDATE_KIND, kind_value);
  const char *result = enum_nick (WZP_TYPE_CANDIDATE_RESULT, result_value);
  JsonBuilder *event = event_new ("candidate", call_id);

  event_add_string (event, "addr", address);
  event_add_string (event, "kind", kind);
  event_add_string (event, "result", result);
  event_add_string (event, "reason", reason ? reason : "");
  event_add_int (event, "ms", ms);
  event_print (cc->cli, event, _("Call %s: %s candidate %s: %s%s%s (%d ms)"), call_id, kind,
               address, result, reason && *reason ? ", " : "", reason ? reason : "", ms);
}

static gboolean
hold_done_cb (gpointer user_data)
{
  CliCall *cc = user_data;

  cc->hold_id = 0;
  wzp_call_hangup (cc->call);
  return G_SOURCE_REMOVE;
}

static void
call_path_changed_cb (WzpCall *call,
                      CliCall *cc)
{
  const char *call_id = wzp_call_get_call_id (call);
  const char *kind = enum_nick (WZP_TYPE_PATH_KIND, wzp_call_get_path_kind (call));
  JsonBuilder *event = event_new ("path", call_id);
  gint64 ms;

  /* The first path: the library's own measure from CallSetup; later switches: from the
   * setup event. */
  if (!cc->nominated && wzp_call_get_time_to_path (call) >= 0)
    ms = wzp_call_get_time_to_path (call);
  else
    ms = cc->setup_us ? (g_get_monotonic_time () - cc->setup_us) / 1000 : 0;

  event_add_string (event, "kind", kind);
  event_add_string (event, "remote", wzp_call_get_remote_address (call));
  event_add_int (event, "ms", ms);
  event_print (cc->cli, event, _("Call %s: path %s via %s after %" PRId64 " ms"),
               call_id, kind, wzp_call_get_remote_address (call), ms);

  if (!cc->nominated)
    {
      cc->nominated = TRUE;
      if (cc->cli->hold_s >= 0)
        cc->hold_id = g_timeout_add ((guint) (cc->cli->hold_s * 1000), hold_done_cb, cc);
    }
}

static void
call_ended_cb (WzpCall         *call,
               WzpHangupReason  reason,
               CliCall         *cc)
{
  Cli *cli = cc->cli;
  const char *call_id = wzp_call_get_call_id (call);
  const char *nick = enum_nick (WZP_TYPE_HANGUP_REASON, reason);
  const char *message = wzp_call_get_error_message (call);
  JsonBuilder *event = event_new ("ended", call_id);

  g_clear_handle_id (&cc->hold_id, g_source_remove);

  event_add_string (event, "reason", nick);
  event_add_string (event, "message", message);
  event_print (cli, event, _("Call %s ended: %s (%s)"), call_id, nick,
               message ? message : "");

  if (cli->command == COMMAND_CALL && wzp_call_get_role (call) == WZP_CALL_ROLE_CALLER)
    {
      /* Success is a nominated path and a normal end, whoever hung up. */
      if (cc->nominated && reason == WZP_HANGUP_REASON_NORMAL)
        finish (cli, EXIT_SUCCESS);
      else if (!cc->nominated && reason == WZP_HANGUP_REASON_NORMAL)
        fail_and_finish (cli, _("The call ended before a path to %s was found"),
                         wzp_call_get_peer_fingerprint (call));
      else
        fail_and_finish (cli, "%s", message ? message : nick);
    }
  else if (cli->command == COMMAND_LISTEN && cc->taken)
    {
      cli->n_done++;
      if (cli->n_done >= (guint) cli->n_calls)
        finish (cli, EXIT_SUCCESS);
    }
}

/* An "audio" event when the pipelines' timelines are first known and whenever one moves
 * (by more than a millisecond: each reading differs from the last by a microsecond or so):
 * the CLOCK_MONOTONIC time (us) of each one's running time 0, for measuring mouth-to-ear
 * latency across processes (bench/bench-voice.py; docs/voice.md, "Statistics"). */
#define ORIGIN_MOVED_US 1000
static void
print_audio_origins (CliCall *cc)
{
  const char *call_id = wzp_call_get_call_id (cc->call);
  gint64 capture_us, playback_us;
  JsonBuilder *event;

  if (!_wzp_call_voice_get_origins (cc->call, &capture_us, &playback_us) ||
      (ABS (capture_us - cc->capture_origin_us) <= ORIGIN_MOVED_US &&
       ABS (playback_us - cc->playback_origin_us) <= ORIGIN_MOVED_US))
    return;
  cc->capture_origin_us = capture_us;
  cc->playback_origin_us = playback_us;
  event = event_new ("audio", call_id);
  event_add_int (event, "capture_origin_us", capture_us);
  event_add_int (event, "playback_origin_us", playback_us);
  event_print (cc->cli, event,
               _("Call %s: capture started at %" PRId64 " us, playback at %"
                 PRId64 " us (monotonic clock)"), call_id, capture_us, playback_us);
}

/* One "stats" event a second while a call runs (WzpCall:stats). */
static void
call_stats_cb (WzpCall    *call,
               GParamSpec *pspec,
               CliCall    *cc)
{
  GVariant *stats = wzp_call_get_stats (call);
  JsonBuilder *event;
  GVariantIter iter;
  const char *key;
  GVariant *value;
  gint64 rtt = -1, sent = 0, received = 0, concealed = 0, late = 0, delay = 0, bitrate = 0;

  if (stats == NULL)
    return;
  event = event_new ("stats", wzp_call_get_call_id (call));
  g_variant_iter_init (&iter, stats);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      gint64 number = g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64)
                      ? (gint64) g_variant_get_uint64 (value) : g_variant_get_int64 (value);

      event_add_int (event, key, number);
      if (g_str_equal (key, "rtt-ms"))
        rtt = number;
      else if (g_str_equal (key, "frames-sent"))
        sent = number;
      else if (g_str_equal (key, "frames-received"))
        received = number;
      else if (g_str_equal (key, "frames-concealed"))
        concealed = number;
      else if (g_str_equal (key, "frames-late"))
        late = number;
      else if (g_str_equal (key, "playout-delay-ms"))
        delay = number;
      else if (g_str_equal (key, "bitrate"))
        bitrate = number;
    }
  event_print (cc->cli, event,
               _("Call %s: rtt %" PRId64 " ms, frames sent %" PRId64
                 ", received %" PRId64 ", concealed %" PRId64
                 ", late %" PRId64 ", playout delay %" PRId64
                 " ms, %" PRId64 " b/s"),
               wzp_call_get_call_id (call), rtt, sent, received, concealed, late, delay,
               bitrate);
  print_audio_origins (cc);
}

static CliCall *
track_call (Cli     *cli,
            WzpCall *call)
{
  CliCall *cc = g_new0 (CliCall, 1);

  cc->cli = cli;
  cc->call = g_object_ref (call);
  cc->capture_origin_us = cc->playback_origin_us = -1;
  g_ptr_array_add (cli->calls, cc);

  g_signal_connect (call, "notify::state", G_CALLBACK (call_state_cb), cc);
  g_signal_connect (call, "set-up", G_CALLBACK (call_setup_cb), cc);
  g_signal_connect (call, "candidate-result", G_CALLBACK (call_candidate_result_cb), cc);
  g_signal_connect (call, "path-changed", G_CALLBACK (call_path_changed_cb), cc);
  g_signal_connect (call, "ended", G_CALLBACK (call_ended_cb), cc);
  g_signal_connect (call, "notify::stats", G_CALLBACK (call_stats_cb), cc);
  return cc;
}

static void
answered_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* A failure ends the call, and ::ended reports it. */
  if (!wzp_call_answer_finish (WZP_CALL (source), result, &error))
    g_debug ("Answering failed: %s", error->message);
}

static void
incoming_call_cb (WzpClient *client,
                  WzpCall   *call,
                  Cli       *cli)
{
  CliCall *cc = track_call (cli, call);
  const char *call_id = wzp_call_get_call_id (call);
  const char *peer = wzp_call_get_peer_fingerprint (call);
  const char *alias = wzp_call_get_peer_alias (call);
  JsonBuilder *event = event_new ("incoming", call_id);

  event_add_string (event, "peer", peer);
  event_add_string (event, "alias", alias);
  event_print (cli, event, _("Call %s: incoming from %s%s%s%s"), call_id, peer,
               alias ? " (" : "", alias ? alias : "", alias ? ")" : "");

  /* Only `listen` takes calls, and only as many as asked for: a call beyond those while
   * one is still on hears "busy"; any other is declined. */
  if (cli->command == COMMAND_LISTEN && !cli->finished &&
      cli->n_taken >= (guint) cli->n_calls && cli->n_done < cli->n_taken)
    {
      wzp_call_decline (call, WZP_HANGUP_REASON_BUSY);
      return;
    }
  if (cli->command != COMMAND_LISTEN || cli->finished ||
      cli->n_taken >= (guint) cli->n_calls)
    {
      wzp_call_hangup (call);
      return;
    }

  cc->taken = TRUE;
  cli->n_taken++;
  wzp_call_ring (call);
  event_print (cli, event_new ("ringing", call_id), _("Call %s: ringing"), call_id);
  wzp_call_answer_async (call, cli->accept_mode, NULL, answered_cb, NULL);
}

static void
outgoing_call_cb (WzpClient *client,
                  WzpCall   *call,
                  Cli       *cli)
{
  track_call (cli, call);
}

static void
call_placed_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpCall) call = wzp_client_place_call_finish (WZP_CLIENT (source), result, &error);

  /* Calls that exist report their end through ::ended; this is for the rest (a bad
   * fingerprint, not registered). */
  if (call == NULL && cli->calls->len == 0)
    fail_and_finish (cli, "%s", error->message);
}

/* The relay connection */

static void start_nat (Cli *cli);

/* Registered: the command starts. */
static void
start_command (Cli *cli)
{
  g_clear_handle_id (&cli->timeout_id, g_source_remove);

  switch (cli->command)
    {
    case COMMAND_NAT:
      start_nat (cli);
      break;
    case COMMAND_CALL:
      wzp_client_place_call_async (cli->client, cli->target, cli->cancellable, call_placed_cb,
                                   cli);
      break;
    case COMMAND_LISTEN:
    case COMMAND_FINGERPRINT:
    case COMMAND_CANDIDATES:
    default:
      break;
    }
}

/* The relay turned the client away before TLS (docs/relay.md, "When the relay turns
 * clients away"): not an error to exit on, since the client tries again by itself. */
static gboolean
error_is_refusal (const GError *error)
{
  return g_error_matches (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_BUSY) ||
         g_error_matches (error, WZP_CLIENT_ERROR, WZP_CLIENT_ERROR_RELAY_TOO_MANY_CONNECTIONS);
}

/* A refusal is printed when the client's error becomes one, whether connecting for the
 * first time or after losing the relay (the same refusal again, retry after retry, does
 * not change the error, and is printed once). */
static void
client_error_cb (WzpClient  *client,
                 GParamSpec *pspec,
                 Cli        *cli)
{
  const GError *error = wzp_client_get_error (client);
  JsonBuilder *event;

  if (error == NULL || !error_is_refusal (error))
    return;
  event = event_new ("refused", NULL);
  json_builder_set_member_name (event, "reason");
  json_builder_add_string_value (event, error->code == WZP_CLIENT_ERROR_RELAY_BUSY
                                        ? "busy" : "too-many-connections");
  json_builder_set_member_name (event, "message");
  json_builder_add_string_value (event, error->message);
  /* Translators: %s says why the relay turned the connection away. */
  event_print (cli, event, _("%s; trying again"), error->message);
}

static void
client_state_cb (WzpClient  *client,
                 GParamSpec *pspec,
                 Cli        *cli)
{
  switch (wzp_client_get_state (client))
    {
    case WZP_CLIENT_STATE_CONNECTED:
      {
        const char *fingerprint = wzp_identity_get_fingerprint (cli->identity);
        const char *observed = wzp_client_get_observed_address (client);
        JsonBuilder *event = event_new ("registered", NULL);

        event_add_string (event, "fingerprint", fingerprint);
        event_add_string (event, "observed_addr", observed);
        event_add_int (event, "port", wzp_client_get_port (client));
        event_print (cli, event, _("Registered as %s (the relay sees this client at %s)"),
                     fingerprint, observed ? observed : _("an unknown address"));
        /* Registered by a retry after the connect call failed: the command starts now. */
        if (cli->connect_refused)
          {
            cli->connect_refused = FALSE;
            start_command (cli);
          }
      }
      break;

    case WZP_CLIENT_STATE_FAILED:
      fail_and_finish (cli, "%s", wzp_client_get_error_message (client));
      break;

    case WZP_CLIENT_STATE_RECONNECTING:
      g_debug ("Lost the relay (%s); reconnecting", wzp_client_get_error_message (client));
      break;

    case WZP_CLIENT_STATE_DISCONNECTED:
    case WZP_CLIENT_STATE_CONNECTING:
    default:
      break;
    }
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr(GError) error = NULL;

  if (!wzp_client_connect_finish (WZP_CLIENT (source), result, &error))
    {
      /* Printed by client_error_cb(); the client retries, within the registration
       * timeout. */
      if (error_is_refusal (error))
        {
          cli->connect_refused = TRUE;
          return;
        }
      fail_and_finish (cli, "%s", error->message);
      return;
    }
  start_command (cli);
}

static gboolean
register_timeout_cb (gpointer user_data)
{
  Cli *cli = user_data;

  const char *why = cli->client != NULL ? wzp_client_get_error_message (cli->client) : NULL;

  cli->timeout_id = 0;
  if (why != NULL)
    /* Translators: the last %s says why the last attempt failed. */
    fail_and_finish (cli, _("Could not register with the relay at %s within %d seconds: %s"),
                     cli->relay, REGISTER_TIMEOUT_S, why);
  else
    fail_and_finish (cli, _("Could not register with the relay at %s within %d seconds"),
                     cli->relay, REGISTER_TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

/* --audio-in and --audio-out as the client's GStreamer descriptions (docs/voice.md):
 * NULL for the system's device, "none" for no audio. wzp-cli is for scripts and tests,
 * so without the options a call carries no audio at all. */
static char *
audio_description (const char *option,
                   gboolean    input)
{
  g_autofree char *quoted = NULL;

  if (option == NULL || g_str_equal (option, "none"))
    return g_strdup ("none");
  if (g_str_equal (option, "default"))
    return NULL;
  if (g_str_has_prefix (option, "gst:"))
    return g_strdup (option + strlen ("gst:"));
  if (input && g_str_equal (option, "tone"))
    return g_strdup ("audiotestsrc is-live=true wave=sine freq=440 volume=0.3");
  if (g_str_has_prefix (option, "pulse:"))
    {
      quoted = _wzp_audio_quote (option + strlen ("pulse:"));
      return g_strdup_printf (input ? "pulsesrc device=%s" : "pulsesink device=%s", quoted);
    }
  quoted = _wzp_audio_quote (option);
  if (input)
    return g_strdup_printf ("filesrc location=%s ! wavparse ! audioconvert ! audioresample "
                            "! clocksync", quoted);
  return g_strdup_printf ("wavenc ! filesink location=%s", quoted);
}

static void
start_client (Cli *cli)
{
  g_autofree char *audio_source = audio_description (cli->audio_in, TRUE);
  g_autofree char *audio_sink = audio_description (cli->audio_out, FALSE);

  cli->client = wzp_client_new (cli->identity);
  g_object_set (cli->client,
                "relay-uri", cli->relay,
                "alias", cli->alias,
                "privacy", cli->privacy,
                "port", (guint) cli->port,
                "audio-source", audio_source,
                "audio-sink", audio_sink,
                NULL);
  /* `nat` asks the reflectors itself, to report every answer; the client's own probes
   * would race it for the same connections from P. */
  if (cli->command != COMMAND_NAT)
    g_object_set (cli->client, "reflectors", (char **) cli->reflectors->pdata, NULL);
  if (cli->test_loopback)
    _wzp_client_set_test_loopback (cli->client, TRUE);

  g_signal_connect (cli->client, "notify::state", G_CALLBACK (client_state_cb), cli);
  g_signal_connect (cli->client, "notify::error", G_CALLBACK (client_error_cb), cli);
  g_signal_connect (cli->client, "incoming-call", G_CALLBACK (incoming_call_cb), cli);
  g_signal_connect (cli->client, "outgoing-call", G_CALLBACK (outgoing_call_cb), cli);

  cli->timeout_id = g_timeout_add_seconds (REGISTER_TIMEOUT_S, register_timeout_cb, cli);
  wzp_client_connect_async (cli->client, cli->cancellable, connected_cb, cli);
}

/* nat: the own relay's observation plus one Reflect per --reflector, made from P */

typedef struct
{
  char              *name;      /* host:port, for messages */
  GSocketConnection *conn;
  GIOStream         *tls;
  WzpFrameIO        *io;
} Reflection;

static void
reflection_free (Reflection *r)
{
  if (r->conn != NULL)
    g_io_stream_close (G_IO_STREAM (r->conn), NULL, NULL);
  g_clear_object (&r->io);
  g_clear_object (&r->tls);
  g_clear_object (&r->conn);
  g_free (r->name);
  g_free (r);
}

static void
reflection_return_error (GTask  *task,
                         GError *error)
{
  Reflection *r = g_task_get_task_data (task);

  g_prefix_error (&error, "%s: ", r->name);
  g_task_return_error (task, error);
}

static void
reflection_read_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Reflection *r = g_task_get_task_data (task);
  /* Read before g_steal_pointer (&task) below: argument order is unspecified. */
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  g_autoptr(WzpMessage) message = _wzp_frame_io_read_finish (r->io, result, &error);

  if (message == NULL)
    {
      reflection_return_error (task, error);
      return;
    }
  if (_wzp_message_get_message_type (message) != WZP_MESSAGE_REFLECT_RESPONSE)
    {
      _wzp_frame_io_read_async (r->io, cancellable, reflection_read_cb,
                                g_steal_pointer (&task));
      return;
    }
  g_task_return_pointer (task, g_strdup (_wzp_message_get_string (message, "observed_addr")),
                         g_free);
}

static void
reflection_dialled_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Reflection *r = g_task_get_task_data (task);
  /* Read before g_steal_pointer (&task) below: argument order is unspecified. */
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autoptr(WzpMessage) reflect = NULL;
  GError *error = NULL;

  r->tls = _wzp_tls_dial_finish (result, &r->conn, NULL, &error);
  if (r->tls == NULL)
    {
      reflection_return_error (task, error);
      return;
    }

  r->io = _wzp_frame_io_new (r->tls);
  reflect = _wzp_message_new (WZP_MESSAGE_REFLECT);
  _wzp_frame_io_send (r->io, reflect);
  _wzp_frame_io_read_async (r->io, cancellable, reflection_read_cb,
                            g_steal_pointer (&task));
}

typedef struct
{
  Cli  *cli;
  char *uri;
} ReflectorProbe;

static void
reflector_probe_free (ReflectorProbe *probe)
{
  g_free (probe->uri);
  g_free (probe);
}

static void
reflector_probe_start (gpointer             probe_data,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  ReflectorProbe *probe = probe_data;
  Cli *cli = probe->cli;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autofree char *host = NULL;
  g_autofree char *pin = NULL;
  Reflection *r;
  GError *error = NULL;
  guint16 port;

  r = g_new0 (Reflection, 1);
  r->name = g_strdup (probe->uri);
  g_task_set_task_data (task, r, (GDestroyNotify) reflection_free);
  if (!_wzp_relay_uri_parse (probe->uri, &host, &port, &pin, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  /* From P, like the signalling connection: the mapping of P is what is measured. */
  connectable = g_network_address_new (host, port);
  _wzp_tls_dial_async (connectable, _wzp_client_get_shared_port (cli->client),
                       wzp_identity_get_certificate (cli->identity), pin, 0, cancellable,
                       reflection_dialled_cb, g_steal_pointer (&task));
}

static char *
probe_finish (gpointer       probe_data,
              GAsyncResult  *result,
              GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* The own relay's answer is the observed address of the registration. */
static void
relay_probe_start (gpointer             probe_data,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  Cli *cli = probe_data;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  const char *observed = wzp_client_get_observed_address (cli->client);

  if (observed != NULL)
    g_task_return_pointer (task, g_strdup (observed), g_free);
  else
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                             _("The relay did not say where it sees this client"));
}

static void
nat_measured_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpNatMeasurement) measurement = _wzp_nat_type_measure_finish (result, &error);
  g_autoptr(GPtrArray) observed = g_ptr_array_new ();
  g_autofree char *observed_text = NULL;
  const char *type;
  JsonBuilder *event;

  if (measurement == NULL)
    {
      fail_and_finish (cli, "%s", error->message);
      return;
    }

  _wzp_network_info_apply_measurement (_wzp_client_get_network_info (cli->client),
                                       measurement, "relay");
  type = _wzp_nat_type_to_string (measurement->ipv4_type);

  event = event_new ("nat", NULL);
  event_add_string (event, "type", type);
  for (guint i = 0; i < measurement->results->len; i++)
    {
      WzpReflexiveResult *r = g_ptr_array_index (measurement->results, i);

      if (r->observed != NULL)
        g_ptr_array_add (observed, r->observed);
    }
  g_ptr_array_add (observed, NULL);
  event_add_strv (event, "observed", (const char * const *) observed->pdata);
  event_add_string (event, "explanation", measurement->ipv4_explanation);
  json_builder_set_member_name (event, "answers");
  json_builder_begin_array (event);
  for (guint i = 0; i < measurement->results->len; i++)
    {
      WzpReflexiveResult *r = g_ptr_array_index (measurement->results, i);

      json_builder_begin_object (event);
      event_add_string (event, "reflector", r->reflector);
      event_add_string (event, "observed", r->observed);
      event_add_string (event, "error", r->error ? r->error->message : NULL);
      json_builder_end_object (event);
    }
  json_builder_end_array (event);

  observed_text = g_strjoinv (", ", (char **) observed->pdata);
  event_print (cli, event, _("NAT type: %s (seen at %s)"), type,
               *observed_text ? observed_text : _("no address"));
  finish (cli, EXIT_SUCCESS);
}

static void
nat_gathered_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) probes = NULL;
  g_auto(GStrv) own = NULL;

  if (!_wzp_network_info_gather_finish (WZP_NETWORK_INFO (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        fail_and_finish (cli, "%s", error->message);
      return;
    }

  own = _wzp_network_info_dup_own_addresses (WZP_NETWORK_INFO (source));
  probes = g_ptr_array_new_with_free_func ((GDestroyNotify) _wzp_reflexive_probe_free);
  g_ptr_array_add (probes, _wzp_reflexive_probe_new ("relay", relay_probe_start, probe_finish,
                                                     cli, NULL));
  for (guint i = 0; i + 1 < cli->reflectors->len; i++)
    {
      ReflectorProbe *probe = g_new0 (ReflectorProbe, 1);

      probe->cli = cli;
      probe->uri = g_strdup (g_ptr_array_index (cli->reflectors, i));
      g_ptr_array_add (probes, _wzp_reflexive_probe_new (probe->uri, reflector_probe_start,
                                                         probe_finish, probe,
                                                         (GDestroyNotify) reflector_probe_free));
    }

  _wzp_nat_type_measure_async (probes, (const char * const *) own, 0, cli->cancellable,
                               nat_measured_cb, cli);
}

static void
start_nat (Cli *cli)
{
  _wzp_network_info_gather_async (_wzp_client_get_network_info (cli->client), cli->cancellable,
                                  nat_gathered_cb, cli);
}

/* candidates */

static void
candidates_gathered_cb (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) candidates = _wzp_candidates_gather_finish (result, &error);

  if (candidates == NULL)
    {
      fail_and_finish (cli, "%s", error->message);
      return;
    }

  for (guint i = 0; i < candidates->len; i++)
    {
      WzpCandidate *candidate = g_ptr_array_index (candidates, i);
      JsonBuilder *event = event_new ("host-candidate", NULL);

      event_add_string (event, "addr", candidate->address);
      event_add_string (event, "interface", candidate->interface);
      event_add_string (event, "class", _wzp_address_class_to_string (candidate->klass));
      event_print (cli, event, "%s", candidate->address);
    }
  finish (cli, EXIT_SUCCESS);
}

static void
start_candidates (Cli *cli)
{
  g_autoptr(GError) error = NULL;
  WzpCandidateFilter filter = { .loopback_only = cli->test_loopback };

  /* The port a client would use: --port, or a free one, bound the way the client binds
   * it (so a port already in use is an error here too). */
  cli->shared_port = _wzp_shared_port_new (cli->port,
                                           cli->test_loopback ? WZP_SHARED_PORT_FLAGS_LOOPBACK
                                                              : WZP_SHARED_PORT_FLAGS_NONE,
                                           &error);
  if (cli->shared_port == NULL)
    {
      fail_and_finish (cli, _("Cannot use port %d: %s"), cli->port, error->message);
      return;
    }
  _wzp_candidates_gather_async (_wzp_shared_port_get_port (cli->shared_port), &filter,
                                cli->cancellable, candidates_gathered_cb, cli);
}

/* Start */

static void
identity_loaded_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr(GError) error = NULL;

  cli->identity = wzp_identity_load_or_create_finish (result, &error);
  if (cli->identity == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        fail_and_finish (cli, "%s", error->message);
      return;
    }

  if (cli->command == COMMAND_FINGERPRINT)
    {
      const char *fingerprint = wzp_identity_get_fingerprint (cli->identity);
      JsonBuilder *event = event_new ("fingerprint", NULL);

      event_add_string (event, "fingerprint", fingerprint);
      event_add_string (event, "path", wzp_identity_get_path (cli->identity));
      event_print (cli, event, "%s", fingerprint);
      finish (cli, EXIT_SUCCESS);
      return;
    }

  start_client (cli);
}

static gboolean
signal_cb (gpointer user_data)
{
  Cli *cli = user_data;

  if (cli->interrupted || cli->finished)
    {
      /* A second signal: stop waiting for anything. */
      finish (cli, EXIT_FAILURE);
      return G_SOURCE_CONTINUE;
    }
  cli->interrupted = TRUE;
  /* Hanging up ends the calls normally; `call` then exits as its call ended. */
  hang_up_all (cli);
  if (cli->command == COMMAND_CALL)
    fail_and_finish (cli, _("Interrupted before the call was connected"));
  else
    finish (cli, EXIT_SUCCESS);
  return G_SOURCE_CONTINUE;
}

/* The command line */

static gboolean
reflector_option_cb (const char  *option_name,
                     const char  *value,
                     gpointer     data,
                     GError     **error)
{
  Cli *cli = data;

  /* Before the terminating NULL. */
  g_ptr_array_insert (cli->reflectors, cli->reflectors->len - 1, g_strdup (value));
  return TRUE;
}

static gboolean
hold_option_cb (const char  *option_name,
                const char  *value,
                gpointer     data,
                GError     **error)
{
  Cli *cli = data;
  char *end = NULL;
  double seconds = g_ascii_strtod (value, &end);

  if (end == value || *end != '\0' || !isfinite (seconds) || seconds < 0 || seconds > 86400)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--hold takes a number of seconds from 0 to 86400, not “%s”"), value);
      return FALSE;
    }
  cli->hold_s = seconds;
  return TRUE;
}

static void
add_global_entries (GOptionContext *context,
                    Cli            *cli)
{
  const GOptionEntry entries[] = {
    { "relay", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING, &cli->relay,
      N_("The relay to register with, as wzps://HOST:PORT#FINGERPRINT (without the "
         "fingerprint, the relay is trusted on first use)"), N_("URI") },
    { "identity", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_FILENAME, &cli->identity_path,
      N_("The identity's key file, made on first use "
         "(default: $XDG_DATA_HOME/wzp/identity.pem)"), N_("FILE") },
    { "alias", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING, &cli->alias,
      N_("The name shown to the people this client calls"), N_("NAME") },
    { "port", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_INT, &cli->port,
      N_("The client's TCP port P (default: a free one)"), N_("N") },
    { "reflector", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_CALLBACK, reflector_option_cb,
      N_("Another relay to ask for this client's address when measuring the NAT type; "
         "repeat for more"), N_("URI") },
    { "privacy", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_NONE, &cli->privacy,
      N_("Share no addresses in calls: they run over the relay"), NULL },
    { "json", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_NONE, &cli->json,
      N_("Print one JSON object per line per event"), NULL },
    { "audio-in", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_FILENAME, &cli->audio_in,
      N_("What calls send: a WAV file (played in real time), “tone”, “default” (the "
         "system’s microphone), “pulse:DEVICE”, “gst:DESCRIPTION” (a live GStreamer "
         "source bin), or “none” (silence; the default)"),
      N_("SOURCE") },
    { "audio-out", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_FILENAME, &cli->audio_out,
      N_("Where calls play what they receive: a WAV file to write, “default” (the "
         "system’s output), “pulse:DEVICE”, “gst:DESCRIPTION” (a GStreamer sink bin "
         "for raw audio), or “none” (the default)"), N_("SINK") },
    G_OPTION_ENTRY_NULL
  };
  GOptionGroup *group = g_option_group_new (NULL, NULL, NULL, cli, NULL);

  g_option_group_add_entries (group, entries);
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  g_option_context_set_main_group (context, group);
}

static int
parse_command_line (Cli    *cli,
                    int    *argc,
                    char ***argv)
{
  const GOptionEntry listen_entries[] = {
    { "answer", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING, &cli->answer,
      N_("How to answer: trusted (share addresses), privacy (relay only) or reject "
         "(default: trusted)"), N_("MODE") },
    { "calls", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_INT, &cli->n_calls,
      N_("Exit after this many calls (default: 1)"), N_("N") },
    { "hold", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_CALLBACK, hold_option_cb,
      N_("Hang up this long after the path is nominated (default: when the peer hangs up)"),
      N_("SECONDS") },
    G_OPTION_ENTRY_NULL
  };
  const GOptionEntry call_entries[] = {
    { "hold", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_CALLBACK, hold_option_cb,
      N_("Hang up this long after the path is nominated (default: when the peer hangs up)"),
      N_("SECONDS") },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("COMMAND [ARGUMENTS…]"));
  g_autoptr(GOptionContext) command_context = NULL;
  g_autoptr(GError) error = NULL;
  const GOptionEntry *entries = NULL;
  const char *command;
  const char *parameter = NULL;
  int command_argc;
  char **command_argv;

  add_global_entries (context, cli);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  /* Stop at the command: its options are parsed below. */
  g_option_context_set_strict_posix (context, TRUE);
  g_option_context_set_summary (context,
    _("The headless wzp client.\n"
      "\n"
      "Commands:\n"
      "  fingerprint            print the identity's fingerprint\n"
      "  candidates             print host candidates, one per line\n"
      "  nat                    register, print the observed address and NAT type\n"
      "  listen [--answer trusted|privacy|reject] [--calls N] [--hold SECONDS]\n"
      "                         register; answer incoming calls; hang up each SECONDS\n"
      "                         after its path is nominated (or when the peer does);\n"
      "                         exit after N calls\n"
      "  call FINGERPRINT [--hold SECONDS]\n"
      "                         place a call, hang up SECONDS after its path is\n"
      "                         nominated; exit 0 only if a path was nominated and\n"
      "                         the call ended normally"));
  g_option_context_set_description (context,
    _("Events (with --json, one object per line on stdout): registered, nat, incoming, "
      "ringing, setup, candidate, path, ended. Errors are one line on stderr and a "
      "non-zero exit status. See “wzp-cli COMMAND --help” for a command's options."));

  if (!g_option_context_parse (context, argc, argv, &error))
    return usage ("%s", error->message);
  if (*argc < 2)
    return usage (_("no command given; see --help"));

  command = (*argv)[1];
  if (g_str_equal (command, "fingerprint"))
    cli->command = COMMAND_FINGERPRINT;
  else if (g_str_equal (command, "candidates"))
    cli->command = COMMAND_CANDIDATES;
  else if (g_str_equal (command, "nat"))
    cli->command = COMMAND_NAT;
  else if (g_str_equal (command, "listen"))
    {
      cli->command = COMMAND_LISTEN;
      entries = listen_entries;
    }
  else if (g_str_equal (command, "call"))
    {
      cli->command = COMMAND_CALL;
      entries = call_entries;
      parameter = _("FINGERPRINT");
    }
  else
    return usage (_("unknown command “%s”; see --help"), command);

  /* The command's options, and the global ones again so they may follow the command. */
  command_context = g_option_context_new (parameter);
  add_global_entries (command_context, cli);
  if (entries != NULL)
    g_option_group_add_entries (g_option_context_get_main_group (command_context), entries);
  command_argc = *argc - 1;
  command_argv = *argv + 1;
  if (!g_option_context_parse (command_context, &command_argc, &command_argv, &error))
    return usage ("%s", error->message);

  if (cli->command == COMMAND_CALL)
    {
      if (command_argc < 2)
        return usage (_("call needs the FINGERPRINT to call"));
      if (!wzp_fingerprint_is_valid (command_argv[1]))
        return usage (_("“%s” is not a fingerprint (8 groups of 4 lower-case hex digits "
                       "separated by colons)"), command_argv[1]);
      cli->target = g_strdup (command_argv[1]);
      if (command_argc > 2)
        return usage (_("unexpected argument “%s”; see --help"), command_argv[2]);
    }
  else if (command_argc > 1)
    return usage (_("unexpected argument “%s”; see --help"), command_argv[1]);

  if (cli->port < 0 || cli->port > 65535)
    return usage (_("--port takes a port number from 0 to 65535, not %d"), cli->port);
  if (cli->n_calls < 1)
    return usage (_("--calls takes a number of calls from 1, not %d"), cli->n_calls);
  if (cli->answer == NULL || g_str_equal (cli->answer, "trusted"))
    cli->accept_mode = WZP_ACCEPT_MODE_TRUSTED;
  else if (g_str_equal (cli->answer, "privacy"))
    cli->accept_mode = WZP_ACCEPT_MODE_PRIVACY;
  else if (g_str_equal (cli->answer, "reject"))
    cli->accept_mode = WZP_ACCEPT_MODE_REJECT;
  else
    return usage (_("--answer takes trusted, privacy or reject, not “%s”"), cli->answer);

  if (cli->command == COMMAND_NAT || cli->command == COMMAND_LISTEN ||
      cli->command == COMMAND_CALL)
    {
      g_autofree char *host = NULL;
      g_autofree char *pin = NULL;
      guint16 port;

      if (cli->relay == NULL)
        return usage (_("%s needs a relay: give --relay wzps://HOST:PORT#FINGERPRINT"),
                     command);
      /* Before anything is made on disk for a command that cannot work. The parser's
       * messages name the part at fault; the option and its value say where it is. */
      if (!_wzp_relay_uri_parse (cli->relay, &host, &port, &pin, &error))
        return fail ("--relay %s: %s", cli->relay, error->message);
      for (guint i = 0; i + 1 < cli->reflectors->len; i++)
        {
          g_clear_pointer (&host, g_free);
          g_clear_pointer (&pin, g_free);
          if (!_wzp_relay_uri_parse (g_ptr_array_index (cli->reflectors, i), &host,
                                            &port, &pin, &error))
            return fail ("--reflector %s: %s",
                         (const char *) g_ptr_array_index (cli->reflectors, i),
                         error->message);
        }
    }

  return EXIT_SUCCESS;
}

static void
cli_clear (Cli *cli)
{
  if (cli->client != NULL)
    g_signal_handlers_disconnect_by_data (cli->client, cli);
  g_clear_pointer (&cli->calls, g_ptr_array_unref);
  if (cli->shared_port != NULL)
    _wzp_shared_port_close (cli->shared_port);
  g_clear_object (&cli->shared_port);
  g_clear_object (&cli->client);
  g_clear_object (&cli->identity);
  g_clear_object (&cli->cancellable);
  g_clear_pointer (&cli->loop, g_main_loop_unref);
  g_clear_pointer (&cli->reflectors, g_ptr_array_unref);
  g_free (cli->relay);
  g_free (cli->identity_path);
  g_free (cli->alias);
  g_free (cli->audio_in);
  g_free (cli->audio_out);
  g_free (cli->answer);
  g_free (cli->target);
}

int
main (int    argc,
      char **argv)
{
  Cli cli = { NULL, };
  guint sigterm_id, sigint_id;
  int status;

  /* stdout carries the events and nothing else. */
  g_log_writer_default_set_use_stderr (TRUE);

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  g_set_prgname ("wzp-cli");

  cli.n_calls = 1;
  cli.hold_s = -1;
  cli.reflectors = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (cli.reflectors, NULL);
  cli.calls = g_ptr_array_new_with_free_func ((GDestroyNotify) cli_call_free);
  cli.test_loopback = g_strcmp0 (g_getenv ("WZP_TEST_LOOPBACK"), "1") == 0;

  status = parse_command_line (&cli, &argc, &argv);
  if (status != EXIT_SUCCESS)
    {
      cli_clear (&cli);
      return status;
    }

  cli.loop = g_main_loop_new (NULL, FALSE);
  cli.cancellable = g_cancellable_new ();
  sigterm_id = g_unix_signal_add (SIGTERM, signal_cb, &cli);
  sigint_id = g_unix_signal_add (SIGINT, signal_cb, &cli);

  if (cli.command == COMMAND_CANDIDATES)
    start_candidates (&cli);
  else
    wzp_identity_load_or_create_async (cli.identity_path, cli.cancellable, identity_loaded_cb,
                                       &cli);

  if (!cli.finished)
    g_main_loop_run (cli.loop);

  /* Leave cleanly: hang up what is still up, let the Hangups reach the wire, then say
   * goodbye to the relay. */
  hang_up_all (&cli);
  if (cli.client != NULL)
    {
      drain_main_context (DRAIN_MAX_MS);
      wzp_client_unregister (cli.client);
      drain_main_context (100);
    }
  g_source_remove (sigterm_id);
  g_source_remove (sigint_id);

  status = cli.exit_status;
  cli_clear (&cli);
  return status;
}
