// test-gir.js: libwzp-glib from GJS through GObject introspection (gjs -m test-gir.js)
//
// Async methods become promises with Gio._promisify (GJS 1.74). An in-process relay on
// 127.0.0.1:0, two clients with fresh identities in a temporary directory, one call
// answered in privacy mode (so it takes the relay path whatever the machine's
// interfaces), hung up by the callee this time.
//
// The lines between "// example: gjs" and "// end of example" are quoted verbatim in
// docs/api.md; tests/gir/check-api-doc.py fails when the two differ.
//
// SPDX-License-Identifier: GPL-3.0-or-later

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import GObject from 'gi://GObject';
import Wzp from 'gi://Wzp?version=1.0';
import System from 'system';

const TIMEOUT_S = 20;

// example: gjs
Gio._promisify(Wzp.Identity, 'load_or_create_async', 'load_or_create_finish');
Gio._promisify(Wzp.Client.prototype, 'connect_async', 'connect_finish');
Gio._promisify(Wzp.Client.prototype, 'place_call_async', 'place_call_finish');
Gio._promisify(Wzp.Call.prototype, 'answer_async', 'answer_finish');

// Registers a new client with the relay; rejects if registration failed.
async function connectClient(identityPath, relayUri) {
    const identity = await Wzp.Identity.load_or_create_async(identityPath, null);
    const client = Wzp.Client.new(identity);
    client.relay_uri = relayUri;
    // Voice from a test signal into nothing: no sound card here.
    client.audio_source = 'audiotestsrc is-live=true wave=sine freq=440';
    client.audio_sink = 'fakesink sync=false';
    await client.connect_async(null);
    return client;
}

// Resolves with the next incoming call, once it is answered with `mode`.
function answerNextCall(client, mode) {
    return new Promise((resolve, reject) => {
        const id = client.connect('incoming-call', (_client, call) => {
            client.disconnect(id);
            call.ring();
            call.answer_async(mode, null).then(() => resolve(call), reject);
        });
    });
}

// Resolves with the reason once `call` has ended.
function ended(call) {
    return new Promise(resolve => {
        if (call.state === Wzp.CallState.ENDED)
            resolve(call.end_reason);
        else
            call.connect('ended', (_call, reason) => resolve(reason));
    });
}
// end of example

let n = 0;
let failed = false;

function check(ok, description) {
    n++;
    print(`${ok ? 'ok' : 'not ok'} ${n} - ${description}`);
    if (!ok)
        failed = true;
}

function withTimeout(promise) {
    return new Promise((resolve, reject) => {
        const id = GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, TIMEOUT_S, () => {
            reject(new Error(`the call did not complete within ${TIMEOUT_S} s`));
            return GLib.SOURCE_REMOVE;
        });
        promise.then(value => {
            GLib.source_remove(id);
            resolve(value);
        }, error => {
            GLib.source_remove(id);
            reject(error);
        });
    });
}

