import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zoo.data import cache


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    root = tmp_path / "zoo-data"
    monkeypatch.setenv(cache.ENV_VAR, str(root))
    return root


def test_default_data_dir_is_under_home_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.data_dir() == tmp_path / ".cache" / "transformer-zoo"


def test_env_var_moves_data_dir(data_root):
    assert cache.data_dir() == data_root
    assert cache.cache_path("debian", "pkg") == data_root / "debian" / "pkg"
    assert not data_root.exists(), "looking up paths must not create them"


def test_empty_env_var_falls_back_to_default(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, "  ")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.data_dir() == tmp_path / ".cache" / "transformer-zoo"


def test_ensure_dir_creates_nested_directories(data_root):
    path = cache.ensure_dir("apt", "lists", "partial")
    assert path.is_dir()
    assert path == data_root / "apt" / "lists" / "partial"


@pytest.mark.parametrize("bad", ["", "..", "../escape", "/etc"])
def test_cache_path_rejects_components_outside_the_cache(data_root, bad):
    with pytest.raises(ValueError, match="cache path components"):
        cache.cache_path("ok", bad)


def test_atomic_dir_publishes_complete_directory(data_root):
    target = cache.cache_path("thing")
    with cache.atomic_dir(target) as tmp:
        assert tmp.parent == target.parent
        assert not target.exists(), "nothing is visible while writing"
        (tmp / "data.txt").write_text("payload")
    assert (target / "data.txt").read_text() == "payload"
    assert cache.is_complete(target)
    assert sorted(p.name for p in data_root.iterdir()) == ["thing"]


def test_atomic_dir_failure_leaves_nothing_behind(data_root):
    target = cache.cache_path("thing")
    with pytest.raises(RuntimeError, match="download failed"):
        with cache.atomic_dir(target) as tmp:
            (tmp / "half.bin").write_bytes(b"\0" * 100)
            raise RuntimeError("download failed")
    assert not target.exists()
    assert not cache.is_complete(target)
    assert list(data_root.iterdir()) == []


def test_atomic_dir_failed_refetch_keeps_the_old_entry(data_root):
    target = cache.cache_path("thing")
    with cache.atomic_dir(target) as tmp:
        (tmp / "v").write_text("1")
    with pytest.raises(OSError):
        with cache.atomic_dir(target) as tmp:
            (tmp / "v").write_text("2")
            raise OSError("disk full")
    assert (target / "v").read_text() == "1"
    assert cache.is_complete(target)


def test_atomic_dir_replaces_an_old_entry(data_root):
    target = cache.cache_path("thing")
    with cache.atomic_dir(target) as tmp:
        (tmp / "old").write_text("1")
    with cache.atomic_dir(target) as tmp:
        (tmp / "new").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == [".complete", "new"]
    assert sorted(p.name for p in data_root.iterdir()) == ["thing"]


def test_killed_fetch_never_looks_complete_and_is_cleaned_up(data_root):
    target = cache.cache_path("thing")
    script = textwrap.dedent(
        f"""
        import sys, time
        from zoo.data import cache
        with cache.atomic_dir({str(target)!r}) as tmp:
            (tmp / "half.bin").write_bytes(b"x" * 1000)
            print("writing", flush=True)
            time.sleep(60)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.stdout.close()
    leftovers = [p for p in data_root.iterdir() if p.name != "thing"]
    assert leftovers, "the killed process should have left its temporary directory"
    assert not target.exists()
    assert not cache.is_complete(target)

    with cache.atomic_dir(target) as tmp:
        (tmp / "whole.bin").write_bytes(b"y")
    assert cache.is_complete(target)
    assert sorted(p.name for p in data_root.iterdir()) == ["thing"]
