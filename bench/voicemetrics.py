# voicemetrics.py: the measures of bench-voice.py (bench/README.md, "Voice"), apart from
# the lab: the test signal (speech with marker chirps), finding the chirps in a recording,
# mouth-to-ear latency from them, and STOI.
#
# Nothing here runs GStreamer or the lab; numpy and scipy only (Debian's python3-numpy and
# python3-scipy, under /usr/bin/python3).
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import subprocess
import tempfile
import wave

import numpy as np
from scipy import signal

RATE = 48000

# Marker chirps: 20 ms, a linear sweep from 300 to 3400 Hz under a Hann window (it survives
# Opus: docs/voice.md and the voice research), every CHIRP_PERIOD_S, the first at
# CHIRP_FIRST_S. A chirp's place in the sent file is its time at the sender's mouth.
CHIRP_S = 0.020
CHIRP_PERIOD_S = 0.5
CHIRP_FIRST_S = 0.25
CHIRP_PEAK = 0.5
# A recording's chirp counts when its normalised correlation with the template is at least
# this (speech underneath and the codec leave 0.7-0.95; a concealed one much less).
CHIRP_MIN_NCC = 0.5

SENTENCES = {
    "a": ("The quick brown fox jumps over the lazy dog. A call carries the voice from one "
          "mouth to another ear, and every millisecond on the way counts. Please read the "
          "numbers slowly: seven, twelve, forty one, ninety nine. The weather today is cold "
          "and windy, with rain in the evening and a clear sky tomorrow morning. She sells "
          "sea shells by the sea shore, and the shells she sells are surely sea shells. "),
    "b": ("Good morning, this is the other side of the call speaking. I can hear you "
          "clearly, can you hear me as well? Let us meet at half past three near the old "
          "railway station, next to the bakery with the green door. Bring the documents, a "
          "pen, and something warm to drink, because the waiting room is never heated. "),
}
VOICES = {"a": "en-us", "b": "en-us+f3"}
TURN_S = 5.0


def chirp():
    n = int(round(CHIRP_S * RATE))
    t = np.arange(n) / RATE
    return (CHIRP_PEAK * np.hanning(n) *
            signal.chirp(t, f0=300, t1=CHIRP_S, f1=3400, method="linear")).astype(np.float64)


def chirp_positions(n_samples):
    """The sample positions of the chirps in a signal of N_SAMPLES."""
    first = int(round(CHIRP_FIRST_S * RATE))
    period = int(round(CHIRP_PERIOD_S * RATE))
    return np.arange(first, n_samples - int(CHIRP_S * RATE), period)


def read_wav(path):
    """A mono 16-bit WAV as float64 in [-1, 1), and its rate. A file that a process killed
    before its end left with a wrong header is read to its real end."""
    with open(path, "rb") as f:
        data = f.read()
    with wave.open(path, "rb") as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
    if width != 2:
        raise ValueError(f"{path}: {width * 8}-bit samples, want 16")
    start = data.find(b"data") + 8
    raw = data[start:]
    raw = raw[:len(raw) - len(raw) % (2 * channels)]
    x = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return x, rate


