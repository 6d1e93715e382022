#!/bin/sh
# Installs what is missing, builds into build/ and runs the main job: a relay on loopback
# with a generated identity, printing its URI. Stop it with Ctrl+C.
set -e
cd "$(dirname "$0")"
. ./.ci/deps.sh
wzp_install_packages
wzp_setup_build

state="${XDG_STATE_HOME:-$HOME/.local/state}/wzp"
mkdir -p "$state"
echo "Starting a relay on loopback (identity in $state/relay.key)." >&2
exec ./build/wzp-relay/wzp-relay --listen 127.0.0.1:0 --identity "$state/relay.key" "$@"
