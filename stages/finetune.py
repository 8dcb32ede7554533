"""DVC stage `finetune`: one rank-r LoRA per identity, batched, resumable shard by shard."""

from pathlib import Path

from w2w.atomic import write_json
from w2w.errors import run_stage
from w2w.params import load_params_or_exit

WORLD = Path("data/world")
BASE = Path("data/base")
OUT = Path("data/fleet")


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    from w2w.fleet.run import TRAIN_SUMMARY, run_finetune
    from w2w.repo import repo_root
    from w2w.stage_inputs import dependency_fingerprint
    from w2w.tracking import stage_run

    with stage_run("finetune", params, ("base", "finetune", "compute")) as run:
        # params (not compute: no effect on a shard) and the content of every dependency: shards kept
        # from a run with another base or other training code are stale, not a run to resume
        upstream = (f"{params.config_hash(('synthesize', 'base', 'finetune'))}-"
                    f"{dependency_fingerprint(repo_root(), 'finetune')}")
        summary = run_finetune(BASE, WORLD, OUT, params.finetune, upstream, params.compute,
                               params.synthesize.seed)
        run.log_metrics(summary)
        write_json(OUT / TRAIN_SUMMARY, summary)  # merged into metrics/finetune.json by evaluate_finetune


if __name__ == "__main__":
    run_stage(main)  # bad input: one line and exit 1; a bug keeps its traceback
