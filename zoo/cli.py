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
import os
import sys
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
        return func(args) or 0
    except BrokenPipeError:
        # The reader went away (`zoo datasets | head`): not an error. Point
        # stdout at /dev/null so the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
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


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_datasets]
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the `zoo` command.

    Args:
        argv: arguments without the program name; default `sys.argv[1:]`.

    Returns:
        The exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_guarded(args.func, args, prog=parser.prog, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
