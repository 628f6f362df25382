"""Batch sizes rounded up to a few buckets, so compiled functions are reused.

A ``jax.jit`` function compiles once per input shape (1 to 2 s for a tiny
model) and a ``tf.function`` may trace once per shape: calls with 1 to 64
inputs would compile 64 times. Padded to a bucket, at most a handful of
shapes ever reach them, and at most half of a padded batch is wasted.
"""


def bucket_rows(rows, step):
    """``rows`` rounded up to a power of two up to ``step``, then to a multiple of it.

    Examples:
        >>> from zoo.batch_buckets import bucket_rows
        >>> [bucket_rows(rows, 32) for rows in (1, 3, 32, 33, 65)]
        [1, 4, 32, 64, 96]
    """
    if rows <= step:
        return 1 << (rows - 1).bit_length()
    return -(-rows // step) * step
