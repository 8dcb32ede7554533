import pytest
import torch
from torch.optim.lr_scheduler import LambdaLR, OneCycleLR

from w2w.base.optim import MIN_CYCLE_STEPS, one_cycle


@pytest.mark.parametrize("steps", [1, 3, 20, MIN_CYCLE_STEPS, 3000])
def test_schedule_runs_for_any_length(steps):
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = one_cycle(opt, 1e-3, steps)
    for _ in range(steps):
        opt.step()
        sched.step()
    assert isinstance(sched, OneCycleLR if steps >= MIN_CYCLE_STEPS else LambdaLR)
    assert all(group["lr"] >= 0 for group in opt.param_groups)
