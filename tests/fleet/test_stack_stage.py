"""The stack stage on damaged shards: one line naming the shard file and the key or identity, exit 1,
no traceback, and every file that was there before left as it was."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from committed import section
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from snapshot import snapshot

from w2w.adapters.layout import AdapterLayout
from w2w.errors import InputError
from w2w.fleet.config import lora_config_dict
from w2w.fleet.shards import read_shard_layout, stack_shards

SHARD = "data/fleet/shard-00000.safetensors"
FLEET = section("finetune", "micro", lora_alpha=27.0, identities_per_shard=12)  # micro_space's fleet


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


def test_a_damaged_shard_is_one_line_naming_file_and_key(project_copy, micro_world, micro_space):
    """The real stage process, on a shard with a NaN row."""
    shutil.copytree(micro_world, project_copy / "data" / "world")
    shutil.copytree(micro_space / "fleet", project_copy / "data" / "fleet")
    expected = damage(project_copy / SHARD, "nan row")
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


@pytest.mark.parametrize("how", ["missing key", "short key"])
def test_each_fault_names_the_file_and_the_key(micro_world, micro_space, tmp_path, how):
    """The other faults, through the stacking the stage calls (its one-line report: the test above)."""
    fleet = Path(shutil.copytree(micro_space / "fleet", tmp_path / "fleet"))
    shard = fleet / Path(SHARD).name
    expected = damage(shard, how)
    table = pd.read_parquet(micro_world / "identities.parquet")
    shards = sorted(fleet.glob("shard-*.safetensors"))
    layout = AdapterLayout.from_json(read_shard_layout(shards[-1]))
    with pytest.raises(InputError) as refused:
        stack_shards(shards, table["identity_id"].to_numpy(), table["split"].to_numpy(), layout,
                     lora_config_dict(FLEET), tmp_path / "weights.zarr", FLEET.identities_per_shard)
    assert str(refused.value).startswith(f"{shard}: {expected}"), str(refused.value)
    assert not (tmp_path / "weights.zarr").exists()
