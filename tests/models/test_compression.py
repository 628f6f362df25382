"""Keras' compression and fine-tuning APIs on whole zoo models.

`model.quantize` and `enable_lora` as a Keras user applies them to a whole
model: the quantized tied output projection, decoders compiled before the
change, and `model.export` of quantized forecasters. The metric drops on
real data are measured by hand (they need trained models), not here.
"""

import json

import keras
import numpy as np
import pytest
from keras import ops

from tests.backends import exports_saved_models
from tests.keras_state import seeded_float32_policy
from tests.models.seq2seq import test_seq2seq_model as seq2seq_model_tests
from zoo.decoding import Decoder
from zoo.models.forecaster import DLinear, TimeSeriesForecaster
from zoo.models.seq2seq import Seq2SeqBackbone, Seq2SeqTransformer
from zoo.models.vit import ViTBackbone, ViTClassifier

seeded_float32 = pytest.fixture(autouse=True, name="seeded_float32")(
    seeded_float32_policy
)

# One decoder layer is enough here: the tied projection and the caches.
ARGS = {**seq2seq_model_tests.ARGS, "num_encoder_layers": 1, "dropout": 0.0}
INPUTS = seq2seq_model_tests.INPUTS


def seq2seq(tie=True):
    return Seq2SeqTransformer(Seq2SeqBackbone(**ARGS), tie_output_embedding=tie)


def dense_layers(model):
    return [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, (keras.layers.Dense, keras.layers.EinsumDense))
    ]


def test_quantized_tied_model_stays_close_and_decodes_as_its_full_pass():
    # Keras' quantized `Embedding.embeddings` is the raw integer table; the
    # tied projection read it without the scales, so every token's logit
    # was multiplied by its row's scale (~100 for int8) and G2P's PER rose.
    model = seq2seq()
    expected = ops.convert_to_numpy(model(INPUTS))
    ids = [[5, 6, 7], [9, 8, 7, 6, 5]]
    decoder = Decoder(model)
    decoder(ids)  # traced with the float weights, as `zoo predict` keeps it
    model.quantize("int8")
    table = ops.convert_to_numpy(model.backbone.decoder_embedding.embeddings)
    assert table.dtype == np.float32
    got = ops.convert_to_numpy(model(INPUTS))
    assert np.abs(got - expected).max() < 0.05 * np.abs(expected).max()

    # The decoder traced before `quantize` decodes with the quantized
    # weights: greedy search equals the argmax of the model's own full
    # (teacher-forced) pass over the decoded tokens.
    decoded = decoder(ids)
    padded = np.zeros((2, 5), np.int32)
    for row, source in enumerate(ids):
        padded[row, : len(source)] = source
    prefix = np.concatenate([np.full((2, 1), 1, np.int32), decoded[:, :-1]], axis=1)
    logits = ops.convert_to_numpy(
        model({"encoder_token_ids": padded, "decoder_token_ids": prefix})
    )
    steps = np.argmax(logits, axis=-1)
    for row in range(2):
        length = int(np.sum(decoded[row] != 0))
        np.testing.assert_array_equal(steps[row, :length], decoded[row, :length])


def test_a_decoder_compiled_before_enable_lora_uses_the_adapters():
    # The families keep one Decoder per model (zoo predict, evaluate): one
    # traced before `enable_lora` (or `quantize`) kept decoding with the
    # weights it had captured, ignoring the adapters.
    model = seq2seq()
    decoder = Decoder(model)
    ids = [[5, 6, 7, 8], [9, 8, 7, 6, 5, 4]]
    before = decoder(ids)
    rng = np.random.default_rng(0)
    for layer in dense_layers(model):
        layer.enable_lora(2)
        layer.lora_kernel_b.assign(rng.normal(size=layer.lora_kernel_b.shape))
    fresh = Decoder(model)(ids)
    assert not np.array_equal(before, fresh)
    np.testing.assert_array_equal(decoder(ids), fresh)


def test_lora_on_every_projection_trains_adapters_and_saves_merged(tmp_path):
    model = seq2seq()
    layers = dense_layers(model)
    for layer in layers:
        layer.enable_lora(2)
    kernels = [ops.convert_to_numpy(layer._kernel) for layer in layers]
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    targets = np.ones((2, 4, 25), np.float32)
    model.fit(INPUTS, targets, epochs=1, verbose=0)
    for layer, kernel in zip(layers, kernels):
        np.testing.assert_array_equal(ops.convert_to_numpy(layer._kernel), kernel)
        assert np.abs(ops.convert_to_numpy(layer.lora_kernel_b)).max() > 0
    expected = ops.convert_to_numpy(model(INPUTS))
    model.save(tmp_path / "lora.keras")
    reloaded = keras.saving.load_model(tmp_path / "lora.keras")
    np.testing.assert_allclose(
        ops.convert_to_numpy(reloaded(INPUTS)), expected, atol=1e-5
    )


