"""DVC stage `pca`: the standardised PCA of the train adapters, the weights2weights basis."""

import tempfile
import time
from pathlib import Path

from w2w.atomic import atomic_path, write_json
from w2w.errors import run_stage
from w2w.params import load_params_or_exit

WEIGHTS = Path("data/weights.zarr")
OUT = Path("data/basis")
PLOT_DATA = Path("plots/pca_explained_variance.csv")
METRICS = Path("metrics/pca.json")


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    import numpy as np
    import zarr

    from w2w.space.pca import fit_basis
    from w2w.space.plots import line_plot
    from w2w.tracking import stage_run

    group = zarr.open_group(WEIGHTS, mode="r")
    train_rows = np.flatnonzero(~np.asarray(group["heldout"][:]))
    with stage_run("pca", params, ("pca",)) as run:
        started = time.perf_counter()
        basis = fit_basis(group["weights"], train_rows, np.asarray(group["identity_ids"][:]), params.pca)
        seconds = time.perf_counter() - started
        basis.save(OUT)
        cumulative = np.cumsum(basis.explained_variance_ratio)
        with atomic_path(PLOT_DATA) as tmp:
            rows = [f"{i + 1},{v:.6f}" for i, v in enumerate(cumulative)]
            tmp.write_text("component,cumulative_explained_variance\n" + "\n".join(rows) + "\n")
        with tempfile.TemporaryDirectory() as folder:  # the figure lives in MLflow only
            png = Path(folder) / "pca_explained_variance.png"
            line_plot(np.arange(1, basis.k + 1), {"cumulative": cumulative}, "components",
                      "explained variance (cumulative)", png)
            run.log_artifact(png, "plots")
        metrics = {"components": basis.k, "explained_variance_ratio_sum": float(cumulative[-1]),
                   "train_rows": len(train_rows), "fit_seconds": seconds, "method": basis.method}
        run.log_metrics({k: v for k, v in metrics.items() if k != "method"})
        write_json(METRICS, metrics)


if __name__ == "__main__":
    run_stage(main)  # bad input: one line and exit 1; a bug keeps its traceback
