"""`w2w explore` binds to this machine unless told otherwise, warns when told, never makes a share
link, and serves a page that names a missing space instead of failing."""

from pathlib import Path

import w2w.explore.app as app
from w2w.cli import main

PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


class FakeApp:
    def __init__(self, explorer, problem):
        self.explorer, self.problem, self.launched = explorer, problem, None
        FakeApp.last = self

    def queue(self):
        return self

    def launch(self, **kwargs):
        self.launched = kwargs


def test_local_by_default_warned_otherwise_and_a_missing_space_is_named(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(app, "build_app", FakeApp)
    missing = ["--basis", str(tmp_path / "no-basis"), "--weights", str(tmp_path / "no.zarr"),
               "--params", str(PARAMS)]
    assert main(["explore", *missing]) == 0
    served = FakeApp.last
    assert served.explorer is None and "no-basis" in served.problem  # the page says what is missing
    assert served.launched["server_name"] == "127.0.0.1" and served.launched["share"] is False
    assert "warning" not in capsys.readouterr().err
    assert main(["explore", *missing, "--host", "0.0.0.0", "--port", "7999"]) == 0
    assert FakeApp.last.launched["server_name"] == "0.0.0.0" and FakeApp.last.launched["server_port"] == 7999
    assert FakeApp.last.launched["share"] is False
    assert "warning: serving on 0.0.0.0" in capsys.readouterr().err


def test_a_bad_port_is_one_line(capsys):
    assert main(["explore", "--port", "70000", "--params", str(PARAMS)]) == 1
    assert "--port must be 1-65535" in capsys.readouterr().err