def forecasters():
    small = dict(patch_size=8, hidden_dim=16, num_layers=1, num_heads=2)
    return [
        DLinear(48, 12, 3),
        TimeSeriesForecaster(48, 12, 3, intermediate_dim=16, **small),
        TimeSeriesForecaster(48, 12, 3, num_covariates=2, **small),
    ]


@exports_saved_models
@pytest.mark.parametrize("index", [0, 1, 2])
def test_quantized_forecaster_exports_with_keras(tmp_path, index):
    # Loaded from .keras (built in `build` without recorded input shapes),
    # the forecasters made Keras' `Model.export` refuse ("The model provided
    # has never called"), quantized or not.
    import tensorflow as tf

    model = forecasters()[index]
    history = np.random.default_rng(0).normal(size=(2, 48, 3)).astype("float32")
    inputs = history
    if getattr(model, "num_covariates", 0):
        covariates = np.zeros((2, 60, 2), np.float32)
        inputs = {"past_values": history, "future_covariates": covariates}
    # As a user would: a trained model loaded from its .keras file (which
    # builds it without a call), quantized and exported.
    model.build()  # as `fit` leaves it: no input shape recorded
    model.save(tmp_path / "model.keras")
    model = keras.saving.load_model(tmp_path / "model.keras")
    model.quantize("int8")
    expected = ops.convert_to_numpy(model(inputs))
    model.export(tmp_path / "saved", verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "saved"))
    served = reloaded.serve(inputs)
    np.testing.assert_allclose(np.asarray(served), expected, atol=1e-5)


def one_model_of_each_family():
    """(model, inputs) by name; every head has a layer that quantizes."""
    rng = np.random.default_rng(0)
    history = rng.normal(size=(2, 48, 3)).astype("float32")
    covariates = rng.normal(size=(2, 60, 2)).astype("float32")
    vit = ViTBackbone(
        28, 7, 16, 1, 2, 32, num_channels=1, shifted_patch_tokenization=True
    )
    return {
        "seq2seq": (seq2seq(tie=False), INPUTS),
        "vit": (
            ViTClassifier(vit, 10, head_hidden_dim=8),
            rng.normal(size=(2, 28, 28, 1)).astype("float32"),
        ),
        "forecaster": (
            forecasters()[2],
            {"past_values": history, "future_covariates": covariates},
        ),
        "dlinear": (forecasters()[0], history),
    }


def quantization_modes(model):
    return {
        layer.path: layer.quantization_mode
        for layer in model._flatten_layers()
        if layer.quantization_mode is not None
    }


@pytest.mark.parametrize("mode", ["int8", "int4", "float8"])
@pytest.mark.parametrize("family", ["seq2seq", "vit", "forecaster", "dlinear"])
def test_a_quantized_model_loads_from_its_keras_file(tmp_path, family, mode):
    # Keras rebuilt the sublayers a zoo layer or model creates itself (the
    # attention projections, the feed-forward and head `Dense` layers, the
    # token `Embedding`) in their parent's float policy: "A total of N
    # objects could not be loaded ... expected 2 variables, but received 0".
    model, inputs = one_model_of_each_family()[family]
    # A forecaster builds itself for `quantize`: no call is needed first.
    model.quantize(mode)
    expected = ops.convert_to_numpy(model(inputs))
    modes = quantization_modes(model)
    model.save(tmp_path / "quantized.keras")
    reloaded = keras.saving.load_model(tmp_path / "quantized.keras")
    assert quantization_modes(reloaded) == modes
    np.testing.assert_array_equal(ops.convert_to_numpy(reloaded(inputs)), expected)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_forecaster_quantizes_before_its_first_call(index):
    # Keras refused: "Cannot quantize a layer that isn't yet built".
    model = forecasters()[index]
    model.quantize("int8")
    dense_modes = {layer.quantization_mode for layer in dense_layers(model)}
    assert dense_modes == {"int8"}
    inputs = np.ones((2, 48, 3), np.float32)
    if getattr(model, "num_covariates", 0):
        covariates = np.ones((2, 60, 2), np.float32)
        inputs = {"past_values": inputs, "future_covariates": covariates}
    assert ops.convert_to_numpy(model(inputs)).shape == (2, 12, 3)


