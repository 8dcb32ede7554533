"""Local servers the tests start (an mlflow server, `w2w explore`): a free port, and a start that
waits until the server answers."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def serve(cmd: list, url: str, log: Path, seconds: float, **popen) -> subprocess.Popen:
    """Start `cmd` (its output in `log`) and return once `url` answers; RuntimeError with the log's
    tail when it exits first or does not answer in `seconds`."""
    server = subprocess.Popen([str(c) for c in cmd], stdout=log.open("w"), stderr=subprocess.STDOUT,
                              **popen)
    deadline = time.time() + seconds
    while not answers(url):
        if server.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited: {log.read_text()[-3000:]}")
        if time.time() > deadline:
            server.kill()
            raise RuntimeError(f"{cmd[0]} did not answer {url} in {seconds:.0f} s")
        time.sleep(0.5)
    return server
