"""Tests of the Debian fetcher against a fake `apt-get` (no network)."""

import shutil
import subprocess
import time

import pytest

from tests.data.fake_apt import build_deb, install_fake_apt_get
from zoo.data import cache, debian


@pytest.fixture
def fake_apt(tmp_path, monkeypatch):
    """Put a fake apt-get (and the real dpkg-deb) first on PATH."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed")
    bin_dir = tmp_path / "bin"
    install_fake_apt_get(bin_dir)
    log = tmp_path / "apt.log"
    log.touch()
    monkeypatch.setenv(
        "PATH", f"{bin_dir}:{shutil.which('dpkg-deb').rsplit('/', 1)[0]}"
    )
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.delenv("FAKE_DEB", raising=False)
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "data"))
    return log


def hello_deb(folder):
    """A package holding one text file."""
    return build_deb(folder, {"usr/share/zoo-test/hello.txt": b"hello from a deb\n"})


def test_fetch_package_unpacks_and_is_idempotent(tmp_path, fake_apt, monkeypatch):
    monkeypatch.setenv("FAKE_DEB", str(hello_deb(tmp_path)))
    root = debian.fetch_package("zoo-test-pkg")
    assert root == debian.package_dir("zoo-test-pkg")
    assert (root / "usr/share/zoo-test/hello.txt").read_text() == "hello from a deb\n"
    assert debian.is_package_cached("zoo-test-pkg")
    assert fake_apt.read_text().split("\n")[:2] == ["update", "download zoo-test-pkg"]

    calls = fake_apt.read_text()
    assert debian.fetch_package("zoo-test-pkg") == root
    assert fake_apt.read_text() == calls, "a cached package must not call apt-get"


def test_package_lists_are_updated_only_once(tmp_path, fake_apt, monkeypatch):
    monkeypatch.setenv("FAKE_DEB", str(hello_deb(tmp_path)))
    debian.fetch_package("zoo-test-pkg")
    shutil.rmtree(debian.package_dir("zoo-test-pkg"))
    debian.fetch_package("zoo-test-pkg")
    assert fake_apt.read_text().split().count("update") == 1


def test_an_apt_get_left_running_by_a_killed_fetch_is_waited_for(fake_apt):
    if shutil.which("flock") is None:
        pytest.skip("flock is not installed")
    # A fetch killed during `apt-get update` leaves that apt-get running,
    # holding the lists' lock: the rerun waits for it instead of failing.
    lock = cache.ensure_dir("apt", "lists") / "lock"
    holder = subprocess.Popen(["flock", str(lock), "sleep", "2"])
    while subprocess.run(["flock", "-n", str(lock), "true"]).returncode == 0:
        time.sleep(0.05)  # until the holder has it
    debian.update_package_lists()
    assert holder.poll() == 0, "the update ran only once the lock was free"
    assert fake_apt.read_text().split().count("update") == 1


def test_private_apt_directories_are_inside_the_cache(tmp_path, fake_apt):
    options = debian.apt_options()
    data = str(cache.data_dir())
    assert f"Dir::State::Lists={data}/apt/lists" in options
    assert f"Dir::Cache={data}/apt/cache" in options


def test_failed_download_names_package_and_shows_apt_output(fake_apt):
    with pytest.raises(RuntimeError) as info:
        debian.fetch_package("zoo-no-such-pkg")
    message = str(info.value)
    assert "'zoo-no-such-pkg'" in message
    assert "Unable to locate package zoo-no-such-pkg" in message
    assert not debian.is_package_cached("zoo-no-such-pkg")
    # The stale-lists retry refreshed the lists before giving up.
    assert fake_apt.read_text().split().count("update") == 2


def test_missing_apt_get_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "data"))
    with pytest.raises(RuntimeError, match=r"'dataset-x'.*'apt-get' is not on PATH"):
        debian.fetch_package("dataset-x")


@pytest.mark.parametrize("bad", ["", "Upper", "-dash", "a b", "../x", None])
def test_bad_package_name_is_rejected(bad):
    with pytest.raises(ValueError, match="package must be a Debian package name"):
        debian.package_dir(bad)
