"""The ``seq2seq`` family: Transformer encoder-decoder for the ``zoo`` command.

Data: ``cmudict`` (built in), a ``.tsv`` of ``source<TAB>target`` lines, or
``tfds:NAME[/CONFIG]`` (a supervised text-pair dataset). Sources are read
character by character (lower-cased), targets as whitespace-separated
symbols: graphemes in, ARPAbet phonemes out for G2P. The tokenizers are fit
on the training split and saved in the run folder.
"""

from __future__ import annotations

import json
from pathlib import Path

# Imported for their side effect too: ``keras.models.load_model`` of a run's
# ``model.keras`` (in a fresh ``zoo predict`` process) needs the model, loss,
# metric and schedule classes registered.
import training.losses  # noqa: F401
import training.schedules  # noqa: F401
from zoo.data import tokenizers as toks
from zoo.family import ModelFamily, PreparedData
from zoo.models.seq2seq import seq2seq_backbone, seq2seq_transformer  # noqa: F401
from zoo.models.seq2seq.presets import PRESETS

SOURCE_TOKENIZER = "source_tokenizer.json"
TARGET_TOKENIZER = "target_tokenizer.json"
DATA_FILE = "seq2seq_data.json"
MODEL_KEYS = (
    "num_encoder_layers",
    "num_decoder_layers",
    "hidden_dim",
    "num_heads",
    "intermediate_dim",
    "dropout",
    "attention_dropout",
    "activation",
    "normalize_first",
    "position_encoding",
    "shared_embeddings",
)


def load_splits(source, seed=0):
    """Return split name -> list of ``(source_text, [target, ...])``.

    Args:
        source: ``"cmudict"``, a ``.tsv`` path or ``"tfds:NAME[/CONFIG]"``.
        seed: split seed for ``.tsv`` files (cmudict's split is fixed).

    Raises:
        ValueError: for any other ``source``.
    """
    source = str(source)
    if source == "cmudict":
        from zoo.data.cmudict import load_cmudict

        return load_cmudict()
    if source.startswith("tfds:"):
        return _load_tfds(source[len("tfds:") :], seed)
    if source.endswith(".tsv"):
        from zoo.data.text_pairs import load_tsv

        return load_tsv(source, seed=seed)
    raise ValueError(
        "data for seq2seq must be 'cmudict', a .tsv path of source<TAB>target "
        f"lines or 'tfds:NAME[/CONFIG]'; received {source!r}"
    )


def _load_tfds(name, seed):
    import tensorflow_datasets as tfds

    from zoo.data.cmudict import split_by_key

    builder = tfds.builder(name)
    builder.download_and_prepare()
    available = set(builder.info.splits)

    def read(split):
        pairs = {}
        for source, target in tfds.as_numpy(
            builder.as_dataset(split=split, as_supervised=True)
        ):
            source, target = source.decode("utf-8"), target.decode("utf-8")
            if source.strip() and target.strip():
                pairs.setdefault(source.strip(), []).append(target.strip())
        return pairs

    if {"train", "validation", "test"} <= available:
        return {
            split: list(read(split).items())
            for split in ("train", "validation", "test")
        }
    # A dataset without all three splits is split 90/5/5 by source.
    pairs = read("train")
    return {
        name: [(key, pairs[key]) for key in keys]
        for name, keys in split_by_key(pairs, seed=seed).items()
    }


