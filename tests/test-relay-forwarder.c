/* test-relay-forwarder.c: the relay's pipe forwarding thread: ends of streams,
 * federation bridges, two relays, stopping mid-transfer, its descriptors, flow
 * control and the pipe rate limit
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "relay-fixture.h"
#include "wzp-relay-private.h"

/* Pipe forwarding runs on a thread of the relay's own (wzp-relay-forwarder.c): what it
 * must get right beyond carrying bytes. */

static WzpTestClient *
connect_registered_at (WzpRelay   *relay,
                       const char *alias)
{
  g_auto(GStrv) listen = wzp_relay_dup_listen_addresses (relay);
  WzpTestClient *client = wzp_test_client_connect (listen[0], NULL,
                                                   wzp_relay_get_fingerprint (relay));
  g_autoptr(WzpMessage) ack = wzp_test_client_register (client, alias);

  return client;
}

/* Opens the caller's pipe, then the callee's (who is told PipeRequested in between),
 * both with token @seq, and reads PipeReady on both. */
static void
open_joined_pipes (WzpTestClient      *b,
                   WzpMessage         *setup_a,
                   WzpMessage         *setup_b,
                   const char         *call_id,
                   gint64              seq,
                   GSocketConnection **pipe_a,
                   GSocketConnection **pipe_b)
{
  g_autofree char *token_a = token_for (setup_a, seq);
  g_autofree char *token_b = token_for (setup_b, seq);
  g_autoptr(WzpMessage) requested = NULL;
  g_autoptr(WzpMessage) ready_a = NULL;
  g_autoptr(WzpMessage) ready_b = NULL;
  g_autoptr(GError) error = NULL;

  *pipe_a = wzp_test_pipe_open (_wzp_message_get_string (setup_a, "pipe_addr"), call_id,
                                token_a, seq);
  requested = wzp_test_client_expect (b, WZP_MESSAGE_PIPE_REQUESTED);
  *pipe_b = wzp_test_pipe_open (_wzp_message_get_string (setup_b, "pipe_addr"), call_id,
                                token_b, seq);
  ready_a = pipe_read_frame (*pipe_a, &error);
  g_assert_no_error (error);
  ready_b = pipe_read_frame (*pipe_b, &error);
  g_assert_no_error (error);
  g_assert_cmpint (_wzp_message_get_message_type (ready_a), ==, WZP_MESSAGE_PIPE_READY);
  g_assert_cmpint (_wzp_message_get_message_type (ready_b), ==, WZP_MESSAGE_PIPE_READY);
}

typedef struct
{
  GInputStream *input;
  guint8        buf[4096];
  gsize         total;
  gboolean      done;
} Drain;

static void
drain_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Drain *d = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    {
      d->done = TRUE;
      return;
    }
  d->total += n;
  g_input_stream_read_async (d->input, d->buf, sizeof d->buf, G_PRIORITY_DEFAULT, NULL,
                             drain_cb, d);
}

/* Reads @conn until its end of stream (or a reset), at most 5 s; returns the bytes read
 * before it. */
static gsize
read_to_end (GSocketConnection *conn)
{
  Drain d = { .input = g_io_stream_get_input_stream (G_IO_STREAM (conn)) };

  g_input_stream_read_async (d.input, d.buf, sizeof d.buf, G_PRIORITY_DEFAULT, NULL,
                             drain_cb, &d);
  wzp_test_wait_flag (&d.done, 5000);
  return d.total;
}

static void
shutdown_write (GSocketConnection *conn)
{
  g_autoptr(GError) error = NULL;

  g_socket_shutdown (g_socket_connection_get_socket (conn), FALSE, TRUE, &error);
  g_assert_no_error (error);
}

/* Iterates the main context until @relay holds no pipe (at most 5 s). */
static void
wait_no_pipes (WzpRelay *relay)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (g_hash_table_size (relay->pipes) > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpuint (g_hash_table_size (relay->pipes), ==, 0);
}

