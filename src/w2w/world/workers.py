"""Rendering on every core: the renderer is Python and Pillow, so one process draws on one core.

Renders are a function of (identity, seed, stream) alone, so drawing identities in worker processes
gives the same bytes, in the same order, as drawing them one after another. The judge stage draws
about 26,000 images; on 2 cores the pool takes about half its time off that.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import TypeVar

from tqdm import tqdm

from w2w.errors import InputError

T = TypeVar("T")
R = TypeVar("R")

PROCESSES_ENV = "W2W_RENDER_PROCESSES"  # 1: draw in this process (e.g. to time the pool against it)
MIN_ITEMS = 16  # below this the pool's start costs more than it saves


def render_processes() -> int:
    """Worker processes for rendering: $W2W_RENDER_PROCESSES, else one per usable core."""
    value = os.environ.get(PROCESSES_ENV, "")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise InputError(f"{PROCESSES_ENV}={value!r}: expected a whole number of processes, 1 or more")
        return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _can_fork() -> bool:
    # A daemonic process (a Dask worker's) may not have children; without fork, workers would
    # re-import the caller's whole module, torch included, which costs more than it saves.
    return ("fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon)


def map_in_processes(fn: Callable[[T], R], items: Sequence[T], desc: str | None = None) -> list[R]:
    """[fn(item) for item in items], in worker processes where that pays; `fn` must be picklable (a
    module-level function or a functools.partial of one) and depend on its argument alone."""
    processes = min(render_processes(), len(items))
    bar = dict(total=len(items), desc=desc, unit="id", mininterval=2, disable=desc is None)
    if processes < 2 or len(items) < MIN_ITEMS or not _can_fork():
        return [fn(item) for item in tqdm(items, **bar)]
    chunk = max(1, min(32, len(items) // (8 * processes)))
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return list(tqdm(pool.imap(fn, items, chunksize=chunk), **bar))
