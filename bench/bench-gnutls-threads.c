/* bench-gnutls-threads.c: does GnuTLS keep memory for every thread that drew random
 * numbers? (bench/README.md, "Soak")
 *
 * GnuTLS 3.7.9 (Debian 12) keeps its per-thread random-generator state after the thread
 * exits. The clients' TLS handshakes run on GIO's thread pool, whose spare threads come
 * and go, so a process that makes many connections grows by that much per new thread.
 * This starts and joins threads that each call gnutls_rnd() and prints malloc's heap in
 * use after each thousand: flat means the leak is gone (a newer GnuTLS), a steady step
 * means it is still there, and bench-soak's --no-keep-threads will show it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

static void *
draw (void *data)
{
  char bytes[16];

  gnutls_rnd (GNUTLS_RND_NONCE, bytes, sizeof bytes);
  gnutls_rnd (GNUTLS_RND_RANDOM, bytes, sizeof bytes);
  return NULL;
}

static size_t
heap_in_use (void)
{
  struct mallinfo2 info = mallinfo2 ();

  return info.uordblks + info.hblkhd;
}

int
main (void)
{
  size_t first;

  gnutls_global_init ();
  draw (NULL);
  first = heap_in_use ();
  printf ("# GnuTLS %s: heap in use after N threads that each called gnutls_rnd()\n",
          gnutls_check_version (NULL));
  for (int round = 1; round <= 4; round++)
    {
      for (int i = 0; i < 1000; i++)
        {
          pthread_t thread;

          if (pthread_create (&thread, NULL, draw, NULL) != 0)
            return 1;
          pthread_join (thread, NULL);
        }
      printf ("%5d threads: %+8.1f KiB (%.0f bytes per thread)\n", round * 1000,
              (heap_in_use () - (double) first) / 1024,
              (heap_in_use () - (double) first) / (round * 1000));
    }
  gnutls_global_deinit ();
  return 0;
}
