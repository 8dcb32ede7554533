"""Atomic outputs: write to a temporary sibling, then rename, so nothing is ever half-written."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def umask() -> int:
    """The process's umask, read from /proc where possible (os.umask can only read by setting)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def usual_modes(path: Path) -> None:
    """Files 0666 and folders 0777, less the umask (0644 / 0755 by default), under `path`.

    Some writers (safetensors) create files 0600, and a temporary folder is 0700; a shared team
    folder or a DVC remote needs the modes every other tool gives."""
    mask = umask()
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        if not item.is_symlink():
            item.chmod((0o777 if item.is_dir() else 0o666) & ~mask)


@contextmanager
def atomic_path(target: str | Path, is_dir: bool = False,
                recheck: Callable[[], None] | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` in one rename.

    On any exception the temporary path is removed and `target` is left as it was. An OSError
    about the temporary path is reported as one about `target`, the path the caller knows.
    `recheck` runs just before `target` is replaced; raising there keeps `target` as it is.
    A replaced file keeps its mode; new outputs get the umask's (usual_modes).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    work, old = tmp / target.name, tmp / (target.name + ".old")
    try:
        if is_dir:
            work.mkdir()
        yield work
        usual_modes(work)
        if target.is_file() and not target.is_symlink() and work.is_file():
            work.chmod(target.stat().st_mode & 0o7777)
        if recheck is not None:
            recheck()
        if target.is_dir() and not target.is_symlink():
            os.replace(target, old)  # a directory cannot be replaced over a non-empty one
            try:
                os.replace(work, target)
            except BaseException:
                os.replace(old, target)  # put the previous output back, even on Ctrl-C
                raise
        else:
            os.replace(work, target)
    except OSError as error:
        if str(tmp) not in f"{error.filename} {error.filename2} {error}":
            raise
        raise OSError(error.errno, f"cannot write {target}: {error.strerror}") from None
    finally:
        if old.exists() and not target.exists():  # never remove the only copy of an earlier output
            os.replace(old, target)
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
