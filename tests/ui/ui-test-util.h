/* ui-test-util.h: helpers for the wzp-gtk UI tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* g_test_init with isolated XDG directories, then GTK; prints a TAP skip and exits when
 * there is no display. Animations are off, so pages switch at once. */
void        wzp_ui_test_init       (int         *argc,
                                    char      ***argv);

/* Iterates the main context until @cond holds; fails the test after @timeout_ms. */
#define WZP_UI_WAIT(cond, timeout_ms)                                                  \
  G_STMT_START {                                                                       \
    gint64 wzp_ui_deadline_ = g_get_monotonic_time () + (gint64) (timeout_ms) * 1000;  \
    while (!(cond))                                                                    \
      {                                                                                \
        if (g_get_monotonic_time () > wzp_ui_deadline_)                                \
          g_error ("%s:%d: timed out after %d ms waiting for %s", __FILE__, __LINE__,  \
                   (int) (timeout_ms), #cond);                                         \
        wzp_ui_iterate ();                                                             \
      }                                                                                \
  } G_STMT_END

/* One main-context iteration that returns within 20 ms. */
void        wzp_ui_iterate         (void);
/* Iterates for @ms milliseconds. */
void        wzp_ui_spin            (guint        ms);

/* Renders @widget to $WZP_SCREENSHOT_DIR/@name (PNG), and also to
 * $WZP_DOCS_SCREENSHOT_DIR/@name when WZP_UPDATE_SCREENSHOTS=1. */
void        wzp_ui_save_screenshot (GtkWidget   *widget,
                                    const char  *name);

/* Fails the test unless @widget's accessible label (what a screen reader says for it) is
 * @expected. GTK 4.8 has no public getter: this reads the property through GTK's test
 * accessibility API (gtk_test_accessible_check_property), which sees what was set. */
#define wzp_ui_assert_accessible_label(widget, expected)                                  \
  G_STMT_START {                                                                          \
    char *wzp_ui_problem_ = gtk_test_accessible_check_property (                          \
      GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL, (const char *) (expected)); \
    if (wzp_ui_problem_ != NULL)                                                          \
      g_error ("%s:%d: accessible label of %s: %s", __FILE__, __LINE__, #widget,          \
               wzp_ui_problem_);                                                          \
  } G_STMT_END

/* The first descendant of @root (itself included) of @type whose accessible label is
 * @label, or NULL. */
GtkWidget  *wzp_ui_find_by_label   (GtkWidget   *root,
                                    GType        type,
                                    const char  *label);

/* A wzp-cli process ($WZP_CLI, with --json and WZP_TEST_LOOPBACK=1) and its events. */
typedef struct _WzpUiPeer WzpUiPeer;

WzpUiPeer  *wzp_ui_peer_spawn      (const char  *relay_uri,
                                    const char  *identity_path,
                                    const char  *alias,
                                    ...) G_GNUC_NULL_TERMINATED;
/* The next event named @event (earlier events of other names are passed over); fails
 * the test after @timeout_ms. Owned by the peer. */
JsonObject *wzp_ui_peer_wait_event (WzpUiPeer   *peer,
                                    const char  *event,
                                    guint        timeout_ms);
/* Waits for the process to exit; returns whether it exited with status 0. */
gboolean    wzp_ui_peer_wait_exit  (WzpUiPeer   *peer,
                                    guint        timeout_ms);
void        wzp_ui_peer_terminate  (WzpUiPeer   *peer);
void        wzp_ui_peer_free       (WzpUiPeer   *peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WzpUiPeer, wzp_ui_peer_free)

G_END_DECLS
