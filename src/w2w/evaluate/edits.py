"""Edits measured by the judge: w2w directions against prompting and a raw weight-space direction.

Every identity gets, per attribute, the edit towards the opposite of what the judge sees in its
unedited model's samples (add glasses to those without, remove them from those with). Scores:
- flip: the judged attribute of the edited model equals the target;
- identity similarity: the judge's cosine between the edited and the unedited model's samples
  (the same initial noise per sample);
- trait change: how far the trait regressor's estimate of the person's continuous traits moved,
  edited against unedited samples (mean absolute change, population sds): the identity kept by
  the second yardstick, lower is better; absent where the judge has no trait regressor;
- other attributes kept: the share of the other attributes whose judged value did not change;
- target shift: how far the judge's probability of the target attribute moved towards the target
  (positive: the edit moves the judged attribute the right way, even where it does not flip it).

The operating strength of each method is chosen on train identities only: the smallest strength
of the sweep whose mean train flip rate reaches `flip_target`, else the one with the highest. With
`strength_per_attribute` the w2w edit takes that rule per attribute (`attribute_strengths`), and
the one strength's figures are kept beside it (`one_strength`).
Against prompting, w2w is compared where it flips as often as prompting does: at the strength
where the train flip curve, interpolated between the sweep's strengths, reaches prompting's train
flip rate (`matched_strength`), so that "keeps more of the identity" is read at an equal flip rate,
not at a far higher one. The held-out identities are the seeded order's from `heldout_offset` on.

The raw weight-space direction (the ablation of the PCA) is rendered only where it differs from the
w2w direction: with every component the train adapters allow, the classifier's weights lie in the
basis's span and the two are one direction up to the solver's tolerance (`SAME_DIRECTION`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from w2w.adapters.render import render_models
from w2w.evaluate.context import Context
from w2w.evaluate.judged import attribute_probabilities, mean_embeddings, standard_traits, truth_of
from w2w.evaluate.prompting import prompt_edit
from w2w.evaluate.stats import paired, with_ci
from w2w.params import DirectionsParams, EvaluateEditsParams
from w2w.space.attributes import labels_of
from w2w.space.basis import Basis
from w2w.space.directions import Directions, fit_directions
from w2w.world.dataset import identities_from_table
from w2w.world.edit import drawn_edits

SAME_DIRECTION = 0.02  # the raw displacement within this relative difference of the w2w one: one direction
PER_ATTRIBUTE = "w2w_per_attribute"  # the held-out sweep's method: each attribute at its own strength


@dataclass
class Scores:
    """Per (identity, attribute) outcomes of one method at one strength, each (M, A)."""

    flip: np.ndarray
    identity_similarity: np.ndarray
    others_kept: np.ndarray
    target_shift: np.ndarray
    images: np.ndarray  # (M, A, n, S, S, 3)
    trait_change: np.ndarray | None = None  # None: the judge has no trait regressor

    def summary(self, attributes: list[str]) -> dict:
        def per_attribute(values: np.ndarray) -> dict[str, float]:
            return {a: float(v) for a, v in zip(attributes, values.mean(0), strict=True)}

        return {**with_ci("flip_rate", self.flip), **with_ci("identity_similarity", self.identity_similarity),
                **with_ci("other_attributes_kept", self.others_kept),
                **with_ci("target_shift", self.target_shift), **with_ci("trait_change", self.trait_change),
                "target_shift": per_attribute(self.target_shift), "flip_rate": per_attribute(self.flip)}


@dataclass
class Unedited:
    adapters: np.ndarray   # (M, D)
    images: np.ndarray     # (M, n, S, S, 3)
    probs: np.ndarray      # (M, J) judge's mean probability, every judge attribute
    embedding: np.ndarray  # (M, E)
    traits: np.ndarray | None = None  # (M, T) the trait regressor's mean estimate, population sds

    @property
    def judged(self) -> np.ndarray:
        return self.probs > 0.5


def unedited(ctx: Context, rows: np.ndarray, p: EvaluateEditsParams, prompt: str) -> Unedited:
    adapters = ctx.adapters(rows)
    images = render_models(ctx.pipe, adapters, ctx.layout, ctx.scaling, prompt, p.samples_per_model,
                           p.seed, p.sampler_steps, p.guidance_scale, desc="unedited",
                           base_unconditional=p.unconditional == "base")
    return Unedited(adapters, images, attribute_probabilities(ctx.judge, images),
                    mean_embeddings(ctx.judge, images), standard_traits(ctx.judge, images))


def score(ctx: Context, base: Unedited, columns: list[int], images: np.ndarray, targets: np.ndarray
          ) -> Scores:
    """images (M, A, n, ...) of the edited models; targets (M, A) bool."""
    m, a = targets.shape
    flat = images.reshape(m * a, *images.shape[2:])
    probs = attribute_probabilities(ctx.judge, flat).reshape(m, a, -1)          # (M, A, J)
    judged = probs > 0.5
    similarity = np.einsum("mae,me->ma", mean_embeddings(ctx.judge, flat).reshape(m, a, -1),
                           base.embedding).clip(-1, 1)  # cosines; float32 rounding can pass 1
    flip = np.stack([judged[:, i, c] == targets[:, i] for i, c in enumerate(columns)], 1)
    same = judged == base.judged[:, None, :]                                       # (M, A, J)
    kept = np.stack([np.delete(same[:, i], c, axis=1).mean(1) for i, c in enumerate(columns)], 1)
    signs = np.where(targets, 1.0, -1.0)
    shift = np.stack([(probs[:, i, c] - base.probs[:, c]) * signs[:, i] for i, c in enumerate(columns)], 1)
    traits = standard_traits(ctx.judge, flat)                                     # (M*A, T) or None
    change = (None if traits is None or base.traits is None else
              np.abs(traits.reshape(m, a, -1) - base.traits[:, None]).mean(2))       # (M, A)
    return Scores(flip, similarity, kept, shift, images, change)


def drawable_summary(sc: Scores, drawn: np.ndarray) -> dict:
    """Flip rate, identity similarity, other attributes kept and trait change over the edits the
    world draws (`drawn` (M, A) bool, `w2w.world.edit.drawn_edits`): each identity's mean over its
    drawable edits, with intervals over identities; the number of edits left out beside them."""
    def drawable(values: np.ndarray | None) -> np.ndarray | None:  # (M,)
        return None if values is None else np.array([v[d].mean() for v, d in zip(values, drawn, strict=True)])

    return {**with_ci("flip_rate", drawable(sc.flip.astype(float))),
            **with_ci("identity_similarity", drawable(sc.identity_similarity)),
            **with_ci("other_attributes_kept", drawable(sc.others_kept)),
            **with_ci("trait_change", drawable(sc.trait_change)),
            "edits": int(drawn.sum()), "never_drawn": int((~drawn).sum())}


def weight_edits(base: Unedited, displacements: np.ndarray, signs: np.ndarray, strength: float
                 ) -> np.ndarray:
    """Edited adapters (M*A, D): w_m + sign_ma * strength * d_a; displacements d (A, D) per unit
    strength."""
    edited = base.adapters[:, None, :] + strength * signs[:, :, None] * displacements[None]
    return edited.reshape(-1, base.adapters.shape[1]).astype(np.float32)


def sweep(ctx: Context, rows: np.ndarray, attributes: list[str], displacements: dict[str, np.ndarray],
          p: EvaluateEditsParams, prompt: str, strengths: dict[str, list[float]] | None = None
          ) -> tuple[Unedited, dict[str, dict[float, Scores]]]:
    """Every method's scores on `rows`: each weight method at each of its strengths (default: the
    whole sweep, p.strengths), and prompting."""
    base = unedited(ctx, rows, p, prompt)
    columns = ctx.judge_columns(attributes)
    targets = ~base.judged[:, columns]                                              # (M, A)
    signs = np.where(targets, 1.0, -1.0)
    m, a, n = len(rows), len(attributes), p.samples_per_model

    def render(adapters, prompts, negatives, desc, delayed=False):
        original = np.repeat(base.adapters, a, axis=0) if delayed and p.delay else None
        images = render_models(ctx.pipe, adapters, ctx.layout, ctx.scaling, prompts, n, p.seed,
                               p.sampler_steps, p.guidance_scale, negatives, desc=desc,
                               delayed_from=original, delay=p.delay,
                               base_unconditional=p.unconditional == "base")
        return images.reshape(m, a, *images.shape[1:])

    results: dict[str, dict[float, Scores]] = {}
    for method, displacement in displacements.items():
        results[method] = {s: score(ctx, base, columns,
                                    render(weight_edits(base, displacement, signs, s), prompt, None,
                                           f"{method} x{s:g}", True), targets)
                           for s in (strengths or {}).get(method, p.strengths)}
    forms = [prompt_edit(attr, bool(targets[i, j]), prompt)
             for i in range(m) for j, attr in enumerate(attributes)]
    adapters = np.repeat(base.adapters, a, axis=0)
    results["prompt"] = {0.0: score(ctx, base, columns, render(adapters, [f[0] for f in forms],
                                                                 [f[1] for f in forms], "prompt"), targets)}
    return base, results


def choose_strength(scores: dict[float, Scores], target: float) -> float:
    """Smallest strength whose mean flip rate reaches `target`; else the one with the highest."""
    rates = {s: float(sc.flip.mean()) for s, sc in sorted(scores.items())}
    reaching = [s for s, r in rates.items() if r >= target]
    return reaching[0] if reaching else max(rates, key=rates.get)


def attribute_strengths(scores: dict[float, Scores], target: float) -> np.ndarray:
    """(A,) `choose_strength` for each attribute alone: its smallest strength whose mean flip rate
    reaches `target`, else its most flipping one."""
    n_attributes = next(iter(scores.values())).flip.shape[1]
    return np.array([choose_strength({s: replace(sc, flip=sc.flip[:, j:j + 1]) for s, sc in scores.items()},
                                     target) for j in range(n_attributes)])


def matched_strength(scores: dict[float, Scores], prompting: Scores) -> float:
    """The strength at which a weight edit flips as often as prompting on the same identities: where
    the mean flip rate first reaches prompting's, by linear interpolation between the two swept
    strengths around it (to 2 decimals); the first strength where that already flips as often, the
    most flipping where none does. The sweep's steps are coarse next to the flip curve: its next
    step can flip far more often than prompting (studies/edit_matching.py)."""
    target = float(prompting.flip.mean())
    strength = choose_strength(scores, target)              # the first swept strength reaching it
    rate = {s: float(sc.flip.mean()) for s, sc in scores.items()}
    below = [s for s in scores if s < strength]
    if rate[strength] < target or not below:                 # none reaches it, or the first already does
        return strength
    s0 = max(below)                                          # rate[s0] < target <= rate[strength]
    return round(s0 + (target - rate[s0]) / (rate[strength] - rate[s0]) * (strength - s0), 2)


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a_i - b_i| / |b_i| over rows: how far two sets of displacements (A, D) are apart."""
    return float((np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)).max())


