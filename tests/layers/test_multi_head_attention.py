"""Behaviour of MultiHeadAttention beyond the shared layer contract."""

import collections

import keras
import numpy as np
import pytest

from tests.layers.symbolic_outputs import as_tuple, assert_spec_fits
from zoo.layers import MultiHeadAttention, TokenAndPositionEmbedding

RNG = np.random.default_rng(7)


def floats(*shape):
    return RNG.normal(size=shape).astype("float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def built_pair(
    num_heads=2,
    key_dim=4,
    value_dim=None,
    output_dim=None,
    query_dim=8,
    value_features=8,
):
    """A zoo and a Keras attention layer holding the same weights."""
    reference = keras.layers.MultiHeadAttention(
        num_heads, key_dim, value_dim=value_dim, output_shape=output_dim
    )
    ours = MultiHeadAttention(
        num_heads, key_dim=key_dim, value_dim=value_dim, output_dim=output_dim
    )
    query, value = floats(2, 5, query_dim), floats(2, 7, value_features)
    # Keras' fused path fails on JAX for unequal key and value head sizes;
    # asking for the scores takes its explicit path on every backend.
    reference(query, value, return_attention_scores=True)
    ours(query, value)
    ours.set_weights(reference.get_weights())
    return ours, reference, query, value


@pytest.mark.parametrize(
    "shape_options",
    [{}, {"key_dim": 3, "value_dim": 5, "output_dim": 6, "value_features": 4}],
)
@pytest.mark.parametrize("mask_kind", ["none", "attention", "padding", "causal"])
@pytest.mark.parametrize("fused_core", [True, False])
def test_matches_keras_multi_head_attention(shape_options, mask_kind, fused_core):
    ours, reference, query, value = built_pair(**shape_options)
    # Both paths of the attention core, whichever the backend takes by default.
    ours.use_fused_attention = fused_core
    kwargs = {}
    if mask_kind == "attention":
        kwargs["attention_mask"] = RNG.random((2, 5, 7)) > 0.3
    elif mask_kind == "padding":
        kwargs["query_mask"] = np.array([[1, 1, 1, 0, 0], [1] * 5], bool)
        kwargs["value_mask"] = np.array([[1, 1, 1, 1, 0, 0, 0], [1] * 7], bool)
    elif mask_kind == "causal":
        kwargs["use_causal_mask"] = True
    # Rows of padded queries attend nothing; what they hold is unspecified
    # (Keras itself differs there between its fused and explicit paths).
    rows = kwargs.get("query_mask", np.ones((2, 5), bool))
    expected, expected_scores = reference(
        query, value, return_attention_scores=True, **kwargs
    )
    fused = ours(query, value, **kwargs)
    np.testing.assert_allclose(numpy(fused)[rows], numpy(expected)[rows], atol=1e-5)
    got, scores = ours(query, value, return_attention_scores=True, **kwargs)
    np.testing.assert_allclose(numpy(got)[rows], numpy(expected)[rows], atol=1e-5)
    np.testing.assert_allclose(
        numpy(scores).transpose(0, 2, 1, 3)[rows],
        numpy(expected_scores).transpose(0, 2, 1, 3)[rows],
        atol=1e-5,
    )


def test_the_core_uses_keras_fused_op_except_on_tensorflow(monkeypatch):
    calls = []
    fused_op = keras.ops.dot_product_attention

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return fused_op(*args, **kwargs)

    monkeypatch.setattr(keras.ops, "dot_product_attention", spy)
    ours, _, query, value = built_pair()
    mask = np.array([[1, 1, 1, 1, 0, 0, 0], [1] * 7], bool)
    fused_by_default = keras.backend.backend() != "tensorflow"
    by_default = ours(query, value, value_mask=mask)
    assert bool(calls) == fused_by_default
    calls.clear()
    ours.use_fused_attention = not fused_by_default
    forced = ours(query, value, value_mask=mask)
    assert bool(calls) == (not fused_by_default)
    np.testing.assert_allclose(numpy(forced), numpy(by_default), atol=1e-5)


