# lock.py: the lab is machine-wide state (fixed namespace names), so every user of a lab,
# this one or another, holds /tmp/wzp-netlab.lock for as long as it uses it. A process run
# by the holder (a test that called `netlab up`, a `flock /tmp/wzp-netlab.lock meson test`
# around the suite) already has it: the lock is re-entrant along the process tree, found
# through /proc/locks, so that such a child neither waits for its own parent nor goes
# without the lock.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import contextlib
import fcntl
import os
import time

PATH = "/tmp/wzp-netlab.lock"


def _ancestors():
    pid, seen = os.getpid(), []
    while pid > 1:
        seen.append(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return set(seen)


def holder_among_ancestors(path=PATH):
    """The PID of this process or an ancestor that holds the lock on PATH, or None."""
    try:
        st = os.stat(path)
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    inode = f":{st.st_ino}"
    mine = _ancestors()
    for line in lines:
        fields = line.split()
        # 1: FLOCK  ADVISORY  WRITE 1234 00:1f:5678 0 EOF
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].endswith(inode):
            try:
                pid = int(fields[4])
            except ValueError:
                continue
            if pid in mine:
                return pid
    return None


@contextlib.contextmanager
def held(timeout=900, path=PATH, say=None):
    """Holds the lab lock for the duration of the block (waiting at most TIMEOUT s)."""
    if holder_among_ancestors(path) is not None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path} is still held by another lab user")
                if say and not told:
                    say(f"waiting for {path}")
                    told = True
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)