def _round_up(value, multiple=8):
    return -(-value // multiple) * multiple


class Seq2SeqFamily(ModelFamily):
    """Transformer encoder-decoder; G2P on CMUdict by default."""

    name = "seq2seq"
    description = "Transformer encoder-decoder (G2P on cmudict, any .tsv of pairs)"
    presets = PRESETS
    default_preset = "tiny"
    default_data = "cmudict"
    monitor = "val_loss"
    learning_rate = 1e-3
    warmup_steps = None
    schedule = "cosine"

    # --- data -----------------------------------------------------------
    def tokenizers(self, run_dir):
        """Load the run's (source, target) tokenizers and data info."""
        run_dir = Path(run_dir)
        for name in (SOURCE_TOKENIZER, TARGET_TOKENIZER, DATA_FILE):
            if not (run_dir / name).is_file():
                raise FileNotFoundError(
                    f"{run_dir} has no {name}: not a trained seq2seq run folder"
                )
        return (
            toks.load(run_dir / SOURCE_TOKENIZER),
            toks.load(run_dir / TARGET_TOKENIZER),
            json.loads((run_dir / DATA_FILE).read_text()),
        )

    def prepare_data(self, source, batch_size, run_dir: Path, seed=0):
        from zoo.data.bucketing import seq2seq_dataset

        run_dir = Path(run_dir)
        splits = load_splits(source, seed=seed)
        if not splits["train"]:
            raise ValueError(f"data {source!r} has an empty training split")
        if (run_dir / SOURCE_TOKENIZER).is_file():
            source_tok, target_tok, lengths = self.tokenizers(run_dir)
        else:
            train = splits["train"]
            source_tok = toks.SymbolTokenizer.fit(
                (s for s, _ in train), split="characters", lowercase=True
            )
            target_tok = toks.SymbolTokenizer.fit(
                (t for _, ts in train for t in ts), split="whitespace"
            )
            # Sequence lengths are fixed by the training split (+ the start
            # or end token), rounded up so close datasets share shapes.
            lengths = {
                "source_sequence_length": _round_up(
                    max(len(source_tok.symbols(s)) for s, _ in train)
                ),
                "target_sequence_length": _round_up(
                    max(len(t.split()) for _, ts in train for t in ts) + 1
                ),
            }
            run_dir.mkdir(parents=True, exist_ok=True)
            source_tok.save(run_dir / SOURCE_TOKENIZER)
            target_tok.save(run_dir / TARGET_TOKENIZER)
            (run_dir / DATA_FILE).write_text(json.dumps(lengths, indent=1) + "\n")

        def encoded(split):
            pairs = []
            for text, targets in splits[split]:
                ids = source_tok.encode(text)
                for target in targets:
                    target_ids = target_tok.encode(target)
                    # Pairs the model cannot hold are left out of the loss
                    # datasets; evaluation still scores their words.
                    if (
                        ids
                        and len(ids) <= lengths["source_sequence_length"]
                        and len(target_ids) < lengths["target_sequence_length"]
                    ):
                        pairs.append((ids, target_ids))
            return pairs

        def dataset(split, shuffle):
            pairs = encoded(split)
            if not pairs:
                return None
            return seq2seq_dataset(
                pairs,
                batch_size,
                target_tok.start_id,
                target_tok.end_id,
                shuffle=shuffle,
                seed=seed,
            )

        info = dict(
            lengths,
            source_vocabulary_size=source_tok.vocabulary_size,
            target_vocabulary_size=target_tok.vocabulary_size,
            split_sizes={name: len(pairs) for name, pairs in splits.items()},
            test_pairs=[[s, list(ts)] for s, ts in splits["test"]],
        )
        return PreparedData(
            train=dataset("train", True),
            validation=dataset("validation", False),
            test=dataset("test", False),
            info=info,
        )

    # --- model ------------------------------------------------------------
    def build_model(self, config: dict, info: dict):
        from zoo.models.seq2seq.seq2seq_backbone import Seq2SeqBackbone
        from zoo.models.seq2seq.seq2seq_transformer import Seq2SeqTransformer

        backbone = Seq2SeqBackbone(
            source_vocabulary_size=info["source_vocabulary_size"],
            target_vocabulary_size=info["target_vocabulary_size"],
            source_sequence_length=config.get(
                "source_sequence_length", info["source_sequence_length"]
            ),
            target_sequence_length=config.get(
                "target_sequence_length", info["target_sequence_length"]
            ),
            **{key: config[key] for key in MODEL_KEYS if key in config},
        )
        return Seq2SeqTransformer(
            backbone, tie_output_embedding=config.get("tie_output_embedding", True)
        )

    def compile_arguments(self, config: dict, info: dict) -> dict:
        from training.losses import (
            MaskedSparseCategoricalAccuracy,
            MaskedSparseCategoricalCrossentropy,
        )

        return {
            "loss": MaskedSparseCategoricalCrossentropy(
                label_smoothing=config.get("label_smoothing", 0.1),
                pad_id=toks.PAD_ID,
                from_logits=True,
            ),
            "metrics": [MaskedSparseCategoricalAccuracy(pad_id=toks.PAD_ID)],
        }

    # --- use --------------------------------------------------------------
    def _search_options(self, run_dir):
        from zoo import run_dir as runs

        config = (runs.read_run(run_dir) or {}).get("config", {})
        return {
            "beam_size": config.get("beam_size", 4),
            "length_penalty": config.get("length_penalty", 0.6),
        }

    def transcribe(self, model, run_dir, words, beam_size=None, batch_size=256):
        """Return one output string per input string.

        Empty strings give ``""``; unseen symbols read as ``[UNK]``.

        Raises:
            ValueError: if an input is longer than the model reads.
        """
        from zoo.decoding import Decoder

        source_tok, target_tok, _ = self.tokenizers(run_dir)
        options = self._search_options(run_dir)
        if beam_size is not None:
            options["beam_size"] = beam_size
        decoder = Decoder(model, **options)
        encoded = [source_tok.encode(word.strip()) for word in words]
        limit = model.source_sequence_length
        for word, ids in zip(words, encoded):
            if len(ids) > limit:
                raise ValueError(
                    f"input {word!r} has {len(ids)} symbols; this model reads at "
                    f"most {limit}"
                )
        outputs = [""] * len(words)
        todo = [i for i, ids in enumerate(encoded) if ids]
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            for i, row in zip(chunk, decoder([encoded[i] for i in chunk])):
                outputs[i] = target_tok.decode(row)
        return outputs

    def evaluate(self, model, data: PreparedData, run_dir: Path) -> dict:
        from zoo.models.seq2seq.metrics import error_rates

        pairs = data.info["test_pairs"]
        if not pairs:
            raise ValueError("the test split is empty: nothing to evaluate")
        limit = model.source_sequence_length
        source_tok, _, _ = self.tokenizers(run_dir)
        # Words the model cannot read count as wrong rather than stopping
        # the evaluation.
        readable = [len(source_tok.encode(w)) <= limit for w, _ in pairs]
        outputs = iter(
            self.transcribe(
                model, run_dir, [w for (w, _), ok in zip(pairs, readable) if ok]
            )
        )
        hypotheses = [next(outputs) if ok else "" for ok in readable]
        rates = error_rates(hypotheses, [refs for _, refs in pairs])
        return {"wer": rates["wer"], "per": rates["per"], "test_words": rates["words"]}

    def add_predict_arguments(self, parser) -> None:
        parser.add_argument(
            "--beam-size",
            type=int,
            default=None,
            help="beams of the search (1: greedy); default: the preset's",
        )

    def predict(self, model, run_dir: Path, inputs: list, args) -> str:
        beam_size = getattr(args, "beam_size", None)
        outputs = self.transcribe(model, run_dir, inputs, beam_size=beam_size)
        width = max((len(word) for word in inputs), default=0)
        return "\n".join(
            f"{word.ljust(width)}  {output}" for word, output in zip(inputs, outputs)
        )

    def export(self, model, run_dir: Path, path: Path) -> Path:
        from zoo.models.seq2seq.export import export_seq2seq

        source_tok, target_tok, _ = self.tokenizers(run_dir)
        return export_seq2seq(
            model, source_tok, target_tok, path, **self._search_options(run_dir)
        )
