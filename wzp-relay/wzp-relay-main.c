/* wzp-relay-main.c: the wzp-relay daemon around WzpRelay
 *
 * Options and the key file, the identity, federation peers, listening, the URI lines on
 * stdout, logging, SIGTERM/SIGINT, and (with --dbus) the bus name. The relay itself is
 * the library's WzpRelay, so that tests and other programs can embed the very same thing.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <gio/gio.h>

#include <wzp-glib.h>

#include "wzp-relay-bus.h"
#include "wzp-relay-config.h"

typedef struct
{
  GStrv     listen;
  GStrv     pipe_listen;
  GStrv     peers;
  char     *identity;
  char     *config;
  char     *dbus;
  gboolean  replace;
  gboolean  print_fingerprint;
  gboolean  verbose;
  gboolean  version;
} Options;

typedef struct
{
  GMainLoop    *loop;
  GCancellable *cancellable;   /* cancelled by SIGTERM/SIGINT */
  int           exit_status;
  WzpIdentity  *identity;      /* while loading */
  GError       *error;         /* while loading */
} Daemon;

static void
options_clear (Options *options)
{
  g_strfreev (options->listen);
  g_strfreev (options->pipe_listen);
  g_strfreev (options->peers);
  g_free (options->identity);
  g_free (options->config);
  g_free (options->dbus);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

static int
fail (const char *format,
      ...) G_GNUC_PRINTF (1, 2);

/* The one way the daemon reports a fatal error: “wzp-relay: message” on stderr. */
static int
fail (const char *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("%s: %s\n", g_get_prgname (), message);
  return EXIT_FAILURE;
}

/* GLib's default writer drops INFO unless G_MESSAGES_DEBUG names the domain. The relay
 * logs limit hits, registrations and calls at INFO, and an operator wants those in the
 * journal without asking, so INFO always goes out; DEBUG stays behind --verbose,
 * G_MESSAGES_DEBUG or org.gtk.Debugging. Everything else is GLib's default writer. */
static GLogWriterOutput
relay_log_writer (GLogLevelFlags   log_level,
                  const GLogField *fields,
                  gsize            n_fields,
                  gpointer         user_data)
{
  static gsize journald_checked = 0;
  static gboolean to_journald = FALSE;

  if ((log_level & G_LOG_LEVEL_MASK) == G_LOG_LEVEL_INFO && !g_log_get_debug_enabled ())
    {
      if (g_once_init_enter (&journald_checked))
        {
          to_journald = g_log_writer_is_journald (fileno (stderr));
          g_once_init_leave (&journald_checked, 1);
        }
      if (to_journald &&
          g_log_writer_journald (log_level, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
        return G_LOG_WRITER_HANDLED;
      return g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
    }
  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

/* A relay holds a descriptor per client and four per relayed call: use all the
 * descriptors the hard limit allows (units raise that with LimitNOFILE=). */
static void
raise_nofile_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max)
    return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
    g_debug ("Cannot raise the open file limit to %lu: %s",
             (unsigned long) limit.rlim_max, g_strerror (errno));
}

/* Whether [::] can be bound: false on hosts (or containers) without IPv6. */
static gboolean
host_has_ipv6 (void)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (any, 0);

  socket = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         NULL);
  return socket != NULL && g_socket_bind (socket, address, FALSE, NULL);
}

static char *
default_identity_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "wzp", "relay.pem", NULL);
}

static char *
default_config_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "wzp", "relay.conf", NULL);
}

static gboolean
signal_cb (gpointer user_data)
{
  Daemon *daemon = user_data;

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO, "MESSAGE", "Shutting down");
  g_cancellable_cancel (daemon->cancellable);
  g_main_loop_quit (daemon->loop);
  return G_SOURCE_CONTINUE;
}

static void
bus_lost_cb (const char *message,
             gpointer    user_data)
{
  Daemon *daemon = user_data;

  fail ("%s", message);
  daemon->exit_status = EXIT_FAILURE;
  g_main_loop_quit (daemon->loop);
}