# The config.json of `seq2seq(tie=False)` with `shared_embeddings` and learned
# positions, as commit cb3b940 (before quantized models saved a policy map)
# wrote it in a `.keras` file.
OLD_FLOAT_CONFIG = {
    "module": "zoo.models.seq2seq.seq2seq_transformer",
    "class_name": "Seq2SeqTransformer",
    "config": {
        "name": "seq2_seq_transformer_1",
        "trainable": True,
        "backbone": {
            "module": "zoo.models.seq2seq.seq2seq_backbone",
            "class_name": "Seq2SeqBackbone",
            "config": {
                "name": "seq2_seq_backbone_1",
                "trainable": True,
                "dtype": {
                    "module": "keras",
                    "class_name": "DTypePolicy",
                    "config": {"name": "float32"},
                    "registered_name": None,
                },
                "source_vocabulary_size": 30,
                "target_vocabulary_size": 30,
                "num_encoder_layers": 1,
                "num_decoder_layers": 1,
                "hidden_dim": 16,
                "num_heads": 2,
                "intermediate_dim": 32,
                "source_sequence_length": 12,
                "target_sequence_length": 12,
                "dropout": 0.0,
                "attention_dropout": 0.0,
                "activation": "relu",
                "normalize_first": True,
                "position_encoding": "learned",
                "shared_embeddings": True,
            },
            "registered_name": "zoo>Seq2SeqBackbone",
            "build_config": {"input_shape": None},
            "compile_config": {},
        },
        "tie_output_embedding": False,
    },
    "registered_name": "zoo>Seq2SeqTransformer",
    "compile_config": {},
}


def test_a_float_models_config_is_as_older_versions_wrote_it():
    # Only a quantized model's config holds a `DTypePolicyMap`; a float one
    # loads from, and writes, the config it always had.
    model = keras.saving.deserialize_keras_object(OLD_FLOAT_CONFIG)
    assert keras.saving.serialize_keras_object(model) == OLD_FLOAT_CONFIG
    assert "DTypePolicyMap" not in json.dumps(model.get_config())


def test_a_quantized_zoo_layer_in_a_users_sequential_loads(tmp_path):
    # The layer's policy map named its sublayers by their paths under the
    # Sequential ("sequential/transformer_encoder_block/..."), which a loaded
    # Sequential builds without that prefix: its sublayers came back float
    # and their int8 weights found no place ("expected 2 variables, but
    # received 3").
    from zoo.layers import TransformerEncoderBlock

    model = keras.Sequential(
        [
            keras.Input((5, 8)),
            TransformerEncoderBlock(num_heads=2, intermediate_dim=16),
            keras.layers.Dense(3),
        ]
    )
    model.quantize("int8")
    inputs = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(inputs))
    model.save(tmp_path / "quantized.keras")
    reloaded = keras.saving.load_model(tmp_path / "quantized.keras")
    got = keras.ops.convert_to_numpy(reloaded(inputs))
    np.testing.assert_array_equal(got, expected)


def test_a_quantized_vit_takes_another_image_size(tmp_path):
    # The copy's head was float, so copying the quantized head's weights
    # failed: "weight list of length 3, but the layer was expecting 2".

    backbone = ViTBackbone(28, 7, 16, 1, 2, 32, num_channels=1)
    model = ViTClassifier(backbone, num_classes=10, head_hidden_dim=8)
    model.quantize("int8")
    resized = model.with_image_size(56)
    quantized = [
        layer.name for layer in resized._flatten_layers() if layer.quantization_mode
    ]
    assert {"head_hidden", "logits"} <= set(quantized)
    images = np.random.default_rng(0).normal(size=(1, 56, 56, 1)).astype("float32")
    expected = keras.ops.convert_to_numpy(resized(images))
    resized.save(tmp_path / "resized.keras")
    reloaded = keras.saving.load_model(tmp_path / "resized.keras")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(reloaded(images)), expected
    )


def test_a_loaded_quantized_vit_saves_again(tmp_path):
    # Its sublayers kept the loaded policy map as their policy, where Keras'
    # Dense saves a kernel scale only if `dtype_policy` itself is quantized:
    # the second save failed with "Invalid dtype: object".

    backbone = ViTBackbone(28, 7, 16, 1, 2, 32, num_channels=1)
    model = ViTClassifier(backbone, num_classes=10, head_hidden_dim=8)
    model.quantize("int8")
    images = np.random.default_rng(0).normal(size=(2, 28, 28, 1)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(images))
    model.save(tmp_path / "first.keras")
    keras.saving.load_model(tmp_path / "first.keras").save(tmp_path / "second.keras")
    reloaded = keras.saving.load_model(tmp_path / "second.keras")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(reloaded(images)), expected
    )
