/* bench-scale.h: what the relay-at-scale benchmark's processes share (bench/README.md,
 * "Relay at scale"): one epoll loop with timers per process, the cached client identities,
 * a relay client on non-blocking GnuTLS, and /proc readings
 *
 * The load generator holds thousands of connections in one thread, so nothing here is
 * O(connections) per event: a watch per connection, timers in a binary heap.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#include <glib.h>
#include <gnutls/gnutls.h>

#include "wzp-message-private.h"

G_BEGIN_DECLS

gint64 bs_now_us (void);
void   bs_die    (const char *format,
                  ...) G_GNUC_NORETURN G_GNUC_PRINTF (1, 2);
void   bs_pin_to_cpu (int cpu);

/* The loop: one per process. */

typedef struct BsWatch BsWatch;
typedef void (*BsWatchFunc) (BsWatch  *watch,
                             uint32_t  events);
struct BsWatch
{
  int         fd;       /* -1 when closed: events still queued for it are dropped */
  uint32_t    events;   /* what epoll was last told */
  gboolean    added;
  BsWatchFunc func;
};

typedef struct BsTimer BsTimer;
typedef void (*BsTimerFunc) (BsTimer *timer);
struct BsTimer
{
  gint64      when_us;
  int         heap_index;   /* -1 when not running; 0 in a zeroed timer means "not yet
                             * initialised": call bs_timer_init */
  BsTimerFunc func;
};

void     bs_loop_init    (void);
/* Sets what @watch waits for (0: nothing, but it stays registered). */
void     bs_watch_set    (BsWatch  *watch,
                          uint32_t  events);
/* Unregisters @watch and closes its descriptor. */
void     bs_watch_close  (BsWatch  *watch);
void     bs_timer_init   (BsTimer     *timer,
                          BsTimerFunc  func);
void     bs_timer_start  (BsTimer *timer,
                          gint64   when_us);
void     bs_timer_stop   (BsTimer *timer);
/* Waits for events until @deadline_us (or the next timer) and dispatches them. */
void     bs_loop_iterate (gint64 deadline_us);
/* Runs the loop for @ms. */
void     bs_spin_ms      (guint ms);

/* Identities: a key and a self-signed certificate each, as the library makes them
 * (_wzp_tls_generate_pem), cached in a file so that reruns start at once. */

typedef struct BsIds BsIds;

BsIds      *bs_ids_load  (const char  *path,
                          guint        needed,
                          gboolean     may_generate);
guint       bs_ids_count (BsIds       *ids);
const char *bs_ids_pem   (BsIds       *ids,
                          guint        index,
                          gsize       *length);
/* The fingerprint (as the relay computes it) of identity @index. */
char       *bs_ids_fingerprint (BsIds *ids,
                                guint  index);

/* Where client @index connects from: 127.1.x.y, @per_address clients on each address. */
void bs_client_source (guint               index,
                       guint               per_address,
                       struct sockaddr_in *out);
/* The address of the @n-th extra client or attacker of @group (2: probes, 3: attackers,
 * 4: real clients during an attack): 127.@group.0.1 + n. */
void bs_extra_source  (guint               group,
                       guint               n,
                       struct sockaddr_in *out);
gboolean bs_parse_address (const char         *text,
                           struct sockaddr_in *out);

/* A client connection: TCP from its own source address, TLS with its own certificate
 * (GnuTLS, non-blocking), then, in relay mode, RegisterPresence; afterwards it answers the
 * relay's Pings. In TLS-only mode (nginx) it is up once the handshake is done. */

typedef enum
{
  BS_CLIENT_IDLE,
  BS_CLIENT_CONNECTING,
  BS_CLIENT_HANDSHAKE,
  BS_CLIENT_REGISTERING,
  BS_CLIENT_UP,
  BS_CLIENT_WAITING,      /* for its next attempt */
} BsClientState;

