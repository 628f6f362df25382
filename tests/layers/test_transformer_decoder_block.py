"""TransformerDecoderBlock against keras-hub, causality and cached decoding."""

import keras
import keras_hub
import numpy as np
import pytest

from tests.layers.keras_hub_parity import copy_block
from tests.layers.symbolic_outputs import assert_spec_fits
from zoo.layers import TransformerDecoderBlock

RNG = np.random.default_rng(13)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def floats(*shape):
    return RNG.normal(size=shape).astype("float32")


@pytest.mark.parametrize("options", [{}, {"normalize_first": True}])
@pytest.mark.parametrize("with_encoder", [True, False])
def test_matches_keras_hub_transformer_decoder(options, with_encoder):
    target, source = floats(2, 5, 8), floats(2, 7, 8)
    args = (target, source) if with_encoder else (target,)
    ours = TransformerDecoderBlock(num_heads=2, intermediate_dim=16, **options)
    theirs = keras_hub.layers.TransformerDecoder(
        num_heads=2, intermediate_dim=16, **options
    )
    ours(*args)
    theirs(*args)
    copy_block(ours, theirs)
    np.testing.assert_allclose(numpy(ours(*args)), numpy(theirs(*args)), atol=1e-5)
    masks = {"decoder_padding_mask": np.array([[1] * 3 + [0] * 2, [1] * 5], bool)}
    if with_encoder:
        masks["encoder_padding_mask"] = np.array([[1] * 4 + [0] * 3, [1] * 7], bool)
    valid = masks["decoder_padding_mask"]
    np.testing.assert_allclose(
        numpy(ours(*args, **masks))[valid],
        numpy(theirs(*args, **masks))[valid],
        atol=1e-5,
    )


def test_future_target_tokens_do_not_change_earlier_outputs():
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=16)
    target, source = floats(1, 6, 8), floats(1, 4, 8)
    changed = target.copy()
    changed[:, 3:] = floats(1, 3, 8)
    before, after = numpy(block(target, source)), numpy(block(changed, source))
    np.testing.assert_allclose(after[:, :3], before[:, :3], atol=1e-6)
    assert not np.allclose(after[:, 3:], before[:, 3:])


@pytest.mark.parametrize("rotary", [False, True])
def test_cached_decoding_equals_the_full_pass(rotary):
    block = TransformerDecoderBlock(
        num_heads=2, intermediate_dim=16, use_rotary_embedding=rotary
    )
    target, source = floats(2, 6, 8), floats(2, 4, 8)
    source_mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
    full = numpy(block(target, source, encoder_padding_mask=source_mask))
    self_cache = np.zeros((2, 2, 6, 2, 4), "float32")
    cross_cache = block.cross_attention.compute_cache(source)
    steps = []
    for index in range(6):
        out, self_cache, cross_cache = block(
            target[:, index : index + 1],
            encoder_padding_mask=source_mask,
            self_attention_cache=self_cache,
            self_attention_cache_update_index=index,
            cross_attention_cache=cross_cache,
        )
        steps.append(numpy(out))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


def test_returns_self_and_cross_attention_scores():
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=16)
    out, scores = block(floats(2, 5, 8), floats(2, 7, 8), return_attention_scores=True)
    assert out.shape == (2, 5, 8)
    assert scores["self_attention"].shape == (2, 2, 5, 5)
    assert scores["cross_attention"].shape == (2, 2, 5, 7)
    upper = np.triu(np.ones((5, 5), bool), k=1)
    assert np.all(numpy(scores["self_attention"])[:, :, upper] < 1e-6)


def test_cross_attention_mask_has_target_by_source_shape():
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=16)
    target, source = floats(2, 5, 8), floats(2, 7, 8)
    block(target, source)
    with pytest.raises(
        ValueError, match=r"`encoder_attention_mask` must have shape \(2, 5, 7\)"
    ):
        block(target, source, encoder_attention_mask=np.ones((2, 7, 7), bool))
    block(target, source, encoder_attention_mask=np.ones((2, 5, 7), bool))


def test_encoder_sequence_must_match_how_the_block_was_built():
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=16)
    block(floats(1, 3, 8))
    with pytest.raises(ValueError, match="built without cross-attention"):
        block(floats(1, 3, 8), floats(1, 4, 8))


def test_a_symbolic_cached_call_returns_caches_and_scores_too():
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=16)
    block(floats(2, 6, 8), floats(2, 4, 8))
    arrays = [floats(2, 1, 8), floats(2, 2, 6, 2, 4), floats(2, 2, 4, 2, 4)]
    inputs = [
        keras.Input((None, 8)),
        keras.Input((2, 6, 2, 4)),
        keras.Input((2, 4, 2, 4)),
    ]

    def step(target, self_cache, cross_cache):
        return block(
            target,
            self_attention_cache=self_cache,
            self_attention_cache_update_index=3,
            cross_attention_cache=cross_cache,
            return_attention_scores=True,
        )

    eager, symbolic = step(*arrays), step(*inputs)
    served = keras.Model(inputs, symbolic)(arrays)
    assert len(eager) == len(symbolic) == len(served) == 4
    assert (
        sorted(symbolic[3]) == sorted(eager[3]) == ["cross_attention", "self_attention"]
    )
    flat = [(eager[i], symbolic[i], served[i]) for i in range(3)]
    flat += [(eager[3][k], symbolic[3][k], served[3][k]) for k in eager[3]]
    for want, spec, got in flat:
        assert_spec_fits(spec, want)
        np.testing.assert_allclose(numpy(got), numpy(want), atol=1e-6)


@pytest.mark.parametrize(
    "argument, mask",
    [
        ("decoder_padding_mask", np.ones((2, 4), bool)),
        ("decoder_attention_mask", np.ones((2, 5, 4), bool)),
        ("encoder_padding_mask", np.ones((2, 5), bool)),
        ("encoder_padding_mask", np.ones((3, 7), bool)),
    ],
)
def test_a_mask_of_the_wrong_shape_names_its_argument(argument, mask):
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=16)
    with pytest.raises(ValueError, match=rf"`{argument}` must have shape \(2, "):
        block(floats(2, 5, 8), floats(2, 7, 8), **{argument: mask})


@pytest.mark.parametrize("index", [np.int64(6), np.int32(-1)])
def test_a_numpy_cache_index_past_the_cache_is_rejected(index):
    # A NumPy index (a loop over np.arange) must be range-checked like an int,
    # not clipped silently once Keras has made it a tensor.
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=16)
    block(floats(1, 6, 8))
    cache = np.zeros((1, 2, 6, 2, 4), "float32")
    block(
        floats(1, 1, 8),
        self_attention_cache=cache,
        self_attention_cache_update_index=np.int64(5),
    )  # the last fit
    with pytest.raises(
        ValueError, match=rf"`cache_update_index` must be in \[0, 5\].*{index}"
    ):
        block(
            floats(1, 1, 8),
            self_attention_cache=cache,
            self_attention_cache_update_index=index,
        )
