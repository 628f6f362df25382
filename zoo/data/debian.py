"""Fetch Debian binary packages into the data cache, leaving the system alone.

Several built-in datasets ship as Debian packages. They are fetched with the
machine's own `apt-get` and unpacked with `dpkg-deb -x`, but apt is pointed at
private directories inside the data cache (`<data dir>/apt/`), so nothing is
installed and the system's package lists and caches are never touched. This
works on a fresh machine where `apt-get update` was never run: the private
lists are filled once, on first use, from the sources the system is configured
with.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from zoo.data import cache

_PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_TIMEOUT_S = 900
_OUTPUT_TAIL = 3000
# How long a command waits for apt's lock held by another apt-get.
_LOCK_WAIT_S = 120
# Download folders are named download-<pid>-..., so a dead fetch's is found.
_DOWNLOAD_PREFIX = "download-"


def _check_package_name(package: str) -> None:
    if not isinstance(package, str) or not _PACKAGE_NAME.match(package):
        raise ValueError(
            "package must be a Debian package name (lower-case letters, digits, "
            f"'+', '-', '.'), got {package!r}"
        )


def package_dir(package: str) -> Path:
    """Return where `package` is (or would be) unpacked, without fetching it.

    Args:
        package: Debian binary package name, e.g. `"dataset-fashion-mnist"`.

    Returns:
        `<data dir>/debian/<package>`: the root of the unpacked file tree, so
        the package's `/usr/share/...` is `package_dir(p) / "usr/share/..."`.
    """
    _check_package_name(package)
    return cache.cache_path("debian", package)


def is_package_cached(package: str) -> bool:
    """Tell whether `package` is already unpacked in the data cache.

    Args:
        package: Debian binary package name.

    Returns:
        True if a complete copy is cached.
    """
    return cache.is_complete(package_dir(package))


def apt_options() -> list[str]:
    """Return the `-o` options that point apt at the private cache directories.

    Returns:
        Options to put right after `apt-get` or `apt-cache`.
    """
    apt_root = cache.cache_path("apt")
    options = [
        f"Dir::State::Lists={apt_root / 'lists'}",
        f"Dir::Cache={apt_root / 'cache'}",
        # Only package indexes; translated descriptions are not needed here.
        "Acquire::Languages=none",
    ]
    try:
        import pwd  # POSIX only; imported here so `zoo.data` imports anywhere.

        # Run downloads as ourselves: the unprivileged `_apt` user apt normally
        # switches to cannot write into our private directories.
        options.append(f"APT::Sandbox::User={pwd.getpwuid(os.getuid()).pw_name}")
    except (ImportError, KeyError):
        pass
    return [arg for option in options for arg in ("-o", option)]


def _run(
    command: Sequence[str], *, package: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command, raising RuntimeError that names `package` on failure."""
    env = dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
    deadline = time.monotonic() + _LOCK_WAIT_S
    try:
        while True:
            result = subprocess.run(
                list(command),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_S,
            )
            # Our fetches wait for each other (cache.lock), but an apt-get
            # left running by a fetch that was killed holds the private lists'
            # lock until it ends; apt-get fails at once instead of waiting.
            busy = result.returncode != 0 and "Could not get lock" in result.stderr
            if not busy or time.monotonic() > deadline:
                return result
            time.sleep(1)
    except FileNotFoundError as error:
        raise RuntimeError(
            f"cannot fetch Debian package {package!r}: {command[0]!r} is not "
            "installed; the built-in datasets that come as Debian packages need a "
            "Debian or Ubuntu machine with apt-get and dpkg-deb"
        ) from error
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(
            f"cannot fetch Debian package {package!r}: `{' '.join(command)}` did "
            f"not finish within {_TIMEOUT_S} s"
        ) from error


def _describe_failure(
    package: str, command: Sequence[str], result: subprocess.CompletedProcess[str]
) -> str:
    output = (result.stdout + result.stderr).strip()[-_OUTPUT_TAIL:]
    return (
        f"cannot fetch Debian package {package!r}: `{' '.join(command)}` exited "
        f"with status {result.returncode}:\n{output or '(no output)'}"
    )


def _lists_present() -> bool:
    lists = cache.cache_path("apt", "lists")
    return lists.is_dir() and any(lists.glob("*_Packages*"))


