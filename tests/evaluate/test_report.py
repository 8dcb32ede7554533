"""The summary report: the ladder first, then each claim with its interval and three-way verdict."""

import json

import pytest

from w2w.errors import InputError
from w2w.evaluate.report import summary_markdown, within


def m(name: str, mean: float, lo: float, hi: float) -> dict:
    return {f"{name}_mean": mean, f"{name}_mean_ci": [lo, hi]}


EDIT = {**m("flip_rate", 0.95, 0.92, 0.97), **m("identity_similarity", 0.8, 0.7, 0.85),
        **m("other_attributes_kept", 0.85, 0.8, 0.88), **m("target_shift", 0.4, 0.3, 0.5),
        "flip_rate": {"Eyeglasses": 0.95}, "target_shift": {"Eyeglasses": 0.4}}
SCORES = {**m("in_distribution", 0.6, 0.5, 0.7), **m("ood", 0.6, 0.5, 0.7),
          **m("in_distribution_trait_error", 0.4, 0.3, 0.5), **m("ood_trait_error", 0.5, 0.4, 0.6)}


def write_metrics(folder, novel=(0.95, 0.91, 0.98), valid=True):
    files = {
        "edits.json": {**EDIT, "strength": 2.0, "identities": 3, "attributes": ["Eyeglasses"],
                       "prompt_baseline": EDIT, "raw_weight_baseline": {**EDIT, "strength": 3.0},
                       "w2w_vs_prompting": {**EDIT, "strength": 1.0, "identity_similarity_difference": 0.2,
                                            "identity_similarity_difference_ci": [0.1, 0.3],
                                            "flip_rate_difference": -0.1,
                                            "flip_rate_difference_ci": [-0.2, -0.06]}},
        "inversion.json": {"identities": 2, "w2w": SCORES, "single_image_lora": SCORES,
                           "fleet_model": {**m("similarity", 0.5, 0.4, 0.6),
                                           **m("trait_error", 0.3, 0.2, 0.4)},
                           "w2w_minus_lora_in_distribution": {"similarity": 0.3, "similarity_ci": [0.1, 0.5]},
                           "w2w_minus_lora_ood": {"similarity": 0.05, "similarity_ci": [-0.1, 0.2]}},
        "sampling.json": {**m("consistency", 0.4, 0.35, 0.45), **m("trained_consistency", 0.42, 0.4, 0.44),
                          "consistency_difference": -0.02, "consistency_difference_ci": [-0.04, 0.01],
                          **m("novel_fraction", *novel), **m("novel_fraction_heldout_models", 0.95, 0.9, 1.0),
                          **m("novel_fraction_train_models", 0.1, 0.0, 0.2), "novelty_rule_valid": valid,
                          "novelty_threshold": 0.6, "attribute_rate_abs_diff_mean": 0.05, "models": 8,
                          "covariance": "diagonal"},
        "finetune.json": {**m("identity_similarity", 0.5, 0.45, 0.55), **m("trait_error", 0.4, 0.35, 0.45)},
        "directions.json": {"auc_mean": 0.97, "auc_min": 0.9, "auc_min_ci": [0.85, 0.94],
                            "auc_min_attribute": "Narrow_Eyes"},
        "ladder.json": {"rungs": [{"rung": "fresh renders (ceiling)", "identities": 2,
                                   **m("similarity", 0.98, 0.97, 0.99), **m("trait_error", 0.1, 0.05, 0.15)}],
                        **m("projection_relative_residual", 0.8, 0.7, 0.9)},
    }
    for name, data in files.items():
        (folder / name).write_text(json.dumps(data))


