"""Learning-rate schedules for transformer training.

Both schedules are `keras.optimizers.schedules.LearningRateSchedule`
subclasses registered under the `zoo` package, so an optimizer that uses them
survives `.keras` save and load. `step` is the optimizer's 0-based
`iterations` counter.
"""

import numbers

import keras
from keras import ops

from training.arguments import check_int, check_number

_SCHEDULE_NAMES = ("constant", "cosine", "linear", "inverse_sqrt")


@keras.saving.register_keras_serializable(package="zoo")
class InverseSqrtSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Warm-up then inverse-square-root decay ("Attention Is All You Need").

    `lr = scale * d_model**-0.5 * min(s**-0.5, s * warmup_steps**-1.5)` with
    `s = step + 1`: the optimizer counts from 0, the formula from 1, so the
    first step is finite. The rate rises linearly for `warmup_steps` steps,
    peaks at `scale * (d_model * warmup_steps)**-0.5`, then decays as
    `1/sqrt(step)`.

    Args:
        d_model: Model width; sets the peak rate.
        warmup_steps: Steps of linear warm-up.
        scale: Multiplier on the whole schedule.

    Examples:
        >>> import keras
        >>> from training import InverseSqrtSchedule
        >>> schedule = InverseSqrtSchedule(d_model=512, warmup_steps=4000)
        >>> optimizer = keras.optimizers.Adam(schedule, beta_2=0.98)
    """

    def __init__(self, d_model, warmup_steps=4000, scale=1.0):
        check_number("d_model", d_model, 0, low_open=True)
        check_number("warmup_steps", warmup_steps, 0, low_open=True)
        check_number("scale", scale, 0, low_open=True)
        self.d_model = d_model
        self.warmup_steps = warmup_steps
        self.scale = scale

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        decay = ops.rsqrt(step)
        warmup = step * float(self.warmup_steps) ** -1.5
        return self.scale * float(self.d_model) ** -0.5 * ops.minimum(decay, warmup)

    def get_config(self):
        return {
            "d_model": self.d_model,
            "warmup_steps": self.warmup_steps,
            "scale": self.scale,
        }


@keras.saving.register_keras_serializable(package="zoo")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up in front of any schedule (or a constant rate).

    For `step < warmup_steps` the rate goes linearly from
    `initial_learning_rate` to `after(0)`; from then on it is
    `after(step - warmup_steps)`, so the wrapped schedule starts its own clock
    when the warm-up ends and the curve is continuous.

    Args:
        after: The schedule that follows the warm-up: a `LearningRateSchedule`
            (`CosineDecay`, `PolynomialDecay` for linear decay, ...) or a float
            for a constant rate.
        warmup_steps: Steps of linear warm-up.
        initial_learning_rate: The rate at step 0.

    Examples:
        >>> import keras
        >>> from training import WarmupSchedule
        >>> cosine = keras.optimizers.schedules.CosineDecay(1e-3, 10_000)
        >>> schedule = WarmupSchedule(cosine, warmup_steps=500)
        >>> optimizer = keras.optimizers.AdamW(schedule)
    """

    def __init__(self, after, warmup_steps, initial_learning_rate=0.0):
        if isinstance(after, dict):
            # A nested config, e.g. when called directly with a saved config.
            after = keras.optimizers.schedules.deserialize(after)
        if not isinstance(after, keras.optimizers.schedules.LearningRateSchedule) and (
            isinstance(after, bool) or not isinstance(after, numbers.Number)
        ):
            raise ValueError(
                "`after` must be a LearningRateSchedule or a float. "
                f"Received: after={after!r}"
            )
        check_number("warmup_steps", warmup_steps, 0, low_open=True)
        check_number("initial_learning_rate", initial_learning_rate, 0)
        self.after = after
        self.warmup_steps = warmup_steps
        self.initial_learning_rate = initial_learning_rate

    def _after(self, step):
        if isinstance(self.after, keras.optimizers.schedules.LearningRateSchedule):
            return ops.cast(self.after(step), "float32")
        return ops.cast(self.after, "float32")

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup_steps = float(self.warmup_steps)
        target = self._after(ops.zeros((), "float32"))
        fraction = ops.minimum(step / warmup_steps, 1.0)
        span = target - self.initial_learning_rate
        warm = self.initial_learning_rate + span * fraction
        # Clamp so the wrapped schedule is never asked about negative steps.
        decayed = self._after(ops.maximum(step - warmup_steps, 0.0))
        return ops.where(step < warmup_steps, warm, decayed)

    def get_config(self):
        after = self.after
        if isinstance(after, keras.optimizers.schedules.LearningRateSchedule):
            after = keras.optimizers.schedules.serialize(after)
        return {
            "after": after,
            "warmup_steps": self.warmup_steps,
            "initial_learning_rate": self.initial_learning_rate,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["after"], dict):
            config["after"] = keras.optimizers.schedules.deserialize(config["after"])
        return cls(**config)


def make_schedule(
    name,
    learning_rate,
    warmup_steps=0,
    decay_steps=None,
    d_model=None,
    end_learning_rate=0.0,
):
    """Builds one of the standard schedules by name.

    Args:
        name: `"constant"`, `"cosine"` (cosine decay to `end_learning_rate`),
            `"linear"` (linear decay to `end_learning_rate`) or
            `"inverse_sqrt"` (`InverseSqrtSchedule`; `learning_rate` is its
            `scale`).
        learning_rate: Peak rate (the `scale` for `"inverse_sqrt"`).
        warmup_steps: Linear warm-up steps; 0 for none (`"inverse_sqrt"` needs
            > 0).
        decay_steps: Steps of decay after the warm-up; needed by `"cosine"` and
            `"linear"`.
        d_model: Model width; needed by `"inverse_sqrt"`.
        end_learning_rate: Final rate of `"cosine"` and `"linear"`.

    Returns:
        A `LearningRateSchedule`, or a float for `"constant"` without warm-up.

    Examples:
        >>> from training import make_schedule
        >>> schedule = make_schedule("cosine", 1e-3, warmup_steps=100,
        ...                          decay_steps=900)
    """
    if name not in _SCHEDULE_NAMES:
        raise ValueError(
            f"`name` must be one of {_SCHEDULE_NAMES}. Received: name={name!r}"
        )
    # A negative rate would silently run gradient ascent.
    check_number("learning_rate", learning_rate, 0)
    warmup_steps = check_int("warmup_steps", warmup_steps, 0)
    if name == "inverse_sqrt":
        if d_model is None:
            raise ValueError(
                "`d_model` is required for name='inverse_sqrt'. Received: d_model=None"
            )
        return InverseSqrtSchedule(
            d_model, warmup_steps=warmup_steps or 4000, scale=learning_rate
        )
    if name == "constant":
        after = float(learning_rate)
    else:
        if decay_steps is None or decay_steps <= 0:
            raise ValueError(
                f"`decay_steps` must be > 0 for name={name!r}. Received: "
                f"decay_steps={decay_steps!r}"
            )
        if name == "cosine":
            alpha = end_learning_rate / learning_rate if learning_rate else 0.0
            after = keras.optimizers.schedules.CosineDecay(
                learning_rate, decay_steps, alpha=alpha
            )
        else:
            after = keras.optimizers.schedules.PolynomialDecay(
                learning_rate, decay_steps, end_learning_rate=end_learning_rate
            )
    if warmup_steps == 0:
        return after
    return WarmupSchedule(after, warmup_steps=warmup_steps)