function removeTree(file) {
    if (file.query_file_type(Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null) !==
        Gio.FileType.DIRECTORY) {
        file.delete(null);
        return;
    }
    const children = file.enumerate_children('standard::name',
        Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
    let info;
    while ((info = children.next_file(null)) !== null)
        removeTree(file.get_child(info.get_name()));
    children.close(null);
    file.delete(null);
}

const tmp = GLib.dir_make_tmp('wzp-test-gir-js-XXXXXX');
const clients = [];
let relay = null;

// The device list is a Gio.ListModel of Wzp.AudioDevice, whatever this machine has (no
// sound server: an empty list, or an error that says why).
function audioDevices() {
    // Only ever a server that is not there: nothing started, nothing asked.
    GLib.setenv('PULSE_SERVER', `unix:${GLib.build_filenamev([tmp, 'no-pulse'])}`, true);
    const devices = Wzp.AudioDevices.new();
    check(devices instanceof Gio.ListModel &&
        devices.get_item_type() === Wzp.AudioDevice.$gtype && devices.get_n_items() === 0,
    'a new device list is an empty Gio.ListModel of Wzp.AudioDevice');
    let started = 'started';
    try {
        devices.start();
    } catch (error) {
        started = `not started: ${error.message}`;
    }
    const items = [];
    for (let i = 0; i < devices.get_n_items(); i++)
        items.push(devices.get_item(i));
    check(items.every(d => typeof d.id === 'string' && typeof d.display_name === 'string' &&
        [Wzp.AudioDirection.SOURCE, Wzp.AudioDirection.SINK].includes(d.direction) &&
        typeof d.get_is_default() === 'boolean'),
    `the device list reads as a list (${started}, ${items.length} devices)`);
    devices.stop();
    check(devices.get_n_items() === 0, 'a stopped device list is empty');
    const level = Wzp.AudioLevel.new(null);
    check(level.source === null && level.peak_db === Wzp.AUDIO_LEVEL_SILENCE &&
        level.get_rms_db() === Wzp.AUDIO_LEVEL_SILENCE, 'a level meter starts at silence');
    GLib.unsetenv('PULSE_SERVER');
}

// The codes of a relay that turns the client away before TLS: appended to
// Wzp.ClientError (its values are ABI).
function clientErrors() {
    check(Wzp.ClientError.RELAY_PIN_MISMATCH === 8 && Wzp.ClientError.RELAY_BUSY === 9 &&
          Wzp.ClientError.RELAY_TOO_MANY_CONNECTIONS === 10,
          'Wzp.ClientError has RELAY_BUSY and RELAY_TOO_MANY_CONNECTIONS, last');
    const error = new GLib.Error(Wzp.client_error_quark(), Wzp.ClientError.RELAY_BUSY, 'busy');
    check(error.matches(Wzp.ClientError, Wzp.ClientError.RELAY_BUSY),
          'a GLib.Error matches Wzp.ClientError.RELAY_BUSY');
}

async function main() {
    clientErrors();
    audioDevices();
    const relayIdentity = await Wzp.Identity.load_or_create_async(
        GLib.build_filenamev([tmp, 'relay.pem']), null);
    check(Wzp.fingerprint_is_valid(relayIdentity.get_fingerprint()),
        'the relay identity has a valid fingerprint');
    check(Wzp.fingerprint_is_valid(null) === false, 'null is not a valid fingerprint');

    // The call below is answered in privacy mode, so it crosses this relay's pipes.
    relay = Wzp.Relay.new(relayIdentity);
    relay.listen('127.0.0.1:0', null);
    const [uri] = relay.dup_uris();
    check(uri.startsWith('wzps://127.0.0.1:') &&
        uri.endsWith(`#${relayIdentity.get_fingerprint()}`),
        `the relay listens at ${uri}`);

    const bob = await connectClient(GLib.build_filenamev([tmp, 'bob.pem']), uri);
    clients.push(bob);
    const alice = await connectClient(GLib.build_filenamev([tmp, 'alice.pem']), uri);
    clients.push(alice);
    check(bob.state === Wzp.ClientState.CONNECTED &&
        alice.get_state() === Wzp.ClientState.CONNECTED,
        'both clients registered');
    check(bob.fingerprint !== alice.fingerprint, 'two fresh identities');
    const counters = relay.dup_counters().deepUnpack();
    check(counters['connections-registered'] === 2 && counters['idle-clients'] === 2,
        `the relay's counters see two idle registered clients (${counters['connections-registered']}, ` +
        `${counters['idle-clients']})`);

    let calleeSetUp = 0;
    const calleeResults = [];
    const watched = bob.connect('incoming-call', (_client, call) => {
        bob.disconnect(watched);
        call.connect('set-up', () => calleeSetUp++);
        call.connect('candidate-result', (_call, _address, kind, result) => {
            calleeResults.push([kind, result]);
        });
    });
    const answered = answerNextCall(bob, Wzp.AcceptMode.PRIVACY);
    const [callerCall, calleeCall] = await Promise.all([
        alice.place_call_async(bob.fingerprint, null),
        answered,
    ]);
    check(callerCall.state === Wzp.CallState.ACTIVE, 'the call is active');
    check(calleeCall.peer_fingerprint === alice.fingerprint, "bob sees alice's fingerprint");
    check(calleeCall.caller_relay_fingerprint === null &&
          calleeCall.get_caller_relay_fingerprint() === null,
          'a caller of the same relay comes from no other server');
    check(callerCall.path_kind === Wzp.PathKind.RELAY, "the caller's path is the relay");
    check(calleeCall.get_path_kind() === Wzp.PathKind.RELAY, "the callee's path is the relay");
    check(callerCall.time_to_path >= 0, 'the caller has a time to path');
    check(calleeSetUp === 1, "the callee's call was set up once");
    check(calleeResults.some(([kind, result]) =>
        kind === Wzp.CandidateKind.RELAY && result === Wzp.CandidateResult.OK),
    `the callee's relay attempt is an enum pair (${JSON.stringify(calleeResults)})`);

    // Voice: mute and volume are properties with notify; the statistics come as a dict.
    let mutedNotified = 0;
    callerCall.connect('notify::muted', () => mutedNotified++);
    callerCall.muted = true;
    check(callerCall.get_muted() === true && mutedNotified === 1, 'the caller muted, notified');
    calleeCall.set_volume(0.5);
    check(calleeCall.volume === 0.5, 'the callee set its volume');
    check(callerCall.audio_error === null, `the caller's voice runs (${callerCall.audio_error})`);
    const stats = await new Promise(resolve => {
        const id = calleeCall.connect('notify::stats', call => {
            call.disconnect(id);
            resolve(call.get_stats().deepUnpack());
        });
    });
    check('frames-received' in stats && stats['frames-received'].deepUnpack() > 0,
        `the callee's statistics count frames (${JSON.stringify(Object.keys(stats))})`);

    const callerEnded = ended(callerCall);
    calleeCall.hangup();
    check(await ended(calleeCall) === Wzp.HangupReason.NORMAL, "the callee's call ended normally");
    check(await callerEnded === Wzp.HangupReason.NORMAL, "the caller learnt of the hang-up");
    check(callerCall.state === Wzp.CallState.ENDED, "the caller's call is ended");
}

const loop = new GLib.MainLoop(null, false);
withTimeout(main()).catch(error => {
    check(false, `no error (${error})`);
}).finally(() => loop.quit());
loop.run();

for (const client of clients)
    client.unregister();
if (relay)
    relay.stop();
while (GLib.MainContext.default().iteration(false))
    ;
removeTree(Gio.File.new_for_path(tmp));

print(`1..${n}`);
System.exit(failed ? 1 : 0);
