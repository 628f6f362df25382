"""zoo.data.bucketing: length-bucketed teacher-forcing batches of real CMUdict pairs."""

import numpy as np
import pytest

from zoo.data.bucketing import seq2seq_dataset


@pytest.fixture(scope="module")
def pairs():
    """Id pairs of 120 real CMUdict entries: letters to phonemes."""
    from zoo.data.cmudict import read_pronunciations

    words = read_pronunciations()
    entries = [(w, words[w][0]) for w in sorted(words)[::1000][:120]]
    phones = sorted({p for _, r in entries for p in r.split()})
    return [
        (
            [ord(c) % 60 + 3 for c in word],
            [phones.index(p) + 3 for p in reading.split()],
        )
        for word, reading in entries
    ]


def labels_of(batches):
    return [labels for _, labels in batches.as_numpy_iterator()]


def test_training_stream_entered_at_a_pass_continues_as_the_whole_stream(pairs):
    dataset = seq2seq_dataset(pairs, 16, 1, 2, shuffle=True, seed=4)
    steps = int(dataset.cardinality())
    whole = labels_of(dataset.stream_from_pass(0).take(3 * steps))
    for expected, got in zip(
        whole[2 * steps :], labels_of(dataset.stream_from_pass(2).take(steps))
    ):
        np.testing.assert_array_equal(got, expected)
    # Every pair once a pass (each labelled by its target + end), in a new order.
    expected_targets = sorted(tuple(t) + (2,) for _, t in pairs)
    passes = []
    for k in range(3):
        rows = [row for b in whole[k * steps : (k + 1) * steps] for row in b]
        passes.append([tuple(int(i) for i in row if i) for row in rows])
        assert sorted(passes[-1]) == expected_targets
    assert passes[0] != passes[1] != passes[2]


def test_only_training_data_has_a_stream(pairs):
    assert not hasattr(seq2seq_dataset(pairs, 16, 1, 2), "stream_from_pass")


def test_training_stream_builds_under_a_global_seed(pairs):
    # As `training.fit(seed=...)` sets one before it asks for the stream.
    import keras

    keras.utils.set_random_seed(1)
    dataset = seq2seq_dataset(pairs, 16, 1, 2, shuffle=True, seed=4)
    first = labels_of(dataset.stream_from_pass(3).take(2))
    again = labels_of(dataset.stream_from_pass(3).take(2))
    for expected, got in zip(first, again):
        np.testing.assert_array_equal(got, expected)


def test_a_batch_larger_than_the_data_is_one_batch_of_it(pairs):
    # 10**12 made tf.data's bucketing allocate for it: std::bad_alloc.
    whole = labels_of(seq2seq_dataset(pairs, len(pairs), 1, 2))
    huge = labels_of(seq2seq_dataset(pairs, 10**12, 1, 2))
    assert len(huge) == len(whole)
    for expected, got in zip(whole, huge):
        np.testing.assert_array_equal(got, expected)
