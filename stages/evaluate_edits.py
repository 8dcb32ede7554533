"""DVC stage `evaluate_edits`: w2w edits on held-out identities against prompting and raw weights, and
the world's own edits of the same identities as the yardsticks' ceiling."""

import tempfile
from pathlib import Path

from w2w.atomic import write_json
from w2w.errors import run_stage
from w2w.params import load_params_or_exit

WORLD, BASE, JUDGE = Path("data/world"), Path("data/base"), Path("data/judge")
WEIGHTS, BASIS, DIRECTIONS = Path("data/weights.zarr"), Path("data/basis"), Path("data/directions")
METRICS = Path("metrics/edits.json")
CURVE = Path("plots/edits_strength.csv")
GRID = Path("reports/edits_grid.png")


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    import numpy as np

    from w2w.evaluate.context import Context
    from w2w.evaluate.edit_ceiling import world_edit_ceiling
    from w2w.evaluate.edits import heldout_rows, measure_edits
    from w2w.evaluate.figures import grid_image, save_png, write_csv
    from w2w.space.basis import Basis
    from w2w.space.directions import Directions
    from w2w.tracking import stage_run

    with stage_run("evaluate_edits", params, ("evaluate_edits",)) as run:
        ctx = Context.open(WORLD, WEIGHTS, BASE, JUDGE)
        metrics, curve, grids = measure_edits(ctx, Basis.load(BASIS), Directions.load(DIRECTIONS),
                                              params.evaluate_edits, params.directions,
                                              params.finetune.prompt)
        p = params.evaluate_edits  # the ceiling: the world's own edits of the same identities
        metrics["world_edit"] = world_edit_ceiling(ctx, heldout_rows(ctx, p), metrics["attributes"],
                                                   p.samples_per_model, p.seed)
        run.log_metrics({k: v for k, v in metrics.items() if k not in ("attributes", "train_flip_rate")})
        write_csv(CURVE, curve)
        # one row per attribute: for each grid identity, original | w2w | w2w matched | prompt | raw weights?
        rows = np.stack([g.reshape(-1, *g.shape[2:]) for g in grids.values()])
        save_png(grid_image(rows), GRID)
        with tempfile.TemporaryDirectory() as folder:
            for attribute, g in grids.items():
                png = Path(folder) / f"edit_{attribute}.png"
                grid_image(g).save(png)
                run.log_artifact(png, "grids")
            run.log_artifact(GRID, "grids")
        write_json(METRICS, metrics)


if __name__ == "__main__":
    run_stage(main)  # bad input: one line and exit 1; a bug keeps its traceback
