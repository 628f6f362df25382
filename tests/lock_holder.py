"""A run folder's lock held by another process, as a second training would see it."""

import contextlib
import subprocess
import sys

from training.run_lock import LOCK_FILE

_HOLD = """
import fcntl, os, sys, time
handle = open(sys.argv[1], "a+")
fcntl.flock(handle, fcntl.LOCK_EX)
handle.write(f"{os.getpid()}\\n")
handle.flush()
print("held", flush=True)
time.sleep(300)
"""


@contextlib.contextmanager
def lock_held_elsewhere(folder):
    """Hold ``folder``'s lock from a child process; yields the child's pid."""
    folder.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(folder / LOCK_FILE)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()
