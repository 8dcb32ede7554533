"""What a resumable stage's kept pieces were made from: a fingerprint of the stage's dependencies.

The finetune stage keeps its finished shards, so an interrupted run resumes. DVC reruns the stage
when any dependency changes (a retrained base, an edited training module), and shards kept from
before such a change are stale even though params.yaml is the same. The dependencies that dvc.yaml
lists, fingerprinted by content, tell the two apart: the same inputs resume, other inputs start over.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from w2w.errors import InputError


def dependency_fingerprint(root: Path, stage: str) -> str:
    """16 hex digits of a sha256 over every dependency of `stage` in root/dvc.yaml: each file's
    path (relative to root) and bytes, a folder's files in sorted order."""
    try:
        deps = yaml.safe_load((root / "dvc.yaml").read_text())["stages"][stage]["deps"]
    except (OSError, KeyError, TypeError) as error:
        raise InputError(f"{root / 'dvc.yaml'}: no dependencies listed for stage {stage!r} "
                         f"({error})") from None
    digest = hashlib.sha256()
    for dep in deps:
        path = root / dep
        if not path.exists():
            raise InputError(f"{path}: a dependency of stage {stage!r} is missing")
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            digest.update(str(file.relative_to(root)).encode() + b"\0")
            with open(file, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            digest.update(b"\0")
    return digest.hexdigest()[:16]
