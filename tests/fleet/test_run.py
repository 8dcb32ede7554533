"""The finetune library end to end at micro scale: shards, resume, stale shards, stacking."""

import numpy as np
import pandas as pd
import pytest
import zarr
from committed import section
from folders import make_folder
from safetensors.torch import load_file

from w2w.adapters.layout import AdapterLayout
from w2w.atomic import umask, write_json
from w2w.base.build import import_pretrained
from w2w.errors import InputError
from w2w.fleet.config import shard_path
from w2w.fleet.masks import MASKS_FILE, make_person_masks
from w2w.fleet.run import TRAIN_SUMMARY, run_finetune
from w2w.fleet.shards import read_shard_layout, stack_shards
from w2w.world.folder import read_identity_folder

P = section("finetune", steps=2, identities_per_shard=10)
IN_PROCESS = section("compute", workers=0)
WORLD_SEED = section("synthesize", "micro").seed  # the micro world's, for the person masks


@pytest.fixture(scope="module")
def base_dir(micro_world, tiny_pipeline, tmp_path_factory):
    folder = tmp_path_factory.mktemp("base")
    pretrained = section("base", source="pretrained", pretrained=str(tiny_pipeline[1]))
    import_pretrained(micro_world, pretrained, folder)
    return folder


def test_all_identities_trained_resumed_and_stacked(micro_world, base_dir, tmp_path):
    out = tmp_path / "fleet"
    first = run_finetune(base_dir, micro_world, out, P, "cfg", IN_PROCESS, WORLD_SEED)
    table = pd.read_parquet(micro_world / "identities.parquet")
    assert first["identities"] == first["trained_now"] == len(table) and first["shards"] == 3
    assert shard_path(out, 0).stat().st_mode & 0o777 == 0o666 & ~umask()  # 0644 for a team folder, not 0600
    kept = shard_path(out, 0).stat().st_mtime_ns
    before = shard_path(out, 2).read_bytes()
    shard_path(out, 2).unlink()  # as if the run was killed before the last shard
    resumed = run_finetune(base_dir, micro_world, out, P, "cfg", IN_PROCESS, WORLD_SEED)
    assert resumed["trained_now"] == len(table) - 20
    write_json(out / TRAIN_SUMMARY, first)  # as the stage writes it
    again = run_finetune(base_dir, micro_world, out, P, "cfg", IN_PROCESS, WORLD_SEED)  # nothing left
    assert again == {**first, "trained_now": 0}  # the losses and rate of the run that trained them
    write_json(out / TRAIN_SUMMARY, again)
    assert run_finetune(base_dir, micro_world, out, P, "cfg", IN_PROCESS, WORLD_SEED) == again  # and again
    (out / TRAIN_SUMMARY).unlink()
    bare = run_finetune(base_dir, micro_world, out, P, "cfg", IN_PROCESS, WORLD_SEED)
    assert bare["trained_now"] == 0 and "loss_mean" not in bare  # no summary to keep: none invented
    assert shard_path(out, 0).stat().st_mtime_ns == kept and shard_path(out, 2).read_bytes() == before
    layout = AdapterLayout.from_json(read_shard_layout(shard_path(out, 0)))
    shards = sorted(out.glob("shard-*.safetensors"))
    weights = stack_shards(shards, table["identity_id"].to_numpy(), table["split"].to_numpy(), layout,
                           {}, tmp_path / "weights.zarr", block=10)
    assert weights.shape == (len(table), layout.dim)
    assert np.isfinite(weights[:]).all() and np.abs(weights[:]).sum() > 0


def test_shards_of_another_configuration_are_not_reused(micro_world, base_dir, tmp_path):
    out = tmp_path / "fleet"
    run_finetune(base_dir, micro_world, out, P, "cfg-a", IN_PROCESS, WORLD_SEED)
    again = run_finetune(base_dir, micro_world, out, P.model_copy(update={"lr": 1e-2}), "cfg-b", IN_PROCESS,
                         WORLD_SEED)
    assert again["trained_now"] == again["identities"]


