"""Forecast electricity demand: train, compare with baselines, predict, export.

Trains the ``tiny`` forecaster preset on the built-in ``elecdemand`` series
(lookback 336 half-hours, horizon 96) through the same steps as
``zoo train forecaster``, compares its test MSE with the naive and seasonal
naive forecasts on the same windows, forecasts the two days that follow the
last two weeks of the test split (``zoo predict DIR recent.csv --plot``) and
serves one window through the exported SavedModel.

Run ``python examples/forecast.py [--preset tiny] [--epochs 8] [--out runs/forecast]``.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from zoo import registry, trainer
from zoo.data import elecdemand
from zoo.models.forecaster import SeasonalNaive, naive
from zoo.models.forecaster.evaluation import collect, forecast_metrics
from zoo.models.forecaster.family import STATE_FILE, prepare_series


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", default="runs/forecast")
    parser.add_argument("--plot", help="default: forecast.png in --out")
    args = parser.parse_args()

    family = registry.get_family("forecaster")
    out = Path(args.out)
    metrics = trainer.train_run(family, args.preset, "elecdemand", out, args.epochs)
    print("zoo forecaster test metrics (scaled units):", json.dumps(metrics))

    state = json.loads((out / STATE_FILE).read_text())
    prepared, _, _ = prepare_series("elecdemand", 256, state=state)
    lookback, horizon = state["options"]["lookback"], state["options"]["horizon"]
    targets = state["options"]["target"]
    for name, model in (
        ("naive", naive(lookback, horizon)),
        (
            f"seasonal naive (period {state['period']})",
            SeasonalNaive(lookback, horizon, state["period"]),
        ),
    ):
        baseline = forecast_metrics(*collect(model, prepared.test), targets)
        print(
            f"{name}: mse {baseline['mse']:.4f}, mse_Demand "
            f"{baseline['mse_Demand']:.4f}"
        )

    # The last two weeks of the series as a user's file of recent rows; not
    # "history.csv", which is the run's record of its epochs.
    history = out / "recent.csv"
    elecdemand.load().iloc[-lookback - horizon : -horizon].to_csv(history, index=False)
    # Inside --out by default: a plot left in another folder would make that
    # folder look like a damaged run to a later `--out` there.
    plot = Path(args.plot or out / "forecast.png")
    plot.parent.mkdir(parents=True, exist_ok=True)
    text = trainer.predict_run(out, [str(history)], ["--plot", str(plot)])
    print("\n".join(text.splitlines()[:5]), "\n...")

    import tensorflow as tf

    served = tf.saved_model.load(str(out / "saved_model"))
    window = elecdemand.load()[targets].to_numpy(np.float32)[None, -lookback:]
    forecast = served.serve(tf.constant(window))["forecast"].numpy()
    print(
        f"SavedModel: {window.shape} raw window -> {forecast.shape} forecast; "
        f"next half-hour demand {forecast[0, 0, 0]:.3f} GW"
    )


if __name__ == "__main__":
    main()
