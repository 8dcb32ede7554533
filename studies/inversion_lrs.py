"""Is a recipe's claim 3 held down by the inversion's lr, chosen for another adapter? (issue 17)

    python studies/inversion_lrs.py [--identities N] [--w2w LRS] [--lora LRS] [VARIANT ...]
    # default: to_v, w2w at 0.03,0.1,0.3 and the single-image LoRA at 0.005,0.01,0.02;
    # about a minute an lr once recipe_claims.py has trained the variant's fleet

`evaluate_inversion.lr` (w2w, 0.1) and the single-image LoRA's lr (the fleet's, 0.01) were chosen
for the committed rank-1 to_q/to_v adapters. A recipe with another adapter (recipe_claims.py's
variants: another rank or other targets) may want others. Each variant here takes recipe_claims.py's
fleet of it (trained and kept there: run that first), the same basis of every train adapter but the
32 validation identities' (inversion_fit.py's), and inverts each validation identity's first render
at every lr of each method; scored as read_claim3 scores them (judge similarity to 8 references and
the trait error, 95 % bootstrap CIs over identities). No held-out identity is read.
"""

from __future__ import annotations

import sys

from ambiguous_input import draw, judged_against  # studies/ is on sys.path
from fleet_fit import ci
from recipe_claims import VARIANTS, open_committed, recipe_space
from variants import parse_variants

from w2w.evaluate.inversion import score_models, single_image_lora, w2w_inversion
from w2w.storage import STREAM_IMAGES
from w2w.world.dataset import identities_from_table


def lrs(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        sys.exit(f"--w2w/--lora: {text!r} is not a comma-separated list of numbers")


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, VARIANTS, identities=32, default=["to_v"],
                          w2w="0.03,0.1,0.3", lora="0.005,0.01,0.02")
    w2w_lrs, lora_lrs = lrs(args.w2w), lrs(args.lora)
    committed, rows, train_rows = open_committed(args.identities)
    for name in args.variants:
        ctx, varied, _, basis = recipe_space(committed, name, rows, train_rows)
        p, fp = varied.evaluate_inversion, varied.finetune
        table = ctx.table.iloc[rows]
        people = identities_from_table(table)
        references, truth, traits = judged_against(ctx, varied, people, rows, 1.0)
        render = draw(people, 1, varied.synthesize.seed, STREAM_IMAGES, varied, 1.0)[0][:, 0]
        ids = table["identity_id"].tolist()
        for method, grid in (("w2w", w2w_lrs), ("LoRA", lora_lrs)):
            for lr in grid:
                models = (w2w_inversion(ctx, basis, render, p.model_copy(update={"lr": lr}), fp)
                          if method == "w2w" else
                          single_image_lora(ctx, render, ids, p, fp.model_copy(update={"lr": lr})))
                s = score_models(ctx, models, references, truth, traits, p, f"{name} {method} lr {lr:g}")
                print(f"{name:8s} {method:4s} from the render, lr {lr:<6g} "
                      f"similarity {s.similarity.mean():.3f} {ci(s.similarity)}  "
                      f"trait error {s.trait_error.mean():.3f} {ci(s.trait_error)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
