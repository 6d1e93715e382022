/* wzp-candidates.c: host candidates (docs/candidates.md, "Host candidates")
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <ifaddrs.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <gio/gio.h>
#include <nice/interfaces.h>

#include "wzp-address-private.h"
#include "wzp-candidates-private.h"

/* The classes a host candidate can have (docs/candidates.md, "The rules"): a gathered
 * candidate is never public IPv4, link-local, multicast or unspecified. */
static gboolean
peer_candidate_class_ok (GInetAddress *address,
                         gboolean      loopback_allowed)
{
  switch (_wzp_address_classify (address))
    {
    case WZP_ADDRESS_CLASS_PRIVATE:
    case WZP_ADDRESS_CLASS_CGNAT:
    case WZP_ADDRESS_CLASS_ULA:
      return TRUE;
    case WZP_ADDRESS_CLASS_GLOBAL:
      return g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6;
    case WZP_ADDRESS_CLASS_LOOPBACK:
      return loopback_allowed;
    case WZP_ADDRESS_CLASS_INVALID:
    case WZP_ADDRESS_CLASS_UNSPECIFIED:
    case WZP_ADDRESS_CLASS_LINK_LOCAL:
    case WZP_ADDRESS_CLASS_OTHER:
    default:
      return FALSE;
    }
}

GStrv
_wzp_candidates_filter_peer (const char * const *offered,
                             unsigned            max_candidates,
                             gboolean            loopback_allowed,
                             unsigned           *n_ignored_out)
{
  g_autoptr(GStrvBuilder) kept = g_strv_builder_new ();
  unsigned n_offered = 0;
  unsigned n_kept = 0;
  guint16 peer_port = 0;

  for (; offered != NULL && offered[n_offered] != NULL; n_offered++)
    {
      g_autoptr(GInetAddress) address = NULL;
      guint16 port = 0;

      if (n_offered >= max_candidates)
        continue;
      if (!_wzp_address_parse_parts (offered[n_offered], &address, &port) ||
          !peer_candidate_class_ok (address, loopback_allowed))
        continue;
      /* Every host candidate of a peer is on its one port P. */
      if (peer_port == 0)
        peer_port = port;
      else if (port != peer_port)
        continue;
      g_strv_builder_add (kept, offered[n_offered]);
      n_kept++;
    }

  if (n_ignored_out != NULL)
    *n_ignored_out = n_offered - n_kept;
  return g_strv_builder_end (kept);
}

/* ------------------------------------------------------------------------------------ */
/* Candidates and the filter                                                            */
/* ------------------------------------------------------------------------------------ */

WzpCandidate *
_wzp_candidate_new (const char      *address,
                    const char      *interface,
                    WzpAddressClass  klass)
{
  WzpCandidate *candidate = g_new0 (WzpCandidate, 1);

  candidate->address = g_strdup (address);
  candidate->interface = g_strdup (interface);
  candidate->klass = klass;
  return candidate;
}

void
_wzp_candidate_free (WzpCandidate *candidate)
{
  if (candidate == NULL)
    return;
  g_free (candidate->address);
  g_free (candidate->interface);
  g_free (candidate);
}

const char *
_wzp_skip_reason_to_string (WzpSkipReason reason)
{
  switch (reason)
    {
    case WZP_SKIP_NONE: return "kept";
    case WZP_SKIP_UNPARSABLE: return "not a numeric address";
    case WZP_SKIP_INTERFACE_DOWN: return "interface is down";
    case WZP_SKIP_NOT_RUNNING: return "interface is not running (no carrier)";
    case WZP_SKIP_LOOPBACK: return "loopback";
    case WZP_SKIP_NOT_LOOPBACK: return "not loopback (loopback-only test mode)";
    case WZP_SKIP_DENIED: return "interface matches the deny list";
    case WZP_SKIP_UNSPECIFIED: return "unspecified address";
    case WZP_SKIP_LINK_LOCAL: return "link-local";
    case WZP_SKIP_PUBLIC_IPV4: return "public IPv4 (the reflexive address covers it)";
    case WZP_SKIP_NOT_UNICAST: return "not a usable unicast address";
    case WZP_SKIP_DAD_FAILED: return "duplicate address detection failed";
    case WZP_SKIP_TENTATIVE: return "tentative (duplicate address detection still running)";
    case WZP_SKIP_DEPRECATED: return "deprecated";
    case WZP_SKIP_DUPLICATE: return "same address already taken from another interface";
    case WZP_SKIP_SUPERSEDED: return "another address of the same /64 is preferred";
    case WZP_SKIP_LIMIT: return "too many addresses on this interface";
    case WZP_N_SKIP_REASONS:
    default:
      return "?";
    }
}

static const char * const default_deny_list[] = {
  "docker*", "veth*", "br-*", "virbr*", "vnet*", "vboxnet*", "vmnet*", "tailscale*",
  "zt*", "wg*", "tun*", NULL
};

const char * const *
_wzp_candidates_get_default_deny_list (void)
{
  return default_deny_list;
}

