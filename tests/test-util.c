/* test-util.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "test-util.h"
#include "wzp-address-private.h"
#include "wzp-client-private.h"
#include "wzp-timeout-private.h"
#include "wzp-identity-private.h"
#include "wzp-tls-private.h"

static gboolean
timeout_cb (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* WZP_TEST_TIMEOUT_SCALE (a whole number, default 1) stretches the deadlines below: under
 * valgrind (`meson test --setup valgrind`) everything runs some 20 times slower. Only
 * "it should have happened by now" deadlines scale, so a scale can never make a test pass
 * that should fail; it only waits longer before failing. */
static guint
timeout_scale (void)
{
  static guint scale = 0;

  if (scale == 0)
    {
      const char *env = g_getenv ("WZP_TEST_TIMEOUT_SCALE");
      guint64 value = 1;

      if (env != NULL && !g_ascii_string_to_unsigned (env, 10, 1, 100, &value, NULL))
        g_error ("WZP_TEST_TIMEOUT_SCALE must be a whole number from 1 to 100, not %s", env);
      scale = (guint) value;
    }
  return scale;
}

/* The helpers wait on the thread-default context (the global default one unless a test
 * runs its objects on a context of their own), and so do their timers. */
static void
wait_until (gboolean  (*done) (gpointer),
            gpointer   data,
            guint      timeout_ms)
{
  GMainContext *context = g_main_context_get_thread_default ();
  gboolean timed_out = FALSE;
  guint id;

  timeout_ms *= timeout_scale ();
  id = _wzp_timeout_add (context, timeout_ms, timeout_cb, &timed_out);

  while (!done (data) && !timed_out)
    g_main_context_iteration (context, TRUE);

  if (timed_out)
    g_error ("Timed out after %u ms waiting for a condition", timeout_ms);
  _wzp_clear_source (context, &id);
}

void
wzp_test_wait_until (gboolean  (*done) (gpointer),
                     gpointer   data,
                     guint      timeout_ms)
{
  wait_until (done, data, timeout_ms);
}

static gboolean
flag_done (gpointer data)
{
  return *(gboolean *) data;
}

static gboolean
pointer_done (gpointer data)
{
  return *(gpointer *) data != NULL;
}

void
wzp_test_wait_flag (gboolean *flag,
                    guint     timeout_ms)
{
  wait_until (flag_done, flag, timeout_ms);
}

void
wzp_test_wait_pointer (gpointer *ptr,
                       guint     timeout_ms)
{
  wait_until (pointer_done, ptr, timeout_ms);
}

void
wzp_test_spin (guint ms)
{
  GMainContext *context = g_main_context_get_thread_default ();
  gboolean done = FALSE;
  guint id = _wzp_timeout_add (context, ms, timeout_cb, &done);

  while (!done)
    g_main_context_iteration (context, TRUE);
  _wzp_clear_source (context, &id);
}

void
wzp_test_finalize_object (gpointer object)
{
  gpointer weak = object;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  g_object_add_weak_pointer (object, &weak);
  g_object_unref (object);
  while (weak != NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (g_main_context_get_thread_default (), FALSE) ||
      (g_usleep (1000), TRUE);
  if (weak != NULL)
    {
      g_object_remove_weak_pointer (weak, &weak);
      g_error ("%s %p was not finalized within 5 s", G_OBJECT_TYPE_NAME (weak), weak);
    }
}

WzpIdentity *
wzp_test_identity_new (void)
{
  g_autoptr(GError) error = NULL;
  WzpIdentity *identity = _wzp_identity_new_ephemeral (&error);

  g_assert_no_error (error);
  g_assert_nonnull (identity);
  return identity;
}

GBytes *
wzp_test_numbered_bytes (guint32 n)
{
  guint32 be = GUINT32_TO_BE (n);

  return g_bytes_new (&be, sizeof be);
}

guint32
wzp_test_bytes_number (GBytes *bytes)
{
  gsize len;
  const guint32 *be = g_bytes_get_data (bytes, &len);

  g_assert_cmpuint (len, ==, sizeof *be);
  return GUINT32_FROM_BE (*be);
}

guint
wzp_test_count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n - 1; /* the GDir's own fd */
}

