"""Could the stages that run in one two-thread process go faster as two one-thread processes?

The fleet already trains on two one-thread Dask workers (1.2-1.3x one two-thread process,
finetune_throughput.py). This asks the same of the other stages' inner loops, on freshly
initialised models of params.yaml's widths (needs no data):
    base_step   the base stage's UNet training step (a batch of unet_batch_size, AdamW, EMA)
    sampling    one guided denoising pass of 64 images (128 rows), as the evaluations sample
    judge_step  a training step of the judge stage's networks (TraitNet, batch_size images)

Each workload runs in two layouts on 2 cores, a few rounds each, interleaved against drift:
    one         one process, two torch threads, the whole batch
    two         two concurrent processes, one thread each, half the batch each
and reports the median seconds of a whole batch (for "two", the slower process's half batch) and
the gain, one / two. Only a gain well beyond the rounds' spread would be worth a stage's rework.

    python benchmarks/process_layout.py [--steps 20] [--rounds 3] [--workloads base_step sampling judge_step]

Writes benchmarks/results/process_layout.json.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from w2w.atomic import write_json
from w2w.params import load_params

RESULT = Path("benchmarks/results/process_layout.json")
CONTEXT = 32  # the miniature tokenizer's model_max_length (w2w.base.tokenizer)
WORKLOADS = ("base_step", "sampling", "judge_step")


def base_step(rows: int) -> Callable[[], None]:
    from w2w.base.model import build_unet

    p = load_params().base
    unet = build_unet(p, 8)
    ema = [w.detach().clone() for w in unet.parameters()]
    opt = torch.optim.AdamW(unet.parameters(), lr=p.unet_lr, weight_decay=1e-2)
    x, ctx = torch.randn(rows, p.latent_channels, 8, 8), torch.randn(rows, CONTEXT, p.text_dim)

    def step() -> None:
        t = torch.randint(0, 1000, (rows,))
        loss = unet(x, t, encoder_hidden_states=ctx).sample.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for e, w in zip(ema, unet.parameters(), strict=True):
                e.lerp_(w, 1 - p.ema_decay)
    return step


def sampling(rows: int) -> Callable[[], None]:
    from w2w.base.model import build_unet

    p = load_params().base
    unet = build_unet(p, 8).eval()
    x, ctx = torch.randn(rows, p.latent_channels, 8, 8), torch.randn(rows, CONTEXT, p.text_dim)
    t = torch.full((rows,), 500)

    @torch.no_grad()
    def step() -> None:
        unet(x, t, encoder_hidden_states=ctx)
    return step


def judge_step(rows: int) -> Callable[[], None]:
    import torch.nn.functional as F

    from w2w.judge.model import TraitNet

    p = load_params().judge
    net = TraitNet(16, p.width, 32)
    opt = torch.optim.AdamW(net.parameters(), lr=p.lr, weight_decay=5e-4)
    x, target = torch.rand(rows, 3, 32, 32) * 2 - 1, torch.randn(rows, 16)

    def step() -> None:
        loss = F.mse_loss(net(x), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def full_rows(workload: str) -> int:
    params = load_params()
    return {"base_step": params.base.unet_batch_size, "sampling": 128,
            "judge_step": params.judge.batch_size}[workload]


def worker(workload: str, rows: int, threads: int, steps: int, start: mp.Barrier, out: mp.Queue) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    step = globals()[workload](rows)
    for _ in range(3):  # warm-up
        step()
    start.wait()  # the two processes of a layout time the same seconds
    times = []
    for _ in range(steps):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    out.put(float(np.median(times)))


def layout(workload: str, processes: int, steps: int) -> float:
    """Median seconds of one step of each process's share of the batch; the slowest process's."""
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(processes), ctx.Queue()
    rows, threads = full_rows(workload) // processes, 2 // processes
    jobs = [ctx.Process(target=worker, args=(workload, rows, threads, steps, start, out))
            for _ in range(processes)]
    for job in jobs:
        job.start()
    medians = [out.get() for _ in jobs]
    for job in jobs:
        job.join()
    return max(medians)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    args = parser.parse_args()
    results = {}
    for workload in args.workloads:
        one, two = [], []
        for _ in range(args.rounds):  # interleaved, so that drift hits both layouts alike
            one.append(layout(workload, 1, args.steps))
            two.append(layout(workload, 2, args.steps))
        gains = [a / b for a, b in zip(one, two, strict=True)]
        results[workload] = {"rows": full_rows(workload), "one_process_two_threads_s": one,
                             "two_processes_one_thread_s": two, "gain_per_round": gains,
                             "gain_median": float(np.median(gains))}
        print(f"{workload:10s} rows {full_rows(workload):4d}  one process {np.median(one):.3f} s  "
              f"two processes {np.median(two):.3f} s  gain {np.median(gains):.2f}x "
              f"(rounds {', '.join(f'{g:.2f}' for g in gains)})", flush=True)
    write_json(RESULT, {"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
                        "steps": args.steps, "rounds": args.rounds, "workloads": results})
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
