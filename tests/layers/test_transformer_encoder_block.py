"""TransformerEncoderBlock against keras-hub and on masks."""

import keras
import keras_hub
import numpy as np
import pytest

from tests.layers.keras_hub_parity import copy_block
from tests.layers.symbolic_outputs import assert_spec_fits
from zoo.layers import TokenAndPositionEmbedding, TransformerEncoderBlock
from zoo.layers.masking import implicit_mask

RNG = np.random.default_rng(11)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def floats(*shape):
    return RNG.normal(size=shape).astype("float32")


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"normalize_first": True},
        {"activation": "gelu", "layer_norm_epsilon": 1e-6},
    ],
)
def test_matches_keras_hub_transformer_encoder(options):
    x = RNG.normal(size=(2, 6, 8)).astype("float32")
    padding = np.array([[1] * 4 + [0] * 2, [1] * 6], bool)
    ours = TransformerEncoderBlock(num_heads=2, intermediate_dim=16, **options)
    theirs = keras_hub.layers.TransformerEncoder(
        num_heads=2, intermediate_dim=16, **options
    )
    ours(x)
    theirs(x)
    copy_block(ours, theirs)
    np.testing.assert_allclose(numpy(ours(x)), numpy(theirs(x)), atol=1e-5)
    np.testing.assert_allclose(
        numpy(ours(x, padding_mask=padding)),
        numpy(theirs(x, padding_mask=padding)),
        atol=1e-5,
    )


def test_padded_tokens_do_not_change_real_tokens():
    block = TransformerEncoderBlock(num_heads=2, intermediate_dim=16)
    embedding = TokenAndPositionEmbedding(50, 8, 8, mask_zero=True)
    short = np.array([[3, 4, 5, 0, 0, 0]], "int32")
    base = numpy(block(embedding(short)))
    explicit = embedding(np.array([[3, 4, 5, 7, 8, 9]], "int32"))
    padding = short != 0
    np.testing.assert_allclose(
        numpy(block(explicit, padding_mask=padding))[:, :3], base[:, :3], atol=1e-5
    )


def test_mask_propagates_through_a_functional_stack():
    ids = keras.Input((None,), dtype="int32")
    hidden = TokenAndPositionEmbedding(50, 8, 8, mask_zero=True)(ids)
    hidden = TransformerEncoderBlock(2, 16)(hidden)
    outputs = TransformerEncoderBlock(2, 16)(hidden)
    assert implicit_mask(outputs) is not None
    padded = np.array([[5, 6, 0, 0]], "int32")
    # The output mask is what Keras hands on to losses and metrics.
    mask = implicit_mask(keras.Model(ids, outputs)(padded))
    np.testing.assert_array_equal(numpy(mask), padded != 0)


def test_returns_attention_scores_on_request():
    block = TransformerEncoderBlock(num_heads=2, intermediate_dim=16)
    out, scores = block(RNG.normal(size=(2, 5, 8)), return_attention_scores=True)
    assert out.shape == (2, 5, 8)
    np.testing.assert_allclose(numpy(scores).sum(-1), 1.0, atol=1e-5)


def test_hidden_size_not_divisible_by_heads_is_rejected():
    block = TransformerEncoderBlock(num_heads=3, intermediate_dim=16)
    with pytest.raises(ValueError, match=r"hidden size 8 and num_heads=3"):
        block(np.zeros((1, 4, 8), "float32"))


def test_wrong_rank_is_rejected():
    block = TransformerEncoderBlock(num_heads=2, intermediate_dim=16)
    with pytest.raises(ValueError, match=r"rank 3.*received shape \(4, 8\)"):
        block(np.zeros((4, 8), "float32"))


def test_bad_rate_names_the_argument():
    with pytest.raises(ValueError, match="`dropout` must be in"):
        TransformerEncoderBlock(num_heads=2, intermediate_dim=16, dropout=2)


def test_rates_may_be_numpy_floats_as_in_keras():
    block = TransformerEncoderBlock(2, 16, dropout=np.float32(0.25))
    assert block.dropout == pytest.approx(0.25)
    with pytest.raises(ValueError, match="`attention_dropout` must be in"):
        TransformerEncoderBlock(2, 16, attention_dropout=np.True_)


def test_a_symbolic_call_returns_the_scores_too():
    block = TransformerEncoderBlock(num_heads=2, intermediate_dim=16)
    x, inputs = floats(2, 5, 8), keras.Input((None, 8))
    eager = block(x, return_attention_scores=True)
    symbolic = block(inputs, return_attention_scores=True)
    served = keras.Model(inputs, symbolic)(x)
    assert len(eager) == len(symbolic) == len(served) == 2
    for want, spec, got in zip(eager, symbolic, served):
        assert_spec_fits(spec, want)
        np.testing.assert_allclose(numpy(got), numpy(want), atol=1e-6)


@pytest.mark.parametrize(
    "argument, mask",
    [
        ("padding_mask", np.ones((2, 4), bool)),
        ("padding_mask", np.ones((3, 5), bool)),
        ("attention_mask", np.ones((2, 5, 4), bool)),
    ],
)
def test_a_mask_of_the_wrong_shape_names_its_argument(argument, mask):
    block = TransformerEncoderBlock(num_heads=2, intermediate_dim=16)
    with pytest.raises(ValueError, match=rf"`{argument}` must have shape \(2, 5"):
        block(floats(2, 5, 8), **{argument: mask})


def test_inputs_must_keep_the_hidden_size_of_build():
    block = TransformerEncoderBlock(num_heads=2, intermediate_dim=16)
    block(floats(1, 3, 8))
    with pytest.raises(
        ValueError, match=r"`inputs` must have hidden size 8.*\(1, 3, 4\)"
    ):
        block(floats(1, 3, 4))