/* Threads of this process called @name; the id of the first in @first_tid if not NULL. */
static guint
threads_named (const char  *name,
               char       **first_tid)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL) && g_strcmp0 (g_strchomp (comm), name) == 0)
        {
          if (n++ == 0 && first_tid != NULL)
            *first_tid = g_strdup (tid);
        }
    }
  return n;
}

static guint
count_threads (const char *name)
{
  return threads_named (name, NULL);
}

/* Threads called @name once an ended one has left /proc: a joined thread is gone for the
 * process, but the kernel lists its task until its exit is complete (at most 2 s here). */
static guint
count_threads_settled (const char *name,
                       guint       expected)
{
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  guint n;

  while ((n = count_threads (name)) != expected && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  return n;
}

#define FORWARDER_THREAD "wzp-forwarder"

/* The end of a stream is passed on, one direction at a time; when both have ended, the
 * relay closes the pair and the call can open its next pipes. */
static void
test_pipe_end_of_stream (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) pipe_b = NULL;
  g_autoptr(GSocketConnection) next_a = NULL;
  g_autoptr(GSocketConnection) next_b = NULL;

  open_joined_pipes (b, setup_a, setup_b, call_id, 1, &pipe_a, &pipe_b);
  wzp_test_pipe_send_and_expect (pipe_a, pipe_b, "before the end");
  g_assert_cmpuint (_wzp_relay_pipes_get_n_forwarding (f->relay), ==, 1);

  /* The caller ends its side: the callee sees the end and can still talk back. */
  shutdown_write (pipe_a);
  g_assert_cmpuint (read_to_end (pipe_b), ==, 0);
  wzp_test_pipe_send_and_expect (pipe_b, pipe_a, "after the caller's end");

  /* The callee ends too. The forwarder sees it on its thread while this one sleeps and
   * does not run the relay's context (the forwarder must not run relay code then: the
   * prototype did, and deadlocked); the relay closes the pair once its context runs. */
  shutdown_write (pipe_b);
  g_usleep (200 * 1000);
  g_assert_cmpuint (read_to_end (pipe_a), ==, 0);
  wait_no_pipes (f->relay);
  g_assert_cmpuint (_wzp_relay_pipes_get_n_forwarding (f->relay), ==, 0);

  /* The call goes on, and its next pipes work. */
  g_assert_cmpuint (wzp_relay_get_n_calls (f->relay), ==, 1);
  open_joined_pipes (b, setup_a, setup_b, call_id, 2, &next_a, &next_b);
  wzp_test_pipe_send_and_expect (next_a, next_b, "the next pipe");
  wzp_test_pipe_send_and_expect (next_b, next_a, "and back");
}

/* A federation bridge stands in for a party's pipe with one end of a socketpair
 * (wzp-relay-bridge.c): matched and joined like a pipe, it gets PipeReady, and the
 * forwarder carries bytes between it and the other party's TCP pipe. */
