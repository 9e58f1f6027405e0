"""The package's shape, as docs/architecture.md draws it: read from the source's own
imports (every import, module-level or inside a function), so a change that breaks a
layer or closes a loop fails here, not in a reviewer's head."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import napari_unsupseg

PACKAGE = Path(napari_unsupseg.__file__).parent
NAME = "napari_unsupseg"

#: the layers, bottom to top; a module may import its own layer and those below
FRONT_ENDS = (
    "cli",
    "_commands",
    "batch",
    "_batch_plan",
    "_batch_record",
    "_batch_bars",
    "_cluster",
    "bench",
    "bench_report",
    "_widgets",
    "_params_text",
)
API = ("_api", "_registry", "chunked", "transfer.api")
ENGINES = ("cnn", "baselines", "classical", "mixture", "evaluation", "superpixels", "clustering")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, module: str) -> set[str]:
    """Package modules that ``module`` imports, as dotted names below the package."""
    is_package = path.name == "__init__.py"
    here = module.split(".") if module else []
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here if is_package else here[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *(node.module or "").split(".")]).strip(".")
                names = [f"{NAME}.{target}" if target else NAME]
                names += [f"{names[0]}.{alias.name}" for alias in node.names]
            else:
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name == NAME or name.startswith(NAME + "."):
                found.add(name[len(NAME) + 1 :])
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in _imports(path, module):
            while name and name not in modules:  # `from .pkg import function`
                name = name.rpartition(".")[0]
            if name != module and (name or module):
                targets.add(name)
        graph[module] = targets
    return graph


def _in(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _without_package_faces(graph):
    """The package's own ``__init__`` (and a subpackage's) hands names on: leave its
    arrows out, or every module that imports a sibling through it would close a loop."""
    return {m: {t for t in ts if t != ""} for m, ts in graph.items() if m != ""}


def test_the_graph_reads_real_imports():
    graph = _graph()
    assert "_registry" in graph["_api"]
    assert "evaluation" in graph
    assert len(graph) > 40


def test_no_module_imports_itself_back():
    assert _cycles(_without_package_faces(_graph())) == []


def test_no_loop_between_the_package_parts():
    parts = {}
    for module, targets in _without_package_faces(_graph()).items():
        part = module.split(".")[0]
        parts.setdefault(part, set()).update(t.split(".")[0] for t in targets)
    for part, targets in parts.items():
        targets.discard(part)
    assert _cycles(parts) == []


@pytest.mark.parametrize("layer", [ENGINES, API], ids=["engines", "api"])
def test_lower_layers_import_no_front_end(layer):
    above = FRONT_ENDS if layer is API else FRONT_ENDS + API
    wrong = {
        module: sorted(t for t in targets if _in(t, above))
        for module, targets in _graph().items()
        if _in(module, layer) and not _in(module, above)
    }
    assert {m: t for m, t in wrong.items() if t} == {}


def test_engines_import_neither_napari_nor_qt():
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        if not _in(module, ENGINES):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        roots = {
            (alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0)
            for alias in node.names
        }
        assert not roots & {"napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6"}, module


def test_no_source_file_over_450_lines():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450
    }
    assert long == {}
