"""End to end: a real `dvc repro` of every stage on the micro profile, read back through a real
`mlflow server` on 127.0.0.1 over its REST API."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import zarr

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rest(base: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def start_server(db: Path, port: int, log: Path, env: dict[str, str]) -> subprocess.Popen:
    cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{db}",
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(cmd, cwd=db.parent, env=env, stdout=log.open("w"),
                              stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("mlflow server did not come up in 120 s")


def test_repro_then_runs_visible_over_rest(project_copy, tmp_path, tool_env):
    result = subprocess.run([str(BIN / "dvc"), "repro"], cwd=project_copy,
                            env=tool_env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    judge_metrics = json.loads((project_copy / "metrics" / "judge.json").read_text())
    assert 0.0 <= judge_metrics["attribute_accuracy_mean"] <= 1.0
    assert 0.0 <= judge_metrics["identity_auc"] <= 1.0
    assert (project_copy / "dvc.lock").exists()
    base_metrics = json.loads((project_copy / "metrics" / "base.json").read_text())
    assert 0.0 <= base_metrics["prompt_attribute_fidelity"] <= 1.0
    assert base_metrics["heldout_denoising_loss"] > 0
    assert (project_copy / "data" / "base" / "model" / "model_index.json").is_file()
    weights = zarr.open_array(project_copy / "data" / "weights.zarr" / "weights", mode="r")
    assert weights.shape == (24, 2688)  # every micro identity, the default adapter layout
    fleet = json.loads((project_copy / "metrics" / "finetune.json").read_text())
    assert fleet["identities"] == 24 and -1 <= fleet["identity_similarity_mean"] <= 1
    pca = json.loads((project_copy / "metrics" / "pca.json").read_text())
    assert pca["components"] == 19 and 0.99 <= pca["explained_variance_ratio_sum"] <= 1.0 + 1e-6  # all
    directions = json.loads((project_copy / "metrics" / "directions.json").read_text())
    assert 0 <= directions["auc_min"] <= 1 and directions["attributes"] >= 1

    port = free_port()
    server = start_server(project_copy / "mlflow.db", port, tmp_path / "server.log", tool_env)
    try:
        base = f"http://127.0.0.1:{port}/api/2.0/mlflow"
        experiment = rest(base, "/experiments/get-by-name?experiment_name=w2w")["experiment"]
        runs = rest(base, "/runs/search", {"experiment_ids": [experiment["experiment_id"]],
                                           "max_results": 100})["runs"]
    finally:
        server.terminate()
        server.wait(timeout=30)

    def tags(run):
        return {t["key"]: t["value"] for t in run["data"].get("tags", [])}

    parents = [r for r in runs if tags(r).get("w2w.role") == "pipeline"]
    stages = {r["info"]["run_name"]: r for r in runs if tags(r).get("w2w.role") == "stage"}
    assert len(parents) == 1 and set(stages) == {"synthesize", "judge", "base", "evaluate_base",
                                                 "finetune", "stack", "evaluate_finetune", "pca",
                                                 "directions"}
    parent_id = parents[0]["info"]["run_id"]
    for name, run in stages.items():
        assert tags(run)["mlflow.parentRunId"] == parent_id
        assert tags(run)["w2w.dvc_stage"] == name
        assert len(tags(run)["mlflow.source.git.commit"]) == 40
    judge_params = {p["key"]: p["value"] for p in stages["judge"]["data"]["params"]}
    assert judge_params["judge.epochs"] == "1"
    assert judge_params["synthesize.images_per_identity"] == "2"
    judge_logged = {m["key"]: m["value"] for m in stages["judge"]["data"]["metrics"]}
    assert judge_logged["identity_auc"] == pytest.approx(judge_metrics["identity_auc"])
    assert "attribute_accuracy.Male" in judge_logged
    parent_metrics = {m["key"] for m in parents[0]["data"]["metrics"]}
    assert {"judge.identity_auc", "synthesize.identities"} <= parent_metrics
    artifacts = project_copy / "mlartifacts"
    assert list(artifacts.rglob("contact_sheet.png")), "contact sheet not logged as an artifact"
    assert list(artifacts.rglob("samples.png")), "base sample grid not logged as an artifact"
