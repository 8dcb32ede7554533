"""`synthesize.source: folder`: real identities from a folder of per-identity image folders.

Layout read:
    <folder>/<identity name>/*.{png,jpg,jpeg,webp,bmp}   one folder per identity
    <attributes_file>   list_attr_celeba.txt format: a count line, a line of attribute names, then
                        `<key> v1 v2 ...` with values -1/1, keyed by identity folder name, or by
                        image (file name or `<identity>/<file>`; an identity's label is then the
                        majority over its images)

Written: the same data/world layout as the miniature world (see w2w.world.dataset), with the
attributes from the file and captions made from them. Each identity's readable images are shuffled
with the seed: the first `images_per_identity` are what its LoRA trains on (`images`), the next
`references_per_identity` are held back (`references`), the evaluation's stand-in for the miniature
world's fresh renders; any more are left out. The OOD set is the world's "painting" filter
applied to held-out identities' last training photos (a painted reference would be compared with
the photo it was painted from). Unreadable images are reported by path and
skipped; identities with too few readable images, or without labels, are reported and skipped.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import zarr
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from w2w.params import SynthesizeParams
from w2w.world.captions import GENERIC_PROMPT, caption_for, vocabulary
from w2w.world.identity import split_identities
from w2w.world.stylise import paint

SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


def read_attribute_file(path: Path) -> pd.DataFrame:
    """list_attr_celeba.txt -> bool DataFrame indexed by key."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no attribute file (synthesize.attributes_file)")
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if len(lines) < 3 or not lines[0][0].isdigit():
        raise ValueError(f"{path}: not in list_attr_celeba.txt format (count, names, rows)")
    names, rows = lines[1], lines[2:]
    bad = [r[0] for r in rows if len(r) != len(names) + 1 or any(v not in ("-1", "1") for v in r[1:])]
    if bad:
        raise ValueError(f"{path}: rows {bad[:3]} need {len(names)} values of -1/1")
    return pd.DataFrame([[v == "1" for v in r[1:]] for r in rows], index=[r[0] for r in rows], columns=names)


def rgb_on_white(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited on white (greyscale and palettes converted too)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return image.convert("RGB")


def load_square(path: Path, size: int) -> np.ndarray:
    """An image file as uint8 (size, size, 3): alpha on white, centre-cropped, resized."""
    with Image.open(path) as opened:
        opened.load()
        image = opened.copy()
    image = ImageOps.fit(rgb_on_white(image), (size, size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def identity_labels(labels: pd.DataFrame, name: str, files: list[Path]) -> pd.Series | None:
    if name in labels.index:
        return labels.loc[name]
    keys = [k for f in files for k in (f"{name}/{f.name}", f.name) if k in labels.index]
    return labels.loc[keys].mean() > 0.5 if keys else None


def read_identities(p: SynthesizeParams, labels: pd.DataFrame, report: list[str]):
    """[(name, images (n + r, S, S, 3), label row)], at most p.identities, in folder-name order:
    n training images, then r held back, drawn in a seeded order of the identity's readable images."""
    root = Path(p.folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no identity folder (synthesize.folder)")
    needed = p.images_per_identity + p.references_per_identity
    found = []
    for folder in tqdm(sorted(d for d in root.iterdir() if d.is_dir()), desc="read identities", unit="id"):
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in SUFFIXES)
        # seeded by the folder's name: an identity's split does not depend on the other folders
        images = []
        for f in files:
            try:
                images.append(load_square(f, p.image_size))
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
                report.append(f"bad image skipped: {f} ({type(error).__name__})")
        order = np.random.default_rng([p.seed, zlib.crc32(folder.name.encode())]).permutation(len(images))
        images = [images[k] for k in order[:needed]]
        row = identity_labels(labels, folder.name, files)
        if len(images) < needed:
            report.append(f"identity skipped: {folder} has {len(images)} readable images, needs {needed} "
                          f"({p.images_per_identity} to train on, {p.references_per_identity} held back)")
        elif row is None:
            report.append(f"identity skipped: {folder} has no labels in the attribute file")
        else:
            found.append((folder.name, np.stack(images), row))
        if len(found) == p.identities:
            break
    return found


def read_identity_folder(p: SynthesizeParams, out: Path) -> dict[str, float]:
    """Write the world layout into `out` from p.folder; returns the summary (with report counts)."""
    labels, report = read_attribute_file(Path(p.attributes_file)), []
    found = read_identities(p, labels, report)
    for line in report:
        print(line)
    if len(found) < 4:
        raise ValueError(f"{p.folder}: {len(found)} usable identities, need at least 4 (see the report)")
    heldout = split_identities(len(found), p.heldout_fraction, p.seed)
    table = pd.DataFrame([{"identity_id": i, "split": "heldout" if h else "train", "name": name,
                           **{a: bool(v) for a, v in row.items()}}
                          for i, ((name, _, row), h) in enumerate(zip(found, heldout, strict=True))])
    table.to_parquet(out / "identities.parquet", index=False)
    group = zarr.open_group(out / "images.zarr", mode="w", zarr_format=3)
    group.attrs.update({"attributes": list(labels.columns), "image_size": p.image_size, "source": "folder",
                        "layout": "images: (identity, image, y, x, rgb) uint8"})
    n = p.images_per_identity
    group.create_array("images", data=np.stack([images[:n] for _, images, _ in found]))
    group.create_array("references", data=np.stack([images[n:] for _, images, _ in found]))
    # paintings of the last training photos: never a reference (they would be compared with the very
    # photo they were painted from), nor the first, the in-distribution inversion's input (n > 1)
    held = [images[:n][max(0, n - p.ood_images_per_identity):]
            for (_, images, _), h in zip(found, heldout, strict=True) if h]
    ood = np.stack([np.stack([np.asarray(paint(Image.fromarray(im), p.seed + k)) for k, im in enumerate(x)])
                    for x in held])  # the world's painting filter on real photos
    group.create_array("ood", data=ood)
    group.create_array("ood_identity_ids", data=np.flatnonzero(heldout).astype(np.int64))
    captions = {str(i): caption_for({a: bool(v) for a, v in row.items()})
                for i, (_, _, row) in enumerate(found)}
    (out / "captions.json").write_text(json.dumps({
        "generic": GENERIC_PROMPT, "identities": captions,
        "vocabulary": vocabulary([GENERIC_PROMPT, *captions.values()])}, indent=1, sort_keys=True) + "\n")
    firsts = np.stack([images[0] for _, images, _ in found[:64]])  # a training image each
    from w2w.world.dataset import contact_sheet

    contact_sheet(firsts).save(out / "contact_sheet.png")
    bad = sum(line.startswith("bad image") for line in report)
    return {"identities": float(len(found)), "heldout_identities": float(heldout.sum()),
            "images": float(len(found) * p.images_per_identity),
            "references": float(len(found) * p.references_per_identity), "bad_images": float(bad),
            "skipped_identities": float(len(report) - bad),
            **{f"rate.{a}": float(table[a].mean()) for a in labels.columns}}
