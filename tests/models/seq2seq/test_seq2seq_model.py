"""The seq2seq backbone and task model: config, saving, caches, options."""

import keras
import numpy as np
import pytest
from keras import ops

from zoo.models.seq2seq import PRESETS, Seq2SeqBackbone, Seq2SeqTransformer

ARGS = dict(
    source_vocabulary_size=30,
    target_vocabulary_size=25,
    num_encoder_layers=2,
    num_decoder_layers=1,
    hidden_dim=16,
    num_heads=2,
    intermediate_dim=32,
    source_sequence_length=12,
    target_sequence_length=10,
)
INPUTS = {
    "encoder_token_ids": np.array([[5, 6, 7, 0, 0], [9, 8, 7, 6, 5]], np.int32),
    "decoder_token_ids": np.array([[2, 5, 6, 0], [2, 4, 4, 4]], np.int32),
}


@pytest.mark.parametrize("tie", [True, False])
def test_config_and_keras_file_round_trip(tmp_path, tie):
    model = Seq2SeqTransformer(Seq2SeqBackbone(**ARGS), tie_output_embedding=tie)
    config = model.backbone.get_config()
    assert set(config) - {"name", "trainable", "dtype"} == set(ARGS) | {
        "dropout",
        "attention_dropout",
        "activation",
        "normalize_first",
        "position_encoding",
        "shared_embeddings",
    }
    clone = Seq2SeqTransformer.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    expected = ops.convert_to_numpy(model(INPUTS))
    np.testing.assert_allclose(ops.convert_to_numpy(clone(INPUTS)), expected, atol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, Seq2SeqTransformer)
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(INPUTS)), expected, atol=1e-6
    )
    assert model(INPUTS).shape == (2, 4, 25)


def test_tied_output_has_fewer_parameters():
    tied = Seq2SeqTransformer(Seq2SeqBackbone(**ARGS))
    untied = Seq2SeqTransformer(Seq2SeqBackbone(**ARGS), tie_output_embedding=False)
    assert untied.count_params() - tied.count_params() == 16 * 25


def test_shared_embeddings():
    args = dict(ARGS, target_vocabulary_size=30, target_sequence_length=12)
    shared = Seq2SeqBackbone(**args, shared_embeddings=True)
    assert shared.encoder_embedding is shared.decoder_embedding
    assert shared.count_params() < Seq2SeqBackbone(**args).count_params()
    with pytest.raises(ValueError, match="shared_embeddings=True expects equal"):
        Seq2SeqBackbone(**ARGS, shared_embeddings=True)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_cached_steps_equal_the_full_pass(normalize_first):
    keras.utils.set_random_seed(0)
    model = Seq2SeqTransformer(
        Seq2SeqBackbone(**ARGS, dropout=0.0, normalize_first=normalize_first)
    )
    full = ops.convert_to_numpy(model(INPUTS))
    encoded, mask = model.encode(INPUTS["encoder_token_ids"])
    self_caches, cross_caches = model.init_caches(encoded)
    assert tuple(self_caches.shape) == (2, 1, 2, 10, 2, 8)
    for index in range(4):
        logits, self_caches = model.decode_logits(
            INPUTS["decoder_token_ids"][:, index : index + 1],
            index,
            self_caches,
            cross_caches,
            mask,
        )
        # Outputs at padded decoder positions are never used; skip them.
        real = INPUTS["decoder_token_ids"][:, index] != 0
        logits = ops.convert_to_numpy(logits)
        np.testing.assert_allclose(logits[real], full[real, index], atol=1e-5)


def test_padding_does_not_change_the_outputs():
    model = Seq2SeqTransformer(Seq2SeqBackbone(**ARGS, dropout=0.0))
    short = {k: v[:1, :3] for k, v in INPUTS.items()}
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(INPUTS))[:1, :3],
        ops.convert_to_numpy(model(short)),
        atol=1e-5,
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_heads must divide hidden_dim"):
        Seq2SeqBackbone(**dict(ARGS, num_heads=3))
    with pytest.raises(ValueError, match="hidden_dim"):
        Seq2SeqBackbone(**dict(ARGS, hidden_dim=0))
    for argument in ("dropout", "attention_dropout"):
        with pytest.raises(ValueError, match=rf"`{argument}` must be in \[0, 1\)"):
            Seq2SeqBackbone(**dict(ARGS, **{argument: -1}))
    with pytest.raises(ValueError, match="must be a Seq2SeqBackbone"):
        Seq2SeqTransformer(keras.layers.Dense(3))
    # A flag read by truth value would take "false" as true.
    for argument in ("normalize_first", "shared_embeddings"):
        with pytest.raises(
            ValueError, match=f"`{argument}` must be True or False; received .*'false'"
        ):
            Seq2SeqBackbone(**dict(ARGS, **{argument: "false"}))
    with pytest.raises(
        ValueError, match="`tie_output_embedding` must be True or False"
    ):
        Seq2SeqTransformer(Seq2SeqBackbone(**ARGS), tie_output_embedding=0)


