"""Shard jobs on Dask: a local cluster and a running scheduler give the in-process run's exact bytes,
and a worker killed mid-run loses and duplicates nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from committed import section

from w2w.adapters.layout import AdapterLayout
from w2w.base.build import import_pretrained
from w2w.fleet.run import run_finetune
from w2w.fleet.shards import read_shard_layout, stack_shards

BIN = Path(sys.executable).parent
P = section("finetune", steps=12, identities_per_shard=2)  # 12 jobs of the 24 micro identities
# float sums depend on the thread count, so compare at one
ONE_THREAD = section("compute", workers=0, threads=1)
WORLD_SEED = section("synthesize", "micro").seed  # the micro world's, for the person masks


@pytest.fixture(scope="module")
def base_dir(micro_world, tiny_pipeline, tmp_path_factory):
    folder = tmp_path_factory.mktemp("base")
    pretrained = section("base", source="pretrained", pretrained=str(tiny_pipeline[1]))
    import_pretrained(micro_world, pretrained, folder)
    return folder


@pytest.fixture(scope="module")
def reference(micro_world, base_dir, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("reference") / "fleet"
    run_finetune(base_dir, micro_world, out, P, "cfg", ONE_THREAD, WORLD_SEED)
    return shard_bytes(out)


def shard_bytes(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.glob("shard-*.safetensors"))}


def test_local_cluster_of_two_processes_is_bitwise_in_process(micro_world, base_dir, reference, tmp_path):
    summary = run_finetune(base_dir, micro_world, tmp_path / "fleet", P, "cfg",
                           section("compute", workers=2, threads=1), WORLD_SEED)
    assert summary["trained_now"] == 24
    assert shard_bytes(tmp_path / "fleet") == reference


def start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "dask"), *args], env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


@pytest.fixture
def cluster(tmp_path, tool_env):
    """`dask scheduler` and two one-thread `dask worker` processes (no nanny) on 127.0.0.1."""
    file = tmp_path / "scheduler.json"
    procs = [start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(file)], tmp_path / "scheduler.log", tool_env)]
    wait_for(file.is_file, 60, "dask scheduler did not start")
    for k in range(2):
        procs.append(start(["worker", "--scheduler-file", str(file), "--nthreads", "1", "--no-nanny",
                            "--host", "127.0.0.1", "--no-dashboard", "--name", f"w{k}"],
                           tmp_path / f"worker{k}.log", tool_env))
    address = json.loads(file.read_text())["address"]
    yield address, procs
    for proc in procs:
        proc.kill()
        proc.wait()


def test_worker_killed_mid_task_loses_and_duplicates_nothing(micro_world, base_dir, reference, cluster,
                                                            tmp_path):
    from dask.distributed import Client

    address, procs = cluster
    victim = procs[1]
    out = tmp_path / "fleet"
    with Client(address) as client:
        wait_for(lambda: len(client.scheduler_info()["workers"]) == 2, 60, "workers did not join")
        victim_address = next(a for a, w in client.scheduler_info()["workers"].items()
                              if w["name"] == "w1")  # procs[1] was started as w1
        result = {}
        runner = threading.Thread(target=lambda: result.update(run_finetune(
            base_dir, micro_world, out, P, "cfg", section("compute", scheduler=address, threads=1),
            WORLD_SEED)))
        runner.start()
        # kill the victim while it is running a job, after at least one shard is finished
        wait_for(lambda: any(out.glob("shard-*")) and client.processing([victim_address])[victim_address],
                 120, "the victim never had a running job")
        busy = list(client.processing([victim_address])[victim_address])
        victim.send_signal(signal.SIGKILL)
        runner.join(timeout=300)
    assert busy and victim.wait() == -signal.SIGKILL
    assert result["trained_now"] == result["identities"] == 24  # every identity trained and counted once
    assert shard_bytes(out) == reference
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no half-written temp files
    table = pd.read_parquet(micro_world / "identities.parquet")
    shards = sorted(out.glob("shard-*.safetensors"))
    layout = AdapterLayout.from_json(read_shard_layout(shards[0]))
    weights = stack_shards(shards, table["identity_id"].to_numpy(), table["split"].to_numpy(), layout,
                           {}, tmp_path / "weights.zarr", block=2)  # refuses missing or repeated ids
    assert weights.shape[0] == 24
