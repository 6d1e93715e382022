/* test-nominator.c: a call's paths and the nomination, without a relay
 *
 * Each path is a fake: a WzpPath over one end of an AF_UNIX socket pair, with no
 * end-to-end TLS; the test plays the peer on the other end (docs/calls.md, "Nomination").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <sys/socket.h>

#include "test-util.h"
#include "wzp-message-private.h"
#include "wzp-nominator-private.h"

#define CALL_ID "0b7e7c3c-5d3f-4c1e-9f3a-2d6f1e0a9b41"

/* One fake path: ours goes to the nominator, the test speaks on the peer's end. */
typedef struct
{
  WzpPath    *path;
  GIOStream  *peer_stream;
  WzpFrameIO *peer;
} FakePath;

static FakePath *
fake_path_new (WzpPathKind  kind,
               const char  *remote)
{
  FakePath *fake = g_new0 (FakePath, 1);
  GIOStream *ends[2];
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  for (int i = 0; i < 2; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) socket = g_socket_new_from_fd (fds[i], &error);

      g_assert_no_error (error);
      ends[i] = G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
    }

  fake->path = g_new0 (WzpPath, 1);
  g_ref_count_init (&fake->path->ref_count);
  fake->path->base = ends[0];
  fake->path->io = _wzp_frame_io_new (ends[0]);
  fake->path->kind = kind;
  fake->path->remote = g_strdup (remote);
  fake->peer_stream = ends[1];
  fake->peer = _wzp_frame_io_new (ends[1]);
  return fake;
}

static void
fake_path_free (FakePath *fake)
{
  _wzp_path_unref (fake->path);
  g_io_stream_close (fake->peer_stream, NULL, NULL);
  g_object_unref (fake->peer);
  g_object_unref (fake->peer_stream);
  g_free (fake);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FakePath, fake_path_free)

typedef struct
{
  gboolean    done;
  WzpMessage *message;   /* NULL: the nominator's end closed */
} PeerRead;

static void
peer_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  PeerRead *read = user_data;

  read->message = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result, NULL);
  read->done = TRUE;
}

/* The next frame the nominator sent on @fake, or NULL once it closed the path. */
static WzpMessage *
peer_next (FakePath *fake,
           guint     timeout_ms)
{
  PeerRead read = { FALSE, NULL };

  _wzp_frame_io_read_async (fake->peer, NULL, peer_read_cb, &read);
  wzp_test_wait_flag (&read.done, timeout_ms);
  return read.message;
}

static WzpMessage *
peer_expect (FakePath       *fake,
             WzpMessageType  type)
{
  WzpMessage *message = peer_next (fake, 2000);

  g_assert_nonnull (message);
  g_assert_cmpint (_wzp_message_get_message_type (message), ==, type);
  return message;
}

static void
peer_send (FakePath       *fake,
           WzpMessageType  type,
           gint64          seq)
{
  g_autoptr(WzpMessage) message = _wzp_message_new (type);

  if (type == WZP_MESSAGE_NOMINATE || type == WZP_MESSAGE_NOMINATE_ACK)
    _wzp_message_set_int (message, "seq", seq);
  else if (type == WZP_MESSAGE_PING)
    _wzp_message_set_int (message, "timestamp_ms", seq);
  _wzp_frame_io_send (fake->peer, message);
}

/* What the nominator reported. */
typedef struct
{
  WzpNominator    *nominator;
  GCancellable    *cancellable;
  WzpPath         *agreed;       /* the last ::path-agreed */
  guint            n_agreed;
  guint            n_relay_needed;
  guint            n_failed;
  gboolean         hung_up;
  WzpHangupReason  reason;
} Fixture;

static void
path_agreed_cb (WzpNominator *nominator,
                WzpPath      *path,
                Fixture      *f)
{
  f->agreed = path;
  f->n_agreed++;
}

static void
relay_needed_cb (WzpNominator *nominator,
                 Fixture      *f)
{
  f->n_relay_needed++;
}

static void
failed_cb (WzpNominator *nominator,
           Fixture      *f)
{
  f->n_failed++;
}

