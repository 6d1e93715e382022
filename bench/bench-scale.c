/* bench-scale.c: the relay-at-scale benchmark's shared parts (see bench-scale.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <gnutls/x509.h>

#include "bench-scale.h"
#include "wzp-tls-private.h"

#define MAX_FRAME        65536
#define IDS_MAGIC        "wzp-bench-scale-identities 1\n"
#define IDS_SEPARATOR    "%%\n"

guint bs_attempt_timeout_ms = 60000;

gint64
bs_now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

void
bs_die (const char *format,
        ...)
{
  va_list args;

  va_start (args, format);
  fprintf (stderr, "%s: ", g_get_prgname () ? g_get_prgname () : "bench-scale");
  vfprintf (stderr, format, args);
  fprintf (stderr, "\n");
  va_end (args);
  /* Children go with us: they watch their end of a pipe, or get SIGKILL when we exit
   * (PR_SET_PDEATHSIG); the benchmark stops nginx in an atexit handler. */
  exit (1);
}

void
bs_pin_to_cpu (int cpu)
{
  cpu_set_t set;

  if (cpu < 0)
    return;
  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  if (sched_setaffinity (0, sizeof set, &set) != 0)
    fprintf (stderr, "# cannot pin to CPU %d: %s\n", cpu, g_strerror (errno));
}

/* The loop */

static int        epfd = -1;
static GPtrArray *heap;   /* of BsTimer, a binary min-heap on when_us */

void
bs_loop_init (void)
{
  epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (epfd < 0)
    bs_die ("epoll_create1: %s", g_strerror (errno));
  heap = g_ptr_array_new ();
}

void
bs_watch_set (BsWatch  *watch,
              uint32_t  events)
{
  struct epoll_event ev = { .events = events, .data.ptr = watch };

  if (watch->added && watch->events == events)
    return;
  if (epoll_ctl (epfd, watch->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, watch->fd, &ev) != 0)
    bs_die ("epoll_ctl: %s", g_strerror (errno));
  watch->added = TRUE;
  watch->events = events;
}

void
bs_watch_close (BsWatch *watch)
{
  if (watch->fd < 0)
    return;
  if (watch->added)
    epoll_ctl (epfd, EPOLL_CTL_DEL, watch->fd, NULL);
  close (watch->fd);
  watch->fd = -1;
  watch->added = FALSE;
  watch->events = 0;
}

static void
heap_swap (guint a,
           guint b)
{
  BsTimer *ta = heap->pdata[a], *tb = heap->pdata[b];

  heap->pdata[a] = tb;
  heap->pdata[b] = ta;
  tb->heap_index = a;
  ta->heap_index = b;
}

static void
heap_up (guint i)
{
  while (i > 0)
    {
      guint parent = (i - 1) / 2;

      if (((BsTimer *) heap->pdata[parent])->when_us <= ((BsTimer *) heap->pdata[i])->when_us)
        break;
      heap_swap (i, parent);
      i = parent;
    }
}

static void
heap_down (guint i)
{
  for (;;)
    {
      guint l = 2 * i + 1, r = l + 1, m = i;

      if (l < heap->len &&
          ((BsTimer *) heap->pdata[l])->when_us < ((BsTimer *) heap->pdata[m])->when_us)
        m = l;
      if (r < heap->len &&
          ((BsTimer *) heap->pdata[r])->when_us < ((BsTimer *) heap->pdata[m])->when_us)
        m = r;
      if (m == i)
        break;
      heap_swap (i, m);
      i = m;
    }
}

void
bs_timer_init (BsTimer     *timer,
               BsTimerFunc  func)
{
  timer->heap_index = -1;
  timer->func = func;
}

void
bs_timer_stop (BsTimer *timer)
{
  guint i = timer->heap_index;
  guint last;

  if (timer->heap_index < 0)
    return;
  last = heap->len - 1;
  if (i != last)
    heap_swap (i, last);
  g_ptr_array_set_size (heap, last);
  timer->heap_index = -1;
  if (i < heap->len)
    {
      heap_up (i);
      heap_down (i);
    }
}

