/* wzp-voice-private.h: one call's voice, both directions (docs/voice.md)
 *
 * A WzpVoice captures, processes (echo cancellation, noise suppression, gain), encodes
 * Opus and hands out media frames to send; it takes the media frames that arrive, puts
 * them on the playout buffer and plays them at their deadline, concealing what is
 * missing. It knows media frames (protocol) and audio, never calls or paths: the call
 * gives it a function to send with and feeds it what its paths receive.
 *
 * Threads (docs/voice.md, "Threads"): the object belongs to the thread-default main
 * context it was made in (the owner's: the call's). GStreamer's streaming thread of the
 * capture pipeline stamps each encoded packet and queues it; the owner's context drains
 * that queue through the send function. Received frames are given on the owner's context;
 * a playout thread of the object's own takes them off the playout buffer at their
 * deadlines and pushes them, or a gap to conceal, into the playback pipeline.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-enums.h"
#include "wzp-media-frame-private.h"

G_BEGIN_DECLS

/* Opus as the voice issue measured it: 20 ms frames at 48 kHz, 32 kb/s CBR. */
#define WZP_VOICE_CLOCK_RATE   48000
#define WZP_VOICE_FRAME_US     20000
#define WZP_VOICE_BITRATE      32000
/* The media stream id of voice on a call's stream (docs/protocol.md, "Media frames"). */
#define WZP_VOICE_STREAM_ID    1

typedef enum {
  WZP_VOICE_SEND_SENT,       /* on its way */
  WZP_VOICE_SEND_BUSY,       /* the path's queue is full: offer it again later */
  WZP_VOICE_SEND_DISCARDED,  /* nobody to send it to now (no agreed path, or a peer
                              * without voice): gone, not counted as sent */
} WzpVoiceSendResult;

/* Hands one media frame to the path the call agreed on (the frame and its payload are
 * valid during the call only). Called on the owner's context. On BUSY the frame stays in
 * the sender's queue, which drops the oldest audio beyond its limit, and is offered again
 * with the next frame. */
typedef WzpVoiceSendResult (*WzpVoiceSendFunc) (const WzpMediaFrame *frame,
                                                gpointer             user_data);

typedef struct
{
  guint64 frames_sent;
  guint64 frames_dropped_sender;  /* dropped from the sender's queue, oldest first */
  guint64 frames_received;
  guint64 frames_played;
  guint64 frames_concealed;
  guint64 frames_late;            /* arrived after their deadline: dropped */
  guint64 frames_duplicate;       /* the same frame on two paths: played once */
  guint64 bytes_sent;             /* media frame bodies, for the bitrate */
  gint64  playout_delay_us;       /* the playout buffer's current target */
} WzpVoiceStats;

#define WZP_TYPE_VOICE (_wzp_voice_get_type ())
G_DECLARE_FINAL_TYPE (WzpVoice, _wzp_voice, WZP, VOICE, GObject)

/* Whether this build can carry voice and GStreamer has the elements it needs; if not,
 * @error says what is missing (a person can install it). */
gboolean       _wzp_voice_available     (GError          **error);

/* Prepares both pipelines without opening a device. @source and @sink are GStreamer
 * launch descriptions of a capture bin and a playback bin ("audiotestsrc is-live=true",
 * "filesrc location=a.wav ! wavparse ! clocksync", "wavenc ! filesink location=b.wav"),
 * or NULL for the system's default devices; a capture description must be live (paced
 * in real time), as a microphone is. Fails when a description does not parse or an
 * element is missing. */
WzpVoice      *_wzp_voice_new           (const char       *source,
                                         const char       *sink,
                                         GError          **error);
/* Opens the devices and starts both directions; frames to send go to @send_func on the
 * owner's context from now on. FALSE with @error when a device cannot be opened: the
 * direction that could start runs (a side without a microphone still hears), and the call
 * goes on. A chosen device (a description that names one, such as "pulsesrc
 * device=NAME") that cannot be opened, or that goes away later, is replaced by the
 * system's default, and ::audio-error says so (docs/voice.md, "Devices"). */
gboolean       _wzp_voice_start         (WzpVoice         *self,
                                         WzpVoiceSendFunc  send_func,
                                         gpointer          user_data,
                                         GError          **error);
/* A media frame body read from one of the call's paths; on the owner's context. Frames
 * of another stream, or malformed ones, are ignored. */
void           _wzp_voice_receive       (WzpVoice         *self,
                                         const WzpMediaFrame *frame);
/* Stops both directions, closes the devices and finishes the playback (a file sink gets
 * its end), waiting at most a short bounded time. Idempotent. */
void           _wzp_voice_stop          (WzpVoice         *self);

/* Echo cancellation is on unless this turns it off, before _wzp_voice_start(): for the
 * echo test's reference voice only (tests/test-voice-echo.c); calls always cancel echo. */
void           _wzp_voice_set_echo_cancel (WzpVoice         *self,
                                           gboolean          enabled);
void           _wzp_voice_set_muted     (WzpVoice         *self,
                                         gboolean          muted);
/* Moves capture (WZP_AUDIO_DIRECTION_SOURCE) or playback to @description (NULL: the
 * system's default) now, as it was (muted, volume); a chosen device that cannot be opened
 * falls back to the default and says so (::audio-error). */
gboolean       _wzp_voice_set_device    (WzpVoice          *self,
                                         WzpAudioDirection  which,
                                         const char        *description,
                                         GError           **error);
/* Playback volume, 0.0 to 1.0 (and up to 4.0 to amplify). */
void           _wzp_voice_set_volume    (WzpVoice         *self,
                                         double            volume);
void           _wzp_voice_get_stats     (WzpVoice         *self,
                                         WzpVoiceStats    *out);
/* Where each pipeline's timeline sits on CLOCK_MONOTONIC (g_get_monotonic_time()'s
 * clock, which every process shares): the time, in microseconds, at which its running
 * time was 0, or -1 while that pipeline is not playing. A source that stamps its buffers
 * from 0 (a file) captured its sample at position p at @capture_us + p / rate; the
 * playback's buffers carry the running time at which the playout pushed them. For
 * benchmarks (bench/bench-voice.py): mouth-to-ear latency across two processes. */
void           _wzp_voice_get_origins   (WzpVoice         *self,
                                         gint64           *capture_us,
                                         gint64           *playback_us);

G_END_DECLS
