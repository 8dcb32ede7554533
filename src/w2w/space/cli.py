"""`w2w edit`, `w2w sample`, `w2w invert`: new models from the weights2weights space; `w2w project`:
a LoRA trained elsewhere, placed in it.

Each writes standard LoRA folders (pytorch_lora_weights.safetensors + adapter_config.json) and a
preview grid, all in one atomic rename of the output folder. The folder is claimed before any work
(w2w.outputs): an existing one is replaced only if this command wrote it, and only with --force.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from w2w.outputs import claim_output
from w2w.params import PARAMS_FILE, PreviewParams, load_params_or_exit
from w2w.space.inversion_options import add_inversion_options, check_inversion_steps, check_timesteps

if TYPE_CHECKING:  # the loader's imports are heavy: a refused --out answers before them
    from w2w.space.loader import Space

PREVIEW_PROMPT_DEFAULT = "sks person"


def write_models(space: Space, vectors: dict[str, np.ndarray], out: Path, model: Path, prompt: str,
                 preview: int, sampler: PreviewParams | None, info: dict, force: bool,
                 delayed_from: np.ndarray | None = None, delay: int = 0, pipe=None) -> None:
    """One LoRA folder per vector (out/<name>/, or out/ itself for the name ""), a preview grid
    (a row of samples per model) and info.json; atomically. With `delayed_from`, previews sample
    with those weights for t > delay and the new ones after (delayed injection). `pipe`: the base
    `model`, already loaded and bare, for the previews (else it is loaded when they are asked for)."""
    from w2w.adapters.files import write_lora_files
    from w2w.base.pipeline import load_pipeline
    from w2w.outputs import output_folder
    from w2w.space.delayed import model_samples
    from w2w.world.dataset import contact_sheet

    config = space.lora_config()
    if not preview:
        pipe = None
    elif pipe is None:
        pipe = load_pipeline(model)
    rows = []
    with output_folder(out, info["command"], force, info) as tmp:
        for name, vector in vectors.items():
            folder = tmp / name if name else tmp
            folder.mkdir(exist_ok=True)
            write_lora_files(vector, space.layout, config, folder)
            if pipe is not None:
                rows.append(model_samples(pipe, space.layout, space.scaling, vector, prompt, preview,
                                          sampler.seed, sampler.sampler_steps, sampler.guidance_scale,
                                          delayed_from, delay, sampler.unconditional == "base"))
        if rows:
            contact_sheet(np.concatenate(rows), rows=len(rows), cols=preview).save(tmp / "preview.png")
    print(f"wrote {out}")


def preview_sampler(args: argparse.Namespace) -> PreviewParams | None:
    """The preview's sampler settings, from the `preview` section of --params; none without previews."""
    return load_params_or_exit(args.params).preview if args.preview else None


def parse_strengths(items: list[str], known: list[str]) -> dict[str, float]:
    """["Eyeglasses=+2", "Young=-1"] -> {"Eyeglasses": 2.0, "Young": -1.0}, names checked."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            strength = float(value)
        except ValueError:
            strength = None
        if not sep or strength is None or not np.isfinite(strength):
            raise ValueError(f"--set {item!r}: expected ATTRIBUTE=STRENGTH, e.g. Eyeglasses=+2")
        if name not in known:
            raise ValueError(f"--set {item!r}: no direction for {name!r}; known: {', '.join(known)}")
        out[name] = strength
    return out


def edit_command(args: argparse.Namespace) -> int:
    claim_output(args.out, "edit", args.force)  # before the heavy imports: a refusal is at once
    sampler = preview_sampler(args)  # the params file is checked before any work
    from w2w.base.pipeline import load_pipeline
    from w2w.space.directions import Directions
    from w2w.space.edit import edit
    from w2w.space.loader import Space

    space = Space.open(args.weights, args.basis)
    directions = Directions.load(args.directions)
    strengths = parse_strengths(args.set, directions.attributes)
    if not strengths:
        raise ValueError("give at least one --set ATTRIBUTE=STRENGTH")
    pipe = None if args.lora is None else load_pipeline(args.model)  # read the LoRA, then the previews
    original = space.row(args.identity) if pipe is None else lora_vector(space, pipe, args.lora)
    vector = edit(original, strengths, space.basis, directions)
    source = {"identity": args.identity} if args.lora is None else {"lora": str(args.lora)}
    write_models(space, {"": vector}, args.out, args.model, args.prompt, args.preview, sampler,
                 {"command": "edit", **source, "strengths": strengths, "delay": args.delay},
                 args.force, original if args.delay is not None else None, args.delay or 0, pipe)
    return 0


def lora_vector(space: Space, pipe, lora: Path) -> np.ndarray:
    """A LoRA file or folder (any format diffusers reads) as a (D,) vector of the space's layout,
    read through the base `pipe`, which is left bare again: the same pipeline draws the previews."""
    from w2w.adapters.files import loaded_adapter_vector
    from w2w.base.pipeline import load_lora

    try:
        load_lora(pipe, lora, adapter_name="loaded")
        if getattr(pipe.text_encoder, "peft_config", None):
            raise ValueError(f"{lora}: the LoRA also adapts the text encoder, which the space does not model")
        try:
            return loaded_adapter_vector(pipe.unet, "loaded", space.layout, space.lora["r"],
                                         space.lora["lora_alpha"])
        except ValueError as error:  # another rank or other layers: name the file the user gave
            raise ValueError(f"{lora}: {error}") from error
    finally:
        pipe.unload_lora_weights()


def check_attributes_file(path: Path) -> None:
    if not path.is_file():
        raise ValueError(f"--attributes {path}: no such file (the world's identities.parquet, or a csv "
                         "with identity_id and true/false attribute columns)")


def read_labels(path: Path, identity_ids: np.ndarray) -> np.ndarray:
    """The train identities' attributes (n_train, A) from an identities table (parquet or csv)."""
    import pandas as pd

    from w2w.space.alike import attribute_labels

    table = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    try:
        return attribute_labels(table, identity_ids)
    except ValueError as e:
        raise ValueError(f"--attributes {path}: {e}") from None


