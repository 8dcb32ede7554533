"""Params for tests, always from params.yaml (and a profile over it), never from bare schema values:
`section("finetune", steps=2)` is params.yaml's finetune section with one key changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from w2w.params import Params, deep_merge, override, validate_params

ROOT = Path(__file__).resolve().parents[1]


def profile_params_dict(name: str | None) -> dict:
    """params.yaml with profiles/<name>.yaml merged over it (name None: params.yaml alone)."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    if name is None:
        return raw
    return deep_merge(raw, yaml.safe_load((ROOT / "profiles" / f"{name}.yaml").read_text()))


def profile_params(name: str | None = "micro") -> Params:
    return validate_params(profile_params_dict(name))


def section(name: str, profile: str | None = None, **changes: Any):
    """One validated section of params.yaml + profile, with `changes` on top."""
    return override(getattr(profile_params(profile), name), **changes)