void
wzp_test_set_disk_full (gboolean full)
{
  static struct rlimit saved;
  struct rlimit limit;

  if (full)
    {
      g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
      limit = saved;
      limit.rlim_cur = 0;
      signal (SIGXFSZ, SIG_IGN);   /* the write fails instead of killing the process */
    }
  else
    limit = saved;
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
}

char *
wzp_test_known_relays_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "wzp", "known-relays", NULL);
}

void
wzp_test_write_known_relays (const char *contents)
{
  g_autofree char *path = wzp_test_known_relays_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

char *
wzp_test_known_relay_pin (const char *key)
{
  g_autoptr(GError) error = NULL;
  char *pin = NULL;

  g_assert_true (_wzp_known_relay_lookup (key, &pin, &error));
  g_assert_no_error (error);
  return pin;
}

char **
wzp_test_list_set_aside (void)
{
  g_autofree char *path = wzp_test_known_relays_path ();
  g_autofree char *dir_path = g_path_get_dirname (path);
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "known-relays.damaged-"))
      g_ptr_array_add (found, g_build_filename (dir_path, name, NULL));
  g_ptr_array_add (found, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&found), FALSE);
}

static GQueue expected_messages = G_QUEUE_INIT;
static int n_messages;   /* atomic: a test may log from a thread */
static GMutex captured_lock;
static GPtrArray *captured;   /* GHashTable*, while capturing */

static void
capture_line (const GLogField *fields,
              gsize            n_fields)
{
  GHashTable *line = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (gsize i = 0; i < n_fields; i++)
    {
      gsize len = fields[i].length < 0 ? strlen (fields[i].value) : (gsize) fields[i].length;
      g_hash_table_replace (line, g_strdup (fields[i].key), g_strndup (fields[i].value, len));
    }
  g_ptr_array_add (captured, line);
}

static GLogWriterOutput
expect_messages_writer_cb (GLogLevelFlags   log_level,
                           const GLogField *fields,
                           gsize            n_fields,
                           gpointer         user_data)
{
  const char *domain = NULL;
  const char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
      domain = fields[i].value;
    else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;

  if (g_strcmp0 (domain, "Wzp") == 0)
    {
      g_mutex_lock (&captured_lock);
      if (captured != NULL)
        capture_line (fields, n_fields);
      g_mutex_unlock (&captured_lock);
    }

  if ((log_level & G_LOG_LEVEL_MESSAGE) && g_strcmp0 (domain, "Wzp") == 0 && message != NULL)
    {
      g_atomic_int_inc (&n_messages);
      if (!g_queue_is_empty (&expected_messages) &&
          g_pattern_match_simple (g_queue_peek_head (&expected_messages), message))
        {
          g_free (g_queue_pop_head (&expected_messages));
          g_test_message ("Expected message: %s", message);
          return G_LOG_WRITER_HANDLED;
        }
    }
  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

static void
install_writer (void)
{
  static gsize installed = 0;

  if (g_once_init_enter (&installed))
    {
      g_log_set_writer_func (expect_messages_writer_cb, NULL, NULL);
      g_once_init_leave (&installed, 1);
    }
}

void
wzp_test_expect_message (const char *pattern)
{
  install_writer ();
  g_queue_push_tail (&expected_messages, g_strdup (pattern));
}

void
wzp_test_assert_expected_messages (void)
{
  if (!g_queue_is_empty (&expected_messages))
    g_error ("A message matching “%s” was expected, and did not come",
             (const char *) g_queue_peek_head (&expected_messages));
}

guint
wzp_test_count_messages (void)
{
  install_writer ();
  return g_atomic_int_get (&n_messages);
}

void
wzp_test_log_capture_start (void)
{
  install_writer ();
  g_mutex_lock (&captured_lock);
  g_clear_pointer (&captured, g_ptr_array_unref);
  captured = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  g_mutex_unlock (&captured_lock);
}

GPtrArray *
wzp_test_log_captured (void)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);

  g_mutex_lock (&captured_lock);
  g_assert_nonnull (captured);
  for (guint i = 0; i < captured->len; i++)
    g_ptr_array_add (copy, g_hash_table_ref (g_ptr_array_index (captured, i)));
  g_mutex_unlock (&captured_lock);
  return copy;
}

