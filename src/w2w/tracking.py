"""MLflow conventions shared by every stage.

- Tracking URI: `sqlite:///<repo>/mlflow.db` unless MLFLOW_TRACKING_URI is set.
- One experiment, `w2w`, with an explicit artifact location (`<repo>/mlartifacts`).
- One parent run per pipeline configuration (hash of the validated params.yaml); every stage run
  is nested under it and named after the stage, so two params variants are two comparable parents.
- Params are logged flattened (`synthesize.images_per_identity`); stage metrics are logged on the
  stage run and, prefixed with the stage name, on the parent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow  # noqa: E402  (telemetry must be off before the import)
from mlflow.tracking import MlflowClient  # noqa: E402

from w2w.params import Params, flatten  # noqa: E402
from w2w.repo import git_commit, repo_root  # noqa: E402

EXPERIMENT = "w2w"
TAG_CONFIG = "w2w.config_hash"
TAG_ROLE = "w2w.role"
TAG_STAGE = "w2w.dvc_stage"


def tracking_uri(root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow.db'}"


def ensure_experiment(client: MlflowClient, root: Path) -> str:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    artifacts = os.environ.get("W2W_ARTIFACT_ROOT") or (root / "mlartifacts").as_uri()
    return client.create_experiment(EXPERIMENT, artifact_location=artifacts)


def ensure_parent_run(client: MlflowClient, experiment_id: str, params: Params, commit: str) -> str:
    """The one parent run of this configuration, created on first use."""
    config = params.config_hash()
    query = f"tags.`{TAG_CONFIG}` = '{config}' and tags.`{TAG_ROLE}` = 'pipeline'"
    found = client.search_runs([experiment_id], filter_string=query, max_results=1)
    if found:
        return found[0].info.run_id
    run = client.create_run(experiment_id, run_name=f"pipeline-{config[:8]}", tags={
        TAG_CONFIG: config, TAG_ROLE: "pipeline", "mlflow.source.git.commit": commit})
    for key, value in params.flat().items():
        client.log_param(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


@dataclass
class StageRun:
    """Handle a stage uses to log into its nested run (and its parent's summary)."""

    stage: str
    run_id: str
    parent_id: str
    client: MlflowClient

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Log the numeric leaves of a (nested) dict, flattened to `a.b` keys."""
        metrics = {k: float(v) for k, v in flatten(metrics).items() if isinstance(v, int | float)}
        mlflow.log_metrics(metrics, step=step)
        if step is None:  # final figures also go on the parent, to compare configurations
            for key, value in metrics.items():
                self.client.log_metric(self.parent_id, f"{self.stage}.{key}", value)

    def log_artifact(self, path: str | Path, folder: str | None = None) -> None:
        """Attach a file (an image grid, a plot) to the stage run."""
        mlflow.log_artifact(str(path), artifact_path=folder)


@contextmanager
def stage_run(stage: str, params: Params, sections: tuple[str, ...]) -> Iterator[StageRun]:
    """Open the nested MLflow run of one DVC stage; logs its flattened params on entry."""
    root = repo_root()
    mlflow.set_tracking_uri(tracking_uri(root))
    client = MlflowClient()
    experiment_id = ensure_experiment(client, root)
    commit = git_commit(root)
    parent_id = ensure_parent_run(client, experiment_id, params, commit)
    tags = {TAG_STAGE: stage, TAG_CONFIG: params.config_hash(), TAG_ROLE: "stage",
            "mlflow.source.git.commit": commit}
    with mlflow.start_run(experiment_id=experiment_id, run_name=stage, parent_run_id=parent_id,
                          tags=tags) as run:
        mlflow.log_params(params.flat(sections))
        yield StageRun(stage, run.info.run_id, parent_id, client)

