/* test-util.h: helpers shared by the test programs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "wzp-glib.h"
#include "wzp-frame-io-private.h"

G_BEGIN_DECLS

/* Iterates the thread-default main context until *@flag is TRUE; fails the test after
 * @timeout_ms. */
void         wzp_test_wait_flag           (gboolean    *flag,
                                           guint        timeout_ms);
/* Iterates until @done (a pointer to a non-NULL value) is set. */
void         wzp_test_wait_pointer        (gpointer    *ptr,
                                           guint        timeout_ms);
/* Iterates until @done (@data) returns TRUE; fails the test after @timeout_ms. */
void         wzp_test_wait_until          (gboolean   (*done) (gpointer),
                                           gpointer     data,
                                           guint        timeout_ms);
/* A plain TCP connection from @source_ip (any 127.0.0.0/8 address, so that tests can
 * play several sources) to 127.0.0.1:@port, connected; returns its descriptor. */
int          wzp_test_connect_from        (const char  *source_ip,
                                           guint16      port);
/* Iterates the main context for @ms milliseconds. */
void         wzp_test_spin                (guint        ms);
/* Drops the last reference to @object and waits (bounded) until it is finalized: objects
 * with connections finish closing them on the main loop first. Fails the test if
 * something still holds a reference after 5 s. */
void         wzp_test_finalize_object     (gpointer     object);
/* A fresh in-memory identity (a new key every time). */
WzpIdentity *wzp_test_identity_new        (void);
/* Number of open file descriptors of this process. */
guint        wzp_test_count_fds           (void);
/* While @full is TRUE, every write to a file by this process fails with EFBIG, as on a
 * full disk (RLIMIT_FSIZE; unlike a read-only folder, root cannot write past it). */
void         wzp_test_set_disk_full       (gboolean     full);
/* $XDG_DATA_HOME/wzp/known-relays, and that file written with @contents (the folder is
 * made if needed). */
char        *wzp_test_known_relays_path   (void);
void         wzp_test_write_known_relays  (const char  *contents);
/* The fingerprint pinned for the relay @key (HOST:PORT, [IPV6]:PORT), or NULL; the
 * lookup must succeed. */
char        *wzp_test_known_relay_pin     (const char  *key);
/* The copies of damaged known-relays files kept next to it, full paths. */
char       **wzp_test_list_set_aside      (void);
/* g_test_expect_message() for the project's structured logging, which GLib 2.74 checks
 * only for g_log(): the next message (G_LOG_LEVEL_MESSAGE) of log domain "Wzp" must match
 * @pattern, and is then not printed. */
void         wzp_test_expect_message      (const char  *pattern);
/* Fails the test if an expected message did not come. */
void         wzp_test_assert_expected_messages (void);
/* How many messages of log domain "Wzp" were logged, expected or not, since the first call
 * of this or wzp_test_expect_message(). */
guint        wzp_test_count_messages      (void);
/* Keeps every line of log domain "Wzp", at any level and whether printed or not, from now
 * until wzp_test_log_capture_stop() (starting again forgets the lines kept). */
void         wzp_test_log_capture_start   (void);
/* The lines kept so far, oldest first: each a GHashTable of its fields (name -> value,
 * both strings: MESSAGE, PRIORITY, WZP_…). */
GPtrArray   *wzp_test_log_captured        (void);
void         wzp_test_log_capture_stop    (void);
/* Sets the string-array property @property of @object (NULL at first) to @value twice,
 * then to NULL twice, and checks that each change notified once and each repeat not. */
void         wzp_test_check_strv_notify   (gpointer            object,
                                           const char         *property,
                                           const char * const *value);
/* Four bytes holding @n: a payload (a media frame, a queued frame) that a test can tell
 * from the others; wzp_test_bytes_number() reads @n back. */
GBytes      *wzp_test_numbered_bytes      (guint32      n);
guint32      wzp_test_bytes_number        (GBytes      *bytes);

G_END_DECLS

G_BEGIN_DECLS

/* A raw protocol client for relay tests: TLS to the relay, frames in and out, every
 * received message queued so tests can expect them in order. */
typedef struct
{
  WzpIdentity       *identity;
  GSocketConnection *conn;
  GIOStream         *tls;
  WzpFrameIO        *io;
  GCancellable      *cancellable;
  GQueue             inbox;        /* WzpMessage* */
  GError            *read_error;   /* set once reading stopped */
  gboolean           answer_pings;
} WzpTestClient;

/* Connects and completes the TLS handshake (pinning @relay_fp when not NULL); fails the
 * test on error. @identity NULL makes a fresh one. */
WzpTestClient *wzp_test_client_connect      (const char     *address,
                                             WzpIdentity    *identity,
                                             const char     *relay_fp);
/* Same, but returns NULL and sets @error when the connection or handshake fails. */
WzpTestClient *wzp_test_client_try_connect  (const char     *address,
                                             WzpIdentity    *identity,
                                             const char     *relay_fp,
                                             GError        **error);
/* Same, from @source_ip (a loopback address such as 127.0.0.2; NULL: any). */
WzpTestClient *wzp_test_client_try_connect_from (const char  *address,
                                                 const char  *source_ip,
                                                 WzpIdentity *identity,
                                                 const char  *relay_fp,
                                                 GError     **error);
