"""The fleet evaluation's merge is exact and reversible, and its scores respond to the adapter."""

import numpy as np
import torch

from w2w.adapters.lora import lora_target_names
from w2w.adapters.merge import merged
from w2w.base.pipeline import generate


def adapter(unet, scale: float) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    weights = {}
    for name in lora_target_names(unet, ("to_q", "to_v")):
        layer = unet.get_submodule(name)
        weights[f"{name}.lora_A.weight"] = torch.randn(1, layer.in_features, generator=g)
        weights[f"{name}.lora_B.weight"] = scale * torch.randn(layer.out_features, 1, generator=g)
    return weights


def test_merged_changes_samples_and_restores_weights_exactly(tiny_pipeline):
    pipe = tiny_pipeline[0]
    before = {k: v.clone() for k, v in pipe.unet.state_dict().items()}
    plain = generate(pipe, "a photo of a person", 2, 0, 3, 3.0)
    with merged(pipe.unet, adapter(pipe.unet, 0.0), 27.0):
        assert np.array_equal(generate(pipe, "a photo of a person", 2, 0, 3, 3.0), plain)
    with merged(pipe.unet, adapter(pipe.unet, 0.5), 27.0):
        assert not np.array_equal(generate(pipe, "a photo of a person", 2, 0, 3, 3.0), plain)
    after = pipe.unet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
