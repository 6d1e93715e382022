/* test-address.c: parsing, formatting and classifying addresses (wzp-address-private.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "wzp-address-private.h"
#include "wzp-error.h"

/* Text that parses, and the text it formats back to. */
static const struct {
  const char    *text;
  GSocketFamily  family;
  guint16        port;
  const char    *canonical;
} round_trips[] = {
  { "192.168.88.21:40001", G_SOCKET_FAMILY_IPV4, 40001, "192.168.88.21:40001" },
  { "[2001:db8:1::21]:40001", G_SOCKET_FAMILY_IPV6, 40001, "[2001:db8:1::21]:40001" },
  { "[fd00:1::21]:1", G_SOCKET_FAMILY_IPV6, 1, "[fd00:1::21]:1" },
  { "1.2.3.4:65535", G_SOCKET_FAMILY_IPV4, 65535, "1.2.3.4:65535" },
  { "10.0.0.1:1", G_SOCKET_FAMILY_IPV4, 1, "10.0.0.1:1" },
  { "127.0.0.1:4433", G_SOCKET_FAMILY_IPV4, 4433, "127.0.0.1:4433" },
  { "[::1]:65535", G_SOCKET_FAMILY_IPV6, 65535, "[::1]:65535" },
  { "[fe80::1]:5", G_SOCKET_FAMILY_IPV6, 5, "[fe80::1]:5" },
  { "0.0.0.0:4433", G_SOCKET_FAMILY_IPV4, 4433, "0.0.0.0:4433" },
  { "[::]:4433", G_SOCKET_FAMILY_IPV6, 4433, "[::]:4433" },
  /* GIO's spelling wins: lower case, zeros compressed, leading zeros of the port gone. */
  { "[2001:DB8:0:0:0:0:0:1]:443", G_SOCKET_FAMILY_IPV6, 443, "[2001:db8::1]:443" },
  { "10.0.0.1:00080", G_SOCKET_FAMILY_IPV4, 80, "10.0.0.1:80" },
  /* The mapped-address rule: IPv4-mapped IPv6 is IPv4. */
  { "[::ffff:198.51.100.1]:5000", G_SOCKET_FAMILY_IPV4, 5000, "198.51.100.1:5000" },
  { "[::FFFF:10.0.0.1]:1", G_SOCKET_FAMILY_IPV4, 1, "10.0.0.1:1" },
  { "[::ffff:c633:6401]:2", G_SOCKET_FAMILY_IPV4, 2, "198.51.100.1:2" },
  /* Not mapped: IPv4-compatible (deprecated) and NAT64 addresses stay IPv6. */
  { "[::198.51.100.1]:3", G_SOCKET_FAMILY_IPV6, 3, "[::198.51.100.1]:3" },
  { "[64:ff9b::198.51.100.1]:4", G_SOCKET_FAMILY_IPV6, 4, "[64:ff9b::c633:6401]:4" },
};

static void
test_parse_format (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (round_trips); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GInetSocketAddress) address = _wzp_address_parse (round_trips[i].text, &error);
      g_autoptr(GInetSocketAddress) again = NULL;
      g_autoptr(GInetAddress) inet = NULL;
      g_autofree char *text = NULL;
      g_autofree char *formatted = NULL;
      guint16 port = 0;

      g_test_message ("%s", round_trips[i].text);
      g_assert_no_error (error);
      g_assert_nonnull (address);
      g_assert_cmpint (g_socket_address_get_family (G_SOCKET_ADDRESS (address)), ==,
                       round_trips[i].family);
      g_assert_cmpuint (g_inet_socket_address_get_port (address), ==, round_trips[i].port);

      text = _wzp_address_to_string (G_SOCKET_ADDRESS (address));
      g_assert_cmpstr (text, ==, round_trips[i].canonical);
      again = _wzp_address_parse (text, NULL);
      g_assert_nonnull (again);
      g_assert_true (g_inet_address_equal (g_inet_socket_address_get_address (address),
                                           g_inet_socket_address_get_address (again)));

      /* The split parser agrees with the whole one. */
      g_assert_true (_wzp_address_parse_parts (round_trips[i].text, &inet, &port));
      g_assert_cmpuint (port, ==, round_trips[i].port);
      formatted = _wzp_address_format (inet, port);
      g_assert_cmpstr (formatted, ==, round_trips[i].canonical);
    }

  /* The parts are optional. */
  g_assert_true (_wzp_address_parse_parts ("10.0.0.1:5", NULL, NULL));
}

