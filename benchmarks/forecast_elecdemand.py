"""Forecast quality: the zoo forecaster against DLinear and the naive baselines.

On ``elecdemand`` (lookback 336, horizon 96: one week → two days, half-hourly)
and ``seattle_weather`` (lookback 56, horizon 14, daily), in one process:
the zoo ``TimeSeriesForecaster`` and DLinear are trained with the same recipe
(``training.recipe.fit``: AdamW, cosine schedule, early stopping on the
validation loss, best epoch restored), and all four models are evaluated on the
same windows of the chronological test split (the last 20%), in the scaled
units of the training split (as the papers report). MSE and MAE are given over
all channels and for the main target alone (``Demand``, ``temp_max``).

Targets (issue 7): zoo MSE ≤ 0.95 × DLinear and ≤ 0.8 × seasonal naive on
elecdemand.

Writes ``benchmarks/results/forecast_elecdemand.json`` and ``.md``.

Usage: ``python benchmarks/forecast_elecdemand.py [--preset small] [--epochs 30]``
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import keras
from device_info import describe_device

from training.recipe import fit
from zoo.models.forecaster import DLinear, SeasonalNaive, naive
from zoo.models.forecaster.evaluation import collect, forecast_metrics
from zoo.models.forecaster.family import FOCUS, ForecasterFamily, prepare_series

RESULTS = Path(__file__).parent / "results"
DATASETS = ("elecdemand", "seattle_weather")
WEEKLY_PERIOD = {"elecdemand": 336, "seattle_weather": 7}
"""Steps in a week: a second seasonal-naive period besides the detected one."""


def train(builder, prepared, epochs, learning_rate, out_dir, seed):
    """Fit ``builder()`` with the shared recipe; return the model and seconds."""
    start = time.perf_counter()
    history = fit(
        builder,
        prepared.train,
        prepared.validation,
        str(out_dir),
        epochs,
        loss="mse",
        metrics=["mae"],
        learning_rate=learning_rate,
        schedule="cosine",
        patience=5,
        seed=seed,
        verbose=2,
    )
    return history.model, time.perf_counter() - start


def run_dataset(name, preset, epochs, seed, work):
    """Train and evaluate the four models on one dataset; return table rows."""
    family = ForecasterFamily()
    config = family.check_preset(preset)
    batch_size = config.get("batch_size", 64)
    prepared, data, state = prepare_series(name, batch_size, seed=seed, stride=1)
    info = prepared.info
    lookback, horizon = info["lookback"], info["horizon"]
    names = info["targets"]
    focus = FOCUS[name]
    rows = []

    def evaluate(label, model, seconds, parameters):
        start = time.perf_counter()
        metrics = forecast_metrics(*collect(model, prepared.test), names, focus=focus)
        rows.append(
            {
                "model": label,
                "mse": metrics["mse"],
                "mae": metrics["mae"],
                f"mse_{focus[0]}": metrics[f"mse_{focus[0]}"],
                f"mae_{focus[0]}": metrics[f"mae_{focus[0]}"],
                "train_seconds": round(seconds, 1),
                "eval_seconds": round(time.perf_counter() - start, 1),
                "parameters": parameters,
            }
        )
        print(name, rows[-1], flush=True)

    keras.utils.set_random_seed(seed)
    zoo_model, seconds = train(
        lambda: family.build_model(config, info),
        prepared,
        epochs,
        config.get("learning_rate", 1e-3),
        work / f"{name}_zoo",
        seed,
    )
    evaluate(f"zoo forecaster ({preset})", zoo_model, seconds, zoo_model.count_params())

    def dlinear():
        model = DLinear(lookback, horizon, len(names))
        model.build()
        return model

    dlinear_model, seconds = train(
        dlinear, prepared, epochs, 1e-3, work / f"{name}_dlinear", seed
    )
    evaluate("DLinear", dlinear_model, seconds, dlinear_model.count_params())
    evaluate("naive (last value)", naive(lookback, horizon), 0.0, 0)
    period = info["period"]
    evaluate(
        f"seasonal naive (period {period}, detected)",
        SeasonalNaive(lookback, horizon, period),
        0.0,
        0,
    )
    weekly = WEEKLY_PERIOD[name]
    if weekly != period and weekly <= lookback:
        evaluate(
            f"seasonal naive (period {weekly}, weekly)",
            SeasonalNaive(lookback, horizon, weekly),
            0.0,
            0,
        )
    return {
        "dataset": name,
        "lookback": lookback,
        "horizon": horizon,
        "channels": names,
        "focus": focus[0],
        "period": period,
        "test_windows": int(len(data.window_starts("test"))),
        "rows": rows,
    }


def ratios(result):
    """Zoo MSE over DLinear's and over the best seasonal naive's."""
    rows = result["rows"]
    zoo = next(r for r in rows if r["model"].startswith("zoo forecaster"))
    dlinear = next(r for r in rows if r["model"] == "DLinear")
    seasonal = min(
        (r for r in rows if r["model"].startswith("seasonal naive")),
        key=lambda r: r["mse"],
    )
    out = {}
    for label, other in (("DLinear", dlinear), ("best seasonal naive", seasonal)):
        for key in ("mse", f"mse_{result['focus']}"):
            out[f"{key} zoo/{label}"] = zoo[key] / other[key]
    return out


def markdown(report):
    """Render the report as markdown tables."""
    lines = [
        "# Forecast quality: zoo forecaster vs DLinear vs naive baselines",
        "",
        f"Command: `{report['command']}`  ",
        f"Device: {report['device']}; wall time {report['wall_seconds']:.0f} s; "
        f"Keras {report['keras']} ({report['backend']}).",
        "",
        "MSE and MAE on the chronological test split (last 20%), in the scaled "
        "units of the training split; every test window (stride 1).",
    ]
    for result in report["results"]:
        focus = result["focus"]
        lines += [
            "",
            f"## {result['dataset']} (lookback {result['lookback']}, horizon "
            f"{result['horizon']}, {result['test_windows']} test windows)",
            "",
            f"| model | MSE (all) | MAE (all) | MSE ({focus}) | MAE ({focus}) | "
            "train s | params |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in result["rows"]:
            lines.append(
                f"| {row['model']} | {row['mse']:.4f} | {row['mae']:.4f} | "
                f"{row[f'mse_{focus}']:.4f} | {row[f'mae_{focus}']:.4f} | "
                f"{row['train_seconds']} | {row['parameters']:,} |"
            )
        lines += [
            "",
            "Ratios (target: ≤ 0.95 vs DLinear, ≤ 0.8 vs seasonal naive; the "
            "better of the two seasonal periods is the peer):",
            "",
        ]
        for key, value in result["ratios"].items():
            lines.append(f"- {key}: {value:.3f}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--out", default=str(RESULTS / "forecast_elecdemand"))
    args = parser.parse_args()
    start = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.datasets:
            result = run_dataset(name, args.preset, args.epochs, args.seed, Path(work))
            result["ratios"] = ratios(result)
            results.append(result)
    report = {
        "command": (
            f"python benchmarks/forecast_elecdemand.py --preset {args.preset} "
            f"--epochs {args.epochs} --seed {args.seed} --datasets "
            + " ".join(args.datasets)
        ),
        "device": describe_device(),
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "wall_seconds": time.perf_counter() - start,
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
