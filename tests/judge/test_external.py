"""A yardstick of the user's own (`judge.yardstick`): named by module:function or file.py:function,
checked, measured like the trained judge, and loaded by every later stage through Judge.load."""

import textwrap

import numpy as np
import pytest

from w2w.errors import InputError
from w2w.judge.api import Judge
from w2w.judge.external import ExternalJudge, resolve
from w2w.judge.train import yardstick_and_evaluate
from w2w.world.identity import ATTRIBUTES

YARDSTICK = textwrap.dedent('''
    import numpy as np

    def pixels(images):
        """Embedding: the image at 8x8; each attribute: the mean brightness."""
        x = images.astype(np.float64) / 255
        n, s = len(x), x.shape[1]
        small = x.reshape(n, 8, s // 8, 8, s // 8, 3).mean((2, 4)).reshape(n, -1)
        bright = x.mean((1, 2, 3))
        return {"embedding": small - small.mean(1, keepdims=True),
                "attributes": {a: bright for a in NAMES}}

    def wrong(images):
        return {"embedding": np.zeros((len(images), 4))}
''')


def write_yardstick(folder, names):
    path = folder / "my_yardstick.py"
    path.write_text(YARDSTICK + f"\nNAMES = {list(names)!r}\n")
    return path


def test_a_file_yardstick_is_measured_and_loaded_like_the_judge(micro_world, tmp_path):
    path = write_yardstick(tmp_path, ATTRIBUTES)
    out = tmp_path / "judge"
    metrics = yardstick_and_evaluate(micro_world, f"{path}:pixels", out, round_trip=None)
    assert set(metrics["attribute_accuracy"]) == set(ATTRIBUTES)
    assert 0.5 < metrics["identity_auc"] <= 1          # pixels tell identities apart, a little
    judge = Judge.load(out)                            # what every later stage calls
    assert isinstance(judge, ExternalJudge) and not judge.has_traits
    images = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    assert judge.embed(images).shape == (3, 192)
    assert np.allclose(np.linalg.norm(judge.embed(images), axis=1), 1)
    assert judge.attribute_probabilities(images).shape == (3, len(ATTRIBUTES))
    assert judge.identity_similarity(images, images) == pytest.approx(1.0)
    assert np.isclose(judge.config["verification_threshold"], metrics["verification_threshold"])


def test_a_module_yardstick_on_the_working_directory(tmp_path, monkeypatch):
    write_yardstick(tmp_path, ["Eyeglasses"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve("my_yardstick:pixels").__name__ == "pixels"


def test_bad_yardsticks_are_clear_errors(micro_world, tmp_path):
    path = write_yardstick(tmp_path, ATTRIBUTES[:3])  # scores 3 of the world's 13 attributes
    for entry, message in ((f"{path}", "not module:function"), ("no_such_module_w2w:f", "cannot import"),
                           (f"{tmp_path}/missing.py:f", "no such file"), (f"{path}:absent", "no function")):
        with pytest.raises(InputError, match=message):
            resolve(entry)
    with pytest.raises(InputError, match="no probabilities for attributes"):
        yardstick_and_evaluate(micro_world, f"{path}:pixels", tmp_path / "j1")
    with pytest.raises(InputError, match="must return a dict with 'embedding' and 'attributes'"):
        yardstick_and_evaluate(micro_world, f"{path}:wrong", tmp_path / "j2")