def test_presets_are_plain_data_with_the_papers_sizes():
    base = PRESETS["transformer_base"]
    assert (base["num_encoder_layers"], base["num_decoder_layers"]) == (6, 6)
    assert (base["hidden_dim"], base["num_heads"]) == (512, 8)
    assert (base["intermediate_dim"], base["dropout"]) == (2048, 0.1)
    big = PRESETS["transformer_big"]
    assert (big["hidden_dim"], big["num_heads"], big["intermediate_dim"]) == (
        1024,
        16,
        4096,
    )
    assert "tiny" in PRESETS
    # keras.io's translation example sizes, the translation benchmark's baseline.
    compact = PRESETS["compact"]
    assert (compact["num_encoder_layers"], compact["num_decoder_layers"]) == (1, 1)
    assert (compact["hidden_dim"], compact["num_heads"]) == (256, 8)
    assert compact["intermediate_dim"] == 2048


@pytest.mark.parametrize("name", ["compact", "small", "mini", "tiny"])
def test_cpu_presets_build_models_that_return_logits(name):
    from zoo import registry

    family = registry.get_family("seq2seq")
    info = dict(
        source_vocabulary_size=30,
        target_vocabulary_size=25,
        source_sequence_length=12,
        target_sequence_length=10,
    )
    model = family.build_model(family.check_preset(name), info)
    assert model.backbone.num_heads == PRESETS[name]["num_heads"]
    assert model.backbone.dropout == PRESETS[name]["dropout"]
    assert tuple(model(INPUTS).shape) == (2, 4, 25)


@pytest.mark.parametrize("tie", [True, False])
def test_a_dtype_argument_is_kept_saved_and_reloaded(tmp_path, tie):
    """keras.Model's functional constructor dropped `dtype`: the backbone
    reported and saved the global policy, and reloaded in float32."""
    backbone = Seq2SeqBackbone(**ARGS, dropout=0.0, dtype="mixed_float16")
    assert backbone.dtype_policy.name == "mixed_float16"
    assert backbone.get_config()["dtype"]["config"]["name"] == "mixed_float16"
    model = Seq2SeqTransformer(backbone, tie_output_embedding=tie)
    if not tie:
        assert model.output_dense.dtype_policy.name == "mixed_float16"
    expected = ops.convert_to_numpy(model(INPUTS))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.backbone.dtype_policy.name == "mixed_float16"
    np.testing.assert_array_equal(ops.convert_to_numpy(loaded(INPUTS)), expected)


def test_a_mixed_precision_model_rebuilds_from_its_config_under_float32():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = Seq2SeqTransformer(
            Seq2SeqBackbone(**ARGS, dropout=0.0), tie_output_embedding=False
        )
        expected = ops.convert_to_numpy(model(INPUTS))
        config = model.get_config()
    finally:
        keras.config.set_dtype_policy("float32")
    clone = Seq2SeqTransformer.from_config(config)
    clone.set_weights(model.get_weights())
    assert clone.output_dense.dtype_policy.name == "mixed_float16"
    np.testing.assert_array_equal(ops.convert_to_numpy(clone(INPUTS)), expected)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_output_shape_and_symbolic_float32_logits(policy):
    keras.config.set_dtype_policy(policy)
    try:
        model = Seq2SeqTransformer(Seq2SeqBackbone(**ARGS))
        shapes = {"encoder_token_ids": (None, 7), "decoder_token_ids": (None, 5)}
        assert model.compute_output_shape(shapes) == (None, 5, 25)
        inputs = {
            name: keras.Input((None,), dtype="int32", name=name) for name in shapes
        }
        outputs = model(inputs)
    finally:
        keras.config.set_dtype_policy("float32")
    assert tuple(outputs.shape) == (None, None, 25)
    # The logits are float32 under every policy, also symbolically.
    assert outputs.dtype == "float32"
    functional = keras.Model(inputs, outputs)
    assert tuple(functional(INPUTS).shape) == (2, 4, 25)
    with pytest.raises(ValueError, match="`input_shape` must be a dict"):
        model.compute_output_shape((None, 5))


def test_cross_attention_map_of_too_long_and_empty_inputs():
    from zoo.models.seq2seq.attention import greedy_cross_attention

    model = Seq2SeqTransformer(Seq2SeqBackbone(**ARGS, dropout=0.0))
    outputs, weights = greedy_cross_attention(model, [5, 6, 7])
    assert weights.shape == (len(outputs), 3)
    with pytest.raises(ValueError, match="13 ids.*source_sequence_length=12"):
        greedy_cross_attention(model, list(range(3, 16)))
    outputs, weights = greedy_cross_attention(model, [])
    assert outputs == [] and weights.shape == (0, 0)