def w2w_displacements(basis: Basis, directions: Directions, attributes: list[str]) -> np.ndarray:
    """(A, D) weight displacement of strength 1 along each attribute's w2w direction."""
    components = directions.directions.shape[1]
    out = []
    for a in attributes:
        coefficients = np.zeros(basis.k)
        coefficients[:components] = directions.vector(a)
        out.append(basis.direction_to_weights(coefficients))
    return np.stack(out)


def raw_displacements(ctx: Context, basis: Basis, attributes: list[str], p: DirectionsParams) -> np.ndarray:
    """(A, D) the ablation: the same classifiers and debiasing on standardised weights, no PCA."""
    train, test = np.flatnonzero(~ctx.heldout), np.flatnonzero(ctx.heldout)
    xtrain, xtest = basis.standardise(ctx.adapters(train)), basis.standardise(ctx.adapters(test))
    debias = {a: [o for o in rest if o in attributes] for a, rest in p.debias.items() if a in attributes}
    raw, _ = fit_directions(xtrain, labels_of(ctx.table, attributes, train), xtest,
                            labels_of(ctx.table, attributes, test), p.model_copy(update={"debias": debias}))
    return np.stack([basis.std * raw.vector(a) for a in attributes]).astype(np.float32)


def heldout_rows(ctx: Context, p: EvaluateEditsParams) -> np.ndarray:
    """The held-out identities the edits are read on: the seeded order's from `heldout_offset` on."""
    return ctx.rows(True, p.identities, p.seed, p.heldout_offset)