static void
test_pipe_bridge_end (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  g_autofree char *token_a = token_for (setup_a, 1);
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) ours = NULL;
  g_autoptr(GSocketConnection) theirs = NULL;
  g_autoptr(WzpMessage) requested = NULL;
  g_autoptr(WzpMessage) ready_a = NULL;
  g_autoptr(WzpMessage) ready_bridge = NULL;
  g_autoptr(GError) error = NULL;
  int fds[2];

  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds));
  {
    g_autoptr(GSocket) s0 = g_socket_new_from_fd (fds[0], &error);
    g_autoptr(GSocket) s1 = g_socket_new_from_fd (fds[1], &error);

    g_assert_no_error (error);
    ours = g_socket_connection_factory_create_connection (s0);
    theirs = g_socket_connection_factory_create_connection (s1);
  }

  /* The callee's side is the bridge: the caller is asked for its pipe. */
  g_assert_true (_wzp_relay_pipes_add_bridge (_wzp_relay_call_lookup (f->relay, call_id),
                                              WZP_CALL_ROLE_CALLEE, theirs, "a test bridge"));
  requested = wzp_test_client_expect (a, WZP_MESSAGE_PIPE_REQUESTED);
  g_assert_cmpstr (_wzp_message_get_string (requested, "call_id"), ==, call_id);

  pipe_a = wzp_test_pipe_open (_wzp_message_get_string (setup_a, "pipe_addr"), call_id,
                               token_a, 1);
  ready_a = pipe_read_frame (pipe_a, &error);
  g_assert_no_error (error);
  ready_bridge = pipe_read_frame (ours, &error);
  g_assert_no_error (error);
  g_assert_cmpint (_wzp_message_get_message_type (ready_a), ==, WZP_MESSAGE_PIPE_READY);
  g_assert_cmpint (_wzp_message_get_message_type (ready_bridge), ==, WZP_MESSAGE_PIPE_READY);

  wzp_test_pipe_send_and_expect (pipe_a, ours, "from the caller into the bridge");
  wzp_test_pipe_send_and_expect (ours, pipe_a, "from the bridge to the caller");

  /* The bridge ending ends the caller's pipe. */
  g_io_stream_close (G_IO_STREAM (ours), NULL, NULL);
  g_assert_cmpuint (read_to_end (pipe_a), ==, 0);
  wait_no_pipes (f->relay);
}

/* Two relays in one process each forward on their own thread; dropping one while both
 * forward closes its pipes and ends its thread, and the other goes on. */
static void
test_pipe_two_relays (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpIdentity) identity = wzp_test_identity_new ();
  g_autoptr(GError) error = NULL;
  WzpRelay *second = wzp_relay_new (identity);
  g_autoptr(WzpTestClient) a1 = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b1 = connect_registered (f, "Bob");
  WzpTestClient *a2, *b2;
  g_autoptr(WzpMessage) setup_a1 = NULL;
  g_autoptr(WzpMessage) setup_b1 = NULL;
  g_autoptr(WzpMessage) setup_a2 = NULL;
  g_autoptr(WzpMessage) setup_b2 = NULL;
  g_autofree char *call_1 = NULL;
  g_autofree char *call_2 = NULL;
  g_autoptr(GSocketConnection) pipe_a1 = NULL;
  g_autoptr(GSocketConnection) pipe_b1 = NULL;
  g_autoptr(GSocketConnection) pipe_a2 = NULL;
  g_autoptr(GSocketConnection) pipe_b2 = NULL;
  guint threads = count_threads (FORWARDER_THREAD);

  wzp_relay_listen (second, "127.0.0.1:0", NULL, &error);
  g_assert_no_error (error);
  a2 = connect_registered_at (second, "Carol");
  b2 = connect_registered_at (second, "Dave");

  call_1 = wzp_test_set_up_call (a1, b1, "AcceptGeneric", &setup_a1, &setup_b1);
  call_2 = wzp_test_set_up_call (a2, b2, "AcceptGeneric", &setup_a2, &setup_b2);
  open_joined_pipes (b1, setup_a1, setup_b1, call_1, 1, &pipe_a1, &pipe_b1);
  open_joined_pipes (b2, setup_a2, setup_b2, call_2, 1, &pipe_a2, &pipe_b2);
  wzp_test_pipe_send_and_expect (pipe_a1, pipe_b1, "on the first relay");
  wzp_test_pipe_send_and_expect (pipe_b2, pipe_a2, "on the second relay");
  g_assert_cmpuint (count_threads (FORWARDER_THREAD), ==, threads + 2);

  /* The last reference goes while both forward (no wzp_relay_stop first). */
  wzp_test_client_free (a2);
  wzp_test_client_free (b2);
  wzp_test_finalize_object (second);
  g_assert_cmpuint (count_threads_settled (FORWARDER_THREAD, threads + 1), ==, threads + 1);
  g_assert_cmpuint (read_to_end (pipe_a2), ==, 0);
  g_assert_cmpuint (read_to_end (pipe_b2), ==, 0);

  wzp_test_pipe_send_and_expect (pipe_a1, pipe_b1, "the first relay goes on");
  wzp_test_pipe_send_and_expect (pipe_b1, pipe_a1, "both ways");
}