static void
hung_up_cb (WzpNominator    *nominator,
            WzpHangupReason  reason,
            Fixture         *f)
{
  f->hung_up = TRUE;
  f->reason = reason;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  WzpCallRole role = GPOINTER_TO_INT (data);

  f->cancellable = g_cancellable_new ();
  f->nominator = _wzp_nominator_new (CALL_ID, role, f->cancellable);
  g_signal_connect (f->nominator, "path-agreed", G_CALLBACK (path_agreed_cb), f);
  g_signal_connect (f->nominator, "relay-needed", G_CALLBACK (relay_needed_cb), f);
  g_signal_connect (f->nominator, "failed", G_CALLBACK (failed_cb), f);
  g_signal_connect (f->nominator, "hung-up", G_CALLBACK (hung_up_cb), f);
  g_assert_cmpint (_wzp_nominator_get_state (f->nominator), ==, WZP_NOMINATOR_STATE_SEARCHING);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  _wzp_nominator_stop (f->nominator, NULL);
  g_cancellable_cancel (f->cancellable);
  wzp_test_finalize_object (g_steal_pointer (&f->nominator));
  g_clear_object (&f->cancellable);
}

/* The caller nominates, and the ack makes the path agreed. */
static void
caller_agree (Fixture  *f,
              FakePath *fake,
              gboolean  keep_spare)
{
  g_autoptr(WzpMessage) nominate = NULL;
  guint n_agreed = f->n_agreed;

  _wzp_nominator_add_path (f->nominator, fake->path, keep_spare);
  nominate = peer_expect (fake, WZP_MESSAGE_NOMINATE);
  peer_send (fake, WZP_MESSAGE_NOMINATE_ACK, _wzp_message_get_int (nominate, "seq"));
  while (f->n_agreed == n_agreed)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (f->agreed == fake->path);
  g_assert_true (_wzp_nominator_get_agreed (f->nominator) == fake->path);
  g_assert_cmpint (_wzp_nominator_get_state (f->nominator), ==, WZP_NOMINATOR_STATE_AGREED);
}

static void
test_caller_nominates (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(FakePath) relay = fake_path_new (WZP_PATH_KIND_RELAY, "192.0.2.1:4434");

  caller_agree (f, relay, FALSE);
  g_assert_true (_wzp_nominator_has_relay_path (f->nominator));
  g_assert_cmpuint (_wzp_nominator_get_paths (f->nominator)->len, ==, 1);
  g_assert_cmpuint (f->n_relay_needed, ==, 0);
}

/* On the relay, a direct path is an upgrade: nominated with a newer seq; once agreed,
 * the caller closes the relay path. */
static void
test_caller_upgrades (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(FakePath) relay = fake_path_new (WZP_PATH_KIND_RELAY, "192.0.2.1:4434");
  g_autoptr(FakePath) lan = fake_path_new (WZP_PATH_KIND_DIRECT_LAN, "10.0.0.2:40000");
  g_autoptr(WzpMessage) closed = NULL;

  caller_agree (f, relay, FALSE);
  caller_agree (f, lan, TRUE);
  g_assert_cmpuint (f->n_agreed, ==, 2);
  g_assert_true (relay->path->closed);
  closed = peer_next (relay, 2000);
  g_assert_null (closed);
  g_assert_false (_wzp_nominator_has_relay_path (f->nominator));
}

/* Without a round of dials running, a path no better than the agreed one is closed. */
static void
test_caller_closes_worse (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(FakePath) lan = fake_path_new (WZP_PATH_KIND_DIRECT_LAN, "10.0.0.2:40000");
  g_autoptr(FakePath) relay = fake_path_new (WZP_PATH_KIND_RELAY, "192.0.2.1:4434");

  caller_agree (f, lan, FALSE);
  _wzp_nominator_add_path (f->nominator, relay->path, FALSE);
  g_assert_true (relay->path->closed);
  g_assert_cmpuint (_wzp_nominator_get_paths (f->nominator)->len, ==, 1);
}

