"""measure_inversion's bookkeeping, with the methods and the scoring replaced by stand-ins whose
answers are known: it inverts the held-out identities' own images and paintings, scores each model
against its own identity, and reports the paired difference."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from committed import section
from fakes import Rows

import w2w.evaluate.inversion as inversion


def test_held_out_images_and_paintings_are_inverted_and_scored_against_their_own_identity(monkeypatch):
    n, held = 6, np.array([False, True, False, True, True, False])  # held-out rows 1, 3, 4
    images = np.zeros((n, 2, 2, 2, 3), np.uint8)
    images[:, :, 0, 0, 0] = np.arange(n)[:, None] * 10                 # row r's images hold 10 r
    ood = np.zeros((3, 1, 2, 2, 3), np.uint8)
    ood[:, 0, 0, 0, 0] = [11, 31, 41]                                   # paintings of rows 1, 3, 4
    table = pd.DataFrame({"identity_id": np.arange(100, 100 + n), "Eyeglasses": held})
    ctx = SimpleNamespace(heldout=held, table=table, images=Rows(images), ood=ood, image_size=2,
                          judge=SimpleNamespace(attribute_names=["Eyeglasses"]),
                          adapters=lambda rows: rows[:, None].astype(float) * 10)
    seen = {}

    def invert(method, offset):
        def run(ctx, *args):
            images = args[1] if method == "w2w" else args[0]
            ids = None if method == "w2w" else args[1]
            seen.setdefault(method, []).append((images[:, 0, 0, 0].tolist(), ids))
            return images[:, 0, 0, 0][:, None].astype(float) + offset   # (K, 1): the input's code
        return run

    def score(ctx, adapters, renders, truth, p, desc):
        # a stand-in model is the code of the image it came from (10 r, or 10 r + 1 for a painting;
        # + 1000 for the LoRA): similarity 1 when that row r is the identity it is scored against
        rows = (adapters[:, 0] % 1000) // 10
        sim = (rows == np.flatnonzero(held)[: len(adapters)]).astype(float)
        return sim, truth.mean(1), np.zeros((len(adapters), 2, 2, 2, 3), np.uint8)

    monkeypatch.setattr(inversion, "w2w_inversion", invert("w2w", 0))
    monkeypatch.setattr(inversion, "single_image_lora", invert("lora", 1000))
    monkeypatch.setattr(inversion, "score_models", score)
    monkeypatch.setattr(inversion, "reference_renders",
                        lambda table, r, seed, size: np.zeros((len(table), r, size, size, 3), np.uint8))
    p = section("evaluate_inversion", identities=3)
    metrics, grid = inversion.measure_inversion(ctx, None, p, section("finetune"))
    assert seen["w2w"] == [([10, 30, 40], None), ([11, 31, 41], None)]       # held-out rows, then paintings
    assert seen["lora"] == [([10, 30, 40], [101, 103, 104]), ([11, 31, 41], [101, 103, 104])]
    assert metrics["identities"] == 3
    assert metrics["w2w"]["in_distribution"] == pytest.approx(1.0)           # each its own identity
    assert metrics["w2w"]["ood"] == pytest.approx(1.0)
    assert metrics["fleet_model"]["similarity"] == pytest.approx(1.0)        # the held-out rows' own
    assert metrics["w2w"]["in_distribution_attribute_agreement"] == 1.0      # all three wear glasses
    assert metrics["single_image_lora"]["ood"] == pytest.approx(1.0)
    assert metrics["w2w_minus_lora_ood"] == pytest.approx(0.0)
    assert grid.shape == (3, 7, 2, 2, 3)
