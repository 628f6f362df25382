"""Reusable transformer layers, written in ``keras.ops`` for every backend."""

from zoo.layers.drop_path import DropPath
from zoo.layers.dropout import Dropout
from zoo.layers.layer_normalization import LayerNormalization
from zoo.layers.multi_head_attention import MultiHeadAttention
from zoo.layers.patch_embedding import PatchEmbedding
from zoo.layers.position_embedding import PositionEmbedding
from zoo.layers.rotary_embedding import RotaryEmbedding
from zoo.layers.sinusoidal_position_encoding import SinusoidalPositionEncoding
from zoo.layers.token_and_position_embedding import TokenAndPositionEmbedding
from zoo.layers.transformer_decoder_block import TransformerDecoderBlock
from zoo.layers.transformer_encoder_block import TransformerEncoderBlock

__all__ = [
    "DropPath",
    "Dropout",
    "LayerNormalization",
    "MultiHeadAttention",
    "PatchEmbedding",
    "PositionEmbedding",
    "RotaryEmbedding",
    "SinusoidalPositionEncoding",
    "TokenAndPositionEmbedding",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
]
