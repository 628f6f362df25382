"""What a run folder's files give back without the `zoo` command around them."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_trained_model_loads_in_a_program_that_imported_no_family(tmp_path):
    from zoo import registry

    family = registry.get_family("vit")
    config = family.check_preset("tiny")
    info = {"image_size": [28, 28], "channels": 1, "num_classes": 3}
    family.build_model(config, info).save(tmp_path / "model.keras")
    (tmp_path / "run.json").write_text(json.dumps({"model": "vit"}))
    # A fresh interpreter: this one has registered the ViT's classes already.
    program = (
        "from zoo import run_dir; "
        f"print(type(run_dir.load_trained_model({str(tmp_path)!r})).__name__)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.split()[-1] == "ViTClassifier"
