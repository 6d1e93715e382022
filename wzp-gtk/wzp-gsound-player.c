/* wzp-gsound-player.c: phone sounds through GSound (the desktop's event sounds)
 *
 * GSound (libcanberra) plays the sound theme's events on the sound server as event sounds,
 * the way GNOME apps make their noises: apart from the call's own audio pipeline, so a
 * ringtone is never sent to anyone and follows the desktop's sound theme and alert volume.
 * A repeating sound is played again a second after it ends, until stopped. Without a sound
 * server the first failure is logged and nothing repeats.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gsound.h>

#include "wzp-gsound-player.h"

/* The pause between two rings, as a phone's cadence has one. */
#define REPEAT_PAUSE_MS 1000

struct _WzpGSoundPlayer
{
  GObject        parent_instance;

  GSoundContext *context;      /* created on the first sound */
  gboolean       failed;       /* no context: stay silent */
  GCancellable  *cancellable;  /* of the sound playing */
  char          *event_id;     /* what plays, or NULL */
  gboolean       repeat;
  guint          pause_id;     /* between two repeats */
};

static void wzp_gsound_player_iface_init (WzpSoundPlayerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (WzpGSoundPlayer, wzp_gsound_player, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (WZP_TYPE_SOUND_PLAYER,
                                                      wzp_gsound_player_iface_init))

static void start_sound (WzpGSoundPlayer *self);

static gboolean
pause_done_cb (gpointer user_data)
{
  WzpGSoundPlayer *self = user_data;

  self->pause_id = 0;
  start_sound (self);
  return G_SOURCE_REMOVE;
}

/* One playing of a sound. */
typedef struct
{
  WzpGSoundPlayer *self;
  GCancellable    *cancellable;
} Play;

static void
play_free (Play *play)
{
  g_object_unref (play->self);
  g_object_unref (play->cancellable);
  g_free (play);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Play, play_free)

static void
play_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(Play) play = user_data;
  WzpGSoundPlayer *self = play->self;
  g_autoptr(GError) error = NULL;
  gboolean played = gsound_context_play_full_finish (GSOUND_CONTEXT (source), result, &error);

  /* Stopped, or replaced by another sound: that one carries on. */
  if (play->cancellable != self->cancellable || g_cancellable_is_cancelled (play->cancellable))
    return;
  if (!played)
    {
      g_debug ("Cannot play the sound %s: %s", self->event_id, error->message);
      return;
    }
  if (self->repeat)
    self->pause_id = g_timeout_add (REPEAT_PAUSE_MS, pause_done_cb, self);
}

static void
start_sound (WzpGSoundPlayer *self)
{
  g_autoptr(GError) error = NULL;
  Play *play;

  if (self->context == NULL && !self->failed)
    {
      self->context = gsound_context_new (NULL, &error);
      if (self->context == NULL)
        {
          self->failed = TRUE;
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                            "MESSAGE", "No phone sounds: %s", error->message);
        }
    }
  if (self->context == NULL)
    return;

  g_debug ("Playing the sound %s%s", self->event_id, self->repeat ? " (repeating)" : "");
  play = g_new0 (Play, 1);
  play->self = g_object_ref (self);
  play->cancellable = g_object_ref (self->cancellable);
  gsound_context_play_full (self->context, self->cancellable, play_cb, play,
                            GSOUND_ATTR_EVENT_ID, self->event_id,
                            GSOUND_ATTR_APPLICATION_ID, APP_ID,
                            GSOUND_ATTR_MEDIA_ROLE, "event",
                            NULL);
}

static void
wzp_gsound_player_stop (WzpSoundPlayer *player)
{
  WzpGSoundPlayer *self = WZP_GSOUND_PLAYER (player);

  g_clear_handle_id (&self->pause_id, g_source_remove);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->event_id, g_free);
  self->repeat = FALSE;
}

static void
wzp_gsound_player_play (WzpSoundPlayer *player,
                        const char     *event_id,
                        gboolean        repeat)
{
  WzpGSoundPlayer *self = WZP_GSOUND_PLAYER (player);

  wzp_gsound_player_stop (player);
  self->event_id = g_strdup (event_id);
  self->repeat = repeat;
  self->cancellable = g_cancellable_new ();
  start_sound (self);
}

static void
wzp_gsound_player_iface_init (WzpSoundPlayerInterface *iface)
{
  iface->play = wzp_gsound_player_play;
  iface->stop = wzp_gsound_player_stop;
}

static void
wzp_gsound_player_dispose (GObject *object)
{
  WzpGSoundPlayer *self = WZP_GSOUND_PLAYER (object);

  wzp_gsound_player_stop (WZP_SOUND_PLAYER (self));
  g_clear_object (&self->context);

  G_OBJECT_CLASS (wzp_gsound_player_parent_class)->dispose (object);
}

static void
wzp_gsound_player_class_init (WzpGSoundPlayerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = wzp_gsound_player_dispose;
}

static void
wzp_gsound_player_init (WzpGSoundPlayer *self)
{
}

WzpSoundPlayer *
wzp_gsound_player_new (void)
{
  return g_object_new (WZP_TYPE_GSOUND_PLAYER, NULL);
}
