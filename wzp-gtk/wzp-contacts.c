/* wzp-contacts.c: the people the user knows, by full fingerprint
 *
 * Stored as JSON in $XDG_DATA_HOME/wzp/contacts.json:
 *   { "version": 1, "contacts": [ { "name": "Alice", "fingerprint": "1a2b:…" } ] }
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <wzp-glib.h>

#include "wzp-contacts.h"
#include "wzp-gtk-util.h"

struct _WzpContact
{
  GObject  parent_instance;
  char    *name;
  char    *fingerprint;
};

G_DEFINE_FINAL_TYPE (WzpContact, wzp_contact, G_TYPE_OBJECT)

enum {
  CONTACT_PROP_0,
  CONTACT_PROP_NAME,
  CONTACT_PROP_FINGERPRINT,
  CONTACT_N_PROPS,
};
static GParamSpec *contact_properties[CONTACT_N_PROPS];

static void
wzp_contact_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  WzpContact *self = WZP_CONTACT (object);

  switch (prop_id)
    {
    case CONTACT_PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case CONTACT_PROP_FINGERPRINT:
      g_value_set_string (value, self->fingerprint);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
wzp_contact_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  WzpContact *self = WZP_CONTACT (object);

  switch (prop_id)
    {
    case CONTACT_PROP_NAME:
      self->name = g_value_dup_string (value);
      break;
    case CONTACT_PROP_FINGERPRINT:
      self->fingerprint = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
wzp_contact_finalize (GObject *object)
{
  WzpContact *self = WZP_CONTACT (object);

  g_free (self->name);
  g_free (self->fingerprint);

  G_OBJECT_CLASS (wzp_contact_parent_class)->finalize (object);
}

static void
wzp_contact_class_init (WzpContactClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = wzp_contact_get_property;
  object_class->set_property = wzp_contact_set_property;
  object_class->finalize = wzp_contact_finalize;

  contact_properties[CONTACT_PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  contact_properties[CONTACT_PROP_FINGERPRINT] =
    g_param_spec_string ("fingerprint", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, CONTACT_N_PROPS, contact_properties);
}

static void
wzp_contact_init (WzpContact *self)
{
}

WzpContact *
wzp_contact_new (const char *name,
                 const char *fingerprint)
{
  return g_object_new (WZP_TYPE_CONTACT, "name", name, "fingerprint", fingerprint, NULL);
}

const char *
wzp_contact_get_name (WzpContact *self)
{
  g_return_val_if_fail (WZP_IS_CONTACT (self), NULL);
  return self->name;
}

const char *
wzp_contact_get_fingerprint (WzpContact *self)
{
  g_return_val_if_fail (WZP_IS_CONTACT (self), NULL);
  return self->fingerprint;
}

/* The address book */

struct _WzpContacts
{
  GObject     parent_instance;
  WzpJsonFile file;
  GListStore *store;         /* WzpContact, sorted by name */
  char       *damaged_path;  /* where a damaged file was put aside, or NULL */
};

G_DEFINE_FINAL_TYPE (WzpContacts, wzp_contacts, G_TYPE_OBJECT)

static int
compare_contacts (gconstpointer a,
                  gconstpointer b,
                  gpointer      user_data)
{
  WzpContact *ca = (WzpContact *) a;
  WzpContact *cb = (WzpContact *) b;
  g_autofree char *ka = g_utf8_collate_key (ca->name, -1);
  g_autofree char *kb = g_utf8_collate_key (cb->name, -1);
  int cmp = g_strcmp0 (ka, kb);

  return cmp != 0 ? cmp : g_strcmp0 (ca->fingerprint, cb->fingerprint);
}

