"""The `--out` folder of a command: claimed before any work, and nothing of the user's ever lost.

Every command that writes a folder (`w2w edit|sample|invert|export|import-reference`) calls
`claim_output` before it computes anything:
- a path that does not exist, or an empty folder: written;
- a folder that this same command wrote before: replaced, but only with `--force`. The command's
  marker, `info.json`, names the command and lists every path it wrote; a folder holding anything
  else (a user's notes, another command's output) is never replaced, not even with `--force`;
- a file, or a place that cannot be written (read-only, under a file): refused at once, naming
  the path the user typed, not a temporary one.
The folder is then written beside its final place and renamed into it (w2w.atomic).
Single images (`w2w generate`, `w2w world show`) follow the same rules; their marker is a PNG text
chunk naming the command.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from w2w.atomic import atomic_path
from w2w.errors import InputError

MARKER = "info.json"


class OutputError(InputError):
    """An --out that cannot be written without losing something, or cannot be written at all."""


def contents(folder: Path) -> dict[str, str]:
    """Every path under `folder`, relative: a file's sha256, or "folder"."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            out[f"{path.relative_to(folder)}/"] = "folder"
        else:
            with open(path, "rb") as handle:
                out[str(path.relative_to(folder))] = hashlib.file_digest(handle, "sha256").hexdigest()
    return out


def writer(folder: Path) -> tuple[str | None, str]:
    """(the w2w command that wrote `folder`, "") if it holds exactly what that command wrote, byte
    for byte; else (None, why not)."""
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None, "holds files that w2w did not write"
    if not isinstance(marker, dict) or not isinstance(marker.get("written"), dict):
        return None, "holds files without an ownership record (an older w2w's output?)"
    now = contents(folder)
    now.pop(MARKER, None)
    if now != marker["written"]:
        return None, "holds files that w2w did not write, or that were changed since"
    return str(marker.get("command")), ""


def nearest_existing(path: Path) -> Path:
    for folder in (path, *path.parents):
        if folder.exists():
            return folder
    return Path.cwd()


def check_writable(out: Path) -> None:
    """Can `out` be created or replaced? Tried for real (a probe folder), so read-only folders,
    immutable ones and paths under a file are all caught, for root too."""
    anchor = nearest_existing(out.parent)
    if not anchor.is_dir():
        raise OutputError(f"{out}: cannot be created, {anchor} is a file")
    try:
        Path(tempfile.mkdtemp(prefix=".w2w-probe.", dir=anchor)).rmdir()
    except OSError as error:
        raise OutputError(f"{out}: cannot write there ({error.strerror} in {anchor})") from None


def claim_output(out: Path, command: str, force: bool) -> None:
    """Refuse, before any work, an `out` whose writing would lose something (see the module doc)."""
    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputError(f"{out}: exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()):
        owner, why = writer(out)
        if owner is None:
            raise OutputError(f"{out}: {why}; choose another --out (nothing was changed)")
        if owner != command:
            raise OutputError(f"{out}: holds a `w2w {owner}` output, not one of `w2w {command}`; choose "
                              "another --out (nothing was changed)")
        if not force:
            raise OutputError(f"{out}: holds an earlier `w2w {command}` output; pass --force to replace "
                              "it (nothing was changed)")
    check_writable(out)


def write_marker(folder: Path, command: str, info: dict[str, Any]) -> None:
    """The folder's `info.json`: what made it, and every path it holds with its checksum (the
    ownership record). Written last, into the temporary folder, so it records the finished output."""
    record = {**info, "command": command, "written": contents(folder)}
    (folder / MARKER).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


@contextmanager
def output_folder(out: Path, command: str, force: bool, info: dict[str, Any]) -> Iterator[Path]:
    """Write `out` as `command`'s output: a temporary folder to fill, then the marker (with `info`
    as it is by then) and one rename. The claim is checked again just before the rename, so files
    that appeared at `out` during the work are never replaced."""
    with atomic_path(out, is_dir=True, recheck=lambda: claim_output(out, command, force)) as tmp:
        yield tmp
        write_marker(tmp, command, info)


PNG_MARKER = "w2w-command"  # PNG text chunk: which command wrote the image


def claim_image(out: Path, command: str, force: bool) -> None:
    """The rules of claim_output for a single PNG file."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise OutputError(f"{out}: --out must be a .png path, e.g. grid.png")
    if out.is_symlink() or out.is_dir():
        raise OutputError(f"{out}: exists and is not a file; choose another --out")
    if out.exists():
        try:
            with Image.open(out) as image:
                owner = image.info.get(PNG_MARKER) if image.format == "PNG" else None
        except (OSError, SyntaxError):
            owner = None
        if owner != command:
            raise OutputError(f"{out}: exists and `w2w {command}` did not write it; choose another --out "
                              "(nothing was changed)")
        if not force:
            raise OutputError(f"{out}: holds an earlier `w2w {command}` image; pass --force to replace it")
    check_writable(out)


def save_image(image: Image.Image, out: Path, command: str, force: bool) -> None:
    """Write the PNG atomically, marked as `command`'s."""
    info = PngInfo()
    info.add_text(PNG_MARKER, command)
    with atomic_path(out, recheck=lambda: claim_image(out, command, force)) as tmp:
        image.save(tmp, format="PNG", pnginfo=info)
