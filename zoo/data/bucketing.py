"""Batches of token-id pairs grouped by length, so little compute goes to padding."""

from __future__ import annotations

import numpy as np

from zoo.data.passes import reshuffled_passes


def bucket_boundaries(max_length, width=4):
    """Return boundaries ``width, 2*width, ...`` up to past ``max_length``."""
    return list(range(width, max_length + width + 1, width))


def seq2seq_dataset(
    pairs,
    batch_size,
    start_id,
    end_id,
    shuffle=False,
    seed=0,
    boundaries=None,
    width=4,
):
    """Make a finite, length-bucketed ``tf.data.Dataset`` for teacher forcing.

    Each element is ``({"encoder_token_ids", "decoder_token_ids"}, labels)``:
    the decoder reads ``[start] + target`` and learns ``target + [end]``.
    Pairs of similar length share a batch, padded with 0 to a multiple of
    ``width`` tokens, so a bucketed epoch has only a few distinct shapes (few
    retraces) and little padding.

    Args:
        pairs: list of ``(source_ids, target_ids)`` lists of ints.
        batch_size: pairs per batch (every bucket uses the same size).
        start_id: the target tokenizer's start id.
        end_id: the target tokenizer's end id.
        shuffle: shuffle the pairs before bucketing and the batches after,
            with ``seed``; the order changes on every pass, deterministically.
        seed: shuffle seed.
        boundaries: bucket boundaries in tokens; default every ``width``.
        width: batches are padded to a multiple of ``width`` tokens.

    Returns:
        The dataset. With ``shuffle``, it also has ``stream_from_pass(index)``,
        the endless stream of its passes from pass ``index`` on (each pass a
        function of ``(seed, index)``; `zoo.data.passes`), which
        `training.recipe.fit` trains on so that a resumed run starts at its
        pass at once.
    """
    import tensorflow as tf

    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; received {batch_size!r}")
    if not pairs:
        raise ValueError("pairs is empty: nothing to batch")
    # The same batches: one of all the pairs is all a larger size gives.
    # tf.data's bucketing allocates for the batch size, and 10**12 aborted the
    # process (std::bad_alloc).
    batch_size = min(batch_size, len(pairs))
    sources = [list(s) for s, _ in pairs]
    targets = [list(t) for _, t in pairs]
    longest = max(max(map(len, sources)), max(map(len, targets)) + 1)
    boundaries = boundaries or bucket_boundaries(longest, width)

    # Dense padded arrays in memory, cut back to each pair's length: much
    # faster to build and shuffle than a Python generator.
    source_lengths = np.array([len(s) for s in sources], np.int32)
    target_lengths = np.array([len(t) + 1 for t in targets], np.int32)
    source_array = np.zeros((len(pairs), max(source_lengths)), np.int32)
    decoder_array = np.zeros((len(pairs), max(target_lengths)), np.int32)
    label_array = np.zeros_like(decoder_array)
    for i, (source, target) in enumerate(zip(sources, targets)):
        source_array[i, : len(source)] = source
        decoder_array[i, : len(target) + 1] = [start_id] + target
        label_array[i, : len(target) + 1] = target + [end_id]
    arrays = (source_array, decoder_array, label_array, source_lengths, target_lengths)

    # Bucketing hides the number of batches from tf.data, but it does not
    # depend on the order: ceil(pairs in bucket / batch_size) per bucket.
    lengths = [max(len(s), len(t) + 1) for s, t in zip(sources, targets)]
    buckets = np.bincount(
        np.searchsorted(boundaries, lengths, side="right"),
        minlength=len(boundaries) + 1,
    )
    batches = int(sum(-(-int(n) // batch_size) for n in buckets))

    def bucketed(examples, batch_shuffle_seed):
        """One pass of ``examples`` (rows of ``arrays``) as padded batches."""
        dataset = examples.map(
            lambda s, d, y, ls, lt: (s[:ls], d[:lt], y[:lt]),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        dataset = dataset.bucket_by_sequence_length(
            lambda s, d, y: tf.maximum(tf.shape(s)[0], tf.shape(d)[0]),
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            pad_to_bucket_boundary=False,
        )
        # Padding each side to a multiple of ``width`` leaves only a few batch
        # shapes (few retraces) and never goes past a model length that is
        # itself a multiple of ``width``.
        dataset = dataset.map(
            lambda s, d, y: (_pad_to_multiple(s, width), *_pad_pair(d, y, width))
        )
        if batch_shuffle_seed is not None:
            dataset = dataset.shuffle(
                64, seed=batch_shuffle_seed, reshuffle_each_iteration=True
            )
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
        return dataset.map(_to_inputs)

    tensors = tuple(tf.constant(array) for array in arrays)
    if shuffle:
        # In the training stream, the batch shuffle restarts with the same
        # seed in every pass; that is enough to mix the bucket lengths of
        # batches that differ from pass to pass (tf.data takes no tensor seed
        # once a global seed is set, so it cannot be drawn from the pass).
        return reshuffled_passes(
            tensors, seed, lambda pairs_in_order: bucketed(pairs_in_order, seed + 1)
        )
    dataset = tf.data.Dataset.from_tensor_slices(tensors)
    return bucketed(dataset, None).prefetch(tf.data.AUTOTUNE)


def _to_inputs(source, decoder, labels):
    return {"encoder_token_ids": source, "decoder_token_ids": decoder}, labels


def _pad_to_multiple(batch, width):
    import tensorflow as tf

    length = tf.shape(batch)[1]
    return tf.pad(batch, [[0, 0], [0, (width - length % width) % width]])


def _pad_pair(decoder, labels, width):
    return _pad_to_multiple(decoder, width), _pad_to_multiple(labels, width)
