#!/usr/bin/env python3
# gen-corpus.py: writes the seed corpus of the fuzz targets and the libFuzzer dictionary
#
#   corpus/message/<Type>[-min].json   one frame payload per message type (full / minimal)
#   corpus/frame/<Type>[-min].bin      the same with the 4-byte big-endian length prefix
#   corpus/frame/multi-*.bin           several frames in one stream, and edge cases
#   corpus/frame/binary-*.bin          JSON frames with binary ones (media, unknown kinds),
#                                      as on a call's end-to-end stream
#   message.dict                       member names, type names and enumeration values
#
# and those of the other parsers (docs/fuzzing.md), each with its dictionary:
#
#   corpus/preamble/       control byte + a direct peer's preamble or a pipe's PipeReady
#   corpus/presence/       PresenceUpdate payloads a federation peer sends, one a line
#   corpus/binding/        one presence binding's JSON object
#   corpus/relay-uri/      relay URIs, good and bad           relay-uri.dict
#   corpus/relay-config/   the relay's key files              relay-config.dict
#   corpus/known-relays/   files of relays trusted on first use  known-relays.dict
#   corpus/media-frame/    binary frames (header and body)    media-frame.dict
#   corpus/relay-session/  control byte + a client's decrypted byte stream
#   (preamble.dict; presence, binding and relay-session use message.dict)
#
# Run it from anywhere; it rewrites the files it owns and nothing else.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import hashlib
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

FP1 = "0123:4567:89ab:cdef:0123:4567:89ab:cdef"
FP2 = "ffff:0000:a1b2:c3d4:e5f6:0709:1011:dead"
V4 = "192.168.88.21:40001"
V6 = "[2001:db8:1::21]:40001"
ADDRS = [V4, V6, "10.0.0.1:1", "[fd00::1]:65535"]
TOKEN = "00112233445566778899aabbccddeeff"
CALL = "6f1c0e1a-3b7d-4c52-9a8e-2f4d5b6c7d8e"

INNER = {"type": "DirectCallOffer", "call_id": CALL, "target_fingerprint": FP2,
         "caller_local_addrs": [V4], "x_future": {"k": [1, 2]}}

# Three real presence bindings (docs/protocol.md, "Presence bindings"), signed by three
# throw-away identities for the relay FP2 at 1700000000000-2 ms: fuzz-presence takes
# them, and the fuzzer mutates real keys and signatures. (Made with the library's
# _wzp_binding_new_signed(); a signature cannot be made here without a crypto module.)
BINDINGS = [
    {"fingerprint": "96d0:f430:e132:fe5d:163e:e4e5:0637:4442", "relay_fingerprint": "ffff:0000:a1b2:c3d4:e5f6:0709:1011:dead", "time_ms": 1700000000000, "public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZ4Lnd/LuZZHjYi4GgXjlNkY9BxrwfkBbDbPCCcJ8cjKoHD2otd809F+Merg2QQLy/gvQgPRc6JR386AsrPcsZw==", "signature": "MEUCIQDgYdiJZZJpPkAIzA54VLgSmPdbg7MbW9hh7V2X4piFhgIgf25/9wuziSuHC0eQYqJaTxUxR0elQrzsQDHsri9BotM="},
    {"fingerprint": "1252:7ae5:395b:a50b:307f:05bc:4973:7f09", "relay_fingerprint": "ffff:0000:a1b2:c3d4:e5f6:0709:1011:dead", "time_ms": 1700000000001, "public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEHpOBAKhy2UyHBNmnSDTU7RfNYcXDY4mfgUGxfkZQ9rGlyX/aJZHwLM267p68xaC7bgf+VO4AkUstthYor18kuw==", "signature": "MEQCIFwmEplJB+xxxr5nHPHuXidTHg86PRZ+E7mELxDNtqq1AiAOWK7xn5Viy4cIhNgM9JFGUXEch0A8vwDFJAX0gigALg=="},
    {"fingerprint": "31a8:c52d:3e98:7da3:a591:48df:7f93:e57c", "relay_fingerprint": "ffff:0000:a1b2:c3d4:e5f6:0709:1011:dead", "time_ms": 1700000000002, "public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEg73nm/NIVz4S6lkhTt5lglJbp1aH5DyBxtyE8ungtGgd7CoQe3T8DxeYxmQK7aFX++Q0dOpwsueuRzud3n4UyA==", "signature": "MEUCIE2PSYTm5Z0M03JmjOSrqauexME0H0gpOK3nNb+q+FMfAiEA/bK1+90zbqRgjYG7lwQp5XeO4ATidgFiQKD7qM0zLeI="}
]


