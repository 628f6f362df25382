"""SavedModel export of a forecaster that serves raw, unscaled windows."""

import numpy as np


def export_forecaster(model, state, path):
    """Write a SavedModel whose ``serve`` takes and returns original units.

    The signature scales the raw history with the training split's scaler,
    runs the model and unscales the forecast, so a server needs nothing but
    TensorFlow.

    Args:
        model: a trained `TimeSeriesForecaster` (or a baseline).
        state: the run's ``series.json`` content.
        path: the SavedModel folder to write.

    Returns:
        ``path``. The signature ``serve`` takes ``history`` float32 (batch,
        lookback, targets) in the order ``state["options"]["target"]`` (and,
        for a model with known-future inputs, ``future_covariates`` (batch,
        lookback + horizon, covariates + calendar): raw covariate values
        followed by the sine/cosine calendar features) and returns
        ``{"forecast": (batch, horizon, targets)}``, with a last axis of
        quantiles when the model was trained with them. An empty batch gets
        an empty forecast; ``history`` and ``future_covariates`` of different
        batch sizes are refused (``InvalidArgumentError``).

    Raises:
        RuntimeError: on a backend other than TensorFlow or JAX.
    """
    import keras
    import tensorflow as tf

    from zoo.export import (
        add_serving_endpoint,
        model_function,
        new_archive,
        write_out,
    )

    options = state["options"]
    targets, covariates = options["target"], options["covariates"]
    mean = np.asarray(state["scaler"]["mean"], np.float32)
    scale = np.asarray(state["scaler"]["scale"], np.float32)
    target_mean, target_scale = mean[: len(targets)], scale[: len(targets)]
    covariate_mean, covariate_scale = mean[len(targets) :], scale[len(targets) :]
    quantiles = bool(getattr(model, "quantiles", None))
    out_mean, out_scale = target_mean, target_scale
    if quantiles:
        out_mean, out_scale = out_mean[:, None], out_scale[:, None]
    lookback, horizon = options["lookback"], options["horizon"]
    num_known = len(covariates) + 2 * len(options["calendar"])

    def finite(values, name):
        # As `zoo predict` refuses them: an inf or NaN would be served as an
        # inf or NaN forecast without a word.
        return tf.debugging.check_numerics(
            values, f"{name} must hold finite numbers (no NaN or inf)"
        )

    def scale_history(history):
        history = finite(history, "history")
        return (history - tf.constant(target_mean)) / tf.constant(target_scale)

    def unscale(forecast):
        return forecast * tf.constant(out_scale) + tf.constant(out_mean)

    out_shape = [horizon, len(targets)]
    if quantiles:
        out_shape.append(len(model.quantiles))

    def unless_empty(forecast_of):
        # The model's reshapes cannot size an empty batch ("Incompatible
        # shapes: [0,48,1] vs. [0,3,32]"); a server may send one all the same.
        def forecast(history, *known):
            return tf.cond(
                tf.shape(history)[0] > 0,
                lambda: forecast_of(history, *known),
                lambda: tf.zeros([0, *out_shape], tf.float32),
            )

        return forecast

    history_spec = tf.TensorSpec((None, lookback, len(targets)), tf.float32)
    archive = new_archive(model)
    if num_known:
        known_spec = tf.TensorSpec((None, lookback + horizon, num_known), tf.float32)

        def predict_scaled(past_values, future_covariates):
            inputs = {
                "past_values": past_values,
                "future_covariates": future_covariates,
            }
            return keras.ops.cast(model(inputs, training=False), "float32")

        forecast_of = unless_empty(
            model_function(
                archive, "forecast", predict_scaled, [history_spec, known_spec]
            )
        )

        def same_batch(history, future_covariates):
            # The model broadcasts one history against several futures: a
            # columnar request of 1 and 3 windows would get 3 forecasts.
            check = tf.debugging.assert_equal(
                tf.shape(history)[0],
                tf.shape(future_covariates)[0],
                message="history and future_covariates must hold as many "
                "windows (batch sizes received)",
            )
            with tf.control_dependencies([check]):
                return tf.identity(history), tf.identity(future_covariates)

        def serve(history, future_covariates):
            history, future_covariates = same_batch(history, future_covariates)
            future_covariates = finite(future_covariates, "future_covariates")
            raw = future_covariates[..., : len(covariates)]
            scaled = (raw - tf.constant(covariate_mean)) / tf.constant(covariate_scale)
            known = tf.concat([scaled, future_covariates[..., len(covariates) :]], -1)
            return {"forecast": unscale(forecast_of(scale_history(history), known))}

        add_serving_endpoint(archive, "serve", serve, [history_spec, known_spec])
    else:

        def predict_scaled(past_values):
            return keras.ops.cast(model(past_values, training=False), "float32")

        forecast_of = unless_empty(
            model_function(archive, "forecast", predict_scaled, [history_spec])
        )

        def serve(history):
            return {"forecast": unscale(forecast_of(scale_history(history)))}

        add_serving_endpoint(archive, "serve", serve, [history_spec])
    return write_out(archive, path)
