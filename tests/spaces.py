"""The small TRAINED weight space the science tests stand on (profiles/small.yaml), committed under
tests/assets/small-space because it takes about 13 minutes to build on 2 cores.

    make test-assets      # = python tests/spaces.py: rebuild it and compare with the committed one

The committed space never drifts silently from the code that builds it. tests/assets/small-space.json
records its build key (the params it was built with, the checksum of every source file the build
imported and of tests/space_science.py, which measures its figures, the installed versions of the
pinned libraries), the checksum of every file of the space, the commit it was built at, and its
figures. Every `make test` checks that record against the
working tree (tests/test_spaces.py); a changed source file, param or library makes the tests ask for
`make test-assets`. That command rebuilds the space in a scratch folder and then:
- build key unchanged: the rebuild must equal the committed space, file for file, or at least in
  every figure within tolerance (another CPU may round differently); nothing is replaced;
- build key changed: the rebuild replaces the committed space, and the old and new figures are
  printed for the commit message.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSET = ROOT / "tests" / "assets" / "small-space"
RECORD = ROOT / "tests" / "assets" / "small-space.json"
PARTS = ("world/identities.parquet", "world/images.zarr", "base/model", "judge", "weights.zarr", "basis",
         "directions")  # what the tests read
SECTIONS = ("synthesize", "judge", "base", "finetune", "pca", "directions")  # params that shape it
# What each build step writes under the build folder; the fleet resumes by itself, shard by shard.
OUTPUTS = {"world": ["world"], "base": ["base"], "judge": ["judge"], "fleet": [],
           "directions": ["weights.zarr", "basis", "directions"]}
TOLERANCE = 0.05     # of a figure's size (at least 1): how far a rebuild elsewhere may round


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_sums(folder: Path) -> dict[str, str]:
    """Every file under `folder`, by relative path -> sha256."""
    return {p.relative_to(folder).as_posix(): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def pinned_versions(root: Path = ROOT) -> dict[str, str]:
    """The installed version of every library pyproject.toml pins."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    names = [re.split(r"[\[=<>~! ]", spec, maxsplit=1)[0] for spec in project["dependencies"]]
    return {name: importlib.metadata.version(name) for name in sorted(names)}


def small_params():
    from committed import profile_params

    return profile_params("small")


def build_key(sources: dict[str, str], root: Path = ROOT) -> dict:
    """What the space depends on: params, the build's source files (path -> sha256), libraries."""
    return {"params": small_params().config_hash(SECTIONS), "sources": sources,
            "libraries": pinned_versions(root)}


def source_sums(files: list[Path], root: Path = ROOT) -> dict[str, str]:
    return {f.relative_to(root).as_posix(): sha256(f) for f in sorted(set(files))}


def imported_sources(root: Path = ROOT) -> dict[str, str]:
    """The build's code, path -> sha256: the project's files this process imported, and every w2w
    module those import anywhere (the fleet's jobs import theirs in Dask worker processes)."""
    from imports import closure, import_graph, module_file

    files = {Path(m.__file__).resolve() for m in list(sys.modules.values()) if getattr(m, "__file__", None)}
    files = {f for f in files if f.is_file()}  # a relative __file__ resolved against the cwd may not be
    ours = [f for f in files if f.is_relative_to(root / "src") or f == Path(__file__).resolve()
            or f.parent == root / "tests" and f.suffix == ".py"]
    loaded = {m for m, module in list(sys.modules.items()) if m.split(".")[0] == "w2w"
              and getattr(module, "__file__", None)}
    ours += [module_file(m, root / "src") for m in closure(loaded, import_graph(root / "src"))]
    return source_sums(ours, root)


def record_problems(root: Path = ROOT) -> list[str]:
    """Why the committed space (under `root`) is not what its code builds; empty when it is."""
    record_path = root / RECORD.relative_to(ROOT)
    if not record_path.is_file():
        return [f"{record_path.relative_to(root)} is missing"]
    record = json.loads(record_path.read_text())
    problems = []
    for rel, digest in record["key"]["sources"].items():
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel} is gone")
        elif sha256(path) != digest:
            problems.append(f"{rel} changed")
    if small_params().config_hash(SECTIONS) != record["key"]["params"]:
        problems.append(f"params of {', '.join(SECTIONS)} changed (params.yaml, profiles/small.yaml)")
    for name, version in pinned_versions(root).items():
        built = record["key"]["libraries"].get(name)
        if built != version:
            problems.append(f"{name} is {version}, the space was built with {built}")
    sums = file_sums(root / ASSET.relative_to(ROOT))
    for rel in sorted(set(sums) ^ set(record["files"])):
        problems.append(f"small-space/{rel} is {'extra' if rel in sums else 'missing'}")
    problems += [f"small-space/{rel} was edited" for rel in sorted(set(sums) & set(record["files"]))
                 if sums[rel] != record["files"][rel]]
    return problems


# ---------------------------------------------------------------------------------------------------
# Building and measuring


def stack_and_fit(root: Path, world: Path, fp, pca, dp) -> dict[str, float]:
    """root/fleet's shards -> root/weights.zarr, root/basis, root/directions (stack, pca, directions)."""
    import pandas as pd
    import zarr

    from w2w.adapters.layout import AdapterLayout
    from w2w.evaluate.directions import directions_metrics
    from w2w.fleet.config import lora_config_dict
    from w2w.fleet.shards import read_shard_layout, stack_shards
    from w2w.space.attributes import fit_attribute_directions
    from w2w.space.pca import fit_basis

    table = pd.read_parquet(world / "identities.parquet")
    shards = sorted((root / "fleet").glob("shard-*.safetensors"))
    layout = AdapterLayout.from_json(read_shard_layout(shards[0]))
    stack_shards(shards, table["identity_id"].to_numpy(), table["split"].to_numpy(), layout,
                 lora_config_dict(fp), root / "weights.zarr", fp.identities_per_shard)
    group = zarr.open_group(root / "weights.zarr", mode="r")
    train = np.flatnonzero(~np.asarray(group["heldout"][:]))
    basis = fit_basis(group["weights"], train, np.asarray(group["identity_ids"][:]), pca)
    basis.save(root / "basis")
    fit = fit_attribute_directions(world, root / "weights.zarr", basis, dp)
    study = directions_metrics(fit, root / "base")
    fit.directions.save(root / "directions", dp.debias)
    return {"explained_variance_ratio_sum": float(basis.explained_variance_ratio.sum()), **study}


