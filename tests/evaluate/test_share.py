"""The identity share's estimator recovers a known share and is not fooled by a shared offset."""

import numpy as np
import pytest

from w2w.evaluate.share import adapter_cosines


def simulated(share: float, m: int = 24, d: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two adapters per identity: sqrt(share) of the person's vector, the rest fresh noise, all on a
    common offset and with parameters of very different scales, as real adapters have."""
    rng = np.random.default_rng(seed)
    person = rng.standard_normal((m, d))
    offset, scale = rng.standard_normal(d) * 5, np.exp(rng.uniform(-3, 3, d))

    def adapter() -> np.ndarray:
        return offset + scale * (np.sqrt(share) * person + np.sqrt(1 - share) * rng.standard_normal((m, d)))
    return adapter(), adapter()


@pytest.mark.parametrize("share", [0.0, 0.25, 0.6])
def test_known_share_is_recovered(share):
    same, others = adapter_cosines(*simulated(share))
    assert same.shape == others.shape == (24,)
    assert abs(same.mean() - share) < 0.05, same.mean()
    assert abs(others.mean()) < 0.05, others.mean()


def test_unscaled_share_is_dominated_by_large_parameters():
    a, b = simulated(0.6)
    a[:, 0] += np.random.default_rng(1).standard_normal(24) * 1e6  # one huge, pure-noise parameter
    assert adapter_cosines(a, b, scaled=False)[0].mean() < 0.1
    assert adapter_cosines(a, b)[0].mean() > 0.5  # standardised: one parameter of 4000


def test_needs_three_identities():
    a, b = simulated(0.5, m=2)
    with pytest.raises(ValueError, match="at least 3"):
        adapter_cosines(a, b)
