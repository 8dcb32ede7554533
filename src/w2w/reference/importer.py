"""Import the published weights2weights basis (its `files/` folder) into this project's format.

Safety: every tensor file is read with `torch.load(..., weights_only=True)`, which refuses any
pickle that would build arbitrary objects (and so run code). `identity_df.pt`, a pickled pandas
DataFrame, is only unpickled behind an explicit `trust_pickle`; otherwise labels come from a CSV.

Output folder: `basis/` (a `w2w.space.basis.Basis` whose attrs also hold the adapter layout and
LoRA config, so edit, sample, invert and export need no fleet), `directions/` when labels are
given (least squares on the coefficients, the reference's method), and `info.json` (the summary, and
the marker that lets `--force` replace this output later).
"""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import zarr

from w2w.adapters.layout import AdapterLayout
from w2w.errors import InputError
from w2w.outputs import output_folder
from w2w.params import DirectionsParams
from w2w.space.basis import MIN_STD, Basis
from w2w.space.directions import fit_directions

REQUIRED = ("V.pt", "mean.pt", "std.pt", "proj_1000pc.pt", "weight_dimensions.pt", "adapter_config.json")
KEY_PREFIXES = ("base_model.model.", "unet.")  # peft / diffusers wrappers around the UNet's names


class ReferenceFormatError(InputError):
    """A published-basis file that is missing, unsafe, or does not fit the others; names the file."""


