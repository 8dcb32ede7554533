"""The training stages are bitwise reproducible on one machine: the world, the judge and the base,
built twice at micro scale in this process, give the same bytes. (Across CPUs they may not: float
reductions round differently; see the README.)"""

from pathlib import Path

import torch
from committed import profile_params, section
from spaces import file_sums

from w2w.base.build import train_miniature
from w2w.judge.train import fit_and_evaluate
from w2w.world.dataset import synthesize_world

MICRO_BASE = dict(vae_steps=3, unet_steps=3, vae_batch_size=4, unet_batch_size=4)


def build(folder: Path) -> dict[str, str]:
    p = profile_params("micro")
    (folder / "world").mkdir(parents=True)
    synthesize_world(p.synthesize, folder / "world")
    fit_and_evaluate(folder / "world", section("judge", "micro", epochs=1), folder / "judge")
    train_miniature(folder / "world", section("base", "micro", **MICRO_BASE), folder / "base",
                    log=lambda step, m: None)
    return file_sums(folder)


def test_world_judge_and_base_built_twice_are_the_same_bytes(tmp_path):
    torch.manual_seed(123)  # whatever the global generator holds, each build seeds its own
    first = build(tmp_path / "a")
    torch.manual_seed(456)
    second = build(tmp_path / "b")
    assert len(first) > 10 and first == second
