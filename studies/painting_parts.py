"""Which part of the painting w2w's model carries (issue 17, claim 3; train identities only).

    python studies/painting_parts.py [--identities N] [INPUT ...]   # all inputs: about 20 minutes

From the painting, w2w's samples are called renders by the style head about a third of the time
(goal 0.9). The README's explanation, that the coefficients w2w finds still hold the painting's
palette and outlines, had not been measured. The world's painting (`w2w.world.stylise.paint`) is
five operations on the supersampled render: brush smoothing (a median filter), posterised colour,
a warm palette (saturation and a warm shift), dark outlines on edges, and a canvas weave with
brush strokes. Each validation train identity (`inversion_fit.py`'s 32 and its basis: every other
train adapter) is drawn once more from its painting's own nuisance draw, as
- `render`: no operation (the painting's source render);
- `painting`: all five (the stage's painting, checked byte for byte against the library's);
- `only_<part>`: that operation alone; `without_<part>`: the other four;
and each image is turned into a model by w2w and by the single-image LoRA, sampled and scored as
the stage scores them (judge similarity to 8 fresh renders, trait error, share of samples the
style head calls renders), paired against the same method from the source render. Beside them the
style head's call on the input itself, how much of each input's change survives the base's VAE
round trip (what any model generating through it can at best reproduce), and the warmth of the
samples (mean red minus blue, in pixel levels, against the identity's references'), which the
palette moves and nothing in the world's renders does: how much of the input's warmth each
method's model passes on.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
from fleet_fit import ci, difference  # studies/: the script's folder is first on sys.path
from inversion_fit import one_image_models, validation_space
from PIL import Image, ImageEnhance, ImageFilter, ImageOps
from variants import parse_variants

import w2w.world.stylise as stylise
from w2w.base.latents import round_trip
from w2w.evaluate.context import Context
from w2w.evaluate.inversion import Scored, score_models
from w2w.evaluate.judged import realistic_fractions, truth_of
from w2w.params import load_params
from w2w.storage import STREAM_OOD
from w2w.world.dataset import identities_from_table, render_identity
from w2w.world.references import identity_references

DATA = Path("data")
PARTS = ("brush", "posterise", "palette", "outlines", "canvas")
PALETTE_STRENGTHS = (0.25, 0.5, 0.75, 1.0)
INPUTS = {"render": (), "painting": PARTS}
INPUTS.update({f"only_{part}": (part,) for part in PARTS})
INPUTS.update({f"without_{part}": tuple(p for p in PARTS if p != part) for part in PARTS})


def paint_parts(image: Image.Image, seed: int, parts: tuple[str, ...], palette: float = 1.0) -> Image.Image:
    """`stylise.paint` with only `parts` of its operations, each as the library applies it; the
    palette's saturation and warm shift at `palette` times their strength."""
    smooth = image.filter(ImageFilter.MedianFilter(5)) if "brush" in parts else image
    vivid = ImageEnhance.Color(smooth).enhance(1 + 0.3 * palette) if "palette" in parts else smooth
    poster = ImageOps.posterize(vivid, 3) if "posterise" in parts else vivid
    pixels = np.asarray(poster, dtype=np.float32)
    if "palette" in parts:
        gain = 1 + palette * (np.array([1.08, 0.97, 0.82], np.float32) - 1)
        pixels = pixels * gain + palette * np.array([18, 8, 0], np.float32)
    if "outlines" in parts:
        edges = np.asarray(smooth.convert("L").filter(ImageFilter.FIND_EDGES), np.float32)
        pixels *= (1.0 - np.clip(edges / 90.0, 0, 0.6))[..., None]
    if "canvas" in parts:
        side = pixels.shape[0]
        yy, xx = np.mgrid[0:side, 0:side]
        weave = 6.0 * np.sin(xx * 0.9) * np.sin(yy * 0.9)
        rng = np.random.default_rng(seed)
        strokes = rng.normal(0.0, 5.0, size=(side // 4, side // 4, 1)).repeat(4, 0).repeat(4, 1)
        pixels = pixels + weave[..., None] + strokes
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@contextmanager
def painted_with(parts: tuple[str, ...], palette: float = 1.0):
    """The world's renderer paints with `parts` only (render_face reads stylise.paint when it paints)."""
    library = stylise.paint
    stylise.paint = partial(paint_parts, parts=parts, palette=palette)
    try:
        yield
    finally:
        stylise.paint = library


def drawn(people, seed: int, size: int, parts: tuple[str, ...], palette: float = 1.0) -> np.ndarray:
    """(M, S, S, 3): each person's painting draw (its nuisance) with `parts` of the painting."""
    with painted_with(parts, palette):
        return np.stack([render_identity(person, 1, seed, STREAM_OOD, size, painting=True)[0]
                         for person in people])


def warmth(images: np.ndarray) -> np.ndarray:
    """(M,) mean red minus mean blue over each row's images (M, ..., S, S, 3), in pixel levels."""
    x = images.astype(np.float32)
    return (x[..., 0] - x[..., 2]).reshape(len(x), -1).mean(1)


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, INPUTS, identities=32)
    params = load_params()
    p, fp, seed = params.evaluate_inversion, params.finetune, params.synthesize.seed
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    rows, basis = validation_space(ctx, params, args.identities)
    table = ctx.table.iloc[rows]
    people = identities_from_table(table)
    library = np.stack([render_identity(person, 1, seed, STREAM_OOD, ctx.image_size, painting=True)[0]
                        for person in people])
    if not np.array_equal(drawn(people, seed, ctx.image_size, PARTS), library):
        sys.exit("paint_parts with every part is not the library's paint: update this study")
    renders = identity_references(ctx.world, table, p.renders_per_identity, p.seed)
    truth, traits = table[ctx.judge.attribute_names].to_numpy(dtype=bool), truth_of(table)
    reference_warmth = warmth(renders)
    names = ["render"] + [n for n in args.variants if n != "render"]
    source = drawn(people, seed, ctx.image_size, ())
    source_trip = round_trip(ctx.pipe.vae, source).astype(np.float32)  # what any generated image can hold
    scores: dict[str, dict[str, Scored]] = {}
    for strength in PALETTE_STRENGTHS:  # the yardstick first: how much palette makes a render a painting
        images = drawn(people, seed, ctx.image_size, ("palette",), strength)
        print(f"the source render with the palette at {strength:g} of its strength (warmth "
              f"{np.mean(warmth(images) - warmth(source)):+.1f}): called a render "
              f"{realistic_fractions(ctx.judge, images[:, None]).mean():.3f}", flush=True)
    train = np.flatnonzero(~ctx.heldout)  # how much people's own colouring moves warmth
    own = warmth(np.asarray(ctx.images.get_orthogonal_selection((train, slice(None)))))
    print(f"the {len(train)} train identities' training renders: mean warmth {own.mean():+.1f}, sd "
          f"{own.std():.1f} between identities", flush=True)
    print("warmth: mean red - blue against the references' (the source render's input "
          f"{np.mean(warmth(source) - reference_warmth):+.1f} levels)", flush=True)
    for name in names:
        images = drawn(people, seed, ctx.image_size, INPUTS[name])
        called = realistic_fractions(ctx.judge, images[:, None]).mean()  # each image a one-sample row
        shift = warmth(images) - warmth(source)
        change = np.abs(images.astype(np.float32) - source).mean()
        kept = np.abs(round_trip(ctx.pipe.vae, images).astype(np.float32) - source_trip).mean()
        print(f"\n{name}: the input called a render {called:.3f}, its warmth {shift.mean():+.1f} over the "
              f"source render's; it differs from the source by {change:.1f} levels a pixel, after the base's "
              f"VAE round trip by {kept:.1f}", flush=True)
        scores[name] = {}
        for method in ("w2w", "lora"):
            weights = one_image_models(method, ctx, basis, images, table, p, fp)
            s = score_models(ctx, weights, renders, truth, traits, p, f"{name} {method}")
            scores[name][method] = s
            passed = warmth(s.samples) - reference_warmth
            line = (f"  {method:4s} similarity {s.similarity.mean():.3f} {ci(s.similarity)}  trait error "
                    f"{s.trait_error.mean():.3f}  realistic {s.realistic.mean():.3f} {ci(s.realistic)}  "
                    f"samples' warmth {passed.mean():+.1f}")
            if name != "render":
                r = scores["render"][method]
                line += (f"\n       vs from the render: similarity {difference(s.similarity, r.similarity)}, "
                         f"trait {difference(s.trait_error, r.trait_error)}, realistic "
                         f"{difference(s.realistic, r.realistic)}, warmth passed on "
                         f"{difference(passed, warmth(r.samples) - reference_warmth)}")
            print(line, flush=True)
        if name != "render":
            w, lo = scores[name]["w2w"], scores[name]["lora"]
            print(f"  w2w - LoRA: similarity {difference(w.similarity, lo.similarity)}, realistic "
                  f"{difference(w.realistic, lo.realistic)}, samples' warmth "
                  f"{difference(warmth(w.samples), warmth(lo.samples))}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
