/* wzp-contacts.h: the people the user knows, by full fingerprint
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define WZP_TYPE_CONTACT (wzp_contact_get_type ())
G_DECLARE_FINAL_TYPE (WzpContact, wzp_contact, WZP, CONTACT, GObject)

WzpContact  *wzp_contact_new             (const char  *name,
                                          const char  *fingerprint);
const char  *wzp_contact_get_name        (WzpContact  *self);
const char  *wzp_contact_get_fingerprint (WzpContact  *self);

#define WZP_TYPE_CONTACTS (wzp_contacts_get_type ())
G_DECLARE_FINAL_TYPE (WzpContacts, wzp_contacts, WZP, CONTACTS, GObject)

WzpContacts *wzp_contacts_new              (const char  *path);
char        *wzp_contacts_get_default_path (void);
gboolean     wzp_contacts_load             (WzpContacts *self,
                                            GError     **error);
const char  *wzp_contacts_get_damaged_path (WzpContacts *self);
GListModel  *wzp_contacts_get_model        (WzpContacts *self);
WzpContact  *wzp_contacts_lookup           (WzpContacts *self,
                                            const char  *fingerprint);
char        *wzp_contacts_dup_display_name (WzpContacts *self,
                                            const char  *fingerprint);
void         wzp_contacts_add              (WzpContacts *self,
                                            const char  *name,
                                            const char  *fingerprint);
void         wzp_contacts_remove           (WzpContacts *self,
                                            const char  *fingerprint);

G_END_DECLS
