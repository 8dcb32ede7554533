"""A micro weight space: the tiny pipeline's fleet on the micro world, stacked, with basis and directions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from w2w.base.build import import_pretrained
from w2w.fleet.layout import AdapterLayout
from w2w.fleet.run import lora_config_dict, run_finetune
from w2w.fleet.shards import read_shard_layout, stack_shards
from w2w.params import BaseParams, DirectionsParams, FinetuneParams, PcaParams

FLEET = FinetuneParams(steps=20, lr=1e-2, lora_alpha=27.0, identities_per_shard=12)


@pytest.fixture(scope="session")
def micro_space(micro_world, tiny_pipeline, tmp_path_factory) -> Path:
    """A folder with base/, weights.zarr, basis/, directions/ (the stage layout, micro scale)."""
    import zarr

    from w2w.space.pca import fit_basis
    from w2w.space.study import attribute_study

    root = tmp_path_factory.mktemp("space")
    import_pretrained(micro_world, BaseParams(source="pretrained", pretrained=str(tiny_pipeline[1])),
                      root / "base")
    run_finetune(root / "base", micro_world, root / "fleet", FLEET, "cfg")
    table = pd.read_parquet(micro_world / "identities.parquet")
    shards = sorted((root / "fleet").glob("shard-*.safetensors"))
    layout = AdapterLayout.from_json(read_shard_layout(shards[0]))
    stack_shards(shards, table["identity_id"].to_numpy(), table["split"].to_numpy(), layout,
                 lora_config_dict(FLEET), root / "weights.zarr", block=12)
    group = zarr.open_group(root / "weights.zarr", mode="r")
    train = np.flatnonzero(~np.asarray(group["heldout"][:]))
    basis = fit_basis(group["weights"], train, np.asarray(group["identity_ids"][:]), PcaParams(components=8))
    basis.save(root / "basis")
    directions, _ = attribute_study(micro_world, root / "base", root / "weights.zarr", basis,
                                    DirectionsParams())
    directions.save(root / "directions", {})
    return root