def test_each_claim_gets_its_interval_and_a_three_way_verdict(tmp_path):
    write_metrics(tmp_path)
    text = summary_markdown(tmp_path)
    assert "| 2. edits: the attribute changes | flip rate >= 0.9 | 0.950 [0.920, 0.970] | met |" in text
    assert ("| 2. edits: identity kept | identity similarity >= 0.75 | 0.800 [0.700, 0.850] | "
            "**undecided** |") in text
    assert "| 2. edits: other attributes kept | kept >= 0.9 | 0.850 [0.800, 0.880] | **not met** |" in text
    assert "flip -0.100 [-0.200, -0.060] | **not met** |" in text       # paired, wholly below -0.05
    assert "w2w - LoRA 0.300 [0.100, 0.500] | met |" in text
    assert "lowest 0.900 [0.850, 0.940] (Narrow_Eyes; goal >= 0.95 for each: **not met**)" in text
    assert "w2w - LoRA 0.050 [-0.100, 0.200] | **undecided** |" in text
    assert "difference -0.020 [-0.040, 0.010] | met |" in text          # within 0.05 of trained
    assert text.index("## Ceiling ladder") < text.index("## The paper's claims")
    assert "| fresh renders (ceiling) | 2 | 0.980 [0.970, 0.990] | 0.100 [0.050, 0.150] |" in text
    assert "![inversion](inversion_grid.png)" in text


def test_a_realistic_identity_from_the_painting_is_a_claim_only_where_the_judge_has_a_style_head(tmp_path):
    write_metrics(tmp_path)
    assert "a realistic identity" not in summary_markdown(tmp_path)   # no style head: not measured
    inversion = json.loads((tmp_path / "inversion.json").read_text())
    inversion["w2w"].update(m("ood_realistic", 0.95, 0.91, 0.98))
    inversion["single_image_lora"].update(m("ood_realistic", 0.1, 0.0, 0.2))
    (tmp_path / "inversion.json").write_text(json.dumps(inversion))
    text = summary_markdown(tmp_path)
    assert ("| 3. inversion from the painting: a realistic identity | w2w's samples called renders, not "
            "paintings, >= 0.9 | 0.950 [0.910, 0.980] | met |") in text
    assert "| 0.950 [0.910, 0.980] |\n| single-image LoRA |" in text          # the table's last column
    assert "| 0.100 [0.000, 0.200] |\n| fleet model" in text


def edit_metrics(folder, **changes) -> None:
    edits = json.loads((folder / "edits.json").read_text())
    for key, value in changes.items():
        edits[key].update(value)
    (folder / "edits.json").write_text(json.dumps(edits))


def add_edit_metrics(folder, **added) -> None:
    """Figures the edits stage writes now and the written metrics lack: set at the top level."""
    edits = json.loads((folder / "edits.json").read_text())
    (folder / "edits.json").write_text(json.dumps({**edits, **added}))


def test_edits_against_prompting_are_read_at_the_strength_that_flips_as_often(tmp_path):
    write_metrics(tmp_path)
    edit_metrics(tmp_path, w2w_vs_prompting={"flip_rate_difference": 0.01,
                                             "flip_rate_difference_ci": [-0.04, 0.06]})
    text = summary_markdown(tmp_path)
    assert "w2w at strength 1: chosen on train identities to flip as often as prompting" in text
    assert "flip 0.010 [-0.040, 0.060] | met |" in text                 # not lower by more than 0.05
    edit_metrics(tmp_path, w2w_vs_prompting={"flip_rate_difference_ci": [-0.07, 0.06]})
    assert "flip 0.010 [-0.070, 0.060] | **undecided** |" in summary_markdown(tmp_path)
    edit_metrics(tmp_path, w2w_vs_prompting={"identity_similarity_difference_ci": [-0.1, -0.01]})
    assert "flip 0.010 [-0.070, 0.060] | **not met** |" in summary_markdown(tmp_path)  # identity lower


