"""GPU adapter-training throughput on an SD 1.5-architecture UNet: batched identities vs one at a time.

The UNet is built from the SD 1.5 config with random weights (no download) and trained at 64x64
latents (512 px images) with rank-1 to_q/to_v adapters, lora_alpha 27, one image per identity per
step (the reference's batch). Both trainers use the same seeds, noise and timesteps:
- batched: `train_identities`, K identities in one forward/backward per step;
- one at a time: peft's LoRA on a copy of the UNet, per identity (`train_one_with_peft`).

    bash benchmarks/gpu_check.sh            # on a CUDA machine
    python benchmarks/gpu_throughput.py --tiny --device cpu --out /tmp/x.json   # smoke run, any CPU

Writes benchmarks/results/gpu_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
from diffusers import DDPMScheduler, UNet2DConditionModel

from w2w.adapters.lora import lora_target_names
from w2w.fleet.config import FleetConfig
from w2w.fleet.peft_reference import train_one_with_peft
from w2w.fleet.train import train_identities
from w2w.reference.sd15 import SD15_UNET_CONFIG, TEXT_TOKENS, sd15_unet

RESULT = Path("benchmarks/results/gpu_throughput.json")
TINY = dict(SD15_UNET_CONFIG, block_out_channels=[32, 64, 64, 64], cross_attention_dim=32,
            norm_num_groups=8, attention_head_dim=4)


def build(tiny: bool, device: torch.device) -> UNet2DConditionModel:
    unet = UNet2DConditionModel(**TINY) if tiny else sd15_unet(seed=0)
    return unet.to(device).requires_grad_(False)


def synced(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def rel_err(got: dict, want: dict) -> float:
    num = sum(float((got[key].float() - want[key].float()).pow(2).sum()) for key in want)
    den = sum(float(want[key].float().pow(2).sum()) for key in want)
    return (num / den) ** 0.5


def time_batched(unet, scheduler, latents, context, cfg: FleetConfig, device) -> float:
    start = synced(device)
    train_identities(unet, scheduler, latents, list(range(len(latents))), context, cfg)
    return synced(device) - start


def time_one_at_a_time(unet, scheduler, latents, context, cfg: FleetConfig, device) -> float:
    start = synced(device)
    for i in range(len(latents)):
        train_one_with_peft(unet, scheduler, latents[i], i, context, cfg)
    return synced(device) - start


def agreement(unet, scheduler, latents, context, cfg: FleetConfig) -> float:
    """Max relative error between batched and peft adapters for the same identities (float32)."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    batched, _ = train_identities(unet, scheduler, latents, list(range(len(latents))), context, cfg)
    errors = []
    for i in range(len(latents)):
        solo = train_one_with_peft(unet, scheduler, latents[i], i, context, cfg)
        errors.append(rel_err({key: batched[key][i] for key in solo}, solo))
    return max(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=16, help="K for the batched vs solo timing")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--sweep", type=int, nargs="*", default=[1, 4, 16, 32],
                        help="batched K values to time (identity-steps per second)")
    parser.add_argument("--autocast", default="bf16", choices=["bf16", ""])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a tiny UNet of the same block layout")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_throughput: no CUDA device (use --device cpu --tiny for a smoke run)")
    unet, scheduler = build(args.tiny, device), DDPMScheduler(num_train_timesteps=1000)
    side = 8 if args.tiny else 64
    gen = torch.Generator().manual_seed(0)
    k_max = max([args.identities, *args.sweep])
    latents = torch.randn(k_max, 4, 4, side, side, generator=gen).to(device)   # (K, n, C, h, w)
    context = torch.randn(TEXT_TOKENS, unet.config.cross_attention_dim, generator=gen).to(device)
    cfg = FleetConfig(rank=1, alpha=27.0, steps=args.steps, lr=1e-4, images_per_step=1,
                      autocast=args.autocast)
    names = lora_target_names(unet, cfg.targets)
    result = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine(),
              "torch": torch.__version__, "unet": "tiny" if args.tiny else "SD 1.5 (random weights)",
              "latent_side": side, "adapter_parameters": sum(
                  unet.get_submodule(n).in_features + unet.get_submodule(n).out_features for n in names),
              "identities": args.identities, "steps": args.steps, "images_per_step": 1,
              "autocast": args.autocast or "float32", "command": " ".join(["python", *sys.argv])}
    time_batched(unet, scheduler, latents[:2], context, FleetConfig(steps=2, autocast=args.autocast),
                 device)  # warm-up: kernels, allocator
    k = args.identities
    batched_s = time_batched(unet, scheduler, latents[:k], context, cfg, device)
    solo_s = time_one_at_a_time(unet, scheduler, latents[:k], context, cfg, device)
    result.update({"batched_s": batched_s, "one_at_a_time_s": solo_s, "speedup": solo_s / batched_s,
                   "batched_identities_per_hour": k / batched_s * 3600,
                   "one_at_a_time_identities_per_hour": k / solo_s * 3600})
    sweep = {}
    for kk in args.sweep:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        seconds = time_batched(unet, scheduler, latents[:kk], context, cfg, device)
        sweep[str(kk)] = {"identity_steps_per_s": kk * args.steps / seconds,
                          "peak_gpu_gb": torch.cuda.max_memory_allocated(device) / 1e9
                          if device.type == "cuda" else None}
    result["batched_sweep"] = sweep
    result["max_rel_err_fp32"] = agreement(unet, scheduler, latents[:2], context,
                                           FleetConfig(rank=1, alpha=27.0, steps=3, lr=1e-4,
                                                       images_per_step=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(args.out)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
