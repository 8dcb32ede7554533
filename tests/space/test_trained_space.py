"""The science on a small trained space (profiles/small.yaml): edits move the judged attribute the
right way, and inversion recovers the identity. Random directions and chance ranks are the controls,
so each test fails when the space carries nothing."""

import numpy as np
import pytest

from w2w.evaluate.edits import score, unedited, w2w_steps, weight_edits
from w2w.evaluate.fleet import Fleet
from w2w.evaluate.render import render_models
from w2w.params import EvaluateEditsParams
from w2w.space.basis import Basis
from w2w.space.directions import Directions
from w2w.space.invert import invert_batch

STRENGTH = 4.0  # train stds along the direction
IDENTITIES = 8


@pytest.fixture(scope="module")
def space(small_space):
    fleet = Fleet.open(small_space / "world", small_space / "weights.zarr", small_space / "base",
                       small_space / "judge")
    return fleet, Basis.load(small_space / "basis"), Directions.load(small_space / "directions")


def shifts(fleet: Fleet, basis: Basis, directions: Directions, rows: np.ndarray) -> np.ndarray:
    """(identities, attributes): judged probability moved towards the target (the opposite of what
    the judge sees in the unedited model) by an edit of STRENGTH along each direction."""
    p = EvaluateEditsParams(samples_per_model=2, sampler_steps=20, guidance_scale=3.0)
    base = unedited(fleet, rows, p, "sks person")
    columns = fleet.judge_columns(directions.attributes)
    targets = ~base.judged[:, columns]
    steps = w2w_steps(basis, directions, directions.attributes)
    edited = weight_edits(base, steps, np.where(targets, 1.0, -1.0), STRENGTH)
    images = render_models(fleet.pipe, edited, fleet.layout, fleet.scaling, "sks person",
                           p.samples_per_model, p.seed, p.sampler_steps, p.guidance_scale)
    images = images.reshape(len(rows), len(columns), *images.shape[1:])
    return score(fleet, base, columns, images, targets).target_shift


def test_edits_move_the_judged_attribute_towards_the_target(space):
    fleet, basis, directions = space
    held = fleet.rows(True, IDENTITIES)
    edits = shifts(fleet, basis, directions, held)
    rng = np.random.default_rng(0)
    random = rng.standard_normal(directions.directions.shape)
    control = Directions(directions.attributes, random / np.linalg.norm(random, axis=1, keepdims=True),
                         directions.scales)  # same strength unit, no attribute
    chance = shifts(fleet, basis, control, held)
    print(f"mean shift {edits.mean():.3f} (random {chance.mean():.3f}); towards the target "
          f"{(edits > 0).mean():.2f} (random {(chance > 0).mean():.2f})")
    assert (edits > 0).mean() >= 0.7 > (chance > 0).mean()
    assert edits.mean() >= chance.mean() + 0.05


def test_inversion_recovers_coefficients_closer_to_the_identity_than_to_the_mean(space):
    """A train identity's image, inverted in the 8 leading components: the result is nearer that
    identity's coefficients than the mean (the origin), and ranks it far above chance among all."""
    fleet, basis, _ = space
    k, rows = 8, fleet.rows(False, IDENTITIES)
    images = np.asarray(fleet.images.get_orthogonal_selection((rows, 0)))
    rank = fleet.layout.shapes[0][0]
    found = invert_batch(fleet.pipe, basis, fleet.layout, rank, fleet.scaling * rank, images, "sks person",
                         k=k, steps=200, lr=0.1, progress=False)[:, :k]
    row_of = {int(i): j for j, i in enumerate(basis.train_identity_ids)}
    truth = basis.train_coefficients[[row_of[int(i)] for i in fleet.table["identity_id"].iloc[rows]], :k]
    to_own, to_mean = np.linalg.norm(found - truth, axis=1), np.linalg.norm(found, axis=1)
    to_all = np.linalg.norm(found[:, None] - basis.train_coefficients[None, :, :k], axis=2)
    ranks = (to_all < to_own[:, None]).sum(1) + 1  # 1: the nearest train identity is its own
    print(f"own / mean distance {np.round(to_own / to_mean, 2)}; ranks {ranks} of {len(to_all[0])}")
    assert (to_own < to_mean).sum() >= IDENTITIES - 2
    assert np.median(ranks) <= 0.1 * len(basis.train_coefficients)  # chance: half
