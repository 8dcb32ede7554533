"""The `w2w` command line: `w2w params check|show`, `w2w world show`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from w2w.params import PARAMS_FILE, load_params_or_exit


def _params(args: argparse.Namespace) -> int:
    params = load_params_or_exit(args.params)
    if args.action == "show":
        for key, value in params.flat().items():
            print(f"{key}: {value}")
    else:
        print(f"{args.params}: ok (config {params.config_hash()})")
    return 0


def _world_show(args: argparse.Namespace) -> int:
    """Render identities of the miniature world to a PNG grid, one row per identity."""
    import numpy as np

    from w2w.world.dataset import contact_sheet, render_identity
    from w2w.world.identity import sample_identity

    rows = [render_identity(sample_identity(i, args.seed), args.n, args.seed, 1, args.size)
            for i in args.identity]
    sheet = contact_sheet(np.concatenate(rows), rows=len(rows), cols=args.n)
    sheet.save(args.out)
    print(f"wrote {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="w2w", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("params", help="validate or print params.yaml")
    p.add_argument("action", choices=["check", "show"])
    p.add_argument("--params", type=Path, default=Path(PARAMS_FILE))
    p.set_defaults(func=_params)
    w = sub.add_parser("world", help="render identities of the miniature world")
    w.add_argument("action", choices=["show"])
    w.add_argument("--identity", type=int, nargs="+", default=[0, 1, 2, 3])
    w.add_argument("--n", type=int, default=8, help="renders per identity")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--size", type=int, default=32)
    w.add_argument("--out", type=Path, default=Path("world.png"))
    w.set_defaults(func=_world_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
