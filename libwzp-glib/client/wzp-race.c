/* wzp-race.c: direct path attempts of a call (dialled and accepted), each authenticated
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "wzp-address-private.h"
#include "wzp-enum-types.h"
#include "wzp-error.h"
#include "wzp-expect-stream-private.h"
#include "wzp-race-private.h"
#include "wzp-tls-private.h"
#include "wzp-timeout-private.h"

/* A dial from P that merged with the peer's (EADDRNOTAVAIL) expects the peer's connection
 * on accept within about a round trip; after this long without it, the candidate counts
 * as failed, so that "every direct attempt failed" can still open the relay early. (A
 * stale request socket on P, left by a stopped race, makes the same error and never
 * produces a connection: see docs/calls.md.) */
#define MERGED_DEADLINE_MS 100

/* P-bound dials (reflexive and global IPv6 host candidates) that failed are dialled
 * again after these delays while the race runs: NAT mappings and the peer's timing
 * change, and a direct path found later upgrades a relayed call (docs/decisions.md,
 * "Upgrade and fallback"). */
static const guint retry_delays_ms[] = { 500, 1500, 3500 };

#define PREAMBLE_MISMATCH "The other end is not in this call (wrong or missing preamble)"

typedef enum {
  TARGET_PENDING,
  TARGET_FAILED,   /* counted towards "every direct attempt failed" (retries may follow) */
  TARGET_OK,
} TargetState;

/* One peer candidate, dialled once or more. */
typedef struct
{
  WzpRace            *race;        /* owns the target */
  char               *address;
  GInetSocketAddress *sockaddr;    /* NULL if @address does not parse */
  WzpCandidateKind    kind;        /* HOST or REFLEXIVE */
  gboolean            from_port;   /* dialled from P */
  TargetState         state;
  guint               n_dials;
  guint               n_live;      /* dials in flight */
  guint               n_linked;    /* accepted connections in flight from this address */
  guint               merged_id;   /* the merged deadline */
  guint               retry_id;
} Target;

struct _WzpRace
{
  GObject         parent_instance;

  WzpCallRole     role;
  WzpIdentity    *identity;
  char           *peer_fingerprint;
  WzpSharedPort  *shared_port;
  WzpPeerCandidates *peer_candidates;
  char          **own_candidates;
  guint           n_promising;
  guint8          preamble[WZP_PREAMBLE_LEN];

  GMainContext   *context;        /* thread-default at construction: its timers' */
  GCancellable   *cancellable;
  GPtrArray      *timers;         /* pending paced dials (source ids) */
  GPtrArray      *targets;        /* Target*, in dial order */
  guint           n_failed;       /* targets in TARGET_FAILED */
  gboolean        exhausted;
  gboolean        stopped;
};

G_DEFINE_FINAL_TYPE (WzpRace, _wzp_race, G_TYPE_OBJECT)

enum {
  SIGNAL_PATH,
  SIGNAL_CANDIDATE_RESULT,
  SIGNAL_EXHAUSTED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

/* One TCP connection on its way to an authenticated path: a dial of @target, or a
 * connection the peer dialled (accepted, @target set when it completes a merged dial). */
typedef struct
{
  WzpRace              *race;
  Target               *target;
  gboolean              accepted;
  char                 *address;
  GSocketConnection    *conn;
  WzpExpectInputStream *expect;   /* the peer's preamble, read ahead of its TLS */
} Attempt;

static void
attempt_free (Attempt *attempt)
{
  g_object_unref (attempt->race);
  g_free (attempt->address);
  g_clear_object (&attempt->expect);
  g_clear_object (&attempt->conn);
  g_free (attempt);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Attempt, attempt_free)

static void
target_free (Target *target)
{
  _wzp_clear_source (target->race->context, &target->merged_id);
  _wzp_clear_source (target->race->context, &target->retry_id);
  g_free (target->address);
  g_clear_object (&target->sockaddr);
  g_free (target);
}

void
_wzp_preamble_build (const char *call_id,
                     guint8      out[WZP_PREAMBLE_LEN])
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize len = 32;

