"""The `w2w` command line: `w2w params check|show|use|overrides`, `w2w world show`, `w2w generate`,
`w2w export`, `w2w edit`, `w2w sample`, `w2w invert`, `w2w project`, `w2w direction`, `w2w import-reference`,
`w2w explore`."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from functools import partial
from pathlib import Path

from w2w.explore.cli import add_explore_command
from w2w.params import PARAMS_FILE, load_params_or_exit
from w2w.reference.cli import add_reference_commands
from w2w.space.cli import add_space_commands
from w2w.space.direction_cli import add_direction_command

_default_format = warnings.formatwarning


def _params(args: argparse.Namespace) -> int:
    if args.action in ("use", "overrides"):
        return _params_profile(args)
    params = load_params_or_exit(args.params)
    if args.action == "show":
        for key, value in params.flat().items():
            print(f"{key}: {value}")
    else:
        print(f"{args.params}: ok (config {params.config_hash()})")
    return 0


def yaml_float(value: float) -> str:
    """A float as every YAML reader takes it: PyYAML (YAML 1.1) reads 1e-08 as a string, 1.0e-08 not."""
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else text


def yaml_value(value) -> str:
    return yaml_float(value) if isinstance(value, float) else json.dumps(value, separators=(",", ":"))


def merge_keeping_comments(node, overrides: dict) -> None:
    """Write `overrides` into a ruamel round-trip mapping in place: values change, and every comment
    and the order of keys stay (new keys go last); lists are written in flow style, as params.yaml's."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(node.get(key), CommentedMap):
            merge_keeping_comments(node[key], value)
        elif isinstance(value, list):
            seq = CommentedSeq(value)
            seq.fa.set_flow_style()
            node[key] = seq
        else:
            node[key] = value


def _params_profile(args: argparse.Namespace) -> int:
    """`use`: merge a profile into params.yaml (validated, atomic, its comments kept); `overrides`:
    print it as `dvc exp run` -S arguments."""
    import yaml

    from w2w.atomic import atomic_path
    from w2w.params import ParamsError, deep_merge, flatten, validate_params

    if args.profile is None or not args.profile.is_file():
        raise FileNotFoundError(f"{args.profile}: no such profile (e.g. profiles/reference.yaml)")
    profile = yaml.safe_load(args.profile.read_text()) or {}
    load_params_or_exit(args.params)  # the params file itself must be whole (exit 2 naming what is not)
    merged = deep_merge(yaml.safe_load(args.params.read_text()), profile)
    try:
        validate_params(merged)
    except ParamsError as error:
        raise ValueError(f"{args.profile}: " + "; ".join(error.problems)) from None
    if args.action == "overrides":
        pairs = [f"{key}={yaml_value(value)}" for key, value in flatten(profile).items()]
        if any(any(c.isspace() for c in pair) for pair in pairs):
            raise ValueError(f"{args.profile}: a value holds spaces; use `w2w params use` instead")
        print(" ".join(f"-S {pair}" for pair in pairs))
        return 0
    from ruamel.yaml import YAML

    rt = YAML()  # round trip: the comments record why each value was chosen
    rt.width, rt.preserve_quotes = 4096, True  # no re-wrapping of long lines, nor re-quoting
    rt.representer.add_representer(  # floats the profile brings in; the file's own keep their text
        float, lambda r, v: r.represent_scalar("tag:yaml.org,2002:float", yaml_float(v)))
    document = rt.load(args.params.read_text())
    merge_keeping_comments(document, profile)
    with atomic_path(args.params) as tmp, tmp.open("w") as out:
        rt.dump(document, out)
    print(f"{args.params}: now {args.profile} over the previous values (git diff shows the change)")
    return 0


