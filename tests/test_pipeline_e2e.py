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
pytestmark = pytest.mark.e2e  # shares reproduced_project: listed in conftest's SHARING_REPRO


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


def check_evaluation_outputs(project: Path) -> None:
    """The evaluation stages' metrics have the documented keys and sane ranges, and the report."""
    edits = json.loads((project / "metrics" / "edits.json").read_text())
    for figures in (edits, edits["prompt_baseline"], edits["raw_weight_baseline"]):
        assert 0 <= figures["flip_rate_mean"] <= 1 and 0 <= figures["other_attributes_kept_mean"] <= 1
        assert -1 <= figures["identity_similarity_mean"] <= 1 and -1 <= figures["target_shift_mean"] <= 1
    assert edits["strength"] in (1.0, 2.0)  # one of the micro sweep's, chosen on train identities
    inversion = json.loads((project / "metrics" / "inversion.json").read_text())
    for method in ("w2w", "single_image_lora"):
        assert all(-1 <= inversion[method][s] <= 1 for s in ("in_distribution", "ood"))
    sampling = json.loads((project / "metrics" / "sampling.json").read_text())
    assert -1 <= sampling["consistency_mean"] <= 1 and -1 <= sampling["trained_consistency_mean"] <= 1
    assert 0 <= sampling["novel_fraction"] <= 1
    curve = (project / "plots" / "edits_strength.csv").read_text().splitlines()
    assert curve[0].startswith("strength,") and len(curve) == 3
    summary = (project / "reports" / "summary.md").read_text()
    assert "| edit success |" in summary and "![edits](edits_grid.png)" in summary
    for grid in ("edits_grid.png", "inversion_grid.png", "sampling_grid.png"):
        assert (project / "reports" / grid).stat().st_size > 0


def test_repro_then_runs_visible_over_rest(reproduced_copy, tmp_path, tool_env):
    project_copy = reproduced_copy  # after `dvc repro` (the shared fixture)
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
    check_evaluation_outputs(project_copy)
    variant = subprocess.run([str(BIN / "dvc"), "exp", "run", "-S", "pca.components=8"], cwd=project_copy,
                             env=tool_env, capture_output=True, text=True, timeout=600)
    assert variant.returncode == 0, variant.stdout[-3000:] + variant.stderr[-3000:]
    assert json.loads((project_copy / "metrics" / "pca.json").read_text())["components"] == 8

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

    parents = sorted((r for r in runs if tags(r).get("w2w.role") == "pipeline"),
                     key=lambda r: r["info"]["start_time"])
    assert len(parents) == 2  # the default configuration and the pca.components=8 variant
    parent_id = parents[0]["info"]["run_id"]
    stages = {r["info"]["run_name"]: r for r in runs
              if tags(r).get("w2w.role") == "stage" and tags(r)["mlflow.parentRunId"] == parent_id}
    assert set(stages) == {"synthesize", "judge", "base", "evaluate_base", "finetune", "stack",
                           "evaluate_finetune", "pca", "directions", "evaluate_edits",
                           "evaluate_inversion", "evaluate_sampling"}
    compared = [{p["key"]: p["value"] for p in parent["data"]["params"]} for parent in parents]
    assert [c["pca.components"] for c in compared] == ["256", "8"]
    for parent in parents:  # both carry the evaluation figures, side by side in the UI
        logged = {m["key"] for m in parent["data"]["metrics"]}
        assert {"evaluate_edits.flip_rate_mean", "evaluate_sampling.novel_fraction",
                "evaluate_inversion.w2w.ood", "pca.explained_variance_ratio_sum"} <= logged
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
