"""The finetune stage resumes only from shards of the same inputs: the fingerprint of its
dependencies moves with any dependency's content and with nothing else."""

import pytest

from w2w.errors import InputError
from w2w.stage_inputs import dependency_fingerprint

DVC_YAML = """stages:
  train:
    cmd: python train.py
    deps:
      - train.py
      - data/base
  other:
    cmd: python other.py
    deps:
      - other.py
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "train.py").write_text("print('train')\n")
    (tmp_path / "other.py").write_text("print('other')\n")
    (tmp_path / "data" / "base" / "model").mkdir(parents=True)
    (tmp_path / "data" / "base" / "model" / "unet.bin").write_bytes(b"\x00\x01")
    return tmp_path


def test_the_fingerprint_moves_with_every_dependency_and_nothing_else(project):
    before = dependency_fingerprint(project, "train")
    assert dependency_fingerprint(project, "train") == before  # the same inputs: a run to resume
    (project / "other.py").write_text("print('changed')\n")   # not a dependency of this stage
    (project / "data" / "fleet").mkdir()
    (project / "data" / "fleet" / "shard-00000.safetensors").write_bytes(b"kept")
    assert dependency_fingerprint(project, "train") == before
    unet = project / "data" / "base" / "model" / "unet.bin"
    unet.write_bytes(b"\x00\x02")                               # a retrained base, params unchanged
    retrained = dependency_fingerprint(project, "train")
    assert retrained != before
    (project / "train.py").write_text("print('train, edited')\n")  # edited training code
    edited = dependency_fingerprint(project, "train")
    assert edited not in (before, retrained)
    unet.rename(unet.with_name("renamed.bin"))                 # a file's name counts too
    assert dependency_fingerprint(project, "train") not in (before, retrained, edited)


def test_a_missing_dependency_or_stage_is_one_clear_error(project):
    (project / "train.py").unlink()
    with pytest.raises(InputError, match="train.py: a dependency of stage 'train' is missing"):
        dependency_fingerprint(project, "train")
    with pytest.raises(InputError, match="no dependencies listed for stage 'absent'"):
        dependency_fingerprint(project, "absent")
