"""Can a fleet step on this CPU go faster by precision or compilation? float32 against bfloat16
(autocast, and the frozen UNet held in bfloat16) and against torch.compile of the UNet's forward.

    python benchmarks/fleet_precision.py   # needs data/base (dvc repro base); about 4 minutes

One shard of 16 identities, the fleet's recipe from params.yaml (its draws and timesteps; the plain
loss, which costs the same as the person-weighted one), one torch thread as each fleet worker has.
Each mode is warmed up (compilation included, timed apart) before its timed steps. bfloat16 matmuls
run on the CPU's AMX/AVX-512 units where it has them; the elementwise ops, about 40 % of a float32
step, do not gain. Writes benchmarks/results/fleet_precision.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import zarr

from w2w.atomic import write_json
from w2w.base.model import encode_prompts, training_scheduler
from w2w.base.pipeline import load_pipeline
from w2w.fleet import train as train_module
from w2w.fleet.config import fleet_config
from w2w.fleet.train import train_identities
from w2w.params import load_params

RESULT = Path("benchmarks/results/fleet_precision.json")
MODES = ("float32", "bf16_autocast", "bf16_weights", "compile")


def hold_in_bf16(unet: torch.nn.Module) -> Callable:
    """The frozen UNet in bfloat16, its inputs cast to match and its prediction cast back to float32;
    the adapters are drawn in bfloat16 too (`shared_init`), so every product runs in bfloat16. For
    timing only: AdamW on bfloat16 adapters is not a recipe."""
    unet.to(torch.bfloat16)
    forward = unet.forward

    def cast(sample, t, encoder_hidden_states):
        half = torch.bfloat16
        out = forward(sample.to(half), t, encoder_hidden_states=encoder_hidden_states.to(half))
        return dataclasses.replace(out, sample=out.sample.float())

    unet.forward = cast
    draw = train_module.shared_init
    train_module.shared_init = lambda *a, **k: [(x.bfloat16(), y.bfloat16()) for x, y in draw(*a, **k)]
    return draw  # to put back


def time_mode(mode: str, base: Path, steps: int) -> dict:
    pipe = load_pipeline(base / "model")  # a fresh UNet per mode: bf16 and compile change it
    latents = torch.from_numpy(np.asarray(zarr.open_group(base / "latents.zarr", mode="r")["latents"][:16]))
    context = encode_prompts(pipe.text_encoder, pipe.tokenizer, ["sks person"])[0]
    cfg = dataclasses.replace(fleet_config(load_params().finetune), steps=steps, background_weight=1.0,
                              autocast="bf16" if mode == "bf16_autocast" else "")
    unet = pipe.unet
    draw = hold_in_bf16(unet) if mode == "bf16_weights" else train_module.shared_init
    if mode == "compile":
        unet.forward = torch.compile(unet.forward, dynamic=False)
    ids = list(range(len(latents)))
    start = time.perf_counter()
    train_identities(unet, training_scheduler(), latents, ids, context, dataclasses.replace(cfg, steps=2))
    warm = time.perf_counter() - start
    start = time.perf_counter()
    train_identities(unet, training_scheduler(), latents, ids, context, cfg)
    train_module.shared_init = draw
    return {"warm_up_s": warm, "step_s": (time.perf_counter() - start) / steps}


def matmul_gflops(n: int, k: int, m: int, dtype: torch.dtype, repeats: int = 20) -> float:
    """One thread's rate for an (n, k) @ (k, m) product in `dtype`."""
    a, b = torch.randn(n, k, dtype=dtype), torch.randn(k, m, dtype=dtype)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n * k * m * repeats / (time.perf_counter() - start) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=Path("data/base"))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    machine = f"{platform.processor() or platform.machine()}, 1 torch thread"
    result = {"identities": 16, "steps": args.steps, "machine": machine,
              "cpu_capability": torch.backends.cpu.get_cpu_capability(),
              "command": " ".join(["python", *sys.argv])}
    result["matmul_gflops"] = {f"{n}x{k}x{m}": {name: matmul_gflops(n, k, m, dtype) for name, dtype in
                                                (("float32", torch.float32), ("bfloat16", torch.bfloat16))}
                               for n, k, m in ((4096, 64, 64), (2048, 2048, 2048))}
    print("matmul GFLOP/s", result["matmul_gflops"], flush=True)
    for mode in args.modes:
        result[mode] = time_mode(mode, args.base, args.steps)
        print(mode, result[mode], flush=True)
    for mode in args.modes if "float32" in result else ():
        result[mode]["speedup_vs_float32"] = result["float32"]["step_s"] / result[mode]["step_s"]
    write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
