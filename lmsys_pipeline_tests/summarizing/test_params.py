from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from lmsys_pipeline.labeling.settings import check_alias
from lmsys_pipeline.summarizing.params import (
    KEYPHRASE_MODEL,
    KEYWORDS_MODEL,
    PROMPT_VERSION,
    SummaryParams,
    default_alias,
    default_model,
    new_summary_run_id,
)

NOW = datetime(2025, 10, 4, 12, 45, 30, tzinfo=UTC)


def test_summary_run_id_names_the_model_and_second():
    assert new_summary_run_id("anthropic/claude-sonnet-4-5", set(), NOW) == (
        "summary-claude-sonnet-4-5-20251004-124530"
    )
    taken = {"summary-gpt-4o-mini-20251004-124530"}
    assert new_summary_run_id("openai/gpt-4o-mini", taken, NOW).endswith("124530-2")


def test_aliases_are_safe_partition_keys():
    assert default_alias("openai/gpt-4o-mini") == "gpt-4o-mini"
    assert default_alias("ollama/llama3.1:8b") == "llama3.1-8b"
    assert check_alias("claude-v1") == "claude-v1"
    for bad in ("a|b", "", "-x", "a b"):
        with pytest.raises(ValueError, match="Alias"):
            check_alias(bad)


def test_default_model_is_offline_unless_configured(monkeypatch):
    monkeypatch.delenv("LMSYS_SUMMARY_MODEL", raising=False)
    assert default_model() == KEYPHRASE_MODEL
    assert SummaryParams(model=KEYWORDS_MODEL).is_offline  # older runs reproduce
    with pytest.raises(ValidationError, match="local/keyphrase \\(or local/keywords\\)"):
        SummaryParams(model="local/other")
    monkeypatch.setenv("LMSYS_SUMMARY_MODEL", "openai/gpt-4o-mini")
    assert default_model() == "openai/gpt-4o-mini"


def test_params_reject_a_model_without_provider_and_store_a_clean_url():
    with pytest.raises(ValidationError, match="provider/name"):
        SummaryParams(model="gpt-4o")
    stored = SummaryParams(model="vllm/qwen", base_url="http://user:pw@gpu:8000/v1?key=x").stored()
    assert stored["base_url"] == "http://gpu:8000/v1"
    assert stored["prompt_version"] == PROMPT_VERSION
    assert "pw" not in str(stored)