/* Addresses GIO builds (a socket's view) format the same way, mapped ones as IPv4. */
static void
test_format_gio (void)
{
  static const struct { const char *ip; guint16 port; const char *text; const char *ip_text; }
  cases[] = {
    { "2001:db8::5", 4433, "[2001:db8::5]:4433", "2001:db8::5" },
    { "8.8.4.4", 53, "8.8.4.4:53", "8.8.4.4" },
    { "::ffff:10.1.2.3", 40001, "10.1.2.3:40001", "10.1.2.3" },
    { "::1", 0, "[::1]:0", "::1" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GSocketAddress) address =
        g_inet_socket_address_new_from_string (cases[i].ip, cases[i].port);
      GInetAddress *inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
      g_autofree char *text = _wzp_address_to_string (address);
      g_autofree char *formatted = _wzp_address_format (inet, cases[i].port);
      g_autofree char *ip_text = _wzp_address_ip_to_string (inet);

      g_assert_cmpstr (text, ==, cases[i].text);
      g_assert_cmpstr (formatted, ==, cases[i].text);
      g_assert_cmpstr (ip_text, ==, cases[i].ip_text);
    }

  /* Host names and IPv6 literals alike (the known-relays file, the relay's pipe address). */
  {
    g_autofree char *name = _wzp_address_format_host ("relay.example.org", 4433);
    g_autofree char *v6 = _wzp_address_format_host ("fe80::1%eth0", 4433);
    g_autofree char *v4 = _wzp_address_format_host ("10.0.0.1", 1);

    g_assert_cmpstr (name, ==, "relay.example.org:4433");
    g_assert_cmpstr (v6, ==, "[fe80::1%eth0]:4433");
    g_assert_cmpstr (v4, ==, "10.0.0.1:1");
  }
}

static void
test_parse_bad (void)
{
  static const char * const bad[] = {
    "",                          /* empty */
    " ",
    "192.168.88.21",             /* no port */
    "[2001:db8::1]",
    "192.168.88.21:",            /* empty port */
    "[::1]:",
    "192.168.88.21:0",           /* port 0 */
    "[::1]:0",
    "192.168.88.21:65536",       /* port past 65535 */
    "[::1]:65536",
    "1.2.3.4:70000",
    "[::1]:99999",
    "1.2.3.4:4294967297",        /* wraps to 1 as a 32-bit number */
    "1.2.3.4:18446744073709551617",  /* wraps to 1 as a 64-bit number */
    "1.2.3.4:-1",
    "1.2.3.4:+1",
    "1.2.3.4: 1",
    "1.2.3.4:1 ",
    "1.2.3.4:5x",
    "1.2.3.4:port",
    "1.2.3.4:0x10",
    " 1.2.3.4:1",
    "1.2.3.4:1:2",
    "garbage",                   /* junk */
    "garbage:80",
    "host.example:4433",         /* names are not addresses */
    "localhost:80",
    "[relay.example.org]:4433",
    ":4433",
    "::",
    "1.2.3:80",
    "256.1.1.1:80",
    "1.2.3.4.5:80",
    "2001:db8::1:40001",         /* IPv6 without brackets */
    "::ffff:1.2.3.4:5",
    "[2001:db8::1]40001",        /* brackets mismatched or misplaced */
    "[2001:db8::1:40001",
    "2001:db8::1]:40001",
    "[[::1]]:5",
    "[::1]]:5",
    "[::1]:5]",
    "]::1[:5",
    "[",
    "]:",
    ":",
    "[]:80",
    "[1.2.3.4]:5",               /* brackets are for IPv6 only */
    "[fe80::1%eth0]:5",          /* zone ids mean nothing to a peer */
    "[fe80::1%2]:5",
    "[::1/64]:5",
    "1.2.3.4\n:5",
  };
  g_autoptr(GString) long_text = g_string_new ("[");

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GInetSocketAddress) address = _wzp_address_parse (bad[i], &error);
      g_autoptr(GInetAddress) inet = NULL;
      guint16 port = 7;

      g_test_message ("bad \"%s\"", bad[i]);
      g_assert_null (address);
      g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE);
      g_assert_false (_wzp_address_parse_parts (bad[i], &inet, &port));
      g_assert_null (inet);
      g_assert_cmpuint (port, ==, 7);
    }

  /* NULL, and a NULL error. */
  {
    g_autoptr(GError) error = NULL;

    g_assert_null (_wzp_address_parse (NULL, &error));
    g_assert_error (error, WZP_PROTOCOL_ERROR, WZP_PROTOCOL_ERROR_INVALID_VALUE);
    g_assert_null (_wzp_address_parse ("junk", NULL));
    g_assert_false (_wzp_address_parse_parts (NULL, NULL, NULL));
  }

  /* Very long strings: a long host, a long port, a long run of colons. */
  for (guint i = 0; i < 10000; i++)
    g_string_append (long_text, "1:");
  g_string_append (long_text, "]:80");
  g_assert_null (_wzp_address_parse (long_text->str, NULL));
  g_string_assign (long_text, "1.2.3.4:");
  for (guint i = 0; i < 10000; i++)
    g_string_append_c (long_text, '9');
  g_assert_null (_wzp_address_parse (long_text->str, NULL));
  g_string_assign (long_text, "1.2.3.4:");
  for (guint i = 0; i < 10000; i++)
    g_string_append_c (long_text, '0');
  g_string_append_c (long_text, '1');
  {
    /* Leading zeros are only zeros: the port is 1. */
    g_autoptr(GInetSocketAddress) address = _wzp_address_parse (long_text->str, NULL);

    g_assert_nonnull (address);
    g_assert_cmpuint (g_inet_socket_address_get_port (address), ==, 1);
  }
  g_string_set_size (long_text, 0);
  for (guint i = 0; i < 10000; i++)
    g_string_append_c (long_text, ':');
  g_assert_null (_wzp_address_parse (long_text->str, NULL));
}

