"""Use a prebuilt basis: push the outputs to a local DVC remote, clone fresh, pull only what the
evaluation needs, and rerun an evaluation stage without any upstream stage running again."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_run import run_w2w
from PIL import Image

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.e2e  # shares reproduced_project: listed in conftest's SHARING_REPRO
SHARED = ["data/world", "data/judge", "data/base", "data/weights.zarr", "data/basis", "data/directions"]
FOR_COMMANDS = ["data/base", "data/weights.zarr", "data/basis", "data/directions"]  # README: prebuilt basis


def run(args: list[str], cwd: Path, env: dict) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout + done.stderr


def test_clone_pulls_the_basis_and_evaluates_without_retraining(reproduced_copy, tmp_path, tool_env):
    dvc, project_copy = str(BIN / "dvc"), reproduced_copy  # after `dvc repro` (the shared fixture)
    run([dvc, "remote", "add", "-d", "store", str(tmp_path / "remote")], project_copy, tool_env)
    run([dvc, "push", *SHARED], project_copy, tool_env)  # not data/fleet: the shards stay home
    run(["git", "add", "-A"], project_copy, tool_env)
    run(["git", "commit", "-qm", "built"], project_copy, tool_env)

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project_copy), str(clone)], tmp_path, tool_env)
    params = yaml.safe_load((clone / "params.yaml").read_text())
    params["evaluate_sampling"]["models"] = 6  # a new evaluation setting; nothing upstream changes
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    log = run([dvc, "repro", "--pull", "--allow-missing", "report"], clone, tool_env)
    for stage in ("evaluate_sampling", "report"):
        assert f"Running stage '{stage}'" in log, stage
    for other in ("synthesize", "judge", "base", "finetune", "stack", "pca", "directions", "evaluate_edits"):
        assert f"Running stage '{other}'" not in log, other
    assert not (clone / "data" / "fleet").exists()  # the fleet was never needed
    assert yaml.safe_load((clone / "metrics" / "sampling.json").read_text())["models"] == 6

    # what the README says `w2w edit|sample|invert` need, and nothing else: four outputs
    bare = tmp_path / "bare"
    run(["git", "clone", "-q", str(project_copy), str(bare)], tmp_path, tool_env)
    run([dvc, "pull", *FOR_COMMANDS], bare, tool_env)
    assert sorted(p.name for p in (bare / "data").iterdir()) == sorted(Path(p).name for p in FOR_COMMANDS)
    for args in (["edit", "--identity", 3, "--set", "Eyeglasses=+1", "--out", "edited"],
                 ["sample", "--n", 1, "--out", "samples"],
                 ["invert", bare / "photo.png", "--steps", 2, "--out", "me"]):
        if args[0] == "invert":
            Image.new("RGB", (32, 32), (120, 90, 60)).save(bare / "photo.png")
        done = run_w2w(*args, "--preview", 0, cwd=bare)
        assert done.returncode == 0, (args, done.stderr)
        assert (bare / args[-1]).is_dir()
