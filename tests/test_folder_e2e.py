"""End to end with real-style data: a folder of JPEG photos and a CelebA attribute file, through
every stage to the report, on a pretrained base loaded from a local folder, under the reference
preset with its sizes scaled down; no renderer involved after the photos are written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from committed import section
from folders import write_photo_folder

from w2w.base.build import train_miniature
from w2w.params import deep_merge, flatten, validate_params
from w2w.world.identity import ATTRIBUTES

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.e2e
# The reference preset at test size: smaller images, models and step counts. Every other choice of
# the preset (rank, alpha, targets, lr, batch of 1, prior preservation, least squares, guidance, ...)
# runs as it is; the base is the micro profile's, and there is no GPU.
SCALED = {"synthesize": {"image_size": 32, "images_per_identity": 2, "references_per_identity": 2},
          "finetune": {"steps": 3, "class_images": 4, "identities_per_shard": 8, "autocast": ""},
          "evaluate_base": {"sampler_steps": 3}, "evaluate_finetune": {"sampler_steps": 3},
          "pca": {"components": 8}, "directions": {"components": 8}, "evaluate_edits": {"sampler_steps": 2},
          "evaluate_inversion": {"components": 8, "steps": 3, "sampler_steps": 2},
          "evaluate_sampling": {"components": 8, "sampler_steps": 2}, "compute": {"device": "cpu"}}


def dvc(project: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([str(BIN / "dvc"), *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done


def test_photo_folder_through_every_stage(project_copy, micro_world, tmp_path, tool_env):
    # the pretrained base: what the base stage of a micro run saves (its function, in this process)
    train_miniature(micro_world, section("base", "micro"), tmp_path / "base", lambda step, m: None)
    base_model = tmp_path / "base" / "model"
    bad = write_photo_folder(tmp_path, identities=20)  # 5 photos each: 2 to train on, 2 held back, 1 spare
    preset = yaml.safe_load((ROOT / "profiles" / "reference.yaml").read_text())
    micro = yaml.safe_load((project_copy / "params.yaml").read_text())  # params.yaml + the micro profile
    where = {"synthesize": {"folder": str(tmp_path / "photos"),
                            "attributes_file": str(tmp_path / "list_attr_celeba.txt")},
             "base": {"pretrained": str(base_model)}}
    params = deep_merge(deep_merge(deep_merge(micro, preset), SCALED), where)
    validate_params(params)
    kept = flatten(preset)
    scaled = set(flatten(SCALED)) | set(flatten(where))
    assert {k: v for k, v in flatten(params).items() if k in kept and k not in scaled} == \
        {k: v for k, v in kept.items() if k not in scaled}  # the preset's choices, all of them
    assert params["synthesize"]["source"] == "folder" and params["base"]["source"] == "pretrained"
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    done = dvc(project_copy, tool_env, "repro")
    printed = done.stdout + done.stderr
    for stage in ("synthesize", "judge", "base", "evaluate_base", "finetune", "stack", "evaluate_finetune",
                  "pca", "directions", "evaluate_edits", "evaluate_inversion", "evaluate_sampling", "report"):
        assert f"Running stage '{stage}'" in printed, stage
    for path in bad:
        assert f"bad image skipped: {path}" in printed
    assert "zz_sparse has 2 readable images, needs 4" in printed

    metrics = {p.stem: json.loads(p.read_text()) for p in (project_copy / "metrics").glob("*.json")}
    world = metrics["synthesize"]
    assert world["identities"] == 20 and world["bad_images"] == 2 and world["skipped_identities"] == 1
    assert world["references"] == 40
    judge = metrics["judge"]
    assert set(judge["attribute_accuracy"]) == set(ATTRIBUTES) and 0 <= judge["identity_auc"] <= 1
    assert "traits" not in judge                       # real photos: no ground-truth traits
    assert not (project_copy / "data" / "judge" / "traits.safetensors").exists()
    assert "prompt_attribute_fidelity" in metrics["base"]
    fleet = metrics["finetune"]
    assert "identity_similarity_mean" in fleet and "trait_error_mean" not in fleet
    per_identity = (project_copy / "plots" / "finetune_identities.csv").read_text().splitlines()
    assert len(per_identity) == 1 + fleet["evaluated_identities"]  # the header, then each identity
    assert all(line.split(",")[2] == "" for line in per_identity[1:])  # trait_error: none for photos
    inversion = metrics["inversion"]
    assert {"in_distribution_mean", "ood_mean"} <= set(inversion["w2w"])
    assert not any("trait_error" in k for k in inversion["w2w"])
    ladder = metrics["ladder"]
    assert ladder["rungs"][0]["rung"] == "fresh renders (ceiling)" and "identity_share_mean" in ladder
    assert all("similarity_mean" in r and "trait_error_mean" not in r for r in ladder["rungs"])
    assert {"consistency_mean", "novel_fraction_mean"} <= set(metrics["sampling"])
    assert metrics["directions"]["attributes"] >= 1
    summary = (project_copy / "reports" / "summary.md").read_text()
    assert "## Ceiling ladder" in summary
    captions = json.loads((project_copy / "data" / "world" / "captions.json").read_text())
    assert all(c.startswith("a photo of a") and c != "a photo of a person"
               for c in captions["identities"].values())
