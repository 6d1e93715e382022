/* bench-daemon.h: wzp-relay daemons for the benchmarks that need real relay processes
 * (bench-federation, bench-soak): identities, federation peers, ports, start and stop
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <sys/types.h>

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct BenchRelay BenchRelay;

struct BenchRelay
{
  const char  *name;
  char        *identity;     /* its key file */
  char        *fingerprint;
  guint        port;
  char        *address;      /* 127.0.0.1:PORT, once it listens */
  char        *uri;          /* wzps://127.0.0.1:PORT#FINGERPRINT */
  char        *log;          /* its standard error */
  GSubprocess *process;
  BenchRelay  *peers[4];     /* whom it federates with (NULL-terminated) */
};

/* Names @relay, creates its identity in @dir (with @bin --print-fingerprint) and sets
 * its fingerprint; FALSE with @error if the daemon cannot be run. */
gboolean bench_relay_init   (BenchRelay  *relay,
                             const char  *bin,
                             const char  *dir,
                             const char  *name,
                             GError     **error);
/* Starts @n relays on 127.0.0.1, each with @config and its peers, on ports below Linux's
 * ephemeral range chosen before any starts (each names its peers' ports). Tries other
 * ports a few times when one is taken. Each daemon gets SIGTERM if this process dies. */
gboolean bench_relays_start (BenchRelay **relays,
                             guint        n,
                             const char  *bin,
                             const char  *config,
                             GError     **error);
pid_t    bench_relay_pid    (BenchRelay  *relay);
/* Whether the daemon is still running (FALSE once it exited by itself). */
gboolean bench_relay_alive  (BenchRelay  *relay);
/* SIGTERM, then waits for the exit: the wait status (0: exited with status 0), or -1 if
 * it was not running. */
int      bench_relay_stop   (BenchRelay  *relay);
/* Removes its files and frees its strings. */
void     bench_relay_clear  (BenchRelay  *relay);

G_END_DECLS