const char    *wzp_test_client_fingerprint  (WzpTestClient  *client);
void           wzp_test_client_send         (WzpTestClient  *client,
                                             WzpMessage     *message);
void           wzp_test_client_send_raw     (WzpTestClient  *client,
                                             const void     *data,
                                             gsize           len);
/* The next message (Pings are answered and skipped); NULL when the connection closed. */
WzpMessage    *wzp_test_client_next         (WzpTestClient  *client,
                                             guint           timeout_ms);
/* The next message, which must have @type. */
WzpMessage    *wzp_test_client_expect       (WzpTestClient  *client,
                                             WzpMessageType  type);
/* An Error message with @code. */
void           wzp_test_client_expect_error (WzpTestClient  *client,
                                             const char     *code);
/* TRUE if nothing arrives within @ms. */
gboolean       wzp_test_client_quiet        (WzpTestClient  *client,
                                             guint           ms);
/* Waits until the relay closed the connection. */
void           wzp_test_client_wait_closed  (WzpTestClient  *client);
/* Stops reading, for good, and shrinks the socket's receive buffer: a client that never
 * reads what the relay sends it. Sending still works. */
void           wzp_test_client_stop_reading (WzpTestClient  *client);
/* The client's binding to the relay it is connected to, dated @time_ms (wall clock). */
WzpBinding    *wzp_test_client_make_binding (WzpTestClient  *client,
                                             gint64          time_ms);
/* Registers with a binding signed as the real client does. */
WzpMessage    *wzp_test_client_register     (WzpTestClient  *client,
                                             const char     *alias);
void           wzp_test_client_free         (WzpTestClient  *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WzpTestClient, wzp_test_client_free)

/* Opens a plain TCP pipe connection and sends OpenPipe; returns the connection, whose
 * next bytes are the relay's answer. */
GSocketConnection *wzp_test_pipe_open       (const char     *pipe_addr,
                                             const char     *call_id,
                                             const char     *token,
                                             gint64          seq);
/* Connects to @address over plain TCP (no TLS). */
GSocketConnection *wzp_test_tcp_connect     (const char     *address);
/* Same, from @source_ip (NULL: any). */
GSocketConnection *wzp_test_tcp_connect_from (const char    *address,
                                              const char    *source_ip);
/* A real ClientHello, as the first TLS record a client sends. */
GBytes            *wzp_test_capture_client_hello (void);
/* A connection to the relay at @address from @source_ip (NULL: any) that sent a real
 * ClientHello and then nothing: it holds a place in the relay's handshake caps (unlike a
 * silent one, which gives way to a new connection) until handshake-timeout, or until it
 * is closed. */
GSocketConnection *wzp_test_stalled_handshake_from (const char *address,
                                                    const char *source_ip);

/* Call signalling as the relay tests speak it: an offer to @target (caller at
 * 198.51.100.1, a LAN and a ULA local address, Cone) and an answer with @mode (callee at
 * 198.51.100.2, one local address, Symmetric). The fixed addresses let tests check what
 * the relay passes on. */
WzpMessage    *wzp_test_make_offer          (const char     *call_id,
                                             const char     *target);
WzpMessage    *wzp_test_make_answer         (const char     *call_id,
                                             const char     *mode);
/* Sends an offer from @a to @b and checks that @b rings with it; returns the call id. */
char          *wzp_test_offer_call          (WzpTestClient  *a,
                                             WzpTestClient  *b);
/* Offers a call from @a to @b, answers it with @mode and returns the call id and both
 * CallSetups. */
char          *wzp_test_set_up_call         (WzpTestClient  *a,
                                             WzpTestClient  *b,
                                             const char     *mode,
                                             WzpMessage    **setup_a,
                                             WzpMessage    **setup_b);
/* Asserts that @actual holds exactly the NULL-terminated strings after it, and frees it. */
void           wzp_test_assert_strv         (char          **actual,
                                             const char     *first,
                                             ...) G_GNUC_NULL_TERMINATED;

/* A read of a pipe's next bytes (g_input_stream_read_all_async() into @buf with
 * wzp_test_raw_read_cb() and @self as user data; wait on @done). */
typedef struct
{
  gsize    got;
  guint8   buf[4096];
  gboolean done;
  GError  *error;
} WzpTestRawRead;

void           wzp_test_raw_read_cb         (GObject        *source,
                                             GAsyncResult   *result,
                                             gpointer        user_data);
/* Writes @text into pipe @from and expects exactly it out of pipe @to (at most 5 s). */
void           wzp_test_pipe_send_and_expect (GSocketConnection *from,
                                              GSocketConnection *to,
                                              const char        *text);

/* What an async call of a real client returned, for the callbacks below (wait on @done). */
typedef struct
{
  GObject  *object;
  GError   *error;
  gboolean  done;
} WzpTestResult;

/* GAsyncReadyCallbacks with a WzpTestResult: wzp_client_connect_async() (sets @error)
 * and wzp_client_place_call_async() (@object is the call). */
void           wzp_test_client_connected_cb (GObject        *source,
                                             GAsyncResult   *result,
                                             gpointer        user_data);
void           wzp_test_placed_cb           (GObject        *source,
                                             GAsyncResult   *result,
                                             gpointer        user_data);

/* Iterates the main context until @call reaches @state; fails the test after 5 s. */
void           wzp_test_wait_call_state     (WzpCall        *call,
                                             WzpCallState    state);

G_END_DECLS
