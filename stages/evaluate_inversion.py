"""DVC stage `evaluate_inversion`: one-image inversion vs a one-image LoRA, in and out of distribution
and from a partly hidden render, and the ceiling ladder those models stand on (the same identities,
references and samplers)."""

from pathlib import Path

from w2w.atomic import write_json
from w2w.errors import run_stage
from w2w.params import load_params_or_exit

WORLD, BASE, JUDGE = Path("data/world"), Path("data/base"), Path("data/judge")
WEIGHTS, BASIS = Path("data/weights.zarr"), Path("data/basis")
METRICS, LADDER = Path("metrics/inversion.json"), Path("metrics/ladder.json")
LADDER_PLOT = Path("plots/ladder.csv")
GRID = Path("reports/inversion_grid.png")
SHARE_STREAM = 2  # the identity share's renders: seed offset past the references (0) and probes (1)


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    from w2w.evaluate.context import Context
    from w2w.evaluate.figures import grid_image, save_png, write_csv
    from w2w.evaluate.inversion import measure_inversion
    from w2w.evaluate.ladder import ladder, lower_rungs
    from w2w.evaluate.share import identity_share
    from w2w.space.basis import Basis
    from w2w.tracking import stage_run
    from w2w.world.references import is_folder_world

    with stage_run("evaluate_inversion", params, ("evaluate_inversion",)) as run:
        p, basis = params.evaluate_inversion, Basis.load(BASIS)
        ctx = Context.open(WORLD, WEIGHTS, BASE, JUDGE)
        held, train = ctx.rows(True, p.identities, p.seed), ctx.rows(False, p.identities, p.seed)
        # the miniature world adds a render with part of the person hidden; photos have no person masks
        render_seed = None if is_folder_world(WORLD) else params.synthesize.seed
        metrics, grid, rungs = measure_inversion(ctx, basis, held, p, params.finetune, render_seed)
        lower, residual = lower_rungs(ctx, basis, held, train, p)
        # the fleet's recipe on two disjoint halves of as many images as it trains on (identity_probes)
        half = max(1, params.synthesize.images_per_identity // 2)
        share_rows = ctx.rows(False, max(3, p.identities), p.seed)  # `train`, or a few more: >= 3
        share = identity_share(ctx.pipe, BASE, ctx.world, ctx.table.iloc[share_rows], half,
                               p.seed + SHARE_STREAM, params.finetune)
        steps, rows = ladder(rungs + lower, residual | share, p.seed)
        run.log_metrics(metrics)
        run.log_metrics({f"ladder.{e['key']}.{name}": e[f"{name}_mean"] for e in steps["rungs"]
                         for name in ("similarity", "trait_error") if f"{name}_mean" in e})
        run.log_metrics({f"ladder.{k}": v for k, v in share.items() if not k.endswith("_ci")})
        # per identity: a true render | render, w2w, LoRA | painting, w2w, LoRA | occluded, w2w, LoRA
        save_png(grid_image(grid), GRID)
        run.log_artifact(GRID, "grids")
        write_csv(LADDER_PLOT, rows)
        write_json(LADDER, steps)
        write_json(METRICS, metrics)


if __name__ == "__main__":
    run_stage(main)  # bad input: one line and exit 1; a bug keeps its traceback