void
bs_timer_start (BsTimer *timer,
                gint64   when_us)
{
  bs_timer_stop (timer);
  timer->when_us = when_us;
  timer->heap_index = heap->len;
  g_ptr_array_add (heap, timer);
  heap_up (heap->len - 1);
}

void
bs_loop_iterate (gint64 deadline_us)
{
  struct epoll_event events[512];
  gint64 now = bs_now_us ();
  gint64 until = deadline_us;
  int timeout_ms, n;

  if (heap->len > 0)
    until = MIN (until, ((BsTimer *) heap->pdata[0])->when_us);
  timeout_ms = until <= now ? 0 : (int) MIN ((until - now + 999) / 1000, 60000);
  n = epoll_wait (epfd, events, G_N_ELEMENTS (events), timeout_ms);
  for (int i = 0; i < n; i++)
    {
      BsWatch *watch = events[i].data.ptr;

      if (watch->fd >= 0)
        watch->func (watch, events[i].events);
    }

  now = bs_now_us ();
  while (heap->len > 0 && ((BsTimer *) heap->pdata[0])->when_us <= now)
    {
      BsTimer *timer = heap->pdata[0];

      bs_timer_stop (timer);
      timer->func (timer);
    }
}

void
bs_spin_ms (guint ms)
{
  gint64 end = bs_now_us () + (gint64) ms * 1000;

  while (bs_now_us () < end)
    bs_loop_iterate (end);
}

/* Identities */

struct BsIds
{
  char   *data;
  gsize   length;
  GArray *starts;   /* offset of each identity's PEM, plus one past the end */
};

static void
ids_index (BsIds *ids)
{
  gsize magic = strlen (IDS_MAGIC);
  const char *p, *end = ids->data + ids->length;

  g_array_set_size (ids->starts, 0);
  if (ids->length < magic || memcmp (ids->data, IDS_MAGIC, magic) != 0)
    return;
  p = ids->data + magic;
  while (p < end)
    {
      const char *sep = g_strstr_len (p, end - p, "\n" IDS_SEPARATOR);
      gsize offset = p - ids->data;

      if (sep == NULL)
        break;   /* a partial last entry (an interrupted generation) is ignored */
      g_array_append_val (ids->starts, offset);
      p = sep + 1 + strlen (IDS_SEPARATOR);
    }
  {
    gsize offset = p - ids->data;

    g_array_append_val (ids->starts, offset);
  }
}

BsIds *
bs_ids_load (const char *path,
             guint       needed,
             gboolean    may_generate)
{
  BsIds *ids = g_new0 (BsIds, 1);
  g_autoptr(GError) error = NULL;

  ids->starts = g_array_new (FALSE, FALSE, sizeof (gsize));
  if (g_file_get_contents (path, &ids->data, &ids->length, NULL))
    ids_index (ids);
  if (bs_ids_count (ids) >= needed)
    return ids;
  if (!may_generate)
    bs_die ("%s holds %u identities, not %u", path, bs_ids_count (ids), needed);

  {
    guint have = bs_ids_count (ids);
    GString *text = g_string_new (NULL);
    gint64 t0 = bs_now_us ();

    fprintf (stderr, "# making %u client identities (cached in %s for the next runs)\n",
             needed - have, path);
    if (have == 0)
      g_string_append (text, IDS_MAGIC);
    else
      g_string_append_len (text, ids->data, ids->starts->len > 0
                                            ? g_array_index (ids->starts, gsize,
                                                             ids->starts->len - 1)
                                            : ids->length);
    for (guint i = have; i < needed; i++)
      {
        g_autofree char *pem = _wzp_tls_generate_pem (&error);

        if (pem == NULL)
          bs_die ("cannot make an identity: %s", error->message);
        g_string_append (text, pem);
        if (text->str[text->len - 1] != '\n')
          g_string_append_c (text, '\n');
        g_string_append (text, IDS_SEPARATOR);
      }
    if (!g_file_set_contents_full (path, text->str, text->len, G_FILE_SET_CONTENTS_CONSISTENT,
                                   0600, &error))
      bs_die ("%s", error->message);
    fprintf (stderr, "# made them in %.1f s\n", (bs_now_us () - t0) / 1e6);
    g_free (ids->data);
    ids->length = text->len;
    ids->data = g_string_free (text, FALSE);
    ids_index (ids);
  }
  return ids;
}

