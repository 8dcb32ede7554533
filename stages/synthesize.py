"""DVC stage `synthesize`: render the miniature identity world into data/world."""

from pathlib import Path

from w2w.atomic import atomic_path, write_json
from w2w.params import load_params_or_exit

OUT = Path("data/world")
METRICS = Path("metrics/synthesize.json")


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    from w2w.tracking import stage_run
    from w2w.world.dataset import synthesize_world

    with stage_run("synthesize", params, ("synthesize",)) as run:
        with atomic_path(OUT, is_dir=True) as tmp:
            summary = synthesize_world(params.synthesize, tmp)
            run.log_artifact(tmp / "contact_sheet.png", "images")
        run.log_metrics(summary)
        write_json(METRICS, summary)


if __name__ == "__main__":
    main()
