"""`zoo.folder_lock` on file systems that cannot lock a folder (NFS and others)."""

import errno
import fcntl
import os

import pytest

from zoo.data import cache
from zoo.folder_lock import folder_lock


def refuse_flock(monkeypatch, code):
    """Make ``flock`` fail as it does on a file system that cannot lock."""

    def flock(handle, operation):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fcntl, "flock", flock)


@pytest.mark.parametrize("code", [errno.EBADF, errno.ENOLCK, errno.EOPNOTSUPP])
def test_a_fetch_into_a_cache_on_nfs_publishes_its_entry(tmp_path, monkeypatch, code):
    # NFS emulates flock with a write lock, which a folder's read-only
    # descriptor cannot take (EBADF): every fetch into a cache on an NFS home
    # folder failed, where before the lock it worked.
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "zoo-data"))
    refuse_flock(monkeypatch, code)
    target = cache.cache_path("pypi", "table")
    with pytest.warns(RuntimeWarning, match="cannot lock the folder"):
        with cache.atomic_dir(target) as tmp:
            (tmp / "table.csv").write_text("a,b\n1,2\n")
    assert cache.is_complete(target)


def test_a_folder_lock_still_raises_an_unexpected_error(tmp_path, monkeypatch):
    refuse_flock(monkeypatch, errno.EIO)
    with pytest.raises(OSError, match="Input/output error"):
        with folder_lock(tmp_path):
            pass
