"""Shared training toolkit: schedules, optimizer, losses, precision, distribution,
callbacks and the one fit recipe every model family trains with.

Nothing here knows about a particular model: the recipe takes a zero-argument
model builder and `tf.data` datasets and calls `model.fit`.
"""

from training.callbacks import (
    EpochTensorBoard,
    NaNGuard,
    NonFiniteLossError,
    ThroughputLogger,
    TimeBudget,
    TrainingCurvePlot,
    early_stopping,
    standard_callbacks,
)
from training.distribution import resolve_strategy
from training.losses import (
    MaskedSparseCategoricalAccuracy,
    MaskedSparseCategoricalCrossentropy,
    MixupAccuracy,
    MixupCrossentropy,
)
from training.optimizers import exclude_no_decay_variables, make_optimizer
from training.precision import apply_precision, resolve_precision
from training.recipe import fit
from training.schedules import InverseSqrtSchedule, WarmupSchedule, make_schedule

__all__ = [
    "EpochTensorBoard",
    "InverseSqrtSchedule",
    "MaskedSparseCategoricalAccuracy",
    "MaskedSparseCategoricalCrossentropy",
    "MixupAccuracy",
    "MixupCrossentropy",
    "NaNGuard",
    "NonFiniteLossError",
    "ThroughputLogger",
    "TimeBudget",
    "TrainingCurvePlot",
    "WarmupSchedule",
    "apply_precision",
    "early_stopping",
    "exclude_no_decay_variables",
    "fit",
    "make_optimizer",
    "make_schedule",
    "resolve_precision",
    "resolve_strategy",
    "standard_callbacks",
]