  memcpy (out, WZP_PREAMBLE_MAGIC, 3);
  out[3] = WZP_PREAMBLE_VERSION;
  g_checksum_update (checksum, (const guchar *) call_id, strlen (call_id));
  g_checksum_get_digest (checksum, out + 4, &len);
}

WzpPathKind
_wzp_path_kind_for_address (const char *address)
{
  g_autoptr(GInetAddress) inet = NULL;
  WzpAddressClass klass = WZP_ADDRESS_CLASS_INVALID;

  if (_wzp_address_parse_parts (address, &inet, NULL))
    klass = _wzp_address_classify (inet);

  /* Loopback is the same machine: as local as a LAN gets. */
  if (_wzp_address_class_is_lan (klass) || klass == WZP_ADDRESS_CLASS_LOOPBACK)
    return WZP_PATH_KIND_DIRECT_LAN;
  return WZP_PATH_KIND_DIRECT_INTERNET;
}

static void
report (WzpRace            *self,
        Target             *target,
        WzpCandidateResult  result,
        const char         *reason)
{
  g_signal_emit (self, signals[SIGNAL_CANDIDATE_RESULT], 0, target->address, target->kind,
                 result, reason ? reason : "");
}

static void dial (Target *target);

static gboolean
retry_cb (gpointer user_data)
{
  Target *target = user_data;

  target->retry_id = 0;
  dial (target);   /* (the attempt holds the race) */
  return G_SOURCE_REMOVE;
}

/* Dials a failed P-bound candidate again later, unless it is done or busy. */
static void
schedule_retry (Target *target)
{
  WzpRace *self = target->race;

  if (self->stopped || !target->from_port || target->sockaddr == NULL ||
      target->state == TARGET_OK ||
      target->n_live > 0 || target->n_linked > 0 || target->retry_id != 0 ||
      target->merged_id != 0 || target->n_dials > G_N_ELEMENTS (retry_delays_ms))
    return;
  target->retry_id = _wzp_timeout_add (target->race->context,
                                       retry_delays_ms[target->n_dials - 1], retry_cb, target);
}

/* The first verdict on a candidate counts towards "every direct attempt failed". */
static void
target_failed (Target *target)
{
  WzpRace *self = target->race;

  if (target->state == TARGET_PENDING)
    {
      target->state = TARGET_FAILED;
      if (++self->n_failed == self->targets->len && !self->exhausted && !self->stopped)
        {
          self->exhausted = TRUE;
          g_signal_emit (self, signals[SIGNAL_EXHAUSTED], 0);
        }
    }
  schedule_retry (target);
}

static void
target_ok (Target *target)
{
  if (target->state == TARGET_FAILED)
    target->race->n_failed--;
  target->state = TARGET_OK;
  _wzp_clear_source (target->race->context, &target->merged_id);
  _wzp_clear_source (target->race->context, &target->retry_id);
}

static gboolean
merged_deadline_cb (gpointer user_data)
{
  Target *target = user_data;
  g_autoptr(WzpRace) keep = g_object_ref (target->race);   /* across the signals */
  g_autofree char *reason = NULL;

  target->merged_id = 0;
  if (target->state == TARGET_OK)
    return G_SOURCE_REMOVE;
  reason = g_strdup_printf ("The peer's connection that this dial merged with did not come "
                            "within %d ms", MERGED_DEADLINE_MS);
  report (target->race, target, WZP_CANDIDATE_RESULT_FAILED, reason);
  target_failed (target);
  return G_SOURCE_REMOVE;
}

