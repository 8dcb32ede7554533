"""DVC stage `base`: the base text-to-image model (miniature, or pretrained via from_pretrained)."""

from pathlib import Path

from w2w.atomic import atomic_path, write_json
from w2w.params import load_params_or_exit

WORLD = Path("data/world")
JUDGE = Path("data/judge")
OUT = Path("data/base")
METRICS = Path("metrics/base.json")


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    from w2w.base.build import import_pretrained, measure_base, train_miniature
    from w2w.tracking import stage_run

    p = params.base
    with stage_run("base", params, ("synthesize", "base")) as run:
        with atomic_path(OUT, is_dir=True) as tmp:
            if p.source == "miniature":
                metrics = train_miniature(WORLD, p, tmp, log=lambda s, m: run.log_metrics(m, step=s))
            else:
                metrics = import_pretrained(WORLD, p, tmp)
            metrics.update(measure_base(WORLD, JUDGE, p, tmp))
            run.log_artifact(tmp / "samples.png", "images")
        run.log_metrics(metrics)
        write_json(METRICS, metrics)


if __name__ == "__main__":
    main()
