"""The string-in, string-out SavedModel, loaded in a process that never imports zoo."""

import json
import subprocess
import sys
import textwrap

import pytest

from tests.backends import exports_saved_models

LOADER = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    serve = tf.saved_model.load(sys.argv[1]).signatures["serve"]
    words = json.loads(sys.argv[2])
    result = {"zoo_imported": "zoo" in sys.modules}
    result["outputs"] = [
        s.decode() for s in serve(inputs=tf.constant(words))["outputs"].numpy()
    ]
    too_long = ["cat", "dog", "hen", "a" * 100, "b" * 60]
    for name, bad in (("too_long", tf.constant(too_long)),
                      ("numbers", tf.constant([1, 2])),
                      ("not_1d", tf.constant([["cat", "dog"]]))):
        try:
            serve(inputs=bad)
            result[name] = "no error"
        except Exception as error:
            result[name] = type(error).__name__ + ": " + str(error)[:300]
    print(json.dumps(result))
    """
)

pytestmark = [
    pytest.mark.slow,  # uses the trained CMUdict run
    exports_saved_models,
]
# The last is stripped as `zoo predict` strips: Unicode spaces too.
WORDS = ["cat", "hello", "", "Zebra", "o'neil", "abc123", "\xa0dog\u3000"]


@pytest.fixture(scope="module")
def served(trained_run):
    run_dir, _ = trained_run
    completed = subprocess.run(
        [sys.executable, "-c", LOADER, str(run_dir / "saved_model"), json.dumps(WORDS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_same_outputs_as_the_keras_model(served, trained_run, trained_model):
    from zoo import registry

    run_dir, _ = trained_run
    family = registry.get_family("seq2seq")
    assert not served["zoo_imported"]
    assert served["outputs"] == family.transcribe(trained_model, run_dir, WORDS)
    assert served["outputs"][2] == ""  # empty input -> empty output
    assert served["outputs"][5]  # digits are unknown symbols, still an output


def test_bad_input(served):
    assert "InvalidArgumentError" in served["too_long"]
    assert "longer than the limit of" in served["too_long"]
    # Every input that is too long, by position, with its length.
    assert "inputs] [3 4] [have] [100 60] [symbols]" in served["too_long"]
    assert served["numbers"] != "no error"
    # Signatures check no shapes: a 2-D batch once gave one output per word.
    assert "[1,2] is not compatible with expected shape [?]" in served["not_1d"]


def test_export_run_to_another_path(trained_run, tmp_path):
    from zoo import trainer

    path = trainer.export_run(trained_run[0], tmp_path / "exported")
    assert (path / "saved_model.pb").is_file()


def test_beam_search_export_serves_the_decoders_outputs(tmp_path):
    """A beam search SavedModel serves what `Decoder` decodes, from any backend.

    Exported from JAX, ``top_k`` became a StableHLO op that TensorFlow could
    not read: the SavedModel was written but every call failed.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from zoo.data.tokenizers import SymbolTokenizer
    from zoo.decoding import Decoder
    from zoo.models.seq2seq import Seq2SeqBackbone, Seq2SeqTransformer
    from zoo.models.seq2seq.export import export_seq2seq

    words = ["cab", "bad", "dab", "face", "a"]
    source = SymbolTokenizer.fit(words, split="characters")
    target = SymbolTokenizer.fit(["k ae b", "b ae d", "f ey s"], split="whitespace")
    keras.utils.set_random_seed(3)
    model = Seq2SeqTransformer(
        Seq2SeqBackbone(
            len(source.vocabulary), len(target.vocabulary), 1, 1, 16, 2, 32, 6, 8
        )
    )
    model.output_bias.assign(
        np.random.default_rng(0).normal(0, 2, model.output_bias.shape)
    )
    export_seq2seq(model, source, target, tmp_path, beam_size=3)
    serve = tf.saved_model.load(str(tmp_path)).signatures["serve"]
    served = serve(inputs=tf.constant(words))["outputs"].numpy()
    decoded = Decoder(model, beam_size=3)([source.encode(w) for w in words])
    assert [s.decode() for s in served] == [target.decode(row) for row in decoded]
