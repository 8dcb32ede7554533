"""reports/summary.md: the ceiling ladder, then the paper's three claims with 95 % intervals and
three-way verdicts, then the detail of each evaluation, with the grids embedded.

A verdict is "met" when the whole interval clears the goal, "not met" when it lies wholly on the
wrong side, and "undecided" otherwise (w2w.evaluate.stats.verdict).
"""

from __future__ import annotations

import json
from pathlib import Path

from w2w.errors import InputError
from w2w.evaluate.stats import verdict

FLIP_MARGIN = 0.05  # "not lower": the paired flip-rate difference's interval above -0.05


def _load(metrics: Path, name: str) -> dict:
    path = metrics / name
    if not path.is_file():
        raise InputError(f"{path}: missing (run its evaluation stage first)")
    return json.loads(path.read_text())


def _row(*cells) -> str:
    return "| " + " | ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in cells) + " |"


def ci(m: dict, name: str) -> str:
    """'0.512 [0.470, 0.551]' from m[name] and m[name + '_ci']; '-' where the figure is not measured
    (the trait error of real photos)."""
    if name not in m:
        return "-"
    lo, hi = m[f"{name}_ci"]
    return f"{m[name]:.3f} [{lo:.3f}, {hi:.3f}]"


def _shown(v: str) -> str:
    return v if v == "met" else f"**{v}**"


def within(interval: list[float], tolerance: float) -> str:
    """Verdict of |difference| <= tolerance from the difference's interval."""
    lo, hi = interval
    if -tolerance <= lo and hi <= tolerance:
        return "met"
    if hi < -tolerance or lo > tolerance:
        return "not met"
    return "undecided"


def both(*verdicts: str) -> str:
    if all(v == "met" for v in verdicts):
        return "met"
    return "not met" if "not met" in verdicts else "undecided"


def ladder_table(ladder: dict) -> list[str]:
    lines = ["| rung | identities | judge similarity [95 % CI] | trait error (sd) [95 % CI] |",
             "| --- | --- | --- | --- |"]
    for r in ladder["rungs"]:
        lines.append(_row(r["rung"], r["identities"], ci(r, "similarity_mean"), ci(r, "trait_error_mean")))
    return lines


def claims(edits: dict, inversion: dict, sampling: dict) -> list[str]:
    vs_prompt = edits["w2w_vs_prompting"]
    # by both yardsticks where the judge has a trait regressor: the traits moved less than prompting's
    traits_goal = " (and traits changed less)" if "trait_change_difference" in vs_prompt else ""
    in_dist, ood = inversion["w2w_minus_lora_in_distribution"], inversion["w2w_minus_lora_ood"]
    novelty = (_shown(verdict(sampling["novel_fraction_mean_ci"], 0.9))
               if sampling["novelty_rule_valid"] else
               "**invalid rule**: the controls do not separate (held-out "
               f"{sampling['novel_fraction_heldout_models_mean']:.2f} novel, train "
               f"{sampling['novel_fraction_train_models_mean']:.2f})")
    rows = [
        ("1. sampling: new identities", "novel fraction >= 0.9", ci(sampling, "novel_fraction_mean"),
         novelty),
        ("1. sampling: consistent identities", "consistency within 0.05 of trained models",
         f"difference {ci(sampling, 'consistency_difference')}",
         _shown(within(sampling["consistency_difference_ci"], 0.05))),
        *sampling_beside(sampling),
        ("2. edits: the attribute changes", "flip rate >= 0.9", ci(edits, "flip_rate_mean"),
         _shown(verdict(edits["flip_rate_mean_ci"], 0.9))),
        ("2. edits: identity kept", "identity similarity >= 0.75", ci(edits, "identity_similarity_mean")
         + (f" (a perfect edit, the world's own: {ci(edits['world_edit'], 'identity_similarity_mean')})"
            if edits.get("world_edit") else ""),
         _shown(verdict(edits["identity_similarity_mean_ci"], 0.75))),
        ("2. edits: other attributes kept", "kept >= 0.9", ci(edits, "other_attributes_kept_mean"),
         _shown(verdict(edits["other_attributes_kept_mean_ci"], 0.9))),
        ("2. edits vs prompting (paired)",
         f"identity kept higher{traits_goal}, flip rate not lower (by more than {FLIP_MARGIN:g}), w2w at "
         f"strength {vs_prompt['strength']:g}: chosen on train identities to flip as often as prompting",
         f"identity {ci(vs_prompt, 'identity_similarity_difference')}, "
         + (f"trait change {ci(vs_prompt, 'trait_change_difference')}, " if traits_goal else "")
         + f"flip {ci(vs_prompt, 'flip_rate_difference')}",
         _shown(both(verdict(vs_prompt["identity_similarity_difference_ci"], 0.0),
                     *([verdict(vs_prompt["trait_change_difference_ci"], 0.0, higher_is_better=False)]
                       if traits_goal else []),
                     verdict(vs_prompt["flip_rate_difference_ci"], -FLIP_MARGIN)))),
        ("3. inversion vs single-image LoRA (paired)", "w2w similarity at least the LoRA's",
         f"w2w - LoRA {ci(in_dist, 'similarity')}", _shown(verdict(in_dist["similarity_ci"], 0.0))),
        ("3. inversion from the painting (paired)", "w2w ahead of the LoRA",
         f"w2w - LoRA {ci(ood, 'similarity')}", _shown(verdict(ood["similarity_ci"], 0.0))),
    ]
    if "w2w_minus_lora_occluded" in inversion:  # the miniature world: part of the person hidden
        hidden = inversion["w2w_minus_lora_occluded"]
        rows.append(("3. inversion from an occluded render (paired)", "w2w similarity at least the LoRA's",
                     f"w2w - LoRA {ci(hidden, 'similarity')}; trait error {ci(hidden, 'trait_error')}",
                     _shown(verdict(hidden["similarity_ci"], 0.0))))
    if "ood_realistic_mean" in inversion["w2w"]:  # the judge has a style head
        rows.append(("3. inversion from the painting: a realistic identity",
                     "w2w's samples called renders, not paintings, >= 0.9",
                     ci(inversion["w2w"], "ood_realistic_mean"),
                     _shown(verdict(inversion["w2w"]["ood_realistic_mean_ci"], 0.9))))
    return ["| claim | goal | measured [95 % CI] | verdict |", "| --- | --- | --- | --- |",
            *[_row(*r) for r in rows]]


