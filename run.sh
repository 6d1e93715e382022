#!/bin/sh
# Installs what is missing, builds into build/ and runs the main job: a demo call on this
# machine. A relay and two headless clients (wzp-cli), Alice and Bob, on loopback; Bob
# answers, Alice says a sentence (made with espeak-ng) and hangs up when it is said, and
# both print what happened (registration, ringing, CallSetup, every candidate, the path,
# the call's statistics and the end). Bob records what he hears; the demo says how much
# arrived and how alike it is to what Alice said, and keeps the recording. Exits 0 when
# the call worked.
#
#   ./run.sh                 the demo call
#   ./run.sh relay [ARGS]    only a relay on loopback, in the foreground (Ctrl+C stops it)
#
# Works as root without a terminal, and any number of times in a row: the identities are
# kept in $XDG_STATE_HOME/wzp/demo, everything else is temporary.
set -e
cd "$(dirname "$0")"
. ./.ci/deps.sh
wzp_install_packages
wzp_setup_build

state="${XDG_STATE_HOME:-$HOME/.local/state}/wzp/demo"
relay_bin=./build/wzp-relay/wzp-relay
cli_bin=./build/libwzp-glib/tools/wzp-cli

# Hook for the GTK app (the app's issue fills it in): when a display exists and the app
# was built, start it here (with a relay for it) and return 0; returning 1 runs the
# headless demo below.
run_app () {
  if [ -n "${WAYLAND_DISPLAY:-}${DISPLAY:-}" ] && [ -x build/wzp-gtk/wzp-gtk ]; then
    # Wzp Phone registered to a relay on loopback, and "Echo", a wzp-cli that answers
    # calls, to dial. The app keeps its identity, contacts and settings (a keyfile
    # GSettings backend) under $state/app, not in the user's own.
    mkdir -p "$state/app/data" "$state/app/config" "$state/echo"
    app_tmp=$(mktemp -d "${TMPDIR:-/tmp}/wzp-app.XXXXXX")
    "$relay_bin" --listen 127.0.0.1:0 --identity "$state/relay.pem" \
      >"$app_tmp/relay.uri" 2>"$app_tmp/relay.log" &
    app_relay_pid=$!
    n=0
    until grep -q '^wzps://' "$app_tmp/relay.uri" 2>/dev/null; do
      n=$((n + 1))
      if [ "$n" -gt 100 ]; then
        echo "run.sh: the relay did not start:" >&2
        cat "$app_tmp/relay.log" >&2
        kill "$app_relay_pid" 2>/dev/null || true
        return 1
      fi
      sleep 0.1
    done
    app_relay_uri=$(head -n 1 "$app_tmp/relay.uri")
    echo_fp=$(XDG_DATA_HOME="$state/echo" "$cli_bin" fingerprint)
    # Echo beeps every two seconds, so that a call to it is heard as well as seen.
    XDG_DATA_HOME="$state/echo" WZP_TEST_LOOPBACK=1 "$cli_bin" --relay "$app_relay_uri" \
      --alias Echo \
      --audio-in "gst:audiotestsrc is-live=true wave=ticks tick-interval=2000000000 volume=0.2" \
      listen --answer trusted --calls 1000 >"$app_tmp/echo.log" 2>&1 &
    echo_pid=$!
    trap 'kill "$echo_pid" "$app_relay_pid" 2>/dev/null; rm -rf "$app_tmp"; exit 130' INT TERM

    export GSETTINGS_BACKEND=keyfile GSETTINGS_SCHEMA_DIR="$PWD/build/data" \
      XDG_DATA_HOME="$state/app/data" XDG_CONFIG_HOME="$state/app/config"
    gsettings set org.wzp.Phone relay-uri "$app_relay_uri"
    echo "== Wzp Phone, registered to the relay at $app_relay_uri" >&2
    echo "   To try a call, dial $echo_fp (Echo, a wzp-cli that answers and beeps" >&2
    echo "   every two seconds)." >&2
    app_status=0
    if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] && command -v dbus-run-session >/dev/null; then
      dbus-run-session -- ./build/wzp-gtk/wzp-gtk || app_status=$?
    else
      ./build/wzp-gtk/wzp-gtk || app_status=$?
    fi
    kill "$echo_pid" "$app_relay_pid" 2>/dev/null || true
    wait "$echo_pid" "$app_relay_pid" 2>/dev/null || true
    rm -rf "$app_tmp"
    trap - INT TERM
    if [ "$app_status" -ne 0 ]; then
      echo "run.sh: wzp-gtk exited with status $app_status" >&2
      exit "$app_status"
    fi
    return 0
  fi
  return 1
}

