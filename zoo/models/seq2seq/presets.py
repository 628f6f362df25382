"""Seq2seq presets: plain data, the paper's sizes where the paper defines them.

Model keys go to ``Seq2SeqBackbone``/``Seq2SeqTransformer``; the others set
training (``batch_size``, ``learning_rate``, ``schedule``, ``warmup_steps``,
``label_smoothing``) and decoding (``beam_size``, ``length_penalty``).
Sequence lengths come from the data unless a preset fixes them.
"""

_PAPER = dict(
    dropout=0.1,
    activation="relu",
    normalize_first=False,
    position_encoding="sinusoidal",
    tie_output_embedding=True,
    label_smoothing=0.1,
    beam_size=4,
    length_penalty=0.6,
    schedule="cosine",
    warmup_steps=4000,
)

PRESETS = {
    # "Attention Is All You Need", Table 3 (base and big).
    "transformer_base": dict(
        _PAPER,
        num_encoder_layers=6,
        num_decoder_layers=6,
        hidden_dim=512,
        num_heads=8,
        intermediate_dim=2048,
        batch_size=128,
        learning_rate=7e-4,
    ),
    "transformer_big": dict(
        _PAPER,
        num_encoder_layers=6,
        num_decoder_layers=6,
        hidden_dim=1024,
        num_heads=16,
        intermediate_dim=4096,
        dropout=0.3,
        batch_size=64,
        learning_rate=3e-4,
    ),
    # CMU g2p-seq2seq's Transformer (2 layers x 256): minutes per epoch on a CPU.
    "small": dict(
        _PAPER,
        num_encoder_layers=2,
        num_decoder_layers=2,
        hidden_dim=256,
        num_heads=4,
        intermediate_dim=1024,
        normalize_first=True,
        batch_size=256,
        learning_rate=1e-3,
        warmup_steps=500,
    ),
    # Sentence tasks on a CPU budget: the sizes of keras.io's translation
    # example (1+1 layers, 8 heads, FFN 2048) with the zoo's recipe. Without
    # dropout it learns fastest in the first epochs (docs/translation.md).
    "compact": dict(
        _PAPER,
        num_encoder_layers=1,
        num_decoder_layers=1,
        hidden_dim=256,
        num_heads=8,
        intermediate_dim=2048,
        dropout=0.0,
        normalize_first=True,
        batch_size=128,
        learning_rate=1e-3,
        warmup_steps=500,
    ),
    "mini": dict(
        _PAPER,
        num_encoder_layers=2,
        num_decoder_layers=2,
        hidden_dim=128,
        num_heads=4,
        intermediate_dim=512,
        normalize_first=True,
        batch_size=256,
        learning_rate=2e-3,
        warmup_steps=300,
    ),
    # For smoke tests and the test suite: about a minute on cmudict on a CPU.
    "tiny": dict(
        _PAPER,
        num_encoder_layers=1,
        num_decoder_layers=1,
        hidden_dim=64,
        num_heads=4,
        intermediate_dim=128,
        dropout=0.0,
        normalize_first=True,
        batch_size=256,
        learning_rate=3e-3,
        warmup_steps=100,
        beam_size=1,
    ),
}
