/* wzp-gtk-util.h: small helpers shared by the app's windows and pages
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>
#include <wzp-glib.h>

G_BEGIN_DECLS

/* What the dial entry holds while someone types or pastes a fingerprint. */
typedef enum {
  WZP_FINGERPRINT_INPUT_EMPTY,
  WZP_FINGERPRINT_INPUT_PARTIAL,   /* a valid beginning: keep typing */
  WZP_FINGERPRINT_INPUT_VALID,     /* complete; *normalized is the canonical form */
  WZP_FINGERPRINT_INPUT_INVALID,   /* cannot become a fingerprint; *hint says why */
} WzpFingerprintInput;

WzpFingerprintInput  wzp_fingerprint_input_check (const char  *text,
                                                  char       **normalized,
                                                  char       **hint);

const char          *wzp_path_kind_label         (WzpPathKind  kind);
const char          *wzp_path_kind_css_class     (WzpPathKind  kind);
char                *wzp_format_duration         (gint64       seconds);
char                *wzp_alias_label             (const char  *alias);
char                *wzp_describe_call_error     (const GError *error);
char               **wzp_split_list              (const char  *text);
char                *wzp_join_list               (const char * const *list);

/* A JSON file that an object saves in the background: atomically, mode 0600, one write at
 * a time (a save asked for during a write runs after it, with the data of then). */
typedef JsonNode *(*WzpJsonSerializeFunc) (GObject *owner);

typedef struct
{
  char                 *path;     /* NULL: nothing is saved */
  WzpJsonSerializeFunc  serialize;
  gboolean              saving;
  gboolean              dirty;
} WzpJsonFile;

void                 wzp_json_file_save          (WzpJsonFile *file,
                                                  GObject     *owner);
gboolean             wzp_json_file_flush         (WzpJsonFile *file,
                                                  unsigned     timeout_ms);
JsonNode            *wzp_json_load               (const char  *path,
                                                  GError     **error);
char                *wzp_json_set_aside          (const char  *path,
                                                  GError     **error);

G_END_DECLS
