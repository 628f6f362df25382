"""AdamW with global-norm clipping and weight decay only where it helps.

Decay pulls weights towards zero. That regularises matrices, but on biases,
normalization scales/offsets and embedding tables it only hurts, so those are
excluded (as in BERT, GPT-2 and nanoGPT).
"""

import keras

# Name fragments excluded when variables are not built yet (a subclassed model
# before its first call). Keras 3 variable names are the short weight names.
NO_DECAY_NAMES = ("bias", "gamma", "beta", "embeddings")

_NORMALIZATION_LAYERS = (
    keras.layers.LayerNormalization,
    keras.layers.BatchNormalization,
    keras.layers.GroupNormalization,
    keras.layers.UnitNormalization,
)


def _is_no_decay_layer(layer):
    if isinstance(layer, (keras.layers.Embedding, *_NORMALIZATION_LAYERS)):
        return True
    # Custom position/patch embeddings and RMS norms are often plain Layers.
    class_name = type(layer).__name__.lower()
    return "embedding" in class_name or "normalization" in class_name


def _own_trainable_weights(layer):
    """The layer's trainable weights that none of its sublayers own."""
    nested = {
        id(variable)
        for sublayer in layer._flatten_layers(include_self=False, recursive=True)
        for variable in sublayer.trainable_weights
    }
    return [v for v in layer.trainable_weights if id(v) not in nested]


def exclude_no_decay_variables(optimizer, model, var_names=NO_DECAY_NAMES):
    """Excludes biases, normalization and embedding weights from weight decay.

    Walks every layer of `model`: the weights that embedding and
    normalization layers create themselves are excluded (a composite such as a
    patch embedding keeps decay on its projection sublayer's kernel), and so
    is every weight with fewer than two dimensions (biases, scales) wherever
    it lives. `var_names` adds name-based
    exclusions for variables created later. Call it before the optimizer is
    built (before the first training step).

    Args:
        optimizer: A Keras optimizer with weight decay (e.g. `AdamW`).
        model: The model the optimizer will train; may be unbuilt.
        var_names: Name fragments to exclude as well.

    Returns:
        The list of excluded variables found in the built model.

    Examples:
        >>> import keras
        >>> from training import exclude_no_decay_variables
        >>> layers = [keras.Input((4,)), keras.layers.Dense(2, name="dense")]
        >>> model = keras.Sequential(layers, name="mlp")
        >>> optimizer = keras.optimizers.AdamW(1e-3, weight_decay=0.01)
        >>> [v.path for v in exclude_no_decay_variables(optimizer, model)]
        ['mlp/dense/bias']
    """
    excluded = {}
    for layer in model._flatten_layers(include_self=True, recursive=True):
        # Only a layer's own weights: a PatchEmbedding's projection kernel is
        # a sublayer's matrix and keeps its decay; its class token does not.
        layer_excluded = _is_no_decay_layer(layer)
        for variable in _own_trainable_weights(layer):
            if layer_excluded or len(variable.shape) < 2:
                excluded[id(variable)] = variable
    excluded = list(excluded.values())
    # One call: each call replaces both the variable list and the name list.
    optimizer.exclude_from_weight_decay(
        var_list=excluded, var_names=list(var_names) or None
    )
    return excluded


def make_optimizer(
    learning_rate,
    weight_decay=0.01,
    clipnorm=1.0,
    beta_1=0.9,
    beta_2=0.98,
    epsilon=1e-9,
    model=None,
):
    """Builds the toolkit's AdamW.

    Gradients are clipped by their global norm (all variables together, so
    the update direction is kept). Weight decay skips biases, normalization
    and embedding weights: found structurally when `model` is given, else by
    the names in `NO_DECAY_NAMES`.

    Args:
        learning_rate: A float or a `LearningRateSchedule`.
        weight_decay: Decoupled weight-decay rate; 0 or None disables it.
        clipnorm: Global gradient-norm limit; None disables clipping.
        beta_1: Adam's first-moment decay.
        beta_2: Adam's second-moment decay (0.98 as in the Transformer paper).
        epsilon: Adam's denominator epsilon.
        model: The model to train, to find the excluded variables by layer.

    Returns:
        A `keras.optimizers.AdamW`.

    Examples:
        >>> import keras
        >>> from training import WarmupSchedule, make_optimizer
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> optimizer = make_optimizer(WarmupSchedule(1e-3, 100), model=model)
        >>> model.compile(optimizer=optimizer, loss="mse")
    """
    if clipnorm is not None and clipnorm <= 0:
        raise ValueError(
            f"`clipnorm` must be > 0 or None. Received: clipnorm={clipnorm!r}"
        )
    if weight_decay is not None and weight_decay < 0:
        raise ValueError(
            "`weight_decay` must be >= 0 or None. "
            f"Received: weight_decay={weight_decay!r}"
        )
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate,
        weight_decay=weight_decay or 0.0,
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=epsilon,
        global_clipnorm=clipnorm,
    )
    if model is not None:
        exclude_no_decay_variables(optimizer, model)
    else:
        optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer
