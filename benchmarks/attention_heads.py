"""What the miniature UNet's attention heads cost: one fleet step, one base training step and one
sampling step, at each head count, on freshly initialised UNets of params.yaml's widths.

The fleet step is one of the finetune stage's shards at one draw (16 identities x 8 images, rank-1
to_q/to_v adapters, forward and backward; two draws make it twice the rows); the base step is the
base stage's (a batch of unet_batch_size, every weight trained); the sampling step is one guided
denoising pass of 64 images (a batch of 128 rows). The head count changes the shape of the
attention maps only: the weights, and so the adapters, have the same shapes at every count
(tests/base/test_model.py).

    python benchmarks/attention_heads.py [--threads 2] [--repeats 5] [--heads 8 4 2 1]

Writes benchmarks/results/attention_heads.json. Needs no data.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from w2w.adapters.lora import batched_lora, lora_target_names, shared_init
from w2w.atomic import write_json
from w2w.base.model import build_unet
from w2w.params import load_params

RESULT = Path("benchmarks/results/attention_heads.json")
IDENTITIES, IMAGES, LATENT = 16, 8, 8  # the fleet's shard of 16 identities, 8 renders, 8x8 latents


def seconds(step: Callable[[], None], repeats: int) -> float:
    """Median wall seconds of `step` over `repeats` runs, after one warm-up run."""
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def timings(heads: int, repeats: int) -> dict[str, float]:
    params = load_params()
    p, f = params.base.model_copy(update={"attention_heads": heads}), params.finetune
    unet = build_unet(p, LATENT)
    g = torch.Generator().manual_seed(0)
    rows = IDENTITIES * IMAGES
    x = torch.randn(rows, p.latent_channels, LATENT, LATENT, generator=g)
    t = torch.randint(0, 1000, (rows,), generator=g)
    ctx = torch.randn(rows, 77, p.text_dim, generator=g)
    out = {}

    unet.requires_grad_(False)
    names = lora_target_names(unet, tuple(f.targets))
    init = shared_init([unet.get_submodule(n) for n in names], f.rank, 0)
    with batched_lora(unet, names, init, IDENTITIES, f.lora_alpha) as wrappers:
        for w in wrappers:
            w.blocks = True

        def fleet_step() -> None:
            unet(x, t, encoder_hidden_states=ctx).sample.pow(2).mean().backward()

        out["fleet_step_s"] = seconds(fleet_step, repeats)

    unet.requires_grad_(True)
    b = p.unet_batch_size

    def base_step() -> None:
        unet.zero_grad(set_to_none=True)
        unet(x[:b], t[:b], encoder_hidden_states=ctx[:b]).sample.pow(2).mean().backward()

    out["base_step_s"] = seconds(base_step, repeats)
    unet.requires_grad_(False)

    def sampling_step() -> None:
        with torch.no_grad():
            unet(x, t, encoder_hidden_states=ctx)

    out["sampling_step_s"] = seconds(sampling_step, repeats)
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--heads", type=int, nargs="+", default=[8, 4, 2, 1])
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    widths = load_params().base.unet_channels
    if bad := [h for h in args.heads if any(w % h for w in widths)]:
        sys.exit(f"--heads {bad}: must divide every unet_channels width {widths}")
    result = {"widths": widths, "threads": args.threads, "repeats": args.repeats,
              "machine": f"{platform.processor() or platform.machine()}, {args.threads} torch threads",
              "command": " ".join(["python", "benchmarks/attention_heads.py", *argv]), "heads": {}}
    for heads in args.heads:
        result["heads"][str(heads)] = timings(heads, args.repeats)
        print(heads, "heads", json.dumps(result["heads"][str(heads)]), flush=True)
    first = result["heads"][str(args.heads[0])]
    steps = [key for key in first if key.endswith("_s")]
    for row in result["heads"].values():  # each step's speed-up over the first head count
        row.update({f"{key[:-2]}_speedup": first[key] / row[key] for key in steps})
    write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
