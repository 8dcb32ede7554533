"""What drawing renders on every core buys: the world's renderer in the calling process against the
pool of `w2w.world.workers` (one forked process per core), on the draws the stages make.

Each case draws people the renderer makes afresh (ids from 3,000,000: in no world), as the stages
draw the world's identities: the judge's training renders (18 each), the trait regressor's (1 each
of as many people), the style head's paintings (3 each), fresh references (8 each). The process
first loads torch and runs it on both threads, as a stage has. Both ways give the same bytes
(tests/world/test_workers.py); the figure is the median wall time of `--repeats` runs.

    python benchmarks/render_pool.py [--repeats 3]

Writes benchmarks/results/render_pool.json. Needs no data.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from w2w.atomic import write_json
from w2w.storage import STREAM_JUDGE
from w2w.world.dataset import render_identities
from w2w.world.identity import sample_identity
from w2w.world.workers import PROCESSES_ENV, render_processes

RESULT = Path("benchmarks/results/render_pool.json")
FIRST_ID = 3_000_000
CASES = {  # name: (people, renders each, painting)
    "judge renders, 660 x 18": (660, 18, False),
    "trait renders, 2000 x 1": (2000, 1, False),
    "style paintings, 660 x 3": (660, 3, True),
    "fresh references, 120 x 8": (120, 8, False),
}


def wall(people: list, n: int, painting: bool, processes: str, repeats: int) -> float:
    """Median wall seconds of drawing `people` with W2W_RENDER_PROCESSES=processes."""
    os.environ[PROCESSES_ENV] = processes
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        render_identities(people, n, 0, STREAM_JUDGE, 32, painting)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    x = torch.randn(1024, 1024)
    for _ in range(20):
        x @ x  # torch's threads up, as in a stage
    pool = str(render_processes())
    results = {}
    for name, (count, n, painting) in CASES.items():
        people = [sample_identity(FIRST_ID + i, 0) for i in range(count)]
        serial = wall(people, n, painting, "1", args.repeats)
        pooled = wall(people, n, painting, pool, args.repeats)
        results[name] = {"serial_s": serial, "pool_s": pooled, "speedup": serial / pooled}
        print(f"{name}: in-process {serial:.2f} s, pool of {pool} {pooled:.2f} s, {serial / pooled:.2f}x")
    write_json(RESULT, {"processes": int(pool), "cores": os.cpu_count(), "machine": platform.machine(),
                        "torch_threads": torch.get_num_threads(), "repeats": args.repeats, "cases": results})
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