void
wzp_test_log_capture_stop (void)
{
  g_mutex_lock (&captured_lock);
  g_clear_pointer (&captured, g_ptr_array_unref);
  g_mutex_unlock (&captured_lock);
}

static void
count_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 gpointer    user_data)
{
  (*(guint *) user_data)++;
}

void
wzp_test_check_strv_notify (gpointer            object,
                            const char         *property,
                            const char * const *value)
{
  g_autofree char *signal = g_strconcat ("notify::", property, NULL);
  const char * const *steps[] = { value, value, NULL, NULL };
  guint expected[] = { 1, 1, 2, 2 };
  guint notified = 0;
  gulong id = g_signal_connect (object, signal, G_CALLBACK (count_notify_cb), &notified);

  g_assert_nonnull (value);
  for (unsigned i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_auto(GStrv) now = NULL;

      g_object_set (object, property, steps[i], NULL);
      g_object_get (object, property, &now, NULL);
      g_assert_true (steps[i] == NULL ? now == NULL
                                      : g_strv_equal ((const char * const *) now, steps[i]));
      g_assert_cmpuint (notified, ==, expected[i]);
    }
  g_signal_handler_disconnect (object, id);
}

/* The raw protocol client */

#define TEST_TIMEOUT_MS 5000

static void client_read_next (WzpTestClient *client);

static void
client_read_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  WzpTestClient *client = user_data;
  g_autoptr(GError) error = NULL;
  WzpMessage *message = _wzp_frame_io_read_finish (WZP_FRAME_IO (source), result, &error);

  if (message == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        client->read_error = g_steal_pointer (&error);
      else
        client->read_error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "freed");
      return;
    }

  if (client->answer_pings && _wzp_message_get_message_type (message) == WZP_MESSAGE_PING)
    {
      g_autoptr(WzpMessage) pong = _wzp_message_new (WZP_MESSAGE_PONG);

      _wzp_message_set_int (pong, "timestamp_ms", _wzp_message_get_int (message, "timestamp_ms"));
      _wzp_frame_io_send (client->io, pong);
      _wzp_message_unref (message);
    }
  else
    g_queue_push_tail (&client->inbox, message);

  client_read_next (client);
}

static void
client_read_next (WzpTestClient *client)
{
  _wzp_frame_io_read_async (client->io, client->cancellable, client_read_cb, client);
}

typedef struct
{
  GObject  *object;
  GError   *error;
  gboolean  done;
} AsyncWait;

static void
connect_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  AsyncWait *wait = user_data;

  wait->object = G_OBJECT (g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result,
                                                            &wait->error));
  wait->done = TRUE;
}

static void
handshake_done_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  AsyncWait *wait = user_data;

  g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &wait->error);
  wait->done = TRUE;
}

GSocketConnection *
wzp_test_tcp_connect (const char *address)
{
  return wzp_test_tcp_connect_from (address, NULL);
}

GSocketConnection *
wzp_test_tcp_connect_from (const char *address,
                           const char *source_ip)
{
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GInetSocketAddress) target = _wzp_address_parse (address, NULL);
  AsyncWait wait = { 0 };

  g_assert_nonnull (target);
  g_socket_client_set_enable_proxy (socket_client, FALSE);
  if (source_ip != NULL)
    {
      g_autoptr(GSocketAddress) local = g_inet_socket_address_new_from_string (source_ip, 0);

      g_socket_client_set_local_address (socket_client, local);
    }
  g_socket_client_connect_async (socket_client, G_SOCKET_CONNECTABLE (target), NULL,
                                 connect_cb, &wait);
  wzp_test_wait_flag (&wait.done, TEST_TIMEOUT_MS);
  g_assert_no_error (wait.error);
  return G_SOCKET_CONNECTION (wait.object);
}