static gboolean
name_matches_any (const char         *name,
                  const char * const *patterns)
{
  for (gsize i = 0; patterns != NULL && patterns[i] != NULL; i++)
    {
      g_autoptr(GPatternSpec) spec = g_pattern_spec_new (patterns[i]);

      if (g_pattern_spec_match_string (spec, name))
        return TRUE;
    }
  return FALSE;
}

gboolean
_wzp_candidates_name_denied (const char               *name,
                             const WzpCandidateFilter *filter)
{
  const char * const *deny = default_deny_list;
  const char * const *allow = NULL;

  g_return_val_if_fail (name != NULL, TRUE);

  if (filter != NULL)
    {
      if (filter->deny != NULL)
        deny = filter->deny;
      allow = filter->allow;
    }

  return name_matches_any (name, deny) && !name_matches_any (name, allow);
}

WzpSkipReason
_wzp_candidates_check (const WzpIfAddr          *ifaddr,
                       const WzpCandidateFilter *filter)
{
  g_autoptr(GInetAddress) inet = NULL;
  gboolean loopback_only = filter != NULL && filter->loopback_only;
  GSocketFamily family;
  WzpAddressClass klass;

  g_return_val_if_fail (ifaddr != NULL, WZP_SKIP_UNPARSABLE);

  if (ifaddr->address == NULL || ifaddr->name == NULL ||
      (inet = g_inet_address_new_from_string (ifaddr->address)) == NULL)
    return WZP_SKIP_UNPARSABLE;
  family = g_inet_address_get_family (inet);
  klass = _wzp_address_classify (inet);

  if (!(ifaddr->if_flags & WZP_IF_UP))
    return WZP_SKIP_INTERFACE_DOWN;
  if (!(ifaddr->if_flags & WZP_IF_RUNNING))
    return WZP_SKIP_NOT_RUNNING;
  /* The test mode offers the loopback addresses only: with anything else, what a test
   * sees would depend on the machine's interfaces. */
  if (loopback_only && klass != WZP_ADDRESS_CLASS_LOOPBACK)
    return WZP_SKIP_NOT_LOOPBACK;
  if (!loopback_only &&
      ((ifaddr->if_flags & WZP_IF_LOOPBACK) || klass == WZP_ADDRESS_CLASS_LOOPBACK))
    return WZP_SKIP_LOOPBACK;
  if (_wzp_candidates_name_denied (ifaddr->name, filter))
    return WZP_SKIP_DENIED;

  switch (klass)
    {
    case WZP_ADDRESS_CLASS_UNSPECIFIED:
      return WZP_SKIP_UNSPECIFIED;
    case WZP_ADDRESS_CLASS_LINK_LOCAL:
      return WZP_SKIP_LINK_LOCAL;
    case WZP_ADDRESS_CLASS_GLOBAL:
      if (family == G_SOCKET_FAMILY_IPV4 || _wzp_address_is_mapped (inet))
        return WZP_SKIP_PUBLIC_IPV4;
      break;
    case WZP_ADDRESS_CLASS_PRIVATE:
    case WZP_ADDRESS_CLASS_CGNAT:
      if (family == G_SOCKET_FAMILY_IPV6)
        return WZP_SKIP_NOT_UNICAST;  /* IPv4-mapped on an interface: nonsense */
      break;
    case WZP_ADDRESS_CLASS_ULA:
    case WZP_ADDRESS_CLASS_LOOPBACK:   /* only with loopback_only */
      break;
    case WZP_ADDRESS_CLASS_OTHER:
    case WZP_ADDRESS_CLASS_INVALID:
    default:
      return WZP_SKIP_NOT_UNICAST;
    }

  if (ifaddr->addr_flags & WZP_ADDR_DAD_FAILED)
    return WZP_SKIP_DAD_FAILED;
  if (ifaddr->addr_flags & WZP_ADDR_TENTATIVE)
    return WZP_SKIP_TENTATIVE;
  if (ifaddr->addr_flags & WZP_ADDR_DEPRECATED)
    return WZP_SKIP_DEPRECATED;

  return WZP_SKIP_NONE;
}

typedef struct {
  gsize            index;        /* into the input */
  GInetAddress    *inet;
  GSocketFamily    family;
  WzpAddressClass  klass;
  unsigned         iface_rank;
  gboolean         temporary;
} Entry;

static int
class_rank (const Entry *e)
{
  if (e->family == G_SOCKET_FAMILY_IPV4)
    {
      switch (e->klass)
        {
        case WZP_ADDRESS_CLASS_PRIVATE: return 0;
        case WZP_ADDRESS_CLASS_CGNAT: return 1;
        default: return 2;
        }
    }
  switch (e->klass)
    {
    case WZP_ADDRESS_CLASS_GLOBAL: return 0;
    case WZP_ADDRESS_CLASS_ULA: return 1;
    default: return 2;
    }
}

