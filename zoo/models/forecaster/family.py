"""The ``forecaster`` family: what ``zoo train forecaster`` and friends call.

Data options ride in the source string (``--data "ETTh1.csv?target=OT&
lookback=336&horizon=96"``, see `zoo.models.forecaster.sources`). The fitted
scaler and the options are saved as ``series.json`` in the run folder; every
later step (evaluate, predict, export) reuses them, so a model never sees data
scaled differently from its training data.
"""

import math
import os
from pathlib import Path

# Imported for their serialization registration: model.keras names the
# optimizer's warm-up schedule, the model and its loss, and a fresh process
# (zoo evaluate/predict/export) must know them before loading it.
import training.schedules  # noqa: F401
import zoo.models.forecaster  # noqa: F401
from training.callbacks.atomic_checkpoints import write_json_atomically
from zoo import run_dir as runs
from zoo.data.source_query import split_source
from zoo.family import SPLIT_SEED, ModelFamily, PreparedData
from zoo.models.forecaster.evaluation import collect, forecast_metrics
from zoo.models.forecaster.presets import PRESETS, model_config
from zoo.models.forecaster.sources import OPTIONS, parse_source, read_source

STATE_FILE = "series.json"
"""Preprocessing state of a run: window options, columns and the scaler."""

FOCUS = {"elecdemand": ("Demand",), "seattle_weather": ("temp_max",)}
"""Columns that get their own metrics (the series' main target)."""


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _names(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _target_names(value):
    return _names(value) and len(value) > 0


def _optional_name(value):
    return value is None or isinstance(value, str)


def _numbers(value):
    return isinstance(value, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in value
    )


def _positive_numbers(value):
    return _numbers(value) and all(v > 0 for v in value)


STATE_ENTRIES = (
    # entry read by a later step, what it must be, and its check.
    ("options.lookback", "a positive integer", _positive_int),
    ("options.horizon", "a positive integer", _positive_int),
    ("options.target", "a non-empty list of column names", _target_names),
    ("options.covariates", "a list of column names", _names),
    ("options.calendar", "a list of calendar feature names", _names),
    ("options.time", "a column name or null", _optional_name),
    ("scaler.columns", "a list of column names", _names),
    ("scaler.mean", "a list of finite numbers", _numbers),
    ("scaler.scale", "a list of positive numbers", _positive_numbers),
    ("period", "a positive integer", _positive_int),
)
"""What evaluate, predict and export read from ``series.json``."""


def load_state(run_dir):
    """Return the saved ``series.json`` of ``run_dir``, or None.

    Raises:
        ValueError: for a file that is not JSON or lacks an entry that
            evaluate, predict or export read; the message names the file and
            the entry.
    """
    path = Path(run_dir) / STATE_FILE
    expected = "the series state `zoo train forecaster` writes"
    state = runs.read_json_object(path, expected)
    problem = None if state is None else _state_problem(state)
    if problem:
        raise ValueError(f"{path} is damaged: {problem}; expected {expected}")
    return state


def _state_problem(state):
    """What is missing or malformed in a ``series.json`` object, or None."""
    for entry, expected, check in STATE_ENTRIES:
        value, where = state, ""
        for key in entry.split("."):
            if not isinstance(value, dict):
                return f"{where!r} must be a JSON object; received {value!r}"
            where = f"{where}.{key}".lstrip(".")
            if key not in value:
                return f"{where!r} is missing"
            value = value[key]
        if not check(value):
            return f"{entry!r} must be {expected}; received {value!r}"
    options, scaler = state["options"], state["scaler"]
    split = options.get("split")  # recorded since the run's split is reused
    if split is not None and not (_positive_numbers(split) and len(split) == 3):
        return f"'options.split' must be three positive numbers; received {split!r}"
    columns = options["target"] + options["covariates"]
    # The scaler's columns are the targets, then the covariates, by position.
    if scaler["columns"] != columns:
        return (
            f"'scaler.columns' must be the targets, then the covariates "
            f"{columns}; received {scaler['columns']}"
        )
    for key in ("mean", "scale"):
        if len(scaler[key]) != len(columns):
            return (
                f"'scaler.{key}' must hold one number per column ({len(columns)}); "
                f"received {len(scaler[key])}"
            )
    return None


def prepare_series(source, batch_size=64, seed=0, stride=None, state=None):
    """Load, check, split, scale and window a series for a forecaster.

    Args:
        source: a built-in name or ``.csv`` path with ``?`` options.
        batch_size: windows per batch.
        seed: training shuffle seed.
        stride: training window stride when the source gives none (1 if None).
        state: a saved state (from a run folder); its window options and
            scaler win over the source's, so windows match the trained model.

    Returns:
        ``(PreparedData, series_data, state)``: the datasets, the
        ``zoo.data.series.SeriesData`` and a JSON-serializable state.
    """
    from zoo.data import series

    location, options = parse_source(source)
    if state is not None:
        saved = state["options"]
        given = {key for key, _ in split_source(source, OPTIONS)[1]}
        _check_saved_options(source, options, saved, given)
        options.lookback, options.horizon = saved["lookback"], saved["horizon"]
        options.target, options.covariates = saved["target"], saved["covariates"]
        options.calendar = saved["calendar"]
        # The run's split unless ?split= asks for another: evaluating the
        # same file with the default split could test on training rows.
        # (Runs saved before the split was recorded have none.)
        if "split" not in given and "split" in saved:
            options.split = tuple(saved["split"])
    frame, time_column = read_source(location)
    data = series.load_series(
        frame,
        lookback=options.lookback,
        horizon=options.horizon,
        targets=options.target,
        covariates=options.covariates,
        calendar=options.calendar,
        split=options.split,
        time_column=options.time or time_column,
        interpolate=options.interpolate,
        scaler=(series.StandardScaler.from_dict(state["scaler"]) if state else None),
    )
    train_stride = options.stride or stride or 1
    if state is None:
        from zoo.models.forecaster.naive import detect_period

        # The first target is the main one (Demand, temp_max): its season
        # serves all channels, as one seasonal-naive period must.
        first_target = data.values[: data.bounds[0], 0]
        period = detect_period(first_target, max_period=options.lookback)
    else:
        period = state["period"]
    info = {
        "lookback": data.lookback,
        "horizon": data.horizon,
        "num_channels": len(data.targets),
        "targets": data.targets,
        "covariates": data.covariates,
        "calendar": data.calendar,
        "num_known": data.num_known,
        "period": period,
        "focus": [c for c in FOCUS.get(location, ()) if c in data.targets],
        "report": data.report.summary(),
        "train_windows": len(data.window_starts("train", train_stride)),
    }
    new_state = {
        "source": str(source),
        "options": {
            "lookback": data.lookback,
            "horizon": data.horizon,
            "target": data.targets,
            "covariates": data.covariates,
            "calendar": data.calendar,
            "time": options.time or time_column,
            "split": list(options.split),
        },
        "scaler": data.scaler.to_dict(),
        "period": period,
        "frequency": data.report.frequency,
        "report": data.report.summary(),
    }
    prepared = PreparedData(
        train=data.dataset(
            "train", batch_size, stride=train_stride, shuffle=True, seed=seed
        ),
        validation=data.dataset("validation", batch_size),
        test=data.dataset("test", batch_size),
        info=info,
        train_examples=len(data.window_starts("train", train_stride)),
    )
    return prepared, data, new_state


def _check_saved_options(source, options, saved, given):
    """Reject options of ``source`` that differ from those the run was trained on.

    The saved ones win (the model's shapes and scaler depend on them), so a
    differing one would be silently ignored. ``given`` names the options
    that ``source`` spells out.
    """
    for key in ("lookback", "horizon", "target", "covariates", "calendar"):
        if key in given and getattr(options, key) != saved[key]:
            raise ValueError(
                f"data option {key} in {str(source)!r}: the run was trained with "
                f"{key} {saved[key]!r}, which its model and {STATE_FILE} keep; "
                f"received {getattr(options, key)!r}. Leave the option out, or "
                "train another run for it"
            )


class ForecasterFamily(ModelFamily):
    """Multi-horizon forecasting of multivariate series (`TimeSeriesForecaster`)."""

    name = "forecaster"
    description = "PatchTST-style transformer forecaster for multivariate series"
    presets = PRESETS
    default_preset = "tiny"
    default_data = "elecdemand"
    monitor = "val_loss"
    learning_rate = 1e-3
    schedule = "cosine"

    def prepare_data(
        self, source, batch_size, run_dir: Path, seed=0, split_seed=SPLIT_SEED
    ):
        # A series splits chronologically: `split_seed` has nothing to draw.
        run_dir = Path(run_dir)
        record = runs.read_run(run_dir) or {}
        stride = (record.get("config") or {}).get("train_stride")
        state = load_state(run_dir)
        prepared, _, new_state = prepare_series(source, batch_size, seed, stride, state)
        if state is None:
            run_dir.mkdir(parents=True, exist_ok=True)
            # Whole or not at all: a run killed here prepares it again.
            write_json_atomically(run_dir / STATE_FILE, new_state)
        return prepared

    def build_model(self, config: dict, info: dict):
        from zoo.models.forecaster.time_series_forecaster import (
            TimeSeriesForecaster,
        )

        self._check_patches_fit(config, info["lookback"])

        model = TimeSeriesForecaster(
            info["lookback"],
            info["horizon"],
            info["num_channels"],
            num_covariates=info["num_known"],
            **model_config(config),
        )
        # Built up front: the recipe's backup callback needs the weights.
        model.build()
        return model

    def _check_patches_fit(self, config, lookback):
        """Name the presets whose patches fit ``lookback`` when this one's do not."""
        patch_size = config.get("patch_size", 16)
        if patch_size <= lookback:
            return
        fitting = [
            name
            for name, preset in sorted(self.presets.items())
            if preset.get("patch_size", 16) <= lookback
        ]
        advice = (
            f", or --preset {' or '.join(fitting)}, whose patches fit it"
            if fitting
            else f" (every preset's patches are longer than {lookback} steps)"
        )
        raise ValueError(
            f"this preset's patches are {patch_size} steps: expected a lookback of "
            f"at least {patch_size}; received lookback={lookback}. Use "
            f"?lookback={patch_size} or more{advice}"
        )

    def compile_arguments(self, config: dict, info: dict) -> dict:
        quantiles = config.get("quantiles")
        if quantiles:
            from zoo.models.forecaster.pinball_loss import PinballLoss

            return {"loss": PinballLoss(quantiles), "metrics": []}
        return {"loss": "mse", "metrics": ["mae"]}

    def evaluate(self, model, data: PreparedData, run_dir: Path) -> dict:
        predictions, targets = collect(model, data.test)
        return forecast_metrics(
            predictions,
            targets,
            data.info["targets"],
            getattr(model, "quantiles", None),
            focus=data.info.get("focus", ()),
        )

    def add_predict_arguments(self, parser) -> None:
        parser.add_argument(
            "--plot",
            metavar="OUT.png",
            type=os.path.expanduser,  # a quoted "~/x.png" too
            help="draw history, forecast and interval",
        )

    def predict(self, model, run_dir: Path, inputs: list, args) -> str:
        from zoo.models.forecaster import prediction

        state = _require_state(run_dir)
        if len(inputs) != 1:
            raise ValueError(
                f"INPUT: expected one history .csv; received {len(inputs)} inputs"
            )
        forecast = prediction.forecast_csv(model, state, inputs[0])
        text = prediction.format_forecast(forecast)
        if getattr(args, "plot", None):
            prediction.plot_forecast(forecast, args.plot)
            text += f"\nplot written to {args.plot}"
        return text

    def export(self, model, run_dir: Path, path: Path) -> Path:
        from zoo.models.forecaster.export import export_forecaster

        return export_forecaster(model, _require_state(run_dir), path)


def _require_state(run_dir):
    state = load_state(run_dir)
    if state is None:
        raise ValueError(
            f"DIR {str(run_dir)!r}: expected {STATE_FILE} in it (written by "
            "`zoo train forecaster`)"
        )
    return state