static JsonNode *
wzp_contacts_serialize (GObject *owner)
{
  WzpContacts *self = (WzpContacts *) owner;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  unsigned n = g_list_model_get_n_items (G_LIST_MODEL (self->store));

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, 1);
  json_builder_set_member_name (builder, "contacts");
  json_builder_begin_array (builder);
  for (unsigned i = 0; i < n; i++)
    {
      g_autoptr(WzpContact) contact = g_list_model_get_item (G_LIST_MODEL (self->store), i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, contact->name);
      json_builder_set_member_name (builder, "fingerprint");
      json_builder_add_string_value (builder, contact->fingerprint);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

static void
wzp_contacts_save (WzpContacts *self)
{
  wzp_json_file_save (&self->file, G_OBJECT (self));
}

static void
wzp_contacts_finalize (GObject *object)
{
  WzpContacts *self = WZP_CONTACTS (object);

  g_free (self->file.path);
  g_free (self->damaged_path);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (wzp_contacts_parent_class)->finalize (object);
}

static void
wzp_contacts_class_init (WzpContactsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = wzp_contacts_finalize;
}

static void
wzp_contacts_init (WzpContacts *self)
{
  self->store = g_list_store_new (WZP_TYPE_CONTACT);
}

/**
 * wzp_contacts_new:
 * @path: (nullable): the JSON file; %NULL keeps the contacts in memory only
 */
WzpContacts *
wzp_contacts_new (const char *path)
{
  WzpContacts *self = g_object_new (WZP_TYPE_CONTACTS, NULL);

  self->file.path = g_strdup (path);
  self->file.serialize = wzp_contacts_serialize;
  return self;
}

char *
wzp_contacts_get_default_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "wzp", "contacts.json", NULL);
}

/* The file is damaged: keep it aside (never overwrite it) and say where it went. */
static gboolean
set_aside (WzpContacts  *self,
           GError      **error)
{
  g_autoptr(GError) move_error = NULL;
  g_autofree char *aside = wzp_json_set_aside (self->file.path, &move_error);

  if (aside == NULL)
    {
      /* Not even renamed: save nothing, so that it stays as it is. */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("The contacts file %s is damaged and could not be renamed (%s). "
                     "Changes to the contacts will not be saved."),
                   self->file.path, move_error->message);
      g_clear_pointer (&self->file.path, g_free);
      return FALSE;
    }
  g_free (self->damaged_path);
  self->damaged_path = g_steal_pointer (&aside);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               _("The contacts file was damaged. It was kept as %s; the contacts that could "
                 "be read are shown."), self->damaged_path);
  return FALSE;
}

/**
 * wzp_contacts_load:
 *
 * Reads the file. A damaged file (not JSON, not the expected shape, or entries that are
 * not contacts) is renamed to contacts.json.damaged-DATE and reported in @error; what
 * could be read is loaded, and the next save writes a new file.
 *
 * Returns: %FALSE with @error set when the file was damaged or unreadable
 */
gboolean
wzp_contacts_load (WzpContacts  *self,
                   GError      **error)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonArray *array;
  gboolean damaged = FALSE;

  g_return_val_if_fail (WZP_IS_CONTACTS (self), FALSE);

  if (self->file.path == NULL)
    return TRUE;

  root = wzp_json_load (self->file.path, &local_error);
  if (root == NULL && local_error == NULL)
    return TRUE;   /* no contacts yet */
  if (root == NULL && local_error->domain != JSON_PARSER_ERROR)
    {
      /* Unreadable (permissions, I/O): leave it alone and save nothing over it. */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("The contacts file %s could not be read (%s). Changes to the contacts "
                     "will not be saved."), self->file.path, local_error->message);
      g_clear_pointer (&self->file.path, g_free);
      return FALSE;
    }

  g_list_store_remove_all (self->store);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      !json_object_has_member (json_node_get_object (root), "contacts") ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (json_node_get_object (root), "contacts")))
    return set_aside (self, error);

  array = json_object_get_array_member (json_node_get_object (root), "contacts");
  for (unsigned i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      g_autoptr(WzpContact) contact = NULL;
      JsonObject *object;
      const char *name;
      const char *fingerprint;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          damaged = TRUE;
          continue;
        }
      object = json_node_get_object (node);
      name = json_object_get_string_member_with_default (object, "name", NULL);
      fingerprint = json_object_get_string_member_with_default (object, "fingerprint", NULL);
      if (name == NULL || *name == '\0' || fingerprint == NULL ||
          !wzp_fingerprint_is_valid (fingerprint))
        {
          damaged = TRUE;
          continue;
        }
      if (wzp_contacts_lookup (self, fingerprint))
        continue;
      contact = wzp_contact_new (name, fingerprint);
      g_list_store_insert_sorted (self->store, contact, compare_contacts, NULL);
    }
  if (damaged)
    return set_aside (self, error);
  return TRUE;
}