static int
dial_order_cmp (gconstpointer a,
                gconstpointer b)
{
  const Entry *x = a;
  const Entry *y = b;
  int fx = x->family == G_SOCKET_FAMILY_IPV4 ? 0 : 1;
  int fy = y->family == G_SOCKET_FAMILY_IPV4 ? 0 : 1;

  if (fx != fy)
    return fx - fy;
  if (class_rank (x) != class_rank (y))
    return class_rank (x) - class_rank (y);
  if (x->iface_rank != y->iface_rank)
    return x->iface_rank < y->iface_rank ? -1 : 1;
  if (x->temporary != y->temporary)
    return x->temporary ? -1 : 1;
  return x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
}

/* TRUE if @x is preferred over @y within one /64 of one interface. */
static gboolean
v6_preferred (const Entry     *x,
              const Entry     *y,
              const WzpIfAddr *ifaddrs)
{
  if (x->temporary != y->temporary)
    return x->temporary;
  if (x->temporary)
    {
      guint32 lx = ifaddrs[x->index].preferred_lft;
      guint32 ly = ifaddrs[y->index].preferred_lft;

      if (lx != ly)
        return lx > ly;
    }
  return x->index < y->index;
}

GPtrArray *
_wzp_candidates_filter (const WzpIfAddr          *ifaddrs,
                        gsize                     n_ifaddrs,
                        guint16                   port,
                        const WzpCandidateFilter *filter,
                        WzpSkipReason            *reasons)
{
  g_autoptr(GArray) entries = g_array_new (FALSE, TRUE, sizeof (Entry));
  g_autofree WzpSkipReason *why = g_new0 (WzpSkipReason, MAX (n_ifaddrs, 1));
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  GPtrArray *candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) _wzp_candidate_free);
  unsigned max_per_interface;

  g_return_val_if_fail (ifaddrs != NULL || n_ifaddrs == 0, candidates);

  max_per_interface = filter != NULL && filter->max_per_interface > 0
                      ? filter->max_per_interface : WZP_CANDIDATES_MAX_PER_INTERFACE;

  /* Per-address rules, and interface ranks by first appearance. */
  for (gsize i = 0; i < n_ifaddrs; i++)
    {
      const WzpIfAddr *ifa = &ifaddrs[i];
      Entry entry = { 0 };
      guint rank;

      why[i] = _wzp_candidates_check (ifa, filter);
      if (why[i] != WZP_SKIP_NONE)
        continue;

      if (!g_ptr_array_find_with_equal_func (names, ifa->name, g_str_equal, &rank))
        {
          rank = names->len;
          g_ptr_array_add (names, ifa->name);
        }

      entry.index = i;
      entry.inet = g_inet_address_new_from_string (ifa->address);
      entry.family = g_inet_address_get_family (entry.inet);
      entry.klass = _wzp_address_classify (entry.inet);
      entry.iface_rank = rank;
      entry.temporary = entry.family == G_SOCKET_FAMILY_IPV6 &&
                        (ifa->addr_flags & WZP_ADDR_TEMPORARY) != 0;
      g_array_append_val (entries, entry);
    }

  /* The same address twice (two interfaces, or a repeated entry): the first wins. */
  for (guint i = 0; i < entries->len; i++)
    {
      Entry *e = &g_array_index (entries, Entry, i);

      for (guint j = 0; j < i; j++)
        {
          Entry *earlier = &g_array_index (entries, Entry, j);

          if (why[earlier->index] == WZP_SKIP_NONE && g_inet_address_equal (e->inet, earlier->inet))
            {
              why[e->index] = WZP_SKIP_DUPLICATE;
              break;
            }
        }
    }

  /* IPv6: one address per /64 per interface, temporary over stable. */
  for (guint i = 0; i < entries->len; i++)
    {
      Entry *e = &g_array_index (entries, Entry, i);

      if (why[e->index] != WZP_SKIP_NONE || e->family != G_SOCKET_FAMILY_IPV6 ||
          e->klass == WZP_ADDRESS_CLASS_LOOPBACK)
        continue;

      for (guint j = 0; j < entries->len; j++)
        {
          Entry *o = &g_array_index (entries, Entry, j);

          if (j == i || why[o->index] != WZP_SKIP_NONE || o->family != G_SOCKET_FAMILY_IPV6 ||
              o->iface_rank != e->iface_rank ||
              memcmp (g_inet_address_to_bytes (o->inet), g_inet_address_to_bytes (e->inet), 8) != 0)
            continue;

          if (v6_preferred (o, e, ifaddrs))
            {
              why[e->index] = WZP_SKIP_SUPERSEDED;
              break;
            }
        }
    }

  /* Dial order, then the per-interface limit, then the output. */
  g_array_sort (entries, dial_order_cmp);
  {
    g_autofree unsigned *count_v4 = g_new0 (unsigned, names->len + 1);
    g_autofree unsigned *count_v6 = g_new0 (unsigned, names->len + 1);

    for (guint i = 0; i < entries->len; i++)
      {
        Entry *e = &g_array_index (entries, Entry, i);
        unsigned *count;

        if (why[e->index] != WZP_SKIP_NONE)
          continue;
        count = e->family == G_SOCKET_FAMILY_IPV4 ? &count_v4[e->iface_rank]
                                                  : &count_v6[e->iface_rank];
        if (*count >= max_per_interface)
          {
            why[e->index] = WZP_SKIP_LIMIT;
            continue;
          }
        (*count)++;

        {
          g_autofree char *text = _wzp_address_format (e->inet, port);

          g_ptr_array_add (candidates,
                           _wzp_candidate_new (text, ifaddrs[e->index].name, e->klass));
        }
      }
  }

  for (guint i = 0; i < entries->len; i++)
    g_clear_object (&g_array_index (entries, Entry, i).inet);

  for (gsize i = 0; i < n_ifaddrs; i++)
    {
      if (why[i] != WZP_SKIP_NONE)
        g_debug ("Host candidates: skipping %s on %s: %s",
                 ifaddrs[i].address ? ifaddrs[i].address : "(none)",
                 ifaddrs[i].name ? ifaddrs[i].name : "(none)",
                 _wzp_skip_reason_to_string (why[i]));
      if (reasons != NULL)
        reasons[i] = why[i];
    }

  return candidates;
}

