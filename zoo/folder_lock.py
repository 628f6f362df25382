"""An exclusive inter-process lock on a folder, which leaves no file behind.

Writers that publish into one folder by renaming (the data cache's entries,
SavedModel exports) hold it so that two processes take turns: unserialized,
one's rename found the other's half moved. The lock is the folder itself
(``flock`` on its descriptor), so nothing is left in the user's folders and a
killed holder frees it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import warnings
from collections.abc import Iterator

# Where a folder cannot be locked: NFS emulates flock with a write lock, which
# needs a descriptor open for writing (no folder has one: EBADF); some file
# systems lock nothing (ENOLCK, EOPNOTSUPP, ENOSYS, EINVAL); a folder one may
# write into but not list cannot be opened (EACCES, EPERM).
_CANNOT_LOCK = frozenset(
    {
        errno.EBADF,
        errno.ENOLCK,
        errno.EOPNOTSUPP,
        errno.ENOTSUP,
        errno.ENOSYS,
        errno.EINVAL,
        errno.EACCES,
        errno.EPERM,
    }
)


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (which must exist) for the block.

    Where ``fcntl`` does not exist (Windows), or the folder cannot be locked
    (NFS, a folder that cannot be listed), the block runs unlocked, as it
    did before there was a lock, with a warning for the latter.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    handle = _locked_handle(fcntl, folder)
    try:
        yield
    finally:
        if handle is not None:
            os.close(handle)  # releases the lock


def _locked_handle(fcntl, folder):
    """A descriptor of ``folder`` holding its lock; None if it cannot be locked."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError as error:
        return _unlocked(folder, error)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError as error:
        os.close(handle)
        return _unlocked(folder, error)
    return handle


def _unlocked(folder, error):
    """Warn that ``folder`` stays unlocked, or re-raise an unexpected ``error``."""
    if error.errno not in _CANNOT_LOCK:
        raise error
    warnings.warn(
        f"cannot lock the folder {os.fspath(folder)!r} ({error.strerror}): "
        "writers that publish into it at the same time are not serialized",
        RuntimeWarning,
        stacklevel=4,
    )
    return None
