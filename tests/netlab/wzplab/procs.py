# procs.py: ending a process one started (a subprocess.Popen), by its PID only: SIGTERM,
# then SIGKILL if it has not gone after GRACE seconds. Used by the self-check, the lab's
# tests and the race benchmark for what they start inside the lab.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import subprocess


def stop(proc, grace=5.0):
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
