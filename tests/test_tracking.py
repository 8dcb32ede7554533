"""MLflow conventions: one parent per configuration, stage runs nested and named, params flat."""

import pytest
from committed import profile_params
from mlflow.tracking import MlflowClient

from w2w import tracking
from w2w.params import override


@pytest.fixture
def store(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def run_stage(stage, params, metrics):
    with tracking.stage_run(stage, params, (stage,)) as run:
        run.log_metrics(metrics)
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
    assert client.get_run(r3.parent_id).data.metrics["judge.nested.auc"] == 0.8


def test_env_uri_wins(store, monkeypatch, tmp_path):
    other = tmp_path / "elsewhere.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{other}")
    run_stage("synthesize", profile_params(None), {"x": 1})
    assert other.exists() and not (store / "mlflow.db").exists()
