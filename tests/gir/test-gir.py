#!/usr/bin/env python3
# test-gir.py: libwzp-glib from Python through GObject introspection
#
# PyGObject 3.42 (Debian 12) has no asyncio integration, so this uses callbacks on a
# GLib main loop. An in-process relay on 127.0.0.1:0, two clients with fresh identities
# in a temporary directory, one call answered in privacy mode (so it takes the relay
# path whatever the machine's interfaces), hung up by the caller.
#
# The lines between "# example: python" and "# end of example" are quoted verbatim in
# docs/api.md; tests/gir/check-api-doc.py fails when the two differ.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import shutil
import sys
import tempfile

import gi

gi.require_version("Wzp", "1.0")
from gi.repository import Gio, GLib, Wzp  # noqa: E402

TIMEOUT_S = 20


# example: python
def load_identity(path, done):
    """Loads the identity at path (making it on first use), then done(identity)."""
    def loaded(_source, result):
        done(Wzp.Identity.load_or_create_finish(result))

    Wzp.Identity.load_or_create_async(path, None, loaded)


def connect_client(identity, relay_uri, done):
    """Registers a new client with the relay, then done(client)."""
    client = Wzp.Client.new(identity)
    client.props.relay_uri = relay_uri
    # Voice from a test signal into nothing: no sound card here.
    client.props.audio_source = "audiotestsrc is-live=true wave=sine freq=1000"
    client.props.audio_sink = "fakesink sync=false"

    def connected(client, result):
        client.connect_finish(result)  # raises GLib.Error if registration failed
        done(client)

    client.connect_async(None, connected)


def answer_calls(client, mode, on_call):
    """Rings and answers every incoming call with mode; on_call(call) sees each one."""
    def incoming(client, call):
        on_call(call)
        call.ring()
        call.answer_async(mode, None, lambda call, result: call.answer_finish(result))

    client.connect("incoming-call", incoming)


def place_call(client, fingerprint, done):
    """Calls fingerprint; done(call) once a path is nominated (raises on failure)."""
    def placed(client, result):
        done(client.place_call_finish(result))

    client.place_call_async(fingerprint, None, placed)
# end of example