guint
bs_ids_count (BsIds *ids)
{
  return ids->starts->len > 0 ? ids->starts->len - 1 : 0;
}

const char *
bs_ids_pem (BsIds *ids,
            guint  index,
            gsize *length)
{
  gsize start, end;

  if (index >= bs_ids_count (ids))
    bs_die ("no identity %u (there are %u)", index, bs_ids_count (ids));
  start = g_array_index (ids->starts, gsize, index);
  end = g_array_index (ids->starts, gsize, index + 1) - strlen (IDS_SEPARATOR);
  *length = end - start;
  return ids->data + start;
}

char *
bs_ids_fingerprint (BsIds *ids,
                    guint  index)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsCertificate) certificate = NULL;
  gsize length;
  const char *pem = bs_ids_pem (ids, index, &length);
  char *fingerprint = NULL;

  certificate = _wzp_tls_certificate_new_from_pem (pem, length, &fingerprint, &error);
  if (certificate == NULL)
    bs_die ("identity %u: %s", index, error->message);
  return fingerprint;
}

/* Addresses */

void
bs_client_source (guint               index,
                  guint               per_address,
                  struct sockaddr_in *out)
{
  guint a = index / MAX (per_address, 1);

  memset (out, 0, sizeof *out);
  out->sin_family = AF_INET;
  out->sin_addr.s_addr = htonl ((127u << 24) | (1u << 16) | ((a / 250) << 8) | (1 + a % 250));
}

void
bs_extra_source (guint               group,
                 guint               n,
                 struct sockaddr_in *out)
{
  memset (out, 0, sizeof *out);
  out->sin_family = AF_INET;
  out->sin_addr.s_addr = htonl ((127u << 24) | (group << 16) | ((n / 250) << 8) | (1 + n % 250));
}

gboolean
bs_parse_address (const char         *text,
                  struct sockaddr_in *out)
{
  g_autofree char *host = g_strdup (text);
  char *colon = strrchr (host, ':');
  guint64 port;

