"""Dropout: Keras' layer, with Philox masks on TensorFlow CPUs (fast under XLA)."""

import keras
import numpy as np
import pytest

from zoo.layers import Dropout, MultiHeadAttention, TransformerEncoderBlock

tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the mask's algorithm is chosen on TensorFlow only",
)


def _train(layer, x):
    return keras.ops.convert_to_numpy(layer(x, training=True))


# Without a seed, PyTorch takes the zoo's own draw (see the layer's docstring).
@pytest.mark.parametrize("seed", [1, None])
def test_drops_the_rate_and_rescales_the_rest(seed):
    x = np.ones((200, 500), "float32")
    out = _train(Dropout(0.3, seed=seed), x)
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.7)}
    # 100,000 draws: the dropped share's standard deviation is 0.0015.
    assert abs(np.mean(out == 0) - 0.3) < 0.01


@pytest.mark.parametrize("seed", [4, None])
@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_drops_the_rate_exactly_in_half_precision_too(policy, seed):
    x = np.ones((2000, 2000), "float32")
    out = _train(Dropout(0.1, seed=seed, dtype=policy), x)
    # 4,000,000 draws: standard deviation 0.00015. A bfloat16 draw would
    # drop 13/128 = 0.1016, ten of them away.
    assert abs(np.mean(out == 0) - 0.1) < 0.0006


@pytest.mark.parametrize("seed", [2, None])
def test_noise_shape_shares_the_mask_along_its_ones(seed):
    x = np.ones((4, 50, 16), "float32")
    out = _train(Dropout(0.5, noise_shape=(None, 1, 16), seed=seed), x)
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1], out.shape))
    assert 0 < np.mean(out == 0) < 1


@pytest.mark.parametrize("noise_shape", [(None, 1, 16, 1), (None, 16)])
def test_a_noise_shape_of_another_rank_is_refused_by_name(noise_shape):
    layer = Dropout(0.5, noise_shape=noise_shape)
    with pytest.raises(ValueError, match=r"`noise_shape`.*expected 3.*received"):
        layer(np.ones((4, 50, 16), "float32"), training=True)


def test_same_seed_same_masks_and_each_call_draws_anew():
    x = np.ones((8, 64), "float32")
    first, second = Dropout(0.5, seed=7), Dropout(0.5, seed=7)
    a, b = _train(first, x), _train(second, x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(_train(first, x), a)


def test_is_the_identity_in_inference_and_at_rate_zero():
    x = np.random.default_rng(0).normal(size=(3, 6)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(Dropout(0.5)(x)), x)
    np.testing.assert_array_equal(_train(Dropout(0.0), x), x)
    np.testing.assert_array_equal(_train(Dropout(1.0), x), np.zeros_like(x))


def test_an_unknown_rng_algorithm_is_refused_by_name():
    layer = Dropout(0.1)
    with pytest.raises(ValueError, match=r"`rng_algorithm`.*'threefry'"):
        layer.rng_algorithm = "threefry"
    layer.rng_algorithm = "auto_select"
    assert layer.rng_algorithm == "auto_select"


def test_the_layers_drop_with_it():
    block = TransformerEncoderBlock(2, 16, dropout=0.1, attention_dropout=0.1)
    block(np.zeros((1, 3, 8), "float32"))
    assert isinstance(block.residual_dropout, Dropout)
    attention = block.self_attention
    assert isinstance(attention, MultiHeadAttention)
    assert isinstance(attention.dropout_layer, Dropout)


def _random_algorithms(layer, x, jit_compile):
    """The `alg` constants fed to the stateless uniform ops of a traced call."""
    import tensorflow as tf

    function = tf.function(lambda x: layer(x, training=True), jit_compile=jit_compile)
    graph = function.get_concrete_function(tf.constant(x)).graph
    algorithms = []
    for op in graph.get_operations():
        if op.type == "StatelessRandomUniformV2":
            algorithm = op.inputs[3].op  # (shape, key, counter, alg)
            algorithms.append(int(tf.get_static_value(algorithm.outputs[0])))
    return algorithms


@tensorflow_only
def test_masks_are_drawn_with_philox_on_a_cpu_with_or_without_xla():
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("with a GPU TensorFlow chooses the algorithm")
    x = np.ones((4, 8), "float32")
    philox = tf.random.Algorithm.PHILOX.value
    for jit_compile in (False, True):
        assert _random_algorithms(Dropout(0.2), x, jit_compile) == [philox]
    forced = Dropout(0.2)
    forced.rng_algorithm = "auto_select"
    auto = tf.random.Algorithm.AUTO_SELECT.value
    assert _random_algorithms(forced, x, jit_compile=True) == [auto]


@tensorflow_only
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_compiles_with_xla_in_every_compute_dtype(dtype):
    import tensorflow as tf

    layer = Dropout(0.5, seed=3, dtype=keras.DTypePolicy(dtype))
    step = tf.function(lambda x: layer(x, training=True), jit_compile=True)
    out = keras.ops.convert_to_numpy(
        keras.ops.cast(step(tf.ones((64, 64), dtype)), "float32")
    )
    assert set(np.unique(out)) == {0.0, 2.0}


@pytest.mark.skipif(
    keras.backend.backend() == "tensorflow", reason="Keras' own draw elsewhere"
)
def test_equals_keras_dropout_off_tensorflow():
    x = np.random.default_rng(0).normal(size=(6, 40)).astype("float32")
    ours = _train(Dropout(0.4, seed=5), x)
    theirs = _train(keras.layers.Dropout(0.4, seed=5), x)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.skipif(
    keras.backend.backend() != "torch", reason="PyTorch's global generator"
)
def test_unseeded_masks_on_torch_come_from_the_seed_generator():
    import torch

    # A backup restores the seed generator's state, not PyTorch's global one.
    layer = Dropout(0.3)
    x = np.ones((64, 100), "float32")
    state = keras.ops.convert_to_numpy(layer.seed_generator.state)
    torch.manual_seed(0)
    first = _train(layer, x)
    layer.seed_generator.state.assign(state)
    torch.manual_seed(1)
    np.testing.assert_array_equal(_train(layer, x), first)
    assert not np.array_equal(_train(layer, x), first)  # the state moved on
