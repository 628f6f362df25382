"""Multi-head scaled dot-product attention with an explicit key/value cache."""

import math

import keras
from keras import ops

from zoo.layers.cache_index import python_cache_index
from zoo.layers.call_arguments import call_arguments
from zoo.layers.dropout import Dropout
from zoo.layers.masking import (
    check_attention_mask,
    check_padding_mask,
    implicit_mask,
    merge_attention_masks,
)
from zoo.layers.quantized_policies import add_quantized_policies
from zoo.layers.rotary_embedding import RotaryEmbedding
from zoo.layers.validation import (
    check_positive_int,
    check_rank,
    check_rate,
    freeze_new_sublayers,
    known_size,
)


@keras.saving.register_keras_serializable(package="zoo")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention from "Attention Is All You Need".

    ``softmax(Q K^T / sqrt(d_k)) V`` in several heads followed by an output
    projection. The weights have the same layout as
    ``keras.layers.MultiHeadAttention``, so weights move between the two with
    ``set_weights``. Without dropout in training and without returned scores it
    runs through ``keras.ops.dot_product_attention`` on JAX and PyTorch, which
    gives them their fused kernels; on TensorFlow it writes the same products
    out (see ``use_fused_attention``). Softmax always runs in float32.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key. Defaults to the query's
            feature size divided by ``num_heads`` (which must divide evenly).
        value_dim: size of each head for value. Defaults to ``key_dim``.
        output_dim: size of the output features. Defaults to the query's
            feature size.
        dropout: dropout rate on the attention probabilities.
        use_bias: whether the projections have biases.
        use_rotary_embedding: rotate queries and keys by their positions
            (RoFormer) before the dot product.
        rotary_max_wavelength: the longest wavelength of the rotary embedding.
        kernel_initializer: initializer for the projection kernels.
        bias_initializer: initializer for the projection biases.
        seed: seed of the attention dropout.

    Call arguments:
        query: (batch, target, features).
        value: (batch, source, features). Defaults to ``query`` (self-attention).
        key: (batch, source, features). Defaults to ``value``.
        query_mask: (batch, target) boolean padding mask; defaults to the
            implicit Keras mask of ``query``.
        value_mask: (batch, source) boolean padding mask; defaults to the
            implicit Keras mask of ``value``.
        attention_mask: (batch, target, source) boolean mask.
        use_causal_mask: query ``i`` only attends keys ``<= i`` (offset by
            ``cache_update_index`` when decoding with a cache).
        return_attention_scores: also return the (batch, heads, target, source)
            attention probabilities.
        cache: (batch, 2, max_length, heads, key_dim) keys and values of
            earlier steps, as returned by a previous call or by
            ``compute_cache``.
        cache_update_index: where the keys and values of this call's ``value``
            go in ``cache``. ``None`` reads ``cache`` as it is (cross-attention
            over a precomputed encoder cache).
        training: whether dropout is active.

    Returns:
        ``output``, followed by ``scores`` when ``return_attention_scores`` and
        by the updated ``cache`` when a cache was passed. Outputs at padded
        query positions attend nothing and are not meaningful.

    Examples:
        >>> import keras
        >>> from zoo.layers import MultiHeadAttention
        >>> layer = MultiHeadAttention(num_heads=2)
        >>> x = keras.random.normal((3, 5, 8))
        >>> tuple(layer(x, use_causal_mask=True).shape)
        (3, 5, 8)
    """

    def __init__(
        self,
        num_heads,
        key_dim=None,
        value_dim=None,
        output_dim=None,
        dropout=0.0,
        use_bias=True,
        use_rotary_embedding=False,
        rotary_max_wavelength=10000,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(num_heads, "num_heads")
        for name, value in (
            ("key_dim", key_dim),
            ("value_dim", value_dim),
            ("output_dim", output_dim),
        ):
            if value is not None:
                check_positive_int(value, name)
        check_rate(dropout, "dropout")
        if use_rotary_embedding and key_dim is not None and key_dim % 2:
            raise ValueError(
                "`key_dim` must be even with `use_rotary_embedding=True` (rotary "
                f"embeddings turn pairs of features); received key_dim={key_dim}."
            )
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim
        self.output_dim = output_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.use_rotary_embedding = use_rotary_embedding
        self.rotary_max_wavelength = rotary_max_wavelength
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed = seed
        self.supports_masking = True

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        for name, shape in (
            ("query", query_shape),
            ("value", value_shape),
            ("key", key_shape),
        ):
            check_rank(shape, 3, name, "(batch, length, features)")
        query_features = query_shape[-1]
        if self.key_dim is None and query_features % self.num_heads != 0:
            raise ValueError(
                "The query's hidden size must be divisible by `num_heads`; "
                f"received hidden size {query_features} and "
                f"num_heads={self.num_heads}."
            )
        self._key_dim = self.key_dim or query_features // self.num_heads
        if self.use_rotary_embedding and self._key_dim % 2:
            raise ValueError(
                "With `use_rotary_embedding=True` the head size (the query's "
                "hidden size over `num_heads` when `key_dim` is not given) must "
                f"be even; received hidden size {query_features} and "
                f"num_heads={self.num_heads}, a head size of {self._key_dim}."
            )
        self._value_dim = self.value_dim or self._key_dim
        self._output_dim = self.output_dim or query_features
        # The sizes each projection contracts, kept for `_project`: reading
        # them off `dense.kernel` would merge a LoRA kernel once more per call.
        self._query_features = query_features
        self._key_features = key_shape[-1]
        self._value_features = value_shape[-1]

        # The projections see the (batch, length) axes flattened into one
        # (`_project`): the weights are those of Keras' (batch, length, ...)
        # equations, but the kernel gradient is then one matrix product over
        # all tokens. TensorFlow differentiates the 3-D equation as one small
        # product per sequence followed by a sum over the batch, which is
        # slower (docs/speed.md).
        def projection(name, head_dim, input_shape):
            layer = keras.layers.EinsumDense(
                "ac,cde->ade",
                output_shape=(self.num_heads, head_dim),
                bias_axes="de" if self.use_bias else None,
                kernel_initializer=self.kernel_initializer,
                bias_initializer=self.bias_initializer,
                dtype=self.dtype_policy,
                name=name,
            )
            layer.build((None, input_shape[-1]))
            return layer

        self.query_dense = projection("query", self._key_dim, query_shape)
        self.key_dense = projection("key", self._key_dim, key_shape)
        self.value_dense = projection("value", self._value_dim, value_shape)
        self.output_dense = keras.layers.EinsumDense(
            "acd,cde->ae",
            output_shape=(self._output_dim,),
            bias_axes="e" if self.use_bias else None,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name="attention_output",
        )
        self.output_dense.build((None, self.num_heads, self._value_dim))
        self.dropout_layer = Dropout(
            self.dropout,
            seed=self.seed,
            dtype=self.dtype_policy,
            name="attention_dropout",
        )
        # Built here, so that `model.quantize` (which wants every layer
        # built) works before the first call.
        self.dropout_layer.build((None, self.num_heads, None, None))
        self.rotary = None
        if self.use_rotary_embedding:
            self.rotary = RotaryEmbedding(
                max_wavelength=self.rotary_max_wavelength,
                dtype=self.dtype_policy,
                name="rotary_embedding",
            )
            self.rotary.build((None, None, self.num_heads, self._key_dim))
        freeze_new_sublayers(self)
        self.built = True

    def compute_cache(self, value, key=None):
        """Project ``value`` (and ``key``) once into a (batch, 2, S, heads, dim) cache.

        Cross-attention during decoding reads the encoder's keys and values
        from this cache at every step instead of projecting them again.
        """
        key = value if key is None else key
        k = _project(self.key_dense, key, self._key_features)
        v = _project(self.value_dense, value, self._value_features)
        return ops.stack([k, v], axis=1)

    def __call__(self, *args, **kwargs):
        kwargs = python_cache_index(kwargs, "cache_update_index")
        return super().__call__(*args, **kwargs)

    def call(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        value = query if value is None else value
        key = value if key is None else key
        self._check_call_arguments(
            query,
            value,
            key,
            query_mask,
            value_mask,
            attention_mask,
            cache,
            cache_update_index,
        )
        if query_mask is None:
            query_mask = implicit_mask(query)
        if value_mask is None and cache is None:
            # With a cache the keys span the whole cache, not ``value``.
            value_mask = implicit_mask(value)

        position = 0 if cache_update_index is None else cache_update_index
        # Cross-attention over a precomputed cache projects the queries only.
        reads_cache = cache is not None and cache_update_index is None
        if not reads_cache and key is query and value is query and self._fusable():
            q, k, v = self._project_query_key_value(query)
        else:
            q = _project(self.query_dense, query, self._query_features)
            if not reads_cache:
                k = _project(self.key_dense, key, self._key_features)
                v = _project(self.value_dense, value, self._value_features)
        if cache is None:
            if self.rotary is not None:
                k = self.rotary(k)
        elif reads_cache:
            k, v = cache[:, 0], cache[:, 1]
        else:
            if self.rotary is not None:
                k = self.rotary(k, start_index=cache_update_index)
            # One in-place update of the new positions; rebuilding the cache
            # from separately updated keys and values copies all of it.
            update = ops.stack([k, v], axis=1)
            start = [0, 0, cache_update_index, 0, 0]
            cache = ops.slice_update(cache, start, ops.cast(update, cache.dtype))
            k, v = cache[:, 0], cache[:, 1]
        if self.rotary is not None:
            q = self.rotary(q, start_index=position)

        mask = merge_attention_masks(
            q,
            k,
            query_mask=query_mask,
            key_mask=value_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            causal_offset=position,
        )
        output, scores = self._attend(q, k, v, mask, return_attention_scores, training)
        output = _project(self.output_dense, output, (self.num_heads, self._value_dim))

        results = (output,)
        if return_attention_scores:
            results += (scores,)
        if cache is not None:
            results += (cache,)
        return results[0] if len(results) == 1 else results

    def _check_call_arguments(
        self,
        query,
        value,
        key,
        query_mask,
        value_mask,
        attention_mask,
        cache,
        cache_index,
    ):
        """Raise ``ValueError`` for what ``call`` cannot use, naming the argument.

        Only statically known sizes are compared; traced ones pass.
        """
        inputs = [("query", query, self._query_features)]
        if cache is None or cache_index is not None:  # not only reading a cache
            inputs += [
                ("value", value, self._value_features),
                ("key", key, self._key_features),
            ]
        for name, tensor, features in inputs:
            if known_size(tensor.shape[-1]) not in (None, features):
                raise ValueError(
                    f"`{name}` must have {features} features, as when this layer "
                    f"was built; received shape {tuple(tensor.shape)}."
                )
        if cache is None and cache_index is not None:
            raise ValueError(
                "`cache_update_index` needs a `cache`; received "
                f"cache=None and cache_update_index={cache_index}."
            )
        # With a cache the keys span all of it.
        source = known_size(key.shape[1] if cache is None else cache.shape[2])
        check_padding_mask(query_mask, query, query.shape[1], "query_mask")
        check_padding_mask(value_mask, query, source, "value_mask")
        check_attention_mask(attention_mask, query, source, "attention_mask")
        # A traced index cannot be checked, and an index past the end would
        # silently write the last positions on some backends.
        if isinstance(cache_index, int) and source is not None:
            new = known_size(query.shape[1]) or 1
            if not 0 <= cache_index <= source - new:
                raise ValueError(
                    f"`cache_update_index` must be in [0, {source - new}] to write "
                    f"{new} position(s) into a cache of {source}; received "
                    f"cache_update_index={cache_index}."
                )

    def _fusable(self):
        # A quantized projection keeps its kernel in another form; it goes
        # through its own layer.
        denses = (self.query_dense, self.key_dense, self.value_dense)
        return all(dense.quantization_mode is None for dense in denses)

    def _project_query_key_value(self, inputs):
        """Self-attention's queries, keys and values from one matrix product.

        The three kernels side by side make one product three times as wide
        (and one in the gradient), which keeps the cores busier than three
        narrow ones. The weights stay in the three projection layers.
        """
        denses = (self.query_dense, self.key_dense, self.value_dense)
        features = self._query_features
        kernel = ops.concatenate(
            [ops.reshape(dense.kernel, (features, -1)) for dense in denses], axis=-1
        )
        outputs = ops.matmul(
            ops.reshape(inputs, (-1, features)), ops.cast(kernel, self.compute_dtype)
        )
        if self.use_bias:
            bias = ops.concatenate([ops.reshape(dense.bias, (-1,)) for dense in denses])
            outputs = outputs + ops.cast(bias, self.compute_dtype)
        key_width = self.num_heads * self._key_dim
        parts = ops.split(outputs, [key_width, 2 * key_width], axis=-1)
        # Sizes, not -1: TensorFlow would not know the head size otherwise.
        batch, length = ops.shape(inputs)[0], ops.shape(inputs)[1]
        head_dims = (self._key_dim, self._key_dim, self._value_dim)
        return tuple(
            ops.reshape(part, (batch, length, self.num_heads, head_dim))
            for part, head_dim in zip(parts, head_dims)
        )

    # Whether the attention core goes through `keras.ops.dot_product_attention`;
    # None decides by backend. On TensorFlow that op has no fused kernel: it
    # writes out the same products, but first builds a boolean tensor the
    # size of the scores to combine the masks (`tf.ones_like`), and runs
    # them as `tf.einsum` kernels, slower on a CPU than the transposes and
    # batched products `keras.ops.einsum` makes of them. Without XLA,
    # the op made training steps 6% slower for the G2P `small` preset and 10%
    # for the ViT's `hybrid_28_cpu` (benchmarks/attention_core.py). Set it on
    # an instance to force a path.
    _use_fused_attention = None

    @property
    def use_fused_attention(self):
        """True or False forces the attention core's path; None picks by backend."""
        return self._use_fused_attention

    @use_fused_attention.setter
    def use_fused_attention(self, value):
        if value is not None and not isinstance(value, bool):
            raise ValueError(
                f"`use_fused_attention` must be True, False or None; received {value!r}"
            )
        self._use_fused_attention = value

    def _fused_attention(self):
        if self.use_fused_attention is not None:
            return self.use_fused_attention
        if keras.backend.backend() == "jax" and self.compute_dtype == "float16":
            # XLA's CPU backend has no float16 kernel for the fused op
            # ("F16_F16_F32 not supported by dot_general"); GPUs have one.
            import jax

            return jax.default_backend() != "cpu"
        return keras.backend.backend() != "tensorflow"

    def _attend(self, q, k, v, mask, return_scores, training):
        scale = 1.0 / math.sqrt(self._key_dim)
        dropout_active = bool(training) and self.dropout > 0.0
        # The fused kernels need equal key and value head sizes.
        fused = self._fused_attention() and self._key_dim == self._value_dim
        if fused and not (return_scores or dropout_active):
            output = ops.dot_product_attention(
                q,
                k,
                v,
                mask=None if mask is None else ops.expand_dims(mask, 1),
                scale=scale,
            )
            return output, None

        # Explicit path: needed for the probabilities themselves, to drop some
        # of them, for unequal head sizes, and TensorFlow's (above). The mask
        # broadcasts over the heads. Logits and softmax run in float32 so that masked
        # positions (a large negative number) cannot overflow float16.
        logits = ops.einsum("btnh,bsnh->bnts", q, k)
        logits = ops.cast(logits, "float32") * scale
        if mask is not None:
            logits = ops.where(ops.expand_dims(mask, 1), logits, -1e9)
        probs = ops.softmax(logits, axis=-1)
        dropped = self.dropout_layer(
            ops.cast(probs, self.compute_dtype), training=training
        )
        output = ops.einsum("bnts,bsnh->btnh", dropped, v)
        return output, ops.cast(probs, self.compute_dtype)

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        output_dim = self.output_dim or query_shape[-1]
        return (query_shape[0], query_shape[1], output_dim)

    def compute_output_spec(self, *args, **kwargs):
        # A call on `keras.Input`s returns what an eager call returns: Keras
        # would build it from `compute_output_shape`, which knows the first
        # output only. Bad arguments fail here, when the model is built.
        given = call_arguments(MultiHeadAttention.call, self, *args, **kwargs)
        query, cache = given["query"], given["cache"]
        value = query if given["value"] is None else given["value"]
        key = value if given["key"] is None else given["key"]
        self._check_call_arguments(
            query,
            value,
            key,
            given["query_mask"],
            given["value_mask"],
            given["attention_mask"],
            cache,
            given["cache_update_index"],
        )
        scores = given["return_attention_scores"]
        specs = self.output_specs(query, value, scores, cache)
        results = tuple(spec for spec in specs if spec is not None)
        return results[0] if len(results) == 1 else results

    def output_specs(self, query, value, return_attention_scores=False, cache=None):
        """``keras.KerasTensor``s of a call's (output, scores, cache).

        Scores and cache are None where the call returns none.
        """
        output_shape = self.compute_output_shape(query.shape)
        output = keras.KerasTensor(output_shape, dtype=self.compute_dtype)
        scores = None
        if return_attention_scores:
            source = value.shape[1] if cache is None else cache.shape[2]
            scores = keras.KerasTensor(
                (query.shape[0], self.num_heads, query.shape[1], source),
                dtype=self.compute_dtype,
            )
        if cache is not None:
            cache = keras.KerasTensor(cache.shape, dtype=cache.dtype)
        return output, scores, cache

    def get_config(self):
        config = super().get_config()
        # Quantized sublayers are rebuilt in their policies from a map.
        add_quantized_policies(config, self)
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "output_dim": self.output_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "use_rotary_embedding": self.use_rotary_embedding,
                "rotary_max_wavelength": self.rotary_max_wavelength,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "seed": self.seed,
            }
        )
        return config


def _project(dense, inputs, contracted):
    """Apply a token-wise ``dense`` to (batch, length, *contracted) ``inputs``.

    The two leading axes go into one for the product and come back after it.
    ``contracted`` (an int or a tuple) gives the sizes of the other axes, as a
    traced ``inputs`` may not know them.
    """
    batch, length = ops.shape(inputs)[0], ops.shape(inputs)[1]
    if isinstance(contracted, int):
        contracted = (contracted,)
    outputs = dense(ops.reshape(inputs, (-1, *contracted)))
    return ops.reshape(outputs, (batch, length, *outputs.shape[1:]))
