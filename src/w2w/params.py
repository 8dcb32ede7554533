"""Schema of params.yaml: one pydantic model per stage section, unknown keys forbidden.

`load_params` returns validated params or raises `ParamsError` with one line per problem, each
naming the key path and the offending value, e.g.
`synthesize.images_per_identity: must be >= 1, got 0`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PARAMS_FILE = "params.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SynthesizeParams(_Section):
    """The miniature identity world."""

    source: Literal["miniature"] = "miniature"
    identities: int = Field(600, ge=4, le=100_000)
    images_per_identity: int = Field(8, ge=1, le=256)
    ood_images_per_identity: int = Field(4, ge=1, le=256)
    heldout_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    image_size: int = Field(32, ge=16, le=128, multiple_of=8)
    block_identities: int = Field(64, ge=1, le=4096)
    seed: int = Field(0, ge=0)


class JudgeParams(_Section):
    """The yardstick CNN: attribute head plus identity embedding."""

    renders_per_identity: int = Field(24, ge=2, le=1024)
    epochs: int = Field(12, ge=1, le=1000)
    batch_size: int = Field(128, ge=2, le=4096)
    lr: float = Field(3e-3, gt=0.0, le=1.0)
    width: int = Field(32, ge=4, le=512)
    embedding_dim: int = Field(64, ge=2, le=1024)
    margin: float = Field(0.25, ge=0.0, le=1.0)
    scale: float = Field(16.0, gt=0.0, le=128.0)
    seed: int = Field(0, ge=0)


# GroupNorm runs with 8 groups, so every width is a multiple of 8.
Width = Annotated[int, Field(ge=8, le=1024, multiple_of=8)]


class BaseParams(_Section):
    """The base text-to-image model: a miniature latent diffusion model, or a pretrained one."""

    source: Literal["miniature", "pretrained"] = "miniature"
    pretrained: str = ""  # hub id or local diffusers folder, for source: pretrained
    vae_channels: list[Width] = Field(default_factory=lambda: [16, 32, 64], min_length=2, max_length=4)
    latent_channels: int = Field(8, ge=1, le=64)
    vae_steps: int = Field(3000, ge=1, le=1_000_000)
    vae_batch_size: int = Field(16, ge=1, le=4096)
    vae_lr: float = Field(2e-3, gt=0.0, le=1.0)
    vae_kl_weight: float = Field(1e-6, ge=0.0, le=1.0)
    unet_channels: list[Width] = Field(default_factory=lambda: [32, 64], min_length=2, max_length=4)
    text_dim: int = Field(32, ge=8, le=1024, multiple_of=8)
    unet_steps: int = Field(3600, ge=1, le=1_000_000)
    unet_batch_size: int = Field(64, ge=1, le=4096)
    unet_lr: float = Field(2e-3, gt=0.0, le=1.0)
    ema_decay: float = Field(0.999, ge=0.0, lt=1.0)
    generic_caption_fraction: float = Field(0.3, ge=0.0, le=1.0)
    empty_caption_fraction: float = Field(0.1, ge=0.0, le=1.0)
    seed: int = Field(0, ge=0)


class EvaluateBaseParams(_Section):
    """Measuring the base model; sampler settings live here so changing them never retrains."""

    sampler_steps: int = Field(25, ge=1, le=1000)
    guidance_scale: float = Field(7.0, ge=1.0, le=30.0)
    samples_per_prompt: int = Field(4, ge=1, le=256)
    prompts: int = Field(64, ge=1, le=10_000)
    seed: int = Field(0, ge=0)


class FinetuneParams(_Section):
    """One rank-r LoRA per identity, all from one shared initialisation (the reference setup)."""

    rank: int = Field(1, ge=1, le=64)
    lora_alpha: float = Field(1.0, gt=0.0, le=1e4)
    targets: list[Literal["to_q", "to_k", "to_v", "to_out.0"]] = Field(
        default_factory=lambda: ["to_q", "to_v"], min_length=1)
    prompt: str = Field("sks person", min_length=1)
    steps: int = Field(60, ge=1, le=100_000)
    lr: float = Field(3e-3, gt=0.0, le=1.0)
    weight_decay: float = Field(1e-2, ge=0.0, le=1.0)
    grad_clip: float = Field(1.0, gt=0.0)
    identities_per_shard: int = Field(16, ge=1, le=4096)
    init_seed: int = Field(0, ge=0)
    seed: int = Field(0, ge=0)
    images_per_step: int = Field(0, ge=0)  # of each identity's images per step; 0: all


class ComputeParams(_Section):
    """Where finetune's shard jobs run. The shards do not depend on it (tested bitwise)."""

    scheduler: str = ""        # address of a running `dask scheduler`; empty: this machine
    workers: int = Field(0, ge=0, le=1024)  # local Dask worker processes; 0: run in this process
    threads: int = Field(2, ge=1, le=1024)  # torch threads per job
    device: Literal["cpu", "cuda"] = "cpu"
    resources: dict[str, float] = Field(default_factory=dict)  # per job, e.g. {GPU: 1}
    retries: int = Field(3, ge=0, le=100)  # reruns of a job whose worker died
    connect_timeout_s: float = Field(30.0, gt=0.0)


