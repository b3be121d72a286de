"""The package's imports run one way (docs/developing.md, "The layout"), checked on the source.

Stages, lowest first: core → schema → ingest → analytics → (lifecycle, iq, worker, instance) →
devtools → defs → definitions: only definitions.py imports defs/ (`make demo`, which drives the
Dagster layer, is scripts/demo.py, outside the package). A module may import its own stage and any lower one, never a
higher one or a sibling of its rank; imports inside functions count too. No module takes part in
an import cycle. The Celery worker imports nothing of Dagster (test_celery_app checks it at run time).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "heimdall_pipeline"
RANK = {
    "core": 0,
    "schema": 1,
    "ingest": 2,
    "analytics": 3,
    "lifecycle": 4,
    "iq": 4,
    "worker": 4,
    "instance": 4,
    "devtools": 5,
    "defs": 6,
    "definitions": 7,
}
# The package's own __init__ re-exports the worker API lazily (PEP 562), importing nothing eagerly.
ROOT = "heimdall_pipeline"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of ours this file imports, at any depth of the file (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(ROOT):
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in modules else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith(ROOT)}
    return found


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) for name, path in modules.items()}


def test_every_module_belongs_to_a_stage():
    assert {_stage(name) for name in _modules()} - {None} == set(RANK)


def test_imports_only_run_downward():
    upward = []
    for module, imported in _graph().items():
        stage = _stage(module)
        if stage is None:
            continue
        for target in imported:
            target_stage = _stage(target)
            if target_stage is None or target_stage == stage:
                continue
            if RANK[target_stage] >= RANK[stage]:
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_library_stages_never_import_dagster_wiring_or_devtools():
    library = {stage for stage, rank in RANK.items() if rank <= 4}
    offenders = [
        f"{module} -> {target}"
        for module, imported in _graph().items()
        if _stage(module) in library
        for target in imported
        if _stage(target) in ("defs", "definitions", "devtools")
    ]
    assert offenders == []


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = defaultdict(int)  # 0 unseen, 1 on the path, 2 done
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if target == ROOT or target not in graph:
                continue
            if state[target] == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif state[target] == 0:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if state[module] == 0:
            visit(module, [module])
    assert cycles == []
