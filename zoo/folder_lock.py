"""An exclusive inter-process lock on a folder, which leaves no file behind.

Writers that publish into one folder by renaming (the data cache's entries,
SavedModel exports) hold it so that two processes take turns: unserialized,
one's rename found the other's half moved. The lock is the folder itself
(``flock`` on its descriptor), so nothing is left in the user's folders and a
killed holder frees it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (which must exist) for the block.

    Where ``fcntl`` does not exist (Windows) it does nothing.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # releases the lock