def test_edits_against_prompting_need_both_yardsticks_where_the_judge_reads_traits(tmp_path):
    write_metrics(tmp_path)
    edit_metrics(tmp_path, w2w_vs_prompting={"flip_rate_difference": 0.01,
                                             "flip_rate_difference_ci": [-0.04, 0.06],
                                             "trait_change_difference": -0.02,
                                             "trait_change_difference_ci": [-0.03, -0.01]})
    text = summary_markdown(tmp_path)
    assert "identity kept higher (and traits changed less)" in text
    assert "trait change -0.020 [-0.030, -0.010], flip 0.010 [-0.040, 0.060] | met |" in text
    edit_metrics(tmp_path, w2w_vs_prompting={"trait_change_difference_ci": [0.01, 0.03]})
    assert "flip 0.010 [-0.040, 0.060] | **not met** |" in summary_markdown(tmp_path)  # traits moved more


def test_a_raw_direction_that_is_the_w2w_one_is_named_not_tabled(tmp_path):
    write_metrics(tmp_path)
    assert "| raw weight direction | 3.000 |" in summary_markdown(tmp_path)
    edits = json.loads((tmp_path / "edits.json").read_text())
    edits["raw_weight_baseline"] = {"rendered": False, "max_relative_difference": 0.004}
    (tmp_path / "edits.json").write_text(json.dumps(edits))
    text = summary_markdown(tmp_path)
    assert "| raw weight direction |" not in text and "raw flip" not in text
    assert "largest relative difference 0.004" in text
    assert "| w2w, as often flipped as prompting (train) | 1.000 |" in text


def test_novelty_is_not_judged_when_its_controls_do_not_separate(tmp_path):
    write_metrics(tmp_path, valid=False)
    text = summary_markdown(tmp_path)
    assert "**invalid rule**: the controls do not separate" in text


def test_within_a_tolerance_needs_the_whole_interval():
    assert within([-0.04, 0.03], 0.05) == "met"
    assert within([0.06, 0.2], 0.05) == "not met" and within([-0.3, -0.06], 0.05) == "not met"
    assert within([0.01, 0.2], 0.05) == "undecided"


def test_missing_metrics_name_the_file(tmp_path):
    write_metrics(tmp_path)
    (tmp_path / "ladder.json").unlink()
    with pytest.raises(InputError, match="ladder.json"):
        summary_markdown(tmp_path)


def test_the_attributes_first_sampler_is_reported_beside_the_reference_with_nearness_to_new_people(
        tmp_path):
    write_metrics(tmp_path)
    assert "attributes first" not in summary_markdown(tmp_path)   # metrics from before it was measured
    sampling = json.loads((tmp_path / "sampling.json").read_text())
    sampling.update({"alike_people": 12, **m("alike_consistency", 0.6, 0.55, 0.65),
                     "alike_consistency_difference": -0.03, "alike_consistency_difference_ci": [-0.08, 0.02],
                     **m("alike_novel_fraction", 0.8, 0.7, 0.9),
                     **m("alike_nearest_similarity", 0.7, 0.68, 0.72),
                     "alike_nearest_similarity_difference": 0.01,
                     "alike_nearest_similarity_difference_ci": [-0.02, 0.04],
                     "nearest_similarity_difference": -0.08,
                     "nearest_similarity_difference_ci": [-0.11, -0.05],
                     "alike_attribute_rate_abs_diff_mean": 0.02})
    (tmp_path / "sampling.json").write_text(json.dumps(sampling))
    text = summary_markdown(tmp_path)
    assert ("blends of 12 train identities nearest in attributes (w2w.space.alike) | consistency within 0.05 "
            "of trained models | difference -0.030 [-0.080, 0.020] | **undecided** |") in text
    assert ("| 1. sampling, the reference's sampler: how near the train identities, against a new person | "
            "read beside the novelty rule and consistency (no goal): nearest train identity, sampled - "
            "held-out fleet models | difference -0.080 [-0.110, -0.050] | - |") in text
    assert "against a new person | read beside" in text and "difference 0.010 [-0.020, 0.040] | - |" in text
    assert "| figure | reference (Gaussian) | attributes first (12 alike) |" in text
    assert "| consistency (sampled models) | 0.400 [0.350, 0.450] | 0.600 [0.550, 0.650] |" in text
    assert "![sampling, attributes first](sampling_alike_grid.png)" in text


