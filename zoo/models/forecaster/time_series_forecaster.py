"""A transformer that forecasts many steps of a multivariate series at once."""

import keras
from keras import ops

from zoo.layers import (
    Dropout,
    PatchEmbedding,
    PositionEmbedding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)
from zoo.layers.quantized_policies import add_quantized_policies
from zoo.layers.validation import check_rate, freeze_new_sublayers, known_size
from zoo.models.default_export_signature import DefaultExportSignature
from zoo.models.forecaster.reversible_instance_norm import ReversibleInstanceNorm
from zoo.models.quantizable_before_call import QuantizableBeforeCall

ARCHITECTURES = ("patch", "encoder_decoder")


@keras.saving.register_keras_serializable(package="zoo")
class TimeSeriesForecaster(DefaultExportSignature, QuantizableBeforeCall, keras.Model):
    """PatchTST-style forecaster, or an encoder-decoder built of the same blocks.

    ``architecture="patch"`` (default, Nie et al., ICLR 2023): each channel is
    forecast independently with shared weights; its normalized history is cut
    into patches (overlapping when ``patch_stride < patch_size``, the end
    padded with the last value as in PatchTST), which are the tokens of a
    transformer encoder; a linear head maps all patch tokens to the whole
    horizon at once, shared by the channels or one per channel
    (``individual_head``, PatchTST's ``individual``).
    ``"encoder_decoder"``: the same encoder, then learned query tokens, one per
    future patch, cross-attend to it through decoder blocks (no causal mask:
    the output is direct, not autoregressive) and each emits its patch.

    Reversible instance normalization removes each window's level and scale
    before the network and restores them after. Known-future covariates (e.g.
    a workday flag) enter through a linear term per forecast step.

    Args:
        lookback: history steps per input window.
        horizon: forecast steps.
        num_channels: channels of the history.
        target_indices: channels to output; None for all.
        num_covariates: known-future inputs (covariates and calendar
            features); when above 0 the model takes a dict
            ``{"past_values", "future_covariates"}``.
        architecture: ``"patch"`` or ``"encoder_decoder"``.
        patch_size: steps per patch; the oldest steps that do not fill a
            patch are dropped.
        patch_stride: steps between patch starts; None is ``patch_size``
            (no overlap). PatchTST uses patch 16, stride 8.
        hidden_dim: token width.
        num_layers: encoder blocks (and decoder blocks for the variant).
        num_heads: attention heads.
        intermediate_dim: feed-forward width.
        dropout: dropout rate in blocks and head.
        quantiles: None for point forecasts, or quantile levels; the output
            then has a last axis of ``len(quantiles)``.
        revin: use reversible instance normalization.
        individual_head: one linear head per channel instead of one shared
            head (``"patch"`` architecture only): the encoder stays shared,
            but channels as unlike as demand and a workday flag each get
            their own map from tokens to forecast.
        **kwargs: base ``keras.Model`` arguments (``name``, ``dtype``).

    Call arguments:
        inputs: history (batch, lookback, num_channels), or the dict above
            with ``past_values`` the history and ``future_covariates``
            (batch, lookback + horizon, num_covariates), the layout of
            ``zoo.data.series.SeriesData``; the last ``horizon`` steps are
            used.
        training: dropout on or off.

    Returns:
        (batch, horizon, targets), or (batch, horizon, targets, quantiles).

    Examples:
        >>> import numpy as np
        >>> from zoo.models.forecaster import TimeSeriesForecaster
        >>> model = TimeSeriesForecaster(336, 96, num_channels=3)
        >>> tuple(model(np.zeros((2, 336, 3))).shape)
        (2, 96, 3)
    """

    def __init__(
        self,
        lookback,
        horizon,
        num_channels,
        target_indices=None,
        num_covariates=0,
        architecture="patch",
        patch_size=16,
        patch_stride=None,
        hidden_dim=64,
        num_layers=3,
        num_heads=4,
        intermediate_dim=128,
        dropout=0.1,
        quantiles=None,
        revin=True,
        individual_head=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("lookback", lookback),
            ("horizon", horizon),
            ("num_channels", num_channels),
            ("patch_size", patch_size),
            ("patch_stride", patch_size if patch_stride is None else patch_stride),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive integer; received {value!r}"
                )
        check_rate(dropout, "dropout")
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"`architecture` must be one of {ARCHITECTURES}; received "
                f"{architecture!r}"
            )
        if individual_head and architecture != "patch":
            raise ValueError(
                "`individual_head` needs architecture='patch'; received "
                f"architecture={architecture!r}"
            )
        if patch_size > lookback:
            raise ValueError(
                f"`patch_size` must be at most lookback={lookback}; received "
                f"{patch_size}"
            )
        if target_indices is not None:
            target_indices = [int(i) for i in target_indices]
            bad = [i for i in target_indices if not 0 <= i < num_channels]
            if bad or not target_indices:
                raise ValueError(
                    f"`target_indices` must be channel indices in [0, {num_channels})"
                    f"; received {target_indices}"
                )
        if quantiles is not None:
            quantiles = [float(q) for q in quantiles]
            if not quantiles or any(not 0 < q < 1 for q in quantiles):
                raise ValueError(
                    f"`quantiles` must be levels in (0, 1); received {quantiles}"
                )
        self.lookback = lookback
        self.horizon = horizon
        self.num_channels = num_channels
        self.target_indices = target_indices
        self.num_covariates = int(num_covariates)
        self.architecture = architecture
        self.patch_size = patch_size
        self.patch_stride = patch_stride
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.quantiles = quantiles
        self.revin = revin
        self.individual_head = bool(individual_head)

        stride = patch_size if patch_stride is None else patch_stride
        self._stride = stride
        # The most recent steps that patches starting every `stride` cover.
        self.usable_length = lookback - (lookback - patch_size) % stride
        # Overlapping patches get one more at the end, over the last values
        # repeated `stride` times, so the newest steps lead a patch too.
        self._end_padding = stride if stride < patch_size else 0
        self.num_patches = (
            self.usable_length + self._end_padding - patch_size
        ) // stride + 1
        self.num_outputs = len(quantiles) if quantiles else 1
        self.num_future_patches = -(-horizon // patch_size)
        policy = self.dtype_policy
        self.normalizer = (
            ReversibleInstanceNorm(num_channels, dtype=policy, name="revin")
            if revin
            else None
        )
        self.patch_embedding = PatchEmbedding(
            patch_size,
            hidden_dim,
            stride=patch_stride,
            dtype=policy,
            name="patch_embedding",
        )
        self.position_embedding = PositionEmbedding(
            self.num_patches, dtype=policy, name="position_embedding"
        )
        self.embedding_dropout = Dropout(
            dropout, dtype=policy, name="embedding_dropout"
        )
        block_arguments = dict(
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            dropout=dropout,
            activation="gelu",
            dtype=policy,
        )
        self.encoder_blocks = [
            TransformerEncoderBlock(**block_arguments, name=f"encoder_block_{i}")
            for i in range(num_layers)
        ]
        self.head_dropout = Dropout(dropout, dtype=policy, name="head_dropout")
        if architecture == "patch" and self.individual_head:
            self.head = keras.layers.EinsumDense(
                "bcf,cfo->bco",
                output_shape=(num_channels, horizon * self.num_outputs),
                bias_axes="co",
                dtype=policy,
                name="head",
            )
        elif architecture == "patch":
            self.head = keras.layers.Dense(
                horizon * self.num_outputs, dtype=policy, name="head"
            )
        else:
            self.query_position = PositionEmbedding(
                self.num_future_patches, dtype=policy, name="query_position"
            )
            self.decoder_blocks = [
                TransformerDecoderBlock(**block_arguments, name=f"decoder_block_{i}")
                for i in range(num_layers)
            ]
            self.head = keras.layers.Dense(
                patch_size * self.num_outputs, dtype=policy, name="head"
            )
        self.covariate_projection = (
            keras.layers.Dense(
                num_channels * self.num_outputs,
                dtype=policy,
                name="covariate_projection",
            )
            if self.num_covariates
            else None
        )

    def build(self, input_shape=None):
        # Every shape is known from the arguments, so one call on zeros builds
        # all sublayers; `.keras` loading relies on it.
        history = ops.zeros((1, self.lookback, self.num_channels))
        if self.num_covariates:
            history = {
                "past_values": history,
                "future_covariates": ops.zeros(
                    (1, self.lookback + self.horizon, self.num_covariates)
                ),
            }
        self.built = True
        self._forward(history, training=False)
        # A frozen model's sublayers exist only now: a parent model (a user's
        # functional wrapper) would train them (see freeze_new_sublayers).
        freeze_new_sublayers(self)

    def _forward(self, inputs, training=None):
        if self.num_covariates:
            if not isinstance(inputs, dict):
                raise ValueError(
                    "inputs: expected a dict with 'past_values' and "
                    "'future_covariates' "
                    f"(num_covariates={self.num_covariates}); received "
                    f"{type(inputs).__name__}"
                )
            history, covariates = inputs["past_values"], inputs["future_covariates"]
            self._check_inputs(history, covariates)
            covariates = covariates[:, -self.horizon :, :]
        else:
            history, covariates = inputs, None
            self._check_inputs(history, None)
        history = ops.cast(history, self.compute_dtype)
        if self.normalizer is not None:
            history, mean, std = self.normalizer.normalize(history)
        usable = self.usable_length
        history = history[:, self.lookback - usable :, :]
        if self._end_padding:
            last = ops.repeat(history[:, -1:, :], self._end_padding, axis=1)
            history = ops.concatenate([history, last], axis=1)
            usable += self._end_padding
        # Channel independence: every channel is its own univariate sample.
        series = ops.reshape(ops.transpose(history, (0, 2, 1)), (-1, usable, 1))
        tokens = self.patch_embedding(series)
        tokens = tokens + self.position_embedding(tokens)
        tokens = self.embedding_dropout(tokens, training=training)
        for block in self.encoder_blocks:
            tokens = block(tokens, training=training)
        if self.architecture == "patch":
            features = self.num_patches * self.hidden_dim
            # A shared head sees every channel as one more example.
            shape = (
                (-1, self.num_channels, features)
                if self.individual_head
                else (-1, features)
            )
            flat = ops.reshape(tokens, shape)
            out = self.head(self.head_dropout(flat, training=training))
            out = ops.reshape(
                out, (-1, self.num_channels, self.horizon, self.num_outputs)
            )
        else:
            # Learned queries: the position table itself is the query content.
            queries = ops.zeros(
                (ops.shape(tokens)[0], self.num_future_patches, self.hidden_dim),
                tokens.dtype,
            )
            queries = queries + self.query_position(queries)
            for block in self.decoder_blocks:
                queries = block(
                    queries, tokens, use_causal_mask=False, training=training
                )
            out = self.head(self.head_dropout(queries, training=training))
            out = ops.reshape(
                out,
                (
                    -1,
                    self.num_channels,
                    self.num_future_patches * self.patch_size,
                    self.num_outputs,
                ),
            )[:, :, : self.horizon, :]
        out = ops.transpose(out, (0, 2, 1, 3))
        if covariates is not None:
            extra = self.covariate_projection(ops.cast(covariates, self.compute_dtype))
            extra = ops.reshape(
                extra, (-1, self.horizon, self.num_channels, self.num_outputs)
            )
            out = out + extra
        if self.normalizer is not None:
            out = self.normalizer.denormalize(out, mean, std)
        out = ops.cast(out, "float32")
        if self.target_indices is not None:
            out = ops.take(out, self.target_indices, axis=2)
        if not self.quantiles:
            out = out[..., 0]
        return out

    def call(self, inputs, training=None):
        return self._forward(inputs, training=training)

    def default_input_signature(self):
        """Float32 windows of any batch, with the future covariates if any
        (built on zeros in `build`, so no input shapes are recorded)."""
        history = keras.InputSpec(
            shape=(None, self.lookback, self.num_channels), dtype="float32"
        )
        if self.num_covariates:
            covariates = keras.InputSpec(
                shape=(None, self.lookback + self.horizon, self.num_covariates),
                dtype="float32",
            )
            history = {"past_values": history, "future_covariates": covariates}
        return [history]

    def _check_inputs(self, history, covariates):
        """Raise ``ValueError`` for windows of another shape than the model's."""
        expected = [
            (
                "past_values" if self.num_covariates else "inputs",
                history,
                (self.lookback, self.num_channels),
                "lookback, num_channels",
            )
        ]
        if covariates is not None:
            sizes = (self.lookback + self.horizon, self.num_covariates)
            axes = "lookback + horizon, num_covariates"
            expected.append(("future_covariates", covariates, sizes, axes))
        for name, tensor, sizes, axes in expected:
            shape = tuple(tensor.shape)
            if len(shape) != 3 or any(
                known_size(got) not in (None, want)
                for got, want in zip(shape[1:], sizes)
            ):
                raise ValueError(
                    f"`{name}` must have shape (batch, {sizes[0]}, {sizes[1]}), "
                    f"that is (batch, {axes}); received shape {shape}."
                )

    def get_config(self):
        config = super().get_config()
        # Quantized sublayers are rebuilt in their policies from a map.
        add_quantized_policies(config, self)
        config.update(
            {
                "lookback": self.lookback,
                "horizon": self.horizon,
                "num_channels": self.num_channels,
                "target_indices": self.target_indices,
                "num_covariates": self.num_covariates,
                "architecture": self.architecture,
                "patch_size": self.patch_size,
                "patch_stride": self.patch_stride,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "quantiles": self.quantiles,
                "revin": self.revin,
                "individual_head": self.individual_head,
            }
        )
        return config