GStrv
_wzp_candidates_dup_own_addresses (const WzpIfAddr *ifaddrs,
                                   gsize            n_ifaddrs)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (gsize i = 0; i < n_ifaddrs; i++)
    {
      if (ifaddrs[i].address == NULL || g_hash_table_contains (seen, ifaddrs[i].address))
        continue;
      g_hash_table_add (seen, ifaddrs[i].address);
      g_strv_builder_add (builder, ifaddrs[i].address);
    }
  return g_strv_builder_end (builder);
}

GStrv
_wzp_candidates_dup_addresses (GPtrArray *candidates)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; candidates != NULL && i < candidates->len; i++)
    g_strv_builder_add (builder, ((WzpCandidate *) candidates->pdata[i])->address);
  return g_strv_builder_end (builder);
}

/* ------------------------------------------------------------------------------------ */
/* Enumeration                                                                          */
/* ------------------------------------------------------------------------------------ */

/* Large enough for any rtnetlink dump message (the kernel caps them at 32 KiB). */
#define NL_BUFFER_SIZE (64 * 1024)

typedef struct {
  unsigned  index;
  unsigned  flags;   /* IFF_* */
  char     *name;
} NlLink;

typedef struct {
  int       family;
  unsigned  index;
  unsigned  prefix;
  guint32   flags;   /* IFA_F_* */
  guint32   preferred_lft;
  char     *label;   /* IPv4 only */
  guint8    bytes[16];
  gboolean  used;
} NlAddr;

typedef struct {
  GArray *links;   /* NlLink */
  GArray *addrs;   /* NlAddr */
} NlDump;

static void
nl_link_clear (gpointer data)
{
  g_free (((NlLink *) data)->name);
}

static void
nl_addr_clear (gpointer data)
{
  g_free (((NlAddr *) data)->label);
}

static int
nl_link_cb (const struct nlmsghdr *nlh,
            void                  *data)
{
  NlDump *dump = data;
  const struct ifinfomsg *ifi = mnl_nlmsg_get_payload (nlh);
  struct nlattr *attr;
  NlLink link = { 0 };

  if (nlh->nlmsg_type != RTM_NEWLINK)
    return MNL_CB_OK;

  link.index = ifi->ifi_index;
  link.flags = ifi->ifi_flags;
  mnl_attr_for_each (attr, nlh, sizeof (*ifi))
    {
      if (mnl_attr_get_type (attr) == IFLA_IFNAME &&
          mnl_attr_validate (attr, MNL_TYPE_NUL_STRING) >= 0)
        link.name = g_strdup (mnl_attr_get_str (attr));
    }
  if (link.name != NULL)
    g_array_append_val (dump->links, link);
  return MNL_CB_OK;
}

static int
nl_addr_cb (const struct nlmsghdr *nlh,
            void                  *data)
{
  NlDump *dump = data;
  const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload (nlh);
  const void *address = NULL;
  const void *local = NULL;
  struct nlattr *attr;
  NlAddr addr = { 0 };
  gsize len;

  if (nlh->nlmsg_type != RTM_NEWADDR)
    return MNL_CB_OK;
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
    return MNL_CB_OK;
  len = ifa->ifa_family == AF_INET ? 4 : 16;

  addr.family = ifa->ifa_family;
  addr.index = ifa->ifa_index;
  addr.prefix = ifa->ifa_prefixlen;
  addr.flags = ifa->ifa_flags;
  addr.preferred_lft = G_MAXUINT32;

  mnl_attr_for_each (attr, nlh, sizeof (*ifa))
    {
      switch (mnl_attr_get_type (attr))
        {
        case IFA_ADDRESS:
          if (mnl_attr_get_payload_len (attr) == len)
            address = mnl_attr_get_payload (attr);
          break;
        case IFA_LOCAL:
          if (mnl_attr_get_payload_len (attr) == len)
            local = mnl_attr_get_payload (attr);
          break;
        case IFA_LABEL:
          if (mnl_attr_validate (attr, MNL_TYPE_NUL_STRING) >= 0)
            {
              g_free (addr.label);
              addr.label = g_strdup (mnl_attr_get_str (attr));
            }
          break;
        case IFA_FLAGS:     /* the full 32 bits, since Linux 3.14 */
          if (mnl_attr_validate (attr, MNL_TYPE_U32) >= 0)
            addr.flags = mnl_attr_get_u32 (attr);
          break;
        case IFA_CACHEINFO:
          if (mnl_attr_get_payload_len (attr) >= sizeof (struct ifa_cacheinfo))
            {
              const struct ifa_cacheinfo *ci = mnl_attr_get_payload (attr);

              addr.preferred_lft = ci->ifa_prefered;  /* sic */
            }
          break;
        default:
          break;
        }
    }

  /* IFA_LOCAL is the local address when present (point-to-point links). */
  if (local != NULL)
    address = local;
  if (address == NULL)
    {
      g_free (addr.label);
      return MNL_CB_OK;
    }
  memcpy (addr.bytes, address, len);
  g_array_append_val (dump->addrs, addr);
  return MNL_CB_OK;
}

