"""DVC stage `stack`: the fleet's shards as one (N, D) Zarr v3 array, data/weights.zarr."""

from pathlib import Path

from w2w.errors import run_stage
from w2w.params import load_params_or_exit

WORLD = Path("data/world")
FLEET = Path("data/fleet")
OUT = Path("data/weights.zarr")


def main() -> None:
    params = load_params_or_exit()  # before any output is touched
    import pandas as pd

    from w2w.adapters.layout import AdapterLayout
    from w2w.fleet.config import lora_config_dict
    from w2w.fleet.shards import read_shard_layout, stack_shards
    from w2w.tracking import stage_run

    table = pd.read_parquet(WORLD / "identities.parquet")
    shards = sorted(FLEET.glob("shard-*.safetensors"))
    if not shards:
        raise SystemExit(f"error: {FLEET}: no shards; run the finetune stage first")
    layout = AdapterLayout.from_json(read_shard_layout(shards[0]))
    with stage_run("stack", params, ("finetune",)) as run:
        weights = stack_shards(shards, table["identity_id"].to_numpy(), table["split"].to_numpy(), layout,
                               lora_config_dict(params.finetune), OUT, params.finetune.identities_per_shard)
        run.log_metrics({"rows": weights.shape[0], "dim": weights.shape[1]})


if __name__ == "__main__":
    run_stage(main)  # bad input: one line and exit 1; a bug keeps its traceback
