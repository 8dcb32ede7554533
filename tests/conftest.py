"""Shared fixtures: the micro profile, a throwaway copy of the project, a tiny SD-style pipeline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from w2w.base.autoencoder import build_vae
from w2w.base.model import build_text_encoder, build_unet, sampling_scheduler
from w2w.base.pipeline import assemble_pipeline
from w2w.base.tokenizer import build_clip_tokenizer
from w2w.params import BaseParams, Params, deep_merge, validate_params

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
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    return deep_merge(base, yaml.safe_load((ROOT / "profiles" / "micro.yaml").read_text()))


@pytest.fixture
def micro_params() -> Params:
    return validate_params(micro_params_dict())


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
    synthesize_world(validate_params(micro_params_dict()).synthesize, folder)
    return folder


# A tiny, untrained SD-style pipeline folder, built from the same classes as the real base.
TINY = BaseParams(vae_channels=[8, 16, 16], unet_channels=[16, 32], text_dim=16)
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
