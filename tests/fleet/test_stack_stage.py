"""The stack stage on damaged shards: one line naming the shard file and the key or identity, exit 1,
no traceback, and every file that was there before left as it was."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from snapshot import snapshot

SHARD = "data/fleet/shard-00000.safetensors"


def damage(path, how: str) -> str:
    """Rewrite the shard with one fault; returns what the error must name besides the file."""
    with safe_open(path, "pt") as f:
        metadata = f.metadata()
    tensors = load_file(path)
    key = sorted(k for k in tensors if k != "identity_ids")[3]
    if how == "missing key":
        del tensors[key]
        expected = f"key {key} is missing"
    elif how == "short key":
        tensors[key] = tensors[key][:-1]  # 7 of 8 rows, say
        expected = f"key {key} has shape"
    else:
        tensors[key] = tensors[key].clone()
        tensors[key][2] = float("nan")
        expected = f"non-finite adapter weights (NaN/Inf) for identities [{int(tensors['identity_ids'][2])}]"
    save_file(tensors, path, metadata=metadata)
    return expected


@pytest.mark.parametrize("how", ["missing key", "short key", "nan row"])
def test_a_damaged_shard_is_one_line_naming_file_and_key(project_copy, micro_world, micro_space, how):
    shutil.copytree(micro_world, project_copy / "data" / "world")
    shutil.copytree(micro_space / "fleet", project_copy / "data" / "fleet")
    expected = damage(project_copy / SHARD, how)
    before = snapshot(project_copy)
    result = subprocess.run([sys.executable, "stages/stack.py"], cwd=project_copy, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {SHARD}: {expected}"), result.stderr
    after = snapshot(project_copy)
    assert {path: after.get(path) for path in before} == before  # nothing that existed was changed
    assert not (project_copy / "data" / "weights.zarr").exists()
