"""Building the miniature SD-style components from their diffusers/transformers classes."""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from w2w.params import BaseParams

# Token embeddings are drawn 10x wider than CLIP's 0.02 init: at 0.02 the random layers' residuals
# swamp the word identity, and "man"/"woman" prompts differed by 9% of their norm; at 0.2, by 25%.
TOKEN_EMBEDDING_STD = 0.2

# Stable Diffusion 1.5's training noise schedule, kept at miniature scale.
SD_SCHEDULE = {"num_train_timesteps": 1000, "beta_schedule": "scaled_linear",
               "beta_start": 0.00085, "beta_end": 0.012, "prediction_type": "epsilon",
               "clip_sample": False}


def build_text_encoder(p: BaseParams, tokenizer: CLIPTokenizer) -> CLIPTextModel:
    """A small CLIP text transformer, left at its seeded random init and frozen.

    Frozen random: adapters later touch only the UNet, and a random transformer already maps
    distinct prompts to distinct embeddings (checked by `prompt_separation`), so training it would
    cost time and buy nothing the UNet's cross-attention cannot learn.
    """
    torch.manual_seed(p.seed)
    config = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=p.text_dim, intermediate_size=2 * p.text_dim,
        num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=tokenizer.model_max_length,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, projection_dim=p.text_dim)
    model = CLIPTextModel(config)
    with torch.no_grad():
        model.embeddings.token_embedding.weight.normal_(0.0, TOKEN_EMBEDDING_STD)
    return model.eval().requires_grad_(False)


def build_unet(p: BaseParams, latent_size: int) -> UNet2DConditionModel:
    """Cross-attention in every block: the latent grid (8x8, 4x4) is already low resolution.

    diffusers reads `attention_head_dim` as the number of heads (its config's historical name).
    Eight heads at widths 32 and 64 are 4 and 8 wide: their attention maps, memory-bound on a CPU,
    took about half of a fleet step. Two heads (16 and 32 wide, nearer SD 1.5's 40 to 160) make a
    fleet step 1.6x faster (benchmarks/attention_heads.py).
    """
    torch.manual_seed(p.seed + 1)
    depth = len(p.unet_channels)
    return UNet2DConditionModel(
        sample_size=latent_size, in_channels=p.latent_channels, out_channels=p.latent_channels,
        layers_per_block=1,
        block_out_channels=tuple(p.unet_channels),
        down_block_types=("CrossAttnDownBlock2D",) * depth,
        up_block_types=("CrossAttnUpBlock2D",) * depth,
        cross_attention_dim=p.text_dim, attention_head_dim=p.attention_heads, norm_num_groups=8)


def training_scheduler() -> DDPMScheduler:
    return DDPMScheduler(**SD_SCHEDULE)


def sampling_scheduler() -> DDIMScheduler:
    return DDIMScheduler(**SD_SCHEDULE, set_alpha_to_one=False, steps_offset=1)


@torch.no_grad()
def encode_prompts(text_encoder: CLIPTextModel, tokenizer: CLIPTokenizer, prompts: list[str]
                   ) -> torch.Tensor:
    """(P, L, D) hidden states, exactly as StableDiffusionPipeline computes them."""
    ids = tokenizer(prompts, padding="max_length", max_length=tokenizer.model_max_length,
                    truncation=True, return_tensors="pt").input_ids
    return text_encoder(ids)[0]


def prompt_separation(embeddings: torch.Tensor) -> float:
    """Smallest distance between two prompts' flattened embeddings, relative to their norm."""
    flat = embeddings.flatten(1)
    distances = torch.cdist(flat, flat) + torch.eye(len(flat)) * 1e9
    return float(distances.min() / flat.norm(dim=1).mean())
