"""The README's headline figures are the committed run's: each row of "Current figures" and of "Where
each goal stands" that quotes a metric must quote the value (and interval) that `metrics/` holds, and
"The ladder" must be the report's table. A rerun that moves a figure fails here until the README
says so; a README edited by hand cannot drift from the files it reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

# table row (its first cell starts so) -> metrics file, dotted key; the key's "_ci" sibling, where the
# file has one, must be quoted as "[lo, hi]" right after the value
CURRENT = "| figure | committed run | goal | verdict |"
GOALS = "| goal | committed run | verdict | why, in brief |"
ROWS = {
    CURRENT: {
        "base prompt fidelity": [("base", "prompt_attribute_fidelity")],
        "fleet (120 held-out identities): judge similarity": [("finetune", "identity_similarity_mean")],
        "fleet: trait error": [("finetune", "trait_error_mean")],
        "fleet: trained models' consistency": [("sampling", "trained_consistency_mean")],
        "identity share": [("ladder", "identity_share_mean")],
        "space: a held-out model's projection": [("ladder", "projection_relative_residual_mean")],
        "directions: held-out AUC": [("directions", "auc_min"), ("directions", "auc_mean"),
                                     ("directions", "image_baseline_auc_mean")],
        "edits (40 held-out": [("edits", "flip_rate_mean"), ("edits", "identity_similarity_mean"),
                               ("edits", "other_attributes_kept_mean")],
        "edits against prompting": [("edits", "w2w_vs_prompting.identity_similarity_difference"),
                                    ("edits", "w2w_vs_prompting.flip_rate_difference")],
        "inversion (32 held-out)": [("inversion", "w2w_minus_lora_in_distribution.similarity"),
                                    ("inversion", "w2w_minus_lora_in_distribution.trait_error")],
        "inversion from the painting": [("inversion", "w2w_minus_lora_ood.similarity"),
                                        ("inversion", "w2w.ood_realistic_mean")],
        "sampling (64 sampled models)": [("sampling", "consistency_difference"),
                                         ("sampling", "alike_consistency_difference")],
        "sampling: novel fraction": [("sampling", "novel_fraction_mean")],
    },
    GOALS: {
        "fleet: judge similarity": [("finetune", "identity_similarity_mean")],
        "fleet: trait error": [("finetune", "trait_error_mean")],
        "trained models' consistency": [("sampling", "trained_consistency_mean")],
        "identity share": [("ladder", "identity_share_mean")],
        "base prompt fidelity": [("base", "prompt_attribute_fidelity")],
        "directions: held-out AUC": [("directions", "auc_min")],
        "edits: flip": [("edits", "flip_rate_mean")],
        "edits: identity kept": [("edits", "identity_similarity_mean")],
        "edits: other attributes kept": [("edits", "other_attributes_kept_mean")],
        "edits against prompting": [("edits", "w2w_vs_prompting.identity_similarity_difference"),
                                    ("edits", "w2w_vs_prompting.flip_rate_difference")],
        "inversion from a render": [("inversion", "w2w_minus_lora_in_distribution.similarity")],
        "inversion from the painting": [("inversion", "w2w_minus_lora_ood.similarity")],
        "from the painting, w2w's samples": [("inversion", "w2w.ood_realistic_mean")],
        "sampled models' consistency": [("sampling", "consistency_difference")],
        "sampled models novel": [("sampling", "novel_fraction_mean")],
    },
}


def metric(name: str, dotted: str) -> tuple[float, list[float] | None]:
    holder = json.loads((ROOT / "metrics" / f"{name}.json").read_text())
    *parents, last = dotted.split(".")
    for part in parents:
        holder = holder[part]
    return float(holder[last]), holder.get(f"{last}_ci")


def quotes(value: float, ci: list[float] | None) -> list[str]:
    """The ways a figure may be written: 3 decimals, a sign or none, then its interval."""
    numbers = {f"{value:.3f}", f"{value:+.3f}"}
    if ci is None:
        return sorted(numbers)
    interval = f"[{ci[0]:.3f}, {ci[1]:.3f}]"
    return sorted(f"{n} {interval}" for n in numbers)


def table(text: str, header: str) -> list[str]:
    """The markdown table that starts with `header`: its lines, header and rule included."""
    lines = text[text.index(header):].split("\n")
    return lines[:next(i for i, line in enumerate(lines) if not line.startswith("|"))]


def table_row(header: str, first_cell: str) -> str:
    found = [row for row in table(README, header)[2:] if row.startswith(f"| {first_cell}")]
    assert len(found) == 1, f"README table {header!r}: {len(found)} rows start {first_cell!r}"
    return found[0]


CASES = [(header, cell, file, key) for header, rows in ROWS.items()
         for cell, keys in rows.items() for file, key in keys]


@pytest.mark.parametrize(("header", "cell", "file", "key"), CASES,
                         ids=[f"{'current' if h == CURRENT else 'goals'}-{f}.{k}" for h, _, f, k in CASES])
def test_readme_quotes_the_committed_metric(header: str, cell: str, file: str, key: str) -> None:
    row = table_row(header, cell)
    value, ci = metric(file, key)
    written = quotes(value, ci)
    assert any(w in row for w in written), (
        f"README row {cell!r} does not quote metrics/{file}.json {key} as {' or '.join(written)}: "
        "update the README from the committed run (or the metrics were not committed)")


LADDER = "| rung | identities | judge similarity [95 % CI] | trait error (sd) [95 % CI] |"


def test_readme_ladder_is_the_reports() -> None:
    report = (ROOT / "reports" / "summary.md").read_text()
    assert table(README, LADDER) == table(report, LADDER), (
        "README's ladder table differs from reports/summary.md's: copy the report's table")


def test_a_figure_off_by_its_last_digit_is_caught() -> None:
    """The check reads the digits: the fleet's similarity a thousandth off is not in its row."""
    value, ci = metric("finetune", "identity_similarity_mean")
    row = table_row(CURRENT, "fleet (120 held-out identities): judge similarity")
    assert not any(w in row for w in quotes(value + 0.001, ci))
