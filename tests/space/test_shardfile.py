"""Reading the weights store's shards straight into a buffer gives what zarr reads, or refuses."""

import numpy as np
import pytest
import zarr

from w2w.adapters.stacked import create_weights_array
from w2w.errors import InputError
from w2w.space.shardfile import ShardFiles, raw_layout
from w2w.space.stream import RowBlocks, page_aligned
from w2w.storage import COMPRESSORS


def weights_store(folder, rows: int = 140, cols: int = 12, block: int = 8, **kwargs
                  ) -> tuple[zarr.Array, np.ndarray]:
    x = np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32)
    x[8:16] = 0       # a chunk equal to the fill value: zarr does not write it
    x[64:128] = 0     # a whole shard of them: no shard file at all
    array = create_weights_array(zarr.open_group(folder, mode="w", zarr_format=3), x.shape, block, **kwargs)
    array[:] = x
    return array, x


@pytest.mark.parametrize("direct", [False, True])
@pytest.mark.parametrize(("lo", "hi"), [(0, 140), (3, 29), (60, 135), (136, 140), (70, 90)])
def test_any_row_range_reads_as_zarr_reads_it(lo, hi, direct, tmp_path):
    array, x = weights_store(tmp_path / "w.zarr")
    layout = raw_layout(array)
    assert layout is not None and layout.chunk_rows == 8 and layout.shard_rows == 64
    assert not (tmp_path / "w.zarr" / "weights" / layout.keys[1]).exists()
    out = page_aligned((hi - lo, 12))
    out.fill(np.nan)
    files = ShardFiles(layout, direct)
    files.read(lo, hi, out)
    files.close()
    assert np.array_equal(out, x[lo:hi]) and np.array_equal(out, array[lo:hi])


def test_other_layouts_are_left_to_zarr(tmp_path):
    compressed, x = weights_store(tmp_path / "z.zarr", compressors=COMPRESSORS)
    assert raw_layout(compressed) is None
    blocks = RowBlocks(compressed, np.arange(140), block=32)
    assert blocks.layout is None
    assert np.array_equal(np.concatenate([b.copy() for _, b in blocks()]), x)
    plain = zarr.open_group(tmp_path / "p.zarr", mode="w", zarr_format=3).create_array(
        "weights", data=x, chunks=(8, 12), compressors=None)  # unsharded
    assert raw_layout(plain) is None


def test_a_damaged_shard_index_is_refused_naming_the_file(tmp_path):
    array, _ = weights_store(tmp_path / "w.zarr")
    layout = raw_layout(array)
    shard = tmp_path / "w.zarr" / "weights" / layout.keys[0]
    data = bytearray(shard.read_bytes())
    data[-10] ^= 0xFF  # inside the index, under its checksum
    shard.write_bytes(bytes(data))
    files = ShardFiles(layout, direct=False)
    with pytest.raises(InputError, match=r"c/0/0: damaged shard index"):
        files.read(0, 8, np.empty((8, 12), np.float32))
    files.close()
    shard.write_bytes(bytes(data[:40]))  # truncated below its index
    with pytest.raises(InputError, match="damaged shard index"):
        ShardFiles(layout, direct=False).read(0, 8, np.empty((8, 12), np.float32))
