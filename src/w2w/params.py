"""Schema of params.yaml: one pydantic model per stage section, unknown keys forbidden.

`load_params` returns validated params or raises `ParamsError` with one line per problem, each
naming the key path and the offending value, e.g.
`synthesize.images_per_identity: must be >= 1, got 0`.

No field has a default: params.yaml is the one source of values, so a missing section or key is
an error that names it, never a silent fallback to a value written here.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

PARAMS_FILE = "params.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


SectionT = TypeVar("SectionT", bound=_Section)
# classifier-free guidance's unconditional branch when a model is sampled: the model itself (the usual
# guidance) or the base UNet without the adapter, so that guidance pushes away from the base's person
Unconditional = Literal["model", "base"]


class SynthesizeParams(_Section):
    """The identity world: the miniature renderer, or a folder of real identities."""

    source: Literal["miniature", "folder"]
    folder: str  # source folder: one sub-folder of images per identity
    attributes_file: str  # source folder: list_attr_celeba.txt format (-1/1), keyed by folder or image
    identities: int = Field(ge=4, le=100_000)  # miniature: how many; folder: at most this many
    images_per_identity: int = Field(ge=1, le=256)  # the images an identity's LoRA trains on
    references_per_identity: int = Field(ge=1, le=256)  # folder: held back to evaluate against
    ood_images_per_identity: int = Field(ge=1, le=256)
    heldout_fraction: float = Field(gt=0.0, lt=1.0)
    image_size: int = Field(ge=16, le=1024, multiple_of=8)
    block_identities: int = Field(ge=1, le=4096)
    graded_cues: Literal["none", "fine", "all"]  # miniature: cue strengths (w2w.world.identity.Grading)
    grade_margin: float = Field(ge=0.0, lt=0.5)  # how far each graded strength keeps from its threshold
    # miniature (a folder's photos ignore both): factors the traits share (0: each drawn on its own),
    # and each trait's share of variance from them
    trait_factors: int = Field(ge=0, le=16)
    trait_communality: float = Field(ge=0.0, lt=1.0)
    seed: int = Field(ge=0)

    @field_validator("graded_cues")
    @classmethod
    def _grades_are_the_miniatures(cls, value: str, info: ValidationInfo) -> str:
        if value != "none" and info.data.get("source") == "folder":
            raise ValueError("graded cues are the miniature world's; a folder's photos are as they are")
        return value

    @field_validator("grade_margin")
    @classmethod
    def _a_margin_needs_grades(cls, value: float, info: ValidationInfo) -> float:
        if value > 0 and info.data.get("graded_cues") == "none":
            raise ValueError("a margin keeps graded strengths from their threshold: set graded_cues too")
        return value


class JudgeParams(_Section):
    """The yardstick CNN: attribute head plus identity embedding."""

    renders_per_identity: int = Field(ge=2, le=1024)
    epochs: int = Field(ge=1, le=1000)  # the trait regressor's and the attribute reader's
    identity_epochs: int = Field(ge=1, le=1000)  # the judge's identity embedding and attribute head
    batch_size: int = Field(ge=2, le=4096)
    lr: float = Field(gt=0.0, le=1.0)
    width: int = Field(ge=4, le=512)
    embedding_dim: int = Field(ge=2, le=1024)
    margin: float = Field(ge=0.0, le=1.0)
    scale: float = Field(gt=0.0, le=128.0)
    vae_round_trip: float = Field(ge=0.0, le=1.0)   # share of training images swapped for their VAE trip
    augment_blur: float = Field(ge=0.0, le=4.0)     # largest Gaussian blur sigma, pixels
    augment_jitter: float = Field(ge=0.0, le=0.5)   # largest brightness, contrast and colour change
    augment_noise: float = Field(ge=0.0, le=0.5)    # largest pixel noise sd, in [-1, 1] units
    yardstick: str  # "": train the judge; module:function or file.py:function: your own (w2w.judge.external)
    style_renders_per_identity: int = Field(ge=0, le=1024)  # renders and paintings each; 0: no style head
    style_epochs: int = Field(ge=1, le=1000)
    attribute_reader: bool  # read attributes with a network trained on fresh people, not the judge's head
    seed: int = Field(ge=0)

    @field_validator("style_renders_per_identity")
    @classmethod
    def _style_renders_are_the_judges(cls, value: int, info: ValidationInfo) -> int:
        renders = info.data.get("renders_per_identity")  # declared above: checked
        if renders is not None and value > renders:
            raise ValueError(f"the style head reuses the judge's renders: at most renders_per_identity "
                             f"({renders}), not {value}")
        return value


# GroupNorm runs with 8 groups, so every width is a multiple of 8.
Width = Annotated[int, Field(ge=8, le=1024, multiple_of=8)]


class BaseParams(_Section):
    """The base text-to-image model: a miniature latent diffusion model, or a pretrained one."""

    source: Literal["miniature", "pretrained"]
    pretrained: str  # hub id or local diffusers folder, for source: pretrained
    vae_channels: list[Width] = Field(min_length=2, max_length=4)
    latent_channels: int = Field(ge=1, le=64)
    vae_steps: int = Field(ge=1, le=1_000_000)
    vae_batch_size: int = Field(ge=1, le=4096)
    vae_lr: float = Field(gt=0.0, le=1.0)
    vae_kl_weight: float = Field(ge=0.0, le=1.0)
    unet_channels: list[Width] = Field(min_length=2, max_length=4)
    text_dim: int = Field(ge=8, le=1024, multiple_of=8)
    attention_heads: int = Field(ge=1, le=64)  # of every attention layer; divides every UNet width
    unet_steps: int = Field(ge=1, le=1_000_000)
    unet_batch_size: int = Field(ge=1, le=4096)
    unet_lr: float = Field(gt=0.0, le=1.0)
    ema_decay: float = Field(ge=0.0, lt=1.0)
    generic_caption_fraction: float = Field(ge=0.0, le=1.0)
    empty_caption_fraction: float = Field(ge=0.0, le=1.0)
    seed: int = Field(ge=0)

    @field_validator("attention_heads")
    @classmethod
    def _heads_divide_widths(cls, value: int, info: ValidationInfo) -> int:
        widths = [w for w in info.data.get("unet_channels", []) if w % value]  # declared above: checked
        if widths:
            raise ValueError(f"must divide every unet_channels width, not {widths}")
        return value


class EvaluateBaseParams(_Section):
    """Measuring the base model; sampler settings live here so changing them never retrains."""

    sampler_steps: int = Field(ge=1, le=1000)
    guidance_scale: float = Field(ge=1.0, le=30.0)
    samples_per_prompt: int = Field(ge=1, le=256)
    prompts: int = Field(ge=1, le=10_000)
    seed: int = Field(ge=0)


class FinetuneParams(_Section):
    """One rank-r LoRA per identity, all from one shared initialisation (the reference setup)."""

    rank: int = Field(ge=1, le=64)
    lora_alpha: float = Field(gt=0.0, le=1e4)
    targets: list[Literal["to_q", "to_k", "to_v", "to_out.0"]] = Field(min_length=1)
    prompt: str = Field(min_length=1)
    steps: int = Field(ge=1, le=100_000)
    lr: float = Field(gt=0.0, le=1.0)
    weight_decay: float = Field(ge=0.0, le=1.0)
    adam_eps: float = Field(gt=0.0, le=1.0)  # AdamW's eps: above a gradient's typical size, steps follow it
    grad_clip: float = Field(gt=0.0)
    identities_per_shard: int = Field(ge=1, le=4096)
    init_seed: int = Field(ge=0)
    seed: int = Field(ge=0)
    images_per_step: int = Field(ge=0)  # of each identity's images per step; 0: all
    draws_per_image: int = Field(ge=1, le=64)  # noise and timestep draws of each of them per step
    draw_pairing: Literal["independent", "same_timestep", "antithetic"]  # an image's draws in pairs
    prior_weight: float = Field(ge=0.0, le=100.0)  # prior preservation; 0: off
    autocast: Literal["", "bf16"]  # bf16: bfloat16 autocast of the UNet (GPU); "": float32
    lr_schedule: Literal["constant", "cosine"]  # cosine: lr decays to 0 over the steps
    average_tail: float = Field(ge=0.0, lt=1.0)  # adapter = mean of the last fraction of iterates; 0: last
    background_weight: float = Field(ge=0.0, le=1.0)  # scene's loss weight against the person's 1; 1: off
    timesteps: Literal["uniform", "stratified"]  # stratified: one per equal bin of each step's images
    timestep_range: list[Annotated[int, Field(ge=0, le=1000)]] = Field(min_length=2, max_length=2)  # [lo, hi)
    snr_gamma: float = Field(ge=0.0, le=1e4)  # min-SNR loss weight min(SNR, gamma) / SNR; 0: off
    class_prompt: str = Field(min_length=1)
    class_images: int = Field(ge=1, le=100_000)  # generated by the base model once per fleet

    @field_validator("draw_pairing")
    @classmethod
    def _pairs_need_even_draws(cls, value: str, info: ValidationInfo) -> str:
        draws = info.data.get("draws_per_image")  # declared above: checked
        if value != "independent" and draws is not None and draws % 2:
            raise ValueError(f"{value} pairs an image's draws: draws_per_image must be even, not {draws}")
        return value

    @field_validator("timestep_range")
    @classmethod
    def _range_not_empty(cls, value: list[int]) -> list[int]:
        if value[0] >= value[1]:
            raise ValueError("must be [low, high) with low < high")
        return value


class EvaluateFinetuneParams(_Section):
    """Do the adapters make their identities? Judged on held-out identities."""

    identities: int = Field(ge=2, le=100_000)  # held-out identities evaluated (at most all)
    samples_per_identity: int = Field(ge=1, le=256)  # one seed each
    renders_per_identity: int = Field(ge=1, le=256)  # fresh renders to compare with
    sampler_steps: int = Field(ge=1, le=1000)
    guidance_scale: float = Field(ge=1.0, le=30.0)
    unconditional: Unconditional
    seed: int = Field(ge=0)


class PcaParams(_Section):
    """The standardised PCA of the train adapters: the weights2weights space."""

    components: int = Field(ge=1, le=100_000)  # capped at min(train rows, D)
    method: Literal["auto", "exact", "randomized", "out_of_core"]
    power_iterations: int = Field(ge=2, le=50)  # randomized methods; Dask's default 0 is wrong
    oversamples: int = Field(ge=0, le=10_000)  # extra random directions (out of core)
    in_memory_max_gb: float = Field(gt=0.0)  # auto: out of core above this (float64 copy)
    block_rows: int = Field(ge=1)  # rows per Dask block (out of core)
    seed: int = Field(ge=0)


class DirectionsParams(_Section):
    """One linear attribute classifier per attribute on the train coefficients."""

    method: Literal["logistic", "least_squares"]  # least squares: the reference's
    components: int = Field(ge=0)  # leading coefficients used; 0: all of the basis
    regularization: float = Field(gt=0.0)  # logistic regression's C (inverse strength)
    debias: dict[str, list[str]]  # attribute -> attributes projected out
    seed: int = Field(ge=0)


class EvaluateEditsParams(_Section):
    """Edits on held-out identities, against prompting and a raw weight-space direction."""

    identities: int = Field(ge=2, le=100_000)  # held-out identities measured
    heldout_offset: int = Field(ge=0, le=100_000)  # held-out identities of the seeded order skipped first
    selection_identities: int = Field(ge=1, le=100_000)  # train identities choosing the strength
    strengths: list[float] = Field(min_length=1)  # train stds
    flip_target: float = Field(gt=0.0, le=1.0)  # smallest strength with this train flip rate
    strength_per_attribute: bool  # the flip-target rule per attribute (else one strength for all)
    delay: int = Field(ge=0, le=1000)  # delayed injection: original weights for t > delay; 0: off
    samples_per_model: int = Field(ge=1, le=256)  # one initial noise each, shared by all models
    sampler_steps: int = Field(ge=1, le=1000)
    guidance_scale: float = Field(ge=1.0, le=30.0)
    unconditional: Unconditional
    grid_identities: int = Field(ge=1, le=64)  # per attribute in the before/after grids
    seed: int = Field(ge=0)


class EvaluateInversionParams(_Section):
    """Single-image inversion vs a single-image LoRA, in distribution and out of it."""

    identities: int = Field(ge=2, le=100_000)  # held-out identities inverted (>= 2: an interval)
    components: int = Field(ge=0)  # coefficients optimised; 0: all of the basis
    steps: int = Field(ge=1, le=100_000)  # for both methods
    lr: float = Field(gt=0.0)  # w2w: Adam on whitened coefficients
    draws_per_step: int = Field(ge=1, le=1024)  # noise draws of the one image per step, both methods
    prompts: list[str] = Field(min_length=1)
    samples_per_prompt: int = Field(ge=1, le=256)  # seeds per prompt
    renders_per_identity: int = Field(ge=1, le=256)  # true renders to compare with
    sampler_steps: int = Field(ge=1, le=1000)
    guidance_scale: float = Field(ge=1.0, le=30.0)
    unconditional: Unconditional
    seed: int = Field(ge=0)


class EvaluateSamplingParams(_Section):
    """New identities sampled from the space: consistent, novel, with a plausible attribute mix."""

    models: int = Field(ge=2, le=100_000)  # sampled identities
    covariance: Literal["diagonal", "full"]  # diagonal: the reference's
    components: int = Field(ge=0)  # leading coefficients sampled (the rest at the mean); 0: all
    trained_models: int = Field(ge=2, le=100_000)  # held-out (and train) fleet models, the controls
    calibration_models: int = Field(ge=2, le=100_000)  # train fleet models per class calibrating novelty
    alike_people: int = Field(ge=1, le=100_000)  # attributes-first blends of this many (w2w.space.alike)
    samples_per_model: int = Field(ge=2, le=256)  # seeds per model
    sampler_steps: int = Field(ge=1, le=1000)
    guidance_scale: float = Field(ge=1.0, le=30.0)
    unconditional: Unconditional
    seed: int = Field(ge=0)


class ComputeParams(_Section):
    """Where finetune's shard jobs run. The shards do not depend on it (tested bitwise)."""

    scheduler: str  # address of a running `dask scheduler`; empty: this machine
    workers: int = Field(ge=0, le=1024)  # local Dask worker processes; 0: run in this process
    threads: int = Field(ge=1, le=1024)  # torch threads per job
    device: Literal["cpu", "cuda"]
    resources: dict[str, float]  # per job, e.g. {GPU: 1}
    retries: int = Field(ge=0, le=100)  # reruns of a job whose worker died
    connect_timeout_s: float = Field(gt=0.0)


