"""The `synthesize` stage's library: identities, renders, OOD paintings, table and captions.

Output folder layout (all written in one atomic rename):
    images.zarr/          Zarr v3 group
        images            (N, K, S, S, 3) uint8, every identity, row order = identities.parquet
        ood               (H, K_ood, S, S, 3) uint8, painting-style renders of held-out identities
        ood_identity_ids  (H,) int64
    identities.parquet    identity_id, split, one bool column per attribute, trait_* floats, and
                          grade_* floats where the world grades its cues (images.zarr's "grading")
    captions.json         generic prompt, caption per identity, vocabulary
    contact_sheet.png     first images of the first identities
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import zarr
from PIL import Image
from tqdm import tqdm

from w2w.params import SynthesizeParams
from w2w.storage import COMPRESSORS, STREAM_IMAGES, STREAM_OOD
from w2w.world.captions import GENERIC_PROMPT, caption_for, vocabulary
from w2w.world.identity import ATTRIBUTES, TRAITS, UNGRADED, Grading, Identity, split_identities
from w2w.world.render import render_face, sample_nuisance
from w2w.world.workers import map_in_processes


def render_identity(identity: Identity, n: int, seed: int, stream: int, size: int,
                    painting: bool = False) -> np.ndarray:
    """n renders of one identity, (n, size, size, 3) uint8; nuisance from (seed, id, stream)."""
    rng = np.random.default_rng([seed, identity.identity_id, stream])
    return np.stack([render_face(identity, sample_nuisance(rng), size, painting) for _ in range(n)])


def render_identities(identities: list[Identity], n: int, seed: int, stream: int, size: int,
                      painting: bool = False, desc: str | None = None) -> np.ndarray:
    """`render_identity` of each identity, (M, n, size, size, 3) uint8, drawn on every core
    (w2w.world.workers); the same bytes as one after another. `desc`: a progress bar's label."""
    draw = partial(render_identity, n=n, seed=seed, stream=stream, size=size, painting=painting)
    return np.stack(map_in_processes(draw, identities, desc))


def identity_table(identities: list[Identity], heldout: np.ndarray) -> pd.DataFrame:
    rows = []
    for identity, is_heldout in zip(identities, heldout, strict=True):
        row = {"identity_id": identity.identity_id, "split": "heldout" if is_heldout else "train"}
        row.update(identity.attributes)
        row.update({f"trait_{k}": v for k, v in identity.traits.items()})
        row.update({f"grade_{k}": v for k, v in (identity.grades or {}).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def identities_from_table(table: pd.DataFrame) -> list[Identity]:
    """The table's people as the world drew them, graded cues included where it has grade_* columns."""
    graded = [c for c in table.columns if c.startswith("grade_")]
    return [Identity(int(row["identity_id"]), {a: bool(row[a]) for a in ATTRIBUTES},
                     {t: float(row[f"trait_{t}"]) for t in TRAITS},
                     {c.removeprefix("grade_"): float(row[c]) for c in graded} if graded else None)
            for _, row in table.iterrows()]


def _write_images(group: zarr.Group, name: str, identities: list[Identity], per_identity: int,
                  p: SynthesizeParams, stream: int, painting: bool) -> None:
    size, block = p.image_size, p.block_identities
    array = group.create_array(name, shape=(len(identities), per_identity, size, size, 3),
                               chunks=(block, per_identity, size, size, 3), dtype="uint8",
                               compressors=COMPRESSORS)
    label = "painting" if painting else "render"
    for start in tqdm(range(0, len(identities), block), desc=f"synthesize {label}", unit="block"):
        chunk = identities[start:start + block]
        array[start:start + len(chunk)] = render_identities(chunk, per_identity, p.seed, stream, size,
                                                            painting)


def contact_sheet(images: np.ndarray, rows: int = 8, cols: int = 8) -> Image.Image:
    """Grid of images (n, S, S, 3) with the first `rows*cols` of them."""
    s = images.shape[1]
    sheet = np.zeros((rows * s, cols * s, 3), dtype=np.uint8)
    for i, image in enumerate(images[: rows * cols]):
        r, c = divmod(i, cols)
        sheet[r * s:(r + 1) * s, c * s:(c + 1) * s] = image
    return Image.fromarray(sheet)


def synthesize_world(p: SynthesizeParams, out: Path) -> dict[str, float]:
    """Build the whole world into folder `out` (which must not exist yet); returns a summary."""
    grading = Grading(p.graded_cues, p.grade_margin, p.trait_factors, p.trait_communality)
    identities = [grading.draw(i, p.seed) for i in range(p.identities)]
    heldout = split_identities(p.identities, p.heldout_fraction, p.seed)
    table = identity_table(identities, heldout)
    table.to_parquet(out / "identities.parquet", index=False)
    group = zarr.open_group(out / "images.zarr", mode="w", zarr_format=3)
    group.attrs.update({"attributes": list(ATTRIBUTES), "image_size": p.image_size,
                        "layout": "images: (identity, image, y, x, rgb) uint8"})
    if grading != UNGRADED:  # what the judge's fresh people are drawn with; a world without is ungraded
        group.attrs["grading"] = grading.as_attrs()
    _write_images(group, "images", identities, p.images_per_identity, p, STREAM_IMAGES, False)
    held = [i for i, h in zip(identities, heldout, strict=True) if h]
    _write_images(group, "ood", held, p.ood_images_per_identity, p, STREAM_OOD, True)
    group.create_array("ood_identity_ids", data=np.array([i.identity_id for i in held], np.int64))
    captions = {str(i.identity_id): caption_for(i.attributes) for i in identities}
    (out / "captions.json").write_text(json.dumps({
        "generic": GENERIC_PROMPT, "identities": captions,
        "vocabulary": vocabulary([GENERIC_PROMPT, *captions.values()]),
    }, indent=1, sort_keys=True) + "\n")
    firsts = np.asarray(group["images"][:64, 0])
    contact_sheet(firsts).save(out / "contact_sheet.png", optimize=False)
    summary = {"identities": float(p.identities), "heldout_identities": float(heldout.sum()),
               "images": float(p.identities * p.images_per_identity)}
    summary.update({f"rate.{a}": float(table[a].mean()) for a in ATTRIBUTES})
    return summary