def fake_binding(fp, relay=FP2, time_ms=1700000000000, key="AAAA", sig="AAAA"):
    return {"fingerprint": fp, "relay_fingerprint": relay, "time_ms": time_ms,
            "public_key": key, "signature": sig}


# (type, full message, names of the required members)
MESSAGES = [
    ("RegisterPresence", {"alias": "Zoë", "client_version": "0.1.0", "binding": BINDINGS[0]},
     ["client_version"]),
    ("RegisterPresenceAck", {"success": True, "error": "none", "fingerprint": FP1,
                             "observed_addr": V4, "relay_fingerprint": FP2,
                             "relay_version": "0.1.0",
                             "reflectors": ["wzps://relay-b.example.org:4433"]}, ["success"]),
    ("Reflect", {}, []),
    ("ReflectResponse", {"observed_addr": V6}, ["observed_addr"]),
    ("DirectCallOffer", {"call_id": CALL, "target_fingerprint": FP1, "caller_fingerprint": FP2,
                         "caller_alias": "Alice \"A\"", "caller_reflexive_addr": V4,
                         "caller_local_addrs": ADDRS, "caller_nat_type": "Cone",
                         "caller_relay_fingerprint": FP1},
     ["call_id", "target_fingerprint"]),
    ("CallRinging", {"call_id": CALL}, ["call_id"]),
    ("DirectCallAnswer", {"call_id": CALL, "accept_mode": "AcceptTrusted",
                          "callee_reflexive_addr": V6, "callee_local_addrs": ADDRS,
                          "callee_nat_type": "Symmetric"}, ["call_id", "accept_mode"]),
    ("CallSetup", {"call_id": CALL, "role": "callee", "peer_fingerprint": FP1,
                   "peer_alias": "Bob", "peer_direct_addr": V4, "peer_local_addrs": ADDRS,
                   "peer_nat_type": "Multiple", "relay_pipe": True, "pipe_token": TOKEN,
                   "pipe_addr": "[2001:db8::5]:4434"},
     ["call_id", "role", "peer_fingerprint"]),
    ("CandidateUpdate", {"call_id": CALL, "reflexive_addr": V4, "local_addrs": ADDRS},
     ["call_id"]),
    ("Hangup", {"call_id": CALL, "reason": "Unreachable"}, ["call_id", "reason"]),
    ("OpenPipe", {"call_id": CALL, "pipe_token": TOKEN, "seq": 2}, ["call_id", "pipe_token"]),
    ("PipeReady", {"call_id": CALL}, ["call_id"]),
    ("PipeRequested", {"call_id": CALL}, ["call_id"]),
    ("PeerSignallingLost", {"call_id": CALL}, ["call_id"]),
    ("Nominate", {"seq": 3, "features": ["voice/opus", "x-later/video"]}, ["seq"]),
    ("NominateAck", {"seq": 3, "features": ["voice/opus"]}, ["seq"]),
    ("Ping", {"timestamp_ms": 1700000000123}, ["timestamp_ms"]),
    ("Pong", {"timestamp_ms": 1700000000123}, ["timestamp_ms"]),
    ("Error", {"code": "unknown_call", "message": "No such call", "call_id": CALL},
     ["code", "message"]),
    ("FederationHello", {"relay_fingerprint": FP1, "relay_version": "0.1.0"},
     ["relay_fingerprint", "relay_version"]),
    ("FederatedSignalForward", {"inner": INNER, "origin_relay_fingerprint": FP2},
     ["inner", "origin_relay_fingerprint"]),
    ("PresenceUpdate", {"added": BINDINGS[:2], "removed": [FP2], "snapshot": True,
                        "more": False}, []),
]

