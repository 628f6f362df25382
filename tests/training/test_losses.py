import keras
import numpy as np
import pytest

from training.losses import (
    MaskedSparseCategoricalAccuracy,
    MaskedSparseCategoricalCrossentropy,
    MixupAccuracy,
    MixupCrossentropy,
)

RNG = np.random.default_rng(0)
LABELS = np.array([[3, 1, 4, 0, 0], [2, 2, 0, 0, 0]], "int32")  # 0 = padding
LOGITS = RNG.normal(size=(2, 5, 6)).astype("float32")


def reference_loss(labels, logits, smoothing, pad_id=0):
    """Numpy: mean over real tokens of -sum(q * log_softmax)."""
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    classes = logits.shape[-1]
    targets = np.eye(classes)[labels] * (1 - smoothing) + smoothing / classes
    token_loss = -(targets * log_probs).sum(-1)
    mask = labels != pad_id
    return token_loss[mask].mean()


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_matches_smoothing_formula(smoothing):
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=smoothing)
    got = float(loss(LABELS, LOGITS))
    assert got == pytest.approx(reference_loss(LABELS, LOGITS, smoothing), rel=1e-5)


def test_padding_is_ignored():
    loss = MaskedSparseCategoricalCrossentropy()
    changed = LOGITS.copy()
    changed[LABELS == 0] = RNG.normal(size=(int((LABELS == 0).sum()), 6)) * 50
    assert float(loss(LABELS, changed)) == pytest.approx(float(loss(LABELS, LOGITS)))
    # Changing a real position does change it (the test can fail).
    changed[0, 0, 2] += 10.0
    assert float(loss(LABELS, changed)) != pytest.approx(float(loss(LABELS, LOGITS)))


def test_mean_over_real_tokens_not_positions():
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.0)
    uniform = np.zeros((1, 4, 8), "float32")
    labels = np.array([[5, 0, 0, 0]], "int32")
    # One real token with uniform logits: ln(8), not ln(8) / 4.
    assert float(loss(labels, uniform)) == pytest.approx(np.log(8), rel=1e-6)


def test_float16_logits_give_float32_loss():
    loss = MaskedSparseCategoricalCrossentropy()
    value = loss(LABELS, LOGITS.astype("float16"))
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    assert float(value) == pytest.approx(
        reference_loss(LABELS, LOGITS.astype("float16").astype("float32"), 0.1),
        rel=1e-5,
    )


def test_sample_weight_per_sequence():
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.0)
    weighted = float(loss(LABELS, LOGITS, sample_weight=np.array([1.0, 0.0])))
    assert weighted == pytest.approx(
        reference_loss(LABELS[:1], LOGITS[:1], 0.0), rel=1e-5
    )


def test_no_pad_id_counts_everything():
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.0, pad_id=None)
    expected = reference_loss(LABELS, LOGITS, 0.0, pad_id=-1)
    assert float(loss(LABELS, LOGITS)) == pytest.approx(expected, rel=1e-5)


def test_bad_smoothing():
    with pytest.raises(ValueError, match="Received: label_smoothing=1.0"):
        MaskedSparseCategoricalCrossentropy(label_smoothing=1.0)


def test_accuracy_counts_real_tokens_across_batches():
    metric = MaskedSparseCategoricalAccuracy()
    logits = np.full((2, 5, 6), -5.0, "float32")
    predicted = np.array([[3, 2, 4, 0, 0], [2, 5, 1, 1, 1]])  # 2 + 1 right
    np.put_along_axis(logits, predicted[..., None], 5.0, axis=-1)
    metric.update_state(LABELS, logits)
    assert float(metric.result()) == pytest.approx(3 / 5)
    # A second batch with 1 real token, right: (3 + 1) / (5 + 1).
    metric.update_state(np.array([[1, 0]]), np.eye(6)[[[1, 3]]].astype("float32"))
    assert float(metric.result()) == pytest.approx(4 / 6)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_configs_round_trip_and_save_load(tmp_path):
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.2, pad_id=-1)
    assert loss.get_config() == {
        "label_smoothing": 0.2,
        "pad_id": -1,
        "from_logits": True,
        "reduction": "mean_with_sample_weight",
        "name": "masked_sparse_categorical_crossentropy",
    }
    clone = MaskedSparseCategoricalCrossentropy.from_config(loss.get_config())
    assert clone.get_config() == loss.get_config()
    metric = MaskedSparseCategoricalAccuracy(pad_id=-1, name="acc")
    assert MaskedSparseCategoricalAccuracy.from_config(metric.get_config()).pad_id == -1

    tokens = keras.Input((5,), dtype="int32")
    x = keras.layers.Embedding(6, 4)(tokens)
    model = keras.Model(tokens, keras.layers.Dense(6)(x))
    model.compile("adam", loss=loss, metrics=[metric])
    labels = np.array([[1, 2, -1, -1, -1]] * 4, "int32")
    model.fit(np.ones((4, 5), "int32"), labels, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.loss, MaskedSparseCategoricalCrossentropy)
    assert loaded.loss.pad_id == -1 and loaded.loss.label_smoothing == 0.2
    before = model.evaluate(np.ones((4, 5), "int32"), labels, verbose=0)
    after = loaded.evaluate(np.ones((4, 5), "int32"), labels, verbose=0)
    np.testing.assert_allclose(after, before, rtol=1e-6)


