import keras
import numpy as np
import pytest

from tests.training.conftest import tiny_regressor
from training.schedules import InverseSqrtSchedule, WarmupSchedule, make_schedule


def values(schedule, steps):
    return np.array([float(schedule(step)) for step in steps])


def test_inverse_sqrt_matches_formula():
    schedule = InverseSqrtSchedule(d_model=512, warmup_steps=4000, scale=2.0)
    steps = np.array([0, 1, 10, 3999, 4000, 4001, 10_000, 100_000])
    s = steps + 1.0
    expected = 2.0 * 512**-0.5 * np.minimum(s**-0.5, s * 4000**-1.5)
    np.testing.assert_allclose(values(schedule, steps), expected, rtol=1e-5)
    # Step 0 is finite and the peak sits at the end of warm-up.
    assert np.isfinite(float(schedule(0)))
    peak = values(schedule, [3998, 3999, 4000])
    assert peak[1] == pytest.approx(2.0 * (512 * 4000) ** -0.5, rel=1e-5)
    assert peak[0] < peak[1] and peak[2] < peak[1]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"d_model": 0}, "d_model"),
        ({"d_model": -8}, "d_model"),
        ({"d_model": 64, "warmup_steps": 0}, "warmup_steps"),
        ({"d_model": 64, "scale": 0.0}, "scale"),
    ],
)
def test_inverse_sqrt_rejects_non_positive(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`.*Received: {name}="):
        InverseSqrtSchedule(**kwargs)


def test_warmup_then_cosine():
    cosine = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=100)
    schedule = WarmupSchedule(cosine, warmup_steps=10, initial_learning_rate=1e-4)
    steps = np.array([0, 5, 9, 10, 11, 60, 110, 200])
    got = values(schedule, steps)
    warm = 1e-4 + (1e-3 - 1e-4) * steps[:3] / 10
    after = [float(cosine(s - 10)) for s in steps[3:]]
    np.testing.assert_allclose(got, np.concatenate([warm, after]), rtol=1e-5)
    np.testing.assert_allclose(got[-1], 0.0, atol=1e-9)


def test_warmup_then_linear_decay_and_constant():
    linear = keras.optimizers.schedules.PolynomialDecay(
        2e-3, decay_steps=20, end_learning_rate=0.0
    )
    schedule = WarmupSchedule(linear, warmup_steps=4)
    np.testing.assert_allclose(
        values(schedule, [0, 2, 4, 14, 24, 50]),
        [0.0, 1e-3, 2e-3, 1e-3, 0.0, 0.0],
        atol=1e-9,
    )
    constant = WarmupSchedule(5e-4, warmup_steps=5)
    np.testing.assert_allclose(
        values(constant, [0, 1, 5, 1000]), [0.0, 1e-4, 5e-4, 5e-4], rtol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"after": 1e-3, "warmup_steps": 0}, "warmup_steps"),
        ({"after": 1e-3, "warmup_steps": -3}, "warmup_steps"),
        ({"after": "cosine", "warmup_steps": 3}, "after"),
        (
            {"after": 1e-3, "warmup_steps": 3, "initial_learning_rate": -1.0},
            "initial_learning_rate",
        ),
    ],
)
def test_warmup_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"Received: {name}="):
        WarmupSchedule(**kwargs)


def test_config_keys_equal_init_arguments():
    inverse = InverseSqrtSchedule(64, warmup_steps=10, scale=0.5)
    assert set(inverse.get_config()) == {"d_model", "warmup_steps", "scale"}
    cosine = keras.optimizers.schedules.CosineDecay(1e-3, 50)
    warm = WarmupSchedule(cosine, warmup_steps=7, initial_learning_rate=1e-5)
    config = warm.get_config()
    assert set(config) == {"after", "warmup_steps", "initial_learning_rate"}
    clone = WarmupSchedule.from_config(config)
    assert isinstance(clone.after, keras.optimizers.schedules.CosineDecay)
    steps = [0, 3, 7, 30, 57]
    np.testing.assert_allclose(values(clone, steps), values(warm, steps))


@pytest.mark.parametrize(
    "schedule",
    [
        InverseSqrtSchedule(d_model=16, warmup_steps=3, scale=0.1),
        WarmupSchedule(
            keras.optimizers.schedules.CosineDecay(0.01, decay_steps=20),
            warmup_steps=3,
        ),
        WarmupSchedule(
            keras.optimizers.schedules.PolynomialDecay(0.01, decay_steps=20),
            warmup_steps=3,
        ),
    ],
    ids=["inverse_sqrt", "warmup_cosine", "warmup_linear"],
)
def test_schedule_survives_keras_save_load(tmp_path, regression_data, schedule):
    x, y = regression_data
    model = tiny_regressor()
    model.compile(optimizer=keras.optimizers.AdamW(schedule), loss="mse")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    # `_learning_rate` holds the schedule; `learning_rate` is its current value.
    original = model.optimizer._learning_rate
    restored = loaded.optimizer._learning_rate
    assert type(restored) is type(original)
    steps = [0, 1, 2, 3, 4, 10, 25]
    np.testing.assert_allclose(values(restored, steps), values(original, steps))
    assert int(loaded.optimizer.iterations) == 4
    np.testing.assert_allclose(
        float(loaded.optimizer.learning_rate), float(original(4)), rtol=1e-6
    )


class RecordLearningRate(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        self.rates = getattr(self, "rates", [])
        optimizer = self.model.optimizer
        self.rates.append((int(optimizer.iterations), float(optimizer.learning_rate)))


def test_optimizer_receives_schedule_values_during_fit(regression_data):
    x, y = regression_data
    schedule = WarmupSchedule(
        keras.optimizers.schedules.CosineDecay(0.01, decay_steps=8), warmup_steps=4
    )
    model = tiny_regressor()
    model.compile(optimizer=keras.optimizers.AdamW(schedule), loss="mse")
    recorder = RecordLearningRate()
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[recorder])
    iterations = [step for step, _ in recorder.rates]
    assert iterations == list(range(12))
    rates = np.array([rate for _, rate in recorder.rates])
    np.testing.assert_allclose(rates, values(schedule, iterations), rtol=1e-6)
    # The warm-up really rises and the decay really falls.
    assert rates[0] == 0.0 and rates[4] == pytest.approx(0.01)
    assert rates[-1] < rates[5]


def test_make_schedule():
    assert make_schedule("constant", 1e-3) == 1e-3
    cosine = make_schedule("cosine", 1e-3, warmup_steps=10, decay_steps=90)
    assert isinstance(cosine, WarmupSchedule)
    assert float(cosine(10)) == pytest.approx(1e-3)
    assert float(cosine(100)) == pytest.approx(0.0, abs=1e-9)
    linear = make_schedule("linear", 1e-3, decay_steps=10)
    assert float(linear(5)) == pytest.approx(5e-4)
    inverse = make_schedule("inverse_sqrt", 2.0, warmup_steps=100, d_model=64)
    assert isinstance(inverse, InverseSqrtSchedule) and inverse.scale == 2.0
    with pytest.raises(ValueError, match="Received: name='step'"):
        make_schedule("step", 1e-3)
    with pytest.raises(ValueError, match="decay_steps"):
        make_schedule("cosine", 1e-3)
    with pytest.raises(ValueError, match="d_model"):
        make_schedule("inverse_sqrt", 1.0)


def test_make_schedule_takes_numpy_integers_and_refuses_negative_rates():
    schedule = make_schedule("cosine", 1e-3, warmup_steps=np.int64(10), decay_steps=90)
    assert float(schedule(10)) == pytest.approx(1e-3)
    # A negative rate used to train by gradient ascent without a word.
    with pytest.raises(ValueError, match="Received: learning_rate=-0.001"):
        make_schedule("constant", -1e-3)
    with pytest.raises(ValueError, match="Received: learning_rate='fast'"):
        make_schedule("cosine", "fast", decay_steps=90)