@pytest.mark.parametrize("value", ["no", 0, 1.0])
def test_use_fused_attention_takes_only_true_false_or_none(value):
    layer = MultiHeadAttention(2)
    with pytest.raises(ValueError, match=r"`use_fused_attention`.*received"):
        layer.use_fused_attention = value
    assert layer.use_fused_attention is None


def one_training_step(layer, inputs, targets):
    """Weights of ``layer`` after one SGD step on its self-attention of ``inputs``."""
    source = keras.Input(inputs.shape[1:])
    model = keras.Model(source, layer(source, source))
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    model.train_on_batch(inputs, targets)
    return model.get_weights()


def test_self_attention_takes_one_product_and_trains_like_keras(monkeypatch):
    reference = keras.layers.MultiHeadAttention(2, 4)
    ours = MultiHeadAttention(2)
    x, targets = floats(2, 5, 8), floats(2, 5, 8)
    reference(x, x)
    ours(x, x)
    ours.set_weights(reference.get_weights())
    np.testing.assert_allclose(numpy(ours(x, x)), numpy(reference(x, x)), atol=1e-5)

    fused = []
    project = MultiHeadAttention._project_query_key_value

    def spy(layer, inputs):
        fused.append(inputs.shape)
        return project(layer, inputs)

    monkeypatch.setattr(MultiHeadAttention, "_project_query_key_value", spy)
    expected = one_training_step(reference, x, targets)
    got = one_training_step(ours, x, targets)
    assert fused, "self-attention did not take the fused query/key/value product"
    # The same gradients: the same weights after a step of rate 1.
    for ours_weight, keras_weight in zip(got, expected):
        np.testing.assert_allclose(ours_weight, keras_weight, atol=1e-5)


def test_quantized_projections_skip_the_fused_product():
    source = keras.Input((5, 8))
    layer = MultiHeadAttention(2)
    model = keras.Model(source, layer(source, source))
    model.quantize("int8")
    # A tensor, not an array: each argument would convert an array apart.
    x = keras.ops.convert_to_tensor(floats(2, 5, 8))
    # A copy of the query is another tensor, so it goes through each
    # projection layer; the same tensor must do so too once they are int8.
    separate = layer(x, keras.ops.copy(x))
    np.testing.assert_allclose(numpy(layer(x, x)), numpy(separate), atol=1e-6)


def lora_pair(rng, rank=2):
    """A zoo and a Keras attention layer with the same LoRA-adapted weights."""
    x = rng.normal(size=(2, 5, 8)).astype("float32")
    reference, ours = keras.layers.MultiHeadAttention(2, 4), MultiHeadAttention(2)
    reference(x, x)
    ours(x, x)
    for layer in (reference._query_dense, reference._value_dense):
        layer.enable_lora(rank)
        # Adapters away from their zero start, so that they count.
        layer.lora_kernel_b.assign(rng.normal(size=layer.lora_kernel_b.shape))
    ours.query_dense.enable_lora(rank)
    ours.value_dense.enable_lora(rank)
    ours.set_weights(reference.get_weights())
    return ours, reference, x


def test_lora_adapters_act_and_train_as_on_keras_attention():
    rng = np.random.default_rng(11)
    ours, reference, x = lora_pair(rng)
    targets = rng.normal(size=x.shape).astype("float32")
    x = keras.ops.convert_to_tensor(x)  # one tensor: the fused self-attention
    np.testing.assert_allclose(numpy(ours(x, x)), numpy(reference(x, x)), atol=1e-5)
    expected = one_training_step(reference, x, targets)
    got = one_training_step(ours, x, targets)
    for ours_weight, keras_weight in zip(got, expected):
        np.testing.assert_allclose(ours_weight, keras_weight, atol=1e-5)