/* A client handshakes with a plain listening socket here, which reads its first record and
 * hangs up. */
GBytes *
wzp_test_capture_client_hello (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  int listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *target = NULL;
  guint8 record[5 + 16384];
  gsize have = 0;
  int server;

  inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
  g_assert_no_errno (bind (listener, (struct sockaddr *) &addr, sizeof addr));
  g_assert_no_errno (listen (listener, 1));
  g_assert_no_errno (getsockname (listener, (struct sockaddr *) &addr, &len));
  target = g_strdup_printf ("127.0.0.1:%u", ntohs (addr.sin_port));

  conn = wzp_test_tcp_connect (target);
  tls = _wzp_tls_client_new (G_IO_STREAM (conn), wzp_identity_get_certificate (identity), NULL,
                             NULL);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT, cancellable,
                                    NULL, NULL);
  server = accept (listener, NULL, NULL);
  g_assert_cmpint (server, >=, 0);
  while (have < 5 || have < 5 + (gsize) ((record[3] << 8) | record[4]))
    {
      ssize_t n = recv (server, record + have, sizeof record - have, MSG_DONTWAIT);

      if (n > 0)
        have += n;
      else
        wzp_test_spin (5);
    }
  g_cancellable_cancel (cancellable);
  close (server);
  close (listener);
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  wzp_test_spin (50);   /* the handshake's task ends */
  return g_bytes_new (record, have);
}

GSocketConnection *
wzp_test_stalled_handshake_from (const char *address,
                                 const char *source_ip)
{
  g_autoptr(GBytes) hello = wzp_test_capture_client_hello ();
  g_autoptr(GError) error = NULL;
  GSocketConnection *conn = wzp_test_tcp_connect_from (address, source_ip);
  gsize len;
  const guint8 *data = g_bytes_get_data (hello, &len);

  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), data, len,
                             NULL, NULL, &error);
  g_assert_no_error (error);
  return conn;
}

WzpTestClient *
wzp_test_client_try_connect (const char   *address,
                             WzpIdentity  *identity,
                             const char   *relay_fp,
                             GError      **error)
{
  return wzp_test_client_try_connect_from (address, NULL, identity, relay_fp, error);
}

WzpTestClient *
wzp_test_client_try_connect_from (const char   *address,
                                  const char   *source_ip,
                                  WzpIdentity  *identity,
                                  const char   *relay_fp,
                                  GError      **error)
{
  g_autoptr(WzpTestClient) client = g_new0 (WzpTestClient, 1);
  AsyncWait wait = { 0 };

  client->identity = identity ? g_object_ref (identity) : wzp_test_identity_new ();
  client->cancellable = g_cancellable_new ();
  client->answer_pings = TRUE;
  g_queue_init (&client->inbox);

  client->conn = wzp_test_tcp_connect_from (address, source_ip);
  client->tls = _wzp_tls_client_new (G_IO_STREAM (client->conn),
                                     wzp_identity_get_certificate (client->identity), relay_fp,
                                     error);
  if (client->tls == NULL)
    return NULL;

  /* High priority: the relay shares this process and GIO's task pool, where tests fill
   * the relay's handshakes on purpose; a client elsewhere has its own pool. */
  g_tls_connection_handshake_async (G_TLS_CONNECTION (client->tls), G_PRIORITY_HIGH, NULL,
                                    handshake_done_cb, &wait);
  wzp_test_wait_flag (&wait.done, TEST_TIMEOUT_MS);
  if (wait.error != NULL)
    {
      g_propagate_error (error, wait.error);
      return NULL;
    }

  client->io = _wzp_frame_io_new (client->tls);
  client_read_next (client);
  return g_steal_pointer (&client);
}

WzpTestClient *
wzp_test_client_connect (const char  *address,
                         WzpIdentity *identity,
                         const char  *relay_fp)
{
  g_autoptr(GError) error = NULL;
  WzpTestClient *client = wzp_test_client_try_connect (address, identity, relay_fp, &error);

  g_assert_no_error (error);
  return client;
}

