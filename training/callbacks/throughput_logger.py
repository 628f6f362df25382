"""Examples and tokens per second, per epoch, in the training logs."""

import time

import keras
import numpy as np

from training.arguments import check_int, check_number


class ThroughputLogger(keras.callbacks.Callback):
    """Adds training throughput to each epoch's logs.

    Writes `steps_per_second`, and `examples_per_second` when
    `examples_per_epoch` or `batch_size` is known, and `tokens_per_second`
    when `tokens_per_example` is known, into
    the epoch logs, so they reach `History`, `CSVLogger`, TensorBoard and the
    progress bar (place it before those callbacks). Time runs from the start
    of the epoch to the end of its last training batch: validation is not
    counted, and the first epoch includes tracing/compilation. From
    `batch_size` alone a partial batch counts as a full one; give
    `examples_per_epoch` where batches vary (length buckets, a batch size
    larger than the data). Safe for asynchronous batch dispatch
    (``async_safe``): where Keras runs batch-end callbacks in worker threads
    (JAX, PyTorch), each call comes once that batch's results are ready, so
    the epoch's time still ends with its last training step.

    Args:
        batch_size: The global batch size (all replicas together).
        examples_per_epoch: Training examples in one epoch; with it, a step
            counts as ``examples_per_epoch / steps`` examples (``steps``:
            the epoch's steps, as `fit` reports them).
        tokens_per_example: Mean tokens per example (e.g. non-padding target
            tokens, patches per image); use `from_dataset` to measure it.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> from training import ThroughputLogger
        >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x = np.ones((256, 1))
        >>> history = model.fit(x, x, batch_size=64, epochs=2, verbose=0,
        ...                     callbacks=[ThroughputLogger(batch_size=64)])
        >>> len(history.history["examples_per_second"])
        2
    """

    async_safe = True

    def __init__(
        self, batch_size=None, tokens_per_example=None, examples_per_epoch=None
    ):
        super().__init__()
        check_int("batch_size", batch_size, 1, allow_none=True)
        check_int("examples_per_epoch", examples_per_epoch, 1, allow_none=True)
        self.examples_per_epoch = examples_per_epoch
        if tokens_per_example is not None:
            check_number("tokens_per_example", tokens_per_example, 0)
        self.batch_size = batch_size
        self.tokens_per_example = tokens_per_example
        self._start = None
        self._end = None
        self._steps = 0

    @classmethod
    def from_dataset(cls, dataset, count_tokens=None, num_batches=10):
        """Measures batch size and tokens per example from a few batches.

        Args:
            dataset: A batched `tf.data.Dataset` (or any iterable of batches).
            count_tokens: Function of one batch (as the dataset yields it)
                returning its token count, e.g.
                `lambda batch: np.count_nonzero(batch[1])`; None for no tokens.
            num_batches: Batches to look at.

        Returns:
            A `ThroughputLogger`.

        Examples:
            >>> import numpy as np
            >>> from training import ThroughputLogger
            >>> batches = [(np.ones((4, 5)), np.array([[7, 8, 0, 0, 0]] * 4))]
            >>> logger = ThroughputLogger.from_dataset(
            ...     batches, count_tokens=lambda b: np.count_nonzero(b[1]))
            >>> logger.batch_size, logger.tokens_per_example
            (4, 2.0)
        """
        examples, tokens, batch_size = 0, 0, None
        for index, batch in enumerate(dataset):
            if index >= num_batches:
                break
            leaf = keras.tree.flatten(batch)[0]
            size = int(np.shape(leaf)[0])
            batch_size = size if batch_size is None else batch_size
            examples += size
            if count_tokens is not None:
                tokens += float(count_tokens(batch))
        tokens_per_example = None
        if count_tokens is not None and examples:
            tokens_per_example = tokens / examples
        return cls(batch_size=batch_size, tokens_per_example=tokens_per_example)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._end = None
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the index of the last batch run (several per call with
        # steps_per_execution > 1). Worker threads may finish out of order:
        # keep the latest batch and time.
        now = time.perf_counter()
        self._steps = max(self._steps, batch + 1)
        self._end = now if self._end is None else max(self._end, now)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or self._end is None or not self._steps:
            return
        seconds = max(self._end - self._start, 1e-9)
        logs["steps_per_second"] = self._steps / seconds
        examples = self._examples()
        if examples:
            examples_per_second = examples / seconds
            logs["examples_per_second"] = examples_per_second
            if self.tokens_per_example:
                logs["tokens_per_second"] = (
                    examples_per_second * self.tokens_per_example
                )

    def _examples(self):
        """Examples in the steps run this epoch, or None if unknown."""
        steps_per_epoch = (self.params or {}).get("steps")
        if self.examples_per_epoch and steps_per_epoch:
            return self.examples_per_epoch * self._steps / steps_per_epoch
        if self.batch_size:
            return self._steps * self.batch_size
        return None
