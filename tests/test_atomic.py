import errno
import os

import pytest

from w2w.atomic import atomic_path, umask, write_json


def test_directory_replaced_in_one_step(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_path(target, is_dir=True) as tmp:
        (tmp / "new.txt").write_text("new")
        assert (target / "old.txt").exists()  # untouched until the end
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_failure_keeps_previous_output(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_files_and_folders_get_the_umask_modes_whatever_the_writer_chose(tmp_path):
    target = tmp_path / "out"
    with atomic_path(target, is_dir=True) as tmp:
        (tmp / "private.bin").write_bytes(b"x")
        (tmp / "private.bin").chmod(0o600)  # as safetensors writes its files
    mask = umask()
    assert (target / "private.bin").stat().st_mode & 0o777 == 0o666 & ~mask
    assert target.stat().st_mode & 0o777 == 0o777 & ~mask  # not mkdtemp's 0700


def test_an_error_about_the_temporary_path_names_the_target(tmp_path):
    target = tmp_path / "me"
    with pytest.raises(OSError) as caught, atomic_path(target, is_dir=True) as tmp:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp / "weights.bin"))
    assert str(caught.value) == f"[Errno {errno.ENOSPC}] cannot write {target}: No space left on device"
    assert ".tmp" not in str(caught.value)


@pytest.mark.parametrize("failure", [OSError(errno.EXDEV, "Invalid cross-device link"), KeyboardInterrupt()])
def test_a_failed_final_rename_puts_the_previous_output_back(tmp_path, monkeypatch, failure):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    real = os.replace

    def new_output_rename_fails(src, dst):
        if str(dst) == str(target) and not str(src).endswith(".old"):
            raise failure
        real(src, dst)

    monkeypatch.setattr(os, "replace", new_output_rename_fails)
    with pytest.raises(type(failure)), atomic_path(target, is_dir=True) as tmp:
        (tmp / "new.txt").write_text("new")
    monkeypatch.undo()
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_failing_recheck_keeps_the_target_as_it_is(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "appeared.txt").write_text("written by someone while we worked")

    def recheck():
        raise ValueError("out: holds files that w2w did not write")

    with pytest.raises(ValueError, match="did not write"), atomic_path(target, True, recheck) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["appeared.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "params.yaml"
    target.write_text("a: 1\n")
    target.chmod(0o600)
    write_json(target, {"a": 2})
    assert target.stat().st_mode & 0o777 == 0o600
