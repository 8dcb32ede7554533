"""The judge really learns: a short run on a small world beats chance on held-out identities."""

import numpy as np
from committed import section

from w2w.judge.api import Judge
from w2w.judge.train import fit_and_evaluate
from w2w.world.dataset import synthesize_world


def test_short_training_generalises_to_heldout(tmp_path):
    world, out = tmp_path / "world", tmp_path / "judge"
    world.mkdir()
    world_params = section("synthesize", identities=60, images_per_identity=4, heldout_fraction=0.25)
    synthesize_world(world_params, world)
    params = section("judge", renders_per_identity=8, epochs=6, batch_size=64, width=8, embedding_dim=16)
    losses = []
    metrics = fit_and_evaluate(world, params, out, on_epoch=lambda epoch, logged: losses.append(logged))
    assert losses[-1]["train.identity_loss"] < losses[0]["train.identity_loss"]
    assert metrics["identity_auc"] > 0.8
    assert metrics["attribute_accuracy_mean"] > 0.7
    judge = Judge.load(out)
    assert np.isclose(judge.config["verification_threshold"], metrics["verification_threshold"])
