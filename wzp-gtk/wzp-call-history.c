/* wzp-call-history.c: recent calls, newest first
 *
 * Stored as JSON in $XDG_DATA_HOME/wzp/recent-calls.json:
 *   { "version": 1, "calls": [ { "fingerprint": "…", "alias": "…", "incoming": true,
 *     "outcome": "missed", "start": 1700000000, "duration": 0, "path": "relay" } ] }
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "wzp-call-history.h"
#include "wzp-gtk-util.h"

#define MAX_RECORDS 100

struct _WzpCallRecord
{
  GObject         parent_instance;
  char           *fingerprint;
  char           *alias;
  gboolean        incoming;
  WzpCallOutcome  outcome;
  gint64          start;
  gint64          duration;
  WzpPathKind     path_kind;
};

G_DEFINE_FINAL_TYPE (WzpCallRecord, wzp_call_record, G_TYPE_OBJECT)

static const char * const outcome_names[] = {
  [WZP_CALL_OUTCOME_ANSWERED] = "answered",
  [WZP_CALL_OUTCOME_MISSED] = "missed",
  [WZP_CALL_OUTCOME_DECLINED] = "declined",
  [WZP_CALL_OUTCOME_FAILED] = "failed",
  [WZP_CALL_OUTCOME_CANCELLED] = "cancelled",
  [WZP_CALL_OUTCOME_NO_ANSWER] = "no-answer",
  [WZP_CALL_OUTCOME_BUSY] = "busy",
  [WZP_CALL_OUTCOME_UNREACHABLE] = "unreachable",
};

static const char * const path_names[] = {
  [WZP_PATH_KIND_NONE] = "none",
  [WZP_PATH_KIND_DIRECT_LAN] = "direct-lan",
  [WZP_PATH_KIND_DIRECT_INTERNET] = "direct-internet",
  [WZP_PATH_KIND_RELAY] = "relay",
};

static void
wzp_call_record_finalize (GObject *object)
{
  WzpCallRecord *self = WZP_CALL_RECORD (object);

  g_free (self->fingerprint);
  g_free (self->alias);

  G_OBJECT_CLASS (wzp_call_record_parent_class)->finalize (object);
}

static void
wzp_call_record_class_init (WzpCallRecordClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = wzp_call_record_finalize;
}

static void
wzp_call_record_init (WzpCallRecord *self)
{
}

WzpCallRecord *
wzp_call_record_new (const char     *fingerprint,
                     const char     *alias,
                     gboolean        incoming,
                     WzpCallOutcome  outcome,
                     gint64          start_unix,
                     gint64          duration_s,
                     WzpPathKind     path_kind)
{
  WzpCallRecord *self = g_object_new (WZP_TYPE_CALL_RECORD, NULL);

  self->fingerprint = g_strdup (fingerprint);
  self->alias = (alias != NULL && *alias != '\0') ? g_strdup (alias) : NULL;
  self->incoming = incoming;
  self->outcome = outcome;
  self->start = start_unix;
  self->duration = duration_s;
  self->path_kind = path_kind;
  return self;
}

const char *
wzp_call_record_get_fingerprint (WzpCallRecord *self)
{
  return self->fingerprint;
}

const char *
wzp_call_record_get_alias (WzpCallRecord *self)
{
  return self->alias;
}

gboolean
wzp_call_record_get_incoming (WzpCallRecord *self)
{
  return self->incoming;
}

WzpCallOutcome
wzp_call_record_get_outcome (WzpCallRecord *self)
{
  return self->outcome;
}

gint64
wzp_call_record_get_start (WzpCallRecord *self)
{
  return self->start;
}

gint64
wzp_call_record_get_duration (WzpCallRecord *self)
{
  return self->duration;
}

WzpPathKind
wzp_call_record_get_path_kind (WzpCallRecord *self)
{
  return self->path_kind;
}

static char *
format_when (gint64 start)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (start);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();

  if (when == NULL)
    return g_strdup ("");
  if (g_date_time_get_year (when) == g_date_time_get_year (now) &&
      g_date_time_get_day_of_year (when) == g_date_time_get_day_of_year (now))
    return g_date_time_format (when, "%R");
  /* Translators: a date and time in the list of recent calls; see strftime(3). */
  /* xgettext:no-c-format */
  return g_date_time_format (when, _("%e %b, %R"));
}

