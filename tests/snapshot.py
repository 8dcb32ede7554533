"""Checksums of every file under a folder: proof that a failed command left everything as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """{relative path: (sha256, mode)} of every file and folder under root (.git and .venv skipped)."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in (".git", ".venv"):
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        out[str(rel)] = (digest, path.stat().st_mode)
    return out
