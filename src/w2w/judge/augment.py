"""Training-time degradations that make the judge measure identity, not crispness.

Generated samples are softer than renders: the base's VAE loses fine detail, and a sampler adds
its own blur and colour drift. A judge trained on crisp renders only reads that softness as a
change of identity (issue 16, item 1). Each training image is therefore, at random, replaced by
its VAE round trip (precomputed once, when the base's VAE is given), blurred, tinted and noised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from w2w.params import JudgeParams


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """x (B, C, S, S), one sigma per image (B,) in pixels; sigma 0 leaves the image as it is."""
    b, c, s, _ = x.shape
    radius = 3
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype)
    safe = sigma.clamp_min(1e-3)[:, None]
    kernel = torch.exp(-0.5 * (offsets[None] / safe) ** 2)                      # (B, k)
    kernel = kernel / kernel.sum(1, keepdim=True)
    kernel = kernel.repeat_interleave(c, 0)                                     # (B*C, k)
    flat = F.pad(x.reshape(1, b * c, s, s), (radius,) * 4, mode="replicate")
    flat = F.conv2d(flat, kernel[:, None, None, :], groups=b * c)               # along x
    flat = F.conv2d(flat, kernel[:, None, :, None], groups=b * c)               # along y
    return flat.reshape(b, c, s, s)


def degrade(x: torch.Tensor, p: JudgeParams, generator: torch.Generator) -> torch.Tensor:
    """x (B, 3, S, S) in [-1, 1] -> the same images, each blurred, tinted and noised at random."""
    b = len(x)

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator)

    if p.augment_blur > 0:
        x = gaussian_blur(x, uniform(b) * p.augment_blur)
    if p.augment_jitter > 0:
        j = p.augment_jitter
        gain = 1 + j * (2 * uniform(b, 3, 1, 1) - 1)           # per-channel colour gain
        contrast = 1 + j * (2 * uniform(b, 1, 1, 1) - 1)
        shift = j * (2 * uniform(b, 1, 1, 1) - 1)               # brightness
        mean = x.mean((1, 2, 3), keepdim=True)
        x = (x - mean) * contrast + mean
        x = x * gain + shift
    if p.augment_noise > 0:
        x = x + torch.randn(x.shape, generator=generator) * (uniform(b, 1, 1, 1) * p.augment_noise)
    return x.clamp(-1, 1)
