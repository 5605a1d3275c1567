"""Imports only go down the layers of ARCHITECTURE.md: cli -> pipeline -> recipes -> condense -> training -> core,
with hub and datasets.py on core beside training. Every import of the package (module level or inside a
function) is parsed and an upward or sideways one fails, naming the file, the line and the two layers."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "condensed_datasets"

# layer -> the layers it may import (besides itself)
ALLOWED = {
    "core": set(),
    "hub": {"core"},
    "training": {"core"},
    "datasets": {"core", "hub"},
    "condense": {"training", "core"},
    "recipes": {"condense", "training", "core"},
    "pipeline": {"recipes", "condense", "training", "core", "hub", "datasets"},
    "cli": {"pipeline", "recipes", "condense", "training", "core", "hub", "datasets"},
    "package": {"datasets", "core", "hub", "training"},  # __init__.py: the public API
}


def layer_of_file(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    if parts[0] == "recipes":
        return "recipes"
    if len(parts) == 2:  # condensed_datasets/<module>.py
        return {"__init__.py": "package", "__main__.py": "cli", "datasets.py": "datasets"}[parts[1]]
    return parts[1]


def layer_of_module(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1:
        return "package"
    return {"datasets": "datasets", "__main__": "cli"}.get(parts[1], parts[1])


def package_of(path: Path) -> str:
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    return f"{PACKAGE}.{package}" if package.startswith("recipes") else package


def imports(path: Path, package: str) -> list[tuple[int, str]]:
    """Every (line, absolute module) the file imports, in function bodies too, relative imports resolved."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            if module == PACKAGE:  # from condensed_datasets import core
                found += [(node.lineno, f"{PACKAGE}.{alias.name}") for alias in node.names]
    return found


def package_files() -> list[Path]:
    return sorted((ROOT / PACKAGE).rglob("*.py")) + sorted((ROOT / "recipes").glob("*.py"))


def test_every_module_sits_in_a_known_layer():
    for path in package_files():
        assert layer_of_file(path) in ALLOWED, path


def test_imports_only_go_down_the_layers():
    upward = []
    for path in package_files():
        mine = layer_of_file(path)
        for line, module in imports(path, package_of(path)):
            theirs = layer_of_module(module)
            if theirs is None or theirs == mine or (mine, theirs) == ("package", "package"):
                continue
            if theirs == "package" and module == PACKAGE:
                continue  # `from condensed_datasets import __version__`
            if theirs not in ALLOWED[mine]:
                upward.append(f"{path.relative_to(ROOT)}:{line} ({mine}) imports {module} ({theirs})")
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_the_layering_check_sees_a_violation(tmp_path):
    """The parser finds function-local and relative imports, so the check above can fail."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..pipeline import build\n    import condensed_datasets.cli.main\n")
    found = sorted(m for _, m in imports(probe, f"{PACKAGE}.core"))
    assert found == [f"{PACKAGE}.cli.main", f"{PACKAGE}.pipeline"]
    assert [layer_of_module(m) for m in found] == ["cli", "pipeline"] and not ALLOWED["core"]