/* An attempt ended without a path. */
static void
attempt_failed (Attempt *attempt,
                GError  *error)
{
  Target *target = attempt->target;
  WzpCandidateResult result = WZP_CANDIDATE_RESULT_FAILED;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    result = WZP_CANDIDATE_RESULT_CANCELLED;
  else if (g_error_matches (error, WZP_SOCKET_ERROR, WZP_SOCKET_ERROR_MERGED))
    result = WZP_CANDIDATE_RESULT_MERGED;

  /* A FIN before the RST of SO_LINGER 0, as for paths (wzp-path.c): a NAT that saw only
   * the RST would drop the retry's SYN on the same 4-tuple. */
  if (attempt->conn != NULL)
    {
      g_socket_shutdown (g_socket_connection_get_socket (attempt->conn), FALSE, TRUE, NULL);
      g_io_stream_close (G_IO_STREAM (attempt->conn), NULL, NULL);
    }
  if (target == NULL)
    return;   /* accepted connections are the peer's attempts: it reports them */

  if (attempt->accepted)
    {
      /* The peer's side of a merged dial failed: the merged deadline (or its verdict, if
       * it passed already) decides; a retry may go out now. */
      target->n_linked--;
      if (target->state == TARGET_FAILED)
        schedule_retry (target);
      return;
    }

  target->n_live--;
  report (attempt->race, target, result, error->message);
  if (result == WZP_CANDIDATE_RESULT_MERGED)
    {
      /* Not a failure: the peer's dial made this very connection, and it is on its way to
       * our listener (docs/decisions.md, "Which port a dial leaves from"). */
      if (target->merged_id == 0 && target->state != TARGET_OK && !attempt->race->stopped)
        target->merged_id = _wzp_timeout_add (target->race->context, MERGED_DEADLINE_MS,
                                              merged_deadline_cb, target);
    }
  else if (result == WZP_CANDIDATE_RESULT_FAILED)
    target_failed (target);
}

static void
attempt_succeeded (Attempt *attempt)
{
  Target *target = attempt->target;

  if (target == NULL)
    return;
  if (attempt->accepted)
    {
      target->n_linked--;
      if (target->state == TARGET_OK)
        return;
      /* The candidate's outcome: the peer's dial (ours merged with it, or is still out)
       * made the path. */
      report (attempt->race, target, WZP_CANDIDATE_RESULT_OK,
              "through the peer's dial from there");
    }
  else
    {
      target->n_live--;
      report (attempt->race, target, WZP_CANDIDATE_RESULT_OK, NULL);
    }
  target_ok (target);
}

static void
secured_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(Attempt) attempt = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WzpPath) path = _wzp_path_secure_finish (result, &error);

  if (path == NULL)
    {
      /* A wrong or missing preamble surfaces as a TLS read error: say what it was. */
      if (attempt->expect != NULL &&
          !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autoptr(GError) preamble_error = NULL;

          if (_wzp_expect_input_stream_failed (attempt->expect, &preamble_error))
            {
              g_clear_error (&error);
              error = g_steal_pointer (&preamble_error);
            }
        }
      /* The same private address on another LAN reaches someone else: the pin fails
       * here and the race goes on. */
      attempt_failed (attempt, error);
      return;
    }

  g_clear_object (&attempt->conn);   /* the path owns it now */
  path->label = g_strdup (attempt->target ? attempt->target->address : attempt->address);
  attempt_succeeded (attempt);
  if (attempt->race->stopped)
    {
      _wzp_path_close (path);
      return;
    }
  g_signal_emit (attempt->race, signals[SIGNAL_PATH], 0, path);
}

static void
secure (Attempt *attempt)
{
  WzpRace *self = attempt->race;
  g_autoptr(GIOStream) transport = NULL;

  /* The race may have stopped, or the peer closed, while the preamble was in flight: a
   * TLS handshake on a closed connection trips glib-networking. */
  if (self->stopped || g_io_stream_is_closed (G_IO_STREAM (attempt->conn)))
    {
      g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                             "The attempt ended before its handshake");
      attempt_failed (attempt, error);
      attempt_free (attempt);
      return;
    }

  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (attempt->conn,
                                                                            NULL);
  g_autofree char *remote_text = remote ? _wzp_address_to_string (remote)
                                        : g_strdup (attempt->address);

  /* A dialler's TLS starts right after its own preamble, without waiting for the peer's:
   * the TLS client's ClientHello saves half a round trip. The peer's preamble is read
   * and checked, exactly, by the TLS reads themselves (docs/decisions.md, "Exact reads
   * before a hand-over"). An acceptor's preamble was read already, by whoever routed the
   * connection here. */
  if (!attempt->accepted)
    transport = _wzp_expect_io_stream_new (G_IO_STREAM (attempt->conn), self->preamble,
                                           WZP_PREAMBLE_LEN, PREAMBLE_MISMATCH,
                                           &attempt->expect);

  /* The caller is the TLS client (docs/decisions.md, "End-to-end TLS on every path"). */
  _wzp_path_secure_async (G_IO_STREAM (attempt->conn), transport, self->identity,
                          self->peer_fingerprint, self->role,
                          _wzp_path_kind_for_address (remote_text), remote_text,
                          self->cancellable, secured_cb, attempt);
}