const char *
wzp_test_client_fingerprint (WzpTestClient *client)
{
  return wzp_identity_get_fingerprint (client->identity);
}

void
wzp_test_client_send (WzpTestClient *client,
                      WzpMessage    *message)
{
  _wzp_frame_io_send (client->io, message);
}

static void
raw_write_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  AsyncWait *wait = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &wait->error);
  wait->done = TRUE;
}

void
wzp_test_client_send_raw (WzpTestClient *client,
                          const void    *data,
                          gsize          len)
{
  AsyncWait wait = { 0 };

  g_output_stream_write_all_async (g_io_stream_get_output_stream (client->tls), data, len,
                                   G_PRIORITY_DEFAULT, NULL, raw_write_cb, &wait);
  wzp_test_wait_flag (&wait.done, TEST_TIMEOUT_MS);
  g_clear_error (&wait.error);   /* the relay may have closed already */
}

typedef struct
{
  WzpTestClient *client;
} InboxWait;

static gboolean
inbox_ready (gpointer data)
{
  WzpTestClient *client = data;

  return !g_queue_is_empty (&client->inbox) || client->read_error != NULL;
}

WzpMessage *
wzp_test_client_next (WzpTestClient *client,
                      guint          timeout_ms)
{
  wait_until (inbox_ready, client, timeout_ms);
  return g_queue_pop_head (&client->inbox);
}

WzpMessage *
wzp_test_client_expect (WzpTestClient  *client,
                        WzpMessageType  type)
{
  WzpMessage *message = wzp_test_client_next (client, TEST_TIMEOUT_MS);

  if (message == NULL)
    g_error ("Expected %s, but the connection closed: %s", _wzp_message_type_to_string (type),
             client->read_error ? client->read_error->message : "?");
  if (_wzp_message_get_message_type (message) != type)
    {
      g_autoptr(GBytes) text = _wzp_message_encode (message);

      g_error ("Expected %s, got %.*s", _wzp_message_type_to_string (type),
               (int) g_bytes_get_size (text), (const char *) g_bytes_get_data (text, NULL));
    }
  return message;
}

void
wzp_test_client_expect_error (WzpTestClient *client,
                              const char    *code)
{
  g_autoptr(WzpMessage) error = wzp_test_client_expect (client, WZP_MESSAGE_ERROR);

  g_assert_cmpstr (_wzp_message_get_string (error, "code"), ==, code);
  g_assert_nonnull (_wzp_message_get_string (error, "message"));
}

gboolean
wzp_test_client_quiet (WzpTestClient *client,
                       guint          ms)
{
  wzp_test_spin (ms);
  return g_queue_is_empty (&client->inbox);
}

static gboolean
client_closed (gpointer data)
{
  WzpTestClient *client = data;

  return client->read_error != NULL;
}

void
wzp_test_client_wait_closed (WzpTestClient *client)
{
  wait_until (client_closed, client, TEST_TIMEOUT_MS);
}

void
wzp_test_client_stop_reading (WzpTestClient *client)
{
  int fd = g_socket_get_fd (g_socket_connection_get_socket (client->conn));
  int small = 4096;

  g_cancellable_cancel (client->cancellable);
  wait_until (client_closed, client, TEST_TIMEOUT_MS);
  /* A locked, small receive buffer: the relay's writes back up after a few KB here
   * (and what its own socket buffer holds). */
  g_assert_no_errno (setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small));
}

WzpBinding *
wzp_test_client_make_binding (WzpTestClient *client,
                              gint64         time_ms)
{
  g_autoptr(GError) error = NULL;
  WzpBinding *binding =
    _wzp_binding_new_signed (wzp_identity_get_certificate (client->identity),
                             _wzp_tls_connection_get_peer_fingerprint (client->tls), time_ms,
                             &error);

  g_assert_no_error (error);
  return binding;
}