static void
test_parse_ip (void)
{
  static const struct { const char *text; const char *ip; } cases[] = {
    { "10.0.0.1", "10.0.0.1" },
    { "fd00::1", "fd00::1" },
    { "::ffff:10.0.0.1", "10.0.0.1" },
    { "10.0.0.1:5", NULL },
    { "[::1]", NULL },
    { "", NULL },
    { "relay.example.org", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GInetAddress) inet = _wzp_address_parse_ip (cases[i].text);
      g_autofree char *text = inet != NULL ? g_inet_address_to_string (inet) : NULL;

      g_test_message ("%s", cases[i].text);
      g_assert_cmpstr (text, ==, cases[i].ip);
    }
  g_assert_null (_wzp_address_parse_ip (NULL));
}

static void
test_mapped (void)
{
  g_autoptr(GInetAddress) mapped = g_inet_address_new_from_string ("::ffff:192.0.2.1");
  g_autoptr(GInetAddress) v4 = g_inet_address_new_from_string ("192.0.2.1");
  g_autoptr(GInetAddress) v6 = g_inet_address_new_from_string ("2001:db8::1");
  g_autoptr(GInetAddress) unmapped = _wzp_address_unmap (mapped);
  g_autoptr(GInetAddress) v4_again = _wzp_address_unmap (v4);
  g_autoptr(GInetAddress) v6_again = _wzp_address_unmap (v6);
  g_autofree char *mapped_key = _wzp_address_source_key (mapped);
  g_autofree char *v4_key = _wzp_address_source_key (v4);

  g_assert_true (_wzp_address_is_mapped (mapped));
  g_assert_false (_wzp_address_is_mapped (v4));
  g_assert_false (_wzp_address_is_mapped (v6));

  g_assert_cmpint (g_inet_address_get_family (unmapped), ==, G_SOCKET_FAMILY_IPV4);
  g_assert_true (g_inet_address_equal (unmapped, v4));
  g_assert_true (v4_again == v4);
  g_assert_true (v6_again == v6);

  /* One peer, one spelling: the same class and the same per-source key. */
  g_assert_cmpint (_wzp_address_classify (mapped), ==, _wzp_address_classify (v4));
  g_assert_cmpstr (mapped_key, ==, v4_key);
}

