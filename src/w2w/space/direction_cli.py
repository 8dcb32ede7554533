"""`w2w direction NAME --from A/ --to B/`: a direction of the space from two folders of images.

Writes a directions folder that `w2w edit --directions` reads: the space's attribute directions
(`--directions`, unless `--alone`) with the new one beside them; arrays `from_coefficients` and
`to_coefficients` (n, k), each image's model in the space; and info.json recording the images (in
those rows' order), the inversion's settings and where each folder's models sit along the direction.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from w2w.errors import InputError
from w2w.outputs import claim_output
from w2w.space.inversion_options import add_inversion_options, check_inversion_steps, check_timesteps


def invert_folder(space, pipe, files: list[Path], args: argparse.Namespace, lr: float, seed: int
                  ) -> np.ndarray:
    """(n, k) coefficients of each image's model, `args.images_per_pass` images at a time (one
    batched inversion each); image j draws its noise from seed + j."""
    from w2w.space.invert import invert_batch, load_image

    size, chunk = int(pipe.vae.config.sample_size), args.images_per_pass
    found = []
    for start in range(0, len(files), chunk):
        images = np.stack([load_image(path, size) for path in files[start:start + chunk]])
        print(f"inverting {start + 1}-{start + len(images)} of {len(files)} ({files[0].parent})", flush=True)
        found.append(invert_batch(pipe, space.basis, space.layout, space.lora["r"], space.lora["lora_alpha"],
                                  images, args.prompt, args.k or space.basis.k, args.steps, lr,
                                  seed + start, timestep_range=None if args.timesteps is None
                                  else tuple(args.timesteps)))
    return np.concatenate(found)


def check_options(args: argparse.Namespace) -> None:
    """The options alone, before any file is read."""
    check_inversion_steps(args)
    if args.images_per_pass < 1:
        raise ValueError(f"--images-per-pass must be positive, got {args.images_per_pass}")
    if not args.name.isidentifier():  # it becomes `--set NAME=STRENGTH` and a key in JSON
        raise ValueError(f"direction name {args.name!r}: use letters, digits and _, e.g. Painting")
    if args.source.resolve() == args.target.resolve():
        raise ValueError(f"--from and --to are the same folder ({args.source}): no direction between them")


def direction_command(args: argparse.Namespace) -> int:
    check_options(args)
    from w2w.space.image_direction import image_files

    source, target = image_files(args.source, "--from"), image_files(args.target, "--to")
    if not args.alone and not (args.directions / "zarr.json").is_file():
        raise ValueError(f"--directions {args.directions}: no directions folder (run the directions "
                         "stage, or pass --alone to write the new direction by itself)")
    claim_output(args.out, "direction", args.force)  # before the heavy imports: a refusal is at once
    check_timesteps(args)
    import zarr

    from w2w.base.pipeline import load_pipeline
    from w2w.outputs import output_folder
    from w2w.space.directions import Directions
    from w2w.space.image_direction import direction_between, positions_summary, with_direction
    from w2w.space.invert import DEFAULT_LR
    from w2w.space.loader import Space
    from w2w.storage import COMPRESSORS

    space = Space.open(args.weights, args.basis)
    existing = None if args.alone else Directions.load(args.directions)
    debias = {} if args.alone else dict(zarr.open_group(args.directions, mode="r").attrs.get("debias", {}))
    pipe = load_pipeline(args.model)
    lr = DEFAULT_LR if args.lr is None else args.lr
    coefficients = [invert_folder(space, pipe, files, args, lr, args.seed + offset)
                    for files, offset in ((source, 0), (target, len(source)))]
    try:
        found = direction_between(*coefficients, space.basis.train_coefficients)
    except InputError as error:  # name the folders the user gave
        raise InputError(f"--from {args.source} and --to {args.target}: {error}") from None
    directions = with_direction(existing, args.name, found)
    info = {"command": "direction", "name": args.name, "from": [str(p) for p in source],
            "to": [str(p) for p in target], "directions": None if args.alone else str(args.directions),
            "k": args.k, "steps": args.steps, "lr": lr, "seed": args.seed, "timesteps": args.timesteps,
            "strength_unit": "std of train coefficients along the direction",
            "offset": found.offset, "from_positions": found.source.tolist(),
            "to_positions": found.target.tolist()}
    with output_folder(args.out, "direction", args.force, info) as tmp:
        directions.save(tmp, debias)
        group = zarr.open_group(tmp, mode="a")  # each image's model, to refit from without inverting again
        for side, models in zip(("from", "to"), coefficients, strict=True):
            group.create_array(f"{side}_coefficients", data=models.astype(np.float32),
                               compressors=COMPRESSORS)
    print(positions_summary(found))
    print(f"wrote {args.out}: `w2w edit --directions {args.out} --set {args.name}={-found.offset:+.1f}` "
          "moves a model by the folders' difference, back from --to towards --from")
    return 0


def add_direction_command(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("direction", help="a direction of the space from two folders of images (e.g. photos "
                                         "and paintings of the same people), for w2w edit")
    d.add_argument("name", help="the direction's name, as `w2w edit --set NAME=STRENGTH` will call it")
    d.add_argument("--from", dest="source", type=Path, required=True, metavar="FOLDER",
                   help="images at the direction's start (e.g. photos)")
    d.add_argument("--to", dest="target", type=Path, required=True, metavar="FOLDER",
                   help="images at its end (e.g. paintings of the same people)")
    d.add_argument("--out", type=Path, required=True, help="the directions folder to write")
    d.add_argument("--directions", type=Path, default=Path("data/directions"),
                   help="attribute directions to keep beside the new one")
    d.add_argument("--alone", action="store_true", help="write the new direction by itself")
    d.add_argument("--weights", type=Path, default=Path("data/weights.zarr"),
                   help="the stacked fleet (its adapter layout)")
    d.add_argument("--basis", type=Path, default=Path("data/basis"), help="the PCA basis folder")
    d.add_argument("--model", type=Path, default=Path("data/base/model"), help="base pipeline folder")
    d.add_argument("--prompt", default="sks person", help="the fine-tuning prompt")
    add_inversion_options(d)  # each image's, as w2w invert's (studies/painting_direction.py: 400 1000)
    d.add_argument("--images-per-pass", type=int, default=16,
                   help="images inverted together in one batched pass (fewer: less memory, e.g. on a GPU at "
                        "the real scale)")
    d.add_argument("--force", action="store_true",
                   help="replace --out if it holds an earlier output of this same command (nothing else)")
    d.set_defaults(func=direction_command)