static void
identity_loaded_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Daemon *daemon = user_data;

  daemon->identity = wzp_identity_load_or_create_finish (result, &daemon->error);
  g_main_loop_quit (daemon->loop);
}

/* wzp_relay_stop() queues a last message on every connection and closes each one once
 * it is written: run the main loop until nothing has happened for a moment, at most
 * @max_ms (a client that stopped reading must not hold the shutdown up). */
static void
drain_main_context (guint max_ms)
{
  gint64 deadline = g_get_monotonic_time () + max_ms * G_TIME_SPAN_MILLISECOND;
  guint quiet_rounds = 0;

  while (quiet_rounds < 10 && g_get_monotonic_time () < deadline)
    {
      if (g_main_context_iteration (NULL, FALSE))
        quiet_rounds = 0;
      else
        {
          quiet_rounds++;
          g_usleep (2 * G_TIME_SPAN_MILLISECOND);
        }
    }
}

static gboolean
parse_options (Options   *options,
               int       *argc,
               char    ***argv,
               GError   **error)
{
  const GOptionEntry entries[] = {
    { "listen", 'l', G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING_ARRAY, &options->listen,
      N_("Listen for clients on ADDR:PORT; repeat for more addresses "
         "(default: [::]:4433, or 0.0.0.0:4433 without IPv6; port 0 picks a free port)"),
      N_("ADDR:PORT") },
    { "pipe-listen", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING_ARRAY, &options->pipe_listen,
      N_("Accept relay pipes on ADDR:PORT, one per --listen in the same order "
         "(default: each listen address with the next port)"),
      N_("ADDR:PORT") },
    { "peer", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING_ARRAY, &options->peers,
      N_("Federate with the relay at URI (wzps://HOST:PORT#FINGERPRINT, as that relay "
         "prints it); repeat for more peers. The link comes up once that relay lists this "
         "one too. Replaces [federation] peers of the configuration file"),
      N_("URI") },
    { "identity", 'i', G_OPTION_FLAG_NONE, G_OPTION_ARG_FILENAME, &options->identity,
      N_("The relay's key and certificate, made on first use "
         "(default: $XDG_DATA_HOME/wzp/relay.pem)"),
      N_("FILE") },
    { "config", 'c', G_OPTION_FLAG_NONE, G_OPTION_ARG_FILENAME, &options->config,
      N_("Read settings and limits from this key file "
         "(default: $XDG_CONFIG_HOME/wzp/relay.conf if it exists)"),
      N_("FILE") },
    { "dbus", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING, &options->dbus,
      N_("Own org.wzp.Relay1 on the session or system bus"), N_("session|system") },
    { "replace", 'r', G_OPTION_FLAG_NONE, G_OPTION_ARG_NONE, &options->replace,
      N_("Replace the relay that owns org.wzp.Relay1 (with --dbus)"), NULL },
    { "print-fingerprint", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_NONE,
      &options->print_fingerprint,
      N_("Print the fingerprint of the identity (making it if needed) and exit"), NULL },
    { "verbose", 'v', G_OPTION_FLAG_NONE, G_OPTION_ARG_NONE, &options->verbose,
      N_("Log debug messages too"), NULL },
    { "version", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_NONE, &options->version,
      N_("Print the version and exit"), NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);

  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context,
    _("The wzp relay: clients register with it, it introduces callers to callees and "
      "carries calls that find no direct path.\n"
      "Once listening, it prints one line wzps://HOST:PORT#FINGERPRINT per listen address."));
  g_option_context_set_description (context,
    _("Options given here win over the configuration file; see wzp-relay.conf.example for "
      "its keys and the limits.\n"
      "\n"
      "Federation: users of two relays can call each other when each relay lists the other "
      "as a peer, with the URI (and so the fingerprint) the other one prints at start:\n"
      "  relay A: wzp-relay --peer wzps://b.example.org:4433#FINGERPRINT-OF-B\n"
      "  relay B: wzp-relay --peer wzps://a.example.org:4433#FINGERPRINT-OF-A\n"
      "Each relay pins the other's fingerprint: a relay with another key is refused.\n"
      "\n"
      "G_MESSAGES_DEBUG=wzp-relay,Wzp selects debug output by log domain."));

  return g_option_context_parse (context, argc, argv, error);
}

