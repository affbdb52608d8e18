"""What ships and what imports what outside the package: the wheel holds ``lmsys_pipeline``
only, no module imports a test module, and what the tests share with the benchmarks lives in
one support package that stands on its own."""

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


def _imported(path: Path) -> list[str]:
    """Every module ``path`` imports, and for ``from m import n`` also ``m.n``."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
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
            for name in _imported(path):
                if name.split(".")[-1].startswith("test_"):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def _imports_from_tests(folder: Path) -> list[tuple[Path, str]]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        found += [(path, n) for n in _imported(path) if n.startswith("lmsys_pipeline_tests")]
    return found


def test_benchmarks_and_scripts_take_only_the_support_package_from_the_tests():
    """Benchmarks reuse the tests' builders and servers through ``support`` alone, so moving or
    renaming a test module never breaks a benchmark."""
    found = _imports_from_tests(ROOT / "benchmarks") + _imports_from_tests(ROOT / "scripts")
    assert any(name.startswith("lmsys_pipeline_tests.support.") for _, name in found)
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path, name in found
        if name != "lmsys_pipeline_tests.support"
        and not name.startswith("lmsys_pipeline_tests.support.")
    ]
    assert offenders == []


def test_the_support_package_stands_on_its_own():
    """Support modules import the package and each other, never a test folder's modules or a
    conftest, so a benchmark importing them does not pull in the test suite."""
    found = _imports_from_tests(ROOT / "lmsys_pipeline_tests" / "support")
    offenders = [
        f"{path.name} imports {name}"
        for path, name in found
        if not name.startswith("lmsys_pipeline_tests.support")
    ]
    assert offenders == []
