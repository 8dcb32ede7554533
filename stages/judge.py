"""DVC stage `judge`: train the attribute + identity scorer and measure it on held-out identities."""

from pathlib import Path

from w2w.atomic import atomic_path, write_json
from w2w.errors import run_stage
from w2w.params import load_params_or_exit

WORLD, BASE = Path("data/world"), Path("data/base")
OUT = Path("data/judge")
METRICS = Path("metrics/judge.json")


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    from functools import partial

    from w2w.base.latents import round_trip
    from w2w.base.pipeline import load_vae
    from w2w.judge.train import fit_and_evaluate, yardstick_and_evaluate
    from w2w.tracking import stage_run

    with stage_run("judge", params, ("synthesize", "judge")) as run:
        # the base's VAE: an augmentation of the judge's training images, and what its
        # robustness figures measure (generated samples all pass through it)
        vae = partial(round_trip, load_vae(BASE / "model"))
        with atomic_path(OUT, is_dir=True) as tmp:
            if params.judge.yardstick:  # the user's own: nothing to train
                metrics = yardstick_and_evaluate(WORLD, params.judge.yardstick, tmp, vae)
            else:
                metrics = fit_and_evaluate(WORLD, params.judge, tmp, vae,
                                           on_epoch=lambda e, losses: run.log_metrics(losses, step=e))
        run.log_metrics(metrics)
        write_json(METRICS, metrics)


if __name__ == "__main__":
    run_stage(main)  # bad input: one line and exit 1; a bug keeps its traceback
