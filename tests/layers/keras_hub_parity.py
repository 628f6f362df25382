"""Copy weights from zoo blocks into keras-hub's blocks to compare outputs."""


def copy_attention(ours, theirs):
    # zoo.layers.MultiHeadAttention keeps keras.layers.MultiHeadAttention's
    # weight layout and order: query, key, value, output (kernel, bias each).
    theirs.set_weights(ours.get_weights())


def copy_block(ours, theirs):
    """Copy a zoo encoder/decoder block's weights into keras-hub's twin."""
    copy_attention(ours.self_attention, theirs._self_attention_layer)
    pairs = [
        (ours.self_attention_norm, theirs._self_attention_layer_norm),
        (ours.feedforward_norm, theirs._feedforward_layer_norm),
        (ours.feedforward_intermediate, theirs._feedforward_intermediate_dense),
        (ours.feedforward_output, theirs._feedforward_output_dense),
    ]
    if getattr(ours, "cross_attention", None) is not None:
        copy_attention(ours.cross_attention, theirs._cross_attention_layer)
        pairs.append((ours.cross_attention_norm, theirs._cross_attention_layer_norm))
    for mine, hub in pairs:
        hub.set_weights(mine.get_weights())
