#!/bin/sh
# Installs the Debian 12 packages that building, running and testing wzp need.
# Sourced by run.sh and test.sh; only calls apt-get when something is missing.
set -e

WZP_BUILD_PACKAGES="meson ninja-build pkg-config gcc libc6-dev
  libglib2.0-dev libglib2.0-bin libjson-glib-dev libnice-dev libgnutls28-dev libmnl-dev
  glib-networking gobject-introspection libgirepository1.0-dev gir1.2-glib-2.0
  gettext"
WZP_TEST_PACKAGES="python3-gi gjs dbus dbus-daemon iproute2 nftables python3 procps
  clang libclang-rt-14-dev valgrind
  libgtk-4-dev libadwaita-1-dev xvfb xauth fonts-cantarell desktop-file-utils appstream"

wzp_install_packages () {
  missing=""
  for p in $WZP_BUILD_PACKAGES "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
      missing="$missing $p"
    fi
  done
  if [ -n "$missing" ]; then
    echo "Installing missing Debian packages:$missing" >&2
    if [ "$(id -u)" -ne 0 ]; then
      echo "error: these packages are missing and installing them needs root:$missing" >&2
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2 || true
    apt-get install -y -q --no-install-recommends $missing >&2
  fi
}

wzp_setup_build () {
  if [ -f build/build.ninja ]; then
    meson setup --reconfigure build "$@" >&2
  else
    meson setup build "$@" >&2
  fi
  ninja -C build >&2
}
