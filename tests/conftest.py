"""Shared fixtures: the micro profile, a throwaway copy of the project, a tiny SD-style pipeline."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from committed import profile_params, profile_params_dict, section

from w2w.base.autoencoder import build_vae
from w2w.base.build import import_pretrained
from w2w.base.model import build_text_encoder, build_unet, sampling_scheduler
from w2w.base.pipeline import assemble_pipeline
from w2w.base.tokenizer import build_clip_tokenizer
from w2w.fleet.layout import AdapterLayout
from w2w.fleet.run import lora_config_dict, run_finetune
from w2w.fleet.shards import read_shard_layout, stack_shards
from w2w.params import DirectionsParams, FinetuneParams, Params, PcaParams

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the environment's console scripts: dvc, mlflow, dask


@pytest.fixture
def tool_env() -> dict[str, str]:
    """Environment for subprocesses: this environment's tools first, no telemetry, default store."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
               MLFLOW_DISABLE_TELEMETRY="true", DVC_NO_ANALYTICS="1")
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def micro_params_dict() -> dict:
    return profile_params_dict("micro")


@pytest.fixture
def micro_params() -> Params:
    return profile_params("micro")


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The project's files (tracked and untracked, not ignored) in a fresh git repo, micro profile."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    dest = tmp_path / "project"
    for rel in listed:
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    (dest / "params.yaml").write_text(yaml.safe_dump(micro_params_dict(), sort_keys=False))
    for args in (["init", "-q"], ["config", "user.name", "w2w-test"],
                 ["config", "user.email", "w2w-test@localhost"], ["add", "-A"],
                 ["commit", "-qm", "fixture"]):
        subprocess.run(["git", *args], cwd=dest, check=True, capture_output=True)
    return dest


@pytest.fixture(scope="session")
def micro_world(tmp_path_factory) -> Path:
    """The micro profile's synthesized world folder."""
    from w2w.world.dataset import synthesize_world

    folder = tmp_path_factory.mktemp("world")
    synthesize_world(profile_params("micro").synthesize, folder)
    return folder


# A tiny, untrained SD-style pipeline folder, built from the same classes as the real base.
TINY = section("base", "micro", vae_channels=[8, 16, 16], unet_channels=[16, 32], text_dim=16)
WORDS = ["a", "photo", "of", "person", "man", "woman", "with", "eyeglasses", "sks"]


def build_tiny_pipeline(folder: Path):
    tokenizer = build_clip_tokenizer(WORDS, folder / "tok.build")
    pipe = assemble_pipeline(build_vae(TINY, 32), build_text_encoder(TINY, tokenizer), tokenizer,
                             build_unet(TINY, 8), sampling_scheduler())
    pipe.save_pretrained(folder / "model", safe_serialization=True)
    return pipe


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return build_tiny_pipeline(folder), folder / "model"


# A micro weight space: the tiny pipeline's fleet on the micro world, stacked, with basis and directions.


FLEET = section("finetune", "micro", steps=20, lr=1e-2, lora_alpha=27.0, identities_per_shard=12)
IN_PROCESS = section("compute", "micro")  # jobs in this process


def stack_and_fit(root: Path, world: Path, fp: FinetuneParams, pca: PcaParams, dp: DirectionsParams) -> None:
    """root/fleet's shards -> root/weights.zarr, root/basis, root/directions (stack, pca, directions)."""
    import zarr

    from w2w.space.pca import fit_basis
    from w2w.space.study import attribute_study

    table = pd.read_parquet(world / "identities.parquet")
    shards = sorted((root / "fleet").glob("shard-*.safetensors"))
    layout = AdapterLayout.from_json(read_shard_layout(shards[0]))
    stack_shards(shards, table["identity_id"].to_numpy(), table["split"].to_numpy(), layout,
                 lora_config_dict(fp), root / "weights.zarr", fp.identities_per_shard)
    group = zarr.open_group(root / "weights.zarr", mode="r")
    train = np.flatnonzero(~np.asarray(group["heldout"][:]))
    basis = fit_basis(group["weights"], train, np.asarray(group["identity_ids"][:]), pca)
    basis.save(root / "basis")
    directions, _ = attribute_study(world, root / "base", root / "weights.zarr", basis, dp)
    directions.save(root / "directions", dp.debias)


@pytest.fixture(scope="session")
def micro_space(micro_world, tiny_pipeline, tmp_path_factory) -> Path:
    """A folder with base/, weights.zarr, basis/, directions/ (the stage layout, micro scale)."""
    root = tmp_path_factory.mktemp("space")
    import_pretrained(micro_world, section("base", source="pretrained", pretrained=str(tiny_pipeline[1])),
                      root / "base")
    run_finetune(root / "base", micro_world, root / "fleet", FLEET, "cfg", IN_PROCESS)
    stack_and_fit(root, micro_world, FLEET, section("pca", "micro", components=8),
                  section("directions", "micro"))
    return root


# A small TRAINED weight space (profiles/small.yaml): base, judge and fleet really trained, so that
# identities and attributes are in the weights. About 9 minutes on 2 cores, once per session. Set
# W2W_SMALL_SPACE to a folder to keep it between sessions: each build lives in a sub-folder named by
# the hash of the code and params that make it, so a stale space is never tested.


def small_space_key(p: Params) -> str:
    """Hash of the small params and of every source file that builds or reads the space."""
    digest = hashlib.sha256(p.config_hash().encode())
    for path in sorted([*(ROOT / "src" / "w2w").rglob("*.py"), Path(__file__)]):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def build_small_space(root: Path, p: Params) -> None:
    """world/, base/, judge/, fleet/, weights.zarr, basis/, directions/: the stages' outputs, in order."""
    from w2w.base.build import train_miniature
    from w2w.judge.train import fit_and_evaluate
    from w2w.world.dataset import synthesize_world

    for name, build in [("world", lambda out: synthesize_world(p.synthesize, out)),
                        ("base", lambda out: train_miniature(root / "world", p.base, out, lambda s, m: None)),
                        ("judge", lambda out: fit_and_evaluate(root / "world", p.judge, out))]:
        if not (root / name / "done").is_file():
            shutil.rmtree(root / name, ignore_errors=True)
            (root / name).mkdir(parents=True)
            build(root / name)
            (root / name / "done").touch()
    run_finetune(root / "base", root / "world", root / "fleet", p.finetune, "small", p.compute)
    if not (root / "directions").is_dir():
        stack_and_fit(root, root / "world", p.finetune, p.pca, p.directions)


@pytest.fixture(scope="session")
def small_space(tmp_path_factory) -> Path:
    """A folder with the stage layout of a trained small space (see build_small_space)."""
    kept = os.environ.get("W2W_SMALL_SPACE")
    p = profile_params("small")
    root = Path(kept) / f"small-{small_space_key(p)}" if kept else tmp_path_factory.mktemp("small")
    build_small_space(root, p)
    return root