ENUMS = ["None", "Cone", "Symmetric", "Multiple", "Unknown", "Reject", "AcceptTrusted",
         "AcceptGeneric", "caller", "callee", "Normal", "Busy", "Declined", "Timeout",
         "Unreachable", "Error"]


def payload(type_name, members):
    obj = {"type": type_name}
    obj.update(members)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def frame(data):
    return struct.pack(">I", len(data)) + data


def binary_frame(kind, data):
    return bytes([kind]) + struct.pack(">I", len(data))[1:] + data


def media(stream_id, seq, timestamp, data):
    return binary_frame(1, struct.pack(">BBII", stream_id, 0, seq, timestamp) + data)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    message_dir = os.path.join(HERE, "corpus", "message")
    frame_dir = os.path.join(HERE, "corpus", "frame")
    os.makedirs(message_dir, exist_ok=True)
    os.makedirs(frame_dir, exist_ok=True)

    all_frames = []
    for type_name, members, required in MESSAGES:
        full = payload(type_name, members)
        minimal = payload(type_name, {k: v for k, v in members.items() if k in required})
        write(os.path.join(message_dir, type_name + ".json"), full)
        write(os.path.join(frame_dir, type_name + ".bin"), frame(full))
        if minimal != full:
            write(os.path.join(message_dir, type_name + "-min.json"), minimal)
            write(os.path.join(frame_dir, type_name + "-min.bin"), frame(minimal))
        all_frames.append(frame(full))

    # Unknown members, to be preserved.
    unknown = payload("Ping", {"timestamp_ms": 1, "x_future": {"a": [1, 2.5, None, True]},
                               "x_text": "\u260e"})
    write(os.path.join(message_dir, "unknown-members.json"), unknown)
    write(os.path.join(frame_dir, "unknown-members.bin"), frame(unknown))

    # Integers at and beyond the int64 range, raw (json.dumps would not write them as the
    # wire may): in a known member, in an unknown one, in a nested array.
    for name, literal in [("int64-max", b"9223372036854775807"),
                          ("int64-min", b"-9223372036854775808"),
                          ("int64-over", b"9223372036854775808"),
                          ("int64-under", b"-9223372036854775809"),
                          ("int-leading-zero", b"007")]:
        data = (b'{"type":"Ping","timestamp_ms":' + literal + b',"x_future":{"a":[1,' +
                literal + b']},"x_n":' + literal + b'}')
        write(os.path.join(message_dir, name + ".json"), data)
        write(os.path.join(frame_dir, name + ".bin"), frame(data))

    # Found by fuzzing: a value followed by an object or array, which json-glib 1.6 parses
    # as the first value while leaking the second (LSan sees it with G_SLICE=always-malloc).
    # And a lone surrogate escape: json-glib takes the quote after it as part of the escape,
    # so it reads the malformed pair after it inside a string, where it leaks the string.
    for name, data in [("value-then-object", b'8{"type":"NominateAck","seq":0}'),
                       ("value-then-array", b'"Ping" ["x"]'),
                       ("lone-surrogate-then-pair", b'{"x":"\\udc00"\\udbff\\udbff"}'),
                       # And a character no JSON value starts with, before an object: json-glib
                       # takes the object and leaks it.
                       ("junk-then-object", b'$c{"type":"Ping","timestamp_ms":1,"re":{"a":[1,2.5,'
                        b'null,true]},"xp":{"a":[1,2.5,null,true]},"x":{"a":[1,2.5,null,true]},'
                        b'"xt":"\xe2\x98\x8e"}')]:
        write(os.path.join(message_dir, name + ".json"), data)
        write(os.path.join(frame_dir, name + ".bin"), frame(data))

    # Streams: every message in a row; a frame then raw bytes (a TLS ClientHello start);
    # a frame then a cut one; an empty frame.
    write(os.path.join(frame_dir, "multi-all.bin"), b"".join(all_frames))
    write(os.path.join(frame_dir, "multi-then-raw.bin"),
          all_frames[10] + b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    write(os.path.join(frame_dir, "multi-truncated.bin"), all_frames[0] + all_frames[1][:20])
    write(os.path.join(frame_dir, "empty-frame.bin"), frame(b""))

    # The end-to-end stream (docs/protocol.md, "Media frames"): media between JSON frames;
    # media too short, too long and empty, a reserved kind, then JSON; a cut media frame.
    ping = frame(payload("Ping", {"timestamp_ms": 1}))
    write(os.path.join(frame_dir, "binary-media.bin"),
          ping + media(1, 1, 960, b"\xfc" * 60) + media(1, 2, 1920, b"\xfc" * 1275) + ping)
    write(os.path.join(frame_dir, "binary-skipped.bin"),
          binary_frame(1, b"") + binary_frame(1, b"\0" * 9) +
          binary_frame(1, b"\0" * 1286) + binary_frame(2, b"later") + binary_frame(0xff, b"") +
          ping)
    write(os.path.join(frame_dir, "binary-truncated.bin"),
          ping + media(1, 3, 2880, b"\xfc" * 60)[:30])

    words = set(["type"])
    for type_name, members, _ in MESSAGES:
        words.add(type_name)
        words.update(members.keys())
    words.update(INNER.keys())
    words.update(BINDINGS[0].keys())
    words.update(ENUMS)
    with open(os.path.join(HERE, "message.dict"), "w") as f:
        f.write("# libFuzzer dictionary for fuzz-message and fuzz-frame (gen-corpus.py)\n")
        for word in sorted(words):
            f.write('"%s"\n' % word)
            f.write('"\\"%s\\":"\n' % word)
        for token in [FP1, V4, V6, "[::1]:1", "0.0.0.0:65535", TOKEN, "true", "false",
                      "null", "[]", "{}", "\\u0000", "\\ud800", "1e999", "-0",
                      "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                      "-9223372036854775809"]:
            f.write('"%s"\n' % token.replace("\\", "\\\\").replace('"', '\\"'))
        # Frame headers: 65536 (the limit) and 65537.
        f.write('"\\x00\\x01\\x00\\x00"\n"\\x00\\x01\\x00\\x01"\n')


def fresh_dir(name):
    """corpus/NAME, emptied: the generator owns every file in it."""
    path = os.path.join(HERE, "corpus", name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def write_dict(name, title, tokens):
    with open(os.path.join(HERE, name), "w") as f:
        f.write("# libFuzzer dictionary for %s (gen-corpus.py)\n" % title)
        for token in tokens:
            if isinstance(token, str):
                token = token.encode("utf-8")
            f.write('"%s"\n' % "".join(
                chr(b) if 0x20 <= b < 0x7f and b not in (0x22, 0x5c) else "\\x%02x" % b
                for b in token))


# fuzz-preamble: the first byte is bit 0 frame mode, bit 1 non-blocking, bits 2-7 the read
# size minus one.
PREAMBLE = b"WZP\x01" + hashlib.sha256(CALL.encode()).digest()
TLS_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32))


def control(frame_mode, nonblocking, chunk):
    return bytes([(int(frame_mode) | int(nonblocking) << 1 | (chunk - 1) << 2)])


def gen_preamble():
    out = fresh_dir("preamble")
    pipe_ready = frame(payload("PipeReady", {"call_id": CALL}))
    streams = {
        "preamble-tls": (False, PREAMBLE + TLS_HELLO),
        "preamble-only": (False, PREAMBLE),
        "preamble-cut": (False, PREAMBLE[:20]),
        "preamble-magic": (False, b"WZQ" + PREAMBLE[3:] + TLS_HELLO),
        "preamble-version": (False, b"WZP\x02" + PREAMBLE[4:] + TLS_HELLO),
        "preamble-other-call": (False, b"WZP\x01" + hashlib.sha256(b"other").digest()),
        "preamble-tls-first": (False, TLS_HELLO),
        "preamble-empty": (False, b""),
        "frame-tls": (True, pipe_ready + TLS_HELLO),
        "frame-only": (True, pipe_ready),
        "frame-members": (True, frame(payload("PipeReady", {"call_id": CALL, "x": [1]})) +
                          TLS_HELLO),
        "frame-other-type": (True, frame(payload("Error", {"code": "bad_token",
                                                           "message": "No"}))),
        "frame-malformed": (True, frame(b'{"type":"PipeReady"') + TLS_HELLO),
        "frame-no-call": (True, frame(b'{"type":"PipeReady"}')),
        "frame-too-large": (True, struct.pack(">I", 4097) + b"{" * 64),
        "frame-cut": (True, pipe_ready[:10]),
        "frame-header-cut": (True, pipe_ready[:2]),
        "frame-empty": (True, frame(b"")),
        # Found by fuzzing: json-glib leaked on this (corpus/message/lone-surrogate-*).
        "frame-lone-surrogate": (True, frame(b'{"x":"\\udc00"\\udbff\\udbff"}')),
    }
    for name, (frame_mode, stream) in streams.items():
        for nonblocking, chunk in [(False, 64), (True, 1), (False, 7)]:
            tag = "%s-%s%d" % (name, "nb" if nonblocking else "b", chunk)
            write(os.path.join(out, tag + ".bin"), control(frame_mode, nonblocking, chunk) + stream)
    write_dict("preamble.dict", "fuzz-preamble",
               [b"WZP\x01", PREAMBLE, PREAMBLE[4:], b"\x16\x03\x01", b'{"type":"PipeReady"',
                '"call_id":"%s"' % CALL, b"\x00\x00\x00\x31", b"\x00\x00\x10\x00",
                b"\x00\x00\x10\x01"])


def gen_presence():
    out = fresh_dir("presence")
    fps = [b["fingerprint"] for b in BINDINGS]
    a, b, c = BINDINGS

    def update(**members):
        return payload("PresenceUpdate", members)

    cases = {
        "snapshot": [update(added=BINDINGS, snapshot=True)],
        "snapshot-empty": [update(snapshot=True)],
        "snapshot-chunked": [update(added=[a, b], snapshot=True, more=True),
                             update(added=[c], snapshot=True)],
        "changes": [update(added=BINDINGS, snapshot=True), update(removed=[fps[0]]),
                    update(added=[a], removed=[fps[1]]), update(removed=fps)],
        "change-mid-snapshot": [update(added=[a], snapshot=True, more=True),
                                update(added=[b]), update(snapshot=True, added=[b])],
        "snapshot-removed-ignored": [update(added=[a], removed=[fps[0]], snapshot=True),
                                     update(added=[b], removed=[fps[0]], snapshot=True,
                                            more=True),
                                     update(removed=fps[:2], snapshot=True)],
        # Refused one by one: naming another relay, dated far ahead; the rest is taken.
        "other-relay": [update(added=[fake_binding(FP1, relay=FP1), a])],
        "future": [update(added=[fake_binding(FP1, time_ms=9223372036854775807), b]),
                   update(added=[fake_binding(FP1, time_ms=-9223372036854775808)])],
        # Taken (the signature is checked only when relied upon), then checked here.
        "forged": [update(added=[dict(a, signature=b["signature"]),
                                 dict(b, public_key=c["public_key"]),
                                 dict(c, time_ms=c["time_ms"] + 1),
                                 dict(a, fingerprint=fps[1])])],
        "bad-binding": [update(added=[{"fingerprint": "0123:4567"}]),
                        update(added=[fake_binding(FP1.upper())]),
                        update(added=[fake_binding(FP1, key="A=AA")]),
                        update(added=[fake_binding(FP1, time_ms="1")]),
                        update(added=[FP1])],
        "not-strings": [b'{"type":"PresenceUpdate","added":[1,null,{}],"removed":"x",'
                        b'"snapshot":"yes"}'],
        "other-messages": [payload("Ping", {"timestamp_ms": 1}), b"not json",
                           update(added=[b])],
        "repeat": [update(added=[a, a]), update(removed=[FP2, FP2])],
    }
    for name, lines in cases.items():
        write(os.path.join(out, name + ".txt"), b"\n".join(lines))


def gen_binding():
    """One binding's JSON object each (fuzz-binding wraps it in a RegisterPresence)."""
    out = fresh_dir("binding")
    a, b, c = BINDINGS

    def js(obj):
        return json.dumps(obj, separators=(",", ":")).encode("utf-8")

    cases = {
        "real-0": js(a), "real-1": js(b), "real-2": js(c),
        "null": b"null",
        "forged-signature": js(dict(a, signature=b["signature"])),
        "other-key": js(dict(a, public_key=b["public_key"])),
        "other-fingerprint": js(dict(a, fingerprint=b["fingerprint"])),
        "time-changed": js(dict(a, time_ms=a["time_ms"] + 1)),
        "relay-changed": js(dict(a, relay_fingerprint=FP1)),
        "key-not-der": js(fake_binding(FP1, key="AAAAAAAA")),
        "signature-empty-der": js(dict(a, signature="MAA=")),
        "bad-base64": js(dict(a, public_key="A=AA")),
        "time-not-int": js(dict(a, time_ms=1.5)),
        "missing-member": js({k: v for k, v in a.items() if k != "signature"}),
        "not-object": b"[1,2]",
        "deep": b"[" * 40 + b"]" * 40,
    }
    for name, data in cases.items():
        write(os.path.join(out, name + ".json"), data)


RELAY_URIS = [
    "wzps://relay.example.org", "wzps://relay.example.org:4433",
    "wzps://relay.example.org:4433/", "WZPS://Relay.Example.ORG:1#" + FP1,
    "wzps://192.168.88.21:65535#" + FP2, "wzps://[2001:db8::1]:4433#" + FP1,
    "wzps://[fe80::1%eth0]:4433", "wzps://[::ffff:10.0.0.1]", "wzps://rélay.example:443",
    "wzps://under_score.lan:5", "wzps://relay.example.org:0", "wzps://relay.example.org:65536",
    "wzps://relay.example.org:99999999999999999999", "wzps://relay.example.org:",
    "wzps://relay.example.org:4433#", "wzps://relay.example.org#" + FP1.upper(),
    "wzps://relay.example.org#0123", "wzps://2001:db8::1", "wzps://[2001:db8::1",
    "wzps://[2001:db8::1]x", "wzps://[relay.example.org]:1", "wzps://:4433",
    "wzps://user@relay.example.org", "wzps://relay.example.org/path", "wzps://relay?x",
    "https://relay.example.org", "relay.example.org:4433", "://x", "", "wzps://",
    "wzps://relay example.org", "wzps://relay.example.org//", "wzps://\xff\xfe",
    # Found by fuzzing: a zone that is not UTF-8 was taken as part of a valid host.
    b"wzps://[fe80::1%eth0\x88]:4433",
]


def gen_relay_uri():
    out = fresh_dir("relay-uri")
    for i, uri in enumerate(RELAY_URIS):
        if isinstance(uri, bytes):
            data = uri
        else:
            data = uri.encode("latin-1") if "\xff" in uri else uri.encode("utf-8")
        write(os.path.join(out, "uri-%02d" % i), data)
    write_dict("relay-uri.dict", "fuzz-relay-uri",
               ["wzps://", "WZPS://", "https://", "[", "]", "]:", ":", "#", "%", "/", "?", "@",
                ":4433", ":65535", ":65536", ":0", FP1, "::1", "fe80::1%eth0", "::ffff:",
                "127.0.0.1", "relay.example.org", "\u00e9", "\xff"])


RELAY_KEYS = ["listen", "pipe-listen", "identity", "peers", "allowed-fingerprints",
              "reflectors", "max-frame-size", "max-messages-per-second",
              "max-pending-handshakes", "max-handshakes-per-ip", "max-tls-handshakes",
              "client-hello-timeout", "handshake-timeout", "max-unregistered-per-ip",
              "max-registrations", "max-registrations-per-ip", "max-calls-per-client",
              "max-ringing-per-client", "max-ringing-per-ip", "max-ringing-per-callee",
              "max-pipes-per-ip", "pipe-bytes-per-second", "pipe-burst-bytes",
              "pipe-wait-timeout", "idle-timeout", "keepalive-interval", "ring-timeout",
              "grace-period", "max-call-duration", "min-free-fds", "max-queued-bytes",
              "pipe-forwarding", "fingerprint", "n-calls", "listen-addresses"]


def gen_relay_config():
    out = fresh_dir("relay-config")
    example = os.path.join(HERE, "..", "..", "data", "wzp-relay.conf.example")
    with open(example, "rb") as f:
        text = f.read()
    write(os.path.join(out, "example-commented.conf"), text)
    # The example with every key set to its documented value.
    uncommented = b"\n".join(line[1:] if line.startswith(b"#") and b"=" in line and
                             b" " not in line.split(b"=")[0] else line
                             for line in text.split(b"\n"))
    write(os.path.join(out, "example.conf"), uncommented)
    peer = "wzps://relay-b.example.org:4433#" + FP2
    files = {
        "daemon-keys": "[relay]\nlisten=[::]:4433; 0.0.0.0:4433 ;\npipe-listen=[::]:4434\n"
                       "identity= /var/lib/wzp-relay/identity.pem \n",
        "federation": "[federation]\npeers=%s;wzps://[2001:db8::2]:4433#%s\n" % (peer, FP1),
        "federation-twice": "[federation]\npeers=%s;wzps://other:1#%s\n" % (peer, FP2),
        "federation-no-fp": "[federation]\npeers=wzps://relay-b.example.org:4433\n",
        "limits": "[limits]\nmax-frame-size=4096\nidle-timeout=0\nmax-queued-bytes="
                  "18446744073709551615\nmin-free-fds=-1\n",
        "lists": "[relay]\nallowed-fingerprints=%s;%s;\nreflectors=%s\n" % (FP1, FP2, peer),
        "bad-fingerprint": "[relay]\nallowed-fingerprints=%s\n" % FP1.upper(),
        "unknown-group": "[relays]\nlisten=[::]:1\n",
        "unknown-key": "[limits]\nmax-frame-sise=1\n",
        "read-only": "[relay]\nn-calls=3\n",
        "wrong-group": "[limits]\nlisten=[::]:1\n",
        "retired": "[relay]\npipe-forwarding=false\n",
        "empty-listen": "[relay]\nlisten=;\n",
        "twice": "[relay]\nidle-timeout=5\n[limits]\nidle-timeout=7\n",
        "numbers": "[limits]\nring-timeout=1e3\nmax-calls-per-client= 4 \ngrace-period=0x10\n",
        "not-utf8": b"[relay]\nidentity=\xff\xfe\n",
        "escapes": "[relay]\nidentity=a\\sb\\n\\t\\\\\nlisten=a\\;b;c\n",
        "locale": "[relay]\nidentity[de]=x\n",
        # Found by fuzzing: an invalid escape, then "\" at the end of the line. GLib 2.74
        # returns a string and sets its error twice; the value must still be refused.
        "glib-escape-at-end": "[relay]\nidentity=a\\sb\\l\\\n",
        "glib-escape-at-end-list": "[relay]\nlisten=a\\l\\\n",
        "glib-escape-at-end-property": "[relay]\nreflectors=a\\l\\\n",
        "empty": "",
    }
    for name, content in files.items():
        if isinstance(content, str):
            content = content.encode("utf-8")
        write(os.path.join(out, name + ".conf"), content)
    write_dict("relay-config.dict", "fuzz-relay-config",
               ["[relay]", "[limits]", "[federation]", "=", ";", "\\;", "\\s", "\\n", "#",
                "[de]", "true", "false", "0", "-1", "4294967295", "4294967296",
                "18446744073709551615", "9223372036854775807", "[::]:4433", peer, FP1] +
               ["\n%s=" % key for key in RELAY_KEYS])


def gen_known_relays():
    out = fresh_dir("known-relays")
    header = ("# Relays that wzp trusted on first use: HOST:PORT=FINGERPRINT, where an IPv6 "
              "address\n# [ADDRESS]:PORT is written %5BADDRESS%5D:PORT.\n")
    files = {
        "one": header + "[relays]\nrelay.example.org:4433=%s\n" % FP1,
        "several": header + "[relays]\nrelay.example.org:4433=%s\n%%5B2001:db8::1%%5D:4433=%s\n"
                   "10.0.0.1:1=%s\n" % (FP1, FP2, FP1),
        "spellings": "[relays]\nRelay.Example.ORG:4433=%s\nrelay.example.org:4433=%s\n"
                     % (FP1, FP2),
        "spellings-same": "[relays]\nRELAY.example.org:4433=%s\nrelay.example.org:4433=%s\n"
                          % (FP1, FP1),
        "v6-forms": "[relays]\n%%5B::ffff:10.0.0.1%%5D:1=%s\n%%5Bfe80::1%%25eth0%%5D:2=%s\n"
                    % (FP1, FP2),
        "bad-value": "[relays]\nrelay.example.org:4433=not a fingerprint\nother:1= %s \n" % FP2,
        "bad-key": "[relays]\nno-port=%s\n%%ZZ:1=%s\n%%FF:1=%s\n" % (FP1, FP1, FP1),
        "idn": "[relays]\nr\u00e9lay.example:443=%s\n" % FP1,
        "other-groups": "[other]\nrelay.example.org:4433=%s\n[relays]\n" % FP1,
        "new-relay-bad": "[relays]\nrelay.example.org:4433=x\n",
        "old-unencoded": "[relays]\n[::1]:4433=%s\nrelay.example.org:4433=%s\n" % (FP1, FP2),
        "damaged": "relay.example.org:4433=%s\n[relays\n10.0.0.1:1=%s\n" % (FP1, FP2),
        "damaged-binary": b"\xff\xfe[relays]\nrelay.example.org:4433=" + FP1.encode() + b"\n",
        "empty": "",
    }
    for name, content in files.items():
        if isinstance(content, str):
            content = content.encode("utf-8")
        write(os.path.join(out, name), content)
    write_dict("known-relays.dict", "fuzz-known-relays",
               ["[relays]", "\n", "=", "#", "%5B", "%5D", "%25", "%3A", ":4433", FP1,
                "relay.example.org", "::1", "10.0.0.1", "\u00e9"])


def gen_media_frame():
    out = fresh_dir("media-frame")

    def body(length):
        return struct.pack(">BBII", 1, 0, 7, 48000) + b"\xfc" * length

    cases = {
        "opus-60": binary_frame(1, body(60)),
        "opus-max": binary_frame(1, body(1275)),
        "opus-over": binary_frame(1, body(1276)),
        "empty-payload": binary_frame(1, body(0)),
        "header-short": binary_frame(1, b"\x01\x00\x00"),
        "flags-wrap": binary_frame(1, struct.pack(">BBII", 255, 0xff, 0xffffffff, 0xffffffff) +
                                   b"x"),
        "length-cut": binary_frame(1, body(100))[:50],
        "length-over-input": bytes([1, 0, 5, 0]) + body(10),
        "json-frame": frame(payload("Ping", {"timestamp_ms": 1})),
        "reserved-kind": binary_frame(2, b"later"),
        "too-large": bytes([1, 0x01, 0x00, 0x01]) + body(4),
        "body-only": body(20),
    }
    for name, data in cases.items():
        write(os.path.join(out, name + ".bin"), data)
    write_dict("media-frame.dict", "fuzz-media-frame",
               [b"\x01\x00\x05\x05", b"\x01\x00\x00\x0a", b"\x01\x00\x05\x06", b"\x00\x01\x00\x00",
                b"\x00\x01\x00\x01", b"\xff\xff\xff\xff", b"\x00\x00\xbb\x80"])


def gen_relay_session():
    out = fresh_dir("relay-session")
    frames = [frame(payload(t, m)) for t, m, _ in MESSAGES[:6]]
    streams = {
        "frames": b"".join(frames),
        "one": frames[0],
        "cut": frames[0] + frames[1][:17],
        "empty-frames": frame(b"") * 3 + frames[2],
        "too-large": frames[0] + struct.pack(">I", 65537) + b"{}",
        "small-limit": frame(b"x" * 64) + frame(b"y" * 65),
        "tls-bytes": TLS_HELLO,
    }
    for name, stream in streams.items():
        for byte in (0x00, 0x0f, 0x7f, 0x80, 0xff):
            write(os.path.join(out, "%s-%02x.bin" % (name, byte)), bytes([byte]) + stream)


def main_more():
    gen_preamble()
    gen_presence()
    gen_binding()
    gen_relay_uri()
    gen_relay_config()
    gen_known_relays()
    gen_media_frame()
    gen_relay_session()


if __name__ == "__main__":
    main()
    main_more()
