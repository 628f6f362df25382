"""The `zoo` command.

Each subcommand is a pair of functions: `add_NAME(subparsers)` declares its
arguments and `cmd_NAME(args) -> int` runs it. Adding a subcommand means
writing the pair and listing `add_NAME` in `SUBCOMMANDS`. Heavy imports
(TensorFlow, Keras) go inside `cmd_NAME`, so `zoo --help` stays fast.

Errors a user can fix (bad arguments, missing files, failed downloads) print
one line, `zoo: error: ...`, to stderr and exit with status 2; `--verbose`
shows the full message and traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable

from zoo import __version__

USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    RuntimeError,
    NotImplementedError,
    OSError,
)
"""Exceptions reported as a one-line error rather than a traceback."""

EXIT_USAGE = 2
"""Exit status for errors the user can fix (as argparse uses)."""

EXIT_TERMINATED = 128 + 15
"""Exit status after SIGTERM (the shell's for a process it ended)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill PID`, a scheduler ending a job), handled as Ctrl-C is."""


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Raise `Terminated` on SIGTERM while the block runs (main thread only).

    By default SIGTERM ends Python at once: no message, and no cleanup of
    what a Ctrl-C removes (a half-written checkpoint or SavedModel, the run
    folder's lock file). The run resumes either way.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_guarded(
    func: Callable[[argparse.Namespace], int | None],
    args: argparse.Namespace,
    *,
    prog: str = "zoo",
    verbose: bool = False,
) -> int:
    """Run a subcommand, turning user errors into one line on stderr.

    Args:
        func: the subcommand, `cmd_NAME(args)`.
        args: its parsed arguments.
        prog: program name to prefix the error with.
        verbose: print the full traceback instead of one line.

    Returns:
        The subcommand's exit status (0 if it returned None), or 2 for a
        user error, or 130 if interrupted.
    """
    try:
        with _sigterm_as_interrupt():
            return func(args) or 0
    except BrokenPipeError:
        # The reader went away (`zoo datasets | head`): not an error. Point
        # stdout at /dev/null so the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Terminated:
        print(f"{prog}: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as error:
        if verbose:
            traceback.print_exc()
        else:
            lines = str(error).strip().splitlines() or [type(error).__name__]
            more = " (run with --verbose for details)" if len(lines) > 1 else ""
            print(f"{prog}: error: {lines[0]}{more}", file=sys.stderr)
        return EXIT_USAGE


# --- zoo datasets -----------------------------------------------------------


def add_datasets(subparsers: argparse._SubParsersAction) -> None:
    """Declare `zoo datasets`."""
    parser = subparsers.add_parser(
        "datasets",
        help="list built-in datasets, their sizes and sources",
        description="List built-in datasets: name, size, where they come from, "
        "and whether they are in the data cache.",
    )
    parser.set_defaults(func=cmd_datasets)


def cmd_datasets(args: argparse.Namespace) -> int:
    """Print the built-in dataset table."""
    from zoo.data import registry

    print(registry.format_table())
    return 0


# --- shared argument checks --------------------------------------------------


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1, with a message naming the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, received {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, received {value}"
        )
    return value


def non_empty(text: str) -> str:
    """argparse type: a value that is not empty (an unset shell variable)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"expected a non-empty value, received {text!r}"
        )
    return text


def user_path(text: str) -> str:
    """argparse type: a non-empty path, a leading ``~`` expanded.

    The shell expands ``~`` only where it is not quoted; a quoted
    ``--out "~/runs/x"`` made a folder named ``~`` in the working folder.
    """
    return os.path.expanduser(non_empty(text))


SEED_MAX = 2**32 - 1
"""The largest seed NumPy (and so `keras.utils.set_random_seed`) takes."""


def seed_int(text: str) -> int:
    """argparse type: a random seed, an integer from 0 to `SEED_MAX`."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= SEED_MAX:
        # NumPy's own error, raised once the run folder is written, names neither.
        raise argparse.ArgumentTypeError(
            f"expected an integer from 0 to {SEED_MAX}, received {text!r}"
        )
    return value


def existing_run_dir(text: str) -> str:
    """argparse type: a folder that exists (a leading ``~`` expanded)."""
    path = os.path.expanduser(text)
    if os.path.isfile(path):
        raise argparse.ArgumentTypeError(
            f"expected a run folder (the --out of `zoo train`); received {text!r}, "
            "which is a file"
        )
    if not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"no such directory: {text!r}")
    return path


PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


# --- zoo train --------------------------------------------------------------


def add_train(subparsers: argparse._SubParsersAction) -> None:
    """Declare `zoo train`."""
    from zoo import registry

    parser = subparsers.add_parser(
        "train",
        help="train a model; the same --out again resumes",
        description="Train MODEL on SOURCE. Running the same command again "
        "with the same --out resumes an interrupted run from its last "
        "completed epoch.",
    )
    parser.add_argument(
        "model", metavar="MODEL", help=f"one of: {', '.join(registry.family_names())}"
    )
    parser.add_argument(
        "--preset", type=non_empty, help="model size (default: the family's)"
    )
    parser.add_argument(
        "--data",
        type=non_empty,
        metavar="SOURCE",
        help="built-in dataset name, tfds:NAME[/CONFIG], or a local path",
    )
    parser.add_argument("--epochs", type=positive_int, default=10)
    parser.add_argument("--batch-size", type=positive_int, default=None)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument(
        "--distribute",
        default="auto",
        choices=("auto", "none", "mirrored", "multi_worker", "tpu", "data_parallel"),
    )
    parser.add_argument("--seed", type=seed_int, default=0)
    parser.add_argument(
        "--out",
        type=user_path,
        metavar="DIR",
        help="run folder (default runs/MODEL-PRESET)",
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic ops (bit-identical resumes; slower)",
    )
    parser.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    """Train (or resume), then evaluate and export into --out."""
    from zoo import registry
    from zoo.trainer import train_run

    family = registry.get_family(args.model)
    preset = args.preset or family.default_preset
    family.check_preset(preset)
    out = args.out or os.path.join("runs", f"{args.model}-{preset}")
    made = make_run_folders(out)
    try:
        metrics = train_run(
            family,
            preset=preset,
            data=args.data or family.default_data,
            out=out,
            epochs=args.epochs,
            batch_size=args.batch_size,
            precision=args.precision,
            distribute=args.distribute,
            seed=args.seed,
            deterministic=args.deterministic,
        )
    except BaseException:
        # A refused run leaves no empty folders (the default `runs/` too),
        # only what it cleared of its own files.
        remove_empty_folders(made)
        raise
    print(json.dumps(metrics, indent=2, sort_keys=True))
    return 0


def make_run_folders(out: str) -> list[str]:
    """Make the folder ``out`` and the missing ones above it.

    Returns:
        The folders made, deepest first, for `remove_empty_folders`.

    Raises:
        ValueError: naming --out, for a folder that cannot be made (a file
            in the path, no permission), rather than an ``OSError`` that
            names neither the argument nor what was expected.
    """
    missing = []
    folder = os.path.abspath(out)
    while not os.path.isdir(folder):
        if os.path.lexists(folder) and folder != os.path.abspath(out):
            raise ValueError(
                f"--out {out!r} cannot be created: {folder!r} is a file; expected "
                "a folder path"
            )
        if os.path.lexists(folder):
            return []  # --out itself is a file: train_run names it
        missing.append(folder)
        folder = os.path.dirname(folder)
    made = []
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except OSError as error:
            remove_empty_folders(made[::-1])
            raise ValueError(
                f"--out {out!r} cannot be created ({error.strerror}: {folder!r}); "
                "expected a folder path that can be written"
            ) from None
        made.append(folder)
    return made[::-1]


def remove_empty_folders(folders: list[str]) -> None:
    """Remove each of ``folders`` (deepest first) that is empty."""
    for folder in folders:
        with contextlib.suppress(OSError):
            os.rmdir(folder)  # only if empty


# --- zoo evaluate -----------------------------------------------------------


def add_evaluate(subparsers: argparse._SubParsersAction) -> None:
    """Declare `zoo evaluate`."""
    parser = subparsers.add_parser(
        "evaluate",
        help="print a trained run's test metrics as JSON",
        description="Evaluate the model in DIR on the test split of SOURCE "
        "(default: the data it was trained on) and print the metrics as JSON.",
    )
    parser.add_argument("run_dir", metavar="DIR", type=existing_run_dir)
    parser.add_argument("--data", type=non_empty, metavar="SOURCE")
    parser.add_argument("--batch-size", type=positive_int, default=None)
    parser.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a trained run."""
    from zoo.trainer import evaluate_run

    metrics = evaluate_run(args.run_dir, data=args.data, batch_size=args.batch_size)
    print(json.dumps(metrics, indent=2, sort_keys=True))
    return 0


# --- zoo predict ------------------------------------------------------------


def add_predict(subparsers: argparse._SubParsersAction) -> None:
    """Declare `zoo predict`; the family of DIR parses its own options."""
    parser = subparsers.add_parser(
        "predict",
        help="predict on raw inputs: words, sentences, image files or folders, "
        "a CSV window",
        description="Run the model in DIR on raw INPUTs and print predictions.",
    )
    parser.add_argument("run_dir", metavar="DIR", type=existing_run_dir)
    parser.add_argument("inputs", metavar="INPUT", nargs="+", type=non_empty)
    parser.epilog = (
        "An INPUT of - reads INPUTs from standard input, one per line (e.g. a "
        "file of sentences to translate). "
        "For an image model, an INPUT that is a folder stands for every image "
        "file under it (sub-folders too), sorted by path. "
        "The model's family adds options of its own, e.g. vit: --top K, "
        "--explain OUT.png (attention heatmap)."
    )
    parser.set_defaults(func=cmd_predict, accepts_extra=True)


def cmd_predict(args: argparse.Namespace) -> int:
    """Print predictions of a trained run, with the family's own options."""
    from zoo.trainer import predict_run

    inputs = inputs_with_stdin(args.inputs, sys.stdin)
    print(predict_run(args.run_dir, inputs, args.extra))
    return 0


def inputs_with_stdin(inputs, stream):
    """``inputs`` with ``-`` replaced by the lines of ``stream``.

    Every line is one input, empty ones too, so that output line N answers
    input line N of a file piped in.
    """
    if inputs.count("-") > 1:
        raise ValueError(
            "INPUT - (standard input) may be given once; received it "
            f"{inputs.count('-')} times"
        )
    if "-" not in inputs:
        return list(inputs)
    lines = stream.read().splitlines()
    if not lines and len(inputs) == 1:
        raise ValueError("INPUT -: expected lines on standard input; received none")
    position = inputs.index("-")
    return [*inputs[:position], *lines, *inputs[position + 1 :]]


# --- zoo export -------------------------------------------------------------


def add_export(subparsers: argparse._SubParsersAction) -> None:
    """Declare `zoo export`."""
    parser = subparsers.add_parser(
        "export",
        help="write a SavedModel that serves raw inputs",
        description="Export the model in DIR as a TensorFlow SavedModel whose "
        "serving signature takes raw inputs.",
    )
    parser.add_argument("run_dir", metavar="DIR", type=existing_run_dir)
    parser.add_argument(
        "--to", type=user_path, metavar="PATH", help="default DIR/saved_model"
    )
    parser.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    """Export a trained run."""
    from zoo.trainer import export_run

    print(export_run(args.run_dir, args.to))
    return 0


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_train,
    add_evaluate,
    add_predict,
    add_export,
    add_datasets,
]
"""Functions that each add one subcommand to the parser."""


def build_parser() -> argparse.ArgumentParser:
    """Build the `zoo` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="zoo", description="Train, evaluate and export transformer models."
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="show full error details"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    for subparser in subparsers.choices.values():
        # Also after the subcommand, where "(run with --verbose for details)"
        # has a user add it; SUPPRESS keeps `zoo --verbose SUB` as it is.
        subparser.add_argument(
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show full error details",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the `zoo` command.

    Args:
        argv: arguments without the program name; default `sys.argv[1:]`.

    Returns:
        The exit status.
    """
    parser = build_parser()
    # Only `zoo predict` takes options beyond its own: those of the family of
    # the run it loads, which is known only once DIR is read.
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    if not args.verbose:
        # Before TensorFlow loads: its C++ start-up logs (XLA's service lines,
        # "failed call to cuInit: ... CUDA error" on a machine without a GPU)
        # alarm more than they inform. --verbose keeps them; a value the user
        # set wins.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return run_guarded(args.func, args, prog=parser.prog, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
