"""How much do the headline figures move when only the seeds change? (issue 16, item 9)

    python studies/seed_spread.py PROFILE SEED [SEED ...]   # e.g. small 0 1 2; PROFILE "default": none
    python studies/seed_spread.py default 0 1 --rerun-committed   # seed 0 rebuilt here too

Each seed is a whole `dvc repro` in its own copy of the project (under
studies/runs/<profile>-seed<seed>/, kept so that an interrupted study resumes where it stopped),
with every `seed` and `init_seed` of params.yaml set to it: a new world, judge, base, fleet, basis
and evaluation sample. Prints one JSON line per seed, then the spread (mean, sd, min, max) of each
headline figure. A difference between two configurations smaller than about twice the sd is not
evidence. About 22 minutes per seed at the small profile; at default scale 68 to 75 on the 2-core
machine that built the committed run (56 on the one before, 1.45 times faster).

At default scale, seed 0 is the committed run (params.yaml's seeds are all 0): its committed metrics
are read rather than rerun, unless --rerun-committed is given. Float rounding alone moves some
figures between machines as much as a seed does (docs/figures.md, "What float rounding moves between
machines"): on a machine other than the committed run's, rerun seed 0 beside the others to separate
the seed's effect from the machine's.
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
    "edits.json": ["strength", "flip_rate_mean", "identity_similarity_mean", "other_attributes_kept_mean",
                   "trait_change_mean", "prompt_baseline.flip_rate_mean",
                   "prompt_baseline.identity_similarity_mean",
                   "w2w_vs_prompting.identity_similarity_difference",
                   "w2w_vs_prompting.flip_rate_difference"],
    "inversion.json": ["w2w.in_distribution_mean", "single_image_lora.in_distribution_mean",
                       "w2w_minus_lora_in_distribution.similarity",
                       "w2w_minus_lora_in_distribution.trait_error", "w2w.ood_mean",
                       "single_image_lora.ood_mean", "w2w_minus_lora_ood.similarity",
                       "w2w.ood_realistic_mean"],
    "ladder.json": ["projection_relative_residual_mean", "identity_share_mean"],
    "sampling.json": ["consistency_mean", "trained_consistency_mean", "consistency_difference",
                      "alike_consistency_difference", "novel_fraction_mean",
                      "novel_fraction_heldout_models_mean", "novel_fraction_train_models_mean"],
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


def figures(project: Path) -> dict[str, tuple[float, float | None]]:
    """Each headline figure of a finished run, with its 95 % CI half-width where the run has one."""
    out = {}
    for name, keys in HEADLINE.items():
        data = json.loads((project / "metrics" / name).read_text())
        for key in keys:
            *parents, last = key.split(".")
            holder = data
            for part in parents:
                holder = holder[part]
            ci = holder.get(f"{last}_ci")
            out[f"{name.removesuffix('.json')}.{key}"] = (float(holder[last]),
                                                         (ci[1] - ci[0]) / 2 if ci else None)
    return out


def run_seed(profile: str, seed: int, rerun_committed: bool = False) -> dict[str, tuple[float, float | None]]:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    if profile == "default" and with_seed(params, seed) == params and not rerun_committed:
        return figures(ROOT)  # the committed run is this seed's
    if profile != "default":
        params = merged(params, yaml.safe_load((ROOT / "profiles" / f"{profile}.yaml").read_text()))
    dest = RUNS / f"{profile}-seed{seed}"
    if not (dest / ".git").is_dir():
        shutil.rmtree(dest, ignore_errors=True)  # a copy that never got committed: ours, half made
        dest.mkdir(parents=True)
        project_copy(dest, with_seed(params, seed))
    env = {**os.environ, "PYTHONPATH": str(dest / "src"), "MLFLOW_DISABLE_TELEMETRY": "true"}
    dvc = str(Path(sys.executable).parent / "dvc")
    # every stage, not just `report`'s inputs: evaluate_base is none of them, and the copy starts with
    # the committed metrics, so its base.json would be the default run's
    subprocess.run([dvc, "repro"], cwd=dest, env=env, check=True)
    return figures(dest)


def main(argv: list[str]) -> None:
    rerun_committed = "--rerun-committed" in argv
    argv = [a for a in argv if a != "--rerun-committed"]
    if len(argv) < 2 or not all(a.isdigit() for a in argv[1:]):
        sys.exit(__doc__)
    profile, seeds = argv[0], [int(a) for a in argv[1:]]
    if profile != "default" and not (ROOT / "profiles" / f"{profile}.yaml").is_file():
        known = sorted(f.stem for f in (ROOT / "profiles").glob("*.yaml"))
        sys.exit(f"unknown profile {profile!r}; known: default, {', '.join(known)}")
    if rerun_committed and profile != "default":
        sys.exit(f"--rerun-committed rebuilds the committed run, the default profile's, not {profile!r}")
    runs = []
    for seed in seeds:
        runs.append(run_seed(profile, seed, rerun_committed))
        print(json.dumps({"seed": seed, **{k: v for k, (v, _) in runs[-1].items()}}), flush=True)
    print(f"{'figure':52s} {'mean':>7s} {'sd':>6s} {'min':>7s} {'max':>7s}  CI half-width (mean of runs)")
    for key in runs[0]:
        values = np.array([r[key][0] for r in runs])
        halves = [r[key][1] for r in runs if r[key][1] is not None]
        sd = values.std(ddof=1) if len(values) > 1 else 0.0
        half = f"{np.mean(halves):.3f}" if halves else "-"
        print(f"{key:52s} {values.mean():7.3f} {sd:6.3f} {values.min():7.3f} {values.max():7.3f}  {half}")


if __name__ == "__main__":
    main(sys.argv[1:])
