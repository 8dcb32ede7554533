"""The summary report: figures from the metrics files, verdicts against the goals, grids linked."""

import json

import pytest

from w2w.errors import InputError
from w2w.evaluate.report import summary_markdown

EDIT = {"flip_rate_mean": 0.95, "identity_similarity_mean": 0.8, "other_attributes_kept_mean": 0.92,
        "flip_rate": {"Eyeglasses": 0.95}, "target_shift_mean": 0.4, "target_shift": {"Eyeglasses": 0.4}}


def write_metrics(folder, novel=0.95):
    files = {
        "edits.json": {**EDIT, "strength": 2.0, "identities": 3, "attributes": ["Eyeglasses"],
                       "prompt_baseline": {**EDIT, "identity_similarity_mean": 0.5},
                       "raw_weight_baseline": {**EDIT, "strength": 3.0}},
        "inversion.json": {"identities": 2, "fleet_model": {"similarity": 0.5, "attribute_agreement": 0.9},
                           **{m: {"in_distribution": v, "ood": v, "in_distribution_attribute_agreement": 0.9,
                                  "ood_attribute_agreement": 0.8} for m, v in (("w2w", 0.6),
                                                                              ("single_image_lora", 0.3))}},
        "sampling.json": {"consistency_mean": 0.4, "trained_consistency_mean": 0.42, "novel_fraction": novel,
                          "novel_fraction_heldout_models": 0.9, "novel_fraction_train_models": 0.1,
                          "attribute_rate_abs_diff_mean": 0.05, "models": 8, "covariance": "diagonal"},
        "finetune.json": {"identity_similarity_mean": 0.5},
        "directions.json": {"auc_mean": 0.97, "auc_min": 0.9},
    }
    for name, data in files.items():
        (folder / name).write_text(json.dumps(data))


def test_summary_states_each_goal_with_its_verdict(tmp_path):
    write_metrics(tmp_path, novel=0.5)
    text = summary_markdown(tmp_path)
    assert "| edit success | flip_rate_mean >= 0.9 | 0.950 | met |" in text
    assert "| sampling novelty | novel_fraction >= 0.9 | 0.500 | **not met** |" in text
    assert "+0.300 in distribution" in text and "![inversion](inversion_grid.png)" in text


def test_missing_metrics_name_the_file(tmp_path):
    write_metrics(tmp_path)
    (tmp_path / "sampling.json").unlink()
    with pytest.raises(InputError, match="sampling.json"):
        summary_markdown(tmp_path)