def edits_table(edits: dict) -> list[str]:
    raw, vs_prompt = edits["raw_weight_baseline"], edits["w2w_vs_prompting"]
    lines = ["| method | strength | flip rate | identity similarity | trait change | other attributes kept "
             "| target shift |", "| --- | --- | --- | --- | --- | --- | --- |"]
    per = edits.get("strengths")  # each attribute at its own strength, chosen on train identities
    chosen = "per attribute" if per else edits["strength"]
    methods = [("w2w", edits, chosen),
               *([(f"w2w, on the {edits['drawable']['edits']} edits the world draws (as its own edit below)",
                   edits["drawable"], chosen)] if edits.get("drawable") else []),
               *([("w2w, one strength for all", edits["one_strength"], edits["strength"])] if per else []),
               ("w2w, as often flipped as prompting (train)", vs_prompt, vs_prompt["strength"]),
               ("prompting", edits["prompt_baseline"], "-")]
    if raw.get("rendered", True):
        methods.append(("raw weight direction", raw, raw["strength"]))
    if edits.get("world_edit"):  # the miniature world's: its ceiling
        methods.append(("the world's own edit (ceiling: the person drawn with the attribute changed)",
                        edits["world_edit"], "-"))
    for name, m, strength in methods:
        lines.append(_row(name, strength, ci(m, "flip_rate_mean"), ci(m, "identity_similarity_mean"),
                          ci(m, "trait_change_mean"), ci(m, "other_attributes_kept_mean"),
                          ci(m, "target_shift_mean")))
    edge = (" The chosen strength is the edge of the sweep: no strength reached the train flip target."
            if edits.get("strength_at_grid_edge") else "")
    same = ("" if raw.get("rendered", True) else
            " The raw weight direction is the w2w one (largest relative difference "
            f"{raw['max_relative_difference']:.3f}: the basis keeps every component), so it is not rendered.")
    if per:
        lines += ["", "Strengths per attribute (train stds, chosen on train identities): "
                  + ", ".join(f"{a} {v:g}" for a, v in per.items()) + "."]
    lines += ["", "Trait change: how far the trait regressor's estimate of the person's continuous traits",
              "moved from the unedited samples' (mean absolute change, population sds; lower keeps more of",
              "the person). Flips and target shift are read by the judge's attribute reader where it has one",
              "(else by its own head). Target shift: the judged probability of the target attribute, moved",
              f"towards the target (> 0: the edit moves the judged attribute the right way).{edge}{same}", ""]
    rendered = raw.get("rendered", True)
    lines += ["| attribute | w2w flip | prompting flip |" + (" raw flip |" if rendered else "")
              + " w2w target shift |",
              "| --- | --- | --- |" + (" --- |" if rendered else "") + " --- |"]
    for a in edits["attributes"]:
        raw_flip = [raw["flip_rate"][a]] if rendered else []
        lines.append(_row(a, edits["flip_rate"][a], edits["prompt_baseline"]["flip_rate"][a], *raw_flip,
                          edits["target_shift"][a]))
    return lines


