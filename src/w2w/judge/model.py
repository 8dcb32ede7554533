"""The judge network: a small CNN with a multi-label attribute head and an identity embedding."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


def _features(w: int) -> nn.Sequential:
    """(B, 3, S, S) -> (B, 4w * (S/8)^2): the layout is kept, because where a cue sits matters."""
    return nn.Sequential(
        _conv(3, w), nn.MaxPool2d(2),                       # S/2
        _conv(w, 2 * w), _conv(2 * w, 2 * w), nn.MaxPool2d(2),  # S/4
        _conv(2 * w, 4 * w), _conv(4 * w, 4 * w), nn.MaxPool2d(2),  # S/8
        nn.Flatten(),
    )


def _trunk(width: int, image_size: int) -> nn.Sequential:
    flat = 4 * width * (image_size // 8) ** 2
    return nn.Sequential(nn.Linear(flat, 256), nn.BatchNorm1d(256), nn.ReLU(inplace=True))


class JudgeNet(nn.Module):
    """(B, 3, S, S) in [-1, 1] -> (unit embedding (B, E), attribute logits (B, A))."""

    def __init__(self, n_attributes: int, width: int = 32, embedding_dim: int = 64,
                 image_size: int = 32):
        super().__init__()
        self.features, self.trunk = _features(width), _trunk(width, image_size)
        self.embedding = nn.Linear(256, embedding_dim)
        self.attributes = nn.Linear(256, n_attributes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(self.features(x))
        return F.normalize(self.embedding(h), dim=1), self.attributes(h)


class TraitNet(nn.Module):
    """(B, 3, S, S) in [-1, 1] -> standardised continuous traits (B, T).

    A second yardstick of identity with its own weights, trained on the world's ground truth
    rather than on who is who, so a model that fools the judge's embedding shows up as a
    disagreement between the two.
    """

    def __init__(self, n_traits: int, width: int = 32, image_size: int = 32):
        super().__init__()
        self.features, self.trunk = _features(width), _trunk(width, image_size)
        self.traits = nn.Linear(256, n_traits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.traits(self.trunk(self.features(x)))


class CosFaceHead(nn.Module):
    """Large-margin cosine classifier over train identities (metric learning for verification)."""

    def __init__(self, embedding_dim: int, n_identities: int, margin: float, scale: float):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_identities, embedding_dim) * 0.01)
        self.margin, self.scale = margin, scale

    def forward(self, embedding: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cosine = embedding @ F.normalize(self.weight, dim=1).T  # (B, N)
        margin = F.one_hot(labels, cosine.shape[1]).to(cosine.dtype) * self.margin
        return F.cross_entropy(self.scale * (cosine - margin), labels)


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, S, S, 3) -> float (B, 3, S, S) in [-1, 1]."""
    return images.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
