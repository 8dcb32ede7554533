"""`w2w explore`: serve the explore page on this machine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from w2w.params import PARAMS_FILE, load_params_or_exit

LOCAL = "127.0.0.1"
EXPLORE_STEPS = 20


def explore_command(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be 1-65535, got {args.port}")
    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    preview = load_params_or_exit(args.params).preview  # the params file is checked before any work
    sampler = preview.model_copy(update={"sampler_steps": args.steps})
    if args.host != LOCAL:
        print(f"warning: serving on {args.host}: anyone who can reach this machine can use the page "
              "and its models; no share link is made", file=sys.stderr)
    from w2w.explore.app import MAX_UPLOAD, build_app
    from w2w.explore.session import ExploreSpace

    try:
        explorer, problem = ExploreSpace.open(args.weights, args.basis, args.directions, args.model, sampler,
                                              args.judge, args.world), ""
    except (OSError, ValueError) as error:  # served anyway: the page says what is missing
        explorer, problem = None, f"{error}. Build it with `dvc repro` or fetch it with `dvc pull`."
        print(f"error: {error}", file=sys.stderr)
    app = build_app(explorer, problem)
    print(f"serving on http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
    app.queue().launch(server_name=args.host, server_port=args.port, share=False, inbrowser=False,
                       max_file_size=MAX_UPLOAD, show_error=True, quiet=True)
    return 0


def add_explore_command(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("explore", help="a local web app to explore the space: pick, sample, edit, invert")
    e.add_argument("--weights", type=Path, default=Path("data/weights.zarr"), help="the stacked fleet")
    e.add_argument("--basis", type=Path, default=Path("data/basis"), help="the PCA basis folder")
    e.add_argument("--directions", type=Path, default=Path("data/directions"),
                   help="the attribute directions folder")
    e.add_argument("--model", type=Path, default=Path("data/base/model"), help="base pipeline folder")
    e.add_argument("--judge", type=Path, default=Path("data/judge"),
                   help="the judge, for the judged attributes (none there: not shown)")
    e.add_argument("--world", type=Path, default=Path("data/world"),
                   help="the world, for its paintings to invert (none there: upload only)")
    e.add_argument("--params", type=Path, default=Path(PARAMS_FILE),
                   help="params file whose `preview` section sets the samples' sampler")
    e.add_argument("--steps", type=int, default=EXPLORE_STEPS,
                   help="DDIM steps of the page's samples: the sampling evaluation's 20 keep a slider move "
                        "under 1 s on 2 cores (the previews' 25: about 0.95 s); seed and guidance are the "
                        "`preview` section's")
    e.add_argument("--host", default=LOCAL, help="address to bind; anything but 127.0.0.1 is reachable "
                                                 "from other machines (a warning says so)")
    e.add_argument("--port", type=int, default=7860, help="port to serve on")
    e.set_defaults(func=explore_command)
