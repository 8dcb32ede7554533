"""A small run of benchmarks/pca_scale.py: the designed matrix's spectrum is what out-of-core PCA finds."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "pca_scale.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("pca_scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_designed_matrix_has_the_known_standardised_spectrum(tmp_path):
    bench = load_benchmark()
    known = bench.write_matrix(tmp_path / "w.zarr", 600, 400, 60, 40, 128, seed=0)
    import zarr

    x = np.asarray(zarr.open_array(tmp_path / "w.zarr" / "weights", mode="r")[:], dtype=np.float64)
    z = (x - x.mean(0)) / x.std(0)
    exact = np.linalg.svd(z, compute_uv=False)[:60]
    assert np.max(np.abs(exact - known) / known) < 1e-3


def test_small_benchmark_run_meets_the_spectrum_goal(tmp_path):
    out = tmp_path / "result.json"
    subprocess.run([sys.executable, str(SCRIPT), "--rows", "3000", "--cols", "2000", "--k", "50",
                    "--rank", "120", "--block-rows", "500", "--workdir", str(tmp_path), "--out", str(out)],
                   check=True, capture_output=True, cwd=ROOT)
    result = json.loads(out.read_text())
    assert result["rows"] == 3000 and result["k"] == 50
    assert result["spectrum_rel_err"] <= 0.01
    assert result["peak_rss_gb"] > 0 and result["floor_ratio"] > 0
    assert result["profile"]["passes"] == 1 + 2 * 2 + 1  # the moments ride on the first sketch's pass
    assert result["profile"]["gemm_s"] > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("pca_scale.")]  # work dir removed
