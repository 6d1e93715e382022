/* test-util.h: helpers shared by the test programs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-glib.h"

G_BEGIN_DECLS

/* Iterates the thread-default main context until *@flag is TRUE; fails the test after
 * @timeout_ms. */
void         wzp_test_wait_flag           (gboolean    *flag,
                                           guint        timeout_ms);
/* Iterates until @done (a pointer to a non-NULL value) is set. */
void         wzp_test_wait_pointer        (gpointer    *ptr,
                                           guint        timeout_ms);
/* Iterates the main context for @ms milliseconds. */
void         wzp_test_spin                (guint        ms);
/* A fresh in-memory identity (a new key every time). */
WzpIdentity *wzp_test_identity_new        (void);
/* Number of open file descriptors of this process. */
guint        wzp_test_count_fds           (void);

G_END_DECLS
