"""MLflow conventions: one parent per configuration, stage runs nested and named, params flat, and
parents that carry every stage's final figures from its files, ran or reused."""

import json
from pathlib import Path

import pytest
from committed import profile_params
from mlflow.tracking import MlflowClient

from w2w import tracking
from w2w.params import override

DVC_YAML = """stages:
  synthesize:
    outs: [data/world]
    metrics:
      - metrics/synthesize.json:
          cache: false
  judge:
    deps: [data/world/images.zarr]
    metrics: [metrics/judge.json, metrics/ladder.json]
  leaf:
    metrics: [metrics/leaf.json]
"""


@pytest.fixture
def store(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "metrics").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def run_stage(stage, params, metrics):
    with tracking.stage_run(stage, params, (stage,)) as run:
        run.log_metrics(metrics)
        (Path.cwd() / "metrics" / f"{stage}.json").write_text(json.dumps(metrics))  # as a stage does
    return run


def test_nested_runs_per_configuration(store):
    committed = profile_params(None)
    a = committed.model_copy(update={"judge": override(committed.judge, epochs=2)})
    b = committed.model_copy(update={"judge": override(committed.judge, epochs=3)})
    r1 = run_stage("synthesize", a, {"images": 4})
    r2 = run_stage("judge", a, {"nested": {"auc": 0.9}})
    r3 = run_stage("judge", b, {"nested": {"auc": 0.8}})
    assert (store / "mlflow.db").exists()
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    assert r1.parent_id == r2.parent_id != r3.parent_id
    experiment = client.get_experiment_by_name("w2w")
    assert experiment.artifact_location == (store / "mlartifacts").as_uri()
    child = client.get_run(r2.run_id)
    assert child.info.run_name == "judge"
    assert child.data.tags["mlflow.parentRunId"] == r2.parent_id
    assert child.data.tags["w2w.dvc_stage"] == "judge"
    assert "mlflow.source.git.commit" in child.data.tags
    assert child.data.params["judge.epochs"] == "2"
    assert "synthesize.identities" not in child.data.params
    assert child.data.metrics["nested.auc"] == 0.9
    parent = client.get_run(r2.parent_id)
    assert parent.data.params["synthesize.identities"] == str(a.synthesize.identities)
    assert parent.data.metrics["judge.nested.auc"] == 0.9
    assert parent.data.tags["w2w.stage.judge"] == parent.data.tags["w2w.stage.synthesize"] == "ran"
    other = client.get_run(r3.parent_id)  # b ran judge only: synthesize's figures were reused
    assert other.data.metrics["judge.nested.auc"] == 0.8
    assert other.data.metrics["synthesize.images"] == 4
    assert other.data.tags["w2w.stage.synthesize"] == "reused" and other.data.tags["w2w.stage.judge"] == "ran"
    assert set(other.data.metrics) == set(parent.data.metrics)
    first = client.get_run(r1.run_id).info  # the parent spans its stages
    assert parent.info.start_time <= first.start_time and parent.info.end_time >= client.get_run(
        r2.run_id).info.end_time


def test_parent_figures_come_from_the_files(store):
    (store / "metrics" / "judge.json").write_text(json.dumps({"auc": 0.5, "per": {"Male": 0.9}, "ci": [0, 1],
                                                              "flag": True}))
    (store / "metrics" / "ladder.json").write_text(json.dumps(
        {"rungs": [{"key": "fresh_renders", "similarity_mean": 0.98}], "share_mean": 0.1}))
    figures = tracking.final_figures(store)
    assert figures["judge"] == {"judge.auc": 0.5, "judge.per.Male": 0.9, "judge.flag": 1.0,
                                "judge.ladder.rungs.fresh_renders.similarity_mean": 0.98,
                                "judge.ladder.share_mean": 0.1}
    assert "synthesize" not in figures  # no file yet: nothing to carry
    (store / "metrics" / "leaf.json").write_text(json.dumps({"x": 1}))
    assert set(tracking.final_figures(store, settled="judge")) == {"judge"}  # leaf is not upstream
    assert set(tracking.final_figures(store)) == {"judge", "leaf"}


def test_env_uri_wins(store, monkeypatch, tmp_path):
    other = tmp_path / "elsewhere.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{other}")
    run_stage("synthesize", profile_params(None), {"x": 1})
    assert other.exists() and not (store / "mlflow.db").exists()


def test_the_headline_view_names_figures_the_default_run_has(store):
    """The saved view's columns are figures the committed default run's files hold, spelled as the
    MLflow UI keys metric columns; it is on the experiment, with the runs table as its page."""
    root = Path(__file__).resolve().parents[1]
    committed = {k for figures in tracking.final_figures(root).values() for k in figures}
    assert set(tracking.HEADLINES) <= committed, set(tracking.HEADLINES) - committed
    run_stage("synthesize", profile_params(None), {"identities": 3})
    client = MlflowClient(tracking.tracking_uri(store))
    experiment = client.get_experiment_by_name(tracking.EXPERIMENT)
    view = json.loads(experiment.tags[tracking.VIEW_TAG])
    assert view["selectedColumns"] == [f"metrics.`{name}`" for name in tracking.HEADLINES]
    assert view["searchFilter"] == "tags.`w2w.role` = 'pipeline'"
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    url = tracking.headline_view_url(experiment.experiment_id)
    assert url.endswith(f"/#/experiments/{experiment.experiment_id}/runs?viewStateShareKey=headlines")