def measure_edits(ctx: Context, basis: Basis, directions: Directions, p: EvaluateEditsParams,
                  dp: DirectionsParams, prompt: str) -> tuple[dict, list[dict], dict[str, np.ndarray]]:
    """Metrics (held-out, at the strengths chosen on train identities), the train identities'
    figures per strength, and before/after grids per attribute."""
    attributes = [a for a in directions.attributes if a in ctx.judge.attribute_names]
    displacements = {"w2w": w2w_displacements(basis, directions, attributes)}
    raw = raw_displacements(ctx, basis, attributes, dp)
    gap = relative_difference(raw, displacements["w2w"])
    if gap > SAME_DIRECTION:  # else rendering it would repeat the w2w edits' figures
        displacements["raw_weights"] = raw
    _, chosen_on = sweep(ctx, ctx.rows(False, p.selection_identities, p.seed), attributes, displacements, p,
                         prompt)
    chosen = {method: choose_strength(chosen_on[method], p.flip_target) for method in displacements}
    matched = matched_strength(chosen_on["w2w"], chosen_on["prompt"][0.0])
    # held-out identities are measured once, at the strengths chosen on train identities
    asked = {m: [s] for m, s in chosen.items()}
    asked["w2w"] = sorted({chosen["w2w"], matched})
    per = attribute_strengths(chosen_on["w2w"], p.flip_target) if p.strength_per_attribute else None
    held_displacements = dict(displacements)
    if per is not None:  # each attribute at its own strength: one edit at strength 1 of scaled directions
        held_displacements[PER_ATTRIBUTE] = displacements["w2w"] * per[:, None]
        asked[PER_ATTRIBUTE] = [1.0]
    held_rows = heldout_rows(ctx, p)
    base, held = sweep(ctx, held_rows, attributes, held_displacements, p, prompt, asked)
    one, at_match, prompting = held["w2w"][chosen["w2w"]], held["w2w"][matched], held["prompt"][0.0]
    w2w = one if per is None else held[PER_ATTRIBUTE][1.0]

    def versus_prompting(edit: Scores) -> dict:
        return {**paired("identity_similarity_difference", edit.identity_similarity,
                         prompting.identity_similarity),
                **paired("trait_change_difference", edit.trait_change, prompting.trait_change),
                **paired("flip_rate_difference", edit.flip, prompting.flip)}

    metrics = w2w.summary(attributes)
    if truth_of(ctx.table) is not None:  # the miniature world: also over the edits it draws, by each
        # person's true attributes, as its own edit (the ceiling) is read; no render added
        drawn = drawn_edits(identities_from_table(ctx.table.iloc[held_rows]), attributes)
        metrics["drawable"] = drawable_summary(w2w, drawn)
    if per is not None:
        metrics.update({"strengths": {a: float(s) for a, s in zip(attributes, per, strict=True)},
                        "one_strength": {k: v for k, v in one.summary(attributes).items()
                                         if not isinstance(v, dict)}})
    metrics.update({"strength": chosen["w2w"], "strength_at_grid_edge": chosen["w2w"] == max(p.strengths),
                    "identities": len(base.adapters), "attributes": attributes,
                    "prompt_baseline": prompting.summary(attributes),
                    "raw_weight_baseline": raw_baseline(held, chosen, gap, attributes),
                    "w2w_vs_prompting": {"strength": matched, **versus_prompting(at_match),
                                         **{k: v for k, v in at_match.summary(attributes).items()
                                            if not isinstance(v, dict)}},
                    "w2w_vs_prompting_at_strength": versus_prompting(w2w),
                    "train_flip_rate": {m: {str(s): float(sc.flip.mean()) for s, sc in by.items()}
                                        for m, by in chosen_on.items()}})
    curve = [{"strength": s, **{f"{method}_{name}": float(getattr(chosen_on[method][s], name).mean())
                                for name in ("flip", "identity_similarity") for method in displacements}}
             for s in p.strengths]  # train identities' figures per strength: what the choice saw
    g = min(p.grid_identities, len(base.adapters))
    shown = [w2w, at_match, prompting, *([held["raw_weights"][chosen["raw_weights"]]] if "raw_weights" in held
                                         else [])]
    # per attribute (identities, [original, w2w, w2w matched, prompt, raw if rendered], S, S, 3)
    grids = {a: np.stack([base.images[:g, 0], *[s.images[:g, j, 0] for s in shown]], 1)
             for j, a in enumerate(attributes)}
    return metrics, curve, grids


def raw_baseline(held: dict[str, dict[float, Scores]], chosen: dict[str, float], gap: float,
                 attributes: list[str]) -> dict:
    """The raw direction's held-out figures, or, where it is the w2w direction, only how far apart."""
    if "raw_weights" not in held:
        return {"rendered": False, "max_relative_difference": gap}
    strength = chosen["raw_weights"]
    return {**held["raw_weights"][strength].summary(attributes), "strength": strength,
            "rendered": True, "max_relative_difference": gap}