static gboolean
nl_dump_one (struct mnl_socket  *nl,
             guint16             type,
             unsigned            seq,
             mnl_cb_t            cb,
             NlDump             *dump,
             char               *buffer,
             GError            **error)
{
  char request[256] __attribute__ ((aligned (4)));
  struct nlmsghdr *nlh;
  unsigned portid = mnl_socket_get_portid (nl);

  memset (request, 0, sizeof request);
  nlh = mnl_nlmsg_put_header (request);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;
  if (type == RTM_GETLINK)
    {
      struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header (nlh, sizeof (*ifi));
      ifi->ifi_family = AF_UNSPEC;
    }
  else
    {
      struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header (nlh, sizeof (*ifa));
      ifa->ifa_family = AF_UNSPEC;
    }

  if (mnl_socket_sendto (nl, nlh, nlh->nlmsg_len) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Could not ask the kernel for its %s: %s",
                   type == RTM_GETLINK ? "interfaces" : "addresses", g_strerror (saved));
      return FALSE;
    }

  for (;;)
    {
      ssize_t n = mnl_socket_recvfrom (nl, buffer, NL_BUFFER_SIZE);
      int ret;

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "Could not read the kernel's %s: %s",
                       type == RTM_GETLINK ? "interfaces" : "addresses", g_strerror (saved));
          return FALSE;
        }
      ret = mnl_cb_run (buffer, n, seq, portid, cb, dump);
      if (ret == MNL_CB_STOP)
        return TRUE;
      if (ret < 0)
        {
          int saved = errno;
          /* EINTR here: NLM_F_DUMP_INTR, the list changed during the dump. */
          g_set_error (error, G_IO_ERROR,
                       saved == EINTR ? G_IO_ERROR_BUSY : g_io_error_from_errno (saved),
                       "Could not parse the kernel's %s: %s",
                       type == RTM_GETLINK ? "interfaces" : "addresses", g_strerror (saved));
          return FALSE;
        }
    }
}

static gboolean
nl_dump_all (NlDump  *dump,
             GError **error)
{
  struct mnl_socket *nl;
  g_autofree char *buffer = NULL;
  unsigned seq = (unsigned) time (NULL);
  gboolean ok = FALSE;

  nl = mnl_socket_open2 (NETLINK_ROUTE, SOCK_CLOEXEC);
  if (nl == NULL)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Could not open an rtnetlink socket: %s", g_strerror (saved));
      return FALSE;
    }
  if (mnl_socket_bind (nl, 0, MNL_SOCKET_AUTOPID) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Could not bind an rtnetlink socket: %s", g_strerror (saved));
      mnl_socket_close (nl);
      return FALSE;
    }

  buffer = g_malloc (NL_BUFFER_SIZE);
  /* A dump interrupted by a concurrent change is retried a few times. */
  for (int attempt = 0; attempt < 3 && !ok; attempt++)
    {
      g_autoptr(GError) local_error = NULL;

      g_array_set_size (dump->links, 0);
      g_array_set_size (dump->addrs, 0);
      ok = nl_dump_one (nl, RTM_GETLINK, seq++, nl_link_cb, dump, buffer, &local_error) &&
           nl_dump_one (nl, RTM_GETADDR, seq++, nl_addr_cb, dump, buffer, &local_error);
      if (!ok && (attempt == 2 || !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_BUSY)))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          break;
        }
    }

  mnl_socket_close (nl);
  return ok;
}

static const NlLink *
nl_find_link (NlDump   *dump,
              unsigned  index)
{
  for (guint i = 0; i < dump->links->len; i++)
    {
      const NlLink *link = &g_array_index (dump->links, NlLink, i);
      if (link->index == index)
        return link;
    }
  return NULL;
}

static const char *
nl_addr_name (NlDump       *dump,
              const NlAddr *addr)
{
  const NlLink *link;

  if (addr->family == AF_INET && addr->label != NULL)
    return addr->label;
  link = nl_find_link (dump, addr->index);
  return link != NULL ? link->name : NULL;
}

