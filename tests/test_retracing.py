"""Repeated predictions reuse their compiled graphs instead of tracing anew.

A user who predicts one input per call, or batches of every size, must not
pay a trace (TensorFlow) or a compilation (JAX) per call. These tests count
traces and compilations, never time.
"""

import keras
import numpy as np
import pytest

from tests.cmudict_slice import write_cmudict_slice
from zoo import registry

WORDS = ["cat", "dog", "bird", "horse", "a", "zebra", "mouse", "owl"]


@pytest.fixture(scope="module")
def g2p(tmp_path_factory):
    """A tiny untrained G2P model and its run folder, on ~60 real CMUdict words."""
    folder = tmp_path_factory.mktemp("retracing")
    tsv = write_cmudict_slice(folder / "cmudict_slice.tsv", 2000)
    family = registry.get_family("seq2seq")
    run_dir = folder / "run"
    data = family.prepare_data(f"{tsv}?task=g2p", 8, run_dir)
    keras.utils.set_random_seed(0)
    config = dict(family.presets["tiny"], num_encoder_layers=1, num_decoder_layers=1)
    return family, family.build_model(config, data.info), run_dir


def counting_decoder(monkeypatch):
    """Replace ``zoo.decoding.Decoder`` by a subclass counting builds and traces."""
    import zoo.decoding

    counts = {"built": 0, "traced": 0}

    class CountingDecoder(zoo.decoding.Decoder):
        def __init__(self, *args, **kwargs):
            counts["built"] += 1
            super().__init__(*args, **kwargs)

        def search(self, encoder_token_ids):
            counts["traced"] += 1
            return super().search(encoder_token_ids)

    monkeypatch.setattr(zoo.decoding, "Decoder", CountingDecoder)
    return counts


@pytest.mark.parametrize("beam_size", [1, 2])
def test_transcribing_one_word_at_a_time_traces_once(g2p, monkeypatch, beam_size):
    family, model, run_dir = g2p
    counts = counting_decoder(monkeypatch)
    outputs = [
        family.transcribe(model, run_dir, [word], beam_size=beam_size)
        for word in WORDS[:4] * 2
    ]
    # The same word decodes the same on every call.
    assert outputs[:4] == outputs[4:]
    assert counts["built"] == 1
    if keras.backend.backend() != "torch":  # PyTorch runs the search eagerly
        assert counts["traced"] == 1
    # Another beam size is another search, built (and traced) once as well.
    family.transcribe(model, run_dir, WORDS[:2], beam_size=beam_size + 1)
    family.transcribe(model, run_dir, WORDS[:3], beam_size=beam_size + 1)
    assert counts["built"] == 2


def test_cached_decoders_do_not_change_outputs_or_saving(g2p, tmp_path):
    family, model, run_dir = g2p
    first = family.transcribe(model, run_dir, WORDS, beam_size=2)
    assert family.transcribe(model, run_dir, WORDS, beam_size=2) == first
    # The decoders the model carries are not part of what it saves.
    model.save(tmp_path / "model.keras")
    again = keras.models.load_model(tmp_path / "model.keras")
    assert family.transcribe(again, run_dir, WORDS, beam_size=2) == first


@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="jax.jit compiles per batch size"
)
def test_jax_decoder_compiles_a_few_batch_sizes(g2p):
    from zoo.decoding import Decoder

    _, model, _ = g2p
    decoder = Decoder(model)
    words = [[5, 6, 7], [8, 9], [10]]
    results = {}
    for batch in range(1, 10):
        rows = [words[i % 3] for i in range(batch)]
        results[batch] = decoder(rows)
        assert results[batch].shape == (batch, model.target_sequence_length)
    # Batches 1 to 9 round up to 1, 2, 4, 8 and 16 rows: five compilations,
    # not nine, and every input decodes as it does in a batch of three.
    assert decoder.trace_count == 5
    for outputs in results.values():
        for i, row in enumerate(outputs):
            np.testing.assert_array_equal(row, results[3][i % 3])