class PreviewParams(_Section):
    """The preview grids that `w2w edit`, `w2w sample` and `w2w invert` write beside their models."""

    sampler_steps: int = Field(ge=1, le=1000)
    guidance_scale: float = Field(ge=1.0, le=30.0)
    unconditional: Unconditional
    seed: int = Field(ge=0)  # every model's preview samples start from this seed


class Params(_Section):
    synthesize: SynthesizeParams
    judge: JudgeParams
    base: BaseParams
    evaluate_base: EvaluateBaseParams
    finetune: FinetuneParams
    evaluate_finetune: EvaluateFinetuneParams
    pca: PcaParams
    directions: DirectionsParams
    evaluate_edits: EvaluateEditsParams
    evaluate_inversion: EvaluateInversionParams
    evaluate_sampling: EvaluateSamplingParams
    compute: ComputeParams
    preview: PreviewParams

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


def override(section: SectionT, **changes: Any) -> SectionT:
    """A validated copy of one section with some keys changed; the rest keep their (params.yaml) values."""
    try:
        return type(section).model_validate({**section.model_dump(), **changes}, strict=True)
    except ValidationError as error:
        raise ParamsError(describe_errors(error)) from None


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
        if item["type"] == "missing" and len(item["loc"]) == 1:
            template = "missing section"
        message = template.format(**(item.get("ctx") or {})) if template else item["msg"].lower()
        if item["type"] == "value_error":  # a section's own check: its message as written
            message = str(item["ctx"]["error"])
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
    if raw is None:
        sections = ", ".join(Params.model_fields)
        raise ParamsError([f"{path}: empty; it needs one section per stage ({sections})"])
    try:
        return validate_params(raw)
    except ParamsError as error:
        raise ParamsError([f"{path}: {line}" for line in error.problems]) from None


def load_params_or_exit(path: str | Path = PARAMS_FILE) -> Params:
    """For stage scripts and the CLI: print one line per problem and exit with status 2."""
    try:
        return load_params(path)
    except ParamsError as error:
        for line in error.problems:
            print(f"error: {line}", file=sys.stderr)
        raise SystemExit(2) from None
