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
# Run it from anywhere; it rewrites the files it owns and nothing else.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import json
import os
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

# (type, full message, names of the required members)
MESSAGES = [
    ("RegisterPresence", {"alias": "Zoë", "client_version": "0.1.0"}, ["client_version"]),
    ("RegisterPresenceAck", {"success": True, "error": "none", "fingerprint": FP1,
                             "observed_addr": V4, "relay_fingerprint": FP2,
                             "relay_version": "0.1.0",
                             "reflectors": ["wzps://relay-b.example.org:4433"]}, ["success"]),
    ("Reflect", {}, []),
    ("ReflectResponse", {"observed_addr": V6}, ["observed_addr"]),
    ("DirectCallOffer", {"call_id": CALL, "target_fingerprint": FP1, "caller_fingerprint": FP2,
                         "caller_alias": "Alice \"A\"", "caller_reflexive_addr": V4,
                         "caller_local_addrs": ADDRS, "caller_nat_type": "Cone"},
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
    ("PresenceUpdate", {"added": [FP1, FP2], "removed": [FP2], "snapshot": True,
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


if __name__ == "__main__":
    main()
