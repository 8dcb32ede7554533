"""DVC stage `report`: reports/summary.md, the evaluation's figures and grids in one page."""

from pathlib import Path

from w2w.errors import run_stage
from w2w.params import load_params_or_exit

METRICS = Path("metrics")
OUT = Path("reports/summary.md")


def main() -> None:
    params = load_params_or_exit()  # a broken params.yaml stops every stage the same way
    from w2w.atomic import atomic_path
    from w2w.evaluate.report import summary_markdown
    from w2w.tracking import headline_view_url, record_pipeline

    text = summary_markdown(METRICS)
    with atomic_path(OUT) as tmp:
        tmp.write_text(text)
    print(f"wrote {OUT}")
    experiment_id = record_pipeline(params)  # the sink of the DAG: the parent gets every stage's figures
    print("compare configurations: mlflow ui --backend-store-uri sqlite:///mlflow.db --port 5000, then "
          f"open {headline_view_url(experiment_id)}")


if __name__ == "__main__":
    run_stage(main)  # bad input: one line and exit 1; a bug keeps its traceback
