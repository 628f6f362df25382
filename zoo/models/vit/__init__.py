"""Vision Transformer: backbone, classifier, presets and the ``vit`` family."""

from zoo.models.vit.convolutional_stem import ConvolutionalStem
from zoo.models.vit.locality_self_attention import (
    LocalityEncoderBlock,
    LocalitySelfAttention,
)
from zoo.models.vit.presets import VIT_PRESETS
from zoo.models.vit.shifted_patch_tokenization import ShiftedPatchTokenization
from zoo.models.vit.vit_backbone import ViTBackbone, resize_backbone
from zoo.models.vit.vit_classifier import ViTClassifier

__all__ = [
    "VIT_PRESETS",
    "ConvolutionalStem",
    "LocalityEncoderBlock",
    "LocalitySelfAttention",
    "ShiftedPatchTokenization",
    "ViTBackbone",
    "ViTClassifier",
    "resize_backbone",
]