if [ "${1:-}" = relay ]; then
  shift
  mkdir -p "$state"
  echo "Starting a relay on loopback (identity in $state/relay.pem)." >&2
  exec "$relay_bin" --listen 127.0.0.1:0 --identity "$state/relay.pem" "$@"
fi

if run_app "$@"; then
  exit 0
fi

mkdir -p "$state/alice" "$state/bob"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wzp-demo.XXXXXX")
relay_pid=""
bob_pid=""
tail_pid=""
cleanup () {
  for pid in $tail_pid $bob_pid $relay_pid; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits up to $2 tenths of a second for file $1 to contain $3.
wait_for () {
  n=0
  while ! grep -q "$3" "$1" 2>/dev/null; do
    n=$((n + 1))
    if [ "$n" -gt "$2" ]; then
      return 1
    fi
    sleep 0.1
  done
}

# The clients listen on loopback only and offer loopback addresses (the test-only
# WZP_TEST_LOOPBACK): the demo opens no port on the machine's real interfaces.
export WZP_TEST_LOOPBACK=1

echo "== A relay on loopback" >&2
"$relay_bin" --listen 127.0.0.1:0 --identity "$state/relay.pem" \
  >"$tmp/relay.uri" 2>"$tmp/relay.log" &
relay_pid=$!
if ! wait_for "$tmp/relay.uri" 100 '^wzps://'; then
  echo "run.sh: the relay did not start:" >&2
  cat "$tmp/relay.log" >&2
  exit 1
fi
relay_uri=$(head -n 1 "$tmp/relay.uri")
echo "   $relay_uri" >&2

alice_fp=$(XDG_DATA_HOME="$state/alice" "$cli_bin" fingerprint)
bob_fp=$(XDG_DATA_HOME="$state/bob" "$cli_bin" fingerprint)
echo "== Alice is $alice_fp" >&2
echo "== Bob is   $bob_fp" >&2

# What Alice says: a sentence spoken by espeak-ng (22 kHz mono WAV), sent in real time.
sentence="Hello Bob, this is Alice. I am calling you over wzp, and you hear me clearly."
espeak-ng -w "$tmp/said.wav" "$sentence"
heard="$state/bob-heard.wav"
rm -f "$heard"

echo "== Bob listens, and records what he hears" >&2
XDG_DATA_HOME="$state/bob" timeout 60 "$cli_bin" --relay "$relay_uri" --alias Bob \
  --audio-out "$heard" listen --answer trusted --calls 1 >"$tmp/bob.out" 2>&1 &
bob_pid=$!
tail -s 0.1 -n +1 -f "$tmp/bob.out" | sed -u 's/^/bob   | /' &
tail_pid=$!
if ! wait_for "$tmp/bob.out" 100 '^Registered'; then
  echo "run.sh: Bob did not register" >&2
  exit 1
fi

echo "== Alice calls Bob, says: \"$sentence\", and hangs up" >&2
alice_status=0
{
  XDG_DATA_HOME="$state/alice" timeout 60 "$cli_bin" --relay "$relay_uri" --alias Alice \
    --audio-in "$tmp/said.wav" call "$bob_fp" --hold 6 2>&1 || echo "$?" >"$tmp/alice.status"
} | sed -u 's/^/alice | /'
if [ -s "$tmp/alice.status" ]; then
  alice_status=$(cat "$tmp/alice.status")
fi

bob_status=0
wait "$bob_pid" || bob_status=$?
bob_pid=""
sleep 0.2   # let tail print Bob's last lines

if [ "$alice_status" -ne 0 ] || [ "$bob_status" -ne 0 ]; then
  echo "== The demo call failed (Alice: $alice_status, Bob: $bob_status); the relay said:" >&2
  cat "$tmp/relay.log" >&2
  exit 1
fi
echo "== The demo call worked." >&2
if [ -x ./build/tests/wzp-audio-compare ]; then
  echo "== What Bob heard: $(./build/tests/wzp-audio-compare "$tmp/said.wav" "$heard")" >&2
fi
echo "   The recording is $heard (play it with any audio player)." >&2
