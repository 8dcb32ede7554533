"""Shared fixtures: the micro profile, a throwaway copy of the project, a tiny SD-style pipeline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from committed import profile_params, profile_params_dict, section
from spaces import ASSET, record_problems, stack_and_fit

from w2w.base.autoencoder import build_vae
from w2w.base.build import import_pretrained
from w2w.base.model import build_text_encoder, build_unet, sampling_scheduler
from w2w.base.pipeline import assemble_pipeline
from w2w.base.tokenizer import build_clip_tokenizer
from w2w.fleet.run import run_finetune
from w2w.params import Params
from w2w.tracking import final_figures

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the environment's console scripts: dvc, mlflow, dask

if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test`: one worker per core, so one thread each,
    os.environ["OMP_NUM_THREADS"] = "1"    # in this process and in the tools it starts; more
    torch.set_num_threads(1)               # threads than cores slows torch down several times


SHARING_REPRO = ("tests/test_pipeline_e2e.py", "tests/test_prebuilt_basis.py")  # reproduced_project


def pytest_xdist_make_scheduler(config, log):
    """Test by test to whichever worker is free, except that the tests sharing the reproduced micro
    project all go to one worker, which reproduces it once (xdist's own xdist_group marker does not
    work with this pytest: it renames node ids through an attribute pytest 9 no longer reads)."""
    from xdist.scheduler import LoadScopeScheduling

    class SharedReproScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "repro" if nodeid.startswith(SHARING_REPRO) else nodeid

    return SharedReproScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest first (the e2e marker, then the trained space), so that the workers finish together."""
    def order(item: pytest.Item) -> int:
        return 0 if item.get_closest_marker("e2e") else 1 if "small_space" in item.fixturenames else 2
    items.sort(key=order)


def tool_environment() -> dict[str, str]:
    """Environment for subprocesses: this environment's tools first, no telemetry, default store."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
               MLFLOW_DISABLE_TELEMETRY="true", DVC_NO_ANALYTICS="1")
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


@pytest.fixture(scope="session")
def tool_env() -> dict[str, str]:
    return tool_environment()


def micro_params_dict() -> dict:
    return profile_params_dict("micro")


@pytest.fixture
def micro_params() -> Params:
    return profile_params("micro")


def copy_project(dest: Path) -> Path:
    """The project's files (tracked and untracked, not ignored) in a new git repo at `dest`, micro profile."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    for rel in listed:
        if (ROOT / rel).is_file() and not rel.startswith("tests/assets/"):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    (dest / "params.yaml").write_text(yaml.safe_dump(micro_params_dict(), sort_keys=False))
    for args in (["init", "-q"], ["config", "user.name", "w2w-test"],
                 ["config", "user.email", "w2w-test@localhost"], ["add", "-A"],
                 ["commit", "-qm", "fixture"]):
        subprocess.run(["git", *args], cwd=dest, check=True, capture_output=True)
    return dest


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def reproduced_project(tmp_path_factory) -> Path:
    """The micro project after one full `dvc repro`, shared by the end-to-end tests (list their files
    in SHARING_REPRO, so that they run on one worker): use `reproduced_copy`, never this folder."""
    project = copy_project(tmp_path_factory.mktemp("reproduced") / "project")
    done = subprocess.run([str(BIN / "dvc"), "repro"], cwd=project, env=tool_environment(),
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return project


@pytest.fixture(scope="module")
def two_configurations(reproduced_project: Path, tmp_path_factory) -> tuple[Path, dict[str, float]]:
    """The reproduced micro project, then `dvc exp run` of a variant: a late choice, so that most
    stages are reused (their figures must still reach the variant's parent). Returns the project and
    the default configuration's figures, as its files held them before the variant."""
    project = Path(shutil.copytree(reproduced_project, tmp_path_factory.mktemp("two") / "project",
                                   symlinks=True))
    default_figures = {k: v for stage in final_figures(project).values() for k, v in stage.items()}
    variant = subprocess.run([str(BIN / "dvc"), "exp", "run", "-S", "evaluate_sampling.covariance=full"],
                             cwd=project, env=tool_environment(), capture_output=True, text=True, timeout=600)
    assert variant.returncode == 0, variant.stdout[-3000:] + variant.stderr[-3000:]
    return project, default_figures


@pytest.fixture
def reproduced_copy(reproduced_project: Path, tmp_path: Path) -> Path:
    """A private copy of the reproduced project: git, DVC cache, data, metrics and MLflow store."""
    return Path(shutil.copytree(reproduced_project, tmp_path / "project", symlinks=True))


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
    # build_vae draws its init from the global generator, which earlier tests in the same process
    # have advanced; pinned, the pipeline no longer depends on test order. Batched-vs-merged sampling
    # differed by at most 1 grey level for most VAE inits but by up to 13 for some (12 inits tried).
    torch.manual_seed(TINY.seed)
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


@pytest.fixture(scope="session")
def micro_space(micro_world, tiny_pipeline, tmp_path_factory) -> Path:
    """A folder with base/, weights.zarr, basis/, directions/ (the stage layout, micro scale)."""
    root = tmp_path_factory.mktemp("space")
    import_pretrained(micro_world, section("base", source="pretrained", pretrained=str(tiny_pipeline[1])),
                      root / "base")
    run_finetune(root / "base", micro_world, root / "fleet", FLEET, "cfg", IN_PROCESS,
                 section("synthesize", "micro").seed)
    stack_and_fit(root, micro_world, FLEET, section("pca", "micro", components=8),
                  section("directions", "micro"))
    return root


# The small TRAINED weight space (profiles/small.yaml): base, judge and fleet really trained, so that
# identities and attributes are in the weights. It takes about 13 minutes to build on 2 cores, so it
# is committed (tests/assets/small-space) with a record of the code, params and libraries that built
# it; `make test-assets` rebuilds it (tests/spaces.py).


@pytest.fixture(scope="session")
def small_space() -> Path:
    """The committed small space's folder (stage layout); an error when its code has changed since."""
    problems = record_problems()
    if problems:
        pytest.fail("tests/assets/small-space is not what the code builds now, run `make test-assets`: "
                    + "; ".join(problems[:8]), pytrace=False)
    return ASSET