static void
preamble_written_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Attempt *attempt = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      attempt_failed (attempt, error);
      attempt_free (attempt);
      return;
    }
  secure (attempt);
}

static void
send_preamble (Attempt *attempt)
{
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (attempt->conn)),
                                   attempt->race->preamble, WZP_PREAMBLE_LEN,
                                   G_PRIORITY_DEFAULT, attempt->race->cancellable,
                                   preamble_written_cb, attempt);
}

static void
dialled_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Attempt *attempt = user_data;
  g_autoptr(GError) error = NULL;

  if (attempt->target->from_port)
    attempt->conn = _wzp_shared_port_connect_finish (WZP_SHARED_PORT (source), result, &error);
  else
    attempt->conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);

  if (attempt->conn == NULL)
    {
      attempt_failed (attempt, error);
      attempt_free (attempt);
      return;
    }
  /* The preamble and the TLS flight behind it go out back to back: without TCP_NODELAY
   * the second would wait for the peer's (delayed) ACK of the first. */
  _wzp_socket_connection_set_nodelay (G_IO_STREAM (attempt->conn));
  send_preamble (attempt);
}

static Attempt *
attempt_new (WzpRace *self,
             Target  *target)
{
  Attempt *attempt = g_new0 (Attempt, 1);

  attempt->race = g_object_ref (self);
  attempt->target = target;
  attempt->address = g_strdup (target->address);
  target->n_live++;
  target->n_dials++;
  return attempt;
}

static void
dial_attempt (Attempt *attempt)
{
  WzpRace *self = attempt->race;
  Target *target = attempt->target;

  if (target->sockaddr == NULL)
    {
      g_autoptr(GError) error = g_error_new (WZP_PROTOCOL_ERROR,
                                             WZP_PROTOCOL_ERROR_INVALID_VALUE,
                                             "Not an address");
      attempt_failed (attempt, error);
      attempt_free (attempt);
      return;
    }

  if (target->from_port)
    _wzp_shared_port_connect_async (self->shared_port, G_SOCKET_ADDRESS (target->sockaddr),
                                    self->cancellable, dialled_cb, attempt);
  else
    {
      g_autoptr(GSocketClient) client = g_socket_client_new ();

      g_socket_client_set_enable_proxy (client, FALSE);   /* docs/decisions.md, "No proxies" */
      g_socket_client_set_timeout (client, 10);
      g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (target->sockaddr),
                                     self->cancellable, dialled_cb, attempt);
    }
}

static void
dial (Target *target)
{
  dial_attempt (attempt_new (target->race, target));
}

typedef struct
{
  WzpRace *race;
  Attempt *attempt;
  guint    id;
} PacedDial;

static gboolean
paced_dial_cb (gpointer user_data)
{
  PacedDial *paced = user_data;

  g_ptr_array_remove_fast (paced->race->timers, GUINT_TO_POINTER (paced->id));
  dial_attempt (g_steal_pointer (&paced->attempt));
  return G_SOURCE_REMOVE;
}

static void
paced_dial_free (PacedDial *paced)
{
  if (paced->attempt != NULL)
    {
      g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                             "The race ended before this dial");
      attempt_failed (paced->attempt, error);
      attempt_free (paced->attempt);
    }
  g_free (paced);
}

static void
add_dial (WzpRace          *self,
          const char       *address,
          WzpCandidateKind  kind,
          gboolean          from_port)
{
  Target *target = g_new0 (Target, 1);
  PacedDial *paced = g_new0 (PacedDial, 1);

  target->race = self;
  target->address = g_strdup (address);
  target->sockaddr = _wzp_address_parse (address, NULL);
  target->kind = kind;
  target->from_port = from_port && self->shared_port != NULL;

  paced->race = self;
  paced->attempt = attempt_new (self, target);
  paced->id = _wzp_timeout_add_full (self->context, G_PRIORITY_DEFAULT,
                                     self->targets->len * WZP_RACE_PACING_MS, paced_dial_cb,
                                     paced, (GDestroyNotify) paced_dial_free);
  g_ptr_array_add (self->timers, GUINT_TO_POINTER (paced->id));
  g_ptr_array_add (self->targets, target);
}

