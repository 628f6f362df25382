"""One build of an expensive session fixture for all pytest-xdist workers."""

from __future__ import annotations

import fcntl
import os
import shutil


def built_once(tmp_path_factory, name, build):
    """The folder ``name``, written by ``build(folder)`` once per test run.

    `make test` runs the suite on two pytest-xdist workers, each with a session
    of its own, so a session fixture used by modules on both would be built
    twice. The first worker to ask builds while it holds a file lock; the
    others wait for it and reuse the folder. A build that raises leaves no
    completion mark, so the next worker to ask builds again, and fails alike.
    (xdist's ``--dist loadgroup`` could keep such modules on one worker, but
    under pytest 9.2 it groups nothing: it renames ``item._nodeid``, which
    pytest 9 no longer reads.)

    Args:
        name: the folder's name, unique to the fixture.
        build: called with the folder's path (not yet created) to write it.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' base folders share this parent
    folder = root / name
    done = root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a failed build's remains
            build(folder)
            done.touch()
    return folder
