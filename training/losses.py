"""Losses and metrics the model families share.

Token-level cross-entropy and accuracy ignore padding: sequence batches are
padded to a common length, and padded positions must not count towards the
loss or the accuracy, or short sequences would be trained towards predicting
padding and the numbers would depend on batch shapes.

`MixupCrossentropy` and `MixupAccuracy` take class ids or MixUp's mixed
one-hot labels, so training and validation batches can differ in form.
"""

import keras
from keras import ops


def _token_weights(y_true, pad_id, sample_weight=None):
    """1.0 for real tokens, 0.0 for padding, times any sample weight."""
    if pad_id is None:
        weights = ops.ones_like(y_true, dtype="float32")
    else:
        weights = ops.not_equal(ops.cast(y_true, "int32"), pad_id)
        weights = ops.cast(weights, "float32")
    if sample_weight is None:
        return weights
    sample_weight = ops.cast(sample_weight, "float32")
    # Weights (batch, 1) beside labels (batch,) would broadcast to a matrix.
    while (
        len(sample_weight.shape) > len(weights.shape) and sample_weight.shape[-1] == 1
    ):
        sample_weight = ops.squeeze(sample_weight, axis=-1)
    # Per-example weights (batch,) broadcast over the sequence axis.
    while len(sample_weight.shape) < len(weights.shape):
        sample_weight = ops.expand_dims(sample_weight, -1)
    return weights * sample_weight


def _squeeze_labels(y_true, y_pred):
    """Drops a trailing size-1 axis of class ids, as Keras' sparse losses do.

    Labels of shape (batch, 1) against logits (batch, classes) would otherwise
    broadcast to a (batch, batch) loss and a wrong value, without an error.
    """
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
        return ops.squeeze(y_true, axis=-1)
    return y_true