static WzpIfFlags
if_flags_from_iff (unsigned iff)
{
  WzpIfFlags flags = 0;

  if (iff & IFF_UP)
    flags |= WZP_IF_UP;
  if (iff & IFF_RUNNING)
    flags |= WZP_IF_RUNNING;
  if (iff & IFF_LOOPBACK)
    flags |= WZP_IF_LOOPBACK;
  return flags;
}

static WzpAddrFlags
addr_flags_from_ifa (int     family,
                     guint32 ifa_flags)
{
  WzpAddrFlags flags = 0;

  if (family != AF_INET6)
    return 0;    /* for IPv4, IFA_F_SECONDARY has the bit of IFA_F_TEMPORARY */
  if (ifa_flags & IFA_F_TEMPORARY)
    flags |= WZP_ADDR_TEMPORARY;
  if (ifa_flags & IFA_F_DEPRECATED)
    flags |= WZP_ADDR_DEPRECATED;
  if (ifa_flags & IFA_F_TENTATIVE)
    flags |= WZP_ADDR_TENTATIVE;
  if (ifa_flags & IFA_F_DADFAILED)
    flags |= WZP_ADDR_DAD_FAILED;
  return flags;
}

static char *
bytes_to_string (int           family,
                 const guint8 *bytes)
{
  g_autoptr(GInetAddress) inet =
    g_inet_address_new_from_bytes (bytes, family == AF_INET ? G_SOCKET_FAMILY_IPV4
                                                            : G_SOCKET_FAMILY_IPV6);
  return g_inet_address_to_string (inet);
}

static unsigned
netmask_prefix (const struct sockaddr *netmask)
{
  const guint8 *bytes;
  gsize len;
  unsigned prefix = 0;

  if (netmask == NULL)
    return 0;
  if (netmask->sa_family == AF_INET)
    {
      bytes = (const guint8 *) &((const struct sockaddr_in *) netmask)->sin_addr;
      len = 4;
    }
  else if (netmask->sa_family == AF_INET6)
    {
      bytes = (const guint8 *) &((const struct sockaddr_in6 *) netmask)->sin6_addr;
      len = 16;
    }
  else
    return 0;

  for (gsize i = 0; i < len; i++)
    prefix += __builtin_popcount (bytes[i]);
  return prefix;
}

static void
ifaddr_clear (gpointer data)
{
  WzpIfAddr *ifa = data;

  g_free (ifa->name);
  g_free (ifa->address);
}

/* libnice's numeric strings carry "%scope" for link-local IPv6; normalise to GIO's text. */
static char *
normalise_address (const char *text)
{
  g_autofree char *bare = g_strdup (text);
  g_autoptr(GInetAddress) inet = NULL;
  char *percent = strchr (bare, '%');

  if (percent != NULL)
    *percent = '\0';
  inet = g_inet_address_new_from_string (bare);
  return inet != NULL ? g_inet_address_to_string (inet) : g_steal_pointer (&bare);
}

static const char *
libnice_ignored_prefix (const char *name)
{
  /* libnice ignores names with a build-time prefix (Debian: docker, veth, virbr). */
  static const char * const prefixes[] = { "docker", "veth", "virbr", "vnet", NULL };

  for (gsize i = 0; prefixes[i] != NULL; i++)
    if (g_str_has_prefix (name, prefixes[i]))
      return prefixes[i];
  return NULL;
}

/* Compares our list with libnice's. Only logs: the rules decide, not whichever source
 * answered. */
static void
cross_check_libnice (GArray *result)
{
  g_autoptr(GHashTable) nice_ips = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) ours = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) v4_names = g_hash_table_new (g_str_hash, g_str_equal);
  GList *ips = nice_interfaces_get_local_ips (FALSE);
  GHashTableIter iter;
  gpointer key;

  for (GList *l = ips; l != NULL; l = l->next)
    g_hash_table_add (nice_ips, normalise_address (l->data));
  g_list_free_full (ips, g_free);

  for (guint i = 0; i < result->len; i++)
    {
      const WzpIfAddr *ifa = &g_array_index (result, WzpIfAddr, i);
      gboolean eligible = (ifa->if_flags & (WZP_IF_UP | WZP_IF_RUNNING)) ==
                          (WZP_IF_UP | WZP_IF_RUNNING) && !(ifa->if_flags & WZP_IF_LOOPBACK);

      g_hash_table_add (ours, ifa->address);
      if (strchr (ifa->address, ':') == NULL && (ifa->if_flags & WZP_IF_UP))
        g_hash_table_add (v4_names, ifa->name);

      if (eligible && !g_hash_table_contains (nice_ips, ifa->address))
        {
          const char *prefix = libnice_ignored_prefix (ifa->name);

          if (prefix != NULL)
            g_debug ("Host candidates: libnice does not list %s on %s (it ignores interface "
                     "names starting with \"%s\"); the deny and allow lists decide",
                     ifa->address, ifa->name, prefix);
          else
            g_debug ("Host candidates: libnice does not list %s on %s, getifaddrs and "
                     "rtnetlink do (it changed between the reads); the rules decide",
                     ifa->address, ifa->name);
        }
    }

  g_hash_table_iter_init (&iter, nice_ips);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      if (!g_hash_table_contains (ours, key))
        g_debug ("Host candidates: libnice lists %s, which getifaddrs and rtnetlink did not "
                 "report (it changed between the reads); not used, as the rules need its "
                 "interface", (const char *) key);
    }

  /* The primary IPv4 address of each interface, as libnice's ioctl sees it. */
  g_hash_table_iter_init (&iter, v4_names);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_autofree char *ip = nice_interfaces_get_ip_for_interface (key);

      if (ip == NULL)
        g_debug ("Host candidates: libnice finds no IPv4 address on %s, getifaddrs does",
                 (const char *) key);
      else if (!g_hash_table_contains (ours, ip))
        g_debug ("Host candidates: libnice reports %s on %s, which getifaddrs and rtnetlink "
                 "did not; not used", ip, (const char *) key);
    }
}

