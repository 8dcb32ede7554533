import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import run_w2w
from PIL import Image

W2W = str(Path(sys.executable).parent / "w2w")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([W2W, "generate", *args], capture_output=True, text=True)


def run_here(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """In this process (tests/cli_run.py): the error cases need no interpreter of their own."""
    return run_w2w("generate", *args, cwd=cwd)


def test_generate_writes_a_deterministic_grid(tiny_pipeline, tmp_path):
    model = str(tiny_pipeline[1])
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    args = ("--model", model, "--prompt", "a photo of a man", "--n", "3", "--seed", "4", "--steps", "3",
            "--guidance", "7")
    result = run(*args, "--out", str(a))  # the console script
    assert result.returncode == 0, result.stderr
    again = run_here(*args, "--out", str(b), cwd=tmp_path)  # a second run, in this process
    assert again.returncode == 0, again.stderr
    assert Image.open(a).size == (3 * 32, 32)
    assert a.read_bytes() == b.read_bytes()


def test_missing_model_dir_is_a_clear_error(tmp_path):
    result = run_here("--model", str(tmp_path / "nope"), "--out", str(tmp_path / "g.png"), cwd=tmp_path)
    assert result.returncode != 0
    assert "not a diffusers pipeline folder" in result.stderr
    assert not (tmp_path / "g.png").exists()


def test_bad_lora_file_is_a_clear_error(tiny_pipeline, tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 10)
    result = run_here("--model", str(tiny_pipeline[1]), "--lora", str(bad), "--steps", "2",
                      "--out", str(tmp_path / "g.png"), cwd=tmp_path)
    assert result.returncode != 0
    assert "broken.safetensors: not a loadable LoRA" in result.stderr
    missing = run_here("--model", str(tiny_pipeline[1]), "--lora", str(tmp_path / "none.safetensors"),
                       cwd=tmp_path)
    assert missing.returncode != 0 and "no such LoRA file" in missing.stderr


def test_sampler_defaults_come_from_params_yaml(tmp_path):
    """One value for the base's guidance: params.yaml's evaluate_base, unless given."""
    import yaml

    from w2w.cli import build_parser, sampler_settings

    params = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())
    params["evaluate_base"].update(guidance_scale=6.5, sampler_steps=11)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    parse = build_parser().parse_args
    at = ["--model", "m", "--params", str(tmp_path / "params.yaml")]
    assert sampler_settings(parse(["generate", *at])) == (11, 6.5)
    assert sampler_settings(parse(["generate", *at, "--guidance", "2", "--steps", "3"])) == (3, 2.0)
    missing = parse(["generate", "--model", "m", "--params", str(tmp_path / "none.yaml")])
    with pytest.raises(FileNotFoundError, match="give --steps and --guidance"):
        sampler_settings(missing)