/* The callee follows the caller's nominations, forwards only, and acks each. */
static void
test_callee_follows (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(FakePath) relay = fake_path_new (WZP_PATH_KIND_RELAY, "192.0.2.1:4434");
  g_autoptr(FakePath) lan = fake_path_new (WZP_PATH_KIND_DIRECT_LAN, "10.0.0.2:40000");
  g_autoptr(WzpMessage) ack = NULL;
  g_autoptr(WzpMessage) pong = NULL;

  _wzp_nominator_add_path (f->nominator, relay->path, FALSE);
  _wzp_nominator_add_path (f->nominator, lan->path, FALSE);
  g_assert_cmpuint (f->n_agreed, ==, 0);   /* the callee never nominates */

  peer_send (lan, WZP_MESSAGE_NOMINATE, 5);
  ack = peer_expect (lan, WZP_MESSAGE_NOMINATE_ACK);
  g_assert_cmpint (_wzp_message_get_int (ack, "seq"), ==, 5);
  g_assert_true (f->agreed == lan->path);

  /* An older nomination (overtaken on the way) is not followed. */
  peer_send (relay, WZP_MESSAGE_NOMINATE, 4);
  peer_send (relay, WZP_MESSAGE_PING, 77);
  pong = peer_expect (relay, WZP_MESSAGE_PONG);
  g_assert_cmpint (_wzp_message_get_int (pong, "timestamp_ms"), ==, 77);
  g_assert_true (f->agreed == lan->path);
  g_assert_cmpuint (f->n_agreed, ==, 1);
  /* The callee leaves closing to the caller. */
  g_assert_false (relay->path->closed);
}

/* Without an ack in time, the caller gives the path up and nominates the next. */
static void
test_ack_timeout (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(FakePath) lan = fake_path_new (WZP_PATH_KIND_DIRECT_LAN, "10.0.0.2:40000");
  g_autoptr(FakePath) relay = fake_path_new (WZP_PATH_KIND_RELAY, "192.0.2.1:4434");
  g_autoptr(WzpMessage) first = NULL;
  g_autoptr(WzpMessage) second = NULL;

  _wzp_nominator_add_path (f->nominator, lan->path, TRUE);
  _wzp_nominator_add_path (f->nominator, relay->path, TRUE);
  first = peer_expect (lan, WZP_MESSAGE_NOMINATE);
  second = peer_expect (relay, WZP_MESSAGE_NOMINATE);   /* after WZP_CALL_NOMINATE_ACK_MS */
  g_assert_cmpint (_wzp_message_get_int (second, "seq"), >, _wzp_message_get_int (first, "seq"));
  g_assert_true (lan->path->closed);
  g_assert_cmpuint (f->n_relay_needed, ==, 0);   /* not recovering: the call has its own deadline */
}

/* The agreed path gets a Ping every second; a path that goes silent falls back. */
static void
test_keepalive_and_silence (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(FakePath) lan = fake_path_new (WZP_PATH_KIND_DIRECT_LAN, "10.0.0.2:40000");
  g_autoptr(WzpMessage) ping = NULL;

  _wzp_nominator_start_keepalive (f->nominator);
  caller_agree (f, lan, FALSE);
  ping = peer_next (lan, 2000);
  g_assert_nonnull (ping);
  g_assert_cmpint (_wzp_message_get_message_type (ping), ==, WZP_MESSAGE_PING);

  /* Nothing comes back: three seconds after the ack, the path is dead. */
  while (f->n_relay_needed == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (_wzp_nominator_get_state (f->nominator), ==, WZP_NOMINATOR_STATE_RECOVERING);
  g_assert_null (_wzp_nominator_get_agreed (f->nominator));
  g_assert_true (lan->path->closed);
}

/* The peer's side of a voice stream: a media frame every 20 ms on @fake until stopped. */
typedef struct
{
  FakePath *fake;
  guint32   seq;
  guint     id;
  guint     received;   /* frames the nominator handed on */
} Voice;

static gboolean
voice_tick_cb (gpointer user_data)
{
  Voice *voice = user_data;
  guint8 payload[80] = { 0 };
  WzpMediaFrame frame = { .stream_id = 1, .seq = voice->seq, .timestamp = voice->seq * 960,
                          .payload = payload, .payload_len = sizeof payload };

  voice->seq++;
  _wzp_frame_io_send_media (voice->fake->peer, &frame);
  return G_SOURCE_CONTINUE;
}

static void
voice_media_cb (const WzpMediaFrame *frame,
                gpointer             user_data)
{
  ((Voice *) user_data)->received++;
}

static void
voice_start (Fixture  *f,
             Voice    *voice,
             FakePath *fake)
{
  voice->fake = fake;
  _wzp_frame_io_set_binary_frames (fake->path->io, TRUE);
  _wzp_frame_io_set_binary_frames (fake->peer, TRUE);
  _wzp_nominator_set_media_func (f->nominator, voice_media_cb, voice);
  voice->id = g_timeout_add (20, voice_tick_cb, voice);
}

/* Answers the nominator's Pings on @fake (the peer's path is alive) until @stop. */
typedef struct
{
  FakePath *fake;
  gboolean  stop;
  guint     pings;
} Answerer;

static void
answer_read_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Answerer *answerer = user_data;
  g_autoptr(WzpMessage) message = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result,
                                                             NULL);

  if (message == NULL || answerer->stop)
    return;
  if (_wzp_message_get_message_type (message) == WZP_MESSAGE_PING)
    {
      g_autoptr(WzpMessage) pong = _wzp_message_new (WZP_MESSAGE_PONG);

      answerer->pings++;
      _wzp_message_set_int (pong, "timestamp_ms",
                            _wzp_message_get_int (message, "timestamp_ms"));
      _wzp_frame_io_send (answerer->fake->peer, pong);
    }
  _wzp_frame_io_read_async (answerer->fake->peer, NULL, answer_read_cb, answerer);
}