/* "Incoming · Missed · 14:02", for the list of recent calls. */
char *
wzp_call_record_describe (WzpCallRecord *self)
{
  g_autofree char *when = format_when (self->start);
  const char *direction = self->incoming ? _("Incoming") : _("Outgoing");
  g_autofree char *what = NULL;

  switch (self->outcome)
    {
    case WZP_CALL_OUTCOME_ANSWERED:
      {
        g_autofree char *duration = wzp_format_duration (self->duration);
        const char *path = wzp_path_kind_label (self->path_kind);

        what = path != NULL ? g_strdup_printf ("%s · %s", duration, path)
                            : g_steal_pointer (&duration);
      }
      break;
    case WZP_CALL_OUTCOME_MISSED:
      what = g_strdup (_("Missed"));
      break;
    case WZP_CALL_OUTCOME_DECLINED:
      what = g_strdup (_("Declined"));
      break;
    case WZP_CALL_OUTCOME_CANCELLED:
      what = g_strdup (_("Cancelled"));
      break;
    case WZP_CALL_OUTCOME_NO_ANSWER:
      what = g_strdup (_("No answer"));
      break;
    case WZP_CALL_OUTCOME_BUSY:
      what = g_strdup (_("Busy"));
      break;
    case WZP_CALL_OUTCOME_UNREACHABLE:
      what = g_strdup (_("Not reachable"));
      break;
    case WZP_CALL_OUTCOME_FAILED:
    default:
      what = g_strdup (_("Failed"));
      break;
    }
  return g_strdup_printf ("%s · %s · %s", direction, what, when);
}

/* The history */

struct _WzpCallHistory
{
  GObject     parent_instance;
  WzpJsonFile file;
  GListStore *store;         /* WzpCallRecord, newest first */
  char       *damaged_path;  /* where a damaged file was put aside, or NULL */
};

G_DEFINE_FINAL_TYPE (WzpCallHistory, wzp_call_history, G_TYPE_OBJECT)

static JsonNode *
wzp_call_history_serialize (GObject *owner)
{
  WzpCallHistory *self = (WzpCallHistory *) owner;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  unsigned n = g_list_model_get_n_items (G_LIST_MODEL (self->store));

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, 1);
  json_builder_set_member_name (builder, "calls");
  json_builder_begin_array (builder);
  for (unsigned i = 0; i < n; i++)
    {
      g_autoptr(WzpCallRecord) record = g_list_model_get_item (G_LIST_MODEL (self->store), i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "fingerprint");
      json_builder_add_string_value (builder, record->fingerprint);
      if (record->alias != NULL)
        {
          json_builder_set_member_name (builder, "alias");
          json_builder_add_string_value (builder, record->alias);
        }
      json_builder_set_member_name (builder, "incoming");
      json_builder_add_boolean_value (builder, record->incoming);
      json_builder_set_member_name (builder, "outcome");
      json_builder_add_string_value (builder, outcome_names[record->outcome]);
      json_builder_set_member_name (builder, "start");
      json_builder_add_int_value (builder, record->start);
      json_builder_set_member_name (builder, "duration");
      json_builder_add_int_value (builder, record->duration);
      json_builder_set_member_name (builder, "path");
      json_builder_add_string_value (builder, path_names[record->path_kind]);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

static void
wzp_call_history_save (WzpCallHistory *self)
{
  wzp_json_file_save (&self->file, G_OBJECT (self));
}

static void
wzp_call_history_finalize (GObject *object)
{
  WzpCallHistory *self = WZP_CALL_HISTORY (object);

  g_free (self->file.path);
  g_free (self->damaged_path);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (wzp_call_history_parent_class)->finalize (object);
}

static void
wzp_call_history_class_init (WzpCallHistoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = wzp_call_history_finalize;
}

static void
wzp_call_history_init (WzpCallHistory *self)
{
  self->store = g_list_store_new (WZP_TYPE_CALL_RECORD);
}

WzpCallHistory *
wzp_call_history_new (const char *path)
{
  WzpCallHistory *self = g_object_new (WZP_TYPE_CALL_HISTORY, NULL);

  self->file.path = g_strdup (path);
  self->file.serialize = wzp_call_history_serialize;
  return self;
}

char *
wzp_call_history_get_default_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "wzp", "recent-calls.json", NULL);
}

static int
index_of (const char * const *names,
          unsigned            n_names,
          const char         *name)
{
  for (unsigned i = 0; i < n_names; i++)
    if (g_strcmp0 (names[i], name) == 0)
      return (int) i;
  return -1;
}

/* The file is damaged: keep it aside (never overwrite it) and say where it went. */
static gboolean
set_aside (WzpCallHistory  *self,
           GError         **error)
{
  g_autoptr(GError) move_error = NULL;
  g_autofree char *aside = wzp_json_set_aside (self->file.path, &move_error);

  if (aside == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("The list of recent calls %s is damaged and could not be renamed (%s). "
                     "New calls will not be saved."),
                   self->file.path, move_error->message);
      g_clear_pointer (&self->file.path, g_free);
      return FALSE;
    }
  g_free (self->damaged_path);
  self->damaged_path = g_steal_pointer (&aside);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               _("The list of recent calls was damaged. It was kept as %s; the calls that "
                 "could be read are shown."), self->damaged_path);
  return FALSE;
}

/**
 * wzp_call_history_load:
 *
 * Reads the file. A damaged file is renamed to recent-calls.json.damaged-DATE and
 * reported in @error; what could be read is loaded, and the next save writes a new file.
 *
 * Returns: %FALSE with @error set when the file was damaged or unreadable
 */
