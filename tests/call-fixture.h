/* call-fixture.h: what the test-call-*.c programs share: an in-process relay on loopback,
 * WzpClients registered with it, a callee that answers, and call watchers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "test-util.h"

G_BEGIN_DECLS

typedef struct
{
  WzpIdentity *relay_identity;
  WzpRelay    *relay;
  char        *uri;
  char        *address;
} Fixture;

/* Starts f->relay (a new one, with f->relay_identity) on @address and sets f->uri and
 * f->address; retries for a while if the port is still taken. */
void       start_relay              (Fixture       *f,
                                     const char    *address);
/* A relay on 127.0.0.1, on a port of the kernel's choosing. */
void       fixture_setup            (Fixture       *f,
                                     gconstpointer  data);
/* For tests that restart the relay on the same address: a port below Linux's ephemeral
 * range (32768-60999), so no outgoing connection of a parallel test can take it while
 * the relay is down. @data is the IP address to listen on (NULL: 127.0.0.1); if it is
 * ::1 and that cannot be listened on, f->relay is left NULL and the test skips. */
void       fixture_setup_fixed_port (Fixture       *f,
                                     gconstpointer  data);
void       fixture_teardown         (Fixture       *f,
                                     gconstpointer  data);
/* Registers the test @fn, with fixture_setup() and fixture_teardown(), as /wzp/call/@path. */
#define ADD(path, fn) \
  g_test_add ("/wzp/call/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

/* A client with a fresh identity for the relay at @uri, not connected. */
WzpClient *new_client               (const char    *uri,
                                     const char    *alias);
/* The same with @identity (a client registering again as itself). */
WzpClient *new_client_for           (WzpIdentity   *identity,
                                     const char    *uri,
                                     const char    *alias);
/* A client registered with the fixture's relay. */
WzpClient *connected_client         (Fixture       *f,
                                     const char    *alias);
/* Unregisters @client and waits until it is finalized. */
void       disconnect_and_free      (WzpClient     *client);

/* The callee side: rings and answers every incoming call with a mode. */
typedef struct
{
  WzpAcceptMode  mode;
  gboolean       answer;
  WzpCall       *call;
  GError        *answer_error;
  gboolean       answered;
  GPtrArray     *results;     /* "kind address result" of the callee's attempts */
  guint          n_set_up;    /* ::set-up emissions */
} Callee;

/* WzpClient::incoming-call for a Callee. */
void       incoming_cb              (WzpClient     *client,
                                     WzpCall       *call,
                                     Callee        *callee);
void       callee_clear             (Callee        *callee);
/* Places a call from @caller to @callee and waits for its outcome: the call, or NULL
 * and @error. */
WzpCall   *place_call               (WzpClient     *caller,
                                     WzpClient     *callee,
                                     GError       **error);

/* notify::state of a client: appends each new state to @states. */
void       notify_state_cb          (WzpClient     *client,
                                     GParamSpec    *pspec,
                                     GPtrArray     *states);
/* Waits until @client went through RECONNECTING and is CONNECTED again. */
void       wait_reregistered        (WzpClient     *client,
                                     GPtrArray     *states);

/* Peer candidates put into every CallSetup by replace_candidates(), a setup filter
 * (_wzp_relay_set_setup_filter()) whose data is a Candidates. */
typedef struct
{
  const char * const *locals;
  const char         *reflexive;
} Candidates;

void       replace_candidates       (WzpMessage    *setup,
                                     gpointer       data);

/* WzpCall::candidate-result: appends "kind address result: reason" to @results. */
void       result_cb                (WzpCall            *call,
                                     const char         *address,
                                     WzpCandidateKind    kind,
                                     WzpCandidateResult  result,
                                     const char         *reason,
                                     int                 ms,
                                     GPtrArray          *results);
/* Whether a result recorded by result_cb() starts with @text. */
gboolean   has_result               (GPtrArray     *results,
                                     const char    *text);

/* The caller's side of a call, followed from WzpClient::outgoing-call on
 * (follow_outgoing_cb()): its results (result_cb()) and its path changes. */
typedef struct
{
  GPtrArray *results;
  guint      changes;
} Follow;

void       follow_changed_cb        (WzpCall       *call,
                                     Follow        *follow);
void       follow_outgoing_cb       (WzpClient     *client,
                                     WzpCall       *call,
                                     Follow        *follow);

/* What happened to a call after watch_call(): its path changes, and whether it ended. */
typedef struct
{
  guint    path_changes;
  gboolean ended;
} CallWatch;

void       watch_call               (WzpCall       *call,
                                     CallWatch     *watch);
/* Iterates until @call is on a path of @kind (bounded). */
void       wait_path_kind           (WzpCall       *call,
                                     WzpPathKind    kind);

G_END_DECLS
