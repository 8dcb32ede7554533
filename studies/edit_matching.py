"""w2w edits against prompting at an equal flip rate, on TRAIN identities only (issue 17, claim 2).

    python studies/edit_matching.py [identities] [strengths]   # 24, 2,2.5,3,3.5,4,5; about 2 minutes
    python studies/edit_matching.py 24 0.5,1,1.5,2,3,4 --in studies/runs/default-seed2   # another build

The edits stage compared w2w with prompting at the smallest strength of its sweep (2, 3, 4, 8, 12,
16 train stds) whose train flip rate reached prompting's. The sweep's steps are coarse next to the
flip-against-identity curve, so that strength could flip far more often than prompting and the
verdict turned on which step it landed on; this study is why the stage now interpolates its
curve. It traces the curve finely on train identities of another seeded sample than the stage's
selection (the same sample as studies/edit_flips.py; in a build whose `evaluate_edits.seed` is 1,
the stage's own) and reads it at
prompting's own flip rate: the strength where the mean flip rate equals prompting's, by linear
interpolation between the two strengths around it, and w2w's identity kept and trait change
there, against prompting's on the same identities. Intervals: 2000 bootstrap draws over
identities, the crossing found again in each. No held-out identity is read and nothing is chosen.
"""

from __future__ import annotations

import sys

import numpy as np
from edit_flips import train_sweep  # studies/: the script's folder is first on sys.path

from w2w.evaluate.stats import DRAWS, paired_difference_ci, per_identity


def at_prompting_flip(strengths: np.ndarray, flip: np.ndarray, value: np.ndarray, prompt_flip: np.ndarray,
                      prompt_value: np.ndarray) -> tuple[float, float]:
    """(strength, w2w value minus prompting's) where the mean flip curve first reaches prompting's
    mean flip; flip, value (K strengths, M identities), prompt_* (M,). NaN where it never does."""
    curve, target = flip.mean(1), prompt_flip.mean()
    above = np.flatnonzero(curve >= target)
    if len(above) == 0 or above[0] == 0:
        return float("nan"), float("nan")
    k = above[0]
    t = (target - curve[k - 1]) / (curve[k] - curve[k - 1])           # between strengths k-1 and k
    strength = strengths[k - 1] + t * (strengths[k] - strengths[k - 1])
    w2w_value = (1 - t) * value[k - 1].mean() + t * value[k].mean()
    return float(strength), float(w2w_value - prompt_value.mean())


def interval(strengths: np.ndarray, flip, value, prompt_flip, prompt_value, seed: int = 0) -> list[float]:
    """95 % bootstrap interval of at_prompting_flip's difference, identities resampled."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, flip.shape[1], size=(DRAWS, flip.shape[1]))
    draws = np.array([at_prompting_flip(strengths, flip[:, i], value[:, i], prompt_flip[i],
                                        prompt_value[i])[1] for i in picks])
    return [float(np.nanpercentile(draws, 2.5)), float(np.nanpercentile(draws, 97.5))]


def main() -> None:
    _, rows, _, _, results, strengths = train_sweep(sys.argv[1:], [2, 2.5, 3, 3.5, 4, 5], __doc__)
    prompting = results["prompt"][0.0]
    grid = np.array(sorted(strengths))
    figures = {"flip": "flip", "identity kept": "identity_similarity", "trait change": "trait_change"}
    curves = {k: np.stack([per_identity(getattr(results["w2w"][s], f)) for s in grid])
              for k, f in figures.items()}
    prompt = {k: per_identity(getattr(prompting, f)) for k, f in figures.items()}
    print(f"\n{len(rows)} train identities; prompting: flip {prompt['flip'].mean():.3f}, identity kept "
          f"{prompt['identity kept'].mean():.3f}, trait change {prompt['trait change'].mean():.3f}")
    print("| strength | flip | identity kept | trait change "
          "| vs prompting: flip / identity kept / trait change |")
    print("| --- | --- | --- | --- | --- |")
    for k, s in enumerate(grid):
        diffs = " / ".join(f"{(curves[f][k] - prompt[f]).mean():+.3f} "
                           f"[{lo:+.3f}, {hi:+.3f}]" for f in figures
                           for lo, hi in [paired_difference_ci(curves[f][k], prompt[f])])
        print(f"| {s:g} | {curves['flip'][k].mean():.3f} | {curves['identity kept'][k].mean():.3f} | "
              f"{curves['trait change'][k].mean():.3f} | {diffs} |")
    for f in ("identity kept", "trait change"):
        strength, diff = at_prompting_flip(grid, curves["flip"], curves[f], prompt["flip"], prompt[f])
        lo, hi = interval(grid, curves["flip"], curves[f], prompt["flip"], prompt[f])
        print(f"at prompting's flip rate (strength {strength:.2f}): w2w {f} minus prompting's "
              f"{diff:+.3f} [{lo:+.3f}, {hi:+.3f}]")


if __name__ == "__main__":
    main()
