"""`w2w import-reference`: the published weights2weights basis, converted safely."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def import_command(args: argparse.Namespace) -> int:
    from w2w.outputs import claim_output
    from w2w.reference.importer import import_reference

    claim_output(args.out, "import-reference", args.force)
    if args.labels is None and not args.trust_pickle and (args.files / "identity_df.pt").is_file():
        print(f"note: {args.files / 'identity_df.pt'} is a pickle and was not loaded; pass --labels CSV "
              "(or --trust-pickle, only for a file you trust) to get attribute directions")
    summary = import_reference(args.files, args.out, args.labels, args.trust_pickle, args.components,
                               args.force)
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}: use it with --basis {args.out / 'basis'}"
          + (f" --directions {args.out / 'directions'}" if summary["directions"] else ""))
    return 0


def add_reference_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-reference", help="convert the published w2w basis (files/) safely")
    p.add_argument("--files", type=Path, required=True, help="the published files/ folder")
    p.add_argument("--out", type=Path, required=True, help="output folder (basis/, directions/)")
    p.add_argument("--labels", type=Path, help="CSV of binary attribute labels, one row per model")
    p.add_argument("--trust-pickle", action="store_true",
                   help="unpickle identity_df.pt (runs whatever code the file holds: trusted files only)")
    p.add_argument("--components", type=int, help="components kept (default: all of proj_1000pc.pt)")
    p.add_argument("--force", action="store_true",
                   help="replace --out if it holds an earlier import (never anything else)")
    p.set_defaults(func=import_command)