def inversion_table(inv: dict) -> list[str]:
    hidden = "occluded_mean" in inv["w2w"]  # the miniature world: a render with part of the person hidden
    lines = ["| model | similarity, in distribution | trait error | similarity, painting | trait error "
             "| realistic, in distribution | realistic, painting |"
             + (" similarity, occluded | trait error |" if hidden else ""),
             "| --- | --- | --- | --- | --- | --- | --- |" + (" --- | --- |" if hidden else "")]
    for name, key in (("w2w inversion", "w2w"), ("single-image LoRA", "single_image_lora")):
        m = inv[key]
        lines.append(_row(name, ci(m, "in_distribution_mean"), ci(m, "in_distribution_trait_error_mean"),
                          ci(m, "ood_mean"), ci(m, "ood_trait_error_mean"),
                          ci(m, "in_distribution_realistic_mean"), ci(m, "ood_realistic_mean"),
                          *((ci(m, "occluded_mean"), ci(m, "occluded_trait_error_mean")) if hidden else ())))
    fleet = inv["fleet_model"]
    lines.append(_row("fleet model (all its images)", ci(fleet, "similarity_mean"),
                      ci(fleet, "trait_error_mean"), "-", "-", ci(fleet, "realistic_mean"), "-",
                      *(("-", "-") if hidden else ())))
    lines += ["", "Realistic: the share of a model's samples that the judge's style head calls a render, "
              "not a painting ('-': no style head)."]
    if hidden:
        lines += ["Occluded: the first render with a flat box over the lower face, one side or the top of "
                  "the head (w2w.evaluate.occluder); both methods weight their loss to the visible person."]
    return lines


def sampling_beside(s: dict) -> list[tuple[str, str, str, str]]:
    """Claim 1's rows beside the reference's: the attributes-first sampler's consistency, and each
    sampler's nearness to the train identities against a new person's (the held-out fleet models'),
    a reading with no goal of its own; none for metrics written before they were measured."""
    rows = []
    if "alike_consistency_difference" in s:
        rows.append((f"1. sampling beside the reference: attributes first, blends of {s['alike_people']} "
                     "train identities nearest in attributes (w2w.space.alike)",
                     "consistency within 0.05 of trained models",
                     f"difference {ci(s, 'alike_consistency_difference')}",
                     _shown(within(s["alike_consistency_difference_ci"], 0.05))))
    for prefix, name in (("", "the reference's sampler"), ("alike_", "attributes first")):
        key = f"{prefix}nearest_similarity_difference"
        if key in s:  # no goal of its own: a model that holds no one is far from everyone too
            rows.append((f"1. sampling, {name}: how near the train identities, against a new person",
                         "read beside the novelty rule and consistency (no goal): nearest train identity, "
                         "sampled - held-out fleet models", f"difference {ci(s, key)}", "-"))
    return rows


