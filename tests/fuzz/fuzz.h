/* fuzz.h: shared by the fuzz targets (GLib's fuzzing/fuzz.h pattern)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include <gio/gio.h>

int LLVMFuzzerTestOneInput (const unsigned char *data,
                            size_t               size);

/* Debug and info output is dropped (it costs time and says nothing about a crash), but a
 * warning or critical from the code under test is a bug for input it was meant to reject:
 * it is printed and the process aborts, so libFuzzer records the input. */
G_GNUC_UNUSED static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags   log_level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

G_GNUC_UNUSED static void
fuzz_set_logging_func (void)
{
  static gboolean writer_set = FALSE;

  if (!writer_set)
    {
      g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
      writer_set = TRUE;
    }
}

/* Fails like an assertion, but also when built with G_DISABLE_ASSERT. */
#define fuzz_check(expr)                                                                  \
  G_STMT_START                                                                            \
  {                                                                                       \
    if (G_UNLIKELY (!(expr)))                                                             \
      {                                                                                   \
        fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr);         \
        abort ();                                                                         \
      }                                                                                   \
  }                                                                                       \
  G_STMT_END
