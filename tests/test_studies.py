"""Every study under studies/ still imports against the library it measures, and can be rerun with the
one command the README cites: a refactor of w2w that breaks a study fails here, not when a reader
reruns the study to check a figure."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HELPERS = {"variants.py"}  # shared by the studies, not a study
STUDIES = sorted(p for p in (ROOT / "studies").glob("*.py") if p.name not in HELPERS)
README = (ROOT / "README.md").read_text()


def test_there_are_studies() -> None:
    assert len(STUDIES) >= 20


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_study_imports_and_says_how_to_rerun_it(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(path.parent))  # the studies import each other, as when run
    module = importlib.import_module(path.stem)
    assert callable(module.main), f"{path.name}: no main()"
    command = f"python studies/{path.name}"
    assert command in (module.__doc__ or ""), f"{path.name}: its docstring gives no command"
    assert f"studies/{path.name}" in README, f"{path.name}: the README never cites it"