def write_wav(path, x, rate=RATE):
    pcm = np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def speech(who, seconds):
    """SECONDS of espeak-ng speech at RATE (the text of WHO, "a" or "b", repeated)."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "speech.wav")
        subprocess.run(["espeak-ng", "-v", VOICES[who], "-s", "150", "-w", raw,
                        SENTENCES[who]], check=True, capture_output=True)
        x, rate = read_wav(raw)
    g = np.gcd(rate, RATE)
    x = signal.resample_poly(x, RATE // g, rate // g)
    x = x / (np.max(np.abs(x)) + 1e-9) * 0.5
    n = int(seconds * RATE)
    return np.tile(x, n // len(x) + 1)[:n]


def make_signal(path, who, seconds):
    """The file a side sends: its speech in its turns (A speaks first, TURN_S each, then
    listens while B speaks), with the marker chirps over everything. Turns, because the
    echo canceller treats the far side's speech as a possible echo of the near side's:
    both talking all the time (double talk) costs the speech much more than a
    conversation does."""
    x = speech(who, seconds)
    turn = int(TURN_S * RATE)
    mine = 0 if who == "a" else 1
    for start in range(0, len(x), turn):
        if (start // turn) % 2 != mine:
            x[start:start + turn] = 0.0
    c = chirp()
    for p in chirp_positions(len(x)):
        x[p:p + len(c)] += c
    write_wav(path, np.clip(x, -1.0, 1.0))
    return path


# ---------------------------------------------------------------- chirps and latency

def normalised_correlation(x, template):
    """For each start k: <x[k:k+n], t> / (|x[k:k+n]| |t|)."""
    n = len(template)
    if len(x) < n:
        return np.zeros(0), np.zeros(0)
    c = signal.fftconvolve(x, template[::-1], mode="valid")
    energy = np.concatenate(([0.0], np.cumsum(x * x)))
    local = np.sqrt(np.maximum(energy[n:] - energy[:-n], 1e-12))
    return c, c / (local * np.linalg.norm(template))


def find_chirps(recording, sent_positions, offset_samples, max_latency_s=CHIRP_PERIOD_S):
    """Where each sent chirp landed in RECORDING. OFFSET_SAMPLES maps a sent position to the
    recording's timeline at zero latency (the two pipelines' origins); each chirp is looked
    for in the following MAX_LATENCY_S. Returns [(sent position, recorded position, ncc)],
    for the chirps found."""
    template = chirp()
    c, ncc = normalised_correlation(recording, template)
    span = int(max_latency_s * RATE)
    found = []
    for p in sent_positions:
        lo = int(p + offset_samples)
        hi = lo + span
        if lo < 0 or hi > len(c):
            continue
        k = lo + int(np.argmax(c[lo:hi]))
        if ncc[k] >= CHIRP_MIN_NCC:
            found.append((int(p), k, float(ncc[k])))
    return found


def percentile(values, q):
    return float(np.percentile(values, q * 100)) if len(values) else None


def latency_summary(times_s, latencies_ms):
    """Median, p95 - median, and the trend: a least-squares slope (ms per minute) and the
    median of the last tenth minus that of the first tenth."""
    lat = np.asarray(latencies_ms, dtype=float)
    t = np.asarray(times_s, dtype=float)
    if len(lat) == 0:
        return {"n": 0}
    out = {"n": int(len(lat)), "median": percentile(lat, 0.5), "p95": percentile(lat, 0.95),
           "min": float(lat.min()), "max": float(lat.max())}
    out["p95_minus_median"] = out["p95"] - out["median"]
    if len(lat) >= 10:
        slope = np.polyfit(t, lat, 1)[0]
        tenth = max(1, len(lat) // 10)
        out["slope_ms_per_min"] = float(slope * 60)
        out["growth"] = float(np.median(lat[-tenth:]) - np.median(lat[:tenth]))
    return out


# ---------------------------------------------------------------- STOI

STOI_RATE = 10000
STOI_FRAME = 256
STOI_FFT = 512
STOI_BANDS = 15
STOI_LOWEST_CF = 150.0
STOI_SEGMENT = 30          # frames: 384 ms
STOI_BETA_DB = -15.0
STOI_RANGE_DB = 40.0


def _frames(x, frame, hop):
    n = 1 + (len(x) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    return x[idx]


def _remove_silence(x, y):
    """Taal et al. step 1: drop the frames of both signals whose energy in the clean one is
    more than 40 dB under its loudest frame, and overlap-add what is left."""
    hop = STOI_FRAME // 2
    w = np.hanning(STOI_FRAME + 2)[1:-1]
    fx = _frames(x, STOI_FRAME, hop) * w
    fy = _frames(y, STOI_FRAME, hop) * w
    energy = 20 * np.log10(np.linalg.norm(fx, axis=1) + np.finfo(float).eps)
    keep = energy > energy.max() - STOI_RANGE_DB
    fx, fy = fx[keep], fy[keep]
    n = (len(fx) - 1) * hop + STOI_FRAME if len(fx) else 0
    xs, ys = np.zeros(n), np.zeros(n)
    for i in range(len(fx)):
        xs[i * hop:i * hop + STOI_FRAME] += fx[i]
        ys[i * hop:i * hop + STOI_FRAME] += fy[i]
    return xs, ys


def _third_octave_matrix():
    """Which FFT bins make each of the 15 one-third octave bands (centres from 150 Hz)."""
    freqs = np.arange(STOI_FFT // 2 + 1) * STOI_RATE / STOI_FFT
    centres = STOI_LOWEST_CF * 2.0 ** (np.arange(STOI_BANDS) / 3.0)
    lo, hi = centres * 2 ** (-1 / 6), centres * 2 ** (1 / 6)
    m = np.zeros((STOI_BANDS, len(freqs)))
    for j in range(STOI_BANDS):
        m[j, (freqs >= lo[j]) & (freqs < hi[j])] = 1.0
    return m


def _band_envelopes(x):
    hop = STOI_FRAME // 2
    w = np.hanning(STOI_FRAME + 2)[1:-1]
    spec = np.fft.rfft(_frames(x, STOI_FRAME, hop) * w, n=STOI_FFT, axis=1)
    return np.sqrt(_third_octave_matrix() @ (np.abs(spec) ** 2).T)   # bands x frames


def stoi(clean, degraded, rate):
    """Short-Time Objective Intelligibility (Taal, Hendriks, Heusdens and Jensen, IEEE TASLP
    19(7), 2011), written from the paper: both signals at 10 kHz, silent frames removed;
    256-sample Hann frames with half overlap, a 512-point FFT, 15 one-third octave bands
    from 150 Hz; segments of 30 frames (384 ms); each degraded segment scaled to the clean
    one's energy and clipped at a signal-to-distortion ratio of -15 dB; the correlation of
    clean and degraded envelopes, averaged over bands and segments. 1 is the clean speech."""
    n = min(len(clean), len(degraded))
    g = np.gcd(int(rate), STOI_RATE)
    x = signal.resample_poly(clean[:n], STOI_RATE // g, int(rate) // g)
    y = signal.resample_poly(degraded[:n], STOI_RATE // g, int(rate) // g)
    x, y = _remove_silence(x, y)
    if len(x) < STOI_FRAME * (STOI_SEGMENT + 1):
        return None
    X, Y = _band_envelopes(x), _band_envelopes(y)
    # segments: bands x segments x 30
    xs = np.lib.stride_tricks.sliding_window_view(X, STOI_SEGMENT, axis=1)
    ys = np.lib.stride_tricks.sliding_window_view(Y, STOI_SEGMENT, axis=1)
    eps = np.finfo(float).eps
    alpha = np.linalg.norm(xs, axis=2, keepdims=True) / (np.linalg.norm(ys, axis=2,
                                                                        keepdims=True) + eps)
    clip = 1 + 10 ** (-STOI_BETA_DB / 20)
    yn = np.minimum(alpha * ys, clip * xs)
    xc = xs - xs.mean(axis=2, keepdims=True)
    yc = yn - yn.mean(axis=2, keepdims=True)
    d = (xc * yc).sum(axis=2) / (np.linalg.norm(xc, axis=2) * np.linalg.norm(yc, axis=2) + eps)
    return float(d.mean())


def aligned(recording, sent, matches):
    """The recording on the sender's timeline (SENT, the signal sent): sample p of the
    result is the recording at p plus an offset. The offset is that of the chirps found;
    between two chirps whose offsets differ (the playout concealed or dropped a frame
    there), each 20 ms block takes whichever of the two fits it better. Samples outside
    the recording are 0."""
    out = np.zeros(len(sent))
    if not matches:
        return out
    block = int(0.020 * RATE)
    edges = [0] + [(a[0] + b[0]) // 2 for a, b in zip(matches, matches[1:])] + [len(sent)]

    def put(lo, hi, off):
        lo, hi = max(lo, 0, -off), min(hi, len(sent), len(recording) - off)
        if hi > lo:
            out[lo:hi] = recording[lo + off:hi + off]

    for i, m in enumerate(matches):
        put(edges[i], m[0], m[1] - m[0])
        nxt = matches[i + 1] if i + 1 < len(matches) else m
        off, off_next = m[1] - m[0], nxt[1] - nxt[0]
        if off == off_next:
            put(m[0], edges[i + 2] if i + 1 < len(matches) else len(sent), off)
            continue
        for lo in range(m[0], nxt[0], block):
            hi = min(lo + block, nxt[0])
            best, best_score = off, -np.inf
            for o in (off, off_next):
                a, b = max(lo - block, 0), min(hi + block, len(sent))
                if a + o < 0 or b + o > len(recording):
                    continue
                ref, rec = sent[a:b], recording[a + o:b + o]
                score = np.dot(ref, rec) / (np.linalg.norm(ref) * np.linalg.norm(rec) + 1e-12)
                if score > best_score:
                    best, best_score = o, score
            put(lo, hi, best)
    return out


def without_chirps(x, positions):
    """X without the 40 ms around each chirp (from 10 ms before it): intelligibility is
    measured on the speech, and the chirps, short bursts the same on both sides, would
    weigh on the measure far beyond their share of the time."""
    keep = np.ones(len(x), dtype=bool)
    before, after = int(0.010 * RATE), int(0.030 * RATE)
    for p in positions:
        keep[max(p - before, 0):p + after] = False
    return x[keep]