  if (colon == NULL)
    return FALSE;
  *colon = '\0';
  memset (out, 0, sizeof *out);
  out->sin_family = AF_INET;
  if (inet_pton (AF_INET, host, &out->sin_addr) != 1 ||
      !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    return FALSE;
  out->sin_port = htons (port);
  return TRUE;
}

/* The client */

guint
bs_backoff_next_ms (guint *backoff_ms)
{
  *backoff_ms = *backoff_ms == 0 ? 250 : MIN (*backoff_ms * 2, 10000);
  return (guint) (*backoff_ms * g_random_double_range (0.5, 1.5));
}

static void client_io (BsWatch *watch, uint32_t events);
static void client_timer (BsTimer *timer);
static void client_step_handshake (BsClient *c);
static ssize_t client_pull (gnutls_transport_ptr_t ptr, void *data, size_t size);
static ssize_t client_push (gnutls_transport_ptr_t ptr, const void *data, size_t size);

#define CLIENT_OF_WATCH(w) ((BsClient *) ((char *) (w) - G_STRUCT_OFFSET (BsClient, watch)))
#define CLIENT_OF_TIMER(t) ((BsClient *) ((char *) (t) - G_STRUCT_OFFSET (BsClient, timer)))

void
bs_client_init (BsClient                 *c,
                const BsClientOps        *ops,
                gpointer                  user_data,
                const char               *pem,
                gsize                     pem_length,
                const struct sockaddr_in *source)
{
  c->watch.fd = -1;
  c->watch.func = client_io;
  bs_timer_init (&c->timer, client_timer);
  c->ops = ops;
  c->user_data = user_data;
  c->pem = pem;
  c->pem_length = pem_length;
  c->source = *source;
}

static void
client_drop (BsClient *c)
{
  bs_watch_close (&c->watch);
  if (c->tls != NULL)
    {
      gnutls_deinit (c->tls);
      c->tls = NULL;
    }
  g_clear_pointer (&c->in, g_byte_array_unref);
  g_clear_pointer (&c->out, g_byte_array_unref);
  c->sending = 0;
}

void
bs_client_close (BsClient *c)
{
  gboolean was_up = c->state == BS_CLIENT_UP;

  bs_timer_stop (&c->timer);
  if (c->watch.fd >= 0)
    {
      /* A reset, not a FIN: no TIME_WAIT sockets left behind, whose memory would drift
       * out of the kernel's figures in the next phase. */
      struct linger abort_on_close = { 1, 0 };

      setsockopt (c->watch.fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    }
  client_drop (c);
  if (c->credentials != NULL)
    {
      gnutls_certificate_free_credentials (c->credentials);
      c->credentials = NULL;
    }
  g_clear_pointer (&c->error_code, g_free);
  c->backoff_ms = 0;
  if (c->state != BS_CLIENT_IDLE)
    {
      c->state = BS_CLIENT_IDLE;
      if (c->ops->ended != NULL)
        c->ops->ended (c, BS_END_CLOSED, was_up);
    }
}

static void
client_end (BsClient *c,
            BsEnd     why)
{
  gboolean was_up = c->state == BS_CLIENT_UP;

  client_drop (c);
  bs_timer_stop (&c->timer);
  if (was_up)
    why = BS_END_LOST;
  if (c->retry)
    {
      gint64 wait_ms = bs_backoff_next_ms (&c->backoff_ms);

      c->state = BS_CLIENT_WAITING;
      bs_timer_start (&c->timer, bs_now_us () + 1000 * wait_ms);
    }
  else
    c->state = BS_CLIENT_IDLE;
  if (c->ops->ended != NULL)
    c->ops->ended (c, why, was_up);
}

static void
client_timer (BsTimer *timer)
{
  BsClient *c = CLIENT_OF_TIMER (timer);

  if (c->state == BS_CLIENT_WAITING)
    bs_client_start (c, &c->target, c->register_mode);
  else if (c->state != BS_CLIENT_UP && c->state != BS_CLIENT_IDLE)
    client_end (c, BS_END_TIMEOUT);
}

void
bs_client_start (BsClient                 *c,
                 const struct sockaddr_in *target,
                 gboolean                  register_mode)
{
  int one = 1;
  int fd;

  if (c->ops->attempt != NULL)
    c->ops->attempt (c);
  client_drop (c);
  c->target = *target;
  c->register_mode = register_mode;
  g_clear_pointer (&c->error_code, g_free);
  c->state = BS_CLIENT_CONNECTING;
  bs_timer_start (&c->timer, bs_now_us () + 1000 * (gint64) bs_attempt_timeout_ms);

  fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    bs_die ("socket: %s (out of descriptors?)", g_strerror (errno));
  c->watch.fd = fd;
  /* The port is picked at connect(), per destination: many clients share a source
   * address without running out of ports. */
  setsockopt (fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (bind (fd, (struct sockaddr *) &c->source, sizeof c->source) != 0)
    bs_die ("bind: %s", g_strerror (errno));
  if (connect (fd, (struct sockaddr *) &c->target, sizeof c->target) != 0 &&
      errno != EINPROGRESS)
    {
      client_end (c, BS_END_TCP);
      return;
    }
  bs_watch_set (&c->watch, EPOLLOUT);
}

static void
client_connected (BsClient *c)
{
  int err = 0;
  socklen_t len = sizeof err;
  int ret;

  if (getsockopt (c->watch.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
    {
      client_end (c, BS_END_TCP);
      return;
    }
  if (c->credentials == NULL)
    {
      gnutls_datum_t pem = { (unsigned char *) c->pem, c->pem_length };

      gnutls_certificate_allocate_credentials (&c->credentials);
      ret = gnutls_certificate_set_x509_key_mem2 (c->credentials, &pem, &pem,
                                                  GNUTLS_X509_FMT_PEM, NULL, 0);
      if (ret < 0)
        bs_die ("client %u: its identity does not load: %s", c->index, gnutls_strerror (ret));
    }
  gnutls_init (&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
  gnutls_set_default_priority (c->tls);
  gnutls_credentials_set (c->tls, GNUTLS_CRD_CERTIFICATE, c->credentials);
  gnutls_transport_set_ptr (c->tls, c);
  gnutls_transport_set_pull_function (c->tls, client_pull);
  gnutls_transport_set_push_function (c->tls, client_push);
  c->heard = FALSE;
  c->state = BS_CLIENT_HANDSHAKE;
  client_step_handshake (c);
}

/* GnuTLS's transport, so that we know whether the peer ever answered: an attempt that
 * ends before a byte came back was refused at TCP, after that in the TLS handshake. */
static ssize_t
client_pull (gnutls_transport_ptr_t  ptr,
             void                   *data,
             size_t                  size)
{
  BsClient *c = ptr;
  ssize_t n = recv (c->watch.fd, data, size, 0);

  if (n > 0)
    c->heard = TRUE;
  else if (n < 0)
    gnutls_transport_set_errno (c->tls, errno);
  return n;
}

static ssize_t
client_push (gnutls_transport_ptr_t  ptr,
             const void             *data,
             size_t                  size)
{
  BsClient *c = ptr;
  ssize_t n = send (c->watch.fd, data, size, MSG_NOSIGNAL);

  if (n < 0)
    gnutls_transport_set_errno (c->tls, errno);
  return n;
}

static BsEnd
handshake_end_reason (BsClient *c)
{
  return c->heard ? BS_END_HANDSHAKE : BS_END_TCP;
}

static void
client_flush (BsClient *c)
{
  while (c->out != NULL && c->out->len > 0)
    {
      gsize n = c->sending ? c->sending : MIN (c->out->len, 16384);
      ssize_t ret = c->sending ? gnutls_record_send (c->tls, NULL, 0)
                               : gnutls_record_send (c->tls, c->out->data, n);

      if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
        {
          c->sending = n;
          bs_watch_set (&c->watch, EPOLLIN | EPOLLOUT);
          return;
        }
      if (ret < 0)
        {
          client_end (c, BS_END_LOST);
          return;
        }
      c->sending = 0;
      g_byte_array_remove_range (c->out, 0, MIN ((gsize) ret, c->out->len));
    }
  g_clear_pointer (&c->out, g_byte_array_unref);
  bs_watch_set (&c->watch, EPOLLIN);
}

void
bs_client_send (BsClient   *c,
                WzpMessage *message)
{
  g_autoptr(GBytes) payload = _wzp_message_encode (message);
  gsize length;
  const guint8 *data = g_bytes_get_data (payload, &length);
  guint8 header[4] = { length >> 24, length >> 16, length >> 8, length };

  if (c->tls == NULL || c->state < BS_CLIENT_REGISTERING)
    return;
  if (c->out == NULL)
    c->out = g_byte_array_sized_new (length + 4);
  g_byte_array_append (c->out, header, 4);
  g_byte_array_append (c->out, data, length);
  if (c->sending == 0)
    client_flush (c);
}

static void
client_handshake_done (BsClient *c)
{
  bs_watch_set (&c->watch, EPOLLIN);
  if (!c->register_mode)
    {
      bs_timer_stop (&c->timer);
      c->state = BS_CLIENT_UP;
      c->backoff_ms = 0;
      if (c->ops->up != NULL)
        c->ops->up (c);
      return;
    }
  {
    g_autoptr(WzpMessage) presence = _wzp_message_new (WZP_MESSAGE_REGISTER_PRESENCE);

    c->state = BS_CLIENT_REGISTERING;
    _wzp_message_set_string (presence, "alias", "scale bench");
    _wzp_message_set_string (presence, "client_version", "bench-relay-scale");
    bs_client_send (c, presence);
  }
}

static void
client_step_handshake (BsClient *c)
{
  for (;;)
    {
      int ret = gnutls_handshake (c->tls);

      if (ret == 0)
        {
          client_handshake_done (c);
          return;
        }
      if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
        {
          bs_watch_set (&c->watch, gnutls_record_get_direction (c->tls) ? EPOLLOUT : EPOLLIN);
          return;
        }
      if (gnutls_error_is_fatal (ret))
        {
          client_end (c, handshake_end_reason (c));
          return;
        }
    }
}

/* Returns FALSE when the client ended. */
static gboolean
client_frame (BsClient     *c,
              const guint8 *data,
              gsize         length)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpMessage) m = _wzp_message_decode ((const char *) data, length, &error);

  if (m == NULL)
    {
      fprintf (stderr, "# client %u: a frame that does not parse: %s\n", c->index,
               error->message);
      return TRUE;
    }
  switch (_wzp_message_get_message_type (m))
    {
    case WZP_MESSAGE_PING:
      {
        g_autoptr(WzpMessage) pong = _wzp_message_new (WZP_MESSAGE_PONG);

        _wzp_message_set_int (pong, "timestamp_ms", _wzp_message_get_int (m, "timestamp_ms"));
        bs_client_send (c, pong);
        return c->tls != NULL;
      }
    case WZP_MESSAGE_REGISTER_PRESENCE_ACK:
      if (c->state != BS_CLIENT_REGISTERING)
        return TRUE;
      if (!_wzp_message_get_bool (m, "success"))
        {
          g_free (c->error_code);
          c->error_code = g_strdup (_wzp_message_get_string (m, "error"));
          client_end (c, BS_END_REFUSED);
          return FALSE;
        }
      bs_timer_stop (&c->timer);
      c->state = BS_CLIENT_UP;
      c->backoff_ms = 0;
      if (c->ops->up != NULL)
        c->ops->up (c);
      return c->tls != NULL;
    case WZP_MESSAGE_ERROR:
      g_free (c->error_code);
      c->error_code = g_strdup (_wzp_message_get_string (m, "code"));
      if (c->state == BS_CLIENT_REGISTERING)
        {
          client_end (c, BS_END_REFUSED);
          return FALSE;
        }
      break;
    default:
      break;
    }
  if (c->ops->message != NULL)
    c->ops->message (c, m);
  return c->tls != NULL;
}

static void
client_readable (BsClient *c)
{
  guint8 buf[8192];

  for (;;)
    {
      ssize_t n = gnutls_record_recv (c->tls, buf, sizeof buf);
      const guint8 *p;
      gsize have;

      if (n == GNUTLS_E_AGAIN)
        return;
      if (n == GNUTLS_E_INTERRUPTED || (n < 0 && !gnutls_error_is_fatal (n)))
        continue;
      if (n <= 0)
        {
          client_end (c, c->state == BS_CLIENT_REGISTERING ? BS_END_HANDSHAKE : BS_END_LOST);
          return;
        }
      if (c->state != BS_CLIENT_REGISTERING && c->state != BS_CLIENT_UP)
        return;
      if (!c->register_mode)
        continue;   /* nginx: whatever comes is not ours to read */

      /* Frames: a partial one waits in c->in. */
      if (c->in != NULL)
        {
          g_byte_array_append (c->in, buf, n);
          p = c->in->data;
          have = c->in->len;
        }
      else
        {
          p = buf;
          have = n;
        }
      while (have >= 4)
        {
          gsize length = ((gsize) p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3];

          if (length > MAX_FRAME)
            {
              client_end (c, BS_END_LOST);
              return;
            }
          if (have < 4 + length)
            break;
          if (!client_frame (c, p + 4, length))
            return;
          p += 4 + length;
          have -= 4 + length;
        }
      if (have == 0)
        g_clear_pointer (&c->in, g_byte_array_unref);
      else if (c->in == NULL)
        {
          c->in = g_byte_array_sized_new (have);
          g_byte_array_append (c->in, p, have);
        }
      else if (p != c->in->data)
        g_byte_array_remove_range (c->in, 0, p - c->in->data);
    }
}

static void
client_io (BsWatch  *watch,
           uint32_t  events)
{
  BsClient *c = CLIENT_OF_WATCH (watch);

  switch (c->state)
    {
    case BS_CLIENT_CONNECTING:
      client_connected (c);
      break;
    case BS_CLIENT_HANDSHAKE:
      client_step_handshake (c);
      break;
    case BS_CLIENT_REGISTERING:
    case BS_CLIENT_UP:
      if ((events & EPOLLOUT) && c->out != NULL)
        {
          client_flush (c);
          if (c->tls == NULL)
            return;
        }
      if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        client_readable (c);
      break;
    default:
      break;
    }
}

/* /proc */

gint64
bs_proc_ticks (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *text = NULL;
  const char *p;
  unsigned long utime = 0, stime = 0;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (p = strrchr (text, ')')) == NULL)
    return 0;
  if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
    return 0;
  return (gint64) (utime + stime);
}

static gint64
key_value (const char *text,
           const char *key)
{
  g_autofree char *needle = g_strdup_printf ("\n%s:", key);
  const char *p;

  if (text == NULL)
    return -1;
  if (g_str_has_prefix (text, needle + 1))
    p = text + strlen (needle + 1);
  else if ((p = strstr (text, needle)) != NULL)
    p += strlen (needle);
  else
    return -1;
  return g_ascii_strtoll (p, NULL, 10);
}

gint64
bs_proc_status_kib (pid_t       pid,
                    const char *key)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *text = NULL;

  g_file_get_contents (path, &text, NULL, NULL);
  return key_value (text, key);
}

gint64
bs_proc_count_fds (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  gint64 n = 0;

  if (dir == NULL)
    return -1;
  while (g_dir_read_name (dir) != NULL)
    n++;
  /* Reading our own table counts the directory's descriptor too. */
  return pid == getpid () ? n - 1 : n;
}

gint64
bs_meminfo_kib (const char *key)
{
  g_autofree char *text = NULL;

  g_file_get_contents ("/proc/meminfo", &text, NULL, NULL);
  return key_value (text, key);
}

gint64
bs_sockstat_tcp_mem_pages (void)
{
  g_autofree char *text = NULL;
  const char *p;

  if (!g_file_get_contents ("/proc/net/sockstat", &text, NULL, NULL) ||
      (p = strstr (text, "\nTCP:")) == NULL || (p = strstr (p, " mem ")) == NULL)
    return -1;
  return g_ascii_strtoll (p + 5, NULL, 10);
}

gint64
bs_core_busy_ticks (int cpu)
{
  g_autofree char *text = NULL;
  g_autofree char *prefix = g_strdup_printf ("\ncpu%d ", cpu);
  const char *line;
  unsigned long long v[8] = { 0 };

  if (!g_file_get_contents ("/proc/stat", &text, NULL, NULL) ||
      (line = strstr (text, prefix)) == NULL)
    return 0;
  /* user nice system idle iowait irq softirq steal */
  sscanf (line + strlen (prefix), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
          &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
  return (gint64) (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
}

/* The line channel */

void
bs_chan_write_line (int         fd,
                    const char *format,
                    ...)
{
  va_list args;
  g_autofree char *body = NULL;
  g_autofree char *line = NULL;
  gsize off = 0, len;

  va_start (args, format);
  body = g_strdup_vprintf (format, args);
  va_end (args);
  line = g_strconcat (body, "\n", NULL);
  len = strlen (line);
  while (off < len)
    {
      ssize_t n = write (fd, line + off, len - off);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          g_usleep (1000);
          continue;
        }
      if (n <= 0)
        bs_die ("the control channel is gone: %s", g_strerror (errno));
      off += n;
    }
}

char *
bs_chan_read_line (int fd)
{
  GString *line = g_string_new (NULL);

  for (;;)
    {
      char c;
      ssize_t n = read (fd, &c, 1);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_string_free (line, TRUE);
          return NULL;
        }
      if (c == '\n')
        return g_string_free (line, FALSE);
      g_string_append_c (line, c);
    }
}
