"""The installed package's import graph: no cycle, and every import goes to an earlier stage.

Built from the source of every module, function-level imports included (a lazy import inside a
function that closed a cycle would hide it from a plain `import`)."""

from __future__ import annotations

import ast
from importlib.util import find_spec
from pathlib import Path

import pytest

# Earlier stages first; a module may import its own stage and any earlier one.
LAYERS: list[tuple[str, ...]] = [
    (
        "ledgerlens",  # the package root: its version only
        "ledgerlens.pipeline",
        "ledgerlens.pipeline.types",
        "ledgerlens.pipeline.errors",
        "ledgerlens.pipeline.config",
        "ledgerlens.pipeline.machine",
        "ledgerlens.pipeline.normalize",
        "ledgerlens.pipeline.money",
        "ledgerlens.pipeline.doctypes",
        "ledgerlens.schemas",
        "ledgerlens.models",
    ),
    ("ledgerlens.pipeline.read",),
    ("ledgerlens.pipeline.engines",),
    ("ledgerlens.pipeline.check",),
    ("ledgerlens.pipeline.chain",),
    ("ledgerlens.pipeline.books",),
    ("ledgerlens.pipeline.export",),
    ("ledgerlens.pipeline.intake",),
    ("ledgerlens.pipeline.measure",),
    ("ledgerlens.pipeline.train",),
    ("ledgerlens.flows",),
    ("ledgerlens.commands", "ledgerlens.cli", "ledgerlens.web"),
]


def _rank(module: str) -> int:
    best, rank = "", -1
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > len(best):
                best, rank = p, i
    assert rank >= 0, f"{module} belongs to no stage: add it to LAYERS"
    return rank


def _modules() -> dict[str, Path]:
    """Every module of the installed ledgerlens package, by dotted name."""
    out: dict[str, Path] = {}
    # The repository's top folders install as sub-packages of `ledgerlens` (pyproject's package-dir).
    todo = ["ledgerlens", "ledgerlens.pipeline", "ledgerlens.flows", "ledgerlens.schemas", "ledgerlens.models"]
    while todo:
        name = todo.pop()
        spec = find_spec(name)
        assert spec is not None and spec.origin
        out[name] = Path(spec.origin)
        for folder in spec.submodule_search_locations or []:
            for child in sorted(Path(folder).iterdir()):
                if child.suffix == ".py" and child.name != "__init__.py":
                    out[f"{name}.{child.stem}"] = child
                elif (child / "__init__.py").is_file():
                    todo.append(f"{name}.{child.name}")
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for t in targets:
            while t and t not in known:  # `import a.b.c` names a module; a name inside one is its module
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(name, path, set(mods)) for name, path in mods.items()}


def test_the_graph_covers_the_stages(graph: dict[str, set[str]]) -> None:
    for stage in ("read", "engines", "check", "books", "export", "intake", "measure"):
        assert any(m.startswith(f"ledgerlens.pipeline.{stage}.") for m in graph), stage
    assert "ledgerlens.pipeline.chain" in graph


def test_imports_go_only_to_earlier_stages(graph: dict[str, set[str]]) -> None:
    upward = [
        f"{m} (stage {_rank(m)}) imports {t} (stage {_rank(t)})"
        for m, targets in graph.items()
        for t in targets
        if t.startswith("ledgerlens") and _rank(t) > _rank(m)
    ]
    assert upward == []


def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    """Tarjan's strongly connected components: any component of two or more modules is a cycle.
    A package's __init__ importing its own submodules is not a cycle unless they import it back."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_pipeline_does_not_import_prefect(graph: dict[str, set[str]]) -> None:
    for m in graph:
        if m.startswith("ledgerlens.pipeline"):
            src = Path(find_spec(m).origin or "").read_text(encoding="utf-8")  # type: ignore[union-attr]
            assert "import prefect" not in src and "from prefect" not in src, m


def test_the_readme_architecture_table_names_every_stage_folder() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Architecture") : readme.index("## Add a document type")]
    pipeline = Path(find_spec("ledgerlens.pipeline").origin or "").parent  # type: ignore[union-attr]
    for folder in sorted(p.name for p in pipeline.iterdir() if (p / "__init__.py").is_file()):
        assert f"`pipeline/{folder}/`" in table, folder


def test_every_stage_folder_says_its_stage() -> None:
    pipeline = Path(find_spec("ledgerlens.pipeline").origin or "").parent  # type: ignore[union-attr]
    for init in pipeline.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 40, f"{init.parent.name}/ has no docstring saying its stage"
