import pytest

from lmsys_pipeline.labeling.providers import (
    ProviderError,
    estimate_cost,
    known_price,
    public_url,
    resolve_endpoint,
)


def test_endpoint_comes_from_the_provider_and_hides_its_key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    endpoint = resolve_endpoint("anthropic/claude-sonnet-4-5")
    assert endpoint.base_url == "https://api.anthropic.com/v1/"
    assert endpoint.remote_model == "claude-sonnet-4-5"
    assert "sk-ant-secret" not in repr(endpoint)
    assert resolve_endpoint("ollama/llama3.1").base_url == "http://localhost:11434/v1"
    monkeypatch.setenv("OPENROUTER_API_KEY", "k")
    assert resolve_endpoint("openrouter/meta/llama-3").remote_model == "meta/llama-3"


def test_base_url_precedence(monkeypatch):
    """The URL given (--base-url, the llm resource) beats $OPENAI_BASE_URL, which beats the
    provider's own; no other variable is a side channel."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://shared:1/v1")
    assert resolve_endpoint("vllm/m").base_url == "http://shared:1/v1"
    assert resolve_endpoint("openai/m").base_url == "http://shared:1/v1"
    monkeypatch.setenv("LMSYS_LLM_BASE_URL", "http://cli:2/v1")
    assert resolve_endpoint("vllm/m").base_url == "http://shared:1/v1"
    assert resolve_endpoint("vllm/m", "http://given:3/v1").base_url == "http://given:3/v1"
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert resolve_endpoint("vllm/m").base_url == "http://localhost:8000/v1"


def test_a_key_given_beats_the_providers_variable_and_stays_hidden(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    endpoint = resolve_endpoint("anthropic/claude-sonnet-4-5", api_key="sk-ant-given")
    assert endpoint.api_key == "sk-ant-given" and "sk-ant-given" not in repr(endpoint)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    assert resolve_endpoint("anthropic/x", api_key="k").api_key == "k"


def test_missing_key_and_unknown_provider_fail_in_one_sentence(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GROQ_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ProviderError, match="needs OPENAI_API_KEY"):
        resolve_endpoint("openai/gpt-4o-mini")
    with pytest.raises(ProviderError, match="needs GROQ_API_KEY"):
        resolve_endpoint("groq/llama")
    with pytest.raises(ProviderError, match="Unknown provider 'acme'"):
        resolve_endpoint("acme/model")


def test_cost_is_estimated_only_where_the_price_is_known():
    assert known_price("openai/gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert known_price("openai/gpt-4o-2024-08-06") == (2.50, 10.00)
    assert estimate_cost("openai/gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert estimate_cost("vllm/qwen", 10_000, 1_000) is None
    assert estimate_cost("vllm/qwen", 1_000_000, 0, (2.0, 4.0)) == pytest.approx(2.0)


def test_public_url_drops_credentials():
    assert public_url("https://u:p@host:8443/v1?api_key=s#x") == "https://host:8443/v1"