def test_lora_adapted_attention_saves_merged_and_reloads(tmp_path):
    ours, _, x = lora_pair(np.random.default_rng(13))
    source = keras.Input(x.shape[1:])
    model = keras.Model(source, ours(source, source))
    model.save(tmp_path / "lora.keras")
    # Keras saves each adapted kernel with its adapters merged in.
    reloaded = keras.saving.load_model(tmp_path / "lora.keras")
    np.testing.assert_allclose(numpy(reloaded(x)), numpy(model(x)), atol=1e-5)


@pytest.mark.parametrize("attention", ["self", "cross"])
def test_each_projection_reads_its_kernel_once_per_call(attention, monkeypatch):
    # With LoRA, reading `kernel` merges the adapters into it: a product.
    ours, _, x = lora_pair(np.random.default_rng(12))
    x = keras.ops.convert_to_tensor(x)
    value = x if attention == "self" else keras.ops.copy(x)
    reads = collections.Counter()
    kernel = keras.layers.EinsumDense.kernel

    def counted(layer):
        reads[layer.name] += 1
        return kernel.fget(layer)

    monkeypatch.setattr(keras.layers.EinsumDense, "kernel", property(counted))
    ours(x, value)
    assert reads == {"query": 1, "key": 1, "value": 1, "attention_output": 1}


def test_causal_mask_hides_future_tokens():
    layer = MultiHeadAttention(num_heads=2)
    x = floats(2, 6, 8)
    changed = x.copy()
    changed[:, 4:] = floats(2, 2, 8)
    before = numpy(layer(x, use_causal_mask=True))
    after = numpy(layer(changed, use_causal_mask=True))
    np.testing.assert_allclose(after[:, :4], before[:, :4], atol=1e-6)
    assert not np.allclose(after[:, 4:], before[:, 4:])


def test_padded_keys_do_not_change_valid_outputs():
    layer = MultiHeadAttention(num_heads=2)
    query, value = floats(2, 5, 8), floats(2, 7, 8)
    value_mask = np.array([[1] * 4 + [0] * 3, [1] * 6 + [0]], bool)
    changed = value.copy()
    changed[0, 4:] = 100.0
    changed[1, 6:] = -50.0
    before = numpy(layer(query, value, value_mask=value_mask))
    after = numpy(layer(query, changed, value_mask=value_mask))
    np.testing.assert_allclose(after, before, atol=1e-5)
    unmasked = numpy(layer(query, changed))
    assert not np.allclose(unmasked, before, atol=1e-3)


def test_implicit_keras_mask_from_mask_zero_embedding_is_used():
    embedding = TokenAndPositionEmbedding(30, 8, 8, mask_zero=True)
    layer = MultiHeadAttention(num_heads=2)
    ids = np.array([[4, 5, 6, 0, 0]], "int32")
    other_padding = np.array([[4, 5, 6, 9, 9]], "int32")
    explicit_mask = ids != 0

    implicit = numpy(layer(embedding(ids)))
    explicit = numpy(
        layer(
            embedding(other_padding), query_mask=explicit_mask, value_mask=explicit_mask
        )
    )
    np.testing.assert_allclose(implicit[:, :3], explicit[:, :3], atol=1e-5)


@pytest.mark.parametrize("rotary", [False, True])
def test_cached_incremental_decoding_equals_full_causal_pass(rotary):
    layer = MultiHeadAttention(num_heads=2, use_rotary_embedding=rotary)
    x = floats(2, 6, 8)
    full = numpy(layer(x, use_causal_mask=True))
    cache = np.zeros((2, 2, 6, 2, 4), "float32")
    steps = []
    for index in range(6):
        out, cache = layer(
            x[:, index : index + 1],
            cache=cache,
            cache_update_index=index,
            use_causal_mask=True,
        )
        steps.append(numpy(out))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


def test_cross_attention_cache_equals_projecting_the_encoder_again():
    layer = MultiHeadAttention(num_heads=2)
    query, encoder = floats(2, 3, 8), floats(2, 7, 8)
    mask = np.array([[1] * 5 + [0] * 2, [1] * 7], bool)
    expected = numpy(layer(query, encoder, value_mask=mask))
    cache = layer.compute_cache(encoder)
    got, returned_cache = layer(query, cache=cache, value_mask=mask)
    np.testing.assert_allclose(numpy(got), expected, atol=1e-5)
    np.testing.assert_array_equal(numpy(returned_cache), numpy(cache))


