"""SIGKILL the `finetune` stage mid-run, rerun it: no finished shard is retrained, every shard is
byte-equal to an uninterrupted run's, and so are the stacked weights."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
import zarr
from committed import section

from w2w.adapters.layout import AdapterLayout
from w2w.base.build import import_pretrained
from w2w.fleet.run import run_finetune
from w2w.fleet.shards import stack_shards
from w2w.params import load_params

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.e2e


def stage(project: Path, name: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, f"stages/{name}.py"], cwd=project, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]


def shard_bytes(fleet: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(fleet.glob("shard-*.safetensors"))}


def shard_stats(fleet: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in fleet.glob("shard-*.safetensors")}


@pytest.fixture
def project(project_copy, micro_world, tiny_pipeline):
    shutil.copytree(micro_world, project_copy / "data" / "world")
    import_pretrained(micro_world, section("base", source="pretrained", pretrained=str(tiny_pipeline[1])),
                      project_copy / "data" / "base")
    params = yaml.safe_load((project_copy / "params.yaml").read_text())
    params["finetune"].update(steps=20, identities_per_shard=2)  # 12 shards, about half a second each
    params["compute"].update(workers=0, threads=1)
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return project_copy


def test_sigkill_then_rerun_resumes_and_matches_uninterrupted(project, tool_env, tmp_path):
    fleet = project / "data" / "fleet"
    proc = stage(project, "finetune", tool_env)
    deadline = time.time() + 300
    while len(shard_stats(fleet)) < 3:
        assert proc.poll() is None, f"finished before it could be killed: {proc.stderr.read()[-2000:]}"
        assert time.time() < deadline, "no shards appeared"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = shard_stats(fleet)
    assert 3 <= len(before) < 12, "killed mid-run"
    finish(stage(project, "finetune", tool_env))
    after = shard_stats(fleet)
    assert len(after) == 12
    assert {name: after[name] for name in before} == before  # same files, never rewritten
    finish(stage(project, "stack", tool_env))
    resumed = zarr.open_array(project / "data" / "weights.zarr" / "weights", mode="r")

    # The uninterrupted run, in this process with the stage's own params: the stage and an in-process
    # run write the same bytes (tests/fleet/test_engine.py); two stage processes fewer (about 13 s each).
    params = load_params(project / "params.yaml")
    reference = tmp_path / "uninterrupted"
    run_finetune(project / "data" / "base", project / "data" / "world", reference, params.finetune,
                 params.config_hash(("synthesize", "base", "finetune")), params.compute,
                 params.synthesize.seed)
    assert shard_bytes(fleet) == shard_bytes(reference)
    table = pd.read_parquet(project / "data" / "world" / "identities.parquet")
    stacked = stack_shards(sorted(reference.glob("shard-*.safetensors")), table["identity_id"].to_numpy(),
                           table["split"].to_numpy(), AdapterLayout.from_json(resumed.attrs["layout"]),
                           dict(resumed.attrs["lora_config"]), tmp_path / "weights.zarr",
                           params.finetune.identities_per_shard)
    assert np.array_equal(resumed[:], stacked[:])