def test_the_worlds_own_edit_is_the_edits_ceiling_where_the_world_can_draw_it(tmp_path):
    write_metrics(tmp_path)
    assert "the world's own edit" not in summary_markdown(tmp_path)     # metrics from before it
    add_edit_metrics(tmp_path, world_edit={})
    assert "the world's own edit" not in summary_markdown(tmp_path)     # photos: no ceiling
    edit_metrics(tmp_path, world_edit={**m("flip_rate", 0.99, 0.98, 1.0),
                                       **m("identity_similarity", 0.52, 0.5, 0.55),
                                       **m("other_attributes_kept", 0.97, 0.96, 0.98)})
    text = summary_markdown(tmp_path)
    assert "| the world's own edit (ceiling: the person drawn with the attribute changed) | - | 0.990" in text
    assert ("| 2. edits: identity kept | identity similarity >= 0.75 | 0.800 [0.700, 0.850] (a perfect edit, "
            "the world's own: 0.520 [0.500, 0.550]) | **undecided** |") in text


def test_per_attribute_strengths_head_the_edits_table_with_the_one_strength_beside(tmp_path):
    write_metrics(tmp_path)
    assert "one strength for all" not in summary_markdown(tmp_path)      # metrics of one strength
    add_edit_metrics(tmp_path, strengths={"Eyeglasses": 4.0},
                     one_strength={**EDIT, **m("flip_rate", 0.5, 0.4, 0.6)})
    text = summary_markdown(tmp_path)
    assert "| w2w | per attribute | 0.950 [0.920, 0.970] |" in text
    assert "| w2w, one strength for all | 2.000 | 0.500 [0.400, 0.600] |" in text
    assert "Strengths per attribute (train stds, chosen on train identities): Eyeglasses 4." in text


def test_the_edits_the_world_draws_get_their_own_row_beside_the_ceiling(tmp_path):
    write_metrics(tmp_path)
    assert "edits the world draws" not in summary_markdown(tmp_path)    # metrics from before it
    add_edit_metrics(tmp_path, drawable={**m("flip_rate", 0.97, 0.95, 0.99),
                                         **m("identity_similarity", 0.4, 0.35, 0.45),
                                         "edits": 471, "never_drawn": 49})
    text = summary_markdown(tmp_path)
    assert ("| w2w, on the 471 edits the world draws (as its own edit below) | 2.000 | 0.970 [0.950, 0.990] "
            "| 0.400 [0.350, 0.450] |") in text


def test_the_occluded_render_is_a_claim_and_two_columns_only_where_the_world_measured_it(tmp_path):
    write_metrics(tmp_path)
    assert "occluded" not in summary_markdown(tmp_path)               # a folder of photos: no masks
    inversion = json.loads((tmp_path / "inversion.json").read_text())
    inversion["w2w"].update({**m("occluded", 0.7, 0.6, 0.8), **m("occluded_trait_error", 0.5, 0.4, 0.6)})
    inversion["single_image_lora"].update({**m("occluded", 0.6, 0.5, 0.7),
                                           **m("occluded_trait_error", 0.6, 0.5, 0.7)})
    inversion["w2w_minus_lora_occluded"] = {"similarity": 0.1, "similarity_ci": [0.02, 0.18],
                                           "trait_error": -0.1, "trait_error_ci": [-0.2, 0.01]}
    (tmp_path / "inversion.json").write_text(json.dumps(inversion))
    text = summary_markdown(tmp_path)
    assert ("| 3. inversion from an occluded render (paired) | w2w similarity at least the LoRA's | "
            "w2w - LoRA 0.100 [0.020, 0.180]; trait error -0.100 [-0.200, 0.010] | met |") in text
    assert "| 0.700 [0.600, 0.800] | 0.500 [0.400, 0.600] |\n| single-image LoRA |" in text
    assert "| - | - |\n\nRealistic:" in text                            # the fleet row has no occluded input
