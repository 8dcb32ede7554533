"""The command line the variant studies share: `python studies/<study>.py [--identities N] [VARIANT ...]`."""

from __future__ import annotations

import argparse
import sys


def parse_variants(argv: list[str], doc: str, variants: dict, identities: int) -> argparse.Namespace:
    """args.variants (default: all, in order) and args.identities; an unknown variant exits with one line."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("variants", nargs="*", default=list(variants))
    parser.add_argument("--identities", type=int, default=identities)
    args = parser.parse_args(argv)
    unknown = [v for v in args.variants if v not in variants]
    if unknown:
        sys.exit(f"unknown variant {unknown[0]!r}; known: {', '.join(variants)}")
    return args
