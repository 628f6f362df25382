"""`zoo.export`: the backend bridge under every family's SavedModel export.

The families' tests check what their SavedModels serve; `make test` runs them
under TensorFlow and again under JAX. These check the bridge's own promises.
"""

import os

import keras
import numpy as np
import pytest


def test_backend_without_saved_model_export_is_named(monkeypatch):
    from zoo import export

    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(RuntimeError) as error:
        export.new_archive(keras.Sequential([keras.layers.Dense(1)]))
    message = str(error.value)
    assert "KERAS_BACKEND=tensorflow or jax" in message
    assert "received KERAS_BACKEND='torch'" in message


@pytest.fixture
def exported(tmp_path):
    """A Dense model exported with TensorFlow ops on each side of its model part."""
    import tensorflow as tf

    from zoo import export

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    archive = export.new_archive(model)
    spec = [tf.TensorSpec([None, 3], tf.float32)]
    doubled = export.model_function(
        archive, "doubled", lambda x: 2.0 * model(x, training=False), spec
    )

    def serve(values):
        return {"outputs": tf.reduce_sum(doubled(tf.abs(values)), axis=-1)}

    export.add_serving_endpoint(archive, "serve", serve, spec)
    archive.write_out(str(tmp_path), verbose=False)
    return model, tmp_path


def test_model_part_is_no_signature_and_serves_the_models_numbers(exported):
    """Only the serving function is public, and it serves the model's numbers."""
    import tensorflow as tf

    model, tmp_path = exported
    loaded = tf.saved_model.load(str(tmp_path))
    assert sorted(loaded.signatures) == ["serve", "serving_default"]
    values = np.array([[1.0, -2.0, 3.0], [-0.5, 0.0, 4.0]], np.float32)
    served = loaded.signatures["serve"](values=tf.constant(values))["outputs"]
    expected = 2.0 * keras.ops.convert_to_numpy(model(np.abs(values))).sum(-1)
    np.testing.assert_allclose(served.numpy(), expected, rtol=1e-6)


@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="jax2tf runs under JAX only"
)
def test_jax_model_part_is_lowered_for_cpu_and_cuda_servers(exported):
    """Exported on a CPU, the model part also carries its CUDA lowering.

    jax2tf lowers for the exporting device alone unless told; a run trained
    on a GPU would then not serve on a CPU server.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    _, tmp_path = exported
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((tmp_path / "saved_model.pb").read_bytes())
    graph = saved.meta_graphs[0].graph_def
    nodes = [*graph.node, *(n for f in graph.library.function for n in f.node_def)]
    platforms = {
        tuple(p.decode() for p in node.attr["platforms"].list.s)
        for node in nodes
        if node.op == "XlaCallModule"
    }
    assert platforms == {("CPU", "CUDA")}


def test_inputs_of_another_shape_are_refused_with_both_shapes(exported):
    """A loaded signature checks dtypes only; the endpoint checks the shape.

    Without it a (batch, 1) input of a (batch, 3) signature reaches the model
    (a window of one column would broadcast against a scaler of three).
    """
    import tensorflow as tf

    _, tmp_path = exported
    serve = tf.saved_model.load(str(tmp_path)).signatures["serve"]
    for bad, received in ((tf.ones((2, 1)), r"\[2,1\]"), (tf.ones((3,)), r"\[3\]")):
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=rf"values {received} is not compatible with expected shape \[\?,3\]",
        ):
            serve(values=bad)


class FakeArchive:
    """Writes a stand-in SavedModel: ``saved_model.pb`` holding ``tag``."""

    def __init__(self, tag, killed=False):
        self.tag, self.killed = tag, killed

    def write_out(self, path, verbose=True):
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "saved_model.pb"), "w") as handle:
            handle.write(self.tag)
        if self.killed:  # SIGKILL before the variables are written
            raise KeyboardInterrupt
        os.makedirs(os.path.join(path, "variables"))


def test_an_export_killed_part_way_leaves_the_previous_saved_model(tmp_path):
    from zoo.export import write_out

    path = tmp_path / "saved_model"
    assert write_out(FakeArchive("first"), path) == path
    with pytest.raises(KeyboardInterrupt):
        write_out(FakeArchive("second", killed=True), path)
    assert (path / "saved_model.pb").read_text() == "first"
    assert (path / "variables").is_dir()
    # The rerun replaces it whole and leaves nothing beside it.
    write_out(FakeArchive("third"), path)
    assert (path / "saved_model.pb").read_text() == "third"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved_model"]


def test_an_export_into_a_folder_of_other_files_writes_beside_them(tmp_path):
    from zoo.export import write_out

    (tmp_path / "notes.txt").write_text("mine")
    write_out(FakeArchive("model"), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "saved_model.pb").read_text() == "model"