def sample_command(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise ValueError(f"--n must be >= 1, got {args.n}")
    if args.alike < 0:
        raise ValueError(f"--alike must be >= 0, got {args.alike}")
    if args.alike and args.covariance:
        raise ValueError("--covariance sets the Gaussian's draws; --alike draws blends instead: give one")
    if args.alike:
        check_attributes_file(args.attributes)
    claim_output(args.out, "sample", args.force)  # before the heavy imports: a refusal is at once
    sampler = preview_sampler(args)  # the params file is checked before any work
    from w2w.space.alike import sample_alike
    from w2w.space.edit import sample
    from w2w.space.loader import Space

    space = Space.open(args.weights, args.basis)
    if args.alike:
        ids = space.basis.train_identity_ids
        if args.alike > len(ids):
            raise ValueError(f"--alike {args.alike}: more than the space's {len(ids)} train identities")
        vectors = sample_alike(space.basis, read_labels(args.attributes, ids), args.n, args.seed, args.alike)
        how = {"alike": args.alike, "attributes": str(args.attributes)}
    else:
        covariance = args.covariance or "diagonal"
        vectors, how = sample(space.basis, args.n, args.seed, covariance), {"covariance": covariance}
    named = {f"sample-{i:03d}": v for i, v in enumerate(vectors)}
    write_models(space, named, args.out, args.model, args.prompt, args.preview, sampler,
                 {"command": "sample", "n": args.n, "seed": args.seed, **how}, args.force)
    return 0


def invert_command(args: argparse.Namespace) -> int:
    check_inversion_steps(args)
    claim_output(args.out, "invert", args.force)  # before the heavy imports: a refusal is at once
    sampler = preview_sampler(args)  # the params file is checked before any work
    check_timesteps(args)
    from w2w.base.pipeline import load_pipeline
    from w2w.space.invert import DEFAULT_LR, check_image, invert, load_image
    from w2w.space.loader import Space

    for path in (args.image, args.mask):
        if path is not None:
            check_image(path)
    space = Space.open(args.weights, args.basis)
    pipe = load_pipeline(args.model)
    size = int(pipe.vae.config.sample_size)
    image = load_image(args.image, size)
    mask = None if args.mask is None else load_image(args.mask, size).mean(-1) / 255.0
    lr = DEFAULT_LR if args.lr is None else args.lr
    c = invert(pipe, space.basis, space.layout, space.lora["r"], space.lora["lora_alpha"], image, args.prompt,
               args.k or space.basis.k, args.steps, lr, args.seed, mask=mask,
               timestep_range=None if args.timesteps is None else tuple(args.timesteps))
    write_models(space, {"": space.basis.to_weights(c)}, args.out, args.model, args.prompt, args.preview,
                 sampler,
                 {"command": "invert", "image": str(args.image), "k": args.k, "steps": args.steps,
                  "lr": lr, "seed": args.seed, "timesteps": args.timesteps,
                  "coefficients": c.tolist()}, args.force, pipe=pipe)
    return 0


def projection_figures(basis, vector: np.ndarray) -> dict:
    """Where `vector` (D,) sits in the space: its coefficients, and how much of it the space misses,
    in standardised units (as the PCA measures) and in weights (distance from the mean model)."""
    z = basis.standardise(vector)
    c = z @ basis.components.T
    inside = basis.to_weights(c)
    off_mean = np.asarray(vector, np.float64) - basis.mean
    return {"coefficients": c.tolist(),
            "coefficients_in_train_std": (c / np.sqrt(basis.explained_variance)).tolist(),
            "standardised_relative_residual": float(np.linalg.norm(z - c @ basis.components)
                                                    / max(np.linalg.norm(z), 1e-30)),
            "relative_residual": float(np.linalg.norm(vector - inside)
                                       / max(np.linalg.norm(off_mean), 1e-30))}


def project_command(args: argparse.Namespace) -> int:
    claim_output(args.out, "project", args.force)  # before the heavy imports: a refusal is at once
    sampler = preview_sampler(args)  # the params file is checked before any work
    from w2w.base.pipeline import load_pipeline
    from w2w.space.loader import Space

    space = Space.open(args.weights, args.basis)
    pipe = load_pipeline(args.model)  # reads the LoRA, then draws the previews
    figures = projection_figures(space.basis, lora_vector(space, pipe, args.lora))
    write_models(space, {"": space.basis.to_weights(np.asarray(figures["coefficients"]))}, args.out,
                 args.model, args.prompt, args.preview, sampler,
                 {"command": "project", "lora": str(args.lora), **figures}, args.force, pipe=pipe)
    print(f"the space misses {figures['relative_residual']:.1%} of the LoRA's distance from the mean model "
          f"({figures['standardised_relative_residual']:.1%} standardised)")
    return 0


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="output folder (LoRA + preview.png)")
    p.add_argument("--weights", type=Path, default=Path("data/weights.zarr"),
                   help="the stacked fleet (its identities' models and adapter layout)")
    p.add_argument("--basis", type=Path, default=Path("data/basis"), help="the PCA basis folder")
    p.add_argument("--model", type=Path, default=Path("data/base/model"), help="base pipeline folder")
    p.add_argument("--prompt", default=PREVIEW_PROMPT_DEFAULT, help="the fine-tuning prompt")
    p.add_argument("--preview", type=int, default=4, help="preview samples per model (0: none)")
    p.add_argument("--params", type=Path, default=Path(PARAMS_FILE),
                   help="params file whose `preview` section sets the preview's sampler")
    p.add_argument("--force", action="store_true",
                   help="replace --out if it holds an earlier output of this same command (nothing else)")


