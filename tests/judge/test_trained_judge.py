"""The small trained space's judge (profiles/small.yaml, committed: tests/spaces.py) reads what the
evaluations ask of it: its style head tells its world's held-out renders from their paintings."""

import numpy as np
import pandas as pd
import zarr

from w2w.judge.api import Judge


def test_the_small_spaces_style_head_tells_renders_from_paintings(small_space):
    judge = Judge.load(small_space / "judge")
    table = pd.read_parquet(small_space / "world" / "identities.parquet")
    group = zarr.open_group(small_space / "world" / "images.zarr", mode="r")
    heldout = (table["split"] == "heldout").to_numpy()
    renders = np.asarray(group["images"][:])[heldout].reshape(-1, *group["images"].shape[2:])
    paintings = np.asarray(group["ood"][:]).reshape(-1, *group["ood"].shape[2:])  # the same identities
    realistic = judge.realistic_probability(renders) > 0.5
    painted = judge.realistic_probability(paintings) < 0.5
    balanced = (realistic.mean() + painted.mean()) / 2
    print(f"renders called renders {realistic.mean():.3f}, paintings called paintings {painted.mean():.3f}")
    assert balanced > 0.9, balanced  # chance 0.5; the small space's first style head scored 0.58
