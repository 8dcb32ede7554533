"""The miniature UNet's shape as params.yaml's base section describes it."""

import pytest
from committed import section
from diffusers.models.attention_processor import Attention

from w2w.base.model import build_unet


@pytest.mark.parametrize("heads", [1, 2, 8])
def test_every_attention_layer_has_the_configured_heads(heads):
    # diffusers names the head count `attention_head_dim`: the width must come out channels / heads
    unet = build_unet(section("base", unet_channels=[16, 32], text_dim=16, attention_heads=heads), 8)
    layers = [m for m in unet.modules() if isinstance(m, Attention)]
    assert layers and all(m.heads == heads for m in layers)
    assert {m.inner_dim // m.heads for m in layers} == {16 // heads, 32 // heads}


def test_heads_leave_the_adapted_layers_alone():
    # the fleet's to_q / to_v are (width x width) and (text x width) whatever the heads
    shapes = [[tuple(m.weight.shape) for name, m in build_unet(section("base", attention_heads=h), 8)
               .named_modules() if name.endswith(("to_q", "to_v"))] for h in (2, 8)]
    assert shapes[0] == shapes[1]
