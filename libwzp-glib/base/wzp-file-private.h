/* wzp-file-private.h: reading the files wzp owns, and keeping its folder private
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <sys/stat.h>

#include <gio/gio.h>

G_BEGIN_DECLS

/* WZP_FILE_FOLLOW_LINKS: for a file the administrator names (the relay's configuration,
 * which configuration management often links into /etc); never for wzp's own files. */
typedef enum {
  WZP_FILE_NONE         = 0,
  WZP_FILE_FOLLOW_LINKS = 1 << 0,
} WzpFileFlags;

gboolean _wzp_file_read_regular      (const char   *path,
                                      gsize         max_size,
                                      char        **contents,
                                      gsize        *length,
                                      GError      **error);
gboolean _wzp_file_read_regular_full (const char   *path,
                                      gsize         max_size,
                                      WzpFileFlags  flags,
                                      struct stat  *out_stat,
                                      char        **contents,
                                      gsize        *length,
                                      GError      **error);
void     _wzp_file_free_contents     (char         *contents,
                                      gsize         length);
char    *_wzp_file_get_data_dir      (void);
gboolean _wzp_file_ensure_dir        (const char   *path,
                                      GError      **error);

G_END_DECLS
