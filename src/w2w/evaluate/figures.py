"""Image grids and curve files the evaluation stages write (for DVC plots, MLflow and the report)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from w2w.atomic import atomic_path


def grid_image(images: np.ndarray, scale: int = 2) -> Image.Image:
    """(R, C, S, S, 3) uint8 as one R x C picture, each tile scaled up `scale` times (nearest)."""
    r, c, s = images.shape[:3]
    sheet = images.transpose(0, 2, 1, 3, 4).reshape(r * s, c * s, 3)
    return Image.fromarray(sheet).resize((c * s * scale, r * s * scale), Image.Resampling.NEAREST)


def save_png(image: Image.Image, path: Path) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def write_csv(path: Path, rows: list[dict]) -> None:
    """Rows of equal keys as a CSV (the header from the first row); None is an empty cell."""
    keys = list(rows[0])

    def cell(v) -> str:
        return f"{v:.6g}" if isinstance(v, float) else "" if v is None else str(v)
    lines = [",".join(keys)] + [",".join(cell(row[k]) for k in keys) for row in rows]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
