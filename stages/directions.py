"""DVC stage `directions`: one linear classifier per attribute on the train coefficients."""

from pathlib import Path

from w2w.atomic import write_json
from w2w.errors import run_stage
from w2w.params import load_params_or_exit

WORLD = Path("data/world")
BASE = Path("data/base")
WEIGHTS = Path("data/weights.zarr")
BASIS = Path("data/basis")
OUT = Path("data/directions")
METRICS = Path("metrics/directions.json")


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    from w2w.evaluate.directions import directions_metrics
    from w2w.space.attributes import fit_attribute_directions
    from w2w.space.basis import Basis
    from w2w.tracking import stage_run

    with stage_run("directions", params, ("pca", "directions")) as run:
        fit = fit_attribute_directions(WORLD, WEIGHTS, Basis.load(BASIS), params.directions)
        metrics = directions_metrics(fit, BASE)
        fit.directions.save(OUT, params.directions.debias)
        run.log_metrics({k: v for k, v in metrics.items() if not isinstance(v, dict)})
        run.log_metrics({f"auc.{k}": v for k, v in metrics["auc"].items()})
        write_json(METRICS, metrics)


if __name__ == "__main__":
    run_stage(main)  # bad input: one line and exit 1; a bug keeps its traceback
