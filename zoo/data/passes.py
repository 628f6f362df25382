"""Training streams whose passes are functions of their index.

`training.recipe.fit` repeats a finite training set into one stream, and a
resumed run must see the batches an uninterrupted one would. Skipping the
batches of earlier passes (``repeat().skip(n)``) computes every one of them:
0.75 s a pass for the ViT's Fashion-MNIST pipeline and about 5 s for the
bucketed cmudict pipeline on 2 cores, minutes of a time budget once a run
is long. A `PassStream` builds pass ``p`` from ``p`` itself (its order from
`pass_order`), so a resumed run starts at its pass at once. The zoo's
training datasets carry one as their ``stream_from_pass`` attribute;
`reshuffled_passes` pairs a finite, reshuffled dataset with its stream.

Examples:
    >>> import tensorflow as tf
    >>> from zoo.data.passes import PassStream
    >>> stream = PassStream(lambda p: tf.data.Dataset.range(3).map(lambda i: i + p))
    >>> [int(i) for i in stream(2).take(4)]
    [2, 3, 4, 3]
"""

import numpy as np


def check_first_pass(first_pass):
    """``ValueError`` unless ``first_pass`` is a non-negative integer."""
    if (
        isinstance(first_pass, bool)
        or not isinstance(first_pass, (int, np.integer))
        or first_pass < 0
    ):
        raise ValueError(
            f"`first_pass` must be a non-negative integer; received {first_pass!r}"
        )


def pass_order(count, seed, pass_index):
    """The order of ``count`` examples in pass ``pass_index``: a tf.int64 vector.

    A permutation drawn statelessly from ``(seed, pass_index)``, unlike a
    seeded ``Dataset.shuffle``, whose orders follow from the passes before.
    """
    import tensorflow as tf

    return tf.random.experimental.stateless_shuffle(
        tf.range(count, dtype=tf.int64),
        tf.stack([tf.cast(seed, tf.int64), tf.cast(pass_index, tf.int64)]),
    )


class PassStream:
    """The passes of a training set as one endless stream, from any pass on.

    Args:
        one_pass: ``pass_index (tf.int64 scalar) -> tf.data.Dataset`` of the
            batches of that pass; the same pass for the same index.
        per_batch: optional ``(batch_number, element) -> batch``, mapped in
            parallel over the whole stream, where batch numbers count from
            the first batch of pass 0. Heavy per-batch work belongs here
            rather than in ``one_pass``, whose pipeline drains at the end of
            every pass.
        steps_per_pass: batches in each pass; needed with ``per_batch``.
    """

    def __init__(self, one_pass, per_batch=None, steps_per_pass=None):
        if per_batch is not None and not steps_per_pass:
            raise ValueError(
                "`steps_per_pass` must be given with `per_batch`; received "
                f"{steps_per_pass!r}"
            )
        self.one_pass = one_pass
        self.per_batch = per_batch
        self.steps_per_pass = steps_per_pass

    def __call__(self, first_pass):
        """The stream of batches from pass ``first_pass`` (>= 0) on."""
        import tensorflow as tf

        check_first_pass(first_pass)
        # Passes run up to the largest index whose batch numbers fit in int64.
        last = np.iinfo(np.int64).max // (self.steps_per_pass or 1)
        stream = tf.data.Dataset.range(first_pass, last).flat_map(self.one_pass)
        if self.per_batch is not None:
            stream = stream.enumerate(first_pass * self.steps_per_pass).map(
                self.per_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
            )
        return stream.prefetch(tf.data.AUTOTUNE)


def reshuffled_passes(elements, seed, make_batches):
    """A finite training set reshuffled on each pass, with its `PassStream`.

    The shared form of a pipeline whose passes differ only in the order of
    its elements: the finite dataset shuffles them with a seeded
    ``Dataset.shuffle`` (for plain ``model.fit``), and its
    ``stream_from_pass`` gathers them in `pass_order` instead; both then go
    through the same ``make_batches``.

    Args:
        elements: a tensor, or a tuple of tensors, of examples along axis 0.
        seed: the shuffle seed.
        make_batches: ``tf.data.Dataset`` of elements -> the batches of one
            pass.

    Returns:
        The finite dataset, with the ``stream_from_pass`` attribute (lost by
        further transformations, after which the recipe replays the passes).
    """
    import tensorflow as tf

    count = int(tf.nest.flatten(elements)[0].shape[0])
    shuffled = tf.data.Dataset.from_tensor_slices(elements).shuffle(
        count, seed=seed, reshuffle_each_iteration=True
    )
    dataset = make_batches(shuffled).prefetch(tf.data.AUTOTUNE)

    def one_pass(pass_index):
        order = pass_order(count, seed, pass_index)
        in_order = tf.nest.map_structure(lambda t: tf.gather(t, order), elements)
        return make_batches(tf.data.Dataset.from_tensor_slices(in_order))

    dataset.stream_from_pass = PassStream(one_pass)
    return dataset
