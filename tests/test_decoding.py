"""Greedy and beam search: cached decoding equals the full pass; one trace."""

import keras
import numpy as np
import pytest
from keras import ops

from zoo.decoding import (
    Decoder,
    _top_k,
    beam_search,
    greedy_search,
    length_penalty_factor,
)
from zoo.models.seq2seq import Seq2SeqBackbone, Seq2SeqTransformer

SOURCE_LENGTH, TARGET_LENGTH = 12, 10


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    backbone = Seq2SeqBackbone(
        30, 25, 2, 2, 32, 4, 64, SOURCE_LENGTH, TARGET_LENGTH, dropout=0.0
    )
    model = Seq2SeqTransformer(backbone)
    # Larger output weights make a peaked, input-dependent distribution, so
    # the searches below are not decided by near-ties.
    model.output_bias.assign(np.random.default_rng(0).normal(0, 2, 25))
    return model


@pytest.fixture(scope="module")
def sources():
    rng = np.random.default_rng(1)
    ids = np.zeros((4, SOURCE_LENGTH), np.int32)
    for row, length in zip(ids, (3, 12, 7, 1)):
        row[:length] = rng.integers(4, 30, length)
    return ids


def full_pass_greedy(model, sources):
    """Greedy decoding by re-running the whole decoder on the prefix each step."""
    batch = len(sources)
    tokens = np.full((batch, 1), 2, np.int32)
    finished = np.zeros(batch, bool)
    for _ in range(TARGET_LENGTH):
        logits = ops.convert_to_numpy(
            model({"encoder_token_ids": sources, "decoder_token_ids": tokens})
        )[:, -1]
        logits[:, [0, 2]] = -1e9
        chosen = np.where(finished, 0, logits.argmax(-1)).astype(np.int32)
        tokens = np.concatenate([tokens, chosen[:, None]], axis=1)
        finished |= chosen == 3
        if finished.all():
            break
    out = np.zeros((batch, TARGET_LENGTH), np.int32)
    out[:, : tokens.shape[1] - 1] = tokens[:, 1:]
    return out


def sequence_log_prob(model, sources, outputs):
    """Sum of log-probabilities of ``outputs`` (up to the end token) by full pass."""
    decoder_in = np.concatenate(
        [np.full((len(sources), 1), 2, np.int32), outputs[:, :-1]], axis=1
    )
    logits = ops.convert_to_numpy(
        model({"encoder_token_ids": sources, "decoder_token_ids": decoder_in})
    )
    logits[..., [0, 2]] = -1e9
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_probs, outputs[..., None], -1)[..., 0]
    return (picked * (outputs != 0)).sum(-1)


def test_cached_greedy_equals_full_pass(model, sources):
    cached = ops.convert_to_numpy(greedy_search(model, sources))
    np.testing.assert_array_equal(cached, full_pass_greedy(model, sources))
    assert (cached[:, 0] != 0).all()


def test_compiled_decoder_equals_eager_and_traces_once(model, sources):
    decoder = Decoder(model)
    expected = full_pass_greedy(model, sources)
    np.testing.assert_array_equal(decoder(sources), expected)
    # Other batch sizes and other input lengths reuse the same graph.
    np.testing.assert_array_equal(decoder(sources[:1]), expected[:1])
    np.testing.assert_array_equal(decoder([[5, 6]]), decoder(np.array([[5, 6]])))
    decoder([[7] * SOURCE_LENGTH, [8]])
    # TensorFlow traces once for all; jax.jit once per batch size (3); PyTorch
    # runs the Python search eagerly on each of the 5 calls.
    expected_traces = {"tensorflow": 1, "jax": 3, "torch": 5}
    assert decoder.trace_count == expected_traces[keras.backend.backend()]


def test_beam_of_one_is_greedy(model, sources):
    np.testing.assert_array_equal(
        ops.convert_to_numpy(beam_search(model, sources, beam_size=1)),
        full_pass_greedy(model, sources),
    )