def add_space_commands(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("edit", help="edit an identity's model along attribute directions")
    which = e.add_mutually_exclusive_group(required=True)
    which.add_argument("--identity", type=int, help="identity id of the fleet model to edit")
    which.add_argument("--lora", type=Path, help="a LoRA of the space's layers to edit instead (e.g. w2w "
                                                 "invert's output folder)")
    e.add_argument("--set", action="append", default=[], metavar="ATTRIBUTE=STRENGTH",
                   help="strength in train standard deviations along the direction, e.g. Eyeglasses=+2")
    e.add_argument("--directions", type=Path, default=Path("data/directions"),
                   help="the attribute directions folder")
    e.add_argument("--delay", type=int, metavar="T",
                   help="preview with delayed injection: original weights for timesteps > T (e.g. 700)")
    add_common(e)
    e.set_defaults(func=edit_command)
    s = sub.add_parser("sample", help="sample new identities' models from the space")
    s.add_argument("--n", type=int, default=4, help="models to sample")
    s.add_argument("--seed", type=int, default=0, help="seed of the coefficient draws")
    s.add_argument("--covariance", choices=["diagonal", "full"],
                   help="Gaussian of the train coefficients: per-component variances (the default, the "
                        "reference's), or the full covariance")
    s.add_argument("--alike", type=int, default=0, metavar="N",
                   help="attributes first (not the reference's sampler): a random train identity, blended "
                        "with the N - 1 train identities nearest it in attributes (the evaluation's "
                        "evaluate_sampling.alike_people); 0: the Gaussian")
    s.add_argument("--attributes", type=Path, default=Path("data/world/identities.parquet"),
                   help="the train identities' attributes, for --alike: identity_id and true/false columns")
    add_common(s)
    s.set_defaults(func=sample_command)
    i = sub.add_parser("invert", help="a model of the identity in one image (optimises PCA coefficients)")
    i.add_argument("image", type=Path, help="one image of the identity (any size; RGBA on white)")
    i.add_argument("--mask", type=Path, help="greyscale image: where the loss counts (white)")
    add_inversion_options(i)
    add_common(i)
    i.set_defaults(func=invert_command)
    p = sub.add_parser("project", help="place a LoRA trained elsewhere in the space: its coefficients, "
                                       "reconstruction error and projected model")
    p.add_argument("lora", type=Path,
                   help="a LoRA .safetensors file or a folder holding one, in any format diffusers' "
                        "load_lora_weights reads, of the space's rank and layers")
    add_common(p)
    p.set_defaults(func=project_command)
