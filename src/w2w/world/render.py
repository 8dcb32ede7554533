"""A procedural face renderer (Pillow), supersampled so 32x32 faces stay smooth.

Every binary attribute has its own visual cue, drawn in its own place, so toggling one
attribute changes only the pixels where that cue lives. Nuisance (pose, scale, shift, light,
background, clothes, expression) varies per image; identity (attributes + traits) does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from w2w.world.identity import Identity

SUPERSAMPLE = 4
HAIR_RGB = {
    "Black_Hair": (32, 26, 24),
    "Brown_Hair": (112, 68, 36),
    "Blond_Hair": (232, 196, 104),
    "Gray_Hair": (178, 178, 182),
}
BALD_BROW_RGB = (70, 60, 55)
PALE_SKIN = (252, 236, 228)
SKIN_LIGHT, SKIN_DARK = (214, 164, 126), (112, 74, 50)


@dataclass(frozen=True)
class Nuisance:
    """Per-image variation that must not change who the person is."""

    rotation_deg: float
    scale: float
    shift: tuple[float, float]  # fraction of the image side
    brightness: float
    light_angle: float
    light_strength: float
    background_top: tuple[int, int, int]
    background_bottom: tuple[int, int, int]
    clothes: tuple[int, int, int]
    smile: float


def sample_nuisance(rng: np.random.Generator) -> Nuisance:
    def muted() -> tuple[int, int, int]:
        return tuple(int(v) for v in rng.integers(60, 200, size=3))

    return Nuisance(
        rotation_deg=float(rng.uniform(-6, 6)),
        scale=float(rng.uniform(0.95, 1.05)),
        shift=(float(rng.uniform(-0.04, 0.04)), float(rng.uniform(-0.04, 0.04))),
        brightness=float(rng.uniform(0.92, 1.08)),
        light_angle=float(rng.uniform(0, 2 * np.pi)),
        light_strength=float(rng.uniform(0.0, 0.12)),
        background_top=muted(),
        background_bottom=muted(),
        clothes=muted(),
        smile=float(rng.uniform(-0.3, 1.0)),
    )


def neutral_nuisance() -> Nuisance:
    """A fixed, centred pose: useful for tests and contact sheets."""
    grey = (128, 128, 128)
    return Nuisance(0.0, 1.0, (0.0, 0.0), 1.0, 0.0, 0.0, grey, grey, (60, 90, 140), 0.3)


def _lerp(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, ...]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))


def _shade(rgb: tuple[int, ...], factor: float) -> tuple[int, ...]:
    return tuple(int(np.clip(v * factor, 0, 255)) for v in rgb)


def _mix(a: float, b: float, g: float) -> float:
    return a * (1 - g) + b * g  # exactly a at g = 0 and b at 1: a binary identity draws as it always did


def grade(identity: Identity, name: str) -> float:
    """The strength in [0, 1] at which the attribute's cue is drawn: the identity's grade where it
    carries graded cues (w2w.world.identity.sample_grades), else 1 if it has the attribute, 0 if not."""
    if identity.grades is not None and name in identity.grades:
        return identity.grades[name]
    return float(identity.attributes[name])


def skin_rgb(identity: Identity) -> tuple[int, ...]:
    tone = (identity.traits["skin_tone"] + 1) / 2
    pale, normal = _lerp(PALE_SKIN, (246, 226, 216), tone), _lerp(SKIN_LIGHT, SKIN_DARK, tone)
    return _lerp(normal, pale, grade(identity, "Pale_Skin"))


def hair_rgb(identity: Identity) -> tuple[int, ...]:
    weights = [grade(identity, c) for c in HAIR_RGB]  # one colour, or a mix (sample_grades(coarse=True))
    colour = (tuple(int(round(sum(w * rgb[k] for w, rgb in zip(weights, HAIR_RGB.values(), strict=True))))
                    for k in range(3)) if sum(weights) > 0 else BALD_BROW_RGB)
    return _shade(colour, 1.0 + 0.12 * identity.traits["hair_shade"])


class _Canvas:
    """Draws in unit coordinates on a supersampled RGBA layer."""

    def __init__(self, side: int):
        self.side = side
        self.image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.image)

    def box(self, cx: float, cy: float, rx: float, ry: float) -> list[float]:
        s = self.side
        return [(cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s]

    def ellipse(self, cx, cy, rx, ry, fill=None, outline=None, width=0.0) -> None:
        w = max(1, round(width * self.side)) if outline else 0
        self.draw.ellipse(self.box(cx, cy, rx, ry), fill=fill, outline=outline, width=w)

    def polygon(self, points: list[tuple[float, float]], fill) -> None:
        self.draw.polygon([(x * self.side, y * self.side) for x, y in points], fill=fill)

    def line(self, points: list[tuple[float, float]], fill, width: float) -> None:
        pts = [(x * self.side, y * self.side) for x, y in points]
        self.draw.line(pts, fill=fill, width=max(1, round(width * self.side)), joint="curve")


def _face_geometry(identity: Identity) -> dict[str, float]:
    t = identity.traits
    chubby = grade(identity, "Chubby")
    rx = 0.2 * (1 + 0.07 * t["face_width"]) * _mix(1.0, 1.28, chubby)
    ry = 0.27 * (1 + 0.06 * t["face_height"]) * _mix(1.0, 1.04, chubby)
    return {"cx": 0.5, "cy": 0.46, "rx": rx, "ry": ry}


def _draw_head(c: _Canvas, identity: Identity, nuisance: Nuisance, g: dict[str, float]) -> None:
    a, t = identity.attributes, identity.traits
    skin, hair = skin_rgb(identity), hair_rgb(identity)
    cx, cy, rx, ry = g["cx"], g["cy"], g["rx"], g["ry"]
    male = grade(identity, "Male")
    if not a["Bald"] and male < 1:  # long hair falls behind the shoulders (shorter, the more male)
        length = 0.16 + 0.08 * (t["hair_length"] + 1)
        bottom = _mix(cy + length + 0.1, cy - ry * 0.2, male)
        c.polygon([(cx - rx * 1.25, cy - ry * 0.2), (cx + rx * 1.25, cy - ry * 0.2),
                   (cx + rx * 1.35, bottom), (cx - rx * 1.35, bottom)], hair)
    c.ellipse(cx, 1.06, 0.4, 0.2, fill=nuisance.clothes)  # shoulders
    c.polygon([(cx - 0.06, cy + ry * 0.6), (cx + 0.06, cy + ry * 0.6),
               (cx + 0.07, 0.86), (cx - 0.07, 0.86)], _shade(skin, 0.9))  # neck
    ear = 0.035 * (1 + 0.6 * t["ear_size"])
    for side in (-1, 1):
        c.ellipse(cx + side * rx * 0.98, cy + 0.01, ear, ear * 1.5, fill=_shade(skin, 0.92))
    c.ellipse(cx, cy, rx, ry, fill=skin)
    square = 0.5 * (t["jaw_square"] + 1) * _mix(0.45, 0.9, male)
    if square > 0.05:  # a squarer jaw: fill the lower corners of the ellipse
        jaw_w = rx * (0.55 + 0.35 * square)
        c.polygon([(cx - rx, cy), (cx + rx, cy), (cx + jaw_w, cy + ry * 0.93),
                   (cx - jaw_w, cy + ry * 0.93)], skin)
    chubby, young = grade(identity, "Chubby"), grade(identity, "Young")
    if chubby > 0:
        blush = _lerp(skin, (226, 128, 128), chubby)
        for side in (-1, 1):
            c.ellipse(cx + side * rx * 0.55, cy + ry * 0.3, rx * 0.24, ry * 0.14, fill=blush)
    if young < 1:  # forehead lines, nasolabial folds and eye bags, bold enough for 8x8 latents
        wrinkle = _lerp(_shade(skin, 0.45), skin, young)
        for k in range(2):
            y = cy - ry * (0.42 + 0.11 * k)
            c.line([(cx - rx * 0.55, y), (cx, y - 0.006), (cx + rx * 0.55, y)], wrinkle, 0.028)
        for side in (-1, 1):
            c.line([(cx + side * rx * 0.26, cy + ry * 0.1), (cx + side * rx * 0.46, cy + ry * 0.55)],
                   wrinkle, 0.028)
            c.line([(cx + side * rx * 0.28, cy + ry * 0.03), (cx + side * rx * 0.6, cy + ry * 0.03)],
                   wrinkle, 0.022)
    if a["Bald"]:
        c.ellipse(cx - rx * 0.25, cy - ry * 0.72, rx * 0.22, ry * 0.09, fill=_shade(skin, 1.18))
    else:
        hairline = cy - ry * (0.63 + 0.08 * t["fringe"])
        box = c.box(cx, hairline, rx * 1.1, ry * 0.62 + (hairline - (cy - ry)) * 0.1)
        c.draw.chord(box, 180, 360, fill=hair)
        part = cx + rx * 0.6 * t["hair_part"]
        c.polygon([(cx - rx * 1.08, hairline), (part, hairline - 0.01),
                   (part + 0.02 * np.sign(t["hair_part"] + 1e-9), hairline + 0.05),
                   (cx - rx * 1.02, hairline + 0.07)], hair)


def _draw_features(c: _Canvas, identity: Identity, nuisance: Nuisance, g: dict[str, float]) -> None:
    t = identity.traits
    skin, hair = skin_rgb(identity), hair_rgb(identity)
    cx, cy, rx, ry = g["cx"], g["cy"], g["rx"], g["ry"]
    eye_y = cy - ry * (0.12 + 0.08 * t["eye_height"])
    eye_dx = rx * (0.42 + 0.14 * t["eye_spacing"])
    eye_rx, eye_ry = 0.042, 0.03
    iris = _lerp((40, 120, 210), (80, 45, 20), (t["iris_hue"] + 1) / 2)
    male = grade(identity, "Male")
    brow_w = 0.010 + 0.018 * (t["brow_thickness"] + 1) + 0.004 * male
    beard_strength = 1 - grade(identity, "No_Beard")
    if beard_strength > 0:
        beard = _lerp(skin, _shade(hair, 0.85), beard_strength)
        c.polygon([(cx - rx * 0.98, cy + ry * 0.05), (cx - rx * 0.6, cy + ry * 0.95),
                   (cx, cy + ry * 1.12), (cx + rx * 0.6, cy + ry * 0.95),
                   (cx + rx * 0.98, cy + ry * 0.05), (cx + rx * 0.5, cy + ry * 0.5),
                   (cx - rx * 0.5, cy + ry * 0.5)], beard)
    narrow, glasses = grade(identity, "Narrow_Eyes"), grade(identity, "Eyeglasses")
    frame = _lerp(skin, (20, 20, 24), glasses)
    for side in (-1, 1):
        ex = cx + side * eye_dx
        if narrow == 1:  # a dark slit, no white showing
            c.line([(ex - eye_rx, eye_y), (ex + eye_rx, eye_y)], (40, 30, 30), 0.014)
        elif narrow == 0:
            c.ellipse(ex, eye_y, eye_rx, eye_ry, fill=(250, 250, 250))
            c.ellipse(ex, eye_y, 0.024, 0.024, fill=iris)
        else:  # half-way: the opening closes towards the slit under a darkening upper lid
            open_ry = _mix(eye_ry, 0.006, narrow)
            c.ellipse(ex, eye_y, eye_rx, open_ry, fill=(250, 250, 250))
            c.ellipse(ex, eye_y, 0.024, min(0.024, open_ry), fill=iris)
            c.line([(ex - eye_rx, eye_y - open_ry), (ex + eye_rx, eye_y - open_ry)], (40, 30, 30),
                   0.014 * narrow)
        tilt = 0.05 * t["brow_tilt"] * side
        c.line([(ex - eye_rx, eye_y - 0.042 + tilt), (ex + eye_rx, eye_y - 0.042 - tilt)],
               _shade(hair, 0.8), brow_w)
        if glasses > 0:
            c.ellipse(ex, eye_y, 0.058, 0.046, outline=frame, width=0.014)
    if glasses > 0:
        c.line([(cx - eye_dx + 0.058, eye_y), (cx + eye_dx - 0.058, eye_y)], frame, 0.012)
    nose_y = cy + ry * (0.24 + 0.24 * t["nose_length"])
    big = grade(identity, "Big_Nose")  # the small nose at 0, the big one at 1
    top, half, drop = eye_y + _mix(0.045, 0.005, big), _mix(0.024, 0.075, big), _mix(0.0, 0.035, big)
    c.polygon([(cx, top), (cx - half, nose_y + drop), (cx + half, nose_y + drop)],
              _shade(skin, _mix(0.78, 0.55, big)))
    mouth_y = cy + ry * 0.55
    half = rx * (0.38 + 0.28 * t["mouth_width"])
    bend = 0.03 * nuisance.smile
    lips = _lerp((170, 40, 60), _shade(skin, 0.45), male)
    c.line([(cx - half, mouth_y - bend), (cx, mouth_y + bend), (cx + half, mouth_y - bend)], lips,
           _mix(0.018, 0.014, male) * (1 + 0.5 * t["mouth_width"]))


def render_face(identity: Identity, nuisance: Nuisance, size: int = 32,
                painting: bool = False) -> np.ndarray:
    """Render one image, (size, size, 3) uint8."""
    side = size * SUPERSAMPLE
    image = _background(side, nuisance)
    image.alpha_composite(person_layer(identity, nuisance, side))
    pixels = _light(np.asarray(image.convert("RGB"), dtype=np.float32), nuisance)
    big = Image.fromarray(pixels)
    if painting:
        from w2w.world.stylise import paint

        big = paint(big, seed=identity.identity_id)
    return np.asarray(big.resize((size, size), Image.Resampling.BOX), dtype=np.uint8)


def person_layer(identity: Identity, nuisance: Nuisance, side: int) -> Image.Image:
    """The person (head, hair, features, clothes) drawn at `side` x `side` supersampled pixels,
    posed, on a transparent RGBA layer: what `render_face` lays over the background."""
    canvas = _Canvas(side)
    geometry = _face_geometry(identity)
    _draw_head(canvas, identity, nuisance, geometry)
    _draw_features(canvas, identity, nuisance, geometry)
    return _pose(canvas.image, nuisance)


def _pose(layer: Image.Image, n: Nuisance) -> Image.Image:
    """Rotate, scale and shift about the image centre (inverse affine for Pillow)."""
    side = layer.width
    theta = np.deg2rad(n.rotation_deg)
    cos, sin = np.cos(theta) / n.scale, np.sin(theta) / n.scale
    c = side / 2
    tx, ty = c + n.shift[0] * side, c + n.shift[1] * side
    coeffs = (cos, sin, c - cos * tx - sin * ty, -sin, cos, c + sin * tx - cos * ty)
    return layer.transform(layer.size, Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)


def _background(side: int, n: Nuisance) -> Image.Image:
    t = np.linspace(0.0, 1.0, side, dtype=np.float32)[:, None, None]
    top, bottom = np.array(n.background_top, np.float32), np.array(n.background_bottom, np.float32)
    rows = top * (1 - t) + bottom * t
    rgb = np.broadcast_to(rows, (side, side, 3)).astype(np.uint8)
    return Image.fromarray(rgb).convert("RGBA")


def _light(pixels: np.ndarray, n: Nuisance) -> np.ndarray:
    side = pixels.shape[0]
    grid = np.linspace(-1.0, 1.0, side, dtype=np.float32)
    ramp = np.cos(n.light_angle) * grid[None, :] + np.sin(n.light_angle) * grid[:, None]
    gain = n.brightness * (1.0 + n.light_strength * ramp)
    return np.clip(pixels * gain[..., None], 0, 255).astype(np.uint8)