/* With voice flowing, a path whose frames stop is dead well before the keepalive's 3 s:
 * a Ping asks, nothing answers, and the nominator falls back (docs/voice.md). */
static void
test_voice_stops_path_dead (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(FakePath) lan = fake_path_new (WZP_PATH_KIND_DIRECT_LAN, "10.0.0.2:40000");
  g_autoptr(WzpMessage) ping = NULL;
  Voice voice = { 0 };
  gint64 cut;

  caller_agree (f, lan, FALSE);
  voice_start (f, &voice, lan);
  wzp_test_spin (300);
  g_assert_cmpuint (voice.received, >=, 5);

  /* The cut: nothing more comes, nothing is answered. */
  g_clear_handle_id (&voice.id, g_source_remove);
  cut = g_get_monotonic_time ();
  ping = peer_next (lan, 2000);
  g_assert_nonnull (ping);
  g_assert_cmpint (_wzp_message_get_message_type (ping), ==, WZP_MESSAGE_PING);
  while (f->n_relay_needed == 0)
    g_main_context_iteration (NULL, TRUE);
  g_test_message ("fell back %" G_GINT64_FORMAT " ms after the cut",
                  (g_get_monotonic_time () - cut) / 1000);
  /* well before the 3 s of a path without voice; the 1.5 s target includes the switch */
  g_assert_cmpint (g_get_monotonic_time () - cut, <, 2000 * 1000);
  g_assert_cmpint (_wzp_nominator_get_state (f->nominator), ==, WZP_NOMINATOR_STATE_RECOVERING);
  g_assert_true (lan->path->closed);
}

/* A peer whose voice stops (its file ended) while its path answers Pings costs nothing:
 * the path stays agreed. */
static void
test_voice_stops_path_alive (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(FakePath) lan = fake_path_new (WZP_PATH_KIND_DIRECT_LAN, "10.0.0.2:40000");
  Voice voice = { 0 };
  Answerer answerer = { .fake = lan };

  caller_agree (f, lan, FALSE);
  voice_start (f, &voice, lan);
  _wzp_frame_io_read_async (lan->peer, NULL, answer_read_cb, &answerer);
  wzp_test_spin (300);
  g_clear_handle_id (&voice.id, g_source_remove);

  wzp_test_spin (2000);
  g_assert_cmpuint (answerer.pings, >=, 1);
  g_assert_cmpuint (f->n_relay_needed, ==, 0);
  g_assert_cmpint (_wzp_nominator_get_state (f->nominator), ==, WZP_NOMINATOR_STATE_AGREED);
  g_assert_false (lan->path->closed);
  answerer.stop = TRUE;
}

/* An agreed path that fails falls back at once: to a spare if there is one (a round of
 * dials after a network change found it), without asking for the relay. */
