import typing

import numpy as np
import pytest
import torch
from committed import section
from peft import LoraConfig, inject_adapter_in_model

from w2w.adapters.layout import AdapterLayout
from w2w.adapters.lora import lora_target_names
from w2w.base.model import build_unet
from w2w.params import FinetuneParams


def test_default_miniature_unet_has_the_documented_dimension():
    unet = build_unet(section("base"), 8)
    names = lora_target_names(unet, ("to_q", "to_v"))
    assert len(names) == 28  # 7 transformer blocks x (attn1, attn2) x (to_q, to_v)
    assert [n.split(".")[0] for n in names] == sorted(
        [n.split(".")[0] for n in names], key=["down_blocks", "mid_block", "up_blocks"].index)
    weights = {}
    for name in names:
        layer = unet.get_submodule(name)
        weights[f"{name}.lora_A.weight"] = torch.zeros(1, layer.in_features)
        weights[f"{name}.lora_B.weight"] = torch.zeros(layer.out_features, 1)
    assert AdapterLayout.from_weights(weights).dim == 2688


ALLOWED_TARGETS = typing.get_args(typing.get_args(FinetuneParams.model_fields["targets"].annotation)[0])


@pytest.mark.parametrize("target", ALLOWED_TARGETS)
def test_each_allowed_target_names_the_layers_peft_wraps(target):
    # the layout and a stock peft adapter must agree on which layers a target names; "to_out.0" is a
    # dotted path, which matching on the last name component alone found nowhere
    unet = build_unet(section("base"), 8)
    names = lora_target_names(unet, (target,))
    inject_adapter_in_model(LoraConfig(r=1, target_modules=[target]), unet)
    wrapped = sorted(n.removesuffix(".lora_A.default") for n, _ in unet.named_modules()
                     if n.endswith(".lora_A.default"))
    assert len(names) == 14 and sorted(names) == wrapped  # 7 transformer blocks x (attn1, attn2)


def test_a_target_that_names_no_layer_is_refused():
    with pytest.raises(ValueError, match="'to_x' names no Linear layer"):
        lora_target_names(build_unet(section("base"), 8), ("to_v", "to_x"))


def test_flatten_unflatten_round_trip_is_exact():
    rng = torch.Generator().manual_seed(0)
    weights = {"a.lora_A.weight": torch.randn(1, 5, generator=rng),
               "a.lora_B.weight": torch.randn(3, 1, generator=rng)}
    layout = AdapterLayout.from_weights(weights)
    flat = layout.flatten(weights)
    assert flat.shape == (8,) and layout.offsets == [0, 5]
    back = layout.unflatten(flat)
    assert all(torch.equal(back[k], weights[k]) for k in weights)
    again = AdapterLayout.from_json(layout.to_json())
    assert again == layout and np.array_equal(again.flatten(back), flat)
    stacked = {k: torch.stack([v, 2 * v]) for k, v in weights.items()}
    assert np.array_equal(layout.flatten(stacked, stacked=True)[1], 2 * flat)


def test_layout_mismatches_are_named():
    layout = AdapterLayout(("x.lora_A.weight",), ((1, 4),))
    with pytest.raises(ValueError, match="shape"):
        layout.flatten({"x.lora_A.weight": torch.zeros(1, 5)})
    with pytest.raises(ValueError, match="keys differ"):
        layout.flatten({"y.lora_A.weight": torch.zeros(1, 4)})
    with pytest.raises(ValueError, match="4 numbers"):
        layout.unflatten(np.zeros(3))
