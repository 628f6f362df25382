"""Threads and processes sharing a decoder, a cache entry or an export path."""

import os
import threading

import keras
import numpy as np
import pytest

from zoo import export
from zoo.data import cache
from zoo.decoding import Decoder
from zoo.models.seq2seq import Seq2SeqBackbone, Seq2SeqTransformer

IDS = [[5, 6, 7, 8], [9, 8, 7, 6, 5, 4]]


def tiny_seq2seq():
    keras.utils.set_random_seed(5)
    backbone = Seq2SeqBackbone(30, 25, 1, 1, 16, 2, 32, 8, 6, dropout=0.0)
    return Seq2SeqTransformer(backbone)


def add_lora_adapters(model):
    """Give every projection LoRA adapters with nonzero weights (new variables)."""
    rng = np.random.default_rng(0)
    for layer in model._flatten_layers():
        if isinstance(layer, (keras.layers.Dense, keras.layers.EinsumDense)):
            layer.enable_lora(2)
            layer.lora_kernel_b.assign(rng.normal(size=layer.lora_kernel_b.shape))


def in_thread(function):
    """Start ``function`` in a thread; return the thread and its result box."""
    box = {}

    def run():
        try:
            box["result"] = function()
        except BaseException as error:  # reported by the test, not lost
            box["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def result_of(thread, box):
    thread.join(timeout=60)
    assert not thread.is_alive(), "the thread did not finish"
    if "error" in box:
        raise box["error"]
    return box["result"]


def test_a_thread_never_decodes_with_the_search_being_replaced():
    # Thread A finds new variables (enable_lora) and compiles the search
    # again. Thread B, calling meanwhile, took the old search, already
    # marked current, and decoded without the adapters.
    model = tiny_seq2seq()
    decoder = Decoder(model)
    before = decoder(IDS)
    add_lora_adapters(model)
    expected = Decoder(model)(IDS)
    assert not np.array_equal(before, expected)

    compiling, release = threading.Event(), threading.Event()
    compile_search = decoder._compile

    def slow_compile():
        compiling.set()
        release.wait(timeout=5)
        return compile_search()

    decoder._compile = slow_compile
    first = in_thread(lambda: decoder(IDS))
    assert compiling.wait(timeout=30)
    second = in_thread(lambda: decoder(IDS))
    second[0].join(timeout=0.5)  # a correct decoder keeps it waiting
    release.set()
    np.testing.assert_array_equal(result_of(*first), expected)
    np.testing.assert_array_equal(result_of(*second), expected)


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    root = tmp_path / "zoo-data"
    monkeypatch.setenv(cache.ENV_VAR, str(root))
    return root


def test_a_fetch_keeps_the_entry_another_process_finished_meanwhile(data_root):
    # Both fetches began on an empty cache. The later one moved the finished
    # entry aside to put its own copy in, so a process already reading it
    # lost its files.
    target = cache.cache_path("pypi", "table")
    with cache.atomic_dir(target) as mine:
        (mine / "table.csv").write_text("a,b\n1,2\n")
        with cache.atomic_dir(target) as theirs:
            (theirs / "table.csv").write_text("a,b\n1,2\n")
        reading = open(target / "table.csv")
    with reading:
        # The file the reader holds is still the one the entry holds.
        assert os.path.samestat(os.fstat(reading.fileno()), os.stat(reading.name))
    assert cache.is_complete(target)


def test_a_refetch_still_replaces_a_whole_entry(data_root):
    target = cache.cache_path("pypi", "table")
    for text in ("old\n", "new\n"):
        with cache.atomic_dir(target) as tmp:
            (tmp / "table.csv").write_text(text)
    assert (target / "table.csv").read_text() == "new\n"


def test_many_fetches_publishing_one_entry_at_once_all_succeed(data_root):
    # Unserialized, the renames of one publisher met another's half-moved
    # entry: "Directory not empty" or "No such file or directory".
    failures = []
    for trial in range(25):
        target = cache.cache_path("race", f"entry{trial}")
        barrier = threading.Barrier(8)

        def fetch(index, target=target, barrier=barrier):
            with cache.atomic_dir(target) as tmp:
                (tmp / "data.txt").write_text(f"{index}\n")
                barrier.wait(timeout=30)

        threads = [in_thread(lambda i=i: fetch(i)) for i in range(8)]
        for thread in threads:
            try:
                result_of(*thread)
            except OSError as error:
                failures.append(repr(error))
        assert cache.is_complete(target)
    assert failures == []
    assert sorted(p.name for p in (data_root / "race").iterdir()) == [
        f"entry{trial}" for trial in sorted(range(25), key=str)
    ]


class SlowArchive:
    """Writes a stand-in SavedModel in two steps, as a real export takes time."""

    def __init__(self, name, writing, other_writing):
        self.name, self.writing, self.other_writing = name, writing, other_writing

    def write_out(self, path, verbose=False):
        from pathlib import Path

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "saved_model.pb").write_text(self.name)
        self.writing.set()
        self.other_writing.wait(timeout=1)  # never set while the lock holds it
        (path / "variables").mkdir()
        assert (path / "saved_model.pb").read_text() == self.name


def test_two_exports_to_one_path_at_once_both_succeed(tmp_path):
    # Both wrote into PATH.partial: the second emptied it under the first,
    # and one of the renames found it gone.
    path = tmp_path / "exported"
    first_writing, second_writing = threading.Event(), threading.Event()
    first = in_thread(
        lambda: export.write_out(
            SlowArchive("first", first_writing, second_writing), path
        )
    )
    assert first_writing.wait(timeout=30)
    second = in_thread(
        lambda: export.write_out(
            SlowArchive("second", second_writing, threading.Event()), path
        )
    )
    assert result_of(*first) == path
    assert result_of(*second) == path
    assert (path / "saved_model.pb").read_text() == "second"
    assert (path / "variables").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported"]


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="a tf.function warning"
)
def test_many_decoders_tracing_once_each_do_not_warn_of_retracing():
    # A server keeps a decoder per model and beam size. TensorFlow counted
    # the traces of `Decoder.search` over all of them and, from the sixth
    # on, warned of "excessive retracing" although each traced once.
    import logging

    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        for beam_size in (1, 2, 3, 1, 2, 3, 4):
            decoder = Decoder(tiny_seq2seq(), beam_size=beam_size)
            decoder([[5, 6, 7]])
            decoder(IDS)
            assert decoder.trace_count == 1
    finally:
        logger.removeHandler(handler)
    assert [m for m in messages if "retracing" in m] == []


def test_threads_asking_for_a_models_decoder_share_one():
    import time
    from concurrent.futures import ThreadPoolExecutor

    from zoo.models.seq2seq.family import _cached_decoder

    built = []

    class SlowDecoder:
        """Slow to construct, to widen the window between check and store."""

        def __init__(self, model, **options):
            time.sleep(0.05)
            built.append(self)

    class Model:
        pass

    model = Model()
    with ThreadPoolExecutor(8) as pool:
        decoders = list(
            pool.map(
                lambda _: _cached_decoder(SlowDecoder, model, {"beam_size": 2}),
                range(8),
            )
        )
    assert len(built) == 1
    assert all(decoder is built[0] for decoder in decoders)
