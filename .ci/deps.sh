#!/bin/sh
# The Debian 12 packages that building, running, testing and benchmarking wzp need: the
# one list of them, sourced by run.sh and test.sh (and so by .ci/run and
# .ci/fresh-debian.sh) and by the benchmarks' scripts. A tool that `meson setup` looks for
# is either in these lists or optional (the build goes on without it and says so in its
# summary). apt-get runs only when something is missing.
set -e

# Building everything, the GNOME app included (-Dgtk=enabled): compilers, libraries, and
# the programs meson runs while building or installing (schemas, desktop database, icon
# cache, translations, introspection).
WZP_BUILD_PACKAGES="meson ninja-build pkg-config gcc libc6-dev
  libglib2.0-dev libglib2.0-bin libjson-glib-dev libnice-dev libgnutls28-dev libmnl-dev
  gobject-introspection libgirepository1.0-dev gir1.2-glib-2.0 gettext
  libgtk-4-dev libgtk-4-bin libadwaita-1-dev libqrencode-dev desktop-file-utils
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libgsound-dev"

# Running the main job (./run.sh): TLS for GIO, and for the app a session bus, its icons
# and font (--no-install-recommends leaves them out otherwise), libqrencode for the QR code
# of your wzp: link, and its phone sounds (GSound plays the freedesktop sound theme's
# phone-incoming-call, phone-outgoing-calling and phone-outgoing-busy).
# Voice: GStreamer's base plugins (Opus, conversion, app source and sink), good ones (WAV
# files, PulseAudio) and bad ones (webrtcdsp: echo cancellation, noise suppression); and
# espeak-ng, which speaks the sentence of the demo call and of the voice tests.
WZP_RUN_PACKAGES="glib-networking dbus dbus-daemon adwaita-icon-theme fonts-cantarell
  libqrencode4 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  espeak-ng libgsound0 sound-theme-freedesktop"

# The whole suite (./test.sh): bindings checks, the D-Bus and UI tests, the network lab
# (tests/netlab: iproute2 and nftables build it, iptables' NFQUEUE target feeds its WAN
# delay and loss, python3 runs it), sanitizers, valgrind, the data validators, nm for
# the layering checks (binutils: gcc pulls it in, but the checks need it by name), and a
# sound server of the tests' own for the audio device tests (pulseaudio with null sinks,
# pactl from pulseaudio-utils to add and remove them). (espeak-ng, which the voice tests
# speak with, is in the run packages: the demo call speaks too.)
WZP_TEST_PACKAGES="python3 python3-gi gjs iproute2 nftables iptables procps binutils
  clang libclang-rt-14-dev valgrind
  xvfb xauth appstream libxml2-utils systemd pulseaudio pulseaudio-utils"

# The benchmarks' reference peers (bench/README.md): nginx's stream proxy for the relay,
# coturn (libnice's STUN server) for the race, iptables for the lab's NFQUEUE delay.
WZP_BENCH_PACKAGES="nginx-light libnginx-mod-stream coturn iptables"

# Installs $WZP_BUILD_PACKAGES, $WZP_RUN_PACKAGES and the packages given as arguments.
wzp_install_packages () {
  missing=""
  for p in $WZP_BUILD_PACKAGES $WZP_RUN_PACKAGES "$@"; do
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
    if ! apt-get update -q >&2; then
      echo "warning: apt-get update failed (no network, or a broken entry in /etc/apt/sources.list.d?);" \
        "trying with the package lists already here" >&2
    fi
    if ! apt-get install -y -q --no-install-recommends $missing >&2; then
      echo "error: could not install:$missing (apt-get's reason is above)" >&2
      exit 1
    fi
  fi
}

# Configures (or reconfigures) build/ with the GNOME app required, and builds it.
wzp_setup_build () {
  if [ -f build/build.ninja ]; then
    meson setup --reconfigure build -Dgtk=enabled -Dvoice=enabled "$@" >&2
  else
    meson setup build -Dgtk=enabled -Dvoice=enabled "$@" >&2
  fi
  ninja -C build >&2
}