int
main (int    argc,
      char **argv)
{
  g_auto(Options) options = { NULL, };
  g_autoptr(WzpRelayConfig) config = wzp_relay_config_new ();
  g_autoptr(WzpRelay) relay = NULL;
  g_autoptr(WzpRelayBus) bus = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autofree char *identity_path = NULL;
  g_auto(GStrv) uris = NULL;
  Daemon daemon = { NULL, };
  GStrv listen;
  GStrv pipe_listen;
  GStrv peers;
  gboolean listen_from_config;
  GBusType bus_type = G_BUS_TYPE_NONE;
  guint sigterm_id, sigint_id;

  /* Before anything can log: GLib itself may. */
  g_log_set_writer_func (relay_log_writer, NULL, NULL);
  /* stdout carries the URI lines that scripts read, and nothing else. */
  g_log_writer_default_set_use_stderr (TRUE);

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  g_set_prgname ("wzp-relay");

  /* Writing to a connection or a pipe whose reader has gone (stdout's, say) must be an
   * EPIPE to handle, not the end of the relay. */
  signal (SIGPIPE, SIG_IGN);

  if (!parse_options (&options, &argc, &argv, &error))
    return fail ("%s", error->message);
  if (argc > 1)
    return fail ("unexpected argument “%s”; see --help", argv[1]);

  if (options.version)
    {
      g_print ("wzp-relay %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }

  if (options.verbose)
    g_log_set_debug_enabled (TRUE);

  if (options.dbus != NULL)
    {
      if (g_str_equal (options.dbus, "session"))
        bus_type = G_BUS_TYPE_SESSION;
      else if (g_str_equal (options.dbus, "system"))
        bus_type = G_BUS_TYPE_SYSTEM;
      else
        return fail ("--dbus must be “session” or “system”, not “%s”", options.dbus);
    }
  if (options.replace && bus_type == G_BUS_TYPE_NONE)
    return fail ("--replace replaces a relay on the bus: use it with --dbus");

  /* An explicit --config must exist; the default one is read only when it does. */
  if (options.config != NULL)
    {
      if (!wzp_relay_config_load (config, options.config, &error))
        return fail ("%s", error->message);
    }
  else
    {
      g_autofree char *path = default_config_path ();

      if (g_file_test (path, G_FILE_TEST_EXISTS) &&
          !wzp_relay_config_load (config, path, &error))
        return fail ("%s", error->message);
    }

  /* Not fatal, so not through GLib's log (G_DEBUG=fatal-warnings would make it so). */
  for (guint i = 0; i < config->warnings->len; i++)
    g_printerr ("%s: warning: %s\n", g_get_prgname (),
                (const char *) g_ptr_array_index (config->warnings, i));

  listen_from_config = options.listen == NULL && config->listen != NULL;
  listen = options.listen != NULL ? options.listen : config->listen;
  /* Pipe addresses pair with listen addresses: the file's only go with the file's (or the
   * default) listen addresses, never with --listen. */
  if (options.pipe_listen != NULL)
    pipe_listen = options.pipe_listen;
  else if (options.listen == NULL)
    pipe_listen = config->pipe_listen;
  else
    pipe_listen = NULL;
  if (listen == NULL)
    {
      static char *ipv6_default[] = { (char *) "[::]:4433", NULL };
      static char *ipv4_default[] = { (char *) "0.0.0.0:4433", NULL };

      listen = host_has_ipv6 () ? ipv6_default : ipv4_default;
    }
  /* --peer replaces the file's peers, as --listen replaces its listen addresses. */
  peers = options.peers != NULL ? options.peers : config->peers;
  for (guint i = 0; options.peers != NULL && options.peers[i] != NULL; i++)
    if (!wzp_relay_config_check_relay_uri (options.peers[i], &error))
      return fail ("--peer: %s", error->message);

  if (pipe_listen != NULL && g_strv_length (pipe_listen) != g_strv_length (listen))
    {
      g_autofree char *where = NULL;

      if (pipe_listen == config->pipe_listen)
        where = g_strdup_printf ("%s: [relay] pipe-listen: ", config->path);
      return fail ("%sgive one pipe address per listen address, in the same order "
                   "(%u listen, %u pipe-listen)", where != NULL ? where : "",
                   g_strv_length (listen), g_strv_length (pipe_listen));
    }

  raise_nofile_limit ();

  loop = g_main_loop_new (NULL, FALSE);
  cancellable = g_cancellable_new ();
  daemon.loop = loop;
  daemon.cancellable = cancellable;
  daemon.exit_status = EXIT_SUCCESS;
  sigterm_id = g_unix_signal_add (SIGTERM, signal_cb, &daemon);
  sigint_id = g_unix_signal_add (SIGINT, signal_cb, &daemon);

  /* The identity: made on first use (key generation runs in a worker thread). */
  if (options.identity != NULL)
    identity_path = g_strdup (options.identity);
  else if (config->identity != NULL)
    identity_path = g_strdup (config->identity);
  else
    identity_path = default_identity_path ();
  /* Its folder is made, and kept private, by the library (docs/identity.md, "The folder"). */

  wzp_identity_load_or_create_async (identity_path, cancellable, identity_loaded_cb, &daemon);
  g_main_loop_run (loop);
  if (g_cancellable_is_cancelled (cancellable))
    {
      g_clear_object (&daemon.identity);
      g_clear_error (&daemon.error);
      return EXIT_SUCCESS;
    }
  if (daemon.identity == NULL)
    {
      g_autoptr(GError) identity_error = g_steal_pointer (&daemon.error);

      return fail ("%s: %s", identity_path, identity_error->message);
    }

  if (options.print_fingerprint)
    {
      g_print ("%s\n", wzp_identity_get_fingerprint (daemon.identity));
      g_clear_object (&daemon.identity);
      return EXIT_SUCCESS;
    }

  relay = wzp_relay_new (daemon.identity);
  g_clear_object (&daemon.identity);
  wzp_relay_config_apply (config, relay);

  /* Peers before listening, so that a peer the relay refuses stops it before it binds
   * anything; the relay dials them once it listens. */
  for (guint i = 0; peers != NULL && peers[i] != NULL; i++)
    if (!wzp_relay_add_peer (relay, peers[i], &error))
      {
        wzp_relay_stop (relay);
        if (peers == config->peers)
          return fail ("%s: [federation] peers: %s", config->path, error->message);
        return fail ("--peer: %s", error->message);
      }

  for (guint i = 0; listen[i] != NULL; i++)
    if (!wzp_relay_listen (relay, listen[i], pipe_listen ? pipe_listen[i] : NULL, &error))
      {
        wzp_relay_stop (relay);
        if (listen_from_config)
          return fail ("%s: [relay] listen: %s", config->path, error->message);
        return fail ("%s", error->message);
      }

  /* The contract with scripts and tests: one line per listen address, flushed. */
  uris = wzp_relay_dup_uris (relay);
  for (guint i = 0; uris[i] != NULL; i++)
    g_print ("%s\n", uris[i]);
  fflush (stdout);

  if (bus_type != G_BUS_TYPE_NONE)
    bus = wzp_relay_bus_new (relay, bus_type, options.replace, bus_lost_cb, &daemon);

  g_main_loop_run (loop);

  /* Stop accepting, hang up calls (CallEnded still goes out on the bus), close pipes, let
   * the connections flush their last messages; then release the name and flush the bus. */
  wzp_relay_stop (relay);
  drain_main_context (1000);
  g_clear_pointer (&bus, wzp_relay_bus_free);
  g_source_remove (sigterm_id);
  g_source_remove (sigint_id);

  return daemon.exit_status;
}
