"""Greedy and beam search over the key/value caches of a seq2seq model.

Both searches run in ``keras.ops`` on fixed-size buffers: the encoder input
is padded to the model's ``source_sequence_length`` and the output and the
self-attention caches have ``target_sequence_length`` positions, so one
compiled graph serves every call, every batch and every word length. The
loop stops early once every sequence has produced the end token.

Why not ``keras_hub.samplers``: ``GreedySampler`` and ``BeamSampler`` drive a
decoder-only ``next(prompt, cache, index)`` callback over one cache tensor and
a prompt buffer. ``BeamSampler`` has no length penalty and no notion of a
finished hypothesis (it keeps extending beams past the end token and ranks
raw log-probabilities), and neither sampler carries an encoder output or a
cross-attention cache. The loops here are short and do exactly that.

Any model with the ``Seq2SeqTransformer`` decoding interface works:
``encode(ids) -> (outputs, mask)``, ``init_caches(outputs) -> (self, cross)``,
``decode_logits(ids, index, self, cross, mask) -> (logits, self)`` and the
``source_sequence_length``/``target_sequence_length`` attributes.
"""

from __future__ import annotations

import functools
import math
import numbers
import threading

import keras
import numpy as np
from keras import ops

from zoo.batch_buckets import bucket_rows
from zoo.data.tokenizers import END_ID, PAD_ID, START_ID

_NEG_INF = -1e9

JAX_BATCH_STEP = 64
"""A JAX search's batch is padded to a power of two up to this, then a multiple."""


def _forbid(logits, ids):
    """Make ``ids`` impossible to choose (padding and start are never outputs)."""
    vocabulary = ops.shape(logits)[-1]
    banned = ops.sum(ops.one_hot(ops.convert_to_tensor(ids), vocabulary), axis=0) > 0
    return ops.where(banned[None, :], _NEG_INF, logits)


def _top_k(values, k):
    """``ops.top_k`` of the last axis; ``k`` rounds of max under JAX.

    JAX lowers ``top_k`` to a StableHLO composite newer than the one
    TensorFlow's ``XlaCallModule`` reads, so a beam search exported from JAX
    would fail to serve. On a CPU over (32, 4 × 8000) candidates a full sort
    is about 180 times slower than ``top_k`` and ``k`` rounds of argmax 18
    times; ``k`` rounds of a max and a min over positions take 3 times as
    long as ``top_k`` alone, and a whole beam search 1.09 times. Like
    ``top_k``, the lower index comes first among ties.
    """
    if keras.backend.backend() != "jax":
        return ops.top_k(values, k)
    size = ops.shape(values)[-1]
    positions = ops.arange(size, dtype="int32")
    # Raised to the lowest finite value, every candidate stays above the -inf
    # that marks a picked one, so none is picked twice.
    remaining = ops.maximum(values, np.finfo(values.dtype).min)
    indices = []
    for _ in range(k):
        best = ops.max(remaining, axis=-1, keepdims=True)
        index = ops.min(ops.where(remaining == best, positions, size), axis=-1)
        remaining = ops.where(positions == index[..., None], -np.inf, remaining)
        indices.append(index)
    order = ops.stack(indices, axis=-1)
    return ops.take_along_axis(values, order, axis=-1), order


def greedy_search(model, encoder_token_ids, start_id=START_ID, end_id=END_ID):
    """Pick the most likely token at each step, reusing the caches.

    Args:
        model: a model with the decoding interface (see the module doc).
        encoder_token_ids: (batch, source_sequence_length) int32 ids.
        start_id: the target vocabulary's start id.
        end_id: the target vocabulary's end id.

    Returns:
        (batch, target_sequence_length) int32 ids: the output tokens, the end
        token included, then padding (0).
    """
    length = model.target_sequence_length
    encoded, mask = model.encode(encoder_token_ids)
    self_caches, cross_caches = model.init_caches(encoded)
    batch = ops.shape(encoder_token_ids)[0]
    tokens = ops.concatenate(
        [
            ops.full((batch, 1), start_id, "int32"),
            ops.zeros((batch, length), "int32"),
        ],
        axis=1,
    )
    finished = ops.zeros((batch,), "bool")

    def cond(index, tokens, self_caches, finished):
        return ops.logical_and(index < length, ops.logical_not(ops.all(finished)))

    def body(index, tokens, self_caches, finished):
        current = ops.expand_dims(ops.take(tokens, index, axis=1), 1)
        logits, self_caches = model.decode_logits(
            current, index, self_caches, cross_caches, mask
        )
        logits = _forbid(logits, [PAD_ID, start_id])
        chosen = ops.cast(ops.argmax(logits, axis=-1), "int32")
        chosen = ops.where(finished, PAD_ID, chosen)
        tokens = ops.slice_update(tokens, [0, index + 1], chosen[:, None])
        finished = ops.logical_or(finished, ops.equal(chosen, end_id))
        return index + 1, tokens, self_caches, finished

    _, tokens, _, _ = ops.while_loop(
        cond, body, (ops.convert_to_tensor(0, "int32"), tokens, self_caches, finished)
    )
    return tokens[:, 1:]