class Test:
    def __init__(self):
        self.loop = GLib.MainLoop()
        self.tmp = tempfile.mkdtemp(prefix="wzp-test-gir-")
        self.n = 0
        self.failed = False
        self.error = None
        self.relay = None
        self.relay_b = None
        self.link_up = False
        self.bob_announced = False
        self.clients = []
        self.callee_call = None
        self.calls_ended = {}

    # TAP
    def check(self, ok, description):
        self.n += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} - {description}", flush=True)
        if not ok:
            self.failed = True
        return ok

    def fail(self, error):
        self.error = error
        self.loop.quit()

    def guard(self, fn):
        """Runs fn from a callback; an exception ends the test as a failure."""
        def wrapper(*args):
            try:
                return fn(*args)
            except Exception as e:  # noqa: BLE001 (reported through TAP)
                self.fail(e)
                return None
        return wrapper

    def path(self, name):
        return os.path.join(self.tmp, name)

    # The steps, in order
    def audio_devices(self):
        """The device list is a Gio.ListModel of Wzp.AudioDevice, whatever this machine
        has (no sound server: an empty list, or an error that says why)."""
        # Only ever a server that is not there: nothing started, nothing asked.
        os.environ["PULSE_SERVER"] = "unix:" + self.path("no-pulse")
        devices = Wzp.AudioDevices.new()
        self.check(isinstance(devices, Gio.ListModel) and
                   devices.get_item_type() == Wzp.AudioDevice.__gtype__ and
                   devices.get_n_items() == 0,
                   "a new device list is an empty Gio.ListModel of Wzp.AudioDevice")
        try:
            devices.start()
            started = "started"
        except GLib.Error as e:
            started = f"not started: {e.message}"
        items = [devices.get_item(i) for i in range(devices.get_n_items())]
        self.check(all(isinstance(d.props.id, str) and isinstance(d.props.display_name, str)
                       and d.props.direction in (Wzp.AudioDirection.SOURCE,
                                                 Wzp.AudioDirection.SINK)
                       and isinstance(d.get_is_default(), bool) for d in items),
                   f"the device list reads as a list ({started}, {len(items)} devices)")
        devices.stop()
        self.check(len(devices) == 0, "a stopped device list is empty")
        level = Wzp.AudioLevel.new(None)
        self.check(level.props.source is None and
                   level.props.peak_db == Wzp.AUDIO_LEVEL_SILENCE and
                   level.get_rms_db() == Wzp.AUDIO_LEVEL_SILENCE,
                   "a level meter starts at silence")
        del os.environ["PULSE_SERVER"]

    def client_errors(self):
        """The codes of a relay that turns the client away before TLS: appended to
        Wzp.ClientError (its values are ABI), and a GLib.Error of them matches."""
        self.check(Wzp.ClientError.RELAY_PIN_MISMATCH == 8 and
                   Wzp.ClientError.RELAY_BUSY == 9 and
                   Wzp.ClientError.RELAY_TOO_MANY_CONNECTIONS == 10,
                   "Wzp.ClientError has RELAY_BUSY and RELAY_TOO_MANY_CONNECTIONS, last")
        error = GLib.Error.new_literal(Wzp.client_error_quark(), "busy",
                                       Wzp.ClientError.RELAY_BUSY)
        self.check(error.matches(Wzp.client_error_quark(), Wzp.ClientError.RELAY_BUSY),
                   "a GLib.Error matches Wzp.ClientError.RELAY_BUSY")

    def run(self):
        self.client_errors()
        self.audio_devices()
        GLib.timeout_add_seconds(TIMEOUT_S, self.timed_out)
        load_identity(self.path("relay.pem"), self.guard(self.relay_identity_loaded))
        self.loop.run()
        for client in self.clients:
            client.unregister()
        for relay in (self.relay, self.relay_b):
            if relay is not None:
                relay.stop()
        context = GLib.MainContext.default()
        while context.iteration(False):
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.error is not None:
            self.check(False, f"no error ({type(self.error).__name__}: {self.error})")
        print(f"1..{self.n}", flush=True)
        return 1 if self.failed else 0

    def timed_out(self):
        self.fail(TimeoutError(f"the call did not complete within {TIMEOUT_S} s"))
        return GLib.SOURCE_REMOVE

    def relay_identity_loaded(self, identity):
        self.check(Wzp.fingerprint_is_valid(identity.get_fingerprint()),
                   "the relay identity has a valid fingerprint")
        # (nullable) in its doc comment: None is a value it refuses, not a TypeError.
        self.check(Wzp.fingerprint_is_valid(None) is False, "None is not a valid fingerprint")
        self.relay = Wzp.Relay.new(identity)
        self.relay.listen("127.0.0.1:0", None)
        self.uri = self.relay.dup_uris()[0]
        self.check(self.uri.startswith("wzps://127.0.0.1:") and
                   self.uri.endswith("#" + identity.get_fingerprint()),
                   f"the relay listens at {self.uri}")
        # The operator's counters: a GVariant a{st}, (transfer full), a dict in Python.
        counters = self.relay.dup_counters().unpack()
        self.check(counters.get("connections") == 0 and
                   counters.get("refused.max-handshakes-per-ip") == 0,
                   f"a fresh relay's counters are at 0 ({len(counters)} of them)")
        load_identity(self.path("relay-b.pem"), self.guard(self.relay_b_identity_loaded))

    # Federation: alice registers at this relay, bob at a second one; the two relays are
    # peers, so the call crosses them (and, answered in privacy mode, goes over the bridge).
    def relay_b_identity_loaded(self, identity):
        self.relay_b = Wzp.Relay.new(identity)
        self.relay_b.listen("127.0.0.1:0", None)
        self.uri_b = self.relay_b.dup_uris()[0]
        self.relay.connect("peer-link-changed", self.guard(self.peer_link_changed))
        self.relay.connect("peer-presence-changed", self.guard(self.presence_changed))
        self.relay.add_peer(self.uri_b)
        self.relay_b.add_peer(self.uri)
        try:
            self.relay.add_peer(self.uri_b)
            self.check(False, "adding the same peer twice is refused")
        except GLib.Error as e:
            self.check(e.matches(Wzp.relay_error_quark(), Wzp.RelayError.DUPLICATE_PEER),
                       f"adding the same peer twice is refused ({e.message})")

    def peer_link_changed(self, relay, fingerprint, state):
        if state != Wzp.PeerLinkState.UP or self.link_up:
            return
        self.link_up = True
        peers = relay.list_peers().unpack()
        self.check(len(peers) == 1 and peers[0][0] == self.uri_b and
                   peers[0][1] == fingerprint and peers[0][2] == "up",
                   f"the relays are linked ({peers})")
        load_identity(self.path("alice.pem"), self.guard(self.alice_identity_loaded))

    def presence_changed(self, relay, fingerprint, n_announced):
        """Once this relay has heard from its peer that bob is registered there, alice
        registers here."""
        if n_announced < 1 or self.bob_announced:
            return
        self.bob_announced = True
        peers = relay.list_peers().unpack()
        self.check(fingerprint == self.relay_b.get_fingerprint() and peers[0][3] == 1,
                   f"relay A knows that relay B holds a user ({peers})")
        connect_client(self.alice_identity, self.uri, self.guard(self.alice_connected))

    def alice_identity_loaded(self, identity):
        self.alice_identity = identity
        load_identity(self.path("bob.pem"), self.guard(self.bob_identity_loaded))

    def bob_identity_loaded(self, identity):
        self.bob_identity = identity
        self.check(identity.get_fingerprint() != self.alice_identity.get_fingerprint(),
                   "two fresh identities")
        connect_client(self.bob_identity, self.uri_b, self.guard(self.bob_connected))

    def bob_connected(self, bob):
        self.clients.append(bob)
        self.check(bob.get_state() == Wzp.ClientState.CONNECTED, "bob registered")
        answer_calls(bob, Wzp.AcceptMode.PRIVACY, self.guard(self.bob_incoming))

    def bob_incoming(self, call):
        self.callee_call = call
        self.callee_set_up = 0
        self.callee_results = []
        call.connect("set-up", self.guard(self.callee_is_set_up))
        call.connect("candidate-result", self.guard(self.callee_candidate_result))
        self.check(call.get_peer_fingerprint() == self.alice_identity.get_fingerprint(),
                   "bob sees alice's fingerprint")
        call.connect("ended", self.guard(self.ended))

    def callee_is_set_up(self, call):
        self.callee_set_up += 1

    def callee_candidate_result(self, call, address, kind, result, reason, ms):
        self.callee_results.append((kind, result))

    def alice_connected(self, alice):
        self.clients.append(alice)
        self.check(alice.props.state == Wzp.ClientState.CONNECTED, "alice registered")
        place_call(alice, self.bob_identity.get_fingerprint(), self.guard(self.call_connected))

    def call_connected(self, call):
        self.caller_call = call
        self.check(call.get_state() == Wzp.CallState.ACTIVE, "the call is active")
        counters = self.relay.dup_counters().unpack()
        self.check(counters["connections-registered"] == 1 and counters["idle-clients"] == 0,
                   "alice, in a call, is registered at relay A and not idle "
                   f"({counters['connections-registered']}, {counters['idle-clients']})")
        self.check(call.get_path_kind() == Wzp.PathKind.RELAY,
                   f"the caller's path is the relay ({call.props.path_kind.value_nick})")
        self.check(call.get_time_to_path() >= 0, "the caller has a time to path")
        callee = self.callee_call
        if callee.get_path_kind() == Wzp.PathKind.RELAY:
            self.callee_has_path(callee)
        else:
            callee.connect("path-changed", self.guard(self.callee_has_path))

    def callee_has_path(self, callee):
        self.check(callee.get_path_kind() == Wzp.PathKind.RELAY,
                   f"the callee's path is the relay ({callee.props.path_kind.value_nick})")
        self.check(callee.get_privacy(), "the callee answered in privacy mode")
        # Alice is a user of the other relay, which passed the call on.
        self.check(callee.get_caller_relay_fingerprint() == self.relay.get_fingerprint() and
                   callee.props.caller_relay_fingerprint == self.relay.get_fingerprint(),
                   "bob sees that alice signed in to relay A "
                   f"({callee.props.caller_relay_fingerprint})")
        self.check(self.callee_set_up == 1, "the callee's call was set up once")
        self.check((Wzp.CandidateKind.RELAY, Wzp.CandidateResult.OK) in self.callee_results,
                   f"the callee's relay attempt is an enum pair ({self.callee_results})")
        # Voice: mute and volume are properties with notify; the statistics are a dict.
        notified = []
        self.caller_call.connect("notify::muted", lambda *args: notified.append(True))
        self.caller_call.props.muted = True
        self.check(self.caller_call.get_muted() and len(notified) == 1,
                   "the caller muted, notified once")
        callee.set_volume(0.5)
        self.check(callee.props.volume == 0.5, "the callee set its volume")
        self.check(self.caller_call.props.audio_error is None,
                   f"the caller's voice runs ({self.caller_call.props.audio_error})")
        self.stats_id = callee.connect("notify::stats", self.guard(self.callee_stats))

    def callee_stats(self, callee, pspec):
        callee.disconnect(self.stats_id)
        stats = callee.get_stats().unpack()
        self.check(stats.get("frames-received", 0) > 0,
                   f"the callee's statistics count frames ({sorted(stats)})")
        self.caller_call.connect("ended", self.guard(self.ended))
        self.caller_call.hangup()

    def ended(self, call, reason):
        role = "caller" if call.get_role() == Wzp.CallRole.CALLER else "callee"
        self.check(reason == Wzp.HangupReason.NORMAL, f"the {role}'s call ended normally")
        self.check(call.get_state() == Wzp.CallState.ENDED, f"the {role}'s call is ended")
        self.calls_ended[role] = True
        if len(self.calls_ended) == 2:
            self.loop.quit()


if __name__ == "__main__":
    sys.exit(Test().run())