GArray *
_wzp_candidates_enumerate (gint64  *elapsed_us,
                           GError **error)
{
  g_autoptr(GArray) result = g_array_new (FALSE, TRUE, sizeof (WzpIfAddr));
  g_autoptr(GError) nl_error = NULL;
  NlDump dump;
  struct ifaddrs *ifaddrs = NULL;
  gboolean have_getifaddrs;
  gboolean have_netlink;
  gint64 start = g_get_monotonic_time ();
  int saved_errno = 0;

  g_array_set_clear_func (result, ifaddr_clear);
  dump.links = g_array_new (FALSE, TRUE, sizeof (NlLink));
  dump.addrs = g_array_new (FALSE, TRUE, sizeof (NlAddr));
  g_array_set_clear_func (dump.links, nl_link_clear);
  g_array_set_clear_func (dump.addrs, nl_addr_clear);

  /* getifaddrs first, rtnetlink second: rtnetlink is the newer snapshot. */
  have_getifaddrs = getifaddrs (&ifaddrs) == 0;
  if (!have_getifaddrs)
    saved_errno = errno;
  have_netlink = nl_dump_all (&dump, &nl_error);

  if (!have_getifaddrs && !have_netlink)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Could not list the network interfaces: %s (rtnetlink: %s)",
                   g_strerror (saved_errno), nl_error->message);
      g_array_unref (dump.links);
      g_array_unref (dump.addrs);
      return NULL;
    }
  if (!have_getifaddrs)
    g_debug ("Host candidates: getifaddrs failed (%s); using rtnetlink alone",
             g_strerror (saved_errno));
  if (!have_netlink)
    g_debug ("Host candidates: rtnetlink failed (%s); IPv6 address flags are unknown",
             nl_error->message);

  for (struct ifaddrs *i = ifaddrs; i != NULL; i = i->ifa_next)
    {
      WzpIfAddr ifa = { 0 };
      const guint8 *bytes;
      int family;
      NlAddr *match = NULL;

      if (i->ifa_addr == NULL ||
          (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
        continue;
      family = i->ifa_addr->sa_family;
      bytes = family == AF_INET
              ? (const guint8 *) &((const struct sockaddr_in *) i->ifa_addr)->sin_addr
              : (const guint8 *) &((const struct sockaddr_in6 *) i->ifa_addr)->sin6_addr;

      ifa.name = g_strdup (i->ifa_name);
      ifa.address = bytes_to_string (family, bytes);
      ifa.if_flags = if_flags_from_iff (i->ifa_flags);
      ifa.prefix = netmask_prefix (i->ifa_netmask);

      if (have_netlink)
        {
          for (guint j = 0; j < dump.addrs->len && match == NULL; j++)
            {
              NlAddr *a = &g_array_index (dump.addrs, NlAddr, j);

              if (!a->used && a->family == family &&
                  memcmp (a->bytes, bytes, family == AF_INET ? 4 : 16) == 0 &&
                  g_strcmp0 (nl_addr_name (&dump, a), i->ifa_name) == 0)
                match = a;
            }

          if (match == NULL)
            {
              g_debug ("Host candidates: getifaddrs lists %s on %s, rtnetlink no longer does "
                       "(removed between the reads); dropped", ifa.address, ifa.name);
              ifaddr_clear (&ifa);
              continue;
            }

          const NlLink *link = nl_find_link (&dump, match->index);

          match->used = TRUE;
          if (link != NULL && if_flags_from_iff (link->flags) != ifa.if_flags)
            {
              g_debug ("Host candidates: getifaddrs and rtnetlink disagree on the state of %s "
                       "(flags 0x%x, 0x%x); rtnetlink's is newer", ifa.name,
                       i->ifa_flags, link->flags);
              ifa.if_flags = if_flags_from_iff (link->flags);
            }
          if (match->prefix != ifa.prefix)
            g_debug ("Host candidates: getifaddrs and rtnetlink disagree on the prefix of %s "
                     "(/%u, /%u)", ifa.address, ifa.prefix, match->prefix);
          ifa.addr_flags = addr_flags_from_ifa (family, match->flags);
          ifa.preferred_lft = match->preferred_lft;
        }

      g_array_append_val (result, ifa);
    }

  /* Addresses that only rtnetlink knows: added after getifaddrs ran (or getifaddrs
   * failed). Taken with rtnetlink's flags; the rules decide. */
  for (guint j = 0; have_netlink && j < dump.addrs->len; j++)
    {
      NlAddr *a = &g_array_index (dump.addrs, NlAddr, j);
      const NlLink *link = nl_find_link (&dump, a->index);
      const char *name = nl_addr_name (&dump, a);
      WzpIfAddr ifa = { 0 };

      if (a->used || name == NULL)
        continue;

      ifa.name = g_strdup (name);
      ifa.address = bytes_to_string (a->family, a->bytes);
      ifa.if_flags = link != NULL ? if_flags_from_iff (link->flags) : 0;
      ifa.prefix = a->prefix;
      ifa.addr_flags = addr_flags_from_ifa (a->family, a->flags);
      ifa.preferred_lft = a->preferred_lft;
      if (have_getifaddrs)
        g_debug ("Host candidates: rtnetlink lists %s on %s, getifaddrs did not (added "
                 "between the reads); the rules decide", ifa.address, ifa.name);
      g_array_append_val (result, ifa);
    }

  if (ifaddrs != NULL)
    freeifaddrs (ifaddrs);
  g_array_unref (dump.links);
  g_array_unref (dump.addrs);

  cross_check_libnice (result);

  if (elapsed_us != NULL)
    *elapsed_us = g_get_monotonic_time () - start;
  g_debug ("Host candidates: enumerated %u addresses in %" G_GINT64_FORMAT " us",
           result->len, g_get_monotonic_time () - start);

  return g_steal_pointer (&result);
}

typedef struct {
  GArray *ifaddrs;
  gint64  elapsed_us;
} EnumerateResult;

static void
enumerate_result_free (EnumerateResult *r)
{
  g_clear_pointer (&r->ifaddrs, g_array_unref);
  g_free (r);
}

static void
enumerate_thread (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  EnumerateResult *r = g_new0 (EnumerateResult, 1);
  GError *error = NULL;

  r->ifaddrs = _wzp_candidates_enumerate (&r->elapsed_us, &error);
  if (r->ifaddrs == NULL)
    {
      enumerate_result_free (r);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, r, (GDestroyNotify) enumerate_result_free);
}

void
_wzp_candidates_enumerate_async (GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, _wzp_candidates_enumerate_async);
  g_task_run_in_thread (task, enumerate_thread);
}

