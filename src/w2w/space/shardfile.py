"""Row ranges of an uncompressed, sharded Zarr v3 array, read straight into the caller's buffer.

This is the weights store's layout (`w2w.adapters.stacked.create_weights_array`): shards of whole
rows, inner chunks of whole rows stored raw (little-endian float32), the shard index (offset,
nbytes per chunk, then a CRC32C) at the end of each shard file. For that layout one `preadv` per
chunk fills the buffer in place, and for data larger than memory the read is O_DIRECT: the disk
writes straight into the buffer, with no page-cache copy for the CPUs to make while they multiply.
Through zarr, the same pass allocated fresh bytes per chunk and copied them twice: at the
reference's shape it streamed at about 360 MB/s with 2.3 s of kernel time per GB, against the
disk's 1 GB/s. Any other layout returns None from `raw_layout` and is read through zarr.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import google_crc32c
import numpy as np
import zarr
from zarr.codecs import BytesCodec, Crc32cCodec, ShardingCodec
from zarr.codecs.sharding import ShardingCodecIndexLocation
from zarr.storage import LocalStore

from w2w.errors import InputError

MISSING = np.uint64(2**64 - 1)  # an index entry of a chunk never written: it holds the fill value
ALIGN = 4096  # O_DIRECT: file offset, length and memory address all multiples of this


@dataclass(frozen=True)
class RawLayout:
    folder: Path        # the array's folder: shard s of row blocks is folder / key(s)
    rows: int           # N
    cols: int           # D
    shard_rows: int
    chunk_rows: int
    fill: float
    keys: tuple[str, ...]  # one per shard, e.g. "c/3/0"

    @property
    def chunks_per_shard(self) -> int:
        return self.shard_rows // self.chunk_rows

    @property
    def index_bytes(self) -> int:
        return self.chunks_per_shard * 16 + 4  # (offset, nbytes) uint64 per chunk, then CRC32C


def raw_layout(array: zarr.Array) -> RawLayout | None:
    """The numbers of `array`'s layout when it is the weights store's, stored on a local disk."""
    m, little = array.metadata, BytesCodec(endian="little")
    if (m.zarr_format != 3 or not isinstance(array.store, LocalStore) or len(array.shape) != 2
            or np.dtype(array.dtype) != np.dtype("<f4") or len(m.codecs) != 1):
        return None
    sharding = m.codecs[0]
    rows, cols = array.shape
    if (not isinstance(sharding, ShardingCodec) or tuple(sharding.codecs) != (little,)
            or tuple(sharding.index_codecs) != (little, Crc32cCodec())
            or sharding.index_location != ShardingCodecIndexLocation.end
            or sharding.chunk_shape[1] != cols or array.shards != (array.shards[0], cols)):
        return None
    shards = -(-rows // array.shards[0])
    return RawLayout(Path(array.store.root) / array.path, rows, cols, array.shards[0],
                     sharding.chunk_shape[0], float(m.fill_value),
                     tuple(m.encode_chunk_key((s, 0)) for s in range(shards)))


class ShardFiles:
    """Open shard files of one pass; `read` fills a buffer with rows [lo, hi). With `direct` (for
    data larger than memory), aligned pieces are read with O_DIRECT and the rest through the page
    cache, whose pages are then dropped at once: the kernel never has to reclaim the pages of the
    pass before. Without it, repeated passes over data that fits in memory come from the cache."""

    def __init__(self, layout: RawLayout, direct: bool):
        self.layout, self.direct = layout, direct
        self._open: dict[int, tuple[int, np.ndarray] | None] = {}
        self._direct_fd: dict[int, int | None] = {}

    def _shard(self, s: int) -> tuple[int, np.ndarray] | None:
        """(fd, index (chunks, 2) uint64), or None for a shard never written."""
        if s not in self._open:
            path = self.layout.folder / self.layout.keys[s]
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                self._open[s] = None
                return None
            size, n = os.fstat(fd).st_size, self.layout.index_bytes
            raw = os.pread(fd, n, size - n) if size >= n else b""
            if len(raw) != n or google_crc32c.value(raw[:-4]) != int.from_bytes(raw[-4:], "little"):
                os.close(fd)
                raise InputError(f"{path}: damaged shard index (checksum); rebuild the store")
            self._open[s] = (fd, np.frombuffer(raw[:-4], "<u8").reshape(-1, 2))
        return self._open[s]

    def read(self, lo: int, hi: int, out: np.ndarray) -> None:
        """out (hi - lo, D) float32, C-contiguous <- rows lo .. hi - 1."""
        lay = self.layout
        row_bytes = lay.cols * 4
        for row0 in range(lo // lay.chunk_rows * lay.chunk_rows, hi, lay.chunk_rows):
            s, c = divmod(row0 // lay.chunk_rows, lay.chunks_per_shard)
            a, b = max(lo, row0), min(hi, row0 + lay.chunk_rows)
            dest = out[a - lo:b - lo]
            shard = self._shard(s)
            if shard is None or shard[1][c, 0] == MISSING:
                dest.fill(lay.fill)
                continue
            fd, index = shard
            if int(index[c, 1]) != lay.chunk_rows * row_bytes:
                raise InputError(f"{lay.folder / lay.keys[s]}: chunk {c} holds {int(index[c, 1])} bytes, "
                                 f"not {lay.chunk_rows * row_bytes}; rebuild the store")
            offset, length = int(index[c, 0]) + (a - row0) * row_bytes, (b - a) * row_bytes
            direct = self._direct(s) if self.direct else None
            if direct is not None and offset % ALIGN == length % ALIGN == dest.ctypes.data % ALIGN == 0:
                self._read_exactly(direct, memoryview(dest).cast("B"), offset, s)
                continue
            self._read_exactly(fd, memoryview(dest).cast("B"), offset, s)
            if self.direct:
                os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)

    def _direct(self, s: int) -> int | None:
        """Shard s opened with O_DIRECT, or None where the file system refuses it (e.g. tmpfs)."""
        if s not in self._direct_fd:
            try:
                self._direct_fd[s] = os.open(self.layout.folder / self.layout.keys[s],
                                             os.O_RDONLY | getattr(os, "O_DIRECT", 0))
            except OSError:
                self._direct_fd[s] = None
        return self._direct_fd[s]

    def _read_exactly(self, fd: int, view: memoryview, offset: int, s: int) -> None:
        done = 0
        while done < len(view):
            n = os.preadv(fd, [view[done:]], offset + done)
            if n == 0:
                raise InputError(f"{self.layout.folder / self.layout.keys[s]}: shard ends early; "
                                 "rebuild the store")
            done += n

    def close(self) -> None:
        for fd in [*(shard[0] for shard in self._open.values() if shard), *self._direct_fd.values()]:
            if fd is not None:
                os.close(fd)
        self._open.clear()
        self._direct_fd.clear()


def larger_than_memory(layout: RawLayout) -> bool:
    """Whether a pass cannot stay in the page cache (half the machine's memory, for the rest)."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return layout.rows * layout.cols * 4 > memory / 2
