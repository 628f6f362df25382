"""Decoder cross-attention over the input, for plots of what the model reads."""

import numpy as np
from keras import ops

from zoo.data.tokenizers import END_ID, START_ID


def greedy_cross_attention(model, source_ids):
    """Decode one input greedily and return its cross-attention map.

    Args:
        model: a ``Seq2SeqTransformer``.
        source_ids: list of the input's token ids.

    Returns:
        ``(output_ids, weights)``: the output ids (end token included) and a
        (outputs, inputs) array: the last decoder block's cross-attention,
        averaged over heads, for each output token. An empty input has
        nothing to attend to: ``([], (0, 0) array)``, as decoding gives it
        no output.

    Raises:
        ValueError: if ``source_ids`` holds more ids than the model reads.
    """
    source_ids = [int(i) for i in source_ids]
    limit = model.source_sequence_length
    if len(source_ids) > limit:
        raise ValueError(
            f"`source_ids` has {len(source_ids)} ids; expected at most the model's "
            f"source_sequence_length={limit}"
        )
    if not source_ids:
        return [], np.zeros((0, 0), np.float32)
    ids = np.zeros((1, limit), np.int32)
    ids[0, : len(source_ids)] = source_ids
    backbone = model.backbone
    encoded, mask = backbone.encode(ids)
    self_caches, cross_caches = backbone.init_caches(encoded)
    token, outputs, rows = START_ID, [], []
    for index in range(model.target_sequence_length):
        hidden, self_caches, scores = backbone.decode_step(
            np.array([[token]], np.int32),
            index,
            self_caches,
            cross_caches,
            mask,
            return_attention_scores=True,
        )
        logits = ops.convert_to_numpy(model.project(hidden))[0, 0]
        logits[[0, START_ID]] = -np.inf
        token = int(logits.argmax())
        outputs.append(token)
        rows.append(ops.convert_to_numpy(scores)[0, :, 0, : len(source_ids)].mean(0))
        if token == END_ID:
            break
    return outputs, np.stack(rows)
