"""Which training augmentation makes the judge robust to the base's VAE? (issue 16, item 1)

    python studies/judge_augmentation.py [--space SPACE] [VARIANT ...]   # SPACE holds world/ and base/
                                # (default: data); default: every variant but the "both, N epochs" ones

Train identities only: a seeded fifth of them is set aside as a validation split. One judge per
variant is trained on the rest (params.yaml's judge section, with only the augmentation changed;
the trait regressor is left out) and measured on the validation identities' world renders:
verification AUC for clean pairs and for VAE round trips against clean renders, the drop of the
same-identity cosine under the round trip, and attribute accuracy.
Goals: both AUCs >= 0.98 and a drop <= 0.05. Prints one JSON line per variant.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import zarr
from variants import parse_variants  # studies/: the script's folder is first on sys.path

from w2w.base.latents import round_trip
from w2w.base.pipeline import load_vae
from w2w.judge.api import Judge
from w2w.judge.measure import evaluate_judge
from w2w.judge.train import TrainingSet, render_training_set, train_judge, with_round_trips
from w2w.params import load_params
from w2w.world.identity import ATTRIBUTES

NONE = {"vae_round_trip": 0.0, "augment_blur": 0.0, "augment_jitter": 0.0, "augment_noise": 0.0}
VARIANTS = {
    "none": NONE,
    "pixel (blur, jitter, noise)": {**NONE, "augment_blur": 1.0, "augment_jitter": 0.1,
                                    "augment_noise": 0.05},
    "vae round trips": {**NONE, "vae_round_trip": 0.5},
    "both": {"vae_round_trip": 0.5, "augment_blur": 1.0, "augment_jitter": 0.1, "augment_noise": 0.05},
}
BOTH = VARIANTS["both"]
EPOCHS = {f"both, {n} epochs": BOTH | {"epochs": n} for n in (6, 8)}  # for the budget: a shorter training
ALL = VARIANTS | EPOCHS


def validation_split(table: pd.DataFrame) -> pd.DataFrame:
    """The table with a seeded fifth of the train identities relabelled "validation"."""
    train = np.flatnonzero(table["split"].to_numpy() == "train")
    chosen = np.random.default_rng(0).permutation(train)[: len(train) // 5]
    table = table.copy()
    table.loc[table.index[chosen], "split"] = "validation"
    return table


def measure(space: Path, name: str, overrides: dict, table: pd.DataFrame, data: TrainingSet, vae) -> dict:
    p = load_params(Path("params.yaml")).judge.model_copy(update=overrides)
    group = zarr.open_group(space / "world" / "images.zarr", mode="r")
    net = train_judge(data, p)
    judge = Judge(net, {"attributes": list(ATTRIBUTES), "width": p.width,
                        "embedding_dim": p.embedding_dim, "image_size": int(group.attrs["image_size"])})
    val = np.flatnonzero((table["split"] == "validation").to_numpy())
    m = evaluate_judge(judge, np.asarray(group["images"].get_orthogonal_selection((val, slice(None)))),
                       table.iloc[val].reset_index(drop=True), round_trip=vae)
    r = m["robustness"]
    return {"variant": name, "clean_auc": r["clean"]["auc"], "vae_auc": r["vae_round_trip"]["auc"],
            "clean_same_cosine": r["clean"]["same_identity_cosine"],
            "vae_same_cosine": r["vae_round_trip"]["same_identity_cosine"],
            "cosine_drop": r["same_identity_cosine_drop"], "identity_auc": m["identity_auc"],
            "attribute_accuracy_mean": m["attribute_accuracy_mean"]}


def main(argv: list[str]) -> None:
    # the shared command line; its --identities goes unused: the validation fifth is fixed
    args = parse_variants(argv, __doc__, ALL, 0, default=list(VARIANTS), space="data")
    space = Path(args.space)
    if not (space / "world").is_dir():
        sys.exit(f"judge_augmentation: --space {space} holds no world/ (run `dvc repro base` there)")
    params = load_params(Path("params.yaml")).judge
    size = int(zarr.open_group(space / "world" / "images.zarr", mode="r").attrs["image_size"])
    vae = partial(round_trip, load_vae(space / "base" / "model"))
    table = validation_split(pd.read_parquet(space / "world" / "identities.parquet"))
    data = with_round_trips(render_training_set(table, params, size), vae)  # train identities only
    for name in args.variants:  # one JSON line per variant, as each finishes
        print(json.dumps(measure(space, name, ALL[name], table, data, vae)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
