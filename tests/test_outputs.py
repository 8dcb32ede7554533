"""`--out` never loses anything: the CLI, run as a user would, against folders that hold files.

Each case checks the exit code, the message (naming the path the user typed), and the checksum of
every file that existed before (tests/snapshot.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_run import run_w2w
from PIL import Image
from snapshot import snapshot

W2W = str(Path(sys.executable).parent / "w2w")


def w2w(*args, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    command = " ".join(f"'{a}'" for a in (W2W, *map(str, args)))
    return subprocess.run(["sh", "-c", f"umask 022 && exec {command}"], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def space_args(space: Path) -> list[str]:
    return ["--weights", str(space / "weights.zarr"), "--basis", str(space / "basis"),
            "--model", str(space / "base" / "model"), "--preview", "1",
            "--params", str(Path(__file__).resolve().parents[1] / "params.yaml")]


def export(space: Path, out: Path, *extra: str, run=w2w) -> subprocess.CompletedProcess:
    return run("export", "--weights", space / "weights.zarr", "--identity", "0", "--out", out, *extra,
               cwd=out.parent)


@pytest.fixture
def face(tmp_path) -> Path:
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(tmp_path / "face.png")
    return tmp_path / "face.png"


@pytest.fixture
def users_folder(tmp_path) -> Path:
    out = tmp_path / "X"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("my notes\n")
    return out


def test_invert_and_export_refuse_a_folder_of_the_users_files_even_with_force(micro_space, face,
                                                                            users_folder, tmp_path):
    before = snapshot(tmp_path)
    runs = [w2w("invert", face, "--steps", "3", "--out", users_folder, *space_args(micro_space), *force,
                cwd=tmp_path) for force in ([], ["--force"])]
    runs += [export(micro_space, users_folder, *force) for force in ([], ["--force"])]
    for result in runs:
        assert result.returncode == 1, result.stderr
        assert f"{users_folder}: holds files that w2w did not write" in result.stderr
        assert "invert:" not in result.stderr  # refused before any work
    assert snapshot(tmp_path) == before


def test_an_earlier_output_is_replaced_only_with_force_and_only_by_its_command(micro_space, face, tmp_path):
    out = tmp_path / "lora"  # the commands run in this process (tests/cli_run.py): 50 s less
    assert export(micro_space, out, run=run_w2w).returncode == 0
    info = json.loads((out / "info.json").read_text())
    assert info["command"] == "export"
    assert sorted([*info["written"], "info.json"]) == sorted(p.name for p in out.iterdir())
    before = snapshot(tmp_path)
    again = export(micro_space, out, run=run_w2w)
    assert again.returncode == 1
    assert f"{out}: holds an earlier `w2w export` output; pass --force" in again.stderr
    other = run_w2w("invert", face, "--steps", "3", "--out", out, "--force", *space_args(micro_space),
                    cwd=tmp_path)
    assert other.returncode == 1 and "holds a `w2w export` output, not one of `w2w invert`" in other.stderr
    assert snapshot(tmp_path) == before
    (out / "notes.txt").write_text("added by hand")  # now the folder holds something export never wrote
    kept = export(micro_space, out, "--force", run=run_w2w)
    assert kept.returncode == 1 and "holds files that w2w did not write" in kept.stderr
    (out / "notes.txt").unlink()
    weights = out / "pytorch_lora_weights.safetensors"
    original = weights.read_bytes()
    weights.write_bytes(original[:-1] + b" ")  # the user retrained or edited it: same name, new bytes
    edited = export(micro_space, out, "--force", run=run_w2w)
    assert edited.returncode == 1 and "or that were changed since" in edited.stderr
    assert weights.read_bytes() == original[:-1] + b" "
    weights.write_bytes(original)
    forced = export(micro_space, out, "--force", run=run_w2w)
    assert forced.returncode == 0, forced.stderr


def lock(folder: Path, locked: bool) -> None:
    """Make `folder` unwritable (or writable again): chmod for a user, chattr +i for root, which
    ignores modes."""
    if os.geteuid() != 0:
        folder.chmod(0o555 if locked else 0o755)
    else:
        subprocess.run(["chattr", "+i" if locked else "-i", str(folder)], check=True)


def test_an_unwritable_out_fails_at_once_naming_the_users_path(micro_space, face, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    locked = tmp_path / "locked"
    locked.mkdir()
    cases = [(tmp_path / "a-file", "a-file: exists and is not a folder"),
             (tmp_path / "a-file" / "out", f"{tmp_path / 'a-file' / 'out'}: cannot be created, "
                                           f"{tmp_path / 'a-file'} is a file"),
             (locked / "out", f"{locked / 'out'}: cannot write there")]
    lock(locked, True)
    before = snapshot(tmp_path)
    try:
        for out, message in cases:  # 100000 steps: a check after the work would time the test out
            result = w2w("invert", face, "--steps", "100000", "--out", out, *space_args(micro_space),
                         cwd=tmp_path, timeout=120)
            assert result.returncode == 1 and message in result.stderr, result.stderr
            assert "invert:" not in result.stderr and ".tmp" not in result.stderr
        assert snapshot(tmp_path) == before
    finally:
        lock(locked, False)


@pytest.mark.parametrize("umask, file_mode, dir_mode", [("022", 0o644, 0o755), ("002", 0o664, 0o775)])
def test_outputs_get_the_usual_modes_under_the_umask(micro_space, face, tmp_path, umask, file_mode, dir_mode):
    mask = int(umask, 8)  # in this process, under that umask
    done = run_w2w("export", "--weights", micro_space / "weights.zarr", "--identity", "0", "--out",
                   tmp_path / "lora", cwd=tmp_path, umask=mask)
    assert done.returncode == 0, done.stderr
    sampled = run_w2w("sample", "--n", "2", "--out", tmp_path / "s", *space_args(micro_space), cwd=tmp_path,
                      umask=mask)
    assert sampled.returncode == 0, sampled.stderr
    for root in (tmp_path / "lora", tmp_path / "s"):
        for path in [root, *root.rglob("*")]:
            expected = dir_mode if path.is_dir() else file_mode
            assert path.stat().st_mode & 0o777 == expected, (path, oct(path.stat().st_mode))
