"""One small, valid configuration and input per public layer.

The shared tests in ``test_layer_contract.py`` run every case through the
contract each public layer must meet (config round-trip, ``.keras`` save/load,
symbolic and eager calls, a fit step, mixed precision).
"""

import dataclasses

import numpy as np

from zoo import layers


@dataclasses.dataclass
class LayerCase:
    """How to build one layer and what to feed it."""

    cls: type
    kwargs: dict
    inputs: list  # positional inputs, numpy arrays with a batch axis first
    call_kwargs: dict = dataclasses.field(default_factory=dict)

    def make(self, **overrides):
        return self.cls(**{**self.kwargs, **overrides})


def _floats(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _token_ids(batch, length, vocabulary, seed=0):
    ids = np.random.default_rng(seed).integers(1, vocabulary, size=(batch, length))
    ids[0, length // 2 :] = 0  # the first sequence is padded
    return ids.astype("int32")


CASES = {
    "attention_self": LayerCase(
        layers.MultiHeadAttention,
        {"num_heads": 2},
        [_floats(2, 5, 8)],
        {"use_causal_mask": True},
    ),
    "attention_cross": LayerCase(
        layers.MultiHeadAttention,
        {"num_heads": 2, "key_dim": 3, "value_dim": 5, "output_dim": 6, "dropout": 0.1},
        [_floats(2, 5, 8), _floats(2, 7, 4, seed=1)],
    ),
    "attention_rotary": LayerCase(
        layers.MultiHeadAttention,
        {"num_heads": 2, "use_rotary_embedding": True},
        [_floats(2, 5, 8)],
    ),
    "sinusoidal": LayerCase(layers.SinusoidalPositionEncoding, {}, [_floats(2, 5, 8)]),
    "position_embedding": LayerCase(
        layers.PositionEmbedding, {"sequence_length": 10}, [_floats(2, 5, 8)]
    ),
    "rotary": LayerCase(layers.RotaryEmbedding, {}, [_floats(2, 5, 2, 8)]),
    "token_learned": LayerCase(
        layers.TokenAndPositionEmbedding,
        {
            "vocabulary_size": 20,
            "sequence_length": 10,
            "embedding_dim": 8,
            "mask_zero": True,
        },
        [_token_ids(2, 6, 20)],
    ),
    "token_sinusoidal": LayerCase(
        layers.TokenAndPositionEmbedding,
        {
            "vocabulary_size": 20,
            "sequence_length": 10,
            "embedding_dim": 8,
            "position_encoding": "sinusoidal",
            "scale_embedding": True,
        },
        [_token_ids(2, 6, 20)],
    ),
    "encoder_post_norm": LayerCase(
        layers.TransformerEncoderBlock,
        {"num_heads": 2, "intermediate_dim": 16, "dropout": 0.1},
        [_floats(2, 5, 8)],
    ),
    "encoder_pre_norm": LayerCase(
        layers.TransformerEncoderBlock,
        {
            "num_heads": 2,
            "intermediate_dim": 16,
            "activation": "gelu",
            "normalize_first": True,
            "drop_path_rate": 0.1,
            "use_rotary_embedding": True,
        },
        [_floats(2, 5, 8)],
    ),
    "decoder_cross": LayerCase(
        layers.TransformerDecoderBlock,
        {"num_heads": 2, "intermediate_dim": 16, "attention_dropout": 0.1},
        [_floats(2, 5, 8), _floats(2, 7, 8, seed=1)],
    ),
    "decoder_only": LayerCase(
        layers.TransformerDecoderBlock,
        {"num_heads": 2, "intermediate_dim": 16, "normalize_first": True},
        [_floats(2, 5, 8)],
    ),
    "patches_image": LayerCase(
        layers.PatchEmbedding,
        {"patch_size": 7, "hidden_dim": 16, "use_class_token": True},
        [_floats(2, 28, 28, 1)],
    ),
    "patches_series": LayerCase(
        layers.PatchEmbedding,
        {"patch_size": 4, "hidden_dim": 8, "stride": 2},
        [_floats(2, 16, 3)],
    ),
    "drop_path": LayerCase(layers.DropPath, {"rate": 0.2}, [_floats(2, 5, 8)]),
    "dropout": LayerCase(
        layers.Dropout,
        {"rate": 0.2, "noise_shape": (None, 1, 8), "seed": 3},
        [_floats(2, 5, 8)],
    ),
    "layer_normalization": LayerCase(
        layers.LayerNormalization, {"epsilon": 1e-6}, [_floats(2, 5, 8)]
    ),
}