/* Does @candidate share a network with one of our own host candidates (same /24 for
 * IPv4, same /64 for IPv6)? Only then can a host dial be expected to work across what may
 * be two LANs using the same private ranges (docs/decisions.md, "The relay's head start"). */
static gboolean
shares_our_network (WzpRace    *self,
                    const char *candidate)
{
  g_autoptr(GInetAddress) peer = NULL;

  if (!_wzp_address_parse_parts (candidate, &peer, NULL))
    return FALSE;
  if (g_inet_address_get_is_loopback (peer))
    return TRUE;

  for (guint i = 0; self->own_candidates && self->own_candidates[i]; i++)
    {
      g_autoptr(GInetAddress) own = NULL;
      gsize len, prefix;

      if (!_wzp_address_parse_parts (self->own_candidates[i], &own, NULL) ||
          g_inet_address_get_family (own) != g_inet_address_get_family (peer))
        continue;
      len = g_inet_address_get_native_size (own);
      prefix = len == 4 ? 3 : 8;
      if (memcmp (g_inet_address_to_bytes (own), g_inet_address_to_bytes (peer), prefix) == 0)
        return TRUE;
    }
  return FALSE;
}

guint
_wzp_race_start (WzpRace *self)
{
  guint n_candidates = _wzp_peer_candidates_get_length (self->peer_candidates);
  const char *reflexive = _wzp_peer_candidates_get_reflexive (self->peer_candidates);
  WzpNatType nat = _wzp_peer_candidates_get_nat_type (self->peer_candidates);
  gboolean dial_reflexive;

  /* A reflexive dial is skipped only when the peer's mapping depends on the destination
   * (docs/decisions.md, "When a reflexive dial is skipped"). */
  dial_reflexive = reflexive != NULL &&
                   nat != WZP_NAT_TYPE_SYMMETRIC && nat != WZP_NAT_TYPE_MULTIPLE;

  /* Dial order: the peer's host candidates that can work from here (on a network we share,
   * or global IPv6), in the peer's order (IPv4, then IPv6); then the reflexive address;
   * then the host candidates on networks we do not see, which across two sites can only
   * hang. Dials are paced, so a hopeless dial ahead of the reflexive one would cost the
   * cross-NAT case a pacing step. Private and ULA candidates from an ephemeral port (two
   * peers dialling each other's host candidate from P would collide); global IPv6 from P,
   * so that stateful firewalls see a simultaneous open (docs/decisions.md, "Which port a
   * dial leaves from"). */
  for (guint pass = 0; pass < 2; pass++)
    {
      for (guint i = 0; i < n_candidates; i++)
        {
          const WzpPeerCandidate *host = _wzp_peer_candidates_get (self->peer_candidates, i);
          g_autoptr(GInetAddress) inet = NULL;
          gboolean global = FALSE;
          gboolean promising;

          if (host->kind != WZP_PEER_CANDIDATE_HOST)
            continue;
          if (_wzp_address_parse_parts (host->address, &inet, NULL))
            global = _wzp_address_classify (inet) == WZP_ADDRESS_CLASS_GLOBAL;
          promising = global || shares_our_network (self, host->address);
          if (promising != (pass == 0))
            continue;
          add_dial (self, host->address, WZP_CANDIDATE_KIND_HOST, global);
          if (promising)
            self->n_promising++;
        }

      if (pass == 0 && dial_reflexive)
        {
          add_dial (self, reflexive, WZP_CANDIDATE_KIND_REFLEXIVE, TRUE);
          self->n_promising++;
        }
    }

  /* Direct attempts all run; the caller of this function only needs to know whether any
   * is worth giving the relay a head start for. */
  return self->n_promising;
}

/* The P-bound candidate whose address @remote is: a connection from there completes a
 * dial of ours that merged with the peer's (or would have met it). */
