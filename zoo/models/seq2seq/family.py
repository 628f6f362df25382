"""The ``seq2seq`` family: Transformer encoder-decoder for the ``zoo`` command.

The data source decides the task (``zoo.models.seq2seq.sources``):
``cmudict`` is grapheme-to-phoneme (characters in, phonemes out, WER/PER),
``l10n_en_de``/``_fr``/``_es`` translation (WordPiece subwords, BLEU/chrF),
``debian_descriptions`` summarization (subwords, ROUGE); a ``.tsv`` of
``source<TAB>target`` lines or ``tfds:NAME[/CONFIG]`` is translation unless
``?task=`` says otherwise. The task, the tokenizers (fit on the training
split) and the sequence lengths are saved in the run folder, so evaluate,
predict, export and a resumed training reuse them.
"""

from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path

# Imported for their side effect too: ``keras.models.load_model`` of a run's
# ``model.keras`` (in a fresh ``zoo predict`` process) needs the model, loss,
# metric and schedule classes registered.
import training.losses  # noqa: F401
import training.schedules  # noqa: F401
from training.callbacks.atomic_checkpoints import (
    partial_path,
    replace_atomically,
    write_json_atomically,
)
from zoo.data import tokenizers as toks
from zoo.data.source_query import split_source
from zoo.family import SPLIT_SEED, ModelFamily, PreparedData
from zoo.models.seq2seq import seq2seq_backbone, seq2seq_transformer, tasks  # noqa: F401
from zoo.models.seq2seq.presets import PRESETS
from zoo.models.seq2seq.sources import (
    FITTING_OPTIONS,
    OPTIONS,
    load_evaluation_pairs,
    parse_source,
)
from zoo.models.seq2seq.sources import load_splits as load_sources
from zoo.run_dir import read_run

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


def target_token_count(pairs):
    """The non-padding label tokens of ``(source_ids, target_ids)`` pairs.

    The decoder learns each target followed by its end token
    (`zoo.data.bucketing.seq2seq_dataset`): one pass of the batches holds
    exactly these tokens, whatever the bucketing pads them to.
    """
    return sum(len(target) + 1 for _, target in pairs)


def load_splits(source, seed=0):
    """Return split name -> list of ``(source_text, [target, ...])``.

    Args:
        source: a data source (see ``zoo.models.seq2seq.sources``); its ``?``
            options are ignored here.
        seed: split seed for ``.tsv`` files (the built-in splits are fixed).
    """
    location, options = parse_source(source)
    return load_sources(location, seed=seed, fold_case=options.task == "g2p")


def _check_fixed_options(source, options, task, run_dir):
    """Refuse a data option that differs from what the prepared run was fit with.

    The run's tokenizers and lengths are saved: an option that would change
    them (``task=summarization`` given to a G2P run) was otherwise ignored.
    """
    given = {key for key, _ in split_source(source, OPTIONS)[1]}
    if "task" in given and options.task != task:
        raise ValueError(
            f"data option task={options.task} in {source!r}: the run in "
            f"{str(run_dir)!r} was trained for task {task!r}; expected "
            f"task={task} or no task option"
        )
    record = read_run(run_dir) or {}
    if not record.get("data"):
        return
    _, original = parse_source(record["data"])
    for key in FITTING_OPTIONS:
        if key == "task" or key not in given:  # task: checked above
            continue
        value, trained = _resolved(options, key), _resolved(original, key)
        if value != trained:
            raise ValueError(
                f"data option {key}={value} in {source!r}: the run's tokenizers "
                f"and lengths were fixed by its data {record['data']!r} "
                f"({key}={trained}); expected the same value or no {key} option"
            )


def _resolved(options, key):
    """An option's value with the task's default lengths filled in."""
    if key == "max_source_length":
        return options.lengths()[0]
    if key == "max_target_length":
        return options.lengths()[1]
    return getattr(options, key)


_DECODERS_LOCK = threading.Lock()