def build_small_space(root: Path, p) -> dict:
    """world/, base/, judge/, fleet/, weights.zarr, basis/, directions/ under `root`, each step's
    figures in root/<step>/figures.json; a step already done there (an interrupted build) is kept."""
    from functools import partial

    from w2w.base.build import train_miniature
    from w2w.base.latents import round_trip
    from w2w.base.pipeline import load_vae
    from w2w.fleet.run import run_finetune
    from w2w.judge.train import fit_and_evaluate
    from w2w.world.dataset import synthesize_world

    steps = [("world", lambda out: synthesize_world(p.synthesize, out)),
             ("base", lambda out: train_miniature(root / "world", p.base, out, lambda s, m: None)),
             ("judge", lambda out: fit_and_evaluate(root / "world", p.judge, out,
                                                    partial(round_trip, load_vae(root / "base" / "model")))),
             ("fleet", lambda out: run_finetune(root / "base", root / "world", out, p.finetune, "small",
                                                p.compute, p.synthesize.seed)),
             ("directions", lambda out: stack_and_fit(root, root / "world", p.finetune, p.pca, p.directions))]
    figures = {}
    for name, build in steps:
        done = root / f"{name}.figures.json"
        if not done.is_file():
            print(f"building {name} ...", flush=True)
            for part in OUTPUTS[name]:  # a half-written output of an interrupted build
                shutil.rmtree(root / part, ignore_errors=True)
            if name in ("world", "base", "judge"):
                (root / name).mkdir(parents=True)
            done.write_text(json.dumps(build(root / name), default=float))
        figures[name] = json.loads(done.read_text())
    return figures


def flat_numbers(tree: dict, prefix: str = "") -> dict[str, float]:
    """The numbers of nested step figures, by dotted name; not speeds nor resume counts, which vary."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= flat_numbers(value, f"{prefix}{key}.")
        elif key in ("identities_per_hour", "trained_now"):
            continue
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = float(value)
    return out


def figure_changes(old: dict[str, float], new: dict[str, float]) -> list[str]:
    """The figures that moved beyond tolerance (or appeared, or vanished)."""
    changes = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a is None or b is None or not abs(a - b) <= TOLERANCE * max(1.0, abs(a)):
            changes.append(f"{name}: {a} -> {b}")
    return changes


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "tests/spaces.py", "params.yaml",
                            "profiles"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return done.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def main() -> int:
    params = small_params()
    everything = source_sums([*ROOT.glob("src/**/*.py"), Path(__file__).resolve()])
    pre_key = hashlib.sha256(json.dumps(build_key(everything), sort_keys=True).encode())
    scratch = ROOT / "tests" / "assets" / f"small-space.build-{pre_key.hexdigest()[:12]}"  # resumable
    scratch.mkdir(parents=True, exist_ok=True)
    figures = flat_numbers(build_small_space(scratch, params))
    # before measuring: what the build itself imported, and the code that measures the record's
    # science figures (a change to it must re-measure them)
    key = build_key(imported_sources() | source_sums([ROOT / "tests" / "space_science.py"]))
    print("measuring the science figures ...", flush=True)
    from space_science import science_figures  # after the key: measuring does not build the space

    figures |= science_figures(scratch)
    candidate = scratch.parent / f"{scratch.name}.space"
    shutil.rmtree(candidate, ignore_errors=True)
    for part in PARTS:
        (candidate / part).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (scratch / part).is_dir() else shutil.copy2
        copy(scratch / part, candidate / part)
    record = {"key": key, "commit": commit(), "figures": figures, "files": file_sums(candidate)}
    old = json.loads(RECORD.read_text()) if RECORD.is_file() else None
    if old is not None and old["key"] == key:
        same = old["files"] == record["files"]
        changes = [] if same else figure_changes(old["figures"], figures)
        print("the rebuild is identical to the committed space" if same else
              "the rebuild differs in bytes; figures " + ("within tolerance" if not changes else
                                                          "moved:\n  " + "\n  ".join(changes)))
        shutil.rmtree(candidate)
        if changes:
            print(f"error: same code and params, different space: the build is not reproducible "
                  f"(kept for inspection: {scratch})", file=sys.stderr)
            return 1
        shutil.rmtree(scratch)
        return 0
    if old is not None:
        print("the build key changed; figures, committed -> rebuilt:\n  "
              + "\n  ".join(figure_changes(old["figures"], figures) or ["all within tolerance"]))
    replace_asset(candidate, record)
    shutil.rmtree(scratch)
    print(f"wrote {ASSET.relative_to(ROOT)} and {RECORD.relative_to(ROOT)}; commit both")
    return 0


def replace_asset(candidate: Path, record: dict) -> None:
    """The new space and its record in place of the old, each by a rename."""
    old = ASSET.parent / f"{ASSET.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if ASSET.exists():
        ASSET.rename(old)
    candidate.rename(ASSET)
    tmp = RECORD.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    tmp.replace(RECORD)
    shutil.rmtree(old, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))  # committed.py
    sys.exit(main())
