"""Dtype policies that carry a quantized layer's sublayers through its config.

A zoo layer rebuilds the sublayers it creates itself (attention projections,
feed-forward ``Dense`` layers, the token ``Embedding``) in the policy it gives
them, so a quantized sublayer would load from ``.keras`` in the float policy
and find no place for its quantized weights. As keras-hub's backbones do, a
quantized layer's config gives ``dtype`` as a ``DTypePolicyMap``: the layer's
own policy by default, and each quantized sublayer's policy under its path,
which Keras looks up when it builds that sublayer. A float layer's config is
unchanged.

A path depends on where the layer was built: a zoo layer in a user's
``Sequential`` has sublayers under ``sequential/``, which the loaded
``Sequential`` does not build them under. So each key is a pattern that
names the sublayer from the layer down, under any (or no) outer path.
"""

import re

import keras


def own_dtype_policy(layer):
    """The policy ``layer`` runs with: its own, or its entry in a shared map."""
    policy = layer.dtype_policy
    if isinstance(policy, keras.dtype_policies.DTypePolicyMap):
        return policy[layer.path] if layer.path else policy.default_policy
    return policy


def quantized_policy_map(layer):
    """A ``DTypePolicyMap`` of ``layer``'s quantized sublayers; None if none is.

    Its default is ``layer``'s own policy; it holds each quantized
    sublayer's policy under a pattern of the sublayer's path (see
    `_path_pattern`).
    """
    quantized = {
        _path_pattern(sublayer.path, layer): own_dtype_policy(sublayer)
        for sublayer in layer._flatten_layers(include_self=False)
        if sublayer.quantization_mode is not None
    }
    if not quantized:
        return None
    return keras.dtype_policies.DTypePolicyMap(own_dtype_policy(layer), quantized)


def _path_pattern(path, layer):
    """A key that matches ``path`` wherever ``layer`` is built again.

    Keras looks a path up exactly, then as a ``re.fullmatch`` of each key:
    the part above ``layer``'s own scope may be anything, or nothing.
    """
    outer = layer.path.rpartition("/")[0] if layer.path else ""
    if outer and path.startswith(outer + "/"):
        path = path[len(outer) + 1 :]
    return "(?:.+/)?" + re.escape(path)


def resolve_policy_maps(layer):
    """Give each built sublayer of ``layer`` its own policy from a shared map.

    A sublayer rebuilt from a map keeps the map as its policy, and Keras'
    ``Dense``, ``EinsumDense`` and ``Embedding`` read the quantization mode
    of ``dtype_policy`` itself when they save (a map's is its default's,
    None): a loaded quantized model saved again wrote no kernel scale
    ("Invalid dtype: object"). Where the sublayer computes is unchanged.
    """
    for sublayer in layer._flatten_layers(include_self=False):
        policy = sublayer._dtype_policy
        if (
            isinstance(policy, keras.dtype_policies.DTypePolicyMap)
            and sublayer.built
            and sublayer.path
        ):
            # Not the setter: it would quantize the built sublayer again.
            sublayer._dtype_policy = policy[sublayer.path]


def add_quantized_policies(config, layer):
    """Set ``config["dtype"]`` to ``layer``'s ``quantized_policy_map``, if any.

    A float layer's config stays as it was. Called as ``layer`` is saved,
    it first resolves its sublayers' maps (see `resolve_policy_maps`).
    """
    resolve_policy_maps(layer)
    policy_map = quantized_policy_map(layer)
    if policy_map is not None:
        config["dtype"] = keras.dtype_policies.serialize(policy_map)
    return config


def quantized_or_default_policy(dtype, default):
    """The policy map ``dtype`` names, or ``default`` for any other ``dtype``.

    A task model's head runs in its backbone's policy; only a quantized
    model's config gives the head a ``dtype``, a map with its quantized
    policies.
    """
    if dtype is not None:
        policy = keras.dtype_policies.get(dtype)
        if isinstance(policy, keras.dtype_policies.DTypePolicyMap):
            return policy
    return default


def with_default_policy(policy, default):
    """``default``, or a copy of the map ``policy`` with ``default`` as its default.

    For a sublayer that runs in another policy than its parent's (float32
    logits under mixed precision) but may be quantized like the others.
    """
    if not isinstance(policy, keras.dtype_policies.DTypePolicyMap):
        return default
    return keras.dtype_policies.DTypePolicyMap(
        default, {path: policy[path] for path in policy}
    )