typedef struct
{
  gboolean done;
  GError  *error;
} WriteWait;

static void
write_all_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  WriteWait *w = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &w->error);
  w->done = TRUE;
}

/* Stopping the relay in the middle of a transfer closes the pipes at once, stops its
 * forwarding thread, and leaves no descriptor behind. */
static void
test_pipe_stop_while_forwarding (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) pipe_b = NULL;
  gsize size = 32 * 1024 * 1024;   /* more than the socket buffers on the way hold */
  g_autofree guint8 *bulk = g_malloc0 (size);
  WriteWait w = { 0 };
  guint fds_before = wzp_test_count_fds ();
  guint threads = count_threads (FORWARDER_THREAD);

  open_joined_pipes (b, setup_a, setup_b, call_id, 1, &pipe_a, &pipe_b);
  wzp_test_pipe_send_and_expect (pipe_b, pipe_a, "forwarding");
  g_assert_cmpuint (count_threads (FORWARDER_THREAD), ==, threads + 1);
  /* More than the rate limit lets through for a while: the transfer is under way. */
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (pipe_a)),
                                   bulk, size, G_PRIORITY_DEFAULT, NULL,
                                   write_all_cb, &w);
  wzp_test_spin (100);
  g_assert_false (w.done);

  wzp_relay_stop (f->relay);
  g_assert_cmpuint (count_threads_settled (FORWARDER_THREAD, threads), ==, threads);
  g_assert_cmpuint (g_hash_table_size (f->relay->pipes), ==, 0);
  /* The callee got part of it, then the end; the caller's write fails. */
  g_assert_cmpuint (read_to_end (pipe_b), <, size);
  wzp_test_wait_flag (&w.done, 5000);
  g_assert_nonnull (w.error);
  g_clear_error (&w.error);

  g_io_stream_close (G_IO_STREAM (pipe_a), NULL, NULL);
  g_io_stream_close (G_IO_STREAM (pipe_b), NULL, NULL);
  wzp_test_spin (50);
  /* The relay's listeners are closed now too, so fewer than before. */
  g_assert_cmpuint (wzp_test_count_fds (), <, fds_before);
}

/* Descriptors listed in @dir (a /proc fd directory), below the descriptor limit: valgrind
 * keeps descriptors of its own above the limit it shows the program, and does not let
 * close_range() close them. */
static int
count_fds_in (const char *dir_path)
{
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  struct rlimit limit;
  const char *name;
  int n = 0;

  g_assert_nonnull (dir);
  g_assert_no_errno (getrlimit (RLIMIT_NOFILE, &limit));
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_ascii_strtoull (name, NULL, 10) < limit.rlim_cur)
      n++;
  return n;
}

/* Descriptors in the table of the forwarding thread @tid (the thread unshares its table:
 * wzp-relay-forwarder.c); -1 when it shares the process's table. */
static int
count_thread_fds (const char *tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/fd", tid);
  int n = count_fds_in (path);

  /* On a shared table both counts include the GDir that read them. */
  return n == count_fds_in ("/proc/self/fd") ? -1 : n;
}

/* The forwarding thread works on a descriptor table of its own. It must hold nothing of
 * the relay's but the sockets it forwards: a copy of any other socket would keep that
 * connection open after the relay closed it. And what it holds for a pipe goes with the
 * pipe (no test of the process's descriptors would see a leak in that table). */
