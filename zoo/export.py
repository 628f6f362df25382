"""SavedModel export from any backend with a TensorFlow runtime.

A family's export (``zoo/models/*/export.py``) writes serving signatures that
take raw inputs: TensorFlow ops parse, tokenize or resize them around the
model. Under the TensorFlow backend the model's own ops are TensorFlow ops, so
one traced function holds everything. Under JAX the model's ops cannot run
inside a TensorFlow graph; Keras' `ExportArchive` converts a function of
Keras ops with ``jax2tf`` instead. So each export splits its serving function
in two:

* the *model part*: Keras ops only, on tensors (`model_function`);
* the *serving function*: TensorFlow pre- and post-processing around calls of
  the model part (`add_serving_endpoint`).

The written SavedModel is the same on either backend: it needs TensorFlow
alone, not JAX, to serve.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

from zoo.folder_lock import folder_lock

BACKENDS = ("tensorflow", "jax")

SERVING_PLATFORMS = ("cpu", "cuda")
"""Where a SavedModel exported from JAX serves. jax2tf lowers the model part
for each, whatever device exported it: a run trained on a GPU serves on a CPU
server and the other way round."""


def backend_can_export():
    """Whether the Keras backend in use can write a SavedModel."""
    import keras

    return keras.backend.backend() in BACKENDS


def check_backend():
    """Fail early, naming the backend, where export cannot run.

    Raises:
        RuntimeError: on a backend other than TensorFlow or JAX (PyTorch has no
            SavedModel export in Keras).
    """
    import keras

    if not backend_can_export():
        backend = keras.backend.backend()
        raise RuntimeError(
            "SavedModel export needs KERAS_BACKEND=tensorflow or jax; received "
            f"KERAS_BACKEND={backend!r}. Export the run from a TensorFlow "
            "environment: model.keras loads on any backend."
        )


def new_archive(model):
    """An `ExportArchive` that tracks ``model`` (its weights go into the file)."""
    import keras

    check_backend()
    archive = keras.export.ExportArchive()
    archive.track(model)
    return archive


def model_function(archive, name, fn, input_signature):
    """``fn``, a function of Keras ops, made callable inside TensorFlow graphs.

    Args:
        archive: the `ExportArchive` from `new_archive`; it holds the weights.
        name: a name for the converted function (JAX only; it is not an
            endpoint of the SavedModel).
        fn: calls the model with Keras ops only; no TensorFlow op.
        input_signature: a list of `tf.TensorSpec`, one per argument of ``fn``;
            ``None`` for the batch and other free sizes.

    Returns:
        Under TensorFlow ``fn`` itself. Under JAX a `tf.function` that runs
        ``fn`` converted by ``jax2tf`` on the archive's copies of the weights.
    """
    import keras

    if keras.backend.backend() == "tensorflow":
        return fn
    # `_backend_add_endpoint` is the conversion `add_endpoint` uses on JAX,
    # without registering `fn` as a public signature of the SavedModel.
    with warnings.catch_warnings():
        # Passing `native_serialization` skips Keras' check, which warns that a
        # model exported on a GPU cannot serve on a TensorFlow without one; with
        # `SERVING_PLATFORMS` it can. jax2tf only warns that it is the default.
        warnings.filterwarnings("ignore", "The `native_serialization` parameter")
        converted = archive._backend_add_endpoint(
            name,
            fn,
            input_signature,
            jax2tf_kwargs={
                "native_serialization": True,
                "native_serialization_platforms": SERVING_PLATFORMS,
                # Serving takes no gradients; without them the loaded
                # SavedModel does not warn of "unsaved custom gradients".
                "with_gradient": False,
            },
        )
    return converted


def _checking_shapes(fn, input_signature):
    """``fn`` that first refuses inputs whose shape does not fit the signature.

    A loaded SavedModel's signatures check the dtypes of their inputs, not
    the shapes: a window of one column for a model of three would broadcast
    against the scaler and serve a wrong forecast, an RGB image for a grey
    model would fail deep inside it.
    """
    import functools

    import tensorflow as tf

    @functools.wraps(fn)  # the signature's input names are ``fn``'s
    def checked(*inputs):
        # EnsureShape fails with "Shape of tensor NAME [received] is not
        # compatible with expected shape [expected]".
        return fn(
            *(
                tf.ensure_shape(value, spec.shape)
                for value, spec in zip(inputs, input_signature)
            )
        )

    return checked


def add_serving_endpoint(archive, name, fn, input_signature):
    """Add ``fn`` (TensorFlow ops around `model_function` calls) as a signature.

    Args:
        archive: the `ExportArchive` from `new_archive`.
        name: the signature's name; the first one added is also
            ``serving_default``.
        fn: the serving function.
        input_signature: a list of `tf.TensorSpec`, one per argument of ``fn``.
    """
    import tensorflow as tf

    # A traced `tf.function` goes into the SavedModel as it is, on either
    # backend. On TensorFlow it is the function `add_endpoint` would trace from
    # ``fn``; on JAX `add_endpoint` would instead convert ``fn`` as a whole with
    # jax2tf, and the TensorFlow ops in it cannot take JAX values.
    traced = tf.function(
        _checking_shapes(fn, input_signature),
        input_signature=input_signature,
        autograph=False,
    )
    traced.get_concrete_function()
    archive.add_endpoint(name, traced)


def write_out(archive, path):
    """Write ``archive`` as a SavedModel at ``path``, whole or not at all.

    The SavedModel is written into ``PATH.partial`` beside it, then renamed:
    an export killed part-way leaves the SavedModel that was there (or none),
    never a folder that does not load. A ``path`` holding other files than a
    SavedModel is written into as it is, since renaming it would move them.
    Exports beside one another take turns on the parent folder's lock: two
    exports to the same ``--to`` (or ``zoo export DIR`` while the ``zoo
    train`` writing DIR exports at its end) shared ``PATH.partial``, and one
    emptied it while the other wrote into it.

    Returns:
        ``path`` as a `Path`.
    """
    parent = Path(os.path.abspath(path)).parent
    parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(parent):
        return _write_out_locked(archive, Path(path))


def _write_out_locked(archive, path):
    """`write_out`'s work, while no other export writes beside ``path``."""
    from training.callbacks.atomic_checkpoints import raise_if_disk_full

    if path.is_dir() and (
        # The working folder (--to .) is written into as it is: renaming it
        # away would leave the user's shell in a deleted folder.
        os.path.samefile(path, os.curdir)
        or (any(path.iterdir()) and not (path / "saved_model.pb").is_file())
    ):
        archive.write_out(str(path), verbose=False)
        return path
    # Absolute and without "." or "..": "sub/.." has no name to put
    # ".partial" after.
    whole = Path(os.path.abspath(path))
    partial = whole.with_name(f"{whole.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        archive.write_out(str(partial), verbose=False)
    except BaseException as error:
        # A failed or interrupted export leaves no PATH.partial holding space.
        shutil.rmtree(partial, ignore_errors=True)
        raise_if_disk_full(error, path, "a SavedModel")
        raise
    if path.exists():
        # Two renames: a kill between them leaves no SavedModel at `path`
        # (the old one in PATH.old), never half of one.
        old = whole.with_name(f"{whole.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        whole.rename(old)
        partial.rename(whole)
        shutil.rmtree(old)
    else:
        partial.rename(whole)
    return path