def update_package_lists(package: str = "", *, force: bool = False) -> None:
    """Fill the private apt package lists (`apt-get update`), once.

    Args:
        package: the package this is for; only used in error messages.
        force: run `apt-get update` even if lists are already there.

    Raises:
        RuntimeError: if apt-get is missing or the update fails.
    """
    if _lists_present() and not force:
        return
    for sub in ("lists/partial", "cache/archives/partial"):
        cache.ensure_dir("apt", *sub.split("/"))
    command = ["apt-get", "-q", *apt_options(), "update"]
    result = _run(command, package=package or "(package lists)")
    # apt-get exits non-zero when any one configured source fails; that is
    # fatal only if no package index at all came down.
    if result.returncode != 0 and not _lists_present():
        raise RuntimeError(_describe_failure(package or "(lists)", command, result))


def _download(package: str, workdir: Path) -> Path:
    command = ["apt-get", "-q", *apt_options(), "download", package]
    result = _run(command, package=package, cwd=workdir)
    if result.returncode != 0:
        # The lists may be stale (the mirror moved to a newer version): refresh
        # them once and try again.
        update_package_lists(package, force=True)
        result = _run(command, package=package, cwd=workdir)
    if result.returncode != 0:
        raise RuntimeError(_describe_failure(package, command, result))
    debs = sorted(workdir.glob("*.deb"))
    if len(debs) != 1:
        raise RuntimeError(
            f"cannot fetch Debian package {package!r}: expected one .deb file "
            f"after `{' '.join(command)}`, found {[d.name for d in debs]}"
        )
    return debs[0]


def fetch_package(package: str) -> Path:
    """Download a Debian binary package and unpack it into the data cache.

    Nothing is installed: the package's files are extracted with `dpkg-deb -x`
    under `package_dir(package)`. Idempotent: a cached package is returned
    without any network access.

    Args:
        package: Debian binary package name, e.g. `"dataset-fashion-mnist"`.

    Returns:
        The root of the unpacked file tree (`package_dir(package)`).

    Raises:
        ValueError: if `package` is not a valid Debian package name.
        RuntimeError: if apt-get or dpkg-deb is missing, or a step fails; the
            message names the package and includes the command's output.

    Examples:
        >>> from zoo.data.debian import fetch_package
        >>> root = fetch_package("dataset-fashion-mnist")
        >>> (root / "usr/share/datasets/fashion-mnist").is_dir()
        True
    """
    target = package_dir(package)
    if cache.is_complete(target):
        return target
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise RuntimeError(
                f"cannot fetch Debian package {package!r}: {tool!r} is not on PATH; "
                "the built-in datasets that come as Debian packages need a Debian "
                "or Ubuntu machine with apt-get and dpkg-deb"
            )
    # apt-get takes a lock on the private lists and fails at once (status
    # 100, "Could not get lock") when another process holds it: two processes
    # fetching into the same empty cache must wait for each other instead.
    with cache.lock("apt"):
        if cache.is_complete(target):  # Fetched by another process meanwhile.
            return target
        print(f"Fetching Debian package {package} into {target} ...", file=sys.stderr)
        update_package_lists(package)
        _remove_stale_downloads()
        with tempfile.TemporaryDirectory(
            prefix=f"{_DOWNLOAD_PREFIX}{os.getpid()}-", dir=cache.ensure_dir("apt")
        ) as workdir:
            deb = _download(package, Path(workdir))
            with cache.atomic_dir(target) as tmp:
                command = ["dpkg-deb", "-x", str(deb), str(tmp)]
                result = _run(command, package=package)
                if result.returncode != 0:
                    raise RuntimeError(_describe_failure(package, command, result))
    return target


def _remove_stale_downloads() -> None:
    """Delete download directories (with their .deb) of fetches that died.

    A fetch killed during `apt-get download` leaves its temporary directory,
    tens of MB, which nothing else would ever delete. The directory name
    carries the fetching process's id.
    """
    for leftover in cache.cache_path("apt").glob(f"{_DOWNLOAD_PREFIX}*"):
        pid_text = leftover.name[len(_DOWNLOAD_PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and not cache.pid_alive(int(pid_text)):
            shutil.rmtree(leftover, ignore_errors=True)