def sampling_table(s: dict) -> list[str]:
    samplers = [("", "reference (Gaussian)")] + ([("alike_", f"attributes first ({s['alike_people']} alike)")]
                                                  if "alike_consistency_mean" in s else [])
    lines = ["| figure | " + " | ".join(name for _, name in samplers) + " |",
             "| --- |" + " --- |" * len(samplers)]
    for figure, key in (("consistency (sampled models)", "consistency_mean"),
                        ("consistency, sampled - trained held-out models", "consistency_difference"),
                        ("realistic: samples called renders", "realistic_mean"),
                        ("novel fraction", "novel_fraction_mean"),
                        ("similarity to the nearest train identity", "nearest_similarity_mean"),
                        ("the same, sampled - held-out fleet models", "nearest_similarity_difference")):
        lines.append(_row(figure, *[ci(s, prefix + key) for prefix, _ in samplers]))
    lines.append(_row("attribute rate, mean absolute difference to the train set",
                      *[s[f"{prefix}attribute_rate_abs_diff_mean"] for prefix, _ in samplers]))
    lines += ["", "| control | value [95 % CI] |", "| --- | --- |",
              _row("consistency (trained held-out models)", ci(s, "trained_consistency_mean")),
              _row("realistic (trained held-out models)", ci(s, "trained_realistic_mean")),
              _row("novel fraction (held-out fleet models: truly novel)",
                   ci(s, "novel_fraction_heldout_models_mean")),
              _row("novel fraction (train fleet models: seen)", ci(s, "novel_fraction_train_models_mean")),
              _row("similarity to the nearest train identity (held-out fleet models)",
                   ci(s, "nearest_similarity_heldout_models_mean")),
              _row("the same (train fleet models: their own identity is in the gallery)",
                   ci(s, "nearest_similarity_train_models_mean")),
              _row("novelty threshold (calibrated on train identities)", s["novelty_threshold"])]
    return lines


def summary_markdown(metrics: Path) -> str:
    """The summary's markdown; the grids are linked beside it, in reports/."""
    edits, inversion = _load(metrics, "edits.json"), _load(metrics, "inversion.json")
    sampling, fleet = _load(metrics, "sampling.json"), _load(metrics, "finetune.json")
    directions, ladder = _load(metrics, "directions.json"), _load(metrics, "ladder.json")
    residual = ladder.get("projection_relative_residual_mean_ci")
    raw_shown = edits["raw_weight_baseline"].get("rendered", True)
    lines = ["# w2w evaluation summary", "",
             "Written by the `report` stage from `metrics/*.json`; every figure is on held-out identities",
             "(a seeded random sample), with a 95 % bootstrap interval over identities; every operating",
             "point was chosen on train identities. Reproduce with `dvc repro report`.", "",
             f"## Ceiling ladder ({ladder['rungs'][0]['identities']} held-out identities)", "",
             "Judge similarity: to fresh renders of the identity (higher is better). Trait error: the trait",
             "regressor's error in population sds (lower is better; a random other identity is about 1.15).",
             "", *ladder_table(ladder), ""]
    if residual is not None:
        lines += [f"Relative residual of a held-out model's projection onto the basis (standardised): "
                  f"{ci(ladder, 'projection_relative_residual_mean')}.", ""]
    if "identity_share_mean" in ladder:
        lines += [f"Identity share ({ladder['identity_share_identities']} train identities: the standardised "
                  f"cosine of two adapters of one identity, each trained on "
                  f"{ladder['identity_share_renders_per_half']} fresh renders of its own): "
                  f"{ci(ladder, 'identity_share_mean')}; different identities "
                  f"{ci(ladder, 'identity_share_other_identities_mean')}.", ""]
    lines += ["## The paper's claims", "", *claims(edits, inversion, sampling), "",
              "## Context", "",
              f"- fleet: held-out identity similarity {ci(fleet, 'identity_similarity_mean')}, trait error "
              f"{ci(fleet, 'trait_error_mean')} (the models every edit, inversion and sample starts from)",
              f"- directions: held-out AUC mean {directions['auc_mean']:.3f}, lowest "
              f"{ci(directions, 'auc_min')} ({directions['auc_min_attribute']}; goal >= 0.95 for each: "
              f"{_shown(verdict(directions['auc_min_ci'], 0.95))})", "",
              f"## Edits ({edits['identities']} held-out identities, strength chosen on train identities)",
              "", *edits_table(edits), "",
              "One row per attribute; for each of a few identities: original | w2w edit | w2w edit as often",
              "flipped as prompting | prompting" + (" | raw weight direction." if raw_shown else "."), "",
              "![edits](edits_grid.png)", "",
              f"## Inversion ({inversion['identities']} held-out identities, one image each)", "",
              *inversion_table(inversion), "",
              "Each row: a true render | render, w2w sample, LoRA sample | painting, w2w sample, "
              "LoRA sample.",
              "", "![inversion](inversion_grid.png)", "",
              f"## Sampling ({sampling['models']} sampled identities, {sampling['covariance']} "
              "covariance)", "",
              *sampling_table(sampling), "", "The reference's sampler:", "",
              "![sampling](sampling_grid.png)", "",
              *(["Attributes first (beside it):", "",
                 "![sampling, attributes first](sampling_alike_grid.png)", ""]
                if "alike_consistency_mean" in sampling else [])]
    return "\n".join(lines)