def _cached_decoder(decoder_class, model, options):
    """The model's ``decoder_class(model, **options)``, built once and reused.

    A new ``Decoder`` is a new ``tf.function`` (or ``jax.jit``): built per
    ``decode`` call, every ``transcribe`` of a single word traced and
    compiled the whole search again (0.5 s on TensorFlow, 1 to 2 s on JAX, a
    few MB of graphs each). The decoders live on the model itself, so they
    go when it does; the attribute is set past Keras' tracking (a dict of
    plain objects, which saving ignores).
    """
    key = (decoder_class, *sorted(options.items()))
    try:
        hash(key)
    except TypeError:  # not a valid option: let the decoder say why
        return decoder_class(model, **options)
    # Serving threads share the model: one decoder per key, not one each.
    with _DECODERS_LOCK:
        decoders = model.__dict__.get("_zoo_decoders")
        if decoders is None:
            decoders = {}
            object.__setattr__(model, "_zoo_decoders", decoders)
        if key not in decoders:
            # Cheap: a Decoder traces its search on its first call, not here.
            decoders[key] = decoder_class(model, **options)
        return decoders[key]


class Seq2SeqFamily(ModelFamily):
    """Transformer encoder-decoder: G2P, translation and summarization."""

    name = "seq2seq"
    description = (
        "Transformer encoder-decoder (G2P on cmudict, translation on l10n_en_*, "
        "summarization on debian_descriptions, any .tsv of pairs)"
    )
    presets = PRESETS
    default_preset = "tiny"
    default_data = "cmudict"
    monitor = "val_loss"
    learning_rate = 1e-3
    warmup_steps = None
    schedule = "cosine"

    # --- data -----------------------------------------------------------
    def tokenizers(self, run_dir):
        """Load the run's (source, target) tokenizers and data info.

        The info holds the task (``"g2p"`` for runs saved before tasks
        existed) and the sequence lengths.
        """
        run_dir = Path(run_dir)
        for name in (SOURCE_TOKENIZER, TARGET_TOKENIZER, DATA_FILE):
            if not (run_dir / name).is_file():
                raise FileNotFoundError(
                    f"{run_dir} has no {name}: not a trained seq2seq run folder"
                )
        info = json.loads((run_dir / DATA_FILE).read_text())
        info.setdefault("task", "g2p")
        return (
            toks.load(run_dir / SOURCE_TOKENIZER),
            toks.load(run_dir / TARGET_TOKENIZER),
            info,
        )

    def prepare_data(
        self, source, batch_size, run_dir: Path, seed=0, split_seed=SPLIT_SEED
    ):
        from zoo.data.bucketing import seq2seq_dataset

        run_dir = Path(run_dir)
        location, options = parse_source(source)
        # Written last, the data file says the three files are complete: a
        # run killed while writing them fits them again.
        prepared = (run_dir / DATA_FILE).is_file()
        if prepared:
            source_tok, target_tok, saved = self.tokenizers(run_dir)
            task = saved["task"]
            _check_fixed_options(source, options, task, run_dir)
        else:
            task = options.task
            if options.split != "test":
                raise ValueError(
                    f"data option split={options.split} in {source!r} chooses what "
                    "`zoo evaluate` scores; expected it on a trained run "
                    f"(zoo evaluate DIR --data '{location}?split={options.split}'), "
                    f"received it for the new run in {str(run_dir)!r}"
                )
        if options.split == "test":
            splits = load_sources(location, seed=split_seed, fold_case=task == "g2p")
            if not splits["train"]:
                raise ValueError(f"data {source!r} has an empty training split")
        else:
            # Only scored: no training or validation data to prepare.
            splits = {
                "train": [],
                "validation": [],
                "test": load_evaluation_pairs(
                    location, options.split, seed=split_seed, fold_case=task == "g2p"
                ),
            }
        if prepared:
            lengths = {key: saved[key] for key in tasks.LENGTH_KEYS}
        else:
            train = splits["train"]
            source_tok, target_tok = tasks.fit_tokenizers(task, train, options)
            lengths = tasks.sequence_lengths(
                task,
                tasks.encode_all(source_tok, [s for s, _ in train]),
                tasks.encode_all(target_tok, [t for _, ts in train for t in ts]),
                options,
            )
            run_dir.mkdir(parents=True, exist_ok=True)
            for tokenizer, name in (
                (source_tok, SOURCE_TOKENIZER),
                (target_tok, TARGET_TOKENIZER),
            ):
                partial = partial_path(str(run_dir / name))
                tokenizer.save(partial)
                replace_atomically(partial, run_dir / name)
            write_json_atomically(run_dir / DATA_FILE, dict(lengths, task=task))
        source_limit = lengths["source_sequence_length"]
        target_limit = lengths["target_sequence_length"]
        truncated = {}

        def encoded(split):
            examples = splits[split]
            source_ids = tasks.encode_all(source_tok, [s for s, _ in examples])
            target_ids = iter(
                tasks.encode_all(target_tok, [t for _, ts in examples for t in ts])
            )
            pairs = []
            truncated[split] = 0
            for ids, (_, targets) in zip(source_ids, examples):
                if task != "g2p" and len(ids) > source_limit:
                    # Text keeps its beginning: the part that fits still
                    # teaches the model (documented with the bad inputs).
                    ids = ids[:source_limit]
                    truncated[split] += 1
                for _ in targets:
                    target = next(target_ids)
                    # Pairs the model cannot hold are left out of the loss
                    # datasets; evaluation still scores them.
                    if ids and len(ids) <= source_limit and len(target) < target_limit:
                        pairs.append((ids, target))
            return pairs

        pair_counts, token_counts = {}, {}

        def dataset(split, shuffle):
            pairs = encoded(split)
            pair_counts[split] = len(pairs)
            token_counts[split] = target_token_count(pairs)
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

        data = {
            "train": dataset("train", True),
            "validation": dataset("validation", False),
            "test": dataset("test", False),
        }
        info = dict(
            lengths,
            task=task,
            source_vocabulary_size=source_tok.vocabulary_size,
            target_vocabulary_size=target_tok.vocabulary_size,
            split_sizes={name: len(pairs) for name, pairs in splits.items()},
            truncated_sources=truncated,
            test_pairs=[[s, list(ts)] for s, ts in splits["test"]],
        )
        return PreparedData(
            **data,
            info=info,
            train_examples=pair_counts["train"],
            train_tokens=token_counts["train"],
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

    def decode(
        self,
        model,
        run_dir,
        texts,
        beam_size=None,
        batch_size=256,
        length_penalty=None,
    ):
        """Decode ``texts`` without checks; return outputs and truncated indices.

        Empty inputs give ``""``. Inputs longer than the model reads are cut
        to ``model.source_sequence_length`` tokens (their indices are
        returned). The batches go by input length, so short inputs finish
        together. ``beam_size`` and ``length_penalty`` override the run's
        search options.

        Returns:
            ``(outputs, truncated)``: one string per input, list of indices.
        """
        from zoo.decoding import Decoder

        source_tok, target_tok, _ = self.tokenizers(run_dir)
        options = self._search_options(run_dir)
        if beam_size is not None:
            options["beam_size"] = beam_size
        if length_penalty is not None:
            options["length_penalty"] = length_penalty
        decoder = _cached_decoder(Decoder, model, options)
        limit = model.source_sequence_length
        encoded = tasks.encode_all(source_tok, [text.strip() for text in texts])
        truncated = [i for i, ids in enumerate(encoded) if len(ids) > limit]
        encoded = [ids[:limit] for ids in encoded]
        outputs = [""] * len(texts)
        todo = sorted(
            (i for i, ids in enumerate(encoded) if ids), key=lambda i: len(encoded[i])
        )
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            for i, row in zip(chunk, decoder([encoded[i] for i in chunk])):
                outputs[i] = target_tok.decode(row)
        return outputs, truncated

    def transcribe(self, model, run_dir, words, beam_size=None, batch_size=256):
        """Return one output string per input string (the ``zoo predict`` path).

        G2P: empty strings give ``""``, unseen symbols read as ``[UNK]``, and
        an input longer than the model reads raises ``ValueError``.
        Translation and summarization: an empty input raises ``ValueError``;
        a longer one is truncated to the model's source length with a
        ``UserWarning`` naming it.

        Raises:
            ValueError: as above, naming the input, the limit and the length.
        """
        source_tok, _, info = self.tokenizers(run_dir)
        limit = model.source_sequence_length
        if info["task"] == "g2p":
            for word in words:
                count = len(source_tok.encode(word.strip()))
                if count > limit:
                    raise ValueError(
                        f"input {word!r} has {count} symbols; this model reads at "
                        f"most {limit}"
                    )
        else:
            for index, text in enumerate(words):
                if not text.strip():
                    raise ValueError(
                        f"inputs[{index}]: expected non-empty text to "
                        f"{'translate' if info['task'] == 'translation' else 'summarize'}"
                        f"; received {text!r}"
                    )
        outputs, truncated = self.decode(model, run_dir, words, beam_size, batch_size)
        for index in truncated:
            warnings.warn(
                f"inputs[{index}] is longer than the {limit} tokens this model "
                f"reads; only its first {limit} tokens were used",
                UserWarning,
                stacklevel=2,
            )
        return outputs

    def evaluate(self, model, data: PreparedData, run_dir: Path) -> dict:
        pairs = data.info["test_pairs"]
        if not pairs:
            raise ValueError("the test split is empty: nothing to evaluate")
        source_tok, _, info = self.tokenizers(run_dir)
        sources = [source for source, _ in pairs]
        if info["task"] == "g2p":
            # Words the model cannot read count as wrong rather than stopping
            # the evaluation.
            limit = model.source_sequence_length
            readable = [len(source_tok.encode(w)) <= limit for w in sources]
            outputs = iter(
                self.transcribe(
                    model, run_dir, [w for w, ok in zip(sources, readable) if ok]
                )
            )
            hypotheses = [next(outputs) if ok else "" for ok in readable]
            return tasks.score("g2p", hypotheses, [refs for _, refs in pairs])
        hypotheses, truncated = self.decode(model, run_dir, sources)
        metrics = tasks.score(
            info["task"], hypotheses, [refs for _, refs in pairs], sources
        )
        metrics["truncated_inputs"] = len(truncated)
        return metrics

    def add_predict_arguments(self, parser) -> None:
        parser.add_argument(
            "--beam-size",
            type=int,
            default=None,
            help="beams of the search (1: greedy); default: the preset's",
        )

    def predict(self, model, run_dir: Path, inputs: list, args) -> str:
        """G2P: ``word  phonemes`` lines; text tasks: one output line per input."""
        beam_size = getattr(args, "beam_size", None)
        if beam_size is not None and beam_size < 1:
            # Named as the user typed it, before the decoder's own check.
            raise ValueError(
                f"`--beam-size` must be a positive integer; received {beam_size!r}"
            )
        if self.tokenizers(run_dir)[2]["task"] != "g2p":
            # A blank line of a file read from standard input gets a blank
            # output line, as the SavedModel answers "": line N answers line N.
            texts = [(index, text) for index, text in enumerate(inputs) if text.strip()]
            outputs = [""] * len(inputs)
            translated = self.transcribe(
                model, run_dir, [text for _, text in texts], beam_size=beam_size
            )
            for (index, _), output in zip(texts, translated):
                outputs[index] = output
            return "\n".join(outputs)
        outputs = self.transcribe(model, run_dir, inputs, beam_size=beam_size)
        width = max((len(word) for word in inputs), default=0)
        return "\n".join(
            f"{word.ljust(width)}  {output}" for word, output in zip(inputs, outputs)
        )

    def export(self, model, run_dir: Path, path: Path) -> Path:
        from zoo.models.seq2seq.export import export_seq2seq

        source_tok, target_tok, info = self.tokenizers(run_dir)
        return export_seq2seq(
            model,
            source_tok,
            target_tok,
            path,
            truncate=info["task"] != "g2p",
            **self._search_options(run_dir),
        )
