"""`w2w ARGS` run in this process and answered like a finished subprocess.

The same `main()` as the console script, minus the interpreter start and its imports (about 8 s a
run on 2 cores). Tests of what only a real process shows (exit status from the shell, warnings
filters, refusals before the heavy imports) keep running the console script.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import warnings
from pathlib import Path

from w2w.cli import main


def run_w2w(*args, cwd: Path, umask: int | None = None) -> subprocess.CompletedProcess:
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    here, mask = os.getcwd(), os.umask(umask) if umask is not None else None
    formatting = warnings.formatwarning  # main() sets its one-line format for the process
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as stop:  # argparse and params errors exit 2
                code = stop.code if isinstance(stop.code, int) else 1
    finally:
        os.chdir(here)
        warnings.formatwarning = formatting
        if mask is not None:
            os.umask(mask)
    return subprocess.CompletedProcess(["w2w", *argv], code, out.getvalue(), err.getvalue())
