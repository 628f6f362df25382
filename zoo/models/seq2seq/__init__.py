"""Transformer encoder-decoder ("Attention Is All You Need") and its presets."""

from zoo.models.seq2seq.presets import PRESETS
from zoo.models.seq2seq.seq2seq_backbone import Seq2SeqBackbone
from zoo.models.seq2seq.seq2seq_transformer import Seq2SeqTransformer

__all__ = ["PRESETS", "Seq2SeqBackbone", "Seq2SeqTransformer"]