def length_penalty_factor(lengths, alpha):
    """GNMT's length penalty ``((5 + length) / 6) ** alpha``."""
    return ops.power((5.0 + ops.cast(lengths, "float32")) / 6.0, alpha)


def beam_search(
    model,
    encoder_token_ids,
    beam_size=4,
    length_penalty=0.6,
    start_id=START_ID,
    end_id=END_ID,
):
    """Keep the ``beam_size`` best prefixes at each step, reusing the caches.

    Beams are ranked by their summed log-probability while searching; a beam
    that has produced the end token stays as it is (it only appends padding
    at no cost). The answer is the beam with the best score divided by
    ``length_penalty_factor(length, length_penalty)``: ``0`` ranks by raw
    log-probability, larger values favour longer outputs.

    Args:
        model: a model with the decoding interface (see the module doc).
        encoder_token_ids: (batch, source_sequence_length) int32 ids.
        beam_size: number of beams, a positive int (1 is greedy search).
        length_penalty: GNMT alpha, a non-negative float.
        start_id: the target vocabulary's start id.
        end_id: the target vocabulary's end id.

    Returns:
        (batch, target_sequence_length) int32 ids, as ``greedy_search``.
    """
    length = model.target_sequence_length
    batch = ops.shape(encoder_token_ids)[0]
    encoded, mask = model.encode(encoder_token_ids)
    # Every beam of an input shares its encoder output; beams are rows
    # b * beam_size + k of the flattened batch.
    encoded = ops.repeat(encoded, beam_size, axis=0)
    mask = ops.repeat(mask, beam_size, axis=0)
    self_caches, cross_caches = model.init_caches(encoded)
    rows = batch * beam_size
    tokens = ops.concatenate(
        [ops.full((rows, 1), start_id, "int32"), ops.zeros((rows, length), "int32")],
        axis=1,
    )
    # Only the first beam is alive at the start, or all beams would be equal.
    first_beam = ops.concatenate(
        [ops.zeros((1,), "float32"), ops.full((beam_size - 1,), _NEG_INF, "float32")]
    )
    scores = ops.tile(first_beam[None, :], (batch, 1))
    finished = ops.zeros((rows,), "bool")
    offsets = ops.repeat(ops.arange(batch, dtype="int32") * beam_size, beam_size)

    def cond(index, tokens, self_caches, scores, finished):
        return ops.logical_and(index < length, ops.logical_not(ops.all(finished)))

    def body(index, tokens, self_caches, scores, finished):
        current = ops.expand_dims(ops.take(tokens, index, axis=1), 1)
        logits, self_caches = model.decode_logits(
            current, index, self_caches, cross_caches, mask
        )
        vocabulary = ops.shape(logits)[-1]
        log_probs = ops.log_softmax(_forbid(logits, [PAD_ID, start_id]), axis=-1)
        # A finished beam may only append padding, which costs nothing.
        pad_only = ops.where(ops.arange(vocabulary) == PAD_ID, 0.0, _NEG_INF)
        log_probs = ops.where(finished[:, None], pad_only[None, :], log_probs)
        candidates = ops.reshape(scores, (rows, 1)) + log_probs
        candidates = ops.reshape(candidates, (batch, beam_size * vocabulary))
        scores, flat = _top_k(candidates, beam_size)
        flat = ops.cast(flat, "int32")
        source_rows = offsets + ops.reshape(flat // vocabulary, (rows,))
        chosen = ops.reshape(flat % vocabulary, (rows,))
        tokens = ops.take(tokens, source_rows, axis=0)
        self_caches = ops.take(self_caches, source_rows, axis=0)
        finished = ops.take(finished, source_rows, axis=0)
        tokens = ops.slice_update(tokens, [0, index + 1], chosen[:, None])
        finished = ops.logical_or(finished, ops.equal(chosen, end_id))
        return index + 1, tokens, self_caches, scores, finished

    _, tokens, _, scores, _ = ops.while_loop(
        cond,
        body,
        (ops.convert_to_tensor(0, "int32"), tokens, self_caches, scores, finished),
    )
    outputs = tokens[:, 1:]
    lengths = ops.sum(ops.cast(ops.not_equal(outputs, PAD_ID), "int32"), axis=-1)
    normalized = scores / ops.reshape(
        length_penalty_factor(lengths, length_penalty), (batch, beam_size)
    )
    best = offsets[::beam_size] + ops.cast(ops.argmax(normalized, axis=-1), "int32")
    return ops.take(outputs, best, axis=0)


class Decoder:
    """A search compiled once for a model and reused for every call.

    On TensorFlow the search is a ``tf.function`` with a fixed input
    signature (any batch, ``source_sequence_length`` ids), on JAX a
    ``jax.jit`` function (one compilation per batch-size bucket: powers of
    two to 64, then multiples of 64), on PyTorch eager
    without recording gradients. ``trace_count`` tells how many times it was
    traced (on PyTorch, run).

    Args:
        model: a model with the decoding interface (see the module doc).
        beam_size: 1 for greedy search, more for beam search.
        length_penalty: beam search's GNMT alpha.
        start_id: the target vocabulary's start id.
        end_id: the target vocabulary's end id.

    Examples:
        >>> from zoo.decoding import Decoder
        >>> decoder = Decoder(model, beam_size=4)  # doctest: +SKIP
        >>> decoder([[8, 5, 12, 12, 15]])  # doctest: +SKIP
        array([[14, 9, 22, 25, 3, 0, ...]], dtype=int32)
    """

    def __init__(
        self, model, beam_size=1, length_penalty=0.6, start_id=START_ID, end_id=END_ID
    ):
        # NumPy integers and reals are accepted, as Keras' own arguments are.
        if (
            isinstance(beam_size, bool)
            or not isinstance(beam_size, numbers.Integral)
            or beam_size < 1
        ):
            raise ValueError(
                f"beam_size must be a positive int; received {beam_size!r}"
            )
        if (
            isinstance(length_penalty, bool)
            or not isinstance(length_penalty, numbers.Real)
            or not math.isfinite(length_penalty)
            or length_penalty < 0
        ):
            raise ValueError(
                "length_penalty must be a finite non-negative number; received "
                f"{length_penalty!r}"
            )
        self.model = model
        self.beam_size = int(beam_size)
        self.length_penalty = float(length_penalty)
        self.start_id, self.end_id = start_id, end_id
        self.trace_count = 0
        # Serving code calls one decoder from many threads: the check for
        # replaced weights and the recompile it triggers must be one step.
        self._compile_lock = threading.Lock()
        self._variables = self._variable_ids()
        self._search = self._compile()

    def search(self, encoder_token_ids):
        """The uncompiled search; call it inside your own graph function."""
        self.trace_count += 1
        if self.beam_size == 1:
            return greedy_search(
                self.model, encoder_token_ids, self.start_id, self.end_id
            )
        return beam_search(
            self.model,
            encoder_token_ids,
            self.beam_size,
            self.length_penalty,
            self.start_id,
            self.end_id,
        )

    def _variable_ids(self):
        return tuple(id(variable) for variable in self.model.variables)

    def _current_search(self):
        """The compiled search over the model's current variables.

        `model.quantize` or `enable_lora` since the search was compiled
        replaced or added weights: the traced search would still read the
        old ones (a tf.function captures the variables it saw; the jax.jit
        takes the old list) and ignore the change, so it is compiled again.
        Under the lock, a thread that calls meanwhile waits for the new
        search instead of taking the old one, whose variable list was
        already marked current.
        """
        with self._compile_lock:
            variables = self._variable_ids()
            if variables != self._variables:
                self._search = self._compile()
                self._variables = variables
            return self._search

    def _compile(self):
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            spec = tf.TensorSpec([None, self.model.source_sequence_length], tf.int32)
            # TensorFlow counts traces by code object, over all decoders:
            # from the sixth (models, beam sizes) on, each first call warned
            # of "excessive retracing" although every decoder traced once. A
            # partial has no code object of its own, so each is counted alone.
            search = functools.partial(type(self).search, self)
            # Autograph is not needed (the loops are ops.while_loop) and it
            # mis-converts plain layer methods such as compute_cache.
            return tf.function(search, input_signature=[spec], autograph=False)
        if backend == "jax":
            return self._jax_search()
        if backend == "torch":
            import torch

            # Eager, so without this autograd would record every step.
            return torch.no_grad()(self.search)
        return self.search

    def _jax_search(self):
        """``jax.jit`` of the search that takes the model's weights as inputs.

        A jitted function of the model alone would bake the weights of its
        first call in as constants: after more training or a
        ``load_weights`` it would keep decoding with the old ones.
        """
        import jax

        variables = self.model.variables

        def stateless(values, encoder_token_ids):
            mapping = list(zip(variables, values))
            with keras.StatelessScope(state_mapping=mapping):
                return self.search(encoder_token_ids)

        compiled = jax.jit(stateless)
        return lambda ids: compiled([v.value for v in variables], ids)

    def pad(self, encoder_token_ids):
        """Pad a list of id lists (or an array) to (batch, source_sequence_length).

        Raises:
            ValueError: if the input is not a batch of id sequences, a
                sequence is longer than the model's ``source_sequence_length``
                or holds an id outside the source vocabulary.
        """
        limit = self.model.source_sequence_length
        rows = list(encoder_token_ids)
        if rows and np.ndim(rows[0]) == 0:
            raise ValueError(
                "encoder_token_ids must be a batch of id sequences (batch, "
                f"length); received one sequence {list(map(int, rows))}: wrap it "
                "in a list"
            )
        rows = [list(map(int, row)) for row in rows]
        padded = np.zeros((len(rows), limit), np.int32)
        for i, row in enumerate(rows):
            if len(row) > limit:
                raise ValueError(
                    f"input {i} has {len(row)} tokens; the model reads at most "
                    f"{limit} (its source_sequence_length)"
                )
            padded[i, : len(row)] = row
        self._check_ids(padded)
        return padded

    def _check_ids(self, padded):
        # JAX's embedding lookup clamps an id out of range and decodes
        # garbage without a word; TensorFlow and PyTorch fail inside it.
        backbone = getattr(self.model, "backbone", None)
        size = getattr(backbone, "source_vocabulary_size", None)
        bad = (padded < 0) | (padded >= size if size else False)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(
                f"input {i} has the id {padded[i, j]} at position {j}; expected "
                f"ids in [0, {size or 'vocabulary size'}) of the source vocabulary"
            )

    def __call__(self, encoder_token_ids):
        """Decode a batch; returns (batch, target_sequence_length) numpy ids."""
        padded = self.pad(encoder_token_ids)
        if len(padded) == 0:
            return np.zeros((0, self.model.target_sequence_length), np.int32)
        rows = len(padded)
        search = self._current_search()
        if keras.backend.backend() == "jax":
            # jax.jit compiles once per batch size (1 to 2 s for a tiny
            # model): batches of 1 to 64 inputs would compile 64 searches.
            # Rounded up to a few sizes, with copies of the first input (so
            # the extra rows end when it does), they compile at most 10 for
            # batches up to 256.
            padded = np.concatenate(
                [
                    padded,
                    np.repeat(
                        padded[:1], bucket_rows(rows, JAX_BATCH_STEP) - rows, axis=0
                    ),
                ]
            )
        outputs = np.array(ops.convert_to_numpy(search(padded)))[:rows]
        padded = padded[:rows]
        # An input without tokens has nothing to attend to: its output is
        # empty, as the families' decode gives, not what a fully masked
        # encoder happens to yield.
        outputs[(padded == PAD_ID).all(axis=1)] = PAD_ID
        return outputs
