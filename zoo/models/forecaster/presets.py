"""Forecaster presets: plain data, name → `TimeSeriesForecaster` config.

Window sizes come from the data (``?lookback=&horizon=`` in the source); the
presets set the architecture and the training recipe. ``patchtst`` is
PatchTST/42's size (3 layers, 16 heads, width 128, patch 16, stride 8); ``tiny`` trains on
``elecdemand`` in about a minute on two CPU cores; ``short`` takes lookbacks
from 4 steps (16 for the others).
"""

PRESETS = {
    "tiny": {
        "architecture": "patch",
        "patch_size": 16,
        "hidden_dim": 32,
        "num_layers": 1,
        "num_heads": 2,
        "intermediate_dim": 64,
        "dropout": 0.1,
        "batch_size": 128,
        "learning_rate": 1e-3,
        "train_stride": 4,
    },
    # For short histories, such as a year of months (lookback 12) or two
    # years of quarters: 4-step patches, overlapping as PatchTST's, every
    # window trained on.
    "short": {
        "architecture": "patch",
        "patch_size": 4,
        "patch_stride": 2,
        "hidden_dim": 32,
        "num_layers": 1,
        "num_heads": 2,
        "intermediate_dim": 64,
        "dropout": 0.1,
        "batch_size": 32,
        "learning_rate": 1e-3,
    },
    # The benchmark's: PatchTST's overlapping patches (16, stride 8) and one
    # head per channel; narrow and dropout 0.3 as PatchTST sizes it for
    # small sets, since wider models overfit elecdemand's 12k windows.
    "small": {
        "architecture": "patch",
        "patch_size": 16,
        "patch_stride": 8,
        "individual_head": True,
        "hidden_dim": 32,
        "num_layers": 2,
        "num_heads": 4,
        "intermediate_dim": 64,
        "dropout": 0.3,
        "batch_size": 64,
        "learning_rate": 5e-4,
    },
    "patchtst": {
        "architecture": "patch",
        "patch_size": 16,
        "patch_stride": 8,
        "hidden_dim": 128,
        "num_layers": 3,
        "num_heads": 16,
        "intermediate_dim": 256,
        "dropout": 0.2,
        "batch_size": 128,
        "learning_rate": 1e-4,
    },
    "encoder_decoder": {
        "architecture": "encoder_decoder",
        "patch_size": 16,
        "hidden_dim": 64,
        "num_layers": 2,
        "num_heads": 4,
        "intermediate_dim": 128,
        "dropout": 0.1,
        "batch_size": 64,
        "learning_rate": 5e-4,
    },
    "tiny_quantile": {
        "architecture": "patch",
        "patch_size": 16,
        "hidden_dim": 32,
        "num_layers": 1,
        "num_heads": 2,
        "intermediate_dim": 64,
        "dropout": 0.1,
        "batch_size": 128,
        "learning_rate": 1e-3,
        "train_stride": 4,
        "quantiles": [0.1, 0.5, 0.9],
    },
}

TRAINING_KEYS = (
    "batch_size",
    "learning_rate",
    "schedule",
    "warmup_steps",
    "train_stride",
)
"""Preset keys for the recipe, not the model."""


def model_config(preset_config):
    """Drop the training keys of a preset config."""
    return {k: v for k, v in preset_config.items() if k not in TRAINING_KEYS}