GArray *
_wzp_candidates_enumerate_finish (GAsyncResult  *result,
                                  gint64        *elapsed_us,
                                  GError       **error)
{
  EnumerateResult *r;
  GArray *ifaddrs;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        _wzp_candidates_enumerate_async, NULL);

  r = g_task_propagate_pointer (G_TASK (result), error);
  if (r == NULL)
    return NULL;
  if (elapsed_us != NULL)
    *elapsed_us = r->elapsed_us;
  ifaddrs = g_steal_pointer (&r->ifaddrs);
  enumerate_result_free (r);
  return ifaddrs;
}

typedef struct {
  guint16  port;
  GStrv    deny;      /* NULL: default */
  GStrv    allow;
  gboolean loopback_only;
  unsigned max_per_interface;
} GatherData;

static void
gather_data_free (GatherData *data)
{
  g_strfreev (data->deny);
  g_strfreev (data->allow);
  g_free (data);
}

static void
gather_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  GatherData *data = task_data;
  WzpCandidateFilter filter = {
    .deny = (const char * const *) data->deny,
    .allow = (const char * const *) data->allow,
    .loopback_only = data->loopback_only,
    .max_per_interface = data->max_per_interface,
  };
  g_autoptr(GArray) ifaddrs = NULL;
  GError *error = NULL;

  ifaddrs = _wzp_candidates_enumerate (NULL, &error);
  if (ifaddrs == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task,
                         _wzp_candidates_filter ((const WzpIfAddr *) ifaddrs->data, ifaddrs->len,
                                                 data->port, &filter, NULL),
                         (GDestroyNotify) g_ptr_array_unref);
}

void
_wzp_candidates_gather_async (guint16                   port,
                              const WzpCandidateFilter *filter,
                              GCancellable             *cancellable,
                              GAsyncReadyCallback       callback,
                              gpointer                  user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  GatherData *data = g_new0 (GatherData, 1);

  data->port = port;
  if (filter != NULL)
    {
      data->deny = g_strdupv ((char **) filter->deny);
      data->allow = g_strdupv ((char **) filter->allow);
      data->loopback_only = filter->loopback_only;
      data->max_per_interface = filter->max_per_interface;
    }
  g_task_set_source_tag (task, _wzp_candidates_gather_async);
  g_task_set_task_data (task, data, (GDestroyNotify) gather_data_free);
  g_task_run_in_thread (task, gather_thread);
}

GPtrArray *
_wzp_candidates_gather_finish (GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        _wzp_candidates_gather_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
