"""Attention rollout ("Quantifying Attention Flow in Transformers") for ViT."""

import numpy as np
from keras import ops


def attention_rollout(scores, use_class_token, grid_size):
    """Where a ViT looks: attention multiplied through the layers.

    Each layer's attention is averaged over heads, the identity is added for
    the residual connection and rows are renormalized; the product over the
    layers says how much each output token draws from each input patch.

    Args:
        scores: list of (batch, heads, tokens, tokens) attention probabilities,
            first layer first (see `ViTBackbone.attention_scores`).
        use_class_token: read the class token's row (else average all rows).
        grid_size: the (rows, columns) patch grid.

    Returns:
        (batch, rows, columns) heatmaps scaled to [0, 1].

    Raises:
        ValueError: if ``scores`` is empty or its tokens are not those of
            ``grid_size`` (plus the class token).

    Examples:
        >>> from zoo.models.vit.rollout import attention_rollout
        >>> heat = attention_rollout(backbone.attention_scores(x), True, (4, 4))  # doctest: +SKIP
    """
    scores = list(scores)
    if not scores:
        raise ValueError("`scores` must hold one array per block; received none")
    tokens = int(np.prod(grid_size)) + int(bool(use_class_token))
    if tuple(scores[0].shape[-2:]) != (tokens, tokens):
        raise ValueError(
            f"`scores` must attend over {tokens} tokens (grid_size={tuple(grid_size)}"
            f"{' and a class token' if use_class_token else ''}); received scores "
            f"of shape {tuple(scores[0].shape)}"
        )
    rollout = None
    for layer_scores in scores:
        layer_scores = np.asarray(ops.convert_to_numpy(layer_scores), np.float64)
        attention = layer_scores.mean(axis=1)
        attention = attention + np.eye(attention.shape[-1])
        attention /= attention.sum(axis=-1, keepdims=True)
        rollout = attention if rollout is None else attention @ rollout
    if use_class_token:
        heat = rollout[:, 0, 1:]
    else:
        heat = rollout.mean(axis=1)
    heat = heat.reshape(-1, *grid_size)
    low = heat.min(axis=(1, 2), keepdims=True)
    high = heat.max(axis=(1, 2), keepdims=True)
    return (heat - low) / np.maximum(high - low, 1e-12)


def save_heatmaps(images, heatmaps, titles, path):
    """Write a PNG with each image beside its attention heatmap overlay.

    Args:
        images: list of ``uint8`` (height, width, channels) images.
        heatmaps: (batch, rows, columns) maps in [0, 1].
        titles: one title per image (e.g. the predicted class).
        path: the PNG file to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(images)
    figure, axes = plt.subplots(count, 2, figsize=(5, 2.5 * count), squeeze=False)
    for row, (image, heat, title) in enumerate(zip(images, heatmaps, titles)):
        shown = image[..., 0] if image.shape[-1] == 1 else image
        height, width = image.shape[:2]
        for axis in axes[row]:
            axis.imshow(shown, cmap="gray", extent=(0, width, height, 0))
            axis.axis("off")
        axes[row, 0].set_title(title, fontsize=9)
        axes[row, 1].imshow(
            heat,
            cmap="jet",
            alpha=0.5,
            extent=(0, width, height, 0),
            interpolation="bilinear",
        )
        axes[row, 1].set_title("attention rollout", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
