"""What ships and what imports what outside the package: the wheel holds ``lmsys_pipeline``
only, and no module imports a test module (shared helpers live in support modules)."""

import ast
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_the_package_only():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = config["tool"]["setuptools"]["packages"]["find"]
    packages = find_packages(where=str(ROOT), include=found["include"])
    assert "lmsys_pipeline" in packages and "lmsys_pipeline.cli" in packages
    assert all(p == "lmsys_pipeline" or p.startswith("lmsys_pipeline.") for p in packages), [
        p for p in packages if not p.startswith("lmsys_pipeline.")
    ]


def _imported(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_no_module_imports_a_test_module():
    offenders = []
    for folder in ("lmsys_pipeline", "lmsys_pipeline_tests", "benchmarks", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for name in _imported(tree):
                if name.split(".")[-1].startswith("test_"):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