def test_float16_masks_do_not_overflow():
    reference = MultiHeadAttention(num_heads=2)
    half = MultiHeadAttention(num_heads=2, dtype="mixed_float16")
    # Its own generator: float16's error depends on the draw, and the shared
    # generator's state on which tests ran before.
    rng = np.random.default_rng(7)
    query = rng.normal(size=(2, 5, 8)).astype("float32") * 30.0  # large logits
    mask = np.zeros((2, 5, 5), bool)
    mask[:, :, :2] = True
    expected = numpy(reference(query, attention_mask=mask))
    half(query, attention_mask=mask)
    half.set_weights(reference.get_weights())
    for scores in (False, True):
        out = half(query, attention_mask=mask, return_attention_scores=scores)
        out = numpy(keras.ops.cast(out[0] if scores else out, "float32"))
        assert np.all(np.isfinite(out))
        np.testing.assert_allclose(out, expected, rtol=5e-2, atol=5e-2)


def test_dropout_is_active_only_in_training():
    layer = MultiHeadAttention(num_heads=2, dropout=0.5, seed=3)
    x = floats(2, 5, 8)
    np.testing.assert_array_equal(numpy(layer(x)), numpy(layer(x, training=False)))
    assert not np.allclose(numpy(layer(x, training=True)), numpy(layer(x)))


def test_hidden_size_not_divisible_by_heads_is_rejected():
    with pytest.raises(ValueError, match=r"num_heads=3.*|hidden size 8"):
        MultiHeadAttention(num_heads=3)(floats(1, 4, 8))


@pytest.mark.parametrize(
    "argument, mask",
    [
        ("attention_mask", np.ones((2, 5, 6), bool)),
        ("attention_mask", np.ones((2, 5), bool)),
        ("value_mask", np.ones((2, 5), bool)),
        ("value_mask", np.ones((3, 7), bool)),
        ("query_mask", np.ones((2, 7), bool)),
    ],
)
def test_mask_of_the_wrong_shape_is_rejected(argument, mask):
    layer = MultiHeadAttention(num_heads=2)
    with pytest.raises(ValueError) as error:
        layer(floats(2, 5, 8), floats(2, 7, 8), **{argument: mask})
    # Keras appends the call's arguments to the message: look at its first line.
    message = str(error.value).split("Arguments received")[0]
    assert f"`{argument}` must have shape (2, " in message
    assert f"received shape {tuple(mask.shape)}" in message


def test_a_value_mask_is_checked_against_the_value_not_the_query():
    # The value's length is unknown when the model is built: nothing to check
    # the mask against (the query's length is another sequence's).
    query, value = keras.Input((5, 8)), keras.Input((None, 8))
    value_mask = keras.Input((7,), dtype="bool")
    outputs = MultiHeadAttention(num_heads=2)(query, value, value_mask=value_mask)
    model = keras.Model([query, value, value_mask], outputs)
    got = model([floats(2, 5, 8), floats(2, 7, 8), np.ones((2, 7), bool)])
    assert tuple(got.shape) == (2, 5, 8)


def test_a_bad_mask_fails_when_the_functional_model_is_built():
    query, value = keras.Input((5, 8)), keras.Input((7, 8))
    with pytest.raises(ValueError, match=r"`value_mask` must have shape \(batch, 7\)"):
        MultiHeadAttention(num_heads=2)(query, value, value_mask=keras.Input((5,)))


