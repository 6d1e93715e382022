#!/bin/sh
# Installs what is missing, builds into build/ and runs the whole suite; then builds again
# with AddressSanitizer and UndefinedBehaviorSanitizer into build-asan/ and runs the suite's
# C programs, the Python and GJS binding tests and the UI tests there once more (meson's
# test setup "sanitizers": docs/testing.md, "Sanitizers"). Arguments go to both `meson
# test` runs (`./test.sh --suite relay`); WZP_SANITIZERS=0 leaves the second pass out.
# The last line printed is "N passed, N failed", over both passes; the exit status is
# non-zero on any failure.
set -e
cd "$(dirname "$0")"
. ./.ci/deps.sh
wzp_install_packages $WZP_TEST_PACKAGES
wzp_setup_build

# The sanitized build: the C code of the whole tree (gcc's -fsanitize=address,undefined);
# b_lundef=false because the shared library leaves the runtime's symbols to the program.
wzp_setup_sanitizer_build () {
  if [ -f build-asan/build.ninja ]; then
    meson setup --reconfigure build-asan -Db_sanitize=address,undefined -Db_lundef=false \
      -Dgtk=enabled -Dvoice=enabled >&2
  else
    meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
      -Dgtk=enabled -Dvoice=enabled >&2
  fi
  ninja -C build-asan >&2
}

logs=build/meson-logs/testlog.json
set +e
meson test -C build --no-rebuild --print-errorlogs "$@"
status=$?
set -e

if [ "${WZP_SANITIZERS:-1}" != 0 ]; then
  echo "== the sanitizer pass (build-asan, meson test --setup sanitizers)" >&2
  wzp_setup_sanitizer_build
  set +e
  meson test -C build-asan --no-rebuild --setup sanitizers --print-errorlogs "$@"
  sanitizer_status=$?
  set -e
  [ "$status" -ne 0 ] || status=$sanitizer_status
  logs="$logs build-asan/meson-logs/testlog-sanitizers.json"
fi

python3 - $logs <<'PY'
import json, sys
passed = failed = skipped = 0
for log in sys.argv[1:]:
    try:
        lines = open(log).readlines()
    except OSError as e:
        print(f"{log}: {e.strerror} (meson test did not run: counted as one failure)")
        failed += 1
        continue
    for line in lines:
        line = line.strip()
        if not line:
            continue
        result = json.loads(line).get("result")
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
if skipped:
    print(f"{skipped} skipped (counted as neither passed nor failed)")
print(f"{passed} passed, {failed} failed")
PY
exit $status