class Params(_Section):
    synthesize: SynthesizeParams = SynthesizeParams()
    judge: JudgeParams = JudgeParams()
    base: BaseParams = BaseParams()
    evaluate_base: EvaluateBaseParams = EvaluateBaseParams()
    finetune: FinetuneParams = FinetuneParams()
    compute: ComputeParams = ComputeParams()

    def flat(self, sections: tuple[str, ...] | None = None) -> dict[str, Any]:
        """Flattened `section.key` view, as logged to MLflow."""
        data = self.model_dump(mode="json")
        keep = sections or tuple(data)
        return {k: v for k, v in flatten(data).items() if k.split(".")[0] in keep}

    def config_hash(self, sections: tuple[str, ...] | None = None) -> str:
        """Identifies a configuration (of `sections`, default all): equal params, equal hashes."""
        data = self.model_dump(mode="json")
        canonical = json.dumps({k: v for k, v in data.items() if k in (sections or data)}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class ParamsError(Exception):
    """Invalid or unreadable params; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` applied key by key (nested dicts merged)."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


_MESSAGES = {
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "multiple_of": "must be a multiple of {multiple_of}",
    "extra_forbidden": "unknown key",
    "missing": "missing required key",
    "literal_error": "must be one of {expected}",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "model_type": "must be a mapping",
    "list_type": "must be a list",
    "too_short": "must have at least {min_length} items",
    "too_long": "must have at most {max_length} items",
}


def describe_errors(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"]) or "<root>"
        template = _MESSAGES.get(item["type"])
        message = template.format(**(item.get("ctx") or {})) if template else item["msg"].lower()
        got = "" if item["type"] == "missing" else f", got {item['input']!r}"
        lines.append(f"{path}: {message}{got}")
    return lines


def validate_params(raw: Any) -> Params:
    if not isinstance(raw, dict):
        raise ParamsError([f"<root>: must be a mapping of stage sections, got {raw!r}"])
    try:
        return Params.model_validate(raw, strict=True)
    except ValidationError as error:
        raise ParamsError(describe_errors(error)) from None


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    """Read and validate a params file; raises ParamsError on any problem."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError([f"{path}: params file not found"])
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ParamsError([f"{path}: not valid YAML: {error}".replace("\n", " ")]) from None
    return validate_params({} if raw is None else raw)


def load_params_or_exit(path: str | Path = PARAMS_FILE) -> Params:
    """For stage scripts and the CLI: print one line per problem and exit with status 2."""
    try:
        return load_params(path)
    except ParamsError as error:
        for line in error.problems:
            print(f"error: {line}", file=sys.stderr)
        raise SystemExit(2) from None
