"""The science on the small trained space (profiles/small.yaml, committed: tests/spaces.py): edits
move the judged attribute the right way, and inversion recovers the identity. Random directions and
chance ranks are the controls, so each test fails when the space carries nothing."""

import numpy as np
import pytest
from space_science import IDENTITIES, edit_shifts, inversion_recovery, open_space


@pytest.fixture(scope="module")
def space(small_space):
    return open_space(small_space)


def test_edits_move_the_judged_attribute_towards_the_target(space):
    """Each held-out identity is edited along every attribute's direction, towards the opposite of
    what the judge sees in the unedited model; the target shift is how far the judged probability
    moved that way. The control: random unit directions with the same strength unit."""
    shifts = edit_shifts(*space)
    edits, chance = shifts["w2w"], shifts["random"]  # (identities, attributes)
    print(f"mean shift {edits.mean():.3f} (random {chance.mean():.3f}); towards the target "
          f"{(edits > 0).mean():.2f} (random {(chance > 0).mean():.2f})")
    # random directions of the same strength move about 0.7 of the edits towards the target too
    # (0.73 on the committed space, 0.69 on the one before): the control is beaten by a margin, not
    # held under a fixed line that it sits on
    assert (edits > 0).mean() >= 0.7
    assert (edits > 0).mean() >= (chance > 0).mean() + 0.1
    assert edits.mean() >= chance.mean() + 0.05


def test_inversion_recovers_coefficients_closer_to_the_identity_than_to_the_mean(space):
    """A train identity's image, inverted in the 8 leading components: the result is nearer that
    identity's coefficients than the mean (the origin), and ranks it far above chance among all."""
    fleet, basis, _ = space
    ratio, ranks = inversion_recovery(fleet, basis)
    print(f"own / mean distance {np.round(ratio, 2)}; ranks {ranks} of {len(basis.train_coefficients)}")
    n = len(basis.train_coefficients)
    assert (ratio < 1).sum() > IDENTITIES / 2
    # chance: ranks uniform on 1..n, mean (n + 1) / 2; ask for 3 standard errors below it
    standard_error = np.sqrt((n * n - 1) / 12 / len(ranks))
    assert ranks.mean() <= (n + 1) / 2 - 3 * standard_error, (ranks.mean(), standard_error)
