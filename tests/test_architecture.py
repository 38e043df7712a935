"""The shape of the package, checked: the import graph has no cycle, every arrow points down the
pipeline, modules read in one sitting and functions fit on a screen (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "outreach"

LAYERS: list[set[str]] = [
    {"errors"},
    {"providers", "timezones", "migrations", "business_days"},
    {"config", "db"},
    {"mail", "classify"},
    {"contacts"},
    {"templates"},
    {"sending"},
    {"replies"},
    {"reports", "followups", "intros", "onboard"},
    {"cli"},
    {"__main__"},
]
"""Bottom to top. A module may import from its own package and from any layer below its own;
packages on the same layer don't import each other."""

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
LONG = "# long:"
"""A function over the limit carries a `# long: why` comment on the line before it."""

BUSY = "being changed on another branch now (issue 10 faults, classification, onboarding, performance)"
PENDING_SPLITS: dict[str, str] = {
}
"""Known debt, each with its reason: the limits apply once the branches that change these land.
An entry that is no longer over its limit fails the test, so the list only shrinks."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1])
        name = f"{base}.{node.module}" if node.module else base
    else:
        name = node.module or ""
    # `from outreach.sending import outbox` imports the module outreach.sending.outbox
    return [f"{name}.{alias.name}" for alias in node.names] + [name]


def _edges(*, top_level_only: bool) -> dict[str, set[str]]:
    """module -> the outreach modules it imports (all of them, or only those run at import time)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = tree.body if top_level_only else list(ast.walk(tree))
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[module] |= {name for name in _imported(module, path, node) if name in modules and name != module}
    return graph


def _layer(module: str) -> int:
    part = module.split(".")[1] if "." in module else ""
    for rank, names in enumerate(LAYERS):
        if part in names:
            return rank
    raise AssertionError(f"{module}: its package is on no layer of LAYERS in tests/test_architecture.py; add it")


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_every_import_points_down_the_pipeline():
    wrong = [
        f"{module} -> {target}"
        for module, targets in _edges(top_level_only=False).items()
        for target in sorted(targets)
        if _package(module) != _package(target) and _layer(target) >= _layer(module)
    ]
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(wrong)


def test_no_import_cycle():
    graph = _edges(top_level_only=True)
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(module):] + [module]))
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in graph:
        visit(module, [])


def test_imports_inside_functions_say_why():
    unexplained = []
    for path in _modules().values():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        line = lines[inner.lineno - 1]
                        above = inner.lineno - 2
                        while not lines[above].strip() or lines[above].strip().startswith(("from ", "import ", "try:")):
                            above -= 1  # one comment may head a group of imports
                        if "#" not in line and not lines[above].strip().startswith("#"):
                            unexplained.append(f"{path.relative_to(PACKAGE.parent)}:{inner.lineno}: {line.strip()}")
    assert not unexplained, "imports inside functions without a comment saying why:\n" + "\n".join(unexplained)


def _long_modules() -> dict[str, int]:
    return {str(path.relative_to(PACKAGE.parent)): n for path in _modules().values()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}


def _long_functions() -> dict[str, int]:
    """`path:name` -> lines, for functions over the limit without a `# long:` reason above them."""
    found = {}
    for path in _modules().values():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                size = node.end_lineno - node.lineno + 1
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if size > MAX_FUNCTION_LINES and not lines[first - 2].strip().startswith(LONG):
                    found[f"{path.relative_to(PACKAGE.parent)}:{node.name}"] = size
    return found


def test_modules_read_in_one_sitting():
    long = {name: n for name, n in _long_modules().items() if name not in PENDING_SPLITS}
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them): {long}"


def test_functions_fit_on_a_screen():
    long = {name: n for name, n in _long_functions().items() if name not in PENDING_SPLITS}
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines without a `{LONG} why` comment above them: {long}"


def test_pending_splits_are_still_pending():
    done = set(PENDING_SPLITS) - set(_long_modules()) - set(_long_functions())
    assert not done, f"no longer over the limit: remove from PENDING_SPLITS: {sorted(done)}"