WzpMessage *
wzp_test_client_register (WzpTestClient *client,
                          const char    *alias)
{
  g_autoptr(WzpMessage) presence = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);
  g_autoptr(WzpBinding) binding = wzp_test_client_make_binding (client, g_get_real_time () / 1000);
  WzpMessage *ack;

  _wzp_message_set_string (presence, "alias", alias);
  _wzp_message_set_string (presence, "client_version", "test");
  /* Signed like the real client's, so that federated relays announce this one too. */
  _wzp_message_set_binding (presence, "binding", binding);
  wzp_test_client_send (client, presence);
  ack = wzp_test_client_expect (client, WZP_MESSAGE_REGISTER_PRESENCE_ACK);
  g_assert_true (_wzp_message_get_bool (ack, "success"));
  g_assert_cmpstr (_wzp_message_get_string (ack, "fingerprint"), ==,
                   wzp_test_client_fingerprint (client));
  return ack;
}

void
wzp_test_client_free (WzpTestClient *client)
{
  if (client == NULL)
    return;
  if (client->cancellable != NULL)
    g_cancellable_cancel (client->cancellable);
  /* Let the cancelled read complete so that nothing refers to the client any more. */
  if (client->io != NULL)
    wait_until (client_closed, client, TEST_TIMEOUT_MS);
  if (client->conn != NULL)
    g_io_stream_close (G_IO_STREAM (client->conn), NULL, NULL);
  g_queue_clear_full (&client->inbox, (GDestroyNotify) _wzp_message_unref);
  g_clear_error (&client->read_error);
  g_clear_object (&client->io);
  g_clear_object (&client->tls);
  g_clear_object (&client->conn);
  g_clear_object (&client->cancellable);
  g_clear_object (&client->identity);
  g_free (client);
}

GSocketConnection *
wzp_test_pipe_open (const char *pipe_addr,
                    const char *call_id,
                    const char *token,
                    gint64      seq)
{
  GSocketConnection *conn = wzp_test_tcp_connect (pipe_addr);
  g_autoptr(WzpMessage) open = _wzp_message_new_for_call (WZP_MESSAGE_OPEN_PIPE, call_id);
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GError) error = NULL;
  guint8 header[4];
  gsize len;

  _wzp_message_set_string (open, "pipe_token", token);
  _wzp_message_set_int (open, "seq", seq);
  payload = _wzp_message_encode (open);
  len = g_bytes_get_size (payload);
  header[0] = len >> 24;
  header[1] = len >> 16;
  header[2] = len >> 8;
  header[3] = len;
  /* Small blocking writes to a local socket buffer: they never wait. */
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), header, 4,
                             NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)),
                             g_bytes_get_data (payload, NULL), len, NULL, NULL, &error);
  g_assert_no_error (error);
  return conn;
}

WzpMessage *
wzp_test_make_offer (const char *call_id,
                     const char *target)
{
  WzpMessage *offer = _wzp_message_new_for_call (WZP_MESSAGE_DIRECT_CALL_OFFER, call_id);
  const char * const locals[] = { "192.168.88.21:40001", "[fd00:1::21]:40001", NULL };

  _wzp_message_set_string (offer, "target_fingerprint", target);
  _wzp_message_set_string (offer, "caller_alias", "Alice");
  _wzp_message_set_string (offer, "caller_reflexive_addr", "198.51.100.1:40001");
  _wzp_message_set_strv (offer, "caller_local_addrs", locals);
  _wzp_message_set_string (offer, "caller_nat_type", "Cone");
  return offer;
}

WzpMessage *
wzp_test_make_answer (const char *call_id,
                      const char *mode)
{
  WzpMessage *answer = _wzp_message_new_for_call (WZP_MESSAGE_DIRECT_CALL_ANSWER, call_id);
  const char * const locals[] = { "10.0.2.21:40002", NULL };

  _wzp_message_set_string (answer, "accept_mode", mode);
  _wzp_message_set_string (answer, "callee_reflexive_addr", "198.51.100.2:40002");
  _wzp_message_set_strv (answer, "callee_local_addrs", locals);
  _wzp_message_set_string (answer, "callee_nat_type", "Symmetric");
  return answer;
}

