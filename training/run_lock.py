"""One training process at a time in a run folder."""

import contextlib
import os

LOCK_FILE = ".zoo.lock"

# Run folders this process holds the lock of: `zoo train` holds it around
# the data preparation and the `fit` it calls, which takes it again.
_held = set()


@contextlib.contextmanager
def run_folder_lock(out_dir, argument="out_dir"):
    """Hold ``out_dir/.zoo.lock`` while a training run writes ``out_dir``.

    A second process training into the same folder (a command started
    twice, a notebook cell run again while the first still trains) would
    write the same backup and checkpoint; it raises ``ValueError`` instead,
    naming the process that holds the folder. The lock is the operating
    system's (``flock``), so a killed run holds it no more and its rerun
    resumes. The same process may take it again (it is reentrant). Where
    ``fcntl`` is missing (Windows) nothing is locked. The file is removed
    when the lock is released.

    Args:
        out_dir: the run folder; made if missing.
        argument: how error messages name the folder (``"--out"`` for the CLI).
    """
    key = os.path.realpath(out_dir)
    try:
        import fcntl
    except ImportError:
        fcntl = None
    if fcntl is None or key in _held:
        yield
        return
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, LOCK_FILE)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ValueError(
                f"{argument} {str(out_dir)!r} is being trained by another process "
                f"(pid {holder}); expected one training run per folder: wait for "
                "it, or stop it and run the same command again to resume"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        _held.add(key)
        try:
            yield
        finally:
            _held.discard(key)
            # Removed before it is released: the next run makes a fresh one.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