static void
test_pipe_forwarder_descriptors (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpTestClient) c = connect_registered (f, "Carol");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) pipe_b = NULL;
  g_autoptr(GSocketConnection) next_a = NULL;
  g_autoptr(GSocketConnection) next_b = NULL;
  g_autoptr(WzpMessage) hangup = NULL;
  g_autofree char *tid = NULL;
  int std_fds = 0, own, with_one, per_forward;

  for (int fd = 0; fd < 3; fd++)
    std_fds += fcntl (fd, F_GETFD) != -1;

  /* The first join starts the thread, while the process holds many other descriptors
   * (listeners, every client's signalling connection at both ends). */
  open_joined_pipes (b, setup_a, setup_b, call_id, 1, &pipe_a, &pipe_b);
  wzp_test_pipe_send_and_expect (pipe_a, pipe_b, "forwarding");
  g_assert_cmpuint (threads_named (FORWARDER_THREAD, &tid), ==, 1);
  with_one = count_thread_fds (tid);
  if (with_one < 0)
    {
      g_test_skip ("the forwarding thread shares the process's descriptor table here");
      return;
    }
  /* Its epoll set, its wake-up and report eventfds, its end of the socket pair that
   * brings it sockets; per forward its copies of the two sockets. */
  own = std_fds + 4;
  per_forward = 2;
  g_assert_cmpint (with_one, ==, own + per_forward);

  /* Carol's signalling connection, which was open when the thread started, is closed by
   * the relay (a second registration replaces it): she sees it end. */
  {
    g_autoptr(WzpTestClient) c2 = wzp_test_client_connect (f->address, c->identity, NULL);
    g_autoptr(WzpMessage) ack = wzp_test_client_register (c2, "Carol again");

    wzp_test_client_expect_error (c, WZP_ERROR_CODE_REPLACED);
    wzp_test_client_wait_closed (c);
  }

  /* The next pipes of the call: the old pair goes, the new one comes. */
  g_io_stream_close (G_IO_STREAM (pipe_a), NULL, NULL);
  g_io_stream_close (G_IO_STREAM (pipe_b), NULL, NULL);
  wait_no_pipes (f->relay);
  g_assert_cmpint (count_thread_fds (tid), ==, own);
  open_joined_pipes (b, setup_a, setup_b, call_id, 2, &next_a, &next_b);
  wzp_test_pipe_send_and_expect (next_b, next_a, "the next pipe");
  g_assert_cmpint (count_thread_fds (tid), ==, own + per_forward);

  /* The call ends: its pipes close, and nothing of them is left in the thread. */
  hangup = _wzp_message_new_for_call (WZP_MESSAGE_HANGUP, call_id);
  _wzp_message_set_string (hangup, "reason", "Normal");
  wzp_test_client_send (a, hangup);
  g_assert_cmpuint (read_to_end (next_b), ==, 0);
  wait_no_pipes (f->relay);
  g_assert_cmpint (count_thread_fds (tid), ==, own);
}

/* A receiver that stops reading holds the sender up (TCP's flow control, through the
 * relay: nothing piles up in it), and once it reads again every byte arrives, in order;
 * then bytes written right before the end of the stream arrive before the end. */
