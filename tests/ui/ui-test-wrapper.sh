#!/bin/sh
# ui-test-wrapper.sh TEST [ARGS...]: runs a UI test on its own X server (Xvfb) and its own
# D-Bus session bus when xvfb-run and dbus-run-session are installed, so that plain
# `meson test` works without a display. Without them the test uses the environment's
# display and bus, and skips itself when there is no display.
set -e
if command -v dbus-run-session >/dev/null 2>&1; then
  set -- dbus-run-session -- "$@"
fi
if command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run --auto-servernum --server-args="-screen 0 1280x1024x24 -noreset" "$@"
fi
exec "$@"
