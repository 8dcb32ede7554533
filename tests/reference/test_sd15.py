"""The SD 1.5 architecture built from its config: the reference adapter layout, and GPU training."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from diffusers import DDPMScheduler

from w2w.adapters.layout import AdapterLayout
from w2w.adapters.lora import lora_target_names
from w2w.fleet.config import FleetConfig
from w2w.fleet.train import train_identities
from w2w.reference.sd15 import REFERENCE_ADAPTER_PARAMETERS, sd15_shapes, sd15_unet

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def unet():
    return sd15_unet(seed=0).requires_grad_(False)


def test_reference_targets_give_99648_parameters_in_reference_order():
    unet = sd15_shapes()
    names = lora_target_names(unet, ("to_q", "to_v"))
    assert len(names) == 64  # 16 transformer blocks x (attn1, attn2) x (to_q, to_v)
    blocks = [n.split(".")[0] for n in names]
    assert blocks == sorted(blocks, key=["down_blocks", "mid_block", "up_blocks"].index)
    weights = {}
    for name in names:
        layer = unet.get_submodule(name)
        weights[f"{name}.lora_A.weight"] = torch.zeros(1, layer.in_features)
        weights[f"{name}.lora_B.weight"] = torch.zeros(layer.out_features, 1)
    layout = AdapterLayout.from_weights(weights)
    assert layout.dim == REFERENCE_ADAPTER_PARAMETERS == 99_648
    assert layout.keys[0] == "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight"
    assert layout.keys[-1] == "up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_v.lora_B.weight"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (GPU-only path)")
def test_cuda_training_matches_cpu(unet):
    gen = torch.Generator().manual_seed(0)
    latents, context = torch.randn(2, 1, 4, 64, 64, generator=gen), torch.randn(77, 768, generator=gen)
    cfg, scheduler = FleetConfig(alpha=27.0, steps=2, lr=1e-4), DDPMScheduler(num_train_timesteps=1000)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    on_cpu, _ = train_identities(unet, scheduler, latents, [0, 1], context, cfg)
    on_gpu, _ = train_identities(unet.cuda(), scheduler, latents.cuda(), [0, 1], context.cuda(), cfg)
    unet.cpu()
    # Adam turns near-zero gradients into full-size steps, so compare whole adapters, not elements
    num = sum(float((on_gpu[key].cpu() - value).pow(2).sum()) for key, value in on_cpu.items())
    err = (num / sum(float(value.pow(2).sum()) for value in on_cpu.values())) ** 0.5
    print(f"relative adapter difference, CUDA vs CPU: {err:.2e}")
    assert err <= 1e-3


def test_gpu_benchmark_runs_small_on_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "gpu_throughput.py"), "--tiny", "--device", "cpu",
           "--identities", "2", "--steps", "2", "--sweep", "2", "--out", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["speedup"] > 0 and figures["batched_sweep"]["2"]["identity_steps_per_s"] > 0
    assert figures["max_rel_err_fp32"] < 1e-4  # batched equals peft on the same draws
