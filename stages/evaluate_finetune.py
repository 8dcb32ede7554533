"""DVC stage `evaluate_finetune`: do held-out identities' adapters make those identities?"""

import json
from pathlib import Path

from w2w.atomic import atomic_path, write_json
from w2w.errors import run_stage
from w2w.params import load_params_or_exit

WORLD = Path("data/world")
JUDGE = Path("data/judge")
BASE = Path("data/base")
WEIGHTS = Path("data/weights.zarr")
FLEET_SUMMARY = Path("data/fleet/train_summary.json")
GRID = Path("data/evaluate_finetune/samples.png")
METRICS = Path("metrics/finetune.json")
PER_IDENTITY = Path("plots/finetune_identities.csv")  # each evaluated identity's scores


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    from w2w.evaluate.figures import write_csv
    from w2w.evaluate.finetune import measure_fleet
    from w2w.tracking import stage_run
    from w2w.world.dataset import contact_sheet

    with stage_run("evaluate_finetune", params, ("finetune", "evaluate_finetune")) as run:
        metrics, grid, per_identity = measure_fleet(WORLD, JUDGE, BASE, WEIGHTS, params.evaluate_finetune,
                                                    params.finetune.prompt)
        with atomic_path(GRID.parent, is_dir=True) as tmp:
            cols = params.evaluate_finetune.samples_per_identity + 1
            contact_sheet(grid, rows=len(grid) // cols, cols=cols).save(tmp / GRID.name)
            run.log_artifact(tmp / GRID.name, "images")
        metrics.update(json.loads(FLEET_SUMMARY.read_text()))
        run.log_metrics(metrics)
        write_csv(PER_IDENTITY, per_identity)
        write_json(METRICS, metrics)


if __name__ == "__main__":
    run_stage(main)  # bad input: one line and exit 1; a bug keeps its traceback
