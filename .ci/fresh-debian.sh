#!/bin/sh
# Checks that ./run.sh and ./test.sh each work as the only command on a new Debian 12
# machine, whatever this machine already has installed (docs/testing.md, "A new machine").
#
#   .ci/fresh-debian.sh [run|test|both]     (as root; default: both)
#   WZP_REQUIRE_NETLAB=1 .ci/fresh-debian.sh test     the network lab required, as in CI
#
# It builds a minimal Debian 12 root with mmdebstrap (once, kept as a tarball), then for
# each command unpacks a new copy of it, clones the committed HEAD of this repository into
# it (nothing from outside the repository, no build/), and runs the command there as root,
# without a display. Each command gets its own new root, so neither benefits from what the
# other installed. apt's downloads are shared between the roots to save time, nothing else.
#
# Everything lives under $WZP_FRESH_DIR (default /var/tmp/wzp-fresh): base.tar, the roots
# (removed after each run unless WZP_FRESH_KEEP=1) and the logs run.log and test.log. The
# mounts a root needs (/proc, /sys, /dev) live in a mount namespace of their own, so they
# vanish with it, even when the script is killed.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
what="${1:-both}"
work="${WZP_FRESH_DIR:-/var/tmp/wzp-fresh}"
suite=bookworm

case "$what" in
  run|test|both) ;;
  *) echo "usage: $0 [run|test|both]" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  echo "error: $0 needs root (it builds and enters a Debian root with mmdebstrap and chroot)" >&2
  exit 1
fi
if ! command -v mmdebstrap >/dev/null; then
  echo "Installing mmdebstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap >&2
fi

mkdir -p "$work/apt-archives/partial"

# Debian 12 from Debian's own archive, security updates included, whatever this machine
# runs. A mirror of your own: WZP_FRESH_MIRROR=http://host/debian.
mirror="${WZP_FRESH_MIRROR:-http://deb.debian.org/debian}"
security="${WZP_FRESH_SECURITY:-http://deb.debian.org/debian-security}"

# Removes a root left by an earlier run, but never through a mount: a root someone
# mounted /dev or /sys into (WZP_FRESH_KEEP=1 invites a look inside) is refused.
remove_root () {
  if [ -d "$1" ]; then
    if awk -v r="$(realpath "$1")" '$5 == r || index($5, r "/") == 1 { found = 1 }
                                    END { exit !found }' /proc/self/mountinfo; then
      echo "error: something is mounted under $1; unmount it first" >&2
      exit 1
    fi
    rm -rf --one-file-system "$1"
  fi
}

if [ ! -f "$work/base.tar" ]; then
  echo "== Building a minimal Debian 12 root ($work/base.tar)" >&2
  mmdebstrap --variant=minbase --include=ca-certificates "$suite" "$work/base.new.tar" \
    "deb $mirror $suite main" "deb $mirror $suite-updates main" \
    "deb $security $suite-security main" >&2
  mv "$work/base.new.tar" "$work/base.tar"
fi

# Runs `./$1.sh` in a new root; its output goes to $work/$1.log and the terminal.
check () {
  name=$1
  root="$work/root-$name"
  log="$work/$name.log"

  remove_root "$root"
  mkdir -p "$root"
  tar -xf "$work/base.tar" -C "$root"
  git clone --quiet --no-hardlinks "$repo" "$root/src/wzp"
  cp /etc/resolv.conf "$root/etc/resolv.conf"

  echo "== ./$name.sh in a new Debian 12 root ($root), log in $log" >&2
  status=0
  # A private mount namespace: /proc, /sys, /dev and the shared apt downloads are mounted
  # into the root only there. A PID namespace of its own too: whatever the command leaves
  # running (a relay, a bus, an X server) ends with it.
  unshare --mount --propagation private --pid --fork --kill-child sh -eu -c '
    root=$1 name=$2 archives=$3 require_netlab=$4
    # the root a mount point of its own, as / is on a machine (`ip netns exec` needs it)
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs tmpfs "$root/dev/shm"
    mount -t tmpfs tmpfs "$root/run"
    mount --bind "$archives" "$root/var/cache/apt/archives"
    exec chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      WZP_REQUIRE_NETLAB="$require_netlab" sh -c "cd /src/wzp && ./$name.sh"
  ' sh "$root" "$name" "$work/apt-archives" "${WZP_REQUIRE_NETLAB:-}" >"$log" 2>&1 || status=$?
  tail -n 5 "$log" >&2

  if [ "${WZP_FRESH_KEEP:-0}" != 1 ]; then
    remove_root "$root"
  fi
  if [ "$status" -ne 0 ]; then
    echo "== ./$name.sh FAILED on a new machine (status $status); see $log" >&2
    return 1
  fi
  echo "== ./$name.sh worked on a new machine" >&2
}

failed=0
if [ "$what" = run ] || [ "$what" = both ]; then
  check run || failed=1
fi
if [ "$what" = test ] || [ "$what" = both ]; then
  check test || failed=1
fi
exit "$failed"
