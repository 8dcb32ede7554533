"""Out-of-core PCA at the reference's full shape: 64,974 x 99,648 float32 (25.9 GB) with k = 1000.

The matrix is written in the stack stage's format (`w2w.adapters.stacked.create_weights_array`)
and never held whole. Its standardised spectrum is known
by construction: X = U S V^T with U, V made of paired cosine/sine columns of distinct non-zero
frequencies (exactly orthonormal, U's columns have zero mean) and equal singular values per pair, so
every column of X has mean 0 and the same variance c^2; each column is then scaled and shifted at
random. Standardising undoes the scale and shift exactly, leaving X / c, whose singular values are
S / c. The spectrum is low rank plus noise: k signal values (1000 down to 10), then a tail of
rank - k noise values (1 down to 0.1) that the randomized SVD must separate from the top k.

    python benchmarks/pca_scale.py --workdir /work       # the full run (about 12 min on 2 cores)
    python benchmarks/pca_scale.py --rows 4000 --cols 3000 --k 50 --rank 80 --out /tmp/small.json

Writes benchmarks/results/pca_scale.json: rows, cols, k, peak_rss_gb, wall_s, the two floors (BLAS:
the big products' FLOPs at the best sgemm rate measured, numpy's or torch's; disk: every pass's
bytes at the disk's measured read rate), floor_ratio against the larger, spectrum_rel_err, and
where the fit's time went (`profile`).
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import zarr

from w2w.adapters.stacked import create_weights_array
from w2w.atomic import write_json
from w2w.params import load_params, override
from w2w.space.outofcore import Profile, fit_out_of_core
from w2w.storage import COMPRESSORS

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


def write_matrix(path: Path, rows: int, cols: int, rank: int, k: int, block: int, seed: int,
                 compressors=None, chunk_rows: int = 64) -> np.ndarray:
    """Write the designed matrix as a weights store (`chunk_rows` rows a chunk, with the stage's
    codec unless `compressors` is given); returns the known standardised singular values."""
    s = designed_spectrum(rank, k)
    vt = (fourier_columns(np.arange(cols), cols, len(s) // 2) * s).T.astype(np.float32)  # (R, cols): S V^T
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 2.0, cols).astype(np.float32)
    shift = rng.standard_normal(cols).astype(np.float32)
    group = zarr.open_group(path, mode="w", zarr_format=3)
    array = (create_weights_array(group, (rows, cols), chunk_rows) if compressors is None else
             create_weights_array(group, (rows, cols), chunk_rows, compressors=compressors))
    for start in range(0, rows, block):
        u = fourier_columns(np.arange(start, min(start + block, rows)), rows, len(s) // 2).astype(np.float32)
        array[start:start + len(u)] = (u @ vt) * scale + shift
    c = np.sqrt((s ** 2).sum() / (rows * cols))  # the common column std of U S V^T
    return s / c


def sgemm_rates(n: int = 4096) -> dict[str, float]:
    """Measured float32 matmul FLOP/s of numpy's BLAS and of torch's, with their current threads."""
    import torch

    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    rates = {}
    for name, x in (("numpy", a), ("torch", torch.from_numpy(a))):
        x @ x
        start = time.perf_counter()
        for _ in range(3):
            x @ x
        rates[name] = 3 * 2 * n ** 3 / (time.perf_counter() - start)
    return rates


def disk_read_rate(folder: Path, limit: int = 8 << 30) -> float:
    """Bytes/s reading up to `limit` bytes of the files under `folder` from the disk, as the fit
    reads them: large reads with the file's cached pages dropped first (after a sync, so that the
    writing of the matrix is over), in 64 MiB requests."""
    os.sync()
    buffer = memoryview(mmap.mmap(-1, 64 << 20))
    done, start = 0, time.perf_counter()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            offset = 0
            while done < limit and (n := os.preadv(fd, [buffer], offset)) > 0:
                done, offset = done + n, offset + n
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        if done >= limit:
            break
    return done / (time.perf_counter() - start)


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
        self.peak = self._rss()  # a fit shorter than one sampling period still has a figure
        self._thread = threading.Thread(target=watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def profile_figures(profile: Profile) -> dict[str, float]:
    """The fit's wall time split into GEMM, waiting for the reader, and the rest; and the reader's
    own time (in its thread, beside the GEMMs) split into disk, decode-and-copy and centring."""
    read = profile.read
    return {"gemm_s": profile.gemm_s, "io_wait_s": read.wait_s, "other_s": profile.other_s,
            "of_which_linalg_s": profile.linalg_s, "passes": profile.passes, "pass_s": profile.pass_s,
            "reader_disk_s": read.read_s - read.read_cpu_s,
            "reader_decode_copy_s": read.read_cpu_s, "reader_centre_s": read.prepare_s,
            "bytes_read": read.bytes_read}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=64_974)
    parser.add_argument("--cols", type=int, default=99_648)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--rank", type=int, default=1600, help="designed rank (> k: the tail)")
    parser.add_argument("--block-rows", type=int, default=1024, help="rows per block the fit reads")
    parser.add_argument("--power-iterations", type=int, default=2)
    parser.add_argument("--zstd", action="store_true",
                        help="store the matrix with zstd, as weights.zarr was before (default: the stage's)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the Zarr goes (needs the space)")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pca_scale.", dir=args.workdir))
    try:
        start = time.perf_counter()
        known = write_matrix(work / "w.zarr", args.rows, args.cols, args.rank, args.k, args.block_rows, 0,
                             compressors=COMPRESSORS if args.zstd else None)
        write_s = time.perf_counter() - start
        disk = disk_read_rate(work / "w.zarr")
        rates = sgemm_rates()
        p = override(load_params().pca, components=args.k, method="out_of_core",
                     power_iterations=args.power_iterations, block_rows=args.block_rows)
        array = zarr.open_group(work / "w.zarr", mode="r")["weights"]
        stored = sum(f.stat().st_size for f in (work / "w.zarr").rglob("*") if f.is_file())
        rows, profile = np.arange(args.rows), Profile()
        with PeakRss() as rss:
            start = time.perf_counter()
            basis = fit_out_of_core(array, rows, rows, args.k, p, profile)
            wall = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    oversample = p.oversamples
    width = args.k + oversample
    # matmuls: A @ Omega, 2 per power iteration, Q^T A; each 2 m n width FLOPs
    flops = (2 + 2 * args.power_iterations) * 2 * args.rows * args.cols * width
    blas_floor = flops / max(rates.values())
    disk_floor = profile.passes * stored / disk
    rel = np.abs(basis.singular_values - known[:args.k]) / known[:args.k]
    result = {"rows": args.rows, "cols": args.cols, "k": args.k, "designed_rank": args.rank,
              "power_iterations": args.power_iterations, "block_rows": args.block_rows,
              "codec": "zstd" if args.zstd else "stage default (none)", "stored_gb": stored / 1e9,
              "peak_rss_gb": rss.peak / 2**30, "wall_s": wall, "blas_floor_s": blas_floor,
              "disk_floor_s": disk_floor, "floor_ratio": wall / max(blas_floor, disk_floor),
              "sgemm_gflops": {name: r / 1e9 for name, r in rates.items()},
              "disk_read_gb_s": disk / 1e9, "flops": flops, "profile": profile_figures(profile),
              "spectrum_rel_err": float(rel.max()), "write_s": write_s,
              "command": " ".join(["python", *sys.argv])}
    write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