gboolean
wzp_call_history_load (WzpCallHistory  *self,
                       GError         **error)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonArray *array;
  gboolean damaged = FALSE;

  g_return_val_if_fail (WZP_IS_CALL_HISTORY (self), FALSE);

  if (self->file.path == NULL)
    return TRUE;

  root = wzp_json_load (self->file.path, &local_error);
  if (root == NULL && local_error == NULL)
    return TRUE;
  if (root == NULL && local_error->domain != JSON_PARSER_ERROR)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("The list of recent calls %s could not be read (%s). New calls will not "
                     "be saved."), self->file.path, local_error->message);
      g_clear_pointer (&self->file.path, g_free);
      return FALSE;
    }

  g_list_store_remove_all (self->store);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      !json_object_has_member (json_node_get_object (root), "calls") ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (json_node_get_object (root), "calls")))
    return set_aside (self, error);

  array = json_object_get_array_member (json_node_get_object (root), "calls");
  for (unsigned i = 0; i < json_array_get_length (array) && i < MAX_RECORDS; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      g_autoptr(WzpCallRecord) record = NULL;
      JsonObject *object;
      const char *fingerprint;
      int outcome;
      int path;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          damaged = TRUE;
          continue;
        }
      object = json_node_get_object (node);
      fingerprint = json_object_get_string_member_with_default (object, "fingerprint", NULL);
      if (fingerprint == NULL || !wzp_fingerprint_is_valid (fingerprint))
        {
          damaged = TRUE;
          continue;
        }
      outcome = index_of (outcome_names, G_N_ELEMENTS (outcome_names),
                          json_object_get_string_member_with_default (object, "outcome", ""));
      path = index_of (path_names, G_N_ELEMENTS (path_names),
                       json_object_get_string_member_with_default (object, "path", ""));
      record = wzp_call_record_new (
        fingerprint, json_object_get_string_member_with_default (object, "alias", NULL),
        json_object_get_boolean_member_with_default (object, "incoming", FALSE),
        outcome < 0 ? WZP_CALL_OUTCOME_FAILED : (WzpCallOutcome) outcome,
        json_object_get_int_member_with_default (object, "start", 0),
        json_object_get_int_member_with_default (object, "duration", 0),
        path < 0 ? WZP_PATH_KIND_NONE : (WzpPathKind) path);
      g_list_store_append (self->store, record);
    }
  if (damaged)
    return set_aside (self, error);
  return TRUE;
}

/**
 * wzp_call_history_get_damaged_path:
 *
 * Returns: (nullable): where the last load put a damaged file aside, or %NULL
 */
const char *
wzp_call_history_get_damaged_path (WzpCallHistory *self)
{
  g_return_val_if_fail (WZP_IS_CALL_HISTORY (self), NULL);
  return self->damaged_path;
}

GListModel *
wzp_call_history_get_model (WzpCallHistory *self)
{
  g_return_val_if_fail (WZP_IS_CALL_HISTORY (self), NULL);
  return G_LIST_MODEL (self->store);
}

void
wzp_call_history_add (WzpCallHistory *self,
                      WzpCallRecord  *record)
{
  unsigned n;

  g_return_if_fail (WZP_IS_CALL_HISTORY (self));
  g_return_if_fail (WZP_IS_CALL_RECORD (record));

  g_list_store_insert (self->store, 0, record);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  if (n > MAX_RECORDS)
    g_list_store_splice (self->store, MAX_RECORDS, n - MAX_RECORDS, NULL, 0);
  wzp_call_history_save (self);
}

/**
 * wzp_call_history_clear:
 *
 * Returns: (transfer full) (element-type WzpCallRecord): the calls removed, newest first,
 *   for wzp_call_history_restore() (Undo)
 */
GPtrArray *
wzp_call_history_clear (WzpCallHistory *self)
{
  GPtrArray *removed = g_ptr_array_new_with_free_func (g_object_unref);
  unsigned n;

  g_return_val_if_fail (WZP_IS_CALL_HISTORY (self), removed);

  n = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  for (unsigned i = 0; i < n; i++)
    g_ptr_array_add (removed, g_list_model_get_item (G_LIST_MODEL (self->store), i));
  g_list_store_remove_all (self->store);
  wzp_call_history_save (self);
  return removed;
}

/**
 * wzp_call_history_restore:
 * @records: (element-type WzpCallRecord): what wzp_call_history_clear() returned
 *
 * Puts cleared calls back, after any call recorded since (they are older).
 */
void
wzp_call_history_restore (WzpCallHistory *self,
                          GPtrArray      *records)
{
  unsigned n;

  g_return_if_fail (WZP_IS_CALL_HISTORY (self));

  n = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  if (n >= MAX_RECORDS || records->len == 0)
    return;
  g_list_store_splice (self->store, n, 0, records->pdata, MIN (records->len, MAX_RECORDS - n));
  wzp_call_history_save (self);
}

/* Writes out what is still being saved, before the app quits (a call ended by quitting
 * must still be in Recent Calls next time). */
void
wzp_call_history_flush (WzpCallHistory *self)
{
  g_return_if_fail (WZP_IS_CALL_HISTORY (self));

  if (!wzp_json_file_flush (&self->file, 2000))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "MESSAGE", "Recent calls were still being saved when the app quit");
}
