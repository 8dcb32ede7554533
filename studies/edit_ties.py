"""Where no strength reaches the flip target, is the most flipping strength worth its last push?

    python studies/edit_ties.py   # needs the default run's outputs; about 5 minutes

Train identities only. `evaluate_edits` gives each attribute the smallest swept strength whose flip
rate on its 24 selection train identities reaches 0.9, else the one that flips most. For the
attributes that never reach 0.9 (grey hair, baldness, a beard) that picks the sweep's far end even
where a shorter push flips as often within one identity's worth, and the far end moves the rest:
the grey-hair edit at 16 keeps 0.71 of the other attributes. Here the else-branch takes instead the
smallest strength flipping within `TIE` (0.05, one identity of 24 is 0.042) of the attribute's best.
Both rules' strengths are read on 24 train identities no edit study has read (the seeded train
order's 97th to 120th), paired. Fixed before it ran: taken if other attributes kept rises (paired
interval above 0), the flip rate falls by no more than 0.05 (the interval's lower bound), and
neither identity kept nor trait change is worse by its paired interval.
"""

from __future__ import annotations

import numpy as np
from edit_strengths import KEYS, means, open_stage_edits, train_blocks  # studies/ is on sys.path

from w2w.evaluate.edits import Scores, attribute_strengths, sweep
from w2w.evaluate.stats import bootstrap_ci, paired_difference_ci

TIE = 0.05


def tied_strengths(scores: dict[float, Scores], target: float, tie: float) -> np.ndarray:
    """(A,) per attribute: the smallest strength reaching `target`, else the smallest within `tie`
    of the attribute's best flip rate."""
    strengths = sorted(scores)
    rates = np.array([scores[s].flip.mean(0) for s in strengths])                  # (S, A)
    out = []
    for j in range(rates.shape[1]):
        reaching = np.flatnonzero(rates[:, j] >= target)
        near = reaching if len(reaching) else np.flatnonzero(rates[:, j] >= rates[:, j].max() - tie)
        out.append(strengths[near[0]])
    return np.array(out)


def main() -> None:
    params, ctx, attributes, d = open_stage_edits()
    p, prompt = params.evaluate_edits, params.finetune.prompt
    selection, fresh = train_blocks(ctx, p, 4)   # blocks 1 to 3 were read by the other edit studies
    _, by = sweep(ctx, selection, attributes, {"w2w": d}, p, prompt)
    by = by["w2w"]
    print("selection flip rate per strength: " + "; ".join(
        f"{a} " + " ".join(f"{s:g}:{by[s].flip[:, j].mean():.2f}" for s in sorted(by))
        for j, a in enumerate(attributes)), flush=True)
    stage, tied = attribute_strengths(by, p.flip_target), tied_strengths(by, p.flip_target, TIE)
    print("the stage's: " + ", ".join(f"{a} {s:g}" for a, s in zip(attributes, stage, strict=True)))
    print("ties:        " + ", ".join(f"{a} {s:g}" for a, s in zip(attributes, tied, strict=True)),
          flush=True)
    if np.array_equal(stage, tied):
        print("the two rules pick the same strengths: nothing to read")
        return
    scaled = {"stage": d * stage[:, None], "ties": d * tied[:, None]}   # each attribute at its strength
    _, out = sweep(ctx, fresh, attributes, scaled, p, prompt, {"stage": [1.0], "ties": [1.0]})
    read = {k: out[k][1.0] for k in ("stage", "ties")}
    print(f"\n{len(fresh)} fresh train identities\n\n| rule | " + " | ".join(KEYS) + " |\n| --- |"
          + " --- |" * len(KEYS))
    for name, sc in read.items():
        print(f"| {name} | " + " | ".join(f"{means(sc, k).mean():.3f} "
                                          f"{np.round(bootstrap_ci(means(sc, k)), 3).tolist()}"
                                          for k in KEYS.values()) + " |")
    pairs = {name: (means(read["ties"], k), means(read["stage"], k)) for name, k in KEYS.items()}
    print("\nties against the stage's, paired: " + "; ".join(
        f"{name} {(x - y).mean():+.3f} {np.round(paired_difference_ci(x, y, p.seed), 3).tolist()}"
        for name, (x, y) in pairs.items()))
    for name, sc in read.items():
        print(f"  {name}, per attribute flip / others kept: " + ", ".join(
            f"{a} {sc.flip[:, j].mean():.2f}/{sc.others_kept[:, j].mean():.2f}"
            for j, a in enumerate(attributes)))


if __name__ == "__main__":
    main()
