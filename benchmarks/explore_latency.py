"""Slider-to-image latency of `w2w explore` at default scale: one slider move = the edit, the 4-sample
grid with fixed noise, the judge's attributes and the page's picture, as the page's handler does.

    python benchmarks/explore_latency.py [--moves 40] [--steps 20]   # needs data/ (dvc repro or dvc pull)

Writes benchmarks/results/explore_latency.json (median and p95 over the moves, in seconds; goal:
<= 1 s on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from w2w.explore.app import slider_move
from w2w.explore.cli import EXPLORE_STEPS
from w2w.explore.session import ExploreSpace
from w2w.params import load_params

OUT = Path("benchmarks/results/explore_latency.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=40, help="slider moves timed (after 3 warm-up moves)")
    parser.add_argument("--steps", type=int, default=EXPLORE_STEPS,
                        help="DDIM steps, as `w2w explore --steps`")
    args = parser.parse_args()
    sampler = load_params().preview.model_copy(update={"sampler_steps": args.steps})
    data = Path("data")
    explorer = ExploreSpace.open(data / "weights.zarr", data / "basis", data / "directions",
                                 data / "base" / "model", sampler, data / "judge", data / "world")
    start = explorer.identity(explorer.identity_ids[0])
    attributes = explorer.directions.attributes
    rng = np.random.default_rng(0)
    times = []
    for move in range(args.moves + 3):
        strengths = {attributes[move % len(attributes)]: float(rng.choice([-2, -1, 1, 2])),
                     attributes[(move + 3) % len(attributes)]: 1.0}  # two sliders composed
        began = time.perf_counter()
        slider_move(explorer, start, strengths)
        if move >= 3:
            times.append(time.perf_counter() - began)
    result = {"command": " ".join(["python", *sys.argv]), "moves": args.moves,
              "median_s": float(np.median(times)), "p95_s": float(np.percentile(times, 95)),
              "sampler_steps": sampler.sampler_steps, "samples": 4, "goal_s": 1.0,
              "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
              "machine": platform.machine()}
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
