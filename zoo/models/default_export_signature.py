"""Keras' ``Model.export`` with an input signature the model knows itself."""


class DefaultExportSignature:
    """Mixin for a subclassed ``keras.Model`` that Keras cannot export alone.

    Keras infers a subclassed model's export signature from the shapes its
    first call passed to ``build``. A model that builds itself (in
    ``__init__``, or on zeros in ``build``, so that a ``.keras`` file loads
    without an input shape) records none, and Keras refuses with "The model
    provided has never called", even after calls. Such a model knows its
    inputs from its arguments: it defines ``default_input_signature``.
    Put the mixin before ``keras.Model`` in the bases.
    """

    def default_input_signature(self):
        """The ``input_signature`` list ``export`` uses when given none."""
        raise NotImplementedError

    def export(
        self,
        filepath,
        format="tf_saved_model",
        verbose=None,
        input_signature=None,
        **kwargs,
    ):
        """Keras' `Model.export`; ``input_signature`` defaults to the model's own."""
        if input_signature is None:
            input_signature = self.default_input_signature()
        return super().export(
            filepath,
            format=format,
            verbose=verbose,
            input_signature=input_signature,
            **kwargs,
        )