static void
test_classify (void)
{
  static const struct {
    const char      *address;
    WzpAddressClass  klass;
  } cases[] = {
    { "0.0.0.0", WZP_ADDRESS_CLASS_UNSPECIFIED },
    { "0.1.2.3", WZP_ADDRESS_CLASS_OTHER },
    { "0.255.255.255", WZP_ADDRESS_CLASS_OTHER },
    { "1.0.0.0", WZP_ADDRESS_CLASS_GLOBAL },
    { "126.255.255.255", WZP_ADDRESS_CLASS_GLOBAL },
    { "127.0.0.0", WZP_ADDRESS_CLASS_LOOPBACK },
    { "127.0.0.1", WZP_ADDRESS_CLASS_LOOPBACK },
    { "127.255.255.255", WZP_ADDRESS_CLASS_LOOPBACK },
    { "128.0.0.0", WZP_ADDRESS_CLASS_GLOBAL },
    { "169.253.255.255", WZP_ADDRESS_CLASS_GLOBAL },
    { "169.254.0.0", WZP_ADDRESS_CLASS_LINK_LOCAL },
    { "169.254.255.255", WZP_ADDRESS_CLASS_LINK_LOCAL },
    { "169.255.0.0", WZP_ADDRESS_CLASS_GLOBAL },
    { "9.255.255.255", WZP_ADDRESS_CLASS_GLOBAL },
    { "10.0.0.0", WZP_ADDRESS_CLASS_PRIVATE },
    { "10.255.255.255", WZP_ADDRESS_CLASS_PRIVATE },
    { "11.0.0.0", WZP_ADDRESS_CLASS_GLOBAL },
    { "172.15.255.255", WZP_ADDRESS_CLASS_GLOBAL },
    { "172.16.0.0", WZP_ADDRESS_CLASS_PRIVATE },
    { "172.31.255.255", WZP_ADDRESS_CLASS_PRIVATE },
    { "172.32.0.0", WZP_ADDRESS_CLASS_GLOBAL },
    { "192.167.255.255", WZP_ADDRESS_CLASS_GLOBAL },
    { "192.168.0.0", WZP_ADDRESS_CLASS_PRIVATE },
    { "192.168.255.255", WZP_ADDRESS_CLASS_PRIVATE },
    { "192.169.0.0", WZP_ADDRESS_CLASS_GLOBAL },
    { "100.63.255.255", WZP_ADDRESS_CLASS_GLOBAL },
    { "100.64.0.0", WZP_ADDRESS_CLASS_CGNAT },
    { "100.127.255.255", WZP_ADDRESS_CLASS_CGNAT },
    { "100.128.0.0", WZP_ADDRESS_CLASS_GLOBAL },
    { "198.51.100.1", WZP_ADDRESS_CLASS_GLOBAL },
    { "8.8.8.8", WZP_ADDRESS_CLASS_GLOBAL },
    { "223.255.255.255", WZP_ADDRESS_CLASS_GLOBAL },
    { "224.0.0.0", WZP_ADDRESS_CLASS_OTHER },
    { "240.0.0.1", WZP_ADDRESS_CLASS_OTHER },
    { "255.255.255.255", WZP_ADDRESS_CLASS_OTHER },
    { "::", WZP_ADDRESS_CLASS_UNSPECIFIED },
    { "::1", WZP_ADDRESS_CLASS_LOOPBACK },
    { "::2", WZP_ADDRESS_CLASS_OTHER },
    { "fe7f:ffff::1", WZP_ADDRESS_CLASS_OTHER },
    { "fe80::", WZP_ADDRESS_CLASS_LINK_LOCAL },
    { "fe80::1", WZP_ADDRESS_CLASS_LINK_LOCAL },
    { "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", WZP_ADDRESS_CLASS_LINK_LOCAL },
    { "fec0::1", WZP_ADDRESS_CLASS_OTHER },
    { "fbff:ffff::1", WZP_ADDRESS_CLASS_OTHER },
    { "fc00::", WZP_ADDRESS_CLASS_ULA },
    { "fd00:1::21", WZP_ADDRESS_CLASS_ULA },
    { "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", WZP_ADDRESS_CLASS_ULA },
    { "fe00::1", WZP_ADDRESS_CLASS_OTHER },
    { "1fff:ffff::1", WZP_ADDRESS_CLASS_OTHER },
    { "2000::", WZP_ADDRESS_CLASS_GLOBAL },
    { "2001:db8:1::21", WZP_ADDRESS_CLASS_GLOBAL },
    { "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", WZP_ADDRESS_CLASS_GLOBAL },
    { "4000::1", WZP_ADDRESS_CLASS_OTHER },
    { "ff02::1", WZP_ADDRESS_CLASS_OTHER },
    { "::ffff:10.0.0.1", WZP_ADDRESS_CLASS_PRIVATE },
    { "::ffff:100.64.0.1", WZP_ADDRESS_CLASS_CGNAT },
    { "::ffff:127.0.0.1", WZP_ADDRESS_CLASS_LOOPBACK },
    { "::ffff:169.254.1.1", WZP_ADDRESS_CLASS_LINK_LOCAL },
    { "::ffff:0.0.0.0", WZP_ADDRESS_CLASS_UNSPECIFIED },
    { "::ffff:192.168.1.1", WZP_ADDRESS_CLASS_PRIVATE },
    { "::ffff:198.51.100.1", WZP_ADDRESS_CLASS_GLOBAL },
    { "::ffff:224.0.0.1", WZP_ADDRESS_CLASS_OTHER },
    { "not an address", WZP_ADDRESS_CLASS_INVALID },
    { "10.0.0.1:80", WZP_ADDRESS_CLASS_INVALID },
    { "", WZP_ADDRESS_CLASS_INVALID },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      WzpAddressClass klass = _wzp_address_classify_string (cases[i].address);

      g_test_message ("%s", cases[i].address);
      g_assert_cmpstr (_wzp_address_class_to_string (klass), ==,
                       _wzp_address_class_to_string (cases[i].klass));
    }
  g_assert_cmpint (_wzp_address_classify_string (NULL), ==, WZP_ADDRESS_CLASS_INVALID);

  g_assert_true (_wzp_address_class_is_lan (WZP_ADDRESS_CLASS_PRIVATE));
  g_assert_true (_wzp_address_class_is_lan (WZP_ADDRESS_CLASS_CGNAT));
  g_assert_true (_wzp_address_class_is_lan (WZP_ADDRESS_CLASS_ULA));
  g_assert_false (_wzp_address_class_is_lan (WZP_ADDRESS_CLASS_GLOBAL));
  g_assert_false (_wzp_address_class_is_lan (WZP_ADDRESS_CLASS_LOOPBACK));
  g_assert_false (_wzp_address_class_is_lan (WZP_ADDRESS_CLASS_LINK_LOCAL));
  g_assert_false (_wzp_address_class_is_lan (WZP_ADDRESS_CLASS_INVALID));
}

