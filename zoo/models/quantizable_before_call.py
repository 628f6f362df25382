"""Keras' ``Model.quantize`` for a model that can build itself before a call."""


class QuantizableBeforeCall:
    """Mixin for a subclassed ``keras.Model`` whose ``build()`` needs no shape.

    Keras refuses to quantize a model that is not built ("Cannot quantize a
    layer that isn't yet built"), and checks that in a wrapper around
    ``quantize`` before any override of ``quantize`` runs. A model that
    knows its inputs from its arguments builds itself in that check instead,
    so ``quantize`` needs no call first. Put the mixin before
    ``keras.Model`` in the bases.
    """

    def _check_quantize_args(self, mode, compute_dtype):
        if not self.built:
            self.build()
        super()._check_quantize_args(mode, compute_dtype)
