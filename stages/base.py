"""DVC stage `base`: the base text-to-image model (miniature, or pretrained via from_pretrained)."""

from pathlib import Path

from w2w.atomic import atomic_path
from w2w.errors import run_stage
from w2w.params import load_params_or_exit

WORLD = Path("data/world")
OUT = Path("data/base")


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    import json

    from w2w.base.build import import_pretrained, train_miniature
    from w2w.tracking import stage_run

    p = params.base
    with stage_run("base", params, ("synthesize", "base")) as run:
        with atomic_path(OUT, is_dir=True) as tmp:
            if p.source == "miniature":
                summary = train_miniature(WORLD, p, tmp, log=lambda s, m: run.log_metrics(m, step=s))
            else:
                summary = import_pretrained(WORLD, p, tmp)
            (tmp / "train_summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
        run.log_metrics(summary)


if __name__ == "__main__":
    run_stage(main)  # bad input: one line and exit 1; a bug keeps its traceback