static void
test_failure_falls_back (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(FakePath) lan = fake_path_new (WZP_PATH_KIND_DIRECT_LAN, "10.0.0.2:40000");
  g_autoptr(FakePath) internet = fake_path_new (WZP_PATH_KIND_DIRECT_INTERNET,
                                                "198.51.100.2:40000");
  g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE, "gone");
  g_autoptr(WzpMessage) nominate = NULL;

  caller_agree (f, lan, FALSE);
  _wzp_nominator_add_path (f->nominator, internet->path, TRUE);
  g_assert_false (internet->path->closed);

  _wzp_nominator_drop_path (f->nominator, lan->path, error);
  g_assert_true (lan->path->closed);
  g_assert_cmpint (_wzp_nominator_get_state (f->nominator), ==, WZP_NOMINATOR_STATE_RECOVERING);
  g_assert_cmpuint (f->n_relay_needed, ==, 0);
  nominate = peer_expect (internet, WZP_MESSAGE_NOMINATE);
  peer_send (internet, WZP_MESSAGE_NOMINATE_ACK, _wzp_message_get_int (nominate, "seq"));
  while (f->agreed != internet->path)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (_wzp_nominator_get_state (f->nominator), ==, WZP_NOMINATOR_STATE_AGREED);
  g_assert_cmpuint (f->n_failed, ==, 0);
}

