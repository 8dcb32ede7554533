"""Delayed injection at each attribute's own strength: does it keep more of the rest?

    python studies/edit_delay.py   # needs the default run's outputs; about 15 minutes

Train identities only. An edit at the strength that flips an attribute (up to 16 train stds for
grey hair) also moves others: the hair colours' and baldness's edits keep 0.73 to 0.85 of the other
attributes where the goal asks 0.9. The reference offers delayed injection: the original model
samples the first steps (timesteps above T), the edited one the rest, so that the layout the
first steps settle stays the person's. On an earlier world, at one strength for all, it moved
along the flip-against-identity curve rather than above it; here each attribute gets its strength
by `evaluate_edits`' own rule (the smallest reaching a 0.9 flip rate on its 24 selection train
identities, else the most flipping), from a sweep that reaches further (24 and 32 train stds)
since a later edit needs a longer push. Each delay is read at its strengths on 24 train identities
no edit study has read (the seeded train order's 73rd to 96th), paired against no delay (the
stage's). Fixed before it ran: a delay is taken if other attributes kept rises (paired interval
above 0), the flip rate falls by no more than 0.05 (the interval's lower bound), and neither the
identity kept nor the trait change is worse by its paired interval.
"""

from __future__ import annotations

import numpy as np
from edit_strengths import KEYS, means, open_stage_edits, train_blocks  # studies/ is on sys.path

from w2w.evaluate.edit_ceiling import world_edit_ceiling
from w2w.evaluate.edits import Scores, attribute_strengths, sweep
from w2w.evaluate.stats import bootstrap_ci, paired_difference_ci

DELAYS = [0, 900, 800]          # 0: edited throughout (the stage); the sampler's 20 steps start at 951
LONGER = [24.0, 32.0]           # added to the stage's sweep for the delayed edits


def main() -> None:
    params, ctx, attributes, d = open_stage_edits()
    p, prompt = params.evaluate_edits, params.finetune.prompt
    selection, fresh = train_blocks(ctx, p, 3)   # blocks 1 and 2 were read by the other edit studies
    read: dict[int, Scores] = {}
    for delay in DELAYS:
        pd_ = p.model_copy(update={"delay": delay})
        grid = list(p.strengths) + (LONGER if delay else [])
        _, by = sweep(ctx, selection, attributes, {"w2w": d}, pd_, prompt, {"w2w": grid})
        per = attribute_strengths(by["w2w"], p.flip_target)
        print(f"delay {delay}: " + ", ".join(f"{a} {s:g}" for a, s in zip(attributes, per, strict=True)),
              flush=True)
        _, out = sweep(ctx, fresh, attributes, {"w2w": d * per[:, None]}, pd_, prompt, {"w2w": [1.0]})
        read[delay] = out["w2w"][1.0]
    ceiling = world_edit_ceiling(ctx, fresh, attributes, p.samples_per_model, p.seed)
    print(f"\n{len(fresh)} fresh train identities, a strength per attribute chosen on {len(selection)} "
          "others\n\n"
          "| delay | " + " | ".join(KEYS) + " |\n| --- |" + " --- |" * len(KEYS))
    print("| the world's own edit (ceiling) | " + " | ".join(
        f"{ceiling[f'{k}_mean']:.3f}" for k in ("flip_rate", "identity_similarity", "other_attributes_kept",
                                                 "trait_change")) + " |")
    for delay, sc in read.items():
        print(f"| {delay or 'none'} | " + " | ".join(
            f"{means(sc, k).mean():.3f} {np.round(bootstrap_ci(means(sc, k)), 3).tolist()}"
            for k in KEYS.values()) + " |")
    for delay, sc in read.items():
        if delay:
            print(f"\ndelay {delay} against none, paired: " + "; ".join(
                f"{name} {(means(sc, k) - means(read[0], k)).mean():+.3f} "
                f"{np.round(paired_difference_ci(means(sc, k), means(read[0], k), p.seed), 3).tolist()}"
                for name, k in KEYS.items()))
        print(f"  delay {delay}, per attribute flip / others kept: " + ", ".join(
            f"{a} {sc.flip[:, j].mean():.2f}/{sc.others_kept[:, j].mean():.2f}"
            for j, a in enumerate(attributes)))


if __name__ == "__main__":
    main()
