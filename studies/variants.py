"""The command line the variant studies share: `python studies/<study>.py [--identities N] [VARIANT ...]`."""

from __future__ import annotations

import argparse
import sys


def parse_variants(argv: list[str], doc: str, variants: dict, identities: int,
                   default: list[str] | None = None, **options: int | str) -> argparse.Namespace:
    """args.variants (default: `default`, else all, in order), args.identities and each of `options`
    (`--name VALUE`, that default and its type); an unknown variant exits with one line."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("variants", nargs="*", default=default or list(variants))
    parser.add_argument("--identities", type=int, default=identities)
    for name, value in options.items():
        parser.add_argument(f"--{name}", type=type(value), default=value)
    args = parser.parse_args(argv)
    unknown = [v for v in args.variants if v not in variants]
    if unknown:
        sys.exit(f"unknown variant {unknown[0]!r}; known: {', '.join(variants)}")
    return args