char *
wzp_test_offer_call (WzpTestClient *a,
                     WzpTestClient *b)
{
  char *call_id = g_uuid_string_random ();
  g_autoptr(WzpMessage) offer = wzp_test_make_offer (call_id, wzp_test_client_fingerprint (b));
  g_autoptr(WzpMessage) got_offer = NULL;

  wzp_test_client_send (a, offer);
  got_offer = wzp_test_client_expect (b, WZP_MESSAGE_DIRECT_CALL_OFFER);
  g_assert_cmpstr (_wzp_message_get_string (got_offer, "call_id"), ==, call_id);
  return call_id;
}

char *
wzp_test_set_up_call (WzpTestClient  *a,
                      WzpTestClient  *b,
                      const char     *mode,
                      WzpMessage    **setup_a,
                      WzpMessage    **setup_b)
{
  char *call_id = wzp_test_offer_call (a, b);
  g_autoptr(WzpMessage) answer = wzp_test_make_answer (call_id, mode);
  g_autoptr(WzpMessage) got_answer = NULL;

  wzp_test_client_send (b, answer);
  got_answer = wzp_test_client_expect (a, WZP_MESSAGE_DIRECT_CALL_ANSWER);
  *setup_a = wzp_test_client_expect (a, WZP_MESSAGE_CALL_SETUP);
  *setup_b = wzp_test_client_expect (b, WZP_MESSAGE_CALL_SETUP);
  return call_id;
}

void
wzp_test_assert_strv (char       **actual,
                      const char  *first,
                      ...)
{
  va_list args;
  guint i = 0;
  const char *expected = first;

  va_start (args, first);
  while (expected != NULL)
    {
      g_assert_cmpstr (actual[i], ==, expected);
      i++;
      expected = va_arg (args, const char *);
    }
  va_end (args);
  g_assert_null (actual[i]);
  g_strfreev (actual);
}

void
wzp_test_wait_call_state (WzpCall      *call,
                          WzpCallState  state)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (wzp_call_get_state (call) != state && g_get_monotonic_time () < deadline)
    g_main_context_iteration (g_main_context_get_thread_default (), FALSE) ||
      (g_usleep (1000), TRUE);
  g_assert_cmpint (wzp_call_get_state (call), ==, state);
}

void
wzp_test_raw_read_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  WzpTestRawRead *r = user_data;

  g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &r->got, &r->error);
  r->done = TRUE;
}

void
wzp_test_pipe_send_and_expect (GSocketConnection *from,
                               GSocketConnection *to,
                               const char        *text)
{
  g_autoptr(GError) error = NULL;
  WzpTestRawRead r = { 0 };
  gsize len = strlen (text);

  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (from)), text, len,
                             NULL, NULL, &error);
  g_assert_no_error (error);
  g_input_stream_read_all_async (g_io_stream_get_input_stream (G_IO_STREAM (to)), r.buf, len,
                                 G_PRIORITY_DEFAULT, NULL, wzp_test_raw_read_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_no_error (r.error);
  g_assert_cmpuint (r.got, ==, len);
  g_assert_cmpmem (r.buf, r.got, text, len);
}

void
wzp_test_client_connected_cb (GObject      *source,
                              GAsyncResult *result,
                              gpointer      user_data)
{
  WzpTestResult *r = user_data;

  wzp_client_connect_finish (WZP_CLIENT (source), result, &r->error);
  r->done = TRUE;
}

void
wzp_test_placed_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  WzpTestResult *r = user_data;

  r->object = G_OBJECT (wzp_client_place_call_finish (WZP_CLIENT (source), result, &r->error));
  r->done = TRUE;
}

int
wzp_test_connect_from (const char *source_ip,
                       guint16     port)
{
  struct sockaddr_in src = { .sin_family = AF_INET };
  struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  inet_pton (AF_INET, source_ip, &src.sin_addr);
  inet_pton (AF_INET, "127.0.0.1", &dst.sin_addr);
  g_assert_no_errno (bind (fd, (struct sockaddr *) &src, sizeof src));
  g_assert_no_errno (connect (fd, (struct sockaddr *) &dst, sizeof dst));
  return fd;
}
