"""Fetch or list the built-in datasets.

Usage:
    python -m zoo.data list
    python -m zoo.data fetch NAME [NAME ...]
"""

from __future__ import annotations

import argparse
import sys

from zoo.cli import run_guarded
from zoo.data import registry


def cmd_list(args: argparse.Namespace) -> int:
    """Print the built-in datasets and whether each is cached."""
    print(registry.format_table())
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch each named dataset into the data cache (no-op where cached)."""
    for name in args.names:
        registry.get(name)  # Reject an unknown name before fetching any other.
    for name in args.names:
        was_cached = registry.is_cached(name)
        path = registry.fetch(name)
        state = "already cached" if was_cached else "fetched"
        print(f"{name}: {state} at {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of `python -m zoo.data`."""
    parser = argparse.ArgumentParser(
        prog="python -m zoo.data", description="Fetch or list built-in datasets."
    )
    parser.add_argument(
        "--verbose", action="store_true", help="show full error details"
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    list_parser = subparsers.add_parser("list", help="list built-in datasets")
    list_parser.set_defaults(func=cmd_list)
    fetch_parser = subparsers.add_parser("fetch", help="fetch datasets into the cache")
    fetch_parser.add_argument("names", nargs="+", metavar="NAME", help="dataset name")
    fetch_parser.set_defaults(func=cmd_fetch)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `python -m zoo.data` with `argv` (default: `sys.argv[1:]`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_guarded(args.func, args, prog=parser.prog, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
