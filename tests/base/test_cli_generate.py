import subprocess
import sys
from pathlib import Path

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
    for out in (a, b):
        result = run("--model", model, "--prompt", "a photo of a man", "--n", "3", "--seed", "4",
                     "--steps", "3", "--out", str(out))
        assert result.returncode == 0, result.stderr
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
