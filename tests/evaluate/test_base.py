"""Prompt fidelity read by the attribute reader, and by the judge's own head beside it."""

import pandas as pd
import pytest
import torch

from w2w.evaluate import base
from w2w.judge.api import Judge
from w2w.judge.model import JudgeNet, TraitNet
from w2w.world.dataset import render_identities
from w2w.world.identity import ATTRIBUTES, sample_identity

SAMPLES = 3


@pytest.fixture
def generated(monkeypatch):
    """`generate` replaced by renders of each prompt's own identity: no base model needed."""
    people = [sample_identity(i, 0) for i in range(6)]
    table = pd.DataFrame([{a: p.attributes[a] for a in ATTRIBUTES} for p in people])
    images = render_identities(people, SAMPLES, 0, 0, 32).reshape(-1, 32, 32, 3)
    monkeypatch.setattr(base, "generate", lambda pipe, prompts, *args, **kwargs: images[:len(prompts)])
    return table


def judge(reader: bool) -> Judge:
    torch.manual_seed(0)
    net = JudgeNet(len(ATTRIBUTES), 8, 16, 32)
    config = {"attributes": list(ATTRIBUTES), "width": 8, "embedding_dim": 16, "image_size": 32}
    return Judge(net, config, reader=TraitNet(len(ATTRIBUTES), 8, 32) if reader else None)


def test_the_judges_own_head_is_read_beside_the_reader(generated):
    with_reader, _ = base.prompt_fidelity(None, judge(True), generated, SAMPLES, 2, 1.0, 0)
    own_only, _ = base.prompt_fidelity(None, judge(False), generated, SAMPLES, 2, 1.0, 0)
    # the judge-head figures of a judge with a reader are the figures of the same judge without one
    assert with_reader["prompt_attribute_fidelity_judge_head"] == own_only["prompt_attribute_fidelity"]
    assert with_reader["prompt_attribute_fidelity_judge_head_ci"] == own_only["prompt_attribute_fidelity_ci"]
    assert "prompt_attribute_fidelity_judge_head" not in own_only
    lo, hi = with_reader["prompt_attribute_fidelity_reader_minus_judge_head_ci"]
    difference = with_reader["prompt_attribute_fidelity"] - own_only["prompt_attribute_fidelity"]
    assert lo - 1e-9 <= difference <= hi + 1e-9
