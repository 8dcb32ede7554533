import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snapshot import snapshot

from w2w.params import Params, ParamsError, deep_merge, load_params, validate_params

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = yaml.safe_load((ROOT / "params.yaml").read_text())


def problems(raw) -> list[str]:
    """The problems of params.yaml with `raw` merged over it (a mapping), or of `raw` alone."""
    with pytest.raises(ParamsError) as caught:
        validate_params(deep_merge(COMMITTED, raw) if isinstance(raw, dict) else raw)
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
    ({"synthesize": {"source": "folder", "graded_cues": "fine"}},
     "synthesize.graded_cues: graded cues are the miniature world's; a folder's photos are as they are, "
     "got 'fine'"),
    ({"synthesize": {"graded_cues": "fine", "grade_margin": 0.5}},
     "synthesize.grade_margin: must be < 0.5, got 0.5"),
    ({"synthesize": {"grade_margin": 0.25}}, "synthesize.grade_margin: a margin keeps graded strengths from "
                                             "their threshold: set graded_cues too, got 0.25"),
    ({"base": {"source": "hub"}}, "base.source: must be one of 'miniature' or 'pretrained', got 'hub'"),
    ({"base": {"vae_channels": [16]}}, "base.vae_channels: must have at least 2 items, got [16]"),
    ({"base": {"unet_channels": 32}}, "base.unet_channels: must be a list, got 32"),
    ({"base": {"unet_channels": [32, "x"]}}, "base.unet_channels.1: must be an integer, got 'x'"),
    ({"base": {"vae_channels": [16, 20]}}, "base.vae_channels.1: must be a multiple of 8, got 20"),
    ({"base": {"attention_heads": 3}}, "base.attention_heads: must divide every unet_channels width, not "
                                       "[32, 64], got 3"),
    ({"base": {"unet_channels": [32, 48], "attention_heads": 32}},
     "base.attention_heads: must divide every unet_channels width, not [48], got 32"),
    ({"finetune": {"timestep_range": [600, 200]}},
     "finetune.timestep_range: must be [low, high) with low < high, got [600, 200]"),
    ({"finetune": {"timestep_range": [0, 1001]}}, "finetune.timestep_range.1: must be <= 1000, got 1001"),
    ({"finetune": {"timestep_range": [0]}}, "finetune.timestep_range: must have at least 2 items, got [0]"),
    ({"finetune": {"draws_per_image": 3, "draw_pairing": "antithetic"}},
     "finetune.draw_pairing: antithetic pairs an image's draws: draws_per_image must be even, not 3, "
     "got 'antithetic'"),
    ({"judge": {"renders_per_identity": 4, "style_renders_per_identity": 5}},
     "judge.style_renders_per_identity: the style head reuses the judge's renders: at most "
     "renders_per_identity (4), not 5, got 5"),
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


def test_empty_file_is_an_error_naming_the_sections(tmp_path):
    empty = tmp_path / "params.yaml"
    empty.write_text("# nothing yet\n")
    with pytest.raises(ParamsError) as caught:
        load_params(empty)
    assert caught.value.problems == [f"{empty}: empty; it needs one section per stage "
                                     f"({', '.join(Params.model_fields)})"]


def test_missing_section_and_missing_key_are_named(tmp_path):
    raw = {k: v for k, v in COMMITTED.items() if k != "pca"}
    raw["judge"] = {k: v for k, v in raw["judge"].items() if k != "seed"}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError) as caught:
        load_params(path)
    assert caught.value.problems == [f"{path}: judge.seed: missing required key",
                                     f"{path}: pca: missing section"]


def test_schema_holds_no_values_so_params_yaml_is_the_one_source():
    with_default = [f"{name}.{key}" for name, section in Params.model_fields.items()
                    for key, field in section.annotation.model_fields.items() if not field.is_required()]
    missing_sections_allowed = [name for name, f in Params.model_fields.items() if not f.is_required()]
    assert with_default == [] and missing_sections_allowed == []


def test_flat_and_hash():
    params = validate_params(COMMITTED)
    flat = params.flat(("synthesize",))
    assert flat["synthesize.images_per_identity"] == params.synthesize.images_per_identity
    assert all(key.startswith("synthesize.") for key in flat)
    other = validate_params(deep_merge(COMMITTED, {"judge": {"epochs": 3}}))
    assert params.config_hash() == validate_params(COMMITTED).config_hash() != other.config_hash()


@pytest.mark.parametrize("stage", ["synthesize", "judge"])
@pytest.mark.parametrize(("content", "message"), [
    ({"synthesize": {"colour": 1}}, "synthesize.colour: unknown key"),
    ({"synthesize": {"identities": "x"}}, "synthesize.identities: must be an integer"),
    ({"judge": {"epochs": 0}}, "judge.epochs: must be >= 1, got 0"),
    (None, "params.yaml: params file not found"),
    ("", "params.yaml: empty; it needs one section per stage (synthesize, judge,"),
    ({k: v for k, v in COMMITTED.items() if k != "synthesize"}, "params.yaml: synthesize: missing section"),
])
def test_stage_exits_2_and_touches_nothing(project_copy, stage, content, message):
    params = project_copy / "params.yaml"
    if content is None:
        params.unlink()
    elif not content:
        params.write_text("")
    else:  # the committed values with one fault, or a whole section gone
        whole = len(content) > 1
        params.write_text(yaml.safe_dump(content if whole else deep_merge(COMMITTED, content)))
    before = snapshot(project_copy)
    result = subprocess.run([sys.executable, f"stages/{stage}.py"], cwd=project_copy,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert not (project_copy / "data").exists()
    assert not (project_copy / "mlflow.db").exists()
    assert snapshot(project_copy) == before  # every file as it was, metrics included