/**
 * wzp_contacts_get_damaged_path:
 *
 * Returns: (nullable): where the last load put a damaged file aside, or %NULL
 */
const char *
wzp_contacts_get_damaged_path (WzpContacts *self)
{
  g_return_val_if_fail (WZP_IS_CONTACTS (self), NULL);
  return self->damaged_path;
}

GListModel *
wzp_contacts_get_model (WzpContacts *self)
{
  g_return_val_if_fail (WZP_IS_CONTACTS (self), NULL);
  return G_LIST_MODEL (self->store);
}

static gboolean
find_index (WzpContacts *self,
            const char  *fingerprint,
            unsigned    *position)
{
  unsigned n = g_list_model_get_n_items (G_LIST_MODEL (self->store));

  for (unsigned i = 0; i < n; i++)
    {
      g_autoptr(WzpContact) contact = g_list_model_get_item (G_LIST_MODEL (self->store), i);

      /* Full fingerprints only: a prefix or an alias never names anyone. */
      if (g_strcmp0 (contact->fingerprint, fingerprint) == 0)
        {
          *position = i;
          return TRUE;
        }
    }
  return FALSE;
}

/**
 * wzp_contacts_lookup:
 *
 * Returns: (transfer none) (nullable): the contact with exactly this fingerprint
 */
WzpContact *
wzp_contacts_lookup (WzpContacts *self,
                     const char  *fingerprint)
{
  g_autoptr(WzpContact) contact = NULL;
  unsigned position;

  g_return_val_if_fail (WZP_IS_CONTACTS (self), NULL);

  if (fingerprint == NULL || !find_index (self, fingerprint, &position))
    return NULL;
  contact = g_list_model_get_item (G_LIST_MODEL (self->store), position);
  return contact;  /* the store keeps it alive */
}

/* The contact's name, or "Unknown caller". */
char *
wzp_contacts_dup_display_name (WzpContacts *self,
                               const char  *fingerprint)
{
  WzpContact *contact = self != NULL ? wzp_contacts_lookup (self, fingerprint) : NULL;

  if (contact != NULL)
    return g_strdup (contact->name);
  return g_strdup (_("Unknown caller"));
}

/* Adds a contact, or renames the one with this fingerprint. */
void
wzp_contacts_add (WzpContacts *self,
                  const char  *name,
                  const char  *fingerprint)
{
  g_autoptr(WzpContact) contact = NULL;
  unsigned position;

  g_return_if_fail (WZP_IS_CONTACTS (self));
  g_return_if_fail (name != NULL && *name != '\0');
  g_return_if_fail (wzp_fingerprint_is_valid (fingerprint));

  if (find_index (self, fingerprint, &position))
    g_list_store_remove (self->store, position);
  contact = wzp_contact_new (name, fingerprint);
  g_list_store_insert_sorted (self->store, contact, compare_contacts, NULL);
  wzp_contacts_save (self);
}

void
wzp_contacts_remove (WzpContacts *self,
                     const char  *fingerprint)
{
  unsigned position;

  g_return_if_fail (WZP_IS_CONTACTS (self));

  if (!find_index (self, fingerprint, &position))
    return;
  g_list_store_remove (self->store, position);
  wzp_contacts_save (self);
}
