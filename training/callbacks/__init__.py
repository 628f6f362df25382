"""Callbacks of the fit recipe; `standard_callbacks` returns the full set."""

from training.callbacks.atomic_checkpoints import (
    AtomicBackupAndRestore,
    AtomicModelCheckpoint,
)
from training.callbacks.epoch_tensorboard import EpochTensorBoard
from training.callbacks.history_csv_logger import HistoryCSVLogger
from training.callbacks.monitor_check import MonitorCheck
from training.callbacks.nan_guard import NaNGuard, NonFiniteLossError
from training.callbacks.resumable_early_stopping import ResumableEarlyStopping
from training.callbacks.standard import early_stopping, standard_callbacks
from training.callbacks.throughput_logger import ThroughputLogger
from training.callbacks.time_budget import TimeBudget
from training.callbacks.training_curve_plot import TrainingCurvePlot, plot_history

__all__ = [
    "AtomicBackupAndRestore",
    "AtomicModelCheckpoint",
    "EpochTensorBoard",
    "HistoryCSVLogger",
    "MonitorCheck",
    "NaNGuard",
    "NonFiniteLossError",
    "ResumableEarlyStopping",
    "ThroughputLogger",
    "TimeBudget",
    "TrainingCurvePlot",
    "early_stopping",
    "plot_history",
    "standard_callbacks",
]