/* With nothing else to nominate, a failed agreed path asks for the relay. */
static void
test_failure_wants_relay (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(FakePath) lan = fake_path_new (WZP_PATH_KIND_DIRECT_LAN, "10.0.0.2:40000");

  caller_agree (f, lan, FALSE);
  g_io_stream_close (lan->peer_stream, NULL, NULL);   /* the peer's end goes away */
  while (f->n_relay_needed == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (_wzp_nominator_get_state (f->nominator), ==, WZP_NOMINATOR_STATE_RECOVERING);
  g_assert_true (lan->path->closed);
}

/* The peer asked for a pipe (PipeRequested) while a direct path is agreed, but answers
 * the Ping the nominator sends on it: the peer opened its pipe while the paths raced, not
 * because it lost the path. The call stays direct; a pipe that joins later is not
 * nominated but closed. (Under AddressSanitizer the race's head start ran out before the
 * nomination on loopback, and calls moved to the relay for nothing.) */
static void
test_peer_asks_relay_but_hears (Fixture       *f,
                                gconstpointer  data)
{
  g_autoptr(FakePath) lan = fake_path_new (WZP_PATH_KIND_DIRECT_LAN, "10.0.0.2:40000");
  g_autoptr(FakePath) relay = fake_path_new (WZP_PATH_KIND_RELAY, "192.0.2.1:4434");
  g_autoptr(WzpMessage) ping = NULL;
  g_autoptr(WzpMessage) pong = _wzp_message_new (WZP_MESSAGE_PONG);
  g_autoptr(WzpMessage) closed = NULL;

  caller_agree (f, lan, FALSE);
  _wzp_nominator_peer_wants_relay (f->nominator);
  ping = peer_expect (lan, WZP_MESSAGE_PING);
  _wzp_message_set_int (pong, "timestamp_ms", _wzp_message_get_int (ping, "timestamp_ms"));
  _wzp_frame_io_send (lan->peer, pong);
  /* Past the probe's second: nothing moves. */
  wzp_test_spin (1500);
  g_assert_cmpuint (f->n_relay_needed, ==, 0);

  _wzp_nominator_add_path (f->nominator, relay->path, FALSE);
  closed = peer_next (relay, 2000);
  g_assert_null (closed);
  g_assert_true (relay->path->closed);
  g_assert_true (_wzp_nominator_get_agreed (f->nominator) == lan->path);
  g_assert_false (lan->path->closed);
  g_assert_cmpuint (f->n_agreed, ==, 1);
}

/* The same, but the Ping goes unanswered (the peer no longer hears us): the caller asks
 * for the relay and nominates the pipe that comes. */
static void
test_peer_asks_relay_and_is_deaf (Fixture       *f,
                                  gconstpointer  data)
{
  g_autoptr(FakePath) lan = fake_path_new (WZP_PATH_KIND_DIRECT_LAN, "10.0.0.2:40000");
  g_autoptr(FakePath) relay = fake_path_new (WZP_PATH_KIND_RELAY, "192.0.2.1:4434");
  g_autoptr(WzpMessage) ping = NULL;

  caller_agree (f, lan, FALSE);
  _wzp_nominator_peer_wants_relay (f->nominator);
  ping = peer_expect (lan, WZP_MESSAGE_PING);
  while (f->n_relay_needed == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (_wzp_nominator_get_agreed (f->nominator) == lan->path);

  caller_agree (f, relay, FALSE);
  g_assert_true (lan->path->closed);
}

/* No path again within the recovery deadline (10 s): ::failed, once. */
static void
test_recovery_fails (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(FakePath) lan = fake_path_new (WZP_PATH_KIND_DIRECT_LAN, "10.0.0.2:40000");
  g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE, "gone");

  caller_agree (f, lan, FALSE);
  _wzp_nominator_drop_path (f->nominator, lan->path, error);
  g_assert_cmpuint (f->n_relay_needed, ==, 1);
  while (f->n_failed == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (f->n_failed, ==, 1);
  g_assert_cmpuint (f->n_agreed, ==, 1);
}

/* A Hangup on a path is the peer's: reported, whatever signalling does. */
static void
test_hangup_in_band (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(FakePath) relay = fake_path_new (WZP_PATH_KIND_RELAY, "192.0.2.1:4434");
  g_autoptr(WzpMessage) hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, CALL_ID);

  caller_agree (f, relay, FALSE);
  _wzp_message_set_string (hangup, "reason", _wzp_hangup_reason_to_wire (WZP_HANGUP_REASON_BUSY));
  _wzp_frame_io_send (relay->peer, hangup);
  wzp_test_wait_flag (&f->hung_up, 2000);
  g_assert_cmpint (f->reason, ==, WZP_HANGUP_REASON_BUSY);
}

/* Stopping closes every path but the one a Hangup is being written on. */
static void
test_stop (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(FakePath) relay = fake_path_new (WZP_PATH_KIND_RELAY, "192.0.2.1:4434");
  g_autoptr(FakePath) lan = fake_path_new (WZP_PATH_KIND_DIRECT_LAN, "10.0.0.2:40000");

  caller_agree (f, relay, FALSE);
  _wzp_nominator_add_path (f->nominator, lan->path, TRUE);
  _wzp_nominator_stop (f->nominator, relay->path);
  g_assert_cmpint (_wzp_nominator_get_state (f->nominator), ==, WZP_NOMINATOR_STATE_STOPPED);
  g_assert_true (lan->path->closed);
  g_assert_false (relay->path->closed);
  g_assert_null (_wzp_nominator_get_agreed (f->nominator));
  g_assert_cmpuint (_wzp_nominator_get_paths (f->nominator)->len, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  gconstpointer caller = GINT_TO_POINTER (WZP_CALL_ROLE_CALLER);
  gconstpointer callee = GINT_TO_POINTER (WZP_CALL_ROLE_CALLEE);

  g_test_init (&argc, &argv, NULL);

#define ADD(path, role, func) \
  g_test_add ((path), Fixture, (role), fixture_set_up, (func), fixture_tear_down)
  ADD ("/nominator/caller-nominates", caller, test_caller_nominates);
  ADD ("/nominator/caller-upgrades", caller, test_caller_upgrades);
  ADD ("/nominator/caller-closes-worse", caller, test_caller_closes_worse);
  ADD ("/nominator/callee-follows", callee, test_callee_follows);
  ADD ("/nominator/ack-timeout", caller, test_ack_timeout);
  ADD ("/nominator/keepalive-and-silence", caller, test_keepalive_and_silence);
  ADD ("/nominator/voice-stops-path-dead", caller, test_voice_stops_path_dead);
  ADD ("/nominator/voice-stops-path-alive", caller, test_voice_stops_path_alive);
  ADD ("/nominator/failure-falls-back", caller, test_failure_falls_back);
  ADD ("/nominator/failure-wants-relay", caller, test_failure_wants_relay);
  ADD ("/nominator/peer-asks-relay-but-hears", caller, test_peer_asks_relay_but_hears);
  ADD ("/nominator/peer-asks-relay-and-is-deaf", caller, test_peer_asks_relay_and_is_deaf);
  ADD ("/nominator/recovery-fails", caller, test_recovery_fails);
  ADD ("/nominator/hangup-in-band", caller, test_hangup_in_band);
  ADD ("/nominator/stop", caller, test_stop);
#undef ADD

  return g_test_run ();
}
