"""End to end: a real `dvc repro` of every stage on the micro profile, read back through a real
`mlflow server` on 127.0.0.1 over its REST API."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import zarr
from servers import free_port, serve

from w2w.tracking import final_figures

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.e2e  # shares reproduced_project: listed in conftest's SHARING_REPRO


def rest(base: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def start_server(db: Path, port: int, log: Path, env: dict[str, str]) -> subprocess.Popen:
    cmd = [BIN / "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    return serve(cmd, f"http://127.0.0.1:{port}/health", log, 120, cwd=db.parent, env=env)


def tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


@pytest.fixture(scope="module")
def ui_server(two_configurations, tmp_path_factory, tool_env):
    """A real `mlflow server` on the two configurations' store, and what its REST API lists: the
    experiment, its runs, and the two parents, oldest first."""
    project, _ = two_configurations
    port = free_port()
    server = start_server(project / "mlflow.db", port, tmp_path_factory.mktemp("server") / "server.log",
                          tool_env)
    try:
        api = f"http://127.0.0.1:{port}/api/2.0/mlflow"
        experiment = rest(api, "/experiments/get-by-name?experiment_name=w2w")["experiment"]
        runs = rest(api, "/runs/search", {"experiment_ids": [experiment["experiment_id"]],
                                          "max_results": 100})["runs"]
        parents = sorted((r for r in runs if tags(r).get("w2w.role") == "pipeline"),
                         key=lambda r: r["info"]["start_time"])
        yield {"url": f"http://127.0.0.1:{port}", "experiment": experiment, "runs": runs, "parents": parents}
    finally:
        server.terminate()
        server.wait(timeout=30)


def merged_figures(project: Path) -> dict[str, float]:
    return {k: v for stage in final_figures(project).values() for k, v in stage.items()}


def has_interval(figures: dict, name: str) -> None:
    """name_ci is a bootstrap interval over identities: it holds the mean it belongs to."""
    lo, hi = figures[f"{name}_ci"]
    assert lo <= figures[name] <= hi, (name, figures[name], lo, hi)


def check_evaluation_outputs(project: Path) -> None:
    """What the micro run's evaluation writes: each headline figure with an interval around it, on
    the micro profile's numbers of identities; the ladder's rungs; the report. The figures' values
    are tested on inputs with known answers in tests/evaluate."""
    edits = json.loads((project / "metrics" / "edits.json").read_text())
    raw = edits["raw_weight_baseline"]  # rendered only where it is not the w2w direction
    assert raw["rendered"] == (raw["max_relative_difference"] > 0.02)
    shown = [edits, edits["prompt_baseline"], edits["w2w_vs_prompting"], *([raw] if raw["rendered"] else [])]
    for figures in shown:
        for name in ("flip_rate", "identity_similarity", "other_attributes_kept", "target_shift"):
            has_interval(figures, f"{name}_mean")
    has_interval(edits["w2w_vs_prompting"], "identity_similarity_difference")
    for name in ("flip_rate", "identity_similarity", "other_attributes_kept"):  # the world's own edits
        has_interval(edits["world_edit"], f"{name}_mean")
    assert 1.0 <= edits["w2w_vs_prompting"]["strength"] <= 2.0  # interpolated within the sweep (1, 2)
    assert edits["strength"] in (1.0, 2.0) and edits["identities"] == 2  # chosen on train identities
    assert set(edits["strengths"]) == set(edits["attributes"])  # each attribute's own, from the sweep
    assert set(edits["strengths"].values()) <= {1.0, 2.0}
    has_interval(edits["one_strength"], "flip_rate_mean")      # one strength for all, beside them
    inversion = json.loads((project / "metrics" / "inversion.json").read_text())
    for method in ("w2w", "single_image_lora"):
        for setting in ("in_distribution", "ood", "in_distribution_trait_error", "occluded",
                        "occluded_trait_error"):  # the miniature world's occluded render too
            has_interval(inversion[method], f"{setting}_mean")
    has_interval(inversion["w2w_minus_lora_ood"], "similarity")
    has_interval(inversion["w2w_minus_lora_occluded"], "trait_error")
    assert sum(inversion["occluder_places"].values()) == inversion["identities"]
    ladder = json.loads((project / "metrics" / "ladder.json").read_text())
    assert len(ladder["rungs"]) == 16 and ladder["rungs"][0]["rung"] == "fresh renders (ceiling)"
    assert ladder["rungs"][-1]["rung"] == "base with the generic prompt (floor)"
    assert ladder["identity_share_identities"] == 3  # at least 3: its control leaves two identities out
    has_interval(ladder, "identity_share_mean")
    has_interval(ladder, "identity_share_other_identities_mean")
    for rung in ladder["rungs"]:
        assert rung["identities"] == 2
        has_interval(rung, "similarity_mean")
        has_interval(rung, "trait_error_mean")
    sampling = json.loads((project / "metrics" / "sampling.json").read_text())
    for name in ("consistency_mean", "novel_fraction_mean", "novel_fraction_heldout_models_mean",
                 "consistency_difference"):
        has_interval(sampling, name)
    for name in ("alike_consistency_mean", "alike_consistency_difference", "nearest_similarity_difference",
                 "alike_nearest_similarity_difference"):  # the attributes-first sampler, beside
        has_interval(sampling, name)
    assert sampling["models"] == 4 and isinstance(sampling["novelty_rule_valid"], bool)
    curve = (project / "plots" / "edits_strength.csv").read_text().splitlines()
    assert curve[0].startswith("strength,") and len(curve) == 3
    assert (project / "plots" / "ladder.csv").read_text().startswith("rung,similarity,")
    summary = (project / "reports" / "summary.md").read_text()
    assert summary.index("## Ceiling ladder") < summary.index("| 2. edits: the attribute changes |")
    assert "![edits](edits_grid.png)" in summary
    for grid in ("edits_grid.png", "inversion_grid.png", "sampling_grid.png", "sampling_alike_grid.png"):
        assert (project / "reports" / grid).stat().st_size > 0


def test_repro_then_runs_visible_over_rest(two_configurations, ui_server):
    project_copy, default_figures = two_configurations
    judge_metrics = json.loads((project_copy / "metrics" / "judge.json").read_text())
    assert {"clean", "vae_round_trip", "same_identity_cosine_drop"} <= set(judge_metrics["robustness"])
    assert {"trait_error_identity_mean", "trait_error_chance"} <= set(judge_metrics["traits"])
    assert (project_copy / "dvc.lock").exists()
    base_metrics = json.loads((project_copy / "metrics" / "base.json").read_text())
    has_interval(base_metrics, "prompt_attribute_fidelity")
    assert base_metrics["heldout_denoising_loss"] > 0
    assert (project_copy / "data" / "base" / "model" / "model_index.json").is_file()
    weights = zarr.open_array(project_copy / "data" / "weights.zarr" / "weights", mode="r")
    assert weights.shape == (24, 1408)  # every micro identity, the default adapter layout (rank-1 to_out.0)
    fleet = json.loads((project_copy / "metrics" / "finetune.json").read_text())
    assert fleet["identities"] == 24 and fleet["evaluated_identities"] == 2
    has_interval(fleet, "identity_similarity_mean")
    has_interval(fleet, "trait_error_mean")
    per_identity = pd.read_csv(project_copy / "plots" / "finetune_identities.csv")  # the evaluated ones
    assert len(per_identity) == 2 and per_identity["identity_id"].is_unique
    assert abs(per_identity["identity_similarity"].mean() - fleet["identity_similarity_mean"]) < 1e-5
    pca = json.loads((project_copy / "metrics" / "pca.json").read_text())
    assert pca["components"] == 19 and 0.99 <= pca["explained_variance_ratio_sum"] <= 1.0 + 1e-6  # all
    directions = json.loads((project_copy / "metrics" / "directions.json").read_text())
    assert 0 <= directions["auc_min"] <= 1 and directions["attributes"] >= 1
    check_evaluation_outputs(project_copy)

    runs = ui_server["runs"]
    parents = ui_server["parents"]
    assert len(parents) == 2  # the default configuration and the full-covariance variant
    parent_id = parents[0]["info"]["run_id"]
    stages = {r["info"]["run_name"]: r for r in runs
              if tags(r).get("w2w.role") == "stage" and tags(r)["mlflow.parentRunId"] == parent_id}
    assert set(stages) == {"synthesize", "judge", "base", "evaluate_base", "finetune", "stack",
                           "evaluate_finetune", "pca", "directions", "evaluate_edits",
                           "evaluate_inversion", "evaluate_sampling"}
    compared = [{p["key"]: p["value"] for p in parent["data"]["params"]} for parent in parents]
    assert [c["evaluate_sampling.covariance"] for c in compared] == ["diagonal", "full"]
    # each parent carries every stage's final figures, equal to its configuration's metrics files,
    # the variant's reused stages (judge, finetune, ...) included: the same columns in the UI
    variant_figures = merged_figures(project_copy)
    assert variant_figures != default_figures and set(variant_figures) == set(default_figures)
    for parent, figures in zip(parents, (default_figures, variant_figures), strict=True):
        logged = {m["key"]: m["value"] for m in parent["data"]["metrics"]}
        assert logged == pytest.approx(figures)
        assert {"evaluate_edits.flip_rate_mean", "evaluate_inversion.w2w.ood_mean", "judge.identity_auc",
                "evaluate_inversion.ladder.rungs.w2w_inversion.similarity_mean",
                "finetune.loss_mean"} <= set(logged)
    variant_tags = tags(parents[1])
    assert variant_tags["w2w.stage.judge"] == variant_tags["w2w.stage.pca"] == "reused"
    assert variant_tags["w2w.stage.evaluate_edits"] == "reused"
    assert variant_tags["w2w.stage.evaluate_sampling"] == "ran"
    children = [r for r in runs if tags(r).get("mlflow.parentRunId") == parent_id]
    assert parents[0]["info"]["end_time"] >= max(r["info"]["end_time"] for r in children)  # spans them
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
    # the attribute reader trained (its loss logged per epoch) and is measured beside the judge's head
    assert "train.reader_loss" in judge_logged and "judge_head.attribute_auc_mean" in judge_logged
    parent_metrics = {m["key"] for m in parents[0]["data"]["metrics"]}
    assert {"judge.identity_auc", "synthesize.identities"} <= parent_metrics
    artifacts = project_copy / "mlartifacts"
    assert list(artifacts.rglob("contact_sheet.png")), "contact sheet not logged as an artifact"
    assert list(artifacts.rglob("samples.png")), "base sample grid not logged as an artifact"


def is_number(text: str) -> bool:
    try:
        return float(text) == float(text)  # not NaN
    except ValueError:
        return False


CHROMIUM = Path("/usr/bin/chromium")  # Debian's package: Playwright's own browser download is not reachable


def test_mlflow_ui_shows_both_parents_with_headlines_and_compares_them(ui_server, tmp_path):
    """In a real headless browser: the README's headline view lists both parents with the headline
    columns filled, and ticking both and pressing Compare opens MLflow's compare view of the two.
    Screenshots of each state go to this test's tmp dir."""
    if not CHROMIUM.is_file():
        pytest.skip(f"no browser at {CHROMIUM}: `apt-get install -y chromium` (.ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is missing")
    from w2w.tracking import HEADLINES, headline_view_url

    names = [p["info"]["run_name"] for p in ui_server["parents"]]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1000})
            page.goto(headline_view_url(ui_server["experiment"]["experiment_id"], ui_server["url"]),
                      timeout=180_000)
            for name in names:
                page.get_by_text(name, exact=True).wait_for(timeout=180_000)
            page.screenshot(path=tmp_path / "headline-view.png")
            headers = set(page.locator("[role=columnheader]").all_inner_texts())
            shown = [h for h in HEADLINES if h in headers]
            assert len(shown) >= 5, headers  # the grid draws only the columns in view
            for name in names:
                row = page.locator("[role=row]", has_text=name)  # the pinned part: tick box and name
                parts = page.locator(f"[role=row][row-index='{row.get_attribute('row-index')}']")
                figures = [c for text in parts.all_inner_texts() for c in text.split("\n") if is_number(c)]
                assert len(figures) >= len(shown), (name, figures)  # every headline in view has a figure
                row.locator("input.ag-checkbox-input").check()
            page.get_by_role("button", name="Compare").click()
            page.wait_for_url("**compare-runs**", timeout=60_000)
            page.get_by_text("Comparing 2 Runs").wait_for(timeout=120_000)
            for text in (*names, "evaluate_sampling.covariance", "diagonal", "full"):
                page.get_by_text(text, exact=True).first.wait_for(state="attached", timeout=60_000)
            page.screenshot(path=tmp_path / "compare.png", full_page=True)
        finally:
            browser.close()
    assert all((tmp_path / shot).stat().st_size > 0 for shot in ("headline-view.png", "compare.png"))
