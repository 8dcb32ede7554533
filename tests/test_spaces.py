"""The committed small trained space is what the committed code builds (tests/spaces.py): its record
names every source file, param and library the build used, and every file of the space."""

import json
import shutil
from pathlib import Path

from spaces import ASSET, RECORD, ROOT, record_problems


def test_committed_small_space_matches_its_record():
    problems = record_problems()
    assert not problems, "run `make test-assets`: " + "; ".join(problems)


def copy_of_what_the_record_names(dest: Path) -> dict:
    """A copy of the record, the space and every recorded source file under `dest`."""
    record = json.loads(RECORD.read_text())
    for rel in [*record["key"]["sources"], "pyproject.toml", RECORD.relative_to(ROOT).as_posix()]:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    shutil.copytree(ASSET, dest / ASSET.relative_to(ROOT))
    return record


def test_record_check_names_changed_code_and_edited_files(tmp_path):
    record = copy_of_what_the_record_names(tmp_path)
    assert record_problems(tmp_path) == []
    source = next(rel for rel in record["key"]["sources"] if rel.startswith("src/w2w/fleet/"))
    with (tmp_path / source).open("a") as f:
        f.write("# a change\n")
    space = tmp_path / ASSET.relative_to(ROOT)
    edited = next(iter(record["files"]))
    (space / edited).write_bytes(b"edited")
    (space / "notes.txt").write_text("extra")
    gone = next(rel for rel in record["key"]["sources"] if rel.startswith("src/w2w/judge/"))
    (tmp_path / gone).unlink()
    assert sorted(record_problems(tmp_path)) == sorted([
        f"{source} changed", f"{gone} is gone", f"small-space/{edited} was edited",
        "small-space/notes.txt is extra"])