static Target *
merged_target_for (WzpRace        *self,
                   GSocketAddress *remote)
{
  GInetSocketAddress *inet;

  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    return NULL;
  inet = G_INET_SOCKET_ADDRESS (remote);
  for (guint i = 0; i < self->targets->len; i++)
    {
      Target *target = g_ptr_array_index (self->targets, i);

      if (target->from_port && target->sockaddr != NULL &&
          g_inet_socket_address_get_port (target->sockaddr) ==
            g_inet_socket_address_get_port (inet) &&
          g_inet_address_equal (g_inet_socket_address_get_address (target->sockaddr),
                                g_inet_socket_address_get_address (inet)))
        return target;
    }
  return NULL;
}

void
_wzp_race_take_accepted (WzpRace           *self,
                         GSocketConnection *connection)
{
  Attempt *attempt;

  if (self->stopped)
    {
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return;
    }

  attempt = g_new0 (Attempt, 1);
  attempt->race = g_object_ref (self);
  attempt->accepted = TRUE;
  attempt->conn = g_object_ref (connection);
  {
    g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
    attempt->address = remote ? _wzp_address_to_string (remote) : g_strdup ("?");
    attempt->target = remote ? merged_target_for (self, remote) : NULL;
  }
  if (attempt->target != NULL)
    attempt->target->n_linked++;
  send_preamble (attempt);
}

void
_wzp_race_stop (WzpRace *self)
{
  if (self->stopped)
    return;
  self->stopped = TRUE;
  g_cancellable_cancel (self->cancellable);
  while (self->timers->len > 0)
    {
      guint id = GPOINTER_TO_UINT (g_ptr_array_steal_index_fast (self->timers, 0));
      _wzp_clear_source (self->context, &id);
    }
  for (guint i = 0; i < self->targets->len; i++)
    {
      Target *target = g_ptr_array_index (self->targets, i);

      _wzp_clear_source (target->race->context, &target->merged_id);
      _wzp_clear_source (target->race->context, &target->retry_id);
    }
}

WzpRace *
_wzp_race_new (const char    *call_id,
               WzpCallRole    role,
               WzpIdentity   *identity,
               const char    *peer_fingerprint,
               WzpSharedPort *shared_port,
               WzpPeerCandidates *peer_candidates,
               const char * const *own_candidates)
{
  WzpRace *self = g_object_new (WZP_TYPE_RACE, NULL);

  self->own_candidates = g_strdupv ((char **) own_candidates);
  self->role = role;
  self->identity = g_object_ref (identity);
  self->peer_fingerprint = g_strdup (peer_fingerprint);
  self->shared_port = shared_port ? g_object_ref (shared_port) : NULL;
  self->peer_candidates = _wzp_peer_candidates_ref (peer_candidates);
  _wzp_preamble_build (call_id, self->preamble);
  return self;
}

static void
_wzp_race_dispose (GObject *object)
{
  WzpRace *self = WZP_RACE (object);

  _wzp_race_stop (self);
  g_clear_object (&self->shared_port);

  G_OBJECT_CLASS (_wzp_race_parent_class)->dispose (object);
}

static void
_wzp_race_finalize (GObject *object)
{
  WzpRace *self = WZP_RACE (object);

  g_clear_object (&self->identity);
  g_free (self->peer_fingerprint);
  g_strfreev (self->own_candidates);
  g_clear_pointer (&self->peer_candidates, _wzp_peer_candidates_unref);
  g_clear_object (&self->cancellable);
  g_ptr_array_unref (self->timers);
  g_ptr_array_unref (self->targets);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (_wzp_race_parent_class)->finalize (object);
}

static void
_wzp_race_class_init (WzpRaceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = _wzp_race_dispose;
  object_class->finalize = _wzp_race_finalize;

  signals[SIGNAL_PATH] =
    g_signal_new ("path", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_CANDIDATE_RESULT] =
    g_signal_new ("candidate-result", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING, WZP_TYPE_CANDIDATE_KIND,
                  WZP_TYPE_CANDIDATE_RESULT, G_TYPE_STRING);
  signals[SIGNAL_EXHAUSTED] =
    g_signal_new ("exhausted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
}

static void
_wzp_race_init (WzpRace *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->cancellable = g_cancellable_new ();
  self->timers = g_ptr_array_new ();
  self->targets = g_ptr_array_new_with_free_func ((GDestroyNotify) target_free);
}
