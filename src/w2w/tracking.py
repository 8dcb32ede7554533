"""MLflow conventions shared by every stage.

- Tracking URI: `sqlite:///<repo>/mlflow.db` unless MLFLOW_TRACKING_URI is set.
- One experiment, `w2w`, with an explicit artifact location (`<repo>/mlartifacts`).
- One parent run per pipeline configuration (hash of the validated params.yaml); every stage run
  is nested under it and named after the stage, so two params variants are two comparable parents.
- Params are logged flattened (`synthesize.images_per_identity`); stage metrics are logged on the
  stage run. The parent carries every stage's final figures as its files hold them
  (`final_figures`: `evaluate_edits.flip_rate_mean`), whether the stage ran under it or DVC reused
  its outputs (tag `w2w.stage.<stage>`: ran | reused), and spans its stages' time, so that two
  configurations compare column by column in the MLflow UI.
- A saved view of the runs table, `headlines`: the parents only, newest first, with the headline
  figures as columns (HEADLINES). MLflow has no server-side default columns; a view is stored as an
  experiment tag and opened by URL (`headline_view_url`).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow  # noqa: E402  (telemetry must be off before the import)
import yaml  # noqa: E402
from mlflow.entities import Metric, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from w2w.params import Params, flatten  # noqa: E402
from w2w.repo import git_commit, repo_root  # noqa: E402

EXPERIMENT = "w2w"
TAG_CONFIG = "w2w.config_hash"
TAG_ROLE = "w2w.role"
TAG_STAGE = "w2w.dvc_stage"
VIEW = "headlines"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW}"  # where the MLflow UI looks up ?viewStateShareKey=headlines
KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"  # the UI's runs table, not GenAI pages
HEADLINES = (  # the README's current figures, in its order
    "judge.identity_auc",
    "evaluate_base.prompt_attribute_fidelity",
    "evaluate_finetune.identity_similarity_mean",
    "evaluate_finetune.trait_error_mean",
    "evaluate_inversion.ladder.identity_share_mean",
    "directions.auc_min",
    "evaluate_edits.flip_rate_mean",
    "evaluate_edits.identity_similarity_mean",
    "evaluate_edits.other_attributes_kept_mean",
    "evaluate_inversion.w2w.in_distribution_mean",
    "evaluate_inversion.single_image_lora.in_distribution_mean",
    "evaluate_inversion.w2w.ood_mean",
    "evaluate_sampling.consistency_difference",
)


def tracking_uri(root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow.db'}"


def ensure_experiment(client: MlflowClient, root: Path) -> str:
    """The `w2w` experiment, created on first use, with the headline view saved on it."""
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        artifacts = os.environ.get("W2W_ARTIFACT_ROOT") or (root / "mlartifacts").as_uri()
        experiment = client.get_experiment(client.create_experiment(EXPERIMENT, artifact_location=artifacts))
    for key, value in ((VIEW_TAG, headline_view()), (KIND_TAG, KIND)):
        if experiment.tags.get(key) != value:
            client.set_experiment_tag(experiment.experiment_id, key, value)
    return experiment.experiment_id


def headline_view() -> str:
    """The runs table's state as the MLflow UI saves a shared view: its column keys are
    `metrics.<backquoted name>`, and the search fields as in its URL."""
    return json.dumps({"selectedColumns": [f"metrics.`{name}`" for name in HEADLINES],
                       "searchFilter": f"tags.`{TAG_ROLE}` = 'pipeline'",
                       "orderByKey": "attributes.start_time", "orderByAsc": False}, sort_keys=True)


def headline_view_url(experiment_id: str, server: str = "http://127.0.0.1:5000") -> str:
    return f"{server}/#/experiments/{experiment_id}/runs?viewStateShareKey={VIEW}"


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


SUMMARIES = {"base": "data/base/train_summary.json", "finetune": "data/fleet/train_summary.json"}


def numeric_leaves(tree: Any, prefix: str = "") -> dict[str, float]:
    """`a.b` -> number for every numeric leaf of a metrics file; lists of dicts descend by their
    "key" entry (the ladder's rungs), other lists (intervals) are left out."""
    out: dict[str, float] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            out.update(numeric_leaves(value, f"{prefix}{key}."))
    elif isinstance(tree, list):
        for i, item in enumerate(tree):
            if isinstance(item, dict):
                out.update(numeric_leaves(item, f"{prefix}{item.get('key', i)}."))
    elif isinstance(tree, bool | int | float) and math.isfinite(float(tree)):
        out[prefix[:-1]] = float(tree)
    return out


def _path(entry: str | dict) -> str:
    return str(next(iter(entry)) if isinstance(entry, dict) else entry).rstrip("/")


def upstream(stages: dict, name: str) -> set[str]:
    """`name` and every stage whose outputs it reads, directly or not (dvc.yaml's deps, outs, metrics)."""
    made = {_path(e): stage for stage, spec in stages.items()
            for e in [*spec.get("outs", []), *spec.get("metrics", [])]}

    def reads(stage: str) -> set[str]:
        deps = [_path(d) for d in stages[stage].get("deps", [])]
        return {maker for path, maker in made.items() for d in deps if d == path or d.startswith(path + "/")}

    seen, todo = set(), [name]
    while todo:
        stage = todo.pop()
        if stage not in seen:
            seen.add(stage)
            todo += reads(stage)
    return seen


def final_figures(root: Path, settled: str | None = None) -> dict[str, dict[str, float]]:
    """Per DVC stage, the figures its latest run left in the workspace: the metrics files dvc.yaml
    declares for it (`stage.key`, a second file as `stage.file.key`) and the base's and fleet's
    training summaries. What a parent run carries, whether the stage ran under it or was reused.
    With `settled`, only that stage and those upstream of it: a downstream stage's files may still
    be the previous configuration's, until it runs."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    names = upstream(stages, settled) if settled else set(stages)
    out: dict[str, dict[str, float]] = {}
    for stage, spec in stages.items():
        if stage not in names:
            continue
        files = [_path(m) for m in spec.get("metrics", [])]
        files += [SUMMARIES[stage]] if stage in SUMMARIES else []
        figures: dict[str, float] = {}
        for i, name in enumerate(files):
            path = root / name
            if path.is_file():
                prefix = f"{stage}." if i == 0 else f"{stage}.{Path(name).stem}."
                figures.update(numeric_leaves(json.loads(path.read_text()), prefix))
        if figures:
            out[stage] = figures
    return out


def update_parent(client: MlflowClient, parent_id: str, root: Path, stage: str) -> None:
    """After `stage`: the parent carries the final figures of the stages it settles (itself and those
    upstream; the report stage reads every metrics file, so after it all of them), each stage tagged
    `ran` (a stage run of this configuration exists) or `reused` (DVC took its outputs from the
    cache); and it spans its stages: its end is the latest stage's end."""
    experiment = client.get_run(parent_id).info.experiment_id
    children = client.search_runs([experiment], filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'",
                                  max_results=1000)
    ran = {c.data.tags.get(TAG_STAGE) for c in children}
    metrics, tags = [], []
    now = int(time.time() * 1000)
    for name, figures in final_figures(root, stage).items():
        metrics += [Metric(key, value, now, 0) for key, value in figures.items()]
        tags.append(RunTag(f"w2w.stage.{name}", "ran" if name in ran else "reused"))
    for start in range(0, len(metrics), 1000):  # MLflow takes at most 1000 metrics a call
        client.log_batch(parent_id, metrics=metrics[start:start + 1000])
    client.log_batch(parent_id, tags=tags)
    client.set_terminated(parent_id, "FINISHED", end_time=now)


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
    update_parent(client, parent_id, root, stage)  # after the stage wrote its files


def record_pipeline(params: Params, stage: str = "report") -> str:
    """The pipeline's last stage (no run of its own): bring the configuration's parent up to date
    with every stage's figures. Returns the experiment's id."""
    root = repo_root()
    client = MlflowClient(tracking_uri(root))
    experiment_id = ensure_experiment(client, root)
    parent_id = ensure_parent_run(client, experiment_id, params, git_commit(root))
    update_parent(client, parent_id, root, stage)
    return experiment_id

