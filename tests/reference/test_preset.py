"""The reference preset: valid over params.yaml, one command to apply, and the reference layout."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch
import yaml

from w2w.adapters.layout import AdapterLayout
from w2w.adapters.lora import lora_target_names
from w2w.params import deep_merge, flatten, load_params, validate_params
from w2w.reference.sd15 import sd15_shapes

ROOT = Path(__file__).resolve().parents[2]
PRESET = ROOT / "profiles" / "reference.yaml"
BIN = Path(sys.executable).parent


def preset_params():
    return validate_params(deep_merge(yaml.safe_load((ROOT / "params.yaml").read_text()),
                                      yaml.safe_load(PRESET.read_text())))


def test_preset_on_an_sd15_shaped_unet_gives_99648_parameters_in_reference_order():
    p = preset_params().finetune
    unet = sd15_shapes()
    names = lora_target_names(unet, tuple(p.targets))
    weights = {}
    for name in names:  # the reference order: layer by layer, A before B
        layer = unet.get_submodule(name)
        weights[f"{name}.lora_A.weight"] = torch.zeros(p.rank, layer.in_features)
        weights[f"{name}.lora_B.weight"] = torch.zeros(layer.out_features, p.rank)
    layout = AdapterLayout.from_weights(weights)
    assert layout.dim == 99_648 and len(names) == 64
    blocks = [k.split(".")[0] for k in layout.keys]
    assert blocks == ["down_blocks"] * 48 + ["mid_block"] * 8 + ["up_blocks"] * 72  # 6, 1, 9 blocks x 8
    assert layout.keys[:2] == ("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight",
                               "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight")
    assert (p.rank, p.lora_alpha, p.steps, p.lr, p.prior_weight, p.class_images) == (1, 27.0, 800, 1e-4,
                                                                                     1.0, 200)
    assert (p.timesteps, p.timestep_range, p.snr_gamma) == ("uniform", [0, 1000], 0.0)  # every timestep alike


def test_params_use_applies_the_preset_in_one_command(tmp_path):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    done = subprocess.run([str(BIN / "w2w"), "params", "use", str(PRESET)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert load_params(tmp_path / "params.yaml") == preset_params()
    before, after = (ROOT / "params.yaml").read_text(), (tmp_path / "params.yaml").read_text()
    assert comments(after) == comments(before)  # every reason for a value survives, in order
    assert list(flatten(yaml.safe_load(after))) == list(flatten(yaml.safe_load(before)))  # key order


def comments(text: str) -> list[str]:
    return [line[line.index("#"):] for line in text.splitlines() if "#" in line]


def test_overrides_print_dvc_set_params_that_mean_the_preset(tmp_path):
    done = subprocess.run([str(BIN / "w2w"), "params", "overrides", str(PRESET)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    tokens = done.stdout.split()
    assert tokens[::2] == ["-S"] * (len(tokens) // 2)
    parsed = {pair.split("=", 1)[0]: yaml.safe_load(pair.split("=", 1)[1]) for pair in tokens[1::2]}
    assert parsed == flatten(yaml.safe_load(PRESET.read_text()))  # what dvc's YAML parsing reads
    assert json.loads(json.dumps(parsed))["finetune.targets"] == ["to_q", "to_v"]


def test_a_bad_profile_is_refused_and_params_are_untouched(tmp_path):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "bad.yaml").write_text("finetune:\n  steps: 0\n")
    before = (tmp_path / "params.yaml").read_text()
    done = subprocess.run([str(BIN / "w2w"), "params", "use", "bad.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "finetune.steps" in done.stderr
    assert (tmp_path / "params.yaml").read_text() == before
