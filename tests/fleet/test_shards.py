"""Shards and weights.zarr: round trip, plain-zarr readability, and every bad input named."""

from pathlib import Path

import numpy as np
import pytest
import torch
import zarr

from w2w.adapters.layout import AdapterLayout
from w2w.fleet.shards import ShardError, read_shard, stack_shards, write_shard

LAYOUT = AdapterLayout(("l.lora_A.weight", "l.lora_B.weight"), ((1, 3), (2, 1)))


def stacked(k: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"l.lora_A.weight": torch.randn(k, 1, 3, generator=g),
            "l.lora_B.weight": torch.randn(k, 2, 1, generator=g)}


def two_shards(folder: Path) -> tuple[list[Path], np.ndarray]:
    paths = [folder / "shard-0000.safetensors", folder / "shard-0001.safetensors"]
    write_shard(paths[0], [10, 11], stacked(2, 0), LAYOUT)
    write_shard(paths[1], [12], stacked(1, 1), LAYOUT)
    return paths, np.array([10, 11, 12])


def test_stack_is_readable_by_plain_zarr_and_deterministic(tmp_path):
    paths, ids = two_shards(tmp_path)
    split = np.array(["train", "train", "heldout"])
    stack_shards(paths, ids, split, LAYOUT, {"r": 1}, tmp_path / "a.zarr", block=2)
    stack_shards(paths[::-1], ids, split, LAYOUT, {"r": 1}, tmp_path / "b.zarr", block=2)
    plain = zarr.open_array(tmp_path / "a.zarr" / "weights", mode="r")
    assert plain.shape == (3, LAYOUT.dim) and plain.dtype == np.float32
    assert plain.attrs["layout"]["keys"] == list(LAYOUT.keys) and plain.attrs["lora_config"] == {"r": 1}
    first = LAYOUT.flatten(stacked(2, 0), stacked=True)
    assert np.array_equal(plain[:2], first)
    group = zarr.open_group(tmp_path / "a.zarr", mode="r")
    assert list(group["identity_ids"][:]) == [10, 11, 12]
    assert list(group["heldout"][:]) == [False, False, True]
    a, b = tmp_path / "a.zarr", tmp_path / "b.zarr"
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and all((a / rel).read_bytes() == (b / rel).read_bytes() for rel in files)


def test_nan_rows_are_refused_naming_identities(tmp_path):
    weights = stacked(2, 0)
    weights["l.lora_B.weight"][1, 0, 0] = float("nan")
    write_shard(tmp_path / "s.safetensors", [7, 8], weights, LAYOUT)
    with pytest.raises(ShardError, match=r"identities \[8\]"):
        stack_shards([tmp_path / "s.safetensors"], np.array([7, 8]), np.array(["train"] * 2), LAYOUT,
                     {}, tmp_path / "w.zarr", block=2)
    assert not (tmp_path / "w.zarr").exists()


def test_corrupt_truncated_and_wrong_layout_shards_are_named(tmp_path):
    paths, _ = two_shards(tmp_path)
    data = paths[0].read_bytes()
    paths[0].write_bytes(data[: len(data) // 2])
    with pytest.raises(ShardError, match="shard-0000.safetensors: unreadable"):
        read_shard(paths[0], LAYOUT)
    other = AdapterLayout(("l.lora_A.weight", "l.lora_B.weight"), ((1, 4), (2, 1)))
    with pytest.raises(ShardError, match="shard-0001.safetensors: .*shape"):
        read_shard(paths[1], other)
    with pytest.raises(ShardError, match="shard-0001.safetensors: key m.lora_A.weight is missing"):
        read_shard(paths[1], AdapterLayout(("m.lora_A.weight",), ((1, 3),)))


def test_missing_identities_are_named(tmp_path):
    paths, _ = two_shards(tmp_path)
    with pytest.raises(ShardError, match=r"no shard holds identities \[13\]"):
        stack_shards(paths, np.array([10, 11, 12, 13]), np.array(["train"] * 4), LAYOUT, {},
                     tmp_path / "w.zarr", block=2)
