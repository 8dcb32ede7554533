import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from w2w.params import Params, ParamsError, load_params, validate_params

ROOT = Path(__file__).resolve().parents[1]


def problems(raw) -> list[str]:
    with pytest.raises(ParamsError) as caught:
        validate_params(raw)
    return caught.value.problems


def test_committed_params_are_valid():
    params = load_params(ROOT / "params.yaml")
    assert params.synthesize.identities >= 100


def test_out_of_range_names_key_and_value():
    assert problems({"synthesize": {"images_per_identity": 0}}) == [
        "synthesize.images_per_identity: must be >= 1, got 0"]


@pytest.mark.parametrize(("raw", "expected"), [
    ({"synthesize": {"imagez": 3}}, "synthesize.imagez: unknown key, got 3"),
    ({"bogus": {}}, "bogus: unknown key, got {}"),
    ({"synthesize": {"identities": "many"}}, "synthesize.identities: must be an integer, got 'many'"),
    ({"synthesize": {"identities": 3.5}}, "synthesize.identities: must be an integer, got 3.5"),
    ({"judge": {"lr": True}}, "judge.lr: must be a number, got True"),
    ({"judge": {"lr": 0}}, "judge.lr: must be > 0.0, got 0"),
    ({"synthesize": {"heldout_fraction": 1.0}}, "synthesize.heldout_fraction: must be < 1.0, got 1.0"),
    ({"judge": {"margin": 2}}, "judge.margin: must be <= 1.0, got 2"),
    ({"synthesize": {"image_size": 30}}, "synthesize.image_size: must be a multiple of 8, got 30"),
    ({"synthesize": {"source": "web"}},
     "synthesize.source: must be one of 'miniature' or 'folder', got 'web'"),
    ({"synthesize": 5}, "synthesize: must be a mapping, got 5"),
    ({"base": {"source": "hub"}}, "base.source: must be one of 'miniature' or 'pretrained', got 'hub'"),
    ({"base": {"vae_channels": [16]}}, "base.vae_channels: must have at least 2 items, got [16]"),
    ({"base": {"unet_channels": 32}}, "base.unet_channels: must be a list, got 32"),
    ({"base": {"unet_channels": [32, "x"]}}, "base.unet_channels.1: must be an integer, got 'x'"),
    ({"base": {"vae_channels": [16, 20]}}, "base.vae_channels.1: must be a multiple of 8, got 20"),
])
def test_each_error_kind_is_one_clear_line(raw, expected):
    assert problems(raw) == [expected]


def test_all_problems_reported_at_once():
    lines = problems({"synthesize": {"identities": 0, "seed": -1}, "judge": {"epochs": "x"}})
    assert len(lines) == 3
    assert {line.split(":")[0] for line in lines} == {
        "synthesize.identities", "synthesize.seed", "judge.epochs"}


def test_root_must_be_mapping():
    assert problems([1, 2]) == ["<root>: must be a mapping of stage sections, got [1, 2]"]


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ParamsError, match="params file not found"):
        load_params(tmp_path / "params.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("synthesize: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)


def test_empty_file_means_defaults(tmp_path):
    empty = tmp_path / "params.yaml"
    empty.write_text("")
    assert load_params(empty) == Params()


def test_flat_and_hash():
    params = Params()
    flat = params.flat(("synthesize",))
    assert flat["synthesize.images_per_identity"] == params.synthesize.images_per_identity
    assert all(key.startswith("synthesize.") for key in flat)
    other = validate_params({"judge": {"epochs": 3}})
    assert params.config_hash() == Params().config_hash() != other.config_hash()


@pytest.mark.parametrize("stage", ["synthesize", "judge"])
@pytest.mark.parametrize(("content", "message"), [
    ({"synthesize": {"colour": 1}}, "synthesize.colour: unknown key"),
    ({"synthesize": {"identities": "x"}}, "synthesize.identities: must be an integer"),
    ({"judge": {"epochs": 0}}, "judge.epochs: must be >= 1, got 0"),
    (None, "params.yaml: params file not found"),
])
def test_stage_exits_2_and_touches_nothing(project_copy, stage, content, message):
    params = project_copy / "params.yaml"
    if content is None:
        params.unlink()
    else:
        params.write_text(yaml.safe_dump(content))
    metrics = project_copy / "metrics" / f"{stage}.json"
    before = metrics.read_bytes() if metrics.exists() else None
    result = subprocess.run([sys.executable, f"stages/{stage}.py"], cwd=project_copy,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (project_copy / "data").exists()
    assert not (project_copy / "mlflow.db").exists()
    assert (metrics.read_bytes() if metrics.exists() else None) == before