/* Why an attempt or a connection ended. */
typedef enum
{
  BS_END_TCP,             /* refused or reset before TLS: connect failed, or closed at once */
  BS_END_HANDSHAKE,       /* closed, reset or a TLS alert during the handshake */
  BS_END_REFUSED,         /* the relay answered with an Error before the registration */
  BS_END_TIMEOUT,         /* the attempt took longer than its deadline */
  BS_END_LOST,            /* the connection ended after it was up */
  BS_END_CLOSED,          /* we closed it (bs_client_close) */
} BsEnd;

typedef struct BsClient BsClient;

typedef struct
{
  /* An attempt starts (the first, or one after a wait); may be NULL. */
  void (*attempt) (BsClient   *client);
  void (*up)      (BsClient   *client);
  void (*ended)   (BsClient   *client,
                   BsEnd       why,
                   gboolean    was_up);
  /* Messages other than Ping and the registration's answer; may be NULL. */
  void (*message) (BsClient   *client,
                   WzpMessage *message);
} BsClientOps;

struct BsClient
{
  BsWatch            watch;
  BsTimer            timer;      /* the attempt's deadline, or the wait before the next */
  const BsClientOps *ops;
  gpointer           user_data;
  guint              index;
  guint8             state;
  gboolean           register_mode;
  gboolean           retry;      /* reconnect after an end, with the client's backoff */
  gboolean           in_window;  /* generator: counted in the ramp's window */
  gboolean           heard;      /* the peer sent a byte in this attempt */
  guint              backoff_ms;
  struct sockaddr_in source;
  struct sockaddr_in target;
  const char        *pem;        /* borrowed: the identity's key and certificate */
  gsize              pem_length;
  gnutls_certificate_credentials_t credentials;
  gnutls_session_t   tls;
  GByteArray        *in;         /* a partial frame, or NULL */
  GByteArray        *out;        /* frames not yet taken by GnuTLS, or NULL */
  gsize              sending;    /* bytes of a gnutls_record_send to repeat, or 0 */
  char              *error_code; /* the last Error's code, or NULL */
};

/* The longest a connection attempt may take, up to the registration's answer. The wzp client
 * has no such deadline (only TCP's and the relay's handshake-timeout end an attempt); the
 * benchmark has one, long enough never to cut a live attempt short, so that it cannot hang
 * on a relay that stopped answering. */
extern guint bs_attempt_timeout_ms;

void bs_client_init  (BsClient          *client,
                      const BsClientOps *ops,
                      gpointer           user_data,
                      const char        *pem,
                      gsize              pem_length,
                      const struct sockaddr_in *source);
/* Starts an attempt to @target now (the backoff state is kept). */
void bs_client_start (BsClient                 *client,
                      const struct sockaddr_in *target,
                      gboolean                  register_mode);
/* Closes the connection (no reconnection) and frees its TLS state; can start again. */
void bs_client_close (BsClient *client);
void bs_client_send  (BsClient   *client,
                      WzpMessage *message);

/* What the wzp client waits after its @n-th failure in a row (n >= 1): 250 ms doubling
 * to 10 s, times a uniform random factor in [0.5, 1.5) (libwzp-glib/client/wzp-client.c). */
guint bs_backoff_next_ms (guint *backoff_ms);

/* /proc */

gint64 bs_proc_ticks     (pid_t       pid);    /* utime + stime, clock ticks */
gint64 bs_proc_status_kib (pid_t      pid,
                           const char *key);   /* "VmRSS" and so on; -1 if unknown */
gint64 bs_proc_count_fds (pid_t       pid);    /* open descriptors; -1 if unknown */
gint64 bs_sockstat_tcp_mem_pages (void);
gint64 bs_core_busy_ticks (int cpu);           /* all that ran on @cpu, clock ticks */
gint64 bs_meminfo_kib    (const char *key);

/* A line protocol between the benchmark and its generators, on a socket pair. */
void   bs_chan_write_line (int         fd,
                           const char *format,
                           ...) G_GNUC_PRINTF (2, 3);
/* Blocks for one line (without its newline); NULL at end of file. */
char  *bs_chan_read_line  (int         fd);

G_END_DECLS
