"""Out-of-core PCA: a randomized SVD of the standardised rows of a Zarr (N, D) array, in row blocks.

Halko, Martinsson and Tropp (2011), Algorithm 4.4 (subspace iteration), in float32 with the thin
factors (rows or columns by k + oversamples) in memory and the data only ever streamed through a
GEMM, one pass per product. Passes: 1 + 2 * power_iterations + 1, the first of which also takes
the columns' mean and variance; `benchmarks/pca_scale.py` measures it against the machine's limits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
import zarr
from tqdm import tqdm

from w2w.params import PcaParams
from w2w.space.basis import MIN_STD, Basis
from w2w.space.stream import ReadTimes, RowBlocks


@dataclass
class Profile:
    """Where a fit's wall time went (main thread), and what the reader did beside it."""

    wall_s: float = 0.0
    gemm_s: float = 0.0           # in the big block products
    linalg_s: float = 0.0         # QR and SVD of the thin factors, between passes
    passes: int = 0
    pass_s: list[float] = field(default_factory=list)
    read: ReadTimes = field(default_factory=ReadTimes)  # wait_s: blocked on the reader

    @property
    def other_s(self) -> float:  # linalg_s, the moments' sums, fix-ups
        return self.wall_s - self.gemm_s - self.read.wait_s


class FirstBlockCentring:
    """A pass's `prepare`: centres every block on the first block's column means (taken from it,
    in float64), and keeps that block's column spreads. Sums about a nearby point keep the variance
    of columns whose mean dwarfs their spread (a LoRA entry every identity moved a little from the
    shared init), and the centred blocks multiply without cancellation."""

    def __init__(self):
        self.shift: np.ndarray | None = None   # (D,) float32
        self.spread: np.ndarray | None = None  # (D,) float64, >= MIN_STD

    def __call__(self, block: np.ndarray) -> None:
        if self.shift is None:
            self.shift = block.mean(0, dtype=np.float64).astype(np.float32)
            spread = block.std(0, dtype=np.float64)
            self.spread = np.where(spread > MIN_STD, spread, 1.0)
        np.subtract(block, self.shift, out=block)


