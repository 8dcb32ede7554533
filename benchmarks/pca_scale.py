"""Out-of-core PCA at the reference's full shape: 64,974 x 99,648 float32 (25.9 GB) with k = 1000.

The matrix is written to Zarr in row blocks and never held whole. Its standardised spectrum is known
by construction: X = U S V^T with U, V made of paired cosine/sine columns of distinct non-zero
frequencies (exactly orthonormal, U's columns have zero mean) and equal singular values per pair, so
every column of X has mean 0 and the same variance c^2; each column is then scaled and shifted at
random. Standardising undoes the scale and shift exactly, leaving X / c, whose singular values are
S / c. The spectrum is low rank plus noise: k signal values (1000 down to 10), then a tail of
rank - k noise values (1 down to 0.1) that the randomized SVD must separate from the top k.

    python benchmarks/pca_scale.py                       # the full run (about 30 min on 2 cores)
    python benchmarks/pca_scale.py --rows 4000 --cols 3000 --k 50 --rank 80 --out /tmp/small.json

Writes benchmarks/results/pca_scale.json: rows, cols, k, peak_rss_gb, wall_s, blas_floor_s,
floor_ratio, spectrum_rel_err (and the parts of the timing).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import zarr

from w2w.atomic import write_json
from w2w.params import load_params, override
from w2w.space.pca import fit_basis

RESULT = Path("benchmarks/results/pca_scale.json")


def designed_spectrum(rank: int, k: int) -> np.ndarray:
    """Low rank plus noise, in pairs of equal values: k signal values decaying from 1000 to 10, then
    a noise tail of rank - k values from 1 down to 0.1."""
    signal = np.geomspace(1000.0, 10.0, k // 2)
    noise = np.geomspace(1.0, 0.1, (rank - k) // 2)
    return np.repeat(np.concatenate([signal, noise]), 2)


def fourier_columns(index: np.ndarray, size: int, pairs: int) -> np.ndarray:
    """(len(index), 2*pairs) orthonormal cos/sin columns over `size` points, frequencies 1..pairs."""
    freq = np.arange(1, pairs + 1)
    angle = 2 * np.pi * np.outer(index, freq) / size
    out = np.empty((len(index), 2 * pairs))
    out[:, 0::2], out[:, 1::2] = np.cos(angle), np.sin(angle)
    return out * np.sqrt(2.0 / size)


def write_matrix(path: Path, rows: int, cols: int, rank: int, k: int, block: int, seed: int) -> np.ndarray:
    """Write the designed matrix to Zarr; returns the known standardised singular values."""
    s = designed_spectrum(rank, k)
    vt = (fourier_columns(np.arange(cols), cols, len(s) // 2) * s).T.astype(np.float32)  # (R, cols): S V^T
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 2.0, cols).astype(np.float32)
    shift = rng.standard_normal(cols).astype(np.float32)
    group = zarr.open_group(path, mode="w", zarr_format=3)
    array = group.create_array("weights", shape=(rows, cols), dtype="float32", chunks=(block, cols),
                               compressors=None)
    for start in range(0, rows, block):
        u = fourier_columns(np.arange(start, min(start + block, rows)), rows, len(s) // 2).astype(np.float32)
        array[start:start + len(u)] = (u @ vt) * scale + shift
    c = np.sqrt((s ** 2).sum() / (rows * cols))  # the common column std of U S V^T
    return s / c


def sgemm_rate(n: int = 4096) -> float:
    """Measured float32 matmul FLOP/s on this machine, with the current BLAS threads."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    a @ a
    start = time.perf_counter()
    for _ in range(3):
        a @ a
    return 3 * 2 * n ** 3 / (time.perf_counter() - start)


class PeakRss:
    """Peak resident memory of this process and its threads, sampled (ru_maxrss is a lifetime peak)."""

    def __init__(self):
        self.peak, self._stop = 0, threading.Event()

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    def __enter__(self):
        def watch():
            while not self._stop.wait(0.2):
                self.peak = max(self.peak, self._rss())
        self._thread = threading.Thread(target=watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=64_974)
    parser.add_argument("--cols", type=int, default=99_648)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--rank", type=int, default=1600, help="designed rank (> k: the tail)")
    parser.add_argument("--block-rows", type=int, default=1024)
    parser.add_argument("--power-iterations", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None, help="where the Zarr goes (needs the space)")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pca_scale.", dir=args.workdir))
    try:
        start = time.perf_counter()
        known = write_matrix(work / "w.zarr", args.rows, args.cols, args.rank, args.k, args.block_rows, 0)
        write_s = time.perf_counter() - start
        rate = sgemm_rate()
        p = override(load_params().pca, components=args.k, method="out_of_core",
                     power_iterations=args.power_iterations, block_rows=args.block_rows)
        array = zarr.open_group(work / "w.zarr", mode="r")["weights"]
        rows = np.arange(args.rows)
        with PeakRss() as rss:
            start = time.perf_counter()
            basis = fit_basis(array, rows, rows, p)
            wall = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    oversample = 10  # dask's svd_compressed default
    width = args.k + oversample
    # matmuls: A @ Omega, 2 per power iteration, Q^T A; each 2 m n width FLOPs
    flops = (2 + 2 * args.power_iterations) * 2 * args.rows * args.cols * width
    floor = flops / rate
    rel = np.abs(basis.singular_values - known[:args.k]) / known[:args.k]
    result = {"rows": args.rows, "cols": args.cols, "k": args.k, "designed_rank": args.rank,
              "power_iterations": args.power_iterations, "block_rows": args.block_rows,
              "peak_rss_gb": rss.peak / 2**30, "wall_s": wall, "blas_floor_s": floor,
              "floor_ratio": wall / floor, "sgemm_gflops": rate / 1e9, "flops": flops,
              "spectrum_rel_err": float(rel.max()), "write_s": write_s,
              "command": " ".join(["python", *sys.argv])}
    write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
