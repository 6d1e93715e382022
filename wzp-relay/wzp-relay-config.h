/* wzp-relay-config.h: the relay's key file, turned into WzpRelay properties
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <wzp-glib.h>

G_BEGIN_DECLS

#define WZP_RELAY_CONFIG_ERROR (wzp_relay_config_error_quark ())

typedef enum {
  WZP_RELAY_CONFIG_ERROR_UNKNOWN_GROUP,
  WZP_RELAY_CONFIG_ERROR_UNKNOWN_KEY,
  WZP_RELAY_CONFIG_ERROR_READ_ONLY,
  WZP_RELAY_CONFIG_ERROR_INVALID_VALUE,
} WzpRelayConfigError;

GQuark wzp_relay_config_error_quark (void);

/* What a configuration file says. Every message in an error names the file, the group
 * and the key, so an operator can fix it without reading the source. */
typedef struct
{
  char      *path;         /* the file read, NULL before wzp_relay_config_load() */
  GStrv      listen;       /* [relay] listen, NULL when absent */
  GStrv      pipe_listen;  /* [relay] pipe-listen, NULL when absent */
  char      *identity;     /* [relay] identity, NULL when absent */
  GStrv      peers;        /* [federation] peers, NULL when absent */
  GArray    *properties;   /* of WzpRelayConfigProperty, in file order */
  GPtrArray *warnings;     /* of char *: keys accepted that do nothing (retired ones),
                            * each naming the file, the group and the key */
} WzpRelayConfig;

typedef struct
{
  GParamSpec *pspec;
  GValue      value;
} WzpRelayConfigProperty;

WzpRelayConfig *wzp_relay_config_new           (void);
void            wzp_relay_config_free          (WzpRelayConfig  *self);
gboolean        wzp_relay_config_load          (WzpRelayConfig  *self,
                                                const char      *path,
                                                GError         **error);
gboolean        wzp_relay_config_load_key_file (WzpRelayConfig  *self,
                                                GKeyFile        *key_file,
                                                const char      *name,
                                                GError         **error);
void            wzp_relay_config_apply         (WzpRelayConfig  *self,
                                                WzpRelay        *relay);

gboolean        wzp_relay_config_check_relay_uri (const char    *uri,
                                                  GError       **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WzpRelayConfig, wzp_relay_config_free)

G_END_DECLS