def sketch_and_moments(blocks: RowBlocks, omega: np.ndarray, profile: Profile
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pass: the columns' mean and variance (float64), and the first sketch y = z @ test (m, w),
    where z is the standardised data and test = D omega / D1, D the columns' std and D1 the first
    block's: a Gaussian test matrix up to the first block's error in each column's spread, which the
    power iterations after it do not need exact. Sums are float32 products per block, float64 across."""
    centre, scaled, y = FirstBlockCentring(), None, None
    s1, s2, n = 0.0, 0.0, 0
    began = time.perf_counter()
    for start, block in blocks(centre):                                   # (b, D), ours until the next
        if scaled is None:                                                # omega / D1, (D, w)
            scaled = torch.from_numpy((omega / centre.spread[:, None]).astype(np.float32))
            y = torch.empty((len(blocks.rows), omega.shape[1]), dtype=torch.float32)
        tick = time.perf_counter()
        torch.mm(torch.from_numpy(block), scaled, out=y[start:start + len(block)])
        profile.gemm_s += time.perf_counter() - tick
        ones = np.ones(len(block), np.float32)
        s1 = s1 + (ones @ block).astype(np.float64)
        np.square(block, out=block)
        s2 = s2 + (ones @ block).astype(np.float64)
        n += len(block)
    offset = s1 / n                                                       # mean - shift
    y -= torch.from_numpy(offset.astype(np.float32)) @ scaled             # centre on the true mean
    _count(profile, began)
    return centre.shift + offset, np.maximum(s2 / n - offset ** 2, 0.0), y.numpy()


def _count(profile: Profile, began: float) -> None:
    profile.passes += 1
    profile.pass_s.append(time.perf_counter() - began)


class StandardisedProducts:
    """z = (x - mean) / std (m, n), as the two products the randomized SVD needs, one pass each.

    Mean and std are folded into the thin factors, so the big data only ever meet a GEMM (torch's:
    1.2x numpy's here, 1.9x for the transposed product), untouched:
        z @ r   = x @ (r / std) - 1 (mean . (r / std))
        z.T @ l = (x.T @ l - mean (1.T @ l)) / std
    Entries whose mean is far larger than their spread lose float32 digits in the uncentred GEMM,
    but only in the subspace being iterated, which the next product corrects: the singular values
    come from the transposed product, where 1.T @ l is small (l lies in the range of z, whose
    columns sum to 0). With means 1,000 times their spread the spectrum stays within 3e-6 of an
    exact SVD (`tests/space/test_pca.py`); centring every block cost the CPUs 34 s per fit at the
    reference's shape (docs/benchmarks.md)."""

    def __init__(self, blocks: RowBlocks, mean: np.ndarray, std: np.ndarray, profile: Profile):
        self.blocks, self.profile = blocks, profile
        self.mean = mean.astype(np.float64)
        self.inv_std = (1.0 / std).astype(np.float32)[:, None]  # (n, 1)
        self.shape = (len(blocks.rows), len(mean))

    def times(self, right: np.ndarray) -> np.ndarray:
        """z @ right: (n, w) -> (m, w)."""
        scaled = np.ascontiguousarray(right * self.inv_std, dtype=np.float32)  # (n, w)
        scaled_t = torch.from_numpy(scaled)
        out = torch.empty((self.shape[0], right.shape[1]), dtype=torch.float32)
        began = time.perf_counter()
        for start, block in self.blocks():
            tick = time.perf_counter()
            torch.mm(torch.from_numpy(block), scaled_t, out=out[start:start + len(block)])
            self.profile.gemm_s += time.perf_counter() - tick
        _count(self.profile, began)
        out -= torch.from_numpy((self.mean @ scaled).astype(np.float32))  # float64: the big term
        return out.numpy()

    def transposed_times(self, left: np.ndarray) -> np.ndarray:
        """z.T @ left: (m, w) -> (n, w)."""
        left_t = torch.from_numpy(np.ascontiguousarray(left, dtype=np.float32))
        acc = torch.zeros((self.shape[1], left.shape[1]), dtype=torch.float32)
        began = time.perf_counter()
        for start, block in self.blocks():
            tick = time.perf_counter()
            acc.addmm_(torch.from_numpy(block).T, left_t[start:start + len(block)])
            self.profile.gemm_s += time.perf_counter() - tick
        _count(self.profile, began)
        sums = left.sum(0, dtype=np.float64).astype(np.float32)           # 1.T @ left, (w,)
        acc.addr_(torch.from_numpy(self.mean.astype(np.float32)), torch.from_numpy(sums), alpha=-1)
        return acc.mul_(torch.from_numpy(self.inv_std)).numpy()


def orthonormal(a: np.ndarray, profile: Profile) -> np.ndarray:
    """An orthonormal basis (m, w) of a's columns: Householder QR, torch's LAPACK (3x numpy's here)."""
    began = time.perf_counter()
    q = torch.linalg.qr(torch.from_numpy(a)).Q.numpy()
    profile.linalg_s += time.perf_counter() - began
    return q


def thin_svd(tall: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SVD of tall.T (w, n) from tall (n, w), as QR then a (w, w) SVD (9x numpy's full SVD here):
    tall = Q R, so tall.T = R.T Q.T = U S (Q V)^T with R.T = U S V^T."""
    q, r = torch.linalg.qr(torch.from_numpy(tall))
    u, s, vt = torch.linalg.svd(r.T)
    return u.numpy(), s.numpy(), (q @ vt.T).T.numpy()


def randomized_svd(z: StandardisedProducts, sketch: np.ndarray, k: int, power_iterations: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k SVD of z (m, n) from its first sketch z @ test (m, k + oversamples).

    The thin factors are re-orthonormalised after every product, which keeps float32 stable
    (dask's svd_compressed in float32 was measured returning the 50th singular value 97% wrong on a
    matrix whose spectrum spans 1000 to 1). Fusing two products into one pass, z.T @ (z @ w), would
    skip that re-orthonormalisation and square the spectrum's range in float32; it is not done."""
    bar = tqdm(total=1 + 2 * power_iterations, desc="pca passes", unit="pass")
    q = orthonormal(sketch, z.profile)                                    # (m, w)
    for _ in range(power_iterations):
        q = orthonormal(z.times(orthonormal(z.transposed_times(q), z.profile)), z.profile)
        bar.update(2)
    tall = z.transposed_times(q)
    began = time.perf_counter()
    ub, s, vt = thin_svd(tall)                                            # of q.T @ z, (w, n)
    z.profile.linalg_s += time.perf_counter() - began
    bar.update()
    bar.close()
    return (q @ ub)[:, :k], s[:k], vt[:k]


def fit_out_of_core(array: zarr.Array, rows: np.ndarray, ids: np.ndarray, k: int, p: PcaParams,
                    profile: Profile | None = None) -> Basis:
    """The basis of the `rows` (sorted) of a Zarr (N, D) array; the coefficients are U S, so no
    pass after the SVD. Each block is read in a background thread while the one before is multiplied."""
    profile = profile if profile is not None else Profile()
    began = time.perf_counter()
    blocks = RowBlocks(array, rows, max(1, min(p.block_rows, len(rows))))
    m, n = len(rows), array.shape[1]
    k = min(k, m, n)
    width = min(k + p.oversamples, m, n)
    omega = np.random.default_rng(p.seed).standard_normal((n, width)).astype(np.float32)
    mean, var, sketch = sketch_and_moments(blocks, omega, profile)
    std = np.sqrt(var)
    varying = std > MIN_STD
    std = np.where(varying, std, 1.0)
    z = StandardisedProducts(blocks, mean, std, profile)
    u, s, v = randomized_svd(z, sketch, k, max(p.power_iterations, 2))
    s64 = s.astype(np.float64)
    total = m * varying.sum()  # each standardised column has sum of squares m
    basis = Basis(mean, std, v.astype(np.float64), s64, s64 ** 2 / (m - 1), s64 ** 2 / total,
                  (u * s).astype(np.float64), ids, "out_of_core")
    profile.read = blocks.times
    profile.wall_s = time.perf_counter() - began
    return basis
