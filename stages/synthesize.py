"""DVC stage `synthesize`: the identity world in data/world, rendered (miniature) or read (folder)."""

from pathlib import Path

from w2w.atomic import atomic_path, write_json
from w2w.errors import run_stage
from w2w.params import load_params_or_exit

OUT = Path("data/world")
METRICS = Path("metrics/synthesize.json")


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    from w2w.tracking import stage_run
    from w2w.world.dataset import synthesize_world
    from w2w.world.folder import read_identity_folder

    p = params.synthesize
    build = read_identity_folder if p.source == "folder" else synthesize_world
    if p.source == "folder" and not (p.folder and p.attributes_file):
        raise SystemExit("error: synthesize.source folder needs synthesize.folder and "
                         "synthesize.attributes_file")
    with stage_run("synthesize", params, ("synthesize",)) as run:
        with atomic_path(OUT, is_dir=True) as tmp:  # a failure leaves the last good world in place
            try:
                summary = build(p, tmp)
            except (FileNotFoundError, ValueError) as error:
                raise SystemExit(f"error: {error}") from None
            run.log_artifact(tmp / "contact_sheet.png", "images")
        run.log_metrics(summary)
        write_json(METRICS, summary)


if __name__ == "__main__":
    run_stage(main)  # bad input: one line and exit 1; a bug keeps its traceback