static void
test_source_key (void)
{
  static const struct { const char *address; const char *key; } cases[] = {
    { "198.51.100.7", "198.51.100.7" },
    { "::ffff:198.51.100.7", "198.51.100.7" },
    { "10.0.0.1", "10.0.0.1" },
    { "2001:db8:1:2::1", "2001:0db8:0001:0002::/64" },
    { "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:0db8:0001:0002::/64" },
    { "2001:db8:1:3::1", "2001:0db8:0001:0003::/64" },
    { "::1", "0000:0000:0000:0000::/64" },
    { "fe80::1", "fe80:0000:0000:0000::/64" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (cases[i].address);
      g_autofree char *key = _wzp_address_source_key (inet);

      g_test_message ("%s", cases[i].address);
      g_assert_cmpstr (key, ==, cases[i].key);
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/wzp/address/parse-format", test_parse_format);
  g_test_add_func ("/wzp/address/format-gio", test_format_gio);
  g_test_add_func ("/wzp/address/parse-bad", test_parse_bad);
  g_test_add_func ("/wzp/address/parse-ip", test_parse_ip);
  g_test_add_func ("/wzp/address/mapped", test_mapped);
  g_test_add_func ("/wzp/address/classify", test_classify);
  g_test_add_func ("/wzp/address/source-key", test_source_key);

  return g_test_run ();
}
