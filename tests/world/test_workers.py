"""Rendering in worker processes: the same bytes in the same order, and really in other processes."""

import os

import numpy as np
import pytest

from w2w.errors import InputError
from w2w.storage import STREAM_JUDGE
from w2w.world.dataset import render_identities, render_identity
from w2w.world.identity import sample_identity
from w2w.world.workers import PROCESSES_ENV, map_in_processes


def _pid(_: int) -> int:
    return os.getpid()


def test_renders_drawn_in_processes_are_the_serial_ones(monkeypatch):
    people = [sample_identity(i, 0) for i in range(20)]
    monkeypatch.setenv(PROCESSES_ENV, "2")
    pooled = render_identities(people, 2, 0, STREAM_JUDGE, 32, painting=True)
    serial = np.stack([render_identity(p, 2, 0, STREAM_JUDGE, 32, painting=True) for p in people])
    assert pooled.shape == (20, 2, 32, 32, 3) and np.array_equal(pooled, serial)


def test_the_pool_runs_in_other_processes_unless_told_not_to(monkeypatch):
    monkeypatch.setenv(PROCESSES_ENV, "2")
    pids = map_in_processes(_pid, list(range(40)))
    assert os.getpid() not in pids and len(set(pids)) >= 1
    monkeypatch.setenv(PROCESSES_ENV, "1")
    assert set(map_in_processes(_pid, list(range(40)))) == {os.getpid()}
    monkeypatch.setenv(PROCESSES_ENV, "2")
    assert set(map_in_processes(_pid, list(range(5)))) == {os.getpid()}  # too few to pay for a pool


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_process_count_is_one_clear_line(monkeypatch, value):
    monkeypatch.setenv(PROCESSES_ENV, value)
    with pytest.raises(InputError, match=f"^{PROCESSES_ENV}='{value}': expected a whole number"):
        map_in_processes(_pid, list(range(40)))
