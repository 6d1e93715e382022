#!/bin/sh
# Installs what is missing, builds into build/ and runs the whole suite.
# The last line printed is "N passed, N failed"; the exit status is non-zero on any failure.
set -e
cd "$(dirname "$0")"
. ./.ci/deps.sh
wzp_install_packages $WZP_TEST_PACKAGES
wzp_setup_build

set +e
meson test -C build --no-rebuild --print-errorlogs "$@"
status=$?
set -e

python3 - build/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
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
