"""What a model family provides to the `zoo` command and the fit recipe.

A family (``vit``, ``seq2seq``, ``forecaster``, ...) knows its data, its
models and presets, how to evaluate, predict and export. The `zoo` command
and ``training`` know nothing of any particular family: they only call the
methods below. Families are listed in ``zoo.registry``.
"""

import dataclasses
from pathlib import Path
from typing import Any

SPLIT_SEED = 0
"""The seed of the splits a family draws from data that has none (a ``.tsv``,
an image folder without ``train/`` and ``test/``, Fashion-MNIST's validation
images). Fixed, not ``--seed``: runs with other seeds are scored on one test
set, so that their spread measures training, not test-set sampling."""


@dataclasses.dataclass
class PreparedData:
    """The splits of a dataset, ready for ``model.fit``.

    Attributes:
        train: finite, batched ``tf.data.Dataset`` of (inputs, targets); the
            recipe repeats it, so it must reshuffle deterministically (seeded)
            on each pass; or a ``stream_from_pass`` attribute gives the
            stream of its passes from any pass on (see
            `training.recipe.resumable_stream`).
        validation: batched validation split, or None.
        test: batched test split, or None.
        info: what the model needs to know of the data (number of classes,
            vocabulary sizes, input shape, ...); JSON-serializable.
        train_examples: examples in one pass of ``train``, for examples per
            second (its batches may differ in size); None if not known.
        train_tokens: the tokens one pass of ``train`` computes its loss on
            (for text, the non-padding target tokens), for tokens per
            second; None where the family counts no tokens.
    """

    train: Any
    validation: Any = None
    test: Any = None
    info: dict = dataclasses.field(default_factory=dict)
    train_examples: int | None = None
    train_tokens: int | None = None


class ModelFamily:
    """Base class of a model family; subclasses fill in the methods.

    Attributes:
        name: the family's name on the command line.
        description: one line for ``zoo train --help``.
        presets: preset name → model config (plain data).
        default_preset: the preset used when ``--preset`` is not given.
        default_data: the built-in dataset used when ``--data`` is not given.
        monitor: the validation metric early stopping and checkpoints follow.
        learning_rate, warmup_steps, schedule: the optimizer recipe.
        predicts_image_files: whether ``zoo predict``'s INPUTs are image
            files, so that a folder among them stands for its images.
    """

    name = ""
    description = ""
    presets: dict = {}
    default_preset = "tiny"
    default_data = ""
    monitor = "val_loss"
    learning_rate = 1e-3
    warmup_steps = None
    schedule = "cosine"
    predicts_image_files = False

    def prepare_data(
        self, source, batch_size, run_dir: Path, seed=0, split_seed=SPLIT_SEED
    ):
        """Load ``source`` and return ``PreparedData``.

        Preprocessing fit on the training split (scalers, vocabularies,
        normalization statistics) is saved under ``run_dir`` so that
        ``evaluate``, ``predict`` and ``export`` reuse it. ``seed`` shuffles
        the training batches; ``split_seed`` draws the splits of data that
        has none (see `SPLIT_SEED`).
        """
        raise NotImplementedError

    def build_model(self, config: dict, info: dict):
        """Return an uncompiled ``keras.Model`` for ``config`` and data ``info``."""
        raise NotImplementedError

    def compile_arguments(self, config: dict, info: dict) -> dict:
        """Return ``loss`` and ``metrics`` for ``model.compile``."""
        raise NotImplementedError

    def evaluate(self, model, data: PreparedData, run_dir: Path) -> dict:
        """Return the family's metrics on ``data.test`` as a flat dict."""
        raise NotImplementedError

    def add_predict_arguments(self, parser) -> None:
        """Add family-specific options to ``zoo predict`` (e.g. ``--plot``)."""

    def predict(self, model, run_dir: Path, inputs: list, args) -> str:
        """Return printable predictions for the raw ``inputs``."""
        raise NotImplementedError

    def export(self, model, run_dir: Path, path: Path) -> Path:
        """Write a SavedModel that serves raw inputs to ``path``."""
        raise NotImplementedError

    def check_preset(self, preset):
        """Return the config of ``preset``, or raise ``ValueError`` listing them."""
        if preset not in self.presets:
            from zoo.registry import did_you_mean

            raise ValueError(
                f"unknown preset {preset!r} for model {self.name!r}; expected one "
                f"of: {', '.join(sorted(self.presets))}"
                f"{did_you_mean(preset, sorted(self.presets))}"
            )
        return dict(self.presets[preset])