@keras.saving.register_keras_serializable(package="zoo")
class MaskedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Sparse cross-entropy with label smoothing over non-padding tokens.

    Computed in float32 whatever the model's compute dtype (a float16 softmax
    over a large vocabulary loses precision). With smoothing `e` over `V`
    classes the target is `(1 - e) * one_hot(y) + e / V`. The default
    reduction averages over non-padding tokens (and sample weights): the sum
    of token losses divided by the number of real tokens.

    Args:
        label_smoothing: Smoothing `e` in [0, 1).
        pad_id: Target id that marks padding; None counts every position.
        from_logits: Whether predictions are logits (True) or probabilities.
        reduction: A Keras loss reduction; `"mean_with_sample_weight"`
            averages over real tokens.
        name: Loss name.

    Examples:
        >>> import keras
        >>> from training import MaskedSparseCategoricalCrossentropy
        >>> loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.0)
        >>> logits = keras.ops.zeros((1, 3, 4))  # uniform over 4 classes
        >>> round(float(loss(keras.ops.array([[2, 1, 0]]), logits)), 4)  # ln 4
        1.3863
    """

    def __init__(
        self,
        label_smoothing=0.1,
        pad_id=0,
        from_logits=True,
        reduction="mean_with_sample_weight",
        name="masked_sparse_categorical_crossentropy",
    ):
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                "`label_smoothing` must be in [0, 1). "
                f"Received: label_smoothing={label_smoothing!r}"
            )
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self.label_smoothing = label_smoothing
        self.pad_id = pad_id
        self.from_logits = from_logits

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_true = _squeeze_labels(ops.convert_to_tensor(y_true), y_pred)
        # The padding mask becomes a sample weight so that the reduction
        # divides by the number of real tokens, not by batch * length.
        weights = _token_weights(y_true, self.pad_id, sample_weight)
        return super().__call__(y_true, y_pred, sample_weight=weights)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        num_classes = ops.shape(y_pred)[-1]
        if self.from_logits:
            log_probs = ops.log_softmax(y_pred, axis=-1)
        else:
            log_probs = ops.log(ops.clip(y_pred, 1e-7, 1.0))
        labels = ops.cast(y_true, "int32")
        if self.pad_id is not None:
            # Padding ids may lie outside the vocabulary (e.g. -1).
            labels = ops.where(ops.equal(labels, self.pad_id), 0, labels)
        targets = ops.one_hot(labels, num_classes, dtype="float32")
        if self.label_smoothing:
            targets = targets * (1.0 - self.label_smoothing) + (
                self.label_smoothing / ops.cast(num_classes, "float32")
            )
        return -ops.sum(targets * log_probs, axis=-1)

    def get_config(self):
        return {
            "label_smoothing": self.label_smoothing,
            "pad_id": self.pad_id,
            "from_logits": self.from_logits,
            "reduction": self.reduction,
            "name": self.name,
        }


@keras.saving.register_keras_serializable(package="zoo")
class MaskedSparseCategoricalAccuracy(keras.metrics.Metric):
    """Token accuracy over non-padding positions.

    Counts correct argmax predictions and real tokens across batches, so the
    epoch value is correct tokens / real tokens (not a mean of batch means).

    Args:
        pad_id: Target id that marks padding; None counts every position.
        name: Metric name.
        dtype: Dtype of the metric's state.

    Examples:
        >>> import keras
        >>> from training import MaskedSparseCategoricalAccuracy
        >>> metric = MaskedSparseCategoricalAccuracy()
        >>> predictions = keras.ops.one_hot(keras.ops.array([[3, 2, 0]]), 4)
        >>> metric.update_state(keras.ops.array([[3, 1, 0]]), predictions)
        >>> float(metric.result())  # 1 of 2 real tokens; the padding 0 not counted
        0.5
    """

    def __init__(self, pad_id=0, name="masked_accuracy", dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self.pad_id = pad_id
        self.correct = self.add_variable((), initializer="zeros", name="correct")
        self.total = self.add_variable((), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = _squeeze_labels(ops.convert_to_tensor(y_true), y_pred)
        weights = _token_weights(y_true, self.pad_id, sample_weight)
        predicted = ops.argmax(y_pred, axis=-1)
        hits = ops.cast(
            ops.equal(ops.cast(predicted, "int32"), ops.cast(y_true, "int32")),
            "float32",
        )
        self.correct.assign_add(ops.cast(ops.sum(hits * weights), self.dtype))
        self.total.assign_add(ops.cast(ops.sum(weights), self.dtype))

    def result(self):
        return ops.divide_no_nan(self.correct, self.total)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)

    def get_config(self):
        return {"pad_id": self.pad_id, "name": self.name, "dtype": self.dtype}


def _as_distribution(y_true, y_pred):
    """Labels as class distributions: class ids are one-hot encoded.

    Ids come as (batch,) or (batch, 1); distributions (MixUp's mixed one-hot
    labels) as (batch, classes), like the predictions.
    """
    classes = y_pred.shape[-1]
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == classes != 1:
        return ops.cast(y_true, "float32")
    ids = ops.reshape(ops.cast(y_true, "int32"), (-1,))
    return ops.one_hot(ids, classes, dtype="float32")


@keras.saving.register_keras_serializable(package="zoo")
class MixupCrossentropy(keras.losses.Loss):
    """Cross-entropy whose labels are class ids or class distributions.

    MixUp trains on mixed one-hot labels while validation and test batches
    keep their class ids; one compiled loss must take both. Computed in
    float32 from logits.

    Args:
        from_logits: whether predictions are logits (else probabilities).
        reduction: Keras loss reduction.
        name: loss name.

    Examples:
        >>> import keras
        >>> from training import MixupCrossentropy
        >>> loss, logits = MixupCrossentropy(), keras.ops.zeros((1, 4))
        >>> ids, mixed = keras.ops.array([2]), keras.ops.array([[0.5, 0.5, 0.0, 0.0]])
        >>> round(float(loss(ids, logits)), 4), round(float(loss(mixed, logits)), 4)
        (1.3863, 1.3863)
    """

    def __init__(
        self, from_logits=True, reduction="sum_over_batch_size", name="crossentropy"
    ):
        super().__init__(reduction=reduction, name=name)
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        return keras.losses.categorical_crossentropy(
            _as_distribution(y_true, y_pred), y_pred, from_logits=self.from_logits
        )

    def get_config(self):
        return {
            "from_logits": self.from_logits,
            "reduction": self.reduction,
            "name": self.name,
        }


@keras.saving.register_keras_serializable(package="zoo")
class MixupAccuracy(keras.metrics.MeanMetricWrapper):
    """Accuracy against class ids, or against the top class of a distribution.

    The counterpart of `MixupCrossentropy`: on mixed labels the target is the
    class with the larger share. Named ``accuracy`` so that histories keep the
    usual ``accuracy`` and ``val_accuracy`` keys.

    Args:
        name: metric name.
        dtype: dtype of the metric's state; None for Keras' float type.

    Examples:
        >>> import keras
        >>> from training import MixupAccuracy
        >>> metric = MixupAccuracy()
        >>> mixed = keras.ops.array([[0.3, 0.7, 0.0], [0.0, 0.6, 0.4]])
        >>> logits = keras.ops.array([[0.0, 2.0, 0.0], [3.0, 0.0, 0.0]])
        >>> metric.update_state(mixed, logits)
        >>> float(metric.result())  # top classes 1 and 1; predicted 1 and 0
        0.5
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(_top_class_matches, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def _top_class_matches(y_true, y_pred):
    target = ops.argmax(_as_distribution(y_true, y_pred), axis=-1)
    return ops.cast(ops.equal(ops.argmax(y_pred, axis=-1), target), "float32")
