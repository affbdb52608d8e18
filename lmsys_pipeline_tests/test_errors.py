"""One user-error type: every stage's one-sentence errors share ``UserError``; the CLI and
Dagster each turn it into their own failure in one place."""

import ast
from pathlib import Path

import dagster as dg
import pytest
from pydantic import BaseModel, Field, ValidationError
from typer.testing import CliRunner

import lmsys_pipeline
from lmsys_pipeline.cli import app
from lmsys_pipeline.defs.failures import user_failures
from lmsys_pipeline.errors import UserError, settings_error

runner = CliRunner()
PACKAGE = Path(lmsys_pipeline.__file__).parent


def test_every_error_meant_for_users_is_a_user_error():
    from lmsys_pipeline.clustering.fit import ClusteringInputError
    from lmsys_pipeline.clustering.runs import RunNotFound
    from lmsys_pipeline.embedding.embedders import EmbedderError
    from lmsys_pipeline.embedding.search import SearchError
    from lmsys_pipeline.ingestion.sources import SourceError
    from lmsys_pipeline.labeling.llm import LLMConfigError
    from lmsys_pipeline.labeling.providers import ProviderError
    from lmsys_pipeline.reading.choice import NotFound
    from lmsys_pipeline.summarizing.params import SummaryInputError

    for error in (
        ClusteringInputError,
        RunNotFound,
        EmbedderError,
        SearchError,
        SourceError,
        NotFound,
        LLMConfigError,
        SummaryInputError,
        ProviderError,
    ):
        assert issubclass(error, UserError), error


class _Settings(BaseModel):
    min_samples: int = Field(ge=1)
    timeout_s: float = Field(gt=0)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"min_samples": 0, "timeout_s": 1}, "--min-samples 0: input should be greater than"),
        ({"min_samples": 1, "timeout_s": -2}, "--timeout -2: input should be greater than 0."),
    ],
)
def test_validation_errors_name_the_option_the_user_typed(fields, expected):
    with pytest.raises(ValidationError) as caught:
        _Settings(**fields)
    assert str(settings_error(caught.value, {"timeout_s": "--timeout"})).startswith(expected)


def test_the_cli_prints_a_user_error_as_one_line_and_exits_1(tmp_path: Path):
    result = runner.invoke(
        app,
        [
            "cluster",
            "hdbscan",
            "--min-cluster-size",
            "5",
            "--min-samples",
            "0",
            "--db-url",
            str(tmp_path / "q.db"),
        ],
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: --min-samples 0: input should be greater than or equal to 1."
    )


def test_dagster_reports_a_user_error_as_a_failure_without_retries():
    with pytest.raises(dg.Failure) as caught, user_failures():
        raise UserError("The source does not exist: give a file.")
    assert caught.value.description == "The source does not exist: give a file."
    assert caught.value.allow_retries is False
    with pytest.raises(KeyError), user_failures():  # bugs keep their traceback
        raise KeyError("bug")


def _environment_writes(tree: ast.AST) -> list[int]:
    """Lines that change os.environ: item assignment, update/setdefault/pop, putenv."""
    lines = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            if isinstance(target, ast.Subscript) and "environ" in ast.unparse(target.value):
                lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            called = ast.unparse(node.func)
            if called.endswith(("environ.update", "environ.setdefault", "environ.pop")) or (
                called in ("os.putenv", "os.unsetenv")
            ):
                lines.append(node.lineno)
    return lines


def test_no_code_path_talks_to_another_part_through_the_environment():
    found = {
        str(path.relative_to(PACKAGE)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if (lines := _environment_writes(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert found == {}
    assert _environment_writes(ast.parse("import os\nos.environ['X'] = '1'\n")) == [2]