def _world_show(args: argparse.Namespace) -> int:
    """Render identities of the miniature world to a PNG grid, one row per identity."""
    import numpy as np

    from w2w.outputs import claim_image, save_image
    from w2w.storage import STREAM_IMAGES
    from w2w.world.dataset import contact_sheet, render_identity
    from w2w.world.identity import Grading

    if not 0.0 <= args.grade_margin < 0.5:
        raise ValueError(f"--grade-margin {args.grade_margin}: must be in [0, 0.5)")
    if args.grade_margin > 0 and args.graded_cues == "none":
        raise ValueError("--grade-margin keeps graded strengths from their threshold: give --graded-cues too")
    claim_image(args.out, "world show", args.force)
    if args.trait_factors < 0 or not 0.0 <= args.trait_communality < 1.0:
        raise ValueError(f"--trait-factors {args.trait_factors} and --trait-communality "
                         f"{args.trait_communality}: must be >= 0 and in [0, 1)")
    grading = Grading(args.graded_cues, args.grade_margin, args.trait_factors, args.trait_communality)
    rows = [render_identity(grading.draw(i, args.seed), args.n, args.seed, STREAM_IMAGES, args.size)
            for i in args.identity]
    sheet = contact_sheet(np.concatenate(rows), rows=len(rows), cols=args.n)
    save_image(sheet, args.out, "world show", args.force)
    print(f"wrote {args.out}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    """Sample a grid from a pipeline folder (or hub id), optionally with a LoRA attached."""
    from w2w.outputs import claim_image, save_image

    if args.n < 1 or (args.steps is not None and args.steps < 1):
        raise ValueError(f"--n and --steps must be >= 1, got {args.n} and {args.steps}")
    claim_image(args.out, "generate", args.force)  # before the heavy imports: a refusal is at once
    from w2w.base.pipeline import generate, load_lora, load_pipeline
    from w2w.world.dataset import contact_sheet

    pipe = load_pipeline(args.model)
    if args.lora is not None:
        load_lora(pipe, args.lora)
    steps, guidance = sampler_settings(args)
    images = generate(pipe, args.prompt, args.n, args.seed, steps, guidance, progress=True)
    cols = min(args.n, 8)
    rows = -(-args.n // cols)
    save_image(contact_sheet(images, rows, cols), args.out, "generate", args.force)
    print(f"wrote {args.out} ({args.n} images)")
    return 0


def sampler_settings(args: argparse.Namespace) -> tuple[int, float]:
    """--steps and --guidance, each defaulting to the base's sampler settings in --params
    (evaluate_base: the guidance chosen on train identities' captions)."""
    if args.steps is not None and args.guidance is not None:
        return args.steps, args.guidance
    if not args.params.is_file():
        raise FileNotFoundError(f"{args.params}: no params file to take the default sampler settings "
                                "from; give --steps and --guidance, or --params")
    p = load_params_or_exit(args.params).evaluate_base
    return (p.sampler_steps if args.steps is None else args.steps,
            p.guidance_scale if args.guidance is None else args.guidance)


def _export(args: argparse.Namespace) -> int:
    """One identity's row of weights.zarr as a standard diffusers/PEFT LoRA folder."""
    from w2w.outputs import claim_output, output_folder

    claim_output(args.out, "export", args.force)  # before the heavy imports: a refusal is at once
    import numpy as np

    from w2w.adapters.stacked import open_stacked

    stacked = open_stacked(args.weights)
    rows = np.flatnonzero(stacked.group["identity_ids"][:] == args.identity)
    if len(rows) != 1:
        raise ValueError(f"identity {args.identity} is not in {args.weights}")
    from w2w.adapters.files import LORA_WEIGHTS, lora_config, write_lora_files  # peft: seconds

    meta = stacked.lora_config
    config = lora_config(meta["r"], meta["lora_alpha"], tuple(meta["target_modules"]))
    with output_folder(args.out, "export", args.force,
                       {"identity": args.identity, "weights": str(args.weights)}) as tmp:
        write_lora_files(np.asarray(stacked.weights[int(rows[0])]), stacked.layout, config, tmp)
    print(f"wrote {args.out / LORA_WEIGHTS}")
    return 0


class ShownDefaults(argparse.HelpFormatter):
    """Every command's --help shows each option's default, where it has one (not a flag's False, a
    required option's None or an empty list)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text, default = action.help or "", action.default
        hidden = default is None or default is False or default is argparse.SUPPRESS or default == []
        if not hidden and not action.required and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="w2w", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True,
                                parser_class=partial(argparse.ArgumentParser, formatter_class=ShownDefaults))
    p = sub.add_parser("params", help="validate or print params.yaml")
    p.add_argument("action", choices=["check", "show", "use", "overrides"],
                   help="use PROFILE: merge it into params.yaml; overrides PROFILE: print -S arguments")
    p.add_argument("profile", type=Path, nargs="?", help="a profile, e.g. profiles/reference.yaml")
    p.add_argument("--params", type=Path, default=Path(PARAMS_FILE), help="the params file")
    p.set_defaults(func=_params)
    w = sub.add_parser("world", help="render identities of the miniature world")
    w.add_argument("action", choices=["show"], help="show: a grid of renders, one row per identity")
    w.add_argument("--identity", type=int, nargs="+", default=[0, 1, 2, 3], help="identity ids")
    w.add_argument("--n", type=int, default=8, help="renders per identity")
    w.add_argument("--seed", type=int, default=0, help="the world's seed (synthesize.seed)")
    w.add_argument("--size", type=int, default=32, help="image size in pixels")
    w.add_argument("--graded-cues", choices=["none", "fine", "all"], default="none",
                   help="draw the cues at graded strengths, as synthesize.graded_cues does")
    w.add_argument("--grade-margin", type=float, default=0.0, help="as synthesize.grade_margin (0 to 0.5)")
    w.add_argument("--trait-factors", type=int, default=2,
                   help="as synthesize.trait_factors: factors the traits share (0: each on its own)")
    w.add_argument("--trait-communality", type=float, default=0.7,
                   help="as synthesize.trait_communality (0 to 1)")
    w.add_argument("--out", type=Path, default=Path("world.png"), help="PNG to write")
    w.add_argument("--force", action="store_true", help="replace --out if an earlier `world show` wrote it")
    w.set_defaults(func=_world_show)
    g = sub.add_parser("generate", help="sample images from a base model, optionally with a LoRA")
    g.add_argument("--model", required=True, help="diffusers pipeline folder or hub id")
    g.add_argument("--lora", help="LoRA .safetensors file, or a folder holding one, in any format that "
                                  "diffusers' load_lora_weights reads")
    g.add_argument("--prompt", default="a photo of a person", help="the text prompt")
    g.add_argument("--n", type=int, default=8, help="images")
    g.add_argument("--seed", type=int, default=0, help="seed of the initial noise")
    g.add_argument("--steps", type=int,
                   help="sampler steps (default: evaluate_base.sampler_steps of --params)")
    g.add_argument("--guidance", type=float,
                   help="classifier-free guidance scale (default: evaluate_base.guidance_scale of --params, "
                        "the value chosen for the base)")
    g.add_argument("--params", type=Path, default=Path(PARAMS_FILE), help="where the defaults come from")
    g.add_argument("--out", type=Path, default=Path("grid.png"), help="PNG grid to write")
    g.add_argument("--force", action="store_true", help="replace --out if an earlier `generate` wrote it")
    g.set_defaults(func=_generate)
    e = sub.add_parser("export", help="write one identity's adapter as a standard LoRA folder")
    e.add_argument("--weights", type=Path, default=Path("data/weights.zarr"),
                   help="the stacked fleet to read the identity's adapter from")
    e.add_argument("--identity", type=int, required=True, help="identity id (see identity_ids)")
    e.add_argument("--out", type=Path, required=True, help="LoRA folder to write")
    e.add_argument("--force", action="store_true",
                   help="replace --out if it holds an earlier export (never anything else)")
    e.set_defaults(func=_export)
    add_space_commands(sub)
    add_direction_command(sub)
    add_reference_commands(sub)
    add_explore_command(sub)
    return parser


def one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings meant for users (UserWarning: a resized image...) as one line, without source code."""
    if category is UserWarning:
        return f"warning: {message}\n"
    return _default_format(message, category, filename, lineno, line)


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = one_line_warning
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (OSError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
