"""The SD 1.5 UNet architecture, buildable from its config with random weights (no download).

Used to check the reference adapter layout (99,648 parameters at rank 1 on to_q/to_v) and to time
adapter training on a GPU without fetching any weights.
"""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel

# stable-diffusion-v1-5 unet/config.json, the architecture fields
SD15_UNET_CONFIG: dict = {
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                         "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}
REFERENCE_ADAPTER_PARAMETERS = 99_648  # rank 1, to_q/to_v of attn1 and attn2 (the paper's D)
TEXT_TOKENS = 77  # CLIP ViT-L/14's context length


def sd15_unet(seed: int = 0) -> UNet2DConditionModel:
    """An SD 1.5-shaped UNet with random weights drawn from `seed`."""
    torch.manual_seed(seed)
    return UNet2DConditionModel(**SD15_UNET_CONFIG)


def sd15_shapes() -> UNet2DConditionModel:
    """The SD 1.5 UNet's modules on the meta device, without their 860M weights: names and shapes,
    all an adapter layout needs, in a fraction of a second instead of about 20."""
    with torch.device("meta"):
        return UNet2DConditionModel(**SD15_UNET_CONFIG)
