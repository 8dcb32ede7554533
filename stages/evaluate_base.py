"""DVC stage `evaluate_base`: prompt fidelity (by the judge), held-out loss, speed, sample grid."""

import json
from pathlib import Path

from w2w.atomic import atomic_path, write_json
from w2w.errors import run_stage
from w2w.params import load_params_or_exit

WORLD = Path("data/world")
JUDGE = Path("data/judge")
BASE = Path("data/base")
GRID = Path("data/evaluate_base/samples.png")
METRICS = Path("metrics/base.json")


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    from w2w.evaluate.base import measure_base
    from w2w.tracking import stage_run

    with stage_run("evaluate_base", params, ("base", "evaluate_base")) as run:
        with atomic_path(GRID.parent, is_dir=True) as tmp:
            metrics = measure_base(WORLD, JUDGE, BASE, params.evaluate_base, tmp / GRID.name)
            run.log_artifact(tmp / GRID.name, "images")
        metrics.update(json.loads((BASE / "train_summary.json").read_text()))
        run.log_metrics(metrics)
        write_json(METRICS, metrics)


if __name__ == "__main__":
    run_stage(main)  # bad input: one line and exit 1; a bug keeps its traceback
