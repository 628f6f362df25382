"""Quantized zoo layers inside a user's functional model save and load."""

import json

import keras
import numpy as np
import pytest
from keras import ops

from tests.layers.layer_cases import CASES, LayerCase
from zoo.models.vit import ConvolutionalStem, ShiftedPatchTokenization

IMAGES = np.random.default_rng(0).normal(size=(2, 28, 28, 1)).astype("float32")
# The ViT's tokenizers, which create their own projection too.
VIT_CASES = {
    "shifted_patches": LayerCase(
        ShiftedPatchTokenization, {"patch_size": 7, "hidden_dim": 8}, [IMAGES]
    ),
    "conv_stem": LayerCase(
        ConvolutionalStem,
        {"patch_size": 4, "hidden_dim": 8, "filters": (4, 8)},
        [IMAGES],
    ),
}
CASES = {**CASES, **VIT_CASES}

# The layers that create their own quantizable sublayers (PatchEmbedding's
# convolution does not quantize).
COMPOSITE = [
    "attention_cross",
    "token_learned",
    "encoder_pre_norm",
    "decoder_cross",
    *VIT_CASES,
]


def functional_model(case):
    inputs = [keras.Input(x.shape[1:], dtype=str(x.dtype)) for x in case.inputs]
    outputs = case.make()(*inputs, **case.call_kwargs)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("name", COMPOSITE)
def test_a_quantized_layer_loads_from_a_keras_file(tmp_path, name):
    # The layer's config named only its own float policy, so Keras rebuilt
    # its quantized sublayers float: "A total of N objects could not be
    # loaded ... expected ... variables, but received 0 variables".
    case = CASES[name]
    model = functional_model(case)
    model.quantize("int8")
    expected = ops.convert_to_numpy(model(case.inputs))
    model.save(tmp_path / "quantized.keras")
    reloaded = keras.saving.load_model(tmp_path / "quantized.keras")
    np.testing.assert_array_equal(ops.convert_to_numpy(reloaded(case.inputs)), expected)


@pytest.mark.parametrize("name", COMPOSITE)
def test_a_float_layers_config_names_its_plain_policy(name):
    config = functional_model(CASES[name]).layers[-1].get_config()
    assert config["dtype"] == keras.dtype_policies.serialize(
        keras.dtype_policies.DTypePolicy("float32")
    )
    assert "DTypePolicyMap" not in json.dumps(config)
