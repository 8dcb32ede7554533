"""The architecture, read from the source alone: packages import only the layers below them, no
module imports itself through others, and every DVC stage depends on every library file it runs."""

from __future__ import annotations

import sys
from pathlib import Path

import imports
import yaml
from imports import closure, imported_modules

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

# Bottom to top; a package may import its own modules and those of the layers before it. The first
# layer is the top-level modules: storage conventions, params, atomic writes, errors, tracking.
LAYERS = [
    {"atomic", "errors", "params", "repo", "stage_inputs", "storage", "outputs", "tracking"},
    {"world"},      # the synthetic faces
    {"judge"},      # the identity and attribute judge, trained on world renders
    {"base"},       # the base diffusion model
    {"adapters"},   # LoRA layout, batched layer, merge, files, the weights store, batched sampling
    {"fleet"},      # training one adapter per identity
    {"space"},      # the weights2weights space: PCA, directions, edit, sample, invert
    {"evaluate"},   # every measurement
    {"reference"},  # importing the published reference space
    {"explore"},    # the local web app on the space
    {"cli"},
]
LAYER_OF = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def import_graph() -> dict[str, set[str]]:
    return imports.import_graph(SRC)


def package(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def test_every_package_has_a_layer():
    assert {package(m) for m in import_graph() if m != "w2w"} <= set(LAYER_OF)


def test_packages_import_only_the_layers_below():
    upward = sorted(f"{m} imports {d}" for m, deps in import_graph().items() if m != "w2w"
                    for d in deps if LAYER_OF[package(d)] > LAYER_OF[package(m)])
    assert not upward, "\n".join(upward)


def test_no_module_imports_itself_through_others():
    graph = import_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep):], dep] if dep in path else [node, dep]
            if dep not in state and (circle := visit(dep, [*path, dep])):
                return circle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (circle := visit(start, [start])):
            raise AssertionError(" -> ".join(circle))


def test_the_checks_catch_an_upward_import_and_a_circle(tmp_path, monkeypatch):
    """The checks above on a copy of the source with one upward import and one circle added."""
    import shutil

    copy = tmp_path / "src"
    shutil.copytree(SRC / "w2w", copy / "w2w")
    with (copy / "w2w" / "world" / "identity.py").open("a") as f:
        f.write("\nfrom w2w.evaluate.report import write_summary  # noqa\n")  # world -> evaluate
    with (copy / "w2w" / "atomic.py").open("a") as f:
        f.write("\nfrom w2w.outputs import claim_output  # noqa\n")  # atomic <-> outputs
    monkeypatch.setattr(sys.modules[__name__], "SRC", copy)
    graph = import_graph()
    assert "w2w.evaluate.report" in graph["w2w.world.identity"]
    try:
        test_packages_import_only_the_layers_below()
    except AssertionError as error:
        assert "w2w.world.identity imports w2w.evaluate.report" in str(error)
    else:
        raise AssertionError("the upward import was not caught")
    try:
        test_no_module_imports_itself_through_others()
    except AssertionError as error:
        assert "w2w.atomic" in str(error) and "w2w.outputs" in str(error)
    else:
        raise AssertionError("the circle was not caught")


def module_file(module: str) -> str:
    return str(imports.module_file(module, SRC).relative_to(ROOT))


def test_every_stage_depends_on_the_library_files_it_runs():
    """dvc.yaml: a change to any module a stage imports (directly or not) reruns the stage."""
    graph = import_graph()
    known = set(graph)
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    missing = []
    for name, stage in stages.items():
        script = ROOT / "stages" / f"{name}.py"
        deps = [str(d).rstrip("/") for d in stage.get("deps", [])]
        for module in sorted(closure(imported_modules(script, known), graph)):
            path = module_file(module)
            if not any(path == d or path.startswith(d + "/") for d in deps):
                missing.append(f"{name}: {path}")
    assert not missing, "\n".join(missing)
