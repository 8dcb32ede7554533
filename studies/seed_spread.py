"""How much do the headline figures move when only the seeds change? (issue 16, item 9)

    python studies/seed_spread.py PROFILE SEED [SEED ...]   # e.g. small 0 1 2; PROFILE "default": none

Each seed is a whole `dvc repro report` in its own copy of the project (under
studies/runs/<profile>-seed<seed>/, kept so that an interrupted study resumes where it stopped),
with every `seed` and `init_seed` of params.yaml set to it: a new world, judge, base, fleet, basis
and evaluation sample. Prints one JSON line per seed, then the spread (mean, sd, min, max) of each
headline figure. A difference between two configurations smaller than about twice the sd is not
evidence. About 15 minutes per seed at the small profile, 45 at default scale, on 2 cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "studies" / "runs"
HEADLINE = {  # metrics file: dotted keys
    "finetune.json": ["identity_similarity_mean", "trait_error_mean"],
    "base.json": ["prompt_attribute_fidelity"],
    "judge.json": ["identity_auc", "robustness.vae_round_trip.auc", "traits.trait_error_identity_mean"],
    "directions.json": ["auc_mean", "auc_min"],
    "edits.json": ["flip_rate_mean", "identity_similarity_mean", "other_attributes_kept_mean"],
    "inversion.json": ["w2w.in_distribution_mean", "single_image_lora.in_distribution_mean",
                       "w2w.ood_mean", "single_image_lora.ood_mean"],
    "sampling.json": ["consistency_mean", "trained_consistency_mean", "novel_fraction_mean"],
}


def with_seed(tree, seed: int):
    """params with every seed key set to `seed`."""
    if isinstance(tree, dict):
        return {k: (seed if k in ("seed", "init_seed") else with_seed(v, seed)) for k, v in tree.items()}
    return tree


def merged(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = merged(base[key], value) if isinstance(value, dict) and key in base else value
    return out


def project_copy(dest: Path, params: dict) -> None:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.split()
    for rel in listed:
        if (ROOT / rel).is_file() and not rel.startswith(("tests/assets/", "studies/runs/")):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for args in (["init", "-q"], ["config", "user.name", "w2w-study"],
                 ["config", "user.email", "w2w-study@localhost"], ["add", "-A"], ["commit", "-qm", "seed"]):
        subprocess.run(["git", *args], cwd=dest, check=True, capture_output=True)


def figures(project: Path) -> dict[str, float]:
    out = {}
    for name, keys in HEADLINE.items():
        data = json.loads((project / "metrics" / name).read_text())
        for key in keys:
            value = data
            for part in key.split("."):
                value = value[part]
            out[f"{name.removesuffix('.json')}.{key}"] = float(value)
    return out


def run_seed(profile: str, seed: int) -> dict[str, float]:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    if profile != "default":
        params = merged(params, yaml.safe_load((ROOT / "profiles" / f"{profile}.yaml").read_text()))
    dest = RUNS / f"{profile}-seed{seed}"
    if not (dest / ".git").is_dir():
        shutil.rmtree(dest, ignore_errors=True)  # a copy that never got committed: ours, half made
        dest.mkdir(parents=True)
        project_copy(dest, with_seed(params, seed))
    env = {**os.environ, "PYTHONPATH": str(dest / "src"), "MLFLOW_DISABLE_TELEMETRY": "true"}
    dvc = str(Path(sys.executable).parent / "dvc")
    subprocess.run([dvc, "repro", "report"], cwd=dest, env=env, check=True)
    return figures(dest)


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not all(a.isdigit() for a in argv[1:]):
        sys.exit(__doc__)
    profile, seeds = argv[0], [int(a) for a in argv[1:]]
    runs = []
    for seed in seeds:
        runs.append(run_seed(profile, seed))
        print(json.dumps({"seed": seed, **runs[-1]}), flush=True)
    for key in runs[0]:
        values = np.array([r[key] for r in runs])
        print(f"{key}: mean {values.mean():.3f} sd {values.std(ddof=1) if len(values) > 1 else 0:.3f} "
              f"min {values.min():.3f} max {values.max():.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
