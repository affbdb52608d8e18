"""The layering contract (``[tool.importlinter]`` in pyproject.toml) holds, so ``pytest``
alone catches an import that runs upward, and the contract does catch one."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter on the package under ``root`` with ``root``'s pyproject.toml."""
    check = "import sys; from importlinter.cli import lint_imports; "
    check += "sys.exit(lint_imports(no_cache=True, no_logo=True))"
    return subprocess.run(
        [sys.executable, "-c", check],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.subprocess
def test_imports_run_downward():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.subprocess
def test_an_import_that_runs_upward_breaks_the_contract(tmp_path: Path):
    shutil.copytree(
        ROOT / "lmsys_pipeline",
        tmp_path / "lmsys_pipeline",
        ignore=shutil.ignore_patterns("data", "__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    upward = "from lmsys_pipeline.reading.choice import require_run  # noqa: F401\n"
    (tmp_path / "lmsys_pipeline" / "db" / "upward.py").write_text(upward)
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "lmsys_pipeline.db is not allowed to import lmsys_pipeline.reading" in result.stdout
    assert "lmsys_pipeline.db.upward -> lmsys_pipeline.reading.choice" in result.stdout
