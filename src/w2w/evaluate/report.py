"""reports/summary.md: the evaluation's key figures against the goals, with the grids embedded."""

from __future__ import annotations

import json
from pathlib import Path

from w2w.errors import InputError


def _load(metrics: Path, name: str) -> dict:
    path = metrics / name
    if not path.is_file():
        raise InputError(f"{path}: missing (run its evaluation stage first)")
    return json.loads(path.read_text())


def _row(*cells) -> str:
    return "| " + " | ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in cells) + " |"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def goals(edits: dict, inversion: dict, sampling: dict) -> list[str]:
    prompt = edits["prompt_baseline"]
    beats_prompt = (edits["identity_similarity_mean"] > prompt["identity_similarity_mean"]
                    and edits["flip_rate_mean"] >= prompt["flip_rate_mean"])
    gaps = {s: inversion["w2w"][s] - inversion["single_image_lora"][s] for s in ("in_distribution", "ood")}
    gap = abs(sampling["consistency_mean"] - sampling["trained_consistency_mean"])
    rows = [
        ("edit success", "flip_rate_mean >= 0.9", edits["flip_rate_mean"], edits["flip_rate_mean"] >= 0.9),
        ("identity kept under edits", "identity_similarity_mean >= 0.75", edits["identity_similarity_mean"],
         edits["identity_similarity_mean"] >= 0.75),
        ("other attributes kept", "other_attributes_kept_mean >= 0.9", edits["other_attributes_kept_mean"],
         edits["other_attributes_kept_mean"] >= 0.9),
        ("edits vs prompting", "better identity at equal or better flip rate",
         f"identity {edits['identity_similarity_mean']:.3f} vs {prompt['identity_similarity_mean']:.3f}, "
         f"flip {edits['flip_rate_mean']:.3f} vs {prompt['flip_rate_mean']:.3f}", beats_prompt),
        ("inversion vs single-image LoRA", "w2w ahead by >= 0.1 in both settings",
         f"{gaps['in_distribution']:+.3f} in distribution, {gaps['ood']:+.3f} OOD",
         min(gaps.values()) >= 0.1),
        ("sampling novelty", "novel_fraction >= 0.9", sampling["novel_fraction"],
         sampling["novel_fraction"] >= 0.9),
        ("sampling consistency", "within 0.05 of trained models",
         f"{sampling['consistency_mean']:.3f} vs {sampling['trained_consistency_mean']:.3f}", gap <= 0.05),
    ]
    return ["| claim | goal | measured | verdict |", "| --- | --- | --- | --- |",
            *[_row(name, goal, value, _verdict(ok)) for name, goal, value, ok in rows]]


def edits_table(edits: dict) -> list[str]:
    lines = ["| method | strength | flip rate | identity similarity | other attributes kept | target shift |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, m, strength in (("w2w", edits, edits["strength"]),
                              ("prompting", edits["prompt_baseline"], "-"),
                              ("raw weight direction", edits["raw_weight_baseline"],
                               edits["raw_weight_baseline"]["strength"])):
        lines.append(_row(name, strength, m["flip_rate_mean"], m["identity_similarity_mean"],
                          m["other_attributes_kept_mean"], m["target_shift_mean"]))
    lines += ["", "Target shift: the judge's probability of the target attribute, moved towards the target",
              "(mean over identities; > 0 means the edit moves the judged attribute the right way).", "",
              "| attribute | w2w flip | prompting flip | raw flip | w2w target shift |",
              "| --- | --- | --- | --- | --- |"]
    for a in edits["attributes"]:
        lines.append(_row(a, edits["flip_rate"][a], edits["prompt_baseline"]["flip_rate"][a],
                          edits["raw_weight_baseline"]["flip_rate"][a], edits["target_shift"][a]))
    return lines


def inversion_table(inv: dict) -> list[str]:
    lines = ["| model | in distribution | OOD (painting) | attribute agreement (in / OOD) |",
             "| --- | --- | --- | --- |"]
    for name, key in (("w2w inversion", "w2w"), ("single-image LoRA", "single_image_lora")):
        m = inv[key]
        lines.append(_row(name, m["in_distribution"], m["ood"],
                          f"{m['in_distribution_attribute_agreement']:.3f} / "
                          f"{m['ood_attribute_agreement']:.3f}"))
    fleet = inv["fleet_model"]
    lines.append(_row("fleet model (all images)", fleet["similarity"], "-",
                      f"{fleet['attribute_agreement']:.3f}"))
    return lines


def sampling_table(s: dict) -> list[str]:
    return ["| figure | value |", "| --- | --- |",
            _row("consistency (sampled models)", s["consistency_mean"]),
            _row("consistency (trained models)", s["trained_consistency_mean"]),
            _row("novel fraction (sampled)", s["novel_fraction"]),
            _row("novel fraction (held-out fleet models, control)", s["novel_fraction_heldout_models"]),
            _row("novel fraction (train fleet models, control)", s["novel_fraction_train_models"]),
            _row("attribute rate, mean absolute difference to the train set",
                 s["attribute_rate_abs_diff_mean"])]


def summary_markdown(metrics: Path) -> str:
    """The summary's markdown; the grids are linked beside it, in reports/."""
    edits, inversion = _load(metrics, "edits.json"), _load(metrics, "inversion.json")
    sampling, fleet = _load(metrics, "sampling.json"), _load(metrics, "finetune.json")
    directions = _load(metrics, "directions.json")
    lines = ["# w2w evaluation summary", "",
             "Written by the `report` stage from `metrics/*.json`; every figure is on held-out identities",
             "and judged by the project's judge. Reproduce with `dvc repro report`.", "",
             "## Goals", "", *goals(edits, inversion, sampling), "",
             "## Context", "",
             f"- fleet: held-out identity similarity {fleet['identity_similarity_mean']:.3f} (the models "
             "every edit, inversion and sample starts from)",
             f"- directions: held-out AUC mean {directions['auc_mean']:.3f}, min {directions['auc_min']:.3f}",
             "", f"## Edits ({edits['identities']} held-out identities, strength chosen on train identities)",
             "", *edits_table(edits), "",
             "One row per attribute; for each of a few identities: original | w2w edit | prompting | raw",
             "weight direction.",
             "", "![edits](edits_grid.png)", "",
             f"## Inversion ({inversion['identities']} held-out identities, one image each)", "",
             *inversion_table(inversion), "",
             "Each row: a true render | render, w2w sample, LoRA sample | painting, w2w sample, LoRA sample.",
             "", "![inversion](inversion_grid.png)", "",
             f"## Sampling ({sampling['models']} sampled identities, {sampling['covariance']} covariance)",
             "",
             *sampling_table(sampling), "", "![sampling](sampling_grid.png)", ""]
    return "\n".join(lines)
