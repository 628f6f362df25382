"""Attention-mask helpers shared by every attention layer.

All masks are boolean with ``True`` meaning "may attend". The one merge
function below is the only place where implicit Keras masks, padding masks,
explicit attention masks and causal masks are combined, so every layer
treats them the same way.
"""

from keras import ops
from keras.src.backend.common.masking import get_keras_mask

from zoo.layers.validation import known_size


def implicit_mask(x):
    """The Keras mask attached to ``x`` (e.g. by ``mask_zero=True``), or None."""
    return get_keras_mask(x)


def _static_dim(tensor, axis):
    return known_size(tensor.shape[axis])


def check_mask_shape(mask, expected, argument, axis_names):
    """Raise ``ValueError`` if ``mask`` does not have the ``expected`` shape.

    ``expected`` may hold ``None`` for dimensions that are unknown or free;
    the message names those by ``axis_names``. Only statically known
    dimensions are compared.
    """
    if mask is None:
        return
    received = tuple(mask.shape)
    mismatch = len(received) != len(expected) or any(
        e is not None and known_size(r) is not None and known_size(r) != e
        for e, r in zip(expected, received)
    )
    if mismatch:
        axes = [name if e is None else str(e) for e, name in zip(expected, axis_names)]
        raise ValueError(
            f"`{argument}` must have shape ({', '.join(axes)}); received shape "
            f"{received}."
        )


def check_padding_mask(mask, query, length, argument):
    """Raise ``ValueError`` unless ``mask`` is (batch, length), batch as ``query``'s.

    ``length`` is the masked sequence's, which may be unknown (None).
    """
    expected = (_static_dim(query, 0), known_size(length))
    check_mask_shape(mask, expected, argument, ("batch", "length"))


def check_attention_mask(mask, query, source_length, argument):
    """Raise ``ValueError`` unless ``mask`` is (batch, target, source_length)."""
    expected = (_static_dim(query, 0), _static_dim(query, 1), known_size(source_length))
    check_mask_shape(mask, expected, argument, ("batch", "target", "source"))


def causal_mask(query_length, key_length, offset=0):
    """Boolean (query_length, key_length) mask: query i sees keys j <= i + offset.

    ``offset`` is the absolute position of the first query, which is the
    cache index during incremental decoding.
    """
    rows = ops.expand_dims(ops.arange(query_length), 1) + ops.cast(offset, "int32")
    cols = ops.expand_dims(ops.arange(key_length), 0)
    return ops.greater_equal(rows, cols)


def merge_attention_masks(
    query,
    key,
    query_mask=None,
    key_mask=None,
    attention_mask=None,
    use_causal_mask=False,
    causal_offset=0,
):
    """Merge every kind of mask into one boolean (batch, target, source) mask.

    The masks' shapes are the caller's to check (``check_padding_mask``,
    ``check_attention_mask``), since only it knows the names its user gave them.

    Args:
        query: the (batch, target, ...) query tensor; its shape sets the target
            length.
        key: the (batch, source, ...) key tensor; its shape sets the source
            length.
        query_mask: optional (batch, target) padding mask of the queries.
        key_mask: optional (batch, source) padding mask of the keys.
        attention_mask: optional (batch, target, source) mask.
        use_causal_mask: whether query ``i`` may only see keys ``<= i + offset``.
        causal_offset: absolute position of the first query (cache index).

    Returns:
        A boolean tensor of shape (batch, target, source), or ``None`` when no
        mask applies.
    """
    mask = None
    if attention_mask is not None:
        mask = ops.cast(attention_mask, "bool")
    if query_mask is not None:
        rows = ops.expand_dims(ops.cast(query_mask, "bool"), 2)
        mask = rows if mask is None else ops.logical_and(mask, rows)
    if key_mask is not None:
        cols = ops.expand_dims(ops.cast(key_mask, "bool"), 1)
        mask = cols if mask is None else ops.logical_and(mask, cols)
    if use_causal_mask:
        causal = causal_mask(ops.shape(query)[1], ops.shape(key)[1], causal_offset)
        causal = ops.expand_dims(causal, 0)
        mask = causal if mask is None else ops.logical_and(mask, causal)
    if mask is None:
        return None
    # Broadcast the partial masks (b, t, 1), (b, 1, s), (1, t, s) to full size.
    full_shape = (ops.shape(query)[0], ops.shape(query)[1], ops.shape(key)[1])
    return ops.broadcast_to(mask, full_shape)
