#!/bin/sh
# verify-units.sh SYSTEMD_ANALYZE UNIT...: runs `systemd-analyze verify` on each unit
# as configured for installation. The binary is not installed yet, so ExecStart points
# at /bin/true for the check. Exits 77 (skip) when systemd-analyze cannot run here.
#
# SPDX-License-Identifier: GPL-3.0-or-later
set -u
analyze="$1"
shift
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
status=0
n=0
for unit in "$@"; do
  n=$((n + 1))
  mkdir -p "$tmp/$n"
  copy="$tmp/$n/$(basename "$unit")"
  sed 's|^ExecStart=[^ ]*|ExecStart=/bin/true|' "$unit" > "$copy"
  if ! out="$("$analyze" verify --man=no "$copy" 2>&1)"; then
    case "$out" in
      *"Failed to initialize manager"*|*"Operation not permitted"*)
        echo "systemd-analyze cannot run here: $out" >&2
        exit 77 ;;
    esac
    status=1
  fi
  # systemd-analyze reports some problems as warnings with a zero exit status.
  if [ -n "$out" ]; then
    echo "$unit:" >&2
    echo "$out" >&2
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "$n units verified"
exit "$status"