static void
test_pipe_backpressure (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = NULL;
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) pipe_b = NULL;
  g_autoptr(GError) error = NULL;
  gsize size = 32 * 1024 * 1024;   /* more than the socket buffers on the way hold */
  g_autofree guint8 *sent = g_malloc (size);
  g_autofree guint8 *received = g_malloc (size);
  WzpTestRawRead r = { 0 };   /* its own buffer is too small: `received` takes the bytes */
  WriteWait w = { 0 };
  const char last[] = "the last words";
  char tail[sizeof last] = { 0 };
  gsize got = 0;

  g_object_set (f->relay, "pipe-bytes-per-second", G_MAXINT, "pipe-burst-bytes", G_MAXINT,
                NULL);
  call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  open_joined_pipes (b, setup_a, setup_b, call_id, 1, &pipe_a, &pipe_b);

  for (gsize i = 0; i < size; i++)
    sent[i] = (guint8) (i * 31 + (i >> 12));
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (pipe_a)),
                                   sent, size, G_PRIORITY_DEFAULT, NULL, write_all_cb, &w);
  wzp_test_spin (300);
  g_assert_false (w.done);

  g_input_stream_read_all_async (g_io_stream_get_input_stream (G_IO_STREAM (pipe_b)),
                                 received, size, G_PRIORITY_DEFAULT, NULL, wzp_test_raw_read_cb, &r);
  wzp_test_wait_flag (&r.done, 20000);
  g_assert_no_error (r.error);
  g_assert_cmpmem (received, r.got, sent, size);
  wzp_test_wait_flag (&w.done, 5000);
  g_assert_no_error (w.error);

  /* Bytes and the end of the stream together: the bytes come first. */
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (pipe_a)), last,
                             sizeof last, NULL, NULL, &error);
  g_assert_no_error (error);
  shutdown_write (pipe_a);
  g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (pipe_b)), tail,
                           sizeof tail, &got, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (tail, got, last, sizeof last);
  g_assert_cmpuint (read_to_end (pipe_b), ==, 0);
  wzp_test_pipe_send_and_expect (pipe_b, pipe_a, "after the caller's end");
}

/* pipe-bytes-per-second holds: past the burst, the rest comes at the rate. */
static void
test_pipe_rate_limit (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(WzpTestClient) a = connect_registered (f, "Alice");
  g_autoptr(WzpTestClient) b = connect_registered (f, "Bob");
  g_autoptr(WzpMessage) setup_a = NULL;
  g_autoptr(WzpMessage) setup_b = NULL;
  g_autofree char *call_id = NULL;
  g_autoptr(GSocketConnection) pipe_a = NULL;
  g_autoptr(GSocketConnection) pipe_b = NULL;
  g_autoptr(GError) error = NULL;
  guint8 sent[3072];
  WzpTestRawRead r = { 0 };
  gint64 start;

  g_object_set (f->relay, "pipe-bytes-per-second", 1024, "pipe-burst-bytes", 1024, NULL);
  call_id = wzp_test_set_up_call (a, b, "AcceptGeneric", &setup_a, &setup_b);
  open_joined_pipes (b, setup_a, setup_b, call_id, 1, &pipe_a, &pipe_b);

  for (gsize i = 0; i < sizeof sent; i++)
    sent[i] = (guint8) (i * 7);
  start = g_get_monotonic_time ();
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (pipe_a)), sent,
                             sizeof sent, NULL, NULL, &error);
  g_assert_no_error (error);
  g_input_stream_read_all_async (g_io_stream_get_input_stream (G_IO_STREAM (pipe_b)), r.buf,
                                 sizeof sent, G_PRIORITY_DEFAULT, NULL, wzp_test_raw_read_cb, &r);
  wzp_test_wait_flag (&r.done, 5000);
  g_assert_no_error (r.error);
  g_assert_cmpmem (r.buf, r.got, sent, sizeof sent);
  /* 1024 bytes at once, then 2048 at 1024 per second: about 2 s. Without the limit,
   * a few milliseconds. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 3 * G_USEC_PER_SEC / 2);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  ADD ("pipe-end-of-stream", test_pipe_end_of_stream);
  ADD ("pipe-bridge-end", test_pipe_bridge_end);
  ADD ("pipe-two-relays", test_pipe_two_relays);
  ADD ("pipe-stop-while-forwarding", test_pipe_stop_while_forwarding);
  ADD ("pipe-rate-limit", test_pipe_rate_limit);
  ADD ("pipe-forwarder-descriptors", test_pipe_forwarder_descriptors);
  ADD ("pipe-backpressure", test_pipe_backpressure);

  return g_test_run ();
}
