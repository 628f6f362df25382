"""One training process at a time in a run folder."""

import contextlib
import os
import threading

LOCK_FILE = ".zoo.lock"

# Run folders this process holds the lock of, and the thread holding each:
# `zoo train` holds it around the data preparation and the `fit` it calls,
# which takes it again in the same thread. Another thread is another run.
_held = {}


@contextlib.contextmanager
def run_folder_lock(out_dir, argument="out_dir"):
    """Hold ``out_dir/.zoo.lock`` while a training run writes ``out_dir``.

    A second process training into the same folder (a command started
    twice, a notebook cell run again while the first still trains) would
    write the same backup and checkpoint; it raises ``ValueError`` instead,
    naming the process that holds the folder. So does another thread of the
    same process. The lock is the operating system's (``flock``), so a killed
    run holds it no more and its rerun resumes. The same thread may take it
    again (it is reentrant). Where ``fcntl`` is missing (Windows) nothing is
    locked. The file is removed when the lock is released.

    Args:
        out_dir: the run folder; made if missing.
        argument: how error messages name the folder (``"--out"`` for the CLI).
    """
    key = os.path.realpath(out_dir)
    try:
        import fcntl
    except ImportError:
        fcntl = None
    if fcntl is None or _held.get(key) == threading.get_ident():
        yield
        return
    if key in _held:
        raise _busy(
            argument, out_dir, f"another thread of this process (pid {os.getpid()})"
        )
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        # makedirs would raise FileExistsError, naming no argument.
        raise ValueError(
            f"{argument} must be a folder for the run; received {str(out_dir)!r}, "
            "which is a file"
        )
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, LOCK_FILE)
    with _locked_file(fcntl, path, argument, out_dir) as handle:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        _held[key] = threading.get_ident()
        try:
            yield
        finally:
            del _held[key]
            # Removed before it is released: the next run makes a fresh one.
            # Only our own file: one that replaced it belongs to another run.
            if _is_file_at(handle, path):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)


@contextlib.contextmanager
def _locked_file(fcntl, path, argument, out_dir):
    """``path`` opened and flocked; the file still at ``path`` once locked.

    A holder unlinks the file before it releases it. A run that opened it
    just before would lock the unlinked file, while the next one makes and
    locks a new file at ``path``: both would train. So a file locked but no
    longer at ``path`` is let go and ``path`` opened again.
    """
    while True:
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise _busy(argument, out_dir, f"another process (pid {holder})") from None
        if _is_file_at(handle, path):
            break
        handle.close()
    with handle:
        yield handle


def _is_file_at(handle, path):
    """Whether ``path`` names the file open as ``handle`` (not unlinked, not new)."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(handle.fileno())
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _busy(argument, out_dir, holder):
    return ValueError(
        f"{argument} {str(out_dir)!r} is being trained by {holder}; expected one "
        "training run per folder: wait for it, or stop it and run the same "
        "command again to resume"
    )
