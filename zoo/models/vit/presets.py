"""ViT presets as plain data: preset name → configuration.

The ``vit_*_224`` presets are the paper's sizes (ViT-Ti/S from DeiT, ViT-B/L
from "An Image is Worth 16x16 Words"); ``image_size`` is the size they were
designed for, while the model is built at the size of the data. The small
presets fit 28 px (Fashion-MNIST) and 32 px (CIFAR) images and train on a CPU.
"""

_PAPER = dict(
    patch_size=16,
    image_size=224,
    dropout=0.0,
    attention_dropout=0.0,
    drop_path_rate=0.1,
    use_class_token=True,
    learning_rate=1e-3,
    batch_size=64,
)

# The 28 px presets below are variations of this one: 4 blocks of width 64 on
# the 7x7 grid of patch 4, average pooling, drop path 0.1.
_SMALL_28 = dict(
    image_size=28,
    patch_size=4,
    hidden_dim=64,
    num_layers=4,
    num_heads=4,
    intermediate_dim=128,
    dropout=0.0,
    drop_path_rate=0.1,
    use_class_token=False,
    learning_rate=2e-3,
    batch_size=128,
)

# The GPU preset with the 14x14 grid: patch 2, made by one stride-2
# convolution of 64 channels.
_MEDIUM_28_P2 = dict(
    image_size=28,
    patch_size=2,
    conv_stem_filters=[64],
    hidden_dim=128,
    num_layers=6,
    num_heads=4,
    intermediate_dim=256,
    dropout=0.0,
    drop_path_rate=0.1,
    use_class_token=False,
    learning_rate=1e-3,
    batch_size=256,
)

VIT_PRESETS = {
    "tiny": dict(
        # Trains on all of Fashion-MNIST in about a minute on 2 CPU cores.
        image_size=28,
        patch_size=7,
        hidden_dim=32,
        num_layers=2,
        num_heads=2,
        intermediate_dim=64,
        dropout=0.0,
        drop_path_rate=0.0,
        use_class_token=True,
        learning_rate=2e-3,
        batch_size=128,
    ),
    # A pure ViT for small images. Flips only: with ~16 epochs in 15 CPU
    # minutes, random crops slowed learning more than they cut overfitting
    # (1 epoch: 77.1% val accuracy with crops and flips, 83.9% without).
    "small_28": dict(_SMALL_28, augment_padding=0),
    "small_28_spt_lsa": dict(
        _SMALL_28, shifted_patch_tokenization=True, locality_self_attention=True
    ),
    # The paper's hybrid input in the form of Xiao et al. (2021): two stride-2
    # 3x3 convolutions make the 7x7 grid of tokens that patch 4 would.
    "hybrid_28": dict(_SMALL_28, conv_stem_filters=[16, 32]),
    # The 15-minute CPU benchmark's preset: a convolutional stem of 32 and 64
    # channels (the 7x7 grid of patch 4) and only 2 encoder blocks trains
    # about 2.2 times as many images per second as small_28 and learns more
    # per epoch. 4-minute runs, validation accuracy: 90.6%; 3 blocks 90.0%,
    # width 96 90.1%. Crops of one pixel cost in short runs but stop the
    # overfitting of 15 minutes: 92.34% test accuracy against 91.29% with
    # flips only (docs/vit.md).
    "hybrid_28_cpu": dict(
        _SMALL_28, conv_stem_filters=[32, 64], num_layers=2, augment_padding=1
    ),
    # Sizes for the "at any budget" run on a GPU, with the convolutional stem
    # that converges fastest on small data: a 7x7 grid of wider tokens, and a
    # 14x14 grid (patch 2, one stride-2 convolution) for finer detail.
    "medium_28_hybrid": dict(
        image_size=28,
        patch_size=4,
        conv_stem_filters=[32, 64],
        hidden_dim=192,
        num_layers=6,
        num_heads=3,
        intermediate_dim=384,
        dropout=0.0,
        drop_path_rate=0.1,
        use_class_token=False,
        learning_rate=1e-3,
        batch_size=256,
    ),
    "medium_28_hybrid_p2": _MEDIUM_28_P2,
    # The 14x14 grid at width 192: ahead of medium_28_hybrid_p2 on validation
    # at equal epochs (92.62% against 92.28% after 45), but slower per step;
    # meant for a long GPU budget spent over several sessions (--run-dir).
    "medium_28_hybrid_p2_wide": dict(
        _MEDIUM_28_P2, hidden_dim=192, num_heads=6, intermediate_dim=384
    ),
    "small_32": dict(
        image_size=32,
        patch_size=4,
        hidden_dim=128,
        num_layers=6,
        num_heads=4,
        intermediate_dim=256,
        dropout=0.0,
        drop_path_rate=0.1,
        use_class_token=False,
        learning_rate=1e-3,
        batch_size=128,
    ),
    "vit_ti16_224": dict(
        _PAPER, hidden_dim=192, num_layers=12, num_heads=3, intermediate_dim=768
    ),
    "vit_s16_224": dict(
        _PAPER, hidden_dim=384, num_layers=12, num_heads=6, intermediate_dim=1536
    ),
    "vit_b16_224": dict(
        _PAPER, hidden_dim=768, num_layers=12, num_heads=12, intermediate_dim=3072
    ),
    "vit_l16_224": dict(
        _PAPER, hidden_dim=1024, num_layers=24, num_heads=16, intermediate_dim=4096
    ),
}
"""Preset name → configuration (``ViTBackbone`` arguments plus training keys)."""

TRAINING_KEYS = (
    "image_size",
    "augment_padding",
    "augment_flip",
    "mixup",
    "cutmix",
    "learning_rate",
    "batch_size",
    "warmup_steps",
    "schedule",
)
"""Preset keys that are not `ViTBackbone` arguments (or are taken from the data).

``augment_padding`` (pixels of the random crop's padding, 0 for none; default
1 per 14 pixels of the image), ``augment_flip`` (random horizontal flips;
default True), ``mixup`` (MixUp's Beta alpha; 0 or absent for none) and
``cutmix`` (CutMix's Beta alpha; 0 or absent for none; with both, each batch
gets one of them) set the training augmentation.
"""

HEAD_KEYS = ("head_hidden_dim", "head_dropout")
"""Preset keys that are `ViTClassifier` arguments."""