def test_beam_finds_at_least_as_likely_outputs(model, sources):
    decoder = Decoder(model, beam_size=5, length_penalty=0.0)
    beams = decoder(sources)
    greedy = full_pass_greedy(model, sources)
    beam_scores = sequence_log_prob(model, sources, beams)
    greedy_scores = sequence_log_prob(model, sources, greedy)
    assert (beam_scores >= greedy_scores - 1e-4).all()
    # Outputs are well formed: an end token, then only padding.
    for row in beams:
        ends = np.flatnonzero(row == 3)
        if len(ends):
            assert (row[ends[0] + 1 :] == 0).all()
    decoder(sources[:4])
    # The same shapes again: compiled searches are reused; PyTorch runs again.
    assert decoder.trace_count == (2 if keras.backend.backend() == "torch" else 1)


def test_length_penalty():
    np.testing.assert_allclose(
        ops.convert_to_numpy(length_penalty_factor(np.array([1, 7]), 1.0)), [1.0, 2.0]
    )


def test_bad_arguments(model):
    with pytest.raises(ValueError, match="beam_size must be a positive int"):
        Decoder(model, beam_size=0)
    with pytest.raises(ValueError, match="length_penalty must be"):
        Decoder(model, length_penalty=-1)
    # NaN would silently pick the first beam.
    with pytest.raises(ValueError, match="length_penalty must be a finite"):
        Decoder(model, length_penalty=float("nan"))
    decoder = Decoder(model, beam_size=np.int64(2), length_penalty=np.float32(0.6))
    assert decoder.beam_size == 2 and type(decoder.beam_size) is int
    with pytest.raises(ValueError, match="the model reads at most 12"):
        Decoder(model)([[5] * 13])
    assert Decoder(model)([]).shape == (0, TARGET_LENGTH)
    # An empty input decodes to nothing, beside the others' usual outputs.
    for beam_size in (1, 2):
        decoder = Decoder(model, beam_size=beam_size)
        outputs = decoder([[], [5, 6]])
        assert (outputs[0] == 0).all()
        np.testing.assert_array_equal(outputs[1], decoder([[5, 6]])[0])


def test_compiled_decoder_follows_weight_updates(sources):
    """A decoder made before more training decodes with the new weights.

    ``jax.jit`` of the model alone would keep the weights of its first call.
    """
    keras.utils.set_random_seed(4)
    backbone = Seq2SeqBackbone(
        30, 25, 1, 1, 16, 2, 32, SOURCE_LENGTH, TARGET_LENGTH, dropout=0.0
    )
    model = Seq2SeqTransformer(backbone)
    decoder = Decoder(model)
    before = decoder(sources)
    # Now the end token wins every first step.
    model.output_bias.assign(np.where(np.arange(25) == 3, 100.0, 0.0))
    after = decoder(sources)
    assert (after[:, 0] == 3).all() and (after[:, 1:] == 0).all()
    assert not (before[:, 0] == 3).all()


def test_ids_out_of_the_vocabulary_and_a_lone_sequence_are_refused(model):
    """JAX clamped out-of-range ids and decoded garbage; the others failed deep."""
    decoder = Decoder(model)
    with pytest.raises(
        ValueError, match=r"id 30 at position 1; expected ids in \[0, 30\)"
    ):
        decoder([[5, 6], [4, 30]])
    with pytest.raises(ValueError, match=r"id -1 at position 0"):
        decoder(np.array([[-1, 5]]))
    with pytest.raises(ValueError, match=r"received one sequence \[5, 6\]: wrap it"):
        decoder([5, 6])


def test_top_k_matches_keras_top_k_on_ties_and_minus_infinity():
    """Under JAX ``_top_k`` is rounds of max (exportable); it must pick as ``top_k``."""
    rng = np.random.default_rng(5)
    values = rng.integers(-3, 3, (6, 17)).astype("float32")
    values[values == -3] = -np.inf
    values[0] = -np.inf  # every candidate ties at -inf
    for k in (1, 3, 5):
        expected = [ops.convert_to_numpy(t) for t in ops.top_k(values, k)]
        received = [ops.convert_to_numpy(t) for t in _top_k(values, k)]
        np.testing.assert_array_equal(received[1], expected[1])
        np.testing.assert_array_equal(received[0], expected[0])
