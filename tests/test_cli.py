import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from snapshot import snapshot

from w2w.cli import main
from w2w.storage import STREAM_IMAGES
from w2w.world.dataset import render_identity
from w2w.world.identity import Grading

W2W = str(Path(sys.executable).parent / "w2w")
ROOT = Path(__file__).resolve().parents[1]


def test_params_check_ok_and_bad(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text((ROOT / "params.yaml").read_text().replace("epochs: 12", "epochs: 2"))
    assert main(["params", "check", "--params", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "params.yaml").read_text().replace("epochs: 12", "epochs: 0\n  colour: red"))
    result = subprocess.run([W2W, "params", "check", "--params", str(bad)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {bad}: judge.epochs: must be >= 1, got 0",
                                          f"error: {bad}: judge.colour: unknown key, got 'red'"]


def test_params_check_refuses_an_empty_file_and_a_missing_section(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    partial = tmp_path / "partial.yaml"
    partial.write_text((ROOT / "params.yaml").read_text().split("\npca:")[0])
    for path, message in [(empty, f"error: {empty}: empty; it needs one section per stage (synthesize,"),
                          (partial, f"error: {partial}: pca: missing section")]:
        result = subprocess.run([W2W, "params", "check", "--params", str(path)], capture_output=True,
                                text=True)
        assert result.returncode == 2 and message in result.stderr and "ok" not in result.stdout


def test_params_use_needs_a_whole_params_file(tmp_path):
    profile = ROOT / "profiles" / "micro.yaml"
    for content, message in [(None, "params file not found"), ("", "empty; it needs one section per stage")]:
        params = tmp_path / "params.yaml"
        if content is not None:
            params.write_text(content)
        result = subprocess.run([W2W, "params", "use", str(profile), "--params", str(params)],
                                capture_output=True, text=True)
        assert result.returncode == 2 and f"{params}: {message}" in result.stderr, result.stderr
        assert (params.read_text() if params.exists() else None) == content


def test_world_show_writes_a_grid(tmp_path):
    out = tmp_path / "world.png"
    assert main(["world", "show", "--identity", "0", "1", "--n", "3", "--out", str(out)]) == 0
    assert Image.open(out).size == (3 * 32, 2 * 32)


def test_world_show_draws_graded_cues_as_a_graded_world_does(tmp_path, capsys):
    plain, graded = tmp_path / "plain.png", tmp_path / "graded.png"
    assert main(["world", "show", "--identity", "3", "--n", "2", "--out", str(plain)]) == 0
    assert main(["world", "show", "--identity", "3", "--n", "2", "--out", str(graded), "--graded-cues", "all",
                 "--grade-margin", "0.25"]) == 0
    default = Grading("all", 0.25, 2, 0.7)  # the default world's trait factors
    expected = render_identity(default.draw(3, 0), 2, 0, STREAM_IMAGES, 32)
    assert main(["world", "show", "--out", str(tmp_path / "x.png"), "--trait-communality", "1"]) == 1
    assert "--trait-communality 1.0: must be" in capsys.readouterr().err
    assert np.array_equal(np.asarray(Image.open(graded)), np.concatenate(list(expected), axis=1))
    assert not np.array_equal(np.asarray(Image.open(plain)), np.asarray(Image.open(graded)))
    assert main(["world", "show", "--out", str(tmp_path / "x.png"), "--grade-margin", "0.5"]) == 1
    assert capsys.readouterr().err == "error: --grade-margin 0.5: must be in [0, 0.5)\n"
    assert main(["world", "show", "--out", str(tmp_path / "x.png"), "--grade-margin", "0.25"]) == 1
    assert "give --graded-cues too" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_an_image_out_is_never_a_file_the_command_did_not_write(tmp_path):
    def show(out, *extra):
        command = [W2W, "world", "show", "--identity", "0", "--n", "2", "--out", str(out), *extra]
        return subprocess.run(command, capture_output=True, text=True)

    photo = tmp_path / "holiday.png"
    Image.new("RGB", (8, 8), "red").save(photo)
    (tmp_path / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    for out, message in [(photo, "holiday.png: exists and `w2w world show` did not write it"),
                         (tmp_path / "notes.txt", "notes.txt: --out must be a .png path")]:
        for extra in ([], ["--force"]):
            result = show(out, *extra)
            assert result.returncode == 1 and message in result.stderr, result.stderr
    assert snapshot(tmp_path) == before
    ours = tmp_path / "world.png"
    assert show(ours).returncode == 0
    again = show(ours)
    assert again.returncode == 1 and "pass --force to replace it" in again.stderr
    assert show(ours, "--force").returncode == 0


def test_every_option_of_every_command_has_help_and_shows_its_default():
    from w2w.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, command in commands.items():
        text = command.format_help()
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            where = f"w2w {name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help, f"{where}: no help text"
            d = action.default
            shown = not (d is None or d is False or d == []) and not action.required
            if shown:
                assert f"(default: {action.default})" in " ".join(text.split()), f"{where}: default not shown"
