"""What the attribute reader changed: the evaluations' attribute figures read by the judge's own head.

    python studies/attribute_reader.py   # about 4 minutes, after `dvc repro`

The stages read attributes with the judge's attribute reader (`judge.attribute_reader`, trained on
the trait regressor's fresh people). This study reruns the two evaluations that read attributes
from generated samples, edits (with its strength choices on train identities) and sampling, with
the judge's own attribute head instead: the same models, samples and seeds, as the stages run
them. It prints each figure beside the committed metrics, which the reader read; figures that no
attribute reading enters (identity kept, trait change, consistency) must agree and show that the
samples are the same. evaluate_base reads its fidelity both ways itself (metrics/base.json). No
choice is made here: the held-out figures are reported as the stages report them.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from w2w.evaluate.context import Context
from w2w.evaluate.edits import measure_edits
from w2w.evaluate.sampling import measure_sampling
from w2w.params import load_params
from w2w.space.basis import Basis
from w2w.space.directions import Directions

DATA, METRICS = Path("data"), Path("metrics")
EDIT_FIGURES = ("flip_rate_mean", "target_shift_mean", "other_attributes_kept_mean",
                "identity_similarity_mean", "trait_change_mean")


def committed(name: str) -> dict:
    return json.loads((METRICS / f"{name}.json").read_text())


def shown(value: float | str) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def row(label: str, reader: float | str, own: float | str) -> None:
    print(f"| {label} | {shown(reader)} | {shown(own)} |")


def main() -> None:
    if not (DATA / "judge" / "attributes.safetensors").is_file():
        sys.exit("data/judge has no attribute reader: run `dvc repro` with judge.attribute_reader true first")
    params = load_params()
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    ctx = replace(ctx, judge=ctx.judge.own_head())
    basis = Basis.load(DATA / "basis")
    edits, _, _ = measure_edits(ctx, basis, Directions.load(DATA / "directions"), params.evaluate_edits,
                                params.directions, params.finetune.prompt)
    sampling, _ = measure_sampling(ctx, basis, params.evaluate_sampling, params.finetune.prompt)
    base, by_reader, sampled_by_reader = committed("base"), committed("edits"), committed("sampling")
    print("\n| figure | attribute reader (the stages') | the judge's own head |\n| --- | --- | --- |")
    row("base prompt fidelity (evaluate_base, both)", base["prompt_attribute_fidelity"],
        base["prompt_attribute_fidelity_judge_head"])
    row("edit strength chosen on train identities", by_reader["strength"], edits["strength"])
    for name in EDIT_FIGURES:  # at each reading's own chosen strength
        row(f"w2w edit {name}", by_reader[name], edits[name])
    row("strength matched to prompting's train flip rate", by_reader["w2w_vs_prompting"]["strength"],
        edits["w2w_vs_prompting"]["strength"])
    for name in EDIT_FIGURES:
        row(f"w2w at the matched strength {name}", by_reader["w2w_vs_prompting"][name],
            edits["w2w_vs_prompting"][name])
    for name in ("flip_rate_mean", "other_attributes_kept_mean", "identity_similarity_mean"):
        row(f"prompting {name}", by_reader["prompt_baseline"][name], edits["prompt_baseline"][name])
    row("sampled models' attribute rates, mean absolute difference to train",
        sampled_by_reader["attribute_rate_abs_diff_mean"], sampling["attribute_rate_abs_diff_mean"])
    row("sampled consistency (no attribute read)", sampled_by_reader["consistency_mean"],
        sampling["consistency_mean"])
    for a, rate in sampling["attribute_rate"].items():
        row(f"sampled models' {a} rate (train {sampling['train_attribute_rate'][a]:.3f})",
            sampled_by_reader["attribute_rate"][a], rate)
    print("\nper attribute, w2w flip at each reading's strength: "
          + ", ".join(f"{a} {by_reader['flip_rate'][a]:.2f} / {edits['flip_rate'][a]:.2f}"
                      for a in edits["attributes"]))


if __name__ == "__main__":
    main()