@pytest.mark.parametrize("scores", [False, True])
@pytest.mark.parametrize("cached", [False, True])
def test_symbolic_calls_return_what_eager_calls_return(scores, cached):
    layer = MultiHeadAttention(num_heads=2)
    arrays = [floats(3, 1, 8)] + ([floats(3, 2, 6, 2, 4)] if cached else [])
    symbolic_inputs = [keras.Input((None, 8))]
    symbolic_inputs += [keras.Input((2, 6, 2, 4))] if cached else []

    def attend(query, cache=None):
        index = 2 if cached else None
        return layer(
            query,
            cache=cache,
            cache_update_index=index,
            return_attention_scores=scores,
        )

    eager = as_tuple(attend(*arrays))
    symbolic = as_tuple(attend(*symbolic_inputs))
    served = as_tuple(keras.Model(symbolic_inputs, symbolic)(arrays))
    assert len(eager) == len(symbolic) == len(served) == 1 + scores + cached
    for want, spec, got in zip(eager, symbolic, served):
        assert_spec_fits(spec, want)
        np.testing.assert_allclose(numpy(got), numpy(want), atol=1e-6)


def test_inputs_must_keep_the_feature_size_of_build():
    layer = MultiHeadAttention(num_heads=2)
    layer(floats(2, 5, 8), floats(2, 7, 6))
    with pytest.raises(ValueError, match=r"`value` must have 6 features.*\(2, 7, 8\)"):
        layer(floats(2, 5, 8), floats(2, 7, 8))
    # Reading a precomputed cache needs no `value`: the query alone is checked.
    cache = layer.compute_cache(floats(2, 7, 6))
    output, _ = layer(floats(2, 5, 8), cache=cache)
    assert tuple(output.shape) == (2, 5, 8)
    with pytest.raises(ValueError, match=r"`query` must have 8 features.*\(2, 5, 4\)"):
        layer(floats(2, 5, 4))


@pytest.mark.parametrize("index", [-1, 5, 6, np.int64(5), np.int32(-1)])
def test_a_cache_index_past_the_cache_is_rejected(index):
    layer = MultiHeadAttention(num_heads=2)
    cache = np.zeros((1, 2, 6, 2, 4), "float32")
    layer(floats(1, 2, 8), cache=cache, cache_update_index=4)  # the last fit
    with pytest.raises(
        ValueError, match=rf"`cache_update_index` must be in \[0, 4\].*{index}"
    ):
        layer(floats(1, 2, 8), cache=cache, cache_update_index=index)


def test_rotary_needs_an_even_head_size():
    with pytest.raises(ValueError, match="`key_dim` must be even.*key_dim=3"):
        MultiHeadAttention(num_heads=2, key_dim=3, use_rotary_embedding=True)
    with pytest.raises(ValueError, match="hidden size 6 and num_heads=2"):
        MultiHeadAttention(num_heads=2, use_rotary_embedding=True)(floats(1, 3, 6))


def test_wrong_rank_is_rejected():
    with pytest.raises(ValueError, match=r"`query` must have rank 3.*\(2, 8\)"):
        MultiHeadAttention(num_heads=2)(floats(2, 8))


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_heads": 0}, "num_heads"),
        ({"num_heads": 2, "dropout": 1.5}, "dropout"),
        ({"num_heads": 2, "key_dim": -1}, "key_dim"),
    ],
)
def test_bad_constructor_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        MultiHeadAttention(**kwargs)


def test_cache_index_without_cache_is_rejected():
    with pytest.raises(ValueError, match="cache_update_index"):
        MultiHeadAttention(num_heads=2)(floats(1, 4, 8), cache_update_index=0)


def test_float16_trains_on_this_device():
    """mixed_float16 in a compiled training step, as `zoo train` runs it.

    Under JAX on a CPU, XLA has no float16 kernel for the fused op
    ("F16_F16_F32 not supported by dot_general"): the layer takes the
    explicit path there.
    """
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 5, 8)).astype("float32")
    inputs = keras.Input((5, 8))
    attended = MultiHeadAttention(num_heads=2, dtype="mixed_float16")(inputs, inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, dtype="float32")(attended))
    model.compile("adam", "mse")
    history = model.fit(x, x[..., :1], epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
