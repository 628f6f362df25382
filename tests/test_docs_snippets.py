"""Code blocks of the guides in docs/ run as a reader would paste them."""

import re
from pathlib import Path

import keras
import numpy as np

from zoo.models.seq2seq import Seq2SeqBackbone, Seq2SeqTransformer

DOCS = Path(__file__).resolve().parent.parent / "docs"


def python_block_after(page, heading):
    """The first ```python block under `heading` in docs/`page`."""
    text = (DOCS / page).read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"expected a python block under {heading!r} in {page}"
    return match.group(1)


def tiny_seq2seq_run(run_dir):
    """A run folder's float model.keras (sizes of the models' docstrings)."""
    backbone = Seq2SeqBackbone(30, 40, 1, 1, 16, 2, 32, 12, 10)
    model = Seq2SeqTransformer(backbone)
    run_dir.mkdir(parents=True)
    model.save(run_dir / "model.keras")


def test_quantized_keras_snippet_runs_as_written(tmp_path, monkeypatch):
    # The guide's snippet must define `model` itself: a reader pastes it alone.
    snippet = python_block_after("layers.md", "## Freezing and quantizing")
    monkeypatch.chdir(tmp_path)
    tiny_seq2seq_run(tmp_path / "runs" / "g2p")
    namespace = {}
    exec(compile(snippet, "docs/layers.md", "exec"), namespace)

    ids = {
        "encoder_token_ids": np.array([[5, 6, 7, 0]], "int32"),
        "decoder_token_ids": np.array([[2, 8, 9]], "int32"),
    }
    reloaded = keras.saving.load_model(tmp_path / "int8.keras")
    assert np.array_equal(
        keras.ops.convert_to_numpy(namespace["model"](ids)),
        keras.ops.convert_to_numpy(reloaded(ids)),
    )
    # The file holds the quantized model, not the float one.
    assert "int8" in str(reloaded.get_config()["dtype"])
