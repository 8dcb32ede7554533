"""DVC stage `evaluate_inversion`: one-image inversion vs a one-image LoRA, in and out of distribution."""

from pathlib import Path

from w2w.atomic import write_json
from w2w.errors import run_stage
from w2w.params import load_params_or_exit

WORLD, BASE, JUDGE = Path("data/world"), Path("data/base"), Path("data/judge")
WEIGHTS, BASIS = Path("data/weights.zarr"), Path("data/basis")
METRICS = Path("metrics/inversion.json")
GRID = Path("reports/inversion_grid.png")


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    from w2w.evaluate.context import Context
    from w2w.evaluate.figures import grid_image, save_png
    from w2w.evaluate.inversion import measure_inversion
    from w2w.space.basis import Basis
    from w2w.tracking import stage_run

    with stage_run("evaluate_inversion", params, ("evaluate_inversion",)) as run:
        ctx = Context.open(WORLD, WEIGHTS, BASE, JUDGE)
        metrics, grid = measure_inversion(ctx, Basis.load(BASIS), params.evaluate_inversion,
                                          params.finetune)
        run.log_metrics(metrics)
        # per identity: a true render | render, w2w, LoRA | painting, w2w, LoRA
        save_png(grid_image(grid), GRID)
        run.log_artifact(GRID, "grids")
        write_json(METRICS, metrics)


if __name__ == "__main__":
    run_stage(main)  # bad input: one line and exit 1; a bug keeps its traceback
