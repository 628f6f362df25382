import keras
import numpy as np
import pytest

from training.optimizers import exclude_no_decay_variables, make_optimizer


class LearnedPositionEmbedding(keras.layers.Layer):
    """A custom embedding layer: 2-D table, not a keras.layers.Embedding."""

    def build(self, input_shape):
        self.table = self.add_weight(
            shape=(input_shape[1], input_shape[2]), initializer="ones", name="table"
        )

    def call(self, x):
        return x + self.table


class Scale(keras.layers.Layer):
    """A custom layer with a 2-D kernel and a 1-D scale."""

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], input_shape[-1]), initializer="ones", name="w"
        )
        self.scale = self.add_weight(
            shape=(input_shape[-1],), initializer="ones", name="s"
        )

    def call(self, x):
        return keras.ops.matmul(x, self.kernel) * self.scale


class PatchEmbeddingLike(keras.layers.Layer):
    """A composite embedding: a Dense projection sublayer and its own token."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.projection = keras.layers.Dense(8, name="projection")

    def build(self, input_shape):
        self.projection.build(input_shape)
        self.class_token = self.add_weight(
            shape=(1, 1, 8), initializer="ones", name="class_token"
        )

    def call(self, x):
        return self.projection(x) + self.class_token


def mixed_model():
    tokens = keras.Input((5,), dtype="int32")
    x = keras.layers.Embedding(20, 8, name="tok")(tokens)
    x = LearnedPositionEmbedding(name="pos")(x)
    x = keras.layers.LayerNormalization(name="ln")(x)
    x = keras.layers.Dense(8, name="proj")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = Scale(name="custom")(x)
    x = PatchEmbeddingLike(name="patches")(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    return keras.Model(tokens, outputs)


# Variable paths that must decay; every other trainable variable must not.
DECAYED = {"proj/kernel", "custom/w", "patches/projection/kernel", "head/kernel"}


def decay_once(model, optimizer):
    """One apply_gradients with zero gradients; returns {path: changed?}."""
    for variable in model.trainable_variables:
        # Non-zero values so that decay is visible.
        variable.assign(keras.ops.ones(variable.shape) * 0.5)
    before = {v.path: keras.ops.convert_to_numpy(v) for v in model.trainable_variables}
    zeros = [keras.ops.zeros(v.shape) for v in model.trainable_variables]
    optimizer.apply_gradients(zip(zeros, model.trainable_variables))
    return {
        v.path: not np.allclose(keras.ops.convert_to_numpy(v), before[v.path])
        for v in model.trainable_variables
    }


def test_model_based_exclusion_decays_only_matrices():
    model = mixed_model()
    optimizer = make_optimizer(0.1, weight_decay=0.5, model=model)
    changed = decay_once(model, optimizer)
    assert {path for path, moved in changed.items() if moved} == DECAYED
    # Adam's update is 0 for a zero gradient, so the change is exactly decay.
    kernel = model.get_layer("head").kernel
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(kernel), 0.5 * (1 - 0.5 * 0.1), rtol=1e-6
    )


def test_exclude_no_decay_variables_returns_excluded():
    model = mixed_model()
    optimizer = keras.optimizers.AdamW(0.1, weight_decay=0.5)
    excluded = exclude_no_decay_variables(optimizer, model)
    paths = {v.path for v in excluded}
    assert "tok/embeddings" in paths and "pos/table" in paths
    assert "custom/s" in paths and "ln/gamma" in paths and "bn/beta" in paths
    assert "patches/class_token" in paths
    assert not paths & DECAYED


def test_name_based_fallback_without_model():
    model = mixed_model()
    optimizer = make_optimizer(0.1, weight_decay=0.5)
    changed = decay_once(model, optimizer)
    moved = {path for path, flag in changed.items() if flag}
    # Names catch the standard layers; custom 1-D and 2-D weights still decay.
    assert {
        "tok/embeddings",
        "ln/gamma",
        "ln/beta",
        "bn/gamma",
        "head/bias",
    }.isdisjoint(moved)
    assert DECAYED <= moved


def test_no_weight_decay_moves_nothing():
    model = mixed_model()
    optimizer = make_optimizer(0.1, weight_decay=0.0, model=model)
    assert not any(decay_once(model, optimizer).values())


def test_settings():
    optimizer = make_optimizer(1e-3)
    assert isinstance(optimizer, keras.optimizers.AdamW)
    assert optimizer.global_clipnorm == 1.0 and optimizer.clipnorm is None
    assert optimizer.beta_2 == 0.98 and optimizer.epsilon == 1e-9
    assert optimizer.weight_decay == 0.01
    with pytest.raises(ValueError, match="Received: clipnorm=0"):
        make_optimizer(1e-3, clipnorm=0)
    with pytest.raises(ValueError, match="Received: weight_decay=-1"):
        make_optimizer(1e-3, weight_decay=-1)


def test_gradients_are_clipped_by_global_norm():
    # Adam's step hides gradient scale, so check what the update is fed: Keras
    # clips in `_clip_gradients` before `update_step`.
    optimizer = make_optimizer(1.0, clipnorm=1.0)
    clipped = optimizer._clip_gradients(
        [keras.ops.array([300.0, 0.0]), keras.ops.array([400.0])]
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clipped[0]), [0.6, 0.0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clipped[1]), [0.8])
