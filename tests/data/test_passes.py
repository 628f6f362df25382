"""zoo.data.passes: streams whose passes are functions of their index."""

import numpy as np
import pytest
import tensorflow as tf

from zoo.data.passes import PassStream, pass_order, reshuffled_passes


def index_batches(pass_index):
    return tf.data.Dataset.from_tensor_slices(pass_order(10, 3, pass_index)).batch(4)


def take(stream, count):
    return [batch for batch in stream.take(count).as_numpy_iterator()]


def test_a_stream_entered_at_a_pass_continues_as_the_whole_stream():
    stream = PassStream(index_batches)
    whole = take(stream(0), 9)  # 10 examples in batches of 4: 3 a pass
    for expected, got in zip(whole[6:], take(stream(2), 3)):
        np.testing.assert_array_equal(got, expected)
    passes = [np.concatenate(whole[i : i + 3]) for i in (0, 3, 6)]
    for order in passes:
        np.testing.assert_array_equal(np.sort(order), np.arange(10))
    assert len({tuple(order) for order in passes}) == 3


def test_per_batch_work_gets_batch_numbers_that_count_from_pass_zero():
    stream = PassStream(
        index_batches, per_batch=lambda number, batch: (number, batch), steps_per_pass=3
    )
    numbers = [number for number, _ in take(stream(2), 4)]
    assert numbers == [6, 7, 8, 9]
    plain = take(PassStream(index_batches)(2), 4)
    for (_, batch), expected in zip(take(stream(2), 4), plain):
        np.testing.assert_array_equal(batch, expected)


def test_pass_orders_are_seeded_by_pass():
    first = pass_order(50, 1, 0).numpy()
    np.testing.assert_array_equal(first, pass_order(50, 1, 0).numpy())
    assert not np.array_equal(first, pass_order(50, 1, 1).numpy())
    assert not np.array_equal(first, pass_order(50, 2, 0).numpy())


def test_bad_arguments_are_named():
    stream = PassStream(index_batches)
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="`first_pass` must be a non-negative"):
            stream(bad)
    with pytest.raises(ValueError, match="`steps_per_pass` must be given"):
        PassStream(index_batches, per_batch=lambda n, b: b)


def test_reshuffled_passes_keep_the_parts_of_each_element_together():
    ids = tf.range(10, dtype=tf.int64)
    dataset = reshuffled_passes((ids, ids * 10), 7, lambda d: d.batch(4))
    finite = [np.concatenate(p) for p in zip(*dataset.as_numpy_iterator())]
    streamed = [np.concatenate(p) for p in zip(*take(dataset.stream_from_pass(1), 3))]
    for first, tens in (finite, streamed):
        np.testing.assert_array_equal(tens, first * 10)
        np.testing.assert_array_equal(np.sort(first), np.arange(10))
    assert int(dataset.cardinality()) == 3
