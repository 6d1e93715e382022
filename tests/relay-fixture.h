/* relay-fixture.h: what the test-relay-*.c programs share: an in-process relay on
 * loopback, raw protocol clients registered with it, and reading its pipes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "test-util.h"

G_BEGIN_DECLS

typedef struct
{
  WzpRelay *relay;
  char     *address;
  char     *pipe_address;
} Fixture;

/* A relay on 127.0.0.1, on ports of the kernel's choosing. */
void           fixture_setup      (Fixture           *f,
                                   gconstpointer      data);
void           fixture_teardown   (Fixture           *f,
                                   gconstpointer      data);
/* Registers the test @fn, with fixture_setup() and fixture_teardown(), as /wzp/relay/@path. */
#define ADD(path, fn) \
  g_test_add ("/wzp/relay/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

/* A raw client (a fresh identity, the relay's key pinned) registered as @alias. */
WzpTestClient *connect_registered (Fixture           *f,
                                   const char        *alias);
/* A call id nobody used yet. */
char          *new_call_id        (void);
/* Sends @bystander's Reflect and expects its answer: another client is still served. */
void           check_bystander    (Fixture           *f,
                                   WzpTestClient     *bystander);

/* The relay's answer on a pipe: PipeReady, or NULL (with @error) when it closed it. */
WzpMessage    *pipe_read_frame    (GSocketConnection  *conn,
                                   GError            **error);
/* The token for the pipe numbered @seq of the party that got @setup (its CallSetup). */
char          *token_for          (WzpMessage        *setup,
                                   gint64             seq);

G_END_DECLS
