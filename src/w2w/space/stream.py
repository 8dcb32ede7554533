"""Row blocks of a Zarr (N, D) float32 array, read ahead in a thread into two reused buffers.

Out-of-core PCA multiplies each block while the next one is read. Reading into the same two
buffers every time (not a fresh array per block) is what keeps a pass from page-faulting its way
through hundreds of megabytes per block; the reader's times are kept so that a pass can say where
its wall time went (`ReadTimes`).
"""

from __future__ import annotations

import mmap
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import zarr
from zarr.core.buffer import default_buffer_prototype

from w2w.space.shardfile import ShardFiles, larger_than_memory, raw_layout

Prepare = Callable[[np.ndarray], None]  # works on a block in place, in the reader thread


@dataclass
class ReadTimes:
    """Seconds spent by the reader (its own thread) and by the consumer waiting for it."""

    read_s: float = 0.0      # reader wall time reading: disk, decode and copy
    read_cpu_s: float = 0.0  # of which the reader thread was on a CPU (decode and copy, not disk);
    #                          through zarr its event loop's threads do that work, and this is ~0
    prepare_s: float = 0.0   # the per-block preparation (e.g. centring), in the reader thread
    wait_s: float = 0.0      # the consumer blocked on the next block: reading not hidden
    bytes_read: int = 0

    def add(self, other: ReadTimes) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def block_ranges(rows: np.ndarray, block: int) -> list[tuple[int, int, np.ndarray]]:
    """Array row ranges [lo, hi) of at most `block` rows covering the sorted `rows`, each with the
    positions of its selected rows inside it (empty ranges skipped)."""
    out = []
    for lo in range(int(rows[0]) // block * block, int(rows[-1]) + 1, block):
        hi = lo + block
        inside = rows[np.searchsorted(rows, lo):np.searchsorted(rows, hi)]
        if len(inside):
            out.append((lo, min(hi, int(rows[-1]) + 1), inside - lo))
    return out


def page_aligned(shape: tuple[int, int]) -> np.ndarray:
    """An empty float32 array whose rows start where the OS pages do (O_DIRECT reads into it)."""
    count = shape[0] * shape[1]
    return np.frombuffer(mmap.mmap(-1, max(4 * count, 1)), np.float32, count=count).reshape(shape)


def _compact(buffer: np.ndarray, local: np.ndarray) -> int:
    """Move the selected rows of the filled buffer to its top, in order; returns their count."""
    for j, i in enumerate(local):
        if i != j:
            buffer[j] = buffer[i]
    return len(local)


class RowBlocks:
    """Iterates (start, block) over the `rows` (sorted) of `array`, in order: block (b, D) float32
    holds selected rows start .. start + b - 1 (positions in `rows`), and is only valid until the
    next block is asked for. Each pass starts a reader thread that stays one block ahead."""

    def __init__(self, array: zarr.Array, rows: np.ndarray, block: int):
        self.array, self.rows = array, np.asarray(rows)
        self.ranges = block_ranges(self.rows, block)
        width = max(hi - lo for lo, hi, _ in self.ranges)
        self.buffers = [page_aligned((width, array.shape[1])) for _ in range(2)]
        self.times = ReadTimes()
        self.layout = raw_layout(array)  # None: read through zarr
        self.direct = self.layout is not None and larger_than_memory(self.layout)

    def _fill(self, files: ShardFiles | None, index: int, lo: int, hi: int, local: np.ndarray,
              prepare: Prepare | None, times: ReadTimes) -> int:
        buffer = self.buffers[index][: hi - lo]
        wall, cpu = time.perf_counter(), time.thread_time()
        if files is not None:
            files.read(lo, hi, buffer)
        else:
            self.array.get_basic_selection(slice(lo, hi), out=default_buffer_prototype().nd_buffer
                                           .from_numpy_array(buffer))
        times.read_s += time.perf_counter() - wall
        times.read_cpu_s += time.thread_time() - cpu
        times.bytes_read += buffer.nbytes
        n = len(local) if len(local) == hi - lo else _compact(buffer, local)
        if prepare is not None:
            start = time.perf_counter()
            prepare(buffer[:n])
            times.prepare_s += time.perf_counter() - start
        return n

    def _read_ahead(self, free: queue.Queue, full: queue.Queue, prepare: Prepare | None,
                    times: ReadTimes, stop: threading.Event) -> None:
        files = ShardFiles(self.layout, self.direct) if self.layout is not None else None
        try:
            for lo, hi, local in self.ranges:
                index = free.get()
                if stop.is_set():
                    return
                full.put((index, self._fill(files, index, lo, hi, local, prepare, times)))
            full.put(None)
        except BaseException as error:  # handed to the consumer, which raises it
            full.put(error)
        finally:
            if files is not None:
                files.close()

    def __call__(self, prepare: Prepare | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """One pass. `prepare` runs on each block in the reader thread before it is handed over."""
        free, full, stop, times = queue.Queue(), queue.Queue(), threading.Event(), ReadTimes()
        for index in range(len(self.buffers)):
            free.put(index)
        reader = threading.Thread(target=self._read_ahead, args=(free, full, prepare, times, stop),
                                  daemon=True, name="w2w-row-blocks")
        reader.start()
        start = 0
        try:
            while True:
                wait = time.perf_counter()
                item = full.get()
                times.wait_s += time.perf_counter() - wait
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                index, n = item
                yield start, self.buffers[index][:n]
                start += n
                free.put(index)
        finally:
            stop.set()
            free.put(0)  # wakes a reader waiting for a buffer, which then sees `stop`
            reader.join()
            self.times.add(times)