def test_trains_with_fit_ignoring_padding():
    # Each real token t must predict 5 - t; padded positions carry label 0.
    tokens = keras.Input((4,), dtype="int32")
    x = keras.layers.Embedding(5, 16)(tokens)
    model = keras.Model(tokens, keras.layers.Dense(5)(x))
    model.compile(
        keras.optimizers.Adam(0.05),
        loss=MaskedSparseCategoricalCrossentropy(label_smoothing=0.0),
        metrics=[MaskedSparseCategoricalAccuracy()],
    )
    x = np.array([[1, 2, 3, 4], [4, 3, 0, 0]] * 8, "int32")
    y = np.where(x > 0, 5 - x, 0).astype("int32")  # token t -> 5 - t; pad -> 0
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["masked_accuracy"][-1] == 1.0
    assert history.history["loss"][-1] < 0.1


def test_mixup_crossentropy_takes_ids_and_mixed_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4)).astype("float32")
    ids = np.array([0, 3, 1, 1, 2, 3])
    other = np.array([2, 0, 1, 3, 3, 0])
    loss = MixupCrossentropy()
    sparse = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    expected = float(sparse(ids, logits))
    # Ids as (batch,) and (batch, 1), and their one-hot distributions.
    assert float(loss(ids, logits)) == pytest.approx(expected, rel=1e-6)
    assert float(loss(ids[:, None], logits)) == pytest.approx(expected, rel=1e-6)
    one_hot = np.eye(4, dtype="float32")
    assert float(loss(one_hot[ids], logits)) == pytest.approx(expected, rel=1e-6)
    # Cross-entropy is linear in the target: a 0.3/0.7 mix of two labels.
    mixed = 0.3 * one_hot[ids] + 0.7 * one_hot[other]
    blend = 0.3 * expected + 0.7 * float(sparse(other, logits))
    assert float(loss(mixed, logits)) == pytest.approx(blend, rel=1e-6)


def test_mixup_accuracy_scores_the_larger_share():
    logits = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]], "float32")
    one_hot = np.eye(3, dtype="float32")
    metric = MixupAccuracy()
    metric.update_state(np.array([0, 1, 0]), logits)
    assert float(metric.result()) == pytest.approx(2 / 3)
    metric.reset_state()
    # Targets: class 0 (0.6 share), class 0 (0.8), class 2 (0.55).
    mixed = np.stack(
        [
            0.6 * one_hot[0] + 0.4 * one_hot[1],
            0.8 * one_hot[0] + 0.2 * one_hot[1],
            0.45 * one_hot[1] + 0.55 * one_hot[2],
        ]
    )
    metric.update_state(mixed, logits)
    assert float(metric.result()) == pytest.approx(2 / 3)
    assert metric.name == "accuracy"


def test_mixup_loss_and_metric_survive_save_and_load(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    model.compile("adam", loss=MixupCrossentropy(), metrics=[MixupAccuracy()])
    x = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")
    mixed = np.full((8, 3), 1 / 3, "float32")
    model.fit(x, mixed, epochs=1, verbose=0)  # trained on distributions
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.loss, MixupCrossentropy)
    ids = np.arange(8) % 3  # evaluated on class ids
    before = model.evaluate(x, ids, verbose=0, return_dict=True)
    after = loaded.evaluate(x, ids, verbose=0, return_dict=True)
    assert set(after) == {"loss", "accuracy"}
    np.testing.assert_allclose(after["loss"], before["loss"], rtol=1e-6)


def test_class_ids_with_a_trailing_axis_score_as_without_it():
    # Labels (batch, 1), as Keras' datasets give them, broadcast against
    # logits (batch, classes) into a (batch, batch) loss: 6.98 instead of 1.37.
    logits = RNG.normal(size=(4, 5)).astype("float32")
    ids = np.array([1, 2, 3, 4], "int32")
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.0, pad_id=None)
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(ids, logits)
    assert float(loss(ids[:, None], logits)) == pytest.approx(float(expected))
    weights = np.array([1.0, 2.0, 1.0, 1.0], "float32")
    assert float(loss(ids[:, None], logits, sample_weight=weights[:, None])) == (
        pytest.approx(float(loss(ids, logits, sample_weight=weights)))
    )
    accuracy = MaskedSparseCategoricalAccuracy(pad_id=None)
    accuracy.update_state(ids[:, None], logits)
    hits = np.mean(np.argmax(logits, -1) == ids)
    assert float(accuracy.result()) == pytest.approx(hits)
    # And token labels (batch, length, 1).
    sequence_loss = MaskedSparseCategoricalCrossentropy()
    assert float(sequence_loss(LABELS[..., None], LOGITS)) == pytest.approx(
        float(sequence_loss(LABELS, LOGITS))
    )