def test_prior_preservation_generates_the_class_prior_once_and_changes_the_adapters(micro_world, base_dir,
                                                                                   tmp_path):
    plain = tmp_path / "plain"
    run_finetune(base_dir, micro_world, plain, P, "cfg", IN_PROCESS, WORLD_SEED)
    with_prior = P.model_copy(update={"prior_weight": 1.0, "class_images": 4})
    out = tmp_path / "prior"
    run_finetune(base_dir, micro_world, out, with_prior, "cfg", IN_PROCESS, WORLD_SEED)
    prior = out / "class_prior.safetensors"
    assert prior.is_file()
    made = prior.stat().st_mtime_ns
    assert shard_path(out, 0).read_bytes() != shard_path(plain, 0).read_bytes()
    shard_path(out, 1).unlink()
    # resuming reuses the same prior images
    run_finetune(base_dir, micro_world, out, with_prior, "cfg", IN_PROCESS, WORLD_SEED)
    assert prior.stat().st_mtime_ns == made


def test_a_job_rerun_over_its_dead_workers_shard_still_counts(micro_world, base_dir, tmp_path, monkeypatch):
    """A worker can write its shard and die before its result is gathered: Dask reruns the job,
    which finds the shard and returns no losses. The identities were still trained in this run."""
    import w2w.fleet.engine as engine
    import w2w.fleet.run as run

    def dead_then_rerun(jobs, compute, on_done):
        for job in jobs:
            engine.train_shard(job)  # the worker that died after writing the shard
            on_done(engine.train_shard(job))  # the rerun's result: the shard exists, no losses

    monkeypatch.setattr(run, "run_jobs", dead_then_rerun)
    summary = run_finetune(base_dir, micro_world, tmp_path / "fleet", P, "cfg", IN_PROCESS, WORLD_SEED)
    rows = len(pd.read_parquet(micro_world / "identities.parquet"))
    assert summary["trained_now"] == summary["identities"] == rows


def test_a_loss_weighted_to_the_person_draws_the_worlds_masks_once(micro_world, base_dir, tmp_path):
    assert P.background_weight < 1  # the committed default weights the loss to the person
    out = tmp_path / "fleet"
    run_finetune(base_dir, micro_world, out, P, "cfg", IN_PROCESS, WORLD_SEED)
    masks_file = out / MASKS_FILE
    masks = load_file(masks_file)["masks"]
    images = zarr.open_group(micro_world / "images.zarr", mode="r")["images"]
    assert masks.shape == (images.shape[0], images.shape[1], 8, 8)  # the latent grid of 32-px images
    assert 0.05 < float(masks.mean()) < 0.6 and float(masks.max()) == 1.0 and float(masks.min()) == 0.0
    made = masks_file.stat().st_mtime_ns
    shard_path(out, 1).unlink()
    run_finetune(base_dir, micro_world, out, P, "cfg", IN_PROCESS, WORLD_SEED)  # resumes with the same masks
    assert masks_file.stat().st_mtime_ns == made
    plain = tmp_path / "plain"
    run_finetune(base_dir, micro_world, plain, P.model_copy(update={"background_weight": 1.0}), "cfg",
                 IN_PROCESS, WORLD_SEED)
    assert not (plain / MASKS_FILE).exists()
    assert shard_path(out, 0).read_bytes() != shard_path(plain, 0).read_bytes()


def test_person_masks_need_the_worlds_own_renders(micro_world, base_dir, tmp_path):
    with pytest.raises(InputError, match="synthesize.seed 12345"):
        run_finetune(base_dir, micro_world, tmp_path / "fleet", P, "cfg", IN_PROCESS, 12345)
    photos = tmp_path / "photos"
    photos.mkdir()
    read_identity_folder(make_folder(tmp_path), photos)
    with pytest.raises(InputError, match="background_weight to 1"):
        make_person_masks(photos, base_dir, tmp_path / "fleet", P, WORLD_SEED)
