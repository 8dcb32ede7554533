"""DVC stage `evaluate_sampling`: new identities from the space, consistent and novel or not, by the
reference's sampler and, beside it, the miniature profile's attributes-first blends."""

from pathlib import Path

from w2w.atomic import write_json
from w2w.errors import run_stage
from w2w.params import load_params_or_exit

WORLD, BASE, JUDGE = Path("data/world"), Path("data/base"), Path("data/judge")
WEIGHTS, BASIS = Path("data/weights.zarr"), Path("data/basis")
METRICS = Path("metrics/sampling.json")
GRIDS = {"reference": Path("reports/sampling_grid.png"),  # the reference's Gaussian
         "alike": Path("reports/sampling_alike_grid.png")}     # attributes first (w2w.space.alike)


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    from w2w.evaluate.context import Context
    from w2w.evaluate.figures import grid_image, save_png
    from w2w.evaluate.sampling import measure_sampling
    from w2w.space.basis import Basis
    from w2w.tracking import stage_run

    with stage_run("evaluate_sampling", params, ("evaluate_sampling",)) as run:
        ctx = Context.open(WORLD, WEIGHTS, BASE, JUDGE)
        metrics, samples = measure_sampling(ctx, Basis.load(BASIS), params.evaluate_sampling,
                                            params.finetune.prompt)
        run.log_metrics({k: v for k, v in metrics.items() if k != "covariance"})
        for name, path in GRIDS.items():  # a sampled identity per row, its seeds across
            save_png(grid_image(samples[name][:16]), path)
            run.log_artifact(path, "grids")
        write_json(METRICS, metrics)


if __name__ == "__main__":
    run_stage(main)  # bad input: one line and exit 1; a bug keeps its traceback