def safe_load(path: Path):
    """torch.load with weights_only=True: tensors and plain containers only, never code.

    A pickle the safe unpickler rejects (it asks for something other than tensors and plain
    containers) is refused as unsafe; a file torch cannot even open (a zip archive cut short, an
    empty or truncated stream) is called damaged."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # UnpicklingError, RuntimeError, EOFError... all mean: not loaded
        text = str(error)
        if (isinstance(error, pickle.UnpicklingError) and "Weights only load failed" in text
                and "truncated" not in text and "EOF" not in text):
            raise ReferenceFormatError(f"{path}: refused by the safe loader (weights_only=True): it "
                                       "holds more than tensors and plain containers; it was not "
                                       "unpickled") from None
        reason = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
        raise ReferenceFormatError(f"{path}: corrupt or truncated, torch cannot read it "
                                   f"({reason.split('. ')[0]})") from None


def load_vector_or_matrix(path: Path, ndim: int) -> np.ndarray:
    value = safe_load(path)
    if not isinstance(value, torch.Tensor) or value.ndim != ndim:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ReferenceFormatError(f"{path}: expected a {ndim}-d tensor, got {shape}")
    return value.detach().float().numpy()


def load_layout(path: Path) -> AdapterLayout:
    """weight_dimensions.pt: {adapter key: (numel, shape)} in flatten order."""
    dims = safe_load(path)
    if not isinstance(dims, dict) or not dims:
        raise ReferenceFormatError(f"{path}: expected a dict of adapter key -> (numel, shape)")
    keys, shapes = [], []
    for key, value in dims.items():
        try:
            numel, shape = int(value[0]), tuple(int(s) for s in value[1])
        except (TypeError, ValueError, IndexError):
            raise ReferenceFormatError(f"{path}: {key!r}: expected (numel, shape), got {value!r}") from None
        if not str(key).endswith((".lora_A.weight", ".lora_B.weight")) or numel != math.prod(shape):
            raise ReferenceFormatError(f"{path}: {key!r} with numel {numel} and shape {shape} is not a "
                                       "LoRA A/B weight")
        for prefix in KEY_PREFIXES:
            key = key.removeprefix(prefix)
        keys.append(key)
        shapes.append(shape)
    return AdapterLayout(tuple(keys), tuple(shapes))


def load_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text())
        return {"r": int(config["r"]), "lora_alpha": float(config["lora_alpha"]),
                "target_modules": sorted(config["target_modules"])}
    except (ValueError, KeyError, TypeError) as error:
        raise ReferenceFormatError(f"{path}: not a PEFT LoRA config ({error})") from None


def load_labels(files: Path, labels_csv: Path | None, trust_pickle: bool, rows: int) -> pd.DataFrame | None:
    """Binary labels (rows, attributes) as bool, from a CSV, or from identity_df.pt if trusted."""
    if labels_csv is not None:
        table = pd.read_csv(labels_csv)
        source = labels_csv
    elif trust_pickle and (files / "identity_df.pt").is_file():
        table = torch.load(files / "identity_df.pt", map_location="cpu", weights_only=False)  # trusted
        source = files / "identity_df.pt"
        if not isinstance(table, pd.DataFrame):
            raise ReferenceFormatError(f"{source}: expected a pandas DataFrame, got {type(table).__name__}")
    else:
        return None
    table = table.select_dtypes(include=["number", "bool"])
    if len(table) != rows:
        raise ReferenceFormatError(f"{source}: {len(table)} label rows for {rows} models")
    return table.astype(float) > 0  # -1/1 (CelebA) or 0/1


def check_shapes(files: Path, layout: AdapterLayout, mean, std, v, proj, k: int) -> None:
    d = layout.dim
    for name, value in (("mean.pt", mean), ("std.pt", std)):
        if value.shape != (d,):
            raise ReferenceFormatError(f"{files / name}: length {value.shape[0]}, but weight_dimensions.pt "
                                       f"describes D = {d}")
    if v.shape[0] != d:
        raise ReferenceFormatError(f"{files / 'V.pt'}: shape {v.shape}, expected (D = {d}, components)")
    if not 1 <= k <= min(v.shape[1], proj.shape[1]):
        raise ReferenceFormatError(f"{k} components asked; V.pt has {v.shape[1]} and proj_1000pc.pt "
                                   f"{proj.shape[1]}")


def reference_basis(files: Path, components: int | None) -> tuple[Basis, AdapterLayout, dict]:
    missing = [name for name in REQUIRED if not (files / name).is_file()]
    if missing:
        raise ReferenceFormatError(f"{files}: missing {', '.join(missing)}")
    layout, config = load_layout(files / "weight_dimensions.pt"), load_config(files / "adapter_config.json")
    mean, std = (load_vector_or_matrix(files / n, 1) for n in ("mean.pt", "std.pt"))
    v, proj = load_vector_or_matrix(files / "V.pt", 2), load_vector_or_matrix(files / "proj_1000pc.pt", 2)
    k = components or proj.shape[1]
    check_shapes(files, layout, mean, std, v, proj, k)
    coefficients = proj[:, :k].astype(np.float64)
    variance = coefficients.var(0, ddof=1)
    basis = Basis(mean.astype(np.float64), np.where(std > MIN_STD, std, 1.0).astype(np.float64),
                  np.ascontiguousarray(v[:, :k].T, dtype=np.float64), np.sqrt(variance * (len(proj) - 1)),
                  variance, variance / layout.dim, coefficients, np.arange(len(proj)), "reference import")
    return basis, layout, config


def import_reference(files: Path, out: Path, labels_csv: Path | None = None, trust_pickle: bool = False,
                     components: int | None = None, force: bool = False) -> dict:
    """Convert `files/` into `out/` (written atomically; an earlier import there is replaced only with
    `force`, anything else never); returns the summary."""
    basis, layout, config = reference_basis(Path(files), components)
    labels = load_labels(Path(files), labels_csv, trust_pickle, len(basis.train_coefficients))
    summary = {"source": str(files), "models": len(basis.train_coefficients), "dim": layout.dim,
               "components": basis.k, "lora_config": config, "directions": labels is not None,
               "labels": str(labels_csv) if labels_csv else "identity_df.pt" if labels is not None else None}
    with output_folder(Path(out), "import-reference", force, summary) as tmp:
        basis.save(tmp / "basis")
        group = zarr.open_group(tmp / "basis", mode="r+")
        group.attrs.update({"layout": layout.to_json(), "lora_config": config})
        if labels is not None:
            directions, auc = labels_directions(basis, labels)
            directions.save(tmp / "directions", {})
            summary["train_auc"] = auc
    return summary


def labels_directions(basis: Basis, labels: pd.DataFrame):
    """Least-squares directions (the reference's) on every model's coefficients; AUC on the same
    models (a fit check, not a held-out figure)."""
    x = basis.train_coefficients
    usable = [a for a in labels.columns if 0 < labels[a].sum() < len(labels)]
    if not usable:
        raise ReferenceFormatError("no label column has both classes among the models")
    y = {a: labels[a].to_numpy() for a in usable}
    # The reference's own method; least squares has no regularization, debiasing or randomness.
    method = DirectionsParams(method="least_squares", components=0, regularization=1.0, debias={}, seed=0)
    return fit_directions(x, y, x, y, method)
