"""Locating the project root (where dvc.yaml lives) and its git commit."""

from __future__ import annotations

import subprocess
from pathlib import Path


def repo_root(start: str | Path | None = None) -> Path:
    """Nearest ancestor of `start` (default: cwd) holding dvc.yaml or .dvc; else `start`."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file() or (folder / ".dvc").is_dir():
            return folder
    return here


def git_commit(root: Path) -> str:
    """HEAD's sha; `unknown` outside git or before the first commit."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()

    try:
        return git("rev-parse", "HEAD")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown"
