"""Metrics of any forecaster on a windowed dataset, computed the same way."""

import numpy as np
from keras import ops


def collect(model, dataset):
    """Return ``(predictions, targets)`` of ``model`` over ``dataset`` as arrays."""
    predictions, targets = [], []
    for inputs, target in dataset:
        predictions.append(ops.convert_to_numpy(model(inputs, training=False)))
        targets.append(np.asarray(target))
    return np.concatenate(predictions), np.concatenate(targets)


def median_index(quantiles):
    """Index of the quantile nearest 0.5 (the point forecast)."""
    return int(np.argmin([abs(q - 0.5) for q in quantiles]))


def outer_interval(quantiles):
    """Positions of the lowest and highest of ``quantiles``, in any order."""
    return int(np.argmin(quantiles)), int(np.argmax(quantiles))


def _check_shapes(predictions, targets, target_names, quantiles):
    """Raise ``ValueError`` where numpy would broadcast mismatched arrays."""
    expected = tuple(targets.shape) + ((len(quantiles),) if quantiles else ())
    if tuple(predictions.shape) != expected:
        raise ValueError(
            f"predictions: expected shape {expected} (the targets' shape"
            f"{', then one per quantile' if quantiles else ''}); received "
            f"{tuple(predictions.shape)}"
        )
    if len(target_names) != targets.shape[-1]:
        raise ValueError(
            f"target_names: expected one name per target column "
            f"({targets.shape[-1]}); received {len(target_names)}"
        )


def forecast_metrics(predictions, targets, target_names, quantiles=None, focus=()):
    """MSE and MAE over all targets, and per target column in ``focus``.

    Args:
        predictions: (windows, horizon, targets[, quantiles]).
        targets: (windows, horizon, targets), on the same (scaled) scale.
        target_names: names of the target columns.
        quantiles: the levels of the last prediction axis, or None.
        focus: target names that also get ``mse_NAME`` and ``mae_NAME``
            (all of them when empty).

    Returns:
        A flat dict of floats; with quantiles also ``coverage`` (the share of
        targets inside the outermost interval, lowest to highest level, in any
        order of ``quantiles``) and ``interval``.

    Raises:
        ValueError: if the shapes of ``predictions``, ``targets`` and
            ``target_names`` do not agree.
    """
    _check_shapes(predictions, targets, target_names, quantiles)
    metrics = {}
    point = predictions
    if quantiles:
        point = predictions[..., median_index(quantiles)]
        # By level, not position: a model may list its levels in any order.
        lowest, highest = outer_interval(quantiles)
        low, high = predictions[..., lowest], predictions[..., highest]
        metrics["coverage"] = float(np.mean((targets >= low) & (targets <= high)))
        metrics["interval"] = f"{quantiles[lowest]:g}-{quantiles[highest]:g}"
    error = point - targets
    metrics["mse"] = float(np.mean(error**2))
    metrics["mae"] = float(np.mean(np.abs(error)))
    for index, name in enumerate(target_names):
        if focus and name not in focus:
            continue
        metrics[f"mse_{name}"] = float(np.mean(error[..., index] ** 2))
        metrics[f"mae_{name}"] = float(np.mean(np.abs(error[..., index])))
    return metrics
