"""The base of the zoo's functional models that name their layers first."""

import keras


class FunctionalModel(keras.Model):
    """A functional `keras.Model` whose subclass assigns its layers first.

    The zoo's backbones and task models are written as keras-hub writes its
    own: `__init__` creates each layer as an attribute, traces the functional
    graph through them, then calls `super().__init__(inputs=..., outputs=...)`.
    Under the PyTorch backend a Keras model is a `torch.nn.Module`, whose
    `__setattr__` refuses a sublayer assigned before `Module.__init__` ran.
    Until then an attribute is set on the object directly: the functional
    graph tracks every layer the model uses, so nothing is lost. TensorFlow
    and JAX keep Keras' own `__setattr__` throughout.

    Examples:
        >>> import keras
        >>> from zoo.models.functional_model import FunctionalModel
        >>> class TinyModel(FunctionalModel):
        ...     def __init__(self, **kwargs):
        ...         self.dense = keras.layers.Dense(2)
        ...         inputs = keras.Input((3,))
        ...         super().__init__(inputs=inputs, outputs=self.dense(inputs), **kwargs)
        >>> tuple(TinyModel()(keras.ops.zeros((1, 3))).shape)
        (1, 2)
    """

    def __init__(self, *args, trainable=True, **kwargs):
        # Keras' functional constructor applies `trainable` before it tracks
        # the graph's layers, through the setter that recurses into the
        # sublayers tracked so far. Here those are the layers the subclass
        # assigned as attributes, and which of them Keras' `__setattr__` has
        # tracked by then differs by backend. So `from_config`, which passes
        # the saved `trainable=True`, unfroze a frozen backbone under JAX
        # (a fine-tuned ViTClassifier reloaded with every weight trainable),
        # while `trainable=False` left the sublayers' variables trainable under
        # PyTorch (a parent model trained them). Keras' own functional models
        # keep each sublayer's saved state; so do these now: `trainable=False`
        # freezes every sublayer once all are tracked, and `True` touches
        # only the model's own flag.
        if not isinstance(trainable, bool):
            raise ValueError(
                f"`trainable` must be a bool; received {trainable!r} of type "
                f"{type(trainable).__name__}"
            )
        super().__init__(*args, **kwargs)
        if not trainable:
            self.trainable = False

    def __setattr__(self, name, value):
        if keras.config.backend() == "torch" and "_modules" not in self.__dict__:
            object.__setattr__(self, name, value)
            return
        super().__setattr__(name, value)
